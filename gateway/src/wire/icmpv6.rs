//! ICMP for IPv6 (RFC 4443) and Neighbor Discovery (RFC 4861).
//!
//! ```text
//!  0               1               2               3
//! +---------------+---------------+-------------------------------+
//! |     type      |     code      |           checksum            |
//! +---------------+---------------+-------------------------------+
//! | ident | seq  /  MTU  /  pointer  /  NA flags + reserved       |
//! +---------------------------------------------------------------+
//! | NS/NA: target address (16 bytes), then NDP options            |
//! | others: echo data, or the invoking packet excerpt             |
//! ```
//!
//! NDP options are TLVs: type (1 byte), length in units of 8 bytes
//! (1 byte), value. The Ethernet link-layer address options are
//! `[1 or 2, 1, mac[6]]`.
//!
//! Contract: after [`Packet::check_len`] succeeds no getter panics.
//! `check_len` requires the 8-byte header, plus the fixed body of NDP
//! messages (24 bytes for NS/NA, 16 for RA, 40 for Redirect).
//! [`Packet::target_addr`] returns `None` when the buffer is too short for
//! a target, so it is safe on any message type. ICMPv6 has no length field:
//! pass exactly the IPv6 payload ([`super::ipv6::Packet::payload`]).
//!
//! The checksum covers the IPv6 pseudo-header, so [`Repr::parse`] does
//! **not** verify it: call [`Packet::verify_checksum`] with the addresses of
//! the enclosing IPv6 header. Likewise the NDP rule that the IPv6 hop limit
//! must be 255 (RFC 4861 section 7.1) is the caller's to check.
//! Setters assume a buffer large enough for the field they write (24 bytes
//! for the target address) and panic otherwise.

use core::fmt;
use core::ops::{BitOr, Range};
use std::net::Ipv6Addr;

use super::checksum;
use super::{Error, EthernetAddress, IpProtocol, Result};

/// ICMPv6 message type. Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Icmpv6Type(pub u8);

impl Icmpv6Type {
    pub const DST_UNREACHABLE: Icmpv6Type = Icmpv6Type(1);
    pub const PACKET_TOO_BIG: Icmpv6Type = Icmpv6Type(2);
    pub const TIME_EXCEEDED: Icmpv6Type = Icmpv6Type(3);
    pub const PARAM_PROBLEM: Icmpv6Type = Icmpv6Type(4);
    pub const ECHO_REQUEST: Icmpv6Type = Icmpv6Type(128);
    pub const ECHO_REPLY: Icmpv6Type = Icmpv6Type(129);
    pub const ROUTER_SOLICIT: Icmpv6Type = Icmpv6Type(133);
    pub const ROUTER_ADVERT: Icmpv6Type = Icmpv6Type(134);
    pub const NEIGHBOR_SOLICIT: Icmpv6Type = Icmpv6Type(135);
    pub const NEIGHBOR_ADVERT: Icmpv6Type = Icmpv6Type(136);
    pub const REDIRECT: Icmpv6Type = Icmpv6Type(137);

    /// Error messages have types 0..=127 (RFC 4443 section 2.1).
    pub const fn is_error(&self) -> bool {
        self.0 < 128
    }
}

impl fmt::Display for Icmpv6Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Icmpv6Type::DST_UNREACHABLE => "destination unreachable",
            Icmpv6Type::PACKET_TOO_BIG => "packet too big",
            Icmpv6Type::TIME_EXCEEDED => "time exceeded",
            Icmpv6Type::PARAM_PROBLEM => "parameter problem",
            Icmpv6Type::ECHO_REQUEST => "echo request",
            Icmpv6Type::ECHO_REPLY => "echo reply",
            Icmpv6Type::ROUTER_SOLICIT => "router solicitation",
            Icmpv6Type::ROUTER_ADVERT => "router advertisement",
            Icmpv6Type::NEIGHBOR_SOLICIT => "neighbor solicitation",
            Icmpv6Type::NEIGHBOR_ADVERT => "neighbor advertisement",
            Icmpv6Type::REDIRECT => "redirect",
            Icmpv6Type(other) => return write!(f, "type({other})"),
        };
        f.write_str(name)
    }
}

/// Codes for [`Icmpv6Type::DST_UNREACHABLE`].
pub mod dst_unreachable {
    pub const NO_ROUTE: u8 = 0;
    pub const ADMIN_PROHIBITED: u8 = 1;
    pub const BEYOND_SCOPE: u8 = 2;
    pub const ADDR_UNREACHABLE: u8 = 3;
    pub const PORT_UNREACHABLE: u8 = 4;
    pub const FAILED_POLICY: u8 = 5;
    pub const REJECT_ROUTE: u8 = 6;
}

/// Codes for [`Icmpv6Type::TIME_EXCEEDED`].
pub mod time_exceeded {
    pub const HOP_LIMIT_EXCEEDED: u8 = 0;
    pub const FRAG_REASSEMBLY: u8 = 1;
}

/// Codes for [`Icmpv6Type::PARAM_PROBLEM`].
pub mod param_problem {
    pub const ERRONEOUS_FIELD: u8 = 0;
    pub const UNRECOGNIZED_NEXT_HEADER: u8 = 1;
    pub const UNRECOGNIZED_OPTION: u8 = 2;
}

/// Neighbor Advertisement flags (R, S, O). Open newtype over the flag byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NeighborFlags(pub u8);

