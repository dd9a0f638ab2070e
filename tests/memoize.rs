//! `#[memoize]`: every option, methods, `Option`/`Result`/`Arc` returns, the companions,
//! single-flight across threads and tasks, results shared across processes through the
//! file and sled tiers, and invalidation when a function's code changes.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use common::*;
use smartcache::prelude::*;

/// Storage for the persistent memoized functions of this test process: the folder a
/// parent hands its child, else a temporary folder of this process.
fn storage() -> PathBuf {
    static STORAGE: LazyLock<PathBuf> = LazyLock::new(|| static_storage("memoize"));
    STORAGE.clone()
}

static SQUARES: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory")]
fn square(x: u64) -> u64 {
    SQUARES.fetch_add(1, SeqCst);
    x * x
}

#[test]
fn a_result_is_computed_once_then_served() {
    assert_eq!(square(12), 144);
    assert_eq!(square(12), 144);
    assert_eq!(square(13), 169);
    assert_eq!(SQUARES.load(SeqCst), 2);
    assert_eq!(square_uncached(12), 144);
    assert_eq!(
        SQUARES.load(SeqCst),
        3,
        "the uncached companion always runs the body"
    );
    let cache = square_cache();
    assert_eq!(cache.get(&12).as_deref(), Some(&144));
    assert!(cache.remove(&12).expect("remove"));
    assert_eq!(square(12), 144);
    assert_eq!(SQUARES.load(SeqCst), 4);
    assert!(cache.stats().hits >= 2, "{}", cache.stats());
}

static GREETS: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory", ignore = [loud])]
fn greet(name: &str, times: usize, loud: bool) -> String {
    GREETS.fetch_add(1, SeqCst);
    let _ = loud;
    format!("hello {name}").repeat(times)
}

#[test]
fn borrowed_arguments_become_owned_keys_and_ignored_ones_are_left_out() {
    assert_eq!(greet("ada", 2, false), "hello adahello ada");
    assert_eq!(greet("ada", 2, true), "hello adahello ada");
    assert_eq!(GREETS.load(SeqCst), 1);
    let key: (String, usize) = ("ada".to_string(), 2);
    assert!(greet_cache().contains_key(&key));
}

static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory", key = (id % 100): u64)]
fn bucket(id: u64, label: String) -> String {
    LOOKUPS.fetch_add(1, SeqCst);
    format!("{label}:{}", id % 100)
}

#[test]
fn a_custom_key_decides_what_is_the_same_call() {
    assert_eq!(bucket(105, "a".into()), "a:5");
    assert_eq!(bucket(205, "b".into()), "a:5", "same key, the first result");
    assert_eq!(LOOKUPS.load(SeqCst), 1);
    assert!(bucket_cache().contains_key(&5));
}

static PARSES: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory")]
fn parse(text: &str) -> Result<u32, String> {
    PARSES.fetch_add(1, SeqCst);
    text.parse().map_err(|e| format!("{e}"))
}

#[memoize(tier = "memory", cache_err)]
fn parse_remembering_errors(text: &str) -> Result<u32, String> {
    PARSES.fetch_add(1, SeqCst);
    text.parse().map_err(|e| format!("{e}"))
}

#[test]
fn errors_are_returned_not_cached_unless_asked() {
    let before = PARSES.load(SeqCst);
    assert!(parse("x").is_err());
    assert!(parse("x").is_err());
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(PARSES.load(SeqCst) - before, 3);
    let before = PARSES.load(SeqCst);
    assert!(parse_remembering_errors("y").is_err());
    assert!(parse_remembering_errors("y").is_err());
    assert_eq!(PARSES.load(SeqCst) - before, 1);
}

static FINDS: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory")]
fn find(n: u32) -> Option<u32> {
    FINDS.fetch_add(1, SeqCst);
    n.is_multiple_of(2).then_some(n / 2)
}

#[memoize(tier = "memory", cache_none)]
fn find_remembering_none(n: u32) -> Option<u32> {
    FINDS.fetch_add(1, SeqCst);
    n.is_multiple_of(2).then_some(n / 2)
}

