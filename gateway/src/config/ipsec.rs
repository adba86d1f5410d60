//! The `ipsec:` section: manually keyed SAs and the security policy database (RFC 4301), so the
//! ESP and AH data plane is usable and testable before IKE.
//!
//! ```yaml
//! ipsec:
//!   sas:
//!     - name: to-site-b            # unique
//!       direction: out             # out | in
//!       spi: 0x00001001            # 256..2^32-1, decimal or 0x hex
//!       protocol: esp              # esp (default) | ah (RFC 4302: integrity only, no encryption)
//!       mode: tunnel               # tunnel (default) | transport
//!       local: 203.0.113.1         # one of this gateway's port addresses
//!       remote: 203.0.113.2        # the peer
//!       algorithm: aes128gcm16     # ESP: aes128gcm16 aes256gcm16 aes128-sha1 aes256-sha1
//!                                  #      aes128-sha256 aes256-sha256 null-sha256; AH: sha256
//!       enc_key: "00112233..."     # hex; ESP only; for GCM the AES key followed by the 4-byte salt
//!       auth_key: "..."            # hex; CBC/NULL ESP algorithms and AH
//!       esn: false
//!       natt: { local_port: 4500, remote_port: 4500 }   # optional, ESP only: ESP in UDP (RFC 3948)
//!       replay_window: 1024        # inbound only; 64..=65536
//!       df: copy                   # copy | set | clear (outer IPv4 DF)
//!   policies:                      # in order; first match wins
//!     - { direction: out, src: 192.0.2.0/24, dst: 198.51.100.0/24, action: protect, sa: to-site-b }
//!     - { direction: in,  src: 198.51.100.0/24, dst: 192.0.2.0/24, action: protect, sa: from-site-b }
//!     - { direction: out, src: 0.0.0.0/0, dst: 0.0.0.0/0, protocol: udp, dst_ports: "5000-5100", action: discard }
//! ```
//!
//! Keys are [`Secret`]s: parsed from hex, zeroized on drop, shown as `<redacted>` by Debug and
//! Serialize, and never quoted in an error message.

use super::types::IpPrefix;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;
use zeroize::Zeroize;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "an `ipsec` mapping with `sas` and `policies`")]
pub struct IpsecConfig {
    pub sas: Vec<SaConfig>,
    pub policies: Vec<PolicyConfig>,
    /// An IPv4 packet without DF that is too big for its tunnel.
    pub too_big_df_clear: TooBigAction,
    /// Lab only: accept AES-GCM with static keys, which RFC 4106 forbids (every restart
    /// starts the sequence number, the GCM nonce, at 1 again under the same key).
    pub allow_static_gcm: bool,
}

/// What to do with an IPv4 packet without DF that would exceed the egress MTU once
/// encapsulated (a packet with DF, and any IPv6 packet, always gets ICMP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TooBigAction {
    /// Fragment the inner packet before encryption (RFC 4459 §5.1): each fragment is
    /// encapsulated separately and the far host reassembles.
    #[default]
    Fragment,
    /// Drop it (counted as `mtu_exceeded`).
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// The IPsec protocol of an SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    #[default]
    Esp,
    Ah,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    #[default]
    Tunnel,
    Transport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DfName {
    #[default]
    Copy,
    Set,
    Clear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Protect,
    Bypass,
    Discard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NattConfig {
    #[serde(default = "natt_port")]
    pub local_port: u16,
    #[serde(default = "natt_port")]
    pub remote_port: u16,
}

fn natt_port() -> u16 {
    4500
}

fn default_window() -> u32 {
    1024
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub seconds: Option<u64>,
    pub bytes: Option<u64>,
    pub packets: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LifetimeConfig {
    pub soft: LimitsConfig,
    pub hard: LimitsConfig,
}

/// One direction of a manually keyed SA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an SA mapping with name, direction, spi, local, remote, algorithm and keys"
)]
pub struct SaConfig {
    pub name: String,
    pub direction: Direction,
    #[serde(deserialize_with = "de_spi")]
    pub spi: u32,
    #[serde(default)]
    pub protocol: ProtocolName,
    #[serde(default)]
    pub mode: ModeName,
    pub local: IpAddr,
    pub remote: IpAddr,
    pub algorithm: String,
    /// Required by ESP (checked in validation, where its absence can be explained); AH has none.
    #[serde(default)]
    pub enc_key: Secret,
    #[serde(default)]
    pub auth_key: Secret,
    #[serde(default)]
    pub esn: bool,
    #[serde(default)]
    pub natt: Option<NattConfig>,
    #[serde(default = "default_window")]
    pub replay_window: u32,
    #[serde(default)]
    pub df: DfName,
    #[serde(default)]
    pub lifetime: LifetimeConfig,
}

