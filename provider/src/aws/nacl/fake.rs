//! An in-memory `NaclApi` for unit tests: ACLs held in memory, as strict as EC2 where jit's
//! code meets its limits (20 entries per direction, 50 tags per resource, tag key and value
//! lengths, `aws:` keys), with knobs for the races and failures AWS can produce, including
//! writes whose outcome the caller never learns (a lost response), and slow reads whose answer
//! is fixed when the call starts (reads and writes overlapping as under terraform's parallel
//! walk). Cheap to clone (clones share the state).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{AclEntry, AclView, AwsError, CreateOutcome, NaclApi};
use crate::grant::{Direction, EntrySpec};

type Hook = Box<dyn FnOnce(&mut AclView) + Send>;

#[derive(Default)]
struct State {
    acls: BTreeMap<String, AclView>,
    writes: usize,
    calls: usize,
    describes: usize,
    /// Single-ACL describes per ACL id.
    describes_of: BTreeMap<String, usize>,
    /// Describes of the ACLs carrying a tag prefix (the read prefetch).
    tagged_describes: usize,
    /// How long a describe or tagged describe takes to arrive after it has read the ACLs.
    read_latency: Duration,
    /// Describes (single and tagged) in flight now, and the most at once so far.
    in_flight: usize,
    max_in_flight: usize,
    /// Signalled once a single-ACL describe has read the ACL: its answer is fixed from then on.
    describe_started: Arc<Notify>,
    /// The same for a tagged describe.
    tagged_describe_started: Arc<Notify>,
    fail_deletes: HashSet<i32>,
    fail_listing: bool,
    fail_tag_writes: bool,
    /// Run on the (first) stored ACL just before the n-th call.
    before_call: Vec<(usize, Hook)>,
    /// Run on the ACL just before the next entry create lands.
    before_create: Option<Hook>,
    /// Run on the ACL right after the next entry delete lands.
    after_delete: Option<Hook>,
    faults: Faults,
    /// Entries allowed per direction (AWS's default quota is 20; 40 on request).
    entry_quota: usize,
}

/// What happens to a write call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Throttled or a 5xx before AWS acted, after every retry: nothing happened. For an entry
    /// delete, which the SDK never retries, one attempt.
    Before,
    /// AWS acted, but every response was lost: the caller gets an error.
    After,
    /// AWS acted, the response was lost, and the SDK's retry got AWS's answer to a repeat:
    /// `NetworkAclEntryAlreadyExists` for a create; success for tag writes. The SDK never
    /// repeats an entry delete ([`NaclApi::delete_entry`]), so for one this is [`Fault::After`].
    Retried,
    /// No fault.
    None,
}

/// The faults a fake injects into its write calls: a script of the next ones, then random ones
/// at a rate, deterministic for a seed. Shared by every fake of an AWS API.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// Faults for the next write calls, in order.
    script: std::collections::VecDeque<Fault>,
    /// Random faults on writes: (xorshift state, rate in percent).
    chaos: Option<(u64, u64)>,
    /// Faults injected so far.
    injected: usize,
}

impl Faults {
    /// Queues faults for the next write calls, one each, in order.
    pub(crate) fn script(&mut self, faults: &[Fault]) {
        self.script.extend(faults.iter().copied());
    }

    /// From now on, `rate_percent` of writes get a random fault, the same ones for a seed.
    pub(crate) fn chaos(&mut self, seed: u64, rate_percent: u64) {
        self.chaos = Some((seed.max(1), rate_percent));
    }

    /// Stops random and queued faults.
    pub(crate) fn calm(&mut self) {
        self.chaos = None;
        self.script.clear();
    }

    /// Faults injected so far.
    pub(crate) fn injected(&self) -> usize {
        self.injected
    }

    /// The fault for the next write, from the script or the random source.
    pub(crate) fn next(&mut self) -> Fault {
        let fault = if let Some(f) = self.script.pop_front() {
            f
        } else if let Some((seed, rate)) = self.chaos.as_mut() {
            // xorshift64: deterministic for a seed.
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            if *seed % 100 < *rate {
                [Fault::Before, Fault::After, Fault::Retried][(*seed / 100 % 3) as usize]
            } else {
                Fault::None
            }
        } else {
            Fault::None
        };
        if fault != Fault::None {
            self.injected += 1;
        }
        fault
    }
}

