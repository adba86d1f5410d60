//! Phase 1 and phase 2 proposals: building our offer, reading a transform into algorithms,
//! choosing the first acceptable transform of the peer's, and describing both in admin words.
//!
//! Phase 1 sends one ISAKMP proposal with one KEY_IKE transform per algorithm combination
//! (RFC 2409 §5). Phase 2 sends one ESP (or AH) proposal (our inbound SPI) with one transform
//! per combination; with PFS, every transform names the same group as the KE payload.

use super::codec::sa::{Attribute, Proposal, SaPayload, Transform};
use super::codec::{
    AhTransformId, AuthMethod, EncapMode, EspAttr, EspAuth, EspTransformId, LifeType, Ph1Attr, Ph1Encr,
    Ph1Hash, ProtocolId, DOI_IPSEC, KEY_IKE, SIT_IDENTITY_ONLY,
};
use crate::codec::DhGroup;
use crate::crypto::dh;
use crate::crypto::encr::EncrAlg;
use crate::crypto::integ::IntegAlg;
use crate::crypto::prf::PrfAlg;
use crate::sa::{EspAlgorithms, EspProposal, IkeProposal, Mode};
use std::time::Duration;

/// The algorithms of a phase 1 transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ph1Choice {
    pub encr: EncrAlg,
    pub prf: PrfAlg,
    pub group: DhGroup,
    pub lifetime: Option<Duration>,
    pub lifetime_kb: Option<u64>,
}

impl Ph1Choice {
    pub fn describe(&self) -> String {
        format!("{}-{}-{}", encr_name(self.encr), prf_name(self.prf), group_name(self.group))
    }
}

/// The algorithms of an ESP transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspChoice {
    pub algs: EspAlgorithms,
    pub mode: Mode,
    pub udp: bool,
    pub lifetime: Option<Duration>,
    pub lifetime_kb: Option<u64>,
}

fn encr_name(e: EncrAlg) -> &'static str {
    match e {
        EncrAlg::AesCbc128 => "aes128",
        EncrAlg::AesCbc256 => "aes256",
        EncrAlg::AesGcm16_128 => "aes128gcm16",
        EncrAlg::AesGcm16_256 => "aes256gcm16",
        EncrAlg::TripleDesCbc => "3des",
    }
}

fn prf_name(p: PrfAlg) -> &'static str {
    match p {
        PrfAlg::HmacSha1 => "sha1",
        PrfAlg::HmacSha256 => "sha256",
        PrfAlg::HmacSha384 => "sha384",
        PrfAlg::HmacSha512 => "sha512",
    }
}

fn integ_name(i: IntegAlg) -> &'static str {
    match i {
        IntegAlg::HmacSha1_96 => "sha1",
        IntegAlg::HmacSha256_128 => "sha256",
        IntegAlg::HmacSha384_192 => "sha384",
        IntegAlg::HmacSha512_256 => "sha512",
    }
}

fn group_name(g: DhGroup) -> String {
    match g {
        DhGroup::MODP_1024 => "modp1024".into(),
        DhGroup::MODP_1536 => "modp1536".into(),
        DhGroup::MODP_2048 => "modp2048".into(),
        DhGroup::MODP_3072 => "modp3072".into(),
        DhGroup::MODP_4096 => "modp4096".into(),
        DhGroup::ECP_256 => "ecp256".into(),
        DhGroup::ECP_384 => "ecp384".into(),
        DhGroup::ECP_521 => "ecp521".into(),
        g => format!("group{}", g.0),
    }
}

fn hash_id(p: PrfAlg) -> u16 {
    match p {
        PrfAlg::HmacSha1 => Ph1Hash::SHA.0,
        PrfAlg::HmacSha256 => Ph1Hash::SHA2_256.0,
        PrfAlg::HmacSha384 => Ph1Hash::SHA2_384.0,
        PrfAlg::HmacSha512 => Ph1Hash::SHA2_512.0,
    }
}

fn life_attrs(attrs: &mut Vec<Attribute>, ty: u16, dur: u16, secs: Duration, kb: Option<u64>) {
    attrs.push(Attribute::basic(ty, LifeType::SECONDS.0));
    attrs.push(Attribute::number(dur, secs.as_secs()));
    if let Some(kb) = kb {
        attrs.push(Attribute::basic(ty, LifeType::KILOBYTES.0));
        attrs.push(Attribute::number(dur, kb));
    }
}

