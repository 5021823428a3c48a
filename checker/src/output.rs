//! Output formats: `text` (rustc-style with code frames), `json`, `sarif` (2.1.0, for GitHub code
//! scanning), `junit` (one test case per file and rule) and `github` (workflow commands).

use std::fmt::Write as _;
use std::io::{self, Write};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};

use crate::config::Config;
use crate::finding::Finding;
use crate::lint::FileReport;
use crate::report::InputError;
use crate::rules::{RULES, Rule};
use crate::severity::Severity;

/// Totals over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Inputs read (including skipped ones and ones with errors).
    pub files: usize,
    /// Walked JSON files that are no known input.
    pub skipped: usize,
    pub findings: usize,
    pub errors: usize,
    /// Dropped by `[[ignore]]` entries.
    pub ignored: usize,
    /// Dropped because the baseline has them.
    pub baselined: usize,
    /// Findings per severity, indexed like [`Severity::ALL`] (critical first).
    pub by_severity: [usize; 4],
}

impl Summary {
    pub fn new(reports: &[FileReport], baselined: usize) -> Summary {
        let mut s = Summary {
            files: reports.len(),
            baselined,
            ..Summary::default()
        };
        for r in reports {
            s.skipped += usize::from(r.skipped);
            s.errors += r.errors.len();
            s.ignored += r.ignored;
            s.findings += r.findings.len();
            for f in &r.findings {
                s.by_severity[3 - f.severity as usize] += 1;
            }
        }
        s
    }

    fn severity_counts(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (i, sev) in Severity::ALL.iter().enumerate() {
            m.insert(sev.as_str().into(), self.by_severity[i].into());
        }
        Value::Object(m)
    }
}

fn findings(reports: &[FileReport]) -> impl Iterator<Item = &Finding> {
    reports.iter().flat_map(|r| r.findings.iter())
}

fn errors(reports: &[FileReport]) -> impl Iterator<Item = &InputError> {
    reports.iter().flat_map(|r| r.errors.iter())
}

// ---------------------------------------------------------------- text

struct Palette {
    on: bool,
}

impl Palette {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn severity(&self, sev: Severity, text: &str) -> String {
        let code = match sev {
            Severity::Critical => "1;35",
            Severity::High => "1;31",
            Severity::Medium => "1;33",
            Severity::Low => "1;36",
        };
        self.paint(code, text)
    }