#[test]
fn none_is_returned_not_cached_unless_asked() {
    let before = FINDS.load(SeqCst);
    assert_eq!(find(3), None);
    assert_eq!(find(3), None);
    assert_eq!(find(4), Some(2));
    assert_eq!(find(4), Some(2));
    assert_eq!(FINDS.load(SeqCst) - before, 3);
    let before = FINDS.load(SeqCst);
    assert_eq!(find_remembering_none(3), None);
    assert_eq!(find_remembering_none(3), None);
    assert_eq!(FINDS.load(SeqCst) - before, 1);
}

#[memoize(tier = "memory")]
fn table(n: usize) -> Arc<Vec<u64>> {
    Arc::new((0..n as u64).collect())
}

#[test]
fn an_arc_result_is_shared_not_copied() {
    let a = table(1000);
    let b = table(1000);
    assert!(Arc::ptr_eq(&a, &b));
}

struct Shape {
    side: u64,
}

static AREAS: AtomicUsize = AtomicUsize::new(0);

impl Shape {
    /// `&self` is not part of the key: every shape shares one cache per `scale`.
    #[memoize(tier = "memory")]
    fn scaled_unit_area(&self, scale: u64) -> u64 {
        AREAS.fetch_add(1, SeqCst);
        scale * scale
    }

    /// The key says which part of `self` matters.
    #[memoize(tier = "memory", key = (self.side, scale): (u64, u64))]
    fn area(&self, scale: u64) -> u64 {
        AREAS.fetch_add(1, SeqCst);
        self.side * self.side * scale
    }
}

#[test]
fn methods_are_memoized_with_or_without_self_in_the_key() {
    let (a, b) = (Shape { side: 2 }, Shape { side: 3 });
    let before = AREAS.load(SeqCst);
    assert_eq!(a.scaled_unit_area(5), 25);
    assert_eq!(b.scaled_unit_area(5), 25);
    assert_eq!(AREAS.load(SeqCst) - before, 1);
    assert_eq!(a.area(2), 8);
    assert_eq!(b.area(2), 18);
    assert_eq!(a.area(2), 8);
    assert_eq!(AREAS.load(SeqCst) - before, 3);
    assert!(Shape::area_cache().contains_key(&(3, 2)));
    assert_eq!(b.area_uncached(1), 9);
}

/// A shape that is a key: its methods' results are keyed by the instance.
#[derive(Clone, Hash, PartialEq, Eq, serde::Serialize)]
struct Square {
    side: u64,
}

static SQUARE_AREAS: AtomicUsize = AtomicUsize::new(0);

impl Square {
    /// Reads `self`, with no `key = ..`: the instance is part of the key.
    #[memoize(tier = "memory")]
    fn area(&self) -> u64 {
        SQUARE_AREAS.fetch_add(1, SeqCst);
        self.side * self.side
    }

    /// The instance and the argument together.
    #[memoize(tier = "memory")]
    fn scaled(&self, scale: u64) -> u64 {
        SQUARE_AREAS.fetch_add(1, SeqCst);
        self.side * scale
    }

    /// `ignore = [self]`: every instance shares one result, as the user said.
    #[memoize(tier = "memory", ignore = [self])]
    fn shared(&self) -> u64 {
        SQUARE_AREAS.fetch_add(1, SeqCst);
        self.side
    }

    /// A method taking `self` by value is keyed by it too.
    #[memoize(tier = "memory")]
    fn into_perimeter(self) -> u64 {
        4 * self.side
    }
}

#[test]
fn a_method_that_reads_self_never_returns_another_instances_result() {
    let (a, b) = (Square { side: 2 }, Square { side: 3 });
    let before = SQUARE_AREAS.load(SeqCst);
    assert_eq!(a.area(), 4);
    assert_eq!(b.area(), 9);
    assert_eq!(a.area(), 4);
    assert_eq!(b.area(), 9);
    assert_eq!(
        SQUARE_AREAS.load(SeqCst) - before,
        2,
        "one run per instance"
    );
    assert!(Square::area_cache().contains_key(&Square { side: 3 }));
    assert_eq!(a.scaled(10), 20);
    assert_eq!(b.scaled(10), 30);
    assert_eq!(a.scaled(5), 10);
    assert!(Square::scaled_cache().contains_key(&(Square { side: 3 }, 10)));
    assert_eq!(a.clone().into_perimeter(), 8);
    assert_eq!(b.clone().into_perimeter(), 12);
    assert_eq!(b.clone().into_perimeter_with_cached_flag(), (12, true));
    // Shared on purpose: the second instance gets the first one's result.
    assert_eq!(a.shared(), 2);
    assert_eq!(b.shared(), 2);
}

