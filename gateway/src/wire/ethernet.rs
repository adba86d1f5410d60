//! Ethernet II frame header (IEEE 802.3 with EtherType).
//!
//! ```text
//!  0                   6                   12      14
//! +-------------------+-------------------+-------+-----------
//! | destination MAC   | source MAC        | type  | payload...
//! +-------------------+-------------------+-------+-----------
//! ```
//!
//! Contract: after [`Packet::check_len`] succeeds (buffer of at least 14
//! bytes) no getter panics. The payload is everything after the header,
//! including any link-layer padding; inner headers with a length field
//! (IPv4, IPv6) strip that padding themselves. Setters assume a buffer of at
//! least [`HEADER_LEN`] bytes and panic otherwise. The FCS is not handled
//! (NICs strip it).

use core::fmt;
use core::str::FromStr;

use super::{Error, Result};

/// A 48-bit Ethernet (EUI-48) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);
    /// `00:00:00:00:00:00`.
    pub const UNSPECIFIED: EthernetAddress = EthernetAddress([0; 6]);

    /// Read an address from the first six bytes of `data`, if there are six.
    pub fn from_bytes(data: &[u8]) -> Option<EthernetAddress> {
        let bytes: [u8; 6] = data.get(..6)?.try_into().ok()?;
        Some(EthernetAddress(bytes))
    }

    /// The six address bytes.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Group bit (I/G) set; includes broadcast.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// The all-ones broadcast address.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Individual (not multicast) address.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Locally administered bit (U/L) set.
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// The `33:33:xx:xx:xx:xx` multicast MAC for an IPv6 multicast group
    /// (RFC 2464 section 7).
    pub fn from_ipv6_multicast(group: std::net::Ipv6Addr) -> EthernetAddress {
        let o = group.octets();
        EthernetAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

impl FromStr for EthernetAddress {
    type Err = Error;

    /// Parse `aa:bb:cc:dd:ee:ff` (exactly two hex digits per octet, either
    /// case). Anything else is [`Error::Malformed`].
    fn from_str(s: &str) -> Result<Self> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in out.iter_mut() {
            let part = parts.next().ok_or(Error::Malformed)?;
            if part.len() != 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::Malformed);
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| Error::Malformed)?;
        }
        if parts.next().is_some() {
            return Err(Error::Malformed);
        }
        Ok(EthernetAddress(out))
    }
}

/// EtherType. Open newtype: unknown values are preserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EtherType(pub u16);

impl EtherType {
    pub const IPV4: EtherType = EtherType(0x0800);
    pub const ARP: EtherType = EtherType(0x0806);
    pub const VLAN: EtherType = EtherType(0x8100);
    pub const IPV6: EtherType = EtherType(0x86dd);
}

impl From<u16> for EtherType {
    fn from(value: u16) -> Self {
        EtherType(value)
    }
}

impl From<EtherType> for u16 {
    fn from(value: EtherType) -> Self {
        value.0
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EtherType::IPV4 => f.write_str("IPv4"),
            EtherType::ARP => f.write_str("ARP"),
            EtherType::VLAN => f.write_str("802.1Q"),
            EtherType::IPV6 => f.write_str("IPv6"),
            EtherType(other) => write!(f, "0x{other:04x}"),
        }
    }
}

mod field {
    use core::ops::{Range, RangeFrom};

    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: RangeFrom<usize> = 14..;
}

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// Zero-copy view of an Ethernet II frame.
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

    /// Ensure the buffer holds a complete header.
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

    fn addr_at(&self, range: core::ops::Range<usize>) -> EthernetAddress {
        let mut b = [0u8; 6];
        b.copy_from_slice(&self.buffer.as_ref()[range]);
        EthernetAddress(b)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> EthernetAddress {
        self.addr_at(field::DESTINATION)
    }

    /// Source address.
    pub fn src_addr(&self) -> EthernetAddress {
        self.addr_at(field::SOURCE)
    }

    /// EtherType.
    pub fn ethertype(&self) -> EtherType {
        let d = &self.buffer.as_ref()[field::ETHERTYPE];
        EtherType(u16::from_be_bytes([d[0], d[1]]))
    }

    /// Header length (always 14).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Everything after the header (including link-layer padding).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the destination address.
    pub fn set_dst_addr(&mut self, value: EthernetAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&value.0);
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, value: EthernetAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&value.0);
    }

    /// Set the EtherType.
    pub fn set_ethertype(&mut self, value: EtherType) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&value.0.to_be_bytes());
    }

    /// Mutable access to everything after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// High-level representation of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub src_addr: EthernetAddress,
    pub dst_addr: EthernetAddress,
    pub ethertype: EtherType,
}

