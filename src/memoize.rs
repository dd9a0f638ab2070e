//! The runtime of `#[memoize]`: one [`Memo`] per memoized function, built lazily in a
//! static by the generated code, holding the function's [`SmartCache`], and [`MemoKey`],
//! what the generated code calls on it. Calls go through the cache's single-flight, for
//! `fn` and `async fn` alike.
//!
//! A memoized function's persisted results are tied to the function's code: the macro
//! hashes the function's tokens (and its `version`), and [`Memo::new`] puts that
//! fingerprint before every stored key. Results of another version of the code are never
//! read (as joblib recomputes when a function's source changes), and are not cleared
//! either: two builds run side by side keep their own results, and old versions' go as
//! the tiers' capacity and time to live reclaim them.

use std::any::Any;
use std::convert::Infallible;
#[cfg(feature = "async")]
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::{CacheConfig, CacheKey, Cacheable, SmartCache, Tier};

/// A memoized function's cache. Built by the code `#[memoize]` generates.
#[doc(hidden)]
pub struct Memo<K, V> {
    cache: SmartCache<K, V>,
}

impl<K, V> Memo<K, V> {
    /// The function's cache.
    #[inline]
    pub fn cache(&self) -> &SmartCache<K, V> {
        &self.cache
    }
}

/// Why a result was not stored: the function returned `None`.
#[doc(hidden)]
pub struct NotCached;

impl<K: CacheKey, V: Cacheable> Memo<K, V> {
    /// The cache of a function whose code has fingerprint `fingerprint`, on `config`.
    /// Never fails: a cache whose storage cannot be used still computes every result
    /// (the failure is logged with `tracing` and counted in its stats).
    /// `persistent` is false for a function whose results stay in memory: it never
    /// touches storage. `by_value` when the function returns values (not `Arc`s), which
    /// a hit clones: its memory tier then holds small ones inline.
    pub fn new(config: CacheConfig, fingerprint: u64, persistent: bool, by_value: bool) -> Self {
        // Storage opens on first use; failures then are logged and counted, and the
        // function still returns what it computes. Every stored key carries the code's fingerprint: results of other versions of
        // the code (another build, another process) are never read, and stay until age
        // or capacity reclaims them.
        let mut config = config;
        if persistent {
            config.key_version = Some(fingerprint);
        }
        let cache = SmartCache::lazy(config, by_value);
        if persistent && cache.path().is_some() {
            // A memo lives in a static, which is never dropped: flush it when the
            // process exits instead.
            let handle = cache.clone();
            exit::flush_at_exit(Box::new(move || {
                if let Err(e) = handle.flush() {
                    tracing::warn!(error = %e, "#[memoize]: cannot flush at exit");
                }
            }));
        }
        Memo { cache }
    }
}

mod exit {
    //! Flushing the persistent memos when the process exits normally (returns from
    //! `main` or calls `std::process::exit`): sled writes back every 500 ms, and a
    //! short-lived process would otherwise lose its last results.

    use std::sync::{Mutex, Once, PoisonError};

    type Flush = Box<dyn Fn() + Send>;

    static FLUSHES: Mutex<Vec<Flush>> = Mutex::new(Vec::new());

    /// Runs `flush` when the process exits normally.
    pub(super) fn flush_at_exit(flush: Flush) {
        FLUSHES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(flush);
        install();
    }

    #[cfg(unix)]
    #[allow(unsafe_code)]
    fn install() {
        static INSTALLED: Once = Once::new();
        INSTALLED.call_once(|| {
            // SAFETY: `flush_all` is a plain `extern "C" fn` with no arguments, as
            // `atexit` requires, and it never unwinds (it catches panics).
            let result = unsafe { libc::atexit(flush_all) };
            if result != 0 {
                tracing::warn!("#[memoize]: cannot register the flush at exit");
            }
        });
    }

    #[cfg(not(unix))]
    fn install() {}

    #[cfg(unix)]
    extern "C" fn flush_all() {
        let _ = std::panic::catch_unwind(|| {
            let flushes = FLUSHES.lock().unwrap_or_else(PoisonError::into_inner);
            for flush in flushes.iter() {
                flush();
            }
        });
    }
}

