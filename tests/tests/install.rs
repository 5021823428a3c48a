//! Installing jit as a user does: `terraform init` from a provider mirror built by `scripts/release.sh` (its
//! packaging step, over the debug build), a lock file, `-lockfile=readonly`, then plan/apply against the local
//! AWS with no `dev_overrides` anywhere.
//!
//! The CLI configurations have no `direct {}` block: terraform may install jit-access/jit from the mirror only,
//! and nothing at all from the internet (these machines cannot reach registry.terraform.io).
//!
//! What terraform 1.11 writes: installing from a mirror, the lock file gets the one `h1:` hash it computes from the
//! package (the `zh:` hashes of a `SHA256SUMS` are recorded only from a registry, which signs them); given a lock
//! file that holds them (one written by a registry install), it checks the mirror's zip against them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use jit_e2e::{Aws, HttpsMirror, Moto, Run, Terraform, provider_dir, workspace_root};
use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const PLATFORM: &str = "linux_amd64";
const ADDRESS: &str = "registry.terraform.io/jit-access/jit";

/// The packaging step's output for the debug provider: `dist/` (zip, manifest, SHA256SUMS) and `mirror/`.
struct Release {
    dir: tempfile::TempDir,
}

impl Release {
    /// Packs the debug build's provider the way `scripts/release.sh` packs a release build.
    fn pack() -> Release {
        let dir = tempfile::tempdir().expect("temporary directory");
        let bin_dir = provider_dir().unwrap_or_else(|e| panic!("{e}"));
        let out = Command::new("bash")
            .arg(workspace_root().join("scripts/release.sh"))
            .arg("--bin-dir")
            .arg(&bin_dir)
            .arg("--provider-only")
            .arg("--out")
            .arg(dir.path().join("dist"))
            .arg("--mirror")
            .arg(dir.path().join("mirror"))
            .env_remove("JIT_GPG_KEY")
            .output()
            .expect("run scripts/release.sh");
        assert!(
            out.status.success(),
            "scripts/release.sh --bin-dir failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Release { dir }
    }

    fn mirror(&self) -> PathBuf {
        self.dir.path().join("mirror")
    }

    /// The zip inside the mirror (the packed layout: directly in HOSTNAME/NAMESPACE/TYPE).
    fn mirror_zip(&self, mirror: &Path) -> PathBuf {
        mirror
            .join(ADDRESS)
            .join(format!("terraform-provider-jit_{VERSION}_{PLATFORM}.zip"))
    }

    /// `terraform-provider-jit_VERSION_SHA256SUMS`: file name -> hex SHA-256.
    fn sums(&self) -> BTreeMap<String, String> {
        let path = self
            .dir
            .path()
            .join(format!("dist/terraform-provider-jit_{VERSION}_SHA256SUMS"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .lines()
            .map(|line| {
                let (digest, name) = line.split_once("  ").expect("`digest  name` lines");
                (name.to_string(), digest.to_string())
            })
            .collect()
    }

    /// The hashes the mirror publishes for this platform (`VERSION.json`): `h1:` and `zh:`.
    fn published_hashes(&self) -> Vec<String> {
        let path = self.mirror().join(ADDRESS).join(format!("{VERSION}.json"));
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("VERSION.json"))
                .expect("VERSION.json is JSON");
        doc["archives"][PLATFORM]["hashes"]
            .as_array()
            .expect("hashes for the platform")
            .iter()
            .map(|h| h.as_str().expect("a string").to_string())
            .collect()
    }

    fn published_h1(&self) -> String {
        self.published_hashes()
            .into_iter()
            .find(|h| h.starts_with("h1:"))
            .expect("an h1: hash")
    }

    /// A copy of the mirror whose zip has one byte of its compressed data changed.
    fn tampered_mirror(&self) -> tempfile::TempDir {
        let copy = tempfile::tempdir().expect("temporary directory");
        let from = self.mirror().join(ADDRESS);
        let to = copy.path().join(ADDRESS);
        std::fs::create_dir_all(&to).expect("mirror directories");
        for entry in std::fs::read_dir(&from).expect("read the mirror") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
        }
        let zip = self.mirror_zip(copy.path());
        let mut bytes = std::fs::read(&zip).expect("read the zip");
        let offset = first_entry_data_middle(&bytes);
        bytes[offset] ^= 0x01;
        std::fs::write(&zip, bytes).expect("write the tampered zip");
        copy
    }
}

/// The offset of the middle of the first entry's compressed data (after its local header, name and extra field).
fn first_entry_data_middle(zip: &[u8]) -> usize {
    assert_eq!(
        &zip[..4],
        b"PK\x03\x04",
        "a zip starts with a local file header"
    );
    let u16_at = |i: usize| usize::from(u16::from_le_bytes([zip[i], zip[i + 1]]));
    let compressed = u32::from_le_bytes([zip[18], zip[19], zip[20], zip[21]]) as usize;
    assert!(compressed > 2, "the entry has compressed data");
    30 + u16_at(26) + u16_at(28) + compressed / 2
}

/// The version constraint a user writes for this release: `~> MAJOR.MINOR`.
fn constraint() -> String {
    let mut parts = VERSION.split('.');
    let (major, minor) = (parts.next().unwrap_or("0"), parts.next().unwrap_or("0"));
    format!("~> {major}.{minor}")
}

fn main_tf(acl: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    jit = {{
      source  = "jit-access/jit"
      version = "{constraint}"
    }}
  }}
}}

