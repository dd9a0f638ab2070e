//! A look at a sled folder before sled opens it, from sled 0.34's own checksums: damage
//! that sled would meet with a panic (or an error) at open is found without calling into
//! sled, and a snapshot that a process killed while opening left half-written is removed.
//!
//! What is read: the `conf` file (the log's segment size), the snapshot sled would load
//! (the greatest `snap.*` name), and the 20-byte header of each segment of the log `db`.
//! Found as damage, so that the store is set aside before sled touches it:
//! - the chosen snapshot is shorter than its frame or fails its CRC (sled: an error);
//! - two segment headers that pass their CRC claim the same position in the log, or one
//!   claims the last one (sled asserts, a panic inside `Config::open`).
//!
//! A `snap.<lsn>.generating` file is a snapshot sled was writing when its process died:
//! only the rename to `snap.<lsn>` commits one, and sled would pick the unfinished file
//! (its name sorts last) and fail every open after. It is removed, losing nothing.
//!
//! The rest of sled's recovery (the messages inside segments, blobs) can only be judged
//! by replaying the log as sled does; damage there is met by sled itself, and a panic it
//! raises is contained by the tier (see `panics.rs`). The look is taken only while no
//! process holds the database: it takes the lock sled takes, and lets it go before sled
//! opens.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

/// sled's default segment size, used when `conf` is missing or does not say.
const DEFAULT_SEGMENT: u64 = 512 * 1024;
/// Bytes of a segment header: CRC, lsn, max stable lsn.
const SEGMENT_HEADER: usize = 20;
/// The mask sled applies to the lsns it stores in segment headers.
const LSN_MASK: i64 = 0x7FFF_FFFF_FFFF_FFFF;

/// What the look found.
#[derive(Debug, PartialEq)]
pub(super) enum Precheck {
    /// Nothing sled would fail on at open, as far as headers and checksums tell; or the
    /// database is held by another process (then sled's own open says so).
    Sound,
    /// Damage, and where.
    Damaged(String),
}

/// Looks at the sled folder `path`, removing an unfinished snapshot if `repair` (else
/// it is reported as damage). I/O errors are left to sled's open.
pub(super) fn precheck(path: &Path, repair: bool) -> Precheck {
    match look(path, repair) {
        Ok(None) => Precheck::Sound,
        Ok(Some(damage)) => Precheck::Damaged(damage),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "sled tier: cannot look at the folder before opening it");
            Precheck::Sound
        }
    }
}

fn look(path: &Path, repair: bool) -> io::Result<Option<String>> {
    let log = match fs::File::open(path.join("db")) {
        Ok(log) => log,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !try_lock(&log)? {
        return Ok(None);
    }
    let segment = segment_size(path);
    let stable = match snapshot(path, repair)? {
        Ok(stable) => stable,
        Err(damage) => return Ok(Some(damage)),
    };
    Ok(segment_headers(&log, segment, stable.unwrap_or(0))?.err())
}

/// The segment size `conf` records (`segment_size: N` on a line of its own), or sled's
/// default.
fn segment_size(path: &Path) -> u64 {
    let Ok(conf) = fs::read(path.join("conf")) else {
        return DEFAULT_SEGMENT;
    };
    let text = String::from_utf8_lossy(&conf[..conf.len().saturating_sub(4)]).into_owned();
    text.lines()
        .find_map(|line| line.strip_prefix("segment_size: "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .filter(|n| n.is_power_of_two() && (256..=16 << 20).contains(n))
        .unwrap_or(DEFAULT_SEGMENT)
}

/// The snapshot sled would load: removes unfinished ones, then checks the chosen one's
/// frame and CRC. Its stable lsn (`None` without a snapshot), or the damage.
fn snapshot(path: &Path, repair: bool) -> io::Result<Result<Option<i64>, String>> {
    loop {
        let mut names: Vec<String> = fs::read_dir(path)?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.starts_with("snap.") && !name.ends_with(".in___motion"))
            .collect();
        names.sort();
        let Some(name) = names.pop() else {
            return Ok(Ok(None));
        };
        if name.ends_with(".generating") {
            if !repair {
                return Ok(Err(format!(
                    "its snapshot {name} was left unfinished (a cache opening it removes it)"
                )));
            }
            fs::remove_file(path.join(&name))?;
            tracing::warn!(path = %path.display(), file = %name,
                "sled tier: removed a snapshot left unfinished by a process that stopped while opening the database (nothing is lost: the previous snapshot and the log hold every entry)");
            continue;
        }
        let bytes = fs::read(path.join(&name))?;
        let Some(body_len) = bytes.len().checked_sub(12).filter(|&n| n > 0) else {
            return Ok(Err(format!("its snapshot {name} is truncated")));
        };
        let (body, crc) = (&bytes[..body_len], &bytes[bytes.len() - 4..]);
        if crc32fast::hash(body) != le_u32(crc) {
            return Ok(Err(format!("its snapshot {name} fails its checksum")));
        }
        // The stable lsn, shifted by one so that 0 means none (snapshots are written
        // without compression, as this tier configures sled).
        let shifted = i64::from_le_bytes(
            body.get(..8)
                .and_then(|b| b.try_into().ok())
                .unwrap_or([0; 8]),
        );
        let stable = match shifted {
            0 => None,
            n if n < 0 => Some(n),
            n => Some(n - 1),
        };
        return Ok(Ok(stable));
    }
}

/// Reads the header of every segment as sled does at open, and finds those that would
/// stop it: two valid headers with the same lsn, or a valid header with the largest lsn.
fn segment_headers(log: &fs::File, segment: u64, stable: i64) -> io::Result<Result<(), String>> {
    let min = stable / segment as i64 * segment as i64;
    let len = log.metadata()?.len();
    let segments = len / segment + u64::from(len % segment >= SEGMENT_HEADER as u64);
    let mut seen = BTreeMap::new();
    for index in 0..segments {
        let offset = index * segment;
        let mut header = [0u8; SEGMENT_HEADER];
        if read_at(log, &mut header, offset).is_err() {
            continue;
        }
        let valid = crc32fast::hash(&header[4..]) == le_u32(&header[..4]) ^ 0xFFFF_FFFF;
        let lsn = i64::from_le_bytes(header[4..12].try_into().unwrap_or([0; 8])) ^ LSN_MASK;
        if !valid || lsn < min {
            continue;
        }
        if lsn == i64::MAX {
            return Ok(Err(format!(
                "the segment at {offset} of its log claims the last position"
            )));
        }
        if let Some(other) = seen.insert(lsn, offset) {
            return Ok(Err(format!(
                "two segments of its log (at {other} and {offset}) claim the same position {lsn}"
            )));
        }
    }
    Ok(Ok(()))
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().unwrap_or([0; 4]))
}

fn read_at(mut file: &fs::File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// Takes the exclusive lock sled takes on its log (`flock`), so that a database another
/// process has open is never judged: `false` when another open file holds it. The lock
/// goes with the file, closed before sled opens it.
#[cfg(unix)]
fn try_lock(file: &fs::File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    #[allow(unsafe_code)]
    // SAFETY: flock on a descriptor borrowed open for the call; it touches no memory.
    let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if taken == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        _ => Err(e),
    }
}

/// Without `flock`, the look is not taken.
#[cfg(not(unix))]
fn try_lock(_file: &fs::File) -> io::Result<bool> {
    Ok(false)
}
