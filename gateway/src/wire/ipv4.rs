//! IPv4 header (RFC 791).
//!
//! ```text
//!  0               1               2               3
//! +-------+-------+-----------+---+-------------------------------+
//! |version|  IHL  |   DSCP    |ECN|          total length         |
//! +-------+-------+-----------+---+-----+-------------------------+
//! |         identification        |flags|    fragment offset      |
//! +---------------+---------------+-----+-------------------------+
//! |      TTL      |   protocol    |        header checksum        |
//! +---------------+---------------+-------------------------------+
//! |                        source address                         |
//! |                      destination address                      |
//! |                    options (IHL > 5) ...                      |
//! +---------------------------------------------------------------+
//! ```
//!
//! Contract: after [`Packet::check_len`] succeeds no getter (including
//! [`Packet::payload`] and [`Packet::verify_checksum`]) panics. `check_len`
//! requires `IHL >= 5`, `IHL * 4 <= buffer`, `total_len >= IHL * 4` and
//! `total_len <= buffer`. The payload is `header_len..total_len`, so
//! trailing link-layer padding is excluded. The version field is only
//! checked by [`Repr::parse`]. Setters and the mutators assume a buffer of at
//! least 20 bytes (at least `header_len` for [`Packet::fill_checksum`], at
//! least `total_len` for [`Packet::payload_mut`]) and panic otherwise.

use core::ops::Range;
use std::net::Ipv4Addr;

use super::checksum;
use super::{Error, IpProtocol, Result};

mod field {
    use core::ops::Range;

    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
}

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// Zero-copy view of an IPv4 packet.
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

    /// Validate the length fields against each other and the buffer.
    ///
    /// * buffer shorter than 20 bytes, than `IHL * 4` or than `total_len`:
    ///   [`Error::Truncated`];
    /// * `IHL < 5` or `total_len < IHL * 4`: [`Error::Malformed`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = usize::from(self.header_len());
        if header_len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if header_len > len {
            return Err(Error::Truncated);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len {
            return Err(Error::Malformed);
        }
        if total_len > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Give back the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, r: Range<usize>) -> u16 {
        let d = &self.buffer.as_ref()[r];
        u16::from_be_bytes([d[0], d[1]])
    }

    fn addr_at(&self, r: Range<usize>) -> Ipv4Addr {
        let d = &self.buffer.as_ref()[r];
        Ipv4Addr::new(d[0], d[1], d[2], d[3])
    }

    /// Version field (4 for a valid packet).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Differentiated services code point (6 bits).
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit congestion notification (2 bits).
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total length (header + payload) in bytes.
    pub fn total_len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        self.u16_at(field::IDENT)
    }

    /// Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.u16_at(field::FLG_OFF) & FLAG_DF != 0
    }

    /// More Fragments flag.
    pub fn more_frags(&self) -> bool {
        self.u16_at(field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the wire value times 8).
    pub fn frag_offset(&self) -> u16 {
        (self.u16_at(field::FLG_OFF) & OFFSET_MASK) << 3
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Alias of [`ttl`](Self::ttl), for symmetry with IPv6.
    pub fn hop_limit(&self) -> u8 {
        self.ttl()
    }

    /// Protocol of the payload.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        self.addr_at(field::SRC_ADDR)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        self.addr_at(field::DST_ADDR)
    }

    /// Options bytes (`20..header_len`), empty without options.
    pub fn options(&self) -> &[u8] {
        let end = usize::from(self.header_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }

    /// Whether the header checksum (over `header_len` bytes) is correct.
    pub fn verify_checksum(&self) -> bool {
        let end = usize::from(self.header_len());
        checksum::checksum(&self.buffer.as_ref()[..end]) == 0
    }

    /// The payload, `header_len..total_len` (link-layer padding excluded).
    pub fn payload(&self) -> &[u8] {
        let start = usize::from(self.header_len());
        let end = usize::from(self.total_len());
        &self.buffer.as_ref()[start..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_u16_at(&mut self, r: Range<usize>, value: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the version field.
    pub fn set_version(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (value << 4);
    }

    /// Set the header length in bytes (must be a multiple of 4, 20..=60).
    pub fn set_header_len(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((value / 4) & 0x0f);
    }

    /// Set the DSCP (6 bits).
    pub fn set_dscp(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (value << 2);
    }

    /// Set the ECN bits (2 bits).
    pub fn set_ecn(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0xfc) | (value & 0x03);
    }

    /// Set the total length.
    pub fn set_total_len(&mut self, value: u16) {
        self.set_u16_at(field::LENGTH, value);
    }

    /// Set the identification.
    pub fn set_ident(&mut self, value: u16) {
        self.set_u16_at(field::IDENT, value);
    }

    fn set_flag(&mut self, flag: u16, value: bool) {
        let raw = self.u16_at(field::FLG_OFF);
        let raw = if value { raw | flag } else { raw & !flag };
        self.set_u16_at(field::FLG_OFF, raw);
    }

    /// Set the Don't Fragment flag.
    pub fn set_dont_frag(&mut self, value: bool) {
        self.set_flag(FLAG_DF, value);
    }

    /// Set the More Fragments flag.
    pub fn set_more_frags(&mut self, value: bool) {
        self.set_flag(FLAG_MF, value);
    }

    /// Clear all three flag bits (including the reserved one).
    pub fn clear_flags(&mut self) {
        let raw = self.u16_at(field::FLG_OFF) & OFFSET_MASK;
        self.set_u16_at(field::FLG_OFF, raw);
    }

    /// Set the fragment offset in bytes (must be a multiple of 8).
    pub fn set_frag_offset(&mut self, value: u16) {
        let raw = (self.u16_at(field::FLG_OFF) & !OFFSET_MASK) | (value >> 3);
        self.set_u16_at(field::FLG_OFF, raw);
    }

    /// Set the time to live (checksum not updated; see
    /// [`decrement_ttl`](Self::decrement_ttl)).
    pub fn set_ttl(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }

    /// Alias of [`set_ttl`](Self::set_ttl).
    pub fn set_hop_limit(&mut self, value: u8) {
        self.set_ttl(value);
    }

    /// Set the protocol.
    pub fn set_protocol(&mut self, value: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = value.0;
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.set_u16_at(field::CHECKSUM, value);
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&value.octets());
    }

    /// Set the destination address.
    pub fn set_dst_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&value.octets());
    }

    /// Compute and store the header checksum over `header_len` bytes.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let end = usize::from(self.header_len());
        let ck = checksum::checksum(&self.buffer.as_ref()[..end]);
        self.set_checksum(ck);
    }

    /// Decrement the TTL by one and update the checksum incrementally
    /// (RFC 1624), as a router does when forwarding.
    ///
    /// Returns the new TTL, or `None` (packet untouched) if the TTL was
    /// already 0. A result of `Some(0)` means the packet must not be
    /// forwarded (send ICMP Time Exceeded instead).
    pub fn decrement_ttl(&mut self) -> Option<u8> {
        let ttl = self.ttl();
        let new_ttl = ttl.checked_sub(1)?;
        let proto = self.buffer.as_ref()[field::PROTOCOL];
        let old_word = u16::from_be_bytes([ttl, proto]);
        let new_word = u16::from_be_bytes([new_ttl, proto]);
        let ck = checksum::update(self.checksum(), old_word, new_word);
        self.set_ttl(new_ttl);
        self.set_checksum(ck);
        Some(new_ttl)
    }

    /// Mutable payload, `header_len..total_len`.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = usize::from(self.header_len());
        let end = usize::from(self.total_len());
        &mut self.buffer.as_mut()[start..end]
    }
}

