use serde::{Deserialize, Serialize};
use smartcache::Cacheable;

#[derive(Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "redis")]
struct Session {
    user: String,
}

fn main() {}
