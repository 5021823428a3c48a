//! The go-plugin handshake as Terraform performs it, against the real binary: the cookie, the
//! stdout line, mutual TLS pinned to `PLUGIN_CLIENT_CERT`, health, StopProvider (which must not
//! kill the server) and GRPCController.Shutdown.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use hyper_util::rt::TokioIo;
use jit_provider::plugin::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use jit_provider::proto::plugin::grpc_controller_client::GrpcControllerClient;
use jit_provider::proto::tfplugin6::provider_client::ProviderClient;
use jit_provider::proto::tfplugin6::{get_metadata, get_provider_schema, stop_provider};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use tonic::transport::{Channel, Endpoint, Uri};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-jit");

/// A client identity like go-plugin's: a self-signed P-521 CA certificate.
struct Identity {
    pem: String,
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

fn identity() -> Identity {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    Identity {
        pem: cert.pem(),
        cert: cert.der().clone(),
        key: key.serialize_der(),
    }
}

/// Trusts exactly the server certificate announced on the handshake line.
#[derive(Debug)]
struct PinnedServer(Vec<u8>);

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        assert_eq!(
            end_entity.as_ref(),
            self.0.as_slice(),
            "server presented another certificate"
        );
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let p = jit_provider::plugin::tls::crypto_provider();
        rustls::crypto::verify_tls12_signature(m, c, d, &p.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let p = jit_provider::plugin::tls::crypto_provider();
        rustls::crypto::verify_tls13_signature(m, c, d, &p.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        jit_provider::plugin::tls::crypto_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

struct Plugin {
    child: Child,
    socket: PathBuf,
    server_cert: Vec<u8>,
    /// The socket directory's parent (`PLUGIN_UNIX_SOCKET_DIR`), private to this test.
    _base: TempDir,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(client_pem: &str) -> Plugin {
    let base = TempDir::new();
    let mut child = Command::new(BIN)
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_UNIX_SOCKET_DIR", &base.0)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_CLIENT_CERT", client_pem)
        .env_remove("TF_DISABLE_PLUGIN_TLS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let parts: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(parts.len(), 6, "handshake line: {line:?}");
    assert_eq!(&parts[..3], ["1", "6", "unix"]);
    let socket = PathBuf::from(parts[3]);
    assert!(
        socket.starts_with(&base.0),
        "socket {socket:?} outside PLUGIN_UNIX_SOCKET_DIR"
    );
    // Only the user running Terraform may reach the socket.
    let dir_mode = std::fs::metadata(socket.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o077, 0, "socket directory mode {dir_mode:o}");
    assert_eq!(parts[4], "grpc");
    // go-plugin only reads a certificate longer than 50 characters, unpadded standard base64.
    assert!(parts[5].len() > 50 && !parts[5].ends_with('='));
    let server_cert = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(parts[5])
        .unwrap();
    Plugin {
        child,
        socket,
        server_cert,
        _base: base,
    }
}

async fn connect(plugin: &Plugin, who: &Identity) -> Result<Channel, tonic::transport::Error> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        jit_provider::plugin::tls::crypto_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(PinnedServer(plugin.server_cert.clone())))
    .with_client_auth_cert(
        vec![who.cert.clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(who.key.clone())),
    )
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let socket = plugin.socket.clone();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                let tls = connector
                    .connect(ServerName::try_from("localhost").unwrap(), stream)
                    .await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
}

#[tokio::test]
async fn mtls_accepts_only_the_pinned_client_and_the_server_survives_stop() {
    let terraform = identity();
    let intruder = identity();
    let mut plugin = start(&terraform.pem);

    // A client with any other certificate never reaches the provider.
    let rejected = match connect(&plugin, &intruder).await {
        Err(_) => true,
        Ok(ch) => ProviderClient::new(ch)
            .get_metadata(get_metadata::Request {})
            .await
            .is_err(),
    };
    assert!(
        rejected,
        "a client without the pinned certificate was served"
    );

    let channel = connect(&plugin, &terraform).await.unwrap();
    let mut provider = ProviderClient::new(channel.clone());
    let schema = provider
        .get_provider_schema(get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.resource_schemas.contains_key("jit_access_rule"));

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // StopProvider cancels in-flight work but the server keeps serving.
    provider
        .stop_provider(stop_provider::Request {})
        .await
        .unwrap();
    provider
        .get_metadata(get_metadata::Request {})
        .await
        .unwrap();

    // GRPCController.Shutdown ends the process (Terraform kills it 2 s later otherwise).
    GrpcControllerClient::new(channel)
        .shutdown(jit_provider::proto::plugin::Empty {})
        .await
        .unwrap();
    let status = wait_exit(&mut plugin, "Shutdown").await;
    assert!(status.success());
    assert_no_socket_left(&plugin);
}

/// Waits up to 2 s (Terraform's grace period before it kills a plugin) for the process to end.
async fn wait_exit(plugin: &mut Plugin, after: &str) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if let Some(status) = plugin.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "provider still running 2 s after {after}"
        );
        // Not a blocking sleep: this runtime drives the client side of the graceful shutdown.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_no_socket_left(plugin: &Plugin) {
    let left: Vec<_> = std::fs::read_dir(&plugin._base.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn signal(plugin: &Plugin, name: &str) {
    let ok = Command::new("kill")
        .args([format!("-{name}"), plugin.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} failed");
}

/// Ctrl-C in a terminal reaches the provider too; Terraform handles it with StopProvider, so the
/// provider must survive SIGINT (else an apply is cut off mid-write). SIGTERM ends it cleanly.
#[tokio::test]
async fn sigint_is_ignored_and_sigterm_removes_the_socket() {
    let terraform = identity();
    let mut plugin = start(&terraform.pem);
    signal(&plugin, "INT");
    let mut provider = ProviderClient::new(connect(&plugin, &terraform).await.unwrap());
    provider
        .get_metadata(get_metadata::Request {})
        .await
        .expect("the provider must survive SIGINT");
    assert!(plugin.child.try_wait().unwrap().is_none());

    signal(&plugin, "TERM");
    let status = wait_exit(&mut plugin, "SIGTERM").await;
    assert!(status.success(), "{status:?}");
    assert_no_socket_left(&plugin);
}

/// Terraform killed (SIGKILL, OOM) can neither call Shutdown nor send SIGTERM; the provider once
/// outlived it indefinitely, socket and all. Started from a parent that exits after a second, it
/// must be gone, with its socket directory, a few seconds later.
#[test]
fn provider_exits_and_removes_its_socket_when_its_parent_dies() {
    let terraform = identity();
    let base = TempDir::new();
    // The shell stands in for Terraform: it starts the provider, says its pid, and dies.
    let mut parent = Command::new("sh")
        .args(["-c", "\"$0\" 2>/dev/null & echo $! >&2; sleep 1", BIN])
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_UNIX_SOCKET_DIR", &base.0)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .env("PLUGIN_CLIENT_CERT", &terraform.pem)
        .env_remove("TF_DISABLE_PLUGIN_TLS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pid = String::new();
    BufReader::new(parent.stderr.take().unwrap())
        .read_line(&mut pid)
        .unwrap();
    let pid: u32 = pid.trim().parse().unwrap();
    let mut line = String::new();
    BufReader::new(parent.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let socket = PathBuf::from(line.split('|').nth(3).expect("handshake line"));
    assert!(socket.exists(), "{socket:?}");
    assert!(parent.wait().unwrap().success());

    let deadline = Instant::now() + Duration::from_secs(5);
    while running(pid) {
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("provider {pid} still running 5 s after its parent exited");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<_> = std::fs::read_dir(&base.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Whether a process that is not our child still runs (a zombie waiting for init has ended).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// A directory under the system temp directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "jit-handshake-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn run_by_hand_it_explains_itself_and_exits_1() {
    let out = Command::new(BIN)
        .env_remove(MAGIC_COOKIE_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Terraform provider plugin"), "{stderr}");
    assert!(stderr.contains("jit-access/jit"), "{stderr}");
}

#[test]
fn without_a_client_certificate_it_refuses_to_serve_in_plaintext() {
    let out = Command::new(BIN)
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env_remove("PLUGIN_CLIENT_CERT")
        .env_remove("TF_DISABLE_PLUGIN_TLS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no handshake line may be printed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("mutual TLS"));
}
