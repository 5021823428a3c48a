//! The injected clock. TTL decisions (is a grant expired?) go through it, so tests can move
//! time instead of sleeping.

use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Environment variable that pins the clock. Only the test suite sets it; the provider logs a
/// warning whenever it is in effect, so it cannot go unnoticed in real use.
pub const TEST_NOW_ENV: &str = "JIT_TEST_NOW";

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock, truncated to whole seconds (grants are stored with second precision).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate(OffsetDateTime::now_utc())
    }
}

/// A clock that always says the same time.
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    // 0 is always a valid nanosecond; `unwrap_or` keeps this total without an `expect`.
    t.replace_nanosecond(0).unwrap_or(t)
}

/// The clock for this process: pinned by `JIT_TEST_NOW` when set, the system clock otherwise.
pub fn from_env() -> Result<Arc<dyn Clock>, String> {
    match std::env::var(TEST_NOW_ENV) {
        Ok(s) if !s.is_empty() => {
            let t = parse_rfc3339(&s)
                .map_err(|e| format!("{TEST_NOW_ENV}={s:?} is not an RFC 3339 time: {e}"))?;
            tracing::warn!("clock pinned to {s} by {TEST_NOW_ENV} (tests only)");
            Ok(Arc::new(FixedClock(t)))
        }
        _ => Ok(Arc::new(SystemClock)),
    }
}

/// Formats as RFC 3339 in UTC with second precision: `2026-11-23T21:00:00Z`.
///
/// Total: RFC 3339 has only the years 0000-9999, and a time outside them (decoded from a tag
/// someone wrote by hand, say) comes out as its Unix seconds after an `@`, as GNU `date -d`
/// reads them (`@-100000000000`), so a listing or a diagnostic still shows it.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    // `to_offset` panics when the shift to UTC leaves the year range; the Unix time is the same
    // in every offset, so the check is on it.
    let utc = t.checked_to_offset(time::UtcOffset::UTC);
    utc.and_then(|u| truncate(u).format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{}", t.unix_timestamp()))
}

/// Parses RFC 3339 and converts to UTC; a time whose UTC form leaves the year 9999
/// (`9999-12-31T23:59:59-01:00`) is an error, not a panic.
pub fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, String> {
    let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|e| e.to_string())?;
    t.checked_to_offset(time::UtcOffset::UTC)
        .ok_or_else(|| "it is after 9999-12-31T23:59:59Z in UTC".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_z_and_whole_seconds() {
        let t = parse_rfc3339("2026-11-23T22:00:00.75+01:00").unwrap();
        assert_eq!(format_rfc3339(t), "2026-11-23T21:00:00Z");
    }

    #[test]
    fn parse_rfc3339_past_year_9999_in_utc_is_an_error_not_a_panic() {
        assert!(parse_rfc3339("9999-12-31T23:59:59-01:00").is_err());
        assert!(parse_rfc3339("0000-01-01T00:00:00+01:00").is_ok());
        assert!(parse_rfc3339("not a time").is_err());
    }

    /// A `jit:grant:` tag with `e=-100000000000` once crashed jitctl and the provider here.
    #[test]
    fn format_rfc3339_of_year_minus_1199_is_unix_seconds_not_a_panic() {
        let t = OffsetDateTime::from_unix_timestamp(-100_000_000_000).unwrap();
        assert_eq!(format_rfc3339(t), "@-100000000000");
        for t in [
            time::PrimitiveDateTime::MIN.assume_utc(),
            time::PrimitiveDateTime::MAX.assume_offset(time::macros::offset!(-23:59:59)),
            time::PrimitiveDateTime::MIN.assume_offset(time::macros::offset!(+23:59:59)),
        ] {
            assert!(format_rfc3339(t).starts_with('@'), "{t}");
        }
        assert_eq!(
            format_rfc3339(time::PrimitiveDateTime::MAX.assume_utc()),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(
            format_rfc3339(time::macros::datetime!(0000-01-01 00:00 UTC)),
            "0000-01-01T00:00:00Z"
        );
    }
}
