//! Peer (IKE SA) and tunnel (Child SA) configuration.
//!
//! Proposals can be written the way strongSwan admins write them, e.g.
//! `IkeProposal::parse("aes128gcm16-prfsha256-x25519")` or
//! `EspProposal::parse("aes256-sha256-esn-modp2048")` (a DH group in an ESP proposal is PFS for
//! CREATE_CHILD_SA; the first Child SA, made inside IKE_AUTH, never has a key exchange).
//! `modp1024` and `modp1536` parse, but [`PeerConfig::validate`] refuses them unless the peer
//! sets [`PeerConfig::allow_weak_dh`].

use crate::codec::id::Identification;
use crate::codec::ts::TrafficSelector;
use crate::codec::DhGroup;
use crate::crypto::encr::EncrAlg;
use crate::crypto::integ::IntegAlg;
use crate::crypto::prf::PrfAlg;
use crate::crypto::Secret;
use std::net::SocketAddr;
use std::time::Duration;

/// What to do when the peer stops answering (RFC 7296 §2.4 liveness check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpdAction {
    /// Tear everything down.
    Clear,
    /// Tear down and start a fresh IKE SA with the peer at once.
    Restart,
    /// Tear down; the driver keeps trap policies so traffic brings the tunnel back.
    Hold,
}

/// When a Child SA is brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAction {
    /// With the IKE SA (the first such child rides in IKE_AUTH).
    Start,
    /// On demand: the driver installs a trap and calls [`super::IkeSa::initiate_child`].
    Trap,
    /// Only when asked.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tunnel,
    /// Negotiated with USE_TRANSPORT_MODE (RFC 7296 §1.3.1).
    Transport,
}

/// One IKE proposal: every listed algorithm is acceptable (RFC 7296 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkeProposal {
    pub encr: Vec<EncrAlg>,
    pub prf: Vec<PrfAlg>,
    /// Empty with AEAD ciphers.
    pub integ: Vec<IntegAlg>,
    pub dh: Vec<DhGroup>,
}

/// One ESP proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspProposal {
    pub encr: Vec<EncrAlg>,
    /// Empty with AEAD ciphers.
    pub integ: Vec<IntegAlg>,
    /// Extended sequence numbers offered, in order of preference (`false` = 32-bit).
    pub esn: Vec<bool>,
    /// PFS groups for CREATE_CHILD_SA; empty = no PFS.
    pub dh: Vec<DhGroup>,
}

fn encr_token(t: &str) -> Option<EncrAlg> {
    Some(match t {
        "aes128" => EncrAlg::AesCbc128,
        "aes256" => EncrAlg::AesCbc256,
        "aes128gcm16" | "aes128gcm" => EncrAlg::AesGcm16_128,
        "aes256gcm16" | "aes256gcm" => EncrAlg::AesGcm16_256,
        "3des" => EncrAlg::TripleDesCbc,
        _ => return None,
    })
}

fn integ_token(t: &str) -> Option<IntegAlg> {
    Some(match t {
        "sha1" => IntegAlg::HmacSha1_96,
        "sha256" => IntegAlg::HmacSha256_128,
        "sha384" => IntegAlg::HmacSha384_192,
        "sha512" => IntegAlg::HmacSha512_256,
        _ => return None,
    })
}

fn prf_token(t: &str) -> Option<PrfAlg> {
    Some(match t {
        "prfsha1" => PrfAlg::HmacSha1,
        "prfsha256" => PrfAlg::HmacSha256,
        "prfsha384" => PrfAlg::HmacSha384,
        "prfsha512" => PrfAlg::HmacSha512,
        _ => return None,
    })
}

fn dh_token(t: &str) -> Option<DhGroup> {
    Some(match t {
        "modp1024" => DhGroup::MODP_1024,
        "modp1536" => DhGroup::MODP_1536,
        "modp2048" => DhGroup::MODP_2048,
        "modp3072" => DhGroup::MODP_3072,
        "modp4096" => DhGroup::MODP_4096,
        "ecp256" => DhGroup::ECP_256,
        "ecp384" => DhGroup::ECP_384,
        "ecp521" => DhGroup::ECP_521,
        "x25519" | "curve25519" => DhGroup::CURVE25519,
        _ => return None,
    })
}

