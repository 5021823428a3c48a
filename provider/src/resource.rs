//! What a resource implements, and the environment the server hands it once configured.

use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::client_vpn::ClientVpns;
use crate::aws::iam::Policies;
use crate::aws::nacl::Nacls;
use crate::clock::Clock;
use crate::config::Settings;
use crate::tf::{AttrPath, Diagnostics, Schema, Value};

/// Everything a configured provider gives its resources.
pub struct Env {
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    pub nacls: Nacls,
    pub policies: Policies,
    pub client_vpns: ClientVpns,
}

/// `PlanResourceChange` input: prior state (null on create), Terraform's proposed new state
/// (null on destroy) and the raw configuration.
pub struct PlanRequest {
    pub prior: Value,
    pub proposed: Value,
    pub config: Value,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub planned: Value,
    pub requires_replace: Vec<AttrPath>,
    pub diags: Diagnostics,
}

/// `ApplyResourceChange` input: planned state is null for a destroy, prior is null for a create.
pub struct ApplyRequest {
    pub prior: Value,
    pub planned: Value,
    pub config: Value,
}

#[async_trait]
pub trait Resource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Turns a state written with schema `version` (older than the current one) into the
    /// current schema. Without an override, the schema has never changed.
    fn upgrade(&self, version: i64, state: Value) -> Result<Value, Diagnostics> {
        let _ = version;
        Ok(state)
    }
    /// Checks that need neither AWS nor the provider configuration; unknowns are skipped.
    fn validate(&self, config: &Value) -> Diagnostics;
    async fn plan(&self, env: &Env, req: PlanRequest) -> Plan;
    /// Returns the new state: null after a destroy, or after a create that failed cleanly.
    async fn apply(&self, env: &Env, req: ApplyRequest) -> (Value, Diagnostics);
    /// Refreshes state from AWS without changing anything. Null means the object is gone.
    async fn read(&self, env: &Env, state: Value) -> (Value, Diagnostics);
    async fn import(&self, env: &Env, id: &str) -> Result<Value, Diagnostics>;
}