impl NeighborFlags {
    pub const NONE: NeighborFlags = NeighborFlags(0);
    pub const ROUTER: NeighborFlags = NeighborFlags(0x80);
    pub const SOLICITED: NeighborFlags = NeighborFlags(0x40);
    pub const OVERRIDE: NeighborFlags = NeighborFlags(0x20);
    /// The defined bits; the rest of the byte is reserved.
    pub const ALL: NeighborFlags = NeighborFlags(0xe0);

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: NeighborFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for NeighborFlags {
    type Output = NeighborFlags;

    fn bitor(self, rhs: NeighborFlags) -> NeighborFlags {
        NeighborFlags(self.0 | rhs.0)
    }
}

/// NDP option type. Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NdpOptionType(pub u8);

impl NdpOptionType {
    pub const SOURCE_LL_ADDR: NdpOptionType = NdpOptionType(1);
    pub const TARGET_LL_ADDR: NdpOptionType = NdpOptionType(2);
    pub const PREFIX_INFO: NdpOptionType = NdpOptionType(3);
    pub const REDIRECTED_HEADER: NdpOptionType = NdpOptionType(4);
    pub const MTU: NdpOptionType = NdpOptionType(5);
}

/// Iterator over the NDP options in a byte slice.
///
/// Yields `(type, body)` where `body` is the option without its two-byte
/// type/length prefix. A zero length yields [`Error::Malformed`] (RFC 4861
/// section 4.6), an option running past the end yields
/// [`Error::Truncated`]; iteration stops after the first error.
#[derive(Debug, Clone)]
pub struct NdpOptions<'a> {
    data: &'a [u8],
}

impl<'a> NdpOptions<'a> {
    /// Iterate over the options in `data`.
    pub const fn new(data: &'a [u8]) -> NdpOptions<'a> {
        NdpOptions { data }
    }
}

impl<'a> Iterator for NdpOptions<'a> {
    type Item = Result<(NdpOptionType, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        let data = self.data;
        if data.is_empty() {
            return None;
        }
        // On error, stop after reporting it.
        self.data = &[];
        let (kind, units) = match data {
            [kind, units, ..] => (*kind, usize::from(*units)),
            _ => return Some(Err(Error::Truncated)),
        };
        if units == 0 {
            return Some(Err(Error::Malformed));
        }
        let len = units * 8;
        let Some(option) = data.get(..len) else {
            return Some(Err(Error::Truncated));
        };
        self.data = &data[option.len()..];
        Some(Ok((NdpOptionType(kind), &option[2..])))
    }
}

/// Length of an Ethernet link-layer address option.
pub const LLADDR_OPTION_LEN: usize = 8;

/// Find the first link-layer address option of type `wanted`. Such an
/// option must carry exactly one Ethernet address (length 1).
fn find_lladdr(options: &[u8], wanted: NdpOptionType) -> Result<Option<EthernetAddress>> {
    let mut found = None;
    for option in NdpOptions::new(options) {
        let (kind, body) = option?;
        if kind == wanted && found.is_none() {
            if body.len() != LLADDR_OPTION_LEN - 2 {
                return Err(Error::Malformed);
            }
            found = EthernetAddress::from_bytes(body);
        }
    }
    Ok(found)
}

mod field {
    use core::ops::Range;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const MTU: Range<usize> = 4..8;
    pub const POINTER: Range<usize> = 4..8;
    pub const NA_FLAGS: usize = 4;
    pub const REST_OF_HEADER: Range<usize> = 4..8;
    pub const TARGET: Range<usize> = 8..24;

    pub const RS_OPTIONS: usize = 8;
    pub const RA_OPTIONS: usize = 16;
    pub const NS_NA_OPTIONS: usize = TARGET.end;
    pub const REDIRECT_OPTIONS: usize = 40;
}

/// Length of the common ICMPv6 header (type, code, checksum, 4 more bytes).
pub const HEADER_LEN: usize = field::REST_OF_HEADER.end;
/// Length of an NS/NA message without options.
pub const NEIGHBOR_LEN: usize = field::NS_NA_OPTIONS;

/// Zero-copy view of an ICMPv6 message.
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

    /// Ensure the 8-byte header, and the fixed body of NDP messages, are
    /// present ([`Error::Truncated`] otherwise).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < self.fixed_len() {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Give back the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Length of the fixed part of this message type (before options or
    /// payload).
    fn fixed_len(&self) -> usize {
        match self.buffer.as_ref().first().map(|&t| Icmpv6Type(t)) {
            Some(Icmpv6Type::ROUTER_ADVERT) => field::RA_OPTIONS,
            Some(Icmpv6Type::NEIGHBOR_SOLICIT | Icmpv6Type::NEIGHBOR_ADVERT) => field::NS_NA_OPTIONS,
            Some(Icmpv6Type::REDIRECT) => field::REDIRECT_OPTIONS,
            _ => HEADER_LEN,
        }
    }

    fn u16_at(&self, r: Range<usize>) -> u16 {
        let d = &self.buffer.as_ref()[r];
        u16::from_be_bytes([d[0], d[1]])
    }

