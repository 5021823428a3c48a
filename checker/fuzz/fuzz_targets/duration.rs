//! Feeds arbitrary text to the TTL parser that jitlint and the provider share. It must answer
//! every input with seconds or an error, never a panic or an overflow; whatever it accepts is
//! within the limit and survives a round trip through the short form jit prints.

#![no_main]

use jitlint::duration::{MAX_DURATION_SECS, format_duration, parse_duration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(secs) = parse_duration(text) {
        assert!(secs <= MAX_DURATION_SECS, "{text:?} -> {secs}");
        assert_eq!(parse_duration(&format_duration(secs)), Ok(secs), "{text:?}");
    }
});
