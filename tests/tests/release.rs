//! `scripts/release.sh`: its packaging step on binaries it is given (stand-ins here: packing does not look inside
//! them), the checksums, signatures and refusals, the release workflow's lint, and `--version` of the binaries
//! a release ships. The build step itself (`cargo build --release`) is too slow for CI on two cores; it runs
//! for real only in `scripts/release.sh` without `--bin-dir`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jit_e2e::{provider_dir, workspace_root};
use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// 2025-12-01T00:00:00Z: the archives' timestamps in these tests.
const EPOCH: &str = "1764547200";

/// The binaries of one platform, stand-ins with distinct contents.
fn fake_bin_dir(windows: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let exe = if windows { ".exe" } else { "" };
    for name in [
        "terraform-provider-jit",
        "jitctl",
        "jitctl-lambda",
        "jit-client-vpn-handler",
    ] {
        std::fs::write(
            dir.path().join(format!("{name}{exe}")),
            format!("stand-in for {name}\n"),
        )
        .expect("write a stand-in binary");
    }
    dir
}

/// Runs `scripts/release.sh ARGS` with the archives' timestamp fixed and no signing key from the environment.
fn release(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(workspace_root().join("scripts/release.sh"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env_remove("JIT_GPG_KEY")
        .env_remove("JIT_GPG_PASSPHRASE");
    cmd.envs(env.iter().copied());
    cmd.output().expect("run scripts/release.sh")
}

fn report(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[track_caller]
fn pack_into(bin: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "--bin-dir",
        bin.to_str().expect("UTF-8"),
        "--out",
        out.to_str().expect("UTF-8"),
    ];
    args.extend_from_slice(extra);
    let run = release(&args, &[]);
    assert!(run.status.success(), "packing failed:\n{}", report(&run));
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every entry of a zip, as Python's zipfile reads it: name, timestamp, Unix mode, creator system, contents.
fn zip_entries(zip: &Path) -> Vec<Value> {
    let script = r#"
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    print(json.dumps([{"name": i.filename, "date_time": list(i.date_time), "mode": i.external_attr >> 16,
                       "system": i.create_system, "deflated": i.compress_type == zipfile.ZIP_DEFLATED,
                       "data": z.read(i.filename).decode("latin-1")} for i in z.infolist()]))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(zip)
        .output()
        .expect("run python3");
    assert!(out.status.success(), "{}", report(&out));
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("JSON")
        .as_array()
        .expect("a list")
        .clone()
}

#[track_caller]
fn assert_single_executable(zip: &Path, name: &str, stands_for: &str) {
    let entries = zip_entries(zip);
    assert_eq!(
        entries.len(),
        1,
        "{} holds one file: {entries:?}",
        zip.display()
    );
    let e = &entries[0];
    assert_eq!(e["name"], name, "{}", zip.display());
    assert_eq!(e["date_time"], serde_json::json!([2025, 12, 1, 0, 0, 0]));
    assert_eq!(e["mode"], 0o100755, "a regular executable file");
    assert_eq!(e["system"], 3, "Unix attributes, so unzip keeps the mode");
    assert_eq!(e["deflated"], true);
    assert_eq!(e["data"], format!("stand-in for {stands_for}\n"));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `sha256sum --check` over a checksum file, in its directory.
#[track_caller]
fn assert_sums_verify(dir: &Path, sums: &str) {
    let out = Command::new("sha256sum")
        .args(["--check", "--strict", sums])
        .current_dir(dir)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "{sums} verifies:\n{}", report(&out));
}

fn sum_names(path: &Path) -> Vec<String> {
    read(path)
        .lines()
        .map(|l| l.split_once("  ").expect("`digest  name`").1.to_string())
        .collect()
}

#[test]
fn packs_the_registry_layout_for_linux_with_checksums_manifest_and_a_mirror() {
    let bin = fake_bin_dir(false);
    let work = tempfile::tempdir().expect("temporary directory");
    let out = work.path().join("dist");
    let mirror = work.path().join("mirror");
    pack_into(
        bin.path(),
        &out,
        &[
            "--platform",
            "linux_amd64",
            "--mirror",
            mirror.to_str().expect("UTF-8"),
        ],
    );

    let provider_zip = format!("terraform-provider-jit_{VERSION}_linux_amd64.zip");
    let manifest = format!("terraform-provider-jit_{VERSION}_manifest.json");
    let provider_sums = format!("terraform-provider-jit_{VERSION}_SHA256SUMS");
    let tools_sums = format!("jit_{VERSION}_SHA256SUMS");
    assert_eq!(
        files(&out),
        [
            format!("jit-client-vpn-handler_{VERSION}_x86_64.zip"),
            format!("jit_{VERSION}_SHA256SUMS"),
            format!("jitctl-lambda_{VERSION}_x86_64.zip"),
            format!("jitctl_{VERSION}_linux_amd64.zip"),
            provider_sums.clone(),
            provider_zip.clone(),
            manifest.clone(),
        ]
    );
    assert_single_executable(
        &out.join(&provider_zip),
        &format!("terraform-provider-jit_v{VERSION}"),
        "terraform-provider-jit",
    );
    assert_single_executable(
        &out.join(format!("jitctl_{VERSION}_linux_amd64.zip")),
        "jitctl",
        "jitctl",
    );
    for lambda in ["jitctl-lambda", "jit-client-vpn-handler"] {
        assert_single_executable(
            &out.join(format!("{lambda}_{VERSION}_x86_64.zip")),
            "bootstrap",
            lambda,
        );
    }
    assert_eq!(
        read(&out.join(&manifest)),
        "{\"version\": 1, \"metadata\": {\"protocol_versions\": [\"6.0\"]}}\n"
    );
    // What Terraform reads covers the provider only; the tools have their own checksums.
    assert_eq!(
        sum_names(&out.join(&provider_sums)),
        [provider_zip.clone(), manifest]
    );
    assert_eq!(
        sum_names(&out.join(&tools_sums)),
        [
            format!("jit-client-vpn-handler_{VERSION}_x86_64.zip"),
            format!("jitctl-lambda_{VERSION}_x86_64.zip"),
            format!("jitctl_{VERSION}_linux_amd64.zip"),
        ]
    );
    assert_sums_verify(&out, &provider_sums);
    assert_sums_verify(&out, &tools_sums);

    // The mirror: the packed filesystem layout plus the network mirror protocol's JSON documents.
    let type_dir = mirror.join("registry.terraform.io/jit-access/jit");
    assert_eq!(
        files(&type_dir),
        [
            format!("{VERSION}.json"),
            "index.json".to_string(),
            provider_zip.clone()
        ]
    );
    let index: Value = serde_json::from_str(&read(&type_dir.join("index.json"))).expect("JSON");
    assert_eq!(index, serde_json::json!({ "versions": { VERSION: {} } }));
    let version: Value =
        serde_json::from_str(&read(&type_dir.join(format!("{VERSION}.json")))).expect("JSON");
    let digest = read(&out.join(&provider_sums))
        .lines()
        .find_map(|l| {
            l.strip_suffix(&format!("  {provider_zip}"))
                .map(str::to_string)
        })
        .expect("the zip's line");
    let archive = &version["archives"]["linux_amd64"];
    assert_eq!(archive["url"], provider_zip.as_str());
    let hashes = archive["hashes"].as_array().expect("hashes");
    assert!(
        hashes.contains(&Value::from(format!("zh:{digest}"))),
        "{hashes:?}"
    );
    assert!(
        hashes
            .iter()
            .any(|h| h.as_str().is_some_and(|h| h.starts_with("h1:"))),
        "{hashes:?}"
    );
}

#[test]
fn two_packs_of_the_same_binaries_are_byte_identical() {
    let work = tempfile::tempdir().expect("temporary directory");
    let first = fake_bin_dir(false);
    // The same bytes, with another modification time and mode: neither reaches the archives.
    let second = fake_bin_dir(false);
    for entry in std::fs::read_dir(second.path()).expect("read") {
        let path = entry.expect("entry").path();
        let file = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open");
        file.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1))
            .expect("set mtime");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    pack_into(first.path(), &a, &[]);
    pack_into(second.path(), &b, &[]);
    let names = files(&a);
    assert_eq!(names, files(&b));
    for name in &names {
        assert_eq!(
            std::fs::read(a.join(name)).expect("read"),
            std::fs::read(b.join(name)).expect("read"),
            "{name} differs between two packs"
        );
    }
    // A different timestamp changes every zip: the check above could fail.
    let c = work.path().join("c");
    let run = release(
        &[
            "--bin-dir",
            first.path().to_str().expect("UTF-8"),
            "--out",
            c.to_str().expect("UTF-8"),
        ],
        &[("SOURCE_DATE_EPOCH", "1764547202")],
    );
    assert!(run.status.success(), "{}", report(&run));
    let sums = format!("terraform-provider-jit_{VERSION}_SHA256SUMS");
    assert_ne!(read(&a.join(&sums)), read(&c.join(&sums)));
}

#[test]
fn other_platforms_are_named_as_terraform_and_lambda_expect_and_merge_into_one_sha256sums() {
    let work = tempfile::tempdir().expect("temporary directory");
    let dist = work.path().join("dist");
    let windows = fake_bin_dir(true);
    pack_into(
        windows.path(),
        &dist,
        &["--platform", "windows_amd64", "--provider-only"],
    );
    let linux_arm = fake_bin_dir(false);
    pack_into(linux_arm.path(), &dist, &["--platform", "linux_arm64"]);
    let darwin = fake_bin_dir(false);
    pack_into(darwin.path(), &dist, &["--platform", "darwin_arm64"]);

    assert_single_executable(
        &dist.join(format!(
            "terraform-provider-jit_{VERSION}_windows_amd64.zip"
        )),
        &format!("terraform-provider-jit_v{VERSION}.exe"),
        "terraform-provider-jit",
    );
    assert_single_executable(
        &dist.join(format!("jitctl-lambda_{VERSION}_arm64.zip")),
        "bootstrap",
        "jitctl-lambda",
    );
    assert!(
        !dist
            .join(format!("jitctl_{VERSION}_windows_amd64.zip"))
            .exists(),
        "--provider-only packs the provider only"
    );
    assert!(
        files(&dist)
            .iter()
            .all(|n| !n.contains("lambda") || n.contains("arm64")),
        "Lambda bundles only for Linux: {:?}",
        files(&dist)
    );

    // The release workflow's last step: one SHA256SUMS over every platform's archives.
    let run = release(
        &["--checksums-only", "--out", dist.to_str().expect("UTF-8")],
        &[],
    );
    assert!(run.status.success(), "{}", report(&run));
    let provider_sums = format!("terraform-provider-jit_{VERSION}_SHA256SUMS");
    assert_eq!(
        sum_names(&dist.join(&provider_sums)),
        [
            format!("terraform-provider-jit_{VERSION}_darwin_arm64.zip"),
            format!("terraform-provider-jit_{VERSION}_linux_arm64.zip"),
            format!("terraform-provider-jit_{VERSION}_manifest.json"),
            format!("terraform-provider-jit_{VERSION}_windows_amd64.zip"),
        ]
    );
    assert_sums_verify(&dist, &provider_sums);
    assert_sums_verify(&dist, &format!("jit_{VERSION}_SHA256SUMS"));
}

/// A throwaway GnuPG home with one RSA signing key; the agent it starts is stopped on drop.
struct Gpg {
    home: tempfile::TempDir,
    fingerprint: String,
}

impl Gpg {
    /// A key without a passphrase, or with `passphrase`.
    fn new(passphrase: &str) -> Gpg {
        // Short path: gpg-agent's socket path must fit in a sockaddr_un.
        let home = tempfile::Builder::new()
            .prefix("jit-gpg")
            .tempdir_in("/tmp")
            .expect("temporary directory");
        let mut gpg = Gpg {
            home,
            fingerprint: String::new(),
        };
        let out = gpg.run(&[
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
            "--quick-generate-key",
            "jit release test <release-test@example.invalid>",
            "rsa2048",
            "sign",
            "never",
        ]);
        assert!(
            out.status.success(),
            "gpg key generation:\n{}",
            report(&out)
        );
        let list = gpg.run(&["--batch", "--with-colons", "--list-secret-keys"]);
        gpg.fingerprint = String::from_utf8_lossy(&list.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            })
            .expect("the new key's fingerprint");
        gpg
    }

    fn home(&self) -> &str {
        self.home.path().to_str().expect("UTF-8")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("gpg")
            .args(args)
            .env("GNUPGHOME", self.home.path())
            .output()
            .expect("run gpg (GnuPG must be installed)")
    }

    fn verify(&self, sig: &Path, data: &Path) -> Output {
        self.run(&[
            "--batch",
            "--verify",
            sig.to_str().expect("UTF-8"),
            data.to_str().expect("UTF-8"),
        ])
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.home.path())
            .output();
    }
}

