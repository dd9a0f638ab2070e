//! Full disks, real ones: a cache on a small tmpfs filled to the last byte, and a child
//! process under a file-size limit (`RLIMIT_FSIZE`, writes fail with `EFBIG`). Inserts
//! fail with an I/O error that names the path and the OS error, nothing panics, no value
//! read back is wrong, and every tier works again by itself once there is room: no
//! restart, no new cache.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use smartcache::prelude::*;

/// The value of `key`: sled-bound for even keys, file-bound for odd ones.
fn value_of(key: u64) -> Vec<u8> {
    if key.is_multiple_of(2) {
        medium(key)
    } else {
        large(key)
    }
}

/// Stores keys 0..6 while there is room, flushed; returns them.
fn store_with_room(cache: &SmartCache<u64, Vec<u8>>) -> Vec<u64> {
    for key in 0..6 {
        cache
            .insert(key, value_of(key))
            .expect("insert with room to spare");
    }
    cache.flush().expect("flush");
    (0..6).collect()
}

/// Inserts sled- and file-bound values until both tiers have failed; returns the keys
/// that were stored, checking every error on the way.
fn fill_until_both_fail(cache: &SmartCache<u64, Vec<u8>>, first_key: u64) -> Vec<u64> {
    let mut stored = Vec::new();
    let (mut sled_failed, mut file_failed) = (false, false);
    for key in first_key..first_key + 2_000 {
        let value = value_of(key);
        match cache.insert(key, value) {
            Ok(_) => stored.push(key),
            Err(e) => {
                check_error(&e);
                if key % 2 == 0 {
                    sled_failed = true;
                } else {
                    file_failed = true;
                }
            }
        }
        if sled_failed && file_failed {
            return stored;
        }
    }
    panic!("the disk never filled up: sled failed {sled_failed}, file failed {file_failed}");
}

/// A write to a full disk is an I/O error with the path and the OS error, or the sled
/// tier saying it is closed until it can be reopened; never an encode error.
fn check_error(e: &CacheError) {
    let message = e.to_string();
    match e {
        CacheError::Io { path, source, .. } => {
            assert!(!path.as_os_str().is_empty(), "{message}");
            // sled passes some OS errors on as a kind with the OS error's text.
            assert!(
                source.raw_os_error().is_some() || source.kind() != std::io::ErrorKind::Other,
                "no OS error in {message}"
            );
        }
        CacheError::TierUnavailable { tier, .. } => assert_eq!(*tier, Tier::Sled, "{message}"),
        CacheError::Sled { .. } => assert!(message.contains("sled"), "{message}"),
        other => panic!("a full disk reported as {other:?}: {message}"),
    }
}

/// Every stored key that is still there reads back exactly; returns how many did.
fn check_values(cache: &SmartCache<u64, Vec<u8>>, keys: &[u64]) -> usize {
    let mut found = 0;
    for &key in keys {
        if let Some(value) = cache.get(&key) {
            let expected = value_of(key);
            assert!(*value == expected, "key {key}: a wrong value");
            found += 1;
        }
    }
    found
}