    fn frame(&self, text: &str) -> String {
        self.paint("1;34", text)
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// rustc-style findings and the summary on `out`, errors on `err`. Colours only when asked
/// (the CLI asks when the stream is a terminal).
pub fn text(
    out: &mut dyn Write,
    err: &mut dyn Write,
    reports: &[FileReport],
    summary: &Summary,
    color: bool,
) -> io::Result<()> {
    let p = Palette { on: color };
    for f in findings(reports) {
        let head = format!("{}[{}]", f.severity, f.rule.code());
        writeln!(
            out,
            "{}{} {}",
            p.severity(f.severity, &head),
            p.paint("1", ":"),
            p.paint("1", &f.message)
        )?;
        let gutter = f.line.to_string().len();
        let pad = " ".repeat(gutter);
        writeln!(
            out,
            "{pad}{} {}:{}:{}",
            p.frame("-->"),
            f.path,
            f.line,
            f.column
        )?;
        if let Some(snippet) = &f.snippet {
            writeln!(out, "{pad} {}", p.frame("|"))?;
            writeln!(
                out,
                "{} {} {}",
                p.frame(&f.line.to_string()),
                p.frame("|"),
                snippet.text
            )?;
            let marks = format!("{} {}", "^".repeat(snippet.len.max(1)), f.rule.name());
            writeln!(
                out,
                "{pad} {} {}{}",
                p.frame("|"),
                " ".repeat(snippet.start),
                p.severity(f.severity, &marks)
            )?;
            writeln!(out, "{pad} {}", p.frame("|"))?;
        }
        if let Some(index) = f.statement {
            let sid = f
                .sid
                .as_ref()
                .map(|s| format!(" (Sid {s:?})"))
                .unwrap_or_default();
            writeln!(out, "{pad} {} statement: {index}{sid}", p.frame("="))?;
        }
        if let Some(resource) = &f.resource {
            writeln!(out, "{pad} {} resource: {resource}", p.frame("="))?;
        }
        writeln!(
            out,
            "{pad} {} help: `jitlint explain {}`",
            p.frame("="),
            f.rule.code()
        )?;
        writeln!(out)?;
    }
    for e in errors(reports) {
        writeln!(err, "{}{} {e}", p.paint("1;31", "error"), p.paint("1", ":"))?;
    }
    let mut line = if summary.findings == 0 {
        format!("No findings in {}", plural(summary.files, "file", "files"))
    } else {
        let parts: Vec<String> = Severity::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| summary.by_severity[*i] > 0)
            .map(|(i, s)| format!("{} {s}", summary.by_severity[i]))
            .collect();
        format!(
            "Found {} ({}) in {}",
            plural(summary.findings, "finding", "findings"),
            parts.join(", "),
            plural(summary.files, "file", "files")
        )
    };
    let mut extra = Vec::new();
    if summary.skipped > 0 {
        extra.push(format!(
            "{} skipped (not a policy, CLI output or plan)",
            summary.skipped
        ));
    }
    if summary.errors > 0 {
        extra.push(plural(summary.errors, "error", "errors"));
    }
    if summary.ignored > 0 {
        extra.push(format!("{} ignored by configuration", summary.ignored));
    }
    if summary.baselined > 0 {
        extra.push(format!("{} in the baseline", summary.baselined));
    }
    if !extra.is_empty() {
        write!(line, "; {}", extra.join(", ")).ok();
    }
    writeln!(out, "{line}.")
}

// ---------------------------------------------------------------- json

fn finding_json(f: &Finding) -> Value {
    json!({
        "rule": f.rule.code(),
        "name": f.rule.name(),
        "severity": f.severity.as_str(),
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "resource": f.resource,
        "statement": f.statement,
        "message": f.message,
    })
}

fn error_json(e: &InputError) -> Value {
    let mut v = json!({"path": e.path, "message": e.message});
    if let (Some(l), Some(c)) = (e.line, e.column) {
        v["line"] = l.into();
        v["column"] = c.into();
    }
    v
}

/// `{"findings": […], "errors": […], "summary": {…}}`.
pub fn json(out: &mut dyn Write, reports: &[FileReport], summary: &Summary) -> io::Result<()> {
    let doc = json!({
        "findings": findings(reports).map(finding_json).collect::<Vec<_>>(),
        "errors": errors(reports).map(error_json).collect::<Vec<_>>(),
        "summary": {
            "files": summary.files,
            "skipped": summary.skipped,
            "findings": summary.findings,
            "errors": summary.errors,
            "ignored": summary.ignored,
            "baselined": summary.baselined,
            "by_severity": summary.severity_counts(),
        },
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

// ---------------------------------------------------------------- sarif

/// RFC 3986 path characters that must be escaped in a relative URI reference.
const URI_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A path as a SARIF artifact URI: relative paths stay relative (GitHub resolves them against
/// the checkout), absolute ones become `file://` URIs.
pub fn artifact_uri(path: &str) -> String {
    if path == "<stdin>" {
        return "stdin".into();
    }
    let unified = path.replace('\\', "/");
    let trimmed = unified.trim_start_matches("./");
    let encoded = utf8_percent_encode(trimmed, URI_PATH).to_string();
    if trimmed.starts_with('/') {
        format!("file://{encoded}")
    } else if trimmed.len() > 2 && trimmed.as_bytes()[1] == b':' {
        format!("file:///{encoded}")
    } else {
        encoded
    }
}

fn sarif_rule(rule: Rule, config: &Config) -> Value {
    let info = rule.info();
    let severity = config.severity(rule);
    json!({
        "id": info.code,
        "name": info.name,
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": info.summary},
        "help": {"text": rule.docs(), "markdown": rule.docs()},
        "defaultConfiguration": {"level": severity.sarif_level(), "enabled": config.is_enabled(rule)},
        "properties": {
            "security-severity": severity.security_severity(),
            "tags": ["security", "iam", "terraform"],
            "precision": "high",
        },
    })
}

/// SARIF 2.1.0 that GitHub code scanning accepts.
pub fn sarif(out: &mut dyn Write, reports: &[FileReport], config: &Config) -> io::Result<()> {
    let rules: Vec<Value> = RULES.iter().map(|r| sarif_rule(r.rule, config)).collect();
    let results: Vec<Value> = findings(reports)
        .map(|f| {
            let mut location = json!({
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(&f.path)},
                    "region": {
                        "startLine": f.line,
                        "startColumn": f.column,
                        "endLine": f.end_line,
                        "endColumn": f.end_column,
                    },
                },
            });
            if let Some(resource) = &f.resource {
                location["logicalLocations"] = json!([{"fullyQualifiedName": resource, "kind": "resource"}]);
            }
            json!({
                "ruleId": f.rule.code(),
                "ruleIndex": f.rule as usize,
                "level": f.severity.sarif_level(),
                "message": {"text": f.message},
                "locations": [location],
                "partialFingerprints": {"jitlintFingerprint/v1": f.fingerprint},
                "properties": {"severity": f.severity.as_str(), "security-severity": f.severity.security_severity()},
            })
        })
        .collect();
    let notifications: Vec<Value> = errors(reports)
        .map(|e| {
            let mut location =
                json!({"physicalLocation": {"artifactLocation": {"uri": artifact_uri(&e.path)}}});
            if let (Some(l), Some(c)) = (e.line, e.column) {
                location["physicalLocation"]["region"] = json!({"startLine": l, "startColumn": c});
            }
            json!({"level": "error", "message": {"text": e.message}, "locations": [location]})
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "jitlint",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "invocations": [{
                "executionSuccessful": notifications.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

// ---------------------------------------------------------------- junit

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry other control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: a test suite per input, a test case per enabled rule (failed when the rule found
/// something), an errored case for inputs that could not be read, a skipped one for skipped files.
pub fn junit(out: &mut dyn Write, reports: &[FileReport], config: &Config) -> io::Result<()> {
    let enabled: Vec<Rule> = Rule::ALL
        .into_iter()
        .filter(|r| config.is_enabled(*r))
        .collect();
    let mut body = String::new();
    let (mut tests, mut failures, mut errs, mut skipped) = (0, 0, 0, 0);
    for r in reports {
        let path = xml_escape(&r.path);
        let mut suite = String::new();
        let (mut s_tests, mut s_fail, mut s_err, mut s_skip) = (0, 0, 0, 0);
        if r.skipped {
            s_tests += 1;
            s_skip += 1;
            writeln!(suite, "    <testcase name=\"detect\" classname=\"{path}\"><skipped message=\"not an IAM policy, AWS CLI policy output or Terraform plan\"/></testcase>").ok();
        } else if !r.errors.is_empty() {
            s_tests += 1;
            s_err += 1;
            let text: Vec<String> = r.errors.iter().map(ToString::to_string).collect();
            writeln!(
                suite,
                "    <testcase name=\"read\" classname=\"{path}\"><error message=\"{}\">{}</error></testcase>",
                xml_escape(&r.errors[0].message),
                xml_escape(&text.join("\n"))
            )
            .ok();
        }
        if !r.skipped && r.kind.is_some() {
            for rule in &enabled {
                s_tests += 1;
                let hits: Vec<&Finding> = r.findings.iter().filter(|f| f.rule == *rule).collect();
                let name = format!("{} {}", rule.code(), rule.name());
                if hits.is_empty() {
                    writeln!(
                        suite,
                        "    <testcase name=\"{name}\" classname=\"{path}\"/>"
                    )
                    .ok();
                    continue;
                }
                s_fail += 1;
                let worst = hits
                    .iter()
                    .map(|f| f.severity)
                    .max()
                    .unwrap_or(Severity::Low);
                let detail: Vec<String> = hits
                    .iter()
                    .map(|f| {
                        format!(
                            "{}:{}:{}: {} {}: {}",
                            f.path,
                            f.line,
                            f.column,
                            f.severity,
                            f.rule.code(),
                            f.message
                        )
                    })
                    .collect();
                writeln!(
                    suite,
                    "    <testcase name=\"{name}\" classname=\"{path}\"><failure message=\"{}\" type=\"{worst}\">{}</failure></testcase>",
                    xml_escape(&plural(hits.len(), "finding", "findings")),
                    xml_escape(&detail.join("\n"))
                )
                .ok();
            }
        }
        writeln!(
            body,
            "  <testsuite name=\"{path}\" tests=\"{s_tests}\" failures=\"{s_fail}\" errors=\"{s_err}\" skipped=\"{s_skip}\">\n{suite}  </testsuite>"
        )
        .ok();
        tests += s_tests;
        failures += s_fail;
        errs += s_err;
        skipped += s_skip;
    }
    write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"jitlint\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errs}\" skipped=\"{skipped}\">\n{body}</testsuites>\n"
    )
}

// ---------------------------------------------------------------- github

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands: `::error file=…,line=…::message` (warnings for medium,
/// notices for low).
pub fn github(out: &mut dyn Write, reports: &[FileReport]) -> io::Result<()> {
    for f in findings(reports) {
        let command = match f.severity {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low => "notice",
        };
        let title = format!("{} {} ({})", f.rule.code(), f.rule.name(), f.severity);
        writeln!(
            out,
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            escape_property(&f.path),
            f.line,
            f.column,
            f.end_line,
            f.end_column,
            escape_property(&title),
            escape_data(&f.message)
        )?;
    }
    for e in errors(reports) {
        let mut props = format!("file={}", escape_property(&e.path));
        if let (Some(l), Some(c)) = (e.line, e.column) {
            write!(props, ",line={l},col={c}").ok();
        }
        writeln!(
            out,
            "::error {props},title=jitlint::{}",
            escape_data(&e.message)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_escapes() {
        assert_eq!(
            artifact_uri("./plans/my plan#1.json"),
            "plans/my%20plan%231.json"
        );
        assert_eq!(artifact_uri("/tmp/a.json"), "file:///tmp/a.json");
        assert_eq!(artifact_uri("<stdin>"), "stdin");
        assert_eq!(escape_property("a,b:c%\n"), "a%2Cb%3Ac%25%0A");
        assert_eq!(
            xml_escape("<a & \"b\">\u{1}"),
            "&lt;a &amp; &quot;b&quot;&gt;\u{fffd}"
        );
    }
}
