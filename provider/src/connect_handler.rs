//! The Client VPN client-connect handler: the logic of `jit-client-vpn-handler`, the Lambda that
//! AWS calls (synchronously, after authentication) for every new connection to an endpoint, and
//! whose answer decides whether the connection is allowed.
//!
//! Per event it reads the grants recorded on the event's endpoint (one `DescribeClientVpnEndpoints`,
//! shared through [`ClientVpns`]' short snapshot by the events that follow within seconds) and
//! admits the connection only while an active grant matches it ([`client_vpn::decide`], with the
//! clock read at decision time, so a cached grant never admits past its expiry; a revoke marker,
//! once read, replaces the cached record). It fails closed but always answers: a malformed event,
//! an AWS error or the internal deadline ([`DEADLINE`], well under AWS's fixed 30 s) give
//! `allow: false` with a message the client sees, in the schema version of the request.
//!
//! Configuration (environment): `JIT_ALWAYS_ALLOW_CIDRS` (comma-separated standing ranges that
//! never expire, validated at start: an invalid value makes every invocation refuse, loudly);
//! `JIT_NOTIFY_TOPIC_ARN` (an SNS topic that gets one message per decision; a failed or slow
//! publish is logged and never changes the decision or delays it past the deadline);
//! `JIT_HANDLER_DEADLINE_MS` (the internal deadline in milliseconds instead of [`DEADLINE`], for
//! slow test machines; validated at start like the standing ranges, see [`parse_deadline`]).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ipnet::IpNet;
use serde_json::{Value, json};

use crate::aws::client_vpn::ClientVpns;
use crate::clock::{Clock, format_rfc3339};
use crate::grant::client_vpn::{self, Connection, Decision, limit_message};

/// Standing ranges that every connection from them may use, whatever the grants say.
pub const ALWAYS_ALLOW_ENV: &str = "JIT_ALWAYS_ALLOW_CIDRS";
/// The SNS topic that gets one message per decision.
pub const NOTIFY_TOPIC_ENV: &str = "JIT_NOTIFY_TOPIC_ARN";

/// Replaces [`DEADLINE`] (whole milliseconds): for tests on loaded machines, where a cold first
/// answer (reading the grants from a local AWS, publishing to SNS) can take longer than 5 s.
pub const DEADLINE_ENV: &str = "JIT_HANDLER_DEADLINE_MS";

/// The handler answers within this long of receiving an event, whatever AWS does.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// How long AWS waits for the handler (fixed): a deadline must stay below it, or AWS gives up
/// first and the client is refused without a message.
pub const AWS_WAIT: Duration = Duration::from_secs(30);

/// The shortest deadline [`parse_deadline`] accepts: below it even a cold start's first read
/// (about 50 ms against a local AWS) cannot fit, and every first connection would be refused.
pub const MIN_DEADLINE: Duration = Duration::from_millis(100);

/// The most a notification may take of the time left before the deadline: 30% of the deadline
/// (1.5 s at the default 5 s), so a raised deadline gives a slow SNS more time too.
pub fn notify_budget(deadline: Duration) -> Duration {
    deadline * 3 / 10
}

/// The request and response schema versions AWS uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    V1,
    V2,
}

impl Schema {
    fn as_str(self) -> &'static str {
        match self {
            Schema::V1 => "v1",
            Schema::V2 => "v2",
        }
    }

    /// The response field of the message shown to a refused client.
    fn message_field(self) -> &'static str {
        match self {
            Schema::V1 => "error-msg-on-failed-posture-compliance",
            Schema::V2 => "error-msg-on-denied-connection",
        }
    }
}

/// A client-connect request, as AWS sends it (unknown fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub schema: Schema,
    pub connection_id: String,
    pub endpoint_id: String,
    pub username: String,
    pub common_name: String,
    pub public_ip: IpAddr,
    pub platform: String,
    /// AD or SAML groups (v2 only; empty for mutual authentication).
    pub groups: Vec<String>,
}

/// The schema version an event asks for: `v2` only when it says so (AWS's default is `v1`).
fn schema_of(event: &Value) -> Schema {
    match event.get("schema-version").and_then(Value::as_str) {
        Some("v2") => Schema::V2,
        _ => Schema::V1,
    }
}

