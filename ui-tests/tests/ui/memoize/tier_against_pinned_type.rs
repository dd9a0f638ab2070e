use serde::{Deserialize, Serialize};
use smartcache::prelude::*;

// A type pinned to files, memoized with `tier = "memory"`: the pin would win silently.
#[derive(Cacheable, Clone, Serialize, Deserialize)]
#[cacheable(tier = "file")]
struct Report {
    rows: Vec<u64>,
}

#[memoize(tier = "memory")]
fn report(year: u32) -> Report {
    Report { rows: vec![u64::from(year)] }
}

fn main() {}
