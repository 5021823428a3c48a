//! Schemas as resource files declare them; converted to the protocol's `Schema` by the server.
//!
//! Every attribute must carry a description: the registry docs are generated from them.

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

impl Block {
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
