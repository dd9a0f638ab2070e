use serde::{Deserialize, Serialize};
use smartcache::Cacheable;

#[derive(Serialize, Deserialize, Cacheable)]
#[cacheable(version = "2")]
struct Report {
    rows: Vec<u32>,
}

fn main() {}
