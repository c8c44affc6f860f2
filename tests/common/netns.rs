//! Keeps DDS tests on this machine. DDS discovery multicasts on every interface, so every test
//! that opens a DDS participant runs inside a network namespace that has only loopback:
//!
//! ```ignore
//! #[path = "common/netns.rs"]
//! mod netns;
//!
//! #[test]
//! #[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
//! fn my_dds_test() {
//!     if !netns::isolated("my_dds_test") {
//!         return; // it ran (and passed) in its own namespace
//!     }
//!     // ... the test body, opening participants ...
//! }
//! ```
//!
//! Outside such a namespace, as root with `ip` available, [`isolated`] creates one, re-runs just
//! this test inside it and deletes it. Each test gets its own namespace, so tests running in
//! parallel do not see each other's participants either.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Set in the re-run test process (the name of its namespace).
pub const NETNS_ENV: &str = "MOSAICO_TEST_NETNS";

/// True when every network interface of this process is `lo`.
pub fn loopback_only() -> bool {
    match std::fs::read_dir("/sys/class/net") {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .all(|e| e.file_name() == "lo"),
        Err(_) => false,
    }
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn ip_command() -> Option<&'static str> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn run(ip: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(ip)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {ip}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A namespace with only loopback (multicast enabled and routed to it); deleted on drop.
struct Namespace {
    ip: &'static str,
    name: String,
}

impl Namespace {
    fn create(ip: &'static str, name: String) -> Result<Self, String> {
        run(ip, &["netns", "add", &name])?;
        let ns = Namespace { ip, name };
        let n = ns.name.as_str();
        run(ip, &["netns", "exec", n, "ip", "link", "set", "lo", "up"])?;
        run(
            ip,
            &[
                "netns",
                "exec",
                n,
                "ip",
                "link",
                "set",
                "lo",
                "multicast",
                "on",
            ],
        )?;
        run(
            ip,
            &[
                "netns",
                "exec",
                n,
                "ip",
                "route",
                "add",
                "224.0.0.0/4",
                "dev",
                "lo",
            ],
        )?;
        Ok(ns)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Err(e) = run(self.ip, &["netns", "del", &self.name]) {
            eprintln!("warning: {e}");
        }
    }
}

/// Whether the caller should run the test body here: true inside a loopback-only namespace;
/// otherwise the test `test_name` (its path in this test binary) is re-run alone in a fresh
/// namespace, its result asserted, and false is returned. Panics when it can do neither.
pub fn isolated(test_name: &str) -> bool {
    if loopback_only() {
        return true;
    }
    if let Ok(ns) = std::env::var(NETNS_ENV) {
        panic!("{NETNS_ENV}={ns} is set, but this process sees interfaces other than lo");
    }
    let ip = match ip_command() {
        Some(ip) if is_root() => ip,
        _ => panic!(
            "{test_name} opens DDS participants, whose discovery multicasts on every interface: it \
             only runs in a network namespace with nothing but loopback. Run the tests as root \
             (e.g. `sudo scripts/test.sh`): each then creates its own with `ip netns`. Or run them \
             inside such a namespace yourself (`ip netns exec NAME cargo test ...`, lo up with \
             multicast and a 224.0.0.0/4 route)."
        ),
    };

    static SEQ: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "mosaico-t{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let ns = Namespace::create(ip, name.clone())
        .unwrap_or_else(|e| panic!("cannot set up network namespace {name}: {e}"));
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(ip)
        .args(["netns", "exec", &name])
        .arg(&exe)
        .args([
            "--exact",
            test_name,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(NETNS_ENV, &name)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} in namespace {name}: {e}", exe.display()));
    drop(ns);

    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{test_name} failed in network namespace {name} ({})",
        out.status
    );
    assert!(
        stdout.contains("1 passed"),
        "{test_name} did not run in network namespace {name}: is the name its exact test path?"
    );
    false
}
