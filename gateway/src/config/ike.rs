//! The `ike:` section: IKEv2 peers whose Child SAs the gateway negotiates itself (PSK
//! authentication), beside or instead of the manually keyed SAs of `ipsec:`.
//!
//! ```yaml
//! ike:
//!   peers:
//!     - name: site-b                          # unique, 1-63 characters
//!       local: 203.0.113.1                    # one of this gateway's port addresses (v4 or v6)
//!       remote: 203.0.113.2                   # the peer's IKE address (UDP 500, then 4500)
//!       local_id: gw-a@example.org            # an IP address, user@fqdn, or fqdn ("@fqdn" forces fqdn)
//!       remote_id: gw-b@example.org           # optional: any ID that proves the PSK when absent
//!       psk: "correct horse battery staple"   # at least 8 bytes; "0x..." is read as hex
//!       ike_proposals: [aes128gcm16-prfsha256-x25519]   # strongSwan syntax
//!       ike_rekey_seconds: 14400              # 0 = never, else at least 5
//!       dpd: { interval: 30, action: clear }  # clear | restart | hold; interval 0 = off
//!       retransmit: { timeout_ms: 2000, tries: 5 }
//!       allow_weak_dh: false                  # true lets proposals name modp1024/modp1536
//!                                             #   (groups 2 and 5; warned about at start)
//!       allow_3des: false                     # IKEv1: true lets ike_proposals name 3des
//!                                             #   (64-bit blocks; warned about at start)
//!       fragment_size: 1280                   # IKE fragmentation (RFC 7383, when the peer
//!                                             #   supports it too): protected messages whose
//!                                             #   IP datagram would be larger go out as SKF
//!                                             #   fragments of at most this size; 200..=9216
//!       children:
//!         - name: net
//!           local_ts: [192.0.2.0/24]          # our side of the tunnel
//!           remote_ts: [198.51.100.0/24]
//!           esp_proposals: [aes128gcm16]
//!           rekey_seconds: 3600               # 0 = never, else at least 5
//!           rekey_bytes: 0                    # soft traffic limits per direction: rekey when
//!           rekey_packets: 0                  #   the data plane reaches one (0 = none)
//!           life_bytes: 0                     # hard limits: the Child SA is deleted (0 = none,
//!           life_packets: 0                   #   else above the soft limit)
//!           start_action: start               # start (with the gateway) | trap (when traffic
//!                                             #   for the child arrives) | none (wait for the peer)
//! ```
//!
//! An IKEv1 peer (RFC 2409) says `version: 1` and reads the same fields this way:
//! `ike_proposals` are the phase 1 (main mode) proposals, AES-CBC only
//! (`aes128-sha256-modp2048`); `ike_rekey_seconds` is the phase 1 lifetime offered; a child is
//! one quick mode, so one local and one remote prefix each (write one child per policy pair);
//! its `esp_proposals` are the phase 2 proposals and `rekey_seconds` its soft lifetime. Only
//! IKEv1 peers take:
//!
//! ```yaml
//!       version: 1
//!       mode: main                            # main (default) | aggressive (warned about: it
//!                                             # exposes a PSK-keyed hash to offline cracking)
//!       commit_bit: false                     # true: our quick modes ask for the commit bit
//!                                             # (a 4th message, CONNECTED, before we send)
//!       children:
//!         - name: net
//!           pfs_group: modp2048               # PFS for every esp_proposal naming no group
//!           ah_proposals: [sha256]            # AH (HMAC-SHA-256-128) instead of ESP; not
//!                                             # across a NAT
//! ```
//!
//! The PSK is a [`Psk`]: zeroized on drop, `<redacted>` in Debug and Serialize, never quoted in
//! an error. Everything is checked by `validate` (proposal strings included), then turned into
//! [`ike::sa::PeerConfig`] by [`IkePeerConfig::to_peer_config`].

