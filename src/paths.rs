//! The on-disk layout and its safety: `<root>/<namespace>/{sled,files}`, folders created
//! owner-only (0700) and checked to be usable before a cache is handed out.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::{CacheError, Result};

/// The sled folder of a namespace folder.
pub(crate) fn sled_dir(namespace_dir: &Path) -> PathBuf {
    namespace_dir.join("sled")
}

/// The file-tier folder of a namespace folder.
pub(crate) fn files_dir(namespace_dir: &Path) -> PathBuf {
    namespace_dir.join("files")
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
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
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

/// Makes every file below `dir` owner-only (0600) and every folder 0700: for storage
/// written by a library that creates its files with the process umask (sled).
pub(crate) fn restrict_tree(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o700))?;
                restrict_tree(&entry.path())?;
            } else if kind.is_file() {
                fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o600))?;
            }
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
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
