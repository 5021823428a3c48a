//! The module import graph of a Rust crate, read from its sources, and the cycles in it.
//!
//! Shared by the crates' `layering` tests (include it with
//! `#[path = "…/checker/tests/support/import_graph.rs"] mod import_graph;`). It needs no
//! compiler: it blanks comments and literals, follows `mod` declarations from each crate root
//! (`src/lib.rs`, `src/main.rs`, `src/bin/*.rs`), and records, per module, every path that
//! starts with `crate::`, `super::`, `self::` or the name of one of its own child modules, in
//! `use` items and in expressions alike. A path leads to the longest module prefix it names.
//!
//! Declaring a child (`mod x;`, `mod tests { … }`) is not an import: an inline `#[cfg(test)]
//! mod tests` is a module of its own, so a test that drives the engine does not make the rule
//! it tests depend on the engine. An item re-exported by the crate root (`crate::Config`)
//! counts as an import of the root: import things from the module that defines them.

#![allow(dead_code)] // each including test uses what it needs

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One module of a crate: `crate`, `crate::rules`, `crate::rules::jit001::tests`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Module {
    /// Path segments below the crate root (empty for the root itself).
    pub path: Vec<String>,
}

impl Module {
    pub fn name(&self) -> String {
        if self.path.is_empty() {
            "crate".into()
        } else {
            format!("crate::{}", self.path.join("::"))
        }
    }
}

/// An import of one module by another, where it was first seen.
#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    /// `src/lint.rs:9`.
    pub at: String,
}

/// The modules of one crate target and the imports between them.
#[derive(Debug, Default)]
pub struct Graph {
    /// `lib`, `main`, `bin/jitctl`: which target of the package.
    pub target: String,
    pub modules: Vec<Module>,
    pub edges: Vec<Edge>,
}

/// A source file as the graph reads it (a path for messages, and its text).
pub struct Source {
    pub file: String,
    pub text: String,
}

/// Reads every target of the crate in `crate_dir` (the directory holding `Cargo.toml` and
/// `src/`) and returns the import cycles found in any of them, one description per cycle.
/// An empty vector means the modules form a directed acyclic graph.
///
/// Panics with the file name if a declared module's file is missing or a `#[path]` attribute
/// is used (neither is supported; both would make the graph silently incomplete).
pub fn import_cycles(crate_dir: &Path) -> Vec<String> {
    targets(crate_dir).iter().flat_map(Graph::cycles).collect()
}

/// The graph of every target of the crate in `crate_dir`: `lib`, `main`, `bin/NAME`.
pub fn targets(crate_dir: &Path) -> Vec<Graph> {
    let src = crate_dir.join("src");
    let mut roots: Vec<(String, PathBuf)> = Vec::new();
    for (target, file) in [("lib", "lib.rs"), ("main", "main.rs")] {
        if src.join(file).is_file() {
            roots.push((target.into(), src.join(file)));
        }
    }
    if let Ok(entries) = std::fs::read_dir(src.join("bin")) {
        let mut bins: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        bins.sort();
        for path in bins {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.extension().is_some_and(|e| e == "rs") {
                roots.push((format!("bin/{stem}"), path));
            } else if path.join("main.rs").is_file() {
                roots.push((format!("bin/{stem}"), path.join("main.rs")));
            }
        }
    }
    assert!(
        !roots.is_empty(),
        "{} has no src/lib.rs, src/main.rs or src/bin/",
        crate_dir.display()
    );
    let mut graphs = Vec::new();
    for (target, root) in roots {
        let mut graph = Graph::from_root(&target, &root, &|path: &Path| {
            std::fs::read_to_string(path).ok()
        });
        // `src/lint.rs:9` rather than the absolute path, in messages.
        let prefix = format!("{}/", crate_dir.display());
        for e in &mut graph.edges {
            if let Some(rest) = e.at.strip_prefix(&prefix) {
                e.at = rest.to_string();
            }
        }
        graphs.push(graph);
    }
    graphs
}

