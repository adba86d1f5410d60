//! SA payloads from configured proposals, proposal selection (RFC 7296 §2.7, §3.3.6) and the
//! algorithm sets a chosen proposal stands for.

use super::config::{EspProposal, IkeProposal};
use super::EspAlgorithms;
use crate::codec::sa::{Proposal, SecurityAssociation, Transform};
use crate::codec::{DhGroup, EncrId, EsnId, IntegId, PrfId, ProtocolId, TransformType};
use crate::crypto::encr::EncrAlg;
use crate::crypto::keys::Suite;

fn encr(e: EncrAlg) -> Transform {
    Transform::encr(e.id(), Some(e.key_bits()))
}

/// Our IKE proposals, numbered from 1.
pub(crate) fn ike_offer(props: &[IkeProposal], spi: &[u8]) -> SecurityAssociation {
    let proposals = props
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut t: Vec<Transform> = p.encr.iter().filter(|e| !e.is_weak()).map(|&e| encr(e)).collect();
            t.extend(p.prf.iter().map(|f| Transform::prf(f.id())));
            t.extend(p.integ.iter().map(|i| Transform::integ(i.id())));
            t.extend(p.dh.iter().map(|&g| Transform::dh(g)));
            Proposal { number: (i + 1) as u8, protocol: ProtocolId::IKE, spi: spi.to_vec(), transforms: t }
        })
        .collect();
    SecurityAssociation { proposals }
}

/// Our ESP proposals; DH transforms only with `pfs` (never in IKE_AUTH, RFC 7296 §1.2).
pub(crate) fn esp_offer(props: &[EspProposal], spi: u32, pfs: bool) -> SecurityAssociation {
    let proposals = props
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut t: Vec<Transform> = p.encr.iter().filter(|e| !e.is_weak()).map(|&e| encr(e)).collect();
            t.extend(p.integ.iter().map(|i| Transform::integ(i.id())));
            if pfs {
                t.extend(p.dh.iter().map(|&g| Transform::dh(g)));
            }
            t.extend(p.esn.iter().map(|&e| Transform::esn(if e { EsnId::ESN } else { EsnId::NO_ESN })));
            Proposal {
                number: (i + 1) as u8,
                protocol: ProtocolId::ESP,
                spi: spi.to_be_bytes().to_vec(),
                transforms: t,
            }
        })
        .collect();
    SecurityAssociation { proposals }
}

const TYPES: [TransformType; 5] =
    [TransformType::ENCR, TransformType::PRF, TransformType::INTEG, TransformType::DH, TransformType::ESN];

fn same(a: &Transform, b: &Transform) -> bool {
    a.ty == b.ty && a.id == b.id && a.key_length() == b.key_length()
}

fn has_none(ts: &[&Transform]) -> bool {
    ts.iter().any(|t| t.id == 0)
}

/// Picks, from the peer's proposals in their order, the first that one of ours covers; per
/// transform type the peer's first acceptable transform. The result keeps the peer's proposal
/// number and SPI.
pub(crate) fn select(offered: &SecurityAssociation, ours: &SecurityAssociation) -> Option<Proposal> {
    for theirs in &offered.proposals {
        'ours: for mine in &ours.proposals {
            if mine.protocol != theirs.protocol {
                continue;
            }
            let mut chosen = Vec::new();
            for ty in TYPES {
                let t: Vec<&Transform> = theirs.transforms_of(ty).collect();
                let m: Vec<&Transform> = mine.transforms_of(ty).collect();
                match (t.is_empty(), m.is_empty()) {
                    (true, true) => {}
                    (false, true) if has_none(&t) => {}
                    (true, false) if has_none(&m) => {}
                    (true, false) | (false, true) => continue 'ours,
                    (false, false) => match t.iter().find(|x| m.iter().any(|y| same(x, y))) {
                        // NONE (id 0) is left out of the answer, except for ESN where
                        // NO_ESN is a real choice the initiator expects back (§3.3.6:
                        // strongSwan refuses a proposal whose ESN transform is missing).
                        Some(x) if x.id == 0 && ty != TransformType::ESN => {}
                        Some(x) => chosen.push((*x).clone()),
                        None => continue 'ours,
                    },
                }
            }
            return Some(Proposal {
                number: theirs.number,
                protocol: theirs.protocol,
                spi: theirs.spi.clone(),
                transforms: chosen,
            });
        }
    }
    None
}

fn one(p: &Proposal, ty: TransformType) -> Option<&Transform> {
    let mut it = p.transforms_of(ty);
    let t = it.next();
    if it.next().is_some() {
        return None;
    }
    t
}

/// The IKE suite and DH group of a chosen proposal (exactly one transform per type).
pub(crate) fn ike_algs(p: &Proposal) -> Option<(Suite, DhGroup)> {
    let e = one(p, TransformType::ENCR)?;
    let f = one(p, TransformType::PRF)?;
    let integ = match p.transforms_of(TransformType::INTEG).count() {
        0 => IntegId::NONE,
        _ => IntegId(one(p, TransformType::INTEG)?.id),
    };
    let dh = DhGroup(one(p, TransformType::DH)?.id);
    let suite = Suite::from_ids(EncrId(e.id), e.key_length(), PrfId(f.id), integ)?;
    Some((suite, dh))
}

