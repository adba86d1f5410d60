//! Security Association payload (RFC 7296 §3.3): proposals, transforms and attributes.
//!
//! ```text
//! Proposal:   Last Substruc(0|2) | RESERVED | Proposal Length(2)
//!             Proposal Num | Protocol ID | SPI Size | Num Transforms | SPI | Transforms...
//! Transform:  Last Substruc(0|3) | RESERVED | Transform Length(2)
//!             Transform Type | RESERVED | Transform ID(2) | Attributes...
//! Attribute:  A|Type(15) | Length or Value(2) | [Value]
//! ```
//!
//! Strict: a "last substructure" marker must match the position (a proposal that says "more
//! follow" must be followed by one, and the last must say 0), Num Transforms must equal the
//! transforms present, lengths must cover their fixed parts, and Key Length must use the TV form.

use super::payload::Body;
use super::{
    AttributeType, DhGroup, EncrId, ErrorKind, EsnId, IntegId, PrfId, ProtocolId, Reader, Result,
    TransformType, Writer,
};

const MORE_PROPOSALS: u8 = 2;
const MORE_TRANSFORMS: u8 = 3;
const LAST: u8 = 0;
const AF_TV: u16 = 0x8000;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityAssociation {
    pub proposals: Vec<Proposal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub number: u8,
    pub protocol: ProtocolId,
    /// Empty in IKE_SA_INIT, 8 octets for an IKE SA rekey, 4 for ESP / AH.
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    pub ty: TransformType,
    pub id: u16,
    pub attributes: Vec<Attribute>,
}

/// A transform attribute: TV (two-octet value) or TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub ty: AttributeType,
    pub value: AttributeValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    Tv(u16),
    Tlv(Vec<u8>),
}

impl Transform {
    pub fn new(ty: TransformType, id: u16) -> Transform {
        Transform { ty, id, attributes: Vec::new() }
    }

    /// An encryption transform, with a Key Length attribute when `key_bits` is given.
    pub fn encr(id: EncrId, key_bits: Option<u16>) -> Transform {
        let attributes = key_bits
            .map(|k| vec![Attribute { ty: AttributeType::KEY_LENGTH, value: AttributeValue::Tv(k) }])
            .unwrap_or_default();
        Transform { ty: TransformType::ENCR, id: id.0, attributes }
    }

    pub fn prf(id: PrfId) -> Transform {
        Transform::new(TransformType::PRF, id.0)
    }

    pub fn integ(id: IntegId) -> Transform {
        Transform::new(TransformType::INTEG, id.0)
    }

    pub fn dh(group: DhGroup) -> Transform {
        Transform::new(TransformType::DH, group.0)
    }

    pub fn esn(id: EsnId) -> Transform {
        Transform::new(TransformType::ESN, id.0)
    }

    /// The Key Length attribute, in bits.
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match (a.ty, &a.value) {
            (AttributeType::KEY_LENGTH, AttributeValue::Tv(v)) => Some(*v),
            _ => None,
        })
    }

    fn decode(r: &mut Reader<'_>) -> Result<Transform> {
        let ty = TransformType(r.u8()?);
        r.u8()?; // RESERVED
        let id = r.u16()?;
        let mut attributes = Vec::new();
        while !r.is_empty() {
            let t = r.u16()?;
            let ty = AttributeType(t & !AF_TV);
            let value = if t & AF_TV != 0 {
                AttributeValue::Tv(r.u16()?)
            } else {
                if ty == AttributeType::KEY_LENGTH {
                    return Err(r.error(ErrorKind::InvalidValue));
                }
                let len = r.u16()? as usize;
                AttributeValue::Tlv(r.take(len)?.to_vec())
            };
            attributes.push(Attribute { ty, value });
        }
        Ok(Transform { ty, id, attributes })
    }

    fn encode(&self, last: bool, w: &mut Writer) {
        let start = w.len();
        w.u8(if last { LAST } else { MORE_TRANSFORMS });
        w.u8(0);
        let mark = w.len16_from(start);
        w.u8(self.ty.0);
        w.u8(0);
        w.u16(self.id);
        for a in &self.attributes {
            match &a.value {
                AttributeValue::Tv(v) => {
                    w.u16(AF_TV | (a.ty.0 & !AF_TV));
                    w.u16(*v);
                }
                AttributeValue::Tlv(v) => {
                    w.u16(a.ty.0 & !AF_TV);
                    w.count_u16(v.len());
                    w.bytes(v);
                }
            }
        }
        w.patch_len(mark);
    }
}

