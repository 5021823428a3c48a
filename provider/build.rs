//! Generates the gRPC code for the Terraform plugin protocol from `../proto`.
//!
//! protox parses the `.proto` files in pure Rust (it carries the google/protobuf
//! well-known types itself), so building needs no system `protoc`.

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    // Read at run time, not with env!(): a build script compiled in one checkout may be reused
    // by another that shares the target directory (CI's clean clones share one cache).
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    // A directory here makes cargo rerun on any change inside it, including
    // newly added files.
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    println!("cargo:rustc-env=JIT_COMMIT={}", build_commit()?);

    let mut files = Vec::new();
    for entry in std::fs::read_dir(&proto_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path);
        }
    }
    // Sorted so the generated code does not depend on directory order.
    files.sort();

    let descriptors = protox::compile(&files, [&proto_dir])?;
    // The server is the provider; the client drives it from the tests.
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}

/// The commit `--version` reports: `JIT_BUILD_COMMIT` (`scripts/release.sh` sets it to `git rev-parse HEAD`), or
/// `unknown`. Taken from the environment rather than by running git here: watching git's HEAD would rebuild the
/// whole crate after every commit, and a build from a source archive has no git at all.
fn build_commit() -> Result<String, Box<dyn Error>> {
    println!("cargo:rerun-if-env-changed=JIT_BUILD_COMMIT");
    match std::env::var("JIT_BUILD_COMMIT") {
        Err(_) => Ok("unknown".to_string()),
        Ok(commit) if commit.is_empty() => Ok("unknown".to_string()),
        Ok(commit)
            if (7..=64).contains(&commit.len())
                && commit.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
        {
            Ok(commit)
        }
        Ok(commit) => Err(format!(
            "JIT_BUILD_COMMIT={commit:?} is not a commit id: give the lower-case hex of `git rev-parse HEAD`, \
             or unset it (the build then reports commit \"unknown\")"
        )
        .into()),
    }
}
