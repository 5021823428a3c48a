//! ## What it does
//! Checks that each condition value has the type its operator compares, as Access Analyzer's
//! general warnings do:
//!
//! | operator | value that does not fit | Access Analyzer |
//! |---|---|---|
//! | `IpAddress`, `NotIpAddress` | not an IPv4/IPv6 address or CIDR block | `TYPE_MISMATCH_IP` |
//! | `Date…` | not an ISO 8601 date or time (`2026-01-31`, `2026-01-31T12:00:00Z`) nor Unix seconds | `TYPE_MISMATCH_DATE` |
//! | `Numeric…` | not a number (`"ten"`, `"1,000"`) | `TYPE_MISMATCH_NUMBER` |
//! | `Bool`, `Null` | neither `true` nor `false` | `TYPE_MISMATCH_BOOLEAN` |
//! | `StringEquals`, `StringNotEquals` and their `IgnoreCase` forms | contains `*` or `?` | `WILDCARD_WITHOUT_LIKE_OPERATOR` |
//!
//! Values that hold a policy variable (`${aws:CurrentTime}`) are not judged: IAM substitutes
//! them first. Values of `aws:SourceIp` and `aws:VpcSourceIp` are JIT005's, which says more about
//! them.
//!
//! ## Why is this bad?
//! A value that cannot be read as the operator's type never matches: a `Deny` with it never
//! applies, an `Allow` never allows, and nothing says so. `StringEquals` compares `*` as a
//! literal star, so `"aws:PrincipalArn": "arn:aws:iam::*:role/admin"` matches no principal at
//! all.
//!
//! ## Example
//! ```json
//! "Condition": {
//!   "DateGreaterThan": {"aws:CurrentTime": "31/01/2026"},
//!   "NumericLessThan": {"aws:MultiFactorAuthAge": "one hour"},
//!   "Bool": {"aws:SecureTransport": "yes"},
//!   "StringEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}
//! }
//! ```
//!
//! ## Fix
//! Write the value in the operator's type, and use a `Like` operator for patterns:
//! ```json
//! "Condition": {
//!   "DateGreaterThan": {"aws:CurrentTime": "2026-01-31T00:00:00Z"},
//!   "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
//!   "Bool": {"aws:SecureTransport": "true"},
//!   "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}
//! }
//! ```

use crate::cidr::{CidrError, parse_ip_or_cidr};
use crate::rules::jit005_source_ip_invalid::IP_KEYS;
use crate::rules::structure::{
    Doc, Family, Issues, Operator, at, condition_blocks, condition_values, has_variable, shown,
};