/// A generic type: one memoized method, compiled for each `T`, keeps one cache each.
#[derive(Clone, Hash, PartialEq, Eq, serde::Serialize)]
struct Labelled<T> {
    label: T,
}

impl<T: CacheKey + std::fmt::Debug> Labelled<T> {
    #[memoize(tier = "memory")]
    fn describe(&self) -> String {
        format!("{:?}", self.label)
    }
}

#[test]
fn a_method_of_a_generic_type_keeps_a_cache_for_each_instance_type() {
    assert_eq!(Labelled { label: 7u32 }.describe(), "7");
    assert_eq!(
        Labelled {
            label: "seven".to_string()
        }
        .describe(),
        "\"seven\""
    );
    assert_eq!(Labelled { label: 8u32 }.describe(), "8");
    assert_eq!(
        Labelled {
            label: "eight".to_string()
        }
        .describe(),
        "\"eight\""
    );
    assert!(Labelled::<u32>::describe_cache().contains_key(&Labelled { label: 8 }));
    let eight = Labelled {
        label: "eight".to_string(),
    };
    assert!(Labelled::<String>::describe_cache().contains_key(&eight));
}

static SLOW: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory")]
fn slow(x: u32) -> u32 {
    SLOW.fetch_add(1, SeqCst);
    std::thread::sleep(Duration::from_millis(200));
    x + 1
}

#[test]
fn eight_threads_asking_for_one_new_argument_run_the_body_once() {
    let results: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| slow(41))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(results, vec![42; 8]);
    assert_eq!(SLOW.load(SeqCst), 1);
}

static TTL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory", ttl = "1s", capacity = 1048576)]
fn fleeting(x: u8) -> u8 {
    TTL_RUNS.fetch_add(1, SeqCst);
    x
}

#[test]
fn results_expire_after_their_ttl() {
    fleeting(1);
    fleeting(1);
    assert_eq!(TTL_RUNS.load(SeqCst), 1);
    std::thread::sleep(Duration::from_millis(1300));
    fleeting(1);
    assert_eq!(TTL_RUNS.load(SeqCst), 2);
    assert_eq!(
        fleeting_cache().config().policy().time_to_live(),
        Some(Duration::from_secs(1))
    );
}

static BOUNDED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Every option of a config, from the attribute.
#[memoize(
    dir = storage(),
    namespace = "every-option",
    max_entries = 2,
    tti = "1h",
    eviction = "lru",
    durability = "fsync",
    secure = false,
    memory_threshold = 0,
    file_threshold = 100,
    compression = "zstd(9)"
)]
fn bounded(x: u64) -> u64 {
    BOUNDED_RUNS.fetch_add(1, SeqCst);
    x * 2
}

#[test]
fn every_config_option_is_reachable_from_the_attribute() {
    let config = bounded_cache().config();
    let policy = config.policy();
    assert_eq!(policy.max_entries(), Some(2));
    assert_eq!(policy.time_to_idle(), Some(Duration::from_secs(3600)));
    assert_eq!(policy.eviction(), Eviction::Lru);
    assert_eq!(policy.durability(), Durability::Fsync);
    assert!(!policy.secure());
    assert_eq!(policy.memory_threshold(), 0);
    assert_eq!(policy.file_threshold(), 100);
    assert_eq!(policy.compression(), Compression::Zstd(9));

    // Two results at most, in every tier: the first of three is recomputed. (moka
    // applies its bound when its pending work runs, as `stats()` makes it.)
    for x in [1, 2, 3] {
        assert_eq!(bounded(x), x * 2);
        let _ = bounded_cache().stats();
    }
    let runs = BOUNDED_RUNS.load(SeqCst);
    assert_eq!(bounded(3), 6);
    assert_eq!(
        BOUNDED_RUNS.load(SeqCst),
        runs,
        "the newest result was evicted"
    );
    assert_eq!(bounded(1), 2);
    assert_eq!(
        BOUNDED_RUNS.load(SeqCst),
        runs + 1,
        "three results were kept"
    );
    let stats = bounded_cache().stats();
    assert!(
        stats.memory.entries <= 2 && stats.sled.entries <= 2,
        "{stats}"
    );
}