/// Reads an event; a message for the client when it is not one AWS would send.
pub fn parse_event(event: &Value) -> Result<Event, String> {
    let schema = schema_of(event);
    if !event.is_object() {
        return Err(
            "jit refused the connection: the client-connect request is not a JSON object".into(),
        );
    }
    let text = |name: &str| -> Result<String, String> {
        match event.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!(
                "jit refused the connection: the request's {name} is {other}, not a string"
            )),
        }
    };
    match event.get("schema-version").and_then(Value::as_str) {
        Some("v1" | "v2") | None => {}
        Some(other) => {
            return Err(format!(
                "jit refused the connection: the request's schema-version {other:?} is neither v1 nor v2"
            ));
        }
    }
    let endpoint_id = text("endpoint-id")?;
    if !client_vpn::valid_endpoint_id(&endpoint_id) {
        return Err(format!(
            "jit refused the connection: the request's endpoint-id {endpoint_id:?} is not a Client VPN endpoint id"
        ));
    }
    let ip_text = text("public-ip")?;
    let public_ip = ip_text.parse::<IpAddr>().map_err(|_| {
        format!(
            "jit refused the connection: the request's public-ip {ip_text:?} is not an IP address"
        )
    })?;
    let groups = match event.get("groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|g| {
                g.as_str().map(str::to_string).ok_or_else(|| {
                    format!(
                        "jit refused the connection: the request's groups hold {g}, not a string"
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "jit refused the connection: the request's groups are {other}, not a list"
            ));
        }
    };
    Ok(Event {
        schema,
        connection_id: text("connection-id")?,
        endpoint_id,
        username: text("username")?,
        common_name: text("common-name")?,
        public_ip,
        platform: text("platform")?,
        groups,
    })
}

/// The response AWS expects, in `schema`: at most 10 statuses of at most 255 characters, and a
/// message of at most 255 characters.
pub fn response(schema: Schema, allow: bool, message: &str, statuses: &[String]) -> Value {
    let statuses: Vec<String> = statuses
        .iter()
        .take(10)
        .map(|s| limit_message(s.clone()))
        .collect();
    let mut out = json!({
        "allow": allow,
        "posture-compliance-statuses": statuses,
        "schema-version": schema.as_str(),
    });
    out[schema.message_field()] = Value::from(limit_message(message.to_string()));
    out
}

/// Where decisions are announced (SNS in the Lambda; a recorder in tests).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), String>;
}

/// Parses `JIT_ALWAYS_ALLOW_CIDRS` with the provider's CIDR rules; the error says which entry is
/// wrong and why.
pub fn parse_standing(value: &str) -> Result<Vec<IpNet>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| jitlint::cidr::parse_cidr(s).map_err(|e| format!("{ALWAYS_ALLOW_ENV}: {e}")))
        .collect()
}

/// Parses `JIT_HANDLER_DEADLINE_MS` (absent: `None`): whole milliseconds from [`MIN_DEADLINE`] to
/// below [`AWS_WAIT`]. Anything else (a unit, a sign, a fraction, 0, 30000 or more) is an error
/// naming the variable, and the handler then refuses every connection, as for an invalid standing
/// range, rather than answer on a deadline nobody chose.
pub fn parse_deadline(value: Option<&str>) -> Result<Duration, String> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(DEADLINE);
    };
    let min = MIN_DEADLINE.as_millis();
    let limit = AWS_WAIT.as_millis();
    let ms: u64 = text
        .parse()
        .ok()
        .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            format!("{DEADLINE_ENV}: {text:?} is not a whole number of milliseconds (e.g. 20000)")
        })?;
    let deadline = Duration::from_millis(ms);
    if deadline < MIN_DEADLINE {
        return Err(format!(
            "{DEADLINE_ENV}: {ms} ms is too short to read the grants; use at least {min}"
        ));
    }
    if deadline >= AWS_WAIT {
        return Err(format!(
            "{DEADLINE_ENV}: {ms} ms is not below the {} s AWS waits for the handler, which would \
             refuse the client without a message; use at most {}",
            AWS_WAIT.as_secs(),
            limit - 1
        ));
    }
    Ok(deadline)
}

/// The handler with its configuration, built once per cold start.
pub struct Handler {
    pub vpns: ClientVpns,
    pub clock: Arc<dyn Clock>,
    /// The standing ranges, or why `JIT_ALWAYS_ALLOW_CIDRS` is invalid (then every event is
    /// refused).
    pub standing: Result<Vec<IpNet>, String>,
    pub notifier: Option<Arc<dyn Notifier>>,
    /// The internal deadline, or why `JIT_HANDLER_DEADLINE_MS` is invalid (then every event is
    /// refused, within [`DEADLINE`]).
    pub deadline: Result<Duration, String>,
}

/// What one event came to, for the log and the notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub allow: bool,
    pub admitted_by: Option<String>,
    pub message: String,
}

impl Handler {
    /// The deadline in force: the configured one, or [`DEADLINE`] when it is invalid.
    fn deadline(&self) -> Duration {
        self.deadline.as_ref().copied().unwrap_or(DEADLINE)
    }

    /// Answers one event (always: never an error, never past the deadline).
    pub async fn handle(&self, event: &Value) -> Value {
        let started = Instant::now();
        let schema = schema_of(event);
        let (outcome, parsed) = self.decide(event, started).await;
        let statuses: Vec<String> = outcome.admitted_by.iter().cloned().collect();
        let answer = response(schema, outcome.allow, &outcome.message, &statuses);
        if outcome.allow {
            tracing::info!(admitted_by = ?outcome.admitted_by, event = %summary(parsed.as_ref()), "allowed");
        } else {
            tracing::warn!(event = %summary(parsed.as_ref()), "refused: {}", outcome.message);
        }
        if let Some(n) = &self.notifier {
            let left = self
                .deadline()
                .saturating_sub(started.elapsed())
                .min(notify_budget(self.deadline()));
            let (subject, body) = notification(parsed.as_ref(), &outcome, self.clock.now());
            match tokio::time::timeout(left, n.publish(&subject, &body)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("notification not sent: {e}"),
                Err(_) => tracing::error!("notification not sent: no answer within {left:?}"),
            }
        }
        answer
    }

