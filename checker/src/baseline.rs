//! Baselines: accept the findings that exist today, report only new ones.
//!
//! A finding is recorded by its fingerprint, which hashes the rule, the path, the resource or
//! policy name, the statement (its `Sid`, or its content in minified form) and the offending
//! value, and never the line or column: reformatting a file, or adding statements above, keeps
//! the baseline valid. Identical findings are counted, so a second copy of a baselined problem is
//! still new.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::finding::Finding;
use crate::lint::FileReport;

/// Fingerprints with how many findings each covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    counts: HashMap<String, usize>,
}

impl Baseline {
    /// A baseline of these findings.
    pub fn from_findings<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Baseline {
        let mut counts = HashMap::new();
        for f in findings {
            *counts.entry(f.fingerprint.clone()).or_insert(0) += 1;
        }
        Baseline { counts }
    }

    /// Reads a baseline file written by [`Baseline::to_json`].
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        if v.get("version").and_then(Value::as_u64) != Some(1) {
            return Err("not a jitlint baseline (expected \"version\": 1)".into());
        }
        let entries = v
            .get("findings")
            .and_then(Value::as_array)
            .ok_or("not a jitlint baseline (no \"findings\" array)")?;
        let mut counts = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let fp = e
                .get("fingerprint")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("findings[{i}] has no \"fingerprint\""))?;
            *counts.entry(fp.to_string()).or_insert(0) += 1;
        }
        Ok(Baseline { counts })
    }

    pub fn load(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Baseline::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The baseline file for these findings: fingerprints, plus rule, path and message so that a
    /// reviewer can read what was accepted.
    pub fn to_json<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> String {
        let mut entries: Vec<Value> = findings
            .into_iter()
            .map(|f| {
                json!({
                    "fingerprint": f.fingerprint,
                    "rule": f.rule.code(),
                    "path": f.path,
                    "resource": f.resource,
                    "message": f.message,
                })
            })
            .collect();
        entries.sort_by(|a, b| {
            a["path"]
                .as_str()
                .cmp(&b["path"].as_str())
                .then(a["fingerprint"].as_str().cmp(&b["fingerprint"].as_str()))
        });
        let doc = json!({"version": 1, "tool": "jitlint", "findings": entries});
        serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
    }

    /// Removes the findings the baseline covers from the reports; returns how many it removed.
    pub fn filter(&self, reports: &mut [FileReport]) -> usize {
        let mut left = self.counts.clone();
        let mut removed = 0;
        for report in reports {
            let before = report.findings.len();
            report
                .findings
                .retain(|f| match left.get_mut(&f.fingerprint) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        false
                    }
                    _ => true,
                });
            removed += before - report.findings.len();
        }
        removed
    }

    pub fn len(&self) -> usize {
        self.counts.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
