//! CIDR parsing shared by jitlint's rules and the provider's validation.
//!
//! AWS (and moto even more so) accepts or mangles values that are not what the
//! user meant, so every CIDR that jit writes or checks goes through here, and
//! every error says what was wrong and, where there is one, the fix.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};

/// Why a string is not the CIDR block the caller needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    /// Not an IP address or CIDR block at all (`123.456.789.0/24`).
    Invalid { value: String },
    /// A bare address where a CIDR block is required.
    MissingPrefix { value: String, suggestion: IpNet },
    /// Bits set below the prefix length (`203.0.113.7/24`).
    HostBitsSet { value: String, network: IpNet },
    /// IPv4 addresses written as IPv6: IPv4-mapped (`::ffff:203.0.113.7/128`) or the deprecated
    /// IPv4-compatible form (`::203.0.113.7/128`). The prefix length counts IPv6 bits, so it looks
    /// narrow when the block is wide: `::ffff:0.0.0.0/96` is every IPv4 address.
    Ipv4AsIpv6 { value: String, ipv4: IpNet },
    /// A number with a leading zero (`010.0.0.0/24`, `10.0.0.0/024`). Some tools read `010` as
    /// octal 8, AWS reads it as 10 and stores `10.0.0.0/24`, so what was written and what is in
    /// force differ.
    LeadingZero { value: String, canonical: String },
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrError::Invalid { value } => write!(
                f,
                "{value:?} is not a valid IPv4 or IPv6 CIDR block (expected e.g. 203.0.113.7/32 or 2001:db8::/48)"
            ),
            CidrError::MissingPrefix { value, suggestion } => write!(
                f,
                "{value} has no prefix length; did you mean {suggestion}?"
            ),
            CidrError::HostBitsSet { value, network } => {
                write!(f, "{value} has host bits set; did you mean {network}?")
            }
            CidrError::Ipv4AsIpv6 { value, ipv4 } => write!(
                f,
                "{value} is an IPv4 range written as IPv6, and its prefix length counts IPv6 bits, so it is wider than it looks; use {ipv4}"
            ),
            CidrError::LeadingZero { value, canonical } => write!(
                f,
                "{value} has a number with a leading zero, which other tools may read as octal; write {canonical}"
            ),
        }
    }
}

impl std::error::Error for CidrError {}

/// Parses `addr/len` strictly: a prefix length is required and host bits must be clear.
pub fn parse_cidr(value: &str) -> Result<IpNet, CidrError> {
    if !value.contains('/') {
        return Err(match parse_ip_or_cidr(value) {
            Ok(suggestion) => CidrError::MissingPrefix {
                value: value.to_string(),
                suggestion,
            },
            Err(e) => e,
        });
    }
    parse_ip_or_cidr(value)
}

/// Parses an IP address (taken as a single-host network) or a CIDR block with host bits clear,
/// as IAM's `aws:SourceIp` accepts them.
pub fn parse_ip_or_cidr(value: &str) -> Result<IpNet, CidrError> {
    let trimmed = value.trim();
    if trimmed != value || value.is_empty() {
        return Err(CidrError::Invalid {
            value: value.to_string(),
        });
    }
    // A bare address is parsed as a host network by the same parser as a block, so that both
    // get the same checks below (std's address parser refuses leading zeros without saying so).
    let as_block = if value.contains('/') {
        value.to_string()
    } else if value.contains(':') {
        format!("{value}/128")
    } else {
        format!("{value}/32")
    };
    let Ok(net) = as_block.parse::<IpNet>() else {
        return Err(CidrError::Invalid {
            value: value.to_string(),
        });
    };
    if let Some(ipv4) = ipv4_as_ipv6(&net) {
        return Err(CidrError::Ipv4AsIpv6 {
            value: value.to_string(),
            ipv4,
        });
    }
    if has_leading_zero(value) {
        return Err(CidrError::LeadingZero {
            value: value.to_string(),
            canonical: net.to_string(),
        });
    }
    if net.trunc() != net {
        return Err(CidrError::HostBitsSet {
            value: value.to_string(),
            network: net.trunc(),
        });
    }
    Ok(net)
}

/// The IPv4 block an IPv6 block stands for, when it lies in the IPv4-mapped range
/// (`::ffff:0:0/96`) or the IPv4-compatible one (`::/96`, less `::/127`: the unspecified and the
/// loopback address are IPv6 proper).
fn ipv4_as_ipv6(net: &IpNet) -> Option<IpNet> {
    let IpNet::V6(v6) = net else { return None };
    let prefix = v6.prefix_len().checked_sub(96)?;
    let bits = u128::from(v6.network());
    let high = bits >> 32;
    let low = (bits & 0xffff_ffff) as u32;
    let embedded = match high {
        0xffff => true,
        0 => !(v6.prefix_len() >= 127 && low <= 1),
        _ => false,
    };
    if !embedded {
        return None;
    }
    Ipv4Net::new(Ipv4Addr::from(low), prefix)
        .ok()
        .map(IpNet::V4)
}

