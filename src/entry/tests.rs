//! Tests of the envelope: round trips, and every kind of damage refused.

use super::*;
use crate::codec::{Bincode, Raw};
use std::io::Cursor;

fn meta(compression: Compression) -> EntryMeta {
    EntryMeta {
        codec: 1,
        fingerprint: 99,
        created_ms: 1,
        expires_ms: 0,
        compression,
        options: CodecOptions::default(),
    }
}

fn expect(key: &[u8]) -> Expect<'_> {
    Expect {
        codec: 1,
        fingerprint: 99,
        key,
        now: Clock::at(10),
        tti: None,
        own_types: None,
    }
}

fn entry(compression: Compression, value: &String) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    write::<String, Bincode, _>(&mut out, &meta(compression), b"key", value).expect("write");
    out.into_inner()
}

#[test]
fn round_trips_with_every_compression() {
    let value = "smartcache ".repeat(1000);
    for c in [Compression::None, Compression::Lz4, Compression::Zstd(3)] {
        let bytes = entry(c, &value);
        let (back, _) = decode_slice::<String, Bincode>(&bytes, &expect(b"key")).expect("slice");
        assert_eq!(back, value);
        let mut r = bytes.as_slice();
        let (h, key) = read_header(&mut r).expect("header");
        assert_eq!(key, b"key");
        assert_eq!(h.entry_len(), bytes.len() as u64);
        let back: String = read_payload::<String, Bincode, _>(r, &h).expect("stream");
        assert_eq!(back, value);
    }
    let compressed = entry(Compression::Zstd(3), &value);
    assert!(compressed.len() < value.len() / 10);
}

#[test]
fn in_memory_and_streamed_entries_differ_only_in_padding() {
    let value = "smartcache ".repeat(100);
    for c in [Compression::None, Compression::Lz4, Compression::Zstd(3)] {
        let streamed = entry(c, &value);
        let built = to_vec::<String, Bincode>(&meta(c), b"key", &value, 0).expect("to_vec");
        // The streamed (file) form aligns its payload; the in-memory (sled) form does not.
        let at = HEADER_LEN + 3 + CHECKSUM_LEN;
        let pad = usize::from(streamed[9]);
        assert_eq!(built[9], 0);
        assert_eq!((at + pad) as u64 % PAYLOAD_ALIGN, 0, "{c:?}");
        assert_eq!(built[at..], streamed[at + pad..], "{c:?}");
        assert_eq!(built[..9], streamed[..9], "{c:?}");
        assert_eq!(
            built[10..HEADER_LEN + 3],
            streamed[10..HEADER_LEN + 3],
            "{c:?}"
        );
        let (back, _) =
            decode_slice::<String, Bincode>(&streamed, &expect(b"key")).expect("decodes");
        assert_eq!(back, value);
    }
}

#[test]
fn every_flipped_bit_is_refused() {
    let value = "x".repeat(40);
    let bytes = entry(Compression::None, &value);
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        let got = decode_slice::<String, Bincode>(&bad, &expect(b"key"));
        assert!(got.is_err(), "flip at byte {i} was accepted");
        let mut r = bad.as_slice();
        let streamed = read_header(&mut r)
            .and_then(|(h, k)| h.check(&k, &expect(b"key")).map(|_| h))
            .and_then(|h| read_payload::<String, Bincode, _>(r, &h));
        assert!(streamed.is_err(), "streamed flip at byte {i} was accepted");
    }
}

#[test]
fn every_truncation_is_refused() {
    let v = vec![7u8; 300];
    let mut out = Cursor::new(Vec::new());
    write::<Vec<u8>, Raw, _>(
        &mut out,
        &EntryMeta {
            codec: 2,
            ..meta(Compression::Lz4)
        },
        b"k",
        &v,
    )
    .expect("write");
    let bytes = out.into_inner();
    let exp = Expect {
        codec: 2,
        ..expect(b"k")
    };
    for len in 0..bytes.len() {
        assert!(
            decode_slice::<Vec<u8>, Raw>(&bytes[..len], &exp).is_err(),
            "len {len}"
        );
        let mut r = &bytes[..len];
        let streamed =
            read_header(&mut r).and_then(|(h, _)| read_payload::<Vec<u8>, Raw, _>(r, &h));
        assert!(streamed.is_err(), "streamed len {len}");
    }
}

