//! Network ACLs: a snapshot type, the narrow API jit needs, its SDK implementation, and
//! per-ACL read coalescing (`coalesce.rs`): one `DescribeNetworkAcls` returns an ACL's entries
//! *and* tags, so concurrent or near-simultaneous reads of grants on one ACL share one call.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_ec2::types::{IcmpTypeCode, PortRange, Tag};
use ipnet::IpNet;

use super::Repeat;
use super::coalesce::Coalescer;
use crate::grant::lifecycle::Held;
pub use crate::grant::{AclEntry, AclView};
use crate::grant::{Direction, EntrySpec, Ports, Protocol, RuleAction, TAG_PREFIX};

/// Errors from AWS, with the SDK's full context for the user.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AwsError {
    #[error("{operation} failed: {message}")]
    Call {
        operation: &'static str,
        code: Option<String>,
        message: String,
    },
}

impl AwsError {
    pub(crate) fn from_sdk<E, R>(
        operation: &'static str,
        err: aws_sdk_ec2::error::SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        AwsError::Call {
            operation,
            code: err.code().map(str::to_string),
            message: DisplayErrorContext(&err).to_string(),
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Call { code, .. } => code.as_deref(),
        }
    }

    /// Whether sending the request again may go differently: no answer at all (a dropped
    /// connection, a timeout: AWS may or may not have acted), throttling, or a server error.
    pub fn is_transient(&self) -> bool {
        match self.code() {
            None => true,
            Some(code) => matches!(
                code,
                "RequestLimitExceeded"
                    | "Throttling"
                    | "ThrottlingException"
                    | "InternalError"
                    | "InternalFailure"
                    | "ServiceUnavailable"
                    | "Unavailable"
                    | "RequestTimeout"
            ),
        }
    }
}

/// The outcome of trying to create an entry.
#[derive(Debug)]
pub enum CreateOutcome {
    Created,
    /// The direction/rule number is held by another entry (AWS `NetworkAclEntryAlreadyExists`).
    NumberTaken,
}

/// The network-ACL operations jit uses.
#[async_trait]
pub trait NaclApi: Send + Sync {
    /// The ACL's entries and tags; `None` when the ACL does not exist.
    async fn describe(&self, acl_id: &str) -> Result<Option<AclView>, AwsError>;
    /// Every network ACL in the region (`jitctl`: orphaned entries can sit on ACLs that no
    /// longer carry any jit tag).
    async fn describe_all(&self) -> Result<Vec<AclView>, AwsError>;
    /// ACLs carrying at least one tag with the given key prefix: all of them (`limit: None`),
    /// or what one request for at most `limit` of them returns (the read prefetch).
    async fn describe_tagged(
        &self,
        tag_prefix: &str,
        limit: Option<usize>,
    ) -> Result<Vec<AclView>, AwsError>;
    /// Creates an entry; never replaces one.
    async fn create_entry(&self, acl_id: &str, spec: &EntrySpec)
    -> Result<CreateOutcome, AwsError>;
    /// Deletes the entry at a number, in one attempt: never repeated by the SDK, because a
    /// repeat after a lost response deletes whatever holds the number by then, such as a new
    /// grant numbered there the moment the first delete landed. [`Nacls::delete_entry`] repeats
    /// it only after a fresh read.
    async fn delete_entry(
        &self,
        acl_id: &str,
        direction: Direction,
        rule_number: i32,
    ) -> Result<(), AwsError>;
    async fn put_tag(&self, acl_id: &str, key: &str, value: &str) -> Result<(), AwsError>;
    /// Deletes the tag; with `Some(value)`, only while it still has that value, atomically in
    /// AWS (EC2 `DeleteTags` with the tag's value). A grant deletes its own record by key (the key
    /// is its id, nobody else writes it); anything else is deleted only with the value the
    /// decision was made on.
    async fn delete_tag(
        &self,
        acl_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), AwsError>;
}

