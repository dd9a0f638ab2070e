//! Crashes: a writer process killed (SIGKILL) in the middle of its writes, twenty times in
//! a row on the same folder, never leaves a wrong value behind, nor space that is never
//! reclaimed. The child (`child_crash_writer`) inserts values of every size (memory,
//! sled, sled blob, file) for keys in `0..300` at random, each key always with the same
//! value; the parent kills it at a random moment, opens the cache itself, and checks every
//! key: a hit must be exactly the key's value. At the end the cache folder may take at
//! most twice the live data plus 1 MiB, and no temporary file of a dead writer may be
//! left in `files/tmp/` once a cache has opened the folder.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use smartcache::prelude::*;

/// Keys the writer picks from.
const KEYS: u64 = 300;
/// Kills in a row on one folder.
const KILLS: usize = 20;
/// Values of keys `≡ 2 (mod 4)`: sled, and above sled's blob threshold.
const BLOB: usize = 200_000;
/// What the writer prints after its first inserts (anywhere in a line: libtest may print
/// the test's name first).
const READY: &str = "CRASH-WRITER-READY";
/// Inserts before the writer says it is ready.
const READY_AFTER: u64 = 20;
/// Environment of the writer: the seed of its key choices.
const WRITER_SEED: &str = "SMARTCACHE_TEST_WRITER_SEED";

/// The one value length of `key`: memory, sled, sled blob or file size by `key % 4`.
fn len_for(key: u64) -> usize {
    match key % 4 {
        0 => SMALL,
        1 => MEDIUM,
        2 => BLOB,
        _ => LARGE,
    }
}

/// The one value `key` ever has.
fn value_for(key: u64) -> Vec<u8> {
    bytes_for(key, len_for(key))
}

#[test]
fn child_crash_writer() {
    let Some(dir) = child_role("crash-writer") else {
        return;
    };
    let cache: SmartCache<u64, Vec<u8>> = config(&dir).build().expect("the writer opens the cache");
    write_until_killed(&cache, value_for);
}

/// A writer's loop: inserts `value_for` of keys picked with the parent's seed, says it is
/// ready after [`READY_AFTER`] of them, and goes on until it is killed.
fn write_until_killed<V: Cacheable>(cache: &SmartCache<u64, V>, value_for: fn(u64) -> V) -> ! {
    let seed: u64 = std::env::var(WRITER_SEED)
        .expect("the parent sets the writer's seed")
        .parse()
        .expect("a number");
    let mut rng = XorShift::new(seed);
    // Never outlive a parent that died without killing us for long.
    let until = Instant::now() + Duration::from_secs(60);
    let mut inserts = 0u64;
    while Instant::now() < until {
        let key = rng.below(KEYS);
        cache
            .insert(key, value_for(key))
            .expect("the writer's insert");
        inserts += 1;
        if inserts == READY_AFTER {
            println!("\n{READY}");
            std::io::stdout().flush().expect("flush stdout");
        }
    }
    panic!("the writer was not killed within a minute");
}

/// Bytes the files below the cache folder take.
fn folder_use(dir: &std::path::Path) -> u64 {
    disk_usage(&cache_dir(dir))
}