impl Repr {
    /// Parse a checked frame. Every 14-byte header is representable.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        Ok(Repr { src_addr: packet.src_addr(), dst_addr: packet.dst_addr(), ethertype: packet.ethertype() })
    }

    /// Bytes needed for the header (the payload is the caller's business).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header; the payload area is left untouched.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_dst_addr(self.dst_addr);
        packet.set_src_addr(self.src_addr);
        packet.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::{XorShift, FUZZ_ITERS};

    /// Broadcast ARP request frame, padded to the 60-byte minimum.
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

    const SRC: EthernetAddress = EthernetAddress([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);

    fn repr() -> Repr {
        Repr { src_addr: SRC, dst_addr: EthernetAddress::BROADCAST, ethertype: EtherType::ARP }
    }

    fn exercise<T: AsRef<[u8]>>(p: &Packet<T>) {
        let _ = (p.dst_addr(), p.src_addr(), p.ethertype(), p.header_len());
        let _ = p.payload().len();
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&ETH_ARP_FRAME[..]).unwrap();
        assert_eq!(p.dst_addr(), EthernetAddress::BROADCAST);
        assert_eq!(p.src_addr(), SRC);
        assert_eq!(p.ethertype(), EtherType::ARP);
        assert_eq!(p.payload(), &ETH_ARP_FRAME[14..]);
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 60];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_dst_addr(EthernetAddress::BROADCAST);
        p.set_src_addr(SRC);
        p.set_ethertype(EtherType::ARP);
        p.payload_mut().copy_from_slice(&ETH_ARP_FRAME[14..]);
        assert_eq!(buf, ETH_ARP_FRAME);
    }

    #[test]
    fn parse_repr() {
        let p = Packet::new_checked(&ETH_ARP_FRAME[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn emit_repr() {
        let mut buf = ETH_ARP_FRAME;
        buf[..14].fill(0);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        repr().emit(&mut p);
        assert_eq!(repr().buffer_len(), 14);
        assert_eq!(buf, ETH_ARP_FRAME);
    }

    #[test]
    fn round_trip() {
        let p = Packet::new_checked(&ETH_ARP_FRAME[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let r2 = Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(r, r2);
        assert_eq!(&buf[..], &ETH_ARP_FRAME[..14]);
    }

    #[test]
    fn every_prefix() {
        for len in 0..=ETH_ARP_FRAME.len() {
            let prefix = &ETH_ARP_FRAME[..len];
            match Packet::new_checked(prefix) {
                Err(e) => {
                    assert!(len < HEADER_LEN);
                    assert_eq!(e, Error::Truncated);
                }
                Ok(p) => {
                    assert!(len >= HEADER_LEN);
                    exercise(&p);
                    assert_eq!(Repr::parse(&p).unwrap(), repr());
                }
            }
            let _ = Repr::parse(&Packet::new_unchecked(prefix));
        }
    }

    #[test]
    fn unknown_ethertype_survives() {
        let mut buf = ETH_ARP_FRAME;
        buf[12] = 0x88;
        buf[13] = 0xb5;
        let r = Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(r.ethertype, EtherType(0x88b5));
        assert_eq!(r.ethertype.to_string(), "0x88b5");
    }

    #[test]
    fn address_properties() {
        assert!(EthernetAddress::BROADCAST.is_broadcast());
        assert!(EthernetAddress::BROADCAST.is_multicast());
        assert!(SRC.is_unicast() && !SRC.is_local() && !SRC.is_multicast());
        let mc = EthernetAddress([0x33, 0x33, 0xff, 0, 0, 2]);
        assert!(mc.is_multicast() && !mc.is_broadcast());
        assert!(EthernetAddress([0x02, 0, 0, 0, 0, 1]).is_local());
        assert_eq!(EthernetAddress::from_ipv6_multicast("ff02::1:ff00:2".parse().unwrap()), mc);
        assert_eq!(EthernetAddress::from_bytes(&[1, 2, 3, 4, 5]), None);
        assert_eq!(
            EthernetAddress::from_bytes(&[1, 2, 3, 4, 5, 6, 7]),
            Some(EthernetAddress([1, 2, 3, 4, 5, 6]))
        );
    }

    #[test]
    fn address_display_and_parse() {
        let a = EthernetAddress([0xaa, 0xbb, 0x0c, 0xdd, 0xee, 0x0f]);
        assert_eq!(a.to_string(), "aa:bb:0c:dd:ee:0f");
        assert_eq!("aa:bb:0c:dd:ee:0f".parse::<EthernetAddress>(), Ok(a));
        assert_eq!("AA:BB:0C:DD:EE:0F".parse::<EthernetAddress>(), Ok(a));
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:f",
            "aa:bb:cc:dd:ee:+f",
            "aa-bb-cc-dd-ee-ff",
            "aa:bb:cc:dd:ee:gg",
            "aa:bb:cc:dd:ee:ff:",
            "aaa:bb:cc:dd:ee:f",
            "é:bb:cc:dd:ee:ff",
        ] {
            assert_eq!(bad.parse::<EthernetAddress>(), Err(Error::Malformed), "{bad}");
        }
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift::new(0xe7e7);
        for _ in 0..FUZZ_ITERS {
            let buf = rng.fuzz_buffer(&ETH_ARP_FRAME, 64);
            if let Ok(p) = Packet::new_checked(&buf[..]) {
                exercise(&p);
                assert!(Repr::parse(&p).is_ok());
            }
            let _ = Repr::parse(&Packet::new_unchecked(&buf[..]));
            if let Ok(s) = core::str::from_utf8(&buf) {
                let _ = s.parse::<EthernetAddress>();
            }
        }
    }
}