#[test]
fn foreign_key_type_and_expiry_are_refused() {
    let bytes = entry(Compression::None, &"v".to_string());
    assert!(matches!(
        decode_slice::<String, Bincode>(&bytes, &expect(b"other")),
        Err(Refusal::Invalid(r)) if r.contains("collision")
    ));
    let wrong_type = Expect {
        fingerprint: 98,
        ..expect(b"key")
    };
    assert!(decode_slice::<String, Bincode>(&bytes, &wrong_type).is_err());
    let mut out = Cursor::new(Vec::new());
    let m = EntryMeta {
        expires_ms: 5,
        ..meta(Compression::None)
    };
    write::<String, Bincode, _>(&mut out, &m, b"key", &"v".to_string()).expect("write");
    assert!(matches!(
        decode_slice::<String, Bincode>(out.get_ref(), &expect(b"key")),
        Err(Refusal::Expired)
    ));
}

#[test]
fn sled_entries_are_relaid_for_files_unchanged_but_for_padding() {
    let value = "moved".to_string();
    let sled =
        to_vec::<String, Bincode>(&meta(Compression::None), b"key", &value, 8).expect("encode");
    assert_eq!(head_of(&sled).map(|(_, key)| key), Some(&b"key"[..]));
    let file = relaid_for_file(&sled).expect("a good entry is relaid");
    let mut reader = Cursor::new(&file);
    let (header, read_key) = read_header(&mut reader).expect("header");
    assert_eq!(
        (read_key.as_slice(), header.payload_offset() % PAYLOAD_ALIGN),
        (&b"key"[..], 0)
    );
    let read = read_payload::<String, Bincode, _>(&mut reader, &header).expect("payload");
    assert_eq!(read, value);
    let mut bad = sled.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(
        relaid_for_file(&bad).is_none(),
        "a damaged entry was relaid"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// No input panics the decoders, and none decodes to a value unless it is exactly
    /// an entry this module wrote.
    #[test]
    fn arbitrary_bytes_never_panic_and_never_decode(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        let key = b"k";
        let decoded = decode_slice::<String, Bincode>(&bytes, &expect(key));
        proptest::prop_assert!(decoded.is_err());
        let _ = check_slice(&bytes, &expect(key));
        let mut reader = Cursor::new(&bytes);
        if let Ok((header, _)) = read_header(&mut reader) {
            let _ = read_payload::<String, Bincode, _>(&mut reader, &header);
        }
    }

    /// A real entry with any bytes changed, cut or appended is refused, never
    /// decoded to another value, and never panics.
    #[test]
    fn damaged_entries_are_refused(
        value in ".{0,200}",
        zstd in proptest::prelude::any::<bool>(),
        flips in proptest::collection::vec((proptest::prelude::any::<usize>(), 1u8..=255), 1..8),
        cut in proptest::option::of(proptest::prelude::any::<usize>()),
    ) {
        let compression = if zstd { Compression::Zstd(3) } else { Compression::None };
        let good = entry(compression, &value);
        let mut bad = good.clone();
        for (at, mask) in flips {
            let at = at % bad.len();
            bad[at] ^= mask;
        }
        if let Some(cut) = cut {
            bad.truncate(cut % bad.len());
        }
        let decoded = decode_slice::<String, Bincode>(&bad, &expect(b"key"));
        if bad != good {
            proptest::prop_assert!(decoded.is_err(), "a damaged entry decoded");
        }
        let mut reader = Cursor::new(&bad);
        if let Ok((header, _)) = read_header(&mut reader) {
            if let Ok(v) = read_payload::<String, Bincode, _>(&mut reader, &header) {
                proptest::prop_assert_eq!(v, value);
            }
        }
    }
}
