//! The Redis tier against a real `redis-server`: operations, outages (a stopped server) and TLS.
//!
//! One test binary for the concern, a module a file: every test binary links polars,
//! sled and redis, so tests share a binary by concern rather than having one each.

#[path = "../common/mod.rs"]
mod common;

mod operations;
mod outage;
mod tls;
