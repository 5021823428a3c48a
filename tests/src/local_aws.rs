//! The local AWS of the tests: `scripts/local-aws.sh`, a proxy in front of moto that refuses what AWS refuses
//! (NACL quotas and validation, tag limits, IAM policy size, ...) and can inject faults with a fixed seed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::workspace_root;

/// How long the local AWS may take to print its endpoint (the first start after an install of moto is slow).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How long it may take to stop (it stops moto first) once its stdin is closed, before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The access key id of the harness's own SDK clients ([`crate::Aws`]): the local AWS never injects faults into
/// requests signed with it, so the checks a test makes see the true state.
pub const HARNESS_ACCESS_KEY: &str = "harness";

/// A private local AWS on a free port of 127.0.0.1: `scripts/local-aws.sh` (the strict proxy, with moto as its
/// child), stopped when dropped.
///
/// One process per test rather than one shared process with an account per test: the provider finds AWS through
/// `AWS_ENDPOINT_URL` and plain credentials, so it cannot send moto's `x-moto-account-id` header, and assuming a
/// role per test would add an STS step to every test. A process starts in about a second, which is small next to
/// the terraform runs of a test.
pub struct Moto {
    child: Child,
    /// Held open for the life of the process: the proxy runs with `--exit-on-stdin-eof`, so it stops (and stops
    /// moto) when this closes, even when the test process dies without running destructors.
    stdin: Option<ChildStdin>,
    port: u16,
    log: Arc<Mutex<String>>,
}

/// A kind of fault the local AWS can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Throttling before acting: EC2 `RequestLimitExceeded` (HTTP 503), IAM `Throttling` (HTTP 400).
    Throttle,
    /// HTTP 500 before acting (EC2 `InternalError`, IAM `ServiceFailure`).
    InternalError,
    /// The connection is closed before the request is forwarded: nothing happened.
    DropBefore,
    /// The request is forwarded and performed, then the connection is closed without the answer: the lost
    /// response that makes an SDK retry a request AWS already performed.
    DropAfter,
    /// The request is delayed by [`FaultConfig::latency_ms`], then served normally.
    Latency,
}

impl FaultKind {
    /// The name the local AWS uses, in its configuration and its counters.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Throttle => "throttle",
            FaultKind::InternalError => "internal_error",
            FaultKind::DropBefore => "drop_before",
            FaultKind::DropAfter => "drop_after",
            FaultKind::Latency => "latency",
        }
    }
}

/// What faults to inject: each eligible request is faulted with probability `rate`, with a kind drawn evenly from
/// `kinds`, from a random sequence seeded with `seed` (the same requests in the same order get the same faults).
#[derive(Clone, Debug)]
pub struct FaultConfig {
    /// The seed of the sequence.
    pub seed: u64,
    /// The probability that an eligible request is faulted, 0 to 1.
    pub rate: f64,
    /// The kinds to draw from (evenly).
    pub kinds: Vec<FaultKind>,
    /// The eligible actions (e.g. `CreateNetworkAclEntry`); `None` means every mutating EC2 and IAM action.
    pub actions: Option<Vec<String>>,
    /// With `actions: None`, whether reads (`Describe*`, `Get*`, `List*`) are eligible too.
    pub include_reads: bool,
    /// The delay of a [`FaultKind::Latency`] fault.
    pub latency_ms: u64,
}

impl FaultConfig {
    /// Faults of `kinds` at `rate` on every mutating action, seeded with `seed`.
    pub fn new(seed: u64, rate: f64, kinds: &[FaultKind]) -> FaultConfig {
        FaultConfig {
            seed,
            rate,
            kinds: kinds.to_vec(),
            actions: None,
            include_reads: false,
            latency_ms: 200,
        }
    }

    /// Only these actions are eligible.
    pub fn actions(mut self, actions: &[&str]) -> FaultConfig {
        self.actions = Some(actions.iter().map(|a| (*a).to_string()).collect());
        self
    }

    /// Reads (`Describe*`, `Get*`, `List*`) are eligible too.
    pub fn include_reads(mut self) -> FaultConfig {
        self.include_reads = true;
        self
    }

    fn to_json(&self) -> Value {
        let kinds: serde_json::Map<String, Value> = self
            .kinds
            .iter()
            .map(|k| (k.name().to_string(), json!(1)))
            .collect();
        json!({
            "seed": self.seed,
            "rate": self.rate,
            "kinds": kinds,
            "actions": self.actions,
            "include_reads": self.include_reads,
            "latency_ms": self.latency_ms,
            "exempt_access_keys": [HARNESS_ACCESS_KEY],
        })
    }
}

/// Where [`Moto::hold`] stops a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Before moto sees it: the write never happened.
    Before,
    /// After moto performed it: the write happened, its answer never arrives.
    After,
}

