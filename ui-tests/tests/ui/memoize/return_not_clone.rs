use serde::{Deserialize, Serialize};
use smartcache::prelude::*;

// Cacheable, but returned by value and not Clone: return an Arc, or derive Clone.
#[derive(Cacheable, Serialize, Deserialize)]
struct Report {
    rows: Vec<u64>,
}

#[memoize]
fn report(year: u32) -> Report {
    Report { rows: vec![u64::from(year)] }
}

fn main() {}
