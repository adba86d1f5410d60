//! UDP header (RFC 768), over IPv4 or IPv6.
//!
//! ```text
//!  0               2               4               6               8
//! +---------------+---------------+---------------+---------------+
//! |  source port  |   dest port   |    length     |   checksum    |
//! +---------------+---------------+---------------+---------------+
//! ```
//!
//! Contract: after [`Packet::check_len`] succeeds (8-byte header present,
//! `8 <= length <= buffer`) no getter panics. The payload is `8..length`, so
//! bytes after the datagram are excluded. IPv6 jumbograms (length 0) are not
//! supported and are [`Error::Malformed`].
//!
//! The checksum covers the IP pseudo-header, so [`Repr::parse`] does **not**
//! verify it; call [`Packet::verify_checksum`] with the IP addresses. On
//! IPv4 a zero checksum means "not computed" and verifies; on IPv6 it is
//! invalid (RFC 8200 section 8.1). [`Repr::emit`] always computes a
//! checksum. Setters assume a buffer of at least 8 bytes (at least `length`
//! for [`Packet::fill_checksum`] and [`Packet::payload_mut`]) and panic
//! otherwise.

use core::ops::Range;
use std::net::IpAddr;

use super::checksum;
use super::{Error, IpProtocol, Result};

mod field {
    use core::ops::Range;

    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// Length of the UDP header.
pub const HEADER_LEN: usize = field::CHECKSUM.end;

/// Zero-copy view of a UDP datagram.
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

    /// Buffer shorter than 8 bytes or than `length`: [`Error::Truncated`];
    /// `length < 8`: [`Error::Malformed`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let udp_len = usize::from(self.len());
        if udp_len < HEADER_LEN {
            Err(Error::Malformed)
        } else if udp_len > len {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Give back the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, r: Range<usize>) -> u16 {
        let d = &self.buffer.as_ref()[r];
        u16::from_be_bytes([d[0], d[1]])
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT)
    }

    /// Length field: header plus payload.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// Verify the checksum against the pseudo-header built from `src` and
    /// `dst` (which must be the addresses of the enclosing IP header).
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        if self.checksum() == 0 {
            // "No checksum" is only allowed over IPv4.
            return src.is_ipv4() && dst.is_ipv4();
        }
        let data = &self.buffer.as_ref()[..usize::from(self.len())];
        let ph = checksum::pseudo_header(src, dst, IpProtocol::UDP, u32::from(self.len()));
        !checksum::combine(&[ph, checksum::sum(data)]) == 0
    }

    /// The payload, `8..length`.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_u16_at(&mut self, r: Range<usize>, value: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the source port.
    pub fn set_src_port(&mut self, value: u16) {
        self.set_u16_at(field::SRC_PORT, value);
    }

    /// Set the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        self.set_u16_at(field::DST_PORT, value);
    }

    /// Set the length field.
    pub fn set_len(&mut self, value: u16) {
        self.set_u16_at(field::LENGTH, value);
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.set_u16_at(field::CHECKSUM, value);
    }

    /// Compute and store the checksum over pseudo-header and `length`
    /// bytes. A computed value of 0 is stored as 0xffff (RFC 768).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let len = self.len();
        let data = &self.buffer.as_ref()[..usize::from(len)];
        let ph = checksum::pseudo_header(src, dst, IpProtocol::UDP, u32::from(len));
        let ck = !checksum::combine(&[ph, checksum::sum(data)]);
        self.set_checksum(if ck == 0 { 0xffff } else { ck });
    }

    /// Mutable payload, `8..length`.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// High-level representation of a UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub src_port: u16,
    pub dst_port: u16,
    /// Payload length in bytes (`length - 8`).
    pub payload_len: usize,
}

