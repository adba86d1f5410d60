//! Identification payload of the IPsec DOI (RFC 2407 §4.6.2) and its two uses: the phase 1
//! identity (IDii / IDir) and the quick mode proxy identities (IDci / IDcr).
//!
//! ```text
//! ID Type | Protocol ID | Port(2) | Identification Data
//! ```
//!
//! Address types must have exactly the address length (subnets: address then mask, ranges:
//! start then end); names must be non-empty, printable UTF-8.

use super::registry::IdType;
use crate::codec::id::Identification;
use crate::codec::ts::TrafficSelector;
use crate::codec::{ErrorKind, Reader, Result, Writer};
use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Id {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Fqdn(String),
    UserFqdn(String),
    /// Address and mask.
    Ipv4Subnet(Ipv4Addr, Ipv4Addr),
    Ipv6Subnet(Ipv6Addr, Ipv6Addr),
    /// First and last address.
    Ipv4Range(Ipv4Addr, Ipv4Addr),
    Ipv6Range(Ipv6Addr, Ipv6Addr),
    KeyId(Vec<u8>),
    /// Any other type (DER names among them), data as is.
    Other(IdType, Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPayload {
    /// IP protocol (0 = any).
    pub protocol: u8,
    /// Port (0 = any).
    pub port: u16,
    pub id: Id,
}

fn name(data: &[u8], r: &Reader<'_>) -> Result<String> {
    match core::str::from_utf8(data) {
        Ok(s) if !s.is_empty() && !s.chars().any(char::is_control) => Ok(s.to_owned()),
        _ => Err(r.error(ErrorKind::InvalidValue)),
    }
}

fn v4(b: &[u8]) -> Ipv4Addr {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    a.into()
}

fn v6(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    a.into()
}

impl Id {
    pub fn id_type(&self) -> IdType {
        match self {
            Id::Ipv4(_) => IdType::IPV4_ADDR,
            Id::Ipv6(_) => IdType::IPV6_ADDR,
            Id::Fqdn(_) => IdType::FQDN,
            Id::UserFqdn(_) => IdType::USER_FQDN,
            Id::Ipv4Subnet(..) => IdType::IPV4_ADDR_SUBNET,
            Id::Ipv6Subnet(..) => IdType::IPV6_ADDR_SUBNET,
            Id::Ipv4Range(..) => IdType::IPV4_ADDR_RANGE,
            Id::Ipv6Range(..) => IdType::IPV6_ADDR_RANGE,
            Id::KeyId(_) => IdType::KEY_ID,
            Id::Other(t, _) => *t,
        }
    }

    fn data(&self) -> Vec<u8> {
        match self {
            Id::Ipv4(a) => a.octets().to_vec(),
            Id::Ipv6(a) => a.octets().to_vec(),
            Id::Fqdn(s) | Id::UserFqdn(s) => s.as_bytes().to_vec(),
            Id::Ipv4Subnet(a, b) | Id::Ipv4Range(a, b) => [a.octets(), b.octets()].concat(),
            Id::Ipv6Subnet(a, b) | Id::Ipv6Range(a, b) => [a.octets(), b.octets()].concat(),
            Id::KeyId(d) | Id::Other(_, d) => d.clone(),
        }
    }

    /// The phase 1 form of an IKEv2-style identity (same types, RFC 822 = USER_FQDN).
    pub fn from_identification(i: &Identification) -> Id {
        match i {
            Identification::Ipv4(a) => Id::Ipv4(*a),
            Identification::Ipv6(a) => Id::Ipv6(*a),
            Identification::Fqdn(s) => Id::Fqdn(s.clone()),
            Identification::Rfc822(s) => Id::UserFqdn(s.clone()),
            Identification::KeyId(d) => Id::KeyId(d.clone()),
            Identification::DerAsn1Dn(d) => Id::Other(IdType::DER_ASN1_DN, d.clone()),
            Identification::DerAsn1Gn(d) => Id::Other(IdType::DER_ASN1_GN, d.clone()),
            Identification::Other(t, d) => Id::Other(IdType(t.0), d.clone()),
        }
    }
}

/// The prefix length of a contiguous mask.
fn prefix_of(mask: &[u8]) -> Option<u32> {
    let bits: u32 = mask.iter().map(|b| b.count_ones()).sum();
    let ok = mask.iter().enumerate().all(|(i, &b)| {
        let want = bits.saturating_sub(8 * i as u32).min(8);
        b == if want == 0 { 0 } else { 0xffu8 << (8 - want) }
    });
    ok.then_some(bits)
}

fn mask_v4(prefix: u32) -> Ipv4Addr {
    Ipv4Addr::from(if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) })
}

