//! AWS access: client construction from the provider configuration, request accounting, and
//! the narrow APIs that resources and `jitctl` use (behind traits, so unit tests use fakes).

pub mod coalesce;
pub mod iam;
pub mod nacl;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

/// Where and as whom to reach AWS. Everything optional: the standard credential chain,
/// profiles (SSO, `credential_process`) and `AWS_ENDPOINT_URL` work as usual.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Connection {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub ec2_endpoint: Option<String>,
    pub iam_endpoint: Option<String>,
}

/// Clients for the services jit uses.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
}

impl Connection {
    /// Builds the clients. Credentials are resolved lazily, at the first request.
    pub async fn clients(&self) -> Clients {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        let shared = loader.load().await;
        let mut ec2 = aws_sdk_ec2::config::Builder::from(&shared).interceptor(RequestLogger);
        if let Some(url) = &self.ec2_endpoint {
            ec2 = ec2.endpoint_url(url);
        }
        let mut iam = aws_sdk_iam::config::Builder::from(&shared).interceptor(RequestLogger);
        if let Some(url) = &self.iam_endpoint {
            iam = iam.endpoint_url(url);
        }
        Clients {
            ec2: aws_sdk_ec2::Client::from_conf(ec2.build()),
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
        }
    }
}

/// Clients that may still be under construction. Loading the shared configuration and the
/// TLS trust roots takes milliseconds, and `ConfigureProvider` sits on Terraform's critical path
/// (no resource is read before it returns), so the provider builds its clients in the
/// background and the first AWS call waits for them.
#[derive(Clone)]
pub struct LazyClients(Shared<BoxFuture<'static, Clients>>);

impl LazyClients {
    /// Starts building the clients on the current Tokio runtime.
    pub fn start(connection: Connection) -> LazyClients {
        let shared = async move { connection.clients().await }.boxed().shared();
        tokio::spawn(shared.clone());
        LazyClients(shared)
    }

    /// Clients that are already built.
    pub fn ready(clients: Clients) -> LazyClients {
        LazyClients(futures::future::ready(clients).boxed().shared())
    }

    pub async fn ec2(&self) -> aws_sdk_ec2::Client {
        self.0.clone().await.ec2
    }

    pub async fn iam(&self) -> aws_sdk_iam::Client {
        self.0.clone().await.iam
    }
}

static PROCESS_REQUESTS: AtomicU64 = AtomicU64::new(0);

tokio::task_local! {
    /// Requests made by the operation running in this task, by `service:Operation`.
    static OPERATION_REQUESTS: RefCell<BTreeMap<String, u32>>;
}

/// Logs every AWS request (operation name only: never headers, bodies or credentials) and
/// counts it for the running operation's summary.
#[derive(Debug)]
struct RequestLogger;

impl Intercept for RequestLogger {
    fn name(&self) -> &'static str {
        "jit-request-logger"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map(|m| format!("{}:{}", m.service(), m.name()))
            .unwrap_or_else(|| "unknown".into());
        let total = PROCESS_REQUESTS.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(aws_request = %op, process_total = total, "AWS request {op}");
        let _ = OPERATION_REQUESTS.try_with(|m| *m.borrow_mut().entry(op).or_default() += 1);
        Ok(())
    }
}

/// Runs one provider operation, then logs a one-line summary of the AWS requests it made.
pub async fn accounted<F: Future>(operation: &str, work: F) -> F::Output {
    OPERATION_REQUESTS
        .scope(RefCell::new(BTreeMap::new()), async {
            let out = work.await;
            let summary = OPERATION_REQUESTS.with(|m| {
                let m = m.borrow();
                let total: u32 = m.values().sum();
                let detail: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (total, detail.join(" "))
            });
            tracing::debug!(
                operation,
                aws_requests = summary.0,
                "{operation}: {} AWS request(s) {}",
                summary.0,
                summary.1
            );
            out
        })
        .await
}

/// AWS requests made by this process so far.
pub fn process_requests() -> u64 {
    PROCESS_REQUESTS.load(Ordering::Relaxed)
}
