//! The `smartcache` CLI, run as a real binary on caches the library wrote: healthy,
//! with damaged entry files (verify finds them, `--fix` mends), with expired entries,
//! with what killed writers and a damaged sled store leave behind, empty, missing, held
//! by a running process, and over a size.

#![cfg(feature = "cli")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use common::*;
use serde_json::Value;
use smartcache::prelude::*;

/// The CLI on storage root `dir`.
fn cli(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_smartcache"));
    command.arg("--dir").arg(dir).env_remove("SMARTCACHE_DIR");
    command
}

/// Runs the CLI with `args`, expects exit code `code`, and returns its standard output.
fn run(dir: &Path, args: &[&str], code: i32) -> String {
    let output = cli(dir).args(args).output().expect("run smartcache");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "smartcache {args:?}: exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
}

/// Runs the CLI with `args` and `--json`, expecting exit code `code`.
fn json(dir: &Path, args: &[&str], code: i32) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let out = run(dir, &args, code);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

/// `stats --json`'s figures for `tier` of `namespace`.
fn tier_stats(stats: &Value, namespace: &str, tier: &str) -> Value {
    stats["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .find(|n| n["name"] == namespace)
        .and_then(|n| {
            n["tiers"]
                .as_array()
                .expect("tiers")
                .iter()
                .find(|t| t["tier"] == tier)
                .cloned()
        })
        .unwrap_or_else(|| panic!("no {tier} figures for {namespace} in {stats:#}"))
}

/// The `ls --json` entries of `namespace`.
fn listed(dir: &Path, namespace: &str) -> Vec<Value> {
    let ls = json(dir, &["ls", "-n", namespace], 0);
    ls["entries"].as_array().expect("entries").clone()
}

/// Starts child `test` as `role` on `dir` and waits until it prints `READY`.
fn spawn_ready(test: &str, role: &str, dir: &Path) -> KillOnDrop {
    let child = child_command(test, role, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {role}: {e}"));
    let mut guard = KillOnDrop(Some(child));
    let child = guard.0.as_mut().expect("child");
    let ready = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .any(|l| l.is_ok_and(|l| l.contains("READY")));
    assert!(ready, "{role} died before it was ready");
    guard
}

/// A cache of `Vec<u8>` values routed by size: medium ones to sled, large ones to files.
fn auto_cache(dir: &Path) -> SmartCache<u64, Vec<u8>> {
    config(dir).build().expect("cache")
}

/// Keys 0..4 medium (sled), 10..13 large (files), and a string-keyed file entry.
fn fill(dir: &Path) {
    let cache = auto_cache(dir);
    for key in 0..4 {
        assert_eq!(cache.insert(key, medium(key)).expect("insert"), Tier::Sled);
    }
    for key in 10..13 {
        assert_eq!(cache.insert(key, large(key)).expect("insert"), Tier::File);
    }
    let reports: SmartCache<String, InFile> = CacheConfig::default()
        .dir(dir)
        .namespace("reports")
        .build()
        .expect("cache");
    reports
        .insert("q3 \"draft\"".to_string(), InFile(small(1)))
        .expect("insert");
}

#[test]
fn a_healthy_cache_is_listed_counted_inspected_and_verified() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path());

    let stats = json(dir.path(), &["stats"], 0);
    let sled = tier_stats(&stats, NS, "sled");
    assert_eq!(sled["entries"], 4, "{stats:#}");
    assert_eq!(sled["in_use"], false);
    let files = tier_stats(&stats, NS, "file");
    assert_eq!(files["entries"], 3, "{stats:#}");
    assert!(files["bytes"].as_u64().expect("bytes") >= 3 * LARGE as u64);
    assert_eq!(files["expired"], 0);
    assert_eq!(files["corrupt"], 0);
    assert!(files["oldest_ms"].as_u64() <= files["newest_ms"].as_u64());

    let entries = listed(dir.path(), NS);
    let mut keys: Vec<&str> = entries
        .iter()
        .map(|e| e["key"].as_str().expect("key"))
        .collect();
    keys.sort();
    assert_eq!(keys, ["0", "1", "10", "11", "12", "2", "3"]);
    for e in &entries {
        assert_eq!(e["value_type"], "alloc::vec::Vec<u8>", "{e:#}");
        assert_eq!(e["key_type"], "u64");
        assert_eq!(e["state"], "sound");
        assert_eq!(e["expires_ms"], Value::Null);
    }
    let reports = listed(dir.path(), "reports");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["key"], "\"q3 \\\"draft\\\"\"");
    assert_eq!(reports[0]["tier"], "file");
    let table = run(dir.path(), &["ls"], 0);
    assert!(
        table.contains("Vec<u8>") && table.contains("reports"),
        "{table}"
    );

    let shown = run(dir.path(), &["inspect", "11", "-n", NS], 0);
    for line in [
        "tier             file",
        "codec            raw",
        "payload checksum valid",
    ] {
        assert!(shown.contains(line), "no {line:?} in:\n{shown}");
    }
    let shown = json(dir.path(), &["inspect", "2", "-n", NS], 0);
    assert_eq!(shown["entries"][0]["tier"], "sled");
    assert_eq!(shown["entries"][0]["payload_checksum"], "valid");
    run(dir.path(), &["inspect", "99", "-n", NS], 1);

    let verified = run(dir.path(), &["verify"], 0);
    assert!(
        verified.contains("checked 8 entries: all sound"),
        "{verified}"
    );
    // The cache still serves everything afterwards.
    let cache = auto_cache(dir.path());
    assert_eq!(cache.get(&11).as_deref(), Some(&large(11)));
    assert_eq!(cache.get(&1).as_deref(), Some(&medium(1)));
}

