//! The ISAKMP payload bodies other than SA and ID (RFC 2408 §3.7–3.16, RFC 3947 §3.2, §5.2).
//!
//! ```text
//! Notification: DOI(4) | Protocol-ID | SPI Size | Notify Message Type(2) | SPI | Notification Data
//! Delete:       DOI(4) | Protocol-ID | SPI Size | # of SPIs(2) | SPIs
//! NAT-OA:       ID Type | RESERVED(3) | IPv4 (4) or IPv6 (16) address
//! KE / HASH / NONCE / VID / NAT-D: opaque data
//! ```

use super::id::IdPayload;
use super::registry::{IdType, NotifyType, PayloadType, ProtocolId};
use super::sa::SaPayload;
use crate::codec::{ErrorKind, Reader, Result, Writer};
use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub doi: u32,
    pub protocol: ProtocolId,
    pub spi: Vec<u8>,
    pub ty: NotifyType,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub doi: u32,
    pub protocol: ProtocolId,
    /// 16 for ISAKMP (the cookie pair), 4 for ESP.
    pub spi_size: u8,
    pub spis: Vec<Vec<u8>>,
}

/// NAT original address (RFC 3947 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatOa {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Sa(SaPayload),
    Ke(Vec<u8>),
    Id(IdPayload),
    Hash(Vec<u8>),
    Nonce(Vec<u8>),
    Notify(Notification),
    Delete(Delete),
    VendorId(Vec<u8>),
    NatD(Vec<u8>),
    NatOa(NatOa),
    /// Any other payload (certificates, signatures, unknown types), body as is.
    Other(PayloadType, Vec<u8>),
}

impl Payload {
    pub fn ty(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::SA,
            Payload::Ke(_) => PayloadType::KE,
            Payload::Id(_) => PayloadType::ID,
            Payload::Hash(_) => PayloadType::HASH,
            Payload::Nonce(_) => PayloadType::NONCE,
            Payload::Notify(_) => PayloadType::N,
            Payload::Delete(_) => PayloadType::D,
            Payload::VendorId(_) => PayloadType::VID,
            Payload::NatD(_) => PayloadType::NAT_D,
            Payload::NatOa(_) => PayloadType::NAT_OA,
            Payload::Other(t, _) => *t,
        }
    }

    pub fn decode(ty: PayloadType, body: &[u8]) -> Result<Payload> {
        let mut r = Reader::new(body, "payload");
        Ok(match ty {
            PayloadType::SA => Payload::Sa(SaPayload::decode(body)?),
            PayloadType::ID => Payload::Id(IdPayload::decode(body)?),
            PayloadType::KE => Payload::Ke(body.to_vec()),
            PayloadType::HASH => Payload::Hash(body.to_vec()),
            PayloadType::NONCE => {
                // RFC 2409 §5: nonces are 8 to 256 octets.
                if !(8..=256).contains(&body.len()) {
                    return Err(Reader::new(body, "nonce").error(ErrorKind::InvalidValue));
                }
                Payload::Nonce(body.to_vec())
            }
            PayloadType::VID => Payload::VendorId(body.to_vec()),
            PayloadType::NAT_D => Payload::NatD(body.to_vec()),
            PayloadType::N => {
                let doi = r.u32()?;
                let protocol = ProtocolId(r.u8()?);
                let spi_size = r.u8()? as usize;
                let ty = NotifyType(r.u16()?);
                let spi = r.take(spi_size)?.to_vec();
                Payload::Notify(Notification { doi, protocol, spi, ty, data: r.rest().to_vec() })
            }
            PayloadType::D => {
                let doi = r.u32()?;
                let protocol = ProtocolId(r.u8()?);
                let spi_size = r.u8()?;
                let count = r.u16()? as usize;
                if spi_size == 0 || count == 0 {
                    return Err(r.error(ErrorKind::InvalidValue));
                }
                let mut spis = Vec::with_capacity(count.min(256));
                for _ in 0..count {
                    spis.push(r.take(spi_size as usize)?.to_vec());
                }
                r.expect_end()?;
                Payload::Delete(Delete { doi, protocol, spi_size, spis })
            }
            PayloadType::NAT_OA => {
                let t = IdType(r.u8()?);
                let _reserved = r.take(3)?;
                let a = r.rest();
                match (t, a.len()) {
                    (IdType::IPV4_ADDR, 4) => {
                        Payload::NatOa(NatOa::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])))
                    }
                    (IdType::IPV6_ADDR, 16) => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(a);
                        Payload::NatOa(NatOa::V6(b.into()))
                    }
                    _ => return Err(r.error(ErrorKind::InvalidValue)),
                }
            }
            t => Payload::Other(t, body.to_vec()),
        })
    }

    pub fn encode_body(&self, w: &mut Writer) {
        match self {
            Payload::Sa(s) => s.encode(w),
            Payload::Id(i) => i.encode(w),
            Payload::Ke(b)
            | Payload::Hash(b)
            | Payload::Nonce(b)
            | Payload::VendorId(b)
            | Payload::NatD(b)
            | Payload::Other(_, b) => w.bytes(b),
            Payload::Notify(n) => {
                w.u32(n.doi);
                w.u8(n.protocol.0);
                w.count_u8(n.spi.len());
                w.u16(n.ty.0);
                w.bytes(&n.spi);
                w.bytes(&n.data);
            }
            Payload::Delete(d) => {
                w.u32(d.doi);
                w.u8(d.protocol.0);
                w.u8(d.spi_size);
                w.count_u16(d.spis.len());
                for s in &d.spis {
                    if s.len() != d.spi_size as usize {
                        w.mark_overflow();
                    }
                    w.bytes(s);
                }
            }
            Payload::NatOa(a) => match a {
                NatOa::V4(x) => {
                    w.u8(IdType::IPV4_ADDR.0);
                    w.zeros(3);
                    w.bytes(&x.octets());
                }
                NatOa::V6(x) => {
                    w.u8(IdType::IPV6_ADDR.0);
                    w.zeros(3);
                    w.bytes(&x.octets());
                }
            },
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::v1::codec::test::sample_payloads;

    #[test]
    fn every_body_round_trips_and_rejects_its_short_prefixes() {
        for p in sample_payloads() {
            let mut w = Writer::new();
            p.encode_body(&mut w);
            let b = w.finish().unwrap();
            assert_eq!(Payload::decode(p.ty(), &b).unwrap(), p);
            let opaque = matches!(
                p,
                Payload::Ke(_)
                    | Payload::Hash(_)
                    | Payload::VendorId(_)
                    | Payload::NatD(_)
                    | Payload::Other(..)
            );
            let fixed = matches!(p, Payload::Delete(_) | Payload::NatOa(_) | Payload::Sa(_));
            if fixed {
                for n in 0..b.len() {
                    assert!(Payload::decode(p.ty(), &b[..n]).is_err(), "{:?} prefix {n}", p.ty());
                }
            } else if !opaque {
                assert!(Payload::decode(p.ty(), &b[..3]).is_err(), "{:?}", p.ty());
            }
        }
        assert!(Payload::decode(PayloadType::NONCE, &[0; 7]).is_err());
        assert!(Payload::decode(PayloadType::D, &[0, 0, 0, 1, 3, 4, 0, 0]).is_err());
        let mut w = Writer::new();
        Payload::Delete(Delete { doi: 1, protocol: ProtocolId::IPSEC_ESP, spi_size: 4, spis: vec![vec![1]] })
            .encode_body(&mut w);
        assert!(w.finish().is_err());
    }
}