/// `NaclApi` over the real SDK.
pub struct SdkNacl(pub super::LazyClients);

fn view_from_sdk(acl: &aws_sdk_ec2::types::NetworkAcl) -> AclView {
    let entries = acl
        .entries()
        .iter()
        .filter_map(|e| {
            let cidr = e
                .cidr_block()
                .or(e.ipv6_cidr_block())
                .and_then(|c| c.parse::<IpNet>().ok());
            let action = match e.rule_action()? {
                aws_sdk_ec2::types::RuleAction::Allow => RuleAction::Allow,
                aws_sdk_ec2::types::RuleAction::Deny => RuleAction::Deny,
                _ => return None,
            };
            Some(AclEntry {
                direction: Direction::from_egress(e.egress().unwrap_or(false)),
                rule_number: e.rule_number()?,
                protocol: Protocol(e.protocol()?.parse().ok()?),
                action,
                cidr,
                ports: e.port_range().and_then(|p| {
                    Some(Ports {
                        from: u16::try_from(p.from()?).ok()?,
                        to: u16::try_from(p.to()?).ok()?,
                    })
                }),
            })
        })
        .collect();
    AclView {
        acl_id: acl.network_acl_id().unwrap_or_default().to_string(),
        vpc_id: acl.vpc_id().map(str::to_string),
        entries,
        tags: acl
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
    }
}

#[async_trait]
impl NaclApi for SdkNacl {
    async fn describe(&self, acl_id: &str) -> Result<Option<AclView>, AwsError> {
        match self
            .0
            .ec2()
            .await
            .describe_network_acls()
            .network_acl_ids(acl_id)
            .send()
            .await
        {
            Ok(out) => Ok(out.network_acls().first().map(view_from_sdk)),
            Err(e) if e.code() == Some("InvalidNetworkAclID.NotFound") => Ok(None),
            Err(e) => Err(AwsError::from_sdk("DescribeNetworkAcls", e)),
        }
    }

    async fn describe_all(&self) -> Result<Vec<AclView>, AwsError> {
        let mut pages = self
            .0
            .ec2()
            .await
            .describe_network_acls()
            .into_paginator()
            .send();
        let mut views = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeNetworkAcls", e))?;
            views.extend(page.network_acls().iter().map(view_from_sdk));
        }
        Ok(views)
    }

    async fn describe_tagged(
        &self,
        tag_prefix: &str,
        limit: Option<usize>,
    ) -> Result<Vec<AclView>, AwsError> {
        // EC2 filters match tag keys exactly or with wildcards; `tag-key` with a trailing `*`
        // selects every ACL that carries at least one jit grant tag.
        let request = self.0.ec2().await.describe_network_acls().filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag-key")
                .values(format!("{tag_prefix}*"))
                .build(),
        );
        if let Some(limit) = limit {
            // EC2 accepts 5 to 1000 results per page.
            let page = request
                .max_results(limit.clamp(5, 1000) as i32)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeNetworkAcls", e))?;
            return Ok(page.network_acls().iter().map(view_from_sdk).collect());
        }
        let mut pages = request.into_paginator().send();
        let mut views = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeNetworkAcls", e))?;
            views.extend(page.network_acls().iter().map(view_from_sdk));
        }
        Ok(views)
    }

    async fn create_entry(
        &self,
        acl_id: &str,
        spec: &EntrySpec,
    ) -> Result<CreateOutcome, AwsError> {
        let action = match spec.action {
            RuleAction::Allow => aws_sdk_ec2::types::RuleAction::Allow,
            RuleAction::Deny => aws_sdk_ec2::types::RuleAction::Deny,
        };
        let mut req = self
            .0
            .ec2()
            .await
            .create_network_acl_entry()
            .network_acl_id(acl_id)
            .rule_number(spec.rule_number)
            .egress(spec.direction.is_egress())
            .protocol(spec.protocol.aws_value())
            .rule_action(action);
        req = match spec.cidr {
            IpNet::V4(c) => req.cidr_block(c.to_string()),
            IpNet::V6(c) => req.ipv6_cidr_block(c.to_string()),
        };
        if let Some(p) = spec.ports {
            req = req.port_range(
                PortRange::builder()
                    .from(p.from.into())
                    .to(p.to.into())
                    .build(),
            );
        }
        if spec.protocol.is_icmp() {
            // Every ICMP type and code: jit grants reachability, not specific messages.
            req = req.icmp_type_code(IcmpTypeCode::builder().r#type(-1).code(-1).build());
        }
        match req.send().await {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(e) if e.code() == Some("NetworkAclEntryAlreadyExists") => {
                Ok(CreateOutcome::NumberTaken)
            }
            Err(e) => Err(AwsError::from_sdk("CreateNetworkAclEntry", e)),
        }
    }

    async fn delete_entry(
        &self,
        acl_id: &str,
        direction: Direction,
        rule_number: i32,
    ) -> Result<(), AwsError> {
        match self
            .0
            .ec2()
            .await
            .delete_network_acl_entry()
            .network_acl_id(acl_id)
            .egress(direction.is_egress())
            .rule_number(rule_number)
            .customize()
            .config_override(
                aws_sdk_ec2::config::Builder::default()
                    .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("InvalidNetworkAclEntry.NotFound") => Ok(()),
            Err(e) => Err(AwsError::from_sdk("DeleteNetworkAclEntry", e)),
        }
    }

    async fn put_tag(&self, acl_id: &str, key: &str, value: &str) -> Result<(), AwsError> {
        put_ec2_tag(&self.0, acl_id, key, value).await
    }

    async fn delete_tag(
        &self,
        acl_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), AwsError> {
        delete_ec2_tag(&self.0, acl_id, key, value).await
    }
}