/// The ESP algorithms of a chosen proposal.
pub(crate) fn esp_algs(p: &Proposal) -> Option<EspAlgorithms> {
    let e = one(p, TransformType::ENCR)?;
    let encr = EncrAlg::from_transform(EncrId(e.id), e.key_length())?;
    let integ = match p.transforms_of(TransformType::INTEG).count() {
        0 => None,
        _ => Some(crate::crypto::integ::IntegAlg::from_id(IntegId(one(p, TransformType::INTEG)?.id))?),
    };
    if encr.is_aead() == integ.is_some() {
        return None;
    }
    let dh = match p.transforms_of(TransformType::DH).count() {
        0 => None,
        _ => Some(DhGroup(one(p, TransformType::DH)?.id)),
    };
    let esn = match p.transforms_of(TransformType::ESN).count() {
        0 => false,
        _ => one(p, TransformType::ESN)?.id == EsnId::ESN.0,
    };
    Some(EspAlgorithms { encr: Some(encr), integ, esn, dh })
}

/// The offer without DH transforms (a peer may leave them in its IKE_AUTH child proposal).
pub(crate) fn strip_dh(sa: &SecurityAssociation) -> SecurityAssociation {
    let mut sa = sa.clone();
    for p in &mut sa.proposals {
        p.transforms.retain(|t| t.ty != TransformType::DH);
    }
    sa
}

fn transform_name(t: &Transform) -> String {
    let name = match t.ty {
        TransformType::ENCR => EncrId(t.id).name(),
        TransformType::PRF => PrfId(t.id).name(),
        TransformType::INTEG => IntegId(t.id).name(),
        TransformType::DH => DhGroup(t.id).name(),
        TransformType::ESN => EsnId(t.id).name(),
        _ => None,
    };
    let mut s = name.map_or_else(|| format!("{:?}#{}", t.ty, t.id), str::to_owned);
    if let Some(k) = t.key_length() {
        s.push_str(&format!("_{k}"));
    }
    s
}

/// `AES_GCM_16_128/HMAC_SHA2_256/CURVE25519, AES_CBC_256/...`: what a proposal list offers,
/// for failure reasons an admin can compare with the other side's configuration.
pub(crate) fn describe(sa: &SecurityAssociation) -> String {
    let list: Vec<String> = sa
        .proposals
        .iter()
        .map(|p| p.transforms.iter().map(transform_name).collect::<Vec<_>>().join("/"))
        .collect();
    format!("[{}]", list.join(", "))
}

pub(crate) fn describe_one(p: &Proposal) -> String {
    p.transforms.iter().map(transform_name).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn selection_prefers_the_peers_order_and_needs_every_type() {
        let ours =
            ike_offer(&[IkeProposal::parse("aes256gcm16-aes128gcm16-prfsha256-ecp256-x25519").unwrap()], &[]);
        let theirs = ike_offer(&[IkeProposal::parse("aes128gcm16-prfsha256-x25519-ecp256").unwrap()], &[]);
        let c = select(&theirs, &ours).unwrap();
        let (suite, dh) = ike_algs(&c).unwrap();
        assert_eq!((suite.encr, dh), (EncrAlg::AesGcm16_128, DhGroup::CURVE25519));
        assert_eq!(describe_one(&c), "AES_GCM_16_128/HMAC_SHA2_256/CURVE25519");
        let other = ike_offer(&[IkeProposal::parse("aes256-sha256-modp2048").unwrap()], &[]);
        assert!(select(&other, &ours).is_none());
        assert!(describe(&other).contains("AES_CBC_256"));
    }

    #[test]
    fn esp_pfs_is_stripped_for_ike_auth() {
        let p = EspProposal::parse("aes128-sha256-esn-ecp256").unwrap();
        let p = std::slice::from_ref(&p);
        let no_pfs = esp_offer(p, 0x1234_5678, false);
        assert!(select(&no_pfs, &esp_offer(p, 1, true)).is_none());
        let c = select(&no_pfs, &esp_offer(p, 1, false)).unwrap();
        let a = esp_algs(&c).unwrap();
        assert_eq!((a.dh, a.esn, c.spi.clone()), (None, true, vec![0x12, 0x34, 0x56, 0x78]));
        let c = select(&esp_offer(p, 1, true), &esp_offer(p, 1, true)).unwrap();
        assert_eq!(esp_algs(&c).unwrap().dh, Some(DhGroup::ECP_256));
    }

    #[test]
    fn chosen_esp_proposal_names_no_esn() {
        let p = EspProposal::parse("aes128gcm16").unwrap();
        let offer = esp_offer(std::slice::from_ref(&p), 0x1234_5678, false);
        let c = select(&offer, &offer).unwrap();
        let esn: Vec<_> = c.transforms_of(TransformType::ESN).map(|t| t.id).collect();
        assert_eq!(esn, vec![EsnId::NO_ESN.0], "the answer must carry the ESN choice");
        assert!(!esp_algs(&c).unwrap().esn);
    }
}
