//! A stand-in for the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`), for the tests of jit's Lambda binaries
//! (`jitctl-lambda`, `jit-client-vpn-handler`): hands out queued events on `GET …/invocation/next` and reports
//! what the function posts to `…/response` or `…/error`. When the queue is empty, `next` waits for the next
//! [`RuntimeApi::push`], as a Lambda sandbox waits for its next invocation.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::REGION;

/// What the function posted for one invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `request-<n>`, in the order the events were queued.
    pub request_id: String,
    /// `response` or `error`.
    pub kind: String,
    /// The posted JSON.
    pub body: Value,
    /// From handing the event out to receiving the function's post.
    pub latency: Duration,
    /// When the post arrived.
    pub at: Instant,
}

/// The emulator: a listener on 127.0.0.1 serving the runtime client's keep-alive connections.
pub struct RuntimeApi {
    /// `127.0.0.1:PORT`, the value for `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    results: mpsc::Receiver<Invocation>,
    queue: Arc<Mutex<VecDeque<(String, Value)>>>,
    queued: AtomicUsize,
    stop: Arc<AtomicBool>,
}

impl RuntimeApi {
    /// Starts the emulator for function `function_name`, with `events` queued.
    pub fn start(function_name: &str, events: Vec<Value>) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("local address").to_string();
        let queue = Arc::new(Mutex::new(VecDeque::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, results) = mpsc::channel();
        let stop_accepting = Arc::clone(&stop);
        let served = Arc::clone(&queue);
        let handed_out = Arc::new(Mutex::new(BTreeMap::new()));
        let arn = format!("arn:aws:lambda:{REGION}:123456789012:function:{function_name}");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_accepting.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Shared {
                    queue: Arc::clone(&served),
                    results: tx.clone(),
                    stop: Arc::clone(&stop_accepting),
                    arn: arn.clone(),
                    handed_out: Arc::clone(&handed_out),
                };
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        let api = RuntimeApi {
            address,
            results,
            queue,
            queued: AtomicUsize::new(0),
            stop,
        };
        for e in events {
            api.push(e);
        }
        api
    }

    /// Queues one more event.
    pub fn push(&self, event: Value) {
        let n = self.queued.fetch_add(1, Ordering::SeqCst);
        self.queue
            .lock()
            .expect("queue lock")
            .push_back((format!("request-{n}"), event));
    }

    /// The next thing the function posted; panics after `timeout`.
    pub fn next(&self, timeout: Duration) -> Invocation {
        self.results
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("the function posted no result within {timeout:?}"))
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(&self.address);
    }
}

/// What every connection of the runtime client shares.
struct Shared {
    queue: Arc<Mutex<VecDeque<(String, Value)>>>,
    results: mpsc::Sender<Invocation>,
    stop: Arc<AtomicBool>,
    arn: String,
    /// When each request id was handed out (the client may post on another connection).
    handed_out: Arc<Mutex<BTreeMap<String, Instant>>>,
}

/// Serves one keep-alive connection of the runtime client.
fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone().expect("clone the stream");
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let body = read_body(&mut reader, &headers);
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        if path.ends_with("/invocation/next") {
            let next = loop {
                if let Some(item) = shared.queue.lock().expect("queue lock").pop_front() {
                    break item;
                }
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            let (id, event) = next;
            let payload = event.to_string();
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_millis()
                + 30_000;
            shared
                .handed_out
                .lock()
                .expect("handed-out lock")
                .insert(id.clone(), Instant::now());
            let _ = write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: {arn}\r\n\
                 Content-Length: {}\r\n\r\n{payload}",
                payload.len(),
                arn = shared.arn,
            );
        } else if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
            let at = Instant::now();
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let latency = shared
                .handed_out
                .lock()
                .expect("handed-out lock")
                .remove(id)
                .map_or(Duration::ZERO, |t| at - t);
            let _ = write!(
                writer,
                "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{{\"status\":\"OK\"}}"
            );
            let _ = writer.flush();
            let _ = shared.results.send(Invocation {
                request_id: id.to_string(),
                kind: kind.to_string(),
                body: value,
                latency,
                at,
            });
            continue;
        } else {
            let _ = write!(
                writer,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            );
        }
        let _ = writer.flush();
    }
}

fn read_body(reader: &mut BufReader<TcpStream>, headers: &BTreeMap<String, String>) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(len) = headers
        .get("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        body.resize(len, 0);
        let _ = reader.read_exact(&mut body);
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size).unwrap_or(0) == 0 {
                break;
            }
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; size + 2]; // the chunk and its CRLF
            if reader.read_exact(&mut chunk).is_err() || size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    body
}
