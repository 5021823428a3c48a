//! Terraform values: known, null or unknown, and `Known<T>`, a typed attribute's three states
//! of knowledge. Their wire encodings are in `codec`, typed reading with diagnostics in `read`.

use std::collections::BTreeMap;
use std::fmt;

use super::path::{AttrPath, Step};

/// A Terraform value: known, null, or not yet known (during plan).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Value {
    Unknown,
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    /// A list, set or tuple.
    List(Vec<Value>),
    /// A map or object.
    Map(BTreeMap<String, Value>),
}

/// cty numbers are arbitrary precision; jit only ever needs integers, but keeps what it got.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
        }
    }
}

impl Value {
    /// Builds an object from `(name, value)` pairs.
    pub fn object<I, K>(pairs: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The string inside, or "" for anything else (for messages).
    pub fn value_str(&self) -> &str {
        match self {
            Value::String(s) => s,
            _ => "",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when this value and everything inside it is known.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) => items.iter().all(Value::is_wholly_known),
            Value::Map(map) => map.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// The attribute `name` of an object; null when absent or when `self` is null.
    pub fn get(&self, name: &str) -> &Value {
        const NULL: &Value = &Value::Null;
        match self {
            Value::Map(map) => map.get(name).unwrap_or(NULL),
            _ => NULL,
        }
    }

    /// Mutable access to an object's attribute (inserting null if absent).
    pub fn set(&mut self, name: &str, value: Value) {
        if let Value::Map(map) = self {
            map.insert(name.to_string(), value);
        }
    }

    /// Follows `path` into the value; null where it leads nowhere.
    pub fn at(&self, path: &AttrPath) -> &Value {
        const NULL: &Value = &Value::Null;
        let mut current = self;
        for step in &path.0 {
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

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Number(Number::Int(i))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl<T: Into<Value>> From<Known<T>> for Value {
    fn from(v: Known<T>) -> Self {
        match v {
            Known::Unknown => Value::Unknown,
            Known::Null => Value::Null,
            Known::Value(v) => v.into(),
        }
    }
}

/// A typed attribute value: Terraform's three states of knowledge.
#[derive(Debug, Clone, PartialEq)]
pub enum Known<T> {
    /// Not known until apply (it depends on another resource).
    Unknown,
    /// Not set.
    Null,
    Value(T),
}

impl<T> Known<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Known::Value(v) => Some(v),
            _ => None,
        }
    }

    pub fn into_value(self) -> Option<T> {
        match self {
            Known::Value(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Known::Unknown)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Known::Null)
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Known<U> {
        match self {
            Known::Unknown => Known::Unknown,
            Known::Null => Known::Null,
            Known::Value(v) => Known::Value(f(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_follows_attrs_keys_and_indexes() {
        let v = Value::object([
            (
                "m",
                Value::object([("k", Value::object([("ttl", Value::from("1h"))]))]),
            ),
            ("l", Value::List(vec![Value::from("a"), Value::from("b")])),
        ]);
        let p = AttrPath::root("m").key("k").attr("ttl");
        assert_eq!(v.at(&p), &Value::from("1h"));
        assert_eq!(v.at(&AttrPath::root("nope")), &Value::Null);
        let second = AttrPath(vec![Step::Attr("l".into()), Step::Index(1)]);
        assert_eq!(v.at(&second), &Value::from("b"));
        let past = AttrPath(vec![Step::Attr("l".into()), Step::Index(2)]);
        assert_eq!(v.at(&past), &Value::Null);
    }
}
