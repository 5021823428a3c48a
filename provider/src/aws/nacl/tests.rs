//! Read coalescing in `Nacls` never trades correctness for fewer requests: concurrent reads of
//! one ACL share one describe, yet a read after this process's own write always sees the write,
//! even while an older snapshot would still be young enough to serve.
//!
//! Over the strict fake with slow reads (a describe reads the ACL when the call starts, then
//! answers later), so that reads and writes really overlap the way they do under terraform's
//! parallel walk. The same holds for the region-wide prefetch of every ACL with a grant tag.

use std::sync::Arc;
use std::time::Duration;

use super::fake::FakeNacl;
use super::{AclView, CreateOutcome, Nacls, PREFETCH_MAX_ACLS};
use crate::aws::Repeat;
use crate::grant::lifecycle::Held;
use crate::grant::{Direction, EntrySpec, Ports, Protocol, RuleAction};

/// Long enough that concurrently started reads are all waiting while the first describe runs;
/// far below the 5 s snapshot age, so every check here happens while a snapshot is still young.
const DESCRIBE_LATENCY: Duration = Duration::from_millis(150);

const ACL: &str = "acl-0123456789abcdef0";
const OTHER_ACL: &str = "acl-0fedcba987654321f";

/// A fake holding these empty ACLs, each describe of which takes [`DESCRIBE_LATENCY`].
fn slow_fake(ids: &[&str]) -> FakeNacl {
    let fake = FakeNacl::default();
    for id in ids {
        fake.put(AclView {
            acl_id: id.to_string(),
            vpc_id: Some("vpc-01234567".into()),
            ..AclView::default()
        });
    }
    fake.slow_reads(DESCRIBE_LATENCY);
    fake
}

fn ssh_from(cidr: &str, rule_number: i32) -> EntrySpec {
    EntrySpec {
        direction: Direction::Ingress,
        rule_number,
        cidr: cidr.parse().unwrap(),
        protocol: Protocol::TCP,
        ports: Some(Ports { from: 22, to: 22 }),
        action: RuleAction::Allow,
    }
}

fn nacls(fake: &FakeNacl) -> Arc<Nacls> {
    Arc::new(Nacls::new(Arc::new(fake.clone()), Repeat::IMMEDIATE))
}

/// Whether the view holds exactly the entry `spec` describes.
fn holds(view: &AclView, spec: &EntrySpec) -> bool {
    view.entry(spec.direction, spec.rule_number)
        .is_some_and(|e| e.matches(spec))
}

