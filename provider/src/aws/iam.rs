//! IAM managed policies: snapshot types, the narrow API jit needs, its SDK implementation, and
//! a per-policy read coalescer that also owns the five-version handling.
//!
//! As for network ACLs (`nacl.rs`), reads of one policy share a short-lived snapshot (policy,
//! tags and default document come from two calls), and every write by this process invalidates
//! that policy's snapshot, so no read sees data older than this process's own last write.
//!
//! `jitctl` uses the same API: [`Policies::managed`] finds jit's policies, [`Policies::view`]
//! reads a default document, [`Policies::publish`] writes a new default version.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::{PolicyScopeType, Tag};
use futures::StreamExt;
use time::OffsetDateTime;

use super::coalesce::Coalescer;
use super::nacl::AwsError;

/// The tag that marks a policy as managed by `jit_source_ip_policy` (and so prunable by `jitctl`).
pub const MANAGED_TAG_KEY: &str = "jit:managed";
pub const MANAGED_TAG_VALUE: &str = "source-ip-policy";
/// Tag keys with this prefix are jit's own.
pub const RESERVED_TAG_PREFIX: &str = "jit:";
/// IAM keeps at most this many versions of a managed policy.
pub const MAX_VERSIONS: usize = 5;

/// A managed policy as IAM describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyInfo {
    pub arn: String,
    pub name: String,
    pub policy_id: String,
    pub path: String,
    pub description: Option<String>,
    pub default_version_id: String,
    pub attachment_count: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

impl PolicyInfo {
    pub fn is_jit_managed(&self) -> bool {
        self.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
    }
}

/// A policy and its default version's document (decoded) at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    pub policy: PolicyInfo,
    pub document: String,
}

/// One version of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    pub version_id: String,
    pub is_default: bool,
    pub created: Option<OffsetDateTime>,
}

impl VersionInfo {
    /// `v12` → 12 (unknown forms sort first).
    fn number(&self) -> u64 {
        self.version_id
            .strip_prefix('v')
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

/// The version to delete to make room for a new one: the oldest that is not the default, by
/// creation date and then by version number (dates can tie). Never the default version, which
/// IAM refuses to delete.
pub fn oldest_deletable(versions: &[VersionInfo]) -> Option<&VersionInfo> {
    versions
        .iter()
        .filter(|v| !v.is_default)
        .min_by_key(|v| (v.created, v.number()))
}

/// Who a policy is attached to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachments {
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
}

impl Attachments {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty() && self.roles.is_empty()
    }

