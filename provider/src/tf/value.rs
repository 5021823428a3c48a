//! Terraform values as they cross the wire (`DynamicValue`), and a small typed layer on top.
//!
//! Terraform encodes values as msgpack in the shape of the schema's type: objects and maps
//! are msgpack maps, lists, sets and tuples are arrays, an unknown value is extension type 0
//! and a refined unknown is extension type 12. Because objects always carry every attribute,
//! encoding needs no type information: resources build complete objects.

use std::collections::BTreeMap;
use std::fmt;

use super::diag::{AttrPath, Diagnostic, Diagnostics};

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

/// Why a `DynamicValue` could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("invalid msgpack value: {0}")]
    Msgpack(String),
    #[error("invalid JSON value: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported value in msgpack: {0}")]
    Unsupported(String),
}

const UNKNOWN_EXT: i8 = 0;
const REFINED_UNKNOWN_EXT: i8 = 12;

impl Value {
    /// Decodes a msgpack-encoded `DynamicValue`. Empty input is null (Terraform sends nothing
    /// for an absent prior state).
    pub fn from_msgpack(bytes: &[u8]) -> Result<Value, DecodeError> {
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        let mut cursor = bytes;
        let raw = rmpv::decode::read_value(&mut cursor)
            .map_err(|e| DecodeError::Msgpack(e.to_string()))?;
        Self::from_rmpv(raw)
    }

    fn from_rmpv(raw: rmpv::Value) -> Result<Value, DecodeError> {
        Ok(match raw {
            rmpv::Value::Nil => Value::Null,
            rmpv::Value::Boolean(b) => Value::Bool(b),
            rmpv::Value::Integer(i) => match i.as_i64() {
                Some(v) => Value::Number(Number::Int(v)),
                None => Value::Number(Number::Float(i.as_f64().unwrap_or(f64::MAX))),
            },
            rmpv::Value::F32(x) => Value::Number(Number::Float(f64::from(x))),
            rmpv::Value::F64(x) => Value::Number(Number::Float(x)),
            // cty sends numbers that don't fit msgpack's types as decimal strings; jit's number
            // attributes are ports and rule numbers, so such a value is kept as a string and
            // rejected by validation with the attribute's path.
            rmpv::Value::String(s) => Value::String(
                s.into_str()
                    .ok_or_else(|| DecodeError::Unsupported("non-UTF-8 string".into()))?,
            ),
            rmpv::Value::Binary(_) => return Err(DecodeError::Unsupported("binary".into())),
            rmpv::Value::Array(items) => Value::List(
                items
                    .into_iter()
                    .map(Self::from_rmpv)
                    .collect::<Result<_, _>>()?,
            ),
            rmpv::Value::Map(entries) => {
                let mut map = BTreeMap::new();
                for (k, v) in entries {
                    let key = match k {
                        rmpv::Value::String(s) => s
                            .into_str()
                            .ok_or_else(|| DecodeError::Unsupported("non-UTF-8 map key".into()))?,
                        other => {
                            return Err(DecodeError::Unsupported(format!("map key {other}")));
                        }
                    };
                    map.insert(key, Self::from_rmpv(v)?);
                }
                Value::Map(map)
            }
            rmpv::Value::Ext(UNKNOWN_EXT | REFINED_UNKNOWN_EXT, _) => Value::Unknown,
            rmpv::Value::Ext(t, _) => {
                return Err(DecodeError::Unsupported(format!("extension type {t}")));
            }
        })
    }

    /// Decodes a JSON-encoded value (Terraform uses JSON for raw state in state upgrades).
    pub fn from_json(bytes: &[u8]) -> Result<Value, DecodeError> {
        let json: serde_json::Value = serde_json::from_slice(bytes)?;
        Ok(Self::from_serde(json))
    }

