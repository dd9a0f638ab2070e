//! The catalog of a namespace folder: which value types and key versions caches have
//! stored there, by the fingerprint and version their entries carry, for the tools that
//! read a cache without its types ([`crate::admin`], the `smartcache` CLI).
//!
//! The file `<namespace>/catalog` holds one tab-separated line per value type
//! (`type`, fingerprint, first seen in ms since the Unix epoch, key type, value type) and
//! per key version of a memoized function (`version`, version, first seen, key type,
//! value type). A cache
//! appends its lines the first time it opens storage in the folder, in one append each,
//! so that processes sharing the folder never interleave half lines. A line that does
//! not parse is passed over: the catalog only names things, nothing is read through it.

use std::fs;
use std::io::Write;
use std::path::Path;

/// The catalog's file in a namespace folder.
const FILE: &str = "catalog";
/// A larger catalog is not read (it is damaged, or not ours).
const MAX_LEN: u64 = 1 << 20;

/// A value type (by the fingerprint its entries carry, of the type and the namespace) or
/// a key version (of a memoized function's code), as a catalog records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// The fingerprint or the version.
    pub id: u64,
    /// When a cache of it first opened storage here, in ms since the Unix epoch.
    pub first_ms: u64,
    /// The key and value types (of a memoized function: its key and result).
    pub key_type: String,
    pub value_type: String,
}

/// What a namespace folder's catalog records.
#[derive(Clone, Debug, Default)]
pub(crate) struct Catalog {
    pub types: Vec<Recorded>,
    pub versions: Vec<Recorded>,
}

impl Catalog {
    /// Reads the catalog of `namespace_dir`; empty when there is none.
    pub fn read(namespace_dir: &Path) -> Catalog {
        let path = namespace_dir.join(FILE);
        let mut catalog = Catalog::default();
        let small = fs::metadata(&path).is_ok_and(|m| m.len() <= MAX_LEN);
        let Some(bytes) = small.then(|| fs::read(&path).ok()).flatten() else {
            return catalog;
        };
        for line in String::from_utf8_lossy(&bytes).lines() {
            let (list, fields) = match line.split_once('\t') {
                Some(("type", rest)) => (&mut catalog.types, rest),
                Some(("version", rest)) => (&mut catalog.versions, rest),
                _ => continue,
            };
            let fields: Vec<&str> = fields.split('\t').collect();
            let [id, ms, key, value] = fields.as_slice() else {
                continue;
            };
            if let (Ok(id), Ok(first_ms)) = (u64::from_str_radix(id, 16), ms.parse()) {
                if find(list, id).is_none() {
                    list.push(Recorded {
                        id,
                        first_ms,
                        key_type: (*key).to_string(),
                        value_type: (*value).to_string(),
                    });
                }
            }
        }
        catalog
    }

    /// The type whose entries carry `fingerprint`.
    pub fn type_of(&self, fingerprint: u64) -> Option<&Recorded> {
        find(&self.types, fingerprint)
    }

    /// When entries of type `fingerprint` and key version `version` were superseded:
    /// the first time a newer shape of the same key and value types (another `VERSION`
    /// or codec), or a newer version of the same function, was recorded. `None` while
    /// they are the newest.
    pub fn superseded_at(&self, fingerprint: u64, version: Option<u64>) -> Option<u64> {
        let by_type = superseded_in(&self.types, fingerprint);
        let by_version = version.and_then(|v| superseded_in(&self.versions, v));
        by_type.into_iter().chain(by_version).min()
    }

    /// The recorded key version an encoded key starts with.
    pub fn version_of(&self, key: &[u8]) -> Option<u64> {
        let prefix: [u8; 8] = key.get(..8)?.try_into().ok()?;
        let version = u64::from_be_bytes(prefix);
        find(&self.versions, version).map(|v| v.id)
    }
}

fn find(list: &[Recorded], id: u64) -> Option<&Recorded> {
    list.iter().find(|r| r.id == id)
}

/// When something of the same key and value types as `id` was first recorded after it.
fn superseded_in(list: &[Recorded], id: u64) -> Option<u64> {
    let this = find(list, id)?;
    list.iter()
        .filter(|r| {
            r.value_type == this.value_type
                && r.key_type == this.key_type
                && r.first_ms > this.first_ms
        })
        .map(|r| r.first_ms)
        .min()
}

/// Records in `namespace_dir`'s catalog the value type of fingerprint `fingerprint` and
/// the key version, unless they are there. Best effort: a catalog that cannot be written
/// only leaves the tools without names.
pub(crate) fn record(
    namespace_dir: &Path,
    fingerprint: u64,
    key_type: &str,
    value_type: &str,
    key_version: Option<u64>,
    secure: bool,
) {
    let path = namespace_dir.join(FILE);
    if fs::metadata(&path).is_ok_and(|m| m.len() > MAX_LEN) {
        // Not read back (damaged, or not ours): growing it would not help.
        return;
    }
    let catalog = Catalog::read(namespace_dir);
    let now = crate::clock::now_ms();
    // Tabs and line breaks cannot occur in Rust type names; kept out all the same.
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut lines = String::new();
    if catalog.type_of(fingerprint).is_none() {
        lines.push_str(&format!(
            "type\t{fingerprint:016x}\t{now}\t{}\t{}\n",
            clean(key_type),
            clean(value_type)
        ));
    }
    if let Some(version) = key_version {
        if find(&catalog.versions, version).is_none() {
            lines.push_str(&format!(
                "version\t{version:016x}\t{now}\t{}\t{}\n",
                clean(key_type),
                clean(value_type)
            ));
        }
    }
    if lines.is_empty() {
        return;
    }
    let mut append = fs::OpenOptions::new();
    append.append(true).create(true);
    if let Err(e) = crate::paths::open_file(&mut append, &path, secure)
        .and_then(|mut f| f.write_all(lines.as_bytes()))
    {
        tracing::debug!(path = %path.display(), error = %e, "cannot record the cache's types in the catalog");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_once_and_reads_back_past_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        record(dir.path(), 0xabc, "u64", "String", Some(6), true);
        record(dir.path(), 0xabc, "u64", "String", Some(6), true);
        std::thread::sleep(std::time::Duration::from_millis(5));
        record(dir.path(), 0xdef, "u64", "String", Some(7), true);
        record(dir.path(), 0x123, "u32", "Vec<u8>", Some(9), true);
        let text = fs::read_to_string(dir.path().join(FILE)).expect("read");
        assert_eq!(text.lines().count(), 6, "{text}");
        fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE))
            .and_then(|mut f| f.write_all(b"type\tzz\t1\ta\tb\ngarbage \xff\nhalf a li"))
            .expect("append");
        let catalog = Catalog::read(dir.path());
        assert_eq!(catalog.types.len(), 3);
        assert_eq!(
            catalog.type_of(0xabc).map(|t| t.value_type.as_str()),
            Some("String")
        );
        let newer = catalog.type_of(0xdef).map(|t| t.first_ms);
        // A newer shape of the same types, and a newer version of the same function.
        assert_eq!(catalog.superseded_at(0xabc, None), newer);
        assert_eq!(catalog.superseded_at(0x999, Some(6)), newer);
        assert_eq!(catalog.superseded_at(0xdef, Some(7)), None);
        // Another function's newer version, in the same namespace, supersedes nothing.
        assert_eq!(catalog.superseded_at(0x123, Some(9)), None);
        assert_eq!(catalog.version_of(&7u64.to_be_bytes()), Some(7));
        assert_eq!(catalog.version_of(&8u64.to_be_bytes()), None);
    }
}
