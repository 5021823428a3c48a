//! `jitctl`: see, sweep and revoke jit grants without a Terraform run.
//!
//! A library behind two thin binaries: `jitctl` (the command line) and `jitctl-lambda` (the same
//! sweep as an AWS Lambda handler on a schedule). It reaches AWS through the provider's own
//! [`Nacls`] and [`Policies`] layers, and reads grants with the provider's formats
//! ([`crate::grant`], [`crate::policy`]), so what `jitctl` removes or revokes is exactly what the
//! provider then reads back.
//!
//! - [`acl`]: classification of network-ACL grants, and list / sweep / revoke over them.
//! - [`policy`]: the same for temporary CIDRs of `jit_source_ip_policy` policies.
//! - [`client_vpn`]: the same for `jit_client_vpn_grant` grants on Client VPN endpoints.
//! - [`output`]: the `table` and `json` renderings.
//! - [`lambda`]: the scheduled-event handler.
//! - [`target`]: what every operation works on: a region's AWS layers, jit's rule-number range.

pub mod acl;
pub mod client_vpn;
pub mod lambda;
pub mod output;
pub mod policy;
pub mod target;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::aws::client_vpn::{ClientVpns, SdkClientVpn};
use crate::aws::iam::{Policies, SdkIam};
use crate::aws::nacl::{Nacls, SdkNacl};
use crate::aws::{Connection, LazyClients, Repeat};

pub use target::{RuleRange, Target};

/// Environment variable with the log level (`error`, `warn`, `info`, `debug`, `trace`).
pub const LOG_ENV: &str = "JITCTL_LOG";

/// What `jitctl list` shows.
#[derive(Debug, Default)]
pub struct Inventory {
    pub acls: Vec<acl::Row>,
    pub policies: Vec<policy::PolicyRow>,
    pub client_vpn: Vec<client_vpn::Row>,
    /// (region or `global`, message) for what could not be read.
    pub errors: Vec<(String, String)>,
    /// (region or `global`, message) for what was skipped on purpose.
    pub warnings: Vec<(String, String)>,
}

/// Lists network-ACL grants in every region, and jit policies' temporary ranges once.
pub async fn list_all(targets: &[Target], now: OffsetDateTime, range: RuleRange) -> Inventory {
    let mut inv = Inventory::default();
    for t in targets {
        match acl::list(t, now, range).await {
            Ok(rows) => inv.acls.extend(rows),
            Err(e) => inv.errors.push((t.region.clone(), e)),
        }
        match client_vpn::list(t, now).await {
            Ok(rows) => inv.client_vpn.extend(rows),
            Err(e) if e.denied => inv.warnings.push((t.region.clone(), e.message)),
            Err(e) => inv.errors.push((t.region.clone(), e.message)),
        }
    }
    if let Some(t) = targets.first() {
        match policy::list(&t.policies, now).await {
            Ok(rows) => inv.policies = rows,
            Err(e) if e.denied => inv.warnings.push((policy::GLOBAL.into(), e.message)),
            Err(e) => inv.errors.push((policy::GLOBAL.into(), e.message)),
        }
    }
    inv
}

/// Sweeps network-ACL grants in every region, and jit policies once.
pub async fn sweep_all(
    targets: &[Target],
    now: OffsetDateTime,
    dry_run: bool,
    scope: acl::SweepScope,
) -> Vec<acl::SweepResult> {
    let mut results = Vec::new();
    for t in targets {
        results.extend(acl::sweep(t, now, dry_run, scope).await);
        results.extend(client_vpn::sweep(t, now, dry_run).await);
    }
    if let Some(t) = targets.first() {
        results.extend(policy::sweep(&t.policies, now, dry_run).await);
    }
    results
}

/// Revokes one grant: `acl-…:ingress:200`, `acl-…:<grant id>`, `cvpn-endpoint-…:<grant id>`, or
/// `<policy arn>#<cidr>`.
pub async fn revoke(
    target: &Target,
    id: &str,
    now: OffsetDateTime,
) -> Result<acl::Revoked, String> {
    if id.starts_with("arn:") {
        policy::revoke(&target.policies, id, now).await
    } else if id.starts_with("cvpn-endpoint-") {
        client_vpn::revoke(target, id, now).await
    } else {
        acl::revoke(target, id, now).await
    }
}

/// Where and as whom to reach AWS; everything optional, as for the provider.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Regions to work on; empty means the region of the standard chain (`AWS_REGION`, profile).
    pub regions: Vec<String>,
    pub profile: Option<String>,
    /// One endpoint for every service (a local AWS); `AWS_ENDPOINT_URL` also works.
    pub endpoint_url: Option<String>,
}

