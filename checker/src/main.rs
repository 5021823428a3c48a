//! The `jitlint` command: a thin layer over the library (argument parsing, file walking,
//! output, exit codes).

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use rayon::prelude::*;

use jitlint::baseline::Baseline;
use jitlint::output::{self, Summary};
use jitlint::rules::{RULES, catalogue_markdown};
use jitlint::{Config, FileReport, InputError, LintOptions, Origin, Rule, Severity, lint_bytes};

/// Policy-as-code checker for IAM policy JSON and Terraform plans.
#[derive(Parser)]
#[command(name = "jitlint", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check IAM policies, AWS CLI policy output and Terraform plan/state JSON.
    ///
    /// Exit status: 0 when nothing is at or above --fail-on, 1 when something is, 2 on a usage
    /// error or when an input could not be read or parsed (the others are still checked).
    Check(CheckArgs),
    /// List the rules.
    Rules {
        #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
        format: RulesFormat,
    },
    /// Show a rule's documentation (by code, e.g. JIT001, or name).
    Explain {
        /// Rule code or name.
        rule: String,
    },
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Files or directories to check (directories are walked for *.json, respecting .gitignore);
    /// `-` reads standard input.
    #[arg(value_name = "PATH", default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Lowest severity that makes the exit status 1.
    #[arg(long, value_enum, default_value_t = FailOn::Low)]
    fail_on: FailOn,
    /// Configuration file (default: jitlint.toml in the working directory or the nearest parent).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Report only findings that are not in this baseline file.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Record all current findings in this baseline file, print nothing else, and exit 0
    /// (2 if an input could not be read).
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// Skip named files that are JSON but neither a policy nor a Terraform plan/state, as files
    /// found in a directory are skipped, instead of failing on them. For callers that name every
    /// `*.json` file they see, such as pre-commit.
    #[arg(long)]
    skip_unrecognized: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Sarif,
    Junit,
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
enum RulesFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Critical,
    High,
    Medium,
    Low,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            FailOn::Critical => Severity::Critical,
            FailOn::High => Severity::High,
            FailOn::Medium => Severity::Medium,
            FailOn::Low => Severity::Low,
        }
    }
}

const USAGE_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check(args),
        Command::Rules { format } => rules(format),
        Command::Explain { rule } => explain(&rule),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(USAGE_ERROR)
        }
    }
}

fn rules(format: RulesFormat) -> Result<u8, String> {
    let mut out = io::stdout().lock();
    let text = match format {
        RulesFormat::Text => RULES
            .iter()
            .map(|r| {
                format!(
                    "{}  {:<8}  {:<36}  {}\n",
                    r.code, r.default_severity, r.name, r.summary
                )
            })
            .collect(),
        RulesFormat::Json => {
            let rules: Vec<serde_json::Value> = RULES
                .iter()
                .map(|r| {
                    serde_json::json!({"code": r.code, "name": r.name, "severity": r.default_severity.as_str(), "summary": r.summary})
                })
                .collect();
            serde_json::to_string_pretty(&rules).map_err(|e| e.to_string())? + "\n"
        }
        RulesFormat::Markdown => catalogue_markdown(),
    };
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(0)
}

fn explain(code: &str) -> Result<u8, String> {
    let rule = Rule::lookup(code).ok_or_else(|| {
        let known: Vec<&str> = RULES.iter().map(|r| r.code).collect();
        format!(
            "{code:?} is not a jitlint rule; known rules: {}",
            known.join(", ")
        )
    })?;
    let info = rule.info();
    println!(
        "{} {} (default severity: {})\n\n{}",
        info.code,
        info.name,
        info.default_severity,
        rule.docs()
    );
    Ok(0)
}

/// An input to check.
enum Input {
    Stdin,
    File(PathBuf, Origin),
}

/// Expands the command-line paths: directories are walked for `*.json` (respecting
/// `.gitignore`, `.ignore` and hidden files), in a stable order.
fn inputs(paths: &[PathBuf], named: Origin, errors: &mut Vec<FileReport>) -> Vec<Input> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(Input::Stdin);
        } else if path.is_dir() {
            let walker = ignore::WalkBuilder::new(path)
                .require_git(false)
                .sort_by_file_name(|a, b| a.cmp(b))
                .build();
            for entry in walker {
                match entry {
                    Ok(e) => {
                        let p = e.path();
                        if e.file_type().is_some_and(|t| t.is_file())
                            && p.extension()
                                .is_some_and(|x| x.eq_ignore_ascii_case("json"))
                        {
                            out.push(Input::File(p.to_path_buf(), Origin::Walked));
                        }
                    }
                    Err(e) => errors.push(error_report(&path.display().to_string(), e.to_string())),
                }
            }
        } else if path.exists() {
            out.push(Input::File(path.clone(), named));
        } else {
            errors.push(error_report(
                &path.display().to_string(),
                "no such file or directory".into(),
            ));
        }
    }
    out
}

