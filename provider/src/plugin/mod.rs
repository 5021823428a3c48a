//! The go-plugin side of a Terraform provider: handshake, mTLS, and the helper services
//! (`GRPCController`, `GRPCStdio`, health) around `tfplugin6.Provider`.

pub mod tls;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};

use crate::proto::plugin as pb;
use crate::proto::tfplugin6::provider_server::{Provider, ProviderServer};
use crate::server::{Applies, JitProvider};

/// go-plugin's magic cookie for Terraform providers.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const CORE_PROTOCOL_VERSION: u32 = 1;
const APP_PROTOCOL_VERSION: u32 = 6;
/// How often the plugin checks that Terraform, its parent, is still there.
#[cfg(unix)]
const PARENT_POLL: Duration = Duration::from_secs(1);
/// How long applies still running at shutdown may take to finish (entry, then tag).
const APPLY_DRAIN: Duration = Duration::from_secs(30);

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

/// The plugin's listening socket. On Unix a Unix-domain socket, as go-plugin's own servers use:
/// it costs the kernel less per message than loopback TCP, and a plan sends ~4 RPCs per resource.
/// Elsewhere loopback TCP within `PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT`.
#[cfg(unix)]
mod listener {
    use std::path::{Path, PathBuf};

    use tokio::net::{UnixListener, UnixStream};

    pub type Stream = UnixStream;

    /// A Unix socket in a fresh directory only this user can enter; both are removed on drop.
    pub struct Listener {
        inner: UnixListener,
        dir: PathBuf,
        path: PathBuf,
    }

    impl Listener {
        /// Listens in `PLUGIN_UNIX_SOCKET_DIR` (go-plugin's variable) or the temp directory.
        pub fn bind(_port_range: Option<(u16, u16)>) -> std::io::Result<Listener> {
            let base = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            let dir = private_dir(&base)?;
            let path = dir.join("plugin.sock");
            match UnixListener::bind(&path) {
                Ok(inner) => Ok(Listener { inner, dir, path }),
                Err(e) => {
                    let _ = std::fs::remove_dir(&dir);
                    Err(std::io::Error::new(
                        e.kind(),
                        format!("cannot listen on {}: {e}", path.display()),
                    ))
                }
            }
        }

        /// The address part of the handshake line.
        pub fn announce(&self) -> String {
            format!("unix|{}", self.path.display())
        }

        pub async fn accept(&self) -> std::io::Result<Stream> {
            self.inner.accept().await.map(|(stream, _)| stream)
        }
    }

    impl Drop for Listener {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_dir(&self.dir);
        }
    }

    /// Creates `base/jit-plugin-<pid>-<n>` with mode 0700, trying the next name while one exists.
    fn private_dir(base: &Path) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::DirBuilderExt;
        let pid = std::process::id();
        let mut last = None;
        for n in 0..100 {
            let dir = base.join(format!("jit-plugin-{pid}-{n}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!(
                            "cannot create a socket directory in {}: {e}",
                            base.display()
                        ),
                    ));
                }
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free socket directory name")))
    }
}

#[cfg(not(unix))]
mod listener {
    use tokio::net::{TcpListener, TcpStream};

    pub type Stream = TcpStream;

    pub struct Listener(TcpListener);

    impl Listener {
        /// Binds 127.0.0.1 on the first free port in the range (any port without one).
        pub fn bind(range: Option<(u16, u16)>) -> std::io::Result<Listener> {
            let bind = |port: u16| {
                let l = std::net::TcpListener::bind(("127.0.0.1", port))?;
                l.set_nonblocking(true)?;
                TcpListener::from_std(l).map(Listener)
            };
            let Some((lo, hi)) = range else {
                return bind(0);
            };
            let mut last = None;
            for port in lo..=hi {
                match bind(port) {
                    Ok(l) => return Ok(l),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| std::io::Error::other("empty port range")))
        }

        pub fn announce(&self) -> String {
            match self.0.local_addr() {
                Ok(addr) => format!("tcp|{addr}"),
                Err(_) => "tcp|127.0.0.1:0".into(),
            }
        }

        pub async fn accept(&self) -> std::io::Result<Stream> {
            let (stream, _) = self.0.accept().await?;
            // Without it every small gRPC reply waits ~40 ms on Nagle + delayed ACK.
            stream.set_nodelay(true)?;
            Ok(stream)
        }
    }
}

/// One accepted plugin connection that tonic can serve: TLS, or plain under `TF_DISABLE_PLUGIN_TLS`.
enum Conn {
    Tls(Box<tokio_rustls::server::TlsStream<listener::Stream>>),
    Plain(listener::Stream),
}

impl Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
        }
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

