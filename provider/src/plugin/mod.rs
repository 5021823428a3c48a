//! The go-plugin side of a Terraform provider: handshake, mTLS, and the helper services
//! (`GRPCController`, `GRPCStdio`, health) around `tfplugin6.Provider`.

pub mod tls;

use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};

use crate::proto::plugin as pb;
use crate::proto::tfplugin6::provider_server::ProviderServer;
use crate::server::JitProvider;

/// go-plugin's magic cookie for Terraform providers.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const CORE_PROTOCOL_VERSION: u32 = 1;
const APP_PROTOCOL_VERSION: u32 = 6;

/// What the environment Terraform gave us says about how to serve.
#[derive(Debug)]
pub struct Handshake {
    pub port_range: Option<(u16, u16)>,
    /// The client certificate to pin; `None` means plaintext (`TF_DISABLE_PLUGIN_TLS`).
    pub client_cert_pem: Option<String>,
}

impl Handshake {
    /// Reads and checks the variables go-plugin sets. The error is for a human who ran the
    /// binary by hand.
    pub fn from_env() -> Result<Handshake, String> {
        if std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
            return Err(format!(
                "terraform-provider-jit is a Terraform provider plugin: Terraform starts it, you don't.\n\
                 Declare it in your configuration and run terraform:\n\n  \
                 terraform {{\n    required_providers {{\n      jit = {{ source = \"jit-access/jit\" }}\n    }}\n  }}\n\n\
                 (The variable {MAGIC_COOKIE_KEY} that Terraform sets is missing or wrong.)"
            ));
        }
        if let Ok(versions) = std::env::var("PLUGIN_PROTOCOL_VERSIONS")
            && !versions
                .split(',')
                .any(|v| v.trim() == APP_PROTOCOL_VERSION.to_string())
        {
            return Err(format!(
                "Terraform offers plugin protocol versions {versions}, but this provider speaks only version {APP_PROTOCOL_VERSION}; use Terraform 1.0 or later"
            ));
        }
        let port = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u16>().ok());
        let port_range = match (port("PLUGIN_MIN_PORT"), port("PLUGIN_MAX_PORT")) {
            (Some(lo), Some(hi)) if lo <= hi => Some((lo, hi)),
            _ => None,
        };
        let tls_disabled = std::env::var("TF_DISABLE_PLUGIN_TLS").is_ok_and(|v| !v.is_empty());
        let client_cert_pem = if tls_disabled {
            None
        } else {
            Some(std::env::var("PLUGIN_CLIENT_CERT").map_err(|_| {
                "PLUGIN_CLIENT_CERT is not set, and TF_DISABLE_PLUGIN_TLS is not set either: refusing to serve without mutual TLS".to_string()
            })?)
        };
        Ok(Handshake {
            port_range,
            client_cert_pem,
        })
    }
}

/// Binds 127.0.0.1 on the first free port in the range (any port without one).
async fn bind(range: Option<(u16, u16)>) -> std::io::Result<TcpListener> {
    let Some((lo, hi)) = range else {
        return TcpListener::bind(("127.0.0.1", 0)).await;
    };
    let mut last = None;
    for port in lo..=hi {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("empty port range")))
}

/// A TLS connection that tonic can serve.
struct TlsConn(tokio_rustls::server::TlsStream<TcpStream>);

impl Connected for TlsConn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// `plugin.GRPCController`: Terraform asks us to exit.
struct Controller(mpsc::Sender<()>);

#[tonic::async_trait]
impl pb::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        let _ = self.0.try_send(());
        Ok(Response::new(pb::Empty {}))
    }
}

/// `plugin.GRPCStdio`: we never write to stdout/stderr through it (logs go to stderr,
/// which go-plugin already collects), so the stream ends at once.
struct Stdio;

#[tonic::async_trait]
impl pb::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = tokio_stream::Empty<Result<pb::StdioData, Status>>;

    async fn stream_stdio(
        &self,
        _: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(tokio_stream::empty()))
    }
}

/// Serves the provider until Terraform calls `GRPCController.Shutdown`.
pub async fn serve(provider: JitProvider, handshake: Handshake) -> Result<(), String> {
    let listener = bind(handshake.port_range)
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (shutdown_tx, mut shutdown_rx) = mpsc::channel::<()>(1);

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;

    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(pb::grpc_controller_server::GrpcControllerServer::new(
            Controller(shutdown_tx),
        ))
        .add_service(pb::grpc_stdio_server::GrpcStdioServer::new(Stdio))
        .add_service(ProviderServer::new(provider));
    let shutdown = async move {
        shutdown_rx.recv().await;
    };

    let mut line = format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|tcp|{addr}|grpc");
    match handshake.client_cert_pem {
        None => {
            announce(&line);
            router
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                    shutdown,
                )
                .await
                .map_err(|e| e.to_string())
        }
        Some(pem) => {
            let tls = tls::server_tls(tls::parse_client_cert(&pem)?)?;
            let cert = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&tls.cert_der);
            line.push('|');
            line.push_str(&cert);
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config);
            let (tx, rx) = mpsc::channel::<std::io::Result<TlsConn>>(16);
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        break;
                    };
                    // Without it every small gRPC reply waits ~40 ms on Nagle + delayed ACK,
                    // which dominates a plan of many resources.
                    let _ = tcp.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        match acceptor.accept(tcp).await {
                            Ok(stream) => {
                                let _ = tx.send(Ok(TlsConn(stream))).await;
                            }
                            // A peer without the pinned certificate never reaches the provider.
                            Err(e) => tracing::warn!("rejected plugin connection: {e}"),
                        }
                    });
                }
            });
            announce(&line);
            router
                .serve_with_incoming_shutdown(ReceiverStream::new(rx), shutdown)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

fn announce(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // go-plugin reads exactly one line from stdout.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
