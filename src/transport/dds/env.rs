//! The ROS 2 environment variables that choose a node's domain and discovery range, read as
//! ROS 2 Jazzy documents them ("Improved Dynamic Discovery"): `ROS_DOMAIN_ID`,
//! `ROS_AUTOMATIC_DISCOVERY_RANGE` (`SUBNET` by default, `LOCALHOST`, `OFF`, `SYSTEM_DEFAULT`),
//! `ROS_STATIC_PEERS`, and the deprecated `ROS_LOCALHOST_ONLY=1`, which still means `LOCALHOST`
//! and makes the static peers ignored. rcl reads them for the r2r backend; this is the dds
//! backend's reading.

use std::net::{IpAddr, Ipv4Addr};

/// `SO_RCVBUF` asked for every DDS socket. A 1080p frame is 6 MB: the kernel must absorb bursts
/// while RustDDS's single event loop is busy, or whole frames are lost to one dropped fragment
/// (and their half-assembled buffers held for seconds). The kernel clamps it to
/// `net.core.rmem_max`, which ROS 2's DDS tuning guides raise for large messages.
pub const SOCKET_RECEIVE_BUFFER: usize = 64 << 20;

/// How far the node looks for other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryRange {
    /// Every node reachable by multicast (ROS 2's default; also `SYSTEM_DEFAULT`).
    Subnet,
    /// Only nodes on this machine: discovery and data over loopback only.
    Localhost,
    /// No other node at all, even on this machine.
    Off,
}

/// What the environment asks of the dds backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosEnv {
    pub domain: u16,
    pub range: DiscoveryRange,
    /// `ROS_STATIC_PEERS` that apply (none under `ROS_LOCALHOST_ONLY=1`).
    pub static_peers: Vec<String>,
    /// Notes for the log: deprecated or unsupported settings, said once at start.
    pub notes: Vec<String>,
}

impl RosEnv {
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The reading of `var` (a variable's value, `None` when unset), for tests.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let set = |k: &str| {
            var(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let domain = match set("ROS_DOMAIN_ID") {
            Some(v) => v
                .parse()
                .map_err(|_| format!("ROS_DOMAIN_ID={v:?} is not a domain number (0-232)"))?,
            None => 0,
        };
        let mut notes = Vec::new();
        let mut range = match set("ROS_AUTOMATIC_DISCOVERY_RANGE").as_deref() {
            None => DiscoveryRange::Subnet,
            Some(v) => match v.to_ascii_uppercase().as_str() {
                "SUBNET" | "SYSTEM_DEFAULT" => DiscoveryRange::Subnet,
                "LOCALHOST" => DiscoveryRange::Localhost,
                "OFF" => DiscoveryRange::Off,
                _ => {
                    return Err(format!(
                    "ROS_AUTOMATIC_DISCOVERY_RANGE={v:?} is not one of SUBNET, LOCALHOST, OFF, SYSTEM_DEFAULT"
                ))
                }
            },
        };
        let mut static_peers: Vec<String> = set("ROS_STATIC_PEERS")
            .map(|v| {
                v.split(';')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if set("ROS_LOCALHOST_ONLY").as_deref() == Some("1") {
            notes.push(
                "ROS_LOCALHOST_ONLY=1 is deprecated since Jazzy but still honoured: discovery is \
                 limited to this machine (use ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST instead)"
                    .into(),
            );
            range = DiscoveryRange::Localhost;
            if !static_peers.is_empty() {
                notes.push("ROS_LOCALHOST_ONLY=1: ROS_STATIC_PEERS is ignored".into());
                static_peers.clear();
            }
        }
        if !static_peers.is_empty() {
            notes.push(format!(
                "ROS_STATIC_PEERS={} cannot be honoured by the dds backend (RustDDS has no static \
                 peer list): {}; use the r2r backend to reach peers that multicast does not",
                static_peers.join(";"),
                match range {
                    DiscoveryRange::Subnet =>
                        "those nodes are found only if multicast reaches them",
                    DiscoveryRange::Localhost => "only nodes on this machine are found",
                    DiscoveryRange::Off => "no node is found",
                }
            ));
        }
        Ok(RosEnv {
            domain,
            range,
            static_peers,
            notes,
        })
    }

    /// The participant these settings ask for.
    pub fn participant(&self) -> rustdds::DomainParticipantBuilder {
        let b = rustdds::DomainParticipantBuilder::new(self.domain)
            .socket_receive_buffer_size(SOCKET_RECEIVE_BUFFER);
        match self.range {
            DiscoveryRange::Subnet => b,
            // Only the loopback interface is advertised and multicast on; same-host peers are
            // also reached at their well-known loopback ports.
            DiscoveryRange::Localhost => b.with_only_networks([IpAddr::V4(Ipv4Addr::LOCALHOST)]),
            // No interface advertised or multicast on, and no loopback peers: nobody finds us.
            DiscoveryRange::Off => b
                .with_only_networks(Vec::<IpAddr>::new())
                .same_host_loopback(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<RosEnv, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RosEnv::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    /// The combinations of ROS 2 Jazzy's "Improved Dynamic Discovery" page.
    #[test]
    fn the_environment_is_read_as_jazzy_documents_it() {
        let e = read(&[]).unwrap();
        assert_eq!((e.domain, e.range), (0, DiscoveryRange::Subnet));
        let e = read(&[
            ("ROS_DOMAIN_ID", "42"),
            ("ROS_AUTOMATIC_DISCOVERY_RANGE", "localhost"),
        ])
        .unwrap();
        assert_eq!((e.domain, e.range), (42, DiscoveryRange::Localhost));
        let e = read(&[("ROS_AUTOMATIC_DISCOVERY_RANGE", "SYSTEM_DEFAULT")]).unwrap();
        assert_eq!(e.range, DiscoveryRange::Subnet);
        assert_eq!(
            read(&[("ROS_AUTOMATIC_DISCOVERY_RANGE", "OFF")])
                .unwrap()
                .range,
            DiscoveryRange::Off
        );
        let e = read(&[
            ("ROS_LOCALHOST_ONLY", "1"),
            ("ROS_STATIC_PEERS", "robot2;robot3"),
        ])
        .unwrap();
        assert_eq!(e.range, DiscoveryRange::Localhost);
        assert!(
            e.static_peers.is_empty(),
            "ignored under ROS_LOCALHOST_ONLY=1"
        );
        let e = read(&[("ROS_LOCALHOST_ONLY", "0")]).unwrap();
        assert_eq!(e.range, DiscoveryRange::Subnet);
        let e = read(&[("ROS_STATIC_PEERS", " robot2 ; robot3;")]).unwrap();
        assert_eq!(e.static_peers, ["robot2", "robot3"]);
        assert!(
            e.notes.iter().any(|n| n.contains("cannot be honoured")),
            "{e:?}"
        );
        let err = read(&[("ROS_AUTOMATIC_DISCOVERY_RANGE", "LAN")]).unwrap_err();
        assert!(err.contains("SUBNET, LOCALHOST, OFF"), "{err}");
        assert!(read(&[("ROS_DOMAIN_ID", "x")]).is_err());
    }
}
