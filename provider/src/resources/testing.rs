//! What the resources' tests share: an environment over the strict fakes, the plan and apply
//! requests as Terraform sends them, and the check of every state a resource produces against
//! its schema.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::aws::Repeat;
use crate::aws::client_vpn::fake::FakeClientVpn;
use crate::aws::client_vpn::{ClientVpnApi, ClientVpns};
use crate::aws::iam::fake::FakeIam;
use crate::aws::iam::{IamApi, Policies};
use crate::aws::nacl::fake::FakeNacl;
use crate::aws::nacl::{NaclApi, Nacls};
use crate::clock::{FixedClock, parse_rfc3339};
use crate::config::Settings;
use crate::resource::{ApplyRequest, Env, Plan, PlanRequest, Resource};
use crate::tf::{Block, Diagnostics, Severity, Value};

pub fn t(s: &str) -> OffsetDateTime {
    parse_rfc3339(s).unwrap()
}

/// The AWS APIs a test environment reads and writes; by default, empty strict fakes.
pub struct Fakes {
    pub nacl: Arc<dyn NaclApi>,
    pub iam: Arc<dyn IamApi>,
    pub client_vpn: Arc<dyn ClientVpnApi>,
}

impl Default for Fakes {
    fn default() -> Self {
        Fakes {
            nacl: Arc::new(FakeNacl::default()),
            iam: Arc::new(FakeIam::default()),
            client_vpn: Arc::new(FakeClientVpn::default()),
        }
    }
}

impl Fakes {
    /// A configured provider over these fakes, its clock fixed at `now` (RFC 3339).
    pub fn env(self, now: &str, settings: Settings) -> Env {
        Env {
            settings,
            clock: Arc::new(FixedClock(t(now))),
            nacls: Nacls::new(self.nacl, Repeat::IMMEDIATE),
            policies: Policies::new(self.iam),
            client_vpns: ClientVpns::new(self.client_vpn),
        }
    }
}

/// A configuration as Terraform sends it: every attribute of the schema, null unless `given`
/// sets it (later pairs win).
pub fn config<'a>(block: &Block, given: impl IntoIterator<Item = &'a (&'a str, Value)>) -> Value {
    let mut v = Value::object(block.attributes.iter().map(|a| (a.name, Value::Null)));
    for (name, value) in given {
        v.set(name, value.clone());
    }
    v
}

/// `PlanResourceChange`: prior state (null on create), proposed new state, configuration.
pub async fn plan(
    r: &dyn Resource,
    env: &Env,
    prior: &Value,
    proposed: &Value,
    config: &Value,
) -> Plan {
    let req = PlanRequest {
        prior: prior.clone(),
        proposed: proposed.clone(),
        config: config.clone(),
    };
    r.plan(env, req).await
}

/// `ApplyResourceChange`: prior state (null on create), planned state (null on destroy),
/// configuration.
pub async fn apply(
    r: &dyn Resource,
    env: &Env,
    prior: &Value,
    planned: &Value,
    config: &Value,
) -> (Value, Diagnostics) {
    let req = ApplyRequest {
        prior: prior.clone(),
        planned: planned.clone(),
        config: config.clone(),
    };
    r.apply(env, req).await
}

/// A create: the plan from nothing (which must have no errors), then its apply.
pub async fn create(r: &dyn Resource, env: &Env, config: &Value) -> (Value, Diagnostics) {
    let p = plan(r, env, &Value::Null, config, config).await;
    assert!(!p.diags.has_errors(), "{:?}", p.diags);
    apply(r, env, &Value::Null, &p.planned, config).await
}

/// A destroy: the apply of a null plan.
pub async fn destroy(r: &dyn Resource, env: &Env, state: &Value) -> (Value, Diagnostics) {
    apply(r, env, state, &Value::Null, &Value::Null).await
}

/// The attribute paths of the errors, in order (`""` for an error without one).
pub fn error_paths(d: &Diagnostics) -> Vec<String> {
    d.0.iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.path.as_ref().map(|p| p.to_string()).unwrap_or_default())
        .collect()
}

/// Checks every state against the schema (attributes, types, nesting) and that the resource's
/// typed state reads it and writes it back unchanged (`round_trip`), so a drift between schema
/// and code fails here, not in a user's apply.
pub fn assert_states_fit(
    block: &Block,
    states: &[Value],
    round_trip: impl Fn(&Value) -> Result<Value, crate::tf::Diagnostic>,
) {
    for s in states {
        assert!(!s.is_null());
        block
            .check_state(s)
            .unwrap_or_else(|e| panic!("{e}\n{s:?}"));
        assert_eq!(round_trip(s).as_ref(), Ok(s), "typed state round-trips");
    }
}

/// The `status` values among `statuses`, sorted: what the states cover.
pub fn distinct<'a>(statuses: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    statuses
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
