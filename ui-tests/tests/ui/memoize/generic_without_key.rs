use smartcache::memoize;

#[memoize]
fn describe<T: std::fmt::Display + Clone>(value: T) -> String {
    format!("<{value}>")
}

fn main() {}
