//! The commands, one file each, and what they share: the storage root, the namespaces
//! picked, and entries as JSON.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use smartcache::admin::{EntryInfo, EntryState, Namespace, RootSource, Storage, Walk};

use crate::{Command, Failure};

mod clear;
mod gc;
mod list;
mod stats;
mod verify;

/// Runs `command` on the storage root `dir` (or the default one).
pub fn run(dir: Option<PathBuf>, command: Command) -> Result<(), Failure> {
    let (root, source) = match dir {
        Some(dir) => (dir, "--dir"),
        None => {
            let (root, source) = Storage::default_root()
                .map_err(|e| Failure::Error(format!("{e}; pass --dir or set SMARTCACHE_DIR")))?;
            let source = match source {
                RootSource::Environment => "SMARTCACHE_DIR",
                _ => "platform cache folder",
            };
            (root, source)
        }
    };
    if root.exists() && !root.is_dir() {
        return Err(Failure::Error(format!(
            "{} is a file, not a storage folder; pass --dir with a folder",
            root.display()
        )));
    }
    let storage = Storage::new(root);
    match command {
        Command::Dir { json } => {
            if json {
                print_json(&json!({
                    "root": storage.root(),
                    "source": source,
                    "exists": storage.root().is_dir(),
                }));
            } else {
                println!("{}", storage.root().display());
            }
            Ok(())
        }
        Command::Stats { namespace, json } => stats::run(&storage, namespace.as_deref(), json),
        Command::Ls { namespace, json } => list::ls(&storage, namespace.as_deref(), json),
        Command::Inspect {
            key,
            namespace,
            json,
        } => list::inspect(&storage, &key, &namespace, json),
        Command::Verify {
            namespace,
            fix,
            json,
        } => verify::run(&storage, namespace.as_deref(), fix, json),
        Command::Gc {
            namespace,
            older_than,
            max_size,
            dry_run,
            json,
        } => gc::run(
            &storage,
            namespace.as_deref(),
            gc::Limits {
                older_than,
                max_size,
            },
            dry_run,
            json,
        ),
        Command::Clear { namespace, yes } => clear::run(&storage, namespace.as_deref(), yes),
    }
}

/// The namespaces a command works on: `only`, or all of them. An unknown `only` is an
/// error that lists the ones there are.
fn namespaces(storage: &Storage, only: Option<&str>) -> Result<Vec<Namespace>, Failure> {
    let names = storage.namespaces()?;
    let picked: Vec<String> = match only {
        None => names,
        Some(name) if names.iter().any(|n| n == name) => vec![name.to_string()],
        Some(name) => {
            let known = if names.is_empty() {
                "there is none".to_string()
            } else {
                format!("there are: {}", names.join(", "))
            };
            return Err(Failure::Error(format!(
                "no namespace {name:?} under {} ({known})",
                storage.root().display()
            )));
        }
    };
    picked
        .iter()
        .map(|name| storage.open(name).map_err(Failure::from))
        .collect()
}

/// Says on standard error which stores were not walked, and why. Returns whether any.
fn note_not_walked(namespace: &Namespace, walk: &Walk) -> bool {
    for tier in &walk.in_use {
        eprintln!(
            "smartcache: the {tier} store of {} is in use by a running process: not walked \
             (run again when it has stopped)",
            namespace.name()
        );
    }
    for (tier, why) in &walk.unavailable {
        eprintln!(
            "smartcache: the {tier} store of {} cannot be opened: {why}",
            namespace.name()
        );
    }
    !walk.in_use.is_empty() || !walk.unavailable.is_empty()
}

/// Milliseconds since the Unix epoch.
fn ms(time: Option<SystemTime>) -> Option<u64> {
    time.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
}

/// The state as JSON and `ls` show it.
fn state_name(state: &EntryState) -> &'static str {
    match state {
        EntryState::Sound => "sound",
        EntryState::Expired => "expired",
        EntryState::Stale => "stale",
        EntryState::Corrupt(_) => "corrupt",
        EntryState::Unknown(_) => "unknown",
        EntryState::Unreadable(_) => "unreadable",
        _ => "other",
    }
}

/// Why an entry is not sound, when it is damaged, unknown or unreadable.
fn problem(state: &EntryState) -> Option<&str> {
    match state {
        EntryState::Corrupt(why) | EntryState::Unknown(why) | EntryState::Unreadable(why) => {
            Some(why)
        }
        _ => None,
    }
}

/// An entry as JSON (the guide documents each field).
fn entry_json(namespace: &str, entry: &EntryInfo) -> Value {
    json!({
        "namespace": namespace,
        "tier": entry.tier.to_string(),
        "key": entry.key_shown,
        "key_hex": hex(&entry.key),
        "key_type": entry.key_type,
        "value_type": entry.value_type,
        "version": entry.key_version.map(|v| format!("{v:016x}")),
        "fingerprint": entry.fingerprint.map(|f| format!("{f:016x}")),
        "codec": entry.codec,
        "compression": entry.compression,
        "stored_bytes": entry.stored_bytes,
        "value_bytes": entry.value_bytes,
        "created_ms": ms(entry.created),
        "expires_ms": ms(entry.expires),
        "touched_ms": ms(entry.touched),
        "state": state_name(&entry.state),
        "problem": problem(&entry.state),
        "path": entry.path,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn print_json(value: &Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("smartcache: cannot print JSON: {e}"),
    }
}

/// How long ago `time` was, in words (`3d 4h`); `-` when unknown.
fn age(time: Option<SystemTime>) -> String {
    match time.map(|t| t.elapsed()) {
        Some(Ok(age)) => crate::human::duration(age),
        Some(Err(_)) => "0s".into(),
        None => "-".into(),
    }
}

/// How long until `time`, in words; `never` when there is none, `expired` when past.
fn until(time: Option<SystemTime>) -> String {
    match time.map(|t| t.duration_since(SystemTime::now())) {
        None => "never".into(),
        Some(Ok(left)) => format!("in {}", crate::human::duration(left)),
        Some(Err(_)) => "expired".into(),
    }
}
