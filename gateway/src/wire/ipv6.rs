//! IPv6 fixed header (RFC 8200).
//!
//! ```text
//!  0               1               2               3
//! +-------+---------------+---------------------------------------+
//! |version| traffic class |              flow label               |
//! +-------+-------+-------+-------+---------------+---------------+
//! |         payload length        |  next header  |   hop limit   |
//! +-------------------------------+---------------+---------------+
//! |                 source address (16 bytes)                     |
//! |               destination address (16 bytes)                 |
//! +---------------------------------------------------------------+
//! ```
//!
//! Contract: after [`Packet::check_len`] succeeds (40-byte header present
//! and `40 + payload_len <= buffer`) no getter panics. The payload is
//! `40..40 + payload_len`, so trailing link-layer padding is excluded.
//! Extension headers are not walked: they are part of the payload and
//! [`Packet::next_header`] names the first one. Jumbograms (RFC 2675) are not
//! supported (a payload length of 0 means an empty payload). The version
//! field is only checked by [`Repr::parse`]. Setters assume a buffer of at
//! least 40 bytes (at least `40 + payload_len` for
//! [`Packet::payload_mut`]) and panic otherwise.

use core::ops::Range;
use std::net::Ipv6Addr;

use super::{Error, IpProtocol, Result};

mod field {
    use core::ops::Range;

    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// Length of the IPv6 fixed header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// Zero-copy view of an IPv6 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without any validation.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Ensure the fixed header and `payload_len` bytes of payload are present
    /// ([`Error::Truncated`] otherwise).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len - HEADER_LEN < usize::from(self.payload_len()) {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Give back the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn first_word(&self) -> u32 {
        let d = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    fn addr_at(&self, r: Range<usize>) -> Ipv6Addr {
        let mut b = [0u8; 16];
        b.copy_from_slice(&self.buffer.as_ref()[r]);
        Ipv6Addr::from(b)
    }

