//! `jitctl-lambda`: `jitctl sweep` as an AWS Lambda function (runtime `provided.al2023`, the
//! binary deployed as `bootstrap`), triggered by an EventBridge schedule. See
//! `examples/sweeper/` for the schedule, the role and its least-privilege policy.
//!
//! Configuration: `JITCTL_REGIONS` (comma-separated; default the function's region),
//! `JITCTL_LOG` (default `info`). Logs are JSON lines for CloudWatch.

use std::sync::Arc;

use jit_provider::clock;
use jit_provider::ctl::{self, lambda};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    ctl::init_logging(true, tracing::level_filters::LevelFilter::INFO);
    let clock = clock::from_env()?;
    // Clients are built once per cold start and reused by every invocation.
    let targets = Arc::new(ctl::connect(&lambda::connect_options_from_env()).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let targets = Arc::clone(&targets);
        let now = clock.now();
        async move { lambda::handle(&event.payload, &targets, now).await }
    }))
    .await
}
