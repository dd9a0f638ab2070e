use smartcache::Cacheable;

#[derive(serde::Serialize, serde::Deserialize, Cacheable)]
#[cacheable(any)]
struct Pair<T> {
    a: T,
    b: T,
}

fn main() {}
