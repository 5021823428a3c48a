//! Client VPN grants as `jitctl` sees them: every `jit_client_vpn_grant` tag on every endpoint of
//! a region, and list / sweep / revoke over them.
//!
//! The sweep removes the tags of expired grants and terminates, by connection id, the
//! connections that only ended grants admitted (the handler writes the admitting grant's id as
//! the connection's posture-compliance status); connections admitted by a live grant, a standing
//! range or anything but jit are left alone. Everything goes through the write protocol
//! ([`crate::protocol::client_vpn`]), which decides on a fresh read of the endpoint.

use time::OffsetDateTime;

use crate::aws::client_vpn::{AwsError, EndpointView};
use crate::clock::format_rfc3339;
use crate::grant::GrantId;
use crate::grant::client_vpn::{Grant, Record, State as Lifecycle, address, parse_address};
use crate::protocol::client_vpn::{self as protocol, Termination};

use super::acl::{Outcome, Revoked, SweepResult};
use super::target::Target;

/// What a `jit:grant:` tag on an endpoint amounts to right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Grant(Lifecycle),
    /// A Client VPN grant tag jit cannot read. Never acted on.
    Unreadable,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Grant(s) => s.as_str(),
            State::Unreadable => "unreadable",
        }
    }
}

/// One Client VPN grant (or unreadable grant tag) on an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub region: String,
    pub endpoint_id: String,
    /// `cvpn-endpoint-…:<grant id>`; for an unreadable tag, `cvpn-endpoint-…:<tag key>`.
    pub id: String,
    pub grant_id: Option<GrantId>,
    pub state: State,
    pub grant: Option<Grant>,
    /// Why an unreadable tag could not be read.
    pub problem: Option<String>,
}

/// The rows of one endpoint at `now`.
pub fn classify(region: &str, view: &EndpointView, now: OffsetDateTime) -> Vec<Row> {
    let (records, unreadable) = view.records();
    let mut rows: Vec<Row> = records
        .into_iter()
        .map(|r| Row {
            region: region.to_string(),
            endpoint_id: view.endpoint_id.clone(),
            id: address(&view.endpoint_id, &r.id),
            state: State::Grant(r.grant.state(now)),
            grant_id: Some(r.id),
            grant: Some(r.grant),
            problem: None,
        })
        .collect();
    rows.extend(
        unreadable
            .into_iter()
            // Network-ACL style records on an endpoint are not Client VPN grants; only tags that
            // say they are one (v=cvpn1) but cannot be read are reported.
            .filter(|e| {
                view.tags
                    .get(&e.key)
                    .is_some_and(|v| Record::is_client_vpn_tag(&e.key, v))
            })
            .map(|e| Row {
                region: region.to_string(),
                endpoint_id: view.endpoint_id.clone(),
                id: format!("{}:{}", view.endpoint_id, e.key),
                grant_id: None,
                state: State::Unreadable,
                grant: None,
                problem: Some(e.reason),
            }),
    );
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    rows
}

/// Whether an AWS error says the caller may not use Client VPN at all (a sweeper role from
/// before Client VPN grants): the region is skipped with a warning rather than failed.
pub fn is_denied(e: &AwsError) -> bool {
    matches!(
        e.code(),
        Some("UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException")
    )
}

/// Why listing a region's endpoints failed.
#[derive(Debug, Clone)]
pub struct ListError {
    pub message: String,
    pub denied: bool,
}

async fn endpoints(target: &Target) -> Result<Vec<EndpointView>, ListError> {
    target.client_vpns.all().await.map_err(|e| ListError {
        denied: is_denied(&e),
        message: format!("could not list Client VPN endpoints: {e}"),
    })
}

/// Every Client VPN grant of one region.
pub async fn list(target: &Target, now: OffsetDateTime) -> Result<Vec<Row>, ListError> {
    Ok(endpoints(target)
        .await?
        .iter()
        .flat_map(|v| classify(&target.region, v, now))
        .collect())
}

fn terminated_results(region: &str, endpoint: &str, ts: &[Termination]) -> Vec<SweepResult> {
    ts.iter()
        .map(|t| {
            let who = match (t.username.as_str(), t.common_name.as_str()) {
                ("", "") => String::new(),
                ("", cn) => format!(" of certificate {cn}"),
                (u, _) => format!(" of {u}"),
            };
            let grants: Vec<&str> = t.grants.iter().map(GrantId::as_str).collect();
            SweepResult {
                region: region.to_string(),
                id: format!("{endpoint}:{}", t.connection_id),
                outcome: if t.error.is_some() {
                    Outcome::Failed
                } else {
                    Outcome::Removed
                },
                detail: match &t.error {
                    Some(e) => format!("could not terminate connection{who}: {e}"),
                    None => format!(
                        "connection{who} terminated: its grant {} has ended",
                        grants.join(", ")
                    ),
                },
            }
        })
        .collect()
}

