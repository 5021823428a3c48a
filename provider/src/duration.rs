//! Go-style durations (`"90m"`, `"1h30m"`, `"2h"`), as Terraform users write TTLs.

use std::fmt;

/// A non-negative duration in whole seconds (sub-second TTLs make no sense for a grant).
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
        let (h, m, s) = (self.0 / 3600, self.0 % 3600 / 60, self.0 % 60);
        if self.0 == 0 {
            return write!(f, "0s");
        }
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

/// Parses a Go duration string into whole seconds. Rejects negatives, zero is returned as is
/// (callers decide whether zero is allowed), and fractions of a second.
pub fn parse_ttl(input: &str) -> Result<Ttl, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("is empty; use a duration such as \"2h\" or \"90m\"".into());
    }
    if s.starts_with('-') {
        return Err(format!("{input:?} is negative; a TTL must be positive"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Ttl(0));
    }
    let mut nanos: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid(input));
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => {
                return Err(format!(
                    "{input:?} lacks a unit; did you mean \"{num}m\" or \"{num}h\"?"
                ));
            }
            "d" => {
                return Err(format!(
                    "{input:?} uses days, which Go durations don't have; write hours, e.g. \"{}h\"",
                    num.parse::<f64>().map(|d| d * 24.0).unwrap_or(24.0)
                ));
            }
            _ => return Err(invalid(input)),
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid(input))?
        };
        let mut value = int.checked_mul(unit_nanos).ok_or_else(|| too_long(input))?;
        if !frac.is_empty() {
            let digits = frac.len().min(18) as u32;
            let frac_val: u128 = frac[..digits as usize]
                .parse()
                .map_err(|_| invalid(input))?;
            value += frac_val * unit_nanos / 10u128.pow(digits);
        }
        nanos = nanos.checked_add(value).ok_or_else(|| too_long(input))?;
        rest = next;
    }
    if !nanos.is_multiple_of(1_000_000_000) {
        return Err(format!(
            "{input:?} has a fraction of a second; use whole seconds"
        ));
    }
    let secs = i64::try_from(nanos / 1_000_000_000).map_err(|_| too_long(input))?;
    Ok(Ttl(secs))
}

fn invalid(input: &str) -> String {
    format!("{input:?} is not a duration; use Go syntax such as \"2h\", \"90m\" or \"1h30m\"")
}

fn too_long(input: &str) -> String {
    format!("{input:?} is too long a duration")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_ttl("2h").unwrap(), Ttl(7200));
        assert_eq!(parse_ttl("90m").unwrap(), Ttl(5400));
        assert_eq!(parse_ttl("1h30m").unwrap(), Ttl(5400));
        assert_eq!(parse_ttl("1.5h").unwrap(), Ttl(5400));
        assert_eq!(parse_ttl("45s").unwrap(), Ttl(45));
        assert_eq!(
            parse_ttl("1500ms").unwrap_err(),
            "\"1500ms\" has a fraction of a second; use whole seconds"
        );
        assert_eq!(parse_ttl("0").unwrap(), Ttl(0));
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        assert!(parse_ttl("-1h").unwrap_err().contains("negative"));
        assert!(
            parse_ttl("2")
                .unwrap_err()
                .contains("did you mean \"2m\" or \"2h\"")
        );
        assert!(parse_ttl("1d").unwrap_err().contains("\"24h\""));
        assert!(parse_ttl("abc").unwrap_err().contains("not a duration"));
        assert!(parse_ttl("").is_err());
        assert!(parse_ttl("1..5h").is_err());
        assert!(parse_ttl("99999999999999999999h").is_err());
    }

    #[test]
    fn displays_shortest_form() {
        assert_eq!(Ttl(7200).to_string(), "2h");
        assert_eq!(Ttl(5400).to_string(), "1h30m");
        assert_eq!(Ttl(3661).to_string(), "1h1m1s");
    }
}
