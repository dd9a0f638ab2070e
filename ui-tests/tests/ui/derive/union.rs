use smartcache::Cacheable;

#[derive(Cacheable)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
