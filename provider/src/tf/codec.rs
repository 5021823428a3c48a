//! Values as they cross the wire in a `DynamicValue`.
//!
//! Terraform encodes values as msgpack in the shape of the schema's type: objects and maps
//! are msgpack maps, lists, sets and tuples are arrays, an unknown value is extension type 0
//! and a refined unknown is extension type 12. Because objects always carry every attribute,
//! encoding needs no type information: resources build complete objects. Raw state in a state
//! upgrade comes as JSON.

use std::collections::BTreeMap;

use super::value::{Number, Value};

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
    fn json_state_decodes() {
        let v = Value::from_json(br#"{"a":1,"b":[null,"x"]}"#).unwrap();
        assert_eq!(v.get("a"), &Value::from(1i64));
        assert_eq!(
            v.get("b"),
            &Value::List(vec![Value::Null, Value::from("x")])
        );
    }
}
