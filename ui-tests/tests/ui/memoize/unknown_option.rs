use smartcache::prelude::*;

#[memoize(lifetime = "10m")]
fn double(x: u64) -> u64 {
    x * 2
}

fn main() {}
