//! `smartcache gc`: removes what no cache will read (expired, damaged and stale-version
//! entries, crash leftovers), then entries unused for `--older-than`, then the least
//! recently used until everything fits in `--max-size`. `--dry-run` removes nothing.
//! Exit 1 when an entry it chose could not be removed.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use serde_json::json;
use smartcache::admin::{Check, EntryState, Storage};
use smartcache::Tier;

use super::{namespaces, note_not_walked, print_json};
use crate::human::size;
use crate::progress::Progress;
use crate::Failure;

/// What `gc` enforces beyond removing what no cache reads.
pub struct Limits {
    pub older_than: Option<Duration>,
    pub max_size: Option<u64>,
}

/// Entries and bytes removed for one reason.
#[derive(Default, Clone, Copy)]
struct Freed {
    entries: u64,
    bytes: u64,
}

impl Freed {
    fn add(&mut self, bytes: u64) {
        self.entries += 1;
        self.bytes += bytes;
    }
}

/// An entry that stays after the first pass, for the size limit: how to know it again
/// (a rewritten entry is another one, and stays), and when it was last used.
struct Kept {
    namespace: usize,
    tier: Tier,
    key: Vec<u8>,
    created: Option<SystemTime>,
    /// Its last recorded use, else its creation (sled records reads only near its
    /// bounds or with a time to idle).
    used: Option<SystemTime>,
    bytes: u64,
}

pub fn run(
    storage: &Storage,
    only: Option<&str>,
    limits: Limits,
    dry_run: bool,
    json: bool,
) -> Result<(), Failure> {
    let picked = namespaces(storage, only)?;
    let cutoff = limits
        .older_than
        .and_then(|age| SystemTime::now().checked_sub(age));
    let progress = Progress::new("collecting garbage");
    let (mut expired, mut corrupt, mut stale, mut old) = Default::default();
    let (mut leftovers, mut leftover_bytes) = (0u64, 0u64);
    let mut not_removed = Freed::default();
    let mut kept = Vec::new();
    for (i, namespace) in picked.iter().enumerate() {
        progress.walking(namespace.name());
        let walk = namespace.walk(Check::Headers, |entry| {
            progress.step();
            let reason: Option<&mut Freed> = match entry.state {
                EntryState::Expired => Some(&mut expired),
                EntryState::Corrupt(_) => Some(&mut corrupt),
                EntryState::Stale => Some(&mut stale),
                // Only a recorded use says an entry went unused: sled entries with no
                // record of their reads stay.
                EntryState::Sound => match (cutoff, entry.touched) {
                    (Some(cutoff), Some(touched)) if touched < cutoff => Some(&mut old),
                    _ => None,
                },
                // Not read, or not known to be damaged: left in place.
                _ => return false,
            };
            match reason {
                Some(freed) => {
                    freed.add(entry.stored_bytes);
                    !dry_run
                }
                None => {
                    kept.push(Kept {
                        namespace: i,
                        tier: entry.tier,
                        key: entry.key.clone(),
                        created: entry.created,
                        used: entry.touched.or(entry.created),
                        bytes: entry.stored_bytes,
                    });
                    false
                }
            }
        })?;
        note_not_walked(namespace, &walk);
        not_removed.entries += walk.not_removed;
        not_removed.bytes += walk.not_removed_bytes;
        for leftover in namespace.leftovers(!dry_run) {
            leftovers += 1;
            leftover_bytes += leftover.bytes;
        }
    }
    // Over the size: the least recently used go first.
    let mut over_size = Freed::default();
    let mut remaining: u64 = kept.iter().map(|k| k.bytes).sum();
    let mut doomed = HashSet::new();
    if let Some(max) = limits.max_size {
        kept.sort_by_key(|k| k.used);
        for k in &kept {
            if remaining <= max {
                break;
            }
            remaining -= k.bytes;
            over_size.add(k.bytes);
            doomed.insert((k.namespace, k.tier, k.key.as_slice(), k.created));
        }
    }
    if !dry_run && !doomed.is_empty() {
        for (i, namespace) in picked.iter().enumerate() {
            progress.walking(namespace.name());
            let walk = namespace.walk(Check::Headers, |entry| {
                doomed.contains(&(i, entry.tier, entry.key.as_slice(), entry.created))
            })?;
            not_removed.entries += walk.not_removed;
            not_removed.bytes += walk.not_removed_bytes;
        }
    }
    drop(progress);
    // Entries chosen but still there are counted under their reasons, and named here.
    let remaining = remaining + not_removed.bytes;
    let freed = [expired, corrupt, stale, old, over_size]
        .iter()
        .map(|f| f.bytes)
        .sum::<u64>()
        .saturating_sub(not_removed.bytes)
        + leftover_bytes;
    let outcome = if not_removed.entries > 0 {
        eprintln!(
            "smartcache: {} entries ({}) could not be removed (the warnings above say why)",
            not_removed.entries,
            size(not_removed.bytes)
        );
        Err(Failure::Problems)
    } else {
        Ok(())
    };
    if json {
        let part = |f: Freed| json!({ "entries": f.entries, "bytes": f.bytes });
        print_json(&json!({
            "dry_run": dry_run,
            "expired": part(expired),
            "corrupt": part(corrupt),
            "stale": part(stale),
            "older_than": part(old),
            "over_size": part(over_size),
            "leftovers": { "count": leftovers, "bytes": leftover_bytes },
            "not_removed": part(not_removed),
            "freed_bytes": freed,
            "remaining_bytes": remaining,
        }));
        return outcome;
    }
    let verb = if dry_run { "would free" } else { "freed" };
    println!(
        "{verb} {}: {} expired, {} damaged, {} of older versions, {} unused for long, {} over the size limit, {} leftovers ({})",
        size(freed),
        expired.entries,
        corrupt.entries,
        stale.entries,
        old.entries,
        over_size.entries,
        leftovers,
        size(leftover_bytes)
    );
    println!("{} remain in the entries kept", size(remaining));
    outcome
}