provider "jit" {{
  region = "{region}"
}}

resource "jit_access_rule" "install" {{
  network_acl_id = "{acl}"
  cidr_block     = "203.0.113.7/32"
  protocol       = "udp"
  from_port      = 500
  ttl            = "1h"
  reason         = "installed from a mirror"
}}
"#,
        region = jit_e2e::REGION,
        constraint = constraint()
    )
}

fn filesystem_mirror_config(mirror: &Path) -> String {
    format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = {:?}\n    include = [{ADDRESS:?}]\n  }}\n}}\n",
        mirror.display().to_string()
    )
}

fn network_mirror_config(url: &str) -> String {
    format!(
        "provider_installation {{\n  network_mirror {{\n    url     = {url:?}\n    include = [{ADDRESS:?}]\n  }}\n}}\n"
    )
}

fn lock_file(tf: &Terraform) -> String {
    std::fs::read_to_string(tf.dir().join(".terraform.lock.hcl")).unwrap_or_default()
}

/// The hashes the lock file records for jit-access/jit.
fn locked_hashes(tf: &Terraform) -> Vec<String> {
    let lock = lock_file(tf);
    assert!(
        lock.contains(&format!("provider \"{ADDRESS}\""))
            && lock.contains(&format!("version     = \"{VERSION}\"")),
        "the lock file pins {ADDRESS} {VERSION}:\n{lock}"
    );
    lock.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix('"'))
        .filter_map(|l| l.split_once('"').map(|(hash, _)| hash.to_string()))
        .filter(|h| h.starts_with("h1:") || h.starts_with("zh:"))
        .collect()
}

/// Writes the lock file a registry install of this release writes: every line of the signed SHA256SUMS as a
/// `zh:` hash (terraform records them all), no `h1:`.
fn write_registry_lock_file(tf: &Terraform, release: &Release) {
    let hashes: String = release
        .sums()
        .values()
        .map(|digest| format!("    \"zh:{digest}\",\n"))
        .collect();
    let constraint = constraint();
    std::fs::write(
        tf.dir().join(".terraform.lock.hcl"),
        format!(
            "provider \"{ADDRESS}\" {{\n  version     = \"{VERSION}\"\n  constraints = \"{constraint}\"\n  hashes = [\n{hashes}  ]\n}}\n"
        ),
    )
    .expect("write the lock file");
}

fn init(tf: &Terraform, extra: &[&str]) -> Run {
    let mut args = vec!["init", "-input=false", "-no-color"];
    args.extend_from_slice(extra);
    tf.run(&args)
}

