//! The Redis tier on a running server: two caches on one server share their values.
//!
//! ```sh
//! SMARTCACHE_REDIS_URL=redis://127.0.0.1:6379/ cargo run --release --features redis --example redis
//! ```
//!
//! The server comes from `$SMARTCACHE_REDIS_URL` (default `redis://127.0.0.1:6379/`).
//! When no server answers, the example says so and exits. Values written while the
//! server is down go to the fallback tier, under `$SMARTCACHE_DIR` (else the platform
//! cache folder).

use std::time::{Duration, Instant};

use smartcache::prelude::*;

fn main() -> Result<(), CacheError> {
    let url = std::env::var("SMARTCACHE_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_string());
    // ANCHOR: build
    let config = || {
        CacheConfig::default()
            .namespace("example-redis")
            .redis(url.clone()) // without it: $SMARTCACHE_REDIS_URL
            .tier(Tier::Redis) // values of no fixed tier go there
            .redis_timeout(Duration::from_millis(250)) // the longest wait for the server
            .redis_fallback(Tier::File) // where values go while it is down
            .ttl(Duration::from_secs(60)) // kept by Redis itself (SET .. PX)
    };
    let cache: SmartCache<String, Vec<u64>> = config().build()?;
    // ANCHOR_END: build
    if let Err(e) = cache.try_get("probe") {
        println!(
            "no Redis server answers ({e}): start one (redis-server), or set SMARTCACHE_REDIS_URL"
        );
        return Ok(());
    }
    // ANCHOR: share
    let started = Instant::now();
    let tier = cache.insert("primes".into(), vec![2, 3, 5, 7, 11, 13])?;
    println!("insert went to {tier} in {:?}", started.elapsed());

    // Another cache on the same server and namespace (another process or machine would
    // do the same) reads what the first one wrote.
    let reader: SmartCache<String, Vec<u64>> = config().build()?;
    let started = Instant::now();
    let primes = reader.get("primes");
    println!(
        "another cache read {primes:?} from the server in {:?}",
        started.elapsed()
    );
    // ANCHOR_END: share
    println!("{}", reader.stats());
    cache.clear()?;
    Ok(())
}
