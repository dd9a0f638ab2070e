//! Foreign entries: an entry written for another VERSION of a type, for another type, or
//! with another codec, in the same folder and namespace, is a counted miss — never decoded
//! into the reader's type — and stays for the cache it belongs to.

use crate::common;

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use common::*;
use serde::{Deserialize, Serialize};
use smartcache::codec::{Codec, CodecError};
use smartcache::prelude::*;

const SLED: u8 = 0;
const FILE: u8 = 1;

/// The same type tag at version `VER`, pinned to sled (`T = SLED`) or a file (`T = FILE`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Doc<const VER: u32, const T: u8>(Vec<u8>);

impl<const VER: u32, const T: u8> Cacheable for Doc<VER, T> {
    const PLACEMENT: Placement = if T == SLED {
        Placement::Pinned(Tier::Sled)
    } else {
        Placement::Pinned(Tier::File)
    };
    const VERSION: u32 = VER;
    type Codec = smartcache::codec::Bincode;
    fn size_hint(&self) -> usize {
        24 + self.0.len()
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("tests::Doc")
    }
}

fn open<V: Cacheable>(dir: &Path) -> SmartCache<u64, V> {
    config(dir).build().expect("build")
}

fn version_mismatch<const T: u8>(tier: Tier) {
    let dir = tempfile::tempdir().expect("tempdir");
    let v1 = open::<Doc<1, T>>(dir.path());
    assert_eq!(v1.insert(1, Doc(small(1))).expect("insert"), tier);
    v1.insert(2, Doc(small(2))).expect("insert");
    drop(v1);

    // Same version: found (the control).
    let again = open::<Doc<1, T>>(dir.path());
    assert_eq!(
        again.get(&2).as_deref(),
        Some(&Doc(small(2))),
        "{tier}: same version"
    );
    drop(again);

    let v2 = open::<Doc<2, T>>(dir.path());
    assert_eq!(
        v2.get(&1),
        None,
        "{tier}: a VERSION 1 entry was served as VERSION 2"
    );
    assert!(matches!(v2.try_get(&2), Ok(None)), "{tier}: try_get");
    let stats = v2.stats();
    assert_eq!(stats.tier(tier).foreign, 2, "{tier}: {stats}");
    assert_eq!(stats.tier(tier).invalid, 0, "{tier}: {stats}");
    assert_eq!(
        stats.tier(tier).entries,
        2,
        "{tier}: another version's entries were removed by a read: {stats}"
    );
    assert_eq!(v2.insert(1, Doc(small(10))).expect("insert"), tier);
    assert_eq!(v2.get(&1).as_deref(), Some(&Doc(small(10))));
    drop(v2);

    // And the way back: VERSION 1 does not read VERSION 2's entry either.
    let v1 = open::<Doc<1, T>>(dir.path());
    assert_eq!(
        v1.get(&1),
        None,
        "{tier}: a VERSION 2 entry was served as VERSION 1"
    );
    assert_eq!(v1.stats().tier(tier).foreign, 1, "{tier}: {}", v1.stats());
    // Its own entry that VERSION 2 did not replace is still there.
    assert_eq!(
        v1.get(&2).as_deref(),
        Some(&Doc(small(2))),
        "{tier}: a read of VERSION 2 removed VERSION 1's entry"
    );
}

#[test]
fn version_mismatch_sled() {
    version_mismatch::<SLED>(Tier::Sled);
}

#[test]
fn version_mismatch_file() {
    version_mismatch::<FILE>(Tier::File);
}

/// A string pinned to sled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Alpha(String);

impl Cacheable for Alpha {
    const PLACEMENT: Placement = Placement::Pinned(Tier::Sled);
    type Codec = smartcache::codec::Bincode;
    fn size_hint(&self) -> usize {
        24 + self.0.len()
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("tests::Alpha")
    }
}

/// Bytes pinned to sled: bincode would decode Alpha's string as these bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Beta(Vec<u8>);

impl Cacheable for Beta {
    const PLACEMENT: Placement = Placement::Pinned(Tier::Sled);
    type Codec = smartcache::codec::Bincode;
    fn size_hint(&self) -> usize {
        24 + self.0.len()
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("tests::Beta")
    }
}

#[test]
fn type_mismatch_in_one_namespace_sequentially() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alpha = open::<Alpha>(dir.path());
    alpha.insert(1, Alpha("hello".into())).expect("insert");
    drop(alpha);
    let beta = open::<Beta>(dir.path());
    assert_eq!(beta.get(&1), None, "Alpha's entry was decoded as Beta");
    assert_eq!(beta.stats().sled.foreign, 1, "{}", beta.stats());
}