/// A client connection to register with [`Moto::connect_client_vpn`].
#[derive(Clone, Debug, Default)]
pub struct ClientVpnConnection<'a> {
    /// The Client VPN endpoint (`cvpn-endpoint-…`).
    pub endpoint_id: &'a str,
    /// The user (directory or SAML authentication); empty for mutual (certificate) authentication.
    pub username: &'a str,
    /// The client certificate's common name.
    pub common_name: &'a str,
    /// The client's address inside the VPN's client CIDR.
    pub client_ip: &'a str,
    /// What the client-connect handler answered (jit's handler: the grant id).
    pub posture_compliance_statuses: &'a [&'a str],
}

/// Injected faults so far: action -> fault kind name ([`FaultKind::name`]) -> count.
pub type FaultCounts = BTreeMap<String, BTreeMap<String, u64>>;

impl Moto {
    /// Starts `scripts/local-aws.sh` (which installs moto first if needed), reads the endpoint it prints once it
    /// answers requests, and returns. Faults are off and the NACL quota is AWS's default (20 per direction).
    ///
    /// Panics with the process's output when it does not come up.
    pub fn start() -> Moto {
        let script = workspace_root().join("scripts/local-aws.sh");
        let mut child = Command::new("bash")
            .arg(&script)
            .arg("--exit-on-stdin-eof")
            // The developer's shell must not configure the tests' local AWS.
            .env_remove("JIT_LOCAL_AWS_FAULTS")
            .env_remove("JIT_LOCAL_AWS_NACL_RULES_PER_DIRECTION")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));

        // Both streams are drained for the whole life of the process so that a full pipe never blocks it, and
        // kept for failure messages; the first stdout line is the endpoint.
        let log = Arc::new(Mutex::new(String::new()));
        let (endpoint_tx, endpoint_rx) = mpsc::channel();
        drain(
            child.stdout.take().expect("piped stdout"),
            Arc::clone(&log),
            Some(endpoint_tx),
        );
        drain(
            child.stderr.take().expect("piped stderr"),
            Arc::clone(&log),
            None,
        );
        let stdin = child.stdin.take();
        let mut moto = Moto {
            child,
            stdin,
            port: 0,
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        moto.port = loop {
            match endpoint_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => match parse_endpoint(&line) {
                    Some(port) => break port,
                    None => panic!(
                        "{} printed {line:?} where its endpoint belongs; its output:\n{}",
                        script.display(),
                        moto.log()
                    ),
                },
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
                    "{} exited without printing its endpoint; its output:\n{}",
                    script.display(),
                    moto.log()
                ),
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "{} exited ({status}) before it was ready; its output:\n{}",
                    script.display(),
                    moto.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not print its endpoint within {START_TIMEOUT:?}; its output:\n{}",
                script.display(),
                moto.log()
            );
        };
        moto
    }

    /// The port the local AWS listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint URL for SDK clients and `AWS_ENDPOINT_URL`, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Everything the local AWS and moto printed so far, including moto's line per request it served and the
    /// proxy's `local-aws: SERVICE ACTION -> STATUS` line per request it answered: useful in failure messages.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Turns fault injection on with `config` (replacing any earlier configuration); this restarts the seeded
    /// sequence and clears the counters. Requests of the harness's own clients ([`HARNESS_ACCESS_KEY`]) are never
    /// faulted.
    pub fn set_faults(&self, config: &FaultConfig) {
        self.control("POST", "/_jit/faults", Some(&config.to_json()));
    }

    /// Turns fault injection off (and clears the counters).
    pub fn clear_faults(&self) {
        self.control("POST", "/_jit/faults", Some(&json!({})));
    }

    /// The faults injected since the last [`Moto::set_faults`] or [`Moto::reset`].
    pub fn fault_counts(&self) -> FaultCounts {
        let answer = self.control("GET", "/_jit/faults", None);
        serde_json::from_value(answer["counts"].clone()).unwrap_or_else(|e| {
            panic!("the local AWS's fault counters are not action -> kind -> count ({e}): {answer}")
        })
    }

    /// Sets the quota of entries per direction of a network ACL (AWS: 20 by default, adjustable up to 40).
    pub fn set_nacl_rules_per_direction(&self, rules: u32) {
        self.control(
            "POST",
            "/_jit/limits",
            Some(&json!({ "nacl_rules_per_direction": rules })),
        );
    }

    /// Arms the crash trap: the `nth` request of `action` made by the code under test (not the harness), whose
    /// parameters contain `matching` if given, is held without an answer, [`Step::Before`] moto sees it or
    /// [`Step::After`] moto acted, until [`Moto::release`]. Wait for it with [`Moto::wait_held`], then kill the
    /// client: that kills it at exactly that write step.
    pub fn hold(&self, action: &str, step: Step, nth: u32, matching: Option<&str>) {
        let when = match step {
            Step::Before => "before",
            Step::After => "after",
        };
        self.control(
            "POST",
            "/_jit/hold",
            Some(&json!({ "action": action, "when": when, "nth": nth, "match": matching })),
        );
    }

    /// Waits until the trap armed with [`Moto::hold`] holds a request, and returns that request's parameters;
    /// `None` if `until` returns true first (the client finished without reaching the step) or after `timeout`.
    pub fn wait_held(&self, timeout: Duration, mut until: impl FnMut() -> bool) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let state = self.control("GET", "/_jit/hold", None);
            if !state["held"].is_null() {
                return Some(state["held"]["params"].clone());
            }
            if until() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Disarms the trap and lets a held request go (its connection is closed without an answer).
    pub fn release(&self) {
        self.control("POST", "/_jit/hold", Some(&json!({})));
    }

    /// A client connects to Client VPN endpoint `endpoint_id` (as AWS would record it after the client-connect
    /// handler admitted it); returns the connection id. Panics when the local AWS refuses (unknown endpoint).
    pub fn connect_client_vpn(&self, connection: &ClientVpnConnection<'_>) -> String {
        let answer = self.control(
            "POST",
            "/_jit/client-vpn/connections",
            Some(&json!({
                "endpoint_id": connection.endpoint_id,
                "username": connection.username,
                "common_name": connection.common_name,
                "client_ip": connection.client_ip,
                "posture_compliance_statuses": connection.posture_compliance_statuses,
            })),
        );
        answer["connection_id"]
            .as_str()
            .unwrap_or_else(|| panic!("the registered connection has no id: {answer}"))
            .to_string()
    }

    /// Every connection of a Client VPN endpoint the local AWS knows: connection id -> status (`active`,
    /// `terminated`), read through the control endpoint (independently of the EC2 API jit uses).
    pub fn client_vpn_connection_statuses(&self, endpoint_id: &str) -> BTreeMap<String, String> {
        let answer = self.control(
            "GET",
            &format!("/_jit/client-vpn/connections?endpoint_id={endpoint_id}"),
            None,
        );
        answer
            .as_array()
            .unwrap_or_else(|| panic!("the connections are not a list: {answer}"))
            .iter()
            .map(|c| {
                (
                    c["connection_id"].as_str().unwrap_or_default().to_string(),
                    c["status"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// One query-protocol request (form-encoded, `Action=…`) to `service` (`sns`, `sqs`) through the local AWS,
    /// signed as the harness (moto does not check signatures); returns the status and the XML answer. For the
    /// services the tests only need to set up and read back, without an SDK of their own.
    pub fn query(&self, service: &str, params: &[(&str, &str)]) -> (u16, String) {
        let body: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect();
        let body = body.join("&");
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={HARNESS_ACCESS_KEY}/20260101/us-east-1/{service}/aws4_request,              SignedHeaders=host, Signature=0"
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("connect to the local AWS: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set a read timeout");
        write!(
            stream,
            "POST / HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Authorization: {auth}\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .unwrap_or_else(|e| panic!("send {service} {params:?}: {e}"));
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .unwrap_or_else(|e| panic!("read the answer to {service} {params:?}: {e}"));
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// An SNS topic with an SQS queue subscribed to it: returns the topic's ARN and the queue's URL, from which
    /// [`Moto::published`] reads what was published.
    pub fn sns_topic_with_queue(&self, name: &str) -> (String, String) {
        let ok = |(status, body): (u16, String), what: &str| {
            assert_eq!(status, 200, "{what}: {body}");
            body
        };
        let topic = ok(
            self.query(
                "sns",
                &[
                    ("Action", "CreateTopic"),
                    ("Name", name),
                    ("Version", "2010-03-31"),
                ],
            ),
            "CreateTopic",
        );
        let topic_arn = xml_text(&topic, "TopicArn").expect("CreateTopic answers a TopicArn");
        let queue = ok(
            self.query(
                "sqs",
                &[
                    ("Action", "CreateQueue"),
                    ("QueueName", name),
                    ("Version", "2012-11-05"),
                ],
            ),
            "CreateQueue",
        );
        let queue_url = xml_text(&queue, "QueueUrl").expect("CreateQueue answers a QueueUrl");
        let queue_arn = format!("arn:aws:sqs:us-east-1:123456789012:{name}");
        ok(
            self.query(
                "sns",
                &[
                    ("Action", "Subscribe"),
                    ("TopicArn", &topic_arn),
                    ("Protocol", "sqs"),
                    ("Endpoint", &queue_arn),
                    ("Version", "2010-03-31"),
                ],
            ),
            "Subscribe",
        );
        (topic_arn, queue_url)
    }

    /// The messages published to the topic whose queue is `queue_url` ([`Moto::sns_topic_with_queue`]), each
    /// as SNS delivered it (the envelope's `Subject` and `Message`), received and deleted from the queue.
    pub fn published(&self, queue_url: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        loop {
            let (status, body) = self.query(
                "sqs",
                &[
                    ("Action", "ReceiveMessage"),
                    ("QueueUrl", queue_url),
                    ("MaxNumberOfMessages", "10"),
                    ("Version", "2012-11-05"),
                ],
            );
            assert_eq!(status, 200, "ReceiveMessage: {body}");
            let bodies: Vec<String> = body
                .split("<Body>")
                .skip(1)
                .filter_map(|rest| rest.split_once("</Body>").map(|(b, _)| xml_unescape(b)))
                .collect();
            if bodies.is_empty() {
                return out;
            }
            for b in bodies {
                let envelope: Value = serde_json::from_str(&b)
                    .unwrap_or_else(|e| panic!("an SNS envelope is not JSON ({e}): {b}"));
                out.push((
                    envelope["Subject"].as_str().unwrap_or_default().to_string(),
                    envelope["Message"].as_str().unwrap_or_default().to_string(),
                ));
            }
            for handle in body.split("<ReceiptHandle>").skip(1).filter_map(|rest| {
                rest.split_once("</ReceiptHandle>")
                    .map(|(h, _)| xml_unescape(h))
            }) {
                self.query(
                    "sqs",
                    &[
                        ("Action", "DeleteMessage"),
                        ("QueueUrl", queue_url),
                        ("ReceiptHandle", &handle),
                        ("Version", "2012-11-05"),
                    ],
                );
            }
        }
    }

    /// Clears all AWS state (moto's reset) and the fault counters and sequence.
    pub fn reset(&self) {
        self.control("POST", "/_jit/reset", None);
    }

    /// One request to the control endpoint; panics unless it answers 200 with JSON.
    fn control(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(Value::to_string).unwrap_or_default();
        let (status, text) = http_request(self.port, method, path, &body)
            .unwrap_or_else(|e| panic!("{method} {path} on the local AWS failed: {e}"));
        assert_eq!(
            status, 200,
            "{method} {path} {body} on the local AWS answered {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("{method} {path} answered something that is not JSON ({e}): {text}")
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing stdin asks the proxy to stop moto and exit; it is killed if it takes too long. Errors here mean
        // the process is already gone, which is what we want.
        drop(self.stdin.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies a child's output stream into `log` on a background thread; when `first_line` is given, sends the first
/// line through it.
fn drain(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    mut first_line: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = first_line.take() {
                // The receiver may have given up already; the line is then of no use to anyone.
                let _ = tx.send(line.clone());
            }
            if let Ok(mut log) = log.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
}

/// `application/x-www-form-urlencoded` encoding of one key or value.
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text of the first `<name>…</name>` element of an XML answer.
fn xml_text(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let rest = xml.split_once(&open)?.1;
    Some(xml_unescape(rest.split_once(&format!("</{name}>"))?.0))
}

fn xml_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#13;", "\r")
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
}

/// The port of the `http://127.0.0.1:PORT` line the local AWS prints first.
pub fn parse_endpoint(line: &str) -> Option<u16> {
    line.trim().strip_prefix("http://127.0.0.1:")?.parse().ok()
}

/// A minimal HTTP/1.0 request to 127.0.0.1:`port`, returning the status code and the body.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let bad = || std::io::Error::other(format!("not an HTTP answer: {answer:?}"));
    // "HTTP/1.0 200 OK"
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .ok_or_else(bad)?;
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_endpoint_line() {
        assert_eq!(parse_endpoint("http://127.0.0.1:44691\n"), Some(44691));
        assert_eq!(parse_endpoint("installing moto"), None);
        assert_eq!(parse_endpoint("http://127.0.0.1:notaport"), None);
    }

    #[test]
    fn fault_config_names_every_kind() {
        let cfg = FaultConfig::new(
            7,
            0.5,
            &[
                FaultKind::Throttle,
                FaultKind::DropAfter,
                FaultKind::Latency,
            ],
        )
        .actions(&["CreateNetworkAclEntry"]);
        let j = cfg.to_json();
        assert_eq!(
            j["kinds"],
            json!({"throttle": 1, "drop_after": 1, "latency": 1})
        );
        assert_eq!(j["actions"], json!(["CreateNetworkAclEntry"]));
        assert_eq!(j["exempt_access_keys"], json!(["harness"]));
    }
}
