//! Registry docs (`docs/index.md`, `docs/resources/*.md`) generated from the schemas'
//! descriptions and the files under `examples/`, in the layout tfplugindocs produces. The
//! test `tests/docs.rs` fails when the committed docs are stale.

use std::fmt::Write as _;

use crate::tf::schema::{AttrType, Attribute, Block, Mode};

/// The sources of one page: what the schema says plus the example files.
pub struct Page<'a> {
    pub title: &'a str,
    /// `Resource` or `Provider`.
    pub kind: &'a str,
    pub block: &'a Block,
    pub example: &'a str,
    pub import: Option<&'a str>,
}

pub fn render(page: &Page<'_>) -> String {
    let summary = page.block.description.lines().next().unwrap_or_default();
    let mut out = String::new();
    let page_title = match page.kind {
        "Provider" => "Provider: jit".to_string(),
        kind => format!("{} {kind} - terraform-provider-jit", page.title),
    };
    let _ = write!(
        out,
        "---\npage_title: \"{page_title}\"\nsubcategory: \"\"\ndescription: |-\n  {summary}\n---\n\n"
    );
    let heading = match page.kind {
        "Provider" => format!("# {} Provider", page.title),
        kind => format!("# {} ({kind})", page.title),
    };
    let _ = write!(out, "{heading}\n\n{}\n\n", page.block.description);
    let _ = write!(
        out,
        "## Example Usage\n\n```terraform\n{}\n```\n\n",
        page.example.trim_end()
    );
    out.push_str("<!-- generated from the provider's schema by `UPDATE_DOCS=1 cargo test -p terraform-provider-jit --test docs` -->\n## Schema\n");
    let mut nested = Vec::new();
    write_attrs(&mut out, &page.block.attributes, &mut nested, "");
    for b in &page.block.blocks {
        nested.push((b.name.to_string(), b.block.attributes.clone()));
    }
    if !page.block.blocks.is_empty() {
        out.push_str("\n### Blocks\n\n");
        for b in &page.block.blocks {
            let _ = writeln!(
                out,
                "- `{}` (Block, Optional) {} (see [below for nested schema](#nestedblock--{}))",
                b.name, b.block.description, b.name
            );
        }
    }
    let mut i = 0;
    while i < nested.len() {
        let (name, attrs) = nested[i].clone();
        let _ = write!(
            out,
            "\n<a id=\"nestedblock--{name}\"></a>\n### Nested Schema for `{name}`\n"
        );
        write_attrs(&mut out, &attrs, &mut nested, &format!("{name}."));
        i += 1;
    }
    if let Some(import) = page.import {
        let _ = write!(
            out,
            "\n## Import\n\nImport is supported using the following syntax:\n\n```shell\n{}\n```\n",
            import.trim_end()
        );
    }
    out
}

fn write_attrs(
    out: &mut String,
    attrs: &[Attribute],
    nested: &mut Vec<(String, Vec<Attribute>)>,
    prefix: &str,
) {
    for (title, modes) in [
        ("Required", &[Mode::Required][..]),
        ("Optional", &[Mode::Optional, Mode::OptionalComputed][..]),
        ("Read-Only", &[Mode::Computed][..]),
    ] {
        let group: Vec<&Attribute> = attrs.iter().filter(|a| modes.contains(&a.mode)).collect();
        if group.is_empty() {
            continue;
        }
        let _ = write!(out, "\n### {title}\n\n");
        for a in group {
            let ty = match &a.ty {
                AttrType::Plain(t) => t.doc_name(),
                AttrType::Nested {
                    nesting,
                    attributes,
                } => {
                    let anchor = format!("{prefix}{}", a.name);
                    nested.push((anchor.clone(), attributes.clone()));
                    let kind = match nesting {
                        crate::tf::Nesting::Single => "Attributes",
                        crate::tf::Nesting::Map => "Map of Attributes",
                    };
                    let _ = writeln!(
                        out,
                        "- `{}` ({kind}) {} (see [below for nested schema](#nestedblock--{anchor}))",
                        a.name, a.description
                    );
                    continue;
                }
            };
            let _ = writeln!(out, "- `{}` ({ty}) {}", a.name, a.description);
        }
    }
}