impl Graph {
    /// Builds the graph of the target whose root file is `root`, reading files with `read`
    /// (`None`: no such file).
    pub fn from_root(target: &str, root: &Path, read: &dyn Fn(&Path) -> Option<String>) -> Graph {
        let mut graph = Graph {
            target: target.into(),
            ..Graph::default()
        };
        // (module path, source text blanked, file name for messages, directory of its children)
        let mut files: Vec<(Vec<String>, String, String, PathBuf)> = Vec::new();
        let mut pending = vec![(Vec::new(), root.to_path_buf(), true)];
        while let Some((path, file, owns_dir)) = pending.pop() {
            let text = read(&file).unwrap_or_else(|| {
                panic!("{}: module file not found", file.display());
            });
            // `lib.rs`, `main.rs`, `mod.rs` hold their children beside them; `a.rs` in `a/`.
            let dir = if owns_dir {
                file.parent().unwrap().to_path_buf()
            } else {
                file.with_extension("")
            };
            let blank = blank_literals(&text);
            for decl in file_module_decls(&blank, &file) {
                let mut child = path.clone();
                child.push(decl.clone());
                let flat = dir.join(format!("{decl}.rs"));
                let nested = dir.join(&decl).join("mod.rs");
                if read(&flat).is_some() {
                    pending.push((child, flat, false));
                } else {
                    pending.push((child, nested, true));
                }
            }
            files.push((path, blank, file.display().to_string(), dir));
        }
        files.sort();
        // Every module, including the inline ones, before any path is resolved.
        let mut scopes: Vec<(usize, Vec<Region>, String, String)> = Vec::new();
        for (path, blank, name, _) in &files {
            let regions = inline_modules(blank);
            let file_index = graph.add(path.clone());
            for r in &regions {
                let mut p = path.clone();
                p.extend(r.path.iter().cloned());
                graph.add(p);
            }
            scopes.push((file_index, regions, blank.clone(), name.clone()));
        }
        for (file_index, regions, blank, name) in &scopes {
            let file_path = graph.modules[*file_index].path.clone();
            for (offset, segments) in paths(blank) {
                // The innermost inline module around the path, else the file's module.
                let mut module = file_path.clone();
                if let Some(r) = regions
                    .iter()
                    .filter(|r| r.start <= offset && offset < r.end)
                    .max_by_key(|r| r.path.len())
                {
                    module.extend(r.path.iter().cloned());
                }
                let Some(target) = graph.resolve(&module, &segments) else {
                    continue;
                };
                let from = graph.index(&module).unwrap();
                if from == target || graph.edges.iter().any(|e| e.from == from && e.to == target) {
                    continue;
                }
                let line = blank[..offset].matches('\n').count() + 1;
                graph.edges.push(Edge {
                    from,
                    to: target,
                    at: format!("{name}:{line}"),
                });
            }
        }
        graph
    }

    fn add(&mut self, path: Vec<String>) -> usize {
        if let Some(i) = self.index(&path) {
            return i;
        }
        self.modules.push(Module { path });
        self.modules.len() - 1
    }

    fn index(&self, path: &[String]) -> Option<usize> {
        self.modules.iter().position(|m| m.path == path)
    }

