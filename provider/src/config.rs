//! The provider block: schema, defaults and validation.

use crate::aws::Connection;
use crate::duration::{Ttl, parse_ttl};
use crate::tf::{
    AttrPath, Attribute, Block, Diagnostic, Diagnostics, Known, Mode, Nesting, SingleBlock, Type,
    Value,
};

pub const DEFAULT_MAX_TTL: &str = "12h";
pub const DEFAULT_RULE_NUMBERS: (i32, i32) = (100, 199);
pub const DEFAULT_MIN_PREFIX_V4: u8 = 24;
pub const DEFAULT_MIN_PREFIX_V6: u8 = 48;
/// NACL rule numbers AWS accepts for custom entries (32767 is the default deny).
pub use crate::grant::{RULE_NUMBER_MAX, RULE_NUMBER_MIN};

/// The provider's settings once configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub connection: Connection,
    pub max_ttl: Ttl,
    pub require_reason: bool,
    /// Inclusive range for automatically numbered entries.
    pub rule_numbers: (i32, i32),
    pub min_prefix_v4: u8,
    pub min_prefix_v6: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connection: Connection::default(),
            max_ttl: parse_ttl(DEFAULT_MAX_TTL).expect("default TTL parses"),
            require_reason: false,
            rule_numbers: DEFAULT_RULE_NUMBERS,
            min_prefix_v4: DEFAULT_MIN_PREFIX_V4,
            min_prefix_v6: DEFAULT_MIN_PREFIX_V6,
        }
    }
}

pub fn schema() -> Block {
    Block {
        description: "Just-in-time network access on AWS: network-ACL entries, IAM source-IP \
                      allowlists and Client VPN grants that expire on their own."
            .into(),
        attributes: vec![
            Attribute::optional(
                "region",
                Type::String,
                "AWS region. Defaults to the standard chain (`AWS_REGION`, the profile's region).",
            ),
            Attribute::optional(
                "profile",
                Type::String,
                "Named profile from the shared AWS config (SSO and `credential_process` profiles work). \
                 Defaults to `AWS_PROFILE` or the default profile.",
            ),
            Attribute::optional(
                "max_ttl",
                Type::String,
                "Longest TTL any grant may have, as a Go duration. Defaults to `\"12h\"`.",
            ),
            Attribute::optional(
                "require_reason",
                Type::Bool,
                "When true, every grant must state a `reason`. Defaults to `false`.",
            ),
            Attribute::nested(
                "rule_numbers",
                Nesting::Single,
                Mode::Optional,
                vec![
                    Attribute::required("from", Type::Number, "Lowest rule number jit may pick."),
                    Attribute::required("to", Type::Number, "Highest rule number jit may pick."),
                ],
                "Range (inclusive) in which `jit_access_rule` picks a rule number when none is given. \
                 Defaults to `{ from = 100, to = 199 }`.",
            ),
            Attribute::optional(
                "min_prefix_length_ipv4",
                Type::Number,
                "Shortest IPv4 prefix an allow rule may open (a larger number is narrower). Defaults to 24; \
                 `0.0.0.0/0` needs 0.",
            ),
            Attribute::optional(
                "min_prefix_length_ipv6",
                Type::Number,
                "Shortest IPv6 prefix an allow rule may open. Defaults to 48.",
            ),
        ],
        blocks: vec![SingleBlock {
            name: "endpoints",
            block: Block {
                description: "Custom service endpoints (for a local AWS or a VPC endpoint). \
                              `AWS_ENDPOINT_URL` also works."
                    .into(),
                attributes: vec![
                    Attribute::optional("ec2", Type::String, "Endpoint URL for EC2."),
                    Attribute::optional("iam", Type::String, "Endpoint URL for IAM."),
                ],
                blocks: vec![],
            },
        }],
    }
}

