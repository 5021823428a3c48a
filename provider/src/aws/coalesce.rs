//! Read coalescing shared by every AWS object jit reads per key (a network ACL, an IAM policy).
//!
//! Terraform refreshes every resource separately, up to ten at a time. Reads of one key share
//! a single in-flight fetch (single flight) and a short-lived snapshot. Every write by this
//! process bumps the key's generation before and after it, and a fetch that overlapped a write
//! is returned to its own caller but never cached: no read returns data older than this
//! process's own last write.
//!
//! A caller may also offer a bulk fetch (`get_or_prefetch`): on the first miss in a snapshot
//! period, one call fills the snapshots of many keys at once, such as every network ACL that
//! holds a jit grant. It is cached only if no write by this process overlapped it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a snapshot serves reads. Long enough to cover one refresh burst of a plan, short
/// enough that another actor's change shows up in the next command.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(5);

struct SlotState<V> {
    generation: u64,
    snapshot: Option<(Instant, u64, V)>,
}

struct Slot<V> {
    /// Single flight: one fetch per key at a time; waiters reuse its result.
    fetch: tokio::sync::Mutex<()>,
    /// Serialises multi-step writes to this key within the process (numbering, versions).
    serial: Arc<tokio::sync::Mutex<()>>,
    state: Mutex<SlotState<V>>,
}

impl<V: Clone> Slot<V> {
    fn fresh(&self, max_age: Duration) -> Option<V> {
        let st = self.state.lock().expect("slot lock");
        match &st.snapshot {
            Some((at, generation, v))
                if *generation == st.generation && at.elapsed() <= max_age =>
            {
                Some(v.clone())
            }
            _ => None,
        }
    }

    fn bump(&self) {
        let mut st = self.state.lock().expect("slot lock");
        st.generation += 1;
        st.snapshot = None;
    }
}

/// Per-key snapshots of values of type `V`.
pub struct Coalescer<V> {
    slots: Mutex<HashMap<String, Arc<Slot<V>>>>,
    max_age: Duration,
    /// Counts invalidations of any key: a bulk fetch that overlapped one is not cached.
    invalidations: AtomicU64,
    /// When the last bulk fetch started; held during one, so concurrent misses wait for it.
    last_prefetch: tokio::sync::Mutex<Option<Instant>>,
}

impl<V: Clone> Default for Coalescer<V> {
    fn default() -> Self {
        Coalescer {
            slots: Mutex::new(HashMap::new()),
            max_age: SNAPSHOT_MAX_AGE,
            invalidations: AtomicU64::new(0),
            last_prefetch: tokio::sync::Mutex::new(None),
        }
    }
}

impl<V: Clone> Coalescer<V> {
    fn slot(&self, key: &str) -> Arc<Slot<V>> {
        self.slots
            .lock()
            .expect("slots lock")
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Slot {
                    fetch: tokio::sync::Mutex::new(()),
                    serial: Arc::new(tokio::sync::Mutex::new(())),
                    state: Mutex::new(SlotState {
                        generation: 0,
                        snapshot: None,
                    }),
                })
            })
            .clone()
    }

    /// The key's value from a fresh snapshot, or from `fetch` (shared with concurrent callers).
    pub async fn get<E, F>(&self, key: &str, fetch: F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        let slot = self.slot(key);
        if let Some(v) = slot.fresh(self.max_age) {
            return Ok(v);
        }
        let _flight = slot.fetch.lock().await;
        if let Some(v) = slot.fresh(self.max_age) {
            return Ok(v);
        }
        let generation = slot.state.lock().expect("slot lock").generation;
        let value = fetch.await?;
        let mut st = slot.state.lock().expect("slot lock");
        // A write that began while we were fetching makes this snapshot stale: return it to
        // this (concurrent) reader, but don't keep it for later ones.
        if st.generation == generation {
            st.snapshot = Some((Instant::now(), generation, value.clone()));
        }
        Ok(value)
    }

    /// Like `get`, but a miss first runs `prefetch` (at most once per snapshot period, shared by
    /// concurrent callers), which returns values for many keys in one call. Keys it does not
    /// return, or a failed prefetch, fall back to `fetch`.
    pub async fn get_or_prefetch<E, P, F>(&self, key: &str, prefetch: P, fetch: F) -> Result<V, E>
    where
        P: Future<Output = Result<Vec<(String, V)>, E>>,
        F: Future<Output = Result<V, E>>,
    {
        if let Some(v) = self.slot(key).fresh(self.max_age) {
            return Ok(v);
        }
        {
            let mut last = self.last_prefetch.lock().await;
            if last.is_none_or(|at| at.elapsed() > self.max_age) {
                *last = Some(Instant::now());
                let invalidations = self.invalidations.load(Ordering::SeqCst);
                // An optimisation only: on failure the per-key fetch reports what is wrong.
                if let Ok(values) = prefetch.await {
                    for (k, v) in values {
                        let slot = self.slot(&k);
                        let mut st = slot.state.lock().expect("slot lock");
                        // Checked under the slot lock: an invalidation counted after this check
                        // bumps the slot after we release it, dropping this snapshot.
                        if self.invalidations.load(Ordering::SeqCst) != invalidations {
                            break;
                        }
                        let generation = st.generation;
                        st.snapshot = Some((Instant::now(), generation, v));
                    }
                }
            }
        }
        self.get(key, fetch).await
    }

    /// Drops the key's snapshot, so the next `get` fetches.
    pub fn invalidate(&self, key: &str) {
        self.bump(&self.slot(key));
    }

    /// Counts the invalidation first, then bumps the slot: `get_or_prefetch` relies on that
    /// order to never keep a bulk fetch that overlapped a write.
    fn bump(&self, slot: &Slot<V>) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        slot.bump();
    }

    /// Runs a write to `key`, invalidating its snapshot before and after.
    pub async fn write<T, E>(
        &self,
        key: &str,
        op: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let slot = self.slot(key);
        self.bump(&slot);
        let out = op.await;
        self.bump(&slot);
        out
    }

    /// Holds the key's write-serialisation lock (for read-decide-write sequences).
    pub async fn serialize(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.slot(key).serial.clone().lock_owned().await
    }
}