    /// `user alice, role ops`.
    pub fn describe(&self) -> String {
        let kinds = [
            ("user", &self.users),
            ("group", &self.groups),
            ("role", &self.roles),
        ];
        kinds
            .iter()
            .flat_map(|(kind, names)| names.iter().map(move |n| format!("{kind} {n}")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A policy to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicy {
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub document: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug)]
pub enum CreatePolicyOutcome {
    Created(PolicyInfo),
    /// A policy with this name and path exists already (IAM `EntityAlreadyExists`).
    NameTaken,
}

#[derive(Debug)]
pub enum CreateVersionOutcome {
    Created {
        version_id: String,
    },
    /// The policy has five versions already (IAM `LimitExceeded`).
    LimitExceeded,
}

/// What [`Policies::publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The new default version.
    pub version_id: String,
    /// Versions deleted to make room.
    pub deleted: Vec<String>,
}

/// AWS documents arrive URL-encoded; moto sends them as plain JSON. Percent-decoding only,
/// never form-decoding: a `+` in a policy is a plus sign.
pub fn decode_document(raw: &str) -> Result<String, String> {
    if raw.trim_start().starts_with('{') {
        return Ok(raw.to_string());
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|e| format!("the policy document is not valid UTF-8 once decoded: {e}"))
}

/// The IAM operations jit uses.
#[async_trait]
pub trait IamApi: Send + Sync {
    /// The policy with its tags; `None` when it does not exist.
    async fn get_policy(&self, arn: &str) -> Result<Option<PolicyInfo>, AwsError>;
    /// A version's document, decoded; `None` when the version does not exist.
    async fn get_document(&self, arn: &str, version_id: &str) -> Result<Option<String>, AwsError>;
    async fn list_versions(&self, arn: &str) -> Result<Vec<VersionInfo>, AwsError>;
    async fn create_policy(&self, new: &NewPolicy) -> Result<CreatePolicyOutcome, AwsError>;
    /// Creates a version and makes it the default.
    async fn create_version(
        &self,
        arn: &str,
        document: &str,
    ) -> Result<CreateVersionOutcome, AwsError>;
    /// Deletes a non-default version; a missing one is fine.
    async fn delete_version(&self, arn: &str, version_id: &str) -> Result<(), AwsError>;
    /// Deletes the policy (which must have only its default version left); a missing one is fine.
    async fn delete_policy(&self, arn: &str) -> Result<(), AwsError>;
    async fn attachments(&self, arn: &str) -> Result<Attachments, AwsError>;
    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError>;
    async fn untag(&self, arn: &str, keys: &[String]) -> Result<(), AwsError>;
    /// Customer managed policies of the account, without tags (IAM's list omits them).
    async fn list_local(&self) -> Result<Vec<PolicyInfo>, AwsError>;
    async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, AwsError>;
}

fn sdk_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> AwsError
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

fn tags_from_sdk(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn tags_to_sdk(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::Call {
                    operation: "TagPolicy",
                    code: None,
                    message: e.to_string(),
                })
        })
        .collect()
}

fn info_from_sdk(p: &aws_sdk_iam::types::Policy) -> PolicyInfo {
    PolicyInfo {
        arn: p.arn().unwrap_or_default().to_string(),
        name: p.policy_name().unwrap_or_default().to_string(),
        policy_id: p.policy_id().unwrap_or_default().to_string(),
        path: p.path().unwrap_or("/").to_string(),
        description: p.description().map(str::to_string),
        default_version_id: p.default_version_id().unwrap_or_default().to_string(),
        attachment_count: p.attachment_count(),
        tags: tags_from_sdk(p.tags()),
    }
}

fn time_from_sdk(t: &aws_smithy_types::DateTime) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos()),
    )
    .ok()
}

/// `IamApi` over the real SDK.
pub struct SdkIam(pub super::LazyClients);

#[async_trait]
impl IamApi for SdkIam {
    async fn get_policy(&self, arn: &str) -> Result<Option<PolicyInfo>, AwsError> {
        match self.0.iam().await.get_policy().policy_arn(arn).send().await {
            Ok(out) => Ok(out.policy().map(info_from_sdk)),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(sdk_error("GetPolicy", e)),
        }
    }

