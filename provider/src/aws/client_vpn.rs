//! Client VPN endpoints: the narrow API jit needs (an endpoint's tags, the grants' records, and
//! its client connections), its SDK implementation, and per-endpoint read coalescing.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::ClientVpnConnectionStatusCode;

use super::coalesce::Coalescer;
pub use super::nacl::AwsError;
use crate::grant::TagError;
use crate::grant::client_vpn::{self, Record};

/// An endpoint's id and tags at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointView {
    pub endpoint_id: String,
    pub tags: BTreeMap<String, String>,
}

impl EndpointView {
    /// The Client VPN grants recorded on the endpoint, and the `jit:grant:` tags that cannot be
    /// read as one.
    pub fn records(&self) -> (Vec<Record>, Vec<TagError>) {
        client_vpn::records(&self.tags)
    }
}

/// One client connection of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConnection {
    pub connection_id: String,
    pub username: String,
    pub common_name: String,
    /// The client's address inside the VPN.
    pub client_ip: String,
    /// Still connected (`active`); terminated ones stay listed for a while.
    pub active: bool,
    /// What the client-connect handler answered; jit's handler puts the admitting grant's id
    /// first.
    pub posture_compliance_statuses: Vec<String>,
}

/// The Client VPN operations jit uses.
#[async_trait]
pub trait ClientVpnApi: Send + Sync {
    /// The endpoint's tags; `None` when it does not exist (in this account and region).
    async fn describe(&self, endpoint_id: &str) -> Result<Option<EndpointView>, AwsError>;
    /// Every endpoint of the region.
    async fn describe_all(&self) -> Result<Vec<EndpointView>, AwsError>;
    async fn put_tag(&self, endpoint_id: &str, key: &str, value: &str) -> Result<(), AwsError>;
    /// Deletes the tag; with `Some(value)`, only while it still has that value (EC2 `DeleteTags`
    /// with the value, atomic in AWS).
    async fn delete_tag(
        &self,
        endpoint_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), AwsError>;
    /// The endpoint's connections, active and recently terminated.
    async fn connections(&self, endpoint_id: &str) -> Result<Vec<ClientConnection>, AwsError>;
    /// Ends one connection; one that has ended already is done.
    async fn terminate(&self, endpoint_id: &str, connection_id: &str) -> Result<(), AwsError>;
}

/// The error code AWS answers for an endpoint that does not exist.
pub const ENDPOINT_NOT_FOUND: &str = "InvalidClientVpnEndpointId.NotFound";
/// The error code AWS answers for a connection id the endpoint does not know.
pub const CONNECTION_NOT_FOUND: &str = "InvalidClientVpnConnection.IdNotFound";

/// `ClientVpnApi` over the real SDK.
pub struct SdkClientVpn(pub super::LazyClients);

fn view_from_sdk(e: &aws_sdk_ec2::types::ClientVpnEndpoint) -> Option<EndpointView> {
    Some(EndpointView {
        endpoint_id: e.client_vpn_endpoint_id()?.to_string(),
        tags: e
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
    })
}