async fn view(nacls: &Nacls, acl_id: &str) -> Arc<AclView> {
    nacls
        .view(acl_id)
        .await
        .expect("the fake never fails")
        .expect("the ACL exists")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_views_of_one_acl_share_one_describe() {
    let fake = slow_fake(&[ACL, OTHER_ACL]);
    let nacls = nacls(&fake);

    // Terraform refreshes up to ten resources at a time: ten grants on ACL, two on OTHER_ACL.
    let readers: Vec<_> = (0..12)
        .map(|i| {
            let nacls = nacls.clone();
            let acl = if i < 10 { ACL } else { OTHER_ACL };
            tokio::spawn(async move { view(&nacls, acl).await })
        })
        .collect();
    let views: Vec<Arc<AclView>> = futures::future::try_join_all(readers).await.unwrap();

    assert_eq!(
        fake.describes_of(ACL),
        1,
        "ten concurrent reads, one describe"
    );
    assert_eq!(fake.describes_of(OTHER_ACL), 1);
    assert!(
        views[..10].iter().all(|v| Arc::ptr_eq(v, &views[0])),
        "the readers share the one answer"
    );
    assert_eq!(views[10].acl_id, OTHER_ACL);
    assert_eq!(
        fake.max_in_flight(),
        2,
        "one describe in flight per ACL, and the two ACLs are not serialised behind each other"
    );

    // A read shortly after, with no write in between, is served from the snapshot.
    view(&nacls, ACL).await;
    assert_eq!(fake.describes_of(ACL), 1);
}

#[tokio::test]
async fn a_view_after_a_write_sees_the_write_within_the_snapshot_age() {
    let fake = slow_fake(&[ACL, OTHER_ACL]);
    let nacls = nacls(&fake);
    assert!(view(&nacls, ACL).await.entries.is_empty());
    view(&nacls, OTHER_ACL).await;

    let spec = ssh_from("203.0.113.7/32", 150);
    assert!(matches!(
        nacls.create_entry(ACL, &spec).await.unwrap(),
        CreateOutcome::Created
    ));
    let after_create = view(&nacls, ACL).await;
    assert!(
        holds(&after_create, &spec),
        "the entry just created is missing from {after_create:?}"
    );

    nacls
        .put_tag(ACL, "jit:grant:ingress:150", "the grant")
        .await
        .unwrap();
    let after_tag = view(&nacls, ACL).await;
    assert_eq!(
        after_tag
            .tags
            .get("jit:grant:ingress:150")
            .map(String::as_str),
        Some("the grant")
    );

    nacls
        .delete_entry(ACL, &spec, |_| Held::Still)
        .await
        .unwrap();
    nacls
        .delete_tag(ACL, "jit:grant:ingress:150", Some("the grant"))
        .await
        .unwrap();
    let after_delete = view(&nacls, ACL).await;
    assert!(after_delete.entries.is_empty() && after_delete.tags.is_empty());

    assert_eq!(
        fake.describes_of(ACL),
        4,
        "one describe at the start, then one after each write batch"
    );
    // Invalidation is per ACL: writes to ACL leave OTHER_ACL's snapshot in use.
    view(&nacls, OTHER_ACL).await;
    assert_eq!(fake.describes_of(OTHER_ACL), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_describe_that_began_before_a_write_is_not_kept_for_later_readers() {
    let fake = slow_fake(&[ACL]);
    let nacls = nacls(&fake);

    let early = tokio::spawn({
        let nacls = nacls.clone();
        async move { view(&nacls, ACL).await }
    });
    // Write only once the early describe has taken its copy of the ACL.
    fake.describe_started().await;
    let spec = ssh_from("198.51.100.0/24", 120);
    nacls.create_entry(ACL, &spec).await.unwrap();
    let early = early.await.unwrap();
    assert!(
        early.entries.is_empty(),
        "test setup: the early describe should have read the ACL before the write"
    );

    let later = view(&nacls, ACL).await;
    assert!(
        holds(&later, &spec),
        "a read after the write was served the pre-write describe: {later:?}"
    );
    assert_eq!(fake.describes_of(ACL), 2);
}

/// Marks the ACL as holding a grant, as the provider's tag does, so the prefetch returns it.
fn tag_as_granted(fake: &FakeNacl, acl_id: &str) {
    fake.update(acl_id, |acl| {
        acl.tags
            .insert("jit:grant:ingress:100".into(), "a grant".into());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_prefetch_serves_every_acl_holding_a_grant() {
    const UNTAGGED_ACL: &str = "acl-00000000000000000";
    let fake = slow_fake(&[ACL, OTHER_ACL, UNTAGGED_ACL]);
    tag_as_granted(&fake, ACL);
    tag_as_granted(&fake, OTHER_ACL);
    let nacls = nacls(&fake);

    let readers: Vec<_> = [ACL, OTHER_ACL, ACL, OTHER_ACL, UNTAGGED_ACL]
        .into_iter()
        .map(|acl| {
            let nacls = nacls.clone();
            tokio::spawn(async move { view(&nacls, acl).await })
        })
        .collect();
    let views: Vec<Arc<AclView>> = futures::future::try_join_all(readers).await.unwrap();

    assert_eq!(fake.tagged_describes(), 1);
    assert_eq!(fake.describes_of(ACL), 0, "ACL came with the prefetch");
    assert_eq!(
        fake.describes_of(OTHER_ACL),
        0,
        "OTHER_ACL came with the prefetch"
    );
    assert_eq!(
        fake.describes_of(UNTAGGED_ACL),
        1,
        "an ACL without grant tags is read on its own"
    );
    assert_eq!(views[0].acl_id, ACL);
    assert_eq!(views[1].acl_id, OTHER_ACL);
    assert_eq!(views[4].acl_id, UNTAGGED_ACL);

    // Within the snapshot age a miss does not prefetch again: it reads the one ACL.
    nacls
        .put_tag(ACL, "jit:grant:ingress:101", "b")
        .await
        .unwrap();
    view(&nacls, ACL).await;
    assert_eq!(fake.tagged_describes(), 1);
    assert_eq!(fake.describes_of(ACL), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetch_that_overlapped_a_write_is_not_kept_for_later_readers() {
    let fake = slow_fake(&[ACL]);
    tag_as_granted(&fake, ACL);
    let nacls = nacls(&fake);

    let early = tokio::spawn({
        let nacls = nacls.clone();
        async move { view(&nacls, ACL).await }
    });
    // Write only once the prefetch has taken its copy of the ACLs.
    fake.tagged_describe_started().await;
    assert_eq!(fake.tagged_describes(), 1);
    let spec = ssh_from("198.51.100.0/24", 120);
    nacls.create_entry(ACL, &spec).await.unwrap();
    early.await.unwrap();

    let later = view(&nacls, ACL).await;
    assert!(
        holds(&later, &spec),
        "a read after the write was served the pre-write prefetch: {later:?}"
    );
}

/// The prefetch asks for a bounded number of ACLs, so a plan in an account full of other
/// configurations' grants stays cheap; an ACL it did not return is read on its own.
#[tokio::test]
async fn the_prefetch_is_bounded_and_what_it_misses_is_read_alone() {
    let ids: Vec<String> = (0..=PREFETCH_MAX_ACLS)
        .map(|i| format!("acl-{i:017x}"))
        .collect();
    let fake = slow_fake(&ids.iter().map(String::as_str).collect::<Vec<_>>());
    for id in &ids {
        tag_as_granted(&fake, id);
    }
    let nacls = nacls(&fake);
    for id in &ids {
        assert_eq!(view(&nacls, id).await.acl_id, *id);
    }
    assert_eq!(fake.tagged_describes(), 1);
    let single: usize = ids.iter().map(|id| fake.describes_of(id)).sum();
    assert_eq!(single, 1, "one ACL beyond the bound, read on its own");
}