fn error_report(path: &str, message: String) -> FileReport {
    FileReport {
        path: path.to_string(),
        errors: vec![InputError {
            path: path.to_string(),
            line: None,
            column: None,
            message,
        }],
        ..FileReport::default()
    }
}

fn load_config(explicit: Option<&Path>) -> Result<Config, String> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => std::env::current_dir()
            .ok()
            .and_then(|d| Config::discover(&d)),
    };
    match path {
        Some(p) => Config::load(&p).map_err(|e| e.to_string()),
        None => Ok(Config::default()),
    }
}

fn check(args: CheckArgs) -> Result<u8, String> {
    let config = load_config(args.config.as_deref())?;
    let baseline = args.baseline.as_deref().map(Baseline::load).transpose()?;
    let stdout = io::stdout();
    let color = matches!(args.format, Format::Text)
        && stdout.is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let options = LintOptions {
        snippets: matches!(args.format, Format::Text),
    };

    let mut reports: Vec<FileReport> = Vec::new();
    let named = if args.skip_unrecognized {
        Origin::Walked
    } else {
        Origin::Explicit
    };
    let inputs = inputs(&args.paths, named, &mut reports);
    let stdin_bytes = if inputs.iter().any(|i| matches!(i, Input::Stdin)) {
        let mut bytes = Vec::new();
        match io::stdin().read_to_end(&mut bytes) {
            Ok(_) => Some(bytes),
            Err(e) => {
                reports.push(error_report("<stdin>", format!("cannot read: {e}")));
                None
            }
        }
    } else {
        None
    };
    // Read and lint in parallel; `collect` keeps the input order.
    let linted: Vec<FileReport> = inputs
        .par_iter()
        .map(|input| match input {
            Input::Stdin => match &stdin_bytes {
                Some(bytes) => lint_bytes("<stdin>", bytes, named, &config, options),
                None => FileReport::default(),
            },
            Input::File(path, origin) => {
                let shown = path.display().to_string();
                match std::fs::read(path) {
                    Err(e) => error_report(&shown, format!("cannot read: {e}")),
                    Ok(bytes) => lint_bytes(&shown, &bytes, *origin, &config, options),
                }
            }
        })
        .filter(|r| !r.path.is_empty())
        .collect();
    reports.extend(linted);

    let has_errors = reports.iter().any(|r| !r.errors.is_empty());
    if let Some(path) = &args.write_baseline {
        let findings: Vec<&jitlint::Finding> = reports.iter().flat_map(|r| &r.findings).collect();
        std::fs::write(path, Baseline::to_json(findings.iter().copied()))
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        for e in reports.iter().flat_map(|r| &r.errors) {
            eprintln!("error: {e}");
        }
        eprintln!(
            "Wrote {} findings to the baseline {}.",
            findings.len(),
            path.display()
        );
        return Ok(if has_errors { USAGE_ERROR } else { 0 });
    }
    let baselined = baseline.map_or(0, |b| b.filter(&mut reports));
    let summary = Summary::new(&reports, baselined);

    let mut out = io::BufWriter::new(stdout.lock());
    let written = match args.format {
        Format::Text => output::text(
            &mut out,
            &mut io::stderr().lock(),
            &reports,
            &summary,
            color,
        ),
        Format::Json => output::json(&mut out, &reports, &summary),
        Format::Sarif => output::sarif(&mut out, &reports, &config),
        Format::Junit => output::junit(&mut out, &reports, &config),
        Format::Github => output::github(&mut out, &reports),
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => {}
        // `jitlint … | head` is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(format!("cannot write output: {e}")),
    }
    let fail_on = args.fail_on.severity();
    Ok(if has_errors {
        USAGE_ERROR
    } else if reports
        .iter()
        .flat_map(|r| &r.findings)
        .any(|f| f.severity >= fail_on)
    {
        1
    } else {
        0
    })
}
