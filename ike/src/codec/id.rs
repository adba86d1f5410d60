//! Identification payloads IDi / IDr (RFC 7296 §3.5).
//!
//! ```text
//! ID Type | RESERVED(3) | Identification Data
//! ```
//!
//! Address types must have exactly the address length; FQDN and RFC 822 names must be
//! non-empty UTF-8 without control characters (the RFC forbids terminators such as NUL or CR).

use super::payload::Body;
use super::{ErrorKind, IdType, Reader, Result, Writer};
use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identification {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Fqdn(String),
    Rfc822(String),
    KeyId(Vec<u8>),
    DerAsn1Dn(Vec<u8>),
    DerAsn1Gn(Vec<u8>),
    /// Any other ID type, data kept as is.
    Other(IdType, Vec<u8>),
}

impl Identification {
    pub fn id_type(&self) -> IdType {
        match self {
            Identification::Ipv4(_) => IdType::IPV4_ADDR,
            Identification::Ipv6(_) => IdType::IPV6_ADDR,
            Identification::Fqdn(_) => IdType::FQDN,
            Identification::Rfc822(_) => IdType::RFC822_ADDR,
            Identification::KeyId(_) => IdType::KEY_ID,
            Identification::DerAsn1Dn(_) => IdType::DER_ASN1_DN,
            Identification::DerAsn1Gn(_) => IdType::DER_ASN1_GN,
            Identification::Other(t, _) => *t,
        }
    }

    fn data(&self) -> Vec<u8> {
        match self {
            Identification::Ipv4(a) => a.octets().to_vec(),
            Identification::Ipv6(a) => a.octets().to_vec(),
            Identification::Fqdn(s) | Identification::Rfc822(s) => s.as_bytes().to_vec(),
            Identification::KeyId(d)
            | Identification::DerAsn1Dn(d)
            | Identification::DerAsn1Gn(d)
            | Identification::Other(_, d) => d.clone(),
        }
    }

    /// The payload body (ID Type, RESERVED, data): what the AUTH computation signs as
    /// `RestOfInitIDPayload` / `RestOfRespIDPayload` (RFC 7296 §2.15).
    pub fn body_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.finish().unwrap_or_default()
    }
}

fn name(r: &Reader<'_>, data: &[u8]) -> Result<String> {
    let s = core::str::from_utf8(data).map_err(|_| r.error(ErrorKind::InvalidValue))?;
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err(r.error(ErrorKind::InvalidValue));
    }
    Ok(s.to_owned())
}

impl Body for Identification {
    fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "ID");
        let ty = IdType(r.u8()?);
        r.take(3)?;
        let data = r.rest();
        let bad = || r.error(ErrorKind::InvalidValue);
        Ok(match ty {
            IdType::IPV4_ADDR => Identification::Ipv4(<[u8; 4]>::try_from(data).map_err(|_| bad())?.into()),
            IdType::IPV6_ADDR => Identification::Ipv6(<[u8; 16]>::try_from(data).map_err(|_| bad())?.into()),
            IdType::FQDN => Identification::Fqdn(name(&r, data)?),
            IdType::RFC822_ADDR => Identification::Rfc822(name(&r, data)?),
            IdType::KEY_ID => Identification::KeyId(data.to_vec()),
            IdType::DER_ASN1_DN => Identification::DerAsn1Dn(data.to_vec()),
            IdType::DER_ASN1_GN => Identification::DerAsn1Gn(data.to_vec()),
            t => Identification::Other(t, data.to_vec()),
        })
    }

    fn encode(&self, w: &mut Writer) {
        w.u8(self.id_type().0);
        w.zeros(3);
        w.bytes(&self.data());
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::payload::Payload;
    use crate::codec::test_util::{chain_round_trip, hex};

    #[test]
    fn every_id_type_round_trips() {
        chain_round_trip(&[
            Payload::IdI(Identification::Ipv4(Ipv4Addr::new(192, 0, 2, 1))),
            Payload::IdR(Identification::Ipv6("2001:db8::1".parse().unwrap())),
            Payload::IdI(Identification::Fqdn("gw.example.net".into())),
            Payload::IdI(Identification::Rfc822("alice@example.net".into())),
            Payload::IdI(Identification::KeyId(vec![0xde, 0xad])),
            Payload::IdI(Identification::DerAsn1Dn(vec![0x30, 0x00])),
            Payload::IdI(Identification::DerAsn1Gn(vec![0x30, 0x01, 0x00])),
            Payload::IdI(Identification::Other(IdType(200), vec![1])),
        ]);
    }

    #[test]
    fn wire_format() {
        let id = Identification::Ipv4(Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(id.body_bytes(), hex("01000000 c6336407"));
        assert_eq!(Identification::decode(&hex("01000000 c6336407")).unwrap(), id);
        assert_eq!(Identification::Fqdn("a.b".into()).body_bytes(), hex("02000000 612e62"));
    }

    #[test]
    fn strictness() {
        for bad in [
            "01000000 c63364",
            "01000000 c6336407 00",
            "05000000 20010db8",
            "02000000",
            "02000000 6100",
            "03000000 ff",
        ] {
            assert_eq!(Identification::decode(&hex(bad)).unwrap_err().kind, ErrorKind::InvalidValue, "{bad}");
        }
        assert_eq!(Identification::decode(&hex("010000")).unwrap_err().kind, ErrorKind::Truncated);
    }
}
