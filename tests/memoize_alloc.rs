//! A memoized hit allocates nothing of its own when the arguments are `Copy`, and copies
//! no argument taken by value: counted by a global allocator that this test binary
//! installs, against moka's reads alone (whose periodic maintenance allocates a little,
//! amortized).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use smartcache::prelude::*;

/// The system allocator, counting allocations while `COUNTING` is set.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// The counter counts every thread: the tests take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(SeqCst) {
            ALLOCATIONS.fetch_add(1, SeqCst);
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[memoize(tier = "memory")]
fn mix(a: u64, b: u32) -> u64 {
    a.rotate_left(b % 64) ^ 0x9E37_79B9_7F4A_7C15
}

#[test]
fn a_hit_with_copy_arguments_allocates_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for i in 0..100u64 {
        mix(i, 7);
    }
    // A first round of hits, uncounted, lets the memory tier settle its bookkeeping.
    for i in 0..100u64 {
        mix(i, 7);
    }
    COUNTING.store(true, SeqCst);
    let mut sum = 0u64;
    for round in 0..10 {
        for i in 0..100u64 {
            sum = sum.wrapping_add(mix(i, 7));
        }
        let _ = round;
    }
    COUNTING.store(false, SeqCst);
    assert_ne!(sum, 0);
    let ours = ALLOCATIONS.swap(0, SeqCst);
    // The same reads on moka alone, for comparison.
    let moka: moka::sync::Cache<(u64, u32), std::sync::Arc<u64>> = moka::sync::Cache::new(10_000);
    for i in 0..100u64 {
        moka.insert((i, 7), std::sync::Arc::new(i));
    }
    for i in 0..100u64 {
        moka.get(&(i, 7));
    }
    COUNTING.store(true, SeqCst);
    for _ in 0..10 {
        for i in 0..100u64 {
            sum = sum.wrapping_add(*moka.get(&(i, 7)).expect("hit"));
        }
    }
    COUNTING.store(false, SeqCst);
    let moka_alone = ALLOCATIONS.load(SeqCst);
    // The memory tier's own maintenance (moka's, run every so many reads) allocates a
    // little, amortized; the memoized call adds nothing per hit on top of it.
    assert!(
        ours <= moka_alone + 5 && ours < 20,
        "{ours} allocations in 1000 memoized hits, {moka_alone} in 1000 moka reads"
    );
    assert!(mix_cache().stats().hits >= 1000);
}

#[memoize(tier = "memory")]
fn word_length(word: String) -> usize {
    word.len()
}

/// An argument taken by value moves into the key: a hit does not copy it (a `String`
/// argument was cloned for the key on every call).
#[test]
fn a_hit_does_not_copy_an_owned_argument() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    ALLOCATIONS.store(0, SeqCst);
    let words = || (0..100).map(|i| format!("word number {i}"));
    for _ in 0..2 {
        for word in words() {
            word_length(word);
        }
    }
    let batches: Vec<Vec<String>> = (0..10).map(|_| words().collect()).collect();
    COUNTING.store(true, SeqCst);
    let mut total = 0;
    for batch in batches {
        for word in batch {
            total += word_length(word);
        }
    }
    COUNTING.store(false, SeqCst);
    let allocations = ALLOCATIONS.swap(0, SeqCst);
    assert!(total > 0);
    // 1000 hits: a clone of each argument would be 1000 allocations; moka's own
    // maintenance makes a few dozen at most, amortized.
    assert!(
        allocations < 200,
        "{allocations} allocations in 1000 memoized hits with a String argument"
    );
}

/// A lookup of a `String` key by `&str` allocates no `String` (`get` takes any borrowed
/// form of the key).
#[test]
fn a_memory_hit_by_str_allocates_no_string() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let cache: SmartCache<String, u64> = CacheConfig::temporary()
        .tier(Tier::Memory)
        .build()
        .expect("build");
    let names: Vec<String> = (0..100).map(|i| format!("key {i}")).collect();
    for (i, name) in names.iter().enumerate() {
        cache.insert(name.clone(), i as u64).expect("insert");
    }
    // Warm up, and let the memory tier apply its pending writes before counting.
    for _ in 0..3 {
        for name in &names {
            cache.get(name.as_str());
        }
    }
    let _ = cache.stats();
    ALLOCATIONS.store(0, SeqCst);
    COUNTING.store(true, SeqCst);
    let mut sum = 0;
    for _ in 0..10 {
        for name in &names {
            sum += *cache.get(name.as_str()).expect("hit");
        }
    }
    COUNTING.store(false, SeqCst);
    let allocations = ALLOCATIONS.swap(0, SeqCst);
    assert_eq!(sum, 10 * (0..100).sum::<u64>());
    // A String per lookup would be 1000 allocations; the memory tier's own maintenance
    // (moka's, with expiry and eviction listeners) makes a few dozen, amortized.
    assert!(
        allocations < 200,
        "{allocations} allocations in 1000 memory hits by &str"
    );
}
