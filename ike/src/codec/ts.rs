//! Traffic Selector payloads TSi / TSr (RFC 7296 §3.13).
//!
//! ```text
//! Number of TSs | RESERVED(3) | Traffic Selectors...
//! TS Type | IP Protocol ID | Selector Length(2) | Start Port(2) | End Port(2)
//!         | Starting Address | Ending Address
//! ```
//!
//! IPv4 selectors are 16 octets long and IPv6 ones 40; any other length for those types is
//! invalid. Selectors of other types are kept opaque so that they round-trip.

use super::payload::Body;
use super::{ErrorKind, Reader, Result, TsType, Writer};
use std::net::{Ipv4Addr, Ipv6Addr};

const IPV4_LEN: usize = 16;
const IPV6_LEN: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficSelectors {
    pub selectors: Vec<TrafficSelector>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrafficSelector {
    Ipv4 {
        protocol: u8,
        ports: (u16, u16),
        start: Ipv4Addr,
        end: Ipv4Addr,
    },
    Ipv6 {
        protocol: u8,
        ports: (u16, u16),
        start: Ipv6Addr,
        end: Ipv6Addr,
    },
    /// A selector type we do not parse: the octet after the type, and everything after the
    /// Selector Length field.
    Other {
        ty: TsType,
        second: u8,
        data: Vec<u8>,
    },
}

impl TrafficSelector {
    /// Any protocol, any port, the whole IPv4 space.
    pub fn any_v4() -> TrafficSelector {
        TrafficSelector::Ipv4 {
            protocol: 0,
            ports: (0, 65535),
            start: Ipv4Addr::UNSPECIFIED,
            end: Ipv4Addr::BROADCAST,
        }
    }

    pub fn ty(&self) -> TsType {
        match self {
            TrafficSelector::Ipv4 { .. } => TsType::IPV4_ADDR_RANGE,
            TrafficSelector::Ipv6 { .. } => TsType::IPV6_ADDR_RANGE,
            TrafficSelector::Other { ty, .. } => *ty,
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<TrafficSelector> {
        let ty = TsType(r.u8()?);
        let second = r.u8()?;
        let len = r.u16()? as usize;
        if len < 4 {
            return Err(r.error(ErrorKind::BadLength));
        }
        let mut s = r.sub(len - 4, "traffic selector")?;
        let expect = match ty {
            TsType::IPV4_ADDR_RANGE => IPV4_LEN,
            TsType::IPV6_ADDR_RANGE => IPV6_LEN,
            _ => return Ok(TrafficSelector::Other { ty, second, data: s.rest().to_vec() }),
        };
        if len != expect {
            return Err(s.error(ErrorKind::InvalidValue));
        }
        let ports = (s.u16()?, s.u16()?);
        Ok(if ty == TsType::IPV4_ADDR_RANGE {
            let start = Ipv4Addr::from(s.array::<4>()?);
            let end = Ipv4Addr::from(s.array::<4>()?);
            TrafficSelector::Ipv4 { protocol: second, ports, start, end }
        } else {
            let start = Ipv6Addr::from(s.array::<16>()?);
            let end = Ipv6Addr::from(s.array::<16>()?);
            TrafficSelector::Ipv6 { protocol: second, ports, start, end }
        })
    }

    fn encode(&self, w: &mut Writer) {
        let start = w.len();
        w.u8(self.ty().0);
        match self {
            TrafficSelector::Ipv4 { protocol, ports, start: a, end: b } => {
                w.u8(*protocol);
                w.u16(IPV4_LEN as u16);
                w.u16(ports.0);
                w.u16(ports.1);
                w.bytes(&a.octets());
                w.bytes(&b.octets());
            }
            TrafficSelector::Ipv6 { protocol, ports, start: a, end: b } => {
                w.u8(*protocol);
                w.u16(IPV6_LEN as u16);
                w.u16(ports.0);
                w.u16(ports.1);
                w.bytes(&a.octets());
                w.bytes(&b.octets());
            }
            TrafficSelector::Other { second, data, .. } => {
                w.u8(*second);
                let mark = w.len16_from(start);
                w.bytes(data);
                w.patch_len(mark);
            }
        }
    }
}

impl Body for TrafficSelectors {
    fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "TS");
        let count = r.u8()? as usize;
        r.take(3)?;
        if count == 0 {
            return Err(r.error(ErrorKind::InvalidValue));
        }
        let mut selectors = Vec::with_capacity(count);
        for _ in 0..count {
            selectors.push(TrafficSelector::decode(&mut r)?);
        }
        r.expect_end()?;
        Ok(TrafficSelectors { selectors })
    }

    fn encode(&self, w: &mut Writer) {
        if self.selectors.is_empty() {
            w.mark_overflow();
        }
        w.count_u8(self.selectors.len());
        w.zeros(3);
        for s in &self.selectors {
            s.encode(w);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::payload::Payload;
    use crate::codec::test_util::{chain_round_trip, hex};

    fn sample() -> TrafficSelectors {
        TrafficSelectors {
            selectors: vec![
                TrafficSelector::Ipv4 {
                    protocol: 6,
                    ports: (443, 443),
                    start: Ipv4Addr::new(198, 51, 100, 0),
                    end: Ipv4Addr::new(198, 51, 100, 255),
                },
                TrafficSelector::Ipv6 {
                    protocol: 0,
                    ports: (0, 65535),
                    start: "2001:db8::".parse().unwrap(),
                    end: "2001:db8::ffff".parse().unwrap(),
                },
                TrafficSelector::Other { ty: TsType(9), second: 1, data: vec![1, 2, 3, 4] },
            ],
        }
    }

    #[test]
    fn round_trip() {
        chain_round_trip(&[
            Payload::TsI(sample()),
            Payload::TsR(TrafficSelectors { selectors: vec![TrafficSelector::any_v4()] }),
        ]);
    }

    #[test]
    fn wire_format() {
        let ts = TrafficSelectors { selectors: vec![TrafficSelector::any_v4()] };
        let mut w = Writer::new();
        ts.encode(&mut w);
        let b = w.finish().unwrap();
        assert_eq!(b, hex("01000000 07 00 0010 0000 ffff 00000000 ffffffff"));
    }

    #[test]
    fn strictness() {
        // Count says two, one present.
        assert_eq!(
            TrafficSelectors::decode(&hex("02000000 07000010 0000ffff 00000000 ffffffff")).unwrap_err().kind,
            ErrorKind::Truncated
        );
        // Bytes after the last selector.
        assert_eq!(
            TrafficSelectors::decode(&hex("01000000 07000010 0000ffff 00000000 ffffffff 00"))
                .unwrap_err()
                .kind,
            ErrorKind::BadLength
        );
        // IPv4 selector with a wrong length.
        assert_eq!(
            TrafficSelectors::decode(&hex("01000000 07000014 0000ffff 00000000 ffffffff 00000000"))
                .unwrap_err()
                .kind,
            ErrorKind::InvalidValue
        );
        // No selectors.
        assert_eq!(TrafficSelectors::decode(&hex("00000000")).unwrap_err().kind, ErrorKind::InvalidValue);
        // Selector length below its header.
        assert_eq!(
            TrafficSelectors::decode(&hex("01000000 09000003")).unwrap_err().kind,
            ErrorKind::BadLength
        );
    }
}