    fn u32_at(&self, r: Range<usize>) -> u32 {
        let d = &self.buffer.as_ref()[r];
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// Message type.
    pub fn msg_type(&self) -> Icmpv6Type {
        Icmpv6Type(self.buffer.as_ref()[field::TYPE])
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// Echo identifier (echo request/reply).
    pub fn echo_ident(&self) -> u16 {
        self.u16_at(field::ECHO_IDENT)
    }

    /// Echo sequence number (echo request/reply).
    pub fn echo_seq_no(&self) -> u16 {
        self.u16_at(field::ECHO_SEQNO)
    }

    /// MTU (packet too big).
    pub fn mtu(&self) -> u32 {
        self.u32_at(field::MTU)
    }

    /// Pointer (parameter problem).
    pub fn param_pointer(&self) -> u32 {
        self.u32_at(field::POINTER)
    }

    /// R/S/O flags (neighbor advertisement); reserved bits masked off.
    pub fn neighbor_flags(&self) -> NeighborFlags {
        NeighborFlags(self.buffer.as_ref()[field::NA_FLAGS] & NeighborFlags::ALL.0)
    }

    /// Target address of an NS/NA (or Redirect), or `None` if the buffer is
    /// shorter than 24 bytes. Does not look at the message type.
    pub fn target_addr(&self) -> Option<Ipv6Addr> {
        let bytes: [u8; 16] = self.buffer.as_ref().get(field::TARGET)?.try_into().ok()?;
        Some(Ipv6Addr::from(bytes))
    }

    /// Raw NDP options area for RS, RA, NS, NA and Redirect messages; empty
    /// for other types or if the buffer is too short.
    pub fn ndp_options(&self) -> &[u8] {
        let start = match self.msg_type() {
            Icmpv6Type::ROUTER_SOLICIT => field::RS_OPTIONS,
            Icmpv6Type::ROUTER_ADVERT
            | Icmpv6Type::NEIGHBOR_SOLICIT
            | Icmpv6Type::NEIGHBOR_ADVERT
            | Icmpv6Type::REDIRECT => self.fixed_len(),
            _ => return &[],
        };
        self.buffer.as_ref().get(start..).unwrap_or(&[])
    }

    /// Verify the checksum over the whole buffer against the IPv6
    /// pseudo-header for `src` and `dst`.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        let ph = checksum::pseudo_header_v6(src, dst, IpProtocol::ICMPV6, data.len() as u32);
        !checksum::combine(&[ph, checksum::sum(data)]) == 0
    }

    /// Everything after the 8-byte header: echo data, invoking packet
    /// excerpt, or (for NDP) the target address and options.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_u16_at(&mut self, r: Range<usize>, value: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes());
    }

    fn set_u32_at(&mut self, r: Range<usize>, value: u32) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the message type.
    pub fn set_msg_type(&mut self, value: Icmpv6Type) {
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

    /// Set the MTU (packet too big).
    pub fn set_mtu(&mut self, value: u32) {
        self.set_u32_at(field::MTU, value);
    }

    /// Set the pointer (parameter problem).
    pub fn set_param_pointer(&mut self, value: u32) {
        self.set_u32_at(field::POINTER, value);
    }

    /// Set the NA flags and zero the reserved bits (bytes 4..8).
    pub fn set_neighbor_flags(&mut self, value: NeighborFlags) {
        self.clear_rest_of_header();
        self.buffer.as_mut()[field::NA_FLAGS] = value.0 & NeighborFlags::ALL.0;
    }

    /// Zero bytes 4..8 ("unused"/"reserved" in most messages).
    pub fn clear_rest_of_header(&mut self) {
        self.buffer.as_mut()[field::REST_OF_HEADER].fill(0);
    }

    /// Set the target address (needs a buffer of at least 24 bytes).
    pub fn set_target_addr(&mut self, value: Ipv6Addr) {
        self.buffer.as_mut()[field::TARGET].copy_from_slice(&value.octets());
    }

    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        let len = self.buffer.as_ref().len();
        self.fill_checksum_over(src, dst, len);
    }

    fn fill_checksum_over(&mut self, src: Ipv6Addr, dst: Ipv6Addr, len: usize) {
        self.set_checksum(0);
        let data = &self.buffer.as_ref()[..len];
        let ph = checksum::pseudo_header_v6(src, dst, IpProtocol::ICMPV6, len as u32);
        let ck = !checksum::combine(&[ph, checksum::sum(data)]);
        self.set_checksum(ck);
    }

    /// Write an Ethernet link-layer address option at `offset`.
    fn write_lladdr_option(&mut self, offset: usize, kind: NdpOptionType, addr: EthernetAddress) {
        let opt = &mut self.buffer.as_mut()[offset..offset + LLADDR_OPTION_LEN];
        opt[0] = kind.0;
        opt[1] = (LLADDR_OPTION_LEN / 8) as u8;
        opt[2..].copy_from_slice(&addr.0);
    }

    /// Mutable access to everything after the 8-byte header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// High-level representation of the ICMPv6 messages the gateway handles.
///
/// Echo data and error excerpts are not copied: they stay in the buffer
/// after the 8-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repr {
    EchoRequest { ident: u16, seq_no: u16, data_len: usize },
    EchoReply { ident: u16, seq_no: u16, data_len: usize },
    DstUnreachable { code: u8 },
    PacketTooBig { mtu: u32 },
    TimeExceeded { code: u8 },
    ParamProblem { code: u8, pointer: u32 },
    RouterSolicit { lladdr: Option<EthernetAddress> },
    NeighborSolicit { target_addr: Ipv6Addr, lladdr: Option<EthernetAddress> },
    NeighborAdvert { flags: NeighborFlags, target_addr: Ipv6Addr, lladdr: Option<EthernetAddress> },
}