const DEFAULT_ENTRY_QUOTA: usize = 20;

impl State {
    /// The fault for the next write.
    fn fault(&mut self) -> Fault {
        self.faults.next()
    }
}

impl State {
    /// Counts a call, first running the hooks due at it.
    fn call(&mut self) {
        self.calls += 1;
        let n = self.calls;
        for (at, hook) in std::mem::take(&mut self.before_call) {
            if at == n {
                if let Some(v) = self.acls.values_mut().next() {
                    hook(v);
                }
            } else {
                self.before_call.push((at, hook));
            }
        }
    }
}

#[derive(Clone, Default)]
pub struct FakeNacl(Arc<Mutex<State>>);

impl FakeNacl {
    /// A fake holding one empty ACL.
    pub fn with_acl(acl_id: &str) -> FakeNacl {
        let fake = FakeNacl::default();
        fake.put(AclView {
            acl_id: acl_id.into(),
            ..AclView::default()
        });
        fake
    }

    pub fn put(&self, view: AclView) {
        let mut st = self.0.lock().unwrap();
        st.acls.insert(view.acl_id.clone(), view);
    }

    pub fn get(&self, acl_id: &str) -> AclView {
        self.0.lock().unwrap().acls[acl_id].clone()
    }

    /// Changes a stored ACL behind the code under test's back (drift, another actor).
    pub fn update(&self, acl_id: &str, f: impl FnOnce(&mut AclView)) {
        f(self.0.lock().unwrap().acls.get_mut(acl_id).unwrap());
    }

    /// Write calls made so far (entry and tag creates and deletes).
    pub fn writes(&self) -> usize {
        self.0.lock().unwrap().writes
    }

    /// API calls made so far, reads included (for [`FakeNacl::before_call`]).
    pub fn calls(&self) -> usize {
        self.0.lock().unwrap().calls
    }

    /// Single-ACL describes made so far.
    pub fn describes(&self) -> usize {
        self.0.lock().unwrap().describes
    }

    /// Single-ACL describes of `acl_id` made so far.
    pub fn describes_of(&self, acl_id: &str) -> usize {
        let st = self.0.lock().unwrap();
        st.describes_of.get(acl_id).copied().unwrap_or(0)
    }

    /// Describes of the ACLs carrying a tag prefix made so far (the read prefetch).
    pub fn tagged_describes(&self) -> usize {
        self.0.lock().unwrap().tagged_describes
    }

    /// Makes every describe and tagged describe read the ACLs when it starts and answer
    /// `latency` later, as AWS does: concurrent reads and writes then really overlap.
    pub fn slow_reads(&self, latency: Duration) {
        self.0.lock().unwrap().read_latency = latency;
    }

