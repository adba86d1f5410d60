//! SA, Proposal and Transform payloads with data attributes (RFC 2408 §3.4–3.6, §3.3).
//!
//! ```text
//! SA:        DOI(4) | Situation(4) | Proposal payloads...
//! Proposal:  next(0|2) | RESERVED | length(2) | Proposal # | Protocol-ID | SPI Size | # Transforms
//!            | SPI | Transform payloads...
//! Transform: next(0|3) | RESERVED | length(2) | Transform # | Transform-ID | RESERVED2(2) | attributes
//! Attribute: AF|type(2) | value(2)                        (basic, AF = 1)
//!            AF|type(2) | length(2) | value               (variable, AF = 0)
//! ```
//!
//! Only the IPsec DOI with SIT_IDENTITY_ONLY is parsed (other situations carry labelled-domain
//! data whose length we cannot check); the proposal's transform count must match.

use super::registry::{ProtocolId, DOI_IPSEC, SIT_IDENTITY_ONLY};
use crate::codec::{ErrorKind, Reader, Result, Writer};

const AF: u16 = 0x8000;
const NEXT_PROPOSAL: u8 = 2;
const NEXT_TRANSFORM: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// TV format: a 16-bit value.
    Basic(u16),
    /// TLV format: variable length.
    Var(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute class without the AF bit.
    pub ty: u16,
    pub value: AttrValue,
}

impl Attribute {
    pub fn basic(ty: u16, v: u16) -> Attribute {
        Attribute { ty, value: AttrValue::Basic(v) }
    }

    pub fn var(ty: u16, v: Vec<u8>) -> Attribute {
        Attribute { ty, value: AttrValue::Var(v) }
    }

    /// A number in the shortest form: basic when it fits 16 bits, else a 4- or 8-octet TLV
    /// (how life durations are written).
    pub fn number(ty: u16, v: u64) -> Attribute {
        match u16::try_from(v) {
            Ok(b) => Attribute::basic(ty, b),
            Err(_) => match u32::try_from(v) {
                Ok(x) => Attribute::var(ty, x.to_be_bytes().to_vec()),
                Err(_) => Attribute::var(ty, v.to_be_bytes().to_vec()),
            },
        }
    }

