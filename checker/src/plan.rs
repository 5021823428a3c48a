//! Terraform plan and state JSON (`terraform show -json`, format 1.x): resource instances with
//! their values, and resolution of values that are unknown at plan time through the plan's
//! `configuration` section.
//!
//! A plan knows `aws_lambda_function.h.arn` only after apply, but its configuration says that
//! `client_connect_options.lambda_function_arn` *is* `aws_lambda_function.h.arn`, and that
//! function's `function_name` is known. [`Plan::attr`] follows such plain references (also into
//! and out of modules through `var.` and module outputs, across `count`/`for_each` instances);
//! whatever stays unknown comes back as [`Resolved::Unknown`] with the reason, so that rules can
//! say what they could not check.

use std::collections::{HashMap, HashSet};

use crate::json::{Node, Span, Value};

/// One step of an attribute path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seg<'p> {
    Key(&'p str),
    Index(usize),
}

/// A value as far as the plan knows it.
#[derive(Debug, Clone)]
pub(crate) enum Resolved<'n> {
    Known(&'n Node<'n>),
    /// Unknown until apply; the reason says what it depends on.
    Unknown(String),
}

/// What an attribute points at: a resource instance of the plan, or a literal value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Link {
    Instance(usize),
    Value(String),
}

/// A module instance path: `[("vpn", Some("0"))]` for `module.vpn[0]`.
type ModulePath = Vec<(String, Option<String>)>;

/// One resource instance (managed or data).
#[derive(Debug)]
pub(crate) struct Instance<'n> {
    pub address: String,
    pub modules: ModulePath,
    pub data: bool,
    pub rtype: &'n str,
    pub name: String,
    /// Instance key as in addresses: `0` or `"a"` (JSON-quoted), for `for_each` chaining.
    pub key: Option<String>,
    /// `change.after` in plans, `values` in states.
    pub values: Option<&'n Node<'n>>,
    /// `change.after_unknown`.
    pub unknown: Option<&'n Node<'n>>,
    /// `change.before` in plans: the values in state before this run (refreshed).
    pub before: Option<&'n Node<'n>>,
    /// The resource object in the JSON (fallback position).
    pub span: Span,
    /// The resource block in `configuration`, if any.
    pub config: Option<&'n Node<'n>>,
}

/// A parsed plan or state.
pub(crate) struct Plan<'n> {
    pub instances: Vec<Instance<'n>>,
    /// (module instance, `type.name` or `data.type.name`) → instances.
    groups: HashMap<(String, String), Vec<usize>>,
    by_type: HashMap<&'n str, Vec<usize>>,
    /// Known identifying attribute values (arn, id, name, …) → instances.
    by_value: HashMap<&'n str, Vec<usize>>,
    /// Module config path (`a.b`) → the `module` object of `configuration`.
    module_configs: HashMap<String, &'n Node<'n>>,
    /// (parent module instance, module call name) → the instance keys of that call.
    module_keys: HashMap<(String, String), HashSet<Option<String>>>,
    /// (module config path, `type.name`) → the resource block of `configuration`.
    config_resources: HashMap<(String, String), &'n Node<'n>>,
    variables: Option<&'n Node<'n>>,
    /// `configuration.provider_config`: the provider blocks of the configuration.
    provider_config: Option<&'n Node<'n>>,
    /// Whether the input has a `configuration` section (plans do, states do not).
    has_configuration: bool,
}

/// Attributes that identify a resource when another resource names it by value.
const IDENTITY_ATTRS: [&str; 6] = [
    "arn",
    "id",
    "name",
    "function_name",
    "invoke_arn",
    "qualified_arn",
];

/// Follow at most this many references in a chain (configurations can be cyclic only through
/// bugs, but the input is untrusted).
const MAX_HOPS: usize = 12;

fn module_string(modules: &[(String, Option<String>)]) -> String {
    let mut out = String::new();
    for (name, key) in modules {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str("module.");
        out.push_str(name);
        if let Some(k) = key {
            out.push('[');
            out.push_str(k);
            out.push(']');
        }
    }
    out
}

fn config_path(modules: &[(String, Option<String>)]) -> String {
    modules
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

/// A parsed resource address or reference.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Address {
    pub modules: ModulePath,
    pub data: bool,
    pub rtype: String,
    pub name: String,
    pub key: Option<String>,
    /// Anything after the resource (a reference's attribute path).
    pub rest: Vec<(String, Option<String>)>,
}

