//! Client VPN grants: create, update, remove, revoke and sweep, over [`ClientVpns`].
//!
//! A Client VPN grant is nothing but its tag on the endpoint (the client-connect handler admits a
//! connection while an active tag matches it), so the protocol is short, and every step is
//! idempotent under retries:
//!
//! | write | a lost response or a crash leaves | recovery |
//! |---|---|---|
//! | create: `CreateTags` of the grant's own key | the tag, unknown to the caller | a re-read finds the identical tag and adopts it |
//! | update: re-read, then `CreateTags` | the old or the new value | a revoke marker seen on the re-read is kept, never cleared |
//! | remove: `DeleteTags` of the grant's own key, then its connections terminated | a tag gone with connections still up | the next sweep terminates connections whose grants have ended or are gone |
//! | revoke: the marker first, then the connections terminated | a marked grant with connections up | the handler already refuses it; the next revoke or sweep terminates them |
//!
//! Connections are terminated by connection id, and only those every jit grant status of which
//! names a grant that has ended (expired, revoked or removed): a connection admitted by a live
//! grant, by a standing range, or by something else than jit is left alone.

use time::OffsetDateTime;

use crate::aws::client_vpn::{AwsError, ClientConnection, ClientVpns};
use crate::grant::client_vpn::{Grant, Record, State};
use crate::grant::{GrantId, TAGS_PER_RESOURCE_MAX};

/// Why a grant could not be created. Nothing was left behind unless the error says it may have.
#[derive(Debug)]
pub enum CreateError {
    EndpointMissing,
    /// The endpoint carries 50 tags already (AWS's limit).
    TagsFull,
    /// The tag write failed; it may still have landed (its outcome is unknown).
    Aws(AwsError),
}

impl CreateError {
    pub fn message(&self, endpoint: &str) -> String {
        match self {
            CreateError::EndpointMissing => {
                format!("Client VPN endpoint {endpoint} does not exist in this account and region")
            }
            CreateError::TagsFull => format!(
                "Client VPN endpoint {endpoint} already carries {TAGS_PER_RESOURCE_MAX} tags, AWS's limit per resource, and each grant is one tag; remove expired grants (`jitctl sweep`) or other tags"
            ),
            CreateError::Aws(e) => format!(
                "could not write the grant's tag on {endpoint}: {e}. If it landed anyway, it is the grant's own key: the next apply adopts or replaces it, and the sweep removes it at its expiry"
            ),
        }
    }
}

/// The endpoint read right before a decision that leads to a write.
async fn fresh(
    vpns: &ClientVpns,
    endpoint: &str,
) -> Result<Option<std::sync::Arc<crate::aws::client_vpn::EndpointView>>, (String, AwsError)> {
    vpns.view_uncached(endpoint)
        .await
        .map_err(|e| (format!("read Client VPN endpoint {endpoint}"), e))
}

/// Creates the grant: one tag, keyed by the grant's own id. A failed write whose outcome is
/// unknown (a lost response) is checked by re-reading: an identical tag is adopted.
pub async fn create(vpns: &ClientVpns, endpoint: &str, record: &Record) -> Result<(), CreateError> {
    let key = record.tag_key();
    let value = record.tag_value();
    let view = vpns
        .view_uncached(endpoint)
        .await
        .map_err(CreateError::Aws)?
        .ok_or(CreateError::EndpointMissing)?;
    if !view.tags.contains_key(&key) && view.tags.len() >= TAGS_PER_RESOURCE_MAX {
        return Err(CreateError::TagsFull);
    }
    let Err(error) = vpns.put_tag(endpoint, &key, &value).await else {
        return Ok(());
    };
    if error.code() == Some("TagLimitExceeded") {
        return Err(CreateError::TagsFull);
    }
    if error.code() == Some(crate::aws::client_vpn::ENDPOINT_NOT_FOUND) {
        return Err(CreateError::EndpointMissing);
    }
    match vpns.view_uncached(endpoint).await {
        Ok(Some(v)) if v.tags.get(&key) == Some(&value) => Ok(()),
        _ => Err(CreateError::Aws(error)),
    }
}

/// The result of an in-place update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated {
    Written(Record),
    /// `jitctl revoke` marked the grant meanwhile: nothing was written, the marker stays.
    Revoked(OffsetDateTime),
}

/// Rewrites grant `id`'s tag with `grant` (a new TTL, reason or requester, or the tag written
/// again after it vanished). Re-reads it first, so a revoke marker written since the plan is
/// never cleared.
pub async fn update(
    vpns: &ClientVpns,
    endpoint: &str,
    id: &GrantId,
    grant: &Grant,
) -> Result<Updated, (String, AwsError)> {
    let view = fresh(vpns, endpoint).await?.unwrap_or_default();
    if let Some(at) = view
        .records()
        .0
        .iter()
        .find(|r| &r.id == id)
        .and_then(|r| r.grant.revoked_at)
    {
        return Ok(Updated::Revoked(at));
    }
    let record = Record {
        id: id.clone(),
        grant: Grant {
            revoked_at: None,
            ..grant.clone()
        },
    };
    vpns.put_tag(endpoint, &record.tag_key(), &record.tag_value())
        .await
        .map_err(|e| ("write the grant's tag".to_string(), e))?;
    Ok(Updated::Written(record))
}

