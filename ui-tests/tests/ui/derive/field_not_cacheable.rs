use serde::{Deserialize, Serialize};
use smartcache::Cacheable;

#[derive(Serialize, Deserialize)]
struct Opaque(u8);

#[derive(Serialize, Deserialize, Cacheable)]
struct Report {
    inner: Opaque,
}

fn main() {}
