//! `jitlint.toml`: which rules run, their severities, the thresholds, and ignores.
//!
//! ```toml
//! # Run only these rules (default: all), then drop these.
//! enable = ["JIT001", "JIT002", "JIT005", "JIT006", "JIT007", "JIT008", "JIT009", "JIT010"]
//! disable = ["JIT008"]
//!
//! [severity]                 # per rule, by code or name
//! JIT004 = "high"
//!
//! [source-ip]                # JIT006
//! min-prefix-ipv4 = 8
//! min-prefix-ipv6 = 32
//!
//! [grants]                   # JIT010, matching the provider's defaults
//! max-ttl = "12h"
//! min-prefix-ipv4 = 24
//! min-prefix-ipv6 = 48
//!
//! [[ignore]]                 # every given field must match
//! rules = ["JIT001"]         # default: all rules
//! path = "legacy/**"         # glob, relative to the directory of jitlint.toml
//! resource = "module.legacy.*"
//! sid = "BreakGlass"
//! reason = "break-glass role, reviewed 2026-01"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde::Deserialize;

use crate::duration::parse_duration;
use crate::pattern::wildcard_match;
use crate::rules::Rule;
use crate::severity::Severity;

/// The file name searched for upward from the working directory.
pub const CONFIG_FILE: &str = "jitlint.toml";

/// Effective configuration. [`Config::default`] is what jitlint uses without a file.
#[derive(Debug, Clone)]
pub struct Config {
    enabled: [bool; Rule::ALL.len()],
    severity: [Severity; Rule::ALL.len()],
    /// JIT006: allowlist entries with a shorter prefix admit (nearly) everyone.
    pub source_ip_min_prefix_v4: u8,
    pub source_ip_min_prefix_v6: u8,
    /// JIT010: the longest TTL a grant may have, in seconds.
    pub grant_max_ttl_seconds: u64,
    /// JIT010: the widest CIDR a grant may open.
    pub grant_min_prefix_v4: u8,
    pub grant_min_prefix_v6: u8,
    ignores: Vec<Ignore>,
    /// Absolute directory of the config file: ignore paths are relative to it.
    root: Option<PathBuf>,
}

#[derive(Debug, Clone)]
struct Ignore {
    rules: Vec<Rule>,
    path: Option<GlobMatcher>,
    resource: Option<String>,
    sid: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            enabled: [true; Rule::ALL.len()],
            severity: Rule::ALL.map(Rule::default_severity),
            source_ip_min_prefix_v4: 8,
            source_ip_min_prefix_v6: 32,
            grant_max_ttl_seconds: 12 * 3600,
            grant_min_prefix_v4: 24,
            grant_min_prefix_v6: 48,
            ignores: Vec::new(),
            root: None,
        }
    }
}

