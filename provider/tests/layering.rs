//! Data flows one way through the provider's modules: no module imports, directly or through
//! others, a module that imports it. A module that imports its own caller is a sign that a
//! fact lives in the wrong room (DESIGN.md, Layout).
//!
//! The graph is built from the source text: every `crate::…`, `super::…` and `self::…` path and
//! every path through a child module (`acl::list` in `ctl/mod.rs`), in `use` items and in code,
//! resolved to the innermost module that exists. Test code (`#[cfg(test)]` items and the files
//! they declare) is left out: a test may use anything. The library crate only: the binaries in
//! `src/bin/` and `src/main.rs` reach it as `jit_provider::`, from outside.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside the crate: `[]` is the crate root, `["ctl", "acl"]` is `crate::ctl::acl`.
type Module = Vec<String>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// The tokens of Rust source that matter for paths, without comments, strings and characters.
fn tokens(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&chars, i + 1);
        } else if let Some((hashes, body)) =
            raw_string_start(&chars, i).filter(|_| !prev_is_ident(&chars, i))
        {
            i = skip_raw_string(&chars, body, hashes);
        } else if c == '\'' {
            // A character literal, or a lifetime (left as is: it is not a path).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c == ':' && next == Some(':') {
            out.push(Token::PathSep);
            i += 2;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            if !c.is_whitespace() {
                out.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// At `r"`, `r#"`, `br"`…: the number of `#` and the index of the first character inside.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

fn skip_raw_string(chars: &[char], mut i: usize, hashes: usize) -> usize {
    while i < chars.len() {
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The paths a path expression starting at `i` names, expanding `{a, b::c}` groups: each as
/// its segments. Returns them and the index after the expression.
fn paths_at(toks: &[Token], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut segs = Vec::new();
    loop {
        match toks.get(i) {
            Some(Token::Ident(s)) => {
                segs.push(s.clone());
                i += 1;
            }
            Some(Token::Punct('{')) => {
                let mut out = Vec::new();
                i += 1;
                loop {
                    match toks.get(i) {
                        Some(Token::Punct('}')) | None => return (out, i + 1),
                        Some(Token::Punct(',')) => i += 1,
                        _ => {
                            let (inner, next) = paths_at(toks, i);
                            for p in inner {
                                let mut full = segs.clone();
                                full.extend(p);
                                out.push(full);
                            }
                            if next == i {
                                i += 1;
                            } else {
                                i = next;
                            }
                        }
                    }
                }
            }
            _ => return (vec![segs], i),
        }
        if toks.get(i) == Some(&Token::PathSep) {
            i += 1;
        } else {
            return (vec![segs], i);
        }
    }
}

/// One source file: the module it is, and the modules its non-test code names.
struct Unit {
    module: Module,
    /// Child modules it declares that are not test-only (`mod x;`, and inline `mod x { … }`).
    children: BTreeSet<String>,
    /// Child modules it declares only under `#[cfg(test)]`.
    test_children: BTreeSet<String>,
    /// Raw references, each with the module it appears in (inline modules nest).
    references: Vec<(Module, Vec<String>)>,
}

fn parse_unit(module: Module, src: &str) -> Unit {
    let toks = tokens(src);
    let mut unit = Unit {
        module: module.clone(),
        children: BTreeSet::new(),
        test_children: BTreeSet::new(),
        references: Vec::new(),
    };
    // The module each brace depth belongs to, for inline modules.
    let mut scopes: Vec<(usize, Module)> = vec![(0, module.clone())];
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        // `#[cfg(test)]` and the item after it: skipped.
        if is_cfg_test(&toks, i) {
            let item = i + 7;
            let (is_mod, name, end) = item_extent(&toks, item);
            if is_mod && toks.get(end - 1) == Some(&Token::Punct(';')) {
                unit.test_children.insert(name);
            }
            i = end;
            continue;
        }
        let current = scopes.last().expect("root scope").1.clone();
        match &toks[i] {
            Token::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Token::Punct('}') => {
                if scopes.last().is_some_and(|(d, _)| *d == depth) && scopes.len() > 1 {
                    scopes.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Token::Ident(kw) if kw == "mod" => {
                if let Some(Token::Ident(name)) = toks.get(i + 1) {
                    match toks.get(i + 2) {
                        Some(Token::Punct(';')) if current == module => {
                            unit.children.insert(name.clone());
                        }
                        Some(Token::Punct('{')) => {
                            let mut inner = current.clone();
                            inner.push(name.clone());
                            depth += 1;
                            scopes.push((depth, inner));
                            if current == module {
                                unit.children.insert(name.clone());
                            }
                            i += 3;
                            continue;
                        }
                        _ => {}
                    }
                }
                i += 1;
            }
            Token::Ident(_) => {
                let starts_path = (i == 0 || toks[i - 1] != Token::PathSep)
                    && toks.get(i + 1) == Some(&Token::PathSep);
                if starts_path {
                    let (paths, end) = paths_at(&toks, i);
                    for p in paths {
                        unit.references.push((current.clone(), p));
                    }
                    i = end.max(i + 1);
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    unit
}

/// `# [ cfg ( test ) ]` at `i`.
fn is_cfg_test(toks: &[Token], i: usize) -> bool {
    let want = [
        Token::Punct('#'),
        Token::Punct('['),
        Token::Ident("cfg".into()),
        Token::Punct('('),
        Token::Ident("test".into()),
        Token::Punct(')'),
        Token::Punct(']'),
    ];
    toks.len() >= i + want.len() && toks[i..i + want.len()] == want
}

/// The item starting at `i` (after its attribute): whether it is a `mod`, its name if so, and
/// the index after it (after its `;`, or its balanced `{ … }`).
fn item_extent(toks: &[Token], mut i: usize) -> (bool, String, usize) {
    let mut is_mod = false;
    let mut name = String::new();
    let mut depth = 0usize;
    while i < toks.len() {
        match &toks[i] {
            Token::Ident(k) if k == "mod" && depth == 0 => {
                is_mod = true;
                if let Some(Token::Ident(n)) = toks.get(i + 1) {
                    name = n.clone();
                }
            }
            Token::Punct(';') if depth == 0 => return (is_mod, name, i + 1),
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    return (is_mod, name, i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    (is_mod, name, i)
}

/// Every library module file under `src`, by module path.
fn module_files(src: &Path) -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, prefix: &Module, out: &mut BTreeMap<Module, PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("readable src")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if prefix.is_empty() && name == "bin" {
                    continue;
                }
                let mut m = prefix.clone();
                m.push(name);
                walk(&path, &m, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = match name.as_str() {
                    "lib" | "mod" => prefix.clone(),
                    "main" if prefix.is_empty() => continue,
                    _ => {
                        let mut m = prefix.clone();
                        m.push(name);
                        m
                    }
                };
                out.insert(module, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &Vec::new(), &mut out);
    out
}

/// The module a path names, as seen from `from`: the innermost existing module its segments
/// lead to; `None` for paths outside the crate.
fn resolve(
    from: &Module,
    children: &BTreeSet<String>,
    path: &[String],
    modules: &BTreeSet<Module>,
) -> Option<Module> {
    let (mut base, rest): (Module, &[String]) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("self") => (from.clone(), &path[1..]),
        Some("super") => {
            let mut base = from.clone();
            let mut rest = path;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
            (base, rest)
        }
        Some(child) if children.contains(child) => (from.clone(), path),
        _ => return None,
    };
    let mut found = base.clone();
    for seg in rest {
        base.push(seg.clone());
        if modules.contains(&base) {
            found = base.clone();
        } else {
            break;
        }
    }
    Some(found)
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// The import graph of the library under `src`: module → the modules it names.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let files = module_files(src);
    let units: Vec<Unit> = files
        .iter()
        .map(|(m, p)| {
            let text = std::fs::read_to_string(p).expect("readable source");
            parse_unit(m.clone(), &text)
        })
        .collect();
    // Files only a `#[cfg(test)] mod x;` declares, and everything under them.
    let test_only: BTreeSet<Module> = units
        .iter()
        .flat_map(|u| {
            u.test_children.iter().map(|c| {
                let mut m = u.module.clone();
                m.push(c.clone());
                m
            })
        })
        .collect();
    let is_test = |m: &Module| test_only.iter().any(|t| m.starts_with(t));
    // Inline modules count as modules too.
    let mut modules: BTreeSet<Module> = files.keys().cloned().collect();
    for u in &units {
        for c in &u.children {
            let mut m = u.module.clone();
            m.push(c.clone());
            modules.insert(m);
        }
    }
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for u in units.iter().filter(|u| !is_test(&u.module)) {
        edges.entry(u.module.clone()).or_default();
        for (from, path) in &u.references {
            let children: BTreeSet<String> = modules
                .iter()
                .filter(|m| m.len() == from.len() + 1 && m.starts_with(from))
                .map(|m| m.last().expect("child").clone())
                .collect();
            let Some(to) = resolve(from, &children, path, &modules) else {
                continue;
            };
            // An inline module belongs to its file.
            let from_file = file_of(from, &files);
            let to_file = file_of(&to, &files);
            if from_file != to_file && !to_file.is_empty() && !is_test(&to_file) {
                edges.entry(from_file).or_default().insert(to_file);
            }
        }
    }
    edges
}

/// The file module that holds `m` (itself, or the file an inline module sits in).
fn file_of(m: &Module, files: &BTreeMap<Module, PathBuf>) -> Module {
    let mut m = m.clone();
    while !files.contains_key(&m) {
        m.pop();
    }
    m
}

/// The strongly connected components with more than one module (Tarjan), each sorted.
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().expect("on stack");
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

/// For a report: each module of the cycle with the modules of the cycle it names.
fn describe(cycle: &[Module], edges: &BTreeMap<Module, BTreeSet<Module>>) -> String {
    cycle
        .iter()
        .map(|m| {
            let to: Vec<String> = edges[m]
                .iter()
                .filter(|t| cycle.contains(t))
                .map(name)
                .collect();
            format!("  {} -> {}", name(m), to.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = graph(&src);
    assert!(
        edges.len() > 30,
        "the graph covers the crate: {:?}",
        edges.keys().map(name).collect::<Vec<_>>()
    );
    let found = cycles(&edges);
    let report: Vec<String> = found.iter().map(|c| describe(c, &edges)).collect();
    assert!(
        found.is_empty(),
        "import cycles in provider/src:\n{}",
        report.join("\n\n")
    );
}

/// The detector itself: paths in every form it must see, and what it must not count.
#[test]
fn the_graph_sees_every_kind_of_path_and_skips_tests_and_text() {
    let src = "//! Mentions crate::ghost in a comment.\n\
               use super::{Target, acl::Row};\n\
               use crate::{grant::{id::GrantId, Record}, tf};\n\
               pub mod acl;\n\
               #[cfg(test)]\n\
               mod tests;\n\
               fn f() { let s = \"crate::fake::x\"; let c = '{'; acl::list(); crate::aws::nacl::Nacls::new(); }\n\
               #[cfg(test)]\n\
               mod inline { use crate::testonly::X; }\n";
    let unit = parse_unit(vec!["ctl".into(), "policy".into()], src);
    let refs: BTreeSet<String> = unit.references.iter().map(|(_, p)| p.join("::")).collect();
    let want: BTreeSet<String> = [
        "super::Target",
        "super::acl::Row",
        "crate::grant::id::GrantId",
        "crate::grant::Record",
        "crate::tf",
        "acl::list",
        "crate::aws::nacl::Nacls::new",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(refs, want);
    assert_eq!(unit.children, BTreeSet::from(["acl".to_string()]));
    assert_eq!(unit.test_children, BTreeSet::from(["tests".to_string()]));

    let modules: BTreeSet<Module> = [
        vec![],
        vec!["ctl".to_string()],
        vec!["ctl".to_string(), "acl".to_string()],
        vec!["ctl".to_string(), "policy".to_string()],
        vec!["ctl".to_string(), "policy".to_string(), "acl".to_string()],
        vec!["grant".to_string()],
    ]
    .into_iter()
    .collect();
    let from = vec!["ctl".to_string(), "policy".to_string()];
    let path = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let r = |s: &str| resolve(&from, &unit.children, &path(s), &modules).map(|m| name(&m));
    assert_eq!(r("super::Target").as_deref(), Some("ctl"));
    assert_eq!(r("super::acl::Row").as_deref(), Some("ctl::acl"));
    assert_eq!(r("acl::list").as_deref(), Some("ctl::policy::acl"));
    assert_eq!(r("crate::grant::id::GrantId").as_deref(), Some("grant"));
    assert_eq!(r("std::fmt::Display"), None);

    let a = vec!["a".to_string()];
    let b = vec!["b".to_string()];
    let c = vec!["c".to_string()];
    let edges: BTreeMap<Module, BTreeSet<Module>> = [
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone(), c.clone()])),
        (c.clone(), BTreeSet::new()),
    ]
    .into_iter()
    .collect();
    assert_eq!(cycles(&edges), [vec![a.clone(), b.clone()]]);
    assert_eq!(describe(&[a, b], &edges), "  a -> b\n  b -> a");
}
