use smartcache::memoize;

#[memoize(key = x.to_string(): String)]
fn echo<T: std::fmt::Display + Clone>(x: T) -> Vec<T> {
    vec![x]
}

fn main() {}
