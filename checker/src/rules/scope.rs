//! Where findings about a plan attribute point.

use crate::plan::{Plan, Seg, path_string};
use crate::report::Scope;

/// The scope of findings about an attribute: the resource address, pointing at the attribute.
pub(crate) fn attr_scope(plan: &Plan<'_>, i: usize, path: &[Seg<'_>]) -> Scope {
    Scope {
        anchor: Some(plan.attr_span(i, path)),
        resource: Some(plan.instances[i].address.clone()),
        context: path_string(path),
    }
}
