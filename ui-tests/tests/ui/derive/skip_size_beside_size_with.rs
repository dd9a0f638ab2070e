use serde::{Deserialize, Serialize};
use smartcache::prelude::*;

fn estimate(_: &Frame) -> usize {
    64
}

#[derive(Serialize, Deserialize, Cacheable)]
#[cacheable(size_with = estimate)]
struct Frame {
    #[cacheable(skip_size)]
    pixels: Vec<u8>,
}

fn main() {}
