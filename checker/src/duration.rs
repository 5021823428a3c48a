//! Go-style durations (`"90m"`, `"1h30m"`, `"1.5h"`), as jit grants write their TTLs.

/// The longest duration accepted: 100 years of 365.25 days (876600h). Nothing jit grants should
/// come near it, and it keeps every expiry (`now + ttl`) far inside the years 0000-9999 that
/// timestamps can be written in.
pub const MAX_DURATION_SECS: u64 = 100 * 8766 * 3600;

/// Parses a Go duration into whole seconds; fractions of a second, and durations longer than
/// [`MAX_DURATION_SECS`], are refused.
pub fn parse_duration(input: &str) -> Result<u64, String> {
    let invalid = || {
        format!("{input:?} is not a duration; use Go syntax such as \"2h\", \"90m\" or \"1h30m\"")
    };
    let too_long = || {
        format!(
            "{input:?} is longer than {}, the longest duration jit accepts (100 years)",
            format_duration(MAX_DURATION_SECS)
        )
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
    let max_nanos = u128::from(MAX_DURATION_SECS) * 1_000_000_000;
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
        // `int` is ASCII digits only, so the one way its parse fails is overflow.
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| too_long())?
        };
        let mut value = int.checked_mul(unit_nanos).ok_or_else(too_long)?;
        if !frac.is_empty() {
            // 18 digits are below a nanosecond of any unit, and keep `f * unit_nanos` in range.
            let digits = frac.len().min(18);
            let f: u128 = frac[..digits].parse().map_err(|_| invalid())?;
            value = value
                .checked_add(f * unit_nanos / 10u128.pow(digits as u32))
                .ok_or_else(too_long)?;
        }
        nanos = nanos.checked_add(value).ok_or_else(too_long)?;
        if nanos > max_nanos {
            return Err(too_long());
        }
        rest = next;
    }
    // A TTL is whole seconds: grants are stored and compared with second precision.
    if !nanos.is_multiple_of(1_000_000_000) {
        return Err(format!(
            "{input:?} has a fraction of a second; use whole seconds"
        ));
    }
    u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())
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
        ] {
            assert!(parse_duration(s).unwrap_err().contains(msg), "{s}");
        }
    }

    #[test]
    fn absurd_durations_are_refused_naming_value_and_limit() {
        assert_eq!(MAX_DURATION_SECS, 3_155_760_000);
        assert_eq!(parse_duration("876600h"), Ok(MAX_DURATION_SECS));
        assert_eq!(parse_duration("876599h59m59s"), Ok(MAX_DURATION_SECS - 1));
        for s in [
            "9999999999h",
            "876600h1s",
            "876601h",
            "52596001m",
            "3155760001s",
            "99999999999999999999999h",
            "999999999999999999999999999999999999999999h",
            "340282366920938463463374607431768211455ns",
            "1e3h",
        ] {
            let err = parse_duration(s).unwrap_err();
            if s == "1e3h" {
                assert!(err.contains("not a duration"), "{s}: {err}");
                continue;
            }
            assert_eq!(
                err,
                format!(
                    "{s:?} is longer than 876600h, the longest duration jit accepts (100 years)"
                )
            );
        }
    }

    /// Every string built from the parser's own alphabet (digits, `.`, `-`, units) up to a
    /// length, plus long runs of nines: none panics, and whatever parses is within the limit
    /// and whole seconds that format and parse back to the same value.
    #[test]
    fn parse_duration_is_total_over_generated_inputs() {
        let alphabet = [
            "0", "1", "9", ".", "-", "h", "m", "s", "ms", "µs", "ns", "d", "x",
        ];
        let mut inputs = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..5 {
            frontier = frontier
                .iter()
                .flat_map(|p| alphabet.iter().map(move |a| format!("{p}{a}")))
                .collect();
            inputs.extend(frontier.iter().cloned());
        }
        for n in 1..60 {
            for unit in ["h", "m", "s", "ns", ".9h", "h9s"] {
                inputs.push(format!("{}{unit}", "9".repeat(n)));
            }
        }
        assert!(inputs.len() > 400_000);
        for s in &inputs {
            if let Ok(secs) = parse_duration(s) {
                assert!(secs <= MAX_DURATION_SECS, "{s:?} -> {secs}");
                assert_eq!(parse_duration(&format_duration(secs)), Ok(secs), "{s:?}");
            }
        }
    }

    #[test]
    fn formats_short() {
        assert_eq!(format_duration(43200), "12h");
        assert_eq!(format_duration(5430), "1h30m30s");
        assert_eq!(format_duration(0), "0s");
    }
}
