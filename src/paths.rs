//! The on-disk layout and its safety: `<root>/<namespace>/{sled,files}`, folders created
//! owner-only (0700) and checked to be usable before a cache is handed out.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::{CacheError, Result};

/// The marker, in a namespace folder, that `spare` holds values bound for `tier` (sent
/// there while `tier` took no writes: see `tier/failover.rs`), e.g.
/// `sled-values-in-files`.
pub(crate) fn spare_marker(namespace_dir: &Path, tier: crate::Tier, spare: crate::Tier) -> PathBuf {
    let spare = match spare {
        crate::Tier::File => "files",
        other => other.name(),
    };
    namespace_dir.join(format!("{}-values-in-{spare}", tier.name()))
}

/// Creates `path` and its missing parents; with `secure`, the folders this call creates
/// are owner-only (0700).
pub(crate) fn create_dir(path: &Path, secure: bool) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if secure {
            builder.mode(0o700);
        }
    }
    #[cfg(not(unix))]
    let _ = secure;
    builder.create(path)
}

/// Opens a new file for writing; with `secure`, owner-only (0600).
pub(crate) fn create_file(path: &Path, secure: bool) -> io::Result<fs::File> {
    open_file(
        fs::OpenOptions::new().write(true).create_new(true),
        path,
        secure,
    )
}

/// Opens `path` with `options`; a file this creates is owner-only (0600) with `secure`.
pub(crate) fn open_file(
    options: &mut fs::OpenOptions,
    path: &Path,
    secure: bool,
) -> io::Result<fs::File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        if secure {
            options.mode(0o600);
        }
    }
    #[cfg(not(unix))]
    let _ = secure;
    options.open(path)
}

/// Makes sure `dir` is (or can become) a writable folder: creates it, then writes and
/// deletes a probe file. Errors name the folder and the reason.
pub(crate) fn ensure_usable_dir(dir: &Path, secure: bool) -> Result<()> {
    let bad = |reason: String| CacheError::BadDirectory {
        path: dir.to_path_buf(),
        reason,
    };
    if let Ok(meta) = fs::metadata(dir) {
        if !meta.is_dir() {
            return Err(bad("it is a file, not a folder".into()));
        }
    }
    create_dir(dir, secure).map_err(|e| bad(format!("cannot create it: {e}")))?;
    let probe = dir.join(format!(".smartcache-probe-{}", std::process::id()));
    let written = create_file(&probe, secure).and_then(|mut f| f.write_all(b"ok"));
    let _ = fs::remove_file(&probe);
    written.map_err(|e| bad(format!("it is not writable: {e}")))
}

/// Makes files and folders created in `dir` from now on owner-only (0600 / 0700), by
/// giving `dir` a default POSIX ACL: for storage written by a library that creates its
/// files with the process umask (sled), without changing the umask of the whole process
/// or walking the tree afterwards. Best effort: where the file system has no ACLs, the
/// owner-only folder above (0700) already keeps other users out.
pub(crate) fn owner_only_by_default(dir: &Path) {
    #[cfg(target_os = "linux")]
    {
        if let Err(e) = set_default_acl(dir) {
            tracing::debug!(dir = %dir.display(), error = %e, "no default ACL (the folder's 0700 mode keeps others out)");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = dir;
}

/// Sets the default ACL `user::rwx, group::---, other::---` on `dir`.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_default_acl(dir: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    // The kernel's ACL xattr format: a version, then (tag, perm, id) entries.
    const VERSION: u32 = 2;
    const USER_OBJ: u16 = 0x01;
    const GROUP_OBJ: u16 = 0x04;
    const OTHER: u16 = 0x20;
    const UNDEFINED_ID: u32 = u32::MAX;
    let mut acl = VERSION.to_le_bytes().to_vec();
    for (tag, perm) in [(USER_OBJ, 7u16), (GROUP_OBJ, 0), (OTHER, 0)] {
        acl.extend_from_slice(&tag.to_le_bytes());
        acl.extend_from_slice(&perm.to_le_bytes());
        acl.extend_from_slice(&UNDEFINED_ID.to_le_bytes());
    }
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    let name = c"system.posix_acl_default";
    // SAFETY: `path` and `name` are NUL-terminated strings and `acl` a buffer of
    // `acl.len()` bytes, all alive for the duration of the call; setxattr only reads them.
    let result = unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            acl.as_ptr().cast(),
            acl.len(),
            0,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The bytes the files below `dir` take. Files that vanish meanwhile (sled deletes blobs
/// from a background thread) are skipped.
pub(crate) fn tree_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => total += tree_size(&entry.path()),
            Ok(kind) if kind.is_file() => total += entry.metadata().map_or(0, |m| m.len()),
            _ => {}
        }
    }
    total
}

/// Deletes all but the `keep` last entries of `dir` by name (names that sort by age).
pub(crate) fn keep_newest(dir: &Path, keep: usize) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    names.sort();
    let excess = names.len().saturating_sub(keep);
    for path in &names[..excess] {
        let removed = if path.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        if let Err(e) = removed {
            tracing::warn!(path = %path.display(), error = %e, "cannot delete an old quarantined store");
        }
    }
}

/// Whether process `pid` of this machine is running (a zombie counts as running).
/// Where that cannot be known, every process is taken to be running.
pub(crate) fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        if pid <= 0 {
            return true;
        }
        // SAFETY: kill with signal 0 sends nothing; it only checks that the process
        // exists. It takes no pointers.
        #[allow(unsafe_code)]
        let result = unsafe { libc::kill(pid, 0) };
        result == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Fsyncs a folder so that a rename into it is durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_not_a_cache_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        fs::write(&file, b"x").expect("write");
        let err = ensure_usable_dir(&file, true).expect_err("file accepted");
        assert!(err.to_string().contains("is a file"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn secure_folders_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("a/b");
        ensure_usable_dir(&sub, true).expect("usable");
        let mode = fs::metadata(&sub).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
