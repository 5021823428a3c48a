//! A small IAM evaluator for `Deny` statements: "is this request denied at this time?".
//!
//! It knows exactly the operators and keys the allowlist documents use (`IpAddress`,
//! `NotIpAddress` on `aws:SourceIp`, `DateGreaterThan`/`DateLessThan` on `aws:CurrentTime`,
//! `Bool` on `aws:ViaAWSService`) and refuses anything else instead of guessing, so tests can
//! check what a rendered document *means*, independently of how it was rendered.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;
use time::OffsetDateTime;

use crate::clock::parse_rfc3339;

/// The request context the evaluator looks at.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub action: &'a str,
    pub source_ip: IpAddr,
    pub time: OffsetDateTime,
    /// Whether an AWS service makes the call for the user (`aws:ViaAWSService`).
    pub via_aws_service: bool,
}

/// Whether some `Deny` statement of `document` applies to `req`. `Allow` statements never deny
/// and are skipped.
pub fn denied(document: &str, req: &Request<'_>) -> Result<bool, String> {
    let doc: Value = serde_json::from_str(document).map_err(|e| format!("not JSON: {e}"))?;
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err("no Statement".into()),
    };
    for (i, s) in statements.iter().enumerate() {
        match s.get("Effect").and_then(Value::as_str) {
            Some("Deny") => {}
            Some("Allow") => continue,
            other => return Err(format!("statement {i}: Effect {other:?}")),
        }
        if s.get("NotAction").is_some() || s.get("NotResource").is_some() {
            return Err(format!(
                "statement {i}: NotAction/NotResource are not supported"
            ));
        }
        if strings(s.get("Resource"))? != ["*"] {
            return Err(format!("statement {i}: only Resource \"*\" is supported"));
        }
        let actions = strings(s.get("Action"))?;
        if !actions
            .iter()
            .any(|p| jitlint::pattern::action_matches(p, req.action))
        {
            continue;
        }
        if conditions_hold(s.get("Condition"), req).map_err(|e| format!("statement {i}: {e}"))? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn strings(v: Option<&Value>) -> Result<Vec<&str>, String> {
    match v {
        Some(Value::String(s)) => Ok(vec![s]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().ok_or_else(|| format!("{i} is not a string")))
            .collect(),
        other => Err(format!(
            "expected a string or a list of strings, got {other:?}"
        )),
    }
}

/// Every operator and every key must hold (AND); the values of one key are alternatives (OR),
/// and for negated operators none may match.
fn conditions_hold(condition: Option<&Value>, req: &Request<'_>) -> Result<bool, String> {
    let Some(condition) = condition else {
        return Ok(true);
    };
    let operators = condition.as_object().ok_or("Condition is not an object")?;
    for (operator, block) in operators {
        let keys = block
            .as_object()
            .ok_or_else(|| format!("{operator} is not an object"))?;
        for (key, values) in keys {
            let values = strings(Some(values))?;
            if !holds(operator, key, &values, req)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn holds(operator: &str, key: &str, values: &[&str], req: &Request<'_>) -> Result<bool, String> {
    match (operator, key) {
        ("IpAddress" | "NotIpAddress", "aws:SourceIp") => {
            let host = IpNet::from(req.source_ip);
            let mut inside = false;
            for v in values {
                let net = jitlint::cidr::parse_ip_or_cidr(v).map_err(|e| e.to_string())?;
                inside |= net.contains(&host);
            }
            Ok(if operator == "IpAddress" {
                inside
            } else {
                !inside
            })
        }
        ("DateGreaterThan" | "DateLessThan", "aws:CurrentTime") => {
            let mut any = false;
            for v in values {
                let at = parse_rfc3339(v).map_err(|e| format!("{v:?}: {e}"))?;
                any |= if operator == "DateGreaterThan" {
                    req.time > at
                } else {
                    req.time < at
                };
            }
            Ok(any)
        }
        ("Bool", "aws:ViaAWSService") => {
            let actual = if req.via_aws_service { "true" } else { "false" };
            Ok(values.iter().any(|v| v.eq_ignore_ascii_case(actual)))
        }
        _ => Err(format!("{operator} on {key} is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::document::{Spec, Temporary};
    use crate::policy::testing::{spec, t, tmp};

    fn is_denied(doc: &str, ip: &str, at: &str) -> bool {
        denied(
            doc,
            &Request {
                action: "s3:ListBucket",
                source_ip: ip.parse().unwrap(),
                time: t(at),
                via_aws_service: false,
            },
        )
        .unwrap()
    }

    #[test]
    fn temporary_range_admits_through_its_expiry_instant_and_not_after() {
        let doc = spec(
            &["198.51.100.0/24"],
            vec![tmp("203.0.113.7/32", "2026-11-24T08:00:00Z")],
        )
        .render();
        assert!(!is_denied(&doc, "203.0.113.7", "2026-11-23T20:00:00Z"));
        assert!(!is_denied(&doc, "203.0.113.7", "2026-11-24T08:00:00Z"));
        assert!(is_denied(&doc, "203.0.113.7", "2026-11-24T08:00:01Z"));
        assert!(is_denied(&doc, "203.0.113.8", "2026-11-23T20:00:00Z"));
        assert!(!is_denied(&doc, "198.51.100.9", "2030-01-01T00:00:00Z"));
    }

    #[test]
    fn range_inside_a_permanent_one_never_closes_it() {
        let doc = spec(
            &["203.0.113.0/24"],
            vec![tmp("203.0.113.7/32", "2026-11-24T08:00:00Z")],
        )
        .render();
        assert!(!is_denied(&doc, "203.0.113.7", "2026-11-25T00:00:00Z"));
    }

    #[test]
    fn overlapping_ranges_with_different_expiries() {
        let doc = spec(
            &["198.51.100.0/24"],
            vec![
                tmp("203.0.113.0/24", "2026-11-24T10:00:00Z"),
                tmp("203.0.113.7/32", "2026-11-24T12:00:00Z"),
            ],
        )
        .render();
        // Before 10:00 the whole /24 is in.
        assert!(!is_denied(&doc, "203.0.113.99", "2026-11-24T09:00:00Z"));
        // Between 10:00 and 12:00 only the host.
        assert!(is_denied(&doc, "203.0.113.99", "2026-11-24T10:00:01Z"));
        assert!(!is_denied(&doc, "203.0.113.7", "2026-11-24T11:00:00Z"));
        assert!(!is_denied(&doc, "203.0.113.7", "2026-11-24T12:00:00Z"));
        assert!(is_denied(&doc, "203.0.113.7", "2026-11-24T12:00:01Z"));

        // The other way round: the host ends first, the /24 still admits it.
        let doc = spec(
            &["198.51.100.0/24"],
            vec![
                tmp("203.0.113.0/24", "2026-11-24T12:00:00Z"),
                tmp("203.0.113.7/32", "2026-11-24T10:00:00Z"),
            ],
        )
        .render();
        assert!(!is_denied(&doc, "203.0.113.7", "2026-11-24T11:00:00Z"));
        assert!(is_denied(&doc, "203.0.113.7", "2026-11-24T12:00:01Z"));
    }

    #[test]
    fn ipv6_ranges() {
        let doc = spec(
            &["2001:db8:1::/48"],
            vec![
                tmp("2001:db8:2::/64", "2026-11-24T10:00:00Z"),
                tmp("2001:db8:2::42/128", "2026-11-24T12:00:00Z"),
            ],
        )
        .render();
        assert!(!is_denied(&doc, "2001:db8:1::5", "2027-01-01T00:00:00Z"));
        assert!(!is_denied(&doc, "2001:db8:2::1", "2026-11-24T10:00:00Z"));
        assert!(is_denied(&doc, "2001:db8:2::1", "2026-11-24T10:00:01Z"));
        assert!(!is_denied(&doc, "2001:db8:2::42", "2026-11-24T11:59:59Z"));
        assert!(is_denied(&doc, "2001:db8:2::42", "2026-11-24T12:00:01Z"));
        assert!(is_denied(&doc, "2001:db8:3::1", "2026-11-24T09:00:00Z"));
        // An IPv4 caller is outside every IPv6 range.
        assert!(is_denied(&doc, "203.0.113.7", "2026-11-24T09:00:00Z"));
    }

    #[test]
    fn aws_services_acting_for_the_user_are_exempt_only_when_asked() {
        let mut s = spec(&["198.51.100.0/24"], vec![]);
        let via_service = |doc: &str| {
            denied(
                doc,
                &Request {
                    action: "cloudformation:CreateStack",
                    source_ip: "52.95.1.1".parse().unwrap(),
                    time: t("2026-11-24T00:00:00Z"),
                    via_aws_service: true,
                },
            )
            .unwrap()
        };
        assert!(!via_service(&s.render()));
        s.exempt_aws_services = false;
        assert!(via_service(&s.render()));
    }

    #[test]
    fn only_the_listed_actions_are_denied() {
        let mut s = spec(&["198.51.100.0/24"], vec![]);
        s.deny_actions = vec!["s3:*".into(), "ec2:Describe*".into()];
        let doc = s.render();
        let req = |action| Request {
            action,
            source_ip: "203.0.113.7".parse().unwrap(),
            time: t("2026-11-24T00:00:00Z"),
            via_aws_service: false,
        };
        assert!(denied(&doc, &req("s3:GetObject")).unwrap());
        assert!(denied(&doc, &req("EC2:DescribeVpcs")).unwrap());
        assert!(!denied(&doc, &req("iam:GetUser")).unwrap());
    }

    #[test]
    fn unsupported_conditions_are_errors_not_guesses() {
        let doc = r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":"bob"}}}}"#;
        let req = Request {
            action: "s3:GetObject",
            source_ip: "203.0.113.7".parse().unwrap(),
            time: t("2026-11-24T00:00:00Z"),
            via_aws_service: false,
        };
        assert!(denied(doc, &req).unwrap_err().contains("not supported"));
    }

    /// A tiny deterministic generator, so the combinations are the same on every run.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, bound: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % bound
        }
    }

    /// Every combination the generator makes, over a small address space where ranges nest and
    /// overlap often: every address, at every expiry instant, one second before and after,
    /// means what the allowlist says, and pruning the document at any of those instants gives
    /// what rendering the pruned allowlist gives.
    #[test]
    fn rendered_documents_mean_their_allowlist_for_random_combinations() {
        let base = t("2026-11-24T00:00:00Z");
        let mut rng = Lcg(7);
        let random_net = |rng: &mut Lcg| -> IpNet {
            let prefix = 28 + rng.next(5) as u8;
            let addr = std::net::Ipv4Addr::new(10, 0, 0, rng.next(32) as u8);
            IpNet::from(ipnet::Ipv4Net::new(addr, prefix).unwrap().trunc())
        };
        for case in 0..300 {
            let allowed: Vec<IpNet> = (0..rng.next(3)).map(|_| random_net(&mut rng)).collect();
            let temporary: Vec<Temporary> = (0..1 + rng.next(5))
                .map(|_| Temporary {
                    cidr: random_net(&mut rng),
                    expires_at: base + time::Duration::hours(rng.next(4) as i64),
                })
                .collect();
            let s = Spec {
                allowed,
                temporary,
                deny_actions: vec!["*".into()],
                exempt_aws_services: case % 2 == 0,
            };
            let doc = s.render();
            let mut instants = vec![base - time::Duration::hours(1)];
            for tmp in &s.temporary {
                for d in [-1, 0, 1] {
                    instants.push(tmp.expires_at + time::Duration::seconds(d));
                }
            }
            for at in &instants {
                for last in 0..40u8 {
                    let ip = IpAddr::from([10, 0, 0, last]);
                    let req = Request {
                        action: "sts:GetCallerIdentity",
                        source_ip: ip,
                        time: *at,
                        via_aws_service: false,
                    };
                    assert_eq!(
                        denied(&doc, &req).unwrap(),
                        !s.admits(ip, *at),
                        "case {case}: {ip} at {at} with {s:?}\n{doc}"
                    );
                }
                let mut from_doc =
                    Spec::decode(&doc).unwrap_or_else(|e| panic!("case {case}: {e}\n{doc}"));
                from_doc.prune(*at);
                let mut pruned = s.clone();
                pruned.prune(*at);
                assert_eq!(from_doc.render(), pruned.render(), "case {case} at {at}");
            }
        }
    }
}