    /// The module a path seen in `module` leads to: the longest prefix of it that is a module.
    fn resolve(&self, module: &[String], segments: &[String]) -> Option<usize> {
        let mut base: Vec<String> = match segments.first()?.as_str() {
            "crate" => Vec::new(),
            "self" => module.to_vec(),
            "super" => module.to_vec(),
            child => {
                // A path through one of the module's own children (`pub use lint::x;` in the
                // root); anything else (`std::`, another crate, a type) is not a module here.
                let mut p = module.to_vec();
                p.push(child.to_string());
                self.index(&p)?;
                module.to_vec()
            }
        };
        let mut rest = segments;
        match segments[0].as_str() {
            "crate" | "self" => rest = &segments[1..],
            "super" => {
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            _ => {}
        }
        let mut best = self.index(&base)?;
        for seg in rest {
            base.push(seg.clone());
            match self.index(&base) {
                Some(i) => best = i,
                None => break,
            }
        }
        Some(best)
    }

    /// The chain of imports by which module `from` depends on module `to` (both written as
    /// `crate::a::b`), if it does: `["crate::a", "crate::b (src/a.rs:3)", …]`.
    pub fn dependency(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let find = |name: &str| self.modules.iter().position(|m| m.name() == name);
        let (from, to) = (find(from)?, find(to)?);
        let mut prev: BTreeMap<usize, &Edge> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from]);
        while let Some(n) = queue.pop_front() {
            if n == to {
                let mut chain = Vec::new();
                let mut m = n;
                while m != from {
                    let e = prev[&m];
                    chain.push(format!("{} ({})", self.modules[m].name(), e.at));
                    m = e.from;
                }
                chain.push(self.modules[from].name());
                chain.reverse();
                return Some(chain);
            }
            for e in self.edges.iter().filter(|e| e.from == n) {
                if e.to != from && !prev.contains_key(&e.to) {
                    prev.insert(e.to, e);
                    queue.push_back(e.to);
                }
            }
        }
        None
    }

    /// Each cycle as `crate::a → crate::b (src/a.rs:3) → crate::a (src/b.rs:7)`.
    pub fn cycles(&self) -> Vec<String> {
        let mut out = Vec::new();
        for component in self.strongly_connected() {
            if component.len() < 2 {
                continue;
            }
            // One concrete cycle through the component, found by walking inside it.
            let start = *component.iter().min().unwrap();
            let inside = |i: usize| component.contains(&i);
            let mut prev: BTreeMap<usize, usize> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            let mut closing = None;
            while let Some(n) = queue.pop_front() {
                for e in self.edges.iter().filter(|e| e.from == n && inside(e.to)) {
                    if e.to == start {
                        closing = Some(n);
                        break;
                    }
                    if let std::collections::btree_map::Entry::Vacant(v) = prev.entry(e.to) {
                        v.insert(n);
                        queue.push_back(e.to);
                    }
                }
                if closing.is_some() {
                    break;
                }
            }
            let mut back = Vec::new();
            let mut n = closing.expect("a strongly connected component has a cycle");
            while n != start {
                back.push(n);
                n = prev[&n];
            }
            let chain: Vec<usize> = std::iter::once(start)
                .chain(back.into_iter().rev())
                .chain(std::iter::once(start))
                .collect();
            let mut text = format!("[{}] {}", self.target, self.modules[start].name());
            for pair in chain.windows(2) {
                let e = self
                    .edges
                    .iter()
                    .find(|e| e.from == pair[0] && e.to == pair[1])
                    .unwrap();
                let _ = write!(text, " → {} ({})", self.modules[pair[1]].name(), e.at);
            }
            let mut names: Vec<String> =
                component.iter().map(|&i| self.modules[i].name()).collect();
            names.sort();
            let _ = write!(text, "; all modules in this cycle: {}", names.join(", "));
            out.push(text);
        }
        out
    }

    /// Tarjan's algorithm, iteratively.
    fn strongly_connected(&self) -> Vec<Vec<usize>> {
        let n = self.modules.len();
        let succ: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                self.edges
                    .iter()
                    .filter(|e| e.from == i)
                    .map(|e| e.to)
                    .collect()
            })
            .collect();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next = 0;
        let mut out = Vec::new();
        for root in 0..n {
            if index[root] != usize::MAX {
                continue;
            }
            let mut work = vec![(root, 0usize)];
            while let Some(&mut (v, ref mut child)) = work.last_mut() {
                if *child == 0 && index[v] == usize::MAX {
                    index[v] = next;
                    low[v] = next;
                    next += 1;
                    stack.push(v);
                    on_stack[v] = true;
                }
                if let Some(&w) = succ[v].get(*child) {
                    *child += 1;
                    if index[w] == usize::MAX {
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut component = Vec::new();
                    loop {
                        let w = stack.pop().unwrap();
                        on_stack[w] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(component);
                }
            }
        }
        out
    }
}

