//! IAM policy documents a plan does not know yet, rebuilt from what it does know: the statements
//! of an `aws_iam_policy_document` data source whose `json` is unknown until apply.

use crate::json::{Node, Span};
use crate::plan::{Plan, Resolved, Seg};
use crate::policy::{Condition, Effect, Item, PatternList, Policy, Principals, Statement, Term};

/// A string or list attribute as policy items (one unknown item when it is unknown; an unknown
/// element of a known list says what it depends on).
fn terms<'n>(plan: &Plan<'n>, i: usize, path: &[Seg<'_>], span: Span) -> Option<Vec<Item<'n>>> {
    let unknown = |why: String| Item {
        term: Term::Unknown(why),
        span,
    };
    Some(match plan.attr(i, path)? {
        Resolved::Known(node) => match (node.as_str(), node.as_array()) {
            (Some(s), _) => vec![Item {
                term: Term::Known(s),
                span,
            }],
            (_, Some(items)) => items
                .iter()
                .enumerate()
                .map(|(n, node)| match node.as_str() {
                    Some(s) => Item {
                        term: Term::Known(s),
                        span,
                    },
                    None => {
                        let mut at = path.to_vec();
                        at.push(Seg::Index(n));
                        match plan.attr(i, &at) {
                            Some(Resolved::Unknown(why)) => unknown(why),
                            Some(Resolved::Known(v)) => v.as_str().map_or_else(
                                || unknown(format!("is a {}", v.kind())),
                                |s| Item {
                                    term: Term::Known(s),
                                    span,
                                },
                            ),
                            None => unknown(format!("is a {}", node.kind())),
                        }
                    }
                })
                .collect(),
            _ => vec![unknown(format!("is a {}", node.kind()))],
        },
        Resolved::Unknown(why) => vec![unknown(why)],
    })
}

fn block_count(plan: &Plan<'_>, i: usize, path: &[Seg<'_>]) -> usize {
    let inst = &plan.instances[i];
    let from = |root: Option<&Node<'_>>| {
        let mut node = root?;
        for seg in path {
            node = match *seg {
                Seg::Key(k) => node.get(k)?,
                Seg::Index(n) => node.as_array()?.get(n)?,
            };
        }
        node.as_array().map(<[Node<'_>]>::len)
    };
    from(inst.values)
        .into_iter()
        .chain(from(inst.config.and_then(|c| c.get("expressions"))))
        .max()
        .unwrap_or(0)
}

/// Rebuilds the statements of an `aws_iam_policy_document` data source from what the plan knows
/// (its partially known values and its configuration), for when its `json` is unknown.
/// `None` if it merges other documents, which cannot be reconstructed.
pub(crate) fn document_from_config<'n>(
    plan: &Plan<'n>,
    d: usize,
    span: Span,
) -> Option<Policy<'n>> {
    for merged in [
        "source_policy_documents",
        "override_policy_documents",
        "source_json",
        "override_json",
    ] {
        match plan.attr(d, &[Seg::Key(merged)]) {
            Some(Resolved::Known(n))
                if n.as_array().is_some_and(<[Node<'_>]>::is_empty) || n.as_str() == Some("") => {}
            Some(_) => return None,
            None => {}
        }
    }
    let mut statements = Vec::new();
    for k in 0..block_count(plan, d, &[Seg::Key("statement")]) {
        let at = |attr: &'static str| [Seg::Key("statement"), Seg::Index(k), Seg::Key(attr)];
        let list = |pos: &'static str, neg: &'static str| {
            terms(plan, d, &at(pos), span)
                .map(|items| (false, items))
                .or_else(|| terms(plan, d, &at(neg), span).map(|items| (true, items)))
                .map(|(negated, items)| PatternList {
                    negated,
                    span,
                    items,
                })
        };
        let effect = match plan.known_str(d, &at("effect")) {
            Some("Deny") => Effect::Deny,
            _ => Effect::Allow,
        };
        let mut principal = None;
        for (block, negated) in [("principals", false), ("not_principals", true)] {
            let base = [Seg::Key("statement"), Seg::Index(k), Seg::Key(block)];
            let mut entries = Vec::new();
            // A `dynamic "principals"` block over values unknown until apply.
            if let Some(Resolved::Unknown(why)) = plan.attr(d, &base) {
                entries.push((
                    "?",
                    Item {
                        term: Term::Unknown(why),
                        span,
                    },
                ));
            }
            for m in 0..block_count(plan, d, &base) {
                let p = [
                    Seg::Key("statement"),
                    Seg::Index(k),
                    Seg::Key(block),
                    Seg::Index(m),
                ];
                let kind = plan
                    .known_str(d, &[p[0], p[1], p[2], p[3], Seg::Key("type")])
                    .unwrap_or("?");
                for item in terms(
                    plan,
                    d,
                    &[p[0], p[1], p[2], p[3], Seg::Key("identifiers")],
                    span,
                )
                .unwrap_or_default()
                {
                    entries.push((kind, item));
                }
            }
            if !entries.is_empty() {
                principal = Some(Principals {
                    negated,
                    span,
                    entries,
                });
            }
        }
        let mut conditions = Vec::new();
        let base = [Seg::Key("statement"), Seg::Index(k), Seg::Key("condition")];
        for m in 0..block_count(plan, d, &base) {
            let c = |attr| [base[0], base[1], base[2], Seg::Index(m), Seg::Key(attr)];
            conditions.push(Condition {
                operator: plan.known_str(d, &c("test")).unwrap_or("?"),
                operator_span: span,
                key: plan.known_str(d, &c("variable")).unwrap_or("?"),
                key_span: span,
                values: terms(plan, d, &c("values"), span).unwrap_or_default(),
            });
        }
        let action = list("actions", "not_actions");
        let resource = list("resources", "not_resources");
        let sid = plan.known_str(d, &at("sid"));
        // Values only (no positions), so that fingerprints survive reformatting of the plan.
        let text = |items: &[Item<'_>]| {
            items
                .iter()
                .map(|i| i.known().unwrap_or("?"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let canonical = format!(
            "{sid:?}|{effect:?}|{}|{}|{}",
            action.as_ref().map_or(String::new(), |a| format!(
                "{}{}",
                a.negated,
                text(&a.items)
            )),
            resource.as_ref().map_or(String::new(), |r| format!(
                "{}{}",
                r.negated,
                text(&r.items)
            )),
            conditions
                .iter()
                .map(|c| format!("{}:{}={}", c.operator, c.key, text(&c.values)))
                .collect::<Vec<_>>()
                .join(";")
        );
        statements.push(Statement {
            index: k,
            span,
            canonical,
            sid,
            effect,
            effect_span: span,
            action,
            resource,
            principal,
            condition_span: (!conditions.is_empty()).then_some(span),
            conditions,
        });
    }
    Some(Policy {
        version: None,
        statements,
    })
}
