//! Support library for jit's end-to-end tests.
//!
//! The tests drive the real `terraform` binary, with the locally built `terraform-provider-jit` installed through
//! a `dev_overrides` CLI configuration, against a local AWS (moto), and check what happened in "AWS" through the
//! AWS SDK, never only through terraform's own output.
//!
//! - [`Moto`] starts a private local AWS per test (`scripts/local-aws.sh`: moto behind a proxy that refuses what
//!   AWS refuses, and can inject faults): every test gets its own AWS account, so tests are independent and
//!   terraform (through the provider) and the SDK checks in the test see the same state.
//! - [`Aws`] holds SDK clients pointed at that server, with blocking helpers for the few calls the tests need.
//! - [`Terraform`] is a temporary working directory plus the environment to run terraform in it.
//! - [`HttpsMirror`] serves a provider network mirror over HTTPS, for the install tests.
//!
//! Everything is synchronous so that a test reads as the sequence of commands a user would type.

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::{
    CertificateAuthenticationRequest, ClientConnectOptions, ClientVpnAuthenticationRequest,
    ClientVpnAuthenticationType, ConnectionLogOptions, Filter, NetworkAclEntry, PortRange,
    RuleAction,
};
use serde_json::Value;

mod local_aws;
mod mirror;
mod runtime_api;
pub use local_aws::{
    ClientVpnConnection, FaultConfig, FaultCounts, FaultKind, HARNESS_ACCESS_KEY, Moto, Step,
    http_request, parse_endpoint,
};
pub use mirror::HttpsMirror;
pub use runtime_api::{Invocation, RuntimeApi};

/// The rule number of AWS's `*` rule, the last rule of each direction of every network ACL.
pub const DEFAULT_RULE: i32 = 32767;

/// The region every test uses, for the SDK and for terraform (`AWS_REGION`).
pub const REGION: &str = "us-east-1";

/// The source address the provider is installed under through `dev_overrides`.
pub const PROVIDER_SOURCE: &str = "registry.terraform.io/jit-access/jit";

/// The source address of the AWS provider, which [`Terraform::with_stand_in_aws`] installs a stand-in under.
pub const AWS_PROVIDER_SOURCE: &str = "registry.terraform.io/hashicorp/aws";

/// The environment variable the provider reads its clock from, in tests only (RFC 3339).
pub const TEST_NOW_ENV: &str = "JIT_TEST_NOW";

/// The workspace root (the parent of this crate), for the repository's scripts and examples.
///
/// From the variable cargo and nextest set when they run a test, not `env!`: a test binary built
/// in another checkout that shares the target directory would point at that checkout.
pub fn workspace_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("CARGO_MANIFEST_DIR is set by cargo/nextest when running tests");
    Path::new(&manifest)
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// AWS SDK clients pointed at a [`Moto`], with blocking helpers for what the tests set up and check.
///
/// The clients use region [`REGION`], static dummy credentials (so the credential chain, and with it the EC2
/// instance metadata service, is never consulted) with access key id [`HARNESS_ACCESS_KEY`], which the local AWS
/// never injects faults into, and no retries: an HTTP 500 would otherwise be retried three times and hide the
/// first error.
pub struct Aws {
    runtime: tokio::runtime::Runtime,
    ec2: aws_sdk_ec2::Client,
    iam: aws_sdk_iam::Client,
}

/// A network ACL entry the test creates by hand, to stand for rules jit does not own.
#[derive(Clone, Debug)]
pub struct HandEntry<'a> {
    /// Egress (true) or ingress (false).
    pub egress: bool,
    /// The entry's rule number.
    pub rule_number: i32,
    /// An IPv4 CIDR.
    pub cidr: &'a str,
    /// AWS's protocol number as a string: "-1" (all), "6" (tcp), "17" (udp).
    pub protocol: &'a str,
    /// Allow (true) or deny (false).
    pub allow: bool,
    /// The port range for tcp/udp.
    pub ports: Option<(i32, i32)>,
}

impl Aws {
    /// Builds EC2 and IAM clients for `moto`, exempt from its faults.
    pub fn new(moto: &Moto) -> Aws {
        Aws::with_access_key(moto, HARNESS_ACCESS_KEY)
    }