fn integ_to_prf(i: IntegAlg) -> PrfAlg {
    match i {
        IntegAlg::HmacSha1_96 => PrfAlg::HmacSha1,
        IntegAlg::HmacSha256_128 => PrfAlg::HmacSha256,
        IntegAlg::HmacSha384_192 => PrfAlg::HmacSha384,
        IntegAlg::HmacSha512_256 => PrfAlg::HmacSha512,
    }
}

fn check_aead_mix(encr: &[EncrAlg], integ: &[IntegAlg], s: &str) -> Result<(), String> {
    if encr.is_empty() {
        return Err(format!("proposal {s:?}: no encryption algorithm"));
    }
    let aead = encr.iter().filter(|e| e.is_aead()).count();
    if aead != 0 && aead != encr.len() {
        return Err(format!("proposal {s:?}: AEAD and non-AEAD ciphers cannot share a proposal"));
    }
    if aead == 0 && integ.is_empty() {
        return Err(format!("proposal {s:?}: a CBC cipher needs an integrity algorithm"));
    }
    if aead != 0 && !integ.is_empty() {
        return Err(format!("proposal {s:?}: AES-GCM takes no integrity algorithm"));
    }
    Ok(())
}

impl IkeProposal {
    /// strongSwan-style: `aes128gcm16-prfsha256-x25519`, `aes256-sha256-modp2048` (an integrity
    /// algorithm also implies the matching PRF when none is named).
    pub fn parse(s: &str) -> Result<IkeProposal, String> {
        let mut p = IkeProposal { encr: vec![], prf: vec![], integ: vec![], dh: vec![] };
        for t in s.split('-') {
            if let Some(e) = encr_token(t) {
                p.encr.push(e);
            } else if let Some(i) = integ_token(t) {
                p.integ.push(i);
            } else if let Some(f) = prf_token(t) {
                p.prf.push(f);
            } else if let Some(g) = dh_token(t) {
                p.dh.push(g);
            } else {
                return Err(format!("IKE proposal {s:?}: unknown algorithm {t:?}"));
            }
        }
        if p.prf.is_empty() {
            p.prf = p.integ.iter().map(|&i| integ_to_prf(i)).collect();
        }
        check_aead_mix(&p.encr, &p.integ, s)?;
        if p.prf.is_empty() {
            return Err(format!("IKE proposal {s:?}: no PRF"));
        }
        if p.dh.is_empty() {
            return Err(format!("IKE proposal {s:?}: no DH group"));
        }
        Ok(p)
    }
}

impl EspProposal {
    /// strongSwan-style: `aes128gcm16`, `aes256-sha256-esn`, `aes128-sha1-noesn-ecp256`.
    pub fn parse(s: &str) -> Result<EspProposal, String> {
        let mut p = EspProposal { encr: vec![], integ: vec![], esn: vec![], dh: vec![] };
        for t in s.split('-') {
            if let Some(e) = encr_token(t) {
                if e.is_weak() {
                    return Err(format!("ESP proposal {s:?}: {t} is not offered for ESP (64-bit blocks)"));
                }
                p.encr.push(e);
            } else if let Some(i) = integ_token(t) {
                if !matches!(i, IntegAlg::HmacSha1_96 | IntegAlg::HmacSha256_128) {
                    return Err(format!("ESP proposal {s:?}: {t} is not offered for ESP"));
                }
                p.integ.push(i);
            } else if t == "esn" {
                p.esn.push(true);
            } else if t == "noesn" {
                p.esn.push(false);
            } else if let Some(g) = dh_token(t) {
                p.dh.push(g);
            } else {
                return Err(format!("ESP proposal {s:?}: unknown algorithm {t:?}"));
            }
        }
        if p.esn.is_empty() {
            p.esn.push(false);
        }
        check_aead_mix(&p.encr, &p.integ, s)?;
        Ok(p)
    }
}