/// EC2 `CreateTags` of one tag on one resource (a network ACL, a Client VPN endpoint).
pub(crate) async fn put_ec2_tag(
    clients: &super::LazyClients,
    resource_id: &str,
    key: &str,
    value: &str,
) -> Result<(), AwsError> {
    clients
        .ec2()
        .await
        .create_tags()
        .resources(resource_id)
        .tags(Tag::builder().key(key).value(value).build())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("CreateTags", e))
}

/// EC2 `DeleteTags` of one tag on one resource; with `value`, only while the tag holds it.
pub(crate) async fn delete_ec2_tag(
    clients: &super::LazyClients,
    resource_id: &str,
    key: &str,
    value: Option<&str>,
) -> Result<(), AwsError> {
    let mut tag = Tag::builder().key(key);
    if let Some(value) = value {
        tag = tag.value(value);
    }
    clients
        .ec2()
        .await
        .delete_tags()
        .resources(resource_id)
        .tags(tag.build())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::from_sdk("DeleteTags", e))
}

/// How many ACLs the read prefetch asks for, so its cost stays bounded in an account with many
/// ACLs holding grants (of other configurations too); the ACLs it misses are read on their own.
pub const PREFETCH_MAX_ACLS: usize = 200;

/// Network ACL access with read coalescing; the only way resources and `jitctl` reach NACLs.
pub struct Nacls {
    api: Arc<dyn NaclApi>,
    cache: Coalescer<Option<Arc<AclView>>>,
    repeat: Repeat,
}

impl Nacls {
    /// Over `api`, repeating entry deletes as `repeat` says.
    pub fn new(api: Arc<dyn NaclApi>, repeat: Repeat) -> Self {
        Nacls {
            api,
            cache: Coalescer::default(),
            repeat,
        }
    }