    /// Builds EC2 and IAM clients for `moto` that sign with `access_key_id` (in the same account as
    /// [`Aws::new`]'s): with any other key than [`HARNESS_ACCESS_KEY`], the local AWS's faults apply to them.
    pub fn with_access_key(moto: &Moto, access_key_id: &str) -> Aws {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let credentials = Credentials::new(access_key_id, "testing", None, None, "jit-e2e");
        let ec2 = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(credentials.clone())
            .endpoint_url(moto.endpoint())
            .retry_config(RetryConfig::disabled())
            .build();
        let iam = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new(REGION))
            .credentials_provider(credentials)
            .endpoint_url(moto.endpoint())
            .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
            .build();
        Aws {
            runtime,
            ec2: aws_sdk_ec2::Client::from_conf(ec2),
            iam: aws_sdk_iam::Client::from_conf(iam),
        }
    }

    /// The EC2 client, for calls the helpers do not cover (run them with [`Aws::block_on`]).
    pub fn ec2(&self) -> &aws_sdk_ec2::Client {
        &self.ec2
    }

    /// The IAM client (run its calls with [`Aws::block_on`]).
    pub fn iam(&self) -> &aws_sdk_iam::Client {
        &self.iam
    }

    /// Runs an SDK future to completion.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Creates a VPC with `cidr` and returns its id.
    pub fn create_vpc(&self, cidr: &str) -> String {
        let out = self
            .block_on(self.ec2.create_vpc().cidr_block(cidr).send())
            .unwrap_or_else(|e| panic!("CreateVpc {cidr}: {e:?}"));
        out.vpc()
            .and_then(|v| v.vpc_id())
            .expect("CreateVpc returned a VPC id")
            .to_string()
    }

    /// Creates a custom network ACL in `vpc_id` and returns its id. Like AWS's, it holds only the two `*` rules
    /// (number 32767, deny all; the local AWS adds them, moto alone would not).
    pub fn create_network_acl(&self, vpc_id: &str) -> String {
        let out = self
            .block_on(self.ec2.create_network_acl().vpc_id(vpc_id).send())
            .unwrap_or_else(|e| panic!("CreateNetworkAcl in {vpc_id}: {e:?}"));
        out.network_acl()
            .and_then(|a| a.network_acl_id())
            .expect("CreateNetworkAcl returned an ACL id")
            .to_string()
    }

    /// Creates a VPC (10.0.0.0/16) with one custom network ACL, and returns the ACL's id.
    pub fn new_network_acl(&self) -> String {
        let vpc = self.create_vpc("10.0.0.0/16");
        self.create_network_acl(&vpc)
    }

    /// Creates a Client VPN endpoint (mutual authentication, connection logging off, client connect through
    /// `AWSClientVPN-jit`) and returns its id.
    pub fn new_client_vpn_endpoint(&self) -> String {
        let cert =
            "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000000";
        let out = self
            .block_on(
                self.ec2
                    .create_client_vpn_endpoint()
                    .client_cidr_block("10.100.0.0/22")
                    .server_certificate_arn(cert)
                    .authentication_options(
                        ClientVpnAuthenticationRequest::builder()
                            .r#type(ClientVpnAuthenticationType::CertificateAuthentication)
                            .mutual_authentication(
                                CertificateAuthenticationRequest::builder()
                                    .client_root_certificate_chain_arn(cert)
                                    .build(),
                            )
                            .build(),
                    )
                    .connection_log_options(ConnectionLogOptions::builder().enabled(false).build())
                    .client_connect_options(
                        ClientConnectOptions::builder()
                            .enabled(true)
                            .lambda_function_arn(format!(
                                "arn:aws:lambda:{REGION}:123456789012:function:AWSClientVPN-jit"
                            ))
                            .build(),
                    )
                    .send(),
            )
            .unwrap_or_else(|e| panic!("CreateClientVpnEndpoint: {e:?}"));
        out.client_vpn_endpoint_id()
            .expect("CreateClientVpnEndpoint returned an endpoint id")
            .to_string()
    }

    /// The tags of a Client VPN endpoint, from DescribeClientVpnEndpoints (DescribeTags does not list them).
    pub fn client_vpn_tags(&self, endpoint_id: &str) -> BTreeMap<String, String> {
        let out = self
            .block_on(
                self.ec2
                    .describe_client_vpn_endpoints()
                    .client_vpn_endpoint_ids(endpoint_id)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("DescribeClientVpnEndpoints {endpoint_id}: {e:?}"));
        let endpoint = out
            .client_vpn_endpoints()
            .first()
            .unwrap_or_else(|| panic!("Client VPN endpoint {endpoint_id} does not exist"));
        endpoint
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The entries of the ACL, both directions, without AWS's `*` rules (number 32767, which every ACL has and
    /// nobody can change; see [`Aws::default_rules`]).
    pub fn entries(&self, acl_id: &str) -> Vec<NetworkAclEntry> {
        self.all_entries(acl_id)
            .into_iter()
            .filter(|e| e.rule_number() != Some(DEFAULT_RULE))
            .collect()
    }

    /// AWS's `*` rules of the ACL (number 32767, deny all), as (egress, deny) pairs, sorted.
    pub fn default_rules(&self, acl_id: &str) -> Vec<(bool, bool)> {
        let mut rules: Vec<(bool, bool)> = self
            .all_entries(acl_id)
            .iter()
            .filter(|e| e.rule_number() == Some(DEFAULT_RULE))
            .map(|e| {
                (
                    e.egress() == Some(true),
                    e.rule_action() == Some(&RuleAction::Deny),
                )
            })
            .collect();
        rules.sort_unstable();
        rules
    }

    fn all_entries(&self, acl_id: &str) -> Vec<NetworkAclEntry> {
        let out = self
            .block_on(
                self.ec2
                    .describe_network_acls()
                    .network_acl_ids(acl_id)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("DescribeNetworkAcls {acl_id}: {e:?}"));
        let acl = out
            .network_acls()
            .first()
            .unwrap_or_else(|| panic!("network ACL {acl_id} does not exist"));
        acl.entries().to_vec()
    }

    /// The entry with `rule_number` in the given direction, if there is one.
    pub fn entry(&self, acl_id: &str, egress: bool, rule_number: i32) -> Option<NetworkAclEntry> {
        self.entries(acl_id)
            .into_iter()
            .find(|e| e.egress() == Some(egress) && e.rule_number() == Some(rule_number))
    }

    /// The rule numbers in use in one direction, ascending.
    pub fn rule_numbers(&self, acl_id: &str, egress: bool) -> Vec<i32> {
        let mut numbers: Vec<i32> = self
            .entries(acl_id)
            .iter()
            .filter(|e| e.egress() == Some(egress))
            .filter_map(NetworkAclEntry::rule_number)
            .collect();
        numbers.sort_unstable();
        numbers
    }

    /// Creates an entry by hand (as another tool or a person would), and panics if AWS refuses it.
    pub fn create_entry(&self, acl_id: &str, entry: &HandEntry<'_>) {
        let mut req = self
            .ec2
            .create_network_acl_entry()
            .network_acl_id(acl_id)
            .egress(entry.egress)
            .rule_number(entry.rule_number)
            .cidr_block(entry.cidr)
            .protocol(entry.protocol)
            .rule_action(if entry.allow {
                RuleAction::Allow
            } else {
                RuleAction::Deny
            });
        if let Some((from, to)) = entry.ports {
            req = req.port_range(PortRange::builder().from(from).to(to).build());
        }
        self.block_on(req.send())
            .unwrap_or_else(|e| panic!("CreateNetworkAclEntry {acl_id} {entry:?}: {e:?}"));
    }

    /// Deletes an entry by hand (drift), and panics if AWS refuses.
    pub fn delete_entry(&self, acl_id: &str, egress: bool, rule_number: i32) {
        self.block_on(
            self.ec2
                .delete_network_acl_entry()
                .network_acl_id(acl_id)
                .egress(egress)
                .rule_number(rule_number)
                .send(),
        )
        .unwrap_or_else(|e| {
            panic!("DeleteNetworkAclEntry {acl_id} egress={egress} {rule_number}: {e:?}")
        });
    }

    /// All tags on a resource (read with DescribeTags, independently of what the provider reads).
    pub fn tags(&self, resource_id: &str) -> BTreeMap<String, String> {
        let out = self
            .block_on(
                self.ec2
                    .describe_tags()
                    .filters(
                        Filter::builder()
                            .name("resource-id")
                            .values(resource_id)
                            .build(),
                    )
                    .send(),
            )
            .unwrap_or_else(|e| panic!("DescribeTags {resource_id}: {e:?}"));
        out.tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The tags whose key starts with `jit:`: the grants' metadata jit keeps on the ACL.
    pub fn jit_tags(&self, resource_id: &str) -> BTreeMap<String, String> {
        let mut tags = self.tags(resource_id);
        tags.retain(|k, _| k.starts_with("jit:"));
        tags
    }

    /// Puts one tag on a resource by hand.
    pub fn tag(&self, resource_id: &str, key: &str, value: &str) {
        self.block_on(
            self.ec2
                .create_tags()
                .resources(resource_id)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build(),
                )
                .send(),
        )
        .unwrap_or_else(|e| panic!("CreateTags {resource_id} {key}: {e:?}"));
    }
}

