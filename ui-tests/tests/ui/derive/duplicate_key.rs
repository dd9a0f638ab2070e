use serde::{Deserialize, Serialize};
use smartcache::Cacheable;

#[derive(Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "sled", tier = "file")]
struct Report {
    rows: Vec<u32>,
}

fn main() {}
