//! CIDR parsing shared by jitlint's rules and the provider's validation.
//!
//! AWS (and moto even more so) accepts or mangles values that are not what the
//! user meant, so every CIDR that jit writes or checks goes through here, and
//! every error says what was wrong and, where there is one, the fix.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// Why a string is not the CIDR block the caller needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    /// Not an IP address or CIDR block at all (`123.456.789.0/24`).
    Invalid { value: String },
    /// A bare address where a CIDR block is required.
    MissingPrefix { value: String, suggestion: IpNet },
    /// Bits set below the prefix length (`203.0.113.7/24`).
    HostBitsSet { value: String, network: IpNet },
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
        }
    }
}

impl std::error::Error for CidrError {}

/// Parses `addr/len` strictly: a prefix length is required and host bits must be clear.
pub fn parse_cidr(value: &str) -> Result<IpNet, CidrError> {
    if !value.contains('/') {
        return match value.parse::<IpAddr>() {
            Ok(addr) => Err(CidrError::MissingPrefix {
                value: value.to_string(),
                suggestion: IpNet::from(addr),
            }),
            Err(_) => Err(CidrError::Invalid {
                value: value.to_string(),
            }),
        };
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
    let net = match value.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => match value.parse::<IpAddr>() {
            Ok(addr) => IpNet::from(addr),
            Err(_) => {
                return Err(CidrError::Invalid {
                    value: value.to_string(),
                });
            }
        },
    };
    if net.trunc() != net {
        return Err(CidrError::HostBitsSet {
            value: value.to_string(),
            network: net.trunc(),
        });
    }
    Ok(net)
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
    fn rejects_whitespace_and_empty() {
        assert!(parse_ip_or_cidr(" 203.0.113.7").is_err());
        assert!(parse_ip_or_cidr("").is_err());
        assert!(parse_cidr("203.0.113.7/33").is_err());
    }
}