    async fn get_document(&self, arn: &str, version_id: &str) -> Result<Option<String>, AwsError> {
        match self
            .0
            .iam()
            .await
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version_id)
            .send()
            .await
        {
            Ok(out) => {
                let raw = out
                    .policy_version()
                    .and_then(|v| v.document())
                    .unwrap_or_default();
                decode_document(raw)
                    .map(Some)
                    .map_err(|message| AwsError::Call {
                        operation: "GetPolicyVersion",
                        code: None,
                        message,
                    })
            }
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(sdk_error("GetPolicyVersion", e)),
        }
    }

    async fn list_versions(&self, arn: &str) -> Result<Vec<VersionInfo>, AwsError> {
        let mut pages = self
            .0
            .iam()
            .await
            .list_policy_versions()
            .policy_arn(arn)
            .into_paginator()
            .send();
        let mut versions = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("ListPolicyVersions", e))?;
            versions.extend(page.versions().iter().map(|v| VersionInfo {
                version_id: v.version_id().unwrap_or_default().to_string(),
                is_default: v.is_default_version(),
                created: v.create_date().and_then(time_from_sdk),
            }));
        }
        Ok(versions)
    }

    async fn create_policy(&self, new: &NewPolicy) -> Result<CreatePolicyOutcome, AwsError> {
        let mut req = self
            .0
            .iam()
            .await
            .create_policy()
            .policy_name(&new.name)
            .path(&new.path)
            .policy_document(&new.document)
            .set_tags(Some(tags_to_sdk(&new.tags)?));
        if let Some(d) = &new.description {
            req = req.description(d);
        }
        match req.send().await {
            Ok(out) => Ok(CreatePolicyOutcome::Created(
                out.policy().map(info_from_sdk).unwrap_or_default(),
            )),
            Err(e) if e.code() == Some("EntityAlreadyExists") => Ok(CreatePolicyOutcome::NameTaken),
            Err(e) => Err(sdk_error("CreatePolicy", e)),
        }
    }

    async fn create_version(
        &self,
        arn: &str,
        document: &str,
    ) -> Result<CreateVersionOutcome, AwsError> {
        match self
            .0
            .iam()
            .await
            .create_policy_version()
            .policy_arn(arn)
            .policy_document(document)
            .set_as_default(true)
            .send()
            .await
        {
            Ok(out) => Ok(CreateVersionOutcome::Created {
                version_id: out
                    .policy_version()
                    .and_then(|v| v.version_id())
                    .unwrap_or_default()
                    .to_string(),
            }),
            Err(e) if e.code() == Some("LimitExceeded") => Ok(CreateVersionOutcome::LimitExceeded),
            Err(e) => Err(sdk_error("CreatePolicyVersion", e)),
        }
    }

    async fn delete_version(&self, arn: &str, version_id: &str) -> Result<(), AwsError> {
        match self
            .0
            .iam()
            .await
            .delete_policy_version()
            .policy_arn(arn)
            .version_id(version_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(sdk_error("DeletePolicyVersion", e)),
        }
    }

    async fn delete_policy(&self, arn: &str) -> Result<(), AwsError> {
        match self
            .0
            .iam()
            .await
            .delete_policy()
            .policy_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(sdk_error("DeletePolicy", e)),
        }
    }

    async fn attachments(&self, arn: &str) -> Result<Attachments, AwsError> {
        let mut pages = self
            .0
            .iam()
            .await
            .list_entities_for_policy()
            .policy_arn(arn)
            .into_paginator()
            .send();
        let mut found = Attachments::default();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("ListEntitiesForPolicy", e))?;
            found.users.extend(
                page.policy_users()
                    .iter()
                    .filter_map(|u| u.user_name().map(str::to_string)),
            );
            found.groups.extend(
                page.policy_groups()
                    .iter()
                    .filter_map(|g| g.group_name().map(str::to_string)),
            );
            found.roles.extend(
                page.policy_roles()
                    .iter()
                    .filter_map(|r| r.role_name().map(str::to_string)),
            );
        }
        Ok(found)
    }

    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.0
            .iam()
            .await
            .tag_policy()
            .policy_arn(arn)
            .set_tags(Some(tags_to_sdk(tags)?))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("TagPolicy", e))
    }

    async fn untag(&self, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        self.0
            .iam()
            .await
            .untag_policy()
            .policy_arn(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("UntagPolicy", e))
    }

    async fn list_local(&self) -> Result<Vec<PolicyInfo>, AwsError> {
        let mut pages = self
            .0
            .iam()
            .await
            .list_policies()
            .scope(PolicyScopeType::Local)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("ListPolicies", e))?;
            found.extend(page.policies().iter().map(info_from_sdk));
        }
        Ok(found)
    }

    async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let mut pages = self
            .0
            .iam()
            .await
            .list_policy_tags()
            .policy_arn(arn)
            .into_paginator()
            .send();
        let mut tags = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("ListPolicyTags", e))?;
            tags.extend(tags_from_sdk(page.tags()));
        }
        Ok(tags)
    }
}

