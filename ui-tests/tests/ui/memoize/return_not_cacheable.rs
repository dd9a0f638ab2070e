use smartcache::prelude::*;

#[derive(Clone)]
struct Connection;

#[memoize]
fn connect(port: u16) -> Connection {
    let _ = port;
    Connection
}

fn main() {}
