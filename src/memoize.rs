//! The runtime of `#[memoize]`: one [`Memo`] per memoized function, built lazily in a
//! static by the generated code, holding the function's [`SmartCache`]. Calls go through
//! the cache's single-flight, for `fn` and `async fn` alike.
//!
//! A memoized function's persisted results are tied to the function's code: the macro
//! hashes the function's tokens (and its `version`), and [`Memo::new`] clears the
//! function's storage when it finds results written by another version of the code, as
//! joblib does when a function's source changes.

use std::path::Path;
use std::sync::Arc;

use crate::{CacheConfig, CacheKey, Cacheable, SmartCache, Tier};

/// Name of the file, in a memoized function's namespace folder, that records which
/// version of the function's code wrote the results there.
const FINGERPRINT_FILE: &str = "memoize.fingerprint";

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
    /// touches storage.
    pub fn new(config: CacheConfig, fingerprint: u64, persistent: bool) -> Self {
        // Storage opens on first use; failures then are logged and counted, and the
        // function still returns what it computes.
        let cache = SmartCache::lazy(config);
        if let Some(dir) = cache.path().filter(|_| persistent) {
            if let Err(e) = check_fingerprint(&cache, dir, fingerprint) {
                tracing::warn!(dir = %dir.display(), error = %e, "#[memoize]: cannot check which code wrote the stored results");
            }
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

    /// The value of `key`, computed by `f` once (whatever the number of callers).
    #[inline]
    pub fn call(&self, key: K, f: impl FnOnce() -> V) -> Arc<V> {
        self.cache.get_with(key, f)
    }

    /// As [`Memo::call`] for a function returning `Result`: an `Err` is returned, not
    /// stored.
    #[inline]
    pub fn call_result<E>(&self, key: K, f: impl FnOnce() -> Result<V, E>) -> Result<Arc<V>, E> {
        self.cache.try_get_with(key, f)
    }

    /// As [`Memo::call`] for a function returning `Option`: `None` is returned, not
    /// stored.
    #[inline]
    pub fn call_option(&self, key: K, f: impl FnOnce() -> Option<V>) -> Option<Arc<V>> {
        self.cache.try_get_with(key, || f().ok_or(NotCached)).ok()
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

/// Clears the function's storage if another version of its code wrote it, and records
/// this version.
fn check_fingerprint<K: CacheKey, V: Cacheable>(
    cache: &SmartCache<K, V>,
    dir: &Path,
    fingerprint: u64,
) -> crate::Result<()> {
    let path = dir.join(FINGERPRINT_FILE);
    let want = format!("{fingerprint:016x}\n");
    match std::fs::read_to_string(&path) {
        Ok(found) if found == want => return Ok(()),
        Ok(_) => {
            tracing::info!(dir = %dir.display(), "#[memoize]: the function changed since its results were stored; clearing them");
            cache.clear()?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(crate::CacheError::io(Tier::File, &path, e)),
    }
    crate::paths::ensure_usable_dir(dir, cache.config().secure)?;
    let tmp = dir.join(format!("{FINGERPRINT_FILE}.{}", std::process::id()));
    std::fs::write(&tmp, want)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| crate::CacheError::io(Tier::File, &path, e))
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

/// Proves at compile time that an argument can be part of a key (the macro places
/// the call on the argument's type, so the error points there).
#[doc(hidden)]
#[inline(always)]
pub const fn assert_key<K: CacheKey>() {}

/// Proves at compile time that a result can be cached.
#[doc(hidden)]
#[inline(always)]
pub const fn assert_value<V: Cacheable>() {}

#[cfg(feature = "async")]
impl<K: CacheKey, V: Cacheable> Memo<K, V> {
    /// The value of `key`, computed by `f` once however many tasks ask.
    pub async fn call_async(&self, key: K, f: impl std::future::Future<Output = V>) -> Arc<V> {
        let computed = async { Ok::<V, std::convert::Infallible>(f.await) };
        match self.cache.try_get_with_async(key, computed).await {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// As [`Memo::call_async`] for an `async fn` returning `Option`.
    pub async fn call_async_option(
        &self,
        key: K,
        f: impl std::future::Future<Output = Option<V>>,
    ) -> Option<Arc<V>> {
        let computed = async { f.await.ok_or(NotCached) };
        self.cache.try_get_with_async(key, computed).await.ok()
    }

    /// As [`Memo::call_async`] for an `async fn` returning `Result`: an `Err` is
    /// returned to its caller, not stored; tasks waiting on it compute again.
    pub async fn call_async_result<E>(
        &self,
        key: K,
        f: impl std::future::Future<Output = Result<V, E>>,
    ) -> Result<Arc<V>, E> {
        self.cache.try_get_with_async(key, f).await
    }
}