/// How many policies' tags `managed` reads at once.
const TAG_READS_IN_FLIGHT: usize = 8;
/// Attempts at creating a version when another writer keeps filling the fifth slot.
const PUBLISH_ATTEMPTS: usize = 3;

/// IAM policy access with read coalescing; the only way resources and `jitctl` reach policies.
pub struct Policies {
    api: Arc<dyn IamApi>,
    cache: Coalescer<Option<Arc<PolicyView>>>,
}

impl Policies {
    pub fn new(api: Arc<dyn IamApi>) -> Self {
        Policies {
            api,
            cache: Coalescer::default(),
        }
    }

    /// The policy, its tags and its default document, shared with concurrent readers; `None`
    /// if the policy does not exist.
    pub async fn view(&self, arn: &str) -> Result<Option<Arc<PolicyView>>, AwsError> {
        self.cache
            .get(arn, async { Ok(self.fetch(arn).await?.map(Arc::new)) })
            .await
    }

    /// A fresh, uncached view (for decisions right before a write).
    pub async fn view_uncached(&self, arn: &str) -> Result<Option<Arc<PolicyView>>, AwsError> {
        self.cache.invalidate(arn);
        self.view(arn).await
    }

    async fn fetch(&self, arn: &str) -> Result<Option<PolicyView>, AwsError> {
        // The default can change between the two calls (another writer); then read again.
        for _ in 0..PUBLISH_ATTEMPTS {
            let Some(policy) = self.api.get_policy(arn).await? else {
                return Ok(None);
            };
            if let Some(document) = self
                .api
                .get_document(arn, &policy.default_version_id)
                .await?
            {
                return Ok(Some(PolicyView { policy, document }));
            }
        }
        Err(AwsError::Call {
            operation: "GetPolicyVersion",
            code: Some("NoSuchEntity".into()),
            message: format!(
                "the default version of {arn} kept disappearing while it was read; another tool is rewriting the policy"
            ),
        })
    }

    /// Every jit-managed policy of the account (tagged `jit:managed = source-ip-policy`), with
    /// its tags. Not cached (`jitctl` calls it once per run).
    pub async fn managed(&self) -> Result<Vec<PolicyInfo>, AwsError> {
        let local = self.api.list_local().await?;
        let tagged: Vec<Result<PolicyInfo, AwsError>> = futures::stream::iter(local)
            .map(|mut p| async move {
                p.tags = self.api.list_tags(&p.arn).await?;
                Ok::<_, AwsError>(p)
            })
            .buffer_unordered(TAG_READS_IN_FLIGHT)
            .collect()
            .await;
        let mut managed = Vec::new();
        for p in tagged {
            let p = p?;
            if p.is_jit_managed() {
                managed.push(p);
            }
        }
        managed.sort_by(|a, b| a.arn.cmp(&b.arn));
        Ok(managed)
    }

    async fn write<T>(
        &self,
        arn: &str,
        op: impl Future<Output = Result<T, AwsError>>,
    ) -> Result<T, AwsError> {
        self.cache.write(arn, op).await
    }

    pub async fn create(&self, new: &NewPolicy) -> Result<CreatePolicyOutcome, AwsError> {
        let out = self.api.create_policy(new).await?;
        if let CreatePolicyOutcome::Created(p) = &out {
            self.cache.invalidate(&p.arn);
        }
        Ok(out)
    }