impl Repr {
    /// Parse a header (runs `check_len`). The checksum is **not** verified
    /// here; use [`Packet::verify_checksum`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        Ok(Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload_len: packet.payload().len(),
        })
    }

    /// Header length (8).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Datagram length: header plus payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Write the header and the checksum. The payload must already be in
    /// place in `8..buffer_len()` since the checksum covers it.
    /// `payload_len` must not exceed `65535 - 8`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
        src: IpAddr,
        dst: IpAddr,
    ) {
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(self.buffer_len() as u16);
        packet.fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::{XorShift, FUZZ_ITERS};
    use crate::wire::{ipv4, ipv6};
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// 192.0.2.1:4500 -> 198.51.100.1:4500, payload "espgw-udp-test!".
    const UDP4_DGRAM: [u8; 23] = [
        0x11, 0x94, 0x11, 0x94, 0x00, 0x17, 0xb4, 0xed, //
        0x65, 0x73, 0x70, 0x67, 0x77, 0x2d, 0x75, 0x64, //
        0x70, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x21,
    ];

    /// [2001:db8::1]:53000 -> [2001:db8::53]:53, payload "hello, ipv6".
    const UDP6_DGRAM: [u8; 19] = [
        0xcf, 0x08, 0x00, 0x35, 0x00, 0x13, 0xc9, 0xe6, //
        0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x69, //
        0x70, 0x76, 0x36,
    ];

    /// The IPv4 datagram above inside its IPv4 header.
    const IPV4_UDP_PKT: [u8; 43] = [
        0x45, 0xb8, 0x00, 0x2b, 0x00, 0x00, 0x40, 0x00, //
        0x40, 0x11, 0x4d, 0xd4, 0xc0, 0x00, 0x02, 0x01, //
        0xc6, 0x33, 0x64, 0x01, 0x11, 0x94, 0x11, 0x94, //
        0x00, 0x17, 0xb4, 0xed, 0x65, 0x73, 0x70, 0x67, //
        0x77, 0x2d, 0x75, 0x64, 0x70, 0x2d, 0x74, 0x65, //
        0x73, 0x74, 0x21,
    ];

    fn v4() -> (IpAddr, IpAddr) {
        (Ipv4Addr::new(192, 0, 2, 1).into(), Ipv4Addr::new(198, 51, 100, 1).into())
    }

    fn v6() -> (IpAddr, IpAddr) {
        let s: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let d: Ipv6Addr = "2001:db8::53".parse().unwrap();
        (s.into(), d.into())
    }

    const REPR4: Repr = Repr { src_port: 4500, dst_port: 4500, payload_len: 15 };

    const REPR6: Repr = Repr { src_port: 53000, dst_port: 53, payload_len: 11 };

    fn exercise<T: AsRef<[u8]>>(p: &Packet<T>) {
        let _ = (p.src_port(), p.dst_port(), p.len(), p.checksum());
        let (s, d) = v4();
        let (s6, d6) = v6();
        let _ = (p.verify_checksum(s, d), p.verify_checksum(s6, d6));
        let _ = p.verify_checksum(s, d6);
        let _ = p.payload().len();
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&UDP4_DGRAM[..]).unwrap();
        assert_eq!(p.src_port(), 4500);
        assert_eq!(p.dst_port(), 4500);
        assert_eq!(p.len(), 23);
        assert_eq!(p.checksum(), 0xb4ed);
        assert_eq!(p.payload(), b"espgw-udp-test!");
        let (s, d) = v4();
        assert!(p.verify_checksum(s, d));

        let p = Packet::new_checked(&UDP6_DGRAM[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len()), (53000, 53, 19));
        assert_eq!(p.payload(), b"hello, ipv6");
        let (s, d) = v6();
        assert!(p.verify_checksum(s, d));
    }

    #[test]
    fn inside_ipv4() {
        let ip = ipv4::Packet::new_checked(&IPV4_UDP_PKT[..]).unwrap();
        let ipr = ipv4::Repr::parse(&ip).unwrap();
        assert_eq!(ipr.protocol, IpProtocol::UDP);
        let p = Packet::new_checked(ip.payload()).unwrap();
        assert!(p.verify_checksum(ipr.src_addr.into(), ipr.dst_addr.into()));
        assert_eq!(Repr::parse(&p), Ok(REPR4));
    }

    #[test]
    fn inside_ipv6_with_padding() {
        let mut frame = [0u8; 40 + 19 + 5];
        let ipr = ipv6::Repr {
            src_addr: "2001:db8::1".parse().unwrap(),
            dst_addr: "2001:db8::53".parse().unwrap(),
            next_header: IpProtocol::UDP,
            payload_len: 19,
            hop_limit: 64,
            dscp: 0,
            ecn: 0,
            flow_label: 0,
        };
        ipr.emit(&mut ipv6::Packet::new_unchecked(&mut frame[..]));
        frame[40..59].copy_from_slice(&UDP6_DGRAM);
        let ip = ipv6::Packet::new_checked(&frame[..]).unwrap();
        let p = Packet::new_checked(ip.payload()).unwrap();
        assert!(p.verify_checksum(ipr.src_addr.into(), ipr.dst_addr.into()));
        assert_eq!(p.payload(), b"hello, ipv6");
    }

    #[test]
    fn construct() {
        let mut buf = [0xffu8; 23];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(4500);
        p.set_dst_port(4500);
        p.set_len(23);
        p.payload_mut().copy_from_slice(b"espgw-udp-test!");
        let (s, d) = v4();
        p.fill_checksum(s, d);
        assert_eq!(buf, UDP4_DGRAM);
    }

    #[test]
    fn parse_repr() {
        let p = Packet::new_checked(&UDP4_DGRAM[..]).unwrap();
        assert_eq!(Repr::parse(&p), Ok(REPR4));
        let p = Packet::new_checked(&UDP6_DGRAM[..]).unwrap();
        assert_eq!(Repr::parse(&p), Ok(REPR6));
    }

    #[test]
    fn emit_repr() {
        for (repr, bytes, (s, d)) in [(REPR4, &UDP4_DGRAM[..], v4()), (REPR6, &UDP6_DGRAM[..], v6())] {
            let mut buf = vec![0u8; repr.buffer_len()];
            buf[8..].copy_from_slice(&bytes[8..]);
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]), s, d);
            assert_eq!(&buf[..], bytes);
        }
    }

    #[test]
    fn round_trip() {
        let mut rng = XorShift::new(0x0d9);
        for i in 0..500 {
            let (s, d) = if i % 2 == 0 { v4() } else { v6() };
            let r = Repr {
                src_port: rng.next_u64() as u16,
                dst_port: rng.next_u64() as u16,
                payload_len: rng.below(40),
            };
            let mut buf = vec![0u8; r.buffer_len()];
            rng.fill(&mut buf[8..]);
            r.emit(&mut Packet::new_unchecked(&mut buf[..]), s, d);
            let p = Packet::new_checked(&buf[..]).unwrap();
            assert!(p.verify_checksum(s, d));
            assert_ne!(p.checksum(), 0);
            assert_eq!(Repr::parse(&p), Ok(r));
        }
    }

    #[test]
    fn zero_checksum_rules() {
        // Find a datagram whose computed checksum is zero: it must be sent
        // as 0xffff.
        let (s, d) = v4();
        let mut buf = [0u8; 10];
        buf[..8].copy_from_slice(&[0x11, 0x94, 0x11, 0x94, 0x00, 0x0a, 0x00, 0x00]);
        let ph = checksum::pseudo_header(s, d, IpProtocol::UDP, 10);
        let partial = checksum::combine(&[ph, checksum::sum(&buf)]);
        buf[8..].copy_from_slice(&(!partial).to_be_bytes());
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum(s, d);
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum(s, d));

        // Checksum 0 = "none": fine on IPv4, invalid on IPv6.
        let mut buf = UDP6_DGRAM;
        buf[6] = 0;
        buf[7] = 0;
        let p = Packet::new_checked(&buf[..]).unwrap();
        let (s6, d6) = v6();
        assert!(!p.verify_checksum(s6, d6));
        assert!(p.verify_checksum(s, d));
    }

    #[test]
    fn check_len_rejects_bad_length_field() {
        let with = |l: u16, buf_len: usize| {
            let mut buf = vec![0u8; buf_len.max(8)];
            buf[4..6].copy_from_slice(&l.to_be_bytes());
            buf.truncate(buf_len);
            Packet::new_unchecked(buf).check_len()
        };
        assert_eq!(with(8, 8), Ok(()));
        assert_eq!(with(7, 8), Err(Error::Malformed));
        assert_eq!(with(0, 20), Err(Error::Malformed));
        assert_eq!(with(21, 20), Err(Error::Truncated));
        assert_eq!(with(8, 7), Err(Error::Truncated));
        // Trailing bytes after the datagram are allowed and excluded.
        let mut buf = [0u8; 30];
        buf[..23].copy_from_slice(&UDP4_DGRAM);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.payload(), b"espgw-udp-test!");
        let (s, d) = v4();
        assert!(p.verify_checksum(s, d));
    }

    #[test]
    fn every_prefix() {
        for len in 0..=UDP4_DGRAM.len() {
            let prefix = &UDP4_DGRAM[..len];
            match Packet::new_checked(prefix) {
                Err(e) => {
                    assert!(len < 23);
                    assert_eq!(e, Error::Truncated);
                }
                Ok(p) => {
                    assert_eq!(len, 23);
                    exercise(&p);
                    assert_eq!(Repr::parse(&p), Ok(REPR4));
                }
            }
            assert_eq!(Repr::parse(&Packet::new_unchecked(prefix)).is_ok(), len == 23);
        }
    }

    #[test]
    fn checksum_corruption() {
        let (s, d) = v4();
        for i in 0..UDP4_DGRAM.len() {
            for bit in 0..8 {
                let mut buf = UDP4_DGRAM;
                buf[i] ^= 1 << bit;
                let p = Packet::new_unchecked(&buf[..]);
                if p.check_len().is_err() {
                    continue;
                }
                assert!(!p.verify_checksum(s, d), "byte {i} bit {bit}");
            }
        }
        // Wrong addresses fail too.
        let p = Packet::new_checked(&UDP4_DGRAM[..]).unwrap();
        assert!(!p.verify_checksum(d, Ipv4Addr::new(192, 0, 2, 9).into()));
        let (s6, _) = v6();
        let other: Ipv6Addr = "2001:db8::54".parse().unwrap();
        let p = Packet::new_checked(&UDP6_DGRAM[..]).unwrap();
        assert!(!p.verify_checksum(s6, other.into()));
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift::new(0x0d0d);
        for _ in 0..FUZZ_ITERS {
            let buf = rng.fuzz_buffer(&UDP4_DGRAM, 48);
            if let Ok(p) = Packet::new_checked(&buf[..]) {
                exercise(&p);
                assert!(Repr::parse(&p).is_ok());
            }
            let _ = Repr::parse(&Packet::new_unchecked(&buf[..]));
        }
    }
}
