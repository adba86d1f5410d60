//! Address Resolution Protocol (RFC 826).
//!
//! ```text
//!  0       2       4   5   6       8
//! +-------+-------+---+---+-------+---------+---------+---------+---------+
//! | htype | ptype |hln|pln|  op   | sha[hln]| spa[pln]| tha[hln]| tpa[pln]|
//! +-------+-------+---+---+-------+---------+---------+---------+---------+
//! ```
//!
//! [`Packet`] handles any hardware/protocol address length; [`Repr`] only
//! Ethernet/IPv4 (htype 1, ptype 0x0800, hlen 6, plen 4).
//!
//! Contract: after [`Packet::check_len`] succeeds (fixed part present and
//! `8 + 2 * (hlen + plen)` bytes available) no getter panics. An ARP packet
//! has no payload; bytes after the target protocol address (Ethernet
//! padding) are ignored. Setters assume a buffer sized for the address
//! lengths already written into it (set `hardware_len`/`protocol_len` first)
//! and an argument slice of exactly that length; they panic otherwise.

use core::fmt;
use core::ops::Range;
use std::net::Ipv4Addr;

use super::{Error, EtherType, EthernetAddress, Result};

/// ARP hardware type. Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hardware(pub u16);

impl Hardware {
    pub const ETHERNET: Hardware = Hardware(1);
}

/// ARP operation code. Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Operation(pub u16);

impl Operation {
    pub const REQUEST: Operation = Operation(1);
    pub const REPLY: Operation = Operation(2);
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Operation::REQUEST => f.write_str("request"),
            Operation::REPLY => f.write_str("reply"),
            Operation(other) => write!(f, "op({other})"),
        }
    }
}

mod field {
    use core::ops::Range;

    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    /// Start of the variable-length address block.
    pub const ADDRS: usize = 8;
}

/// Length of the fixed part of the header.
pub const FIXED_LEN: usize = field::ADDRS;
/// Length of an Ethernet/IPv4 ARP packet.
pub const ETHERNET_IPV4_LEN: usize = FIXED_LEN + 2 * (6 + 4);

/// Zero-copy view of an ARP packet.
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

    /// Ensure the fixed part and all four addresses fit in the buffer.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < FIXED_LEN || len < self.packet_len() {
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

    /// Hardware type.
    pub fn hardware_type(&self) -> Hardware {
        Hardware(self.u16_at(field::HTYPE))
    }

    /// Protocol type.
    pub fn protocol_type(&self) -> EtherType {
        EtherType(self.u16_at(field::PTYPE))
    }

    /// Hardware address length.
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length.
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation code.
    pub fn operation(&self) -> Operation {
        Operation(self.u16_at(field::OPER))
    }

    /// Length of the packet implied by the address lengths.
    pub fn packet_len(&self) -> usize {
        let d = self.buffer.as_ref();
        match (d.get(field::HLEN), d.get(field::PLEN)) {
            (Some(&h), Some(&p)) => FIXED_LEN + 2 * (usize::from(h) + usize::from(p)),
            _ => FIXED_LEN,
        }
    }

    fn sha_range(&self) -> Range<usize> {
        let h = usize::from(self.hardware_len());
        field::ADDRS..field::ADDRS + h
    }

    fn spa_range(&self) -> Range<usize> {
        let start = self.sha_range().end;
        start..start + usize::from(self.protocol_len())
    }

    fn tha_range(&self) -> Range<usize> {
        let start = self.spa_range().end;
        start..start + usize::from(self.hardware_len())
    }

    fn tpa_range(&self) -> Range<usize> {
        let start = self.tha_range().end;
        start..start + usize::from(self.protocol_len())
    }

    /// Sender hardware address (`hardware_len` bytes).
    pub fn sender_hardware_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.sha_range()]
    }

    /// Sender protocol address (`protocol_len` bytes).
    pub fn sender_protocol_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.spa_range()]
    }

    /// Target hardware address (`hardware_len` bytes).
    pub fn target_hardware_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.tha_range()]
    }

    /// Target protocol address (`protocol_len` bytes).
    pub fn target_protocol_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.tpa_range()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_u16_at(&mut self, r: Range<usize>, value: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the hardware type.
    pub fn set_hardware_type(&mut self, value: Hardware) {
        self.set_u16_at(field::HTYPE, value.0);
    }

    /// Set the protocol type.
    pub fn set_protocol_type(&mut self, value: EtherType) {
        self.set_u16_at(field::PTYPE, value.0);
    }

    /// Set the hardware address length.
    pub fn set_hardware_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HLEN] = value;
    }

    /// Set the protocol address length.
    pub fn set_protocol_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PLEN] = value;
    }

    /// Set the operation code.
    pub fn set_operation(&mut self, value: Operation) {
        self.set_u16_at(field::OPER, value.0);
    }

    /// Set the sender hardware address (`value.len()` must be `hardware_len`).
    pub fn set_sender_hardware_addr(&mut self, value: &[u8]) {
        let r = self.sha_range();
        self.buffer.as_mut()[r].copy_from_slice(value);
    }

    /// Set the sender protocol address (`value.len()` must be `protocol_len`).
    pub fn set_sender_protocol_addr(&mut self, value: &[u8]) {
        let r = self.spa_range();
        self.buffer.as_mut()[r].copy_from_slice(value);
    }

    /// Set the target hardware address (`value.len()` must be `hardware_len`).
    pub fn set_target_hardware_addr(&mut self, value: &[u8]) {
        let r = self.tha_range();
        self.buffer.as_mut()[r].copy_from_slice(value);
    }

    /// Set the target protocol address (`value.len()` must be `protocol_len`).
    pub fn set_target_protocol_addr(&mut self, value: &[u8]) {
        let r = self.tpa_range();
        self.buffer.as_mut()[r].copy_from_slice(value);
    }
}