/// Whether a decimal number in `value` (an IPv4 octet, also one embedded in IPv6, or the prefix
/// length) has a leading zero. IPv6 groups are hexadecimal, where leading zeros are harmless.
fn has_leading_zero(value: &str) -> bool {
    let (addr, prefix) = value.split_once('/').unwrap_or((value, ""));
    let dotted = addr.rsplit(':').next().unwrap_or(addr);
    let decimals = if dotted.contains('.') {
        dotted.split('.').collect()
    } else {
        Vec::new()
    };
    decimals
        .into_iter()
        .chain(Some(prefix))
        .any(|n| n.len() > 1 && n.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_networks_and_bare_ips() {
        assert_eq!(
            parse_cidr("203.0.113.7/32").unwrap().to_string(),
            "203.0.113.7/32"
        );
        assert_eq!(
            parse_cidr("2001:db8::/48").unwrap().to_string(),
            "2001:db8::/48"
        );
        assert_eq!(
            parse_ip_or_cidr("203.0.113.7").unwrap().to_string(),
            "203.0.113.7/32"
        );
    }

    #[test]
    fn rejects_invalid_octets() {
        let err = parse_cidr("123.456.789.0/24").unwrap_err();
        assert!(matches!(err, CidrError::Invalid { .. }));
        assert!(err.to_string().contains("123.456.789.0/24"));
    }

    #[test]
    fn host_bits_suggest_the_network() {
        let err = parse_cidr("203.0.113.7/24").unwrap_err();
        assert_eq!(
            err.to_string(),
            "203.0.113.7/24 has host bits set; did you mean 203.0.113.0/24?"
        );
    }

    #[test]
    fn missing_prefix_suggests_host_route() {
        let err = parse_cidr("203.0.113.7").unwrap_err();
        assert_eq!(
            err.to_string(),
            "203.0.113.7 has no prefix length; did you mean 203.0.113.7/32?"
        );
    }

    #[test]
    fn ipv4_mapped_block_is_refused_with_the_ipv4_form() {
        for (value, ipv4) in [
            ("::ffff:0.0.0.0/96", "0.0.0.0/0"),
            ("::ffff:203.0.113.7/128", "203.0.113.7/32"),
            ("::ffff:203.0.113.0/120", "203.0.113.0/24"),
            ("::ffff:cb00:7100/120", "203.0.113.0/24"),
            ("::FFFF:203.0.113.7/128", "203.0.113.7/32"),
            // IPv4-compatible, deprecated but parsed.
            ("::/96", "0.0.0.0/0"),
            ("::203.0.113.7/128", "203.0.113.7/32"),
        ] {
            let err = parse_cidr(value).unwrap_err();
            assert_eq!(
                err,
                CidrError::Ipv4AsIpv6 {
                    value: value.into(),
                    ipv4: ipv4.parse().unwrap()
                },
                "{value}"
            );
            assert!(err.to_string().ends_with(&format!("; use {ipv4}")), "{err}");
            assert!(parse_ip_or_cidr(value).is_err(), "{value}");
        }
        let err = parse_ip_or_cidr("::ffff:203.0.113.7").unwrap_err();
        assert_eq!(
            err.to_string(),
            "::ffff:203.0.113.7 is an IPv4 range written as IPv6, and its prefix length counts IPv6 bits, so it is wider than it looks; use 203.0.113.7/32"
        );
        // Without a prefix length, where one is required, the IPv4 form is still the advice.
        assert!(matches!(
            parse_cidr("::ffff:203.0.113.7"),
            Err(CidrError::Ipv4AsIpv6 { .. })
        ));
    }

    #[test]
    fn ipv6_next_to_the_ipv4_ranges_is_still_ipv6() {
        for value in [
            "::/128",
            "::1/128",
            "::/127",
            "::/0",
            "::/64",
            "::fffe:0:0/96",
            "::1:ffff:0:0/96",
            "64:ff9b::/96",
            "2001:db8::ffff:0:0/96",
        ] {
            assert_eq!(parse_cidr(value).unwrap().to_string(), value, "{value}");
        }
        assert!(parse_ip_or_cidr("::1").is_ok());
    }

    #[test]
    fn octal_looking_octets_are_refused_with_the_canonical_form() {
        for (value, canonical) in [
            ("010.0.0.0/24", "10.0.0.0/24"),
            ("10.0.0.010/32", "10.0.0.10/32"),
            ("10.00.0.0/16", "10.0.0.0/16"),
            ("10.0.0.0/08", "10.0.0.0/8"),
            ("2001:db8::/048", "2001:db8::/48"),
            ("64:ff9b::010.0.0.1/128", "64:ff9b::a00:1/128"),
        ] {
            let err = parse_cidr(value).unwrap_err();
            assert_eq!(
                err,
                CidrError::LeadingZero {
                    value: value.into(),
                    canonical: canonical.into()
                },
                "{value}"
            );
            assert!(
                err.to_string().ends_with(&format!("; write {canonical}")),
                "{err}"
            );
        }
        for parse in [parse_ip_or_cidr, parse_cidr] {
            assert_eq!(
                parse("203.0.113.007").unwrap_err().to_string(),
                "203.0.113.007 has a number with a leading zero, which other tools may read as octal; write 203.0.113.7/32"
            );
        }
        // Zeros that are the whole number, and hexadecimal IPv6 groups, are fine.
        for value in [
            "10.0.0.0/8",
            "0.0.0.0/0",
            "2001:db8:0:0a00::/56",
            "2001:0db8::/32",
        ] {
            assert!(parse_cidr(value).is_ok(), "{value}");
        }
    }

    #[test]
    fn rejects_whitespace_and_empty() {
        assert!(parse_ip_or_cidr(" 203.0.113.7").is_err());
        assert!(parse_ip_or_cidr("").is_err());
        assert!(parse_cidr("203.0.113.7/33").is_err());
    }
}