#[test]
fn verify_finds_damaged_entry_files_and_fix_removes_only_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path());
    let cache = auto_cache(dir.path());
    let flipped = file_of(&cache, 10u64);
    let truncated = file_of(&cache, 11u64);
    drop(cache);
    flip_bit(&flipped, LARGE / 2);
    truncate_file(&truncated, 5000);

    let out = run(dir.path(), &["verify"], 1);
    assert!(out.contains("2 damaged"), "{out}");
    assert!(out.contains("key 10") && out.contains("key 11"), "{out}");
    // Headers alone do not show a flipped payload byte: stats sees the truncation only.
    let stats = json(dir.path(), &["stats", "-n", NS], 0);
    assert_eq!(tier_stats(&stats, NS, "file")["corrupt"], 1, "{stats:#}");
    let shown = json(dir.path(), &["inspect", "10", "-n", NS], 1);
    assert_eq!(shown["entries"][0]["payload_checksum"], "invalid");

    let report = json(dir.path(), &["verify", "--fix"], 1);
    assert_eq!(
        report["damaged"].as_array().map(Vec::len),
        Some(2),
        "{report:#}"
    );
    assert_eq!(report["removed"], 2);
    assert!(!flipped.exists() && !truncated.exists());
    run(dir.path(), &["verify"], 0);
    let cache = auto_cache(dir.path());
    assert_eq!(cache.get(&10), None);
    assert_eq!(cache.get(&12).as_deref(), Some(&large(12)));
    assert_eq!(cache.get(&3).as_deref(), Some(&medium(3)));
}

#[test]
fn expired_entries_are_counted_and_collected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .ttl(Duration::from_millis(200))
        .build()
        .expect("cache");
    cache.insert(1, medium(1)).expect("insert");
    cache.insert(2, large(2)).expect("insert");
    drop(cache);
    let lasting = auto_cache(dir.path());
    lasting.insert(3, medium(3)).expect("insert");
    drop(lasting);
    std::thread::sleep(Duration::from_millis(300));

    let stats = json(dir.path(), &["stats"], 0);
    assert_eq!(tier_stats(&stats, NS, "sled")["expired"], 1, "{stats:#}");
    assert_eq!(tier_stats(&stats, NS, "file")["expired"], 1, "{stats:#}");
    let dry = json(dir.path(), &["gc", "--dry-run"], 0);
    assert_eq!(dry["expired"]["entries"], 2, "{dry:#}");
    assert_eq!(listed(dir.path(), NS).len(), 3, "a dry run removes nothing");
    let gc = json(dir.path(), &["gc"], 0);
    assert_eq!(gc["expired"]["entries"], 2, "{gc:#}");
    assert!(gc["freed_bytes"].as_u64().expect("freed") >= LARGE as u64);
    let left = listed(dir.path(), NS);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["key"], "3");
}

