//! Diagnostics with attribute paths, as Terraform shows them under the offending line.

use std::fmt;

use super::value::Value;

/// One step into a value: an attribute, a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Attr(String),
    Key(String),
    Index(i64),
}

/// A path to an attribute, e.g. `temporary_cidrs["203.0.113.7/32"].ttl`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttrPath(pub Vec<Step>);

impl AttrPath {
    pub fn root(name: &str) -> Self {
        AttrPath(vec![Step::Attr(name.to_string())])
    }

    pub fn attr(&self, name: &str) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Attr(name.to_string()));
        AttrPath(steps)
    }

    pub fn key(&self, key: &str) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Key(key.to_string()));
        AttrPath(steps)
    }

    /// Follows the path into a value; null where it leads nowhere.
    pub fn lookup<'v>(&self, value: &'v Value) -> &'v Value {
        const NULL: &Value = &Value::Null;
        let mut current = value;
        for step in &self.0 {
            current = match (step, current) {
                (Step::Attr(name) | Step::Key(name), v) => v.get(name),
                (Step::Index(i), Value::List(items)) => usize::try_from(*i)
                    .ok()
                    .and_then(|i| items.get(i))
                    .unwrap_or(NULL),
                (Step::Index(_), _) => NULL,
            };
        }
        current
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Attr(name) if i == 0 => write!(f, "{name}")?,
                Step::Attr(name) => write!(f, ".{name}")?,
                Step::Key(key) => write!(f, "[{key:?}]")?,
                Step::Index(idx) => write!(f, "[{idx}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A problem or a notice for the user, optionally pointing at an attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttrPath>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path: None,
        }
    }

    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: detail.into(),
            path: None,
        }
    }

    /// An error about one attribute: "Invalid <attr>" with the path attached.
    pub fn invalid(path: AttrPath, detail: impl Into<String>) -> Self {
        Diagnostic::error(format!("Invalid {path}"), detail).at(path)
    }

    pub fn at(mut self, path: AttrPath) -> Self {
        self.path = Some(path);
        self
    }
}

/// Diagnostics collected over one operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Takes the value of a result, recording its error.
    pub fn take<T>(&mut self, r: Result<T, Diagnostic>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(d) => {
                self.push(d);
                None
            }
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_terraform() {
        let p = AttrPath::root("temporary_cidrs")
            .key("203.0.113.7/32")
            .attr("ttl");
        assert_eq!(p.to_string(), "temporary_cidrs[\"203.0.113.7/32\"].ttl");
    }

    #[test]
    fn lookup_follows_attrs_and_keys() {
        let v = Value::object([(
            "m",
            Value::object([("k", Value::object([("ttl", Value::from("1h"))]))]),
        )]);
        let p = AttrPath::root("m").key("k").attr("ttl");
        assert_eq!(p.lookup(&v), &Value::from("1h"));
        assert_eq!(AttrPath::root("nope").lookup(&v), &Value::Null);
    }
}
