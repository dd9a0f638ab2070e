//! polars (feature `polars`): a `DataFrame` with every kind of column users cache —
//! integers, floats, booleans, nulls, strings, categoricals, dates, datetimes — and a
//! `Series` round-trip through every tier and across a process restart with dtypes,
//! nulls and column order intact; sizes follow polars' own estimate.
#![cfg(feature = "polars")]

use crate::common;

use common::*;
use polars::prelude::*;
use smartcache::prelude::*;

/// A frame of `rows` rows, a pure function of `rows`, with its columns out of
/// alphabetical order.
fn frame(rows: usize) -> DataFrame {
    let ints: Vec<Option<i64>> = (0..rows as i64)
        .map(|i| (i % 7 != 3).then_some(i * 1_000))
        .collect();
    let floats: Vec<f64> = (0..rows).map(|i| i as f64 / 3.0).collect();
    let flags: Vec<Option<bool>> = (0..rows)
        .map(|i| (i % 5 != 0).then_some(i % 2 == 0))
        .collect();
    let names: Vec<Option<String>> = (0..rows)
        .map(|i| (i % 4 != 1).then(|| format!("name-{i}-é")))
        .collect();
    let colours: Vec<&str> = (0..rows).map(|i| ["red", "green", "blue"][i % 3]).collect();
    let days: Vec<i32> = (0..rows as i32).map(|i| 19_000 + i).collect();
    let stamps: Vec<Option<i64>> = (0..rows as i64)
        .map(|i| (i % 6 != 2).then_some(1_700_000_000_000 + i * 3_600_000))
        .collect();
    let columns = vec![
        Series::new("zeta_ints".into(), ints).into_column(),
        Series::new("alpha_floats".into(), floats).into_column(),
        Series::new("flags".into(), flags).into_column(),
        Series::new("names".into(), names).into_column(),
        Series::new("colour".into(), colours)
            .cast(&DataType::from_categories(Categories::global()))
            .expect("categorical")
            .into_column(),
        Series::new("day".into(), days)
            .cast(&DataType::Date)
            .expect("date")
            .into_column(),
        Series::new("at".into(), stamps)
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .expect("datetime")
            .into_column(),
    ];
    DataFrame::new(rows, columns).expect("frame")
}

fn assert_same(got: &DataFrame, want: &DataFrame, what: &str) {
    assert_eq!(
        got.schema(),
        want.schema(),
        "{what}: dtypes or column order"
    );
    assert!(got.equals_missing(want), "{what}: values\n{got}\n{want}");
}

#[test]
fn frames_round_trip_through_every_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    for tier in TIERS {
        for rows in [0, 1, 50] {
            let key = format!("rows-{rows}");
            let want = frame(rows);
            round_trip_in(dir.path(), tier, &key, &want);
            let cache: SmartCache<String, DataFrame> =
                config_for_tier(dir.path(), tier).build().expect("build");
            if tier == Tier::Memory {
                continue;
            }
            let got = cache.get(&key).expect("stored");
            assert_same(&got, &want, &key);
        }
    }
}

#[test]
fn series_round_trip_through_every_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    for tier in TIERS {
        let want = frame(20)
            .column("names")
            .expect("column")
            .as_materialized_series()
            .clone();
        round_trip_in(dir.path(), tier, "names", &want);
        if tier != Tier::Memory {
            let cache: SmartCache<String, Series> =
                config_for_tier(dir.path(), tier).build().expect("build");
            let got = cache.get(&"names".to_string()).expect("stored");
            assert_eq!((got.name(), got.dtype()), (want.name(), want.dtype()));
        }
    }
}

#[test]
fn compressed_frames_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    for compression in [Compression::Lz4, Compression::Zstd(3)] {
        let prefix = format!("{compression:?}")
            .to_lowercase()
            .replace(['(', ')'], "");
        let open = || -> SmartCache<u8, DataFrame> {
            config_for_tier(dir.path(), Tier::File)
                .compression(compression)
                .namespace_prefix(prefix.as_str())
                .build()
                .expect("build")
        };
        open().insert(1, frame(1_000)).expect("insert");
        assert_same(
            &open().get(&1).expect("stored"),
            &frame(1_000),
            "compressed",
        );
    }
}

#[test]
fn child_frame_writer() {
    let Some(dir) = child_role("frame-writer") else {
        return;
    };
    for tier in [Tier::Sled, Tier::File] {
        let cache: SmartCache<String, DataFrame> =
            config_for_tier(&dir, tier).build().expect("build");
        cache.insert("f".into(), frame(300)).expect("insert");
        let series: SmartCache<String, Series> =
            config_for_tier(&dir, tier).build().expect("build");
        series.insert("s".into(), day_series()).expect("insert");
    }
}

/// A `Series` with nulls, as stored by the child writer.
fn day_series() -> Series {
    frame(40)
        .column("at")
        .expect("column")
        .as_materialized_series()
        .clone()
}

#[test]
fn frames_written_by_one_process_are_read_by_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_child("child_frame_writer", "frame-writer", dir.path(), &[]);
    for tier in [Tier::Sled, Tier::File] {
        let cache: SmartCache<String, DataFrame> =
            config_for_tier(dir.path(), tier).build().expect("build");
        let got = cache.get(&"f".to_string()).expect("stored by the child");
        assert_same(&got, &frame(300), "from the child");
        let series: SmartCache<String, Series> =
            config_for_tier(dir.path(), tier).build().expect("build");
        let got = series.get(&"s".to_string()).expect("stored by the child");
        let want = day_series();
        assert_eq!((got.name(), got.dtype()), (want.name(), want.dtype()));
        assert!(got.equals_missing(&want));
    }
}

#[test]
fn sizes_follow_the_frame() {
    let small = frame(3);
    let big = DataFrame::new(
        2_000_000,
        vec![
            Series::new("a".into(), vec![1.5f64; 2_000_000]).into_column(),
            Series::new("b".into(), vec![7i64; 2_000_000]).into_column(),
        ],
    )
    .expect("frame");
    assert!(big.size_hint() >= 32_000_000, "{}", big.size_hint());
    let cache: SmartCache<u8, DataFrame> = CacheConfig::temporary().build().expect("build");
    assert_eq!(cache.route(&small), Tier::Memory);
    assert_eq!(cache.route(&big), Tier::File);
}
