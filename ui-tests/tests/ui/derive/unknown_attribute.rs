use serde::{Deserialize, Serialize};
use smartcache::Cacheable;

#[derive(Serialize, Deserialize, Cacheable)]
#[cacheable(compression = "zstd")]
struct Report {
    rows: Vec<u32>,
}

fn main() {}