/// Parses and validates the provider block. Unknown values are errors here, because the
/// provider must be configured before any resource can be planned.
pub fn parse(config: &Value) -> Result<Settings, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut s = Settings::default();
    let string = |diags: &mut Diagnostics, name: &str| -> Option<String> {
        let path = AttrPath::root(name);
        match diags.take(config.attr::<String>(&path))? {
            Known::Value(v) => Some(v),
            Known::Null => None,
            Known::Unknown => {
                diags.push(unknown(path));
                None
            }
        }
    };
    s.connection.region = string(&mut diags, "region");
    s.connection.profile = string(&mut diags, "profile");
    let endpoints = AttrPath::root("endpoints");
    for (svc, slot) in [
        ("ec2", &mut s.connection.ec2_endpoint),
        ("iam", &mut s.connection.iam_endpoint),
    ] {
        let path = endpoints.attr(svc);
        match diags.take(config.attr::<String>(&path)) {
            Some(Known::Value(url)) => {
                if url.starts_with("http://") || url.starts_with("https://") {
                    *slot = Some(url);
                } else {
                    diags.push(Diagnostic::invalid(
                        path,
                        format!("{url:?} is not a URL; use e.g. \"https://{svc}.us-east-1.amazonaws.com\""),
                    ));
                }
            }
            Some(Known::Unknown) => diags.push(unknown(path)),
            _ => {}
        }
    }
    if let Some(raw) = string(&mut diags, "max_ttl") {
        match parse_ttl(&raw) {
            Ok(t) if t.seconds() > 0 => s.max_ttl = t,
            Ok(_) => diags.push(Diagnostic::invalid(
                AttrPath::root("max_ttl"),
                "max_ttl must be positive",
            )),
            Err(e) => diags.push(Diagnostic::invalid(AttrPath::root("max_ttl"), e)),
        }
    }
    match diags.take(config.attr::<bool>(&AttrPath::root("require_reason"))) {
        Some(Known::Value(b)) => s.require_reason = b,
        Some(Known::Unknown) => diags.push(unknown(AttrPath::root("require_reason"))),
        _ => {}
    }
    let range = AttrPath::root("rule_numbers");
    if !config.get("rule_numbers").is_null() {
        let from = diags.take(config.attr::<i64>(&range.attr("from")));
        let to = diags.take(config.attr::<i64>(&range.attr("to")));
        if let (Some(Known::Value(from)), Some(Known::Value(to))) = (from, to) {
            let ok =
                |n: i64| (i64::from(RULE_NUMBER_MIN)..=i64::from(RULE_NUMBER_MAX)).contains(&n);
            if !ok(from) {
                diags.push(Diagnostic::invalid(
                    // Terraform can't point into an object attribute; name the field instead.
                    range.clone(),
                    format!("rule_numbers.from = {from} is outside {RULE_NUMBER_MIN}-{RULE_NUMBER_MAX}, the numbers AWS allows"),
                ));
            } else if !ok(to) {
                diags.push(Diagnostic::invalid(
                    range.clone(),
                    format!("rule_numbers.to = {to} is outside {RULE_NUMBER_MIN}-{RULE_NUMBER_MAX}, the numbers AWS allows"),
                ));
            } else if from > to {
                diags.push(Diagnostic::invalid(
                    range.clone(),
                    format!("from ({from}) is greater than to ({to})"),
                ));
            } else {
                s.rule_numbers = (from as i32, to as i32);
            }
        } else {
            diags.push(unknown(range));
        }
    }
    for (name, max, slot) in [
        ("min_prefix_length_ipv4", 32, &mut s.min_prefix_v4),
        ("min_prefix_length_ipv6", 128, &mut s.min_prefix_v6),
    ] {
        let path = AttrPath::root(name);
        match diags.take(config.attr::<i64>(&path)) {
            Some(Known::Value(n)) if (0..=max).contains(&n) => *slot = n as u8,
            Some(Known::Value(n)) => {
                diags.push(Diagnostic::invalid(path, format!("{n} is outside 0-{max}")))
            }
            Some(Known::Unknown) => diags.push(unknown(path)),
            _ => {}
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(s)
    }
}

fn unknown(path: AttrPath) -> Diagnostic {
    Diagnostic::invalid(
        path,
        "must be known before the provider is configured (it can't depend on a resource)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_an_empty_block() {
        let s = parse(&Value::object::<_, &str>([])).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.max_ttl.seconds(), 12 * 3600);
    }

    #[test]
    fn errors_carry_paths() {
        let cfg = Value::object([
            ("max_ttl", Value::from("forever")),
            (
                "rule_numbers",
                Value::object([("from", Value::from(300i64)), ("to", Value::from(200i64))]),
            ),
            ("min_prefix_length_ipv4", Value::from(33i64)),
        ]);
        let diags = parse(&cfg).unwrap_err();
        let paths: Vec<String> = diags
            .0
            .iter()
            .map(|d| d.path.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(paths, ["max_ttl", "rule_numbers", "min_prefix_length_ipv4"]);
    }

    #[test]
    fn every_attribute_is_documented() {
        assert!(schema().undocumented().is_empty());
    }
}
