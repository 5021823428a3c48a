//! The typed layer between Terraform's wire values and resource code.

pub mod diag;
pub mod schema;
pub mod value;

pub use diag::{AttrPath, Diagnostic, Diagnostics, Severity};
pub use schema::{Attribute, Block, Mode, Nesting, Schema, SingleBlock, Type};
pub use value::{Known, Value};
