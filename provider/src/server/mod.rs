//! `tfplugin6.Provider`: the RPC dispatch. Each RPC decodes its request (`wire`), hands it to
//! the resource (guarded against panics, cancellable by `StopProvider` except once an apply has
//! started) and encodes the answer.
//!
//! Kept thin on purpose: everything about a resource lives in its own file, everything about
//! values and diagnostics in `tf`, the conversions to and from the protocol in `wire`.

use std::any::Any;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::aws;
use crate::aws::client_vpn::{ClientVpns, SdkClientVpn};
use crate::aws::iam::{Policies, SdkIam};
use crate::aws::nacl::{Nacls, SdkNacl};
use crate::aws::{LazyClients, Repeat};
use crate::clock::Clock;
use crate::config;
use crate::proto::tfplugin6 as pb;
use crate::resource::{ApplyRequest, Env, PlanRequest, Resource};
use crate::resources;

pub mod wire;

use crate::tf::{Diagnostic, Diagnostics, Schema, Value};
use wire::{decode, diags_to_pb, encode, path_to_pb, schema_to_pb};

/// The provider as Terraform sees it.
pub struct JitProvider {
    resources: BTreeMap<&'static str, Arc<dyn Resource>>,
    clock: Arc<dyn Clock>,
    env: RwLock<Option<Arc<Env>>>,
    /// Cancelled by `StopProvider`; replaced afterwards so the server keeps serving.
    stop: Mutex<CancellationToken>,
    applies: Applies,
}

/// The `ApplyResourceChange` calls running. Each runs in a task of its own, so that it finishes
/// even when its RPC goes away: hyper drops the handler of a request whose connection closed
/// (Terraform killed), which would cut a grant off between writing its entry and its tag. The
/// plugin waits for them before it exits.
#[derive(Clone)]
pub struct Applies(Arc<watch::Sender<usize>>);

impl Applies {
    fn new() -> Self {
        Applies(Arc::new(watch::channel(0).0))
    }

    fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        self.0.send_modify(|n| *n += 1);
        let running = Running(self.0.clone());
        tokio::spawn(async move {
            let _running = running;
            work.await
        })
    }

    /// Waits until no apply is running, for at most `limit`; false if one still is.
    pub async fn drained(&self, limit: Duration) -> bool {
        let mut running = self.0.subscribe();
        matches!(
            tokio::time::timeout(limit, running.wait_for(|n| *n == 0)).await,
            Ok(Ok(_))
        )
    }
}

/// Counts one apply as running until dropped (when its task ends, however it ends).
struct Running(Arc<watch::Sender<usize>>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

impl JitProvider {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_resources(
            clock,
            vec![
                Arc::new(resources::access_rule::AccessRule),
                Arc::new(resources::source_ip_policy::SourceIpPolicy),
                Arc::new(resources::client_vpn_grant::ClientVpnGrant),
            ],
        )
    }

    fn with_resources(clock: Arc<dyn Clock>, list: Vec<Arc<dyn Resource>>) -> Self {
        JitProvider {
            resources: list.into_iter().map(|r| (r.type_name(), r)).collect(),
            clock,
            env: RwLock::new(None),
            stop: Mutex::new(CancellationToken::new()),
            applies: Applies::new(),
        }
    }

    /// The applies in flight, for the plugin to wait for before it exits.
    pub fn applies(&self) -> Applies {
        self.applies.clone()
    }

    /// Every resource, for the docs generator.
    pub fn resources(&self) -> impl Iterator<Item = &Arc<dyn Resource>> {
        self.resources.values()
    }

    fn resource(&self, type_name: &str) -> Result<Arc<dyn Resource>, Status> {
        self.resources
            .get(type_name)
            .cloned()
            .ok_or_else(|| Status::invalid_argument(format!("unknown resource type {type_name:?}")))
    }

    fn env(&self) -> Result<Arc<Env>, Diagnostics> {
        self.env.read().expect("env lock").clone().ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "Terraform called the provider before configuring it",
            )
            .into()
        })
    }

    /// Runs `work` unless and until Terraform asks the provider to stop.
    async fn cancellable<T>(
        &self,
        operation: &str,
        work: impl Future<Output = T>,
        on_stop: T,
    ) -> T {
        let token = self.stop.lock().expect("stop lock").clone();
        tokio::select! {
            out = aws::accounted(operation, work) => out,
            () = token.cancelled() => on_stop,
        }
    }
}

