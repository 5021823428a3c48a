//! Data flows one way: no module of jitlint imports, directly or through others, a module
//! that imports it (input → model → rules → report; the engine above them all).

#[path = "support/import_graph.rs"]
mod import_graph;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use import_graph::{Graph, blank_literals, import_cycles, targets};

/// The crate's directory, read when the test runs: a test binary built by another checkout that
/// shares the target directory (CI's clones share `~/.cache/jit`) reads this checkout's sources.
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo/nextest"))
}

#[test]
fn checker_has_no_import_cycles() {
    let cycles = import_cycles(&manifest_dir());
    assert!(
        cycles.is_empty(),
        "module import cycles in checker/src:\n{}",
        cycles.join("\n")
    );
}

/// The rules read the model and write to the reporting interface; only the engine calls them.
/// (A rule's own `tests` module may drive the engine: it is not part of the rule.)
#[test]
fn rules_never_depend_on_the_engine() {
    let graphs = targets(&manifest_dir());
    let lib = graphs.iter().find(|g| g.target == "lib").unwrap();
    let rules: Vec<String> = lib
        .modules
        .iter()
        .map(|m| m.name())
        .filter(|n| n.starts_with("crate::rules") && !n.ends_with("::tests"))
        .collect();
    assert!(rules.len() > 12, "{rules:?}");
    let mut found = Vec::new();
    for rule in &rules {
        for engine in [
            "crate",
            "crate::check",
            "crate::input",
            "crate::lint",
            "crate::terraform",
        ] {
            if let Some(chain) = lib.dependency(rule, engine) {
                found.push(chain.join(" → "));
            }
        }
    }
    assert!(
        found.is_empty(),
        "rules that import the engine:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_dependency_is_shown_as_its_chain_of_imports() {
    let g = graph(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("a.rs", "use crate::b::X;\n"),
        ("b.rs", "pub struct X;\nfn f() { crate::c::g() }\n"),
        ("c.rs", "pub fn g() {}\n"),
    ]);
    assert_eq!(
        g.dependency("crate::a", "crate::c"),
        Some(vec![
            "crate::a".to_string(),
            "crate::b (src/a.rs:1)".to_string(),
            "crate::c (src/b.rs:2)".to_string()
        ])
    );
    assert_eq!(g.dependency("crate::c", "crate::a"), None);
}

/// The graph of an in-memory crate whose files are given as (path under src/, text).
fn graph(files: &[(&str, &str)]) -> Graph {
    let files: HashMap<String, String> = files
        .iter()
        .map(|(p, t)| (format!("src/{p}"), (*t).to_string()))
        .collect();
    Graph::from_root("lib", Path::new("src/lib.rs"), &|p: &Path| {
        files.get(&p.display().to_string()).cloned()
    })
}

fn cycles(files: &[(&str, &str)]) -> Vec<String> {
    graph(files).cycles()
}

#[test]
fn a_cycle_through_use_items_is_found_with_where_each_import_is() {
    let found = cycles(&[
        ("lib.rs", "mod engine;\nmod rules;\n"),
        ("engine.rs", "use crate::rules::jit001;\n"),
        ("rules/mod.rs", "pub mod jit001;\n"),
        ("rules/jit001.rs", "\n\nuse crate::engine::{Sink, Scope};\n"),
    ]);
    assert_eq!(
        found,
        [
            "[lib] crate::engine → crate::rules::jit001 (src/engine.rs:1) → crate::engine \
          (src/rules/jit001.rs:3); all modules in this cycle: crate::engine, crate::rules::jit001"
        ]
    );
}

#[test]
fn paths_in_expressions_super_and_the_roots_children_count() {
    // `crate::a::f()` in an expression, `super::` from a nested file, and the root's
    // `pub use b::X;` (a path through its own child) are all imports.
    assert_eq!(
        cycles(&[
            ("lib.rs", "mod a;\nmod b;\npub use b::X;\n"),
            ("a.rs", "pub fn f() { let _ = crate::X; }\n"),
            ("b.rs", "pub struct X;\nfn g() { crate::a::f() }\n"),
        ])
        .len(),
        1
    );
    assert_eq!(
        cycles(&[
            ("lib.rs", "mod a;\n"),
            ("a.rs", "mod b;\nuse self::b::Y;\npub struct X;\n"),
            ("a/b.rs", "use super::X;\npub struct Y;\n"),
        ])
        .len(),
        1
    );
}

#[test]
fn inline_test_modules_comments_and_literals_are_not_imports_of_their_parent() {
    let found = cycles(&[
        ("lib.rs", "mod engine;\nmod rule;\n"),
        ("engine.rs", "use crate::rule::check;\n"),
        (
            "rule.rs",
            r##"//! Called by [`crate::engine`].
/* use crate::engine; /* nested */ use crate::engine; */
pub fn check() {
    let _ = "crate::engine::x";
    let _ = r#"use crate::engine::{a, b};"#;
    let _ = '"';
    let _ = '\'';
    let _: &'static str = "";
}

#[cfg(test)]
mod tests {
    use crate::engine;
    mod deeper {
        use crate::engine;
    }
}
"##,
        ),
    ]);
    assert!(found.is_empty(), "{found:?}");
    // The same import outside the test module is a cycle.
    let found = cycles(&[
        ("lib.rs", "mod engine;\nmod rule;\n"),
        ("engine.rs", "use crate::rule::check;\n"),
        (
            "rule.rs",
            "pub fn check() {}\n#[cfg(test)]\nmod tests {}\nuse crate::engine;\n",
        ),
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn nested_use_groups_and_aliases_are_expanded() {
    let found = cycles(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        (
            "a.rs",
            "pub(crate) use crate::{b::{self as bee, Thing}, c as _};\n",
        ),
        ("b.rs", "pub struct Thing;\n"),
        ("c.rs", "fn f() { let _ = crate::a::X; }\n"),
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("crate::a → crate::c"), "{found:?}");
}

#[test]
fn blanking_keeps_lines_and_code() {
    let text = "let s = \"a\nb\"; // c\nlet x = 'y';";
    let blank = blank_literals(text);
    assert_eq!(blank.len(), text.len());
    assert_eq!(blank.lines().count(), 3);
    assert!(blank.starts_with("let s = "));
    assert!(blank.ends_with("let x =    ;"));
}
