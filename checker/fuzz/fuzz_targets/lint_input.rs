//! Feeds arbitrary bytes to everything that reads untrusted input: the JSON parser, input
//! detection, the policy model, plan resolution, every rule and every output format. The only
//! acceptable outcome is findings or errors; a panic, an overflow or a hang is a bug.

#![no_main]

use jitlint::output::{self, Summary};
use jitlint::{Config, LintOptions, Origin, lint_bytes, lint_policy_document};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let config = Config::default();
    // Through the decoder (UTF-8, UTF-16 with a byte-order mark), as the command reads files.
    let report = lint_bytes(
        "fuzz.json",
        data,
        Origin::Explicit,
        &config,
        LintOptions { snippets: true },
    );
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = lint_policy_document(text, &config);
    }
    let reports = vec![report];
    let summary = Summary::new(&reports, 0);
    let mut sink = Vec::new();
    let mut err = Vec::new();
    output::text(&mut sink, &mut err, &reports, &summary, true).unwrap();
    output::json(&mut sink, &reports, &summary).unwrap();
    output::sarif(&mut sink, &reports, &config).unwrap();
    output::junit(&mut sink, &reports, &config).unwrap();
    output::github(&mut sink, &reports).unwrap();
});
