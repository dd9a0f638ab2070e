//! Configuration: `configure_for`, a `CacheConfig` with its common options, reading a
//! configuration back with `policy()`, routing by size, sending every value to one
//! tier, lifetimes per value and per entry, and where the storage root comes from.
//!
//! ```sh
//! cargo run --release --example config
//! SMARTCACHE_DIR=/tmp/my-cache cargo run --release --example config
//! ```

use std::time::Duration;

use smartcache::prelude::*;

fn main() -> Result<(), CacheError> {
    // ANCHOR: configure_for
    // The configuration tuned to the value type (its `Cacheable::default_config`), to
    // adjust with the builder's methods. `SmartCache::new()` uses it as it is.
    let config = configure_for::<Vec<f64>>().ttl(Duration::from_secs(3600));
    let cache: SmartCache<String, Vec<f64>> = config.namespace("example-config").build()?;
    // ANCHOR_END: configure_for
    println!("example-config: {}", cache.namespace());

    // ANCHOR: builder
    let cache: SmartCache<String, Vec<f64>> = CacheConfig::default()
        .namespace("example-config-full") // the folder under the storage root
        .memory_capacity(64 << 20) // bytes in memory, weighed by size_hint
        .disk_capacity(1 << 30) // bytes on disk, for each persistent tier
        .max_entries(100_000) // entries, for each tier
        .ttl(Duration::from_secs(3600)) // time to live
        .tti(Duration::from_secs(600)) // time to idle
        .memory_threshold(16 << 10) // below 16 KiB: memory
        .file_threshold(4 << 20) // from 4 MiB: files; between the two: sled
        .promote_max(1 << 20) // persisted values up to 1 MiB are also kept in memory
        .compression(Compression::Lz4) // of persisted payloads
        .eviction(Eviction::TinyLfu) // the memory tier's policy
        .durability(Durability::Buffered) // or Fsync: every write synced
        .secure(true) // folders 0700, files 0600
        .build()?;
    // ANCHOR_END: builder

    // ANCHOR: policy
    // What a configuration says, read back option by option.
    let policy = cache.config().policy();
    println!(
        "policy: ttl {:?}, tti {:?}, memory below {} B, files from {} B, {:?}, {:?}",
        policy.time_to_live(),
        policy.time_to_idle(),
        policy.memory_threshold(),
        policy.file_threshold(),
        policy.compression(),
        policy.eviction()
    );
    // ANCHOR_END: policy

    // ANCHOR: route
    // Where values of each size would go, and where one did go.
    for n in [10, 10_000, 1_000_000] {
        let value = vec![0.5; n];
        println!(
            "route: a Vec<f64> of {n} elements ({} bytes) goes to {}",
            value.size_hint(),
            cache.route(&value)
        );
    }
    let tier = cache.insert("ten".into(), vec![0.5; 10])?;
    println!("insert: \"ten\" went to {tier}");
    // ANCHOR_END: route

    // ANCHOR: one_tier
    // Every value to one tier, whatever its size; or small values persisted too.
    let files = CacheConfig::temporary()
        .tier(Tier::File)
        .build::<u32, String>()?;
    let durable = CacheConfig::temporary()
        .persist_all(true)
        .build::<u32, String>()?;
    println!(
        "tier(File): a short string went to {}; persist_all: it went to {}",
        files.insert(1, "short".into())?,
        durable.insert(1, "short".into())?
    );
    // ANCHOR_END: one_tier

    // ANCHOR: lifetimes
    /// Answers that were found live an hour; "not found" lives a second.
    fn lifetime(answer: &Option<String>) -> Option<Duration> {
        Some(if answer.is_some() {
            Duration::from_secs(3600)
        } else {
            Duration::from_secs(1)
        })
    }
    let answers = CacheConfig::temporary()
        .ttl_of(lifetime)
        .build::<String, Option<String>>()?;
    answers.insert("found".into(), Some("yes".into()))?; // an hour
    answers.insert("missing".into(), None)?; // a second
    answers.insert_with_ttl(
        "token".into(),
        Some("t0k3n".into()),
        Duration::from_secs(30),
    )?;
    // ANCHOR_END: lifetimes
    println!(
        "lifetimes: found = {:?}, missing = {:?}",
        answers.get("found").as_deref(),
        answers.get("missing").as_deref()
    );

    // ANCHOR: root
    // The storage root: CacheConfig::dir if set, else $SMARTCACHE_DIR, else the
    // platform's cache folder. Each cache is one folder in it.
    let root = cache.path().and_then(|p| p.parent());
    println!(
        "root: {} (SMARTCACHE_DIR is {})",
        root.map_or("-".into(), |p| p.display().to_string()),
        std::env::var("SMARTCACHE_DIR").unwrap_or_else(|_| "not set".into())
    );
    // ANCHOR_END: root
    Ok(())
}
