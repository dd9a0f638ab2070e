use smartcache::prelude::*;

// Both mistakes are reported by one build.
#[memoize(ttl = "ten minutes", maxsize = 128)]
fn double(x: u64) -> u64 {
    x * 2
}

fn main() {
    // The function is still there: no "cannot find function" on top of the errors.
    let _ = double(2);
}