/// The text with comments, string, byte-string and character literals replaced by spaces
/// (newlines kept, so offsets and line numbers stay valid).
pub fn blank_literals(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            let end = b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let (mut depth, mut j) = (1, i + 2);
            while j < b.len() && depth > 0 {
                if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                    depth += 1;
                    j += 2;
                } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if (c == b'r' || (c == b'b' && b.get(i + 1) == Some(&b'r')))
            && (i == 0 || !ident(b[i - 1]))
            && {
                let k = i + if c == b'b' { 2 } else { 1 };
                let hashes = b[k..].iter().take_while(|&&c| c == b'#').count();
                b.get(k + hashes) == Some(&b'"')
            }
        {
            // A raw string: r"…", r#"…"#, br##"…"##.
            let k = i + if c == b'b' { 2 } else { 1 };
            let hashes = b[k..].iter().take_while(|&&c| c == b'#').count();
            let body = k + hashes + 1;
            let mut closing = Vec::from(&b"\""[..]);
            closing.extend(std::iter::repeat_n(b'#', hashes));
            let end = b[body..]
                .windows(closing.len())
                .position(|w| w == closing.as_slice())
                .map_or(b.len(), |p| body + p + closing.len());
            blank(&mut out, i, end);
            i = end;
        } else if c == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len());
            blank(&mut out, i, end);
            i = end;
        } else if c == b'\'' {
            // A character literal ('a', '\n', '\u{1F600}', '"'), or a lifetime ('a, 'static).
            let rest = &text[i + 1..];
            let mut chars = rest.char_indices();
            let end = match chars.next() {
                // Skip the escaped character (`'\''`), then find the closing quote.
                Some((_, '\\')) => rest
                    .get(2..)
                    .and_then(|r| r.find('\''))
                    .map(|p| i + 1 + 2 + p + 1),
                Some((_, ch)) => {
                    let after = ch.len_utf8();
                    (rest[after..].starts_with('\'')).then_some(i + 1 + after + 1)
                }
                None => None,
            };
            match end {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => i += 1,
            }
        } else if ident(c) {
            // Skip whole identifiers, so `br` inside `abr"` or `r` in `for"` is not misread.
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    // Every blanked range starts and ends at an ASCII byte and every byte in it became a
    // space, so the result is still UTF-8.
    String::from_utf8(out).expect("literals are blanked whole")
}

/// Identifier tokens with their offsets, and the punctuation between them.
#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    PathSep,
    Punct(char),
}

fn tokens(blank: &str) -> Vec<(usize, Tok<'_>)> {
    let b = blank.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphabetic() || c == b'_' || !c.is_ascii() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || !b[i].is_ascii())
            {
                i += 1;
            }
            // `r#type`: a raw identifier.
            out.push((start, Tok::Ident(&blank[start..i])));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
        } else if c == b':' && b.get(i + 1) == Some(&b':') {
            out.push((i, Tok::PathSep));
            i += 2;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else {
            out.push((i, Tok::Punct(c as char)));
            i += 1;
        }
    }
    out
}

/// The `mod name;` declarations of a file (outside inline modules: those of inline modules
/// would live in a subdirectory, which no crate here uses and which is refused).
fn file_module_decls(blank: &str, file: &Path) -> Vec<String> {
    assert!(
        !blank.contains("#[path") && !blank.contains("#![path"),
        "{}: #[path] attributes are not supported by the import graph",
        file.display()
    );
    let toks = tokens(blank);
    let regions = inline_modules(blank);
    let mut out = Vec::new();
    for w in toks.windows(3) {
        if let [
            (at, Tok::Ident("mod")),
            (_, Tok::Ident(name)),
            (_, Tok::Punct(';')),
        ] = w
        {
            assert!(
                !regions.iter().any(|r| r.start <= *at && *at < r.end),
                "{}: `mod {name};` inside an inline module is not supported by the import graph",
                file.display()
            );
            out.push((*name).to_string());
        }
    }
    out
}

