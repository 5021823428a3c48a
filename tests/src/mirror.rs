//! A provider network mirror for the install tests: a directory served read-only over HTTPS on 127.0.0.1,
//! with a certificate from a throwaway CA that terraform is given through `SSL_CERT_FILE`.
//!
//! `scripts/release.sh --mirror DIR` lays DIR out as the provider network mirror protocol wants it
//! (`HOSTNAME/NAMESPACE/TYPE/index.json`, `VERSION.json` and the zips beside them), so serving files is the whole
//! protocol: this is a static file server and nothing more.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// How long one connection may take to send its request: a stuck client cannot hold the server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest request head served (terraform's are a few hundred bytes).
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// `root` served over HTTPS on a free port of 127.0.0.1 until dropped, one thread per connection.
pub struct HttpsMirror {
    addr: SocketAddr,
    ca_file: PathBuf,
    _ca_dir: tempfile::TempDir,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl HttpsMirror {
    /// Starts serving `root`; panics if the certificates or the socket cannot be made.
    pub fn start(root: &Path) -> HttpsMirror {
        let (ca_pem, config) = throwaway_tls();
        let ca_dir = tempfile::tempdir().expect("temporary directory");
        let ca_file = ca_dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_pem).expect("write the CA certificate");

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (root, requests, stop) = (root.to_path_buf(), requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (root, requests, config) = (root.clone(), requests.clone(), config.clone());
                    std::thread::spawn(move || serve(stream, config, &root, &requests));
                }
            })
        };
        HttpsMirror {
            addr,
            ca_file,
            _ca_dir: ca_dir,
            requests,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// The base URL for terraform's `network_mirror { url = ... }`.
    pub fn url(&self) -> String {
        format!("https://{}/", self.addr)
    }

    /// The PEM file holding the CA that signed the server's certificate: terraform's `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The paths requested so far, in order, with the status served (`200 /registry.terraform.io/...`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("request log").clone()
    }
}

impl Drop for HttpsMirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the acceptor, which then sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// A CA certificate (PEM) and a server config whose certificate it signed, for 127.0.0.1 and localhost.
fn throwaway_tls() -> (String, Arc<rustls::ServerConfig>) {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "jit e2e throwaway CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");

    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("server key");
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("server parameters");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca).expect("server certificate");

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), CertificateDer::from(ca.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server TLS configuration");
    (ca.pem(), Arc::new(config))
}

/// Serves one request on one connection, then closes it.
fn serve(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    root: &Path,
    requests: &Mutex<Vec<String>>,
) {
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_REQUEST_HEAD {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, body, content_type) = match (method, file_under(root, path)) {
        ("GET", Some(file)) => match std::fs::read(&file) {
            Ok(bytes) => {
                let json = file.extension().is_some_and(|e| e == "json");
                let kind = if json {
                    "application/json"
                } else {
                    "application/zip"
                };
                ("200 OK", bytes, kind)
            }
            Err(_) => ("404 Not Found", b"not found\n".to_vec(), "text/plain"),
        },
        ("GET", None) => ("404 Not Found", b"not found\n".to_vec(), "text/plain"),
        _ => (
            "405 Method Not Allowed",
            b"GET only\n".to_vec(),
            "text/plain",
        ),
    };
    requests
        .lock()
        .expect("request log")
        .push(format!("{} {path}", &status[..3]));
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if tls.write_all(response.as_bytes()).is_ok() && tls.write_all(&body).is_ok() {
        let _ = tls.flush();
        tls.conn.send_close_notify();
        let _ = tls.flush();
    }
}

/// The file a request path names under `root`, if it is a plain relative path to an existing file.
fn file_under(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path.strip_prefix('/')?);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let file = root.join(relative);
    file.is_file().then_some(file)
}
