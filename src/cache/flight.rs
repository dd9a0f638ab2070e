//! Single-flight: one computation per key, however many callers miss it at once. The
//! first caller leads: it looks below memory, computes and stores; the others wait for
//! its value, blocking (`get_with`) or awaiting (`#[memoize]` on `async fn`) the same
//! [`Flight`]. A leader that fails, panics or is cancelled releases them, and one of them
//! leads again.

#[cfg(feature = "async")]
use std::future::{poll_fn, Future};
#[cfg(feature = "async")]
use std::task::Poll;
use std::task::Waker;

use super::*;

/// One computation in progress: the leader fills it, followers wait.
pub(super) struct Flight<V> {
    /// The thread running a blocking computation; `None` for a task, which may move
    /// between threads.
    leader: Option<std::thread::ThreadId>,
    state: Mutex<FlightState<V>>,
    done: Condvar,
}

struct FlightState<V> {
    /// `None` while running; `Some(Some(v))` done; `Some(None)` failed or abandoned.
    outcome: Option<Option<Arc<V>>>,
    /// Tasks awaiting the outcome.
    wakers: Vec<Waker>,
}

impl<V> Flight<V> {
    fn new(leader: Option<std::thread::ThreadId>) -> Self {
        Flight {
            leader,
            state: Mutex::new(FlightState {
                outcome: None,
                wakers: Vec::new(),
            }),
            done: Condvar::new(),
        }
    }

    fn finish(&self, outcome: Option<Arc<V>>) {
        let wakers = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if state.outcome.is_none() {
                state.outcome = Some(outcome);
            }
            std::mem::take(&mut state.wakers)
        };
        self.done.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The leader's value, blocking until it is there. `None` when the leader failed.
    fn wait(&self) -> Option<Arc<V>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(outcome) = &state.outcome {
                return outcome.clone();
            }
            state = self.done.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The leader's value, awaited. `None` when the leader failed.
    #[cfg(feature = "async")]
    fn wait_async(&self) -> impl Future<Output = Option<Arc<V>>> + '_ {
        poll_fn(|cx| {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(outcome) = &state.outcome {
                return Poll::Ready(outcome.clone());
            }
            if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                state.wakers.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }
}

/// What a caller that missed a key does.
enum Role<'a, K: CacheKey, V: Cacheable> {
    /// Computes the value.
    Lead(Leader<'a, K, V>),
    /// Waits for the leader's value.
    Follow(Arc<Flight<V>>),
    /// Computes without single-flight: the leader's own computation asked for its key,
    /// and waiting would wait for itself.
    Reentered,
}

/// Where a caller's turn leaves it (see `Inner::turn`).
enum Turn<'a, K: CacheKey, V: Cacheable> {
    Found(Arc<V>),
    Wait(Arc<Flight<V>>),
    /// Compute the value, and hand it to the followers of the flight if leading one.
    Compute(Option<Leader<'a, K, V>>),
}

/// Held by the leader of a flight. Dropping it (also by a panic or a cancelled task)
/// releases the followers and retires the flight.
struct Leader<'a, K: CacheKey, V: Cacheable> {
    inner: &'a Inner<K, V>,
    key: &'a K,
    flight: Arc<Flight<V>>,
}

impl<K: CacheKey, V: Cacheable> Leader<'_, K, V> {
    /// Hands `value` to the followers.
    fn finish(self, value: &Arc<V>) {
        self.flight.finish(Some(Arc::clone(value)));
    }
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

impl<K: CacheKey, V: Cacheable> Inner<K, V> {
    /// Leads the flight of `key`, or joins the one in progress.
    fn join_flight<'a>(&'a self, key: &'a K, me: Option<std::thread::ThreadId>) -> Role<'a, K, V> {
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        match flights.get(key) {
            Some(flight) if me.is_some() && flight.leader == me => Role::Reentered,
            Some(flight) => Role::Follow(Arc::clone(flight)),
            None => {
                let flight = Arc::new(Flight::new(me));
                flights.insert(key.clone(), Arc::clone(&flight));
                Role::Lead(Leader {
                    inner: self,
                    key,
                    flight,
                })
            }
        }
    }

    /// One turn of a caller that has just missed `key` in memory: a value found, a flight
    /// to wait for, or a value to compute (leading a flight, or re-entered from one).
    fn turn<'a>(&'a self, key: &'a K, me: Option<std::thread::ThreadId>) -> Turn<'a, K, V> {
        match self.join_flight(key, me) {
            Role::Reentered => Turn::Compute(None),
            Role::Follow(flight) => Turn::Wait(flight),
            Role::Lead(leader) => {
                // The previous leader may have finished between our miss and our lead, or
                // the value is below memory.
                let found = self
                    .get_memory(key)
                    .or_else(|| self.get_below(key, true).unwrap_or_default());
                match found {
                    Some(value) => {
                        leader.finish(&value);
                        Turn::Found(value)
                    }
                    None => Turn::Compute(Some(leader)),
                }
            }
        }
    }

