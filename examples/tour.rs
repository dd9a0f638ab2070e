//! The tour: caches values of several types and shows where each one went.
//!
//! ```sh
//! cargo run --release --example tour
//! ```
//!
//! It prints one row per value: its type, the tier it went to, its size, the time of a
//! miss (computing and storing the value) and the time of a hit, and where the first get
//! found it. Run it twice: the first run computes every value; the second finds the
//! persisted ones on disk (`hit from sled`, `hit from file`) and only recomputes the
//! small value that lived in memory. While it computes a large value it shows a progress
//! bar, on a terminal only. `--clear` empties the tour's caches. Storage goes to
//! `$SMARTCACHE_DIR`, else the platform cache folder.

mod common;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::answered;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use smartcache::prelude::*;

// ANCHOR: report
/// A report that always lives in a file, whatever its size: its type says so.
#[derive(Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "file", version = 1)]
struct Report {
    title: String,
    lines: Vec<(String, f64)>,
}
// ANCHOR_END: report

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clear = std::env::args().any(|a| a == "--clear");

    // ANCHOR: caches
    // One cache per value type, each in its own folder (its namespace) under the
    // storage root. Values of no fixed tier go where their size sends them.
    let primes: SmartCache<u64, Vec<u64>> =
        CacheConfig::default().namespace("tour-primes").build()?;
    let words: SmartCache<u32, BTreeMap<String, u64>> =
        CacheConfig::default().namespace("tour-words").build()?;
    let greeting: SmartCache<String, String> =
        CacheConfig::default().namespace("tour-greeting").build()?;
    let reports: SmartCache<u32, Report> =
        CacheConfig::default().namespace("tour-reports").build()?;
    // ANCHOR_END: caches
    if clear {
        primes.clear()?;
        words.clear()?;
        greeting.clear()?;
        reports.clear()?;
        println!("Cleared the tour's caches under {}", root(&primes));
        return Ok(());
    }

    println!("smartcache tour: storage under {}", root(&primes));
    println!();
    let (ty, tier, size, miss, hit) = ("type", "tier", "size", "miss time", "hit time");
    println!("{ty:<22} {tier:<6} {size:>10} {miss:>11} {hit:>20}  first get");

    show("Vec<u64>", &primes, 20_000_000, 20, |&n, bar| sieve(n, bar));
    show("BTreeMap<String, u64>", &words, 2, 2, |&mb, bar| {
        word_counts(mb as usize, bar)
    });
    show("String", &greeting, "world".to_string(), 0, |who, _| {
        format!("hello, {who}")
    });
    show("Report (pinned: file)", &reports, 7, 12, |&seed, bar| {
        report(seed, bar)
    });

    println!();
    println!("miss time: computing the value and storing it; hit time: the first get that");
    println!("found the value, and the tier that answered it.");
    let on_disk: u64 = [
        primes.stats(),
        words.stats(),
        greeting.stats(),
        reports.stats(),
    ]
    .iter()
    .map(|s| s.sled.bytes + s.file.bytes)
    .sum();
    println!("On disk: {} in sled and files.", bytes(on_disk as usize));
    println!(
        "Run it again: the sled and file values come back from disk, the memory one is recomputed."
    );
    println!("`cargo run --release --example tour -- --clear` empties the tour's caches.");
    Ok(())
}

/// Gets `key` twice, the first time through `get_with` (which computes the value on a
/// miss, with a progress bar of `steps` steps), times both, and prints a row.
fn show<K: CacheKey, V: Cacheable>(
    name: &str,
    cache: &SmartCache<K, V>,
    key: K,
    steps: u64,
    compute: impl Fn(&K, &ProgressBar) -> V,
) {
    let computed = AtomicBool::new(false);
    // ANCHOR: get_with
    let (value, first, first_from) = answered(cache, || {
        cache.get_with(key.clone(), || {
            computed.store(true, Ordering::Relaxed);
            let bar = progress(name, steps);
            let value = compute(&key, &bar);
            bar.finish_and_clear();
            value
        })
    });
    // ANCHOR_END: get_with
    let tier = cache.tier_of(&key).map_or("-", Tier::name);
    let computed = computed.load(Ordering::Relaxed);
    let (again, second, second_from) = answered(cache, || black_box(cache.get(&key)));
    let (miss, hit, first_get) = if computed {
        let hit = match again {
            Some(_) => format!("{} ({second_from})", human(second)),
            None => "(not kept)".to_string(),
        };
        (human(first), hit, "computed".to_string())
    } else {
        let hit = format!("{} ({first_from})", human(first));
        ("-".to_string(), hit, format!("hit from {first_from}"))
    };
    println!(
        "{name:<22} {tier:<6} {:>10} {miss:>11} {hit:>20}  {first_get}",
        bytes(value.size_hint())
    );
}

/// A progress bar of `steps` steps on a terminal; hidden when stderr is not one (piped
/// or redirected output stays clean) or when there is nothing to show.
fn progress(name: &str, steps: u64) -> ProgressBar {
    if steps == 0 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps);
    let style = ProgressStyle::with_template("computing {msg:<22} [{bar:30}] {percent:>3}%")
        .expect("a valid progress template")
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(name.to_string());
    bar
}

fn root<K: CacheKey, V: Cacheable>(cache: &SmartCache<K, V>) -> String {
    cache.path().and_then(|p| p.parent()).map_or_else(
        || "(no storage folder)".to_string(),
        |p| p.display().to_string(),
    )
}

fn human(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

fn bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// Every prime below `n` (sieve of Eratosthenes), moving `bar` through its 20 steps.
fn sieve(n: u64, bar: &ProgressBar) -> Vec<u64> {
    let n = n as usize;
    let step = n.div_ceil(20).max(1);
    let mut composite = vec![false; n];
    let mut primes = Vec::new();
    for i in 2..n {
        if i % step == 0 {
            bar.set_position((i / step) as u64);
        }
        if !composite[i] {
            primes.push(i as u64);
            let mut j = i * i;
            while j < n {
                composite[j] = true;
                j += i;
            }
        }
    }
    primes
}

/// Word counts of `mb` megabytes of pseudo-random text, one step of `bar` a megabyte.
fn word_counts(mb: usize, bar: &ProgressBar) -> BTreeMap<String, u64> {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "do", "gu", "he", "ji", "fo",
        "wy",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut counts = BTreeMap::new();
    let mut produced = 0;
    while produced < mb << 20 {
        let mut word = String::new();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.push_str(SYLLABLES[(state % 16) as usize]);
        }
        produced += word.len() + 1;
        if produced >> 20 != (produced - word.len() - 1) >> 20 {
            bar.set_position((produced >> 20) as u64);
        }
        *counts.entry(word).or_insert(0) += 1;
    }
    counts
}

/// A small report, computed slowly on purpose (numerical integration), one step of
/// `bar` a month.
fn report(seed: u32, bar: &ProgressBar) -> Report {
    let lines = (1..=12)
        .map(|month| {
            let steps = 2_000_000;
            let h = 1.0 / steps as f64;
            let area: f64 = (0..steps)
                .map(|i| {
                    let x = (i as f64 + 0.5) * h;
                    (x * month as f64 + f64::from(seed)).sin().abs() * h
                })
                .sum();
            bar.inc(1);
            (format!("month {month:>2}"), area)
        })
        .collect();
    Report {
        title: format!("report {seed}"),
        lines,
    }
}
