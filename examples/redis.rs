//! The Redis tier on a running server:
//! `SMARTCACHE_REDIS_URL=redis://127.0.0.1:6379/ cargo run --features redis --example redis`.
//! Says so, and exits, when no server answers.

use std::time::{Duration, Instant};

use smartcache::prelude::*;

fn main() -> Result<(), CacheError> {
    let url = std::env::var("SMARTCACHE_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_string());
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cache: SmartCache<String, Vec<u64>> = CacheConfig::default()
        .dir(dir.path())
        .namespace("example-redis")
        .redis(url)
        .tier(Tier::Redis)
        .ttl(Duration::from_secs(60))
        .build()?;
    if let Err(e) = cache.try_get("probe") {
        println!(
            "no Redis server answers ({e}): start one (redis-server), or set SMARTCACHE_REDIS_URL"
        );
        return Ok(());
    }
    let started = Instant::now();
    let tier = cache.insert("primes".into(), vec![2, 3, 5, 7, 11, 13])?;
    println!("insert went to {tier} in {:?}", started.elapsed());
    let reader: SmartCache<String, Vec<u64>> = CacheConfig::default()
        .dir(dir.path())
        .namespace("example-redis")
        .redis(
            std::env::var("SMARTCACHE_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379/".into()),
        )
        .tier(Tier::Redis)
        .build()?;
    let started = Instant::now();
    let primes = reader.get("primes");
    println!(
        "another cache read {primes:?} from the server in {:?}",
        started.elapsed()
    );
    println!("{}", reader.stats());
    cache.clear()?;
    Ok(())
}