#[cfg(feature = "async")]
mod asynchronous {
    use super::*;

    static FETCHES: AtomicUsize = AtomicUsize::new(0);

    #[memoize(tier = "memory")]
    async fn fetch(id: u32) -> String {
        FETCHES.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        format!("item {id}")
    }

    static TRIES: AtomicUsize = AtomicUsize::new(0);

    #[memoize(tier = "memory")]
    async fn flaky(id: u32) -> Result<u32, String> {
        let n = TRIES.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        if n == 0 {
            Err("first try fails".into())
        } else {
            Ok(id)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn eight_tasks_asking_for_one_new_argument_run_the_body_once() {
        let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(fetch(7))).collect();
        for task in tasks {
            assert_eq!(task.await.expect("task"), "item 7");
        }
        assert_eq!(FETCHES.load(SeqCst), 1);
        assert_eq!(fetch(7).await, "item 7");
        assert_eq!(FETCHES.load(SeqCst), 1);
    }

    #[tokio::test]
    async fn an_async_error_is_not_cached() {
        assert!(flaky(1).await.is_err());
        assert_eq!(flaky(1).await, Ok(1));
        assert_eq!(flaky(1).await, Ok(1));
        assert_eq!(TRIES.load(SeqCst), 2);
    }
}

// ---- across processes ----------------------------------------------------------------

/// Records a run of a persistent function's body as a file in the shared folder.
fn record_run(what: &str) {
    let runs = storage().join("runs");
    std::fs::create_dir_all(&runs).expect("runs folder");
    let name = format!("{what}-{}-{}", std::process::id(), SQUARES.load(SeqCst));
    std::fs::write(runs.join(name), b"").expect("record");
}

fn runs_of(dir: &std::path::Path, what: &str) -> usize {
    std::fs::read_dir(dir.join("runs"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(what))
                .count()
        })
        .unwrap_or(0)
}

#[memoize(tier = "file", dir = storage(), compression = "zstd")]
fn report(year: u32) -> Vec<u64> {
    record_run("report");
    (0..10_000).map(|i| i * u64::from(year)).collect()
}

#[memoize(tier = "sled", dir = storage(), namespace = "totals", version = 2)]
fn total(year: u32) -> u64 {
    record_run("total");
    u64::from(year) * 1000
}

#[test]
fn child_memo_caller() {
    let Some(_) = child_role("memo-caller") else {
        return;
    };
    assert_eq!(report(2024)[3], 3 * 2024);
    assert_eq!(total(2024), 2_024_000);
}

#[test]
fn a_second_process_gets_persisted_results_without_running_the_body() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_child("child_memo_caller", "memo-caller", dir.path(), &[]);
    assert_eq!(
        (runs_of(dir.path(), "report"), runs_of(dir.path(), "total")),
        (1, 1)
    );
    run_child("child_memo_caller", "memo-caller", dir.path(), &[]);
    assert_eq!(
        (runs_of(dir.path(), "report"), runs_of(dir.path(), "total")),
        (1, 1)
    );
}

#[test]
fn the_default_namespace_is_the_module_path_and_name() {
    assert_eq!(report_cache().namespace(), "memoize.report");
    assert_eq!(total_cache().namespace(), "totals");
}

#[test]
fn results_of_other_code_are_kept_apart_not_cleared() {
    use smartcache::__private::{Memo, MemoKey};
    let dir = tempfile::tempdir().expect("tempdir");
    let config = || {
        CacheConfig::default()
            .dir(dir.path())
            .namespace("changing")
            .persist_all(true)
    };
    let first: Memo<u32, u32> = Memo::new(config(), 1, true, false);
    MemoKey::call(&first, 1, |_| 10);
    drop(first);
    let same: Memo<u32, u32> = Memo::new(config(), 1, true, false);
    assert_eq!(
        MemoKey::call(&same, 1, |_| 99),
        Arc::new(10),
        "same code: the stored result"
    );
    drop(same);
    let changed: Memo<u32, u32> = Memo::new(config(), 2, true, false);
    assert_eq!(
        MemoKey::call(&changed, 1, |_| 20),
        Arc::new(20),
        "new code: computed again"
    );
    drop(changed);
    // The old code, run again (another build, another process): its result is still there.
    let old: Memo<u32, u32> = Memo::new(config(), 1, true, false);
    assert_eq!(
        MemoKey::call(&old, 1, |_| 99),
        Arc::new(10),
        "old code: its own result"
    );
    assert_eq!(old.cache().keys().expect("keys"), [1]);
    let new: Memo<u32, u32> = Memo::new(config(), 2, true, false);
    assert_eq!(
        MemoKey::call(&new, 1, |_| 99),
        Arc::new(20),
        "new code: its own result"
    );
}