    /// The most describes (single and tagged) that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.0.lock().unwrap().max_in_flight
    }

    /// Returns once a single-ACL describe has read the ACL (at once if one did since the last
    /// call): from then on its answer is fixed.
    pub async fn describe_started(&self) {
        let started = self.0.lock().unwrap().describe_started.clone();
        started.notified().await;
    }

    /// The same for a tagged describe.
    pub async fn tagged_describe_started(&self) {
        let started = self.0.lock().unwrap().tagged_describe_started.clone();
        started.notified().await;
    }

    /// Serves a read: `read` takes the answer from the state when the call starts; with
    /// [`FakeNacl::slow_reads`], it arrives later.
    async fn served<T>(
        &self,
        started: impl FnOnce(&State) -> Arc<Notify>,
        read: impl FnOnce(&mut State) -> T,
    ) -> T {
        let (answer, latency, started) = {
            let mut st = self.0.lock().unwrap();
            st.call();
            let answer = read(&mut st);
            st.in_flight += 1;
            st.max_in_flight = st.max_in_flight.max(st.in_flight);
            (answer, st.read_latency, started(&st))
        };
        started.notify_one();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.0.lock().unwrap().in_flight -= 1;
        answer
    }

    /// Makes deleting entry number `n` fail with an AWS error.
    pub fn fail_deletes_of(&self, n: i32) {
        self.0.lock().unwrap().fail_deletes.insert(n);
    }

    /// Makes listing tagged ACLs fail.
    pub fn fail_listing(&self) {
        self.0.lock().unwrap().fail_listing = true;
    }

    /// Makes tag writes fail, as throttling does.
    pub fn fail_tag_writes(&self) {
        self.0.lock().unwrap().fail_tag_writes = true;
    }

    /// Queues faults for the next write calls (entry creates and deletes, tag writes and
    /// deletes), one each, in order.
    pub fn faults(&self, faults: &[Fault]) {
        self.0.lock().unwrap().faults.script(faults);
    }

    /// From now on, `rate_percent` of writes get a random fault, the same ones for a seed.
    pub fn chaos(&self, seed: u64, rate_percent: u64) {
        self.0.lock().unwrap().faults.chaos(seed, rate_percent);
    }

    /// Stops random and queued faults.
    pub fn calm(&self) {
        self.0.lock().unwrap().faults.calm();
    }

    /// Faults injected so far.
    pub fn injected(&self) -> usize {
        self.0.lock().unwrap().faults.injected()
    }

    /// Sets how many entries each direction of an ACL may hold (AWS: 20, or up to 40).
    pub fn entry_quota(&self, quota: usize) {
        self.0.lock().unwrap().entry_quota = quota;
    }

    /// Runs `hook` on the (single) stored ACL just before the `n`-th API call (1-based):
    /// someone else's write racing the code under test.
    pub fn before_call(&self, n: usize, hook: impl FnOnce(&mut AclView) + Send + 'static) {
        self.0.lock().unwrap().before_call.push((n, Box::new(hook)));
    }

    /// Runs `hook` on the ACL just before the next entry create lands (a number taken
    /// between look-up and create).
    pub fn before_next_create(&self, hook: impl FnOnce(&mut AclView) + Send + 'static) {
        self.0.lock().unwrap().before_create = Some(Box::new(hook));
    }

    /// Runs `hook` on the ACL right after the next entry delete lands (another process
    /// numbering a new grant at the freed slot).
    pub fn after_next_delete(&self, hook: impl FnOnce(&mut AclView) + Send + 'static) {
        self.0.lock().unwrap().after_delete = Some(Box::new(hook));
    }
}

fn error(operation: &'static str, code: &str, message: &str) -> AwsError {
    AwsError::Call {
        operation,
        code: Some(code.into()),
        message: message.into(),
    }
}

fn throttled(operation: &'static str) -> AwsError {
    error(operation, "RequestLimitExceeded", "Request limit exceeded.")
}

fn lost(operation: &'static str) -> AwsError {
    error(
        operation,
        "RequestTimeout",
        "dispatch failure: the response was lost (every retry timed out)",
    )
}

fn denied(operation: &'static str) -> AwsError {
    error(
        operation,
        "UnauthorizedOperation",
        "You are not authorized to perform this operation.",
    )
}

#[async_trait]
impl NaclApi for FakeNacl {
    async fn describe(&self, acl_id: &str) -> Result<Option<AclView>, AwsError> {
        let started = |st: &State| st.describe_started.clone();
        self.served(started, |st| {
            st.describes += 1;
            *st.describes_of.entry(acl_id.into()).or_default() += 1;
            Ok(st.acls.get(acl_id).cloned())
        })
        .await
    }

    async fn describe_all(&self) -> Result<Vec<AclView>, AwsError> {
        let mut st = self.0.lock().unwrap();
        st.call();
        if st.fail_listing {
            return Err(denied("DescribeNetworkAcls"));
        }
        Ok(st.acls.values().cloned().collect())
    }

    async fn describe_tagged(
        &self,
        prefix: &str,
        limit: Option<usize>,
    ) -> Result<Vec<AclView>, AwsError> {
        let started = |st: &State| st.tagged_describe_started.clone();
        self.served(started, |st| {
            st.tagged_describes += 1;
            if st.fail_listing {
                return Err(denied("DescribeNetworkAcls"));
            }
            Ok(st
                .acls
                .values()
                .filter(|v| v.tags.keys().any(|k| k.starts_with(prefix)))
                .take(limit.unwrap_or(usize::MAX))
                .cloned()
                .collect())
        })
        .await
    }

