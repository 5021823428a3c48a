//! Schemas as resource files declare them; converted to the protocol's `Schema` by the server.
//!
//! Every attribute must carry a description: the registry docs are generated from them.

use super::value::Value;

/// A cty type, serialised for the protocol as cty's JSON type notation.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
}

impl Type {
    /// cty's JSON type notation: `"string"`, `["list","string"]`, ...
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Type::String => json!("string"),
            Type::Number => json!("number"),
            Type::Bool => json!("bool"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
        }
    }

    /// How the docs name the type.
    pub fn doc_name(&self) -> String {
        match self {
            Type::String => "String".into(),
            Type::Number => "Number".into(),
            Type::Bool => "Boolean".into(),
            Type::List(t) => format!("List of {}", t.doc_name()),
            Type::Set(t) => format!("Set of {}", t.doc_name()),
            Type::Map(t) => format!("Map of {}", t.doc_name()),
        }
    }
}

/// Whether the user sets an attribute, may set it, or only reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Required,
    Optional,
    /// Optional, and the provider fills it in when the user leaves it out.
    OptionalComputed,
    Computed,
}

/// How a nested attribute object repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    Map,
}

/// An attribute: a plain type, or nested attributes (`rule_numbers = { from = 100, to = 199 }`).
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    pub description: String,
    pub mode: Mode,
    pub sensitive: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttrType {
    Plain(Type),
    Nested {
        nesting: Nesting,
        attributes: Vec<Attribute>,
    },
}

impl Attribute {
    fn new(name: &'static str, ty: AttrType, mode: Mode, description: &str) -> Self {
        Attribute {
            name,
            ty,
            description: description.to_string(),
            mode,
            sensitive: false,
        }
    }

    pub fn required(name: &'static str, ty: Type, description: &str) -> Self {
        Self::new(name, AttrType::Plain(ty), Mode::Required, description)
    }

    pub fn optional(name: &'static str, ty: Type, description: &str) -> Self {
        Self::new(name, AttrType::Plain(ty), Mode::Optional, description)
    }

    pub fn optional_computed(name: &'static str, ty: Type, description: &str) -> Self {
        Self::new(
            name,
            AttrType::Plain(ty),
            Mode::OptionalComputed,
            description,
        )
    }

    pub fn computed(name: &'static str, ty: Type, description: &str) -> Self {
        Self::new(name, AttrType::Plain(ty), Mode::Computed, description)
    }

    pub fn nested(
        name: &'static str,
        nesting: Nesting,
        mode: Mode,
        attributes: Vec<Attribute>,
        description: &str,
    ) -> Self {
        Self::new(
            name,
            AttrType::Nested {
                nesting,
                attributes,
            },
            mode,
            description,
        )
    }
}

/// A nested block (`endpoints { ec2 = "…" }`), at most one.
#[derive(Debug, Clone, PartialEq)]
pub struct SingleBlock {
    pub name: &'static str,
    pub block: Block,
}

/// A resource's or the provider's configuration block.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub description: String,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<SingleBlock>,
}

/// A versioned schema, as the protocol carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

impl Type {
    fn admits(&self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Null) => true,
            (Type::String, Value::String(_))
            | (Type::Number, Value::Number(_))
            | (Type::Bool, Value::Bool(_)) => true,
            (Type::List(t) | Type::Set(t), Value::List(items)) => items.iter().all(|i| t.admits(i)),
            (Type::Map(t), Value::Map(m)) => m.values().all(|i| t.admits(i)),
            _ => false,
        }
    }
}

fn check_object(prefix: &str, attrs: &[Attribute], v: &Value) -> Result<(), String> {
    let Value::Map(map) = v else {
        return Err(format!("{prefix}: expected an object, got {v:?}"));
    };
    for key in map.keys() {
        if !attrs.iter().any(|a| a.name == key) {
            return Err(format!("{prefix}{key}: not in the schema"));
        }
    }
    for a in attrs {
        let name = format!("{prefix}{}", a.name);
        let Some(value) = map.get(a.name) else {
            return Err(format!("{name}: missing"));
        };
        if !value.is_wholly_known() {
            return Err(format!("{name}: unknown in a state"));
        }
        if a.mode == Mode::Required && value.is_null() {
            return Err(format!("{name}: required but null"));
        }
        match (&a.ty, value) {
            (_, Value::Null) => {}
            (AttrType::Plain(t), v) if t.admits(v) => {}
            (AttrType::Plain(t), v) => return Err(format!("{name}: {v:?} is not a {t:?}")),
            (
                AttrType::Nested {
                    nesting: Nesting::Single,
                    attributes,
                },
                v,
            ) => check_object(&format!("{name}."), attributes, v)?,
            (
                AttrType::Nested {
                    nesting: Nesting::Map,
                    attributes,
                },
                Value::Map(m),
            ) => {
                for (k, item) in m {
                    check_object(&format!("{name}[{k:?}]."), attributes, item)?;
                }
            }
            (AttrType::Nested { .. }, v) => return Err(format!("{name}: {v:?} is not a map")),
        }
    }
    Ok(())
}

impl Block {
    /// Whether `state` is an object Terraform accepts for this block: every attribute present
    /// with a value of its type, nothing else, nothing unknown, required ones not null.
    pub fn check_state(&self, state: &Value) -> Result<(), String> {
        check_object("", &self.attributes, state)
    }

    /// Names of attributes that were left without a description (must be empty: see tests).
    pub fn undocumented(&self) -> Vec<String> {
        fn walk(prefix: &str, attrs: &[Attribute], out: &mut Vec<String>) {
            for a in attrs {
                let name = format!("{prefix}{}", a.name);
                if a.description.trim().is_empty() {
                    out.push(name.clone());
                }
                if let AttrType::Nested { attributes, .. } = &a.ty {
                    walk(&format!("{name}."), attributes, out);
                }
            }
        }
        let mut out = Vec::new();
        walk("", &self.attributes, &mut out);
        for b in &self.blocks {
            walk(&format!("{}.", b.name), &b.block.attributes, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_state_finds_missing_extra_and_mistyped_attributes() {
        let block = Block {
            description: "b".into(),
            attributes: vec![
                Attribute::required("name", Type::String, "n"),
                Attribute::optional("count", Type::Number, "c"),
            ],
            blocks: vec![],
        };
        let ok = Value::object([("name", Value::from("x")), ("count", Value::Null)]);
        assert_eq!(block.check_state(&ok), Ok(()));
        let missing = Value::object([("name", Value::from("x"))]);
        assert!(
            block
                .check_state(&missing)
                .unwrap_err()
                .contains("count: missing")
        );
        let mut extra = ok.clone();
        extra.set("other", Value::from(true));
        assert!(
            block
                .check_state(&extra)
                .unwrap_err()
                .contains("not in the schema")
        );
        let typed = Value::object([("name", Value::from(1i64)), ("count", Value::Null)]);
        assert!(
            block
                .check_state(&typed)
                .unwrap_err()
                .contains("is not a String")
        );
        let null = Value::object([("name", Value::Null), ("count", Value::Null)]);
        assert!(
            block
                .check_state(&null)
                .unwrap_err()
                .contains("required but null")
        );
        let unknown = Value::object([("name", Value::Unknown), ("count", Value::Null)]);
        assert!(block.check_state(&unknown).unwrap_err().contains("unknown"));
    }
}
