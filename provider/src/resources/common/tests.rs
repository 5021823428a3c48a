use super::*;

const GRANT: Wording = Wording {
    noun: "a grant",
    ttl_example: "2h",
    prefix_scope: "allow rules",
};

fn at() -> AttrPath {
    AttrPath::root("temporary_cidrs").key("k").attr("ttl")
}

fn text(s: &str) -> Known<String> {
    Known::Value(s.to_string())
}

/// The one diagnostic `f` produced: its path as Terraform prints it, and its detail.
fn only(f: impl FnOnce(&mut Diagnostics)) -> (String, String) {
    let mut d = Diagnostics::default();
    f(&mut d);
    assert_eq!(d.0.len(), 1, "{d:?}");
    let d = &d.0[0];
    assert_eq!(d.summary, format!("Invalid {}", at()));
    (d.path.as_ref().unwrap().to_string(), d.detail.clone())
}

fn none(f: impl FnOnce(&mut Diagnostics)) {
    let mut d = Diagnostics::default();
    f(&mut d);
    assert!(d.0.is_empty(), "{d:?}");
}

#[test]
fn ttl_is_a_positive_go_duration_and_names_the_example() {
    let mut d = Diagnostics::default();
    assert_eq!(ttl(&mut d, &at(), &text("1h30m"), GRANT), Some(Ttl(5400)));
    assert!(d.0.is_empty());
    let (path, detail) = only(|d| assert_eq!(ttl(d, &at(), &text("0s"), GRANT), None));
    assert_eq!(path, "temporary_cidrs[\"k\"].ttl");
    assert_eq!(
        detail,
        "\"0s\" is zero; a grant needs a positive TTL such as \"2h\""
    );
    let (_, detail) = only(|d| {
        ttl(d, &at(), &text("1d"), GRANT);
    });
    assert!(detail.contains("write hours"), "{detail}");
    let (_, detail) = only(|d| {
        ttl(d, &at(), &text("-1h"), GRANT);
    });
    assert!(detail.contains("negative"), "{detail}");
    none(|d| assert_eq!(ttl(d, &at(), &Known::Unknown, GRANT), None));
    none(|d| assert_eq!(ttl(d, &at(), &Known::Null, GRANT), None));
}

#[test]
fn ttl_is_at_most_max_ttl() {
    let settings = Settings::default();
    none(|d| ttl_within_max(d, &at(), "12h", Ttl(12 * 3600), &settings));
    let (_, detail) = only(|d| ttl_within_max(d, &at(), "780m", Ttl(13 * 3600), &settings));
    assert_eq!(
        detail,
        "\"780m\" (13h) is longer than the provider's max_ttl (12h); shorten it, or raise max_ttl in the provider block"
    );
}

#[test]
fn a_reason_says_something_and_is_there_when_required() {
    none(|d| reason(d, &at(), &text("VPN from hotel")));
    none(|d| reason(d, &at(), &Known::Null));
    none(|d| reason(d, &at(), &Known::Unknown));
    let (_, detail) = only(|d| reason(d, &at(), &text(" \t")));
    assert_eq!(
        detail,
        "reason is empty; omit it or say why the access is needed"
    );

    let mut settings = Settings::default();
    none(|d| reason_if_required(d, &at(), &Known::Null, &settings));
    settings.require_reason = true;
    none(|d| reason_if_required(d, &at(), &text("why"), &settings));
    // Unknown until apply: checked again then.
    none(|d| reason_if_required(d, &at(), &Known::Unknown, &settings));
    let (_, detail) = only(|d| reason_if_required(d, &at(), &Known::Null, &settings));
    assert!(detail.contains("require_reason = true"), "{detail}");
}

#[test]
fn a_cidr_is_canonical_and_the_fix_is_named() {
    let mut d = Diagnostics::default();
    assert_eq!(
        cidr(&mut d, &at(), "2001:db8::/64"),
        Some("2001:db8::/64".parse().unwrap())
    );
    assert!(d.0.is_empty());
    let (_, detail) = only(|d| assert_eq!(cidr(d, &at(), "203.0.113.7/24"), None));
    assert!(detail.contains("did you mean 203.0.113.0/24?"), "{detail}");
    let (_, detail) = only(|d| {
        cidr(d, &at(), "123.456.789.0/24");
    });
    assert!(detail.contains("not a valid IPv4 or IPv6 CIDR"), "{detail}");
}

#[test]
fn a_cidr_is_no_wider_than_the_providers_minimum_prefix_per_family() {
    let mut settings = Settings::default();
    let net = |s: &str| s.parse::<IpNet>().unwrap();
    none(|d| cidr_within_min_prefix(d, &at(), net("203.0.113.0/24"), &settings, GRANT));
    none(|d| cidr_within_min_prefix(d, &at(), net("2001:db8::/48"), &settings, GRANT));
    let (_, detail) =
        only(|d| cidr_within_min_prefix(d, &at(), net("203.0.0.0/16"), &settings, GRANT));
    assert_eq!(
        detail,
        "203.0.0.0/16 opens /16 but the provider allows at most /24 for allow rules; narrow it, or lower min_prefix_length_ipv4 in the provider block"
    );
    let (_, detail) =
        only(|d| cidr_within_min_prefix(d, &at(), net("2001:db8::/32"), &settings, GRANT));
    assert!(
        detail.contains("at most /48") && detail.contains("min_prefix_length_ipv6"),
        "{detail}"
    );
    settings.min_prefix_v4 = 0;
    none(|d| cidr_within_min_prefix(d, &at(), net("0.0.0.0/0"), &settings, GRANT));
}