    async fn create_entry(
        &self,
        acl_id: &str,
        spec: &EntrySpec,
    ) -> Result<CreateOutcome, AwsError> {
        let mut st = self.0.lock().unwrap();
        st.call();
        st.writes += 1;
        let fault = st.fault();
        if fault == Fault::Before {
            return Err(throttled("CreateNetworkAclEntry"));
        }
        let hook = st.before_create.take();
        let quota = match st.entry_quota {
            0 => DEFAULT_ENTRY_QUOTA,
            q => q,
        };
        let Some(view) = st.acls.get_mut(acl_id) else {
            return Err(error(
                "CreateNetworkAclEntry",
                "InvalidNetworkAclID.NotFound",
                &format!("The network ACL ID '{acl_id}' does not exist"),
            ));
        };
        if let Some(hook) = hook {
            hook(view);
        }
        if view.entry(spec.direction, spec.rule_number).is_some() {
            return Ok(CreateOutcome::NumberTaken);
        }
        if view
            .entries
            .iter()
            .filter(|e| e.direction == spec.direction)
            .count()
            >= quota
        {
            return Err(error(
                "CreateNetworkAclEntry",
                "NetworkAclEntryLimitExceeded",
                "The maximum number of network ACL entries has been reached.",
            ));
        }
        view.entries.push(AclEntry::from(spec));
        match fault {
            Fault::After => Err(lost("CreateNetworkAclEntry")),
            Fault::Retried => Ok(CreateOutcome::NumberTaken),
            _ => Ok(CreateOutcome::Created),
        }
    }

    async fn delete_entry(
        &self,
        acl_id: &str,
        direction: Direction,
        rule_number: i32,
    ) -> Result<(), AwsError> {
        let mut st = self.0.lock().unwrap();
        st.call();
        if st.fail_deletes.contains(&rule_number) {
            return Err(denied("DeleteNetworkAclEntry"));
        }
        st.writes += 1;
        let fault = st.fault();
        if fault == Fault::Before {
            return Err(throttled("DeleteNetworkAclEntry"));
        }
        let hook = st.after_delete.take();
        if let Some(view) = st.acls.get_mut(acl_id) {
            view.entries
                .retain(|e| !(e.direction == direction && e.rule_number == rule_number));
            if let Some(hook) = hook {
                hook(view);
            }
        }
        // A missing entry is `InvalidNetworkAclEntry.NotFound` in AWS, which `NaclApi` reports
        // as done.
        match fault {
            Fault::After | Fault::Retried => Err(lost("DeleteNetworkAclEntry")),
            _ => Ok(()),
        }
    }

    async fn put_tag(&self, acl_id: &str, key: &str, value: &str) -> Result<(), AwsError> {
        let mut st = self.0.lock().unwrap();
        st.call();
        if st.fail_tag_writes {
            return Err(throttled("CreateTags"));
        }
        st.writes += 1;
        let fault = st.fault();
        if fault == Fault::Before {
            return Err(throttled("CreateTags"));
        }
        if key.chars().count() > 128 || value.chars().count() > 256 || key.starts_with("aws:") {
            return Err(error(
                "CreateTags",
                "InvalidParameterValue",
                "Tag keys are at most 128 and values at most 256 characters, and may not begin with aws:",
            ));
        }
        let Some(view) = st.acls.get_mut(acl_id) else {
            return Err(error(
                "CreateTags",
                "InvalidID",
                &format!("The ID '{acl_id}' is not valid"),
            ));
        };
        if !view.tags.contains_key(key) && view.tags.len() >= crate::grant::TAGS_PER_RESOURCE_MAX {
            return Err(error(
                "CreateTags",
                "TagLimitExceeded",
                "The maximum number of Tags for a resource has been reached.",
            ));
        }
        view.tags.insert(key.into(), value.into());
        match fault {
            Fault::After => Err(lost("CreateTags")),
            _ => Ok(()),
        }
    }

    async fn delete_tag(
        &self,
        acl_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), AwsError> {
        let mut st = self.0.lock().unwrap();
        st.call();
        st.writes += 1;
        let fault = st.fault();
        if fault == Fault::Before {
            return Err(throttled("DeleteTags"));
        }
        if let Some(view) = st.acls.get_mut(acl_id)
            && view
                .tags
                .get(key)
                .is_some_and(|v| value.is_none_or(|want| want == v))
        {
            view.tags.remove(key);
        }
        match fault {
            Fault::After => Err(lost("DeleteTags")),
            _ => Ok(()),
        }
    }
}
