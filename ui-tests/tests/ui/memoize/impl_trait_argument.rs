use smartcache::prelude::*;

#[memoize]
fn double(x: impl Into<u64>) -> u64 {
    x.into() * 2
}

fn main() {}