/// Splits `a.b["x.y"].c[0]` into `[("a",None),("b",Some("\"x.y\"")),("c",Some("0"))]`.
fn segments(s: &str) -> Option<Vec<(String, Option<String>)>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
            i += 1;
        }
        if i == start {
            return None;
        }
        let ident = s[start..i].to_string();
        let mut key = None;
        if i < b.len() && b[i] == b'[' {
            let kstart = i + 1;
            i += 1;
            let mut in_str = false;
            while i < b.len() {
                match b[i] {
                    b'\\' if in_str => i += 1,
                    b'"' => in_str = !in_str,
                    b']' if !in_str => break,
                    _ => {}
                }
                i += 1;
            }
            if i >= b.len() {
                return None;
            }
            key = Some(s[kstart..i].to_string());
            i += 1;
        }
        out.push((ident, key));
        if i < b.len() {
            if b[i] != b'.' {
                return None;
            }
            i += 1;
            if i == b.len() {
                return None;
            }
        }
    }
    Some(out)
}

/// Parses a resource address (`module.a["x"].aws_iam_policy.p[0]`) or a resource reference
/// with an attribute path (`data.aws_iam_policy_document.d.json`).
pub(crate) fn parse_address(s: &str) -> Option<Address> {
    let segs = segments(s)?;
    let mut addr = Address::default();
    let mut i = 0;
    while i + 1 < segs.len() && segs[i].0 == "module" && segs[i].1.is_none() {
        addr.modules.push(segs[i + 1].clone());
        i += 2;
    }
    if segs.get(i).is_some_and(|s| s.0 == "data" && s.1.is_none()) {
        addr.data = true;
        i += 1;
    }
    let (rtype, tkey) = segs.get(i)?;
    let (name, key) = segs.get(i + 1)?;
    if tkey.is_some() {
        return None;
    }
    addr.rtype = rtype.clone();
    addr.name = name.clone();
    addr.key = key.clone();
    addr.rest = segs[i + 2..].to_vec();
    Some(addr)
}

/// An instance key from the JSON `index` field, written as in addresses.
fn index_key(index: &Node<'_>) -> Option<String> {
    match &index.value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => {
            let mut out = String::new();
            crate::json::write_json_string(&mut out, s);
            Some(out)
        }
        _ => None,
    }
}

fn navigate<'n>(mut node: &'n Node<'n>, path: &[Seg<'_>]) -> Option<&'n Node<'n>> {
    for seg in path {
        node = match *seg {
            Seg::Key(k) => node.get(k)?,
            Seg::Index(i) => node.as_array()?.get(i)?,
        };
    }
    Some(node)
}

/// Whether `after_unknown` marks the value at `path` (or a parent of it) as unknown.
fn unknown_at(mut node: &Node<'_>, path: &[Seg<'_>]) -> bool {
    for seg in path {
        if node.as_bool() == Some(true) {
            return true;
        }
        let next = match *seg {
            Seg::Key(k) => node.get(k),
            Seg::Index(i) => node.as_array().and_then(|a| a.get(i)),
        };
        match next {
            Some(n) => node = n,
            None => return false,
        }
    }
    node.as_bool() == Some(true)
}

/// A configuration expression: a constant, or the references it is computed from.
enum Expr<'n> {
    Constant(&'n Node<'n>),
    References(Vec<&'n str>),
}

fn references<'n>(expr: &'n Node<'n>) -> Option<Vec<&'n str>> {
    let refs = expr.get("references")?.as_array()?;
    Some(refs.iter().filter_map(|r| r.as_str()).collect())
}

/// The reference a plain `x = some.reference` expression consists of: the longest reference,
/// when every other one is a prefix of it (Terraform lists `aws_x.y.arn` and `aws_x.y`).
fn plain_reference<'r>(refs: &[&'r str]) -> Option<&'r str> {
    let longest = *refs.iter().max_by_key(|r| r.len())?;
    refs.iter()
        .all(|r| {
            longest == *r
                || (longest.starts_with(*r)
                    && matches!(longest.as_bytes().get(r.len()), Some(b'.' | b'[')))
        })
        .then_some(longest)
}

