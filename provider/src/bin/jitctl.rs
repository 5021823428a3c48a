//! `jitctl`: the command line over `jit_provider::ctl` (argument parsing, output, exit codes).

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use jit_provider::clock::{self, Clock};
use jit_provider::ctl::output::{self, Format};
use jit_provider::ctl::{self, ConnectOptions, RuleRange, Target, acl};

const LONG_ABOUT: &str = "\
See, sweep and revoke jit grants without a Terraform run.

jit (the Terraform provider jit-access/jit) records every network-ACL grant of
jit_access_rule as a tag on its network ACL (jit:grant:<ingress|egress>:<rule>),
holding its expiry, CIDR, protocol, ports, action, requester and reason, and
writes every temporary CIDR of jit_source_ip_policy into its IAM policy with
its expiry (policies tagged jit:managed = source-ip-policy), and every
jit_client_vpn_grant as a tag on its Client VPN endpoint (jit:grant:<grant id>,
value v=cvpn1;…). jitctl reads those, so it needs neither Terraform nor its state.";

const AFTER_LONG_HELP: &str = "\
GRANT STATES (list):
  active      the entry is in AWS as recorded, before its expiry
  expired     the entry is still in AWS after its expiry; `jitctl sweep` removes it
  revoked     ended early by `jitctl revoke`; Terraform reports it as revoked
  revoking    revoke marker set, but the entry is still there (re-run the revoke)
  missing     the tag remains but the entry is gone (before expiry, Terraform
              re-creates it at its next apply)
  reused      the grant's rule number now holds someone else's entry: never touched
  untagged    an entry in the jit rule-number range without a jit tag (an orphan):
              reported, never touched
  unreadable  a jit:grant: tag, or a jit policy document, jitctl cannot read:
              reported, never touched

GRANT IDS:
  acl-0123456789abcdef0:ingress:200     a network-ACL grant (or :egress:)
  arn:aws:iam::123456789012:policy/source-ip-restriction#203.0.113.7/32
                                        a temporary CIDR of a jit policy
  cvpn-endpoint-0123456789abcdef0:abcdefgh2345
                                        a Client VPN grant (endpoint and grant id)
  Policy grants are listed under the region \"global\" (IAM is global).

SAFETY:
  sweep and revoke delete an entry only while it still matches what its tag
  recorded (CIDR, protocol, ports, action), and sweep deletes a tag only while
  it still holds the value read (an atomic conditional DeleteTags), so both are
  safe to run during a `terraform apply`, and idempotent. jitctl never creates
  or replaces an entry.

CREDENTIALS AND ENDPOINTS:
  As for the provider: the standard AWS chain (environment, shared config and
  credentials files, SSO, IMDS), --profile or AWS_PROFILE, and --endpoint-url
  or AWS_ENDPOINT_URL for a local AWS or a VPC endpoint.

ENVIRONMENT:
  AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL   as for every AWS tool
  JITCTL_LOG    log level on stderr: error, warn (default), info, debug (one
                line per AWS request), trace
  JIT_TEST_NOW  pins the clock to an RFC 3339 time; for tests only, and
                announced by a warning whenever it is in effect

EXIT STATUS:
  0  success (sweep: everything expired was removed)
  1  something could not be done: one line per failure on stderr
  2  usage error

EXAMPLES:
  jitctl list --region us-east-1 --region eu-west-1
  jitctl list --format json | jq '.grants[] | select(.state == \"expired\")'
  jitctl sweep --dry-run
  jitctl sweep
  jitctl revoke acl-0123456789abcdef0:ingress:200
  jitctl revoke 'arn:aws:iam::123456789012:policy/source-ip-restriction#203.0.113.7/32'
  jitctl revoke cvpn-endpoint-0123456789abcdef0:abcdefgh2345

SEE ALSO:
  jitctl-lambda, the same sweep as an AWS Lambda handler on a schedule
  (examples/sweeper/ in the jit repository).";