#[test]
fn type_mismatch_in_one_namespace_while_both_are_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alpha = open::<Alpha>(dir.path());
    let beta = open::<Beta>(dir.path()); // shares the process's sled database
    alpha.insert(1, Alpha("hello".into())).expect("insert");
    assert_eq!(beta.get(&1), None, "Alpha's entry was decoded as Beta");
    assert_eq!(beta.stats().sled.foreign, 1, "{}", beta.stats());
    // The foreign entry was a miss for Beta, and stays for Alpha (read by a new cache,
    // from sled).
    let alpha_again = open::<Alpha>(dir.path());
    assert_eq!(alpha_again.get(&1).as_deref(), Some(&Alpha("hello".into())));
    assert_eq!(alpha_again.stats().sled.hits, 1, "{}", alpha_again.stats());
    beta.insert(2, Beta(vec![1, 2, 3])).expect("insert");
    assert_eq!(beta.get(&2).as_deref(), Some(&Beta(vec![1, 2, 3])));
}

#[test]
fn auto_types_with_the_same_codec_do_not_read_each_other() {
    // Vec<u8> and Vec<i8> share the raw codec and the same bytes would decode.
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = open::<Vec<u8>>(dir.path());
    assert_eq!(bytes.insert(1, medium(1)).expect("insert"), Tier::Sled);
    assert_eq!(bytes.insert(2, large(2)).expect("insert"), Tier::File);
    drop(bytes);
    let signed = open::<Vec<i8>>(dir.path());
    assert_eq!(
        signed.get(&1),
        None,
        "a Vec<u8> sled entry was decoded as Vec<i8>"
    );
    assert_eq!(
        signed.get(&2),
        None,
        "a Vec<u8> file entry was decoded as Vec<i8>"
    );
    let stats = signed.stats();
    assert_eq!((stats.sled.foreign, stats.file.foreign), (1, 1), "{stats}");
}

/// Reverses its bytes: decodes anything, so only the cache's checks can refuse a foreign
/// entry.
struct Reversed;

impl Codec<Coded<1>> for Reversed {
    const ID: u16 = 0x7e57;
    const NAME: &'static str = "reversed";
    fn encode<W: Write>(value: &Coded<1>, out: &mut W) -> Result<(), CodecError> {
        let mut bytes = value.0.clone();
        bytes.reverse();
        out.write_all(&bytes)?;
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<Coded<1>, CodecError> {
        let mut bytes = bytes.to_vec();
        bytes.reverse();
        Ok(Coded(bytes))
    }
}

/// The same tag and VERSION, with the bincode codec (`C = 0`) or `Reversed` (`C = 1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Coded<const C: u8>(Vec<u8>);

impl Cacheable for Coded<0> {
    const PLACEMENT: Placement = Placement::Pinned(Tier::File);
    type Codec = smartcache::codec::Bincode;
    fn size_hint(&self) -> usize {
        24 + self.0.len()
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("tests::Coded")
    }
}

impl Cacheable for Coded<1> {
    const PLACEMENT: Placement = Placement::Pinned(Tier::File);
    type Codec = Reversed;
    fn size_hint(&self) -> usize {
        24 + self.0.len()
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("tests::Coded")
    }
}

#[test]
fn codec_mismatch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bincode = open::<Coded<0>>(dir.path());
    bincode.insert(1, Coded(small(1))).expect("insert");
    drop(bincode);

    let reversed = open::<Coded<1>>(dir.path());
    assert_eq!(
        reversed.get(&1),
        None,
        "a bincode entry was decoded by another codec"
    );
    assert_eq!(reversed.stats().file.foreign, 1, "{}", reversed.stats());
    // Its own entries round-trip.
    reversed.insert(2, Coded(small(2))).expect("insert");
    drop(reversed);
    let reversed = open::<Coded<1>>(dir.path());
    assert_eq!(reversed.get(&2).as_deref(), Some(&Coded(small(2))));
    drop(reversed);

    let bincode = open::<Coded<0>>(dir.path());
    assert_eq!(
        bincode.get(&2),
        None,
        "a `reversed` entry was decoded by bincode"
    );
    assert_eq!(bincode.stats().file.foreign, 1, "{}", bincode.stats());
}
