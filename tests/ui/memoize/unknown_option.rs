use smartcache::prelude::*;

#[memoize(maxsize = 128)]
fn double(x: u64) -> u64 {
    x * 2
}

fn main() {}