/// Text for `main.tf`: `required_providers` for `jit-access/jit`, a `provider "jit"` block with region
/// [`REGION`] plus `provider_extra` (more arguments, one per line), then `rest` (resources and the like).
pub fn jit_config(provider_extra: &str, rest: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    jit = {{ source = "jit-access/jit" }}
  }}
}}

provider "jit" {{
  region = "{REGION}"
{provider_extra}
}}

{rest}
"#
    )
}

/// A CLI configuration that installs each `(source, directory)` through `dev_overrides`, and everything else
/// directly.
fn dev_overrides(overrides: &[(&str, &Path)]) -> String {
    let mut text = String::from("provider_installation {\n  dev_overrides {\n");
    for (source, dir) in overrides {
        text.push_str(&format!(
            "    {source:?} = {:?}\n",
            dir.display().to_string()
        ));
    }
    text.push_str("  }\n  direct {}\n}\n");
    text
}

/// The path of one of the workspace's binaries (`jitctl`, `jitctl-lambda`, `jit-client-vpn-handler`, `jitlint`),
/// built next to the provider; panics with how to build it when it is missing.
pub fn jit_binary(name: &str) -> PathBuf {
    let dir = provider_dir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} does not exist; build it with `cargo build -p terraform-provider-jit --bins` (`-p jitlint` for jitlint)",
        path.display()
    );
    path
}

