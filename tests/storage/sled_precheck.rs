//! Damage found before sled opens a store: the look the sled tier takes at sled's own
//! files, from their checksums, sets a store aside that sled would panic on (so no panic
//! is raised, not even a contained one) and removes a snapshot left unfinished, losing
//! nothing. Each case fills a real sled-tier cache, damages its files as the fault would,
//! checks that sled itself (on a copy) panics or fails on them, and opens the cache.

use crate::common;

use std::path::Path;

use common::*;
use smartcache::prelude::*;

use super::damaged_sled::{check_fresh_persisted, check_serving, fill, sled_opens, KEYS};

/// sled's segment size (its default, which the tier keeps).
const SEGMENT: u64 = 512 * 1024;

/// The segments of the log `db` whose 20-byte header passes its checksum: (offset, lsn).
fn valid_segment_headers(db: &Path) -> Vec<(u64, i64)> {
    let log = std::fs::read(db).expect("read the sled log");
    let mut valid = Vec::new();
    for offset in (0..log.len() as u64).step_by(SEGMENT as usize) {
        let Some(header) = log.get(offset as usize..offset as usize + 20) else {
            continue;
        };
        let stored = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) ^ 0xFFFF_FFFF;
        if crc32fast::hash(&header[4..]) == stored {
            let lsn = i64::from_le_bytes(header[4..12].try_into().expect("8 bytes"));
            valid.push((offset, lsn ^ 0x7FFF_FFFF_FFFF_FFFF));
        }
    }
    valid
}

/// The header of the log's newest segment written over another segment's: two segments
/// then claim one place in the log, and sled 0.34 asserts when it opens the store. Found
/// by the look before opening, the store is set aside without calling into sled.
#[test]
fn a_store_sled_would_panic_on_is_set_aside_before_sled_is_called() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = fill::<InSled>(config(dir.path()));
    let sled = folder.join("sled");
    let db = sled.join("db");
    let headers = valid_segment_headers(&db);
    let &(newest, _) = headers
        .iter()
        .max_by_key(|(_, lsn)| *lsn)
        .expect("the log has a valid segment header");
    let &(other, _) = headers
        .iter()
        .find(|(offset, _)| *offset != newest)
        .unwrap_or_else(|| panic!("the log has one valid segment: {headers:?}"));
    let log = std::fs::read(&db).expect("read the log");
    overwrite_at(&db, other, &log[newest as usize..newest as usize + 20]);

    let sled_itself = sled_opens(&sled);
    assert!(
        sled_itself
            .as_ref()
            .is_err_and(|why| why.starts_with("sled panicked")),
        "sled itself should panic on two segments with one lsn: {sled_itself:?}"
    );

    let label = "segment header copied";
    let cache: SmartCache<u64, InSled> = no_panic("build", || config(dir.path()).build())
        .expect("the cache opens on the damaged store");
    check_serving(&cache, label, None);
    let stats = cache.stats();
    assert_eq!(stats.sled.quarantined, 1, "{stats:?}");
    assert_eq!(
        stats.sled.contained_panics, 0,
        "the damage is found before sled is called, so sled never panics: {stats:?}"
    );
    let set_aside = std::fs::read_dir(folder.join("quarantine")).map_or(0, |d| d.count());
    assert_eq!(set_aside, 1, "the damaged store is kept for inspection");
    drop(cache);
    let cache: SmartCache<u64, InSled> = config(dir.path()).build().expect("reopen");
    check_fresh_persisted(&cache, label);
}

/// A process killed while sled opened its store leaves a snapshot half-written under
/// `snap.<lsn>.generating`; sled would pick it (its name sorts last) and refuse every open
/// after. The look before opening removes it, and every entry is still there.
#[test]
fn a_snapshot_left_unfinished_is_removed_and_nothing_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = fill::<InSled>(config(dir.path()));
    let sled = folder.join("sled");
    let mut snapshots: Vec<_> = std::fs::read_dir(&sled)
        .expect("list the sled folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("snap."))
        .collect();
    snapshots.sort();
    let newest = snapshots
        .pop()
        .expect("sled wrote a snapshot after two sessions");
    let bytes = std::fs::read(sled.join(&newest)).expect("read the snapshot");
    // What a write cut short leaves: the first part of the next snapshot, under the name
    // it is written as before its rename.
    let unfinished = sled.join(format!("{newest}.generating"));
    std::fs::write(&unfinished, &bytes[..bytes.len() / 2]).expect("write the unfinished one");
    let sled_itself = sled_opens(&sled);
    assert!(
        sled_itself.is_err(),
        "sled itself should refuse the store: {sled_itself:?}"
    );

    let cache: SmartCache<u64, InSled> =
        no_panic("build", || config(dir.path()).build()).expect("the cache opens");
    let hits = check_serving(&cache, "unfinished snapshot", None);
    assert_eq!(hits, KEYS, "every entry is still served");
    let stats = cache.stats();
    assert_eq!(
        stats.sled.quarantined, 0,
        "nothing was set aside: {stats:?}"
    );
    assert!(!unfinished.exists(), "the unfinished snapshot is gone");
}