fn installed_provider(tf: &Terraform) -> PathBuf {
    tf.dir().join(format!(
        ".terraform/providers/{ADDRESS}/{VERSION}/{PLATFORM}/terraform-provider-jit_v{VERSION}"
    ))
}

#[track_caller]
fn assert_no_dev_overrides(run: &Run) {
    assert!(
        !run.text().contains("development overrides") && !run.text().contains("dev_overrides"),
        "no dev_overrides in sight:\n{}",
        run.report()
    );
}

/// Plans, applies and destroys one grant with the installed provider, and checks the entry in AWS.
fn apply_and_destroy(tf: &Terraform, aws: &Aws, acl: &str) {
    let apply = tf.apply();
    apply.assert_success();
    assert_no_dev_overrides(&apply);
    let entry = aws.entries(acl);
    assert_eq!(entry.len(), 1, "one entry in AWS after apply: {entry:?}");
    assert_eq!(entry[0].cidr_block(), Some("203.0.113.7/32"));
    tf.assert_plan_empty();
    tf.destroy().assert_success();
    assert!(aws.entries(acl).is_empty(), "destroy removed the entry");
}

/// The installed provider logs its version and commit when it starts, at debug level.
#[track_caller]
fn assert_logs_version_at_debug(tf: &mut Terraform) {
    tf.set_env("TF_LOG_PROVIDER", "debug");
    let run = tf.run(&["validate", "-no-color"]);
    tf.remove_env("TF_LOG_PROVIDER");
    run.assert_success();
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("terraform-provider-jit starting"))
        .unwrap_or_else(|| panic!("the provider logs its start at debug:\n{}", run.report()));
    assert!(
        line.contains(&format!("version={VERSION}")) && line.contains("commit="),
        "the start line names version and commit: {line}"
    );
}

#[track_caller]
fn assert_refused(run: &Run, tf: &Terraform) {
    run.assert_failure();
    assert!(
        run.text().contains("checksum"),
        "terraform refuses the package for its checksum:\n{}",
        run.report()
    );
    assert!(
        !installed_provider(tf).exists(),
        "nothing is installed from a refused package"
    );
}

#[test]
fn filesystem_mirror_installs_and_pins_the_release_with_a_lock_file() {
    let release = Release::pack();
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let acl = aws.new_network_acl();
    let config = filesystem_mirror_config(&release.mirror());

    let mut tf = Terraform::with_cli_config(&moto, &config);
    tf.write_main_tf(&main_tf(&acl));
    let first = init(&tf, &[]);
    first.assert_success();
    assert_no_dev_overrides(&first);
    assert!(
        first
            .text()
            .contains(&format!("Installed jit-access/jit v{VERSION}")),
        "{}",
        first.report()
    );
    // The package terraform computed its hash over is the one the release published.
    assert_eq!(locked_hashes(&tf), [release.published_h1()]);
    let lock = lock_file(&tf);
    let again = init(&tf, &["-lockfile=readonly"]);
    again.assert_success();
    assert_eq!(
        lock_file(&tf),
        lock,
        "-lockfile=readonly leaves the lock file alone"
    );

    apply_and_destroy(&tf, &aws, &acl);
    assert_logs_version_at_debug(&mut tf);

    // CI: a fresh checkout with the committed lock file installs exactly that package, read-only.
    let ci = Terraform::with_cli_config(&moto, &config);
    ci.write_main_tf(&main_tf(&acl));
    std::fs::write(ci.dir().join(".terraform.lock.hcl"), &lock).expect("commit the lock file");
    init(&ci, &["-lockfile=readonly"]).assert_success();
    assert_eq!(lock_file(&ci), lock);

    // A lock file written by a registry install (the zh: hashes of the signed SHA256SUMS) accepts the same zip.
    let registry = Terraform::with_cli_config(&moto, &config);
    registry.write_main_tf(&main_tf(&acl));
    write_registry_lock_file(&registry, &release);
    let sums = release.sums();
    let zh: Vec<String> = sums.values().map(|d| format!("zh:{d}")).collect();
    let zip_digest = &sums[&format!("terraform-provider-jit_{VERSION}_{PLATFORM}.zip")];
    assert!(
        release
            .published_hashes()
            .contains(&format!("zh:{zip_digest}")),
        "the mirror publishes the SHA256SUMS hash of the zip"
    );
    let readonly = init(&registry, &["-lockfile=readonly"]);
    readonly.assert_success();
    assert_eq!(
        locked_hashes(&registry),
        zh,
        "read-only: the lock file is kept as it was"
    );
    assert!(installed_provider(&registry).is_file());
}

