//! Temporary CIDRs of `jit_source_ip_policy` policies as `jitctl` sees them, and list / sweep /
//! revoke over them.
//!
//! A jit policy's document is self-describing ([`Spec::decode`]): every temporary range carries
//! its expiry in an `ExpireAt…` statement, and AWS itself denies it once that time has passed.
//! Sweeping is therefore tidying, not closing: it writes a new default version without the
//! expired ranges (through the provider's [`Policies::publish`], with its five-version handling),
//! which keeps the document small. Revoking is closing: the range goes now.
//!
//! A revoke leaves a marker as a policy tag, `jit:revoked:<cidr>` = `x=<revoked> e=<expiry>`
//! (Unix seconds; the codec is `policy::revoke`), written before the document changes, and
//! removed by the sweep once the range would have expired anyway.

use std::collections::BTreeMap;

use ipnet::IpNet;
use time::OffsetDateTime;

use super::acl::{Outcome, Revoked, SweepResult};
use crate::aws::iam::{MAX_TAGS, Policies, PolicyInfo};
use crate::aws::nacl::AwsError;
use crate::clock::format_rfc3339;
use crate::policy::document::{Spec, has_lapsed};
use crate::policy::revoke::{self, Marker};

/// IAM is global: the region shown for policy grants.
pub const GLOBAL: &str = "global";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyState {
    /// In the document, before its expiry.
    Active,
    /// In the document after its expiry: AWS denies it already; the sweep prunes it.
    Expired,
    /// Removed early by `jitctl revoke` (a marker tag).
    Revoked,
    /// The default version is not a document jit renders (edited by hand?). Never changed.
    Unreadable,
}

impl PolicyState {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyState::Active => "active",
            PolicyState::Expired => "expired",
            PolicyState::Revoked => "revoked",
            PolicyState::Unreadable => "unreadable",
        }
    }
}

/// One temporary range of a jit policy (or one policy jitctl cannot read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRow {
    pub arn: String,
    pub name: String,
    /// `<policy arn>#<cidr>`, or the ARN of an unreadable policy.
    pub id: String,
    pub cidr: Option<IpNet>,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub state: PolicyState,
    pub problem: Option<String>,
}

/// `arn:aws:iam::123456789012:policy/source-ip-restriction#203.0.113.7/32`
pub fn grant_id(arn: &str, cidr: IpNet) -> String {
    format!("{arn}#{cidr}")
}

/// Parses `<policy arn>#<cidr>`.
pub fn parse_grant_id(id: &str) -> Result<(String, IpNet), String> {
    let usage = || {
        format!(
            "{id:?} is not a policy grant id; expected \"arn:aws:iam::123456789012:policy/source-ip-restriction#203.0.113.7/32\""
        )
    };
    let (arn, cidr) = id.split_once('#').ok_or_else(usage)?;
    let mut parts = arn.splitn(6, ':');
    let well_formed = parts.next() == Some("arn")
        && parts.next().is_some_and(|p| !p.is_empty())
        && parts.next() == Some("iam")
        && parts.next() == Some("")
        && parts
            .next()
            .is_some_and(|a| a.bytes().all(|b| b.is_ascii_digit()))
        && parts.next().is_some_and(|r| r.starts_with("policy/"));
    if !well_formed {
        return Err(usage());
    }
    let cidr = jitlint::cidr::parse_ip_or_cidr(cidr).map_err(|e| format!("{id:?}: {e}"))?;
    Ok((arn.to_string(), cidr))
}

