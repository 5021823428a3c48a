//! Go-style durations (`"90m"`, `"1h30m"`, `"1.5h"`), as jit grants write their TTLs.

/// Parses a Go duration into whole seconds; fractions of a second are refused.
pub fn parse_duration(input: &str) -> Result<u64, String> {
    let invalid = || {
        format!("{input:?} is not a duration; use Go syntax such as \"2h\", \"90m\" or \"1h30m\"")
    };
    let s = input.trim();
    if s.starts_with('-') {
        return Err(format!("{input:?} is negative"));
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut nanos: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
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
            "d" => {
                return Err(format!(
                    "{input:?} uses days, which Go durations don't have; write hours"
                ));
            }
            "" => {
                return Err(format!(
                    "{input:?} lacks a unit; did you mean \"{num}m\" or \"{num}h\"?"
                ));
            }
            _ => return Err(invalid()),
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(invalid());
        }
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        let mut value = int.checked_mul(unit_nanos).ok_or_else(invalid)?;
        if !frac.is_empty() {
            let digits = frac.len().min(18);
            let f: u128 = frac[..digits].parse().map_err(|_| invalid())?;
            value += f * unit_nanos / 10u128.pow(digits as u32);
        }
        nanos = nanos.checked_add(value).ok_or_else(invalid)?;
        rest = next;
    }
    // A TTL is whole seconds: grants are stored and compared with second precision.
    if !nanos.is_multiple_of(1_000_000_000) {
        return Err(format!(
            "{input:?} has a fraction of a second; use whole seconds"
        ));
    }
    u64::try_from(nanos / 1_000_000_000).map_err(|_| invalid())
}

/// Seconds as a short duration: `12h`, `1h30m`, `45s`.
pub fn format_duration(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".into();
    }
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut out = String::new();
    for (v, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_fractions_of_a_second() {
        assert!(
            parse_duration("1500ms")
                .unwrap_err()
                .contains("fraction of a second")
        );
    }

    #[test]
    fn parses_go_durations() {
        for (s, secs) in [
            ("2h", 7200),
            ("90m", 5400),
            ("1h30m", 5400),
            ("1.5h", 5400),
            ("45s", 45),
            ("0", 0),
            ("3000ms", 3),
        ] {
            assert_eq!(parse_duration(s), Ok(secs), "{s}");
        }
        for (s, msg) in [
            ("1d", "uses days"),
            ("2", "lacks a unit"),
            ("-1h", "negative"),
            ("abc", "not a duration"),
            ("", "not a duration"),
            ("1..5h", "not a duration"),
            ("99999999999999999999999h", "not a duration"),
        ] {
            assert!(parse_duration(s).unwrap_err().contains(msg), "{s}");
        }
    }

    #[test]
    fn formats_short() {
        assert_eq!(format_duration(43200), "12h");
        assert_eq!(format_duration(5430), "1h30m30s");
        assert_eq!(format_duration(0), "0s");
    }
}
