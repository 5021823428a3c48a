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
    t.replace_nanosecond(0).expect("0 is a valid nanosecond")
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
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    truncate(t.to_offset(time::UtcOffset::UTC))
        .format(&Rfc3339)
        .expect("UTC times with 4-digit years format as RFC 3339")
}

pub fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(s, &Rfc3339).map(|t| t.to_offset(time::UtcOffset::UTC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_z_and_whole_seconds() {
        let t = parse_rfc3339("2026-11-23T22:00:00.75+01:00").unwrap();
        assert_eq!(format_rfc3339(t), "2026-11-23T21:00:00Z");
    }
}
