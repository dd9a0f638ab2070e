//! Single-flight for `get_with`: one computation per key, the others wait for its value.

use super::*;

/// One computation in progress for `get_with`: the leader fills it, followers wait.
pub(super) struct Flight<V> {
    /// The thread running the computation.
    pub(super) leader: std::thread::ThreadId,
    /// `None` while running; `Some(Some(v))` done; `Some(None)` failed or panicked.
    pub(super) outcome: Mutex<Option<Option<Arc<V>>>>,
    pub(super) done: Condvar,
}

impl<V> Flight<V> {
    pub(super) fn finish(&self, outcome: Option<Arc<V>>) {
        let mut slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(outcome);
        }
        self.done.notify_all();
    }

    pub(super) fn wait(&self) -> Option<Arc<V>> {
        let mut slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(outcome) = &*slot {
                return outcome.clone();
            }
            slot = self.done.wait(slot).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Held by the leader of a flight. Dropping it (also by a panic) releases the followers
/// and retires the flight.
pub(super) struct Leader<'a, K: CacheKey, V: Cacheable> {
    pub(super) inner: &'a Inner<K, V>,
    pub(super) key: &'a K,
    pub(super) flight: Arc<Flight<V>>,
}

impl<K: CacheKey, V: Cacheable> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        // Retire the flight before waking the followers, so that a follower of a failed
        // computation that tries again starts a new flight instead of finding this one.
        {
            let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
            if flights
                .get(self.key)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                flights.remove(self.key);
            }
        }
        self.flight.finish(None); // no-op when already finished
    }
}