/// Serves the provider until Terraform calls `GRPCController.Shutdown`, sends SIGTERM, or goes
/// away (killed, it can do neither). Applies still running then are given [`APPLY_DRAIN`] to
/// finish before the process exits.
pub async fn serve(provider: JitProvider, handshake: Handshake) -> Result<(), String> {
    let applies = provider.applies();
    serve_provider(provider, Some(applies), handshake).await
}

/// Serves any `tfplugin6.Provider` as [`serve`] serves jit's: the same handshake, mTLS, helper
/// services and shutdown, waiting for `applies` (if any) before returning. The end-to-end tests'
/// stand-in for `hashicorp/aws` (`tests/src/bin/stand-in-aws-provider.rs`) is served this way.
pub async fn serve_provider<P: Provider>(
    provider: P,
    applies: Option<Applies>,
    handshake: Handshake,
) -> Result<(), String> {
    let listener = listener::Listener::bind(handshake.port_range).map_err(|e| e.to_string())?;
    let (shutdown_tx, mut shutdown_rx) = mpsc::channel::<()>(1);
    let signals = shutdown_signals(shutdown_tx.clone()).map_err(|e| e.to_string())?;
    let parent = parent_watch(shutdown_tx.clone());

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

    let mut line = format!(
        "{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|{}|grpc",
        listener.announce()
    );
    let acceptor = match handshake.client_cert_pem {
        None => None,
        Some(pem) => {
            let tls = tls::server_tls(tls::parse_client_cert(&pem)?)?;
            line.push('|');
            line.push_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(&tls.cert_der));
            Some(tokio_rustls::TlsAcceptor::from(tls.config))
        }
    };
    let listener = std::sync::Arc::new(listener);
    let (tx, rx) = mpsc::channel::<std::io::Result<Conn>>(16);
    let accepting = tokio::spawn({
        let listener = listener.clone();
        async move {
            while let Ok(stream) = listener.accept().await {
                let Some(acceptor) = acceptor.clone() else {
                    if tx.send(Ok(Conn::Plain(stream))).await.is_err() {
                        break;
                    }
                    continue;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    match acceptor.accept(stream).await {
                        Ok(tls) => {
                            let _ = tx.send(Ok(Conn::Tls(Box::new(tls)))).await;
                        }
                        // A peer without the pinned certificate never reaches the provider.
                        Err(e) => tracing::warn!("rejected plugin connection: {e}"),
                    }
                });
            }
        }
    });
    announce(&line);
    let served = router
        .serve_with_incoming_shutdown(ReceiverStream::new(rx), shutdown)
        .await
        .map_err(|e| e.to_string());
    accepting.abort();
    signals.abort();
    parent.abort();
    // The accept task held the other reference; dropping the last one removes the socket.
    let _ = accepting.await;
    drop(listener);
    if let Some(applies) = applies
        && !applies.drained(APPLY_DRAIN).await
    {
        tracing::error!(
            "an apply was still running {} s after shutdown began; exiting without it",
            APPLY_DRAIN.as_secs()
        );
    }
    served
}

/// Asks for shutdown once the parent process (Terraform) has gone: a killed Terraform can
/// neither call Shutdown nor send SIGTERM, and the plugin would outlive it, its socket too.
/// Polling the parent id works from any thread and needs nothing but std, unlike
/// `PR_SET_PDEATHSIG` (tied to the thread that set it). A plugin started by init keeps running
/// until told otherwise, as before.
#[cfg(unix)]
fn parent_watch(shutdown: mpsc::Sender<()>) -> tokio::task::JoinHandle<()> {
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(PARENT_POLL);
        loop {
            poll.tick().await;
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!("the parent process {parent} (Terraform) is gone: shutting down");
                let _ = shutdown.try_send(());
                return;
            }
        }
    })
}

/// Elsewhere there is no parent id in std; Terraform's Shutdown and the process kill remain.
#[cfg(not(unix))]
fn parent_watch(_: mpsc::Sender<()>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(std::future::pending())
}

/// Ctrl-C reaches every process in the terminal's process group, the provider too. Terraform
/// handles it (StopProvider, then a graceful end), so the provider ignores SIGINT as go-plugin's
/// servers do: dying here would cut an apply off mid-write. SIGTERM shuts down cleanly, so the
/// socket is removed.
#[cfg(unix)]
fn shutdown_signals(shutdown: mpsc::Sender<()>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = interrupt.recv() => tracing::debug!("SIGINT ignored: Terraform stops the provider"),
                _ = terminate.recv() => {
                    let _ = shutdown.try_send(());
                    return;
                }
            }
        }
    }))
}

#[cfg(not(unix))]
fn shutdown_signals(_: mpsc::Sender<()>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    // Ctrl-C is Terraform's to handle, as on Unix.
    Ok(tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {}
    }))
}

fn announce(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // go-plugin reads exactly one line from stdout.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