impl EspProposal {
    /// An AH proposal: `sha256`, `sha256-modp2048` (PFS). AH here is HMAC-SHA-256-128, the
    /// one AH transform the data plane has.
    pub fn parse_ah(s: &str) -> Result<EspProposal, String> {
        let mut p = EspProposal { encr: vec![], integ: vec![], esn: vec![false], dh: vec![] };
        for t in s.split('-') {
            if t == "sha256" {
                p.integ.push(IntegAlg::HmacSha256_128);
            } else if let Some(g) = dh_token(t) {
                p.dh.push(g);
            } else {
                return Err(format!(
                    "AH proposal {s:?}: {t:?} is not an AH algorithm here (sha256, then DH groups)"
                ));
            }
        }
        if p.integ.is_empty() {
            return Err(format!("AH proposal {s:?}: no integrity algorithm (sha256)"));
        }
        Ok(p)
    }
}

/// Retransmission of our requests: the n-th retransmit goes out `timeout × 2^n` after the
/// previous send; after `tries` retransmits and one more such wait the peer is declared gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetransmitConfig {
    pub timeout: Duration,
    pub tries: u32,
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        RetransmitConfig { timeout: Duration::from_secs(2), tries: 5 }
    }
}

/// One tunnel (policy): a Child SA under the IKE SA.
#[derive(Debug, Clone)]
pub struct ChildConfig {
    pub name: String,
    /// Our side of the tunnel (what we propose as TSi when initiating).
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    /// IPsec protocol: ESP, or AH (IKEv1 only; the IKEv2 core negotiates ESP).
    pub protocol: super::ChildProtocol,
    /// The proposals for `protocol`: for AH ([`EspProposal::parse_ah`]) integrity and DH
    /// groups only.
    pub esp_proposals: Vec<EspProposal>,
    pub rekey_time: Option<Duration>,
    /// Traffic lifetimes, which this state machine does not count: the driver hands them to
    /// the data plane and calls [`super::IkeSa::rekey_child`] when a soft one is reached
    /// ([`super::IkeSa::delete_child`] at a hard one). `None` is unlimited.
    pub soft_traffic: TrafficLimits,
    pub hard_traffic: TrafficLimits,
    pub start_action: StartAction,
    pub mode: Mode,
}

/// Bytes and packets a Child SA may carry (each direction on its own), `None` unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficLimits {
    pub bytes: Option<u64>,
    pub packets: Option<u64>,
}

impl ChildConfig {
    pub fn new(name: &str, local_ts: Vec<TrafficSelector>, remote_ts: Vec<TrafficSelector>) -> ChildConfig {
        ChildConfig {
            name: name.to_owned(),
            local_ts,
            remote_ts,
            protocol: super::ChildProtocol::Esp,
            esp_proposals: vec![EspProposal::parse("aes128gcm16").unwrap_or_else(|_| unreachable!())],
            rekey_time: Some(Duration::from_secs(3600)),
            soft_traffic: TrafficLimits::default(),
            hard_traffic: TrafficLimits::default(),
            start_action: StartAction::Start,
            mode: Mode::Tunnel,
        }
    }
}

/// One peer: the IKE SA's addresses, identities, PSK, proposals, timers and its tunnels.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    pub name: String,
    /// Where we send from when initiating (port 500, or 4500 to start on NAT-T).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub local_id: Identification,
    /// `None` accepts any identity that authenticates with the PSK.
    pub remote_id: Option<Identification>,
    /// The pre-shared key (zeroized on drop, never printed).
    pub psk: Secret,
    pub ike_proposals: Vec<IkeProposal>,
    pub children: Vec<ChildConfig>,
    pub ike_rekey_time: Option<Duration>,
    /// Accepted for completeness; reauthentication is not implemented yet.
    pub reauth_time: Option<Duration>,
    /// Idle time after which an empty INFORMATIONAL checks the peer is alive.
    pub dpd_interval: Option<Duration>,
    pub dpd_action: DpdAction,
    pub retransmit: RetransmitConfig,
    /// A responder forgets an IKE SA whose IKE_AUTH does not arrive in this time.
    pub half_open_timeout: Duration,
    /// Accept MODP 1024 / 1536 (groups 2 and 5) in proposals, for old peers; both IKE
    /// versions honour it and [`PeerConfig::warnings`] says so.
    pub allow_weak_dh: bool,
    /// Let IKE proposals name 3DES (64-bit blocks): IKEv1 phase 1 only, for peers that offer
    /// nothing better; the IKEv2 core never offers or accepts it. Warned about.
    pub allow_3des: bool,
    /// The largest IKE datagram we send once fragmentation (RFC 7383) is agreed, counted as
    /// the whole IP datagram (IP and UDP headers included, like strongSwan's
    /// `fragment_size`); longer protected messages go out as SKF fragments.
    pub fragment_size: usize,
}