impl Proposal {
    /// The transforms of one type, in order.
    pub fn transforms_of(&self, ty: TransformType) -> impl Iterator<Item = &Transform> {
        self.transforms.iter().filter(move |t| t.ty == ty)
    }

    fn decode(r: &mut Reader<'_>) -> Result<Proposal> {
        let number = r.u8()?;
        let protocol = ProtocolId(r.u8()?);
        let spi_size = r.u8()? as usize;
        let count = r.u8()? as usize;
        let spi = r.take(spi_size)?.to_vec();
        let mut transforms = Vec::with_capacity(count);
        let mut more = !r.is_empty();
        while more {
            let last = r.u8()?;
            r.u8()?; // RESERVED
            let len = r.u16()? as usize;
            if len < 8 {
                return Err(r.error(ErrorKind::BadLength));
            }
            let mut t = r.sub(len - 4, "transform")?;
            transforms.push(Transform::decode(&mut t)?);
            more = match last {
                MORE_TRANSFORMS => true,
                LAST => false,
                _ => return Err(r.error(ErrorKind::InvalidValue)),
            };
            if more == r.is_empty() {
                return Err(r.error(if more { ErrorKind::Truncated } else { ErrorKind::BadLength }));
            }
        }
        if transforms.len() != count {
            return Err(r.error(ErrorKind::InvalidValue));
        }
        Ok(Proposal { number, protocol, spi, transforms })
    }

    fn encode(&self, last: bool, w: &mut Writer) {
        let start = w.len();
        w.u8(if last { LAST } else { MORE_PROPOSALS });
        w.u8(0);
        let mark = w.len16_from(start);
        w.u8(self.number);
        w.u8(self.protocol.0);
        w.count_u8(self.spi.len());
        w.count_u8(self.transforms.len());
        w.bytes(&self.spi);
        for (i, t) in self.transforms.iter().enumerate() {
            t.encode(i + 1 == self.transforms.len(), w);
        }
        w.patch_len(mark);
    }
}

impl Body for SecurityAssociation {
    fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "SA");
        let mut proposals = Vec::new();
        if r.is_empty() {
            return Err(r.error(ErrorKind::Truncated));
        }
        loop {
            let last = r.u8()?;
            r.u8()?; // RESERVED
            let len = r.u16()? as usize;
            if len < 8 {
                return Err(r.error(ErrorKind::BadLength));
            }
            let mut p = r.sub(len - 4, "proposal")?;
            proposals.push(Proposal::decode(&mut p)?);
            match last {
                LAST if r.is_empty() => return Ok(SecurityAssociation { proposals }),
                LAST => return Err(r.error(ErrorKind::BadLength)),
                MORE_PROPOSALS if r.is_empty() => return Err(r.error(ErrorKind::Truncated)),
                MORE_PROPOSALS => {}
                _ => return Err(r.error(ErrorKind::InvalidValue)),
            }
        }
    }

    fn encode(&self, w: &mut Writer) {
        if self.proposals.is_empty() {
            w.mark_overflow();
        }
        for (i, p) in self.proposals.iter().enumerate() {
            p.encode(i + 1 == self.proposals.len(), w);
        }
    }
}

#[cfg(test)]
pub(crate) mod test {
    use super::*;
    use crate::codec::payload::Payload;
    use crate::codec::test_util::{chain_round_trip, hex, XorShift};

    /// IKE proposals as strongSwan's default-ish offer: AES-GCM first, then AES-CBC + HMAC.
    pub fn ike_sa() -> SecurityAssociation {
        SecurityAssociation {
            proposals: vec![
                Proposal {
                    number: 1,
                    protocol: ProtocolId::IKE,
                    spi: vec![],
                    transforms: vec![
                        Transform::encr(EncrId::AES_GCM_16, Some(256)),
                        Transform::encr(EncrId::AES_GCM_16, Some(128)),
                        Transform::prf(PrfId::HMAC_SHA2_256),
                        Transform::dh(DhGroup::CURVE25519),
                        Transform::dh(DhGroup::ECP_256),
                    ],
                },
                Proposal {
                    number: 2,
                    protocol: ProtocolId::IKE,
                    spi: vec![],
                    transforms: vec![
                        Transform::encr(EncrId::AES_CBC, Some(128)),
                        Transform::prf(PrfId::HMAC_SHA2_256),
                        Transform::integ(IntegId::HMAC_SHA2_256_128),
                        Transform::dh(DhGroup::MODP_2048),
                    ],
                },
            ],
        }
    }

