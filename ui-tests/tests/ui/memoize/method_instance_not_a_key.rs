use smartcache::prelude::*;

struct Shape {
    side: u64,
}

impl Shape {
    #[memoize]
    fn area(&self, scale: u64) -> u64 {
        self.side * self.side * scale
    }
}

fn main() {}
