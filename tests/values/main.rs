//! Values: the built-in families (arrays, frames, images, JSON), the derive, heterogeneous caches, content keys, `configure_for` and configuration errors.
//!
//! One test binary for the concern, a module a file: every test binary links polars,
//! sled and redis, so tests share a binary by concern rather than having one each.

#[path = "../common/mod.rs"]
mod common;

mod any;
mod config_errors;
mod configure_for;
mod content_keys;
mod derive;
mod image;
mod json;
mod ndarray;
mod polars;