/// A walk by one version of the code leaves another version's entries alone, even those
/// that would have idled out under its own time to idle.
#[test]
fn a_walk_leaves_other_versions_entries_alone() {
    use smartcache::__private::{Memo, MemoKey};
    let dir = tempfile::tempdir().expect("tempdir");
    let config = || {
        CacheConfig::default()
            .dir(dir.path())
            .namespace("walked")
            .persist_all(true)
            .promote_max(0)
    };
    let old: Memo<u32, u32> = Memo::new(config(), 1, true, false);
    MemoKey::call(&old, 1, |_| 10);
    drop(old);
    let new: Memo<u32, u32> = Memo::new(config().tti(Duration::from_millis(50)), 2, true, false);
    MemoKey::call(&new, 2, |_| 20);
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(
        new.cache().purge_expired().expect("purge"),
        1,
        "its own idle entry"
    );
    assert_eq!(new.cache().keys().expect("keys"), Vec::<u32>::new());
    drop(new);
    let old: Memo<u32, u32> = Memo::new(config(), 1, true, false);
    assert_eq!(
        MemoKey::call(&old, 1, |_| 99),
        Arc::new(10),
        "the old version's entry"
    );
}

// Two versions of one function's code, sharing a namespace as successive builds would.
#[memoize(tier = "file", dir = storage(), namespace = "evolving", disk_capacity = 1048576)]
fn evolving_v1(x: u32) -> u32 {
    x + 1
}

#[memoize(tier = "file", dir = storage(), namespace = "evolving", disk_capacity = 1048576)]
fn evolving_v2(x: u32) -> u32 {
    x + 2
}

#[test]
fn two_versions_of_a_function_keep_their_own_results() {
    assert_eq!(evolving_v1(1), 2);
    assert!(evolving_v1_cache().contains_key(&1));
    // The new code opens the same storage: v1's result is not served as v2's.
    assert!(!evolving_v2_cache().contains_key(&1));
    assert_eq!(evolving_v2(1), 3);
    // Nor is it cleared: each version reads its own.
    assert_eq!(evolving_v1_cache().get(&1).as_deref(), Some(&2));
    assert_eq!(evolving_v2_cache().get(&1).as_deref(), Some(&3));
    assert_eq!(evolving_v1_cache().keys().expect("keys"), [1]);
    let stats = evolving_v2_cache().stats();
    assert_eq!(
        stats.file.entries, 2,
        "both versions' results on disk: {stats}"
    );
}

static TICKS: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory", ttl = "250ms")]
fn tick(n: u64) -> u64 {
    TICKS.fetch_add(1, SeqCst);
    n + 1
}

/// A time to live below a second: `ttl = "250ms"`.
#[test]
fn a_sub_second_ttl_expires_results() {
    assert_eq!(tick(1), 2);
    assert_eq!(tick(1), 2);
    assert_eq!(TICKS.load(SeqCst), 1);
    assert_eq!(
        tick_cache().config().policy().time_to_live(),
        Some(Duration::from_millis(250))
    );
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(tick(1), 2);
    assert_eq!(TICKS.load(SeqCst), 2, "a result outlived its 250 ms");
}

static LOOKUPS_TTL: AtomicUsize = AtomicUsize::new(0);

/// A miss is remembered briefly, a hit for the memo's `ttl`.
fn answer_lifetime(answer: &Option<u64>) -> Option<Duration> {
    answer.is_none().then(|| Duration::from_millis(250))
}

#[memoize(tier = "memory", cache_none, ttl_of = answer_lifetime)]
fn look_up(id: u64) -> Option<u64> {
    LOOKUPS_TTL.fetch_add(1, SeqCst);
    id.is_multiple_of(2).then_some(id)
}