use super::types::IpPrefix;
use ike::codec::id::Identification;
use ike::codec::ts::TrafficSelector;
use ike::sa::{
    ChildConfig, DpdAction, EspProposal, IkeProposal, PeerConfig, RetransmitConfig, StartAction,
    TrafficLimits,
};
use ike::v1::V1Config;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use zeroize::Zeroize;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "an `ike` mapping with `peers`")]
pub struct IkeConfig {
    pub peers: Vec<IkePeerConfig>,
}

impl IkeConfig {
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an IKE peer mapping with name, local, remote, local_id, psk and children"
)]
pub struct IkePeerConfig {
    pub name: String,
    /// 1 (IKEv1, RFC 2409) or 2 (IKEv2, the default).
    #[serde(default = "default_version")]
    pub version: u8,
    /// IKEv1 only: main (default) or aggressive mode.
    #[serde(default)]
    pub mode: Option<V1Mode>,
    /// IKEv1 only: set the commit bit in our quick modes (the peer confirms with CONNECTED
    /// before we install); a peer's commit bit is honoured either way.
    #[serde(default)]
    pub commit_bit: Option<bool>,
    pub local: IpAddr,
    pub remote: IpAddr,
    pub local_id: String,
    #[serde(default)]
    pub remote_id: Option<String>,
    pub psk: Psk,
    #[serde(default = "default_ike_proposals")]
    pub ike_proposals: Vec<String>,
    #[serde(default = "default_ike_rekey")]
    pub ike_rekey_seconds: u64,
    #[serde(default)]
    pub dpd: DpdConfig,
    #[serde(default)]
    pub retransmit: RetransmitSettings,
    /// Accept MODP 1024 / 1536 (groups 2 and 5) in this peer's proposals (both IKE versions).
    #[serde(default)]
    pub allow_weak_dh: bool,
    /// IKEv1 only: let `ike_proposals` name 3des (phase 1 encryption with 64-bit blocks),
    /// for peers that offer nothing better. Warned about at start.
    #[serde(default)]
    pub allow_3des: bool,
    /// IKEv2 only: the largest IKE datagram (whole IP packet) sent once fragmentation is
    /// agreed; default 1280.
    #[serde(default)]
    pub fragment_size: Option<usize>,
    pub children: Vec<IkeChildConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a child mapping with name, local_ts and remote_ts")]
pub struct IkeChildConfig {
    pub name: String,
    pub local_ts: Vec<IpPrefix>,
    pub remote_ts: Vec<IpPrefix>,
    #[serde(default = "default_esp_proposals")]
    pub esp_proposals: Vec<String>,
    /// IKEv1 only: negotiate AH instead of ESP with these proposals (`sha256`, with a DH
    /// group for PFS: `sha256-modp2048`); `esp_proposals` is then not used.
    #[serde(default)]
    pub ah_proposals: Vec<String>,
    #[serde(default = "default_child_rekey")]
    pub rekey_seconds: u64,
    /// Soft traffic lifetimes (each direction of the Child SA on its own): the data plane
    /// reports reaching one and the driver rekeys. 0 = none.
    #[serde(default)]
    pub rekey_bytes: u64,
    #[serde(default)]
    pub rekey_packets: u64,
    /// Hard traffic lifetimes: the data plane stops using the SA and the driver deletes it.
    #[serde(default)]
    pub life_bytes: u64,
    #[serde(default)]
    pub life_packets: u64,
    #[serde(default)]
    pub start_action: StartActionName,
    /// A DH group (`modp2048`, `ecp256`, `x25519`, …) for perfect forward secrecy, added to
    /// every ESP proposal that names none.
    #[serde(default)]
    pub pfs_group: Option<String>,
}

/// IKEv1 phase 1 exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum V1Mode {
    #[default]
    Main,
    Aggressive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DpdConfig {
    /// Seconds of silence before a liveness check; 0 switches DPD off.
    pub interval: u64,
    pub action: DpdActionName,
}

impl Default for DpdConfig {
    fn default() -> Self {
        DpdConfig { interval: 30, action: DpdActionName::Clear }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetransmitSettings {
    pub timeout_ms: u64,
    pub tries: u32,
}

impl Default for RetransmitSettings {
    fn default() -> Self {
        RetransmitSettings { timeout_ms: 2000, tries: 5 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DpdActionName {
    #[default]
    Clear,
    Restart,
    Hold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartActionName {
    #[default]
    Start,
    /// An outbound trap policy from the start; the first packet it catches starts the IKE SA
    /// (or a CREATE_CHILD_SA) for the child.
    Trap,
    None,
}

fn default_version() -> u8 {
    2
}
fn default_ike_proposals() -> Vec<String> {
    vec!["aes128gcm16-prfsha256-x25519".to_string()]
}
pub(super) fn default_esp_proposals() -> Vec<String> {
    vec!["aes128gcm16".to_string()]
}
fn default_ike_rekey() -> u64 {
    4 * 3600
}
fn default_child_rekey() -> u64 {
    3600
}

/// A pre-shared key: text in the file (or `0x` hex), bytes in memory, zeroized on drop.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Psk(Vec<u8>);

impl Psk {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Psk {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

impl Serialize for Psk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Psk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut s = String::deserialize(d)?;
        let bytes = match s.strip_prefix("0x") {
            Some(h) if h.len() % 2 == 0 => {
                (0..h.len()).step_by(2).map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok()).collect()
            }
            Some(_) => None,
            None => Some(s.as_bytes().to_vec()),
        };
        s.zeroize();
        bytes.map(Psk).ok_or_else(|| {
            serde::de::Error::custom("the psk starts with 0x but is not even-length hex (value not shown)")
        })
    }
}

/// An IKE identity the way strongSwan reads one: an IP address; `@fqdn` or `@@user@fqdn`
/// forced; otherwise `user@fqdn` when it holds an `@`, else an FQDN.
pub fn parse_identity(s: &str) -> Result<Identification, String> {
    if s.is_empty() {
        return Err("an empty identity".into());
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(match ip {
            IpAddr::V4(a) => Identification::Ipv4(a),
            IpAddr::V6(a) => Identification::Ipv6(a),
        });
    }
    if let Some(rest) = s.strip_prefix("@@") {
        return Ok(Identification::Rfc822(rest.to_string()));
    }
    if let Some(rest) = s.strip_prefix('@') {
        return Ok(Identification::Fqdn(rest.to_string()));
    }
    if s.contains('@') {
        Ok(Identification::Rfc822(s.to_string()))
    } else {
        Ok(Identification::Fqdn(s.to_string()))
    }
}

/// A prefix as an IKE traffic selector (any protocol, any port).
pub fn prefix_to_ts(p: &IpPrefix) -> TrafficSelector {
    match p.addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = if p.len == 0 { 0 } else { u32::MAX << (32 - p.len as u32) };
            TrafficSelector::Ipv4 {
                protocol: 0,
                ports: (0, 65535),
                start: (bits & mask).into(),
                end: (bits | !mask).into(),
            }
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = if p.len == 0 { 0 } else { u128::MAX << (128 - p.len as u32) };
            TrafficSelector::Ipv6 {
                protocol: 0,
                ports: (0, 65535),
                start: (bits & mask).into(),
                end: (bits | !mask).into(),
            }
        }
    }
}

const IKE_PORT: u16 = 500;

fn secs(s: u64) -> Option<Duration> {
    (s != 0).then(|| Duration::from_secs(s))
}

impl IkePeerConfig {
    /// The state machine's configuration. Only called on a validated section: every parse
    /// here already succeeded once in `validate`.
    pub fn to_peer_config(&self) -> Result<PeerConfig, String> {
        let local_id = parse_identity(&self.local_id)?;
        let remote_id = self.remote_id.as_deref().map(parse_identity).transpose()?;
        let mut pc = PeerConfig::new(
            &self.name,
            SocketAddr::new(self.local, IKE_PORT),
            SocketAddr::new(self.remote, IKE_PORT),
            local_id,
            remote_id,
            self.psk.expose(),
        );
        pc.ike_proposals =
            self.ike_proposals.iter().map(|p| IkeProposal::parse(p)).collect::<Result<_, _>>()?;
        pc.ike_rekey_time = secs(self.ike_rekey_seconds);
        pc.dpd_interval = secs(self.dpd.interval);
        pc.dpd_action = match self.dpd.action {
            DpdActionName::Clear => DpdAction::Clear,
            DpdActionName::Restart => DpdAction::Restart,
            DpdActionName::Hold => DpdAction::Hold,
        };
        pc.retransmit = RetransmitConfig {
            timeout: Duration::from_millis(self.retransmit.timeout_ms),
            tries: self.retransmit.tries,
        };
        pc.allow_weak_dh = self.allow_weak_dh;
        pc.allow_3des = self.allow_3des;
        pc.fragment_size = self.fragment_size.unwrap_or(ike::sa::DEFAULT_FRAGMENT_SIZE);
        for c in &self.children {
            let mut cc = ChildConfig::new(
                &c.name,
                c.local_ts.iter().map(prefix_to_ts).collect(),
                c.remote_ts.iter().map(prefix_to_ts).collect(),
            );
            if c.ah_proposals.is_empty() {
                cc.esp_proposals =
                    c.esp_proposals.iter().map(|p| EspProposal::parse(p)).collect::<Result<_, _>>()?;
            } else {
                cc.protocol = ike::sa::ChildProtocol::Ah;
                cc.esp_proposals =
                    c.ah_proposals.iter().map(|p| EspProposal::parse_ah(p)).collect::<Result<_, _>>()?;
            }
            if let Some(g) = c.pfs_group.as_deref() {
                let g = pfs_group(g)?;
                for p in cc.esp_proposals.iter_mut().filter(|p| p.dh.is_empty()) {
                    p.dh.push(g);
                }
            }
            cc.rekey_time = secs(c.rekey_seconds);
            let some = |n: u64| (n != 0).then_some(n);
            cc.soft_traffic = TrafficLimits { bytes: some(c.rekey_bytes), packets: some(c.rekey_packets) };
            cc.hard_traffic = TrafficLimits { bytes: some(c.life_bytes), packets: some(c.life_packets) };
            cc.start_action = match c.start_action {
                StartActionName::Start => StartAction::Start,
                StartActionName::Trap => StartAction::Trap,
                StartActionName::None => StartAction::None,
            };
            pc.children.push(cc);
        }
        pc.validate()?;
        Ok(pc)
    }

    /// The IKEv1 state machine's configuration (for a `version: 1` peer).
    pub fn to_v1_config(&self) -> Result<V1Config, String> {
        let mut v1 = V1Config::new(self.to_peer_config()?);
        v1.aggressive = self.mode == Some(V1Mode::Aggressive);
        v1.commit_bit = self.commit_bit == Some(true);
        v1.validate()?;
        Ok(v1)
    }

    pub fn is_v1(&self) -> bool {
        self.version == 1
    }

    /// Whether the gateway starts this peer's IKE SA itself (some child says `start`).
    pub fn initiates(&self) -> bool {
        self.children.iter().any(|c| c.start_action == StartActionName::Start)
    }
}

/// A PFS group name, read by the same parser as the groups inside proposals.
pub fn pfs_group(name: &str) -> Result<ike::codec::DhGroup, String> {
    EspProposal::parse(&format!("aes128gcm16-{name}"))
        .ok()
        .and_then(|p| p.dh.first().copied())
        .filter(|_| !name.contains('-'))
        .ok_or_else(|| format!("unknown DH group `{name}`; e.g. modp2048, modp3072, ecp256, x25519"))
}
