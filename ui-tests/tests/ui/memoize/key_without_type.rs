use smartcache::prelude::*;

#[memoize(key = id % 10)]
fn bucket(id: u64) -> u64 {
    id % 10
}

fn main() {}