/// A protocol selector: `any`, `icmp`, `tcp`, `udp`, `icmpv6`, or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProtocolSel(pub Option<u8>);

/// A port range selector: `any`, `80`, or `1000-2000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange { lo: 0, hi: u16::MAX }
    }
}

impl PortRange {
    pub fn is_any(&self) -> bool {
        *self == PortRange::default()
    }
    pub fn contains(&self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a policy mapping with direction, src, dst, action")]
pub struct PolicyConfig {
    #[serde(default)]
    pub name: Option<String>,
    pub direction: Direction,
    pub src: IpPrefix,
    pub dst: IpPrefix,
    #[serde(default)]
    pub protocol: ProtocolSel,
    #[serde(default)]
    pub src_ports: PortRange,
    #[serde(default)]
    pub dst_ports: PortRange,
    pub action: Action,
    #[serde(default)]
    pub sa: Option<String>,
}

/// Key material: hex in the file, bytes in memory, zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut s = String::deserialize(d)?;
        let hex: String = s.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
        s.zeroize();
        let hex = hex.strip_prefix("0x").unwrap_or(&hex).to_string();
        let parsed = parse_hex(&hex);
        let mut hex = hex;
        hex.zeroize();
        parsed.map(Secret).ok_or_else(|| {
            serde::de::Error::custom(
                "a key (enc_key/auth_key) is not an even-length hex string (value not shown)",
            )
        })
    }
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn de_spi<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(u64),
        S(String),
    }
    let v = match Raw::deserialize(d)? {
        Raw::N(n) => n,
        Raw::S(s) => {
            let t = s.trim();
            let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(h) => u64::from_str_radix(h, 16),
                None => t.parse(),
            };
            parsed.map_err(|_| serde::de::Error::custom(format!("SPI `{s}` is not a number")))?
        }
    };
    u32::try_from(v).map_err(|_| serde::de::Error::custom(format!("SPI {v} does not fit in 32 bits")))
}

impl Serialize for ProtocolSel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_str("any"),
            Some(n) => s.serialize_u8(n),
        }
    }
}

impl<'de> Deserialize<'de> for ProtocolSel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u8),
            S(String),
        }
        Ok(ProtocolSel(match Raw::deserialize(d)? {
            Raw::N(n) => Some(n),
            Raw::S(s) => match s.as_str() {
                "any" => None,
                "icmp" => Some(1),
                "tcp" => Some(6),
                "udp" => Some(17),
                "icmpv6" => Some(58),
                "esp" => Some(50),
                "ah" => Some(51),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "unknown protocol `{other}`: use any, icmp, tcp, udp, icmpv6, esp, ah or a number"
                    )))
                }
            },
        }))
    }
}

impl Serialize for PortRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_any() {
            s.serialize_str("any")
        } else if self.lo == self.hi {
            s.serialize_str(&self.lo.to_string())
        } else {
            s.serialize_str(&format!("{}-{}", self.lo, self.hi))
        }
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u16),
            S(String),
        }
        let bad =
            |s: &str| serde::de::Error::custom(format!("port range `{s}`: use any, a port, or LOW-HIGH"));
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(PortRange { lo: n, hi: n }),
            Raw::S(s) if s == "any" => Ok(PortRange::default()),
            Raw::S(s) => {
                let (lo, hi) = match s.split_once('-') {
                    Some((a, b)) => {
                        (a.trim().parse().map_err(|_| bad(&s))?, b.trim().parse().map_err(|_| bad(&s))?)
                    }
                    None => {
                        let p = s.trim().parse().map_err(|_| bad(&s))?;
                        (p, p)
                    }
                };
                if lo > hi {
                    return Err(serde::de::Error::custom(format!("port range `{s}` is empty (low > high)")));
                }
                Ok(PortRange { lo, hi })
            }
        }
    }
}
