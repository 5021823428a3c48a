//! Reading typed arguments out of a value, with a diagnostic at the attribute's path when a
//! value has the wrong type.

use super::diag::{Diagnostic, Diagnostics};
use super::path::AttrPath;
use super::value::{Known, Number, Value};

impl Value {
    /// Reads an attribute as a typed value, with a diagnostic naming the path when the type is wrong.
    pub fn attr<T: FromValue>(&self, path: &AttrPath) -> Result<Known<T>, Diagnostic> {
        match self.at(path) {
            Value::Unknown => Ok(Known::Unknown),
            Value::Null => Ok(Known::Null),
            v => T::from_value(v).map(Known::Value).ok_or_else(|| {
                Diagnostic::error(
                    format!("Invalid value for {path}"),
                    format!("expected {}, got {}", T::EXPECTED, describe(v)),
                )
                .at(path.clone())
            }),
        }
    }
}

/// How a value of the wrong type is named in the message.
fn describe(v: &Value) -> String {
    match v {
        Value::Unknown => "an unknown value".into(),
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the bool {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::List(_) => "a list".into(),
        Value::Map(_) => "an object".into(),
    }
}

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

/// Conversion from a known, non-null `Value`.
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
    fn typed_attr_reports_path_on_type_mismatch() {
        let v = Value::object([("from_port", Value::from("five"))]);
        let err = v.attr::<i64>(&AttrPath::root("from_port")).unwrap_err();
        assert_eq!(err.path, Some(AttrPath::root("from_port")));
        assert!(err.detail.contains("whole number"));
    }
}