fn mask_v6(prefix: u32) -> Ipv6Addr {
    Ipv6Addr::from(if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) })
}

impl IdPayload {
    pub fn decode(body: &[u8]) -> Result<IdPayload> {
        let mut r = Reader::new(body, "ID");
        let ty = IdType(r.u8()?);
        let protocol = r.u8()?;
        let port = r.u16()?;
        let data = r.rest();
        let want = match ty {
            IdType::IPV4_ADDR => Some(4),
            IdType::IPV6_ADDR => Some(16),
            IdType::IPV4_ADDR_SUBNET | IdType::IPV4_ADDR_RANGE => Some(8),
            IdType::IPV6_ADDR_SUBNET | IdType::IPV6_ADDR_RANGE => Some(32),
            _ => None,
        };
        if want.is_some_and(|n| n != data.len()) {
            return Err(r.error(ErrorKind::InvalidValue));
        }
        let id = match ty {
            IdType::IPV4_ADDR => Id::Ipv4(v4(data)),
            IdType::IPV6_ADDR => Id::Ipv6(v6(data)),
            IdType::IPV4_ADDR_SUBNET => Id::Ipv4Subnet(v4(data), v4(&data[4..])),
            IdType::IPV4_ADDR_RANGE => Id::Ipv4Range(v4(data), v4(&data[4..])),
            IdType::IPV6_ADDR_SUBNET => Id::Ipv6Subnet(v6(data), v6(&data[16..])),
            IdType::IPV6_ADDR_RANGE => Id::Ipv6Range(v6(data), v6(&data[16..])),
            IdType::FQDN => Id::Fqdn(name(data, &r)?),
            IdType::USER_FQDN => Id::UserFqdn(name(data, &r)?),
            IdType::KEY_ID => Id::KeyId(data.to_vec()),
            t => Id::Other(t, data.to_vec()),
        };
        Ok(IdPayload { protocol, port, id })
    }

    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.id.id_type().0);
        w.u8(self.protocol);
        w.u16(self.port);
        w.bytes(&self.id.data());
    }

    /// The body bytes (IDii_b / IDir_b in HASH_I / HASH_R).
    pub fn body_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.finish().unwrap_or_default()
    }

    /// A quick mode proxy identity for a traffic selector. One port or all ports only (an ID
    /// carries a single port); the address range becomes a host, a subnet when it is one, or
    /// a range.
    pub fn from_ts(ts: &TrafficSelector) -> Option<IdPayload> {
        let (protocol, ports) = match ts {
            TrafficSelector::Ipv4 { protocol, ports, .. } | TrafficSelector::Ipv6 { protocol, ports, .. } => {
                (*protocol, *ports)
            }
            TrafficSelector::Other { .. } => return None,
        };
        let port = match ports {
            (0, 65535) => 0,
            (a, b) if a == b => a,
            _ => return None,
        };
        let id = match ts {
            TrafficSelector::Ipv4 { start, end, .. } => {
                let (s, e) = (u32::from(*start), u32::from(*end));
                let span = e.wrapping_sub(s);
                if s == e {
                    Id::Ipv4(*start)
                } else if s <= e && (span.wrapping_add(1) & span) == 0 && s & span == 0 {
                    Id::Ipv4Subnet(*start, mask_v4(32 - (span.wrapping_add(1)).trailing_zeros().min(32)))
                } else {
                    Id::Ipv4Range(*start, *end)
                }
            }
            TrafficSelector::Ipv6 { start, end, .. } => {
                let (s, e) = (u128::from(*start), u128::from(*end));
                let span = e.wrapping_sub(s);
                if s == e {
                    Id::Ipv6(*start)
                } else if s <= e && (span.wrapping_add(1) & span) == 0 && s & span == 0 {
                    Id::Ipv6Subnet(*start, mask_v6(128 - (span.wrapping_add(1)).trailing_zeros().min(128)))
                } else {
                    Id::Ipv6Range(*start, *end)
                }
            }
            TrafficSelector::Other { .. } => return None,
        };
        Some(IdPayload { protocol, port, id })
    }

    /// The traffic selector a proxy identity stands for (None for names and bad masks).
    pub fn to_ts(&self) -> Option<TrafficSelector> {
        let protocol = self.protocol;
        let ports = if self.port == 0 { (0, 65535) } else { (self.port, self.port) };
        Some(match &self.id {
            Id::Ipv4(a) => TrafficSelector::Ipv4 { protocol, ports, start: *a, end: *a },
            Id::Ipv6(a) => TrafficSelector::Ipv6 { protocol, ports, start: *a, end: *a },
            Id::Ipv4Range(a, b) => TrafficSelector::Ipv4 { protocol, ports, start: *a, end: *b },
            Id::Ipv6Range(a, b) => TrafficSelector::Ipv6 { protocol, ports, start: *a, end: *b },
            Id::Ipv4Subnet(a, m) => {
                prefix_of(&m.octets())?;
                let (a, m) = (u32::from(*a), u32::from(*m));
                TrafficSelector::Ipv4 { protocol, ports, start: (a & m).into(), end: (a | !m).into() }
            }
            Id::Ipv6Subnet(a, m) => {
                prefix_of(&m.octets())?;
                let (a, m) = (u128::from(*a), u128::from(*m));
                TrafficSelector::Ipv6 { protocol, ports, start: (a & m).into(), end: (a | !m).into() }
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn rt(p: IdPayload) {
        let b = p.body_bytes();
        assert_eq!(IdPayload::decode(&b).unwrap(), p);
        for n in 0..4 {
            assert!(IdPayload::decode(&b[..n]).is_err());
        }
    }

    #[test]
    fn round_trips() {
        let a = Ipv4Addr::new(10, 1, 0, 0);
        let six: Ipv6Addr = "2001:db8::1".parse().unwrap();
        for id in [
            Id::Ipv4(a),
            Id::Ipv6(six),
            Id::Fqdn("vpn.example.net".into()),
            Id::UserFqdn("admin@example.net".into()),
            Id::Ipv4Subnet(a, Ipv4Addr::new(255, 255, 0, 0)),
            Id::Ipv4Range(a, Ipv4Addr::new(10, 1, 0, 9)),
            Id::Ipv6Subnet(six, mask_v6(64)),
            Id::Ipv6Range(six, "2001:db8::9".parse().unwrap()),
            Id::KeyId(vec![1, 2]),
            Id::Other(IdType::DER_ASN1_DN, vec![0x30, 0]),
        ] {
            rt(IdPayload { protocol: 17, port: 500, id });
        }
        assert!(IdPayload::decode(&[1, 0, 0, 0, 1, 2, 3]).is_err());
        assert!(IdPayload::decode(&[2, 0, 0, 0]).is_err());
        assert!(IdPayload::decode(&[2, 0, 0, 0, b'a', 0]).is_err());
    }

    #[test]
    fn traffic_selectors() {
        let ts = TrafficSelector::Ipv4 {
            protocol: 0,
            ports: (0, 65535),
            start: Ipv4Addr::new(10, 1, 0, 0),
            end: Ipv4Addr::new(10, 1, 255, 255),
        };
        let id = IdPayload::from_ts(&ts).unwrap();
        assert_eq!(id.id, Id::Ipv4Subnet(Ipv4Addr::new(10, 1, 0, 0), Ipv4Addr::new(255, 255, 0, 0)));
        assert_eq!(id.to_ts().unwrap(), ts);
        let host = TrafficSelector::Ipv4 {
            protocol: 6,
            ports: (443, 443),
            start: Ipv4Addr::new(10, 1, 2, 3),
            end: Ipv4Addr::new(10, 1, 2, 3),
        };
        let id = IdPayload::from_ts(&host).unwrap();
        assert_eq!((id.protocol, id.port, &id.id), (6, 443, &Id::Ipv4(Ipv4Addr::new(10, 1, 2, 3))));
        assert_eq!(id.to_ts().unwrap(), host);
        let range = TrafficSelector::Ipv4 {
            protocol: 0,
            ports: (0, 65535),
            start: Ipv4Addr::new(10, 1, 0, 1),
            end: Ipv4Addr::new(10, 1, 0, 6),
        };
        assert!(matches!(IdPayload::from_ts(&range).unwrap().id, Id::Ipv4Range(..)));
        assert_eq!(
            IdPayload::from_ts(&TrafficSelector::any_v4()).unwrap().id,
            Id::Ipv4Subnet(0.into(), 0.into())
        );
        let bad =
            IdPayload { protocol: 0, port: 0, id: Id::Ipv4Subnet(0.into(), Ipv4Addr::new(255, 0, 255, 0)) };
        assert!(bad.to_ts().is_none());
        let ports = TrafficSelector::Ipv4 { protocol: 6, ports: (1, 2), start: 0.into(), end: 0.into() };
        assert!(IdPayload::from_ts(&ports).is_none());
    }
}