/// A command for one of jit's binaries with the tests' AWS environment: the local AWS's endpoint, dummy
/// credentials, region [`REGION`], no shared config files, and the clock at `now`. Inherited `AWS_*` variables are
/// removed so that the developer's shell cannot leak in.
pub fn jit_command(moto: &Moto, name: &str, now: &str) -> Command {
    let mut cmd = Command::new(jit_binary(name));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&key);
        }
    }
    let no_file = std::env::temp_dir().join("jit-e2e-no-aws-config");
    cmd.env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &no_file)
        .env("AWS_SHARED_CREDENTIALS_FILE", &no_file)
        .env(TEST_NOW_ENV, now)
        .stdin(Stdio::null());
    cmd
}

/// Where the locally built provider binary lives: the directory `dev_overrides` must point at.
///
/// The provider is a different package, so `env!("CARGO_BIN_EXE_...")` is not available here. A test binary lives
/// in `<target dir>/<profile>/deps/`, and `cargo build -p terraform-provider-jit` puts the provider in
/// `<target dir>/<profile>/`, so the provider is looked up next to the test binary's `deps/`; this follows
/// `CARGO_TARGET_DIR`, `build.target-dir` and the profile without guessing. A test binary run from elsewhere falls
/// back to `$CARGO_TARGET_DIR/debug`, or `target/debug` in the workspace.
pub fn provider_dir() -> Result<PathBuf, String> {
    let from_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .filter(|dir| dir.ends_with("deps"))
        .and_then(|deps| deps.parent().map(Path::to_path_buf));
    let dir = from_exe.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"))
            .join("debug")
    });
    let binary = dir.join("terraform-provider-jit");
    if binary.is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "the provider binary {} does not exist. Build it first, with the same CARGO_TARGET_DIR as the tests: \
             `cargo build -p terraform-provider-jit --bins` (scripts/test.sh does this, then runs the tests)",
            binary.display()
        ))
    }
}