/// [`PeerConfig::fragment_size`] when none is configured (RFC 7383 §2.5.1 suggests 1280 for
/// IPv6; it suits IPv4 paths too, as strongSwan's default).
pub const DEFAULT_FRAGMENT_SIZE: usize = 1280;
/// The smallest [`PeerConfig::fragment_size`] that leaves room for inner bytes with any
/// cipher (IPv6 and UDP headers, non-ESP marker, IKE and SKF headers, IV, padding, ICV).
pub const MIN_FRAGMENT_SIZE: usize = 200;

impl PeerConfig {
    pub fn new(
        name: &str,
        local: SocketAddr,
        remote: SocketAddr,
        local_id: Identification,
        remote_id: Option<Identification>,
        psk: &[u8],
    ) -> PeerConfig {
        PeerConfig {
            name: name.to_owned(),
            local,
            remote,
            local_id,
            remote_id,
            psk: Secret::from_slice(psk),
            ike_proposals: vec![
                IkeProposal::parse("aes128gcm16-prfsha256-x25519").unwrap_or_else(|_| unreachable!())
            ],
            children: Vec::new(),
            ike_rekey_time: Some(Duration::from_secs(4 * 3600)),
            reauth_time: None,
            dpd_interval: Some(Duration::from_secs(30)),
            dpd_action: DpdAction::Clear,
            retransmit: RetransmitConfig::default(),
            half_open_timeout: Duration::from_secs(30),
            allow_weak_dh: false,
            allow_3des: false,
            fragment_size: DEFAULT_FRAGMENT_SIZE,
        }
    }

    /// Checks what the state machine relies on.
    pub fn validate(&self) -> Result<(), String> {
        if self.ike_proposals.is_empty() {
            return Err(format!("peer {}: no IKE proposal", self.name));
        }
        if self.psk.len() < 8 {
            return Err(format!("peer {}: the pre-shared key is shorter than 8 bytes", self.name));
        }
        for c in &self.children {
            if c.local_ts.is_empty() || c.remote_ts.is_empty() {
                return Err(format!("child {}: empty traffic selectors", c.name));
            }
            if c.esp_proposals.is_empty() {
                return Err(format!("child {}: no ESP proposal", c.name));
            }
            let (soft, hard) = (c.soft_traffic, c.hard_traffic);
            for (what, s, h) in [("bytes", soft.bytes, hard.bytes), ("packets", soft.packets, hard.packets)] {
                if let (Some(s), Some(h)) = (s, h) {
                    if h <= s {
                        return Err(format!(
                            "child {}: the hard {what} limit must be above the soft one",
                            c.name
                        ));
                    }
                }
            }
        }
        if self.retransmit.tries > 16 {
            return Err(format!("peer {}: more than 16 retransmits", self.name));
        }
        if !(MIN_FRAGMENT_SIZE..=65535).contains(&self.fragment_size) {
            return Err(format!(
                "peer {}: fragment size {} is out of range {MIN_FRAGMENT_SIZE}..=65535",
                self.name, self.fragment_size
            ));
        }
        if !self.allow_weak_dh {
            let ike = self.ike_proposals.iter().flat_map(|p| &p.dh);
            let esp = self.children.iter().flat_map(|c| &c.esp_proposals).flat_map(|p| &p.dh);
            if let Some(g) = ike.chain(esp).find(|&&g| crate::crypto::dh::is_weak(g)) {
                return Err(format!("peer {}: DH group {g:?} is weak; it needs allow_weak_dh", self.name));
            }
        }
        if !self.allow_3des && self.ike_proposals.iter().flat_map(|p| &p.encr).any(|e| e.is_weak()) {
            return Err(format!("peer {}: 3des has 64-bit blocks; it needs allow_3des", self.name));
        }
        Ok(())
    }