#[test]
fn child_killed_writer() {
    let Some(dir) = child_role("cli-killed-writer") else {
        return;
    };
    let cache: SmartCache<u64, InFile> = config(&dir).build().expect("cache");
    let value = InFile(bytes_for(7, 64 << 20));
    cache.insert(0, value.clone()).expect("insert");
    println!("\nREADY");
    std::io::stdout().flush().expect("flush");
    for key in 1.. {
        cache.insert(key % 4, value.clone()).expect("insert");
    }
}

#[test]
fn crash_leftovers_are_shown_and_collected() {
    let _watchdog = Watchdog::new("cli leftovers", Duration::from_secs(240));
    let dir = tempfile::tempdir().expect("tempdir");
    let tmp = cache_dir(dir.path()).join("files").join("tmp");
    // A damaged sled store, set aside by the cache that opens it. (Opening a cache also
    // removes what dead writers left, so the writers come after.)
    // Two sessions: the second open recovers the first and has sled write a snapshot.
    for keys in [0..25, 25..50] {
        let cache = auto_cache(dir.path());
        for key in keys {
            cache.insert(key, medium(key)).expect("insert");
        }
    }
    let db = sled_path(&cache_dir(dir.path())).join("db");
    let len = std::fs::metadata(&db).expect("sled's db").len();
    std::fs::write(&db, vec![0u8; len as usize]).expect("zero sled's db");
    let cache = auto_cache(dir.path());
    let _ = cache.get(&1);
    assert!(
        cache.stats().sled.quarantined >= 1,
        "{}\n{}",
        cache.stats(),
        listing(&cache_dir(dir.path()))
    );
    drop(cache);

    // Writers killed mid-write until one leaves its temporary file behind.
    for round in 0.. {
        assert!(
            round < 20,
            "no killed writer left a temporary file in 20 rounds"
        );
        let mut guard = spawn_ready("child_killed_writer", "cli-killed-writer", dir.path());
        let child = guard.0.as_mut().expect("child");
        std::thread::sleep(Duration::from_millis(50 + 37 * round));
        child.kill().expect("kill the writer");
        child.wait().expect("reap the writer");
        guard.0 = None;
        if std::fs::read_dir(&tmp).is_ok_and(|mut d| d.next().is_some()) {
            break;
        }
    }
    let stats = json(dir.path(), &["stats", "-n", NS], 0);
    let leftovers = &stats["namespaces"][0]["leftovers"];
    assert!(leftovers["count"].as_u64() >= Some(2), "{stats:#}");
    let human = run(dir.path(), &["stats"], 0);
    assert!(human.contains("leftovers"), "{human}");
    let dry = json(dir.path(), &["gc", "--dry-run"], 0);
    assert!(dry["leftovers"]["count"].as_u64() >= Some(2), "{dry:#}");
    assert!(std::fs::read_dir(&tmp).is_ok_and(|mut d| d.next().is_some()));
    let gc = json(dir.path(), &["gc"], 0);
    assert!(gc["leftovers"]["bytes"].as_u64() > Some(0), "{gc:#}");
    assert!(
        std::fs::read_dir(&tmp).is_ok_and(|mut d| d.next().is_none()),
        "{}",
        listing(&tmp)
    );
    assert!(!cache_dir(dir.path())
        .join("quarantine")
        .read_dir()
        .is_ok_and(|mut d| d.next().is_some()));
    let again = json(dir.path(), &["stats", "-n", NS], 0);
    assert_eq!(again["namespaces"][0]["leftovers"]["count"], 0, "{again:#}");
    // The whole values the writers finished are still there and sound.
    run(dir.path(), &["verify"], 0);
    let kept = listed(dir.path(), NS);
    assert!(
        kept.iter()
            .any(|e| e["tier"] == "file" && e["state"] == "sound"),
        "gc removed the writers' finished entries: {kept:#?}"
    );
}