/// `x = data.t.d[each.key].json` (or `[count.index]`) in an instance of a `for_each`/`count`
/// resource: Terraform records the references `data.t.d` and `each.key`, dropping the dynamic
/// index and everything after it. This is the resource reference, which [`Plan::select`]
/// resolves to the instance with the same key.
fn instance_keyed_reference<'r>(ctx: Ctx<'_>, refs: &[&'r str]) -> Option<&'r str> {
    ctx.key?;
    let (keys, rest): (Vec<&str>, Vec<&str>) = refs
        .iter()
        .copied()
        .partition(|r| matches!(*r, "each.key" | "count.index"));
    if keys.is_empty() {
        return None;
    }
    let r = plain_reference(&rest)?;
    let addr = parse_address(r)?;
    (addr.key.is_none() && addr.rest.is_empty() && !r.starts_with("module.")).then_some(r)
}

/// The references worth naming in a message (without their prefixes).
fn describe_refs(refs: &[&str]) -> String {
    let shown: Vec<&str> = refs
        .iter()
        .copied()
        .filter(|r| !refs.iter().any(|o| o.len() > r.len() && o.starts_with(r)))
        .collect();
    if shown.is_empty() {
        "is computed by the provider".into()
    } else {
        format!("depends on {}", shown.join(", "))
    }
}

/// References to things that are not resources: `local.x`, `each.key`, `count.index`, …
fn is_special(r: &str) -> bool {
    ["local.", "each.", "count.", "path.", "terraform.", "self."]
        .iter()
        .any(|p| r.starts_with(p))
}

/// Where a reference leads: a value, or an instance and the attribute path after it.
enum Step<'n> {
    Value(Resolved<'n>),
    Target(usize, String, Vec<(String, Option<String>)>),
}

/// Context for resolving a reference: the module instance it is written in and the key of the
/// instance that contains it (for `for_each` chains).
#[derive(Clone, Copy)]
struct Ctx<'a> {
    modules: &'a [(String, Option<String>)],
    key: Option<&'a str>,
}