/// Reads life type / duration pairs: (seconds, kilobytes). False if malformed.
fn read_life(t: &Transform, ty: u16, dur: u16) -> Option<(Option<Duration>, Option<u64>)> {
    let (mut secs, mut kb, mut cur) = (None, None, None);
    for a in &t.attributes {
        if a.ty == ty {
            cur = Some(a.as_u64()?);
        } else if a.ty == dur {
            let v = a.as_u64()?;
            match cur.take()? {
                1 => secs = Some(Duration::from_secs(v)),
                2 => kb = Some(v),
                _ => return None,
            }
        }
    }
    Some((secs, kb))
}

/// Our phase 1 SA payload. With `only_group` (aggressive mode: the KE goes in message 1),
/// only transforms of that group are offered.
pub fn ph1_offer(
    props: &[IkeProposal],
    life: Duration,
    kb: Option<u64>,
    only_group: Option<DhGroup>,
) -> SaPayload {
    let mut transforms = Vec::new();
    for p in props {
        for &e in &p.encr {
            for &f in &p.prf {
                for &g in &p.dh {
                    if only_group.is_some_and(|o| o != g) {
                        continue;
                    }
                    // 3DES has one key length, so no Key Length attribute (RFC 2409 App. A).
                    let mut a = if e == EncrAlg::TripleDesCbc {
                        vec![Attribute::basic(Ph1Attr::ENCRYPTION_ALGORITHM.0, Ph1Encr::TRIPLE_DES_CBC.0)]
                    } else {
                        vec![
                            Attribute::basic(Ph1Attr::ENCRYPTION_ALGORITHM.0, Ph1Encr::AES_CBC.0),
                            Attribute::basic(Ph1Attr::KEY_LENGTH.0, e.key_bits()),
                        ]
                    };
                    a.extend([
                        Attribute::basic(Ph1Attr::HASH_ALGORITHM.0, hash_id(f)),
                        Attribute::basic(Ph1Attr::AUTHENTICATION_METHOD.0, AuthMethod::PRE_SHARED_KEY.0),
                        Attribute::basic(Ph1Attr::GROUP_DESCRIPTION.0, g.0),
                    ]);
                    life_attrs(&mut a, Ph1Attr::LIFE_TYPE.0, Ph1Attr::LIFE_DURATION.0, life, kb);
                    let number = (transforms.len() + 1).min(255) as u8;
                    transforms.push(Transform { number, id: KEY_IKE, attributes: a });
                }
            }
        }
    }
    SaPayload {
        doi: DOI_IPSEC,
        situation: SIT_IDENTITY_ONLY,
        proposals: vec![Proposal { number: 1, protocol: ProtocolId::ISAKMP, spi: vec![], transforms }],
    }
}

/// The algorithms of a phase 1 transform, or why we cannot use it.
pub fn ph1_read(t: &Transform, allow_weak: bool) -> Result<Ph1Choice, String> {
    if t.id != KEY_IKE {
        return Err(format!("transform ID {}", t.id));
    }
    let get = |ty: Ph1Attr| t.attr(ty.0).and_then(Attribute::as_u64);
    for a in &t.attributes {
        if Ph1Attr(a.ty).name().is_none() {
            return Err(format!("attribute {}", a.ty));
        }
    }
    let bits = get(Ph1Attr::KEY_LENGTH);
    let encr = match (get(Ph1Attr::ENCRYPTION_ALGORITHM).map(|v| Ph1Encr(v as u16)), bits) {
        (Some(Ph1Encr::AES_CBC), None | Some(128)) => EncrAlg::AesCbc128,
        (Some(Ph1Encr::AES_CBC), Some(256)) => EncrAlg::AesCbc256,
        // Accepted only where our configuration lists 3des, which needs `allow_3des`.
        (Some(Ph1Encr::TRIPLE_DES_CBC), None | Some(192)) => EncrAlg::TripleDesCbc,
        (e, b) => return Err(format!("cipher {:?}/{:?}", e, b)),
    };
    let prf = match get(Ph1Attr::HASH_ALGORITHM).map(|v| Ph1Hash(v as u16)) {
        Some(Ph1Hash::SHA) => PrfAlg::HmacSha1,
        Some(Ph1Hash::SHA2_256) => PrfAlg::HmacSha256,
        Some(Ph1Hash::SHA2_384) => PrfAlg::HmacSha384,
        Some(Ph1Hash::SHA2_512) => PrfAlg::HmacSha512,
        h => return Err(format!("hash {h:?}")),
    };
    if get(Ph1Attr::AUTHENTICATION_METHOD) != Some(u64::from(AuthMethod::PRE_SHARED_KEY.0)) {
        return Err("non-PSK authentication".into());
    }
    let group = DhGroup(get(Ph1Attr::GROUP_DESCRIPTION).unwrap_or(0) as u16);
    if !dh::is_supported(group, allow_weak) {
        return Err(format!(
            "{} (unsupported{})",
            group_name(group),
            if allow_weak { "" } else { " or weak" }
        ));
    }
    let (lifetime, lifetime_kb) =
        read_life(t, Ph1Attr::LIFE_TYPE.0, Ph1Attr::LIFE_DURATION.0).ok_or("bad life attributes")?;
    Ok(Ph1Choice { encr, prf, group, lifetime, lifetime_kb })
}