/// Runs `work` (one resource's, or the provider block's, part of an RPC), turning a panic in it
/// into an error diagnostic naming the operation and the resource type. Without this a panic
/// ends the connection, Terraform shows only "Request cancelled" for every resource in flight,
/// and the plugin is gone for the rest of the run.
async fn guarded<T>(
    operation: &str,
    type_name: &str,
    work: impl Future<Output = T>,
) -> Result<T, Diagnostics> {
    AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|payload| {
            let message = panic_message(payload.as_ref());
            tracing::error!(type_name, operation, "panic: {message}");
            Diagnostic::error(
                "Internal error in the jit provider",
                format!("internal error in {type_name} {operation}: {message}; please report it"),
            )
            .into()
        })
}

/// The text a panic was raised with (`panic!("...")`, `expect("...")`, index out of bounds...).
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic without a message")
}

fn stopped() -> Diagnostics {
    Diagnostic::error(
        "Stopped",
        "Terraform asked the provider to stop; the operation was cancelled",
    )
    .into()
}

/// A kind of thing a provider may offer and jit has none of: the one place the server's
/// refusals name them.
#[derive(Debug, Clone, Copy)]
struct NoneOffered {
    /// One of them: `"data source"`.
    one: &'static str,
    /// All of them: `"data sources"`.
    all: &'static str,
}

const DATA_SOURCES: NoneOffered = NoneOffered {
    one: "data source",
    all: "data sources",
};
const EPHEMERAL_RESOURCES: NoneOffered = NoneOffered {
    one: "ephemeral resource",
    all: "ephemeral resources",
};
const FUNCTIONS: NoneOffered = NoneOffered {
    one: "function",
    all: "functions",
};

impl NoneOffered {
    /// A request naming one of them by type: an unknown type, as for a resource type.
    fn named(self, type_name: &str) -> Status {
        Status::invalid_argument(format!("jit has no {} {type_name:?}", self.one))
    }

    /// A request that only makes sense once one exists (open, renew, close, call).
    fn any(self) -> Status {
        Status::unimplemented(format!("jit has no {}", self.all))
    }
}

fn capabilities() -> Option<pb::ServerCapabilities> {
    Some(pb::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: true,
        move_resource_state: false,
    })
}