/// The grant ids a connection's posture-compliance statuses name (jit's handler puts the
/// admitting grant's id there).
pub fn admitted_by(connection: &ClientConnection) -> Vec<GrantId> {
    connection
        .posture_compliance_statuses
        .iter()
        .filter_map(|s| GrantId::parse(s).filter(|id| !id.is_legacy()))
        .collect()
}

/// Whether a connection should be ended: it is active, a jit grant admitted it, and every jit
/// grant it names has ended (expired, revoked, or no longer recorded on the endpoint).
pub fn only_ended_grants_admitted(
    connection: &ClientConnection,
    records: &[Record],
    now: OffsetDateTime,
) -> bool {
    let ids = admitted_by(connection);
    connection.active
        && !ids.is_empty()
        && ids.iter().all(|id| {
            records
                .iter()
                .find(|r| &r.id == id)
                .is_none_or(|r| r.grant.state(now) != State::Active)
        })
}

/// A connection `terminate_ended` ended, or tried to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    pub connection_id: String,
    pub username: String,
    pub common_name: String,
    /// The grants that had admitted it.
    pub grants: Vec<GrantId>,
    /// Why the termination failed, if it did.
    pub error: Option<String>,
}

/// Terminates, by connection id, every active connection of `endpoint` that only ended grants
/// admitted (see [`only_ended_grants_admitted`]), deciding on a fresh read of the endpoint's
/// grants. With `only`, just the connections that grant admitted. With `dry_run`, reports what
/// it would terminate.
pub async fn terminate_ended(
    vpns: &ClientVpns,
    endpoint: &str,
    now: OffsetDateTime,
    only: Option<&GrantId>,
    dry_run: bool,
) -> Result<Vec<Termination>, (String, AwsError)> {
    let records = fresh(vpns, endpoint)
        .await?
        .map(|v| v.records().0)
        .unwrap_or_default();
    let connections = vpns
        .connections(endpoint)
        .await
        .map_err(|e| (format!("list the connections of {endpoint}"), e))?;
    let mut out = Vec::new();
    for c in connections {
        let grants = admitted_by(&c);
        if !only_ended_grants_admitted(&c, &records, now)
            || only.is_some_and(|id| !grants.contains(id))
        {
            continue;
        }
        let error = if dry_run {
            None
        } else {
            vpns.terminate(endpoint, &c.connection_id)
                .await
                .err()
                .map(|e| e.to_string())
        };
        out.push(Termination {
            connection_id: c.connection_id,
            username: c.username,
            common_name: c.common_name,
            grants,
            error,
        });
    }
    Ok(out)
}

/// Removes grant `id` (destroy, expiry at apply): deletes its own tag by key (nobody else
/// writes that key; already gone is done), then terminates the connections it alone admitted.
pub async fn remove(
    vpns: &ClientVpns,
    endpoint: &str,
    id: &GrantId,
    now: OffsetDateTime,
) -> Result<Vec<Termination>, (String, AwsError)> {
    match vpns
        .delete_tag(endpoint, &crate::grant::record::tag_key(id), None)
        .await
    {
        Ok(()) => {}
        // The endpoint is gone, and with it every tag and connection.
        Err(e) if e.code() == Some(crate::aws::client_vpn::ENDPOINT_NOT_FOUND) => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(("delete the grant's tag".to_string(), e)),
    }
    terminate_ended(vpns, endpoint, now, Some(id), false).await
}

/// Whether the sweep removes a grant's tag: once it has expired (a revoke marker stays until
/// the grant's original expiry, so Terraform keeps reporting it revoked until then).
pub fn sweep_removes(record: &Record, now: OffsetDateTime) -> bool {
    crate::grant::lifecycle::has_ended(record.grant.expires_at, now)
}

/// What `revoke` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeOutcome {
    pub record: Record,
    pub revoked_at: OffsetDateTime,
    pub already: bool,
    pub terminated: Vec<Termination>,
}

/// Ends grant `id` now: marks its tag revoked (the handler refuses it from then on), then
/// terminates the connections it admitted. The marker goes first, so a revoke cut short leaves a
/// revoked grant whose connections the next revoke or sweep ends.
pub async fn revoke(
    vpns: &ClientVpns,
    endpoint: &str,
    record: &Record,
    now: OffsetDateTime,
) -> Result<RevokeOutcome, String> {
    let already = record.grant.revoked_at.is_some();
    let revoked_at = record.grant.revoked_at.unwrap_or(now);
    let marked = Record {
        grant: Grant {
            revoked_at: Some(revoked_at),
            ..record.grant.clone()
        },
        ..record.clone()
    };
    if !already {
        vpns.put_tag(endpoint, &marked.tag_key(), &marked.tag_value())
            .await
            .map_err(|e| format!("could not write the revoke marker: {e}; nothing was changed and the grant is still open"))?;
    }
    let terminated = terminate_ended(vpns, endpoint, now, Some(&record.id), false)
        .await
        .map_err(|(step, e)| {
            format!("the revoke marker is written (the handler refuses new connections), but could not {step}: {e}; connections may still be up. Run the revoke again")
        })?;
    if let Some(failed) = terminated.iter().find(|t| t.error.is_some()) {
        return Err(format!(
            "the revoke marker is written (the handler refuses new connections), but connection {} could not be terminated: {}. Run the revoke again",
            failed.connection_id,
            failed.error.as_deref().unwrap_or_default()
        ));
    }
    Ok(RevokeOutcome {
        record: marked,
        revoked_at,
        already,
        terminated,
    })
}

#[cfg(test)]
mod tests;