    fn from_serde(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Number(Number::Int(i)),
                None => Value::Number(Number::Float(n.as_f64().unwrap_or(f64::NAN))),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::List(items.into_iter().map(Self::from_serde).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| (k, Self::from_serde(v)))
                    .collect(),
            ),
        }
    }

    /// Encodes as msgpack for a `DynamicValue`.
    pub fn to_msgpack(&self) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &self.to_rmpv())
            .expect("writing msgpack to a Vec cannot fail");
        out
    }

    fn to_rmpv(&self) -> rmpv::Value {
        match self {
            Value::Unknown => rmpv::Value::Ext(UNKNOWN_EXT, vec![0]),
            Value::Null => rmpv::Value::Nil,
            Value::Bool(b) => rmpv::Value::Boolean(*b),
            Value::Number(Number::Int(i)) => rmpv::Value::from(*i),
            Value::Number(Number::Float(x)) => rmpv::Value::F64(*x),
            Value::String(s) => rmpv::Value::from(s.as_str()),
            Value::List(items) => rmpv::Value::Array(items.iter().map(Value::to_rmpv).collect()),
            Value::Map(map) => rmpv::Value::Map(
                map.iter()
                    .map(|(k, v)| (rmpv::Value::from(k.as_str()), v.to_rmpv()))
                    .collect(),
            ),
        }
    }

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

    /// Reads an attribute as a typed value, with a diagnostic naming the path when the type is wrong.
    pub fn attr<T: FromValue>(&self, path: &AttrPath) -> Result<Known<T>, Diagnostic> {
        let value = path.lookup(self);
        match value {
            Value::Unknown => Ok(Known::Unknown),
            Value::Null => Ok(Known::Null),
            v => T::from_value(v).map(Known::Value).ok_or_else(|| {
                Diagnostic::error(
                    format!("Invalid value for {path}"),
                    format!("expected {}, got {}", T::EXPECTED, v.describe()),
                )
                .at(path.clone())
            }),
        }
    }

    fn describe(&self) -> String {
        match self {
            Value::Unknown => "an unknown value".into(),
            Value::Null => "null".into(),
            Value::Bool(b) => format!("the bool {b}"),
            Value::Number(n) => format!("the number {n}"),
            Value::String(s) => format!("the string {s:?}"),
            Value::List(_) => "a list".into(),
            Value::Map(_) => "an object".into(),
        }
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

/// Conversion from a known, non-null `Value`.
/// Reads a resource's arguments, collecting type errors into diagnostics and whether every
/// argument read so far was known (plan-time values may be unknown).
pub struct Reader<'v> {
    v: &'v Value,
    pub complete: bool,
}

impl<'v> Reader<'v> {
    pub fn new(v: &'v Value) -> Reader<'v> {
        Reader { v, complete: true }
    }

    /// The value at `p`; a type error goes to `diags` and reads as null, an unknown value
    /// clears `complete`.
    pub fn get<T: FromValue>(&mut self, diags: &mut Diagnostics, p: &AttrPath) -> Known<T> {
        match diags.take(self.v.attr::<T>(p)) {
            Some(Known::Unknown) => {
                self.complete = false;
                Known::Unknown
            }
            Some(k) => k,
            None => Known::Null,
        }
    }
}

pub trait FromValue: Sized {
    /// What the type is called in error messages.
    const EXPECTED: &'static str;
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for String {
    const EXPECTED: &'static str = "a string";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for bool {
    const EXPECTED: &'static str = "a bool";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl FromValue for i64 {
    const EXPECTED: &'static str = "a whole number";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Number(Number::Int(i)) => Some(*i),
            Value::Number(Number::Float(x))
                if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 =>
            {
                Some(*x as i64)
            }
            _ => None,
        }
    }
}

impl FromValue for Value {
    const EXPECTED: &'static str = "a value";
    fn from_value(v: &Value) -> Option<Self> {
        Some(v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_round_trip_keeps_unknowns_and_nulls() {
        let v = Value::object([
            ("a", Value::from("x")),
            ("b", Value::Unknown),
            ("c", Value::Null),
            ("d", Value::from(65535i64)),
            ("e", Value::List(vec![Value::from(true)])),
        ]);
        assert_eq!(Value::from_msgpack(&v.to_msgpack()).unwrap(), v);
    }

    #[test]
    fn unknown_is_cty_fixext1_type_zero() {
        assert_eq!(Value::Unknown.to_msgpack(), vec![0xd4, 0, 0]);
    }

    #[test]
    fn refined_unknown_decodes_as_unknown() {
        // ext 12 with a small payload, as cty sends refinements
        let bytes = [0xd5, 12, 0x81, 0x01];
        assert_eq!(Value::from_msgpack(&bytes).unwrap(), Value::Unknown);
    }

    #[test]
    fn typed_attr_reports_path_on_type_mismatch() {
        let v = Value::object([("from_port", Value::from("five"))]);
        let err = v.attr::<i64>(&AttrPath::root("from_port")).unwrap_err();
        assert_eq!(err.path, Some(AttrPath::root("from_port")));
        assert!(err.detail.contains("whole number"));
    }

    #[test]
    fn json_state_decodes() {
        let v = Value::from_json(br#"{"a":1,"b":[null,"x"]}"#).unwrap();
        assert_eq!(v.get("a"), &Value::from(1i64));
        assert_eq!(
            v.get("b"),
            &Value::List(vec![Value::Null, Value::from("x")])
        );
    }
}