#[test]
fn empty_missing_and_unusable_roots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), &["stats"], 0);
    assert!(out.contains("no caches under"), "{out}");
    assert_eq!(
        json(dir.path(), &["ls"], 0)["entries"],
        Value::Array(vec![])
    );
    run(dir.path(), &["verify"], 0);

    let missing = dir.path().join("not/there");
    let out = run(&missing, &["stats"], 0);
    assert!(out.contains("does not exist yet"), "{out}");
    assert!(!missing.exists(), "a look creates nothing");
    let shown = json(&missing, &["dir"], 0);
    assert_eq!(shown["exists"], false);
    assert_eq!(shown["source"], "--dir");
    assert_eq!(run(&missing, &["dir"], 0).trim(), missing.to_string_lossy());

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let output = cli(&file).arg("stats").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is a file") && stderr.contains("--dir"),
        "{stderr}"
    );
    // Bad usage: exit 2 with clap's message.
    let output = cli(dir.path())
        .args(["gc", "--max-size", "ten"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    run(dir.path(), &["ls", "-n", "nothing-here"], 2);
}

#[test]
fn the_default_root_comes_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_smartcache"))
        .args(["dir", "--json"])
        .env("SMARTCACHE_DIR", dir.path())
        .output()
        .expect("run");
    assert!(output.status.success());
    let shown: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(shown["root"], dir.path().to_string_lossy().as_ref());
    assert_eq!(shown["source"], "SMARTCACHE_DIR");
}

#[test]
fn child_holds_sled() {
    let Some(dir) = child_role("cli-holds-sled") else {
        return;
    };
    let cache = auto_cache(&dir);
    cache.insert(5, medium(5)).expect("insert");
    cache.flush().expect("flush");
    println!("\nREADY");
    std::io::stdout().flush().expect("flush");
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_sled_store_in_use_is_reported_not_forced() {
    let _watchdog = Watchdog::new("cli in use", Duration::from_secs(240));
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path());
    let guard = spawn_ready("child_holds_sled", "cli-holds-sled", dir.path());

    let output = cli(dir.path())
        .args(["stats", "--json"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let stats: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(tier_stats(&stats, NS, "sled")["in_use"], true, "{stats:#}");
    assert_eq!(tier_stats(&stats, NS, "file")["entries"], 3, "{stats:#}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by a running process"), "{stderr}");
    // Cleared in part: exit 1, and the file tier is empty.
    run(dir.path(), &["clear", "-n", NS, "--yes"], 1);
    assert_eq!(listed(dir.path(), NS).len(), 0, "the file tier is cleared");
    drop(guard);
    // sled was not touched while held: its entries are all there.
    let entries = listed(dir.path(), NS);
    assert_eq!(entries.len(), 5, "{entries:#?}");
}

#[test]
fn clear_asks_and_refuses_without_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path());
    let output = cli(dir.path()).arg("clear").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--yes"));
    assert_eq!(listed(dir.path(), NS).len(), 7, "nothing was deleted");
    run(dir.path(), &["clear", "-n", "reports", "--yes"], 0);
    assert_eq!(listed(dir.path(), "reports").len(), 0);
    assert_eq!(listed(dir.path(), NS).len(), 7);
    run(dir.path(), &["clear", "--yes"], 0);
    assert_eq!(listed(dir.path(), NS).len(), 0);
    assert_eq!(auto_cache(dir.path()).get(&1), None);
}

