//! Every step of the Client VPN write protocol, under the faults AWS can produce.

use std::sync::Arc;

use time::OffsetDateTime;

use super::*;
use crate::aws::client_vpn::fake::{FakeClientVpn, Fault};
use crate::grant::client_vpn::Identity;

const ENDPOINT: &str = "cvpn-endpoint-0123456789abcdef0";

fn at(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(s).unwrap()
}

fn grant(id: &str, user: &str, created: i64, expires: i64) -> Record {
    Record {
        id: GrantId::parse(id).unwrap(),
        grant: Grant {
            identity: Identity::Username(user.into()),
            cidr: None,
            created_at: at(created),
            expires_at: at(expires),
            ttl: format!("{}s", expires - created),
            requested_by: None,
            reason: None,
            revoked_at: None,
        },
    }
}

fn setup() -> (FakeClientVpn, ClientVpns) {
    let fake = FakeClientVpn::with_endpoint(ENDPOINT);
    let vpns = ClientVpns::new(Arc::new(fake.clone()));
    (fake, vpns)
}

#[tokio::test]
async fn a_lost_create_response_is_adopted_and_a_refused_one_leaves_nothing() {
    let (fake, vpns) = setup();
    let a = grant("aaaaaaaaaaaa", "alice", 0, 3600);
    fake.faults(&[Fault::After]);
    create(&vpns, ENDPOINT, &a)
        .await
        .expect("adopted after the re-read");
    assert_eq!(fake.tags(ENDPOINT).get(&a.tag_key()), Some(&a.tag_value()));

    let b = grant("bbbbbbbbbbbb", "bob", 0, 3600);
    fake.faults(&[Fault::Before]);
    let err = create(&vpns, ENDPOINT, &b).await.unwrap_err();
    assert!(matches!(err, CreateError::Aws(_)), "{err:?}");
    assert!(
        err.message(ENDPOINT)
            .contains("could not write the grant's tag")
    );
    assert_eq!(fake.tags(ENDPOINT).len(), 1, "nothing of b");

    // A retried create (the SDK's own retry after a lost response) is the same write.
    fake.faults(&[Fault::Retried]);
    create(&vpns, ENDPOINT, &b).await.unwrap();
    create(&vpns, ENDPOINT, &b).await.unwrap();
    assert_eq!(fake.tags(ENDPOINT).len(), 2);
}

#[tokio::test]
async fn create_refuses_a_missing_or_full_endpoint() {
    let (fake, vpns) = setup();
    let a = grant("aaaaaaaaaaaa", "alice", 0, 3600);
    assert!(matches!(
        create(&vpns, "cvpn-endpoint-00000000000000000", &a).await,
        Err(CreateError::EndpointMissing)
    ));
    fake.update_tags(ENDPOINT, |t| {
        for i in 0..TAGS_PER_RESOURCE_MAX {
            t.insert(format!("k{i}"), "v".into());
        }
    });
    let err = create(&vpns, ENDPOINT, &a).await.unwrap_err();
    assert!(matches!(err, CreateError::TagsFull), "{err:?}");
    assert!(err.message(ENDPOINT).contains("50 tags"));
}

#[tokio::test]
async fn an_update_never_clears_a_revoke_marker_written_since_the_plan() {
    let (fake, vpns) = setup();
    let mut a = grant("aaaaaaaaaaaa", "alice", 0, 3600);
    create(&vpns, ENDPOINT, &a).await.unwrap();
    a.grant.revoked_at = Some(at(100));
    fake.update_tags(ENDPOINT, |t| {
        t.insert(a.tag_key(), a.tag_value());
    });
    let mut longer = a.grant.clone();
    longer.revoked_at = None;
    longer.expires_at = at(7200);
    assert_eq!(
        update(&vpns, ENDPOINT, &a.id, &longer).await.unwrap(),
        Updated::Revoked(at(100))
    );
    assert_eq!(
        fake.tags(ENDPOINT)[&a.tag_key()],
        a.tag_value(),
        "marker kept"
    );
}