    /// Makes `document` the policy's default version. When the policy has five versions, the
    /// oldest non-default one is deleted first; versions created or deleted by others are
    /// taken as they are, and a race for the fifth slot is retried.
    pub async fn publish(&self, arn: &str, document: &str) -> Result<Published, AwsError> {
        let _serial = self.cache.serialize(arn).await;
        let mut deleted = Vec::new();
        for _ in 0..PUBLISH_ATTEMPTS {
            let versions = self.api.list_versions(arn).await?;
            if versions.len() >= MAX_VERSIONS {
                let victim = oldest_deletable(&versions).ok_or_else(|| AwsError::Call {
                    operation: "DeletePolicyVersion",
                    code: None,
                    message: format!(
                        "{arn} has {} versions and none of them can be deleted",
                        versions.len()
                    ),
                })?;
                self.write(arn, self.api.delete_version(arn, &victim.version_id))
                    .await?;
                deleted.push(victim.version_id.clone());
            }
            match self
                .write(arn, self.api.create_version(arn, document))
                .await?
            {
                CreateVersionOutcome::Created { version_id } => {
                    return Ok(Published {
                        version_id,
                        deleted,
                    });
                }
                CreateVersionOutcome::LimitExceeded => continue,
            }
        }
        Err(AwsError::Call {
            operation: "CreatePolicyVersion",
            code: Some("LimitExceeded".into()),
            message: format!(
                "{arn} was back at five versions {PUBLISH_ATTEMPTS} times in a row; another tool is creating versions at the same time. Try again"
            ),
        })
    }

    pub async fn attachments(&self, arn: &str) -> Result<Attachments, AwsError> {
        self.api.attachments(arn).await
    }

    /// Deletes every non-default version, then the policy. Callers check attachments first:
    /// AWS refuses to delete an attached policy, but not every IAM endpoint does.
    pub async fn delete(&self, arn: &str) -> Result<(), AwsError> {
        for v in self.api.list_versions(arn).await? {
            if !v.is_default {
                self.write(arn, self.api.delete_version(arn, &v.version_id))
                    .await?;
            }
        }
        self.write(arn, self.api.delete_policy(arn)).await
    }

    /// Adds or overwrites `put` and removes `remove`.
    pub async fn set_tags(
        &self,
        arn: &str,
        put: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), AwsError> {
        if !remove.is_empty() {
            self.write(arn, self.api.untag(arn, remove)).await?;
        }
        if !put.is_empty() {
            self.write(arn, self.api.tag(arn, put)).await?;
        }
        Ok(())
    }
}

/// An in-memory IAM for unit tests (here and in the resources), with AWS's rules: five
/// versions at most, the default version can't be deleted, and documents come back
/// URL-encoded as AWS sends them (moto sends them plain).
#[cfg(test)]
pub(crate) mod fake {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub(crate) const ARN: &str = "arn:aws:iam::123456789012:policy/p";

    #[derive(Default)]
    pub(crate) struct FakeIam {
        pub(crate) state: Mutex<FakeState>,
        /// Versions "another tool" creates right before each of our CreatePolicyVersion calls.
        pub(crate) interlopers: AtomicUsize,
        pub(crate) get_policy_calls: AtomicUsize,
    }

    #[derive(Default)]
    pub(crate) struct FakeState {
        pub(crate) policy: Option<PolicyInfo>,
        /// Raw (URL-encoded) documents by version.
        pub(crate) versions: Vec<(VersionInfo, String)>,
        pub(crate) attachments: Attachments,
        next: u64,
        clock: i64,
    }

