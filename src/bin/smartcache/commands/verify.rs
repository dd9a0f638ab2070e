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
        for tier in walk.in_use {
            in_use.push(json!({ "namespace": namespace.name(), "tier": tier.to_string() }));
        }
    }
    drop(progress);
    let found = damaged.len();
    let removable = damaged.iter().filter(|d| d["state"] == "corrupt").count();
    let not_all = if unchecked {
        " (stores not walked are named above)"
    } else {
        ""
    };
    if json {
        print_json(&json!({
            "checked": checked,
            "damaged": damaged,
            "removed": if fix { removable } else { 0 },
            "in_use": in_use,
        }));
    } else if found == 0 {
        println!("checked {checked} entries: all sound{not_all}");
    } else if fix {
        println!(
            "checked {checked} entries: {found} damaged or unreadable, {removable} removed{not_all}"
        );
    } else {
        println!(
            "checked {checked} entries: {found} damaged (`smartcache verify --fix` removes them)"
        );
    }
    if found > 0 {
        Err(Failure::Problems)
    } else {
        Ok(())
    }
}
