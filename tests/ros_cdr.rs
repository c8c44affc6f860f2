//! The CDR codec against golden bytes from PyPI `rosbags` (`scripts/gen_cdr_fixtures.py`): every
//! supported type decodes to exactly the values rosbags serialized, and re-encodes to the same bytes,
//! little and big endian. Random and mutated input never panics.

use std::path::{Path, PathBuf};

use mosaico_bridge::ros::msgs::{self, decode_to_json, reencode};
use proptest::prelude::*;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cdr")
}

/// (ROS type, file) for every golden message, LE and BE.
fn golden() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if let Some(stem) = name.strip_suffix(".cdr") {
            let stem = stem.strip_suffix(".be").unwrap_or(stem);
            out.push((stem.replace("__", "/msg/"), p));
        }
    }
    out.sort();
    out
}

/// Exact comparison (floats bit for bit). JSON cannot hold non-finite floats: both sides write null.
fn same(want: &Value, got: &Value, path: &str) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            assert_eq!(
                w.keys().collect::<Vec<_>>(),
                g.keys().collect::<Vec<_>>(),
                "fields of {path}"
            );
            for (k, v) in w {
                same(v, &g[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "length of {path}");
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                same(a, b, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(w), Value::Number(g)) => {
            if let (Some(a), Some(b)) = (w.as_i64(), g.as_i64()) {
                assert_eq!(a, b, "{path}");
            } else if let (Some(a), Some(b)) = (w.as_u64(), g.as_u64()) {
                assert_eq!(a, b, "{path}");
            } else {
                assert_eq!(
                    w.as_f64().unwrap().to_bits(),
                    g.as_f64().unwrap().to_bits(),
                    "{path}: {w} vs {g}"
                );
            }
        }
        (Value::Null, Value::Null) => {}
        (w, g) => assert_eq!(w, g, "{path}"),
    }
}

#[test]
fn decodes_golden_bytes_exactly_and_reencodes_them() {
    let mut checked = 0;
    for (ros_type, path) in golden() {
        let bytes = std::fs::read(&path).unwrap();
        let Some(got) = decode_to_json(&ros_type, &bytes) else {
            assert_eq!(
                ros_type, "diagnostic_msgs/msg/KeyValue",
                "{ros_type} has a fixture but no decoder"
            );
            continue;
        };
        let got = got.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json = std::fs::read_to_string(
            fixtures().join(format!("{}.json", ros_type.replace("/msg/", "__"))),
        )
        .unwrap();
        let want: Value = serde_json::from_str(&json).unwrap();
        same(&want, &got, &ros_type);
        let again = reencode(&ros_type, &bytes).unwrap().unwrap();
        assert_eq!(again, bytes, "re-encoding {}", path.display());
        checked += 1;
    }
    assert!(
        checked >= msgs::TYPE_NAMES.len(),
        "only {checked} fixtures checked"
    );
    // every decodable type has a golden fixture
    for t in msgs::TYPE_NAMES {
        assert!(
            fixtures()
                .join(format!("{}.cdr", t.replace("/msg/", "__")))
                .exists(),
            "no fixture for {t}"
        );
    }
}

#[test]
fn truncated_golden_messages_are_errors_not_panics() {
    for (ros_type, path) in golden() {
        let bytes = std::fs::read(&path).unwrap();
        for cut in 0..bytes.len() {
            if let Some(r) = decode_to_json(&ros_type, &bytes[..cut]) {
                // a prefix may still decode when only trailing optional bytes are cut (Range.variance)
                if r.is_ok() {
                    assert_eq!(
                        ros_type,
                        "sensor_msgs/msg/Range",
                        "{} cut at {cut} decoded",
                        path.display()
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512), le in any::<bool>()) {
        let mut data = data;
        if data.len() >= 4 {
            data[0] = 0;
            data[1] = le as u8;
        }
        for t in msgs::TYPE_NAMES {
            let _ = decode_to_json(t, &data);
        }
    }

    #[test]
    fn mutated_golden_bytes_never_panic(idx in any::<prop::sample::Index>(), pos in any::<prop::sample::Index>(),
                                        val in any::<u8>(), extra in proptest::collection::vec(any::<u8>(), 0..8)) {
        let all = golden();
        let (ros_type, path) = &all[idx.index(all.len())];
        let mut bytes = std::fs::read(path).unwrap();
        let p = pos.index(bytes.len());
        bytes[p] = val;
        bytes.extend_from_slice(&extra);
        let _ = decode_to_json(ros_type, &bytes);
        // a huge length in every u32 slot
        for i in (4..bytes.len().saturating_sub(4)).step_by(4) {
            let mut b = bytes.clone();
            b[i..i + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
            let _ = decode_to_json(ros_type, &b);
        }
    }
}