    /// Stores what a turn computed and hands it to the followers.
    fn computed(&self, key: &K, value: V, leader: Option<Leader<'_, K, V>>) -> Arc<V> {
        let value = self.store_computed(key.clone(), value);
        if let Some(leader) = leader {
            leader.finish(&value);
        }
        value
    }

    /// A follower's value, counted as a hit.
    fn shared(&self, value: Arc<V>) -> Arc<V> {
        Counters::bump(&self.counters.shared_hits);
        value
    }

    /// As [`Inner::get_with`], by value: a hit clones the value (held inline in memory
    /// when it is small, so that the hit touches no reference count).
    #[inline]
    pub(super) fn get_with_owned<E>(
        &self,
        key: K,
        init: impl FnOnce(&K) -> std::result::Result<V, E>,
        clone: fn(&V) -> V,
    ) -> std::result::Result<V, E> {
        if let Some(value) = self.get_memory_owned(&key, clone) {
            return Ok(value);
        }
        self.memory.hold_inline(clone);
        self.get_with(key, init).map(|value| clone(&value))
    }

    /// The value of `key`, computed by `init` (given the key) once however many threads
    /// ask.
    pub(super) fn get_with<E>(
        &self,
        key: K,
        init: impl FnOnce(&K) -> std::result::Result<V, E>,
    ) -> std::result::Result<Arc<V>, E> {
        let mut me = None;
        loop {
            if let Some(value) = self.get_memory(&key) {
                return Ok(value);
            }
            // Only a miss asks which thread this is.
            let me = *me.get_or_insert_with(|| std::thread::current().id());
            match self.turn(&key, Some(me)) {
                Turn::Found(value) => return Ok(value),
                Turn::Wait(flight) => {
                    // `None`: the leader failed; try again, perhaps as the leader.
                    if let Some(value) = flight.wait() {
                        return Ok(self.shared(value));
                    }
                }
                Turn::Compute(leader) => return Ok(self.computed(&key, init(&key)?, leader)),
            }
        }
    }

    /// The value of `key`, computed by awaiting what `init` (given the key) returns, once
    /// however many tasks (or threads) ask. What touches a persistent tier (the leader's
    /// look below memory, and the store of what it computed) runs on `blocking`'s thread
    /// pool, so the executor's thread keeps running its other tasks meanwhile.
    #[cfg(feature = "async")]
    pub(super) async fn get_with_async<E, F>(
        self: &Arc<Self>,
        key: K,
        init: impl FnOnce(&K) -> F,
    ) -> std::result::Result<Arc<V>, E>
    where
        F: Future<Output = std::result::Result<V, E>>,
    {
        loop {
            if let Some(value) = self.get_memory(&key) {
                return Ok(value);
            }
            // A task may move between threads: no thread is named as the leader (so none
            // is re-entered), and a task that asks for its own key waits for itself.
            let leader = match self.join_flight(&key, None) {
                Role::Lead(leader) => Some(leader),
                Role::Reentered => None,
                Role::Follow(flight) => match flight.wait_async().await {
                    Some(value) => return Ok(self.shared(value)),
                    None => continue, // the leader failed: try again, perhaps leading
                },
            };
            // The previous leader may have finished between our miss and our lead, or the
            // value is below memory.
            let found = match self.get_memory(&key) {
                Some(value) => Some(value),
                None => self.get_below_off_thread(&key).await,
            };
            let value = match found {
                Some(value) => value,
                None => {
                    let value = init(&key).await?;
                    self.store_computed_off_thread(key.clone(), value).await
                }
            };
            if let Some(leader) = leader {
                leader.finish(&value);
            }
            return Ok(value);
        }
    }

    /// [`Inner::get_below`], on the blocking pool when a persistent tier may be read.
    #[cfg(feature = "async")]
    async fn get_below_off_thread(self: &Arc<Self>, key: &K) -> Option<Arc<V>> {
        if self.persistent_tiers().is_empty() {
            return self.get_below(key, true).unwrap_or_default(); // counts the miss
        }
        let (inner, key) = (Arc::clone(self), key.clone());
        blocking::unblock(move || inner.get_below(&key, true).unwrap_or_default()).await
    }

    /// [`Inner::store_computed`], on the blocking pool when the cache has a persistent
    /// tier.
    #[cfg(feature = "async")]
    async fn store_computed_off_thread(self: &Arc<Self>, key: K, value: V) -> Arc<V> {
        // A value for memory still removes older values of its key below, if any tier
        // may hold one: that is I/O too.
        if self.persistent_tiers().is_empty() {
            return self.store_computed(key, value);
        }
        let inner = Arc::clone(self);
        blocking::unblock(move || inner.store_computed(key, value)).await
    }
}
