use smartcache::prelude::*;

fn main() {
    let cache = CacheConfig::temporary()
        .build::<std::fs::File, u64>()
        .expect("cache");
    let _ = cache;
}