/// The outcome of one terraform command.
#[derive(Debug)]
pub struct Run {
    /// The command line, for failure messages.
    pub command: String,
    /// The exit code (`None` if terraform was killed by a signal).
    pub code: Option<i32>,
    /// Standard output (JSON lines for commands run with `-json`).
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// One diagnostic from a command run with `-json`.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// `error` or `warning`.
    pub severity: String,
    /// The one-line summary.
    pub summary: String,
    /// The detail text (may be empty).
    pub detail: String,
    /// The resource address the diagnostic is about, if any.
    pub address: Option<String>,
    /// The configuration line(s) terraform points at. When the provider gives an attribute path that exists in the
    /// configuration, this is the attribute's line (e.g. `  cidr_block = "1.2.3.4/24"`); otherwise it is the
    /// enclosing block's first line, or nothing.
    pub snippet: Option<String>,
}

impl Diagnostic {
    /// Summary and detail in one line with whitespace collapsed, for substring checks.
    pub fn text(&self) -> String {
        normalize(&format!("{} {}", self.summary, self.detail))
    }

    /// Whether terraform points at the configuration line of `attribute` (an `attribute = ...` line).
    pub fn points_at(&self, attribute: &str) -> bool {
        self.snippet.as_deref().is_some_and(|code| {
            code.lines().any(|line| {
                line.trim_start()
                    .strip_prefix(attribute)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
        })
    }

    /// Terraform's own warning about `dev_overrides`, present in every run of these tests.
    pub fn is_dev_overrides_warning(&self) -> bool {
        self.summary.contains("development overrides")
    }
}

/// Collapses whitespace and drops terraform's box-drawing margin, so that text wrapped at 78 columns can be
/// searched for phrases.
pub fn normalize(text: &str) -> String {
    text.replace(['│', '╷', '╵'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl Run {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with the full output unless the exit code is 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.success(),
            "expected `{}` to succeed:\n{}",
            self.command,
            self.report()
        );
        self
    }

    /// Panics with the full output unless terraform failed (exit code 1).
    #[track_caller]
    pub fn assert_failure(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(1),
            "expected `{}` to fail:\n{}",
            self.command,
            self.report()
        );
        self
    }

    /// The command, exit code, stdout and stderr, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "$ {}\nexit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }

    /// Stdout and stderr in one line with whitespace collapsed (for commands without `-json`, such as import).
    pub fn text(&self) -> String {
        normalize(&format!("{}\n{}", self.stdout, self.stderr))
    }

    /// The diagnostics of a command run with `-json`.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        self.stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|msg| msg["type"] == "diagnostic")
            .map(|msg| {
                let d = &msg["diagnostic"];
                let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
                Diagnostic {
                    severity: s(&d["severity"]),
                    summary: s(&d["summary"]),
                    detail: s(&d["detail"]),
                    address: d["address"].as_str().map(str::to_string),
                    snippet: d["snippet"]["code"].as_str().map(str::to_string),
                }
            })
            .collect()
    }

    /// The error diagnostics.
    pub fn errors(&self) -> Vec<Diagnostic> {
        self.diagnostics()
            .into_iter()
            .filter(|d| d.severity == "error")
            .collect()
    }

    /// The warning diagnostics, without terraform's own `dev_overrides` warning.
    pub fn warnings(&self) -> Vec<Diagnostic> {
        self.diagnostics()
            .into_iter()
            .filter(|d| d.severity == "warning" && !d.is_dev_overrides_warning())
            .collect()
    }
}

/// A plan that terraform produced, saved, and rendered with `terraform show -json`.
pub struct Plan {
    /// The `terraform plan -json -detailed-exitcode` run (exit code 0: no changes, 2: changes).
    pub run: Run,
    /// The plan as `terraform show -json` renders it.
    pub json: Value,
}

impl Plan {
    /// Whether terraform found changes to make (exit code 2 of `-detailed-exitcode`).
    pub fn has_changes(&self) -> bool {
        self.run.code == Some(2)
    }

    /// The planned change of one resource instance (`resource_changes[].change`), or `Null`.
    pub fn change(&self, address: &str) -> &Value {
        self.json["resource_changes"]
            .as_array()
            .and_then(|changes| changes.iter().find(|c| c["address"] == address))
            .map_or(&Value::Null, |c| &c["change"])
    }

