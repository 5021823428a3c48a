//! The reporting interface the rules write to: where a finding points ([`Scope`]), what a rule
//! reports ([`Report`], [`Level`]), and the [`Sink`] that turns reports into [`Finding`]s
//! (severity overrides, ignores, positions, fingerprints) and collects input errors.

use std::fmt;

use crate::config::Config;
use crate::finding::{Finding, Snippet};
use crate::json::{LineIndex, Span};
use crate::rules::Rule;
use crate::severity::Severity;

/// Options that do not change what is found.
#[derive(Debug, Clone, Copy, Default)]
pub struct LintOptions {
    /// Keep a window of each finding's source line for code frames (`Finding::snippet`).
    pub snippets: bool,
}

/// An input (or part of one) that could not be read, parsed or understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub path: String,
    /// 1-based position, when the problem has one.
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.path, self.message),
            _ => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for InputError {}

/// How a rule rates one finding relative to the rule's (configurable) base severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Default,
    /// One step below the base severity (e.g. JIT001 with a non-scoping condition).
    Lowered,
    /// One step above (JIT002 in front of a Lambda that can rewrite IAM or ACLs).
    Raised,
    /// A value unknown at plan time kept the rule from checking: always `low`.
    Unchecked,
}

/// Where findings of a document go and what they are attributed to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    /// For documents embedded as strings: every finding points at the attribute.
    pub anchor: Option<Span>,
    /// Terraform address or IAM entity/policy name.
    pub resource: Option<String>,
    /// Distinguishes documents within one file for fingerprints (e.g. the attribute path).
    pub context: String,
}

/// One finding as a rule reports it.
#[derive(Debug, Clone)]
pub(crate) struct Report<'a> {
    pub rule: Rule,
    pub level: Level,
    pub span: Span,
    pub statement: Option<usize>,
    pub sid: Option<&'a str>,
    /// What the finding is about, independent of formatting (for the fingerprint).
    pub key: String,
    pub message: String,
}

/// Collects findings and errors for one input.
pub(crate) struct Sink<'a> {
    pub config: &'a Config,
    pub path: &'a str,
    text: &'a str,
    index: LineIndex,
    options: LintOptions,
    pub findings: Vec<Finding>,
    pub errors: Vec<InputError>,
    pub ignored: usize,
}

impl<'a> Sink<'a> {
    pub fn new(config: &'a Config, path: &'a str, text: &'a str, options: LintOptions) -> Sink<'a> {
        Sink {
            config,
            path,
            text,
            index: LineIndex::new(text),
            options,
            findings: Vec::new(),
            errors: Vec::new(),
            ignored: 0,
        }
    }

    pub fn enabled(&self, rule: Rule) -> bool {
        self.config.is_enabled(rule)
    }

    pub fn make_error(&self, offset: Option<u32>, message: String) -> InputError {
        let pos = offset.map(|o| self.index.position(self.text, o));
        InputError {
            path: self.path.to_string(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            message,
        }
    }

    pub fn error(&mut self, offset: Option<u32>, message: String) {
        let e = self.make_error(offset, message);
        self.errors.push(e);
    }

    pub fn report(&mut self, scope: &Scope, r: Report<'_>) {
        if !self.config.is_enabled(r.rule) {
            return;
        }
        let base = self.config.severity(r.rule);
        let severity = match r.level {
            Level::Default => base,
            Level::Lowered => base.step(-1),
            Level::Raised => base.step(1),
            Level::Unchecked => Severity::Low,
        };
        let sid = r.sid.filter(|s| !s.is_empty());
        if self
            .config
            .is_ignored(r.rule, self.path, scope.resource.as_deref(), sid)
        {
            self.ignored += 1;
            return;
        }
        let span = scope.anchor.unwrap_or(r.span);
        let start = self.index.position(self.text, span.start);
        // Underline only the first line of a multi-line value.
        let line_start = self.index.line_start(start.line);
        let line = self.index.line_text(self.text, start.line);
        let end_offset = (span.end as usize).clamp(span.start as usize, line_start + line.len());
        let end = self.index.position(self.text, end_offset as u32);
        let end_column = end.column.max(start.column + 1);
        let fingerprint = fingerprint(&[
            r.rule.code(),
            &normalize_path(self.path),
            scope.resource.as_deref().unwrap_or(""),
            &scope.context,
            &r.key,
        ]);
        let snippet = self.options.snippets.then(|| {
            Snippet::new(
                line,
                span.start as usize - line_start,
                end_offset - line_start,
                120,
            )
        });
        self.findings.push(Finding {
            rule: r.rule,
            severity,
            path: self.path.to_string(),
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column,
            resource: scope.resource.clone(),
            statement: r.statement,
            sid: sid.map(str::to_string),
            message: r.message,
            fingerprint,
            snippet,
        });
    }
}

/// `./a//b\c` → `a/b/c`: the path part of fingerprints must not depend on how it was typed.
fn normalize_path(path: &str) -> String {
    let unified = path.replace('\\', "/");
    unified
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// FNV-1a (64 bit) over the parts, as 16 hex digits: stable across versions and platforms.
fn fingerprint(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.as_bytes().iter().chain(&[0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable() {
        // Pinned: baselines written by one version must keep matching in the next.
        assert_eq!(
            fingerprint(&["JIT001", "a.json", "", "", "k"]),
            fingerprint(&["JIT001", "a.json", "", "", "k"])
        );
        assert_ne!(
            fingerprint(&["JIT001", "a.json"]),
            fingerprint(&["JIT001a", ".json"])
        );
        assert_eq!(fingerprint(&[""]), "af63bd4c8601b7df");
        assert_eq!(normalize_path("./a//b\\c"), "a/b/c");
    }
}