/// Every temporary range of one policy, and its revoke markers.
pub fn classify(policy: &PolicyInfo, document: &str, now: OffsetDateTime) -> Vec<PolicyRow> {
    let row = |cidr: Option<IpNet>, state| PolicyRow {
        arn: policy.arn.clone(),
        name: policy.name.clone(),
        id: cidr.map_or_else(|| policy.arn.clone(), |c| grant_id(&policy.arn, c)),
        cidr,
        expires_at: None,
        revoked_at: None,
        state,
        problem: None,
    };
    let spec = match Spec::decode(document) {
        Ok(s) => s,
        Err(e) => {
            let mut r = row(None, PolicyState::Unreadable);
            r.problem = Some(format!(
                "the default version ({}) is not a document jit renders: {e}",
                policy.default_version_id
            ));
            return vec![r];
        }
    };
    let mut rows: Vec<PolicyRow> = spec
        .temporary
        .iter()
        .map(|t| {
            let state = if has_lapsed(t.expires_at, now) {
                PolicyState::Expired
            } else {
                PolicyState::Active
            };
            PolicyRow {
                expires_at: Some(t.expires_at),
                ..row(Some(t.cidr), state)
            }
        })
        .collect();
    for m in revoke::markers(&policy.tags).into_values() {
        if !spec.temporary.iter().any(|t| t.cidr == m.cidr) {
            rows.push(PolicyRow {
                expires_at: Some(m.expires_at),
                revoked_at: Some(m.revoked_at),
                ..row(Some(m.cidr), PolicyState::Revoked)
            });
        }
    }
    rows.sort_by_key(|r| r.cidr);
    rows
}

/// Why jit policies could not be listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    /// IAM refused the caller (one meant for network ACLs only, say). Temporary CIDRs expire
    /// inside AWS regardless, so this is a warning, not a failure.
    pub denied: bool,
    pub message: String,
}

fn list_error(e: AwsError) -> ListError {
    let denied = matches!(
        e.code(),
        Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation")
    );
    let message = if denied {
        format!(
            "jit policies skipped, IAM refused to list them ({e}); their temporary CIDRs expire inside AWS regardless"
        )
    } else {
        format!("could not list jit-managed IAM policies: {e}")
    };
    ListError { denied, message }
}

/// Every temporary range of every jit-managed policy in the account.
pub async fn list(policies: &Policies, now: OffsetDateTime) -> Result<Vec<PolicyRow>, ListError> {
    let managed = policies.managed().await.map_err(list_error)?;
    let mut rows = Vec::new();
    for info in managed {
        let view = policies.view(&info.arn).await.map_err(|e| ListError {
            denied: false,
            message: format!("could not read {}: {e}", info.arn),
        })?;
        if let Some(view) = view {
            // The listing's tags: IAM's GetPolicy may omit them.
            rows.extend(classify(&info, &view.document, now));
        }
    }
    Ok(rows)
}

/// How often the sweep re-decides when the policy changes between its read and its write.
const SWEEP_ATTEMPTS: usize = 3;

/// Prunes the expired temporary ranges of every jit-managed policy (one new default version
/// per policy), and removes revoke markers whose range would have expired by now.
pub async fn sweep(policies: &Policies, now: OffsetDateTime, dry_run: bool) -> Vec<SweepResult> {
    let result = |id: String, outcome, detail: String| SweepResult {
        region: GLOBAL.to_string(),
        id,
        outcome,
        detail,
    };
    let managed = match policies.managed().await.map_err(list_error) {
        Ok(m) => m,
        Err(e) => {
            let outcome = if e.denied {
                Outcome::LeftAlone
            } else {
                Outcome::Failed
            };
            return vec![result("*".into(), outcome, e.message)];
        }
    };
    let mut results = Vec::new();
    for info in managed {
        let arn = &info.arn;
        let old_markers: Vec<Marker> = revoke::markers(&info.tags)
            .into_values()
            .filter(|m| has_lapsed(m.expires_at, now))
            .collect();
        for m in &old_markers {
            let id = grant_id(arn, m.cidr);
            let detail = format!(
                "revoke marker of {} (revoked {}, would have expired {})",
                m.cidr,
                format_rfc3339(m.revoked_at),
                format_rfc3339(m.expires_at)
            );
            if dry_run {
                results.push(result(id, Outcome::Removed, detail));
                continue;
            }
            match policies.set_tags(arn, &BTreeMap::new(), &[m.key()]).await {
                Ok(()) => results.push(result(id, Outcome::Removed, format!("{detail} deleted"))),
                Err(e) => results.push(result(
                    id,
                    Outcome::Failed,
                    format!("could not delete the {detail}: {e}"),
                )),
            }
        }
        results.extend(prune(policies, arn, now, dry_run).await);
    }
    results
}