/// High-level representation of an IPv4 header.
///
/// Options are not represented: [`Repr::parse`] skips them and
/// [`Repr::emit`] always writes a 20-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    pub protocol: IpProtocol,
    /// Payload length in bytes (`total_len - header_len`).
    pub payload_len: usize,
    pub ttl: u8,
    pub dscp: u8,
    pub ecn: u8,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// Fragment offset in bytes (multiple of 8).
    pub frag_offset: u16,
}

impl Repr {
    /// Parse a header. Runs `check_len`, then requires version 4 and a
    /// correct header checksum ([`Error::Malformed`] otherwise).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.version() != 4 || !packet.verify_checksum() {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: packet.payload().len(),
            ttl: packet.ttl(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
        })
    }

    /// Header length written by [`emit`](Self::emit) (20).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Total packet length: header plus payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Write a 20-byte header (no options) including a valid checksum. The
    /// payload area is left untouched. `payload_len` must not exceed
    /// `65535 - 20`; the total length field is truncated otherwise.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_version(4);
        packet.set_header_len(HEADER_LEN as u8);
        packet.set_dscp(self.dscp);
        packet.set_ecn(self.ecn);
        packet.set_total_len(self.buffer_len() as u16);
        packet.set_ident(self.ident);
        packet.clear_flags();
        packet.set_dont_frag(self.dont_frag);
        packet.set_more_frags(self.more_frags);
        packet.set_frag_offset(self.frag_offset);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::{XorShift, FUZZ_ITERS};

    /// ICMP echo request 192.0.2.2 -> 198.51.100.2, DF, TTL 64, ident 0xabcd,
    /// 16 bytes of echo data.
    const ICMPV4_ECHO_PKT: [u8; 44] = [
        0x45, 0x00, 0x00, 0x2c, 0xab, 0xcd, 0x40, 0x00, //
        0x40, 0x01, 0xa2, 0xcb, 0xc0, 0x00, 0x02, 0x02, //
        0xc6, 0x33, 0x64, 0x02, 0x08, 0x00, 0x2d, 0x0a, //
        0x12, 0x34, 0x00, 0x01, 0x10, 0x11, 0x12, 0x13, //
        0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, //
        0x1c, 0x1d, 0x1e, 0x1f,
    ];

    /// UDP 192.0.2.1:4500 -> 198.51.100.1:4500, DSCP EF (46), DF.
    const IPV4_UDP_PKT: [u8; 43] = [
        0x45, 0xb8, 0x00, 0x2b, 0x00, 0x00, 0x40, 0x00, //
        0x40, 0x11, 0x4d, 0xd4, 0xc0, 0x00, 0x02, 0x01, //
        0xc6, 0x33, 0x64, 0x01, 0x11, 0x94, 0x11, 0x94, //
        0x00, 0x17, 0xb4, 0xed, 0x65, 0x73, 0x70, 0x67, //
        0x77, 0x2d, 0x75, 0x64, 0x70, 0x2d, 0x74, 0x65, //
        0x73, 0x74, 0x21,
    ];

    fn echo_repr() -> Repr {
        Repr {
            src_addr: Ipv4Addr::new(192, 0, 2, 2),
            dst_addr: Ipv4Addr::new(198, 51, 100, 2),
            protocol: IpProtocol::ICMP,
            payload_len: 24,
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: 0xabcd,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        }
    }

    fn exercise<T: AsRef<[u8]>>(p: &Packet<T>) {
        let _ = (p.version(), p.header_len(), p.dscp(), p.ecn(), p.total_len());
        let _ = (p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset());
        let _ = (p.ttl(), p.hop_limit(), p.protocol(), p.checksum());
        let _ = (p.src_addr(), p.dst_addr(), p.verify_checksum());
        let _ = p.options().len() + p.payload().len();
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&ICMPV4_ECHO_PKT[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.dscp(), 0);
        assert_eq!(p.ecn(), 0);
        assert_eq!(p.total_len(), 44);
        assert_eq!(p.ident(), 0xabcd);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), IpProtocol::ICMP);
        assert_eq!(p.checksum(), 0xa2cb);
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(198, 51, 100, 2));
        assert!(p.verify_checksum());
        assert!(p.options().is_empty());
        assert_eq!(p.payload(), &ICMPV4_ECHO_PKT[20..]);

        let p = Packet::new_checked(&IPV4_UDP_PKT[..]).unwrap();
        assert_eq!(p.dscp(), 46);
        assert_eq!(p.ecn(), 0);
        assert_eq!(p.protocol(), IpProtocol::UDP);
        assert!(p.verify_checksum());
    }

    #[test]
    fn construct() {
        let mut buf = [0xffu8; 44];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(4);
        p.set_header_len(20);
        p.set_dscp(0);
        p.set_ecn(0);
        p.set_total_len(44);
        p.set_ident(0xabcd);
        p.clear_flags();
        p.set_dont_frag(true);
        p.set_more_frags(false);
        p.set_frag_offset(0);
        p.set_ttl(64);
        p.set_protocol(IpProtocol::ICMP);
        p.set_src_addr(Ipv4Addr::new(192, 0, 2, 2));
        p.set_dst_addr(Ipv4Addr::new(198, 51, 100, 2));
        p.fill_checksum();
        p.payload_mut().copy_from_slice(&ICMPV4_ECHO_PKT[20..]);
        assert_eq!(buf, ICMPV4_ECHO_PKT);
    }

    #[test]
    fn flags_and_fragment_offset() {
        let mut buf = ICMPV4_ECHO_PKT;
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_dont_frag(false);
        p.set_more_frags(true);
        p.set_frag_offset(1480);
        assert!(!p.dont_frag());
        assert!(p.more_frags());
        assert_eq!(p.frag_offset(), 1480);
        assert_eq!(&buf[6..8], &[0x20, 0xb9]);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_frag_offset(65528);
        assert_eq!(p.frag_offset(), 65528);
        assert!(p.more_frags());
    }

    #[test]
    fn parse_repr() {
        let p = Packet::new_checked(&ICMPV4_ECHO_PKT[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap(), echo_repr());
        let p = Packet::new_checked(&IPV4_UDP_PKT[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.protocol, IpProtocol::UDP);
        assert_eq!((r.dscp, r.ecn, r.payload_len), (46, 0, 23));
    }

    #[test]
    fn emit_repr() {
        let mut buf = [0u8; 44];
        buf[20..].copy_from_slice(&ICMPV4_ECHO_PKT[20..]);
        echo_repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(echo_repr().buffer_len(), 44);
        assert_eq!(buf, ICMPV4_ECHO_PKT);

        let r = Repr::parse(&Packet::new_checked(&IPV4_UDP_PKT[..]).unwrap()).unwrap();
        let mut buf = IPV4_UDP_PKT;
        buf[..20].fill(0xee);
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, IPV4_UDP_PKT);
    }

    #[test]
    fn round_trip() {
        let mut rng = XorShift::new(0x4444);
        for seed in [&ICMPV4_ECHO_PKT[..], &IPV4_UDP_PKT[..]] {
            let r = Repr::parse(&Packet::new_checked(seed).unwrap()).unwrap();
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Ok(r));
        }
        for _ in 0..500 {
            let r = Repr {
                src_addr: Ipv4Addr::from(rng.next_u64() as u32),
                dst_addr: Ipv4Addr::from(rng.next_u64() as u32),
                protocol: IpProtocol(rng.byte()),
                payload_len: rng.below(64),
                ttl: rng.byte(),
                dscp: rng.byte() & 0x3f,
                ecn: rng.byte() & 0x03,
                ident: rng.next_u64() as u16,
                dont_frag: rng.below(2) == 0,
                more_frags: rng.below(2) == 0,
                frag_offset: (rng.next_u64() as u16) & !7,
            };
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Ok(r));
        }
    }

    #[test]
    fn padding_is_excluded_from_payload() {
        let mut buf = [0u8; 64];
        buf[..43].copy_from_slice(&IPV4_UDP_PKT);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.payload(), &IPV4_UDP_PKT[20..]);
        assert_eq!(Repr::parse(&p).unwrap().payload_len, 23);
    }

    #[test]
    fn options_are_skipped() {
        // IHL 6 with a 4-byte option (NOP NOP NOP EOL), payload 4 bytes.
        let mut buf = [0u8; 28];
        buf[..20].copy_from_slice(&ICMPV4_ECHO_PKT[..20]);
        buf[0] = 0x46;
        buf[2..4].copy_from_slice(&28u16.to_be_bytes());
        buf[20..24].copy_from_slice(&[1, 1, 1, 0]);
        buf[24..].copy_from_slice(&[9, 9, 9, 9]);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum();
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &[9, 9, 9, 9]);
        assert_eq!(Repr::parse(&p).unwrap().payload_len, 4);
    }

    #[test]
    fn check_len_rejects_bad_length_fields() {
        let with = |ihl: u8, total: u16, len: usize| {
            let mut buf = vec![0u8; len.max(20)];
            buf[..20].copy_from_slice(&ICMPV4_ECHO_PKT[..20]);
            buf[0] = 0x40 | ihl;
            buf[2..4].copy_from_slice(&total.to_be_bytes());
            buf.truncate(len);
            Packet::new_unchecked(buf).check_len()
        };
        assert_eq!(with(5, 44, 44), Ok(()));
        assert_eq!(with(4, 44, 44), Err(Error::Malformed));
        assert_eq!(with(0, 44, 44), Err(Error::Malformed));
        assert_eq!(with(15, 60, 44), Err(Error::Truncated));
        assert_eq!(with(15, 60, 60), Ok(()));
        assert_eq!(with(6, 20, 44), Err(Error::Malformed));
        assert_eq!(with(5, 19, 44), Err(Error::Malformed));
        assert_eq!(with(5, 45, 44), Err(Error::Truncated));
        assert_eq!(with(5, 0xffff, 44), Err(Error::Truncated));
        assert_eq!(with(5, 20, 19), Err(Error::Truncated));
    }

    #[test]
    fn bad_version_is_malformed() {
        let mut buf = ICMPV4_ECHO_PKT;
        buf[0] = 0x65;
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum();
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Repr::parse(&p), Err(Error::Malformed));
    }

    #[test]
    fn every_prefix() {
        for len in 0..=ICMPV4_ECHO_PKT.len() {
            let prefix = &ICMPV4_ECHO_PKT[..len];
            match Packet::new_checked(prefix) {
                Err(e) => {
                    assert!(len < 44);
                    assert_eq!(e, Error::Truncated);
                }
                Ok(p) => {
                    assert_eq!(len, 44);
                    exercise(&p);
                    assert_eq!(Repr::parse(&p), Ok(echo_repr()));
                }
            }
            let r = Repr::parse(&Packet::new_unchecked(prefix));
            assert_eq!(r.is_ok(), len == 44);
        }
    }

    #[test]
    fn checksum_corruption() {
        for i in 0..20 {
            for bit in 0..8 {
                let mut buf = ICMPV4_ECHO_PKT;
                buf[i] ^= 1 << bit;
                let p = Packet::new_unchecked(&buf[..]);
                if p.check_len().is_err() {
                    continue; // flipped a length field
                }
                assert!(!p.verify_checksum(), "byte {i} bit {bit}");
                assert_eq!(Repr::parse(&p), Err(Error::Malformed));
            }
        }
        // Corrupting the payload does not affect the header checksum.
        let mut buf = ICMPV4_ECHO_PKT;
        buf[30] ^= 0xff;
        assert!(Packet::new_checked(&buf[..]).unwrap().verify_checksum());
    }

    /// Checksum of the 20-byte header in `buf` recomputed from scratch.
    fn recomputed(buf: &[u8]) -> u16 {
        let mut copy = [0u8; 20];
        copy.copy_from_slice(&buf[..20]);
        let mut p = Packet::new_unchecked(&mut copy[..]);
        p.fill_checksum();
        p.checksum()
    }

    #[test]
    fn decrement_ttl_matches_recompute() {
        let mut rng = XorShift::new(0x7711);
        let mut buf = [0u8; 20];
        for _ in 0..5000 {
            rng.fill(&mut buf);
            buf[0] = 0x45;
            buf[2..4].copy_from_slice(&20u16.to_be_bytes());
            let mut p = Packet::new_unchecked(&mut buf[..]);
            p.fill_checksum();
            let ttl = p.ttl();
            match p.decrement_ttl() {
                None => assert_eq!(ttl, 0),
                Some(t) => assert_eq!(t, ttl - 1),
            }
            let p = Packet::new_unchecked(&buf[..]);
            assert!(p.verify_checksum());
            assert_eq!(p.checksum(), recomputed(&buf));
        }
    }

    #[test]
    fn decrement_ttl_every_ttl_and_checksum_edges() {
        for ttl in 1..=255u8 {
            for proto in [0u8, 1, 17, 50, 0xff] {
                let mut buf = ICMPV4_ECHO_PKT;
                buf[8] = ttl;
                buf[9] = proto;
                buf[4..6].fill(0);
                buf[10..12].fill(0);
                // Choose the ident so that the checksum before (case 0) or
                // after (case 1) the decrement is 0x0000, i.e. the header
                // sums to 0xffff: the classic RFC 1141 failure case.
                let base = checksum::sum(&buf[..20]);
                for case in 0..3 {
                    let ident = match case {
                        0 => !base,
                        1 => !checksum::add(base, !0x0100u16),
                        _ => 0xffff,
                    };
                    buf[4..6].copy_from_slice(&ident.to_be_bytes());
                    buf[8] = ttl;
                    let mut p = Packet::new_unchecked(&mut buf[..]);
                    p.fill_checksum();
                    let before = p.checksum();
                    if case == 0 {
                        assert_eq!(before, 0x0000);
                    }
                    assert_eq!(p.decrement_ttl(), Some(ttl - 1));
                    let after = p.checksum();
                    assert_eq!(after, recomputed(&buf), "ttl {ttl} proto {proto} case {case}");
                    if case == 1 {
                        assert_eq!(after, 0x0000, "ttl {ttl} proto {proto}");
                    }
                    assert!(Packet::new_unchecked(&buf[..]).verify_checksum());
                }
            }
        }
    }

    #[test]
    fn decrement_ttl_zero_is_noop() {
        let mut buf = ICMPV4_ECHO_PKT;
        buf[8] = 0;
        Packet::new_unchecked(&mut buf[..]).fill_checksum();
        let before = buf;
        assert_eq!(Packet::new_unchecked(&mut buf[..]).decrement_ttl(), None);
        assert_eq!(buf, before);
        let mut buf = ICMPV4_ECHO_PKT;
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_ttl(1);
        p.fill_checksum();
        assert_eq!(p.decrement_ttl(), Some(0));
        assert!(p.verify_checksum());
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift::new(0x1b4);
        let mut parsed = 0;
        for _ in 0..FUZZ_ITERS {
            let mut buf = rng.fuzz_buffer(&ICMPV4_ECHO_PKT, 80);
            if rng.below(2) == 0 {
                if let Ok(mut p) = Packet::new_checked(&mut buf[..]) {
                    p.fill_checksum();
                }
            }
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