/// `ttl_of`: the result decides its own lifetime.
#[test]
fn a_result_can_decide_its_own_lifetime() {
    assert_eq!(look_up(2), Some(2));
    assert_eq!(look_up(1), None);
    assert_eq!((look_up(2), look_up(1)), (Some(2), None));
    assert_eq!(LOOKUPS_TTL.load(SeqCst), 2);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!((look_up(2), look_up(1)), (Some(2), None));
    assert_eq!(LOOKUPS_TTL.load(SeqCst), 3, "only the None result expired");
}

static LABELS: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory")]
fn label(id: u64, name: &str) -> String {
    let n = LABELS.fetch_add(1, SeqCst);
    format!("{name}-{id}-{n}")
}

/// `_refresh` runs the body and stores what it returns; `_prime` stores a result without
/// running it; `_with_cached_flag` says whether the cache served a call; `_uncached`
/// neither reads nor writes.
#[test]
fn one_call_can_be_refreshed_primed_or_asked_whether_it_was_cached() {
    assert_eq!(label_with_cached_flag(1, "a"), ("a-1-0".to_string(), false));
    assert_eq!(label_with_cached_flag(1, "a"), ("a-1-0".to_string(), true));
    assert_eq!(label(1, "a"), "a-1-0");

    assert_eq!(label_refresh(1, "a"), "a-1-1", "refresh runs the body");
    assert_eq!(label(1, "a"), "a-1-1", "and stores its result");
    assert_eq!(LABELS.load(SeqCst), 2);

    assert_eq!(
        label_prime(2, "b", "primed".to_string()).expect("prime"),
        Tier::Memory
    );
    assert_eq!(label_with_cached_flag(2, "b"), ("primed".to_string(), true));
    assert_eq!(LABELS.load(SeqCst), 2, "a primed call ran the body");

    assert_eq!(label_uncached(1, "a"), "a-1-2");
    assert_eq!(label(1, "a"), "a-1-1", "_uncached wrote to the cache");
}

static FOUND: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory")]
fn found(id: u64) -> Option<u64> {
    FOUND.fetch_add(1, SeqCst);
    (id > 0).then_some(id)
}

/// The companions keep the function's rules: a `None` is not stored by `_refresh`, and a
/// call that finds nothing is never "cached".
#[test]
fn the_companions_keep_the_rules_of_option_results() {
    assert_eq!(found_refresh(0), None);
    assert_eq!(found_with_cached_flag(0), (None, false));
    assert_eq!(found_refresh(5), Some(5));
    assert_eq!(found_with_cached_flag(5), (Some(5), true));
    assert_eq!(FOUND.load(SeqCst), 3);
    found_prime(7, 70).expect("prime");
    assert_eq!(found(7), Some(70));
}

#[cfg(feature = "async")]
mod asynchronous_companions {
    use super::*;

    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[memoize(tier = "memory")]
    async fn slow_square(x: u64) -> u64 {
        RUNS.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(10)).await;
        x * x
    }

    #[tokio::test]
    async fn the_companions_of_an_async_fn_are_async() {
        assert_eq!(slow_square_with_cached_flag(3).await, (9, false));
        assert_eq!(slow_square_with_cached_flag(3).await, (9, true));
        assert_eq!(slow_square_refresh(3).await, 9);
        assert_eq!(RUNS.load(SeqCst), 2);
        slow_square_prime(4, 17).expect("prime");
        assert_eq!(slow_square(4).await, 17);
    }
}

#[memoize(
    config = CacheConfig::default()
        .tti(Duration::from_secs(60))
        .eviction(Eviction::Lru)
        .compression(Compression::Zstd(7))
        .memory_threshold(100),
    tier = "memory",
    capacity = 1000000
)]
fn configured(x: u64) -> u64 {
    x + 1
}

#[memoize(tier = "memory", config = CacheConfig::default().namespace("own-namespace"))]
fn named(x: u64) -> u64 {
    x * 3
}

