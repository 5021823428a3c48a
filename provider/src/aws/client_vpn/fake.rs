//! An in-memory `ClientVpnApi` for unit tests: endpoints, their tags and connections, as strict
//! as EC2 where jit meets its rules (50 tags per resource, key <= 128 and value <= 256 characters,
//! no `aws:` keys, `InvalidClientVpnEndpointId.NotFound` for an unknown endpoint), with the same
//! fault kinds as the network-ACL fake, including writes whose outcome the caller never learns.
//! Cheap to clone (clones share the state).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{AwsError, ClientConnection, ClientVpnApi, ENDPOINT_NOT_FOUND, EndpointView};
pub use crate::aws::nacl::fake::Fault;
use crate::aws::nacl::fake::Faults;
use crate::grant::TAGS_PER_RESOURCE_MAX;

#[derive(Default)]
struct State {
    endpoints: BTreeMap<String, EndpointView>,
    connections: BTreeMap<String, Vec<ClientConnection>>,
    calls: usize,
    describes: usize,
    writes: usize,
    /// Every call fails as if AWS could not be reached.
    unreachable: bool,
    faults: Faults,
}

impl State {
    fn fault(&mut self) -> Fault {
        self.faults.next()
    }

    fn call(&mut self, operation: &'static str) -> Result<(), AwsError> {
        self.calls += 1;
        if self.unreachable {
            return Err(error(
                operation,
                "RequestTimeout",
                "dispatch failure: io error: connection refused",
            ));
        }
        Ok(())
    }

    fn endpoint(
        &mut self,
        operation: &'static str,
        endpoint_id: &str,
    ) -> Result<&mut EndpointView, AwsError> {
        self.endpoints.get_mut(endpoint_id).ok_or_else(|| {
            error(
                operation,
                ENDPOINT_NOT_FOUND,
                &format!("The Client VPN endpoint ID '{endpoint_id}' does not exist"),
            )
        })
    }
}

#[derive(Clone, Default)]
pub struct FakeClientVpn(Arc<Mutex<State>>);

impl FakeClientVpn {
    /// A fake holding one endpoint without tags.
    pub fn with_endpoint(endpoint_id: &str) -> FakeClientVpn {
        let fake = FakeClientVpn::default();
        fake.0.lock().unwrap().endpoints.insert(
            endpoint_id.into(),
            EndpointView {
                endpoint_id: endpoint_id.into(),
                tags: BTreeMap::new(),
            },
        );
        fake
    }

    pub fn tags(&self, endpoint_id: &str) -> BTreeMap<String, String> {
        self.0.lock().unwrap().endpoints[endpoint_id].tags.clone()
    }

    /// Changes an endpoint's tags behind the code under test's back (drift, another actor).
    pub fn update_tags(&self, endpoint_id: &str, f: impl FnOnce(&mut BTreeMap<String, String>)) {
        f(&mut self
            .0
            .lock()
            .unwrap()
            .endpoints
            .get_mut(endpoint_id)
            .unwrap()
            .tags);
    }

    /// A client connects (AWS let it in after the handler admitted it).
    pub fn connect(&self, endpoint_id: &str, connection_id: &str, username: &str, status: &str) {
        self.0
            .lock()
            .unwrap()
            .connections
            .entry(endpoint_id.into())
            .or_default()
            .push(ClientConnection {
                connection_id: connection_id.into(),
                username: username.into(),
                common_name: String::new(),
                client_ip: "10.100.0.2".into(),
                active: true,
                posture_compliance_statuses: vec![status.into()],
            });
    }

