//! `smartcache verify`: reads every entry to its last byte and checks its envelope and
//! checksums; `--fix` removes the damaged ones. Exit 1 when any was damaged.

use serde_json::{json, Value};
use smartcache::admin::{Check, EntryState, Storage};

use super::{entry_json, namespaces, note_not_walked, print_json};
use crate::progress::Progress;
use crate::Failure;

pub fn run(storage: &Storage, only: Option<&str>, fix: bool, json: bool) -> Result<(), Failure> {
    let progress = Progress::new("verifying entries");
    let (mut checked, mut damaged) = (0u64, Vec::<Value>::new());
    let mut unchecked = false;
    let mut in_use = Vec::new();
    let mut not_removed = 0u64;
    for namespace in namespaces(storage, only)? {
        progress.walking(namespace.name());
        let walk = namespace.walk(Check::Payloads, |entry| {
            progress.step();
            checked += 1;
            let (reason, damaged_here) = match &entry.state {
                EntryState::Corrupt(reason) => (reason, true),
                EntryState::Unreadable(reason) => (reason, false),
                _ => return false,
            };
            if !json {
                let place = entry
                    .path
                    .as_ref()
                    .map_or_else(|| entry.tier.to_string(), |p| p.display().to_string());
                let what = if damaged_here {
                    "damaged"
                } else {
                    "unreadable"
                };
                println!(
                    "{what}: {} key {} ({place}): {reason}",
                    namespace.name(),
                    entry.key_shown
                );
            }
            damaged.push(entry_json(namespace.name(), entry));
            // An entry that could not be read may be sound: it stays.
            fix && damaged_here
        })?;
        unchecked |= note_not_walked(&namespace, &walk);
        not_removed += walk.not_removed;
        for tier in walk.in_use {
            in_use.push(json!({ "namespace": namespace.name(), "tier": tier.to_string() }));
        }
    }
    drop(progress);
    let found = damaged.len();
    let removable = damaged.iter().filter(|d| d["state"] == "corrupt").count() as u64;
    let removed = if fix {
        removable.saturating_sub(not_removed)
    } else {
        0
    };
    let not_all = if unchecked {
        " (stores not walked are named above)"
    } else {
        ""
    };
    if json {
        print_json(&json!({
            "checked": checked,
            "damaged": damaged,
            "removed": removed,
            "not_removed": not_removed,
            "in_use": in_use,
        }));
    } else if found == 0 {
        println!("checked {checked} entries: all sound{not_all}");
    } else if fix {
        println!(
            "checked {checked} entries: {found} damaged or unreadable, {removed} removed{not_all}"
        );
    } else {
        println!(
            "checked {checked} entries: {found} damaged (`smartcache verify --fix` removes them)"
        );
    }
    if not_removed > 0 {
        eprintln!(
            "smartcache: {not_removed} damaged entries could not be removed (the warnings above say why)"
        );
    }
    if found > 0 {
        Err(Failure::Problems)
    } else {
        Ok(())
    }
}