    /// The value as a number, from either format (TLV values of up to 8 octets).
    pub fn as_u64(&self) -> Option<u64> {
        match &self.value {
            AttrValue::Basic(v) => Some(u64::from(*v)),
            AttrValue::Var(b) if !b.is_empty() && b.len() <= 8 => {
                Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
            }
            AttrValue::Var(_) => None,
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Attribute> {
        let t = r.u16()?;
        let v = r.u16()?;
        if t & AF != 0 {
            Ok(Attribute { ty: t & !AF, value: AttrValue::Basic(v) })
        } else {
            Ok(Attribute { ty: t, value: AttrValue::Var(r.take(v as usize)?.to_vec()) })
        }
    }

    fn encode(&self, w: &mut Writer) {
        match &self.value {
            AttrValue::Basic(v) => {
                w.u16(self.ty | AF);
                w.u16(*v);
            }
            AttrValue::Var(b) => {
                w.u16(self.ty & !AF);
                w.count_u16(b.len());
                w.bytes(b);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    pub number: u8,
    /// KEY_IKE for phase 1; an [`super::EspTransformId`] value for ESP.
    pub id: u8,
    pub attributes: Vec<Attribute>,
}

impl Transform {
    /// The first attribute of class `ty`.
    pub fn attr(&self, ty: u16) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.ty == ty)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub number: u8,
    pub protocol: ProtocolId,
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaPayload {
    pub doi: u32,
    pub situation: u32,
    pub proposals: Vec<Proposal>,
}

/// Reads a substructure header (next, reserved, length) and returns (next, body reader).
fn substructure<'a>(r: &mut Reader<'a>, ctx: &'static str) -> Result<(u8, Reader<'a>)> {
    let next = r.u8()?;
    let _reserved = r.u8()?;
    let len = r.u16()? as usize;
    if len < 4 {
        return Err(r.error(ErrorKind::BadLength));
    }
    Ok((next, r.sub(len - 4, ctx)?))
}

impl SaPayload {
    pub fn decode(body: &[u8]) -> Result<SaPayload> {
        let mut r = Reader::new(body, "SA");
        let doi = r.u32()?;
        let situation = r.u32()?;
        if doi != DOI_IPSEC || situation != SIT_IDENTITY_ONLY {
            return Err(r.error(ErrorKind::InvalidValue));
        }
        let mut proposals = Vec::new();
        loop {
            let (next, mut p) = substructure(&mut r, "proposal")?;
            let number = p.u8()?;
            let protocol = ProtocolId(p.u8()?);
            let spi_size = p.u8()? as usize;
            let count = p.u8()? as usize;
            let spi = p.take(spi_size)?.to_vec();
            let mut transforms = Vec::with_capacity(count);
            loop {
                let (tnext, mut t) = substructure(&mut p, "transform")?;
                let tnumber = t.u8()?;
                let id = t.u8()?;
                let _reserved2 = t.u16()?;
                let mut attributes = Vec::new();
                while !t.is_empty() {
                    attributes.push(Attribute::decode(&mut t)?);
                }
                transforms.push(Transform { number: tnumber, id, attributes });
                match tnext {
                    0 => break,
                    NEXT_TRANSFORM => continue,
                    _ => return Err(p.error(ErrorKind::InvalidValue)),
                }
            }
            p.expect_end()?;
            if transforms.len() != count {
                return Err(p.error(ErrorKind::InvalidValue));
            }
            proposals.push(Proposal { number, protocol, spi, transforms });
            match next {
                0 => break,
                NEXT_PROPOSAL => continue,
                _ => return Err(r.error(ErrorKind::InvalidValue)),
            }
        }
        r.expect_end()?;
        Ok(SaPayload { doi, situation, proposals })
    }

    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.doi);
        w.u32(self.situation);
        for (i, p) in self.proposals.iter().enumerate() {
            let start = w.len();
            w.u8(if i + 1 < self.proposals.len() { NEXT_PROPOSAL } else { 0 });
            w.u8(0);
            let mark = w.len16_from(start);
            w.u8(p.number);
            w.u8(p.protocol.0);
            w.count_u8(p.spi.len());
            w.count_u8(p.transforms.len());
            w.bytes(&p.spi);
            for (j, t) in p.transforms.iter().enumerate() {
                let tstart = w.len();
                w.u8(if j + 1 < p.transforms.len() { NEXT_TRANSFORM } else { 0 });
                w.u8(0);
                let tmark = w.len16_from(tstart);
                w.u8(t.number);
                w.u8(t.id);
                w.u16(0);
                for a in &t.attributes {
                    a.encode(w);
                }
                w.patch_len(tmark);
            }
            w.patch_len(mark);
        }
    }

    /// The body bytes (what HASH_I / HASH_R sign as SAi_b).
    pub fn body_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.finish().unwrap_or_default()
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::v1::codec::test::sample_sa;

    #[test]
    fn sa_round_trip_and_prefixes() {
        let sa = sample_sa();
        let b = sa.body_bytes();
        assert_eq!(SaPayload::decode(&b).unwrap(), sa);
        for n in 0..b.len() {
            assert!(SaPayload::decode(&b[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn attributes() {
        assert_eq!(Attribute::number(12, 28800).value, AttrValue::Basic(28800));
        assert_eq!(Attribute::number(12, 86400).value, AttrValue::Var(vec![0, 1, 0x51, 0x80]));
        assert_eq!(Attribute::number(12, 86400).as_u64(), Some(86400));
        assert_eq!(Attribute::var(12, vec![]).as_u64(), None);
        assert_eq!(Attribute::var(12, vec![1; 9]).as_u64(), None);
    }

    #[test]
    fn bad_counts_and_markers() {
        let mut b = sample_sa().body_bytes();
        // Transform count (offset 8 SA + 7 into the proposal) one too many.
        b[15] += 1;
        assert_eq!(SaPayload::decode(&b).unwrap_err().kind, ErrorKind::InvalidValue);
        let mut b = sample_sa().body_bytes();
        b[4..8].copy_from_slice(&2u32.to_be_bytes());
        assert!(SaPayload::decode(&b).is_err());
        let mut b = sample_sa().body_bytes();
        b[8] = 5;
        assert!(SaPayload::decode(&b).is_err());
    }
}
