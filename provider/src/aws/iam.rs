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
use crate::policy::document::{MANAGED_POLICY_SIZE_LIMIT, policy_size, same_document};

/// The tag that marks a policy as managed by `jit_source_ip_policy` (and so prunable by `jitctl`).
pub const MANAGED_TAG_KEY: &str = "jit:managed";
pub const MANAGED_TAG_VALUE: &str = "source-ip-policy";
/// The tag that names the request that created a policy: a random value `jit_source_ip_policy`
/// draws for each create, so that after a lost `CreatePolicy` response it can prove that the
/// policy it finds under its name is the one its own request created (see the resource's
/// `create`).
pub const CREATE_ID_TAG_KEY: &str = "jit:create-id";
/// Tag keys with this prefix are jit's own.
pub const RESERVED_TAG_PREFIX: &str = "jit:";
/// IAM keeps at most this many versions of a managed policy.
pub const MAX_VERSIONS: usize = 5;
/// IAM allows this many tags per policy.
pub const MAX_TAGS: usize = 50;
/// IAM's longest tag key and value, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 128;
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// IAM's tag character set, `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: letters, separators (spaces), numbers
/// and `_ . : / = + - @`. Rust's `is_alphabetic` is a little wider than `\p{L}` (it adds
/// combining marks of some scripts); for keys jit writes and the values users give, the two agree.
fn legal_tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || "_.:/=+-@".contains(c)
}

/// Whether IAM accepts `key` as a tag key: 1-128 legal characters, not starting with `aws:`.
pub fn legal_tag_key(key: &str) -> bool {
    (1..=MAX_TAG_KEY_CHARS).contains(&key.chars().count())
        && key.chars().all(legal_tag_char)
        && !key.to_ascii_lowercase().starts_with("aws:")
}

/// Whether IAM accepts `value` as a tag value: at most 256 legal characters.
pub fn legal_tag_value(value: &str) -> bool {
    value.chars().count() <= MAX_TAG_VALUE_CHARS && value.chars().all(legal_tag_char)
}

/// Whether a failed write may still have been performed: no answer arrived (a timeout, a
/// dropped connection: no error code), or IAM failed on its side or throttled after the SDK's
/// retries (whose earlier attempts may have gone through). A definite refusal
/// (`MalformedPolicyDocument`, `AccessDenied`, …) means IAM did nothing.
pub fn may_have_acted(e: &AwsError) -> bool {
    match e.code() {
        None => true,
        Some(code) => matches!(
            code,
            "ServiceFailure"
                | "ServiceFailureException"
                | "ServiceUnavailable"
                | "InternalFailure"
                | "RequestTimeout"
                | "Throttling"
                | "ThrottlingException"
        ),
    }
}

/// IAM answers `LimitExceeded` for several quotas; only the message tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// "A managed policy can have up to 5 versions. …"
    Versions,
    /// "Cannot exceed quota for PolicySize: 6144"
    PolicySize { limit: usize },
    /// Another quota (tags per policy, policies per account): not one jit can work around.
    Other,
}

impl Limit {
    pub fn of(message: &str) -> Limit {
        if let Some((_, rest)) = message.split_once("PolicySize") {
            let digits: String = rest
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            Limit::PolicySize {
                limit: digits
                    .parse()
                    .unwrap_or(crate::policy::document::MANAGED_POLICY_SIZE_LIMIT),
            }
        } else if message.contains("versions") {
            Limit::Versions
        } else {
            Limit::Other
        }
    }
}

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

/// The most recently created version (by date, then by number).
fn newest(versions: &[VersionInfo]) -> Option<&VersionInfo> {
    versions.iter().max_by_key(|v| (v.created, v.number()))
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
    /// A policy with this name exists already (IAM `EntityAlreadyExists`). Also what a retried
    /// request answers when the first attempt created the policy and its response was lost.
    NameTaken,
    /// IAM's `LimitExceeded` for the document size.
    TooLarge {
        limit: usize,
    },
}

#[derive(Debug)]
pub enum CreateVersionOutcome {
    Created {
        version_id: String,
    },
    /// The policy has five versions already (IAM `LimitExceeded` about versions).
    VersionLimit,
    /// IAM's `LimitExceeded` for the document size.
    TooLarge {
        limit: usize,
    },
}