/// The default namespace of a memoized function: its module path and name, as a
/// folder name (`my_crate.geometry.area`).
#[doc(hidden)]
pub fn namespace(module_path: &str, function: &str) -> String {
    let mut name = module_path.replace("::", ".");
    name.push('.');
    name.push_str(function);
    name.retain(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    name
}

/// `config` with the defaults of a memoized function where it sets nothing: the
/// function's namespace, and the lightest memory reads ([`Eviction::ClockPro`]).
///
/// [`Eviction::ClockPro`]: crate::Eviction::ClockPro
#[doc(hidden)]
pub fn memo_defaults(mut config: CacheConfig, module_path: &str, function: &str) -> CacheConfig {
    if config.namespace.is_none() {
        config = config.namespace(namespace(module_path, function));
    }
    if config.eviction.is_none() {
        config = config.eviction(crate::Eviction::ClockPro);
    }
    config
}

/// What the code `#[memoize]` writes calls on its memo, for a key type `Self`.
///
/// Every item the macro writes carries the where clauses `Key: MemoKey` and
/// `Value: Cacheable` (spanned at the function's arguments and result), and calls nothing
/// else that needs those bounds. An argument that cannot be part of a key, or a result
/// that cannot be cached, is then one error there (identical errors are reported once),
/// instead of one for each use.
///
/// The key is built by moving the arguments into it; a computation gets the key and
/// takes its own copies of the arguments with [`MemoKey::clone_key`], so that a hit
/// clones nothing.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the key of a memoized function",
    label = "the key: every argument but `&self` and `ignore`d ones, as owned values",
    note = "each needs Hash + Eq + Clone + Serialize + Send + Sync + 'static; leave an argument out with `ignore = [..]`, or build the key yourself with `key = <expr>: <Type>`"
)]
pub trait MemoKey: Sized {
    /// The memo in `cell`, built on first use from `config`.
    fn memo<V: Cacheable>(
        cell: &'static OnceLock<Memo<Self, V>>,
        config: impl FnOnce() -> CacheConfig,
        fingerprint: u64,
        persistent: bool,
        by_value: bool,
    ) -> &'static Memo<Self, V>;

    /// As [`MemoKey::memo`] for a key that names `Self` (a method keyed by its
    /// instance), whose memo cannot be the type of a static.
    fn memo_in<V: Cacheable>(
        cell: &'static MemoCell,
        config: impl FnOnce() -> CacheConfig,
        fingerprint: u64,
        persistent: bool,
        by_value: bool,
    ) -> &'static Memo<Self, V>;

    /// A copy of the key (for the computation's own arguments).
    fn clone_key(&self) -> Self;

    /// Stores `value` as the result of `key` in place of any other (`<fn>_refresh`): a
    /// storage failure is logged and counted, and the value returned all the same.
    fn store<V: Cacheable>(memo: &Memo<Self, V>, key: Self, value: V) -> Arc<V>;

    /// Stores `value` as the result of `key` (`<fn>_prime`), returning its tier.
    fn prime<V: Cacheable>(memo: &Memo<Self, V>, key: Self, value: V) -> crate::Result<Tier>;

    /// The value of `key`, computed by `f` once (whatever the number of callers).
    fn call<V: Cacheable>(memo: &Memo<Self, V>, key: Self, f: impl FnOnce(&Self) -> V) -> Arc<V>;

    /// As [`MemoKey::call`] for a function returning `Result`: an `Err` is returned, not
    /// stored.
    fn call_result<V: Cacheable, E>(
        memo: &Memo<Self, V>,
        key: Self,
        f: impl FnOnce(&Self) -> Result<V, E>,
    ) -> Result<Arc<V>, E>;

    /// As [`MemoKey::call`] for a function returning `Option`: `None` is returned, not
    /// stored.
    fn call_option<V: Cacheable>(
        memo: &Memo<Self, V>,
        key: Self,
        f: impl FnOnce(&Self) -> Option<V>,
    ) -> Option<Arc<V>>;

    /// As [`MemoKey::call_result`], by value: a hit clones the cached value (small ones
    /// are held inline, so a hit touches no reference count).
    fn call_result_owned<V: Cacheable + MemoClone, E>(
        memo: &Memo<Self, V>,
        key: Self,
        f: impl FnOnce(&Self) -> Result<V, E>,
    ) -> Result<V, E>;

