//! An in-memory `NaclApi` for unit tests: ACLs held in memory, with knobs for the races and
//! failures AWS can produce. Cheap to clone (clones share the state).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{AclEntry, AclView, AwsError, CreateOutcome, NaclApi};
use crate::grant::{Direction, EntrySpec};

type Hook = Box<dyn FnOnce(&mut AclView) + Send>;

#[derive(Default)]
struct State {
    acls: BTreeMap<String, AclView>,
    writes: usize,
    calls: usize,
    describes: usize,
    fail_deletes: HashSet<i32>,
    fail_listing: bool,
    fail_tag_writes: bool,
    /// Run on the (first) stored ACL just before the n-th call.
    before_call: Vec<(usize, Hook)>,
    /// Run on the ACL just before the next entry create lands.
    before_create: Option<Hook>,
    /// Run on the ACL right after the next entry delete lands.
    after_delete: Option<Hook>,
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

    /// Single-ACL describes made so far.
    pub fn describes(&self) -> usize {
        self.0.lock().unwrap().describes
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
        let mut st = self.0.lock().unwrap();
        st.call();
        st.describes += 1;
        Ok(st.acls.get(acl_id).cloned())
    }

    async fn describe_tagged(
        &self,
        prefix: &str,
        limit: Option<usize>,
    ) -> Result<Vec<AclView>, AwsError> {
        let mut st = self.0.lock().unwrap();
        st.call();
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
    }

    async fn create_entry(
        &self,
        acl_id: &str,
        spec: &EntrySpec,
    ) -> Result<CreateOutcome, AwsError> {
        let mut st = self.0.lock().unwrap();
        st.call();
        st.writes += 1;
        let hook = st.before_create.take();
        let view = st.acls.get_mut(acl_id).expect("ACL exists");
        if let Some(hook) = hook {
            hook(view);
        }
        if view.entry(spec.direction, spec.rule_number).is_some() {
            return Ok(CreateOutcome::NumberTaken);
        }
        view.entries.push(AclEntry::from(spec));
        Ok(CreateOutcome::Created)
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
        let hook = st.after_delete.take();
        if let Some(view) = st.acls.get_mut(acl_id) {
            view.entries
                .retain(|e| !(e.direction == direction && e.rule_number == rule_number));
            if let Some(hook) = hook {
                hook(view);
            }
        }
        Ok(())
    }

    async fn put_tag(&self, acl_id: &str, key: &str, value: &str) -> Result<(), AwsError> {
        let mut st = self.0.lock().unwrap();
        st.call();
        if st.fail_tag_writes {
            return Err(error("CreateTags", "RequestLimitExceeded", "throttled"));
        }
        st.writes += 1;
        if let Some(view) = st.acls.get_mut(acl_id) {
            view.tags.insert(key.into(), value.into());
        }
        Ok(())
    }

    async fn delete_tag(&self, acl_id: &str, key: &str, value: &str) -> Result<(), AwsError> {
        let mut st = self.0.lock().unwrap();
        st.call();
        st.writes += 1;
        if let Some(view) = st.acls.get_mut(acl_id)
            && view.tags.get(key).map(String::as_str) == Some(value)
        {
            view.tags.remove(key);
        }
        Ok(())
    }
}
