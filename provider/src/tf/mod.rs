//! The typed layer between Terraform's wire values and resource code: values (`value`) and
//! their wire encodings (`codec`), attribute paths (`path`), diagnostics at those paths
//! (`diag`), typed reading of arguments (`read`) and schemas (`schema`). `path` stands alone;
//! `value` and `diag` build on it and never on each other; the rest build on those.

pub mod codec;
pub mod diag;
pub mod path;
pub mod read;
pub mod schema;
pub mod value;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use path::{AttrPath, Step};
pub use read::Reader;
pub use schema::{Attribute, Block, Mode, Nesting, Schema, SingleBlock, Type};
pub use value::{Known, Value};