#[derive(Parser)]
#[command(
    name = "jitctl",
    version = jit_provider::VERSION_LINE,
    about = "See, sweep and revoke jit grants without a Terraform run",
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP
)]
struct Cli {
    /// AWS region to work in; repeat for several. Default: AWS_REGION or the profile's region.
    #[arg(long = "region", value_name = "REGION", global = true)]
    regions: Vec<String>,
    /// Named profile from the shared AWS config (SSO and credential_process profiles work).
    #[arg(long, value_name = "NAME", global = true)]
    profile: Option<String>,
    /// Endpoint URL for every AWS service (a local AWS, a VPC endpoint). AWS_ENDPOINT_URL also works.
    #[arg(long, value_name = "URL", global = true)]
    endpoint_url: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table, global = true)]
    format: FormatArg,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Aligned columns for people.
    Table,
    /// One JSON document for scripts.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// List every jit grant: active, expired but still present, revoked, and orphans.
    ///
    /// Shows each network-ACL grant's ACL, direction, rule number, CIDR, protocol, ports,
    /// action, requester, expiry, time left and reason, and each temporary CIDR of every jit
    /// policy with its expiry. Also tags whose entry is gone (missing), rule numbers reused by
    /// someone else (reused), and entries inside the jit rule-number range that carry no jit
    /// record (untagged), on every network ACL of the region.
    List {
        /// Rule numbers in which an untagged entry is reported as a possible lost jit grant:
        /// the provider's rule_numbers range.
        #[arg(long, value_name = "FROM-TO", default_value = "100-199")]
        rule_numbers: RuleRange,
    },
    /// Delete every ended grant's entry and record, and prune expired CIDRs from jit policies.
    ///
    /// Ended: past its expiry, or abandoned by a creator that stopped half-way (an intent
    /// older than 10 minutes). Each grant is re-read right before it is removed, and an entry
    /// is deleted only while that grant owns it; a rule number that someone has since reused is
    /// left alone (the stale record is removed) and reported. Only entries a jit grant could
    /// have made are deleted: inside --rule-numbers, and allow entries unless --include-deny,
    /// so a forged record cannot make the sweep delete someone else's rule. Entries without a
    /// record (untagged) are reported, never deleted. A jit policy with expired temporary CIDRs
    /// gets a new default version without them (AWS denies them from their expiry on already).
    /// Revoke markers are kept until the grant's expiry. Client VPN grants: the tags of expired
    /// grants are deleted, and the connections that only ended grants admitted (expired,
    /// revoked, or removed) are terminated by connection id; others are left alone. Exits 1
    /// when anything ended could not be removed, with one line per failure on stderr.
    Sweep {
        /// Show what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rule numbers jit numbers grants in (the provider's rule_numbers range): entries
        /// outside are never deleted.
        #[arg(long, value_name = "FROM-TO", default_value = "100-199")]
        rule_numbers: RuleRange,
        /// Also delete expired deny entries (temporary blocks made with rule_action = "deny").
        #[arg(long)]
        include_deny: bool,
    },
    /// End grants now, leaving a revoke marker.
    ///
    /// Network-ACL grant: rewrites its tag with a revoke marker, then deletes its entry (only
    /// if it still matches the grant); the provider then reports status = "revoked" and does
    /// not re-create the grant. If the entry could not be deleted, run the revoke again.
    ///
    /// Policy grant (<policy arn>#<cidr>): tags the policy jit:revoked:<cidr>, then writes a
    /// new default version without the CIDR.
    ///
    /// Client VPN grant (cvpn-endpoint-…:<grant id>): rewrites its tag with a revoke marker
    /// (the handler refuses new connections), then terminates the connections it admitted.
    ///
    /// Revoking a revoked grant again succeeds and changes nothing.
    Revoke {
        /// acl-0123456789abcdef0:ingress:200 (or :egress:), acl-…:<grant id>, <policy arn>#<cidr>, or
        /// cvpn-endpoint-…:<grant id>.
        #[arg(value_name = "GRANT_ID", required = true)]
        grant_ids: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ctl::init_logging(false, tracing::level_filters::LevelFilter::WARN);
    let clock = match clock::from_env() {
        Ok(c) => c,
        Err(message) => return usage_error(&message),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("jitctl: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli, clock.as_ref()))
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("jitctl: {message}");
    ExitCode::from(2)
}

/// Writes to stdout; a closed pipe (`jitctl list | head`) is not an error worth a panic.
fn print(text: &str) {
    let _ = std::io::stdout().write_all(text.as_bytes());
}

async fn run(cli: Cli, clock: &dyn Clock) -> ExitCode {
    let format = match cli.format {
        FormatArg::Table => Format::Table,
        FormatArg::Json => Format::Json,
    };
    if matches!(cli.command, Command::Revoke { .. }) && cli.regions.len() > 1 {
        return usage_error(
            "revoke works in one region (network ACL ids are regional); give at most one --region",
        );
    }
    let opts = ConnectOptions {
        regions: cli.regions,
        profile: cli.profile,
        endpoint_url: cli.endpoint_url,
    };
    let targets = match ctl::connect(&opts).await {
        Ok(t) => t,
        Err(message) => return usage_error(&message),
    };
    let now = clock.now();
    match cli.command {
        Command::List { rule_numbers } => list(&targets, now, rule_numbers, format).await,
        Command::Sweep {
            dry_run,
            rule_numbers,
            include_deny,
        } => {
            let scope = acl::SweepScope {
                range: rule_numbers,
                deny: include_deny,
            };
            sweep(&targets, now, dry_run, scope, format).await
        }
        Command::Revoke { grant_ids } => revoke(&targets[0], &grant_ids, now, format).await,
    }
}

async fn list(
    targets: &[Target],
    now: time::OffsetDateTime,
    range: RuleRange,
    format: Format,
) -> ExitCode {
    let inventory = ctl::list_all(targets, now, range).await;
    print(&output::list(&inventory, now, format));
    for (region, w) in &inventory.warnings {
        eprintln!("jitctl: warning: {region}: {w}");
    }
    for (region, e) in &inventory.errors {
        eprintln!("jitctl: {region}: {e}");
    }
    if inventory.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn sweep(
    targets: &[Target],
    now: time::OffsetDateTime,
    dry_run: bool,
    scope: acl::SweepScope,
    format: Format,
) -> ExitCode {
    let results = ctl::sweep_all(targets, now, dry_run, scope).await;
    print(&output::sweep(&results, dry_run, format));
    let mut failed = false;
    for r in results.iter().filter(|r| r.outcome == acl::Outcome::Failed) {
        eprintln!("jitctl: {} {}: {}", r.region, r.id, r.detail);
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn revoke(
    target: &Target,
    ids: &[String],
    now: time::OffsetDateTime,
    format: Format,
) -> ExitCode {
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for id in ids {
        match ctl::revoke(target, id, now).await {
            Ok(r) => done.push(r),
            Err(e) => failed.push((id.clone(), e)),
        }
    }
    print(&output::revoke(&done, &failed, format));
    for (id, e) in &failed {
        eprintln!("jitctl: {id}: {e}");
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