#[test]
fn signs_both_checksum_files_with_the_given_key_and_gpg_verifies_them() {
    let gpg = Gpg::new("");
    let bin = fake_bin_dir(false);
    let work = tempfile::tempdir().expect("temporary directory");
    let out = work.path().join("dist");
    let run = release(
        &[
            "--bin-dir",
            bin.path().to_str().expect("UTF-8"),
            "--out",
            out.to_str().expect("UTF-8"),
        ],
        &[("JIT_GPG_KEY", &gpg.fingerprint), ("GNUPGHOME", gpg.home())],
    );
    assert!(run.status.success(), "{}", report(&run));
    for sums in [
        format!("terraform-provider-jit_{VERSION}_SHA256SUMS"),
        format!("jit_{VERSION}_SHA256SUMS"),
    ] {
        let (data, sig) = (out.join(&sums), out.join(format!("{sums}.sig")));
        let bytes = std::fs::read(&sig).expect("the signature exists");
        // The registries want a binary detached signature, not ASCII armor.
        assert!(
            !bytes.starts_with(b"-----BEGIN"),
            "{sums}.sig is a binary signature"
        );
        let verified = gpg.verify(&sig, &data);
        assert!(
            verified.status.success(),
            "gpg --verify {sums}.sig:\n{}",
            report(&verified)
        );
        assert!(
            String::from_utf8_lossy(&verified.stderr).contains("Good signature"),
            "{}",
            report(&verified)
        );
        // The check can fail: the same signature over other bytes does not verify.
        let forged = work.path().join(format!("{sums}.forged"));
        std::fs::write(&forged, read(&data).replacen('0', "1", 1)).expect("write");
        assert!(!gpg.verify(&sig, &forged).status.success());
    }

    // Rewriting the checksums without a key drops the signatures, which would no longer match.
    let run = release(
        &["--checksums-only", "--out", out.to_str().expect("UTF-8")],
        &[],
    );
    assert!(run.status.success(), "{}", report(&run));
    assert!(files(&out).iter().all(|n| !n.ends_with(".sig")));
}

