//! The go-plugin handshake as Terraform performs it, against the real binary: the cookie, the
//! stdout line, mutual TLS pinned to `PLUGIN_CLIENT_CERT`, health, StopProvider (which must not
//! kill the server) and GRPCController.Shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
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
    addr: String,
    server_cert: Vec<u8>,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(client_pem: &str) -> Plugin {
    let mut child = Command::new(BIN)
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_MIN_PORT", "0")
        .env("PLUGIN_MAX_PORT", "0")
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
    assert_eq!(&parts[..3], ["1", "6", "tcp"]);
    assert!(parts[3].starts_with("127.0.0.1:"));
    assert_eq!(parts[4], "grpc");
    // go-plugin only reads a certificate longer than 50 characters, unpadded standard base64.
    assert!(parts[5].len() > 50 && !parts[5].ends_with('='));
    let server_cert = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(parts[5])
        .unwrap();
    Plugin {
        child,
        addr: parts[3].to_string(),
        server_cert,
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
    let addr = plugin.addr.clone();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            let addr = addr.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let tls = connector
                    .connect(ServerName::try_from("localhost").unwrap(), tcp)
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
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if let Some(status) = plugin.child.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "provider still running 2 s after Shutdown"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
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