    impl FakeState {
        pub(crate) fn add_version(&mut self, document: &str, default: bool) -> Result<String, ()> {
            if self.versions.len() >= MAX_VERSIONS {
                return Err(());
            }
            self.next += 1;
            self.clock += 1;
            let id = format!("v{}", self.next);
            if default {
                for (v, _) in &mut self.versions {
                    v.is_default = false;
                }
                self.policy.as_mut().expect("a policy").default_version_id = id.clone();
            }
            let encoded =
                percent_encoding::utf8_percent_encode(document, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            self.versions.push((
                VersionInfo {
                    version_id: id.clone(),
                    is_default: default,
                    created: OffsetDateTime::from_unix_timestamp(self.clock).ok(),
                },
                encoded,
            ));
            Ok(id)
        }

        pub(crate) fn ids(&self) -> Vec<String> {
            self.versions
                .iter()
                .map(|(v, _)| v.version_id.clone())
                .collect()
        }

        /// The default version's document, decoded.
        /// The policy's tags.
        pub(crate) fn tags(&self) -> BTreeMap<String, String> {
            self.policy.as_ref().expect("a policy").tags.clone()
        }

        pub(crate) fn document(&self) -> String {
            let default = &self.policy.as_ref().expect("a policy").default_version_id;
            let raw = &self
                .versions
                .iter()
                .find(|(v, _)| &v.version_id == default)
                .expect("a default version")
                .1;
            decode_document(raw).expect("decodes")
        }
    }

    impl FakeIam {
        pub(crate) fn with_policy() -> Arc<FakeIam> {
            let fake = FakeIam::default();
            {
                let mut st = fake.state.lock().unwrap();
                st.policy = Some(PolicyInfo {
                    arn: ARN.into(),
                    name: "p".into(),
                    path: "/".into(),
                    ..PolicyInfo::default()
                });
                st.add_version("{\"v\":1}", true).unwrap();
            }
            Arc::new(fake)
        }
    }