/// Builds one [`Target`] per region. Credentials are resolved at the first request.
pub async fn connect(opts: &ConnectOptions) -> Result<Vec<Target>, String> {
    if let Some(url) = &opts.endpoint_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(format!(
            "--endpoint-url {url:?} is not a URL; use e.g. \"https://ec2.us-east-1.amazonaws.com\""
        ));
    }
    let mut regions: Vec<Option<String>> = Vec::new();
    for r in &opts.regions {
        if !regions.contains(&Some(r.clone())) {
            regions.push(Some(r.clone()));
        }
    }
    if regions.is_empty() {
        regions.push(None);
    }
    let mut targets = Vec::new();
    for region in regions {
        let connection = Connection {
            region,
            profile: opts.profile.clone(),
            ec2_endpoint: opts.endpoint_url.clone(),
            iam_endpoint: opts.endpoint_url.clone(),
        };
        let clients = connection.clients().await;
        let Some(region) = clients.ec2.config().region().map(|r| r.to_string()) else {
            return Err(
                "no AWS region: pass --region, or set AWS_REGION or a region in the profile".into(),
            );
        };
        let clients = LazyClients::ready(clients);
        targets.push(Target {
            region,
            nacls: Nacls::new(Arc::new(SdkNacl(clients.clone())), Repeat::from_env()),
            client_vpns: ClientVpns::new(Arc::new(SdkClientVpn(clients.clone()))),
            policies: Policies::new(Arc::new(SdkIam(clients))),
        });
    }
    Ok(targets)
}

/// Logs to stderr (plain text for people, JSON lines for CloudWatch), at the level in
/// [`LOG_ENV`] or `default`. The AWS SDK's own logs stay at warnings.
pub fn init_logging(json: bool, default: tracing::level_filters::LevelFilter) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = std::env::var(LOG_ENV)
        .ok()
        .and_then(|l| l.parse::<tracing::level_filters::LevelFilter>().ok())
        .unwrap_or(default);
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("jit_provider", level)
        .with_target("jitctl", level)
        .with_target("jitctl_lambda", level)
        .with_default(tracing::level_filters::LevelFilter::WARN);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(!json && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        registry.with(fmt.json()).try_init()
    } else {
        registry.with(fmt.without_time()).try_init()
    };
}

/// Helpers for the unit tests of `jitctl`, over the shared fake network-ACL API.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use time::OffsetDateTime;

    use super::Target;
    pub use crate::aws::nacl::fake::FakeNacl;
    use crate::aws::nacl::{AclEntry, AclView, Nacls};
    use crate::grant::{Direction, EntrySpec, Grant, GrantId, Ports, Protocol, Record, RuleAction};

    pub fn at(epoch: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(epoch).unwrap()
    }

    pub fn target(fake: &FakeNacl) -> Target {
        Target {
            region: "us-east-1".into(),
            nacls: Nacls::new(Arc::new(fake.clone()), crate::aws::Repeat::IMMEDIATE),
            // An account without jit policies.
            policies: crate::aws::iam::Policies::new(Arc::new(
                crate::aws::iam::fake::FakeIam::default(),
            )),
            // An account without Client VPN endpoints.
            client_vpns: crate::aws::client_vpn::ClientVpns::new(Arc::new(
                crate::aws::client_vpn::fake::FakeClientVpn::default(),
            )),
        }
    }

    /// A TCP/22 allow grant created and expiring at the given epochs.
    pub fn grant(direction: Direction, n: i32, cidr: &str, created: i64, expires: i64) -> Grant {
        Grant {
            entry: EntrySpec {
                direction,
                rule_number: n,
                cidr: cidr.parse().unwrap(),
                protocol: Protocol::TCP,
                ports: Some(Ports { from: 22, to: 22 }),
                action: RuleAction::Allow,
            },
            created_at: at(created),
            expires_at: at(expires),
            ttl: "1h".into(),
            requested_by: Some("alice".into()),
            reason: Some("on call".into()),
            revoked_at: None,
        }
    }

    /// The record of `g` as jit wrote it before grant ids existed (keyed by its number).
    pub fn legacy(g: &Grant) -> Record {
        Record {
            id: GrantId::legacy(g.entry.direction, g.entry.rule_number),
            grant: g.clone(),
            pending: false,
        }
    }

    /// The record of `g` with the id `id` (12 base32 characters).
    pub fn record(id: &str, g: &Grant) -> Record {
        Record {
            id: GrantId::parse(id).expect("a valid grant id"),
            grant: g.clone(),
            pending: false,
        }
    }

    /// An ACL holding each grant's entry and (legacy) record.
    pub fn acl_with(acl_id: &str, grants: &[&Grant]) -> AclView {
        acl_with_records(
            acl_id,
            &grants.iter().map(|g| legacy(g)).collect::<Vec<_>>(),
        )
    }

    /// An ACL holding each record and its grant's entry.
    pub fn acl_with_records(acl_id: &str, records: &[Record]) -> AclView {
        AclView {
            acl_id: acl_id.into(),
            vpc_id: Some("vpc-12345678".into()),
            entries: records
                .iter()
                .map(|r| AclEntry::from(&r.grant.entry))
                .collect(),
            tags: records
                .iter()
                .map(|r| (r.tag_key(), r.tag_value()))
                .collect(),
        }
    }
}