/// Why [`Policies::publish`] wrote nothing (or not all).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The document is over IAM's size quota; nothing was written (no version was deleted).
    #[error("the policy document has {} characters without whitespace; IAM allows {} for a managed policy ({} over)", jitlint::thousands(*size), jitlint::thousands(*limit), jitlint::thousands(size.saturating_sub(*limit)))]
    TooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Aws(#[from] AwsError),
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
    /// The customer managed policy called `name` at `path`, without tags; `None` if there is
    /// none.
    async fn find_local(&self, name: &str, path: &str) -> Result<Option<PolicyInfo>, AwsError>;
    /// Creates a version and makes it the default, in one call (`SetAsDefault`).
    async fn create_version(
        &self,
        arn: &str,
        document: &str,
    ) -> Result<CreateVersionOutcome, AwsError>;
    async fn set_default_version(&self, arn: &str, version_id: &str) -> Result<(), AwsError>;
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
            Err(e) if e.code() == Some("LimitExceeded") => {
                match Limit::of(e.message().unwrap_or_default()) {
                    Limit::PolicySize { limit } => Ok(CreatePolicyOutcome::TooLarge { limit }),
                    _ => Err(sdk_error("CreatePolicy", e)),
                }
            }
            Err(e) => Err(sdk_error("CreatePolicy", e)),
        }
    }

    async fn find_local(&self, name: &str, path: &str) -> Result<Option<PolicyInfo>, AwsError> {
        let mut pages = self
            .0
            .iam()
            .await
            .list_policies()
            .scope(PolicyScopeType::Local)
            .path_prefix(path)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("ListPolicies", e))?;
            if let Some(p) = page
                .policies()
                .iter()
                .find(|p| p.policy_name() == Some(name) && p.path() == Some(path))
            {
                return Ok(Some(info_from_sdk(p)));
            }
        }
        Ok(None)
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
            Err(e) if e.code() == Some("LimitExceeded") => {
                match Limit::of(e.message().unwrap_or_default()) {
                    Limit::Versions => Ok(CreateVersionOutcome::VersionLimit),
                    Limit::PolicySize { limit } => Ok(CreateVersionOutcome::TooLarge { limit }),
                    Limit::Other => Err(sdk_error("CreatePolicyVersion", e)),
                }
            }
            Err(e) => Err(sdk_error("CreatePolicyVersion", e)),
        }
    }

    async fn set_default_version(&self, arn: &str, version_id: &str) -> Result<(), AwsError> {
        self.0
            .iam()
            .await
            .set_default_policy_version()
            .policy_arn(arn)
            .version_id(version_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("SetDefaultPolicyVersion", e))
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

    /// The customer managed policy called `name` at `path` with its tags (from
    /// `ListPolicyTags`) and default document, read fresh; `None` if there is none.
    pub async fn find(&self, name: &str, path: &str) -> Result<Option<PolicyView>, AwsError> {
        let Some(found) = self.api.find_local(name, path).await? else {
            return Ok(None);
        };
        let tags = self.api.list_tags(&found.arn).await?;
        Ok(self.view_uncached(&found.arn).await?.map(|v| {
            let mut view = PolicyView::clone(&v);
            view.policy.tags = tags;
            view
        }))
    }

    /// Makes `document` the policy's default version, and is safe to run again after any
    /// failure, including a lost response or a kill between two of its calls:
    ///
    /// - a document over IAM's size quota is refused before anything is written, and IAM's own
    ///   size refusal (`LimitExceeded` about `PolicySize`) is reported as such, never taken for
    ///   the five-version limit;
    /// - if the newest version already holds the document (a `CreatePolicyVersion` whose
    ///   response was lost, here or in an earlier run), it is made the default instead of
    ///   creating another;
    /// - when five versions exist the oldest non-default one is deleted first, never the
    ///   default (IAM refuses that with `DeleteConflict`; if another writer made the victim the
    ///   default meanwhile, the versions are read again);
    /// - a `LimitExceeded` about versions (another writer took the slot, or a retried create
    ///   whose first attempt succeeded) starts over from reading the versions.
    pub async fn publish(&self, arn: &str, document: &str) -> Result<Published, PublishError> {
        let size = policy_size(document);
        if size > MANAGED_POLICY_SIZE_LIMIT {
            return Err(PublishError::TooLarge {
                size,
                limit: MANAGED_POLICY_SIZE_LIMIT,
            });
        }
        let _serial = self.cache.serialize(arn).await;
        let mut deleted = Vec::new();
        for _ in 0..PUBLISH_ATTEMPTS {
            let versions = self.api.list_versions(arn).await?;
            if let Some(newest) = newest(&versions)
                && self
                    .api
                    .get_document(arn, &newest.version_id)
                    .await?
                    .is_some_and(|d| same_document(&d, document))
            {
                if !newest.is_default {
                    self.write(arn, self.api.set_default_version(arn, &newest.version_id))
                        .await?;
                }
                return Ok(Published {
                    version_id: newest.version_id.clone(),
                    deleted,
                });
            }
            if versions.len() >= MAX_VERSIONS {
                let victim = oldest_deletable(&versions).ok_or_else(|| AwsError::Call {
                    operation: "DeletePolicyVersion",
                    code: None,
                    message: format!(
                        "{arn} has {} versions and none of them can be deleted",
                        versions.len()
                    ),
                })?;
                match self
                    .write(arn, self.api.delete_version(arn, &victim.version_id))
                    .await
                {
                    Ok(()) => deleted.push(victim.version_id.clone()),
                    Err(e) if e.code() == Some("DeleteConflict") => continue,
                    Err(e) => return Err(e.into()),
                }
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
                CreateVersionOutcome::VersionLimit => continue,
                CreateVersionOutcome::TooLarge { limit } => {
                    return Err(PublishError::TooLarge { size, limit });
                }
            }
        }
        Err(AwsError::Call {
            operation: "CreatePolicyVersion",
            code: Some("LimitExceeded".into()),
            message: format!(
                "{arn} was back at five versions {PUBLISH_ATTEMPTS} times in a row; another tool is creating versions at the same time. Try again"
            ),
        }
        .into())
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

/// An in-memory IAM for unit tests (here, in the resource and in `jitctl`), as strict as AWS
/// where jit meets it: five versions at most, the default version can't be deleted, a policy
/// with other versions or attachments can't be deleted (`DeleteConflict`), documents over
/// 6,144 characters without whitespace are refused, `LimitExceeded` carries AWS's message for
/// each quota, tags must use IAM's character set and lengths and number at most 50, a taken
/// name is `EntityAlreadyExists`, and documents come back URL-encoded as AWS sends them (moto
/// sends them plain).
///
/// [`FakeIam::lose`] makes one write "lose" its response: IAM performs it, then the caller sees
/// a timeout ([`Loss::Timeout`]), or what the SDK's retry of the same request answers
/// ([`Loss::Retried`]: the write is performed twice, and the second answer is returned).
#[cfg(test)]
pub(crate) mod fake {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub(crate) const ARN: &str = "arn:aws:iam::123456789012:policy/p";

    /// How a write's response goes missing.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Loss {
        /// Performed, then the caller gets a timeout.
        Timeout,
        /// Performed, then performed again (the SDK's retry), and the caller gets the second
        /// answer.
        Retried,
    }

    #[derive(Default)]
    pub(crate) struct FakeIam {
        pub(crate) state: Mutex<FakeState>,
        /// Versions "another tool" creates right before each of our CreatePolicyVersion calls.
        pub(crate) interlopers: AtomicUsize,
        pub(crate) get_policy_calls: AtomicUsize,
        /// Responses to lose, by operation name, in order.
        losses: Mutex<Vec<(&'static str, Loss)>>,
        /// Every write performed, by operation name (twice for a retried one).
        pub(crate) writes: Mutex<Vec<&'static str>>,
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

    fn error(operation: &'static str, code: &str, message: impl Into<String>) -> AwsError {
        AwsError::Call {
            operation,
            code: Some(code.into()),
            message: message.into(),
        }
    }

    fn timeout(operation: &'static str) -> AwsError {
        AwsError::Call {
            operation,
            code: None,
            message: "dispatch failure: timeout: the response did not arrive".into(),
        }
    }

    /// IAM's checks on a set of tags, as `TagPolicy` and `CreatePolicy` apply them.
    fn check_tags(
        operation: &'static str,
        tags: &BTreeMap<String, String>,
        total: usize,
    ) -> Result<(), AwsError> {
        for (i, (k, v)) in tags.iter().enumerate() {
            if !legal_tag_key(k) {
                return Err(error(
                    operation,
                    "ValidationError",
                    format!(
                        "1 validation error detected: Value '{k}' at 'tags.{}.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]+",
                        i + 1
                    ),
                ));
            }
            if !legal_tag_value(v) {
                return Err(error(
                    operation,
                    "ValidationError",
                    format!(
                        "1 validation error detected: Value '{v}' at 'tags.{}.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*",
                        i + 1
                    ),
                ));
            }
        }
        if total > MAX_TAGS {
            return Err(error(
                operation,
                "LimitExceeded",
                format!("Cannot exceed quota for TagsPerPolicy: {MAX_TAGS}"),
            ));
        }
        Ok(())
    }

    /// IAM's answer to a document over the size quota, as the SDK implementation classifies it.
    fn too_large(document: &str) -> Option<usize> {
        let answer = format!("Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE_LIMIT}");
        match Limit::of(&answer) {
            Limit::PolicySize { limit } if policy_size(document) > limit => Some(limit),
            _ => None,
        }
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

        /// The policy's tags.
        pub(crate) fn tags(&self) -> BTreeMap<String, String> {
            self.policy.as_ref().expect("a policy").tags.clone()
        }

        /// A version's document, decoded.
        pub(crate) fn version_document(&self, id: &str) -> Option<String> {
            self.versions
                .iter()
                .find(|(v, _)| v.version_id == id)
                .map(|(_, d)| decode_document(d).expect("decodes"))
        }

        /// The default version's document, decoded.
        pub(crate) fn document(&self) -> String {
            let default = &self.policy.as_ref().expect("a policy").default_version_id;
            self.version_document(default).expect("a default version")
        }

        fn create_policy(&mut self, new: &NewPolicy) -> Result<CreatePolicyOutcome, AwsError> {
            if self.policy.is_some() {
                return Ok(CreatePolicyOutcome::NameTaken);
            }
            check_tags("CreatePolicy", &new.tags, new.tags.len())?;
            if let Some(limit) = too_large(&new.document) {
                return Ok(CreatePolicyOutcome::TooLarge { limit });
            }
            self.policy = Some(PolicyInfo {
                arn: format!("arn:aws:iam::123456789012:policy{}{}", new.path, new.name),
                name: new.name.clone(),
                policy_id: "ANPAEXAMPLE".into(),
                path: new.path.clone(),
                description: new.description.clone(),
                default_version_id: String::new(),
                attachment_count: Some(0),
                tags: new.tags.clone(),
            });
            self.add_version(&new.document, true).expect("room for v1");
            Ok(CreatePolicyOutcome::Created(
                self.policy.clone().expect("just created"),
            ))
        }

        fn create_version(&mut self, document: &str) -> Result<CreateVersionOutcome, AwsError> {
            if self.policy.is_none() {
                return Err(error(
                    "CreatePolicyVersion",
                    "NoSuchEntity",
                    "Policy not found",
                ));
            }
            if self.versions.len() >= MAX_VERSIONS {
                return Ok(CreateVersionOutcome::VersionLimit);
            }
            if let Some(limit) = too_large(document) {
                return Ok(CreateVersionOutcome::TooLarge { limit });
            }
            let version_id = self.add_version(document, true).expect("room checked");
            Ok(CreateVersionOutcome::Created { version_id })
        }

        fn delete_version(&mut self, id: &str) -> Result<(), AwsError> {
            if self
                .versions
                .iter()
                .any(|(v, _)| v.version_id == id && v.is_default)
            {
                return Err(error(
                    "DeletePolicyVersion",
                    "DeleteConflict",
                    "Cannot delete the default version of a policy.",
                ));
            }
            // A missing version is NoSuchEntity, which the SDK implementation treats as done.
            self.versions.retain(|(v, _)| v.version_id != id);
            Ok(())
        }

        fn set_default_version(&mut self, id: &str) -> Result<(), AwsError> {
            if !self.versions.iter().any(|(v, _)| v.version_id == id) {
                return Err(error(
                    "SetDefaultPolicyVersion",
                    "NoSuchEntity",
                    format!("Policy version {id} does not exist."),
                ));
            }
            for (v, _) in &mut self.versions {
                v.is_default = v.version_id == id;
            }
            self.policy.as_mut().expect("a policy").default_version_id = id.into();
            Ok(())
        }

        fn delete_policy(&mut self) -> Result<(), AwsError> {
            if self.policy.is_none() {
                return Ok(()); // NoSuchEntity, which the SDK implementation treats as done
            }
            if !self.attachments.is_empty() {
                return Err(error(
                    "DeletePolicy",
                    "DeleteConflict",
                    "Cannot delete a policy attached to entities.",
                ));
            }
            if self.versions.len() > 1 {
                return Err(error(
                    "DeletePolicy",
                    "DeleteConflict",
                    "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
                ));
            }
            self.policy = None;
            self.versions.clear();
            Ok(())
        }

        fn tag(&mut self, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
            let p = self
                .policy
                .as_ref()
                .ok_or_else(|| error("TagPolicy", "NoSuchEntity", "Policy not found"))?;
            let total = p
                .tags
                .keys()
                .chain(tags.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            check_tags("TagPolicy", tags, total)?;
            let p = self.policy.as_mut().expect("checked");
            p.tags
                .extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            Ok(())
        }

        fn untag(&mut self, keys: &[String]) -> Result<(), AwsError> {
            let p = self
                .policy
                .as_mut()
                .ok_or_else(|| error("UntagPolicy", "NoSuchEntity", "Policy not found"))?;
            p.tags.retain(|k, _| !keys.contains(k));
            Ok(())
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

        /// The next `operation` (`CreatePolicy`, `CreatePolicyVersion`, …) loses its response.
        pub(crate) fn lose(&self, operation: &'static str, loss: Loss) {
            self.losses.lock().unwrap().push((operation, loss));
        }

        pub(crate) fn writes(&self) -> Vec<&'static str> {
            self.writes.lock().unwrap().clone()
        }

        /// Performs a write under the state lock, losing its response if asked to.
        fn perform<T>(
            &self,
            operation: &'static str,
            write: impl Fn(&mut FakeState) -> Result<T, AwsError>,
        ) -> Result<T, AwsError> {
            let loss = {
                let mut losses = self.losses.lock().unwrap();
                losses
                    .iter()
                    .position(|(op, _)| *op == operation)
                    .map(|i| losses.remove(i).1)
            };
            let mut st = self.state.lock().unwrap();
            self.writes.lock().unwrap().push(operation);
            let first = write(&mut st);
            match loss {
                None => first,
                Some(Loss::Timeout) => Err(timeout(operation)),
                Some(Loss::Retried) => {
                    self.writes.lock().unwrap().push(operation);
                    write(&mut st)
                }
            }
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
            Ok(self.state.lock().unwrap().version_document(id))
        }
        async fn list_versions(&self, _: &str) -> Result<Vec<VersionInfo>, AwsError> {
            let st = self.state.lock().unwrap();
            Ok(st.versions.iter().map(|(v, _)| v.clone()).collect())
        }
        async fn create_policy(&self, new: &NewPolicy) -> Result<CreatePolicyOutcome, AwsError> {
            self.perform("CreatePolicy", |st| st.create_policy(new))
        }
        async fn find_local(&self, name: &str, path: &str) -> Result<Option<PolicyInfo>, AwsError> {
            let st = self.state.lock().unwrap();
            Ok(st
                .policy
                .clone()
                .filter(|p| p.name == name && p.path == path)
                .map(|p| PolicyInfo {
                    tags: BTreeMap::new(), // IAM's list omits tags
                    ..p
                }))
        }
        async fn create_version(
            &self,
            _: &str,
            document: &str,
        ) -> Result<CreateVersionOutcome, AwsError> {
            if self
                .interlopers
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                let _ = self
                    .state
                    .lock()
                    .unwrap()
                    .add_version("{\"by\":\"someone else\"}", false);
            }
            self.perform("CreatePolicyVersion", |st| st.create_version(document))
        }
        async fn set_default_version(&self, _: &str, id: &str) -> Result<(), AwsError> {
            self.perform("SetDefaultPolicyVersion", |st| st.set_default_version(id))
        }
        async fn delete_version(&self, _: &str, id: &str) -> Result<(), AwsError> {
            self.perform("DeletePolicyVersion", |st| st.delete_version(id))
        }
        async fn delete_policy(&self, _: &str) -> Result<(), AwsError> {
            self.perform("DeletePolicy", FakeState::delete_policy)
        }
        async fn attachments(&self, _: &str) -> Result<Attachments, AwsError> {
            Ok(self.state.lock().unwrap().attachments.clone())
        }
        async fn tag(&self, _: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
            self.perform("TagPolicy", |st| st.tag(tags))
        }
        async fn untag(&self, _: &str, keys: &[String]) -> Result<(), AwsError> {
            self.perform("UntagPolicy", |st| st.untag(keys))
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
    use super::fake::{ARN, FakeIam, Loss};
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
    fn limit_exceeded_is_told_apart_by_its_message() {
        assert_eq!(
            Limit::of(
                "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version."
            ),
            Limit::Versions
        );
        assert_eq!(
            Limit::of("Cannot exceed quota for PolicySize: 6144"),
            Limit::PolicySize { limit: 6144 }
        );
        assert_eq!(
            Limit::of("Cannot exceed quota for TagsPerPolicy: 50"),
            Limit::Other
        );
    }

    /// A policy with the default `{"v":1}` and `n` newer versions that are not the default.
    fn with_versions(n: usize) -> Arc<FakeIam> {
        let fake = FakeIam::with_policy();
        {
            let mut st = fake.state.lock().unwrap();
            for i in 0..n {
                st.add_version(&format!("{{\"old\":{i}}}"), false).unwrap();
            }
        }
        fake
    }

    #[tokio::test]
    async fn a_retried_create_at_the_limit_takes_the_version_it_made() {
        // The first attempt takes the fifth slot and its response is lost; the SDK's retry
        // gets LimitExceeded about versions. Nothing is deleted, nothing is made twice.
        let fake = with_versions(3);
        fake.lose("CreatePolicyVersion", Loss::Retried);
        let policies = Policies::new(fake.clone());
        let out = policies.publish(ARN, "{\"ours\":1}").await.unwrap();
        let st = fake.state.lock().unwrap();
        assert_eq!(st.ids(), ["v1", "v2", "v3", "v4", "v5"]);
        assert_eq!(
            out,
            Published {
                version_id: "v5".into(),
                deleted: vec![]
            }
        );
        assert_eq!(st.document(), "{\"ours\":1}");
    }

    #[tokio::test]
    async fn a_retried_create_with_room_never_goes_past_five_versions() {
        let fake = with_versions(2);
        fake.lose("CreatePolicyVersion", Loss::Retried);
        let policies = Policies::new(fake.clone());
        policies.publish(ARN, "{\"ours\":1}").await.unwrap();
        assert_eq!(
            fake.state.lock().unwrap().ids().len(),
            5,
            "a duplicate, at most"
        );
        let out = policies.publish(ARN, "{\"ours\":2}").await.unwrap();
        let st = fake.state.lock().unwrap();
        assert_eq!(out.deleted, ["v1"], "the oldest, no longer the default");
        assert_eq!(st.versions.len(), 5);
        assert_eq!(st.document(), "{\"ours\":2}");
    }

    #[tokio::test]
    async fn a_lost_response_is_not_written_again() {
        let fake = with_versions(1);
        fake.lose("CreatePolicyVersion", Loss::Timeout);
        let policies = Policies::new(fake.clone());
        policies.publish(ARN, "{\"ours\":1}").await.unwrap_err();
        assert_eq!(fake.state.lock().unwrap().ids(), ["v1", "v2", "v3"]);
        // The caller tries again (the next apply, or jitctl run again): the newest version is
        // the document already.
        let out = policies.publish(ARN, "{\"ours\":1}").await.unwrap();
        assert_eq!(out.version_id, "v3");
        assert_eq!(fake.state.lock().unwrap().ids(), ["v1", "v2", "v3"]);
    }

    #[tokio::test]
    async fn a_newest_version_left_non_default_is_made_the_default() {
        // What a kill between creating a version and making it the default would leave (or a
        // version someone prepared by hand with the same document).
        let fake = with_versions(4);
        fake.state
            .lock()
            .unwrap()
            .versions
            .retain(|(v, _)| v.version_id != "v5");
        fake.state
            .lock()
            .unwrap()
            .add_version("{\"ours\":1}", false)
            .unwrap();
        let policies = Policies::new(fake.clone());
        let out = policies.publish(ARN, "{\"ours\":1}").await.unwrap();
        assert_eq!(
            out,
            Published {
                version_id: "v6".into(),
                deleted: vec![]
            }
        );
        let st = fake.state.lock().unwrap();
        assert_eq!(st.ids(), ["v1", "v2", "v3", "v4", "v6"]);
        assert_eq!(st.document(), "{\"ours\":1}");
        assert_eq!(fake.writes(), ["SetDefaultPolicyVersion"]);
    }

    #[tokio::test]
    async fn an_oversized_document_is_refused_before_anything_is_deleted() {
        let fake = with_versions(4);
        let policies = Policies::new(fake.clone());
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(MANAGED_POLICY_SIZE_LIMIT));
        let err = policies.publish(ARN, &big).await.unwrap_err();
        assert!(
            matches!(err, PublishError::TooLarge { size, limit }
                if size == MANAGED_POLICY_SIZE_LIMIT + 8 && limit == MANAGED_POLICY_SIZE_LIMIT),
            "{err:?}"
        );
        assert!(err.to_string().contains("(8 over)"), "{err}");
        assert_eq!(fake.state.lock().unwrap().ids().len(), 5);
        assert!(fake.writes().is_empty());
    }

    #[tokio::test]
    async fn lost_delete_and_tag_responses_are_harmless() {
        let fake = with_versions(4);
        fake.lose("DeletePolicyVersion", Loss::Retried);
        fake.lose("TagPolicy", Loss::Retried);
        let policies = Policies::new(fake.clone());
        let out = policies.publish(ARN, "{\"ours\":1}").await.unwrap();
        assert_eq!(out.deleted, ["v2"]);
        let managed = BTreeMap::from([(MANAGED_TAG_KEY.into(), MANAGED_TAG_VALUE.into())]);
        policies.set_tags(ARN, &managed, &[]).await.unwrap();
        assert_eq!(
            fake.writes(),
            [
                "DeletePolicyVersion",
                "DeletePolicyVersion",
                "CreatePolicyVersion",
                "TagPolicy",
                "TagPolicy"
            ]
        );
        assert_eq!(fake.state.lock().unwrap().versions.len(), 5);
    }

    #[tokio::test]
    async fn the_fake_refuses_tags_and_deletes_as_iam_does() {
        let fake = FakeIam::with_policy();
        let one = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        let err = fake
            .tag(ARN, &one("jit:revoked:203.0.113.7/32", "x=1;e=2"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationError"), "{err}");
        let err = fake.tag(ARN, &one("aws:owner", "me")).await.unwrap_err();
        assert_eq!(err.code(), Some("ValidationError"), "{err}");
        fake.tag(ARN, &one("jit:revoked:2001:db8::/64", "x=1 e=2"))
            .await
            .unwrap();
        let many: BTreeMap<String, String> = (0..50)
            .map(|i| (format!("t{i}"), "v".to_string()))
            .collect();
        let err = fake.tag(ARN, &many).await.unwrap_err();
        assert_eq!(err.code(), Some("LimitExceeded"), "{err}");
        assert_eq!(Limit::of(&err.to_string()), Limit::Other);

        fake.state
            .lock()
            .unwrap()
            .add_version("{\"v\":2}", false)
            .unwrap();
        let err = fake.delete_policy(ARN).await.unwrap_err();
        assert_eq!(err.code(), Some("DeleteConflict"), "{err}");
        let err = fake.delete_version(ARN, "v1").await.unwrap_err();
        assert_eq!(err.code(), Some("DeleteConflict"), "{err}");
        Policies::new(fake.clone()).delete(ARN).await.unwrap();
        assert!(fake.state.lock().unwrap().policy.is_none());
    }

    #[test]
    fn iam_tag_characters() {
        for ok in [
            "jit:revoked:2001:db8::/64",
            "team",
            "Kostenstelle Ä",
            "a_b.c:d/e=f+g-h@i",
        ] {
            assert!(legal_tag_key(ok), "{ok}");
        }
        let long = "k".repeat(129);
        for bad in ["", "a;b", "tab\there", "aws:x", "AWS:x", long.as_str()] {
            assert!(!legal_tag_key(bad), "{bad:?}");
        }
        assert!(legal_tag_value(""));
        assert!(legal_tag_value("x=1764612000 e=1764640800"));
        assert!(!legal_tag_value("x=1764612000;e=1764640800"));
        assert!(!legal_tag_value(&"v".repeat(MAX_TAG_VALUE_CHARS + 1)));
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
