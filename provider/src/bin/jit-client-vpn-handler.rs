//! `jit-client-vpn-handler`: the Client VPN client-connect handler as an AWS Lambda function
//! (runtime `provided.al2023`, the binary deployed as `bootstrap`, the function named
//! `AWSClientVPN-…`). It admits a connection only while a `jit_client_vpn_grant` covers it; see
//! `jit_provider::connect_handler` for the decision and `examples/client-vpn/` for the wiring.
//!
//! Configuration: `JIT_ALWAYS_ALLOW_CIDRS` (standing ranges, comma-separated),
//! `JIT_NOTIFY_TOPIC_ARN` (an SNS topic for one message per decision), `JIT_HANDLER_DEADLINE_MS`
//! (the internal deadline, default 5000, below AWS's 30 s; for slow test machines), `JITCTL_LOG`
//! (default `info`). Logs are JSON lines for CloudWatch.

use std::sync::Arc;

use async_trait::async_trait;
use jit_provider::aws::client_vpn::{ClientVpns, SdkClientVpn};
use jit_provider::aws::{Connection, LazyClients};
use jit_provider::clock;
use jit_provider::connect_handler::{
    ALWAYS_ALLOW_ENV, DEADLINE_ENV, Handler, NOTIFY_TOPIC_ENV, Notifier, parse_deadline,
    parse_standing,
};
use jit_provider::ctl;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

/// Publishes decisions to an SNS topic.
struct Sns {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

#[async_trait]
impl Notifier for Sns {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), String> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sns::error::DisplayErrorContext(&e).to_string())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    ctl::init_logging(true, tracing::level_filters::LevelFilter::INFO);
    let clock = clock::from_env()?;
    // Validated once per cold start; an invalid value refuses every connection, loudly.
    let standing = parse_standing(&std::env::var(ALWAYS_ALLOW_ENV).unwrap_or_default());
    if let Err(e) = &standing {
        tracing::error!("{e}: every connection will be refused until it is fixed");
    }
    // Not UTF-8 becomes replacement characters, which parse_deadline refuses like any nonsense.
    let deadline = parse_deadline(
        std::env::var_os(DEADLINE_ENV)
            .map(|v| v.to_string_lossy().into_owned())
            .as_deref(),
    );
    if let Err(e) = &deadline {
        tracing::error!("{e}: every connection will be refused until it is fixed");
    }
    let connection = Connection::default();
    let shared = connection.shared_config().await;
    let clients = LazyClients::ready(connection.clients_from(&shared));
    let notifier: Option<Arc<dyn Notifier>> = std::env::var(NOTIFY_TOPIC_ENV)
        .ok()
        .filter(|arn| !arn.trim().is_empty())
        .map(|topic_arn| {
            // One attempt: the decision never waits for a retry of its notification.
            let config = aws_sdk_sns::config::Builder::from(&shared)
                .retry_config(
                    aws_sdk_sns::config::retry::RetryConfig::standard().with_max_attempts(1),
                )
                .build();
            Arc::new(Sns {
                client: aws_sdk_sns::Client::from_conf(config),
                topic_arn,
            }) as Arc<dyn Notifier>
        });
    let handler = Arc::new(Handler {
        vpns: ClientVpns::new(Arc::new(SdkClientVpn(clients))),
        clock,
        standing,
        notifier,
        deadline,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move { Ok::<Value, Error>(handler.handle(&event.payload).await) }
    }))
    .await
}
