//! Read coalescing in `Nacls` never trades correctness for fewer requests: concurrent reads of
//! one ACL share one describe, yet a read after this process's own write always sees the write,
//! even while an older snapshot would still be young enough to serve.
//!
//! The fake `NaclApi` keeps ACLs in memory, counts describes, and makes each describe slow (it
//! copies the ACL when the call starts, then sleeps), so that reads and writes really overlap the
//! way they do under terraform's parallel walk. The same holds for the region-wide prefetch of
//! every ACL with a grant tag.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jit_provider::aws::Repeat;
use jit_provider::aws::nacl::{
    AclEntry, AclView, AwsError, CreateOutcome, NaclApi, Nacls, PREFETCH_MAX_ACLS,
};
use jit_provider::grant::lifecycle::Held;
use jit_provider::grant::{Direction, EntrySpec, Ports, Protocol, RuleAction};
use tokio::sync::Notify;

/// Long enough that concurrently started reads are all waiting while the first describe runs;
/// far below the 5 s snapshot age, so every check here happens while a snapshot is still young.
const DESCRIBE_LATENCY: Duration = Duration::from_millis(150);

const ACL: &str = "acl-0123456789abcdef0";
const OTHER_ACL: &str = "acl-0fedcba987654321f";

#[derive(Default)]
struct FakeNacl {
    acls: Mutex<HashMap<String, AclView>>,
    /// Describes per ACL id.
    describes: Mutex<HashMap<String, usize>>,
    /// Describes of every ACL with a grant tag (the prefetch).
    bulk_describes: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Signalled once a describe has copied the ACL, i.e. from then on its answer is fixed.
    describe_started: Notify,
    /// The same for the prefetch.
    prefetch_started: Notify,
}

impl FakeNacl {
    fn with_acls(ids: &[&str]) -> Arc<Self> {
        let fake = FakeNacl::default();
        {
            let mut acls = fake.acls.lock().unwrap();
            for id in ids {
                acls.insert(
                    id.to_string(),
                    AclView {
                        acl_id: id.to_string(),
                        vpc_id: Some("vpc-01234567".into()),
                        ..AclView::default()
                    },
                );
            }
        }
        Arc::new(fake)
    }

    fn describes(&self, acl_id: &str) -> usize {
        self.describes
            .lock()
            .unwrap()
            .get(acl_id)
            .copied()
            .unwrap_or(0)
    }

    fn with_acl<T>(&self, acl_id: &str, f: impl FnOnce(&mut AclView) -> T) -> T {
        let mut acls = self.acls.lock().unwrap();
        f(acls.get_mut(acl_id).expect("the fake knows this ACL"))
    }
}

#[async_trait]
impl NaclApi for FakeNacl {
    async fn describe(&self, acl_id: &str) -> Result<Option<AclView>, AwsError> {
        *self
            .describes
            .lock()
            .unwrap()
            .entry(acl_id.to_string())
            .or_default() += 1;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        // Like AWS: the answer reflects the moment the request is served, and arrives later.
        let view = self.acls.lock().unwrap().get(acl_id).cloned();
        self.describe_started.notify_one();
        tokio::time::sleep(DESCRIBE_LATENCY).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(view)
    }

    async fn describe_all(&self) -> Result<Vec<AclView>, AwsError> {
        Ok(self.acls.lock().unwrap().values().cloned().collect())
    }

