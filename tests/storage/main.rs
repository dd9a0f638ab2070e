//! Storage: every tier under real faults and load (damaged bytes, killed writers, full disks, other processes), routing, eviction, expiry, persistence, permissions and walks.
//!
//! One test binary for the concern, a module a file: every test binary links polars,
//! sled and redis, so tests share a binary by concern rather than having one each.

#[path = "../common/mod.rs"]
mod common;

mod bit_rot;
mod collision;
mod concurrency;
mod corruption;
mod crash;
mod damaged_sled;
mod disk_full;
mod eviction;
mod expiry;
mod mismatch;
mod mmap_reads;
mod multiprocess;
mod operations;
mod permissions;
mod persistence;
mod routing;
mod sled_precheck;
mod stress;
mod walk;