/// High-level representation of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub operation: Operation,
    pub sender_hardware_addr: EthernetAddress,
    pub sender_protocol_addr: Ipv4Addr,
    pub target_hardware_addr: EthernetAddress,
    pub target_protocol_addr: Ipv4Addr,
}

fn ipv4_from(bytes: &[u8]) -> Result<Ipv4Addr> {
    let b: [u8; 4] = bytes.try_into().map_err(|_| Error::Malformed)?;
    Ok(Ipv4Addr::from(b))
}

impl Repr {
    /// Parse an ARP packet. Anything but htype 1 / ptype 0x0800 / hlen 6 /
    /// plen 4 is [`Error::Malformed`]. Unknown operation codes are kept.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.hardware_type() != Hardware::ETHERNET
            || packet.protocol_type() != EtherType::IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error::Malformed);
        }
        let mac = |b: &[u8]| EthernetAddress::from_bytes(b).ok_or(Error::Malformed);
        Ok(Repr {
            operation: packet.operation(),
            sender_hardware_addr: mac(packet.sender_hardware_addr())?,
            sender_protocol_addr: ipv4_from(packet.sender_protocol_addr())?,
            target_hardware_addr: mac(packet.target_hardware_addr())?,
            target_protocol_addr: ipv4_from(packet.target_protocol_addr())?,
        })
    }

    /// Bytes needed to emit this packet (28).
    pub const fn buffer_len(&self) -> usize {
        ETHERNET_IPV4_LEN
    }

    /// Write the packet into the first 28 bytes of the buffer.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_hardware_type(Hardware::ETHERNET);
        packet.set_protocol_type(EtherType::IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_sender_hardware_addr(&self.sender_hardware_addr.0);
        packet.set_sender_protocol_addr(&self.sender_protocol_addr.octets());
        packet.set_target_hardware_addr(&self.target_hardware_addr.0);
        packet.set_target_protocol_addr(&self.target_protocol_addr.octets());
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::ethernet;
    use crate::wire::test_util::{XorShift, FUZZ_ITERS};

    /// Who has 192.0.2.2? Tell 192.0.2.1 (00:11:22:33:44:55).
    const ARP_REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, //
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0xc0, 0x00, //
        0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0xc0, 0x00, 0x02, 0x02,
    ];

    /// The same request in a broadcast Ethernet frame with padding.
    const ETH_ARP_FRAME: [u8; 60] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x11, //
        0x22, 0x33, 0x44, 0x55, 0x08, 0x06, 0x00, 0x01, //
        0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x00, 0x11, //
        0x22, 0x33, 0x44, 0x55, 0xc0, 0x00, 0x02, 0x01, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, //
        0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00,
    ];

    const MAC: EthernetAddress = EthernetAddress([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);

    fn repr() -> Repr {
        Repr {
            operation: Operation::REQUEST,
            sender_hardware_addr: MAC,
            sender_protocol_addr: Ipv4Addr::new(192, 0, 2, 1),
            target_hardware_addr: EthernetAddress::UNSPECIFIED,
            target_protocol_addr: Ipv4Addr::new(192, 0, 2, 2),
        }
    }

    fn exercise<T: AsRef<[u8]>>(p: &Packet<T>) {
        let _ = (p.hardware_type(), p.protocol_type(), p.operation());
        let _ = (p.hardware_len(), p.protocol_len(), p.packet_len());
        let _ = p.sender_hardware_addr().len() + p.sender_protocol_addr().len();
        let _ = p.target_hardware_addr().len() + p.target_protocol_addr().len();
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&ARP_REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), Hardware::ETHERNET);
        assert_eq!(p.protocol_type(), EtherType::IPV4);
        assert_eq!(p.hardware_len(), 6);
        assert_eq!(p.protocol_len(), 4);
        assert_eq!(p.operation(), Operation::REQUEST);
        assert_eq!(p.sender_hardware_addr(), &MAC.0);
        assert_eq!(p.sender_protocol_addr(), &[192, 0, 2, 1]);
        assert_eq!(p.target_hardware_addr(), &[0; 6]);
        assert_eq!(p.target_protocol_addr(), &[192, 0, 2, 2]);
        assert_eq!(p.packet_len(), 28);
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 28];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_hardware_type(Hardware::ETHERNET);
        p.set_protocol_type(EtherType::IPV4);
        p.set_hardware_len(6);
        p.set_protocol_len(4);
        p.set_operation(Operation::REQUEST);
        p.set_sender_hardware_addr(&MAC.0);
        p.set_sender_protocol_addr(&[192, 0, 2, 1]);
        p.set_target_hardware_addr(&[0; 6]);
        p.set_target_protocol_addr(&[192, 0, 2, 2]);
        assert_eq!(buf, ARP_REQUEST);
    }

    #[test]
    fn parse_repr() {
        let p = Packet::new_checked(&ARP_REQUEST[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn parse_in_padded_ethernet_frame() {
        let eth = ethernet::Packet::new_checked(&ETH_ARP_FRAME[..]).unwrap();
        assert_eq!(eth.ethertype(), EtherType::ARP);
        let p = Packet::new_checked(eth.payload()).unwrap();
        assert_eq!(Repr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn emit_repr() {
        let mut buf = [0xffu8; 28];
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(repr().buffer_len(), 28);
        assert_eq!(buf, ARP_REQUEST);
    }

    #[test]
    fn round_trip() {
        let r = Repr::parse(&Packet::new_checked(&ARP_REQUEST[..]).unwrap()).unwrap();
        let reply = Repr {
            operation: Operation::REPLY,
            sender_hardware_addr: EthernetAddress([0x02, 0, 0, 0, 0, 2]),
            sender_protocol_addr: r.target_protocol_addr,
            target_hardware_addr: r.sender_hardware_addr,
            target_protocol_addr: r.sender_protocol_addr,
        };
        for x in [r, reply] {
            let mut buf = vec![0u8; x.buffer_len()];
            x.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let y = Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap();
            assert_eq!(x, y);
        }
    }

    #[test]
    fn non_ethernet_ipv4_is_malformed() {
        for (i, v) in [(1usize, 6u8), (3, 0xdd), (4, 8), (5, 16)] {
            let mut buf = [0u8; 64];
            buf[..28].copy_from_slice(&ARP_REQUEST);
            buf[i] = v;
            let p = Packet::new_checked(&buf[..]).unwrap();
            exercise(&p);
            assert_eq!(Repr::parse(&p), Err(Error::Malformed), "byte {i} = {v}");
        }
    }

    #[test]
    fn unknown_operation_survives() {
        let mut buf = ARP_REQUEST;
        buf[7] = 9;
        let r = Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(r.operation, Operation(9));
    }

    #[test]
    fn every_prefix() {
        for len in 0..=ARP_REQUEST.len() {
            let prefix = &ARP_REQUEST[..len];
            match Packet::new_checked(prefix) {
                Err(e) => {
                    assert!(len < 28);
                    assert_eq!(e, Error::Truncated);
                }
                Ok(p) => {
                    assert_eq!(len, 28);
                    exercise(&p);
                    assert_eq!(Repr::parse(&p).unwrap(), repr());
                }
            }
            assert!(len == 28 || Repr::parse(&Packet::new_unchecked(prefix)).is_err());
        }
        // Huge address lengths in a short buffer are caught too.
        let mut buf = ARP_REQUEST;
        buf[4] = 255;
        assert_eq!(Packet::new_checked(&buf[..]).err(), Some(Error::Truncated));
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift::new(0xa4b);
        let (mut checked, mut parsed) = (0, 0);
        for _ in 0..FUZZ_ITERS {
            let mut buf = rng.fuzz_buffer(&ARP_REQUEST, 96);
            // Small address lengths make random buffers pass check_len more
            // often, exercising the variable-length getters.
            if buf.len() > 5 && rng.below(2) == 0 {
                buf[4] %= 8;
                buf[5] %= 8;
            }
            if let Ok(p) = Packet::new_checked(&buf[..]) {
                exercise(&p);
                checked += 1;
            }
            if Repr::parse(&Packet::new_unchecked(&buf[..])).is_ok() {
                parsed += 1;
            }
        }
        // The loop must reach the deep paths, not only the early returns.
        assert!(checked > 2000 && parsed > 1000, "{checked} {parsed}");
    }
}