#[tonic::async_trait]
impl pb::provider_server::Provider for JitProvider {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: capabilities(),
            resources: self
                .resources
                .keys()
                .map(|n| pb::get_metadata::ResourceMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        let mut resource_schemas = BTreeMap::new();
        let mut diags = Diagnostics::default();
        for (n, r) in &self.resources {
            match guarded("schema", n, async { schema_to_pb(&r.schema()) }).await {
                Ok(schema) => {
                    resource_schemas.insert(n.to_string(), schema);
                }
                Err(d) => diags.extend(d),
            }
        }
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(schema_to_pb(&Schema {
                version: 0,
                block: config::schema(),
            })),
            resource_schemas: resource_schemas.into_iter().collect(),
            diagnostics: diags_to_pb(&diags),
            server_capabilities: capabilities(),
            ..Default::default()
        }))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let cfg = decode(req.get_ref().config.as_ref())?;
        // Unknown values are fine at validate time; they are refused when configuring.
        let diags = match guarded("validate", "provider", async { config::parse(&cfg) }).await {
            Ok(Ok(_)) => Diagnostics::default(),
            Ok(Err(d)) => Diagnostics(
                d.0.into_iter()
                    .filter(|d| !d.detail.starts_with("must be known"))
                    .collect(),
            ),
            Err(d) => d,
        };
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: diags_to_pb(&diags),
        }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let type_name = &req.get_ref().type_name;
        let r = self.resource(type_name)?;
        let cfg = decode(req.get_ref().config.as_ref())?;
        let diags = guarded("validate", type_name, async { r.validate(&cfg) })
            .await
            .unwrap_or_else(|d| d);
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: diags_to_pb(&diags),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        Err(DATA_SOURCES.named(&req.get_ref().type_name))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let type_name = &req.get_ref().type_name;
        let r = self.resource(type_name)?;
        let raw = req
            .get_ref()
            .raw_state
            .as_ref()
            .map(|s| s.json.as_slice())
            .unwrap_or_default();
        let mut diags = Diagnostics::default();
        let version = req.get_ref().version;
        let current = match guarded("upgrade", type_name, async { r.schema().version }).await {
            Ok(current) if version > current => {
                diags.push(Diagnostic::error(
                    "State from a newer provider",
                    format!("the state was written by a newer jit (schema version {version}); upgrade the provider"),
                ));
                None
            }
            Ok(current) => Some(current),
            Err(d) => {
                diags.extend(d);
                None
            }
        };
        let mut value = if raw.is_empty() {
            Value::Null
        } else {
            Value::from_json(raw).map_err(|e| Status::invalid_argument(e.to_string()))?
        };
        if !value.is_null() && current.is_some_and(|c| version < c) {
            let old = value.clone();
            match guarded("upgrade", type_name, async { r.upgrade(version, old) }).await {
                Ok(Ok(v)) => value = v,
                Ok(Err(d)) | Err(d) => diags.extend(d),
            }
        }
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: encode(&value),
            diagnostics: diags_to_pb(&diags),
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(
            pb::get_resource_identity_schemas::Response::default(),
        ))
    }

    async fn upgrade_resource_identity(
        &self,
        _: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        Err(Status::unimplemented(
            "jit resources have no identity schema",
        ))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let cfg = decode(req.get_ref().config.as_ref())?;
        let parsed = guarded("configure", "provider", async { config::parse(&cfg) }).await;
        let diags = match parsed.and_then(|p| p) {
            Ok(settings) => {
                let clients = LazyClients::start(settings.connection.clone());
                let env = Env {
                    nacls: Nacls::new(Arc::new(SdkNacl(clients.clone())), Repeat::from_env()),
                    client_vpns: ClientVpns::new(Arc::new(SdkClientVpn(clients.clone()))),
                    policies: Policies::new(Arc::new(SdkIam(clients))),
                    settings,
                    clock: self.clock.clone(),
                };
                *self.env.write().expect("env lock") = Some(Arc::new(env));
                Diagnostics::default()
            }
            Err(d) => d,
        };
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diags_to_pb(&diags),
        }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = req.into_inner();
        let r = self.resource(&req.type_name)?;
        let current = decode(req.current_state.as_ref())?;
        let (state, diags) = match self.env() {
            Ok(env) => {
                let fallback = (current.clone(), stopped());
                let work =
                    self.cancellable("ReadResource", r.read(&env, current.clone()), fallback);
                guarded("read", &req.type_name, work)
                    .await
                    .unwrap_or_else(|d| (current, d))
            }
            Err(d) => (current, d),
        };
        Ok(Response::new(pb::read_resource::Response {
            new_state: encode(&state),
            diagnostics: diags_to_pb(&diags),
            private: req.private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let req = req.into_inner();
        let r = self.resource(&req.type_name)?;
        let plan_req = PlanRequest {
            prior: decode(req.prior_state.as_ref())?,
            proposed: decode(req.proposed_new_state.as_ref())?,
            config: decode(req.config.as_ref())?,
        };
        let plan = match self.env() {
            Ok(env) => {
                let fallback = crate::resource::Plan {
                    diags: stopped(),
                    ..Default::default()
                };
                let work = self.cancellable("PlanResourceChange", r.plan(&env, plan_req), fallback);
                guarded("plan", &req.type_name, work)
                    .await
                    .unwrap_or_else(|diags| crate::resource::Plan {
                        diags,
                        ..Default::default()
                    })
            }
            Err(d) => crate::resource::Plan {
                diags: d,
                ..Default::default()
            },
        };
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state: encode(&plan.planned),
            requires_replace: plan.requires_replace.iter().map(path_to_pb).collect(),
            planned_private: req.prior_private,
            diagnostics: diags_to_pb(&plan.diags),
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let req = req.into_inner();
        let r = self.resource(&req.type_name)?;
        let apply_req = ApplyRequest {
            prior: decode(req.prior_state.as_ref())?,
            planned: decode(req.planned_state.as_ref())?,
            config: decode(req.config.as_ref())?,
        };
        // Apply is not cancellable mid-way: a grant is written as entry + tag, and stopping
        // between the two would leave an entry nobody expires. Stop is honoured before it starts.
        let token = self.stop.lock().expect("stop lock").clone();
        let (state, diags) = match self.env() {
            Ok(_) if token.is_cancelled() => (apply_req.prior, stopped()),
            Ok(env) => {
                // After a panic the prior state stands: what the apply did is unknown, and a
                // resource that stays in state (or stays absent) is what the next plan rechecks.
                let prior = apply_req.prior.clone();
                let type_name = req.type_name.clone();
                let task = self.applies.spawn(async move {
                    let work = aws::accounted("ApplyResourceChange", r.apply(&env, apply_req));
                    guarded("apply", &type_name, work).await
                });
                match task.await {
                    Ok(out) => out.unwrap_or_else(|d| (prior, d)),
                    // Only when the runtime shuts down under it; panics are caught inside.
                    Err(e) => (
                        prior,
                        Diagnostic::error(
                            "Internal error in the jit provider",
                            format!("{} apply did not finish: {e}", req.type_name),
                        )
                        .into(),
                    ),
                }
            }
            Err(d) => (apply_req.prior, d),
        };
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state: encode(&state),
            private: req.planned_private,
            diagnostics: diags_to_pb(&diags),
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let req = req.into_inner();
        let r = self.resource(&req.type_name)?;
        let result = match self.env() {
            Ok(env) => {
                let work = self.cancellable(
                    "ImportResourceState",
                    r.import(&env, &req.id),
                    Err(stopped()),
                );
                guarded("import", &req.type_name, work)
                    .await
                    .and_then(|r| r)
            }
            Err(d) => Err(d),
        };
        let (imported, diags) = match result {
            Ok(state) => (
                vec![pb::import_resource_state::ImportedResource {
                    type_name: req.type_name.clone(),
                    state: encode(&state),
                    ..Default::default()
                }],
                Diagnostics::default(),
            ),
            Err(d) => (vec![], d),
        };
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: imported,
            diagnostics: diags_to_pb(&diags),
            ..Default::default()
        }))
    }

    async fn move_resource_state(
        &self,
        _: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        Err(Status::unimplemented(
            "jit does not support moving state between resource types",
        ))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        Err(DATA_SOURCES.named(&req.get_ref().type_name))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        Err(EPHEMERAL_RESOURCES.named(&req.get_ref().type_name))
    }

    async fn open_ephemeral_resource(
        &self,
        _: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        Err(EPHEMERAL_RESOURCES.any())
    }

    async fn renew_ephemeral_resource(
        &self,
        _: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        Err(EPHEMERAL_RESOURCES.any())
    }

    async fn close_ephemeral_resource(
        &self,
        _: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        Err(EPHEMERAL_RESOURCES.any())
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(pb::get_functions::Response::default()))
    }

    async fn call_function(
        &self,
        _: Request<pb::call_function::Request>,
    ) -> Result<Response<pb::call_function::Response>, Status> {
        Err(FUNCTIONS.any())
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        let mut token = self.stop.lock().expect("stop lock");
        token.cancel();
        *token = CancellationToken::new();
        tracing::info!("StopProvider: in-flight operations cancelled");
        Ok(Response::new(pb::stop_provider::Response::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::tf::Block;
    use pb::provider_server::Provider as _;

    #[tokio::test]
    async fn stop_provider_cancels_in_flight_work_and_later_work_still_runs() {
        let provider = Arc::new(JitProvider::new(Arc::new(SystemClock)));
        let p = provider.clone();
        let in_flight = tokio::spawn(async move {
            p.cancellable("test", std::future::pending::<&str>(), "stopped")
                .await
        });
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        provider
            .stop_provider(Request::new(pb::stop_provider::Request {}))
            .await
            .unwrap();
        assert_eq!(in_flight.await.unwrap(), "stopped");
        assert_eq!(
            provider
                .cancellable("test", async { "done" }, "stopped")
                .await,
            "done"
        );
    }

    /// A resource whose every operation panics, as a bug in a real one would.
    struct Panicking;

    #[async_trait::async_trait]
    impl Resource for Panicking {
        fn type_name(&self) -> &'static str {
            "jit_panicking"
        }
        fn schema(&self) -> Schema {
            panic!("schema exploded")
        }
        fn validate(&self, _: &Value) -> Diagnostics {
            panic!("validate exploded")
        }
        async fn plan(&self, _: &Env, _: PlanRequest) -> crate::resource::Plan {
            let list: Vec<u8> = Vec::new();
            let i = list.len();
            crate::resource::Plan {
                diags: Diagnostic::error("unreachable", list[i].to_string()).into(),
                ..Default::default()
            }
        }
        async fn apply(&self, _: &Env, _: ApplyRequest) -> (Value, Diagnostics) {
            let reason = String::from("apply exploded");
            std::panic::panic_any(reason)
        }
        async fn read(&self, _: &Env, _: Value) -> (Value, Diagnostics) {
            tokio::task::yield_now().await;
            panic!("read exploded after an await")
        }
        async fn import(&self, _: &Env, id: &str) -> Result<Value, Diagnostics> {
            panic!("import of {id} exploded")
        }
    }

    fn details(diags: &[pb::Diagnostic]) -> Vec<&str> {
        diags.iter().map(|d| d.detail.as_str()).collect()
    }

    /// A panic inside a resource once killed the plugin connection: Terraform showed only
    /// "Request cancelled". Every RPC now answers with a diagnostic and the server goes on.
    #[tokio::test]
    async fn panic_in_a_resource_is_an_error_diagnostic_and_the_server_keeps_serving() {
        let provider = JitProvider::with_resources(
            Arc::new(SystemClock),
            vec![
                Arc::new(Panicking),
                Arc::new(resources::access_rule::AccessRule),
            ],
        );
        let configured = provider
            .configure_provider(Request::new(pb::configure_provider::Request {
                config: encode(&Value::object([("region", Value::from("us-east-1"))])),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(configured.diagnostics.is_empty(), "{configured:?}");
        let ty = || "jit_panicking".to_string();
        let state = || encode(&Value::object([("id", Value::from("x"))]));

        let validate = provider
            .validate_resource_config(Request::new(pb::validate_resource_config::Request {
                type_name: ty(),
                config: state(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            details(&validate.diagnostics),
            ["internal error in jit_panicking validate: validate exploded; please report it"]
        );
        assert_eq!(
            validate.diagnostics[0].severity,
            pb::diagnostic::Severity::Error as i32
        );

        let plan = provider
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: ty(),
                proposed_new_state: state(),
                config: state(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(plan.diagnostics.len(), 1);
        assert!(
            plan.diagnostics[0]
                .detail
                .starts_with("internal error in jit_panicking plan: index out of bounds"),
            "{:?}",
            plan.diagnostics
        );

        let apply = provider
            .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: ty(),
                prior_state: state(),
                planned_state: state(),
                config: state(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            details(&apply.diagnostics),
            ["internal error in jit_panicking apply: apply exploded; please report it"]
        );
        assert_eq!(apply.new_state, state(), "the prior state stands");

        let read = provider
            .read_resource(Request::new(pb::read_resource::Request {
                type_name: ty(),
                current_state: state(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            details(&read.diagnostics),
            [
                "internal error in jit_panicking read: read exploded after an await; please report it"
            ]
        );
        assert_eq!(read.new_state, state());

        let import = provider
            .import_resource_state(Request::new(pb::import_resource_state::Request {
                type_name: ty(),
                id: "acl-1".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(import.imported_resources.is_empty());
        assert_eq!(
            details(&import.diagnostics),
            ["internal error in jit_panicking import: import of acl-1 exploded; please report it"]
        );

        let upgrade = provider
            .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                type_name: ty(),
                raw_state: Some(pb::RawState {
                    json: br#"{"id":"x"}"#.to_vec(),
                    ..Default::default()
                }),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            details(&upgrade.diagnostics),
            ["internal error in jit_panicking upgrade: schema exploded; please report it"]
        );

        // The other resources' schemas are still served, with the broken one reported.
        let schema = provider
            .get_provider_schema(Request::new(pb::get_provider_schema::Request {}))
            .await
            .unwrap()
            .into_inner();
        assert!(schema.resource_schemas.contains_key("jit_access_rule"));
        assert!(!schema.resource_schemas.contains_key("jit_panicking"));
        assert_eq!(
            details(&schema.diagnostics),
            ["internal error in jit_panicking schema: schema exploded; please report it"]
        );

        // And a healthy resource still works after all of that.
        let healthy = provider
            .validate_resource_config(Request::new(pb::validate_resource_config::Request {
                type_name: "jit_access_rule".into(),
                config: encode(&Value::object([("ttl", Value::from("9999999999h"))])),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            details(&healthy.diagnostics)
                .iter()
                .any(|d| d.contains("\"9999999999h\" is longer than 876600h")),
            "{:?}",
            healthy.diagnostics
        );
    }

    /// An apply that waits for the test to let it finish.
    struct Gated {
        release: Arc<tokio::sync::Notify>,
        finished: Arc<std::sync::atomic::AtomicBool>,
    }

    #[async_trait::async_trait]
    impl Resource for Gated {
        fn type_name(&self) -> &'static str {
            "jit_gated"
        }
        fn schema(&self) -> Schema {
            Schema {
                version: 0,
                block: Block {
                    description: "test".into(),
                    attributes: Vec::new(),
                    blocks: Vec::new(),
                },
            }
        }
        fn validate(&self, _: &Value) -> Diagnostics {
            Diagnostics::default()
        }
        async fn plan(&self, _: &Env, _: PlanRequest) -> crate::resource::Plan {
            crate::resource::Plan::default()
        }
        async fn apply(&self, _: &Env, req: ApplyRequest) -> (Value, Diagnostics) {
            self.release.notified().await;
            self.finished
                .store(true, std::sync::atomic::Ordering::SeqCst);
            (req.planned, Diagnostics::default())
        }
        async fn read(&self, _: &Env, state: Value) -> (Value, Diagnostics) {
            (state, Diagnostics::default())
        }
        async fn import(&self, _: &Env, _: &str) -> Result<Value, Diagnostics> {
            Ok(Value::Null)
        }
    }

    /// Terraform killed mid-apply closes the connection, and hyper drops the RPC's handler: the
    /// apply must still run to its end (entry and tag), and the plugin can wait for it.
    #[tokio::test]
    async fn apply_finishes_when_its_rpc_is_dropped_and_applies_drain() {
        let release = Arc::new(tokio::sync::Notify::new());
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let provider = JitProvider::with_resources(
            Arc::new(SystemClock),
            vec![Arc::new(Gated {
                release: release.clone(),
                finished: finished.clone(),
            })],
        );
        provider
            .configure_provider(Request::new(pb::configure_provider::Request {
                config: encode(&Value::object([("region", Value::from("us-east-1"))])),
                ..Default::default()
            }))
            .await
            .unwrap();
        let applies = provider.applies();
        assert!(applies.drained(Duration::ZERO).await);
        let rpc =
            provider.apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "jit_gated".into(),
                planned_state: encode(&Value::object([("id", Value::from("x"))])),
                ..Default::default()
            }));
        // The RPC is abandoned mid-way, as when its connection closes.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), rpc)
                .await
                .is_err()
        );
        assert!(!applies.drained(Duration::from_millis(50)).await);
        assert!(!finished.load(std::sync::atomic::Ordering::SeqCst));
        release.notify_one();
        assert!(applies.drained(Duration::from_secs(5)).await);
        assert!(finished.load(std::sync::atomic::Ordering::SeqCst));
    }

    /// What jit has none of is refused with the same words by every RPC that asks for it.
    #[tokio::test]
    async fn rpcs_for_what_jit_has_none_of_are_refused() {
        let provider = JitProvider::new(Arc::new(SystemClock));
        fn refusal<T>(r: Result<T, Status>) -> (tonic::Code, String) {
            let e = r.err().expect("refused");
            (e.code(), e.message().to_string())
        }
        let no_data_source = (
            tonic::Code::InvalidArgument,
            r#"jit has no data source "jit_x""#.to_string(),
        );
        let req = || pb::validate_data_resource_config::Request {
            type_name: "jit_x".into(),
            ..Default::default()
        };
        let validate = provider.validate_data_resource_config(Request::new(req()));
        assert_eq!(refusal(validate.await), no_data_source);
        let req = pb::read_data_source::Request {
            type_name: "jit_x".into(),
            ..Default::default()
        };
        let read = provider.read_data_source(Request::new(req));
        assert_eq!(refusal(read.await), no_data_source);
        let req = pb::validate_ephemeral_resource_config::Request {
            type_name: "jit_x".into(),
            ..Default::default()
        };
        let validate = provider.validate_ephemeral_resource_config(Request::new(req));
        assert_eq!(
            refusal(validate.await),
            (
                tonic::Code::InvalidArgument,
                r#"jit has no ephemeral resource "jit_x""#.to_string()
            )
        );
        let no_ephemeral = (
            tonic::Code::Unimplemented,
            "jit has no ephemeral resources".to_string(),
        );
        let open = provider.open_ephemeral_resource(Request::new(Default::default()));
        assert_eq!(refusal(open.await), no_ephemeral);
        let renew = provider.renew_ephemeral_resource(Request::new(Default::default()));
        assert_eq!(refusal(renew.await), no_ephemeral);
        let close = provider.close_ephemeral_resource(Request::new(Default::default()));
        assert_eq!(refusal(close.await), no_ephemeral);
        let call = provider.call_function(Request::new(Default::default()));
        assert_eq!(
            refusal(call.await),
            (
                tonic::Code::Unimplemented,
                "jit has no functions".to_string()
            )
        );
    }

    #[tokio::test]
    async fn resources_before_configure_get_a_diagnostic_not_a_crash() {
        let provider = JitProvider::new(Arc::new(SystemClock));
        let resp = provider
            .read_resource(Request::new(pb::read_resource::Request {
                type_name: "jit_access_rule".into(),
                current_state: encode(&Value::object([("id", Value::from("x"))])),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resp.diagnostics[0].summary, "Provider not configured");
    }
}