/// Where the bytes of the cache folder are: files, bytes and files per part (`sled/db`,
/// `sled/blobs`, `files` entries, `files/tmp`, ...).
fn breakdown(dir: &std::path::Path) -> String {
    let root = cache_dir(dir);
    let mut parts = std::collections::BTreeMap::<String, (u64, u64)>::new();
    for file in files_under(&root) {
        let rel = file.strip_prefix(&root).unwrap_or(&file);
        let names: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let part = match names.as_slice() {
            [top, sub, _, ..] if top == "files" && sub != "tmp" => "files (entries)".to_string(),
            [top, sub, _, ..] => format!("{top}/{sub}"),
            [top, _] if top == "sled" => rel.display().to_string(),
            [top, ..] => top.clone(),
            [] => continue,
        };
        let len = std::fs::metadata(&file).map_or(0, |m| m.len());
        let entry = parts.entry(part).or_default();
        entry.0 += 1;
        entry.1 += len;
    }
    parts
        .iter()
        .map(|(part, (files, bytes))| format!("{part}: {bytes} bytes in {files} file(s)"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn killed_writers_leave_no_wrong_value_and_no_lost_space() {
    let _watchdog = Watchdog::new("crash test", Duration::from_secs(300));
    let started = Instant::now();
    let seed = test_seed("crash", 0xC0FF_EE00);
    let mut rng = XorShift::new(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::tempdir().expect("tempdir for the writers' stderr");
    let expected: Vec<Vec<u8>> = (0..KEYS).map(value_for).collect();
    let tmp_dir = cache_dir(dir.path()).join("files").join("tmp");
    let mut leftovers = Vec::new();
    let mut last = None;

    for round in 0..KILLS {
        let round_started = Instant::now();
        let log_path = logs.path().join(format!("writer-{round}.stderr"));
        let log = std::fs::File::create(&log_path).expect("create the writer's log");
        let child = child_command("child_crash_writer", "crash-writer", dir.path())
            .env(WRITER_SEED, rng.next_u64().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn the crash writer");
        let mut guard = KillOnDrop(Some(child));
        let child = guard.0.as_mut().expect("child");
        let stdout = child.stdout.take().expect("the writer's stdout");
        let ready = BufReader::new(stdout)
            .lines()
            .any(|line| line.is_ok_and(|l| l.contains(READY)));
        let log_of = || std::fs::read_to_string(&log_path).unwrap_or_default();
        assert!(
            ready,
            "round {round}: the writer exited before it was ready ({:?}):\n{}",
            child.try_wait(),
            log_of()
        );
        let pause = rng.range(50, 401);
        std::thread::sleep(Duration::from_millis(pause));
        let early = child.try_wait().expect("poll the writer");
        assert!(
            early.is_none(),
            "round {round}: the writer stopped by itself ({early:?}) instead of being killed:\n{}",
            log_of()
        );
        child.kill().expect("kill the writer");
        let status = child.wait().expect("reap the writer");
        guard.0 = None;
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(9),
                "round {round}: not killed: {status}"
            );
        }
        let killed_at = round_started.elapsed();

        let cache = no_panic(format!("round {round}: build"), || {
            config(dir.path()).build::<u64, Vec<u8>>()
        })
        .unwrap_or_else(|e| {
            panic!("round {round}: the cache does not open after a killed writer: {e}")
        });
        let (mut hits, mut found) = (0u64, 0u64);
        for key in 0..KEYS {
            let got = no_panic(format!("round {round}: get({key})"), || cache.get(&key));
            if let Some(got) = got {
                assert!(
                    *got == expected[key as usize],
                    "round {round}: key {key} read back wrong after a killed writer: {} bytes, \
                     its value has {}",
                    got.len(),
                    expected[key as usize].len()
                );
                hits += 1;
                found += got.len() as u64;
            }
        }
        let stats = cache.stats();
        let stray = files_under(&tmp_dir);
        if !stray.is_empty() {
            let bytes: u64 = stray
                .iter()
                .filter_map(|f| std::fs::metadata(f).ok())
                .map(|m| m.len())
                .sum();
            leftovers.push(format!(
                "round {round}: {} file(s), {bytes} bytes",
                stray.len()
            ));
        }
        println!(
            "round {round}: killed after {pause} ms (at {killed_at:.2?}), {hits} hits \
             ({found} bytes), {} in files/tmp, round took {:.2?}",
            stray.len(),
            round_started.elapsed()
        );
        if round + 1 == KILLS {
            last = Some((found, stats, folder_use(dir.path())));
        }
        no_panic(format!("round {round}: drop"), move || drop(cache));
    }

    let (found, stats, used_open) = last.expect("the last round");
    let used = folder_use(dir.path());
    let accounted = stats.sled.bytes + stats.file.bytes;
    let allowed = 2 * found + (1 << 20);
    println!(
        "after {KILLS} kills: the folder takes {used} bytes ({used_open} while open); live \
         values {found} bytes (stats: sled {} + file {} = {accounted} bytes); allowed \
         {allowed}; {:.2?} in all\n{}\n{stats}",
        stats.sled.bytes,
        stats.file.bytes,
        started.elapsed(),
        breakdown(dir.path())
    );
    let mut problems = Vec::new();
    if used > allowed {
        problems.push(format!(
            "the cache folder takes {used} bytes for {found} bytes of live values (more than \
             2× + 1 MiB = {allowed}): {}",
            breakdown(dir.path())
        ));
    }
    if !leftovers.is_empty() {
        problems.push(format!(
            "temporary files of killed writers were still in {} after the cache opened: {}",
            tmp_dir.display(),
            leftovers.join("; ")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Environment of the sled writer: `fsync` for `Durability::Fsync`.
const WRITER_DURABILITY: &str = "SMARTCACHE_TEST_WRITER_DURABILITY";

/// The one sled value of `key`: 1 KiB, 20 KB, or 200 KB (a sled blob) by `key % 3`.
fn sled_value_for(key: u64) -> InSled {
    let len = match key % 3 {
        0 => 1024,
        1 => MEDIUM,
        _ => BLOB,
    };
    InSled(bytes_for(key, len))
}

#[test]
fn child_sled_writer() {
    let Some(dir) = child_role("sled-writer") else {
        return;
    };
    let durability = match std::env::var(WRITER_DURABILITY).as_deref() {
        Ok("fsync") => Durability::Fsync,
        _ => Durability::Buffered,
    };
    let cache: SmartCache<u64, InSled> = config(&dir)
        .durability(durability)
        .build()
        .expect("the writer opens the cache");
    write_until_killed(&cache, sled_value_for);
}

/// Twenty writers killed mid-insert on one sled tier, then one open: the sled folder
/// (database and blobs) is within twice the live bytes + 16 MiB, and `stats()` says what
/// it really takes. With `gc`, the folder is first cleaned as `smartcache gc` does
/// (`Namespace::leftovers(true)`), which must bring it there by itself.
fn killed_sled_writers_leave_the_folder_near_its_live_bytes(durability: &str, gc: bool) {
    let _watchdog = Watchdog::new("sled crash test", Duration::from_secs(300));
    let mut rng = XorShift::new(test_seed("sled-crash", 0x5_1ED));
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::tempdir().expect("tempdir for the writers' stderr");
    for round in 0..KILLS {
        let log_path = logs.path().join(format!("writer-{round}.stderr"));
        let log = std::fs::File::create(&log_path).expect("create the writer's log");
        let child = child_command("child_sled_writer", "sled-writer", dir.path())
            .env(WRITER_SEED, rng.next_u64().to_string())
            .env(WRITER_DURABILITY, durability)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn the sled writer");
        let mut guard = KillOnDrop(Some(child));
        let child = guard.0.as_mut().expect("child");
        let stdout = child.stdout.take().expect("the writer's stdout");
        let ready = BufReader::new(stdout)
            .lines()
            .any(|line| line.is_ok_and(|l| l.contains(READY)));
        assert!(
            ready,
            "round {round}: the writer exited before it was ready:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(rng.range(50, 401)));
        child.kill().expect("kill the writer");
        child.wait().expect("reap the writer");
        guard.0 = None;
    }
    let sled_dir = cache_dir(dir.path()).join("sled");
    let before = disk_usage(&sled_dir);
    // What `smartcache gc` does, before any cache opens the folder.
    let after_gc = gc.then(|| {
        let namespace = smartcache::admin::Storage::new(dir.path())
            .open(NS)
            .expect("open the namespace to look at it");
        let leftovers = namespace.leftovers(true);
        drop(namespace);
        let after = disk_usage(&sled_dir);
        println!("gc: {before} -> {after} bytes; {leftovers:?}");
        after
    });
    let cache: SmartCache<u64, InSled> = no_panic("open after the kills", || {
        config(dir.path()).durability(Durability::Buffered).build()
    })
    .expect("the cache opens after killed writers");
    let mut live = 0u64;
    for key in 0..KEYS {
        if let Some(got) = no_panic(format!("get({key})"), || cache.get(&key)) {
            assert!(*got == sled_value_for(key), "key {key} read back wrong");
            live += got.0.len() as u64;
        }
    }
    let stats = cache.stats();
    let used = disk_usage(&sled_dir);
    let allowed = 2 * stats.sled.bytes + (16 << 20);
    println!(
        "{durability}: after {KILLS} kills the sled folder took {before} bytes; reopened, \
         {used} bytes for {} bytes of entries ({live} bytes of values); allowed {allowed}; \
         stats say {} bytes on disk\n{stats}",
        stats.sled.bytes, stats.sled.disk_bytes
    );
    assert!(live > 0, "no value survived twenty kills");
    assert!(
        used <= allowed,
        "{durability}: the sled folder takes {used} bytes for {} bytes of entries (more than \
         2× + 16 MiB = {allowed})",
        stats.sled.bytes
    );
    if let Some(after_gc) = after_gc {
        assert!(
            after_gc <= allowed,
            "{durability}: after gc the sled folder takes {after_gc} bytes for {} bytes of \
             entries (more than 2× + 16 MiB = {allowed})",
            stats.sled.bytes
        );
    }
    // disk_bytes is the folder as `stats()` measured it, just before `used`: sled may
    // write between the two, on its own flush thread, a few of its segments at most.
    let off = stats.sled.disk_bytes.abs_diff(used);
    assert!(
        off <= (used / 20).max(4 << 20),
        "stats().sled.disk_bytes is {} but the folder takes {used} bytes",
        stats.sled.disk_bytes
    );
}

#[test]
fn killed_buffered_sled_writers_leave_the_folder_near_its_live_bytes() {
    killed_sled_writers_leave_the_folder_near_its_live_bytes("buffered", false);
}

#[test]
fn killed_fsync_sled_writers_leave_the_folder_near_its_live_bytes_and_gc_compacts_it() {
    killed_sled_writers_leave_the_folder_near_its_live_bytes("fsync", true);
}
