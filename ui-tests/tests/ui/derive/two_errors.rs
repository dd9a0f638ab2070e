use serde::{Deserialize, Serialize};
use smartcache::Cacheable;

// Both mistakes are reported by one build.
#[derive(Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "disk", ttl = "10 minutes")]
struct Report {
    rows: Vec<u32>,
}

fn main() {}
