use smartcache::prelude::*;

#[memoize(compression = "zstd(40)")]
fn double(x: u64) -> u64 {
    x * 2
}

fn main() {}
