//! The configuration data model.
//!
//! [`Config`] is the validated result handed to the rest of the gateway.
//! [`RawConfig`] is what the YAML deserializes into before defaults that
//! depend on other fields are applied and before validation.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use super::ike::IkeConfig;
use super::ipsec::IpsecConfig;
use super::types::{de_ip, de_opt_ip, IpPrefix, MacAddr, PortQueue};

/// The validated gateway configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub eal: EalConfig,
    pub ports: Vec<PortConfig>,
    /// Virtual tunnel interfaces: route-based VPNs over an IKE peer's any-to-any Child SA.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vtis: Vec<VtiConfig>,
    pub routes: Vec<RouteConfig>,
    /// Always filled in: when the file has no `workers`, one worker on
    /// `main_lcore + 1` polls queue 0 of every port.
    pub workers: Vec<WorkerConfig>,
    pub control: ControlConfig,
    /// Prometheus-style metrics listener; `None` means disabled.
    #[serde(serialize_with = "serialize_metrics")]
    pub metrics: Option<SocketAddr>,
    pub dataplane: DataplaneConfig,
    pub log: LogConfig,
    /// Manually keyed SAs and the security policy database.
    pub ipsec: IpsecConfig,
    /// IKEv2 peers whose Child SAs the gateway negotiates.
    #[serde(skip_serializing_if = "IkeConfig::is_empty")]
    pub ike: IkeConfig,
}

/// DPDK Environment Abstraction Layer settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "an `eal` mapping")]
pub struct EalConfig {
    /// lcore of the control thread.
    pub main_lcore: u32,
    /// The CPU the control thread's lcore runs on; by default the CPU numbered like
    /// `main_lcore`. Another CPU lets it share a worker's (it backs off when idle): on a
    /// two-core machine, `main_lcore: 2, main_cpu: 0` with workers on lcores 0 and 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_cpu: Option<u32>,
    pub memory_mb: u32,
    pub no_huge: bool,
    pub file_prefix: String,
    /// Additional EAL arguments, passed through verbatim.
    pub extra_args: Vec<String>,
}

impl Default for EalConfig {
    fn default() -> Self {
        EalConfig {
            main_lcore: 0,
            main_cpu: None,
            memory_mb: 256,
            no_huge: true,
            file_prefix: "espgw".to_string(),
            extra_args: Vec::new(),
        }
    }
}

/// One DPDK port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a port mapping with at least `name`, `device` and `addresses`")]
pub struct PortConfig {
    pub name: String,
    /// A vdev spec (`net_af_packet0,iface=gw-lan`) or a PCI address
    /// (`0000:03:00.0`).
    pub device: String,
    #[serde(default = "default_mtu")]
    pub mtu: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Interface addresses (host address plus prefix length).
    pub addresses: Vec<IpPrefix>,
    #[serde(default)]
    pub neighbours: Vec<NeighbourConfig>,
    #[serde(default = "default_rx_queues")]
    pub rx_queues: u16,
}

fn default_mtu() -> u16 {
    1500
}

fn default_rx_queues() -> u16 {
    1
}

/// A static ARP/ND entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a neighbour mapping with `ip` and `mac`")]
pub struct NeighbourConfig {
    #[serde(deserialize_with = "de_ip")]
    pub ip: IpAddr,
    pub mac: MacAddr,
}

/// A static route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a route mapping with `prefix` and `via` and/or `port`, or `vti`")]
pub struct RouteConfig {
    /// Destination network (host bits zero).
    pub prefix: IpPrefix,
    #[serde(default, deserialize_with = "de_opt_ip", skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Route into this VTI (instead of `via`/`port`): encrypted with its current Child SA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vti: Option<String>,
    /// With `vti`, when several routes to the same prefix name different VTIs: the VTIs of
    /// the lowest metric that are up share the flows (ECMP); a higher metric takes over while
    /// every lower one is down (tracking). Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
}