pub(crate) fn check<'n>(doc: &Doc<'n>, out: &mut Issues<'n>) {
    for &(i, stmt) in &doc.statements {
        let here = Some((i, stmt));
        for (op, keys) in condition_blocks(stmt) {
            let parsed = Operator::parse(&op.key);
            let Some(family) = parsed.family() else {
                continue;
            };
            for key in keys {
                for (value, node) in condition_values(&key.value) {
                    if has_variable(value) {
                        continue;
                    }
                    let problem = match family {
                        Family::Ip
                            if !IP_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&key.key))
                                && matches!(
                                    parse_ip_or_cidr(value),
                                    Err(CidrError::Invalid { .. })
                                ) =>
                        {
                            Some(("TYPE_MISMATCH_IP", "an IP address or CIDR block"))
                        }
                        Family::Date if !is_date(value) => Some((
                            "TYPE_MISMATCH_DATE",
                            "an ISO 8601 date or time (2026-01-31T12:00:00Z) or Unix seconds",
                        )),
                        Family::Numeric if !is_number(value) => {
                            Some(("TYPE_MISMATCH_NUMBER", "a number"))
                        }
                        Family::Bool | Family::Null
                            if !value.eq_ignore_ascii_case("true")
                                && !value.eq_ignore_ascii_case("false") =>
                        {
                            Some(("TYPE_MISMATCH_BOOLEAN", "true or false"))
                        }
                        Family::String
                            if !parsed.matches_wildcards()
                                && (value.contains('*') || value.contains('?')) =>
                        {
                            out.push(
                                "WILDCARD_WITHOUT_LIKE_OPERATOR",
                                node.span,
                                here,
                                &format!("{}.{}={value}", op.key, key.key),
                                format!(
                                    "{}.Condition.{}.{}: {} compares {} literally, wildcards included; use {} to match a pattern",
                                    at(i),
                                    op.key,
                                    key.key,
                                    parsed.base,
                                    shown(value),
                                    like_operator(parsed.base)
                                ),
                            );
                            None
                        }
                        _ => None,
                    };
                    if let Some((code, expected)) = problem {
                        out.push(
                            code,
                            node.span,
                            here,
                            &format!("{}.{}={value}", op.key, key.key),
                            format!(
                                "{}.Condition.{}.{}: {} is not {expected}, so the condition never matches",
                                at(i),
                                op.key,
                                key.key,
                                shown(value)
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// The `Like` operator that matches what an `Equals` one was meant to.
fn like_operator(base: &str) -> &'static str {
    if base.to_ascii_lowercase().contains("not") {
        "StringNotLike"
    } else {
        "StringLike"
    }
}

/// An integer or decimal number, with an optional sign and exponent (as IAM parses them).
fn is_number(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (body, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => (digits(a) || a.is_empty()) && (digits(b) || (b.is_empty() && digits(a))),
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(digits)
}

/// Unix seconds, or an ISO 8601 date (`YYYY-MM-DD`) optionally followed by a time
/// (`Thh:mm`, `:ss`, fractions) and a zone (`Z` or `±hh:mm`).
fn is_date(s: &str) -> bool {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>, max: u32| {
        s.get(range)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse::<u32>().ok())
            .is_some_and(|n| n <= max)
    };
    let date = b.len() >= 10
        && num(0..4, 9999)
        && b[4] == b'-'
        && num(5..7, 12)
        && b[7] == b'-'
        && num(8..10, 31);
    if !date {
        return false;
    }
    let rest = &s[10..];
    if rest.is_empty() {
        return true;
    }
    let Some(time) = rest.strip_prefix(['T', 't']) else {
        return false;
    };
    let t = time.as_bytes();
    if t.len() < 5 || !num(11..13, 23) || t[2] != b':' || !num(14..16, 59) {
        return false;
    }
    let mut rest = &time[5..];
    if let Some(secs) = rest.strip_prefix(':') {
        if secs.len() < 2 || !secs.as_bytes()[..2].iter().all(u8::is_ascii_digit) {
            return false;
        }
        rest = &secs[2..];
        if let Some(frac) = rest.strip_prefix('.') {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return false;
            }
            rest = &frac[n..];
        }
    }
    match rest {
        "" | "Z" | "z" => true,
        zone => {
            let z = zone.as_bytes();
            matches!(z.first(), Some(b'+' | b'-'))
                && ((z.len() == 6 && z[3] == b':') || z.len() == 5 || z.len() == 3)
                && zone[1..]
                    .bytes()
                    .filter(|c| *c != b':')
                    .all(|c| c.is_ascii_digit())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_numbers() {
        for ok in [
            "2026-01-31",
            "2026-01-31T12:00:00Z",
            "2026-01-31T12:00Z",
            "2026-01-31T12:00:00.123Z",
            "2026-01-31T12:00:00+09:00",
            "2026-01-31T12:00:00",
            "1767225600",
        ] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "31/01/2026",
            "2026-13-01",
            "2026-01-31 12:00",
            "tomorrow",
            "",
            "2026-01-31T25:00Z",
            "2026-01-31T12:00:1é",
            "2026-01-31T12:00:00+é",
            "2026-01-3é",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
        for ok in ["0", "-1", "3600", "1.5", ".5", "5.", "1e3", "+2"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", "one", "1,000", "1.2.3", "e5", "-", "NaN", "inf", "."] {
            assert!(!is_number(bad), "{bad}");
        }
    }
}
