//! `#[derive(Cacheable)]`: structs (named, tuple, unit) and enums, generics, and every
//! attribute, each round-tripping through the tiers it picks.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use smartcache::prelude::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "sled", version = 3)]
struct Report {
    title: String,
    rows: Vec<(String, f64)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "file")]
struct Pair(u32, String);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
struct Marker;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "memory", ttl = "1h")]
enum Shape {
    Dot,
    Circle(f64),
    Polygon {
        points: Vec<(f32, f32)>,
        label: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
struct Tagged<T> {
    value: T,
    notes: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
struct Sized {
    kept: Vec<u8>,
    #[cacheable(skip_size)]
    ignored: Vec<u8>,
}

fn fixed_size(_: &Custom) -> usize {
    12_345
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(size_with = fixed_size)]
struct Custom {
    bytes: Vec<u8>,
}

fn config(dir: &std::path::Path) -> CacheConfig {
    CacheConfig::default().dir(dir)
}

#[test]
fn attributes_set_placement_version_and_config() {
    assert_eq!(Report::PLACEMENT, Placement::Pinned(Tier::Sled));
    assert_eq!(Report::VERSION, 3);
    assert_eq!(Pair::PLACEMENT, Placement::Pinned(Tier::File));
    assert_eq!(Marker::PLACEMENT, Placement::Auto);
    assert_eq!(Marker::VERSION, 0);
    assert_eq!(Shape::PLACEMENT, Placement::Pinned(Tier::Memory));
    assert_eq!(
        configure_for::<Shape>().policy().time_to_live(),
        Some(Duration::from_secs(3600))
    );
    assert_eq!(configure_for::<Report>().policy().time_to_live(), None);
}

#[test]
fn type_tags_are_module_paths_and_include_parameters() {
    assert_eq!(Report::type_tag(), "values::derive::Report");
    assert_eq!(<Tagged<u32>>::type_tag(), "values::derive::Tagged<u32>");
    assert_eq!(
        <Tagged<Vec<String>>>::type_tag(),
        "values::derive::Tagged<Vec<String>>"
    );
}

#[test]
fn sizes_sum_the_fields() {
    let report = Report {
        title: "abc".into(),
        rows: vec![("x".into(), 1.0)],
    };
    assert_eq!(
        report.size_hint(),
        "abc".to_string().size_hint() + report.rows.size_hint()
    );
    let sized = Sized {
        kept: vec![0; 10],
        ignored: vec![0; 1000],
    };
    assert_eq!(sized.size_hint(), vec![0u8; 10].size_hint());
    assert_eq!(Custom { bytes: vec![] }.size_hint(), 12_345);
    assert_eq!(Marker.size_hint(), 0);
    let polygon = Shape::Polygon {
        points: vec![(0.0, 0.0); 4],
        label: "sq".into(),
    };
    assert_eq!(
        polygon.size_hint(),
        vec![(0f32, 0f32); 4].size_hint() + "sq".to_string().size_hint()
    );
    assert_eq!(Shape::Circle(1.0).size_hint(), 8);
}

#[test]
fn derived_values_round_trip_through_their_tiers_and_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = Report {
        title: "q3".into(),
        rows: vec![("a".into(), 1.5), ("b".into(), -2.0)],
    };
    let pair = Pair(7, "seven".into());
    let tagged = Tagged {
        value: vec![1u16, 2, 3],
        notes: BTreeMap::from([("k".to_string(), 9)]),
    };
    {
        let reports: SmartCache<u32, Report> = config(dir.path())
            .namespace("reports")
            .build()
            .expect("build");
        let pairs: SmartCache<u32, Pair> = config(dir.path())
            .namespace("pairs")
            .build()
            .expect("build");
        let tags: SmartCache<u32, Tagged<Vec<u16>>> = config(dir.path())
            .namespace("tags")
            .persist_all(true)
            .build()
            .expect("build");
        assert_eq!(
            reports.insert(1, report.clone()).expect("insert"),
            Tier::Sled
        );
        assert_eq!(pairs.insert(1, pair.clone()).expect("insert"), Tier::File);
        assert_eq!(tags.insert(1, tagged.clone()).expect("insert"), Tier::Sled);
        let shapes: SmartCache<u32, Shape> = config(dir.path())
            .namespace("shapes")
            .build()
            .expect("build");
        assert_eq!(
            shapes.insert(1, Shape::Circle(2.0)).expect("insert"),
            Tier::Memory
        );
        assert_eq!(shapes.get(&1).as_deref(), Some(&Shape::Circle(2.0)));
    }
    let reports: SmartCache<u32, Report> = config(dir.path())
        .namespace("reports")
        .build()
        .expect("reopen");
    let pairs: SmartCache<u32, Pair> = config(dir.path())
        .namespace("pairs")
        .build()
        .expect("reopen");
    let tags: SmartCache<u32, Tagged<Vec<u16>>> = config(dir.path())
        .namespace("tags")
        .build()
        .expect("reopen");
    assert_eq!(reports.get(&1).as_deref(), Some(&report));
    assert_eq!(pairs.get(&1).as_deref(), Some(&pair));
    assert_eq!(tags.get(&1).as_deref(), Some(&tagged));
}

#[test]
fn a_version_bump_is_a_miss() {
    #[derive(Serialize, Deserialize, Cacheable)]
    #[cacheable(tier = "sled", version = 1)]
    struct V1 {
        n: u32,
    }
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let cache: SmartCache<u8, V1> = config(dir.path()).namespace("v").build().expect("build");
        cache.insert(1, V1 { n: 5 }).expect("insert");
    }
    mod bumped {
        use super::*;
        #[derive(Serialize, Deserialize, Cacheable)]
        #[cacheable(tier = "sled", version = 2)]
        pub struct V1 {
            pub n: u32,
        }
    }
    // Same tag only if the module path matches; here the tag differs too, and either
    // difference makes the old entry a counted miss.
    let cache: SmartCache<u8, bumped::V1> =
        config(dir.path()).namespace("v").build().expect("reopen");
    assert!(cache.get(&1).is_none());
    assert_eq!(cache.stats().sled.foreign, 1);
}

#[cfg(feature = "json")]
#[test]
fn json_codec_round_trips_what_bincode_cannot() {
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
    #[cacheable(tier = "file", codec = "json")]
    #[serde(untagged)]
    enum Loose {
        Number(f64),
        Text(String),
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u8, Loose> = config(dir.path()).build().expect("build");
    cache.insert(1, Loose::Text("hi".into())).expect("insert");
    cache.insert(2, Loose::Number(2.5)).expect("insert");
    drop(cache);
    let cache: SmartCache<u8, Loose> = config(dir.path()).build().expect("reopen");
    assert_eq!(cache.get(&1).as_deref(), Some(&Loose::Text("hi".into())));
    assert_eq!(cache.get(&2).as_deref(), Some(&Loose::Number(2.5)));
}

/// A derived `ttl` holds however the cache is built, unless its configuration sets one.
#[test]
fn a_derived_ttl_holds_on_every_build_path() {
    let hour = Some(Duration::from_secs(3600));
    let plain: SmartCache<u8, Shape> = CacheConfig::temporary().build().expect("build");
    assert_eq!(plain.config().policy().time_to_live(), hour);
    assert_eq!(
        SmartCache::<u8, Shape>::new()
            .config()
            .policy()
            .time_to_live(),
        hour
    );
    let own: SmartCache<u8, Shape> = CacheConfig::temporary()
        .ttl(Duration::from_secs(5))
        .build()
        .expect("build");
    assert_eq!(
        own.config().policy().time_to_live(),
        Some(Duration::from_secs(5))
    );
    let none: SmartCache<u8, Report> = CacheConfig::temporary().build().expect("build");
    assert_eq!(none.config().policy().time_to_live(), None);
}

/// `tag = ".."` keeps a type's stored entries when the type moves to another module.
#[test]
fn a_tagged_type_keeps_its_entries_across_modules() {
    mod before {
        use super::*;
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
        #[cacheable(tier = "sled", tag = "shop.invoice")]
        pub struct Invoice {
            pub total: u64,
        }
    }
    mod after {
        use super::*;
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
        #[cacheable(tier = "sled", tag = "shop.invoice")]
        pub struct Invoice {
            pub total: u64,
        }
    }
    assert_eq!(before::Invoice::type_tag(), "shop.invoice");
    assert_eq!(<Tagged<u32>>::type_tag(), "values::derive::Tagged<u32>");
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let cache: SmartCache<u8, before::Invoice> = config(dir.path())
            .namespace("invoices")
            .build()
            .expect("build");
        cache
            .insert(1, before::Invoice { total: 99 })
            .expect("insert");
    }
    let cache: SmartCache<u8, after::Invoice> = config(dir.path())
        .namespace("invoices")
        .build()
        .expect("reopen");
    assert_eq!(
        cache.get(&1).as_deref(),
        Some(&after::Invoice { total: 99 })
    );
}