#[test]
fn filesystem_mirror_refuses_a_zip_that_does_not_match_the_lock_file() {
    let release = Release::pack();
    let moto = Moto::start();
    let config = filesystem_mirror_config(&release.mirror());
    let tf = Terraform::with_cli_config(&moto, &config);
    tf.write_main_tf(&main_tf("acl-00000000000000000"));
    init(&tf, &[]).assert_success();
    let h1_lock = lock_file(&tf);

    let tampered = release.tampered_mirror();
    let tampered_config = filesystem_mirror_config(tampered.path());
    for (what, lock) in [("h1", Some(h1_lock.as_str())), ("registry zh", None)] {
        let ci = Terraform::with_cli_config(&moto, &tampered_config);
        ci.write_main_tf(&main_tf("acl-00000000000000000"));
        match lock {
            Some(text) => {
                std::fs::write(ci.dir().join(".terraform.lock.hcl"), text).expect("lock file")
            }
            None => write_registry_lock_file(&ci, &release),
        }
        let run = init(&ci, &["-lockfile=readonly"]);
        assert!(
            !run.success(),
            "a tampered zip is refused with the {what} lock file"
        );
        assert_refused(&run, &ci);
    }
}

#[test]
fn network_mirror_over_https_installs_pins_and_refuses_a_tampered_zip() {
    let release = Release::pack();
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let acl = aws.new_network_acl();
    let mirror = HttpsMirror::start(&release.mirror());

    let mut tf = Terraform::with_cli_config(&moto, &network_mirror_config(&mirror.url()));
    tf.set_env("SSL_CERT_FILE", &mirror.ca_file().display().to_string());
    tf.write_main_tf(&main_tf(&acl));
    let first = init(&tf, &[]);
    first.assert_success();
    assert_no_dev_overrides(&first);
    assert_eq!(locked_hashes(&tf), [release.published_h1()]);
    let base = format!("/{ADDRESS}");
    for path in [
        format!("200 {base}/index.json"),
        format!("200 {base}/{VERSION}.json"),
        format!("200 {base}/terraform-provider-jit_{VERSION}_{PLATFORM}.zip"),
    ] {
        assert!(
            mirror.requests().contains(&path),
            "terraform fetched {path} from the mirror: {:?}",
            mirror.requests()
        );
    }
    let lock = lock_file(&tf);
    init(&tf, &["-lockfile=readonly"]).assert_success();
    assert_eq!(lock_file(&tf), lock);
    apply_and_destroy(&tf, &aws, &acl);

    // The mirror's VERSION.json hashes refuse a zip with one byte changed, with no lock file to help.
    let tampered = release.tampered_mirror();
    let bad_mirror = HttpsMirror::start(tampered.path());
    let mut fresh = Terraform::with_cli_config(&moto, &network_mirror_config(&bad_mirror.url()));
    fresh.set_env("SSL_CERT_FILE", &bad_mirror.ca_file().display().to_string());
    fresh.write_main_tf(&main_tf(&acl));
    let run = init(&fresh, &[]);
    assert_refused(&run, &fresh);

    // And so does the lock file of a clean install.
    let mut ci = Terraform::with_cli_config(&moto, &network_mirror_config(&bad_mirror.url()));
    ci.set_env("SSL_CERT_FILE", &bad_mirror.ca_file().display().to_string());
    ci.write_main_tf(&main_tf(&acl));
    std::fs::write(ci.dir().join(".terraform.lock.hcl"), &lock).expect("lock file");
    let run = init(&ci, &["-lockfile=readonly"]);
    assert_refused(&run, &ci);
}
