//! Shared by the benches: a Criterion that writes its estimates where we can read them
//! back, and the line that prints our time against the peer's.

#![allow(dead_code)]

use std::path::PathBuf;

use criterion::Criterion;

/// Where Criterion keeps its estimates for these benches.
pub fn output_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion")
}

/// A Criterion configured from the command line, writing to [`output_dir`].
pub fn criterion() -> Criterion {
    Criterion::default()
        .output_directory(&output_dir())
        .configure_from_args()
}

/// The mean time in nanoseconds that Criterion estimated for `group/id` in this run.
pub fn mean_ns(group: &str, id: &str) -> Option<f64> {
    // Criterion names its folders by the ids, with what a file name cannot hold replaced.
    let safe = |name: &str| name.replace(['?', '"', '/', '\\', '*', '<', '>', ':', '|', '^'], "_");
    let path = output_dir()
        .join(safe(group))
        .join(safe(id))
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

/// Prints `ours / peer` for `group`, with the target the ratio must meet.
pub fn report_ratio(group: &str, ours: &str, peer: &str, target: &str) {
    match (mean_ns(group, ours), mean_ns(group, peer)) {
        (Some(a), Some(b)) => println!(
            "RATIO {group}: {ours} {} / {peer} {} = {:.2}x (target {target})",
            human(a),
            human(b),
            a / b
        ),
        _ => println!("RATIO {group}: no estimates in this run (run `cargo bench` without --test)"),
    }
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}
