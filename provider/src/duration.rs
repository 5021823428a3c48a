//! TTLs: Go-style durations (`"90m"`, `"1h30m"`, `"2h"`), parsed by jitlint's parser so that
//! the provider and the linter can never disagree about what a TTL means.

use std::fmt;
use std::ops::{Add, Sub};

use time::OffsetDateTime;

/// A non-negative duration in whole seconds, at most [`jitlint::duration::MAX_DURATION_SECS`]
/// when it comes from [`parse_ttl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ttl(pub i64);

impl Ttl {
    pub fn seconds(self) -> i64 {
        self.0
    }

    /// The TTL as a span to add to or subtract from a time: `created_at + ttl.as_time()`.
    pub fn as_time(self) -> TtlSpan {
        TtlSpan(time::Duration::seconds(self.0))
    }
}

/// A TTL as a span of time. Adding it to or subtracting it from an [`OffsetDateTime`] saturates
/// at the range of `time` (years -9999 to 9999) instead of panicking as `time::Duration` does:
/// with TTLs of at most 100 years that is reached only from a start near the end of that range
/// (a hand-edited state or tag), where "the end of time" is the honest answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlSpan(time::Duration);

impl Add<TtlSpan> for OffsetDateTime {
    type Output = OffsetDateTime;

    fn add(self, span: TtlSpan) -> OffsetDateTime {
        self.saturating_add(span.0)
    }
}

impl Sub<TtlSpan> for OffsetDateTime {
    type Output = OffsetDateTime;

    fn sub(self, span: TtlSpan) -> OffsetDateTime {
        self.saturating_sub(span.0)
    }
}

impl fmt::Display for Ttl {
    /// Shortest readable form: `2h`, `1h30m`, `45s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&jitlint::duration::format_duration(self.0.unsigned_abs()))
    }
}

/// Parses a TTL. Zero is returned as is (callers decide whether it is allowed); negatives,
/// fractions of a second, more than 100 years and garbage are errors that say how to write it.
pub fn parse_ttl(input: &str) -> Result<Ttl, String> {
    let secs = jitlint::duration::parse_duration(input)?;
    i64::try_from(secs)
        .map(Ttl)
        .map_err(|_| format!("{input:?} is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_ttl("2h").unwrap(), Ttl(7200));
        assert_eq!(parse_ttl("1h30m").unwrap(), Ttl(5400));
        assert_eq!(parse_ttl("0").unwrap(), Ttl(0));
        assert!(
            parse_ttl("1500ms")
                .unwrap_err()
                .contains("fraction of a second")
        );
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        assert!(parse_ttl("-1h").unwrap_err().contains("negative"));
        assert!(
            parse_ttl("2")
                .unwrap_err()
                .contains("did you mean \"2m\" or \"2h\"")
        );
        assert!(parse_ttl("1d").unwrap_err().contains("write hours"));
        assert!(parse_ttl("abc").unwrap_err().contains("not a duration"));
        assert!(parse_ttl("").is_err());
        assert!(parse_ttl("99999999999999999999h").is_err());
    }

    /// `ttl = "9999999999h"` once panicked the provider in validation (`created_at + ttl` out
    /// of `time`'s range): it is refused, naming the value and the limit.
    #[test]
    fn ttl_of_9999999999h_is_refused_not_a_panic() {
        assert_eq!(
            parse_ttl("9999999999h").unwrap_err(),
            "\"9999999999h\" is longer than 876600h, the longest duration jit accepts (100 years)"
        );
        let longest = parse_ttl("876600h").unwrap();
        let now = OffsetDateTime::now_utc();
        assert_eq!((now + longest.as_time()) - longest.as_time(), now);
    }

    #[test]
    fn ttl_arithmetic_saturates_at_the_end_of_time() {
        let longest = parse_ttl("876600h").unwrap();
        let late = time::macros::datetime!(9999-06-01 00:00 UTC);
        assert_eq!(
            late + longest.as_time(),
            time::PrimitiveDateTime::MAX.assume_utc()
        );
        let early = time::macros::datetime!(-9999-06-01 00:00 UTC);
        assert_eq!(
            early - longest.as_time(),
            time::PrimitiveDateTime::MIN.assume_utc()
        );
        assert_eq!(
            late + Ttl(3600).as_time(),
            time::macros::datetime!(9999-06-01 01:00 UTC)
        );
    }

    #[test]
    fn displays_shortest_form() {
        assert_eq!(Ttl(7200).to_string(), "2h");
        assert_eq!(Ttl(5400).to_string(), "1h30m");
    }
}