pub fn ph1_acceptable(props: &[IkeProposal], c: &Ph1Choice) -> bool {
    props.iter().any(|p| p.encr.contains(&c.encr) && p.prf.contains(&c.prf) && p.dh.contains(&c.group))
}

/// Describes every transform of an SA payload the way our proposals are written.
pub fn describe_ph1(sa: &SaPayload, allow_weak: bool) -> String {
    let v: Vec<String> = sa
        .proposals
        .iter()
        .flat_map(|p| p.transforms.iter())
        .map(|t| match ph1_read(t, allow_weak) {
            Ok(c) => c.describe(),
            Err(why) => format!("<{why}>"),
        })
        .collect();
    format!("[{}]", v.join(", "))
}

pub fn describe_ike_props(props: &[IkeProposal]) -> String {
    let v: Vec<String> = props
        .iter()
        .map(|p| {
            let mut parts: Vec<String> = p.encr.iter().map(|&e| encr_name(e).to_owned()).collect();
            parts.extend(p.prf.iter().map(|&f| prf_name(f).to_owned()));
            parts.extend(p.dh.iter().map(|&g| group_name(g)));
            parts.join("-")
        })
        .collect();
    format!("[{}]", v.join(", "))
}

pub fn describe_esp_props(props: &[EspProposal]) -> String {
    let v: Vec<String> = props
        .iter()
        .map(|p| {
            let mut parts: Vec<String> = p.encr.iter().map(|&e| encr_name(e).to_owned()).collect();
            if p.encr.is_empty() {
                parts.push("ah".into());
            }
            parts.extend(p.integ.iter().map(|&i| integ_name(i).to_owned()));
            parts.extend(p.dh.iter().map(|&g| group_name(g)));
            parts.join("-")
        })
        .collect();
    format!("[{}]", v.join(", "))
}

pub fn encap_mode(mode: Mode, udp: bool) -> EncapMode {
    match (mode, udp) {
        (Mode::Tunnel, false) => EncapMode::TUNNEL,
        (Mode::Transport, false) => EncapMode::TRANSPORT,
        (Mode::Tunnel, true) => EncapMode::UDP_TUNNEL,
        (Mode::Transport, true) => EncapMode::UDP_TRANSPORT,
    }
}

/// Whether proposal `p` goes in an offer whose KE payload is of group `pfs` (none: no PFS).
fn offers_pfs(p: &EspProposal, pfs: Option<DhGroup>) -> bool {
    match pfs {
        Some(g) => p.dh.contains(&g),
        None => p.dh.is_empty(),
    }
}

/// The attributes every phase 2 transform starts with: lifetimes, the PFS group, the mode.
fn phase2_attrs(life: Duration, kb: Option<u64>, pfs: Option<DhGroup>, mode: EncapMode) -> Vec<Attribute> {
    let mut a = Vec::new();
    life_attrs(&mut a, EspAttr::SA_LIFE_TYPE.0, EspAttr::SA_LIFE_DURATION.0, life, kb);
    if let Some(g) = pfs {
        a.push(Attribute::basic(EspAttr::GROUP_DESCRIPTION.0, g.0));
    }
    a.push(Attribute::basic(EspAttr::ENCAPSULATION_MODE.0, mode.0));
    a
}