/// Sweeps one region: removes the tags of expired Client VPN grants (by key and the value the
/// decision was made on, so a grant extended meanwhile keeps its tag), then terminates the
/// connections that only ended grants admitted. With `dry_run`, reports and writes nothing.
pub async fn sweep(target: &Target, now: OffsetDateTime, dry_run: bool) -> Vec<SweepResult> {
    let region = target.region.as_str();
    let result = |id: String, outcome, detail: String| SweepResult {
        region: region.to_string(),
        id,
        outcome,
        detail,
    };
    let views = match endpoints(target).await {
        Ok(v) => v,
        Err(e) if e.denied => {
            tracing::warn!(region, "Client VPN skipped: {}", e.message);
            return Vec::new();
        }
        Err(e) => return vec![result("*".into(), Outcome::Failed, e.message)],
    };
    let mut out = Vec::new();
    for view in &views {
        let endpoint = view.endpoint_id.as_str();
        for row in classify(region, view, now) {
            let (Some(id), Some(grant)) = (&row.grant_id, &row.grant) else {
                if row.state == State::Unreadable {
                    out.push(result(
                        row.id,
                        Outcome::LeftAlone,
                        format!("unreadable tag: {}", row.problem.unwrap_or_default()),
                    ));
                }
                continue;
            };
            let record = Record {
                id: id.clone(),
                grant: grant.clone(),
            };
            if !protocol::sweep_removes(&record, now) {
                continue;
            }
            let detail = format!(
                "{} expired at {}",
                grant.identity,
                format_rfc3339(grant.expires_at)
            );
            if dry_run {
                out.push(result(
                    row.id,
                    Outcome::Removed,
                    format!("{detail}; its tag would be removed"),
                ));
                continue;
            }
            // The value exactly as read: the delete happens only while the tag still holds it.
            let key = record.tag_key();
            let value = view.tags.get(&key).cloned().unwrap_or_default();
            out.push(
                match target
                    .client_vpns
                    .delete_tag(endpoint, &key, Some(&value))
                    .await
                {
                    Ok(()) => result(row.id, Outcome::Removed, format!("{detail}; tag deleted")),
                    Err(e) => result(
                        row.id,
                        Outcome::Failed,
                        format!("could not delete the tag: {e}"),
                    ),
                },
            );
        }
        match protocol::terminate_ended(&target.client_vpns, endpoint, now, None, dry_run).await {
            Ok(ts) => out.extend(terminated_results(region, endpoint, &ts)),
            Err((step, e)) => out.push(result(
                endpoint.to_string(),
                Outcome::Failed,
                format!("could not {step}: {e}"),
            )),
        }
    }
    out
}