impl Repr {
    /// Parse a message (runs `check_len`; does **not** verify the checksum,
    /// see the module docs).
    ///
    /// [`Error::Malformed`] for: unsupported types, echo/NDP with a
    /// non-zero code, a multicast NS/NA target, zero-length NDP options or
    /// a link-layer address option that is not exactly 8 bytes. An NDP
    /// option running past the end is [`Error::Truncated`]. Unknown NDP
    /// options are skipped. RS/NS take the source link-layer address
    /// option, NA the target link-layer address option.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        let code = packet.msg_code();
        let msg_type = packet.msg_type();
        let needs_zero_code = matches!(
            msg_type,
            Icmpv6Type::ECHO_REQUEST
                | Icmpv6Type::ECHO_REPLY
                | Icmpv6Type::ROUTER_SOLICIT
                | Icmpv6Type::NEIGHBOR_SOLICIT
                | Icmpv6Type::NEIGHBOR_ADVERT
        );
        if needs_zero_code && code != 0 {
            return Err(Error::Malformed);
        }
        let neighbor_target = || -> Result<Ipv6Addr> {
            let target = packet.target_addr().ok_or(Error::Truncated)?;
            if target.is_multicast() {
                return Err(Error::Malformed);
            }
            Ok(target)
        };
        match msg_type {
            Icmpv6Type::ECHO_REQUEST => Ok(Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data_len: packet.payload().len(),
            }),
            Icmpv6Type::ECHO_REPLY => Ok(Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data_len: packet.payload().len(),
            }),
            Icmpv6Type::DST_UNREACHABLE => Ok(Repr::DstUnreachable { code }),
            Icmpv6Type::PACKET_TOO_BIG => Ok(Repr::PacketTooBig { mtu: packet.mtu() }),
            Icmpv6Type::TIME_EXCEEDED => Ok(Repr::TimeExceeded { code }),
            Icmpv6Type::PARAM_PROBLEM => Ok(Repr::ParamProblem { code, pointer: packet.param_pointer() }),
            Icmpv6Type::ROUTER_SOLICIT => Ok(Repr::RouterSolicit {
                lladdr: find_lladdr(packet.ndp_options(), NdpOptionType::SOURCE_LL_ADDR)?,
            }),
            Icmpv6Type::NEIGHBOR_SOLICIT => Ok(Repr::NeighborSolicit {
                target_addr: neighbor_target()?,
                lladdr: find_lladdr(packet.ndp_options(), NdpOptionType::SOURCE_LL_ADDR)?,
            }),
            Icmpv6Type::NEIGHBOR_ADVERT => Ok(Repr::NeighborAdvert {
                flags: packet.neighbor_flags(),
                target_addr: neighbor_target()?,
                lladdr: find_lladdr(packet.ndp_options(), NdpOptionType::TARGET_LL_ADDR)?,
            }),
            _ => Err(Error::Malformed),
        }
    }

    /// Message type of this representation.
    pub const fn msg_type(&self) -> Icmpv6Type {
        match self {
            Repr::EchoRequest { .. } => Icmpv6Type::ECHO_REQUEST,
            Repr::EchoReply { .. } => Icmpv6Type::ECHO_REPLY,
            Repr::DstUnreachable { .. } => Icmpv6Type::DST_UNREACHABLE,
            Repr::PacketTooBig { .. } => Icmpv6Type::PACKET_TOO_BIG,
            Repr::TimeExceeded { .. } => Icmpv6Type::TIME_EXCEEDED,
            Repr::ParamProblem { .. } => Icmpv6Type::PARAM_PROBLEM,
            Repr::RouterSolicit { .. } => Icmpv6Type::ROUTER_SOLICIT,
            Repr::NeighborSolicit { .. } => Icmpv6Type::NEIGHBOR_SOLICIT,
            Repr::NeighborAdvert { .. } => Icmpv6Type::NEIGHBOR_ADVERT,
        }
    }

    /// Bytes needed: header plus echo data, or the whole NDP message. For
    /// error messages this is the 8-byte header only; the caller adds the
    /// length of the invoking-packet excerpt it places after it.
    pub const fn buffer_len(&self) -> usize {
        const fn opt_len(lladdr: &Option<EthernetAddress>) -> usize {
            if lladdr.is_some() {
                LLADDR_OPTION_LEN
            } else {
                0
            }
        }
        match self {
            Repr::EchoRequest { data_len, .. } | Repr::EchoReply { data_len, .. } => HEADER_LEN + *data_len,
            Repr::DstUnreachable { .. }
            | Repr::PacketTooBig { .. }
            | Repr::TimeExceeded { .. }
            | Repr::ParamProblem { .. } => HEADER_LEN,
            Repr::RouterSolicit { lladdr } => field::RS_OPTIONS + opt_len(lladdr),
            Repr::NeighborSolicit { lladdr, .. } | Repr::NeighborAdvert { lladdr, .. } => {
                NEIGHBOR_LEN + opt_len(lladdr)
            }
        }
    }

    /// Write the message and its checksum (pseudo-header from `src` and
    /// `dst`, the addresses of the enclosing IPv6 header).
    ///
    /// Echo data or an error's invoking-packet excerpt must already be in
    /// place after the 8-byte header. For echo and NDP messages the
    /// checksum covers `buffer_len()` bytes; for error messages it covers
    /// the whole buffer, so size the buffer to header + excerpt.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) {
        packet.set_msg_type(self.msg_type());
        packet.clear_rest_of_header();
        let mut whole_buffer = false;
        match *self {
            Repr::EchoRequest { ident, seq_no, .. } | Repr::EchoReply { ident, seq_no, .. } => {
                packet.set_msg_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
            }
            Repr::DstUnreachable { code } | Repr::TimeExceeded { code } => {
                packet.set_msg_code(code);
                whole_buffer = true;
            }
            Repr::PacketTooBig { mtu } => {
                packet.set_msg_code(0);
                packet.set_mtu(mtu);
                whole_buffer = true;
            }
            Repr::ParamProblem { code, pointer } => {
                packet.set_msg_code(code);
                packet.set_param_pointer(pointer);
                whole_buffer = true;
            }
            Repr::RouterSolicit { lladdr } => {
                packet.set_msg_code(0);
                if let Some(mac) = lladdr {
                    packet.write_lladdr_option(field::RS_OPTIONS, NdpOptionType::SOURCE_LL_ADDR, mac);
                }
            }
            Repr::NeighborSolicit { target_addr, lladdr } => {
                packet.set_msg_code(0);
                packet.set_target_addr(target_addr);
                if let Some(mac) = lladdr {
                    packet.write_lladdr_option(field::NS_NA_OPTIONS, NdpOptionType::SOURCE_LL_ADDR, mac);
                }
            }
            Repr::NeighborAdvert { flags, target_addr, lladdr } => {
                packet.set_msg_code(0);
                packet.set_neighbor_flags(flags);
                packet.set_target_addr(target_addr);
                if let Some(mac) = lladdr {
                    packet.write_lladdr_option(field::NS_NA_OPTIONS, NdpOptionType::TARGET_LL_ADDR, mac);
                }
            }
        }
        if whole_buffer {
            packet.fill_checksum(src, dst);
        } else {
            packet.fill_checksum_over(src, dst, self.buffer_len());
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::{XorShift, FUZZ_ITERS};
    use crate::wire::{ethernet, ipv6, EtherType};

    /// Ethernet + IPv6 + Neighbor Solicitation: who has 2001:db8::2?
    /// From fe80::211:22ff:fe33:4455 (00:11:22:33:44:55) to the
    /// solicited-node group ff02::1:ff00:2, hop limit 255, with a source
    /// link-layer address option.
    const ETH_IPV6_NS_FRAME: [u8; 86] = [
        0x33, 0x33, 0xff, 0x00, 0x00, 0x02, 0x00, 0x11, //
        0x22, 0x33, 0x44, 0x55, 0x86, 0xdd, 0x60, 0x00, //
        0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfe, 0x80, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x11, //
        0x22, 0xff, 0xfe, 0x33, 0x44, 0x55, 0xff, 0x02, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x01, 0xff, 0x00, 0x00, 0x02, 0x87, 0x00, //
        0x7f, 0x2e, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, //
        0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, //
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
    ];

    /// The ICMPv6 part of the frame above.
    static ICMPV6_NS: [u8; 32] = [
        0x87, 0x00, 0x7f, 0x2e, 0x00, 0x00, 0x00, 0x00, //
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, //
        0x01, 0x01, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, //
    ];

    /// Solicited + override NA for 2001:db8::2 with target link-layer
    /// address 00:aa:bb:cc:dd:ee, from 2001:db8::2 to
    /// fe80::211:22ff:fe33:4455.
    static ICMPV6_NA: [u8; 32] = [
        0x88, 0x00, 0xb9, 0xad, 0x60, 0x00, 0x00, 0x00, //
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, //
        0x02, 0x01, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, //
    ];

    /// Echo request 2001:db8::1 -> 2001:db8::2, ident 0x4242, seq 7,
    /// data "ping6data".
    static ICMPV6_ECHO: [u8; 17] = [
        0x80, 0x00, 0x0a, 0x4c, 0x42, 0x42, 0x00, 0x07, //
        0x70, 0x69, 0x6e, 0x67, 0x36, 0x64, 0x61, 0x74, //
        0x61,
    ];

    /// Packet too big (MTU 1280) from 2001:db8::fe to 2001:db8::1 quoting
    /// the first 48 bytes of a UDP packet.
    static ICMPV6_PTB: [u8; 56] = [
        0x02, 0x00, 0x07, 0x05, 0x00, 0x00, 0x05, 0x00, //
        0x6b, 0x81, 0x23, 0x45, 0x00, 0x13, 0x11, 0x40, //
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53, //
        0xcf, 0x08, 0x00, 0x35, 0x00, 0x13, 0xc9, 0xe6, //
    ];

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn ll_src() -> Ipv6Addr {
        a("fe80::211:22ff:fe33:4455")
    }

    const MAC1: EthernetAddress = EthernetAddress([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
    const MAC2: EthernetAddress = EthernetAddress([0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);

    fn ns_repr() -> Repr {
        Repr::NeighborSolicit { target_addr: a("2001:db8::2"), lladdr: Some(MAC1) }
    }

    fn na_repr() -> Repr {
        Repr::NeighborAdvert {
            flags: NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE,
            target_addr: a("2001:db8::2"),
            lladdr: Some(MAC2),
        }
    }

    const ECHO: Repr = Repr::EchoRequest { ident: 0x4242, seq_no: 7, data_len: 9 };

    /// (message, src, dst, repr) for every captured message.
    fn samples() -> Vec<(&'static [u8], Ipv6Addr, Ipv6Addr, Repr)> {
        vec![
            (&ICMPV6_NS, ll_src(), a("ff02::1:ff00:2"), ns_repr()),
            (&ICMPV6_NA, a("2001:db8::2"), ll_src(), na_repr()),
            (&ICMPV6_ECHO, a("2001:db8::1"), a("2001:db8::2"), ECHO),
            (&ICMPV6_PTB, a("2001:db8::fe"), a("2001:db8::1"), Repr::PacketTooBig { mtu: 1280 }),
        ]
    }

    fn exercise<T: AsRef<[u8]>>(p: &Packet<T>) {
        let _ = (p.msg_type(), p.msg_code(), p.checksum());
        let _ = (p.echo_ident(), p.echo_seq_no(), p.mtu(), p.param_pointer());
        let _ = (p.neighbor_flags(), p.target_addr());
        let _ = p.verify_checksum(ll_src(), Ipv6Addr::UNSPECIFIED);
        let _ = p.payload().len();
        for opt in NdpOptions::new(p.ndp_options()) {
            let _ = opt;
        }
    }

    #[test]
    fn deconstruct_ns_frame() {
        let eth = ethernet::Packet::new_checked(&ETH_IPV6_NS_FRAME[..]).unwrap();
        assert_eq!(eth.ethertype(), EtherType::IPV6);
        assert_eq!(eth.dst_addr(), EthernetAddress::from_ipv6_multicast(a("ff02::1:ff00:2")));
        let ip = ipv6::Packet::new_checked(eth.payload()).unwrap();
        assert_eq!(ip.next_header(), IpProtocol::ICMPV6);
        assert_eq!(ip.hop_limit(), 255);
        assert_eq!(ip.src_addr(), ll_src());
        assert_eq!(ip.dst_addr(), a("ff02::1:ff00:2"));
        let p = Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(p.msg_type(), Icmpv6Type::NEIGHBOR_SOLICIT);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.checksum(), 0x7f2e);
        assert_eq!(p.target_addr(), Some(a("2001:db8::2")));
        assert_eq!(p.ndp_options(), &ICMPV6_NS[24..]);
        assert!(p.verify_checksum(ip.src_addr(), ip.dst_addr()));
        let opts: Vec<_> = NdpOptions::new(p.ndp_options()).collect();
        assert_eq!(opts, vec![Ok((NdpOptionType::SOURCE_LL_ADDR, &MAC1.0[..]))]);
        assert_eq!(ip.payload(), &ICMPV6_NS[..]);
    }

    #[test]
    fn deconstruct_others() {
        let p = Packet::new_checked(&ICMPV6_NA[..]).unwrap();
        assert_eq!(p.msg_type(), Icmpv6Type::NEIGHBOR_ADVERT);
        let f = p.neighbor_flags();
        assert!(f.contains(NeighborFlags::SOLICITED) && f.contains(NeighborFlags::OVERRIDE));
        assert!(!f.contains(NeighborFlags::ROUTER));
        assert_eq!(p.target_addr(), Some(a("2001:db8::2")));
        assert!(p.verify_checksum(a("2001:db8::2"), ll_src()));

        let p = Packet::new_checked(&ICMPV6_ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), Icmpv6Type::ECHO_REQUEST);
        assert_eq!((p.echo_ident(), p.echo_seq_no()), (0x4242, 7));
        assert_eq!(p.payload(), b"ping6data");
        assert_eq!(p.ndp_options(), &[] as &[u8]);
        assert!(p.verify_checksum(a("2001:db8::1"), a("2001:db8::2")));

        let p = Packet::new_checked(&ICMPV6_PTB[..]).unwrap();
        assert_eq!(p.msg_type(), Icmpv6Type::PACKET_TOO_BIG);
        assert!(p.msg_type().is_error());
        assert_eq!(p.mtu(), 1280);
        assert!(p.verify_checksum(a("2001:db8::fe"), a("2001:db8::1")));
        let quoted = ipv6::Packet::new_unchecked(p.payload());
        assert_eq!(quoted.src_addr(), a("2001:db8::1"));
        assert_eq!(quoted.next_header(), IpProtocol::UDP);
    }

    #[test]
    fn construct() {
        let mut buf = [0xffu8; 32];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(Icmpv6Type::NEIGHBOR_SOLICIT);
        p.set_msg_code(0);
        p.clear_rest_of_header();
        p.set_target_addr(a("2001:db8::2"));
        p.payload_mut()[16..].copy_from_slice(&[1, 1, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        p.fill_checksum(ll_src(), a("ff02::1:ff00:2"));
        assert_eq!(buf, ICMPV6_NS);

        let mut buf = [0xffu8; 32];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(Icmpv6Type::NEIGHBOR_ADVERT);
        p.set_msg_code(0);
        p.set_neighbor_flags(NeighborFlags(0x60 | 0x1f));
        p.set_target_addr(a("2001:db8::2"));
        p.payload_mut()[16..].copy_from_slice(&[2, 1, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
        p.fill_checksum(a("2001:db8::2"), ll_src());
        assert_eq!(buf, ICMPV6_NA);

        let mut buf = [0xffu8; 17];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(Icmpv6Type::ECHO_REQUEST);
        p.set_msg_code(0);
        p.set_echo_ident(0x4242);
        p.set_echo_seq_no(7);
        p.payload_mut().copy_from_slice(b"ping6data");
        p.fill_checksum(a("2001:db8::1"), a("2001:db8::2"));
        assert_eq!(buf, ICMPV6_ECHO);

        let mut buf = [0xffu8; 56];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(Icmpv6Type::PACKET_TOO_BIG);
        p.set_msg_code(0);
        p.set_mtu(1280);
        p.payload_mut().copy_from_slice(&ICMPV6_PTB[8..]);
        p.fill_checksum(a("2001:db8::fe"), a("2001:db8::1"));
        assert_eq!(buf, ICMPV6_PTB);
    }

    #[test]
    fn parse_repr() {
        for (bytes, _, _, repr) in samples() {
            let p = Packet::new_checked(bytes).unwrap();
            assert_eq!(Repr::parse(&p), Ok(repr));
        }
    }

    #[test]
    fn emit_repr() {
        for (bytes, src, dst, repr) in samples() {
            let mut buf = vec![0x99u8; bytes.len()];
            if repr.msg_type().is_error() || matches!(repr, Repr::EchoRequest { .. }) {
                buf[8..].copy_from_slice(&bytes[8..]);
            }
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]), src, dst);
            assert_eq!(&buf[..], bytes, "{repr:?}");
            if !repr.msg_type().is_error() {
                assert_eq!(repr.buffer_len(), bytes.len());
            }
        }
    }

    #[test]
    fn emit_ns_frame() {
        // Build the whole captured frame from Reprs.
        let eth = ethernet::Repr {
            src_addr: MAC1,
            dst_addr: EthernetAddress::from_ipv6_multicast(a("ff02::1:ff00:2")),
            ethertype: EtherType::IPV6,
        };
        let ip = ipv6::Repr {
            src_addr: ll_src(),
            dst_addr: a("ff02::1:ff00:2"),
            next_header: IpProtocol::ICMPV6,
            payload_len: ns_repr().buffer_len(),
            hop_limit: 255,
            dscp: 0,
            ecn: 0,
            flow_label: 0,
        };
        let mut frame = vec![0u8; eth.buffer_len() + ip.buffer_len()];
        let mut ep = ethernet::Packet::new_unchecked(&mut frame[..]);
        eth.emit(&mut ep);
        let mut ipp = ipv6::Packet::new_unchecked(ep.payload_mut());
        ip.emit(&mut ipp);
        ns_repr().emit(&mut Packet::new_unchecked(ipp.payload_mut()), ip.src_addr, ip.dst_addr);
        assert_eq!(&frame[..], &ETH_IPV6_NS_FRAME[..]);
    }

    #[test]
    fn round_trip() {
        let mut reprs: Vec<Repr> = samples().into_iter().map(|s| s.3).collect();
        reprs.extend([
            Repr::EchoReply { ident: 1, seq_no: 0xffff, data_len: 0 },
            Repr::DstUnreachable { code: dst_unreachable::PORT_UNREACHABLE },
            Repr::TimeExceeded { code: time_exceeded::HOP_LIMIT_EXCEEDED },
            Repr::ParamProblem { code: param_problem::UNRECOGNIZED_NEXT_HEADER, pointer: 6 },
            Repr::RouterSolicit { lladdr: None },
            Repr::RouterSolicit { lladdr: Some(MAC1) },
            Repr::NeighborSolicit { target_addr: a("fe80::1"), lladdr: None },
            Repr::NeighborAdvert {
                flags: NeighborFlags::ROUTER | NeighborFlags::SOLICITED,
                target_addr: a("2001:db8::99"),
                lladdr: None,
            },
        ]);
        let (src, dst) = (a("2001:db8::1"), a("2001:db8::2"));
        for r in reprs {
            let mut buf = vec![0x3cu8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]), src, dst);
            let p = Packet::new_checked(&buf[..]).unwrap();
            assert!(p.verify_checksum(src, dst), "{r:?}");
            let r2 = Repr::parse(&p).unwrap();
            assert_eq!(r, r2);
            let mut buf2 = vec![0u8; r2.buffer_len()];
            buf2[8..].copy_from_slice(&buf[8..]);
            r2.emit(&mut Packet::new_unchecked(&mut buf2[..]), src, dst);
            assert_eq!(buf, buf2);
        }
    }

    #[test]
    fn ndp_options_iterator() {
        let opts = [
            3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // prefix info (32 bytes)
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
            5, 1, 0, 0, 0, 0, 0x05, 0xdc, // MTU 1500
        ];
        let v: Vec<_> = NdpOptions::new(&opts).map(|o| o.map(|(t, b)| (t, b.len()))).collect();
        assert_eq!(v, vec![Ok((NdpOptionType::PREFIX_INFO, 30)), Ok((NdpOptionType::MTU, 6))]);
        let v: Vec<_> = NdpOptions::new(&[1, 0, 1, 2, 3, 4, 5, 6]).collect();
        assert_eq!(v, vec![Err(Error::Malformed)]);
        let v: Vec<_> = NdpOptions::new(&[1, 2, 1, 2, 3, 4, 5, 6]).collect();
        assert_eq!(v, vec![Err(Error::Truncated)]);
        let v: Vec<_> = NdpOptions::new(&[1]).collect();
        assert_eq!(v, vec![Err(Error::Truncated)]);
        assert_eq!(NdpOptions::new(&[]).count(), 0);
    }

    /// NS with custom options after the target (checksum irrelevant).
    fn ns_with_options(options: &[u8]) -> Vec<u8> {
        let mut v = ICMPV6_NS[..24].to_vec();
        v.extend_from_slice(options);
        v
    }

    #[test]
    fn ndp_option_handling_in_parse() {
        let target = a("2001:db8::2");
        // Unknown option skipped, then SLLA found.
        let v = ns_with_options(&[
            200, 1, 9, 9, 9, 9, 9, 9, //
            1, 1, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
        ]);
        let r = Repr::parse(&Packet::new_checked(&v[..]).unwrap());
        assert_eq!(r, Ok(Repr::NeighborSolicit { target_addr: target, lladdr: Some(MAC1) }));
        // A TLLA option in an NS is ignored.
        let v = ns_with_options(&[2, 1, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        let r = Repr::parse(&Packet::new_checked(&v[..]).unwrap());
        assert_eq!(r, Ok(Repr::NeighborSolicit { target_addr: target, lladdr: None }));
        // Zero-length option.
        let v = ns_with_options(&[1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Repr::parse(&Packet::new_checked(&v[..]).unwrap()), Err(Error::Malformed));
        // SLLA of 16 bytes is not an Ethernet address.
        let v = ns_with_options(&[1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Repr::parse(&Packet::new_checked(&v[..]).unwrap()), Err(Error::Malformed));
        // Option running past the end.
        let v = ns_with_options(&[1, 1, 0, 0]);
        assert_eq!(Repr::parse(&Packet::new_checked(&v[..]).unwrap()), Err(Error::Truncated));
        // Multicast target.
        let mut v = ICMPV6_NS.to_vec();
        v[8] = 0xff;
        assert_eq!(Repr::parse(&Packet::new_checked(&v[..]).unwrap()), Err(Error::Malformed));
        // Non-zero code.
        let mut v = ICMPV6_NA.to_vec();
        v[1] = 1;
        assert_eq!(Repr::parse(&Packet::new_checked(&v[..]).unwrap()), Err(Error::Malformed));
        // Unknown type.
        let mut v = ICMPV6_ECHO.to_vec();
        v[0] = 250;
        assert_eq!(Repr::parse(&Packet::new_checked(&v[..]).unwrap()), Err(Error::Malformed));
    }

    #[test]
    fn target_addr_is_safe_on_short_messages() {
        let p = Packet::new_checked(&ICMPV6_ECHO[..]).unwrap();
        assert_eq!(p.target_addr(), None);
        let p = Packet::new_checked(&ICMPV6_ECHO[..8]).unwrap();
        assert_eq!(p.target_addr(), None);
        assert!(p.payload().is_empty());
    }

    #[test]
    fn every_prefix() {
        for (bytes, src, dst, repr) in samples() {
            for len in 0..=bytes.len() {
                let prefix = &bytes[..len];
                match Packet::new_checked(prefix) {
                    Err(e) => {
                        assert_eq!(e, Error::Truncated);
                        let min = if matches!(repr, Repr::NeighborSolicit { .. })
                            || matches!(repr, Repr::NeighborAdvert { .. })
                        {
                            24
                        } else {
                            8
                        };
                        assert!(len < min, "{repr:?} len {len}");
                    }
                    Ok(p) => {
                        exercise(&p);
                        if len < bytes.len() {
                            assert!(!p.verify_checksum(src, dst), "{repr:?} len {len}");
                        }
                        let parsed = Repr::parse(&p);
                        if len == bytes.len() {
                            assert_eq!(parsed, Ok(repr));
                        }
                        // NS/NA: a valid prefix without the option parses;
                        // a cut option does not.
                        if len == 24 {
                            assert!(parsed.is_ok());
                        } else if len > 24 && len < 32 && bytes.len() == 32 {
                            assert_eq!(parsed, Err(Error::Truncated));
                        }
                    }
                }
                let _ = Repr::parse(&Packet::new_unchecked(prefix));
            }
        }
    }

    #[test]
    fn checksum_corruption() {
        for (bytes, src, dst, _) in samples() {
            for i in 0..bytes.len() {
                for bit in 0..8 {
                    let mut buf = bytes.to_vec();
                    buf[i] ^= 1 << bit;
                    let p = Packet::new_unchecked(&buf[..]);
                    assert!(!p.verify_checksum(src, dst), "byte {i} bit {bit}");
                }
            }
            // Wrong pseudo-header.
            let p = Packet::new_checked(bytes).unwrap();
            assert!(!p.verify_checksum(src, a("2001:db8::dead")));
            assert!(p.verify_checksum(src, dst));
        }
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift::new(0x1c6);
        let mut parsed = 0;
        let seeds = samples();
        for i in 0..FUZZ_ITERS {
            let (seed, src, dst, _) = seeds[i % seeds.len()];
            let buf = rng.fuzz_buffer(seed, 64);
            if let Ok(p) = Packet::new_checked(&buf[..]) {
                exercise(&p);
                let _ = p.verify_checksum(src, dst);
                if let Ok(r) = Repr::parse(&p) {
                    // Whatever parses must re-emit and re-parse identically
                    // (errors carry their excerpt in the buffer).
                    let mut out = vec![0u8; r.buffer_len().max(buf.len())];
                    out[..buf.len()].copy_from_slice(&buf);
                    out.truncate(if r.msg_type().is_error() { buf.len() } else { r.buffer_len() });
                    r.emit(&mut Packet::new_unchecked(&mut out[..]), src, dst);
                    let p2 = Packet::new_checked(&out[..]).unwrap();
                    assert!(p2.verify_checksum(src, dst));
                    assert_eq!(Repr::parse(&p2), Ok(r));
                    parsed += 1;
                }
            }
            let _ = Repr::parse(&Packet::new_unchecked(&buf[..]));
        }
        assert!(parsed > 2000, "{parsed}");
    }
}