/// A configuration file that could not be read or is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    enable: Option<Vec<String>>,
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    severity: BTreeMap<String, String>,
    #[serde(default)]
    source_ip: RawSourceIp,
    #[serde(default)]
    grants: RawGrants,
    #[serde(default)]
    ignore: Vec<RawIgnore>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSourceIp {
    min_prefix_ipv4: Option<u8>,
    min_prefix_ipv6: Option<u8>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawGrants {
    max_ttl: Option<String>,
    min_prefix_ipv4: Option<u8>,
    min_prefix_ipv6: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawIgnore {
    #[serde(default)]
    rules: Vec<String>,
    path: Option<String>,
    resource: Option<String>,
    sid: Option<String>,
    #[allow(dead_code)] // Documentation for humans; parsed so that typos elsewhere are caught.
    reason: Option<String>,
}

fn lookup_rule(code: &str, field: &str) -> Result<Rule, String> {
    Rule::lookup(code).ok_or_else(|| {
        format!(
            "{field}: {code:?} is not a jitlint rule; use a code JIT001…JIT010 or a name from `jitlint rules`"
        )
    })
}

fn prefix(value: Option<u8>, max: u8, field: &str, default: u8) -> Result<u8, String> {
    match value {
        None => Ok(default),
        Some(v) if v <= max => Ok(v),
        Some(v) => Err(format!("{field} = {v} is not a prefix length (0-{max})")),
    }
}

impl Config {
    /// Parses the text of a `jitlint.toml`; `dir` is the directory ignore paths are relative to.
    pub fn from_toml(text: &str, dir: Option<&Path>) -> Result<Config, String> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        let mut config = Config::default();
        if let Some(enable) = &raw.enable {
            config.enabled = [false; Rule::ALL.len()];
            for code in enable {
                config.enabled[lookup_rule(code, "enable")? as usize] = true;
            }
        }
        for code in &raw.disable {
            config.enabled[lookup_rule(code, "disable")? as usize] = false;
        }
        for (code, sev) in &raw.severity {
            let rule = lookup_rule(code, "severity")?;
            config.severity[rule as usize] =
                sev.parse().map_err(|e| format!("severity.{code}: {e}"))?;
        }
        config.source_ip_min_prefix_v4 = prefix(
            raw.source_ip.min_prefix_ipv4,
            32,
            "source-ip.min-prefix-ipv4",
            8,
        )?;
        config.source_ip_min_prefix_v6 = prefix(
            raw.source_ip.min_prefix_ipv6,
            128,
            "source-ip.min-prefix-ipv6",
            32,
        )?;
        config.grant_min_prefix_v4 =
            prefix(raw.grants.min_prefix_ipv4, 32, "grants.min-prefix-ipv4", 24)?;
        config.grant_min_prefix_v6 = prefix(
            raw.grants.min_prefix_ipv6,
            128,
            "grants.min-prefix-ipv6",
            48,
        )?;
        if let Some(ttl) = &raw.grants.max_ttl {
            config.grant_max_ttl_seconds =
                parse_duration(ttl).map_err(|e| format!("grants.max-ttl: {e}"))?;
        }
        for (i, ig) in raw.ignore.iter().enumerate() {
            let rules = ig
                .rules
                .iter()
                .map(|c| lookup_rule(c, &format!("ignore[{i}].rules")))
                .collect::<Result<Vec<_>, _>>()?;
            if ig.path.is_none() && ig.resource.is_none() && ig.sid.is_none() && rules.is_empty() {
                return Err(format!(
                    "ignore[{i}] matches everything; give rules, path, resource or sid (or use `disable`)"
                ));
            }
            let path = match &ig.path {
                None => None,
                Some(p) => Some(
                    Glob::new(p)
                        .map_err(|e| format!("ignore[{i}].path: {e}"))?
                        .compile_matcher(),
                ),
            };
            config.ignores.push(Ignore {
                rules,
                path,
                resource: ig.resource.clone(),
                sid: ig.sid.clone(),
            });
        }
        config.root = dir.map(Path::to_path_buf);
        Ok(config)
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let err = |message: String| ConfigError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let dir = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        Config::from_toml(&text, dir.as_deref()).map_err(err)
    }

    /// Finds `jitlint.toml` in `start` or the nearest ancestor that has one.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .map(|d| d.join(CONFIG_FILE))
            .find(|p| p.is_file())
    }

    pub fn is_enabled(&self, rule: Rule) -> bool {
        self.enabled[rule as usize]
    }

    pub fn set_enabled(&mut self, rule: Rule, enabled: bool) {
        self.enabled[rule as usize] = enabled;
    }

    /// The rule's base severity (its default unless the file overrides it).
    pub fn severity(&self, rule: Rule) -> Severity {
        self.severity[rule as usize]
    }

    pub fn set_severity(&mut self, rule: Rule, severity: Severity) {
        self.severity[rule as usize] = severity;
    }

    /// Whether an `[[ignore]]` entry drops this finding. `path` is the input path as shown.
    pub(crate) fn is_ignored(
        &self,
        rule: Rule,
        path: &str,
        resource: Option<&str>,
        sid: Option<&str>,
    ) -> bool {
        if self.ignores.is_empty() {
            return false;
        }
        let rel = self.relative_path(path);
        self.ignores.iter().any(|ig| {
            (ig.rules.is_empty() || ig.rules.contains(&rule))
                && ig.path.as_ref().is_none_or(|g| g.is_match(&rel))
                && ig
                    .resource
                    .as_ref()
                    .is_none_or(|p| resource.is_some_and(|r| wildcard_match(p, r)))
                && ig.sid.as_ref().is_none_or(|s| sid == Some(s.as_str()))
        })
    }

    /// `path` relative to the config file's directory, with `/` separators.
    fn relative_path(&self, path: &str) -> String {
        let p = Path::new(path);
        let rel = match (&self.root, std::path::absolute(p)) {
            (Some(root), Ok(abs)) => abs.strip_prefix(root).map(Path::to_path_buf).unwrap_or(abs),
            _ => p.to_path_buf(),
        };
        let s = rel.to_string_lossy().replace('\\', "/");
        s.strip_prefix("./").map(str::to_string).unwrap_or(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_setting() {
        let c = Config::from_toml(
            r#"
            enable = ["JIT001", "source-ip-invalid", "JIT004"]
            disable = ["jit004"]
            [severity]
            JIT001 = "critical"
            [source-ip]
            min-prefix-ipv4 = 16
            [grants]
            max-ttl = "1h30m"
            min-prefix-ipv6 = 64
            [[ignore]]
            rules = ["JIT001"]
            sid = "BreakGlass"
            reason = "reviewed"
            "#,
            Some(Path::new("/repo")),
        )
        .unwrap();
        assert!(c.is_enabled(Rule::NaclEntryWriteUnscoped));
        assert!(c.is_enabled(Rule::SourceIpInvalid));
        assert!(!c.is_enabled(Rule::ClientVpnHandlerTimeout));
        assert!(!c.is_enabled(Rule::OpenApiGateway));
        assert_eq!(c.severity(Rule::NaclEntryWriteUnscoped), Severity::Critical);
        assert_eq!(c.source_ip_min_prefix_v4, 16);
        assert_eq!(c.source_ip_min_prefix_v6, 32);
        assert_eq!(c.grant_max_ttl_seconds, 5400);
        assert_eq!(c.grant_min_prefix_v6, 64);
        assert!(c.is_ignored(
            Rule::NaclEntryWriteUnscoped,
            "a.json",
            None,
            Some("BreakGlass")
        ));
        assert!(!c.is_ignored(Rule::NaclEntryWriteUnscoped, "a.json", None, Some("Other")));
        assert!(!c.is_ignored(Rule::SourceIpInvalid, "a.json", None, Some("BreakGlass")));
    }

    #[test]
    fn ignores_by_path_and_resource() {
        let c = Config::from_toml(
            r#"
            [[ignore]]
            path = "legacy/**"
            [[ignore]]
            rules = ["JIT002"]
            resource = "module.public.*"
            "#,
            Some(&std::env::current_dir().unwrap()),
        )
        .unwrap();
        assert!(c.is_ignored(Rule::PolicySizeLimit, "legacy/x/p.json", None, None));
        assert!(c.is_ignored(Rule::PolicySizeLimit, "./legacy/p.json", None, None));
        assert!(!c.is_ignored(Rule::PolicySizeLimit, "current/p.json", None, None));
        assert!(c.is_ignored(
            Rule::OpenApiGateway,
            "plan.json",
            Some("module.public.aws_lambda_function_url.u"),
            None
        ));
        assert!(!c.is_ignored(
            Rule::OpenApiGateway,
            "plan.json",
            Some("aws_lambda_function_url.u"),
            None
        ));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (text, msg) in [
            (
                "disable = [\"JIT099\"]",
                "disable: \"JIT099\" is not a jitlint rule",
            ),
            (
                "[severity]\nJIT001 = \"severe\"",
                "severity.JIT001: \"severe\" is not a severity",
            ),
            (
                "[grants]\nmax-ttl = \"1d\"",
                "grants.max-ttl: \"1d\" uses days",
            ),
            (
                "[source-ip]\nmin-prefix-ipv4 = 33",
                "source-ip.min-prefix-ipv4 = 33 is not a prefix length (0-32)",
            ),
            ("[[ignore]]\nreason = \"x\"", "ignore[0] matches everything"),
            ("[[ignore]]\npath = \"[\"", "ignore[0].path:"),
            ("disabel = []", "unknown field `disabel`"),
        ] {
            let err = Config::from_toml(text, None).unwrap_err();
            assert!(err.contains(msg), "{text}: {err}");
        }
    }
}