    /// The ACL's entries and tags, shared with concurrent readers; `None` if it doesn't exist.
    ///
    /// The first miss in a snapshot period reads every ACL in the region that holds a jit grant
    /// tag, in one `DescribeNetworkAcls`: a plan refreshes grants spread over many ACLs, and
    /// this turns one request per ACL into one per plan. An ACL without grant tags (a first
    /// grant, or one whose tag went missing) is then read on its own.
    pub async fn view(&self, acl_id: &str) -> Result<Option<Arc<AclView>>, AwsError> {
        let prefetch = async {
            let views = self
                .api
                .describe_tagged(TAG_PREFIX, Some(PREFETCH_MAX_ACLS))
                .await?;
            Ok(views
                .into_iter()
                .map(|v| (v.acl_id.clone(), Some(Arc::new(v))))
                .collect())
        };
        self.cache
            .get_or_prefetch(acl_id, prefetch, self.fetch(acl_id))
            .await
    }

    async fn fetch(&self, acl_id: &str) -> Result<Option<Arc<AclView>>, AwsError> {
        Ok(self.api.describe(acl_id).await?.map(Arc::new))
    }

    /// A fresh, uncached view of this one ACL (for decisions right before a write).
    pub async fn view_uncached(&self, acl_id: &str) -> Result<Option<Arc<AclView>>, AwsError> {
        self.cache.invalidate(acl_id);
        self.cache.get(acl_id, self.fetch(acl_id)).await
    }

    /// Every ACL of the region; not cached (used by `jitctl` once per run).
    pub async fn all(&self) -> Result<Vec<AclView>, AwsError> {
        self.api.describe_all().await
    }

    /// Holds the ACL's numbering lock for the duration of an automatic allocation.
    pub async fn allocation_lock(&self, acl_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.cache.serialize(acl_id).await
    }

    async fn write<T>(
        &self,
        acl_id: &str,
        op: impl Future<Output = Result<T, AwsError>>,
    ) -> Result<T, AwsError> {
        self.cache.write(acl_id, op).await
    }

    pub async fn create_entry(
        &self,
        acl_id: &str,
        spec: &EntrySpec,
    ) -> Result<CreateOutcome, AwsError> {
        self.write(acl_id, self.api.create_entry(acl_id, spec))
            .await
    }

    /// Deletes the entry at `spec`'s number. After an error that may go differently next time
    /// ([`AwsError::is_transient`]), it reads the ACL again and repeats the delete only while
    /// `judge` finds the entry [`Held::Still`] there; [`Held::Gone`] is success, and
    /// [`Held::Unclear`] returns the error (the caller's record stays, and the next removal
    /// decides again).
    pub async fn delete_entry(
        &self,
        acl_id: &str,
        spec: &EntrySpec,
        judge: impl Fn(&AclView) -> Held,
    ) -> Result<(), AwsError> {
        let mut attempt = 1;
        loop {
            let delete = self
                .api
                .delete_entry(acl_id, spec.direction, spec.rule_number);
            let error = match self.write(acl_id, delete).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if !error.is_transient() || attempt >= self.repeat.attempts {
                return Err(error);
            }
            tokio::time::sleep(self.repeat.wait(attempt)).await;
            attempt += 1;
            match self.view_uncached(acl_id).await {
                Ok(None) => return Ok(()),
                Ok(Some(view)) => match judge(&view) {
                    Held::Gone => return Ok(()),
                    Held::Still => {}
                    Held::Unclear => return Err(error),
                },
                Err(_) => return Err(error),
            }
        }
    }

    pub async fn put_tag(&self, acl_id: &str, key: &str, value: &str) -> Result<(), AwsError> {
        self.write(acl_id, self.api.put_tag(acl_id, key, value))
            .await
    }

    /// Deletes the tag, if it still has `value` when one is given (see [`NaclApi::delete_tag`]).
    pub async fn delete_tag(
        &self,
        acl_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), AwsError> {
        self.write(acl_id, self.api.delete_tag(acl_id, key, value))
            .await
    }
}

#[cfg(test)]
pub(crate) mod fake;

#[cfg(test)]
mod tests;
