//! ICMP for IPv4 (RFC 792; next-hop MTU per RFC 1191).
//!
//! ```text
//!  0               1               2               3
//! +---------------+---------------+-------------------------------+
//! |     type      |     code      |           checksum            |
//! +---------------+---------------+-------------------------------+
//! |  identifier / unused          |  sequence / next-hop MTU      |
//! +-------------------------------+-------------------------------+
//! |  echo data, or the invoking packet's IP header + 8 bytes ...  |
//! ```
//!
//! Contract: after [`Packet::check_len`] succeeds (8-byte header present) no
//! getter panics. ICMP has no length field: the message is the whole buffer,
//! so pass exactly the IPv4 payload ([`super::ipv4::Packet::payload`]). The
//! checksum covers the whole message and needs no pseudo-header, so
//! [`Repr::parse`] verifies it. Setters assume a buffer of at least 8 bytes
//! and panic otherwise.

use core::fmt;
use core::ops::Range;

use super::checksum;
use super::{Error, Result};

/// ICMPv4 message type. Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Icmpv4Type(pub u8);

impl Icmpv4Type {
    pub const ECHO_REPLY: Icmpv4Type = Icmpv4Type(0);
    pub const DST_UNREACHABLE: Icmpv4Type = Icmpv4Type(3);
    pub const REDIRECT: Icmpv4Type = Icmpv4Type(5);
    pub const ECHO_REQUEST: Icmpv4Type = Icmpv4Type(8);
    pub const TIME_EXCEEDED: Icmpv4Type = Icmpv4Type(11);
    pub const PARAM_PROBLEM: Icmpv4Type = Icmpv4Type(12);
}

impl fmt::Display for Icmpv4Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Icmpv4Type::ECHO_REPLY => f.write_str("echo reply"),
            Icmpv4Type::DST_UNREACHABLE => f.write_str("destination unreachable"),
            Icmpv4Type::REDIRECT => f.write_str("redirect"),
            Icmpv4Type::ECHO_REQUEST => f.write_str("echo request"),
            Icmpv4Type::TIME_EXCEEDED => f.write_str("time exceeded"),
            Icmpv4Type::PARAM_PROBLEM => f.write_str("parameter problem"),
            Icmpv4Type(other) => write!(f, "type({other})"),
        }
    }
}

/// Codes for [`Icmpv4Type::DST_UNREACHABLE`].
pub mod dst_unreachable {
    pub const NET_UNREACHABLE: u8 = 0;
    pub const HOST_UNREACHABLE: u8 = 1;
    pub const PROTO_UNREACHABLE: u8 = 2;
    pub const PORT_UNREACHABLE: u8 = 3;
    /// Fragmentation needed and DF set; carries the next-hop MTU.
    pub const FRAG_NEEDED: u8 = 4;
    pub const SRC_ROUTE_FAILED: u8 = 5;
    pub const NET_PROHIBITED: u8 = 9;
    pub const HOST_PROHIBITED: u8 = 10;
    pub const ADMIN_PROHIBITED: u8 = 13;
}

/// Codes for [`Icmpv4Type::TIME_EXCEEDED`].
pub mod time_exceeded {
    pub const TTL_EXPIRED: u8 = 0;
    pub const FRAG_REASSEMBLY: u8 = 1;
}

mod field {
    use core::ops::Range;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const UNUSED: Range<usize> = 4..6;
    pub const NEXT_HOP_MTU: Range<usize> = 6..8;
    pub const REST_OF_HEADER: Range<usize> = 4..8;
}

/// Length of the ICMPv4 header.
pub const HEADER_LEN: usize = field::REST_OF_HEADER.end;