    /// As [`MemoKey::call`], by value.
    #[inline]
    fn call_owned<V: Cacheable + MemoClone>(
        memo: &Memo<Self, V>,
        key: Self,
        f: impl FnOnce(&Self) -> V,
    ) -> V {
        match Self::call_result_owned(memo, key, |k| Ok::<V, Infallible>(f(k))) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// As [`MemoKey::call_option`], by value.
    #[inline]
    fn call_option_owned<V: Cacheable + MemoClone>(
        memo: &Memo<Self, V>,
        key: Self,
        f: impl FnOnce(&Self) -> Option<V>,
    ) -> Option<V> {
        Self::call_result_owned(memo, key, |k| f(k).ok_or(NotCached)).ok()
    }

    /// The value of `key`, computed by awaiting what `f` returns once however many tasks
    /// ask.
    #[cfg(feature = "async")]
    fn call_async<V: Cacheable, F: Future<Output = V>>(
        memo: &Memo<Self, V>,
        key: Self,
        f: impl FnOnce(&Self) -> F,
    ) -> impl Future<Output = Arc<V>>;

    /// As [`MemoKey::call_async`] for an `async fn` returning `Result`: an `Err` is
    /// returned to its caller, not stored; tasks waiting on it compute again.
    #[cfg(feature = "async")]
    fn call_async_result<V: Cacheable, E, F: Future<Output = Result<V, E>>>(
        memo: &Memo<Self, V>,
        key: Self,
        f: impl FnOnce(&Self) -> F,
    ) -> impl Future<Output = Result<Arc<V>, E>>;

    /// As [`MemoKey::call_async`] for an `async fn` returning `Option`.
    #[cfg(feature = "async")]
    fn call_async_option<V: Cacheable, F: Future<Output = Option<V>>>(
        memo: &Memo<Self, V>,
        key: Self,
        f: impl FnOnce(&Self) -> F,
    ) -> impl Future<Output = Option<Arc<V>>>;
}

// Not recommended, so that a type that is not a key gets the one message above instead
// of an error for each bound it misses.
#[diagnostic::do_not_recommend]
impl<K: CacheKey> MemoKey for K {
    #[inline]
    fn memo<V: Cacheable>(
        cell: &'static OnceLock<Memo<K, V>>,
        config: impl FnOnce() -> CacheConfig,
        fingerprint: u64,
        persistent: bool,
        by_value: bool,
    ) -> &'static Memo<K, V> {
        cell.get_or_init(|| Memo::new(config(), fingerprint, persistent, by_value))
    }