    /// The planned actions for one resource instance, e.g. `["update"]` or `["delete", "create"]` (empty when the
    /// resource is not in the plan).
    pub fn actions(&self, address: &str) -> Vec<String> {
        self.change(address)["actions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The addresses terraform reports as changed outside terraform (`resource_drift`).
    pub fn drift(&self) -> Vec<String> {
        self.json["resource_drift"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|c| c["address"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

static SPAWNED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A terraform command started with [`Terraform::spawn`].
pub struct Background {
    child: std::process::Child,
    command: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Background {
    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills its whole process group (terraform and the provider) with SIGKILL, and returns what it printed.
    pub fn kill(mut self) -> Run {
        let group = format!("-{}", self.child.id());
        let status = Command::new("kill")
            .args(["-KILL", "--", &group])
            .status()
            .expect("run kill");
        assert!(
            status.success() || !self.running(),
            "kill -KILL -- {group} failed"
        );
        self.wait()
    }

    /// Waits for it to end, and returns what it printed.
    pub fn wait(mut self) -> Run {
        let status = self.child.wait().expect("wait for terraform");
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        Run {
            command: self.command.clone(),
            code: status.code(),
            stdout: read(&self.stdout),
            stderr: read(&self.stderr),
        }
    }

    /// The process group id (the terraform process's id), e.g. to check that nothing of it survived.
    pub fn group(&self) -> u32 {
        self.child.id()
    }
}

/// A terraform working directory (temporary, deleted on drop) with its own CLI configuration that installs the
/// locally built provider through `dev_overrides`, and an environment that points the AWS SDK at a [`Moto`].
pub struct Terraform {
    dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
}

impl Terraform {
    /// A working directory using the provider binary that [`provider_dir`] finds; panics with how to build it
    /// when it is missing.
    pub fn new(moto: &Moto) -> Terraform {
        let provider = provider_dir().unwrap_or_else(|e| panic!("{e}"));
        Terraform::with_provider_dir(moto, &provider)
    }

    /// A working directory whose `dev_overrides` point at `provider_dir`.
    pub fn with_provider_dir(moto: &Moto, provider_dir: &Path) -> Terraform {
        Terraform::with_cli_config(moto, &dev_overrides(&[(PROVIDER_SOURCE, provider_dir)]))
    }

    /// A working directory where `jit-access/jit` is the locally built provider (as [`Terraform::new`]) and
    /// `hashicorp/aws` is `stand_in`, the tests' stand-in for it (`src/bin/stand-in-aws-provider.rs`: it validates
    /// and plans, never applies), both through `dev_overrides`, so that `terraform plan` and `terraform show -json`
    /// work on a configuration that uses both without downloading anything. The stand-in is linked into the
    /// working directory's temporary tree as `terraform-provider-aws`, the name `dev_overrides` looks for.
    pub fn with_stand_in_aws(moto: &Moto, stand_in: &Path) -> Terraform {
        let jit = provider_dir().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            stand_in.is_file(),
            "the stand-in for hashicorp/aws {} does not exist",
            stand_in.display()
        );
        let tf = Terraform::with_cli_config(moto, "");
        let aws = tf.dir.path().join("stand-in-aws");
        std::fs::create_dir(&aws).expect("create the stand-in's directory");
        std::os::unix::fs::symlink(stand_in, aws.join("terraform-provider-aws"))
            .expect("link the stand-in as terraform-provider-aws");
        std::fs::write(
            tf.dir.path().join("cli.tfrc"),
            dev_overrides(&[(PROVIDER_SOURCE, &jit), (AWS_PROVIDER_SOURCE, &aws)]),
        )
        .expect("write the CLI configuration");
        tf
    }

    /// A working directory whose CLI configuration is `cli_config_text` (e.g. a `provider_installation` block with a
    /// mirror, for tests that run `terraform init` as a user would).
    pub fn with_cli_config(moto: &Moto, cli_config_text: &str) -> Terraform {
        let dir = tempfile::Builder::new()
            .prefix("jit-e2e-")
            .tempdir()
            .expect("temporary directory");
        let cli_config = dir.path().join("cli.tfrc");
        std::fs::write(&cli_config, cli_config_text).expect("write the CLI configuration");
        let work = dir.path().join("work");
        std::fs::create_dir(&work).expect("create the working directory");
        // Nonexistent shared config files keep the provider away from the developer's real ~/.aws.
        let no_aws_files = dir.path().join("no-aws-config");
        let env = [
            ("TF_CLI_CONFIG_FILE", cli_config.display().to_string()),
            ("CHECKPOINT_DISABLE", "1".to_string()),
            ("TF_IN_AUTOMATION", "1".to_string()),
            ("AWS_ENDPOINT_URL", moto.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("AWS_CONFIG_FILE", no_aws_files.display().to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                no_aws_files.display().to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Terraform { dir, env }
    }

    /// The working directory (where `main.tf` and the state live).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Sets an extra environment variable for every later command, e.g. [`TEST_NOW_ENV`].
    pub fn set_env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    /// Removes an environment variable set with [`Terraform::set_env`].
    pub fn remove_env(&mut self, key: &str) -> &mut Self {
        self.env.remove(key);
        self
    }

    /// Writes `main.tf` (replacing the previous one).
    pub fn write_main_tf(&self, text: &str) -> &Self {
        std::fs::write(self.dir().join("main.tf"), text).expect("write main.tf");
        self
    }

    /// Copies the `*.tf` files of `dir` (e.g. one of the repository's examples) into the working directory.
    pub fn copy_tf_files(&self, dir: &Path) -> &Self {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|ext| ext == "tf") {
                let name = path.file_name().expect("file name");
                std::fs::copy(&path, self.dir().join(name))
                    .unwrap_or_else(|e| panic!("cannot copy {}: {e}", path.display()));
            }
        }
        self
    }

    /// Runs `terraform ARGS` in the working directory with the test environment. Inherited `AWS_*` variables
    /// (profiles, service-specific endpoints) and `TF_*` variables that change behaviour (`TF_CLI_ARGS*`, `TF_VAR_*`,
    /// `TF_WORKSPACE`, `TF_DATA_DIR`, `TF_PLUGIN_CACHE_DIR`) are removed so that the developer's shell cannot leak
    /// into a test; `TF_LOG` and friends pass through for debugging.
    pub fn run(&self, args: &[&str]) -> Run {
        let (mut cmd, command) = self.command(args);
        let out = cmd.output().unwrap_or_else(|e| {
            panic!("cannot run `{command}`: {e}; the end-to-end tests need terraform (1.11 or later) on PATH")
        });
        Run {
            command,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts `terraform ARGS` like [`Terraform::run`], in the background and in a process group of its own, so
    /// that terraform and the provider it starts can be killed together, as CI's timeout or a closed laptop lid
    /// would.
    pub fn spawn(&self, args: &[&str]) -> Background {
        let (mut cmd, command) = self.command(args);
        let n = SPAWNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stdout = self.dir.path().join(format!("spawned-{n}.out"));
        let stderr = self.dir.path().join(format!("spawned-{n}.err"));
        let file = |path: &Path| std::fs::File::create(path).expect("create an output file");
        cmd.stdout(file(&stdout)).stderr(file(&stderr));
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        Background {
            child,
            command,
            stdout,
            stderr,
        }
    }

    fn command(&self, args: &[&str]) -> (Command, String) {
        let mut cmd = Command::new("terraform");
        cmd.args(args).current_dir(self.dir()).stdin(Stdio::null());
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name.starts_with("AWS_")
                || name.starts_with("TF_CLI_ARGS")
                || name.starts_with("TF_VAR_")
                || name == "TF_WORKSPACE"
                || name == "TF_DATA_DIR"
                || name == "TF_PLUGIN_CACHE_DIR"
            {
                cmd.env_remove(&key);
            }
        }
        cmd.envs(&self.env);
        (cmd, format!("terraform {}", args.join(" ")))
    }

    /// `terraform plan -json -detailed-exitcode` without saving the plan, for checking diagnostics: exit code 0 is
    /// no changes, 1 an error, 2 changes.
    pub fn plan_run(&self) -> Run {
        self.run(&[
            "plan",
            "-json",
            "-detailed-exitcode",
            "-input=false",
            "-no-color",
        ])
    }

    /// Plans, saves the plan and renders it as JSON; panics with the output if the plan fails.
    #[track_caller]
    pub fn plan(&self) -> Plan {
        let run = self.run(&[
            "plan",
            "-json",
            "-detailed-exitcode",
            "-input=false",
            "-no-color",
            "-out=tfplan",
        ]);
        assert!(
            matches!(run.code, Some(0 | 2)),
            "expected `{}` to succeed:\n{}",
            run.command,
            run.report()
        );
        let json = self.show_json_of("tfplan");
        Plan { run, json }
    }

    /// Whether `terraform plan -detailed-exitcode` finds nothing to do (exit code 0; 2 means changes). Panics with
    /// the output when the plan fails.
    #[track_caller]
    pub fn plan_is_empty(&self) -> bool {
        let run = self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        match run.code {
            Some(0) => true,
            Some(2) => false,
            _ => panic!("expected `{}` to succeed:\n{}", run.command, run.report()),
        }
    }

    /// Panics, showing terraform's plan, unless the plan has no changes and reports no drift (a refresh that
    /// changes the state means Read disagrees with what Apply stored).
    #[track_caller]
    pub fn assert_plan_empty(&self) {
        let plan = self.plan();
        assert!(
            !plan.has_changes() && plan.drift().is_empty(),
            "expected an empty plan, got changes {:?} and drift {:?}:\n{}",
            plan.json["resource_changes"].as_array().map(|c| c
                .iter()
                .map(|c| format!("{} {}", c["address"], c["change"]["actions"]))
                .collect::<Vec<_>>()),
            plan.drift(),
            self.run(&["show", "-no-color", "tfplan"]).stdout
        );
    }

    /// `terraform apply -auto-approve -json` plus `extra` arguments (e.g. `-replace=ADDR`).
    pub fn apply_with(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "apply",
            "-auto-approve",
            "-json",
            "-input=false",
            "-no-color",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// `terraform apply -auto-approve -json`.
    pub fn apply(&self) -> Run {
        self.apply_with(&[])
    }

    /// `terraform destroy -auto-approve -json` plus `extra` arguments (e.g. `-refresh=false`).
    pub fn destroy_with(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "destroy",
            "-auto-approve",
            "-json",
            "-input=false",
            "-no-color",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// `terraform destroy -auto-approve -json`.
    pub fn destroy(&self) -> Run {
        self.destroy_with(&[])
    }

    /// `terraform import ADDRESS ID` (import has no `-json`; use [`Run::text`]).
    pub fn import(&self, address: &str, id: &str) -> Run {
        self.run(&["import", "-input=false", "-no-color", address, id])
    }

    /// `terraform show -json`: the current state; panics if terraform fails.
    #[track_caller]
    pub fn show_json(&self) -> Value {
        let run = self.run(&["show", "-json", "-no-color"]);
        run.assert_success();
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
            panic!(
                "`terraform show -json` is not JSON ({e}):\n{}",
                run.report()
            )
        })
    }

    /// `terraform show -json FILE` for a saved plan; panics if terraform fails.
    #[track_caller]
    fn show_json_of(&self, plan_file: &str) -> Value {
        let run = self.run(&["show", "-json", "-no-color", plan_file]);
        run.assert_success();
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
            panic!(
                "`terraform show -json {plan_file}` is not JSON ({e}):\n{}",
                run.report()
            )
        })
    }

    /// The attribute values of every managed resource instance in the state, by address (`jit_access_rule.g[3]`).
    #[track_caller]
    pub fn state_resources(&self) -> BTreeMap<String, Value> {
        let state = self.show_json();
        state["values"]["root_module"]["resources"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter(|r| r["mode"] == "managed")
                    .map(|r| {
                        (
                            r["address"].as_str().unwrap_or_default().to_string(),
                            r["values"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The attribute values of one resource instance in the state, or `None` when it is not in the state.
    #[track_caller]
    pub fn state_resource(&self, address: &str) -> Option<Value> {
        self.state_resources().remove(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_joins_wrapped_diagnostics() {
        let wrapped = "│ Error: rule number 150 is\n│ taken by 10.1.0.0/16\n╵";
        assert_eq!(
            normalize(wrapped),
            "Error: rule number 150 is taken by 10.1.0.0/16"
        );
    }

    #[test]
    fn points_at_needs_an_assignment_of_that_attribute() {
        let d = |code: &str| Diagnostic {
            severity: "error".into(),
            summary: String::new(),
            detail: String::new(),
            address: None,
            snippet: Some(code.into()),
        };
        assert!(d("  cidr_block = \"1.2.3.4/24\"").points_at("cidr_block"));
        assert!(d("  to_port=5").points_at("to_port"));
        assert!(!d("  cidr_block_extra = 1").points_at("cidr_block"));
        assert!(!d("resource \"jit_access_rule\" \"x\" {").points_at("cidr_block"));
    }
}