/// One phase 2 proposal of `protocol` with our inbound SPI.
fn phase2_sa(protocol: ProtocolId, spi: u32, transforms: Vec<Transform>) -> SaPayload {
    SaPayload {
        doi: DOI_IPSEC,
        situation: SIT_IDENTITY_ONLY,
        proposals: vec![Proposal { number: 1, protocol, spi: spi.to_be_bytes().to_vec(), transforms }],
    }
}

/// Our ESP SA payload; `pfs` is the group of our KE payload, if any.
pub fn esp_offer(
    props: &[EspProposal],
    spi: u32,
    pfs: Option<DhGroup>,
    mode: Mode,
    udp: bool,
    life: Duration,
    kb: Option<u64>,
) -> SaPayload {
    let mut transforms = Vec::new();
    for p in props.iter().filter(|p| offers_pfs(p, pfs)) {
        for &e in &p.encr {
            let integs: Vec<Option<IntegAlg>> =
                if e.is_aead() { vec![None] } else { p.integ.iter().map(|&i| Some(i)).collect() };
            for i in integs {
                let id =
                    if e.is_aead() { EspTransformId::ESP_AES_GCM_16 } else { EspTransformId::ESP_AES_CBC };
                let mut a = phase2_attrs(life, kb, pfs, encap_mode(mode, udp));
                if let Some(i) = i {
                    let auth = match i {
                        IntegAlg::HmacSha1_96 => EspAuth::HMAC_SHA,
                        IntegAlg::HmacSha256_128 => EspAuth::HMAC_SHA2_256,
                        IntegAlg::HmacSha384_192 => EspAuth::HMAC_SHA2_384,
                        IntegAlg::HmacSha512_256 => EspAuth::HMAC_SHA2_512,
                    };
                    a.push(Attribute::basic(EspAttr::AUTHENTICATION_ALGORITHM.0, auth.0));
                }
                a.push(Attribute::basic(EspAttr::KEY_LENGTH.0, e.key_bits()));
                let number = (transforms.len() + 1).min(255) as u8;
                transforms.push(Transform { number, id: id.0, attributes: a });
            }
        }
    }
    phase2_sa(ProtocolId::IPSEC_ESP, spi, transforms)
}

/// The attributes ESP and AH transforms share, as read (the readers check them in their
/// order); an attribute of no known type is refused here.
struct Phase2Attrs {
    auth: Option<EspAuth>,
    dh: Option<DhGroup>,
    mode: Option<EncapMode>,
    esn: bool,
    /// `None`: malformed life attributes.
    life: Option<(Option<Duration>, Option<u64>)>,
}

fn phase2_read(t: &Transform) -> Result<Phase2Attrs, String> {
    let get = |ty: EspAttr| t.attr(ty.0).and_then(Attribute::as_u64);
    for a in &t.attributes {
        if EspAttr(a.ty).name().is_none() {
            return Err(format!("attribute {}", a.ty));
        }
    }
    Ok(Phase2Attrs {
        auth: get(EspAttr::AUTHENTICATION_ALGORITHM).map(|v| EspAuth(v as u16)),
        dh: get(EspAttr::GROUP_DESCRIPTION).map(|g| DhGroup(g as u16)),
        mode: get(EspAttr::ENCAPSULATION_MODE).map(|m| EncapMode(m as u16)),
        esn: get(EspAttr::EXTENDED_SEQUENCE_NUMBER).unwrap_or(0) != 0,
        life: read_life(t, EspAttr::SA_LIFE_TYPE.0, EspAttr::SA_LIFE_DURATION.0),
    })
}