/// Once there is room again, sled (after its reopen delay) and files take values.
fn recovers(cache: &SmartCache<u64, Vec<u8>>) {
    let sled_back = eventually(Duration::from_secs(10), || {
        cache.insert(1_000_000, medium(1_000_000)).is_ok()
    });
    assert!(
        sled_back,
        "the sled tier did not recover: {}",
        cache.stats()
    );
    assert_eq!(
        cache
            .insert(1_000_002, medium(1_000_002))
            .expect("sled insert"),
        Tier::Sled
    );
    assert_eq!(
        cache
            .insert(1_000_001, large(1_000_001))
            .expect("file insert"),
        Tier::File
    );
    assert_eq!(cache.get(&1_000_002).as_deref(), Some(&medium(1_000_002)));
    assert_eq!(cache.get(&1_000_001).as_deref(), Some(&large(1_000_001)));
    cache.flush().expect("flush after recovery");
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(bytes: u64) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .arg("tmpfs")
            .arg(dir.path())
            .status();
        status.is_ok_and(|s| s.success()).then_some(Tmpfs(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_tmpfs_fails_inserts_cleanly_and_recovers_when_space_returns() {
    let Some(fs) = Tmpfs::mount(24 << 20) else {
        // Mounting needs root (CI runs as root, and there this test must run).
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot mount a tmpfs in CI: run the tests as root"
        );
        eprintln!("not root: cannot mount a tmpfs for the full-disk test");
        return;
    };
    let cache: SmartCache<u64, Vec<u8>> = config(fs.path()).build().expect("build on tmpfs");
    let mut stored = store_with_room(&cache);
    // Take most of the room with a file of our own, then fill the rest through the cache.
    let filler = fs.path().join("filler");
    let free = fs2_free(fs.path());
    std::fs::write(&filler, vec![7u8; free.saturating_sub(4 << 20) as usize]).expect("filler");
    stored.extend(fill_until_both_fail(&cache, 100));
    assert!(cache.stats().errors() > 0, "{}", cache.stats());
    check_values(&cache, &stored);

    std::fs::remove_file(&filler).expect("free the room");
    recovers(&cache);
    let found = check_values(&cache, &stored);
    assert!(
        found >= 6,
        "values written with room to spare were lost: {found}"
    );
    drop(cache);

    // And a new cache on the same folder reads what survived, all of it right.
    let reopened: SmartCache<u64, Vec<u8>> = config(fs.path()).build().expect("reopen");
    assert!(check_values(&reopened, &stored) >= 6);
    assert_eq!(reopened.stats().invalid(), 0, "{}", reopened.stats());
}

/// Free bytes of the file system holding `path`.
#[allow(unsafe_code)]
fn fs2_free(path: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: `c` is a NUL-terminated path and `stat` a writable statvfs, both alive
    // for the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    let result = unsafe { libc::statvfs(c.as_ptr(), &mut stat) };
    assert_eq!(result, 0, "statvfs");
    stat.f_bavail as u64 * stat.f_frsize as u64
}

/// Sets the soft file-size limit of this process (the hard one stays).
#[allow(unsafe_code)]
fn set_file_size_limit(bytes: Option<u64>) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a valid, writable rlimit; ignoring SIGXFSZ makes an
    // oversized write fail with EFBIG instead of killing the process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
        limit.rlim_cur = bytes.map_or(limit.rlim_max, |b| b as libc::rlim_t);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

#[test]
fn child_file_size_limited() {
    let Some(dir) = child_role("fsize") else {
        return;
    };
    let cache: SmartCache<u64, Vec<u8>> = config(&dir).build().expect("build");
    let mut stored = store_with_room(&cache);
    // Files may not grow past 1 MiB: every file entry (LARGE > 1 MiB) and, soon, sled's
    // log fail with EFBIG.
    set_file_size_limit(Some(1 << 20));
    stored.extend(fill_until_both_fail(&cache, 100));
    let large_error = cache
        .insert(999_999, large(999_999))
        .expect_err("over the limit");
    match &large_error {
        // The file write, or sled's (closed by its own EFBIG, which this insert needs to
        // delete an older value of the key from).
        CacheError::Io { path, source, .. } => {
            assert!(
                source.raw_os_error() == Some(libc::EFBIG)
                    || source.kind() == std::io::ErrorKind::FileTooLarge,
                "{large_error}"
            );
            assert!(path.starts_with(&dir), "{large_error}");
        }
        other => panic!("an oversized file write reported as {other:?}"),
    }
    check_values(&cache, &stored);
    set_file_size_limit(None);
    recovers(&cache);
    assert!(check_values(&cache, &stored) >= 6);
    println!("stats after recovery:\n{}", cache.stats());
}

#[test]
fn a_file_size_limit_fails_inserts_cleanly_and_recovers_when_lifted() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_child("child_file_size_limited", "fsize", dir.path(), &[]);
    // The child's surviving values are right in a new process too.
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("reopen");
    for key in 0..6u64 {
        let expected = value_of(key);
        let got = cache.get(&key);
        assert!(
            got.as_deref() == Some(&expected),
            "key {key}: {:?} bytes",
            got.map(|v| v.len())
        );
    }
    assert_eq!(cache.stats().invalid(), 0, "{}", cache.stats());
}