    /// What an admin should be told about this configuration.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.allow_3des {
            w.push(format!(
                "peer {}: 3DES is allowed for IKEv1 phase 1: its 64-bit blocks make long-lived \
                 SAs open to birthday attacks (Sweet32); move the peer to AES",
                self.name
            ));
        }
        if self.allow_weak_dh {
            w.push(format!(
                "peer {}: weak DH groups (MODP 1024/1536) are allowed: a well-funded attacker can \
                 break them; move the peer to modp2048 or better",
                self.name
            ));
        }
        w
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn proposal_strings() {
        let p = IkeProposal::parse("aes256-sha256-modp2048").unwrap();
        assert_eq!(p.prf, vec![PrfAlg::HmacSha256]);
        assert_eq!(p.integ, vec![IntegAlg::HmacSha256_128]);
        assert!(IkeProposal::parse("aes128gcm16-sha256-x25519").is_err());
        assert!(IkeProposal::parse("aes128-x25519").is_err());
        assert!(IkeProposal::parse("aes128gcm16-prfsha256").is_err());
        assert!(IkeProposal::parse("des-sha1-modp1024").is_err());
        let e = EspProposal::parse("aes128-sha1-esn-noesn-ecp256").unwrap();
        assert_eq!((e.esn.clone(), e.dh.clone()), (vec![true, false], vec![DhGroup::ECP_256]));
        assert!(EspProposal::parse("aes128-sha384").is_err());
    }

    #[test]
    fn triple_des_needs_allow_3des_and_never_goes_to_esp() {
        let mut pc = PeerConfig::new(
            "p",
            "192.0.2.1:500".parse().unwrap(),
            "192.0.2.2:500".parse().unwrap(),
            crate::codec::id::Identification::Fqdn("a".into()),
            None,
            b"0123456789",
        );
        pc.ike_proposals = vec![IkeProposal::parse("3des-sha1-modp2048").unwrap()];
        assert_eq!(pc.ike_proposals[0].encr, [EncrAlg::TripleDesCbc]);
        assert!(pc.validate().unwrap_err().contains("allow_3des"));
        assert!(pc.warnings().is_empty());
        pc.allow_3des = true;
        pc.validate().unwrap();
        assert!(pc.warnings()[0].contains("Sweet32"));
        assert!(EspProposal::parse("3des-sha1").unwrap_err().contains("not offered for ESP"));
    }

    #[test]
    fn weak_groups_need_allow_weak_dh() {
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let id = Identification::Fqdn("a".into());
        let mut pc = PeerConfig::new("p", a, a, id, None, b"12345678");
        pc.ike_proposals = vec![IkeProposal::parse("aes128-sha256-modp1024").unwrap()];
        assert!(pc.validate().unwrap_err().contains("allow_weak_dh"));
        assert!(pc.warnings().is_empty());
        pc.allow_weak_dh = true;
        pc.validate().unwrap();
        assert!(pc.warnings()[0].contains("MODP 1024/1536"));
        // A PFS group counts as well.
        pc.allow_weak_dh = false;
        pc.ike_proposals = vec![IkeProposal::parse("aes128gcm16-prfsha256-x25519").unwrap()];
        let mut c = ChildConfig::new("c", vec![], vec![]);
        c.local_ts = vec![crate::codec::ts::TrafficSelector::any_v4()];
        c.remote_ts = c.local_ts.clone();
        c.esp_proposals = vec![EspProposal::parse("aes128gcm16-modp1536").unwrap()];
        pc.children.push(c);
        assert!(pc.validate().unwrap_err().contains("MODP_1536"));
    }
}
