//! The sweep as an AWS Lambda handler, run by an EventBridge schedule
//! (`examples/sweeper/`). The binary `jitctl-lambda` only wires this into `lambda_runtime`.

use serde_json::Value;
use time::OffsetDateTime;

use super::acl::Outcome;
use super::output::sweep_json;
use super::{ConnectOptions, Target, sweep_all};

/// Comma-separated regions to sweep; the function's own region (`AWS_REGION`) when unset.
pub const REGIONS_ENV: &str = "JITCTL_REGIONS";

/// Accepts EventBridge scheduled events and an empty object (a test invocation from the
/// console or `aws lambda invoke`). Anything else means the function is wired to the wrong
/// trigger, which is better said loudly than swept silently.
pub fn check_event(event: &Value) -> Result<(), String> {
    let scheduled = event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        && event.get("source").and_then(Value::as_str) == Some("aws.events");
    let empty = event.as_object().is_some_and(|o| o.is_empty());
    if scheduled || empty {
        return Ok(());
    }
    let what = match (
        event.get("source").and_then(Value::as_str),
        event.get("detail-type").and_then(Value::as_str),
    ) {
        (Some(s), Some(d)) => format!("an event from {s:?} ({d:?})"),
        _ => {
            let mut text = event.to_string();
            if text.len() > 120 {
                let cut = (0..=120)
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                text.truncate(cut);
                text.push('…');
            }
            text
        }
    };
    Err(format!(
        "the jit sweeper expects an EventBridge scheduled event (source \"aws.events\", detail-type \"Scheduled Event\") or {{}}; it received {what}. Check the function's triggers"
    ))
}

/// The connection for the Lambda: `JITCTL_REGIONS`, else the standard chain (`AWS_REGION`,
/// which Lambda sets). Credentials come from the function's role.
pub fn connect_options_from_env() -> ConnectOptions {
    let regions = std::env::var(REGIONS_ENV)
        .ok()
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    ConnectOptions {
        regions,
        ..ConnectOptions::default()
    }
}

/// Handles one invocation: sweeps every target and answers with the sweep's JSON summary. Any
/// grant that could not be removed makes the invocation fail (so the function's `Errors`
/// metric and alarms see it), with one line per failure.
pub async fn handle(
    event: &Value,
    targets: &[Target],
    now: OffsetDateTime,
) -> Result<Value, String> {
    check_event(event)?;
    let results = sweep_all(targets, now, false, super::acl::SweepScope::default()).await;
    for r in &results {
        match r.outcome {
            Outcome::Failed => {
                tracing::error!(region = %r.region, grant = %r.id, "failed: {}", r.detail)
            }
            _ => tracing::info!(
                region = %r.region,
                grant = %r.id,
                outcome = r.outcome.as_str(false),
                "{}",
                r.detail
            ),
        }
    }
    let failures: Vec<String> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .map(|r| format!("{} {}: {}", r.region, r.id, r.detail))
        .collect();
    if failures.is_empty() {
        Ok(sweep_json(&results, false))
    } else {
        Err(format!(
            "{} grant(s) could not be removed:\n{}",
            failures.len(),
            failures.join("\n")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::testing::{FakeNacl, acl_with, at, grant, target};
    use crate::grant::Direction;
    use serde_json::json;

    /// What EventBridge sends for a `rate(…)` schedule.
    fn scheduled() -> Value {
        json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-11-23T21:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/jit-sweeper"],
            "detail": {}
        })
    }

    #[tokio::test]
    async fn a_scheduled_event_sweeps() {
        let fake = FakeNacl::default();
        let old = grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 500);
        let live = grant(Direction::Ingress, 101, "203.0.113.2/32", 0, 5_000);
        fake.put(acl_with("acl-0123456789abcdef0", &[&old, &live]));
        let out = handle(&scheduled(), &[target(&fake)], at(1_000))
            .await
            .unwrap();
        assert_eq!(out["removed"], 1);
        assert_eq!(out["results"][0]["id"], "acl-0123456789abcdef0:ingress:100");
        let view = fake.get("acl-0123456789abcdef0");
        assert_eq!(view.tags.len(), 1);
        assert_eq!(view.entries.len(), 1);
    }

    #[tokio::test]
    async fn failures_fail_the_invocation_with_a_line_each() {
        let fake = FakeNacl::default();
        let a = grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 500);
        let b = grant(Direction::Ingress, 101, "203.0.113.2/32", 0, 500);
        fake.put(acl_with("acl-0123456789abcdef0", &[&a, &b]));
        fake.fail_deletes_of(100);
        fake.fail_deletes_of(101);
        let err = handle(&json!({}), &[target(&fake)], at(1_000))
            .await
            .unwrap_err();
        assert!(
            err.starts_with("2 grant(s) could not be removed:\n"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 3, "{err}");
        assert!(err.contains("us-east-1 acl-0123456789abcdef0:ingress:101: could not delete"));
    }

    /// The example's role policy (an inline role policy) passes jitlint, and only because of its
    /// tag condition: without it, JIT001 fires.
    #[test]
    fn the_sweeper_policy_passes_jitlint() {
        let text = include_str!("../../../examples/sweeper/sweeper-policy.json");
        let lint = |t: &str| {
            jitlint::lint_policy_document_as(
                t,
                jitlint::PolicyKind::InlineRole,
                &jitlint::Config::default(),
            )
            .unwrap()
        };
        let findings = lint(text);
        assert!(findings.is_empty(), "{findings:?}");
        let mut doc: Value = serde_json::from_str(text).unwrap();
        let stmt = doc["Statement"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|s| s["Action"] == "ec2:DeleteNetworkAclEntry")
            .unwrap();
        stmt.as_object_mut().unwrap().remove("Condition");
        assert_eq!(lint(&doc.to_string()).len(), 1);
    }

    #[test]
    fn other_events_are_refused_with_what_arrived() {
        let s3 = json!({"source": "aws.s3", "detail-type": "Object Created"});
        assert!(
            check_event(&s3)
                .unwrap_err()
                .contains("\"aws.s3\" (\"Object Created\")")
        );
        let long = json!({"Records": ["x".repeat(500)]});
        let err = check_event(&long).unwrap_err();
        assert!(err.contains('…') && err.len() < 400, "{err}");
        assert!(check_event(&scheduled()).is_ok());
        assert!(check_event(&json!({})).is_ok());
    }
}