    /// Version field (6 for a valid packet).
    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }

    /// Traffic class (DSCP << 2 | ECN).
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// DSCP part of the traffic class (6 bits).
    pub fn dscp(&self) -> u8 {
        self.traffic_class() >> 2
    }

    /// ECN part of the traffic class (2 bits).
    pub fn ecn(&self) -> u8 {
        self.traffic_class() & 0x03
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    /// Payload length (everything after the fixed header).
    pub fn payload_len(&self) -> u16 {
        let d = &self.buffer.as_ref()[field::LENGTH];
        u16::from_be_bytes([d[0], d[1]])
    }

    /// Type of the header following the fixed header.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[field::NXT_HDR])
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        self.addr_at(field::SRC_ADDR)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.addr_at(field::DST_ADDR)
    }

    /// The payload, `40..40 + payload_len`.
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_first_word(&mut self, value: u32) {
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the version field.
    pub fn set_version(&mut self, value: u8) {
        let w = (self.first_word() & 0x0fff_ffff) | (u32::from(value & 0x0f) << 28);
        self.set_first_word(w);
    }

    /// Set the whole traffic class byte.
    pub fn set_traffic_class(&mut self, value: u8) {
        let w = (self.first_word() & 0xf00f_ffff) | (u32::from(value) << 20);
        self.set_first_word(w);
    }

    /// Set the DSCP (6 bits), keeping ECN.
    pub fn set_dscp(&mut self, value: u8) {
        let tc = (self.traffic_class() & 0x03) | (value << 2);
        self.set_traffic_class(tc);
    }

    /// Set the ECN bits (2 bits), keeping DSCP.
    pub fn set_ecn(&mut self, value: u8) {
        let tc = (self.traffic_class() & 0xfc) | (value & 0x03);
        self.set_traffic_class(tc);
    }

    /// Set the flow label (low 20 bits of `value`).
    pub fn set_flow_label(&mut self, value: u32) {
        let w = (self.first_word() & 0xfff0_0000) | (value & 0x000f_ffff);
        self.set_first_word(w);
    }

    /// Set the payload length.
    pub fn set_payload_len(&mut self, value: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the next header.
    pub fn set_next_header(&mut self, value: IpProtocol) {
        self.buffer.as_mut()[field::NXT_HDR] = value.0;
    }

    /// Set the hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = value;
    }

    /// Decrement the hop limit (no checksum in IPv6). Returns the new value,
    /// or `None` (packet untouched) if it was already 0.
    pub fn decrement_hop_limit(&mut self) -> Option<u8> {
        let new = self.hop_limit().checked_sub(1)?;
        self.set_hop_limit(new);
        Some(new)
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, value: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&value.octets());
    }

    /// Set the destination address.
    pub fn set_dst_addr(&mut self, value: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&value.octets());
    }

    /// Mutable payload, `40..40 + payload_len`.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// High-level representation of an IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub src_addr: Ipv6Addr,
    pub dst_addr: Ipv6Addr,
    pub next_header: IpProtocol,
    /// Payload length in bytes (at most 65535).
    pub payload_len: usize,
    pub hop_limit: u8,
    pub dscp: u8,
    pub ecn: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Repr {
    /// Parse a header. Runs `check_len`, then requires version 6
    /// ([`Error::Malformed`] otherwise).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            flow_label: packet.flow_label(),
        })
    }

    /// Header length (40).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Total packet length: header plus payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Write the fixed header; the payload area is left untouched.
    /// `payload_len` must not exceed 65535 (truncated otherwise).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_first_word(0);
        packet.set_version(6);
        packet.set_dscp(self.dscp);
        packet.set_ecn(self.ecn);
        packet.set_flow_label(self.flow_label);
        packet.set_payload_len(self.payload_len as u16);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::{XorShift, FUZZ_ITERS};

    /// UDP 2001:db8::1:53000 -> 2001:db8::53:53, traffic class 0xb8
    /// (DSCP EF), flow label 0x12345, hop limit 64.
    const IPV6_UDP_PKT: [u8; 59] = [
        0x6b, 0x81, 0x23, 0x45, 0x00, 0x13, 0x11, 0x40, //
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53, //
        0xcf, 0x08, 0x00, 0x35, 0x00, 0x13, 0xc9, 0xe6, //
        0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x69, //
        0x70, 0x76, 0x36,
    ];

    fn src() -> Ipv6Addr {
        "2001:db8::1".parse().unwrap()
    }

    fn dst() -> Ipv6Addr {
        "2001:db8::53".parse().unwrap()
    }

    fn repr() -> Repr {
        Repr {
            src_addr: src(),
            dst_addr: dst(),
            next_header: IpProtocol::UDP,
            payload_len: 19,
            hop_limit: 64,
            dscp: 46,
            ecn: 0,
            flow_label: 0x12345,
        }
    }

    fn exercise<T: AsRef<[u8]>>(p: &Packet<T>) {
        let _ = (p.version(), p.traffic_class(), p.dscp(), p.ecn(), p.flow_label());
        let _ = (p.payload_len(), p.next_header(), p.hop_limit());
        let _ = (p.src_addr(), p.dst_addr(), p.payload().len());
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&IPV6_UDP_PKT[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.dscp(), 46);
        assert_eq!(p.ecn(), 0);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload_len(), 19);
        assert_eq!(p.next_header(), IpProtocol::UDP);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr(), src());
        assert_eq!(p.dst_addr(), dst());
        assert_eq!(p.payload(), &IPV6_UDP_PKT[40..]);
    }

    #[test]
    fn construct() {
        let mut buf = [0xffu8; 59];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(6);
        p.set_traffic_class(0);
        p.set_dscp(46);
        p.set_ecn(0);
        p.set_flow_label(0x12345);
        p.set_payload_len(19);
        p.set_next_header(IpProtocol::UDP);
        p.set_hop_limit(64);
        p.set_src_addr(src());
        p.set_dst_addr(dst());
        p.payload_mut().copy_from_slice(&IPV6_UDP_PKT[40..]);
        assert_eq!(buf, IPV6_UDP_PKT);
    }

    #[test]
    fn field_setters_do_not_clobber_neighbours() {
        let mut buf = IPV6_UDP_PKT;
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_ecn(3);
        assert_eq!((p.version(), p.dscp(), p.ecn(), p.flow_label()), (6, 46, 3, 0x12345));
        p.set_flow_label(0xfff_ffff);
        assert_eq!((p.version(), p.dscp(), p.ecn(), p.flow_label()), (6, 46, 3, 0xfffff));
        p.set_dscp(0x3f);
        assert_eq!(p.traffic_class(), 0xff);
        p.set_version(4);
        assert_eq!((p.version(), p.traffic_class(), p.flow_label()), (4, 0xff, 0xfffff));
    }

    #[test]
    fn parse_repr() {
        let p = Packet::new_checked(&IPV6_UDP_PKT[..]).unwrap();
        assert_eq!(Repr::parse(&p), Ok(repr()));
    }

    #[test]
    fn emit_repr() {
        let mut buf = [0xeeu8; 59];
        buf[40..].copy_from_slice(&IPV6_UDP_PKT[40..]);
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(repr().buffer_len(), 59);
        assert_eq!(buf, IPV6_UDP_PKT);
    }

    #[test]
    fn round_trip() {
        let r = Repr::parse(&Packet::new_checked(&IPV6_UDP_PKT[..]).unwrap()).unwrap();
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Ok(r));

        let mut rng = XorShift::new(0x6666);
        for _ in 0..500 {
            let mut a = [0u8; 16];
            let mut b = [0u8; 16];
            rng.fill(&mut a);
            rng.fill(&mut b);
            let r = Repr {
                src_addr: a.into(),
                dst_addr: b.into(),
                next_header: IpProtocol(rng.byte()),
                payload_len: rng.below(64),
                hop_limit: rng.byte(),
                dscp: rng.byte() & 0x3f,
                ecn: rng.byte() & 0x03,
                flow_label: rng.next_u64() as u32 & 0xfffff,
            };
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Ok(r));
        }
    }

    #[test]
    fn padding_is_excluded_from_payload() {
        let mut buf = [0u8; 80];
        buf[..59].copy_from_slice(&IPV6_UDP_PKT);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.payload(), &IPV6_UDP_PKT[40..]);
    }

    #[test]
    fn bad_version_is_malformed() {
        let mut buf = IPV6_UDP_PKT;
        buf[0] = 0x4b;
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Repr::parse(&p), Err(Error::Malformed));
    }

    #[test]
    fn decrement_hop_limit() {
        let mut buf = IPV6_UDP_PKT;
        let mut p = Packet::new_unchecked(&mut buf[..]);
        assert_eq!(p.decrement_hop_limit(), Some(63));
        p.set_hop_limit(0);
        assert_eq!(p.decrement_hop_limit(), None);
        assert_eq!(p.hop_limit(), 0);
    }

    #[test]
    fn every_prefix() {
        for len in 0..=IPV6_UDP_PKT.len() {
            let prefix = &IPV6_UDP_PKT[..len];
            match Packet::new_checked(prefix) {
                Err(e) => {
                    assert!(len < 59);
                    assert_eq!(e, Error::Truncated);
                }
                Ok(p) => {
                    assert_eq!(len, 59);
                    exercise(&p);
                    assert_eq!(Repr::parse(&p), Ok(repr()));
                }
            }
            assert_eq!(Repr::parse(&Packet::new_unchecked(prefix)).is_ok(), len == 59);
        }
        // A maximal payload length in a short buffer.
        let mut buf = IPV6_UDP_PKT;
        buf[4] = 0xff;
        buf[5] = 0xff;
        assert_eq!(Packet::new_checked(&buf[..]).err(), Some(Error::Truncated));
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift::new(0x1b6);
        let mut parsed = 0;
        for _ in 0..FUZZ_ITERS {
            let buf = rng.fuzz_buffer(&IPV6_UDP_PKT, 96);
            if let Ok(p) = Packet::new_checked(&buf[..]) {
                exercise(&p);
                if let Ok(r) = Repr::parse(&p) {
                    assert_eq!(r.payload_len, p.payload().len());
                    parsed += 1;
                }
            }
            let _ = Repr::parse(&Packet::new_unchecked(&buf[..]));
        }
        assert!(parsed > 1000, "{parsed}");
    }
}