#[test]
fn signs_with_a_key_that_has_a_passphrase_given_in_jit_gpg_passphrase() {
    let gpg = Gpg::new("correct horse");
    let bin = fake_bin_dir(false);
    let work = tempfile::tempdir().expect("temporary directory");
    let out = work.path().join("dist");
    let sign = |passphrase: &str| {
        release(
            &[
                "--bin-dir",
                bin.path().to_str().expect("UTF-8"),
                "--out",
                out.to_str().expect("UTF-8"),
            ],
            &[
                ("JIT_GPG_KEY", &gpg.fingerprint),
                ("GNUPGHOME", gpg.home()),
                ("JIT_GPG_PASSPHRASE", passphrase),
            ],
        )
    };
    let wrong = sign("wrong");
    assert_eq!(wrong.status.code(), Some(1), "{}", report(&wrong));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("gpg could not sign"),
        "{}",
        report(&wrong)
    );
    let right = sign("correct horse");
    assert!(right.status.success(), "{}", report(&right));
    let sums = out.join(format!("terraform-provider-jit_{VERSION}_SHA256SUMS"));
    let verified = gpg.verify(
        &out.join(format!("terraform-provider-jit_{VERSION}_SHA256SUMS.sig")),
        &sums,
    );
    assert!(verified.status.success(), "{}", report(&verified));
}

