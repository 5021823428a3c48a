//! `docs/rules.md` is generated from the rules' doc comments; this test fails when it is stale.
//! Regenerate with `JITLINT_UPDATE_DOCS=1 cargo test -p jitlint --test docs`
//! (or `jitlint rules --format markdown > checker/docs/rules.md`).

use std::path::PathBuf;

#[test]
fn rule_docs_are_fresh() {
    let path = manifest_dir().join("docs/rules.md");
    let expected = jitlint::rules::catalogue_markdown();
    if std::env::var_os("JITLINT_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is stale; regenerate it with JITLINT_UPDATE_DOCS=1 cargo test -p jitlint --test docs",
        path.display()
    );
}

/// This package's directory, from the variable cargo and nextest set when they run a test (not
/// `env!`, which a test binary reused from another checkout would carry over).
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo/nextest"))
}
