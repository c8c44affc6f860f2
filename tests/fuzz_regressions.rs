//! The fuzz targets' inputs on stable Rust, without cargo fuzz: every committed corpus file
//! (fuzz/corpus/<target>/, seeded from the golden fixtures and the test server's replies, then
//! grown and minimized by libFuzzer) and every crash reproducer (fuzz/regressions/<target>/, one
//! per bug the fuzzers found) goes through the same entry point as its target
//! (`mosaico_bridge::fuzzing`). Oracle: the library's own promises, checked inside the entry
//! points — no input may panic, and what they re-encode or print must load back — so a
//! reproducer fails here until its bug is fixed.

use std::path::{Path, PathBuf};

use mosaico_bridge::fuzzing::TARGETS;

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// Runs every file of `kind/<target>/` through its target; returns (files run, failures).
fn replay(kind: &str) -> (usize, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind);
    let mut n = 0;
    let mut failed = Vec::new();
    for (name, run) in TARGETS {
        for f in files(&root.join(name)) {
            let data = std::fs::read(&f).unwrap();
            n += 1;
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failed.push(format!("{name}: {}", f.display()));
            }
        }
    }
    (n, failed)
}

#[test]
fn crash_reproducers_no_longer_crash() {
    let (n, failed) = replay("regressions");
    assert!(n > 0, "no reproducer found under fuzz/regressions");
    assert!(failed.is_empty(), "still failing: {failed:#?}");
}

#[test]
fn corpus_replays_clean() {
    let (n, failed) = replay("corpus");
    // Every target has a committed corpus (at least its seeds).
    for (name, _) in TARGETS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(name);
        assert!(!files(&dir).is_empty(), "no corpus for {name}");
    }
    assert!(
        failed.is_empty(),
        "{} of {n} corpus files fail: {failed:#?}",
        failed.len()
    );
}

/// `play --clock HZ`: a rate whose period `Duration` cannot hold (or that rounds to 0 ns) is a
/// usage error, not a panic when the player starts (found by reading the config target's path).
/// Oracle: `Duration`'s own range.
#[test]
fn clock_rates_outside_duration_are_refused() {
    use mosaico_bridge::play::player::clock_period;
    for hz in [
        0.0,
        -1.0,
        1e-300,
        f64::MIN_POSITIVE,
        1e300,
        f64::NAN,
        f64::INFINITY,
    ] {
        assert!(clock_period(hz).is_err(), "{hz}");
    }
    assert_eq!(
        clock_period(40.0).unwrap(),
        std::time::Duration::from_millis(25)
    );
    assert_eq!(
        clock_period(1e9).unwrap(),
        std::time::Duration::from_nanos(1)
    );
}
