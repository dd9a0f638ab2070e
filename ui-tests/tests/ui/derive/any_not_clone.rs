use smartcache::Cacheable;

#[derive(serde::Serialize, serde::Deserialize, Cacheable)]
#[cacheable(any)]
struct Report {
    rows: Vec<u32>,
}

fn main() {}
