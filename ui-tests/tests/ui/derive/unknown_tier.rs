use serde::{Deserialize, Serialize};
use smartcache::Cacheable;

#[derive(Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "disk")]
struct Report {
    rows: Vec<u32>,
}

fn main() {}