#[tokio::test]
async fn remove_ends_only_the_connections_its_grant_alone_admitted() {
    let (fake, vpns) = setup();
    let a = grant("aaaaaaaaaaaa", "alice", 0, 3600);
    let b = grant("bbbbbbbbbbbb", "bob", 0, 3600);
    create(&vpns, ENDPOINT, &a).await.unwrap();
    create(&vpns, ENDPOINT, &b).await.unwrap();
    fake.connect(ENDPOINT, "cvpn-connection-a", "alice", "aaaaaaaaaaaa");
    fake.connect(ENDPOINT, "cvpn-connection-b", "bob", "bbbbbbbbbbbb");
    fake.connect(
        ENDPOINT,
        "cvpn-connection-office",
        "carol",
        "always-allow:198.51.100.0/24",
    );
    fake.connect(ENDPOINT, "cvpn-connection-other", "dave", "compliant");

    let ended = remove(&vpns, ENDPOINT, &a.id, at(10)).await.unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].connection_id, "cvpn-connection-a");
    assert!(!fake.tags(ENDPOINT).contains_key(&a.tag_key()));
    assert_eq!(
        fake.active(ENDPOINT),
        [
            "cvpn-connection-b",
            "cvpn-connection-office",
            "cvpn-connection-other"
        ]
    );
    // Idempotent: a second removal finds nothing to do.
    assert!(
        remove(&vpns, ENDPOINT, &a.id, at(10))
            .await
            .unwrap()
            .is_empty()
    );
    // An endpoint deleted meanwhile took its tags and connections with it.
    assert!(
        remove(&vpns, "cvpn-endpoint-00000000000000000", &a.id, at(10))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_sweep_terminates_exactly_the_connections_of_ended_grants() {
    let (fake, vpns) = setup();
    let expired = grant("aaaaaaaaaaaa", "alice", 0, 100);
    let live = grant("bbbbbbbbbbbb", "bob", 0, 3600);
    let mut revoked = grant("cccccccccccc", "carol", 0, 3600);
    revoked.grant.revoked_at = Some(at(50));
    for r in [&expired, &live, &revoked] {
        fake.update_tags(ENDPOINT, |t| {
            t.insert(r.tag_key(), r.tag_value());
        });
    }
    fake.connect(ENDPOINT, "c-expired", "alice", "aaaaaaaaaaaa");
    fake.connect(ENDPOINT, "c-live", "bob", "bbbbbbbbbbbb");
    fake.connect(ENDPOINT, "c-revoked", "carol", "cccccccccccc");
    fake.connect(ENDPOINT, "c-gone", "erin", "dddddddddddd");
    fake.connect(
        ENDPOINT,
        "c-office",
        "frank",
        "always-allow:198.51.100.0/24",
    );

    let dry = terminate_ended(&vpns, ENDPOINT, at(200), None, true)
        .await
        .unwrap();
    assert_eq!(dry.len(), 3);
    assert_eq!(
        fake.active(ENDPOINT).len(),
        5,
        "a dry run terminates nothing"
    );
    let done = terminate_ended(&vpns, ENDPOINT, at(200), None, false)
        .await
        .unwrap();
    let mut ids: Vec<_> = done.iter().map(|t| t.connection_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["c-expired", "c-gone", "c-revoked"]);
    assert!(done.iter().all(|t| t.error.is_none()));
    assert_eq!(fake.active(ENDPOINT), ["c-live", "c-office"]);
    assert!(sweep_removes(&expired, at(200)));
    assert!(
        !sweep_removes(&revoked, at(200)),
        "the marker stays until the grant's expiry"
    );
}

#[tokio::test]
async fn a_revoke_cut_short_is_finished_by_running_it_again() {
    let (fake, vpns) = setup();
    let a = grant("aaaaaaaaaaaa", "alice", 0, 3600);
    create(&vpns, ENDPOINT, &a).await.unwrap();
    fake.connect(ENDPOINT, "c1", "alice", "aaaaaaaaaaaa");
    fake.connect(ENDPOINT, "c2", "alice", "aaaaaaaaaaaa");
    // The marker lands; the first termination fails after every retry.
    fake.faults(&[Fault::None, Fault::Before]);
    let err = revoke(&vpns, ENDPOINT, &a, at(10)).await.unwrap_err();
    assert!(err.contains("Run the revoke again"), "{err}");
    let marked = Record::from_tag(&a.tag_key(), &fake.tags(ENDPOINT)[&a.tag_key()]).unwrap();
    assert_eq!(marked.grant.revoked_at, Some(at(10)));
    let again = revoke(&vpns, ENDPOINT, &marked, at(20)).await.unwrap();
    assert!(again.already);
    assert_eq!(again.revoked_at, at(10), "the first revoke's time is kept");
    assert!(fake.active(ENDPOINT).is_empty());
}

/// Many grants created and removed at random faults of every kind, each write retried until it
/// reports success (as Terraform's next apply would): the endpoint ends up with exactly the
/// grants that should be there, and only connections of live grants stay up.
#[tokio::test]
async fn random_faults_converge_to_exactly_the_live_grants() {
    for seed in 1..=20u64 {
        let (fake, vpns) = setup();
        fake.chaos(seed, 30);
        let records: Vec<Record> = (0..12)
            .map(|i| {
                let id: String = (0..12)
                    .map(|j| (b'a' + ((i * 7 + j * 3 + seed as usize) % 26) as u8) as char)
                    .collect();
                grant(&id, &format!("user{i}"), 0, 3600)
            })
            .collect();
        for r in &records {
            while create(&vpns, ENDPOINT, r).await.is_err() {}
            fake.connect(
                ENDPOINT,
                &format!("c-{}", r.id),
                r.grant.identity.value(),
                r.id.as_str(),
            );
        }
        for r in records.iter().step_by(2) {
            while remove(&vpns, ENDPOINT, &r.id, at(10)).await.is_err() {}
        }
        fake.calm();
        // Terminations that failed are finished by the sweep.
        terminate_ended(&vpns, ENDPOINT, at(10), None, false)
            .await
            .unwrap();
        let tags = fake.tags(ENDPOINT);
        let want: Vec<String> = records
            .iter()
            .skip(1)
            .step_by(2)
            .map(Record::tag_key)
            .collect();
        assert_eq!(
            tags.keys().cloned().collect::<Vec<_>>(),
            {
                let mut w = want.clone();
                w.sort();
                w
            },
            "seed {seed}"
        );
        let mut active = fake.active(ENDPOINT);
        active.sort();
        let mut live: Vec<String> = records
            .iter()
            .skip(1)
            .step_by(2)
            .map(|r| format!("c-{}", r.id))
            .collect();
        live.sort();
        assert_eq!(active, live, "seed {seed}");
        assert!(fake.injected() > 0, "seed {seed} injected no fault");
    }
}