/// Prunes one policy. IAM has no conditional write, so the decision is re-checked against the
/// default version right before publishing, and made again if someone published meanwhile.
async fn prune(
    policies: &Policies,
    arn: &str,
    now: OffsetDateTime,
    dry_run: bool,
) -> Vec<SweepResult> {
    let result = |cidr: Option<IpNet>, outcome, detail: String| SweepResult {
        region: GLOBAL.to_string(),
        id: cidr.map_or_else(|| arn.to_string(), |c| grant_id(arn, c)),
        outcome,
        detail,
    };
    for _ in 0..SWEEP_ATTEMPTS {
        let view = match policies.view_uncached(arn).await {
            Ok(Some(v)) => v,
            Ok(None) => return Vec::new(), // deleted meanwhile, and its ranges with it
            Err(e) => {
                return vec![result(
                    None,
                    Outcome::Failed,
                    format!("could not read the policy: {e}"),
                )];
            }
        };
        let mut spec = match Spec::decode(&view.document) {
            Ok(s) => s,
            Err(e) => {
                return vec![result(
                    None,
                    Outcome::LeftAlone,
                    format!(
                        "the default version ({}) is not a document jit renders: {e}",
                        view.policy.default_version_id
                    ),
                )];
            }
        };
        let expired = spec.prune(now);
        if expired.is_empty() {
            return Vec::new();
        }
        let describe = |t: &crate::policy::Temporary| {
            format!(
                "{} expired {} (AWS has denied it since)",
                t.cidr,
                format_rfc3339(t.expires_at)
            )
        };
        if dry_run {
            return expired
                .iter()
                .map(|t| result(Some(t.cidr), Outcome::Removed, describe(t)))
                .collect();
        }
        match policies.view_uncached(arn).await {
            Ok(Some(again))
                if again.policy.default_version_id == view.policy.default_version_id => {}
            Ok(_) => continue,
            Err(e) => {
                return vec![result(
                    None,
                    Outcome::Failed,
                    format!("could not re-read the policy: {e}"),
                )];
            }
        }
        return match policies.publish(arn, &spec.render()).await {
            Ok(p) => expired
                .iter()
                .map(|t| {
                    result(
                        Some(t.cidr),
                        Outcome::Removed,
                        format!(
                            "{}: pruned (new default version {})",
                            describe(t),
                            p.version_id
                        ),
                    )
                })
                .collect(),
            Err(e) => expired
                .iter()
                .map(|t| {
                    result(
                        Some(t.cidr),
                        Outcome::Failed,
                        format!("{}: could not write the pruned policy: {e}", describe(t)),
                    )
                })
                .collect(),
        };
    }
    vec![result(
        None,
        Outcome::Failed,
        format!(
            "the policy changed {SWEEP_ATTEMPTS} times while it was being pruned; another tool is writing it. Run the sweep again"
        ),
    )]
}

