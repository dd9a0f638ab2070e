use serde::{Deserialize, Serialize};
use smartcache::Cacheable;

#[derive(Serialize, Deserialize, Cacheable)]
#[cacheable(ttl = "10 minutes")]
struct Report {
    rows: Vec<u32>,
}

fn main() {}
