//! `smartcache stats`: per namespace and tier, entries, bytes, the oldest and newest
//! entry, and how many are expired, stale or damaged; leftovers per namespace.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::json;
use smartcache::admin::{Check, EntryState, Storage};
use smartcache::Tier;

use super::{age, ms, namespaces, note_not_walked, print_json};
use crate::human::size;
use crate::progress::Progress;
use crate::Failure;

/// What one tier of one namespace holds.
#[derive(Default)]
struct TierStats {
    entries: u64,
    bytes: u64,
    oldest: Option<SystemTime>,
    newest: Option<SystemTime>,
    expired: u64,
    stale: u64,
    corrupt: u64,
    /// Of another envelope format, or unreadable: left in place.
    unknown: u64,
    unreadable: u64,
    in_use: bool,
}

pub fn run(storage: &Storage, only: Option<&str>, json: bool) -> Result<(), Failure> {
    let progress = Progress::new("reading entries");
    let mut report = Vec::new();
    for namespace in namespaces(storage, only)? {
        progress.walking(namespace.name());
        let mut tiers: BTreeMap<String, (Tier, TierStats)> = BTreeMap::new();
        let walk = namespace.walk(Check::Headers, |entry| {
            progress.step();
            let (_, stats) = tiers
                .entry(entry.tier.to_string())
                .or_insert_with(|| (entry.tier, TierStats::default()));
            stats.entries += 1;
            stats.bytes += entry.stored_bytes;
            if let Some(created) = entry.created {
                stats.oldest = Some(stats.oldest.map_or(created, |o| o.min(created)));
                stats.newest = Some(stats.newest.map_or(created, |n| n.max(created)));
            }
            match entry.state {
                EntryState::Sound => {}
                EntryState::Expired => stats.expired += 1,
                EntryState::Stale => stats.stale += 1,
                EntryState::Corrupt(_) => stats.corrupt += 1,
                EntryState::Unknown(_) => stats.unknown += 1,
                EntryState::Unreadable(_) => stats.unreadable += 1,
                _ => {}
            }
            false
        })?;
        note_not_walked(&namespace, &walk);
        for tier in walk.in_use {
            tiers
                .entry(tier.to_string())
                .or_insert_with(|| (tier, TierStats::default()))
                .1
                .in_use = true;
        }
        let leftovers = namespace.leftovers(false);
        report.push((namespace, tiers, leftovers));
    }
    drop(progress);
    if json {
        let namespaces: Vec<_> = report
            .iter()
            .map(|(namespace, tiers, leftovers)| {
                json!({
                    "name": namespace.name(),
                    "path": namespace.path(),
                    "tiers": tiers.values().map(|(tier, s)| json!({
                        "tier": tier.to_string(),
                        "entries": s.entries,
                        "bytes": s.bytes,
                        "oldest_ms": ms(s.oldest),
                        "newest_ms": ms(s.newest),
                        "expired": s.expired,
                        "stale": s.stale,
                        "corrupt": s.corrupt,
                        "unknown": s.unknown,
                        "unreadable": s.unreadable,
                        "in_use": s.in_use,
                    })).collect::<Vec<_>>(),
                    "leftovers": {
                        "count": leftovers.len(),
                        "bytes": leftovers.iter().map(|l| l.bytes).sum::<u64>(),
                    },
                })
            })
            .collect();
        print_json(&json!({ "root": storage.root(), "namespaces": namespaces }));
        return Ok(());
    }
    if report.is_empty() {
        let why = if storage.root().exists() {
            ""
        } else {
            " (it does not exist yet)"
        };
        println!("no caches under {}{why}", storage.root().display());
        return Ok(());
    }
    println!("storage root: {}", storage.root().display());
    for (namespace, tiers, leftovers) in &report {
        println!("\n{}", namespace.name());
        if tiers.is_empty() {
            println!("  no entries");
        }
        for (tier, s) in tiers.values() {
            if s.in_use {
                println!("  {tier:<5} in use by a running process (not read)");
                continue;
            }
            let entries = match s.entries {
                1 => "1 entry".to_string(),
                n => format!("{n} entries"),
            };
            println!(
                "  {tier:<5} {entries}, {}; written {}; {} expired, {} of older versions, {} damaged",
                size(s.bytes),
                match (age(s.oldest), age(s.newest)) {
                    (oldest, newest) if oldest == newest => format!("{newest} ago"),
                    (oldest, newest) => format!("{oldest} to {newest} ago"),
                },
                s.expired,
                s.stale,
                s.corrupt
            );
            if s.unknown + s.unreadable > 0 {
                println!(
                    "        {} of another format, {} unreadable (left in place)",
                    s.unknown, s.unreadable
                );
            }
        }
        if !leftovers.is_empty() {
            println!(
                "  leftovers: {} ({}), removed by `smartcache gc`",
                leftovers.len(),
                size(leftovers.iter().map(|l| l.bytes).sum())
            );
        }
    }
    Ok(())
}