/// Zero-copy view of an ICMPv4 message.
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

    /// Ensure the 8-byte header is present.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
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

    /// Message type.
    pub fn msg_type(&self) -> Icmpv4Type {
        Icmpv4Type(self.buffer.as_ref()[field::TYPE])
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// Echo identifier (meaningful for echo request/reply).
    pub fn echo_ident(&self) -> u16 {
        self.u16_at(field::ECHO_IDENT)
    }

    /// Echo sequence number (meaningful for echo request/reply).
    pub fn echo_seq_no(&self) -> u16 {
        self.u16_at(field::ECHO_SEQNO)
    }

    /// Next-hop MTU (meaningful for destination unreachable, code 4).
    pub fn next_hop_mtu(&self) -> u16 {
        self.u16_at(field::NEXT_HOP_MTU)
    }

    /// Whether the checksum over the whole buffer is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
    }

    /// Everything after the 8-byte header: echo data, or the excerpt of the
    /// invoking packet for error messages.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_u16_at(&mut self, r: Range<usize>, value: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the message type.
    pub fn set_msg_type(&mut self, value: Icmpv4Type) {
        self.buffer.as_mut()[field::TYPE] = value.0;
    }

    /// Set the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.set_u16_at(field::CHECKSUM, value);
    }

    /// Set the echo identifier.
    pub fn set_echo_ident(&mut self, value: u16) {
        self.set_u16_at(field::ECHO_IDENT, value);
    }

    /// Set the echo sequence number.
    pub fn set_echo_seq_no(&mut self, value: u16) {
        self.set_u16_at(field::ECHO_SEQNO, value);
    }

    /// Set the next-hop MTU (also clears the unused half-word before it).
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        self.set_u16_at(field::UNUSED, 0);
        self.set_u16_at(field::NEXT_HOP_MTU, value);
    }

    /// Zero bytes 4..8 (the "unused" field of error messages).
    pub fn clear_rest_of_header(&mut self) {
        self.buffer.as_mut()[field::REST_OF_HEADER].fill(0);
    }

    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        let len = self.buffer.as_ref().len();
        self.fill_checksum_over(len);
    }

    fn fill_checksum_over(&mut self, len: usize) {
        self.set_checksum(0);
        let ck = checksum::checksum(&self.buffer.as_ref()[..len]);
        self.set_checksum(ck);
    }

    /// Mutable access to everything after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// High-level representation of the ICMPv4 messages the gateway handles.
///
/// Data and invoking-packet excerpts are not copied: they stay in the
/// buffer after the 8-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repr {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data_len: usize,
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data_len: usize,
    },
    /// Destination unreachable with any code except
    /// [`dst_unreachable::FRAG_NEEDED`].
    DstUnreachable {
        code: u8,
    },
    /// Destination unreachable, fragmentation needed (code 4).
    FragNeeded {
        mtu: u16,
    },
    TimeExceeded {
        code: u8,
    },
}

