//! The registry docs under `docs/` must match what the schemas and `examples/` generate.
//! Regenerate with `UPDATE_DOCS=1 cargo test -p terraform-provider-jit --test docs`.

use std::path::PathBuf;
use std::sync::Arc;

use jit_provider::clock::SystemClock;
use jit_provider::docs::{Page, render};
use jit_provider::server::JitProvider;

fn root() -> PathBuf {
    manifest_dir().join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e} (every resource needs its example files)"))
}

#[test]
fn docs_match_schemas_and_examples() {
    let provider = JitProvider::new(Arc::new(SystemClock));
    let mut pages = vec![(
        "docs/index.md".to_string(),
        render(&Page {
            title: "jit",
            kind: "Provider",
            block: &jit_provider::config::schema(),
            example: &read("examples/provider/provider.tf"),
            import: None,
        }),
    )];
    for r in provider.resources() {
        let name = r.type_name();
        let short = name
            .strip_prefix("jit_")
            .expect("resource names start with jit_");
        let schema = r.schema();
        assert!(
            schema.block.undocumented().is_empty(),
            "{name}: attributes without a description: {:?}",
            schema.block.undocumented()
        );
        pages.push((
            format!("docs/resources/{short}.md"),
            render(&Page {
                title: name,
                kind: "Resource",
                block: &schema.block,
                example: &read(&format!("examples/resources/{name}/resource.tf")),
                import: Some(&read(&format!("examples/resources/{name}/import.sh"))),
            }),
        ));
    }
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for (rel, want) in pages {
        let path = root().join(&rel);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty(),
        "stale docs: {stale:?}; run `UPDATE_DOCS=1 cargo test -p terraform-provider-jit --test docs`"
    );
}

/// This package's directory, from the variable cargo and nextest set when they run a test (not
/// `env!`, which a test binary reused from another checkout would carry over).
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo/nextest"))
}
