//! AWS access: client construction from the provider configuration, request accounting, and
//! the narrow APIs that resources and `jitctl` use (behind traits, so unit tests use fakes).

pub mod client_vpn;
pub mod coalesce;
pub mod iam;
pub mod nacl;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use aws_sdk_iam::config::retry::{RetryConfig, RetryPartition, TokenBucket};
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
        let shared = self.shared_config().await;
        self.clients_from(&shared)
    }

    /// The shared configuration (region, credentials chain, `AWS_ENDPOINT_URL`) every client of
    /// this connection is built from.
    pub async fn shared_config(&self) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        loader.load().await
    }

    /// The EC2 and IAM clients over `shared`, with jit's retries and request logging.
    pub fn clients_from(&self, shared: &aws_config::SdkConfig) -> Clients {
        let retry = retry_config(std::env::var("AWS_MAX_ATTEMPTS").ok().as_deref());
        let mut ec2 = aws_sdk_ec2::config::Builder::from(shared)
            .interceptor(RequestLogger)
            .retry_config(retry.clone())
            .retry_partition(retry_partition("jit-ec2"));
        if let Some(url) = &self.ec2_endpoint {
            ec2 = ec2.endpoint_url(url);
        }
        let mut iam = aws_sdk_iam::config::Builder::from(shared)
            .interceptor(RequestLogger)
            .retry_config(retry)
            .retry_partition(retry_partition("jit-iam"));
        if let Some(url) = &self.iam_endpoint {
            iam = iam.endpoint_url(url);
        }
        Clients {
            ec2: aws_sdk_ec2::Client::from_conf(ec2.build()),
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
        }
    }
}

/// Attempts per AWS request (the first and up to seven retries).
pub const MAX_ATTEMPTS: u32 = 8;
/// The first retry waits up to this long; each further one up to twice as long as the last.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// No retry waits longer than this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How the SDK retries: explicitly, not by its defaults (3 attempts), so that a throttled
/// refresh completes.
///
/// Standard mode: throttling (`Throttling`, HTTP 429), 5xx answers and transport failures are
/// retried with full-jitter exponential backoff, each wait drawn from `0..min(0.5 s × 2ⁿ, 5 s)`.
/// With 8 attempts a request rides out about 20 s of sustained throttling (the waits' caps
/// sum to 0.5 + 1 + 2 + 4 + 5 + 5 + 5 = 22.5 s), yet a refresh of 200 grants at Terraform's
/// default parallelism of 10 keeps at most 10 requests waiting at once, each for at most 5 s, so
/// retries cannot pile up into a storm. IAM's request rate limit is per account and shared with
/// every other tool, so throttling is what a refresh of many `jit_source_ip_policy` resources
/// (two reads each) meets first.
///
/// `AWS_MAX_ATTEMPTS`, when set to a positive number, replaces the 8 (as it does for every AWS
/// SDK): tests set it to 1 to see an endpoint's first error, and an operator may raise it.
///
/// Retried writes are safe: every write jit makes is idempotent or recovered when its response
/// is lost (see `iam::Policies::publish`, the policy resource's `create`, and the network-ACL
/// writes, which create never replace).
pub fn retry_config(max_attempts_env: Option<&str>) -> RetryConfig {
    let attempts = max_attempts_env
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(MAX_ATTEMPTS);
    RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// How jit itself repeats the one write the SDK must not repeat on its own,
/// `DeleteNetworkAclEntry` ([`nacl::NaclApi::delete_entry`]): as many attempts and the same
/// full-jitter backoff as [`retry_config`], but each repeat decided on a fresh read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    pub attempts: u32,
    pub initial: Duration,
    pub max: Duration,
}

impl Repeat {
    /// As many attempts as the SDK's, without waiting: for tests over fakes.
    #[cfg(test)]
    pub const IMMEDIATE: Repeat = Repeat {
        attempts: MAX_ATTEMPTS,
        initial: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// The SDK's attempts and backoff, with `AWS_MAX_ATTEMPTS` from the environment.
    pub fn from_env() -> Repeat {
        Repeat::like_the_sdk(std::env::var("AWS_MAX_ATTEMPTS").ok().as_deref())
    }

    /// The SDK's attempts (`AWS_MAX_ATTEMPTS` as given) and backoff.
    pub fn like_the_sdk(max_attempts_env: Option<&str>) -> Repeat {
        Repeat {
            attempts: retry_config(max_attempts_env).max_attempts(),
            initial: INITIAL_BACKOFF,
            max: MAX_BACKOFF,
        }
    }

    /// The wait before repeat `n` (1 for the first): drawn from `0..min(initial × 2ⁿ⁻¹, max)`.
    pub fn wait(&self, n: u32) -> Duration {
        let cap = self
            .initial
            .saturating_mul(1u32 << n.saturating_sub(1).min(16))
            .min(self.max);
        let mut bytes = [0u8; 4];
        let fraction = match getrandom::fill(&mut bytes) {
            Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        cap.mul_f64(fraction)
    }
}

/// The retry budget of one service's client. The SDK's default token bucket (500 tokens, 5 per
/// retry, never returned for a retry that fails again) lets about 100 retries through and then
/// fails requests outright: a refresh of 200 grants under throttling would spend it and fail
/// half-way. Retries are bounded per request (`MAX_ATTEMPTS`) and requests by Terraform's
/// parallelism, so the bucket is made unlimited instead.
fn retry_partition(name: &'static str) -> RetryPartition {
    RetryPartition::custom(name)
        .token_bucket(TokenBucket::unlimited())
        .build()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_explicit_and_aws_max_attempts_overrides_the_count() {
        let ours = retry_config(None);
        assert_eq!(ours.mode(), aws_sdk_iam::config::retry::RetryMode::Standard);
        assert_eq!(ours.max_attempts(), MAX_ATTEMPTS);
        assert_eq!(ours.initial_backoff(), INITIAL_BACKOFF);
        assert_eq!(ours.max_backoff(), MAX_BACKOFF);
        assert_eq!(retry_config(Some("1")).max_attempts(), 1);
        assert_eq!(retry_config(Some(" 12 ")).max_attempts(), 12);
        for ignored in ["0", "-3", "many", ""] {
            assert_eq!(
                retry_config(Some(ignored)).max_attempts(),
                MAX_ATTEMPTS,
                "{ignored:?}"
            );
        }
    }

    #[test]
    fn jit_repeats_a_delete_as_the_sdk_retries() {
        let r = Repeat::like_the_sdk(None);
        assert_eq!(r.attempts, MAX_ATTEMPTS);
        assert_eq!(Repeat::like_the_sdk(Some("1")).attempts, 1);
        for n in 1..=12 {
            let cap = (INITIAL_BACKOFF * 2u32.pow(n.min(16) - 1)).min(MAX_BACKOFF);
            assert!(r.wait(n) <= cap, "repeat {n}: {:?} > {cap:?}", r.wait(n));
        }
        // Full jitter: not the same wait every time.
        let waits: std::collections::BTreeSet<Duration> = (0..20).map(|_| r.wait(3)).collect();
        assert!(waits.len() > 1, "{waits:?}");
    }
}