pub fn esp_read(t: &Transform) -> Result<EspChoice, String> {
    let attrs = phase2_read(t)?;
    let bits = t.attr(EspAttr::KEY_LENGTH.0).and_then(Attribute::as_u64);
    let encr = match (EspTransformId(t.id), bits) {
        (EspTransformId::ESP_AES_CBC, Some(128)) => EncrAlg::AesCbc128,
        (EspTransformId::ESP_AES_CBC, Some(256)) => EncrAlg::AesCbc256,
        (EspTransformId::ESP_AES_GCM_16, Some(128)) => EncrAlg::AesGcm16_128,
        (EspTransformId::ESP_AES_GCM_16, Some(256)) => EncrAlg::AesGcm16_256,
        (id, b) => return Err(format!("{id:?}/{b:?}")),
    };
    let integ = match attrs.auth {
        None if encr.is_aead() => None,
        Some(EspAuth::HMAC_SHA) if !encr.is_aead() => Some(IntegAlg::HmacSha1_96),
        Some(EspAuth::HMAC_SHA2_256) if !encr.is_aead() => Some(IntegAlg::HmacSha256_128),
        a => return Err(format!("integrity {a:?}")),
    };
    if attrs.esn {
        return Err("ESN".into());
    }
    let (mode, udp) = match attrs.mode {
        Some(EncapMode::TUNNEL) | None => (Mode::Tunnel, false),
        Some(EncapMode::TRANSPORT) => (Mode::Transport, false),
        Some(EncapMode::UDP_TUNNEL | EncapMode::UDP_TUNNEL_DRAFT) => (Mode::Tunnel, true),
        Some(EncapMode::UDP_TRANSPORT | EncapMode::UDP_TRANSPORT_DRAFT) => (Mode::Transport, true),
        Some(m) => return Err(format!("mode {m:?}")),
    };
    let (lifetime, lifetime_kb) = attrs.life.ok_or("bad life attributes")?;
    Ok(EspChoice {
        algs: EspAlgorithms { encr: Some(encr), integ, esn: false, dh: attrs.dh },
        mode,
        udp,
        lifetime,
        lifetime_kb,
    })
}

pub fn esp_acceptable(props: &[EspProposal], c: &EspChoice) -> bool {
    props.iter().any(|p| {
        c.algs.encr.is_some_and(|e| p.encr.contains(&e))
            && c.algs.integ.is_none_or(|i| p.integ.contains(&i))
            && offers_pfs(p, c.algs.dh)
    })
}

/// Our AH SA payload (HMAC-SHA-256-128 only, the data plane's one AH transform); `pfs` as
/// for [`esp_offer`]. AH has no UDP encapsulation: it cannot cross a NAT.
pub fn ah_offer(
    props: &[EspProposal],
    spi: u32,
    pfs: Option<DhGroup>,
    mode: Mode,
    life: Duration,
    kb: Option<u64>,
) -> SaPayload {
    let mut transforms = Vec::new();
    for p in props.iter().filter(|p| offers_pfs(p, pfs)) {
        if p.integ.contains(&IntegAlg::HmacSha256_128) {
            let mut a = phase2_attrs(life, kb, pfs, encap_mode(mode, false));
            a.push(Attribute::basic(EspAttr::AUTHENTICATION_ALGORITHM.0, EspAuth::HMAC_SHA2_256.0));
            let number = (transforms.len() + 1).min(255) as u8;
            transforms.push(Transform { number, id: AhTransformId::AH_SHA2_256.0, attributes: a });
        }
    }
    phase2_sa(ProtocolId::IPSEC_AH, spi, transforms)
}

/// The algorithms of an AH transform (`encr` is `None`).
pub fn ah_read(t: &Transform) -> Result<EspChoice, String> {
    let attrs = phase2_read(t)?;
    let integ = match (AhTransformId(t.id), attrs.auth) {
        (AhTransformId::AH_SHA2_256, Some(EspAuth::HMAC_SHA2_256)) => IntegAlg::HmacSha256_128,
        (id, a) => return Err(format!("AH {id:?}/{a:?}")),
    };
    if attrs.esn {
        return Err("ESN".into());
    }
    let mode = match attrs.mode {
        Some(EncapMode::TUNNEL) | None => Mode::Tunnel,
        Some(EncapMode::TRANSPORT) => Mode::Transport,
        Some(m) => return Err(format!("AH mode {m:?}")),
    };
    let (lifetime, lifetime_kb) = attrs.life.ok_or("bad life attributes")?;
    let algs = EspAlgorithms { encr: None, integ: Some(integ), esn: false, dh: attrs.dh };
    Ok(EspChoice { algs, mode, udp: false, lifetime, lifetime_kb })
}

pub fn ah_acceptable(props: &[EspProposal], c: &EspChoice) -> bool {
    c.algs.encr.is_none()
        && props
            .iter()
            .any(|p| c.algs.integ.is_some_and(|i| p.integ.contains(&i)) && offers_pfs(p, c.algs.dh))
}

/// A transform of `protocol` (ESP or AH) read into algorithms.
pub fn read_for(protocol: ProtocolId, t: &Transform) -> Result<EspChoice, String> {
    if protocol == ProtocolId::IPSEC_AH {
        ah_read(t)
    } else {
        esp_read(t)
    }
}

