//! `smartcache ls` (every entry, one line each) and `smartcache inspect` (one entry's
//! header, checksums checked).

use serde_json::{json, Value};
use smartcache::admin::{Check, EntryInfo, EntryState, Storage};

use super::{age, entry_json, hex, namespaces, note_not_walked, print_json, state_name, until};
use crate::human::size;
use crate::progress::Progress;
use crate::Failure;

pub fn ls(storage: &Storage, only: Option<&str>, json: bool) -> Result<(), Failure> {
    let progress = Progress::new("listing entries");
    let mut rows: Vec<(String, EntryInfo)> = Vec::new();
    let mut in_use = Vec::new();
    for namespace in namespaces(storage, only)? {
        progress.walking(namespace.name());
        let walk = namespace.walk(Check::Headers, |entry| {
            progress.step();
            rows.push((namespace.name().to_string(), entry.clone()));
            false
        })?;
        note_not_walked(&namespace, &walk);
        for tier in walk.in_use {
            in_use.push(json!({ "namespace": namespace.name(), "tier": tier.to_string() }));
        }
    }
    drop(progress);
    if json {
        let entries: Vec<Value> = rows.iter().map(|(ns, e)| entry_json(ns, e)).collect();
        print_json(&json!({ "root": storage.root(), "entries": entries, "in_use": in_use }));
        return Ok(());
    }
    if rows.is_empty() {
        println!("no entries under {}", storage.root().display());
        return Ok(());
    }
    println!(
        "{:<24} {:<5} {:<24} {:<28} {:<8} {:>10} {:>8} {:<10} STATE",
        "NAMESPACE", "TIER", "KEY", "TYPE", "VERSION", "SIZE", "AGE", "EXPIRES"
    );
    for (namespace, e) in &rows {
        println!(
            "{:<24} {:<5} {:<24} {:<28} {:<8} {:>10} {:>8} {:<10} {}",
            namespace,
            e.tier.to_string(),
            e.key_shown,
            e.value_type.as_deref().map_or("?".into(), short_type),
            e.key_version
                .map_or("-".to_string(), |v| format!("{:08x}", v >> 32)),
            size(e.stored_bytes),
            age(e.created),
            until(e.expires),
            state_name(&e.state)
        );
    }
    Ok(())
}

/// A type without its modules' paths: `alloc::vec::Vec<alloc::string::String>` as
/// `Vec<String>`.
fn short_type(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut word = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out.push_str(word.rsplit("::").next().unwrap_or(&word));
            word.clear();
            out.push(c);
        }
    }
    out.push_str(word.rsplit("::").next().unwrap_or(&word));
    out
}

pub fn inspect(storage: &Storage, key: &str, namespace: &str, json: bool) -> Result<(), Failure> {
    let namespace = namespaces(storage, Some(namespace))?
        .pop()
        .ok_or_else(|| Failure::Error(format!("no namespace {namespace:?}")))?;
    let wanted = key
        .strip_prefix("0x")
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase);
    let mut found = Vec::new();
    let walk = namespace.walk(Check::Payloads, |entry| {
        let by_hex = wanted.as_deref().is_some_and(|h| h == hex(&entry.key));
        if entry.key_shown == key || by_hex {
            found.push(entry.clone());
        }
        false
    })?;
    note_not_walked(&namespace, &walk);
    if found.is_empty() {
        eprintln!(
            "smartcache: no entry with key {key} in {} (`smartcache ls -n {}` lists them)",
            namespace.name(),
            namespace.name()
        );
        return Err(Failure::Problems);
    }
    if json {
        let entries: Vec<Value> = found
            .iter()
            .map(|e| {
                let mut v = entry_json(namespace.name(), e);
                v["header_checksum"] = json!(if e.fingerprint.is_some() {
                    "valid"
                } else {
                    "invalid"
                });
                v["payload_checksum"] = json!(match e.state {
                    EntryState::Corrupt(_) if e.fingerprint.is_some() => "invalid",
                    EntryState::Corrupt(_) => "not checked",
                    EntryState::Unreadable(_) | EntryState::Unknown(_) => "not checked",
                    _ => "valid",
                });
                v
            })
            .collect();
        print_json(&json!({ "entries": entries }));
    } else {
        for e in &found {
            print_entry(namespace.name(), e);
        }
    }
    match found
        .iter()
        .any(|e| matches!(e.state, EntryState::Corrupt(_) | EntryState::Unreadable(_)))
    {
        true => Err(Failure::Problems),
        false => Ok(()),
    }
}

fn print_entry(namespace: &str, e: &EntryInfo) {
    let or_unknown = |s: Option<&str>| s.unwrap_or("unknown (not in the catalog)").to_string();
    println!("namespace        {namespace}");
    println!("tier             {}", e.tier);
    if let Some(path) = &e.path {
        println!("file             {}", path.display());
    }
    println!("key              {}", e.key_shown);
    println!("key (encoded)    0x{}", hex(&e.key));
    println!("key type         {}", or_unknown(e.key_type.as_deref()));
    println!("value type       {}", or_unknown(e.value_type.as_deref()));
    if let Some(v) = e.key_version {
        println!("code version     {v:016x}");
    }
    if let Some(f) = e.fingerprint {
        println!("fingerprint      {f:016x}");
    }
    println!("codec            {}", e.codec.unwrap_or("-"));
    println!("compression      {}", e.compression.unwrap_or("-"));
    println!("stored           {}", size(e.stored_bytes));
    if let Some(raw) = e.value_bytes {
        println!("encoded value    {}", size(raw));
    }
    println!("created          {} ago", age(e.created));
    println!("expires          {}", until(e.expires));
    println!("last used        {} ago", age(e.touched));
    let header_ok = e.fingerprint.is_some();
    println!(
        "header checksum  {}",
        if header_ok { "valid" } else { "invalid" }
    );
    match &e.state {
        EntryState::Corrupt(reason) if header_ok => println!("payload checksum invalid: {reason}"),
        EntryState::Corrupt(reason)
        | EntryState::Unknown(reason)
        | EntryState::Unreadable(reason) => {
            println!("payload checksum not checked: {reason}")
        }
        _ => println!("payload checksum valid"),
    }
    println!("state            {}", state_name(&e.state));
}
