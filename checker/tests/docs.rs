//! `docs/rules.md` is generated from the rules' doc comments; this test fails when it is stale.
//! Regenerate with `JITLINT_UPDATE_DOCS=1 cargo test -p jitlint --test docs`
//! (or `jitlint rules --format markdown > checker/docs/rules.md`).

mod common;

use common::manifest_dir;

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