    async fn describe_tagged(
        &self,
        tag_prefix: &str,
        limit: Option<usize>,
    ) -> Result<Vec<AclView>, AwsError> {
        self.bulk_describes.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let views: Vec<AclView> = self
            .acls
            .lock()
            .unwrap()
            .values()
            .filter(|v| v.tags.keys().any(|k| k.starts_with(tag_prefix)))
            .take(limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        self.prefetch_started.notify_one();
        tokio::time::sleep(DESCRIBE_LATENCY).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(views)
    }

    async fn create_entry(
        &self,
        acl_id: &str,
        spec: &EntrySpec,
    ) -> Result<CreateOutcome, AwsError> {
        Ok(self.with_acl(acl_id, |acl| {
            if acl.entry(spec.direction, spec.rule_number).is_some() {
                return CreateOutcome::NumberTaken;
            }
            acl.entries.push(AclEntry::from(spec));
            CreateOutcome::Created
        }))
    }

    async fn delete_entry(
        &self,
        acl_id: &str,
        direction: Direction,
        rule_number: i32,
    ) -> Result<(), AwsError> {
        self.with_acl(acl_id, |acl| {
            acl.entries
                .retain(|e| !(e.direction == direction && e.rule_number == rule_number))
        });
        Ok(())
    }

    async fn put_tag(&self, acl_id: &str, key: &str, value: &str) -> Result<(), AwsError> {
        self.with_acl(acl_id, |acl| acl.tags.insert(key.into(), value.into()));
        Ok(())
    }

    async fn delete_tag(
        &self,
        acl_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), AwsError> {
        self.with_acl(acl_id, |acl| {
            if acl
                .tags
                .get(key)
                .is_some_and(|v| value.is_none_or(|want| want == v))
            {
                acl.tags.remove(key);
            }
        });
        Ok(())
    }
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

fn nacls(fake: &Arc<FakeNacl>) -> Arc<Nacls> {
    let repeat = Repeat {
        attempts: 1,
        initial: Duration::ZERO,
        max: Duration::ZERO,
    };
    Arc::new(Nacls::new(fake.clone(), repeat))
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
    let fake = FakeNacl::with_acls(&[ACL, OTHER_ACL]);
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

    assert_eq!(fake.describes(ACL), 1, "ten concurrent reads, one describe");
    assert_eq!(fake.describes(OTHER_ACL), 1);
    assert!(
        views[..10].iter().all(|v| Arc::ptr_eq(v, &views[0])),
        "the readers share the one answer"
    );
    assert_eq!(views[10].acl_id, OTHER_ACL);
    assert_eq!(
        fake.max_in_flight.load(Ordering::SeqCst),
        2,
        "one describe in flight per ACL, and the two ACLs are not serialised behind each other"
    );

    // A read shortly after, with no write in between, is served from the snapshot.
    view(&nacls, ACL).await;
    assert_eq!(fake.describes(ACL), 1);
}

#[tokio::test]
async fn a_view_after_a_write_sees_the_write_within_the_snapshot_age() {
    let fake = FakeNacl::with_acls(&[ACL, OTHER_ACL]);
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
        fake.describes(ACL),
        4,
        "one describe at the start, then one after each write batch"
    );
    // Invalidation is per ACL: writes to ACL leave OTHER_ACL's snapshot in use.
    view(&nacls, OTHER_ACL).await;
    assert_eq!(fake.describes(OTHER_ACL), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_describe_that_began_before_a_write_is_not_kept_for_later_readers() {
    let fake = FakeNacl::with_acls(&[ACL]);
    let nacls = nacls(&fake);

    let early = tokio::spawn({
        let nacls = nacls.clone();
        async move { view(&nacls, ACL).await }
    });
    // Write only once the early describe has taken its copy of the ACL.
    fake.describe_started.notified().await;
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
    assert_eq!(fake.describes(ACL), 2);
}

/// Marks the ACL as holding a grant, as the provider's tag does, so the prefetch returns it.
fn tag_as_granted(fake: &FakeNacl, acl_id: &str) {
    fake.with_acl(acl_id, |acl| {
        acl.tags
            .insert("jit:grant:ingress:100".into(), "a grant".into())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_prefetch_serves_every_acl_holding_a_grant() {
    const UNTAGGED_ACL: &str = "acl-00000000000000000";
    let fake = FakeNacl::with_acls(&[ACL, OTHER_ACL, UNTAGGED_ACL]);
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

    assert_eq!(fake.bulk_describes.load(Ordering::SeqCst), 1);
    assert_eq!(fake.describes(ACL), 0, "ACL came with the prefetch");
    assert_eq!(
        fake.describes(OTHER_ACL),
        0,
        "OTHER_ACL came with the prefetch"
    );
    assert_eq!(
        fake.describes(UNTAGGED_ACL),
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
    assert_eq!(fake.bulk_describes.load(Ordering::SeqCst), 1);
    assert_eq!(fake.describes(ACL), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetch_that_overlapped_a_write_is_not_kept_for_later_readers() {
    let fake = FakeNacl::with_acls(&[ACL]);
    tag_as_granted(&fake, ACL);
    let nacls = nacls(&fake);

    let early = tokio::spawn({
        let nacls = nacls.clone();
        async move { view(&nacls, ACL).await }
    });
    // Write only once the prefetch has taken its copy of the ACLs.
    fake.prefetch_started.notified().await;
    assert_eq!(fake.bulk_describes.load(Ordering::SeqCst), 1);
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
    let fake = FakeNacl::with_acls(&ids.iter().map(String::as_str).collect::<Vec<_>>());
    for id in &ids {
        tag_as_granted(&fake, id);
    }
    let nacls = nacls(&fake);
    for id in &ids {
        assert_eq!(view(&nacls, id).await.acl_id, *id);
    }
    assert_eq!(fake.bulk_describes.load(Ordering::SeqCst), 1);
    let single: usize = ids.iter().map(|id| fake.describes(id)).sum();
    assert_eq!(single, 1, "one ACL beyond the bound, read on its own");
}