/// Removes a temporary range from its policy now: writes the revoke marker, then a new default
/// version without the range. Revoking a revoked range again succeeds and changes nothing.
pub async fn revoke(policies: &Policies, id: &str, now: OffsetDateTime) -> Result<Revoked, String> {
    let (arn, cidr) = parse_grant_id(id)?;
    let view = policies
        .view_uncached(&arn)
        .await
        .map_err(|e| format!("could not read {arn}: {e}"))?
        .ok_or_else(|| format!("policy {arn} does not exist in this account"))?;
    // The listing carries the tags reliably; GetPolicy's may be empty.
    let tags = match policies.managed().await {
        Ok(m) => m
            .into_iter()
            .find(|p| p.arn == arn)
            .map(|p| p.tags)
            .ok_or_else(|| {
                format!("{arn} is not managed by jit (no tag jit:managed = source-ip-policy); jitctl revokes only grants jit created")
            })?,
        Err(e) => return Err(format!("could not list jit-managed IAM policies: {e}")),
    };
    let mut spec = Spec::decode(&view.document).map_err(|e| {
        format!(
            "the default version ({}) of {arn} is not a document jit renders: {e}",
            view.policy.default_version_id
        )
    })?;
    let Some(entry) = spec.temporary.iter().find(|t| t.cidr == cidr).cloned() else {
        if let Some(m) = revoke::markers(&tags).remove(&cidr) {
            return Ok(Revoked {
                region: GLOBAL.into(),
                id: id.to_string(),
                revoked_at: m.revoked_at,
                detail: format!("already revoked at {}", format_rfc3339(m.revoked_at)),
            });
        }
        let temporary: Vec<String> = spec.temporary.iter().map(|t| t.cidr.to_string()).collect();
        return Err(format!(
            "{cidr} is not a temporary CIDR of {arn} (its temporary CIDRs: {}); permanent ranges are changed in Terraform",
            if temporary.is_empty() {
                "none".to_string()
            } else {
                temporary.join(", ")
            }
        ));
    };
    let marker = Marker {
        cidr,
        revoked_at: now,
        expires_at: entry.expires_at,
    };
    if !tags.contains_key(&marker.key()) && tags.len() >= MAX_TAGS {
        return Err(format!(
            "{arn} has {} tags, IAM's maximum, so the revoke marker {} cannot be written; nothing was changed. Remove one of the policy's own tags (in Terraform, from the jit_source_ip_policy's tags) and revoke again",
            tags.len(),
            marker.key()
        ));
    }
    let put = BTreeMap::from([(marker.key(), marker.value())]);
    policies.set_tags(&arn, &put, &[]).await.map_err(|e| {
        format!("could not write the revoke marker on {arn}: {e}; nothing was changed")
    })?;
    spec.temporary.retain(|t| t.cidr != cidr);
    let published = policies
        .publish(&arn, &spec.render())
        .await
        .map_err(|e| {
            format!("the revoke marker is written, but the policy without {cidr} could not be: {e}; {cidr} is still admitted until {}. Run the revoke again", format_rfc3339(entry.expires_at))
        })?;
    Ok(Revoked {
        region: GLOBAL.into(),
        id: id.to_string(),
        revoked_at: now,
        detail: format!(
            "{cidr} removed from {} (new default version {}); revoke marker {} written",
            view.policy.name,
            published.version_id,
            marker.key()
        ),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::aws::iam::fake::{ARN, FakeIam};
    use crate::aws::iam::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE};
    use crate::ctl::testing::at;
    use crate::policy::Temporary;

    fn spec() -> Spec {
        Spec {
            allowed: vec!["198.51.100.0/24".parse().unwrap()],
            temporary: vec![
                Temporary {
                    cidr: "203.0.113.7/32".parse().unwrap(),
                    expires_at: at(1_000),
                },
                Temporary {
                    cidr: "203.0.113.8/32".parse().unwrap(),
                    expires_at: at(5_000),
                },
            ],
            deny_actions: vec!["*".into()],
            exempt_aws_services: true,
        }
    }

    /// A jit-managed policy holding `spec()`.
    fn fake() -> (Arc<FakeIam>, Policies) {
        let fake = FakeIam::with_policy();
        {
            let mut st = fake.state.lock().unwrap();
            st.policy
                .as_mut()
                .unwrap()
                .tags
                .insert(MANAGED_TAG_KEY.into(), MANAGED_TAG_VALUE.into());
            st.add_version(&spec().render(), true).unwrap();
        }
        let policies = Policies::new(fake.clone());
        (fake, policies)
    }

    #[test]
    fn grant_ids_round_trip_and_explain_mistakes() {
        let id = grant_id(ARN, "203.0.113.7/32".parse().unwrap());
        assert_eq!(id, "arn:aws:iam::123456789012:policy/p#203.0.113.7/32");
        assert_eq!(
            parse_grant_id(&id).unwrap(),
            (ARN.to_string(), "203.0.113.7/32".parse().unwrap())
        );
        for bad in [
            "arn:aws:iam::123456789012:policy/p",
            "arn:aws:iam::123456789012:role/r#203.0.113.7/32",
            "acl-0123456789abcdef0:ingress:100",
        ] {
            assert!(
                parse_grant_id(bad)
                    .unwrap_err()
                    .contains("not a policy grant id"),
                "{bad}"
            );
        }
        assert!(
            parse_grant_id("arn:aws:iam::123456789012:policy/p#203.0.113.7/24")
                .unwrap_err()
                .contains("203.0.113.0/24")
        );
    }

    #[tokio::test]
    async fn list_shows_each_temporary_range_with_its_state() {
        let (_fake, policies) = fake();
        let rows = list(&policies, at(2_000)).await.unwrap();
        let got: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.id.rsplit('#').next().unwrap(), r.state.as_str()))
            .collect();
        assert_eq!(
            got,
            [("203.0.113.7/32", "expired"), ("203.0.113.8/32", "active")]
        );
        assert_eq!(rows[1].expires_at, Some(at(5_000)));
    }

    #[tokio::test]
    async fn sweep_prunes_expired_ranges_into_a_new_version_and_is_idempotent() {
        let (fake, policies) = fake();
        let dry = sweep(&policies, at(2_000), true).await;
        assert_eq!(dry.len(), 1);
        assert_eq!(fake.state.lock().unwrap().ids(), ["v1", "v2"]);

        let results = sweep(&policies, at(2_000), false).await;
        assert_eq!(results.len(), 1, "{results:?}");
        assert_eq!(results[0].outcome, Outcome::Removed);
        assert!(
            results[0].detail.contains("new default version v3"),
            "{results:?}"
        );
        let doc = fake.state.lock().unwrap().document();
        let left = Spec::decode(&doc).unwrap();
        assert_eq!(left.temporary.len(), 1);
        assert_eq!(left.temporary[0].cidr.to_string(), "203.0.113.8/32");
        assert_eq!(left.allowed, spec().allowed);

        assert!(sweep(&policies, at(2_000), false).await.is_empty());
        assert_eq!(fake.state.lock().unwrap().ids(), ["v1", "v2", "v3"]);
    }

    #[tokio::test]
    async fn a_hand_edited_policy_is_left_alone() {
        let (fake, policies) = fake();
        fake.state
            .lock()
            .unwrap()
            .add_version("{\"Version\":\"2012-10-17\",\"Statement\":[]}", true)
            .unwrap();
        let results = sweep(&policies, at(2_000), false).await;
        assert_eq!(results[0].outcome, Outcome::LeftAlone);
        assert_eq!(fake.state.lock().unwrap().ids().len(), 3);
        let rows = list(&policies, at(2_000)).await.unwrap();
        assert_eq!(rows[0].state, PolicyState::Unreadable);
    }

    #[tokio::test]
    async fn revoke_marks_then_removes_the_range_and_the_sweep_clears_the_marker_later() {
        let (fake, policies) = fake();
        let id = format!("{ARN}#203.0.113.8/32");
        let r = revoke(&policies, &id, at(2_000)).await.unwrap();
        assert!(r.detail.contains("removed from p"), "{r:?}");
        let (doc, tags) = {
            let st = fake.state.lock().unwrap();
            (st.document(), st.tags())
        };
        let left = Spec::decode(&doc).unwrap();
        assert!(
            left.temporary
                .iter()
                .all(|t| t.cidr.to_string() != "203.0.113.8/32")
        );
        assert_eq!(tags["jit:revoked:203.0.113.8/32"], "x=2000 e=5000");

        let rows = list(&policies, at(2_500)).await.unwrap();
        let revoked = rows.iter().find(|r| r.id == id).unwrap();
        assert_eq!(revoked.state, PolicyState::Revoked);
        assert_eq!(revoked.revoked_at, Some(at(2_000)));

        let again = revoke(&policies, &id, at(3_000)).await.unwrap();
        assert!(again.detail.contains("already revoked"), "{again:?}");

        // Before the range's expiry the marker stays; after, the sweep removes it.
        sweep(&policies, at(4_000), false).await;
        assert!(
            fake.state
                .lock()
                .unwrap()
                .tags()
                .contains_key("jit:revoked:203.0.113.8/32")
        );
        let results = sweep(&policies, at(6_000), false).await;
        assert!(
            results
                .iter()
                .any(|r| r.id == id && r.outcome == Outcome::Removed),
            "{results:?}"
        );
        assert!(
            !fake
                .state
                .lock()
                .unwrap()
                .tags()
                .contains_key("jit:revoked:203.0.113.8/32")
        );
    }

    /// An IAM that refuses everything: a caller meant for network ACLs only.
    struct DeniedIam;

    fn refused() -> AwsError {
        AwsError::Call {
            operation: "ListPolicies",
            code: Some("AccessDenied".into()),
            message: "not authorized to perform: iam:ListPolicies".into(),
        }
    }

    #[async_trait::async_trait]
    impl crate::aws::iam::IamApi for DeniedIam {
        async fn get_policy(&self, _: &str) -> Result<Option<PolicyInfo>, AwsError> {
            Err(refused())
        }
        async fn get_document(&self, _: &str, _: &str) -> Result<Option<String>, AwsError> {
            Err(refused())
        }
        async fn list_versions(
            &self,
            _: &str,
        ) -> Result<Vec<crate::aws::iam::VersionInfo>, AwsError> {
            Err(refused())
        }
        async fn create_policy(
            &self,
            _: &crate::aws::iam::NewPolicy,
        ) -> Result<crate::aws::iam::CreatePolicyOutcome, AwsError> {
            Err(refused())
        }
        async fn create_version(
            &self,
            _: &str,
            _: &str,
        ) -> Result<crate::aws::iam::CreateVersionOutcome, AwsError> {
            Err(refused())
        }
        async fn find_local(&self, _: &str, _: &str) -> Result<Option<PolicyInfo>, AwsError> {
            Err(refused())
        }
        async fn set_default_version(&self, _: &str, _: &str) -> Result<(), AwsError> {
            Err(refused())
        }
        async fn delete_version(&self, _: &str, _: &str) -> Result<(), AwsError> {
            Err(refused())
        }
        async fn delete_policy(&self, _: &str) -> Result<(), AwsError> {
            Err(refused())
        }
        async fn attachments(&self, _: &str) -> Result<crate::aws::iam::Attachments, AwsError> {
            Err(refused())
        }
        async fn tag(&self, _: &str, _: &BTreeMap<String, String>) -> Result<(), AwsError> {
            Err(refused())
        }
        async fn untag(&self, _: &str, _: &[String]) -> Result<(), AwsError> {
            Err(refused())
        }
        async fn list_local(&self) -> Result<Vec<PolicyInfo>, AwsError> {
            Err(refused())
        }
        async fn list_tags(&self, _: &str) -> Result<BTreeMap<String, String>, AwsError> {
            Err(refused())
        }
    }

    #[tokio::test]
    async fn a_caller_without_iam_rights_skips_policies_without_failing() {
        let policies = Policies::new(Arc::new(DeniedIam));
        let results = sweep(&policies, at(0), false).await;
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].outcome, Outcome::LeftAlone, "{results:?}");
        assert!(results[0].detail.contains("expire inside AWS regardless"));
        let err = list(&policies, at(0)).await.unwrap_err();
        assert!(err.denied, "{err:?}");
    }

    #[tokio::test]
    async fn revoke_refuses_ranges_and_policies_jit_does_not_own() {
        let (fake, policies) = fake();
        let err = revoke(&policies, &format!("{ARN}#198.51.100.0/24"), at(0))
            .await
            .unwrap_err();
        assert!(err.contains("not a temporary CIDR"), "{err}");
        assert!(err.contains("203.0.113.7/32, 203.0.113.8/32"), "{err}");
        fake.state
            .lock()
            .unwrap()
            .policy
            .as_mut()
            .unwrap()
            .tags
            .clear();
        let err = revoke(&policies, &format!("{ARN}#203.0.113.8/32"), at(0))
            .await
            .unwrap_err();
        assert!(err.contains("not managed by jit"), "{err}");
        assert_eq!(fake.state.lock().unwrap().ids(), ["v1", "v2"]);
    }
}