/// A virtual tunnel interface: the next hop of routes whose packets the Child SA of `peer`
/// carries. The peer's children select 0.0.0.0/0 and/or ::/0 on both sides, so the SPD never
/// sees them; routing decides what enters the tunnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a VTI mapping with `name`, `address` and `peer`")]
pub struct VtiConfig {
    pub name: String,
    /// The gateway's inside address with the link prefix (`169.254.10.1/30`): local to the
    /// gateway, and the rest of the prefix is reached through the VTI.
    pub address: IpPrefix,
    /// The `ike.peers[].name` whose Child SA the VTI uses.
    pub peer: String,
    /// The exception path for a routing daemon: a Linux TUN interface of this name, created
    /// by espgw with the VTI's inside address (IPv4). Packets for the inside address that
    /// come through the VTI go to the host, and what the host sends out of the interface is
    /// routed (into the VTI) and encrypted. BIRD or FRR peers with BGP over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_interface: Option<String>,
    /// Install the kernel's routes out of `host_interface` (what the routing daemon learned
    /// and exported to the kernel) as routes into this VTI, read once a second.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub import_routes: bool,
}

/// A dataplane worker thread pinned to one lcore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a worker mapping with `lcore` and `rx`")]
pub struct WorkerConfig {
    pub lcore: u32,
    /// Receive queues this worker polls.
    pub rx: Vec<PortQueue>,
}

/// Control socket settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a `control` mapping")]
pub struct ControlConfig {
    pub socket: PathBuf,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig { socket: PathBuf::from("/run/espgw/espgw.sock") }
    }
}

/// Packet-processing loop tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a `dataplane` mapping")]
pub struct DataplaneConfig {
    /// Packets per rx/tx burst.
    pub burst: u16,
    /// Size of the mbuf pool.
    pub mbufs: u32,
    /// Upper bound of the idle back-off sleep; 0 = pure busy polling.
    pub idle_sleep_max_us: u32,
}

impl Default for DataplaneConfig {
    fn default() -> Self {
        DataplaneConfig { burst: 32, mbufs: 8191, idle_sleep_max_us: 500 }
    }
}

/// Logging: a level and per-subsystem overrides in `tracing` filter syntax, e.g.
/// `info,gateway::ipsec=debug,gateway::control=warn`. `ESPGW_LOG` in the environment overrides it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a `log` mapping")]
pub struct LogConfig {
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".to_string() }
    }
}

/// The document as written, before dependent defaults and validation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a configuration mapping")]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub eal: Option<EalConfig>,
    pub ports: Vec<PortConfig>,
    #[serde(default)]
    pub vtis: Option<Vec<VtiConfig>>,
    #[serde(default)]
    pub routes: Option<Vec<RouteConfig>>,
    #[serde(default)]
    pub workers: Option<Vec<WorkerConfig>>,
    #[serde(default)]
    pub control: Option<ControlConfig>,
    #[serde(default)]
    pub metrics: Option<RawMetrics>,
    #[serde(default)]
    pub dataplane: Option<DataplaneConfig>,
    #[serde(default)]
    pub ipsec: Option<IpsecConfig>,
    #[serde(default)]
    pub ike: Option<IkeConfig>,
    #[serde(default)]
    pub log: Option<LogConfig>,
}

/// `metrics:` as written; the address is parsed during validation so that
/// `""` can mean "disabled".
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a `metrics` mapping")]
pub(crate) struct RawMetrics {
    pub listen: Option<String>,
}

/// Writes `metrics` in the same shape it is read (`metrics: {listen: ...}`)
/// so a serialized `Config` parses back to an equal value.
fn serialize_metrics<S: Serializer>(v: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
    let mut st = s.serialize_struct("metrics", 1)?;
    match v {
        Some(addr) => st.serialize_field("listen", &addr.to_string())?,
        None => st.serialize_field("listen", "")?,
    }
    st.end()
}
