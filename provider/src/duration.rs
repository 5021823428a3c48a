//! TTLs: Go-style durations (`"90m"`, `"1h30m"`, `"2h"`), parsed by jitlint's parser so that
//! the provider and the linter can never disagree about what a TTL means.

use std::fmt;

/// A non-negative duration in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ttl(pub i64);

impl Ttl {
    pub fn seconds(self) -> i64 {
        self.0
    }

    pub fn as_time(self) -> time::Duration {
        time::Duration::seconds(self.0)
    }
}

impl fmt::Display for Ttl {
    /// Shortest readable form: `2h`, `1h30m`, `45s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&jitlint::duration::format_duration(self.0.unsigned_abs()))
    }
}

/// Parses a TTL. Zero is returned as is (callers decide whether it is allowed); negatives,
/// fractions of a second and garbage are errors that say how to write it.
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

    #[test]
    fn displays_shortest_form() {
        assert_eq!(Ttl(7200).to_string(), "2h");
        assert_eq!(Ttl(5400).to_string(), "1h30m");
    }
}