impl Repr {
    /// Parse a message (runs `check_len`). A bad checksum, an echo with a
    /// non-zero code or an unsupported type is [`Error::Malformed`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::Malformed);
        }
        let code = packet.msg_code();
        match packet.msg_type() {
            Icmpv4Type::ECHO_REQUEST | Icmpv4Type::ECHO_REPLY if code != 0 => Err(Error::Malformed),
            Icmpv4Type::ECHO_REQUEST => Ok(Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data_len: packet.payload().len(),
            }),
            Icmpv4Type::ECHO_REPLY => Ok(Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data_len: packet.payload().len(),
            }),
            Icmpv4Type::DST_UNREACHABLE if code == dst_unreachable::FRAG_NEEDED => {
                Ok(Repr::FragNeeded { mtu: packet.next_hop_mtu() })
            }
            Icmpv4Type::DST_UNREACHABLE => Ok(Repr::DstUnreachable { code }),
            Icmpv4Type::TIME_EXCEEDED => Ok(Repr::TimeExceeded { code }),
            _ => Err(Error::Malformed),
        }
    }

    /// Message type of this representation.
    pub const fn msg_type(&self) -> Icmpv4Type {
        match self {
            Repr::EchoRequest { .. } => Icmpv4Type::ECHO_REQUEST,
            Repr::EchoReply { .. } => Icmpv4Type::ECHO_REPLY,
            Repr::DstUnreachable { .. } | Repr::FragNeeded { .. } => Icmpv4Type::DST_UNREACHABLE,
            Repr::TimeExceeded { .. } => Icmpv4Type::TIME_EXCEEDED,
        }
    }

    /// Bytes needed: header plus echo data. For error messages this is the
    /// header only; the caller adds the length of the invoking-packet
    /// excerpt it places after the header.
    pub const fn buffer_len(&self) -> usize {
        match self {
            Repr::EchoRequest { data_len, .. } | Repr::EchoReply { data_len, .. } => HEADER_LEN + *data_len,
            _ => HEADER_LEN,
        }
    }

    /// Write the header and checksum. The payload (echo data, or the
    /// invoking-packet excerpt) must already be in place after the header,
    /// since the checksum covers it. For echo messages the checksum covers
    /// `buffer_len()` bytes; for error messages it covers the whole buffer,
    /// so size the buffer to header + excerpt.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_msg_type(self.msg_type());
        match *self {
            Repr::EchoRequest { ident, seq_no, .. } | Repr::EchoReply { ident, seq_no, .. } => {
                packet.set_msg_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
                packet.fill_checksum_over(self.buffer_len());
            }
            Repr::DstUnreachable { code } | Repr::TimeExceeded { code } => {
                packet.set_msg_code(code);
                packet.clear_rest_of_header();
                packet.fill_checksum();
            }
            Repr::FragNeeded { mtu } => {
                packet.set_msg_code(dst_unreachable::FRAG_NEEDED);
                packet.set_next_hop_mtu(mtu);
                packet.fill_checksum();
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::ipv4;
    use crate::wire::test_util::{XorShift, FUZZ_ITERS};
    use crate::wire::IpProtocol;
    use std::net::Ipv4Addr;

    /// Echo request 192.0.2.2 -> 198.51.100.2 (IPv4 header included),
    /// ident 0x1234, seq 1, data 0x10..0x1f.
    static ICMPV4_ECHO_PKT: [u8; 44] = [
        0x45, 0x00, 0x00, 0x2c, 0xab, 0xcd, 0x40, 0x00, //
        0x40, 0x01, 0xa2, 0xcb, 0xc0, 0x00, 0x02, 0x02, //
        0xc6, 0x33, 0x64, 0x02, 0x08, 0x00, 0x2d, 0x0a, //
        0x12, 0x34, 0x00, 0x01, 0x10, 0x11, 0x12, 0x13, //
        0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, //
        0x1c, 0x1d, 0x1e, 0x1f,
    ];

    /// Time exceeded (TTL expired) quoting the IPv4 header + 8 bytes of a
    /// UDP traceroute probe 192.0.2.2 -> 198.51.100.9, TTL 1.
    const ICMPV4_TIME_EXCEEDED: [u8; 36] = [
        0x0b, 0x00, 0xef, 0xb9, 0x00, 0x00, 0x00, 0x00, //
        0x45, 0x00, 0x00, 0x24, 0x01, 0x01, 0x00, 0x00, //
        0x01, 0x11, 0xcc, 0x89, 0xc0, 0x00, 0x02, 0x02, //
        0xc6, 0x33, 0x64, 0x09, 0x82, 0x9a, 0x82, 0x9b, //
        0x00, 0x10, 0x00, 0x00,
    ];

    /// Fragmentation needed, next-hop MTU 1400, same excerpt.
    const ICMPV4_FRAG_NEEDED: [u8; 36] = [
        0x03, 0x04, 0xf2, 0x3d, 0x00, 0x00, 0x05, 0x78, //
        0x45, 0x00, 0x00, 0x24, 0x01, 0x01, 0x00, 0x00, //
        0x01, 0x11, 0xcc, 0x89, 0xc0, 0x00, 0x02, 0x02, //
        0xc6, 0x33, 0x64, 0x09, 0x82, 0x9a, 0x82, 0x9b, //
        0x00, 0x10, 0x00, 0x00,
    ];

    const ECHO: Repr = Repr::EchoRequest { ident: 0x1234, seq_no: 1, data_len: 16 };

    fn echo_msg() -> &'static [u8] {
        &ICMPV4_ECHO_PKT[20..]
    }

    fn exercise<T: AsRef<[u8]>>(p: &Packet<T>) {
        let _ = (p.msg_type(), p.msg_code(), p.checksum(), p.verify_checksum());
        let _ = (p.echo_ident(), p.echo_seq_no(), p.next_hop_mtu());
        let _ = p.payload().len();
    }

    #[test]
    fn deconstruct() {
        let ip = ipv4::Packet::new_checked(&ICMPV4_ECHO_PKT[..]).unwrap();
        assert_eq!(ip.protocol(), IpProtocol::ICMP);
        assert!(ip.verify_checksum());
        let p = Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(p.msg_type(), Icmpv4Type::ECHO_REQUEST);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.checksum(), 0x2d0a);
        assert_eq!(p.echo_ident(), 0x1234);
        assert_eq!(p.echo_seq_no(), 1);
        assert_eq!(p.payload(), &ICMPV4_ECHO_PKT[28..]);
        assert!(p.verify_checksum());

        let p = Packet::new_checked(&ICMPV4_FRAG_NEEDED[..]).unwrap();
        assert_eq!(p.msg_type(), Icmpv4Type::DST_UNREACHABLE);
        assert_eq!(p.msg_code(), dst_unreachable::FRAG_NEEDED);
        assert_eq!(p.next_hop_mtu(), 1400);
        assert!(p.verify_checksum());
        // The quoted header is a valid IPv4 header (total length 36 though
        // only 28 bytes were quoted, so it is inspected unchecked).
        let quoted = ipv4::Packet::new_unchecked(p.payload());
        assert_eq!(quoted.dst_addr(), Ipv4Addr::new(198, 51, 100, 9));
        assert_eq!(quoted.protocol(), IpProtocol::UDP);
        assert!(quoted.verify_checksum());
        assert_eq!(quoted.check_len(), Err(Error::Truncated));
    }

    #[test]
    fn construct() {
        let mut buf = [0xffu8; 24];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(Icmpv4Type::ECHO_REQUEST);
        p.set_msg_code(0);
        p.set_echo_ident(0x1234);
        p.set_echo_seq_no(1);
        p.payload_mut().copy_from_slice(&ICMPV4_ECHO_PKT[28..]);
        p.fill_checksum();
        assert_eq!(&buf[..], echo_msg());

        let mut buf = [0xffu8; 36];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(Icmpv4Type::DST_UNREACHABLE);
        p.set_msg_code(4);
        p.set_next_hop_mtu(1400);
        p.payload_mut().copy_from_slice(&ICMPV4_FRAG_NEEDED[8..]);
        p.fill_checksum();
        assert_eq!(buf, ICMPV4_FRAG_NEEDED);
    }

    #[test]
    fn parse_repr() {
        let p = Packet::new_checked(echo_msg()).unwrap();
        assert_eq!(Repr::parse(&p), Ok(ECHO));
        let p = Packet::new_checked(&ICMPV4_TIME_EXCEEDED[..]).unwrap();
        assert_eq!(Repr::parse(&p), Ok(Repr::TimeExceeded { code: time_exceeded::TTL_EXPIRED }));
        let p = Packet::new_checked(&ICMPV4_FRAG_NEEDED[..]).unwrap();
        assert_eq!(Repr::parse(&p), Ok(Repr::FragNeeded { mtu: 1400 }));
    }

    #[test]
    fn emit_repr() {
        // Echo: data placed first, then emit.
        let mut buf = [0u8; 24];
        buf[8..].copy_from_slice(&ICMPV4_ECHO_PKT[28..]);
        ECHO.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(ECHO.buffer_len(), 24);
        assert_eq!(&buf[..], echo_msg());

        // Errors: excerpt placed first, then emit over header + excerpt.
        for (repr, bytes) in [
            (Repr::TimeExceeded { code: 0 }, &ICMPV4_TIME_EXCEEDED),
            (Repr::FragNeeded { mtu: 1400 }, &ICMPV4_FRAG_NEEDED),
        ] {
            let mut buf = [0xaau8; 36];
            buf[8..].copy_from_slice(&bytes[8..]);
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            assert_eq!(repr.buffer_len(), 8);
            assert_eq!(&buf, bytes);
        }
    }

    #[test]
    fn emit_echo_ignores_trailing_buffer() {
        let mut buf = [0u8; 40];
        buf[8..24].copy_from_slice(&ICMPV4_ECHO_PKT[28..]);
        buf[24..].fill(0x77);
        ECHO.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(&buf[..24], echo_msg());
    }

    #[test]
    fn full_echo_reply_in_ipv4() {
        // Turn the captured request into a reply and emit both layers.
        let ip = ipv4::Packet::new_checked(&ICMPV4_ECHO_PKT[..]).unwrap();
        let ipr = ipv4::Repr::parse(&ip).unwrap();
        let req = Repr::parse(&Packet::new_checked(ip.payload()).unwrap()).unwrap();
        let Repr::EchoRequest { ident, seq_no, data_len } = req else {
            panic!("not an echo request: {req:?}");
        };
        let reply = Repr::EchoReply { ident, seq_no, data_len };
        let reply_ip = ipv4::Repr {
            src_addr: ipr.dst_addr,
            dst_addr: ipr.src_addr,
            payload_len: reply.buffer_len(),
            ..ipr
        };
        let mut out = vec![0u8; reply_ip.buffer_len()];
        let mut op = ipv4::Packet::new_unchecked(&mut out[..]);
        reply_ip.emit(&mut op);
        op.payload_mut()[8..].copy_from_slice(&ICMPV4_ECHO_PKT[28..]);
        reply.emit(&mut Packet::new_unchecked(op.payload_mut()));

        let ip2 = ipv4::Packet::new_checked(&out[..]).unwrap();
        assert_eq!(ipv4::Repr::parse(&ip2), Ok(reply_ip));
        let p2 = Packet::new_checked(ip2.payload()).unwrap();
        assert_eq!(Repr::parse(&p2), Ok(reply));
        assert_eq!(p2.payload(), &ICMPV4_ECHO_PKT[28..]);
    }

    #[test]
    fn round_trip() {
        let reprs = [
            ECHO,
            Repr::EchoReply { ident: 0xffff, seq_no: 0, data_len: 0 },
            Repr::DstUnreachable { code: dst_unreachable::PORT_UNREACHABLE },
            Repr::FragNeeded { mtu: 576 },
            Repr::TimeExceeded { code: time_exceeded::FRAG_REASSEMBLY },
        ];
        for r in reprs {
            let mut buf = vec![0x5au8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let p = Packet::new_checked(&buf[..]).unwrap();
            let r2 = Repr::parse(&p).unwrap();
            assert_eq!(r, r2);
            let mut buf2 = buf.clone();
            buf2[..8].fill(0);
            r2.emit(&mut Packet::new_unchecked(&mut buf2[..]));
            assert_eq!(buf, buf2);
        }
    }

    #[test]
    fn unsupported_messages_are_malformed() {
        // Echo with a non-zero code.
        let mut buf = echo_msg().to_vec();
        buf[1] = 1;
        Packet::new_unchecked(&mut buf[..]).fill_checksum();
        assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Err(Error::Malformed));
        // Unknown type 42, valid checksum.
        let mut buf = echo_msg().to_vec();
        buf[0] = 42;
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum();
        assert_eq!(p.msg_type(), Icmpv4Type(42));
        assert_eq!(p.msg_type().to_string(), "type(42)");
        assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Err(Error::Malformed));
    }

    #[test]
    fn every_prefix() {
        let msg = echo_msg();
        for len in 0..=msg.len() {
            let prefix = &msg[..len];
            match Packet::new_checked(prefix) {
                Err(e) => {
                    assert!(len < 8);
                    assert_eq!(e, Error::Truncated);
                }
                Ok(p) => {
                    exercise(&p);
                    // A shorter prefix breaks the checksum.
                    assert_eq!(Repr::parse(&p).is_ok(), len == msg.len());
                }
            }
            let _ = Repr::parse(&Packet::new_unchecked(prefix));
        }
        // The same through the IPv4 layer: every truncated datagram fails.
        for len in 0..ICMPV4_ECHO_PKT.len() {
            assert!(ipv4::Packet::new_checked(&ICMPV4_ECHO_PKT[..len]).is_err());
        }
    }

    #[test]
    fn checksum_corruption() {
        for bytes in [echo_msg(), &ICMPV4_TIME_EXCEEDED[..], &ICMPV4_FRAG_NEEDED[..]] {
            for i in 0..bytes.len() {
                for bit in 0..8 {
                    let mut buf = bytes.to_vec();
                    buf[i] ^= 1 << bit;
                    let p = Packet::new_checked(&buf[..]).unwrap();
                    assert!(!p.verify_checksum(), "byte {i} bit {bit}");
                    assert_eq!(Repr::parse(&p), Err(Error::Malformed));
                }
            }
        }
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift::new(0x1c4);
        let mut parsed = 0;
        let seeds = [echo_msg(), &ICMPV4_TIME_EXCEEDED[..], &ICMPV4_FRAG_NEEDED[..]];
        for i in 0..FUZZ_ITERS {
            let mut buf = rng.fuzz_buffer(seeds[i % seeds.len()], 48);
            if buf.len() >= 8 && rng.below(2) == 0 {
                Packet::new_unchecked(&mut buf[..]).fill_checksum();
            }
            if let Ok(p) = Packet::new_checked(&buf[..]) {
                exercise(&p);
                if let Ok(r) = Repr::parse(&p) {
                    assert!(r.buffer_len() <= buf.len());
                    parsed += 1;
                }
            }
            let _ = Repr::parse(&Packet::new_unchecked(&buf[..]));
        }
        assert!(parsed > 1000, "{parsed}");
    }
}