pub fn describe_esp(sa: &SaPayload) -> String {
    let v: Vec<String> = sa
        .proposals
        .iter()
        .flat_map(|p| p.transforms.iter().map(move |t| (p.protocol, t)))
        .map(|(proto, t)| match read_for(proto, t) {
            Ok(c) => {
                let mut s = c.algs.encr.map_or("ah", encr_name).to_owned();
                if let Some(i) = c.algs.integ {
                    s = format!("{s}-{}", integ_name(i));
                }
                if let Some(g) = c.algs.dh {
                    s = format!("{s}-{}", group_name(g));
                }
                s
            }
            Err(why) => format!("<{why}>"),
        })
        .collect();
    format!("[{}]", v.join(", "))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn offers_read_back() {
        let props = vec![IkeProposal::parse("aes128-aes256-sha256-modp2048-ecp256").unwrap()];
        let sa = ph1_offer(&props, Duration::from_secs(86400), Some(1000), None);
        assert_eq!(sa.proposals[0].transforms.len(), 4);
        for t in &sa.proposals[0].transforms {
            let c = ph1_read(t, false).unwrap();
            assert!(ph1_acceptable(&props, &c));
            assert_eq!((c.lifetime, c.lifetime_kb), (Some(Duration::from_secs(86400)), Some(1000)));
        }
        assert_eq!(
            describe_ph1(&sa, false),
            "[aes128-sha256-modp2048, aes128-sha256-ecp256, aes256-sha256-modp2048, aes256-sha256-ecp256]"
        );
        let am = ph1_offer(&props, Duration::from_secs(60), None, Some(DhGroup::ECP_256));
        assert_eq!(am.proposals[0].transforms.len(), 2);
        let mut weak = sa.proposals[0].transforms[0].clone();
        weak.attributes[4] = Attribute::basic(Ph1Attr::GROUP_DESCRIPTION.0, 2);
        assert!(ph1_read(&weak, false).is_err());
        assert_eq!(ph1_read(&weak, true).unwrap().group, DhGroup::MODP_1024);

        let esp = vec![
            EspProposal::parse("aes128-sha256-modp2048").unwrap(),
            EspProposal::parse("aes256gcm16").unwrap(),
        ];
        let sa =
            esp_offer(&esp, 7, Some(DhGroup::MODP_2048), Mode::Tunnel, true, Duration::from_secs(3600), None);
        assert_eq!(sa.proposals[0].transforms.len(), 1);
        let c = esp_read(&sa.proposals[0].transforms[0]).unwrap();
        assert!(c.udp && esp_acceptable(&esp, &c));
        let sa = esp_offer(&esp, 7, None, Mode::Tunnel, false, Duration::from_secs(3600), None);
        let c = esp_read(&sa.proposals[0].transforms[0]).unwrap();
        assert_eq!((c.algs.encr, c.algs.integ), (Some(EncrAlg::AesGcm16_256), None));
        assert_eq!(describe_esp(&sa), "[aes256gcm16]");

        let ah = vec![EspProposal::parse_ah("sha256-modp2048").unwrap()];
        let sa = ah_offer(&ah, 9, Some(DhGroup::MODP_2048), Mode::Tunnel, Duration::from_secs(600), None);
        assert_eq!((sa.proposals[0].protocol, sa.proposals[0].transforms.len()), (ProtocolId::IPSEC_AH, 1));
        let t = &sa.proposals[0].transforms[0];
        let c = read_for(ProtocolId::IPSEC_AH, t).unwrap();
        assert_eq!((c.algs.encr, c.algs.integ), (None, Some(IntegAlg::HmacSha256_128)));
        assert!(ah_acceptable(&ah, &c) && !esp_acceptable(&esp, &c));
        assert!(esp_read(t).is_err());
        assert_eq!(describe_esp(&sa), "[ah-sha256-modp2048]");
        assert_eq!(describe_esp_props(&ah), "[ah-sha256-modp2048]");
        // Without PFS in the offer, the PFS proposal is not offered.
        assert!(ah_offer(&ah, 9, None, Mode::Tunnel, Duration::from_secs(600), None).proposals[0]
            .transforms
            .is_empty());
        assert!(EspProposal::parse_ah("sha1").is_err() && EspProposal::parse_ah("modp2048").is_err());
    }
}