impl<'n> Plan<'n> {
    /// Reads the resource instances of a plan (`resource_changes`, `planned_values`,
    /// `prior_state`) or a state (`values`).
    pub fn new(root: &'n Node<'n>) -> Plan<'n> {
        let mut plan = Plan {
            instances: Vec::new(),
            groups: HashMap::new(),
            by_type: HashMap::new(),
            by_value: HashMap::new(),
            module_configs: HashMap::new(),
            config_resources: HashMap::new(),
            module_keys: HashMap::new(),
            variables: root.get("variables"),
            provider_config: root
                .get("configuration")
                .and_then(|c| c.get("provider_config")),
            has_configuration: root.get("configuration").is_some(),
        };
        let mut seen: HashSet<String> = HashSet::new();
        if let Some(changes) = root.get("resource_changes").and_then(Node::as_array) {
            for rc in changes {
                let Some(change) = rc.get("change") else {
                    continue;
                };
                let deleted = change
                    .get("actions")
                    .and_then(Node::as_array)
                    .is_some_and(|a| a.len() == 1 && a[0].as_str() == Some("delete"));
                let Some(address) = rc.get("address").and_then(Node::as_str) else {
                    continue;
                };
                if !seen.insert(address.to_string()) || deleted {
                    continue;
                }
                plan.add(rc, change.get("after"), change.get("after_unknown"));
                if let Some(last) = plan.instances.last_mut() {
                    last.before = change.get("before").filter(|b| !b.is_null());
                }
            }
        }
        for section in [
            root.get("planned_values"),
            root.get("prior_state").and_then(|p| p.get("values")),
            root.get("values"),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(module) = section.get("root_module") {
                plan.add_module(module, &mut seen, 0);
            }
        }
        if let Some(cfg) = root.get("configuration").and_then(|c| c.get("root_module")) {
            plan.index_config(cfg, String::new(), 0);
        }
        for i in 0..plan.instances.len() {
            let inst = &plan.instances[i];
            let rel = format!(
                "{}{}.{}",
                if inst.data { "data." } else { "" },
                inst.rtype,
                inst.name
            );
            let config = plan
                .config_resources
                .get(&(config_path(&inst.modules), rel.clone()))
                .copied();
            plan.instances[i].config = config;
            let inst = &plan.instances[i];
            plan.groups
                .entry((module_string(&inst.modules), rel))
                .or_default()
                .push(i);
            plan.by_type.entry(inst.rtype).or_default().push(i);
            for d in 0..inst.modules.len() {
                plan.module_keys
                    .entry((module_string(&inst.modules[..d]), inst.modules[d].0.clone()))
                    .or_default()
                    .insert(inst.modules[d].1.clone());
            }
            if let Some(values) = inst.values {
                for attr in IDENTITY_ATTRS {
                    if let Some(v) = values
                        .get(attr)
                        .and_then(Node::as_str)
                        .filter(|v| !v.is_empty())
                    {
                        plan.by_value.entry(v).or_default().push(i);
                    }
                }
            }
        }
        plan
    }

    fn add(
        &mut self,
        node: &'n Node<'n>,
        values: Option<&'n Node<'n>>,
        unknown: Option<&'n Node<'n>>,
    ) {
        let Some(address) = node.get("address").and_then(Node::as_str) else {
            return;
        };
        let Some(parsed) = parse_address(address) else {
            return;
        };
        let Some(rtype) = node.get("type").and_then(Node::as_str) else {
            return;
        };
        self.instances.push(Instance {
            address: address.to_string(),
            modules: parsed.modules,
            data: node.get("mode").and_then(Node::as_str) == Some("data"),
            rtype,
            name: parsed.name,
            key: node.get("index").and_then(index_key).or(parsed.key),
            values: values.filter(|v| !v.is_null()),
            unknown,
            before: None,
            span: node.span,
            config: None,
        });
    }

    fn add_module(&mut self, module: &'n Node<'n>, seen: &mut HashSet<String>, depth: usize) {
        if depth > crate::json::MAX_DEPTH {
            return;
        }
        for r in module
            .get("resources")
            .and_then(Node::as_array)
            .unwrap_or(&[])
        {
            if let Some(address) = r.get("address").and_then(Node::as_str)
                && seen.insert(address.to_string())
            {
                self.add(r, r.get("values"), None);
            }
        }
        for child in module
            .get("child_modules")
            .and_then(Node::as_array)
            .unwrap_or(&[])
        {
            self.add_module(child, seen, depth + 1);
        }
    }

    fn index_config(&mut self, module: &'n Node<'n>, path: String, depth: usize) {
        if depth > crate::json::MAX_DEPTH {
            return;
        }
        self.module_configs.insert(path.clone(), module);
        for r in module
            .get("resources")
            .and_then(Node::as_array)
            .unwrap_or(&[])
        {
            if let Some(address) = r.get("address").and_then(Node::as_str) {
                self.config_resources
                    .insert((path.clone(), address.to_string()), r);
            }
        }
        for call in module
            .get("module_calls")
            .and_then(Node::as_object)
            .unwrap_or(&[])
        {
            if let Some(child) = call.value.get("module") {
                let child_path = if path.is_empty() {
                    call.key.to_string()
                } else {
                    format!("{path}.{}", call.key)
                };
                self.index_config(child, child_path, depth + 1);
            }
        }
    }

    /// Managed instances of a resource type.
    pub fn of_type<'a>(&'a self, rtype: &str) -> impl Iterator<Item = usize> + 'a {
        self.by_type
            .get(rtype)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .copied()
            .filter(|&i| !self.instances[i].data)
    }

    /// Where an attribute is in the JSON: its value in `values`, or its `after_unknown` entry,
    /// or the resource itself.
    pub fn attr_span(&self, i: usize, path: &[Seg<'_>]) -> Span {
        let inst = &self.instances[i];
        inst.values
            .and_then(|v| navigate(v, path))
            .or_else(|| {
                // The deepest after_unknown entry on the path.
                let mut node = inst.unknown?;
                for seg in path {
                    let next = match *seg {
                        Seg::Key(k) => node.get(k),
                        Seg::Index(n) => node.as_array().and_then(|a| a.get(n)),
                    };
                    match next {
                        Some(n) => node = n,
                        None => break,
                    }
                }
                Some(node)
            })
            .map_or(inst.span, |n| n.span)
    }

    /// The value of an attribute; `None` when it is null or absent.
    pub fn attr(&self, i: usize, path: &[Seg<'_>]) -> Option<Resolved<'n>> {
        self.attr_hops(i, path, 0)
    }

    /// A known string attribute (`None` if null, absent, unknown or not a string).
    pub fn known_str(&self, i: usize, path: &[Seg<'_>]) -> Option<&'n str> {
        match self.attr(i, path)? {
            Resolved::Known(n) => n.as_str(),
            Resolved::Unknown(_) => None,
        }
    }

    fn attr_hops(&self, i: usize, path: &[Seg<'_>], hops: usize) -> Option<Resolved<'n>> {
        let inst = &self.instances[i];
        if !inst.unknown.is_some_and(|u| unknown_at(u, path)) {
            return inst
                .values
                .and_then(|v| navigate(v, path))
                .filter(|v| !v.is_null())
                .map(Resolved::Known);
        }
        let ctx = Ctx {
            modules: &inst.modules,
            key: inst.key.as_deref(),
        };
        Some(match self.expression(i, path) {
            Some(Expr::Constant(v)) => Resolved::Known(v),
            Some(Expr::References(refs)) => self.follow(ctx, &refs, hops),
            None => Resolved::Unknown("is computed by the provider".into()),
        })
    }

    fn expression(&self, i: usize, path: &[Seg<'_>]) -> Option<Expr<'n>> {
        let mut node = self.instances[i].config?.get("expressions")?;
        for (n, seg) in path.iter().enumerate() {
            if let Some(c) = node.get("constant_value") {
                return navigate(c, &path[n..]).map(Expr::Constant);
            }
            if let Some(refs) = references(node) {
                return Some(Expr::References(refs));
            }
            node = match *seg {
                Seg::Key(k) => node.get(k)?,
                Seg::Index(i) => node.as_array()?.get(i)?,
            };
        }
        if let Some(c) = node.get("constant_value") {
            return Some(Expr::Constant(c));
        }
        references(node).map(Expr::References)
    }

    /// Resolves a plain reference to a value; anything else is unknown with the references named.
    fn follow(&self, ctx: Ctx<'_>, refs: &[&str], hops: usize) -> Resolved<'n> {
        match self.resolve_ref(ctx, refs, hops) {
            Step::Value(v) => v,
            Step::Target(target, r, rest) => {
                let path: Vec<Seg<'_>> = rest
                    .iter()
                    .flat_map(|(name, key)| {
                        std::iter::once(Seg::Key(name.as_str()))
                            .chain(key.as_ref().and_then(|k| k.parse().ok()).map(Seg::Index))
                    })
                    .collect();
                if path.is_empty() {
                    return Resolved::Unknown(format!("depends on {r}, unknown until apply"));
                }
                match self.attr_hops(target, &path, hops + 1) {
                    Some(Resolved::Known(v)) => Resolved::Known(v),
                    Some(Resolved::Unknown(why)) => {
                        Resolved::Unknown(format!("depends on {r}, which {why}"))
                    }
                    None => Resolved::Unknown(format!("depends on {r}, which is null")),
                }
            }
        }
    }

    /// Follows a plain reference through variables and module outputs to a value or to a
    /// resource instance (with the referenced attribute path).
    fn resolve_ref(&self, ctx: Ctx<'_>, refs: &[&str], hops: usize) -> Step<'n> {
        let unknown = || {
            Step::Value(Resolved::Unknown(format!(
                "{}, unknown until apply",
                describe_refs(refs)
            )))
        };
        if hops >= MAX_HOPS {
            return unknown();
        }
        let Some(r) = plain_reference(refs).or_else(|| instance_keyed_reference(ctx, refs)) else {
            return unknown();
        };
        if let Some(var) = r.strip_prefix("var.") {
            let Some(((call, _), parent)) = ctx.modules.split_last() else {
                return self
                    .root_variable(var)
                    .map_or_else(unknown, |v| Step::Value(Resolved::Known(v)));
            };
            let expr = self.module_configs.get(&config_path(parent)).and_then(|m| {
                m.get("module_calls")?
                    .get(call)?
                    .get("expressions")?
                    .get(var)
            });
            return match expr {
                Some(e) if e.get("constant_value").is_some() => {
                    Step::Value(Resolved::Known(e.get("constant_value").unwrap_or(e)))
                }
                Some(e) => match references(e) {
                    Some(inner) => self.resolve_ref(
                        Ctx {
                            modules: parent,
                            key: None,
                        },
                        &inner,
                        hops + 1,
                    ),
                    None => unknown(),
                },
                None => unknown(),
            };
        }
        if r.starts_with("module.") {
            return self.resolve_output(ctx, r, hops).unwrap_or_else(unknown);
        }
        if is_special(r) {
            return unknown();
        }
        let Some(addr) = parse_address(r) else {
            return unknown();
        };
        match self.select(ctx, &addr) {
            Some(target) => Step::Target(target, r.to_string(), addr.rest),
            None => Step::Value(Resolved::Unknown(format!(
                "{}, which has several instances or is not in the plan",
                describe_refs(refs)
            ))),
        }
    }

    /// `module.name[key].output` from a module instance.
    fn resolve_output(&self, ctx: Ctx<'_>, r: &str, hops: usize) -> Option<Step<'n>> {
        let segs = segments(r)?;
        let [(_, None), (name, key), (output, None), ..] = segs.as_slice() else {
            return None;
        };
        let key = match key {
            Some(k) => Some(k.clone()),
            None => {
                // Without a key, the module must have a single instance.
                let keys = self
                    .module_keys
                    .get(&(module_string(ctx.modules), name.clone()))?;
                if keys.len() > 1 {
                    return None;
                }
                keys.iter().next().cloned().flatten()
            }
        };
        let mut child: ModulePath = ctx.modules.to_vec();
        child.push((name.clone(), key));
        let expr = self
            .module_configs
            .get(&config_path(&child))?
            .get("outputs")?
            .get(output)?
            .get("expression")?;
        if let Some(c) = expr.get("constant_value") {
            return Some(Step::Value(Resolved::Known(c)));
        }
        let refs = references(expr)?;
        Some(self.resolve_ref(
            Ctx {
                modules: &child,
                key: None,
            },
            &refs,
            hops + 1,
        ))
    }

    /// Whether the configuration sets the attribute (as opposed to the provider computing it).
    pub fn is_configured(&self, i: usize, path: &[Seg<'_>]) -> bool {
        self.expression(i, path).is_some()
    }

    /// Whether the resource block in the configuration sets a top-level argument or has blocks
    /// of that name (`ingress { … }`); `None` when the configuration of the resource is not in
    /// the input (a state, or a plan without its `configuration`).
    pub fn configures(&self, i: usize, key: &str) -> Option<bool> {
        let expressions = self.instances[i].config?.get("expressions");
        Some(expressions.is_some_and(|e| e.get(key).is_some()))
    }

    /// Whether the input has a `configuration` section (a plan; states have none).
    pub fn has_configuration(&self) -> bool {
        self.has_configuration
    }

    /// The configuration's provider blocks (`configuration.provider_config`), keyed as
    /// Terraform keys them (`aws`, `aws.west`, `module.net:aws`).
    pub fn provider_config(&self) -> Option<&'n Node<'n>> {
        self.provider_config
    }

    /// The value of a root module variable, if the plan knows it.
    pub fn root_variable(&self, name: &str) -> Option<&'n Node<'n>> {
        self.variables?
            .get(name)?
            .get("value")
            .filter(|v| !v.is_null())
    }

    /// The instance an attribute's expression plainly refers to (`x = data.t.n.json`, also
    /// through module variables and outputs).
    pub fn plain_target(&self, i: usize, path: &[Seg<'_>], types: &[&str]) -> Option<usize> {
        let Some(Expr::References(refs)) = self.expression(i, path) else {
            return None;
        };
        let inst = &self.instances[i];
        let ctx = Ctx {
            modules: &inst.modules,
            key: inst.key.as_deref(),
        };
        match self.resolve_ref(ctx, &refs, 0) {
            Step::Target(t, _, _) if self.is_type(t, types) => Some(t),
            _ => None,
        }
    }

    /// The instance a resource reference means, seen from `ctx`.
    fn select(&self, ctx: Ctx<'_>, addr: &Address) -> Option<usize> {
        let mut modules = ctx.modules.to_vec();
        modules.extend(addr.modules.iter().cloned());
        let rel = format!(
            "{}{}.{}",
            if addr.data { "data." } else { "" },
            addr.rtype,
            addr.name
        );
        let candidates = self.groups.get(&(module_string(&modules), rel))?;
        if let Some(key) = &addr.key {
            return candidates
                .iter()
                .copied()
                .find(|&c| self.instances[c].key.as_deref() == Some(key.as_str()));
        }
        match candidates.as_slice() {
            [one] => Some(*one),
            many => ctx.key.and_then(|k| {
                many.iter()
                    .copied()
                    .find(|&c| self.instances[c].key.as_deref() == Some(k))
            }),
        }
    }

    /// The instances an attribute's configuration expression refers to, through variables and
    /// module outputs.
    fn targets(&self, ctx: Ctx<'_>, refs: &[&str], hops: usize, out: &mut Vec<usize>) {
        if hops >= MAX_HOPS {
            return;
        }
        for r in refs {
            if let Some(var) = r.strip_prefix("var.") {
                let Some(((call, _), parent)) = ctx.modules.split_last() else {
                    continue;
                };
                let inner = self
                    .module_configs
                    .get(&config_path(parent))
                    .and_then(|m| {
                        m.get("module_calls")?
                            .get(call)?
                            .get("expressions")?
                            .get(var)
                    })
                    .and_then(references);
                if let Some(inner) = inner {
                    self.targets(
                        Ctx {
                            modules: parent,
                            key: None,
                        },
                        &inner,
                        hops + 1,
                        out,
                    );
                }
            } else if let Some(addr) = parse_address(r)
                && !r.starts_with("module.")
                && !is_special(r)
                && let Some(t) = self.select(ctx, &addr)
                && !out.contains(&t)
            {
                out.push(t);
            }
        }
    }

    /// The one instance of the given types (`aws_iam_role`, `data.aws_lambda_function`) that an
    /// attribute's expression refers to, if there is exactly one.
    pub fn reference_target(&self, i: usize, path: &[Seg<'_>], types: &[&str]) -> Option<usize> {
        let Some(Expr::References(refs)) = self.expression(i, path) else {
            return None;
        };
        let inst = &self.instances[i];
        let mut out = Vec::new();
        self.targets(
            Ctx {
                modules: &inst.modules,
                key: inst.key.as_deref(),
            },
            &refs,
            0,
            &mut out,
        );
        out.retain(|&t| self.is_type(t, types));
        match out.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    fn is_type(&self, i: usize, types: &[&str]) -> bool {
        let inst = &self.instances[i];
        types.iter().any(|t| match t.strip_prefix("data.") {
            Some(t) => inst.data && inst.rtype == t,
            None => !inst.data && inst.rtype == *t,
        })
    }

    /// An instance of the given types with a known identifying attribute equal to `value`, also
    /// trying the last part of an ARN (`role/NAME`, `function:NAME`).
    pub fn find_by_value(&self, types: &[&str], value: &str) -> Option<usize> {
        let lookup = |v: &str| {
            self.by_value
                .get(v)
                .and_then(|c| c.iter().copied().find(|&i| self.is_type(i, types)))
        };
        lookup(value).or_else(|| {
            let name = arn_resource_name(value)?;
            lookup(name)
        })
    }

    /// What an attribute points at (see [`Link`]).
    pub fn link(&self, i: usize, path: &[Seg<'_>], types: &[&str]) -> Option<Link> {
        if let Some(t) = self.reference_target(i, path, types) {
            return Some(Link::Instance(t));
        }
        let value = self.known_str(i, path)?;
        Some(
            self.find_by_value(types, value)
                .map_or_else(|| Link::Value(value.to_string()), Link::Instance),
        )
    }
}

/// The name at the end of an ARN: `arn:aws:iam::1:role/path/NAME` → `NAME`,
/// `arn:aws:lambda:r:1:function:NAME[:qualifier]` → `NAME`.
pub(crate) fn arn_resource_name(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let resource = rest.splitn(5, ':').nth(4)?;
    if let Some(f) = resource.strip_prefix("function:") {
        return f.split(':').next();
    }
    resource.rsplit('/').next()
}

/// Display form of an attribute path: `inline_policy[0].policy`.
pub(crate) fn path_string(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    #[test]
    fn addresses() {
        let a = parse_address(
            r#"module.a["x.y]"].module.b[0].data.aws_iam_policy_document.d["k"].json"#,
        )
        .unwrap();
        assert_eq!(
            a.modules,
            vec![
                ("a".into(), Some("\"x.y]\"".into())),
                ("b".into(), Some("0".into()))
            ]
        );
        assert!(a.data);
        assert_eq!(
            (a.rtype.as_str(), a.name.as_str(), a.key.as_deref()),
            ("aws_iam_policy_document", "d", Some("\"k\""))
        );
        assert_eq!(a.rest, vec![("json".to_string(), None)]);
        assert_eq!(module_string(&a.modules), r#"module.a["x.y]"].module.b[0]"#);
        assert!(parse_address("aws_x").is_none());
        assert!(parse_address("aws_x.y.").is_none());
        assert!(parse_address("aws_x.y[0").is_none());
    }

    #[test]
    fn plain_references() {
        assert_eq!(
            plain_reference(&["aws_x.y.arn", "aws_x.y"]),
            Some("aws_x.y.arn")
        );
        assert_eq!(
            plain_reference(&["aws_x.y[0].arn", "aws_x.y[0]", "aws_x.y"]),
            Some("aws_x.y[0].arn")
        );
        assert_eq!(plain_reference(&["aws_x.y.arn", "aws_x.y", "var.z"]), None);
        assert_eq!(plain_reference(&["aws_x.yy.arn", "aws_x.y"]), None);
        assert_eq!(
            describe_refs(&["aws_x.y.arn", "aws_x.y", "var.z"]),
            "depends on aws_x.y.arn, var.z"
        );
    }

    #[test]
    fn arn_names() {
        assert_eq!(
            arn_resource_name("arn:aws:iam::1:role/service/handler"),
            Some("handler")
        );
        assert_eq!(
            arn_resource_name("arn:aws:lambda:us-east-1:1:function:AWSClientVPN-x:live"),
            Some("AWSClientVPN-x")
        );
        assert_eq!(arn_resource_name("nope"), None);
    }

    #[test]
    fn resolves_through_modules_and_instances() {
        // The shape `terraform show -json` gives (see tests/fixtures/plans for complete plans).
        let text = r#"{
          "format_version": "1.2",
          "variables": {"region": {"value": "us-east-1"}},
          "resource_changes": [
            {"address": "aws_lambda_function.h", "mode": "managed", "type": "aws_lambda_function", "name": "h",
             "change": {"actions": ["create"], "after": {"function_name": "vpn-handler"}, "after_unknown": {"arn": true}}},
            {"address": "module.vpn[0].aws_thing.t", "module_address": "module.vpn[0]", "mode": "managed", "type": "aws_thing", "name": "t", "index": null,
             "change": {"actions": ["create"], "after": {}, "after_unknown": {"handler": true, "region": true, "other": true}}},
            {"address": "aws_each.e[\"a\"]", "mode": "managed", "type": "aws_each", "name": "e", "index": "a",
             "change": {"actions": ["create"], "after": {"v": "A"}, "after_unknown": {}}},
            {"address": "aws_each.e[\"b\"]", "mode": "managed", "type": "aws_each", "name": "e", "index": "b",
             "change": {"actions": ["create"], "after": {"v": "B"}, "after_unknown": {}}},
            {"address": "aws_use.u[\"b\"]", "mode": "managed", "type": "aws_use", "name": "u", "index": "b",
             "change": {"actions": ["create"], "after": {}, "after_unknown": {"x": true, "y": true}}},
            {"address": "aws_out.o", "mode": "managed", "type": "aws_out", "name": "o",
             "change": {"actions": ["create"], "after": {}, "after_unknown": {"keyed": true, "single": true}}}
          ],
          "configuration": {"root_module": {
            "resources": [
              {"address": "aws_lambda_function.h", "type": "aws_lambda_function", "name": "h", "expressions": {}},
              {"address": "aws_use.u", "type": "aws_use", "name": "u", "expressions": {"x": {"references": ["aws_each.e", "each.key"]}, "y": {"references": ["aws_each.e[\"a\"].v", "aws_each.e[\"a\"]", "aws_each.e"]}}},
              {"address": "aws_out.o", "type": "aws_out", "name": "o", "expressions": {
                "keyed": {"references": ["module.vpn[0].fn", "module.vpn[0]"]}, "single": {"references": ["module.vpn.fn", "module.vpn"]}}}
            ],
            "module_calls": {"vpn": {"expressions": {"fn": {"references": ["aws_lambda_function.h.function_name", "aws_lambda_function.h"]}},
              "module": {"resources": [{"address": "aws_thing.t", "type": "aws_thing", "name": "t", "expressions": {
                "handler": {"references": ["var.fn"]}, "region": {"references": ["var.region"]}, "other": {"references": ["local.x"]}}}],
                "outputs": {"fn": {"expression": {"references": ["var.fn"]}}}}}}
          }}
        }"#;
        let root = parse(text).unwrap();
        let plan = Plan::new(&root);
        let t = plan.of_type("aws_thing").next().unwrap();
        let Some(Resolved::Known(v)) = plan.attr(t, &[Seg::Key("handler")]) else {
            panic!()
        };
        assert_eq!(v.as_str(), Some("vpn-handler"));
        // var.region inside the module is the call's argument, which the call does not set.
        assert!(matches!(
            plan.attr(t, &[Seg::Key("region")]),
            Some(Resolved::Unknown(_))
        ));
        let Some(Resolved::Unknown(why)) = plan.attr(t, &[Seg::Key("other")]) else {
            panic!()
        };
        assert_eq!(why, "depends on local.x, unknown until apply");
        assert_eq!(
            plan.reference_target(t, &[Seg::Key("handler")], &["aws_lambda_function"]),
            plan.of_type("aws_lambda_function").next()
        );
        // for_each chaining: `aws_each.e[each.key].v` in aws_use.u["b"] means aws_each.e["b"];
        // Terraform drops the attribute from such references, so only the instance is known.
        let u = plan.of_type("aws_use").next().unwrap();
        let e_b = plan
            .instances
            .iter()
            .position(|i| i.address == "aws_each.e[\"b\"]");
        assert_eq!(
            plan.reference_target(u, &[Seg::Key("x")], &["aws_each"]),
            e_b
        );
        assert!(matches!(
            plan.attr(u, &[Seg::Key("x")]),
            Some(Resolved::Unknown(_))
        ));
        let Some(Resolved::Known(v)) = plan.attr(u, &[Seg::Key("y")]) else {
            panic!()
        };
        assert_eq!(v.as_str(), Some("A"));
        // Module outputs, with the instance key and without it (the module has one instance).
        let o = plan.of_type("aws_out").next().unwrap();
        for attr in ["keyed", "single"] {
            let Some(Resolved::Known(v)) = plan.attr(o, &[Seg::Key(attr)]) else {
                panic!("{attr}")
            };
            assert_eq!(v.as_str(), Some("vpn-handler"));
        }
    }
}
