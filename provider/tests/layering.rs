//! Data flows one way through the provider's modules: no module imports, directly or through
//! others, a module that imports it. A module that imports its own caller is a sign that a
//! fact lives in the wrong room (DESIGN.md, Layout).
//!
//! The graph is read from the sources by the checker's `tests/support/import_graph.rs`, the one
//! import-graph reader of the workspace (it takes any crate directory): every `crate::…`,
//! `super::…` and `self::…` path and every path through a child module (`acl::list` in
//! `ctl/mod.rs`), in `use` items and in code, leads to the innermost module it names. A test
//! module (`#[cfg(test)] mod tests`, inline or in its own file) is a module of its own that
//! nothing imports, so a test may use anything without making a cycle.

#[path = "../../checker/tests/support/import_graph.rs"]
mod import_graph;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use import_graph::{Graph, import_cycles, targets};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let graphs = targets(crate_dir());
    let lib = graphs.iter().find(|g| g.target == "lib").unwrap();
    assert!(
        lib.modules.len() > 30,
        "the graph covers the crate: {:?}",
        lib.modules.iter().map(|m| m.name()).collect::<Vec<_>>()
    );
    let cycles = import_cycles(crate_dir());
    assert!(
        cycles.is_empty(),
        "import cycles in provider/src:\n{}",
        cycles.join("\n")
    );
}

/// `jitctl` (`ctl`) works on the grant domain, the policies, the write protocols and AWS; it
/// never reaches into a Terraform resource for a fact.
#[test]
fn jitctl_depends_on_no_resource() {
    let graphs = targets(crate_dir());
    let lib = graphs.iter().find(|g| g.target == "lib").unwrap();
    let names = |prefix: &str| -> Vec<String> {
        lib.modules
            .iter()
            .map(|m| m.name())
            .filter(|n| n == prefix || n.starts_with(&format!("{prefix}::")))
            .filter(|n| !n.ends_with("::tests"))
            .collect()
    };
    let (ctl, resources) = (names("crate::ctl"), names("crate::resources"));
    assert!(
        ctl.len() > 5 && resources.len() > 3,
        "{ctl:?} {resources:?}"
    );
    let mut found = Vec::new();
    for from in &ctl {
        for to in resources.iter().chain([&"crate::resource".to_string()]) {
            if let Some(chain) = lib.dependency(from, to) {
                found.push(chain.join(" → "));
            }
        }
    }
    assert!(
        found.is_empty(),
        "jitctl modules that import a resource:\n{}",
        found.join("\n")
    );
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

/// The modules `from` imports directly.
fn imports(g: &Graph, from: &str) -> BTreeSet<String> {
    let at = g.modules.iter().position(|m| m.name() == from).unwrap();
    g.edges
        .iter()
        .filter(|e| e.from == at)
        .map(|e| g.modules[e.to].name())
        .collect()
}

/// A crate laid out like the provider, with `ctl/policy.rs` naming modules in every form the
/// reader must see, and in the forms it must not count (comments, literals, test modules).
const PROVIDER_LIKE: [(&str, &str); 15] = [
    (
        "lib.rs",
        "pub mod aws;\npub mod ctl;\npub mod fake;\npub mod ghost;\npub mod grant;\n\
         pub mod resources;\npub mod testonly;\npub mod tf;\n",
    ),
    ("aws/mod.rs", "pub mod nacl;\n"),
    (
        "aws/nacl.rs",
        "use crate::grant::Record;\npub struct Nacls;\n",
    ),
    (
        "ctl/mod.rs",
        "pub mod acl;\npub mod policy;\npub struct Target;\n",
    ),
    ("ctl/acl.rs", "pub struct Row;\n"),
    (
        "ctl/policy.rs",
        "//! Mentions crate::ghost in a comment.\n\
         use super::{Target, acl::Row};\n\
         use crate::{grant::{id::GrantId, Record}, tf};\n\
         pub mod acl;\n\
         #[cfg(test)]\n\
         mod tests;\n\
         fn f() { let s = \"crate::fake::x\"; let c = '{'; acl::list(); crate::aws::nacl::Nacls::new(); }\n\
         #[cfg(test)]\n\
         mod inline { use crate::testonly::X; }\n",
    ),
    ("ctl/policy/acl.rs", "pub fn list() {}\n"),
    ("ctl/policy/tests.rs", "use crate::resources::Rule;\n"),
    ("grant/mod.rs", "pub mod id;\npub struct Record;\n"),
    ("grant/id.rs", "pub struct GrantId;\n"),
    (
        "resources/mod.rs",
        "use crate::grant::Record;\npub struct Rule;\n",
    ),
    ("tf.rs", ""),
    ("fake.rs", ""),
    ("ghost.rs", ""),
    ("testonly.rs", ""),
];

#[test]
fn the_graph_sees_every_kind_of_path_and_skips_tests_and_text() {
    let g = graph(&PROVIDER_LIKE);
    let want: BTreeSet<String> = [
        "crate::ctl",              // super::Target
        "crate::ctl::acl",         // super::acl::Row
        "crate::grant::id",        // crate::grant::id::GrantId
        "crate::grant",            // crate::grant::Record
        "crate::tf",               // crate::tf
        "crate::ctl::policy::acl", // acl::list, through its own child
        "crate::aws::nacl",        // crate::aws::nacl::Nacls::new, in an expression
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(imports(&g, "crate::ctl::policy"), want);
    // The test modules are modules of their own: what they import is not the file's.
    assert_eq!(
        imports(&g, "crate::ctl::policy::inline"),
        BTreeSet::from(["crate::testonly".to_string()])
    );
    assert_eq!(
        imports(&g, "crate::ctl::policy::tests"),
        BTreeSet::from(["crate::resources".to_string()])
    );
    assert!(g.cycles().is_empty(), "{:?}", g.cycles());
    assert_eq!(g.dependency("crate::ctl::policy", "crate::resources"), None);
}

/// The detector fails on a real cycle: the domain importing a resource, which imports the
/// domain; and a parent that imports its child, which imports the parent.
#[test]
fn a_planted_cycle_is_found() {
    let mut files = PROVIDER_LIKE;
    files[8] = (
        "grant/mod.rs",
        "pub mod id;\npub struct Record(crate::resources::Rule);\n",
    );
    let found = graph(&files).cycles();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("crate::resources (src/grant/mod.rs:2)")
            && found[0].contains("crate::grant (src/resources/mod.rs:1)")
            && found[0].ends_with("all modules in this cycle: crate::grant, crate::resources"),
        "{found:?}"
    );

    let mut files = PROVIDER_LIKE;
    files[4] = ("ctl/acl.rs", "pub struct Row(super::Target);\n");
    files[3] = (
        "ctl/mod.rs",
        "pub mod acl;\npub mod policy;\npub struct Target;\nfn f() { acl::Row; }\n",
    );
    let found = graph(&files).cycles();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("crate::ctl → crate::ctl::acl"),
        "{found:?}"
    );
}