#[async_trait]
impl ClientVpnApi for SdkClientVpn {
    async fn describe(&self, endpoint_id: &str) -> Result<Option<EndpointView>, AwsError> {
        match self
            .0
            .ec2()
            .await
            .describe_client_vpn_endpoints()
            .client_vpn_endpoint_ids(endpoint_id)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .client_vpn_endpoints()
                .iter()
                .filter_map(view_from_sdk)
                .find(|v| v.endpoint_id == endpoint_id)),
            Err(e) if e.code() == Some(ENDPOINT_NOT_FOUND) => Ok(None),
            Err(e) => Err(AwsError::from_sdk("DescribeClientVpnEndpoints", e)),
        }
    }

    async fn describe_all(&self) -> Result<Vec<EndpointView>, AwsError> {
        let mut pages = self
            .0
            .ec2()
            .await
            .describe_client_vpn_endpoints()
            .into_paginator()
            .send();
        let mut views = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeClientVpnEndpoints", e))?;
            views.extend(page.client_vpn_endpoints().iter().filter_map(view_from_sdk));
        }
        Ok(views)
    }

    async fn put_tag(&self, endpoint_id: &str, key: &str, value: &str) -> Result<(), AwsError> {
        super::nacl::put_ec2_tag(&self.0, endpoint_id, key, value).await
    }

    async fn delete_tag(
        &self,
        endpoint_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), AwsError> {
        super::nacl::delete_ec2_tag(&self.0, endpoint_id, key, value).await
    }

    async fn connections(&self, endpoint_id: &str) -> Result<Vec<ClientConnection>, AwsError> {
        let mut pages = self
            .0
            .ec2()
            .await
            .describe_client_vpn_connections()
            .client_vpn_endpoint_id(endpoint_id)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeClientVpnConnections", e))?;
            out.extend(page.connections().iter().filter_map(|c| {
                Some(ClientConnection {
                    connection_id: c.connection_id()?.to_string(),
                    username: c.username().unwrap_or_default().to_string(),
                    common_name: c.common_name().unwrap_or_default().to_string(),
                    client_ip: c.client_ip().unwrap_or_default().to_string(),
                    active: c.status().and_then(|s| s.code())
                        == Some(&ClientVpnConnectionStatusCode::Active),
                    posture_compliance_statuses: c.posture_compliance_statuses().to_vec(),
                })
            }));
        }
        Ok(out)
    }

    async fn terminate(&self, endpoint_id: &str, connection_id: &str) -> Result<(), AwsError> {
        match self
            .0
            .ec2()
            .await
            .terminate_client_vpn_connections()
            .client_vpn_endpoint_id(endpoint_id)
            .connection_id(connection_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Gone from the endpoint's list (ended long ago): ended either way.
            Err(e) if e.code() == Some(CONNECTION_NOT_FOUND) => Ok(()),
            Err(e) => Err(AwsError::from_sdk("TerminateClientVpnConnections", e)),
        }
    }
}

/// Client VPN access with read coalescing; the only way the resource, `jitctl` and the handler
/// reach Client VPN. Reads of one endpoint share one `DescribeClientVpnEndpoints` and a short
/// snapshot; every write by this process invalidates the endpoint's snapshot before and after.
pub struct ClientVpns {
    api: Arc<dyn ClientVpnApi>,
    cache: Coalescer<Option<Arc<EndpointView>>>,
}

impl ClientVpns {
    pub fn new(api: Arc<dyn ClientVpnApi>) -> Self {
        ClientVpns {
            api,
            cache: Coalescer::default(),
        }
    }

    /// The endpoint's tags, shared with concurrent readers; `None` if it does not exist.
    pub async fn view(&self, endpoint_id: &str) -> Result<Option<Arc<EndpointView>>, AwsError> {
        self.cache
            .get(endpoint_id, async {
                Ok(self.api.describe(endpoint_id).await?.map(Arc::new))
            })
            .await
    }

    /// The endpoint's tags read now (for the decision right before a write).
    pub async fn view_uncached(
        &self,
        endpoint_id: &str,
    ) -> Result<Option<Arc<EndpointView>>, AwsError> {
        self.cache.invalidate(endpoint_id);
        self.view(endpoint_id).await
    }

    /// Every endpoint of the region.
    pub async fn all(&self) -> Result<Vec<EndpointView>, AwsError> {
        self.api.describe_all().await
    }

    /// Holds the endpoint's write lock within this process (read-decide-write sequences).
    pub async fn serialize(&self, endpoint_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.cache.serialize(endpoint_id).await
    }

    pub async fn put_tag(&self, endpoint_id: &str, key: &str, value: &str) -> Result<(), AwsError> {
        self.cache
            .write(endpoint_id, self.api.put_tag(endpoint_id, key, value))
            .await
    }

    pub async fn delete_tag(
        &self,
        endpoint_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), AwsError> {
        self.cache
            .write(endpoint_id, self.api.delete_tag(endpoint_id, key, value))
            .await
    }

    pub async fn connections(&self, endpoint_id: &str) -> Result<Vec<ClientConnection>, AwsError> {
        self.api.connections(endpoint_id).await
    }

    pub async fn terminate(&self, endpoint_id: &str, connection_id: &str) -> Result<(), AwsError> {
        self.api.terminate(endpoint_id, connection_id).await
    }
}

#[cfg(test)]
pub(crate) mod fake;