    async fn decide(&self, event: &Value, started: Instant) -> (Outcome, Option<Event>) {
        let refuse = |message: String| Outcome {
            allow: false,
            admitted_by: None,
            message,
        };
        let standing = match &self.standing {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("misconfigured, refusing every connection: {e}");
                return (refuse("VPN access is misconfigured (jit's standing ranges are invalid), so every connection is refused; tell your VPN administrator".into()), None);
            }
        };
        if let Err(e) = &self.deadline {
            tracing::error!("misconfigured, refusing every connection: {e}");
            return (refuse("VPN access is misconfigured (jit's handler deadline is invalid), so every connection is refused; tell your VPN administrator".into()), None);
        }
        let ev = match parse_event(event) {
            Ok(ev) => ev,
            Err(m) => return (refuse(m), None),
        };
        let left = self.deadline().saturating_sub(started.elapsed());
        let view = match tokio::time::timeout(left, self.vpns.view(&ev.endpoint_id)).await {
            Ok(Ok(Some(view))) => view,
            Ok(Ok(None)) => {
                return (
                    refuse(format!(
                        "jit refused the connection: endpoint {} does not exist for its handler (wrong account or region?)",
                        ev.endpoint_id
                    )),
                    Some(ev),
                );
            }
            Ok(Err(e)) => {
                tracing::error!(endpoint = %ev.endpoint_id, "could not read the grants: {e}");
                return (
                    refuse(format!(
                        "jit could not read the grants of {} ({}), so it refuses the connection; try again in a minute",
                        ev.endpoint_id,
                        e.code().unwrap_or("AWS error")
                    )),
                    Some(ev),
                );
            }
            Err(_) => {
                tracing::error!(endpoint = %ev.endpoint_id, "no answer from AWS within {:?}", self.deadline());
                return (
                    refuse(format!(
                        "jit could not read the grants of {} in time, so it refuses the connection; try again in a minute",
                        ev.endpoint_id
                    )),
                    Some(ev),
                );
            }
        };
        let (records, unreadable) = view.records();
        for e in &unreadable {
            tracing::warn!(endpoint = %ev.endpoint_id, "ignored: {e}");
        }
        let connection = Connection {
            username: &ev.username,
            common_name: &ev.common_name,
            groups: &ev.groups,
            public_ip: ev.public_ip,
        };
        let outcome = match client_vpn::decide(&records, standing, &connection, self.clock.now()) {
            Decision::Admit(a) => Outcome {
                allow: true,
                message: String::new(),
                admitted_by: Some(a.status()),
            },
            Decision::Refuse(m) => refuse(m),
        };
        (outcome, Some(ev))
    }
}

fn summary(ev: Option<&Event>) -> String {
    match ev {
        Some(e) => format!(
            "{} {} user={:?} cn={:?} from {}",
            e.endpoint_id, e.connection_id, e.username, e.common_name, e.public_ip
        ),
        None => "(unreadable request)".into(),
    }
}

/// One SNS message per decision: a subject for e-mail subscribers and a JSON body for machines.
pub fn notification(
    ev: Option<&Event>,
    outcome: &Outcome,
    now: time::OffsetDateTime,
) -> (String, String) {
    let verdict = if outcome.allow { "allowed" } else { "refused" };
    let who = ev
        .map(|e| match (e.username.as_str(), e.common_name.as_str()) {
            ("", "") => "an anonymous client".to_string(),
            ("", cn) => cn.to_string(),
            (u, _) => u.to_string(),
        })
        .unwrap_or_else(|| "an unreadable request".into());
    let from = ev.map(|e| e.public_ip.to_string()).unwrap_or_default();
    // SNS subjects: at most 100 printable ASCII characters.
    let subject: String = format!("jit Client VPN: {who} {verdict} from {from}")
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(100)
        .collect();
    let body = json!({
        "decision": verdict,
        "at": format_rfc3339(now),
        "endpoint_id": ev.map(|e| e.endpoint_id.as_str()),
        "connection_id": ev.map(|e| e.connection_id.as_str()),
        "username": ev.map(|e| e.username.as_str()),
        "common_name": ev.map(|e| e.common_name.as_str()),
        "groups": ev.map(|e| e.groups.clone()),
        "public_ip": ev.map(|e| e.public_ip.to_string()),
        "platform": ev.map(|e| e.platform.as_str()),
        "admitted_by": outcome.admitted_by,
        "message": if outcome.allow { None } else { Some(outcome.message.as_str()) },
    });
    (subject, body.to_string())
}

#[cfg(test)]
mod tests;
