//! Permissions (Unix): by default every folder the cache creates is 0700 and every entry
//! file 0600, whatever the umask; with `secure(false)` the modes are left to the umask.
//!
//! The umask is process-wide, so each check runs in a child process started through
//! `sh -c 'umask NNN; exec <this test binary> --exact <child test>'`.
#![cfg(unix)]

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use smartcache::prelude::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// Runs child test `test` as `role` on `dir` under `umask`, with `SECURE` set to `secure`.
fn run_under_umask(test: &str, role: &str, dir: &Path, umask: u32, secure: bool) {
    let exe = std::env::current_exe().expect("path of the test binary");
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask:03o} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args([
            "--exact",
            &test_name(test),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(DIR, dir)
        .env("SMARTCACHE_TEST_UMASK", format!("{umask:o}"))
        .env("SMARTCACHE_TEST_SECURE", if secure { "1" } else { "0" })
        .output()
        .expect("run the child under sh");
    assert_child_passed(
        &output,
        &format!("{role} (umask {umask:03o}, secure {secure})"),
    );
}

/// Creates a cache (its root folder too) with values in every persistent tier, and
/// returns the folders and the entry files it made.
fn populate(root: &Path, secure: bool) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let cache: SmartCache<u64, Vec<u8>> = config(root).secure(secure).build().expect("build");
    cache.insert(1, medium(1)).expect("insert medium");
    cache.insert(2, large(2)).expect("insert large");
    cache.insert(3, large(3)).expect("insert large");
    cache.flush().expect("flush");
    let ns = cache.path().expect("path").to_path_buf();
    let entries = vec![file_of(&cache, 2), file_of(&cache, 3)];
    let mut folders = vec![
        root.to_path_buf(),
        ns.clone(),
        ns.join("sled"),
        ns.join("files"),
        ns.join("files").join("tmp"),
    ];
    for file in &entries {
        folders.push(file.parent().expect("shard").to_path_buf());
    }
    drop(cache);
    (folders, entries)
}

#[test]
fn child_modes() {
    let Some(dir) = child_role("modes") else {
        return;
    };
    let umask = u32::from_str_radix(&std::env::var("SMARTCACHE_TEST_UMASK").expect("umask"), 8)
        .expect("octal umask");
    let secure = std::env::var("SMARTCACHE_TEST_SECURE").expect("secure") == "1";
    let (dir_mode, file_mode) = if secure {
        (0o700, 0o600)
    } else {
        (0o777 & !umask, 0o666 & !umask)
    };
    // The root does not exist yet: the cache creates it too.
    let (folders, entries) = populate(&dir.join("root"), secure);
    for folder in &folders {
        assert_eq!(
            mode(folder),
            dir_mode,
            "folder {}: {:o}",
            folder.display(),
            mode(folder)
        );
    }
    for file in &entries {
        assert!(file.is_file());
        assert_eq!(
            mode(file),
            file_mode,
            "entry file {}: {:o}",
            file.display(),
            mode(file)
        );
    }
}

#[test]
fn secure_by_default_whatever_the_umask() {
    for umask in [0o022, 0o000] {
        let dir = tempfile::tempdir().expect("tempdir");
        run_under_umask("child_modes", "modes", dir.path(), umask, true);
    }
}

#[test]
fn secure_false_leaves_modes_to_the_umask() {
    for umask in [0o022, 0o027] {
        let dir = tempfile::tempdir().expect("tempdir");
        run_under_umask("child_modes", "modes", dir.path(), umask, false);
    }
}

#[test]
fn default_config_is_secure() {
    // In this process, whatever its umask: the default config forces 0700 / 0600.
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, InFile> = config(dir.path()).build().expect("build");
    cache.insert(1, InFile(small(1))).expect("insert");
    let file = file_of(&cache, 1);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().expect("shard")), 0o700);
    assert_eq!(mode(cache.path().expect("path")), 0o700);
}

#[test]
fn child_walk() {
    let Some(dir) = child_role("walk") else {
        return;
    };
    let (folders, _) = populate(&dir.join("root"), true);
    let mut bad = Vec::new();
    let mut stack = vec![folders[1].clone()];
    while let Some(folder) = stack.pop() {
        if mode(&folder) != 0o700 {
            bad.push(format!(
                "folder {} is {:o}",
                folder.display(),
                mode(&folder)
            ));
        }
        for entry in std::fs::read_dir(&folder).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if mode(&path) != 0o600 {
                bad.push(format!("file {} is {:o}", path.display(), mode(&path)));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "not owner-only under umask 022:\n{}",
        bad.join("\n")
    );
}

/// Everything under the cache folder holds cached data — sled's own files too.
#[test]
fn every_file_under_the_cache_folder_is_owner_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_under_umask("child_walk", "walk", dir.path(), 0o022, true);
}
