//! `#[memoize]` on an `async fn` keeps the executor's thread free: what touches a
//! persistent tier runs on a thread pool, so on a one-thread runtime a timer task keeps
//! ticking while a 128 MiB result is stored and read back. Alone in its binary, so that
//! no other test competes for the two cores while lateness is measured.
#![cfg(feature = "async")]

mod common;

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use common::static_storage;
use smartcache::prelude::*;

/// Storage of this process's memoized function.
fn storage() -> std::path::PathBuf {
    static STORAGE: std::sync::LazyLock<std::path::PathBuf> =
        std::sync::LazyLock::new(|| static_storage("async_runtime"));
    STORAGE.clone()
}

/// Bytes of the large result: above `promote_max`, so it is read from its file each
/// time.
const LARGE_RESULT: usize = 128 << 20;

/// An `Arc` result, shared rather than copied on return: only the cache's own work is
/// measured (and the body's runs off the runtime too).
#[memoize(tier = "file", dir = storage(), namespace = "large")]
async fn large(seed: u8) -> std::sync::Arc<Vec<u8>> {
    let value = tokio::task::spawn_blocking(move || vec![seed; LARGE_RESULT]);
    std::sync::Arc::new(value.await.expect("fill the result"))
}

/// A task that wakes every millisecond, until `stop`, and returns how late it woke at
/// worst.
async fn ticker(stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Duration {
    let mut worst = Duration::ZERO;
    while !stop.load(SeqCst) {
        let asked = std::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(1)).await;
        worst = worst.max(asked.elapsed().saturating_sub(Duration::from_millis(1)));
    }
    worst
}

/// Reading and writing a large persisted result happen off the runtime's thread: on a
/// one-thread runtime, a timer task keeps ticking meanwhile.
#[test]
fn a_large_persisted_result_is_read_without_blocking_the_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for first in [true, false] {
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let ticks = tokio::spawn(ticker(std::sync::Arc::clone(&stop)));
            tokio::task::yield_now().await;
            let started = std::time::Instant::now();
            let value = large(7).await;
            let took = started.elapsed();
            stop.store(true, SeqCst);
            let worst = ticks.await.expect("ticker");
            assert_eq!(value.len(), LARGE_RESULT);
            assert!(value.iter().all(|&b| b == 7));
            let what = if first { "computing and storing" } else { "reading" };
            // The call took long enough that blocking the thread would have shown.
            assert!(took > Duration::from_millis(100), "{what} took only {took:?}");
            assert!(
                worst < Duration::from_millis(20),
                "{what} the result ({took:?}) held the runtime's thread up: a tick came {worst:?} late"
            );
        }
        let stats = large_cache().stats();
        assert_eq!(stats.file.hits, 1, "{stats}");
    });
    std::fs::remove_dir_all(storage()).expect("remove the storage");
}