    pub fn esp_sa() -> SecurityAssociation {
        SecurityAssociation {
            proposals: vec![Proposal {
                number: 1,
                protocol: ProtocolId::ESP,
                spi: vec![0xc1, 0x2a, 0x00, 0x07],
                transforms: vec![
                    Transform::encr(EncrId::AES_GCM_16, Some(128)),
                    Transform::esn(EsnId::NO_ESN),
                    Transform::esn(EsnId::ESN),
                ],
            }],
        }
    }

    #[test]
    fn round_trip() {
        chain_round_trip(&[Payload::Sa(ike_sa()), Payload::Sa(esp_sa())]);
    }

    #[test]
    fn wire_format_of_one_transform() {
        let sa = SecurityAssociation {
            proposals: vec![Proposal {
                number: 1,
                protocol: ProtocolId::IKE,
                spi: vec![],
                transforms: vec![Transform::encr(EncrId::AES_CBC, Some(128))],
            }],
        };
        let mut w = Writer::new();
        sa.encode(&mut w);
        let b = w.finish().unwrap();
        assert_eq!(b, hex("00 00 0014 01 01 00 01   00 00 000c 01 00 000c 800e 0080"));
        assert_eq!(SecurityAssociation::decode(&b).unwrap(), sa);
        assert_eq!(sa.proposals[0].transforms[0].key_length(), Some(128));
    }

    #[test]
    fn strictness() {
        let good = hex("00 00 0014 01 01 00 01   00 00 000c 01 00 000c 800e 0080");
        let mut b = good.clone();
        b[0] = 2; // says more proposals, none follow
        assert_eq!(SecurityAssociation::decode(&b).unwrap_err().kind, ErrorKind::Truncated);
        let mut b = good.clone();
        b[0] = 1; // not a valid marker
        assert_eq!(SecurityAssociation::decode(&b).unwrap_err().kind, ErrorKind::InvalidValue);
        let mut b = good.clone();
        b[7] = 2; // Num Transforms 2, one present
        assert_eq!(SecurityAssociation::decode(&b).unwrap_err().kind, ErrorKind::InvalidValue);
        let mut b = good.clone();
        b[8] = 3; // transform says more follow
        assert_eq!(SecurityAssociation::decode(&b).unwrap_err().kind, ErrorKind::Truncated);
        let mut b = good.clone();
        b[16] = 0x00; // Key Length as TLV
        assert_eq!(SecurityAssociation::decode(&b).unwrap_err().kind, ErrorKind::InvalidValue);
        let mut b = good.clone();
        b[3] = 0x13; // proposal length one short
        assert!(SecurityAssociation::decode(&b).is_err());
        let mut b = good.clone();
        b[11] = 7; // transform length below its fixed part
        assert_eq!(SecurityAssociation::decode(&b).unwrap_err().kind, ErrorKind::BadLength);
        assert!(SecurityAssociation::decode(&[]).is_err());
        // Reserved octets are ignored on receipt.
        let mut b = good.clone();
        b[1] = 0xff;
        b[13] = 0xff;
        assert!(SecurityAssociation::decode(&b).is_ok());
    }

    #[test]
    fn unknown_transforms_and_tlv_attributes_survive() {
        let sa = SecurityAssociation {
            proposals: vec![Proposal {
                number: 9,
                protocol: ProtocolId(77),
                spi: vec![1; 8],
                transforms: vec![Transform {
                    ty: TransformType(99),
                    id: 4242,
                    attributes: vec![
                        Attribute { ty: AttributeType(300), value: AttributeValue::Tlv(vec![1, 2, 3]) },
                        Attribute { ty: AttributeType(301), value: AttributeValue::Tv(5) },
                    ],
                }],
            }],
        };
        chain_round_trip(&[Payload::Sa(sa)]);
    }

    #[test]
    fn fuzz_no_panic() {
        let mut w = Writer::new();
        ike_sa().encode(&mut w);
        let good = w.finish().unwrap();
        let mut rng = XorShift::new(0x5a);
        for _ in 0..20_000 {
            let mut b = good.clone();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            let n = rng.below(b.len() + 1);
            let _ = SecurityAssociation::decode(&b[..n]);
        }
    }
}
