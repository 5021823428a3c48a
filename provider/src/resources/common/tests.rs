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

fn t(s: &str) -> OffsetDateTime {
    parse_rfc3339(s).unwrap()
}

#[test]
fn terms_round_trip_through_state_and_a_corrupt_one_says_how_to_recover() {
    let terms = Terms {
        ttl: "2h".into(),
        reason: Some("on call".into()),
        requested_by: None,
        created_at: t("2026-11-23T12:00:00Z"),
        expires_at: t("2026-11-23T14:00:00Z"),
    };
    let state = Value::object(terms.clone().attributes());
    assert_eq!(
        state.get("created_at"),
        &Value::from("2026-11-23T12:00:00Z")
    );
    assert!(state.get("requested_by").is_null());
    let reader = StateReader::new("jit_x", &state);
    assert_eq!(Terms::read(&reader), Ok(terms));

    let mut broken = state.clone();
    broken.set("expires_at", Value::from("tomorrow"));
    let e = Terms::read(&StateReader::new("jit_x", &broken)).unwrap_err();
    assert_eq!(e.summary, "Corrupt jit_x state");
    assert_eq!(
        e.detail,
        "expires_at is missing or invalid; remove the resource from state and import it again"
    );
    let mut broken = state;
    broken.set("ttl", Value::Null);
    let e = Terms::read(&StateReader::new("jit_x", &broken)).unwrap_err();
    assert!(e.detail.starts_with("ttl is missing"), "{e:?}");
}

#[test]
fn optional_times_and_statuses_read_from_state() {
    let state = Value::object([
        ("a", Value::Null),
        ("b", Value::from("2026-11-23T12:00:00Z")),
        ("c", Value::from(3i64)),
    ]);
    let r = StateReader::new("jit_x", &state);
    assert_eq!(r.optional_time("a", "a"), Ok(None));
    assert_eq!(
        r.optional_time("b", "b"),
        Ok(Some(t("2026-11-23T12:00:00Z")))
    );
    assert!(
        r.optional_time("c", "the entry")
            .unwrap_err()
            .detail
            .starts_with("the entry is")
    );
    assert_eq!((r.int("c"), r.int("b"), r.text("c")), (Some(3), None, None));
    for s in [Status::Active, Status::Expired, Status::Revoked] {
        assert_eq!(Status::parse(s.as_str()), Some(s));
    }
    assert_eq!(
        [STATUS_ACTIVE, STATUS_EXPIRED, STATUS_REVOKED],
        ["active", "expired", "revoked"]
    );
    assert_eq!(Status::parse("revoking"), None);
}

#[test]
fn an_update_in_place_moves_the_expiry_from_created_at() {
    let created = t("2026-11-23T12:00:00Z");
    let prior = t("2026-11-23T14:00:00Z");
    let two_hours = Some(parse_ttl("2h").unwrap());
    let four_hours = Some(parse_ttl("4h").unwrap());
    let ttl = Value::from("4h");
    assert_eq!(
        expiry_in_place(&ttl, four_hours, created, prior, t("2026-11-23T15:00:00Z")),
        (Value::from("2026-11-23T16:00:00Z"), false)
    );
    // The one expiry rule: ended from `expires_at` on.
    assert_eq!(
        expiry_in_place(&ttl, two_hours, created, prior, t("2026-11-23T14:00:00Z")),
        (Value::from("2026-11-23T14:00:00Z"), true)
    );
    assert_eq!(
        expiry_in_place(&ttl, None, created, prior, t("2026-11-23T13:59:59Z")),
        (Value::from("2026-11-23T14:00:00Z"), false)
    );
    assert_eq!(
        expiry_in_place(&Value::Unknown, four_hours, created, prior, prior),
        (Value::Unknown, false)
    );
}

#[test]
fn a_cidr_block_means_the_same_however_it_is_written() {
    assert!(same_cidr("2001:DB8::/32", "2001:db8::/32"));
    assert!(!same_cidr("203.0.113.0/24", "203.0.113.0/25"));
    assert!(!same_cidr("not a block", "203.0.113.0/24"));
    assert!(same_cidr("not a block", "not a block"));
}

#[test]
fn an_expiry_left_unknown_by_the_plan_is_settled_at_apply() {
    let created = t("2026-11-23T12:00:00Z");
    let planned = Value::object([("expires_at", Value::Unknown), ("ttl", Value::from("4h"))]);
    let settled = settled_expiry(&planned, created, || Ok(parse_ttl("4h").unwrap())).unwrap();
    assert_eq!(
        settled.get("expires_at"),
        &Value::from("2026-11-23T16:00:00Z")
    );
    assert_eq!(settled.get("ttl"), &Value::from("4h"));
    // A known expiry stands, and the arguments are not even checked.
    let known = Value::object([("expires_at", Value::from("2026-11-23T14:00:00Z"))]);
    assert_eq!(
        settled_expiry(&known, created, || unreachable!()),
        Ok(known.clone())
    );
    let refused = Diagnostics::from(Diagnostic::invalid(AttrPath::root("ttl"), "bad"));
    assert_eq!(
        settled_expiry(&planned, created, || Err(refused.clone())),
        Err(refused)
    );
}