#[test]
fn refuses_a_version_without_a_changelog_entry() {
    let bin = fake_bin_dir(false);
    let work = tempfile::tempdir().expect("temporary directory");
    let out = work.path().join("dist");
    let run = release(
        &[
            "--bin-dir",
            bin.path().to_str().expect("UTF-8"),
            "--out",
            out.to_str().expect("UTF-8"),
            "9.8.7",
        ],
        &[],
    );
    assert_eq!(run.status.code(), Some(1), "{}", report(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("CHANGELOG.md has no entry for 9.8.7")
            && stderr.contains("## [9.8.7] - YYYY-MM-DD"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is packed");
}

#[test]
fn the_changelog_has_an_entry_for_the_workspace_version() {
    let run = release(&["--notes"], &[]);
    assert!(run.status.success(), "{}", report(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("### Provider"),
        "{}",
        report(&run)
    );
}

#[test]
fn refuses_a_version_other_than_the_workspace_version() {
    let changelog = read(&workspace_root().join("CHANGELOG.md"));
    let older = changelog
        .lines()
        .filter_map(|l| l.strip_prefix("## ["))
        .filter_map(|l| l.split_once(']').map(|(v, _)| v))
        .find(|v| *v != VERSION)
        .expect("the changelog names an older version");
    let bin = fake_bin_dir(false);
    let work = tempfile::tempdir().expect("temporary directory");
    let run = release(
        &[
            "--bin-dir",
            bin.path().to_str().expect("UTF-8"),
            "--out",
            work.path().join("dist").to_str().expect("UTF-8"),
            older,
        ],
        &[],
    );
    assert_eq!(run.status.code(), Some(1), "{}", report(&run));
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains(&format!("{older} is not the workspace version {VERSION}")),
        "{}",
        report(&run)
    );
}

#[test]
fn refuses_to_pack_a_binary_that_is_missing() {
    let bin = fake_bin_dir(false);
    std::fs::remove_file(bin.path().join("jitctl")).expect("remove");
    let work = tempfile::tempdir().expect("temporary directory");
    let run = release(
        &[
            "--bin-dir",
            bin.path().to_str().expect("UTF-8"),
            "--out",
            work.path().join("dist").to_str().expect("UTF-8"),
        ],
        &[],
    );
    assert_eq!(run.status.code(), Some(1), "{}", report(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    let missing = bin.path().join("jitctl");
    assert!(
        stderr.contains(&format!("{} does not exist", missing.display()))
            && stderr.contains("cargo build --release --locked"),
        "{stderr}"
    );
}

/// The release workflow cannot run here; its linters can.
#[test]
fn the_release_workflow_passes_actionlint_and_zizmor() {
    let root = workspace_root();
    let venv = Command::new("bash")
        .arg(root.join("scripts/gha-lint-venv.sh"))
        .output()
        .expect("run scripts/gha-lint-venv.sh");
    assert!(venv.status.success(), "{}", report(&venv));
    let bin = PathBuf::from(String::from_utf8_lossy(&venv.stdout).trim());
    let workflow = root.join(".github/workflows/release.yml");
    let actionlint = Command::new(bin.join("actionlint"))
        .arg(&workflow)
        .current_dir(&root)
        .output()
        .expect("run actionlint");
    assert!(
        actionlint.status.success(),
        "actionlint:\n{}",
        report(&actionlint)
    );
    // The strictest persona, offline (no GitHub API calls).
    let zizmor = Command::new(bin.join("zizmor"))
        .args(["--offline", "--persona=auditor", "--no-progress"])
        .arg(&workflow)
        .output()
        .expect("run zizmor");
    assert!(zizmor.status.success(), "zizmor:\n{}", report(&zizmor));
    assert!(
        String::from_utf8_lossy(&zizmor.stdout).contains("No findings"),
        "zizmor:\n{}",
        report(&zizmor)
    );
}

#[test]
fn provider_and_jitctl_print_their_version_and_commit() {
    let dir = provider_dir().unwrap_or_else(|e| panic!("{e}"));
    let mut seen = BTreeMap::new();
    for name in ["terraform-provider-jit", "jitctl"] {
        let out = Command::new(dir.join(name))
            .arg("--version")
            .env_remove("TF_PLUGIN_MAGIC_COOKIE")
            .output()
            .expect("run the binary");
        assert!(out.status.success(), "{name} --version:\n{}", report(&out));
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let commit = line
            .strip_prefix(&format!("{name} {VERSION} (commit "))
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap_or_else(|| {
                panic!("{name} --version prints `{name} {VERSION} (commit …)`: {line}")
            });
        assert!(
            commit == "unknown"
                || (commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
            "{line}"
        );
        seen.insert(name, commit.to_string());
    }
    assert_eq!(
        seen["terraform-provider-jit"], seen["jitctl"],
        "one build, one commit"
    );
}
