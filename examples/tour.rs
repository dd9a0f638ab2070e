//! The tour: caches values of several types and shows where each one went.
//!
//! Run it twice: `cargo run --release --example tour`. The first run computes every
//! value; the second finds the persisted ones on disk (sled and file tiers) and only
//! recomputes the small value that lived in memory. `--clear` empties the tour's caches.
//! Storage goes to `$SMARTCACHE_DIR`, else the platform cache folder.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use smartcache::prelude::*;

/// A report that always lives in a file, whatever its size: its type says so.
#[derive(Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "file", version = 1)]
struct Report {
    title: String,
    lines: Vec<(String, f64)>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clear = std::env::args().any(|a| a == "--clear");

    let primes: SmartCache<u64, Vec<u64>> =
        CacheConfig::default().namespace("tour-primes").build()?;
    let words: SmartCache<u32, BTreeMap<String, u64>> =
        CacheConfig::default().namespace("tour-words").build()?;
    let greeting: SmartCache<String, String> =
        CacheConfig::default().namespace("tour-greeting").build()?;
    let reports: SmartCache<u32, Report> =
        CacheConfig::default().namespace("tour-reports").build()?;
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
    let (value, size, tier, first) = ("value", "size", "tier", "first get");
    println!("{value:<30} {size:>10}  {tier:<6}  {first:<26}  second get");

    show("primes below 20 000 000", &primes, 20_000_000, |&n| {
        sieve(n)
    });
    show("word counts of a 2 MB text", &words, 2, |&mb| {
        word_counts(mb as usize)
    });
    show("a greeting", &greeting, "world".to_string(), |who| {
        format!("hello, {who}")
    });
    show("a report (pinned to files)", &reports, 7, |&seed| {
        report(seed)
    });

    println!();
    for (name, stats) in [
        ("primes", primes.stats()),
        ("words", words.stats()),
        ("greeting", greeting.stats()),
        ("reports", reports.stats()),
    ] {
        println!(
            "{name:<9} hits {:>2}  misses {:>2}  | memory {} entries  sled {} entries  file {} entries ({} bytes on disk)",
            stats.hits,
            stats.misses,
            stats.memory.entries,
            stats.sled.entries,
            stats.file.entries,
            stats.sled.bytes + stats.file.bytes
        );
    }
    println!();
    println!(
        "Run it again: the sled and file values come back from disk, the memory one is recomputed."
    );
    println!("`cargo run --release --example tour -- --clear` empties the tour's caches.");
    Ok(())
}

/// Gets `key` twice through `cache.get_with`, timing each, and prints where the value went.
fn show<K: CacheKey, V: Cacheable>(
    name: &str,
    cache: &SmartCache<K, V>,
    key: K,
    compute: impl Fn(&K) -> V,
) {
    let computed = AtomicBool::new(false);
    let start = Instant::now();
    let value = cache.get_with(key.clone(), || {
        computed.store(true, Ordering::Relaxed);
        compute(&key)
    });
    let first = start.elapsed();
    let tier = cache.tier_of(&key).map_or("-", Tier::name);
    let first = if computed.load(Ordering::Relaxed) {
        format!("miss: computed in {}", human(first))
    } else {
        format!("hit from {tier} in {}", human(first))
    };
    let start = Instant::now();
    let again = black_box(cache.get(&key));
    let second = start.elapsed();
    let from = match cache.stats().memory.hits {
        0 => tier,
        _ => "memory",
    };
    let second = match again {
        Some(_) => format!("hit from {from} in {}", human(second)),
        None => "miss".to_string(),
    };
    println!(
        "{name:<30} {:>10}  {tier:<6}  {first:<26}  {second}",
        bytes(value.size_hint())
    );
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

/// Every prime below `n` (sieve of Eratosthenes).
fn sieve(n: u64) -> Vec<u64> {
    let n = n as usize;
    let mut composite = vec![false; n];
    let mut primes = Vec::new();
    for i in 2..n {
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

/// Word counts of `mb` megabytes of pseudo-random text.
fn word_counts(mb: usize) -> BTreeMap<String, u64> {
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
        *counts.entry(word).or_insert(0) += 1;
    }
    counts
}

/// A small report, computed slowly on purpose (numerical integration).
fn report(seed: u32) -> Report {
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
            (format!("month {month:>2}"), area)
        })
        .collect();
    Report {
        title: format!("report {seed}"),
        lines,
    }
}