    #[inline]
    fn memo_in<V: Cacheable>(
        cell: &'static MemoCell,
        config: impl FnOnce() -> CacheConfig,
        fingerprint: u64,
        persistent: bool,
        by_value: bool,
    ) -> &'static Memo<K, V> {
        cell.get_or_init(|| Memo::new(config(), fingerprint, persistent, by_value))
    }

    #[inline]
    fn clone_key(&self) -> K {
        self.clone()
    }

    fn store<V: Cacheable>(memo: &Memo<K, V>, key: K, value: V) -> Arc<V> {
        memo.cache.store_computed(key, value)
    }

    fn prime<V: Cacheable>(memo: &Memo<K, V>, key: K, value: V) -> crate::Result<Tier> {
        memo.cache.insert(key, value)
    }

    #[inline]
    fn call<V: Cacheable>(memo: &Memo<K, V>, key: K, f: impl FnOnce(&K) -> V) -> Arc<V> {
        match memo
            .cache
            .try_get_with_key(key, |k| Ok::<V, Infallible>(f(k)))
        {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    #[inline]
    fn call_result<V: Cacheable, E>(
        memo: &Memo<K, V>,
        key: K,
        f: impl FnOnce(&K) -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        memo.cache.try_get_with_key(key, f)
    }

    #[inline]
    fn call_option<V: Cacheable>(
        memo: &Memo<K, V>,
        key: K,
        f: impl FnOnce(&K) -> Option<V>,
    ) -> Option<Arc<V>> {
        memo.cache
            .try_get_with_key(key, |k| f(k).ok_or(NotCached))
            .ok()
    }

    #[inline]
    fn call_result_owned<V: Cacheable + MemoClone, E>(
        memo: &Memo<K, V>,
        key: K,
        f: impl FnOnce(&K) -> Result<V, E>,
    ) -> Result<V, E> {
        memo.cache.try_get_with_key_owned(key, f, V::clone_result)
    }

    #[cfg(feature = "async")]
    async fn call_async<V: Cacheable, F: Future<Output = V>>(
        memo: &Memo<K, V>,
        key: K,
        f: impl FnOnce(&K) -> F,
    ) -> Arc<V> {
        let computed = |k: &K| {
            let future = f(k);
            async { Ok::<V, Infallible>(future.await) }
        };
        match memo.cache.try_get_with_async(key, computed).await {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    #[cfg(feature = "async")]
    async fn call_async_result<V: Cacheable, E, F: Future<Output = Result<V, E>>>(
        memo: &Memo<K, V>,
        key: K,
        f: impl FnOnce(&K) -> F,
    ) -> Result<Arc<V>, E> {
        memo.cache.try_get_with_async(key, f).await
    }

    #[cfg(feature = "async")]
    async fn call_async_option<V: Cacheable, F: Future<Output = Option<V>>>(
        memo: &Memo<K, V>,
        key: K,
        f: impl FnOnce(&K) -> F,
    ) -> Option<Arc<V>> {
        let computed = |k: &K| {
            let future = f(k);
            async { future.await.ok_or(NotCached) }
        };
        memo.cache.try_get_with_async(key, computed).await.ok()
    }
}

/// The memos of a method keyed by its instance (`Self` is part of the key). A static
/// cannot name `Self`, and in a generic `impl` one function is compiled for every `Self`:
/// the cell holds one memo for each, found by type. The first one built is read without
/// a lock.
#[doc(hidden)]
pub struct MemoCell {
    first: OnceLock<&'static (dyn Any + Send + Sync)>,
    all: Mutex<Vec<&'static (dyn Any + Send + Sync)>>,
}

impl MemoCell {
    /// An empty cell, for a static.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        MemoCell {
            first: OnceLock::new(),
            all: Mutex::new(Vec::new()),
        }
    }

    /// The memo of type `M`, built by `init` on first use. Memos live as long as the
    /// program (as a static's do).
    #[inline]
    fn get_or_init<M: Any + Send + Sync>(&'static self, init: impl FnOnce() -> M) -> &'static M {
        match self.first.get().and_then(|memo| memo.downcast_ref::<M>()) {
            Some(memo) => memo,
            None => self.find_or_init(init),
        }
    }

    #[cold]
    fn find_or_init<M: Any + Send + Sync>(&'static self, init: impl FnOnce() -> M) -> &'static M {
        let mut all = self.all.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(memo) = all.iter().find_map(|memo| memo.downcast_ref::<M>()) {
            return memo;
        }
        let memo: &'static M = Box::leak(Box::new(init()));
        all.push(memo);
        // Only the first memo built is kept here; the others are found in `all`.
        let _ = self.first.set(memo);
        memo
    }
}

/// The key of a memoized method that reads `self`: its instance (of type `S`, first)
/// and its arguments. Bound like [`MemoKey`], which it implies, so that an instance or
/// an argument that cannot be part of the key is one error that names the fixes.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the key of a memoized method: it reads `self`, so its instance is part of the key",
    label = "the key: `self` and the arguments, as owned values",
    note = "results of one instance must not be served to another: say which part of `self` decides the result with `key = (self.id, ..): (..)`, or share results among all instances with `ignore = [self]` (`ignore = [..]` leaves an argument out too); or make `{S}` and the arguments keys (Hash + Eq + Clone + Serialize + Send + Sync + 'static)"
)]
pub trait InstanceKey<S>: MemoKey {
    /// The instance's part of the key.
    fn instance(instance: &S) -> S;
}

// Not recommended: the message above, not CacheKey's.
#[diagnostic::do_not_recommend]
impl<K: CacheKey, S: Clone> InstanceKey<S> for K {
    #[inline]
    fn instance(instance: &S) -> S {
        instance.clone()
    }
}

/// A result that a memoized function returns by value: a hit hands back a clone of the
/// cached value. Bound like [`MemoKey`], so that a result that cannot be cloned is one
/// error that says what to do.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is returned by value from a memoized function, so it must be Clone",
    label = "a hit hands back a clone of the cached value",
    note = "derive or implement Clone for it, or return Arc<{Self}>: a hit then shares the cached value"
)]
pub trait MemoClone {
    /// A copy of the cached value, for the caller.
    fn clone_result(&self) -> Self;
}

// Not recommended: the message above, not Clone's.
#[diagnostic::do_not_recommend]
impl<T: Clone> MemoClone for T {
    #[inline]
    fn clone_result(&self) -> T {
        self.clone()
    }
}

/// Whether a memoized function may send its results of type `V` to `tier`: always,
/// unless `V` pins another tier. Evaluated at compile time by `#[memoize(tier = ..)]`.
#[doc(hidden)]
pub const fn tier_allows<V: Cacheable>(tier: Tier) -> bool {
    match V::PLACEMENT {
        crate::Placement::Pinned(pinned) => pinned as u8 == tier as u8,
        _ => true,
    }
}