    #[async_trait]
    impl IamApi for FakeIam {
        async fn get_policy(&self, arn: &str) -> Result<Option<PolicyInfo>, AwsError> {
            self.get_policy_calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            let st = self.state.lock().unwrap();
            Ok(st.policy.clone().filter(|p| p.arn == arn))
        }
        async fn get_document(&self, _: &str, id: &str) -> Result<Option<String>, AwsError> {
            let st = self.state.lock().unwrap();
            Ok(st
                .versions
                .iter()
                .find(|(v, _)| v.version_id == id)
                .map(|(_, d)| decode_document(d).expect("decodes")))
        }
        async fn list_versions(&self, _: &str) -> Result<Vec<VersionInfo>, AwsError> {
            let st = self.state.lock().unwrap();
            Ok(st.versions.iter().map(|(v, _)| v.clone()).collect())
        }
        async fn create_policy(&self, new: &NewPolicy) -> Result<CreatePolicyOutcome, AwsError> {
            let mut st = self.state.lock().unwrap();
            if st.policy.is_some() {
                return Ok(CreatePolicyOutcome::NameTaken);
            }
            st.policy = Some(PolicyInfo {
                arn: format!("arn:aws:iam::123456789012:policy{}{}", new.path, new.name),
                name: new.name.clone(),
                policy_id: "ANPAEXAMPLE".into(),
                path: new.path.clone(),
                description: new.description.clone(),
                default_version_id: String::new(),
                attachment_count: Some(0),
                tags: new.tags.clone(),
            });
            st.add_version(&new.document, true).unwrap();
            Ok(CreatePolicyOutcome::Created(st.policy.clone().unwrap()))
        }
        async fn create_version(
            &self,
            _: &str,
            document: &str,
        ) -> Result<CreateVersionOutcome, AwsError> {
            let mut st = self.state.lock().unwrap();
            if self
                .interlopers
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                let _ = st.add_version("{\"by\":\"someone else\"}", false);
            }
            Ok(match st.add_version(document, true) {
                Ok(version_id) => CreateVersionOutcome::Created { version_id },
                Err(()) => CreateVersionOutcome::LimitExceeded,
            })
        }
        async fn delete_version(&self, _: &str, id: &str) -> Result<(), AwsError> {
            let mut st = self.state.lock().unwrap();
            if st
                .versions
                .iter()
                .any(|(v, _)| v.version_id == id && v.is_default)
            {
                return Err(AwsError::Call {
                    operation: "DeletePolicyVersion",
                    code: Some("DeleteConflict".into()),
                    message: "cannot delete the default version".into(),
                });
            }
            st.versions.retain(|(v, _)| v.version_id != id);
            Ok(())
        }
        async fn delete_policy(&self, _: &str) -> Result<(), AwsError> {
            let mut st = self.state.lock().unwrap();
            st.policy = None;
            st.versions.clear();
            Ok(())
        }
        async fn attachments(&self, _: &str) -> Result<Attachments, AwsError> {
            Ok(self.state.lock().unwrap().attachments.clone())
        }
        async fn tag(&self, _: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
            let mut st = self.state.lock().unwrap();
            let p = st.policy.as_mut().expect("a policy");
            p.tags
                .extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            Ok(())
        }
        async fn untag(&self, _: &str, keys: &[String]) -> Result<(), AwsError> {
            let mut st = self.state.lock().unwrap();
            let p = st.policy.as_mut().expect("a policy");
            p.tags.retain(|k, _| !keys.contains(k));
            Ok(())
        }
        async fn list_local(&self) -> Result<Vec<PolicyInfo>, AwsError> {
            let st = self.state.lock().unwrap();
            // IAM's list omits tags.
            Ok(st
                .policy
                .clone()
                .map(|p| PolicyInfo {
                    tags: BTreeMap::new(),
                    ..p
                })
                .into_iter()
                .collect())
        }
        async fn list_tags(&self, _: &str) -> Result<BTreeMap<String, String>, AwsError> {
            let st = self.state.lock().unwrap();
            Ok(st
                .policy
                .as_ref()
                .map(|p| p.tags.clone())
                .unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{ARN, FakeIam};
    use super::*;
    use std::sync::atomic::Ordering;

    fn version(id: &str, default: bool, created: Option<i64>) -> VersionInfo {
        VersionInfo {
            version_id: id.into(),
            is_default: default,
            created: created.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()),
        }
    }

    #[test]
    fn the_default_is_never_the_victim_even_when_oldest() {
        let versions = [
            version("v1", true, Some(1)),
            version("v2", false, Some(2)),
            version("v3", false, Some(3)),
        ];
        assert_eq!(oldest_deletable(&versions).unwrap().version_id, "v2");
        assert!(oldest_deletable(&[version("v1", true, Some(1))]).is_none());
    }

    #[test]
    fn equal_dates_fall_back_to_the_version_number() {
        let versions = [
            version("v10", false, Some(5)),
            version("v9", false, Some(5)),
            version("v11", true, Some(5)),
        ];
        assert_eq!(oldest_deletable(&versions).unwrap().version_id, "v9");
    }

    #[tokio::test]
    async fn twenty_publishes_never_hit_the_limit() {
        let fake = FakeIam::with_policy();
        let policies = Policies::new(fake.clone());
        for i in 0..20 {
            let out = policies
                .publish(ARN, &format!("{{\"n\":{i}}}"))
                .await
                .unwrap();
            let st = fake.state.lock().unwrap();
            assert!(st.versions.len() <= MAX_VERSIONS);
            assert_eq!(
                st.policy.as_ref().unwrap().default_version_id,
                out.version_id
            );
            assert_eq!(out.deleted.len(), usize::from(i >= 4), "publish {i}");
        }
        let view = policies.view(ARN).await.unwrap().unwrap();
        assert_eq!(
            view.document, "{\"n\":19}",
            "decoded from AWS's URL encoding"
        );
    }

    #[tokio::test]
    async fn out_of_band_versions_and_a_default_that_is_oldest() {
        let fake = FakeIam::with_policy();
        {
            let mut st = fake.state.lock().unwrap();
            for i in 0..4 {
                st.add_version(&format!("{{\"hand\":{i}}}"), false).unwrap();
            }
            // Someone deleted one by hand, too.
            st.versions.retain(|(v, _)| v.version_id != "v3");
            st.add_version("{\"hand\":\"again\"}", false).unwrap();
            assert_eq!(st.ids(), ["v1", "v2", "v4", "v5", "v6"]);
        }
        let policies = Policies::new(fake.clone());
        let out = policies.publish(ARN, "{\"ours\":1}").await.unwrap();
        assert_eq!(out.deleted, ["v2"], "the default v1 is oldest but kept");
        assert_eq!(
            fake.state.lock().unwrap().ids(),
            ["v1", "v4", "v5", "v6", "v7"]
        );
        assert_eq!(out.version_id, "v7");
    }

    #[tokio::test]
    async fn a_race_for_the_fifth_slot_is_retried() {
        let fake = FakeIam::with_policy();
        {
            let mut st = fake.state.lock().unwrap();
            for i in 0..3 {
                st.add_version(&format!("{{\"hand\":{i}}}"), false).unwrap();
            }
        }
        // Four versions: we need no deletion, but another tool takes the fifth slot first.
        fake.interlopers.store(1, Ordering::SeqCst);
        let policies = Policies::new(fake.clone());
        let out = policies.publish(ARN, "{\"ours\":1}").await.unwrap();
        assert_eq!(out.deleted, ["v2"]);
        let st = fake.state.lock().unwrap();
        assert_eq!(st.versions.len(), MAX_VERSIONS);
        assert_eq!(
            st.policy.as_ref().unwrap().default_version_id,
            out.version_id
        );
    }

    #[tokio::test]
    async fn concurrent_reads_share_one_fetch_and_writes_invalidate() {
        let fake = FakeIam::with_policy();
        let policies = Policies::new(fake.clone());
        let (a, b, c) = tokio::join!(policies.view(ARN), policies.view(ARN), policies.view(ARN));
        assert_eq!(a.unwrap(), b.unwrap());
        assert!(c.unwrap().is_some());
        assert_eq!(fake.get_policy_calls.load(Ordering::SeqCst), 1);
        policies.publish(ARN, "{\"new\":1}").await.unwrap();
        let after = policies.view(ARN).await.unwrap().unwrap();
        assert_eq!(
            after.document, "{\"new\":1}",
            "a read after a write sees it"
        );
        assert_eq!(fake.get_policy_calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn delete_removes_versions_then_the_policy() {
        let fake = FakeIam::with_policy();
        let policies = Policies::new(fake.clone());
        policies.publish(ARN, "{\"n\":2}").await.unwrap();
        policies.delete(ARN).await.unwrap();
        assert!(policies.view(ARN).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn managed_lists_only_tagged_policies() {
        let fake = FakeIam::with_policy();
        let policies = Policies::new(fake.clone());
        assert!(policies.managed().await.unwrap().is_empty());
        let managed = BTreeMap::from([(MANAGED_TAG_KEY.into(), MANAGED_TAG_VALUE.into())]);
        policies.set_tags(ARN, &managed, &[]).await.unwrap();
        let found = policies.managed().await.unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].is_jit_managed());
    }

    #[test]
    fn documents_are_percent_decoded_never_form_decoded() {
        let plain = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert_eq!(decode_document(plain).unwrap(), plain);
        let encoded = "%7B%22Sid%22%3A%22a+b%22%2C%22x%22%3A%221%202%22%7D";
        assert_eq!(
            decode_document(encoded).unwrap(),
            r#"{"Sid":"a+b","x":"1 2"}"#
        );
        // A plain document that happens to contain a percent sign is left alone.
        let percent = r#"{"Resource":"arn:aws:s3:::b/100%25"}"#;
        assert_eq!(decode_document(percent).unwrap(), percent);
    }

    #[test]
    fn attachments_describe_who_holds_the_policy() {
        let a = Attachments {
            users: vec!["alice".into()],
            groups: vec![],
            roles: vec!["ops".into()],
        };
        assert_eq!(a.describe(), "user alice, role ops");
        assert!(Attachments::default().is_empty());
    }
}
