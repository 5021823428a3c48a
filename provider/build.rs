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