    /// The ids of the endpoint's connections that are still active.
    pub fn active(&self, endpoint_id: &str) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .connections
            .get(endpoint_id)
            .map(|cs| {
                cs.iter()
                    .filter(|c| c.active)
                    .map(|c| c.connection_id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Calls made so far (reads and writes).
    pub fn calls(&self) -> usize {
        self.0.lock().unwrap().calls
    }

    /// `DescribeClientVpnEndpoints` calls made so far.
    pub fn describes(&self) -> usize {
        self.0.lock().unwrap().describes
    }

    /// Write calls made so far (tag writes and deletes, terminations).
    pub fn writes(&self) -> usize {
        self.0.lock().unwrap().writes
    }

    /// Makes every call fail as if AWS could not be reached (or stops doing so).
    pub fn unreachable(&self, on: bool) {
        self.0.lock().unwrap().unreachable = on;
    }

    /// Queues faults for the next write calls, one each, in order.
    pub fn faults(&self, faults: &[Fault]) {
        self.0.lock().unwrap().faults.script(faults);
    }

    /// From now on, `rate_percent` of writes get a random fault, the same ones for a seed.
    pub fn chaos(&self, seed: u64, rate_percent: u64) {
        self.0.lock().unwrap().faults.chaos(seed, rate_percent);
    }

    /// Stops random and queued faults.
    pub fn calm(&self) {
        self.0.lock().unwrap().faults.calm();
    }

    /// Faults injected so far.
    pub fn injected(&self) -> usize {
        self.0.lock().unwrap().faults.injected()
    }
}

fn error(operation: &'static str, code: &str, message: &str) -> AwsError {
    AwsError::Call {
        operation,
        code: Some(code.into()),
        message: message.into(),
    }
}

fn throttled(operation: &'static str) -> AwsError {
    error(operation, "RequestLimitExceeded", "Request limit exceeded.")
}

fn lost(operation: &'static str) -> AwsError {
    error(
        operation,
        "RequestTimeout",
        "dispatch failure: the response was lost (every retry timed out)",
    )
}

#[async_trait]
impl ClientVpnApi for FakeClientVpn {
    async fn describe(&self, endpoint_id: &str) -> Result<Option<EndpointView>, AwsError> {
        let mut st = self.0.lock().unwrap();
        st.call("DescribeClientVpnEndpoints")?;
        st.describes += 1;
        Ok(st.endpoints.get(endpoint_id).cloned())
    }

    async fn describe_all(&self) -> Result<Vec<EndpointView>, AwsError> {
        let mut st = self.0.lock().unwrap();
        st.call("DescribeClientVpnEndpoints")?;
        st.describes += 1;
        Ok(st.endpoints.values().cloned().collect())
    }

    async fn put_tag(&self, endpoint_id: &str, key: &str, value: &str) -> Result<(), AwsError> {
        const OP: &str = "CreateTags";
        let mut st = self.0.lock().unwrap();
        st.call(OP)?;
        st.writes += 1;
        let fault = st.fault();
        if fault == Fault::Before {
            return Err(throttled(OP));
        }
        if key.is_empty()
            || key.chars().count() > 128
            || value.chars().count() > 256
            || key.to_ascii_lowercase().starts_with("aws:")
        {
            return Err(error(
                OP,
                "InvalidParameterValue",
                "Tag keys are 1 to 128 and values at most 256 characters, and may not begin with aws:",
            ));
        }
        let view = st.endpoint(OP, endpoint_id)?;
        if !view.tags.contains_key(key) && view.tags.len() >= TAGS_PER_RESOURCE_MAX {
            return Err(error(
                OP,
                "TagLimitExceeded",
                "The maximum number of Tags for a resource has been reached.",
            ));
        }
        view.tags.insert(key.into(), value.into());
        match fault {
            Fault::After => Err(lost(OP)),
            _ => Ok(()),
        }
    }

    async fn delete_tag(
        &self,
        endpoint_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), AwsError> {
        const OP: &str = "DeleteTags";
        let mut st = self.0.lock().unwrap();
        st.call(OP)?;
        st.writes += 1;
        let fault = st.fault();
        if fault == Fault::Before {
            return Err(throttled(OP));
        }
        let view = st.endpoint(OP, endpoint_id)?;
        if view
            .tags
            .get(key)
            .is_some_and(|v| value.is_none_or(|want| want == v))
        {
            view.tags.remove(key);
        }
        match fault {
            Fault::After => Err(lost(OP)),
            _ => Ok(()),
        }
    }

    async fn connections(&self, endpoint_id: &str) -> Result<Vec<ClientConnection>, AwsError> {
        const OP: &str = "DescribeClientVpnConnections";
        let mut st = self.0.lock().unwrap();
        st.call(OP)?;
        st.endpoint(OP, endpoint_id)?;
        Ok(st.connections.get(endpoint_id).cloned().unwrap_or_default())
    }

    async fn terminate(&self, endpoint_id: &str, connection_id: &str) -> Result<(), AwsError> {
        const OP: &str = "TerminateClientVpnConnections";
        let mut st = self.0.lock().unwrap();
        st.call(OP)?;
        st.writes += 1;
        let fault = st.fault();
        if fault == Fault::Before {
            return Err(throttled(OP));
        }
        st.endpoint(OP, endpoint_id)?;
        let conns = st.connections.entry(endpoint_id.into()).or_default();
        // An unknown connection id is `InvalidClientVpnConnection.IdNotFound` in AWS, which
        // `ClientVpnApi` reports as done (ended long ago).
        if let Some(c) = conns.iter_mut().find(|c| c.connection_id == connection_id) {
            c.active = false;
        }
        match fault {
            Fault::After => Err(lost(OP)),
            _ => Ok(()),
        }
    }
}