#[test]
fn gc_enforces_age_and_size_least_recently_used_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, InFile> = config(dir.path()).build().expect("cache");
    for key in 0..6 {
        cache
            .insert(key, InFile(bytes_for(key, 1 << 20)))
            .expect("insert");
    }
    // Entry 0 unused for ten days, entry 1 for two, as a file tier records use.
    for (key, days) in [(0u64, 10u64), (1, 2)] {
        let file = std::fs::File::options()
            .write(true)
            .open(file_of(&cache, key))
            .expect("open");
        let then = SystemTime::now() - Duration::from_secs(days * 86_400);
        file.set_modified(then).expect("set the time of last use");
    }
    drop(cache);
    let gc = json(dir.path(), &["gc", "--older-than", "7d"], 0);
    assert_eq!(gc["older_than"]["entries"], 1, "{gc:#}");
    let dry = json(dir.path(), &["gc", "--max-size", "3M", "--dry-run"], 0);
    assert_eq!(dry["over_size"]["entries"], 3, "{dry:#}");
    assert_eq!(listed(dir.path(), NS).len(), 5);
    let gc = json(dir.path(), &["gc", "--max-size", "3M"], 0);
    assert_eq!(gc["over_size"]["entries"], 3, "{gc:#}");
    assert!(gc["remaining_bytes"].as_u64() <= Some(3 << 20), "{gc:#}");
    let cache: SmartCache<u64, InFile> = config(dir.path()).build().expect("cache");
    assert_eq!(cache.get(&0), None);
    assert_eq!(cache.get(&1), None, "the least recently used went first");
    assert!(cache.get(&5).is_some());
}

/// A file bind-mounted over itself: deleting it fails (the file is busy), for root too,
/// until this is dropped.
struct Pinned(std::path::PathBuf);

impl Pinned {
    fn over(path: &Path) -> Option<Pinned> {
        let status = std::process::Command::new("mount")
            .arg("--bind")
            .arg(path)
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Pinned(path.to_path_buf()))
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn an_entry_that_cannot_be_removed_is_reported_and_not_counted_as_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path());
    let cache = auto_cache(dir.path());
    let damaged = file_of(&cache, 11u64);
    drop(cache);
    truncate_file(&damaged, 5000);
    let Some(pinned) = Pinned::over(&damaged) else {
        // Mounting needs root (CI runs as root, and there this test must run).
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot bind-mount in CI: run the tests as root"
        );
        eprintln!("not root: cannot pin an entry file for the failed-removal test");
        return;
    };

    let output = cli(dir.path())
        .args(["verify", "--fix", "--json"])
        .output()
        .expect("run smartcache");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON alone");
    assert_eq!(report["removed"], 0, "{report:#}");
    assert_eq!(report["not_removed"], 1, "{report:#}");
    assert!(
        stderr.contains("WARN") && stderr.contains("cannot remove an entry"),
        "the library's warning is not shown: {stderr}"
    );
    assert!(stderr.contains("could not be removed"), "{stderr}");

    let output = cli(dir.path())
        .args(["gc", "--json"])
        .env("SMARTCACHE_LOG", "off")
        .output()
        .expect("run smartcache");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("WARN"), "SMARTCACHE_LOG=off: {stderr}");
    let gc: Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON alone");
    assert_eq!(gc["corrupt"]["entries"], 1, "{gc:#}");
    assert_eq!(gc["not_removed"]["entries"], 1, "{gc:#}");
    assert_eq!(gc["not_removed"]["bytes"], gc["corrupt"]["bytes"], "{gc:#}");
    assert_eq!(gc["freed_bytes"], 0, "{gc:#}");
    assert!(damaged.exists());

    drop(pinned);
    let gc = json(dir.path(), &["gc"], 0);
    assert_eq!(gc["not_removed"]["entries"], 0, "{gc:#}");
    assert!(
        !damaged.exists(),
        "gc left the damaged entry once it could go"
    );
    run(dir.path(), &["verify"], 0);
}
