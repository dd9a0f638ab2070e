//! Audits: every entry a tier holds, shown as it is stored, whatever its type, for the
//! tools that look into and clean a cache from outside it ([`crate::admin`]).

use std::path::PathBuf;

use crate::entry::{Header, Refusal};

/// One stored entry, as an audit meets it.
pub(crate) struct Met {
    /// Its checked header and encoded key, or why they do not check out.
    pub head: Result<(Header, Vec<u8>), Refusal>,
    /// Why its payload does not check out (its length; its checksum when payloads are
    /// checked), if it does not.
    pub payload_fault: Option<Refusal>,
    /// Bytes it takes in the tier.
    pub stored_bytes: u64,
    /// When it was last read or written, as the tier records it (ms since the Unix
    /// epoch); `None` when the tier has no record of it (sled records reads only near
    /// its bounds or with a time to idle).
    pub touched_ms: Option<u64>,
    /// Its file, in a tier of files.
    pub path: Option<PathBuf>,
}

/// How an audit of a tier ended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Audited {
    /// Every entry was shown. Of those chosen for removal, `not_removed` (taking
    /// `not_removed_bytes`) could not be removed, each logged with why.
    Done {
        not_removed: u64,
        not_removed_bytes: u64,
    },
    /// The tier's store is held by another process (sled takes one process per
    /// database): nothing was shown, nothing forced.
    InUse,
}

impl Audited {
    /// Every entry shown, every one chosen removed.
    pub const DONE: Audited = Audited::Done {
        not_removed: 0,
        not_removed_bytes: 0,
    };
}

/// Data a crash or a failed operation left behind in a tier's folder: no entry of it.
#[derive(Clone, Debug)]
pub(crate) struct Leftover {
    pub path: PathBuf,
    pub bytes: u64,
    /// What it is, in words.
    pub what: &'static str,
}