/// `config = ..` takes a whole `CacheConfig`; the other options apply on top, and the
/// default namespace only when the config names none.
#[test]
fn a_whole_config_can_be_given() {
    assert_eq!(configured(1), 2);
    let config = configured_cache().config().policy();
    assert_eq!(config.time_to_idle(), Some(Duration::from_secs(60)));
    assert_eq!(config.eviction(), Eviction::Lru);
    assert_eq!(config.compression(), Compression::Zstd(7));
    assert_eq!(
        config.memory_capacity(),
        1_000_000,
        "capacity applies on top"
    );
    assert!(
        config
            .namespace()
            .is_some_and(|ns| ns.ends_with("memoize.configured")),
        "{:?}",
        config.namespace()
    );
    assert_eq!(named(2), 6);
    assert_eq!(
        named_cache().config().policy().namespace(),
        Some("own-namespace")
    );
}

static DESCRIBED: AtomicUsize = AtomicUsize::new(0);

/// A generic function memoizes when `key = ..` gives one key type for every instance.
#[memoize(tier = "memory", key = value.to_string(): String)]
fn describe<T: std::fmt::Display>(value: T) -> String {
    DESCRIBED.fetch_add(1, SeqCst);
    format!("<{value}>")
}

#[test]
fn a_generic_function_memoizes_with_a_concrete_key() {
    assert_eq!(describe(5), "<5>");
    assert_eq!(describe("5"), "<5>", "the same key, from another instance");
    assert_eq!(describe(6.5), "<6.5>");
    assert_eq!(DESCRIBED.load(SeqCst), 2);
    assert_eq!(describe_with_cached_flag(6.5), ("<6.5>".to_string(), true));
    assert_eq!(describe_refresh('x'), "<x>");
    assert_eq!(DESCRIBED.load(SeqCst), 3);
}

static INLINE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(
    tier = "memory",
    eviction = "clockpro",
    ttl = "400ms",
    max_entries = 64
)]
fn inline_clockpro(x: u64) -> (u64, u32) {
    INLINE_RUNS.fetch_add(1, SeqCst);
    (x * 3, x as u32)
}

#[memoize(tier = "memory", eviction = "tinylfu", ttl = "400ms", max_entries = 64)]
fn inline_tinylfu(x: u64) -> (u64, u32) {
    INLINE_RUNS.fetch_add(1, SeqCst);
    (x * 3, x as u32)
}

/// Small results of a function returning values are held in their memory slots on
/// quick_cache (a hit copies them and touches no reference count), shared on moka: on
/// either store they keep the rules every value keeps. Hits are right and counted, the cache hands out the same
/// values, removal and the time to live forget them, and the entry bound holds.
#[test]
fn small_results_held_in_their_slots_keep_every_rule() {
    type Memoized = (
        fn(u64) -> (u64, u32),
        fn() -> &'static SmartCache<u64, (u64, u32)>,
    );
    let functions: [(&str, Memoized); 2] = [
        ("clockpro", (inline_clockpro, inline_clockpro_cache)),
        ("tinylfu", (inline_tinylfu, inline_tinylfu_cache)),
    ];
    for (name, (call, cache)) in functions {
        let runs = || INLINE_RUNS.load(SeqCst);
        let before = runs();
        for x in 0..10 {
            assert_eq!(call(x), (x * 3, x as u32), "{name}");
        }
        let hits = cache().stats().hits;
        for _ in 0..5 {
            for x in 0..10 {
                assert_eq!(call(x), (x * 3, x as u32), "{name}: a hit");
            }
        }
        assert_eq!(runs() - before, 10, "{name}: each argument computed once");
        assert_eq!(
            cache().stats().hits - hits,
            50,
            "{name}: {}",
            cache().stats()
        );
        assert_eq!(cache().get(&4).as_deref(), Some(&(12, 4)), "{name}");

        assert!(cache().remove(&4).expect("remove"), "{name}");
        assert_eq!(call(4), (12, 4));
        assert_eq!(
            runs() - before,
            11,
            "{name}: a removed result is computed again"
        );

        // The entry bound: 200 arguments, at most 64 kept.
        for x in 100..300 {
            call(x);
        }
        let stats = cache().stats();
        assert!(stats.memory.entries <= 64, "{name}: {stats}");
        assert!(stats.memory.evictions > 0, "{name}: {stats}");

        // The time to live: every result goes.
        std::thread::sleep(Duration::from_millis(500));
        let before = runs();
        assert_eq!(call(0), (0, 0));
        assert_eq!(
            runs() - before,
            1,
            "{name}: an expired result is computed again"
        );
    }
}