/// An inline module's body: byte range and its path below the file's module.
#[derive(Debug, Clone)]
struct Region {
    start: usize,
    end: usize,
    path: Vec<String>,
}

fn inline_modules(blank: &str) -> Vec<Region> {
    let toks = tokens(blank);
    let mut out: Vec<Region> = Vec::new();
    // (brace depth at which an inline module's body opened, its region index)
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut depth = 0;
    for (k, (at, tok)) in toks.iter().enumerate() {
        match tok {
            Tok::Punct('{') => {
                depth += 1;
                if let (Some((_, Tok::Ident(name))), Some((_, Tok::Ident("mod")))) = (
                    k.checked_sub(1).map(|j| &toks[j]),
                    k.checked_sub(2).map(|j| &toks[j]),
                ) {
                    let mut path: Vec<String> = open
                        .last()
                        .map(|&(_, r)| out[r].path.clone())
                        .unwrap_or_default();
                    path.push((*name).to_string());
                    out.push(Region {
                        start: *at,
                        end: blank.len(),
                        path,
                    });
                    open.push((depth, out.len() - 1));
                }
            }
            Tok::Punct('}') => {
                if let Some(&(d, r)) = open.last()
                    && d == depth
                {
                    out[r].end = *at + 1;
                    open.pop();
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    out
}

/// Every path in the text that may lead to a module of the crate, with its offset: `use`
/// trees are expanded (`use crate::{a::b, c}` gives `crate::a::b` and `crate::c`), other
/// paths are read as written (`crate::json::parse(…)`).
fn paths(blank: &str) -> Vec<(usize, Vec<String>)> {
    let toks = tokens(blank);
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        let (at, tok) = &toks[k];
        let after_sep = k > 0 && matches!(toks[k - 1].1, Tok::PathSep | Tok::Punct('$'));
        if matches!(tok, Tok::Ident("use")) {
            // `use a::{b, c::d};`: walk the tree to the `;`.
            let end = toks[k..]
                .iter()
                .position(|(_, t)| *t == Tok::Punct(';'))
                .map_or(toks.len(), |p| k + p);
            use_tree(&toks[k + 1..end], &[], *at, &mut out);
            k = end;
            continue;
        }
        if let Tok::Ident(first) = tok
            && !after_sep
            && toks.get(k + 1).is_some_and(|(_, t)| *t == Tok::PathSep)
        {
            let mut segments = vec![(*first).to_string()];
            let mut j = k + 1;
            while let (Some((_, Tok::PathSep)), Some((_, Tok::Ident(s)))) =
                (toks.get(j), toks.get(j + 1))
            {
                segments.push((*s).to_string());
                j += 2;
            }
            out.push((*at, segments));
            k = j;
            continue;
        }
        k += 1;
    }
    out
}

/// Expands one `use` tree (the tokens between `use` and `;`, or one element of a group).
fn use_tree(
    toks: &[(usize, Tok<'_>)],
    prefix: &[String],
    at: usize,
    out: &mut Vec<(usize, Vec<String>)>,
) {
    let mut path = prefix.to_vec();
    for (k, (_, tok)) in toks.iter().enumerate() {
        match tok {
            // `a as b`: the alias is no module.
            Tok::Ident("as") => break,
            Tok::Ident(s) => path.push((*s).to_string()),
            Tok::Punct('{') => {
                let inner = &toks[k + 1..];
                let (mut start, mut depth) = (0, 0);
                for (j, (_, t)) in inner.iter().enumerate() {
                    match t {
                        Tok::Punct('{') => depth += 1,
                        Tok::Punct('}') if depth == 0 => {
                            use_tree(&inner[start..j], &path, at, out);
                            return;
                        }
                        Tok::Punct('}') => depth -= 1,
                        Tok::Punct(',') if depth == 0 => {
                            use_tree(&inner[start..j], &path, at, out);
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
                return;
            }
            // `::`, `*` and anything else a tree may hold.
            _ => {}
        }
    }
    if path.len() > prefix.len() {
        out.push((at, path));
    }
}
