use smartcache::prelude::*;

struct Connection;

fn main() {
    let cache: SmartCache<u32, Connection> = SmartCache::new();
    let _ = cache;
}