/// Ends a Client VPN grant now (`cvpn-endpoint-…:<grant id>`): the revoke marker, then its
/// connections terminated. Revoking a revoked grant again finishes what is left and succeeds.
pub async fn revoke(target: &Target, id: &str, now: OffsetDateTime) -> Result<Revoked, String> {
    let (endpoint, grant_id) = parse_address(id)?;
    let region = &target.region;
    let view = target
        .client_vpns
        .view_uncached(&endpoint)
        .await
        .map_err(|e| format!("could not read {endpoint}: {e}"))?
        .ok_or_else(|| format!("Client VPN endpoint {endpoint} does not exist in {region}"))?;
    let (records, _) = view.records();
    let record = records.iter().find(|r| r.id == grant_id).ok_or_else(|| {
        format!("{id} is not a jit grant: {endpoint} has no Client VPN grant {grant_id}; jitctl revokes only grants jit created")
    })?;
    let done = protocol::revoke(&target.client_vpns, &endpoint, record, now)
        .await
        .map_err(|e| format!("{id}: {e}"))?;
    let ended = done.terminated.len();
    let detail = match (done.already, ended) {
        (true, 0) => format!("already revoked at {}", format_rfc3339(done.revoked_at)),
        (true, n) => format!(
            "already revoked at {}; {n} connection(s) still up were terminated",
            format_rfc3339(done.revoked_at)
        ),
        (false, n) => format!("revoke marker written; {n} connection(s) terminated"),
    };
    Ok(Revoked {
        region: region.clone(),
        id: id.to_string(),
        revoked_at: done.revoked_at,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::aws::client_vpn::ClientVpns;
    use crate::aws::client_vpn::fake::FakeClientVpn;
    use crate::ctl::testing::{FakeNacl, at, target};
    use crate::grant::client_vpn::Identity;

    const ENDPOINT: &str = "cvpn-endpoint-0123456789abcdef0";

    fn record(id: &str, user: &str, expires: i64) -> Record {
        Record {
            id: GrantId::parse(id).unwrap(),
            grant: Grant {
                identity: Identity::Username(user.into()),
                cidr: None,
                created_at: at(0),
                expires_at: at(expires),
                ttl: "1h".into(),
                requested_by: None,
                reason: None,
                revoked_at: None,
            },
        }
    }

    fn setup(records: &[&Record]) -> (FakeClientVpn, Target) {
        let fake = FakeClientVpn::with_endpoint(ENDPOINT);
        fake.update_tags(ENDPOINT, |t| {
            for r in records {
                t.insert(r.tag_key(), r.tag_value());
            }
            t.insert("Name".into(), "vpn".into());
            t.insert(
                "jit:grant:zzzzzzzzzzzz".into(),
                "v=cvpn1;u=x;c=9;e=1;t=1s".into(),
            );
        });
        let mut t = target(&FakeNacl::default());
        t.client_vpns = ClientVpns::new(Arc::new(fake.clone()));
        (fake, t)
    }

    #[tokio::test]
    async fn list_classifies_every_grant_tag() {
        let old = record("aaaaaaaaaaaa", "alice", 100);
        let live = record("bbbbbbbbbbbb", "bob", 5_000);
        let (_, t) = setup(&[&old, &live]);
        let rows = list(&t, at(1_000)).await.unwrap();
        let states: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.state.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                ("cvpn-endpoint-0123456789abcdef0:aaaaaaaaaaaa", "expired"),
                ("cvpn-endpoint-0123456789abcdef0:bbbbbbbbbbbb", "active"),
                (
                    "cvpn-endpoint-0123456789abcdef0:jit:grant:zzzzzzzzzzzz",
                    "unreadable"
                ),
            ]
        );
        assert!(
            rows[2]
                .problem
                .as_deref()
                .unwrap()
                .contains("expires before")
        );
    }

    #[tokio::test]
    async fn sweep_removes_expired_tags_and_terminates_exactly_their_connections() {
        let old = record("aaaaaaaaaaaa", "alice", 100);
        let live = record("bbbbbbbbbbbb", "bob", 5_000);
        let (fake, t) = setup(&[&old, &live]);
        fake.connect(ENDPOINT, "c-old", "alice", "aaaaaaaaaaaa");
        fake.connect(ENDPOINT, "c-live", "bob", "bbbbbbbbbbbb");
        fake.connect(
            ENDPOINT,
            "c-office",
            "carol",
            "always-allow:198.51.100.0/24",
        );
        // Written by a later jit with a field this one does not know: deleted by its value as read.
        let newer = record("dddddddddddd", "dave", 100);
        fake.update_tags(ENDPOINT, |t| {
            t.insert(newer.tag_key(), format!("{};z=later", newer.tag_value()));
        });

        let dry = sweep(&t, at(1_000), true).await;
        assert_eq!(
            dry.iter().filter(|r| r.outcome == Outcome::Removed).count(),
            3,
            "{dry:?}"
        );
        assert_eq!(fake.active(ENDPOINT).len(), 3);
        assert!(fake.tags(ENDPOINT).contains_key(&old.tag_key()));

        let done = sweep(&t, at(1_000), false).await;
        let removed: Vec<&str> = done
            .iter()
            .filter(|r| r.outcome == Outcome::Removed)
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(
            removed,
            [
                "cvpn-endpoint-0123456789abcdef0:aaaaaaaaaaaa",
                "cvpn-endpoint-0123456789abcdef0:dddddddddddd",
                "cvpn-endpoint-0123456789abcdef0:c-old"
            ]
        );
        assert!(
            done.iter()
                .any(|r| r.outcome == Outcome::LeftAlone && r.detail.starts_with("unreadable"))
        );
        assert_eq!(fake.active(ENDPOINT), ["c-live", "c-office"]);
        assert!(!fake.tags(ENDPOINT).contains_key(&old.tag_key()));
        assert!(!fake.tags(ENDPOINT).contains_key(&newer.tag_key()));
        assert!(fake.tags(ENDPOINT).contains_key(&live.tag_key()));
        // Idempotent: nothing more to remove.
        assert!(
            sweep(&t, at(1_000), false)
                .await
                .iter()
                .all(|r| r.outcome == Outcome::LeftAlone)
        );
    }

    #[tokio::test]
    async fn revoke_marks_the_grant_and_ends_its_connections() {
        let live = record("bbbbbbbbbbbb", "bob", 5_000);
        let (fake, t) = setup(&[&live]);
        fake.connect(ENDPOINT, "c-bob", "bob", "bbbbbbbbbbbb");
        let done = revoke(&t, &format!("{ENDPOINT}:bbbbbbbbbbbb"), at(1_000))
            .await
            .unwrap();
        assert_eq!(done.revoked_at, at(1_000));
        assert!(
            done.detail.contains("1 connection(s) terminated"),
            "{}",
            done.detail
        );
        assert!(fake.active(ENDPOINT).is_empty());
        let again = revoke(&t, &format!("{ENDPOINT}:bbbbbbbbbbbb"), at(2_000))
            .await
            .unwrap();
        assert!(
            again.detail.starts_with("already revoked at"),
            "{}",
            again.detail
        );
        let err = revoke(&t, &format!("{ENDPOINT}:cccccccccccc"), at(2_000))
            .await
            .unwrap_err();
        assert!(err.contains("is not a jit grant"), "{err}");
        assert!(
            revoke(&t, "cvpn-endpoint-xyz:bbbbbbbbbbbb", at(2_000))
                .await
                .is_err()
        );
    }
}
