//! ESP header (RFC 4303 §2) and the UDP encapsulation markers of RFC 3948.
//!
//! ```text
//!  0                   1                   2                   3
//! +---------------------------------------------------------------+
//! |               Security Parameters Index (SPI)                 |
//! +---------------------------------------------------------------+
//! |                      Sequence Number                          |
//! +---------------------------------------------------------------+
//! |  IV (algorithm-specific) | Payload ... | Padding | PadLen | NH |
//! +---------------------------------------------------------------+
//! |              Integrity Check Value (variable)                 |
//! +---------------------------------------------------------------+
//! ```
//!
//! The view covers the fixed 8-byte header; the IV, trailer and ICV lengths belong to the SA,
//! so [`Packet::payload`] is everything after the header. After `check_len` no getter panics.
//!
//! On UDP port 4500 (RFC 3948 §2.2) the first four payload bytes tell ESP from IKE: a zero
//! "non-ESP marker" precedes IKE, any other value is an ESP SPI; a single 0xFF byte is a NAT
//! keepalive (§2.3). [`classify_udp_4500`] makes that decision.

use super::{Error, Result};
use core::ops::Range;

mod field {
    use core::ops::Range;
    pub const SPI: Range<usize> = 0..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const PAYLOAD: usize = 8;
}

pub const HEADER_LEN: usize = field::PAYLOAD;
/// The ESP trailer after the padding: pad length and next header.
pub const TRAILER_LEN: usize = 2;
/// SPIs 1–255 are reserved by IANA (RFC 4303 §2.1); 0 is never on the wire.
pub const RESERVED_SPI: Range<u32> = 0..256;

#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn spi(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn sequence_number(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::SEQ];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_spi(&mut self, v: u32) {
        self.buffer.as_mut()[field::SPI].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_sequence_number(&mut self, v: u32) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&v.to_be_bytes());
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

/// The fixed header as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub spi: u32,
    pub sequence_number: u32,
}

impl Repr {
    /// Parses the header; SPI 0 is malformed (reserved values 1–255 are kept: the SADB will not
    /// know them).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &Packet<&T>) -> Result<Repr> {
        p.check_len()?;
        if p.spi() == 0 {
            return Err(Error::Malformed);
        }
        Ok(Repr { spi: p.spi(), sequence_number: p.sequence_number() })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, p: &mut Packet<&mut T>) {
        p.set_spi(self.spi);
        p.set_sequence_number(self.sequence_number);
    }
}

/// What a UDP/4500 payload is (RFC 3948 §2.2–2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Udp4500 {
    /// A NAT keepalive (one 0xFF byte): consume silently.
    Keepalive,
    /// IKE after the 4-byte non-ESP marker.
    Ike,
    /// ESP: the payload is an ESP packet.
    Esp,
    /// Shorter than an ESP header and not a keepalive.
    Malformed,
}

pub fn classify_udp_4500(payload: &[u8]) -> Udp4500 {
    match payload {
        [0xff] => Udp4500::Keepalive,
        [0, 0, 0, 0, ..] => Udp4500::Ike,
        p if p.len() >= HEADER_LEN => Udp4500::Esp,
        _ => Udp4500::Malformed,
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::XorShift;

    // SPI 0x00001234, sequence 5, then 8 bytes of IV and 4 of payload.
    const ESP: [u8; 20] =
        [0x00, 0x00, 0x12, 0x34, 0x00, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 6, 7, 8, 0xaa, 0xbb, 0xcc, 0xdd];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&ESP[..]).unwrap();
        assert_eq!(p.spi(), 0x1234);
        assert_eq!(p.sequence_number(), 5);
        assert_eq!(p.payload(), &ESP[8..]);
    }

    #[test]
    fn construct() {
        let mut b = [0u8; 20];
        b[8..].copy_from_slice(&ESP[8..]);
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_spi(0x1234);
        p.set_sequence_number(5);
        assert_eq!(b, ESP);
    }

    #[test]
    fn parse_and_emit_round_trip() {
        let r = Repr::parse(&Packet::new_checked(&ESP[..]).unwrap()).unwrap();
        assert_eq!(r, Repr { spi: 0x1234, sequence_number: 5 });
        let mut b = ESP;
        b[..8].fill(0);
        r.emit(&mut Packet::new_unchecked(&mut b[..]));
        assert_eq!(b, ESP);
    }

    #[test]
    fn spi_zero_is_malformed() {
        let mut b = ESP;
        b[..4].fill(0);
        assert_eq!(Repr::parse(&Packet::new_checked(&b[..]).unwrap()), Err(Error::Malformed));
    }

    #[test]
    fn every_prefix_truncation() {
        for n in 0..ESP.len() {
            let r = Packet::new_checked(&ESP[..n]);
            if n < HEADER_LEN {
                assert_eq!(r.err(), Some(Error::Truncated));
            } else {
                let p = r.unwrap();
                assert_eq!(p.payload().len(), n - HEADER_LEN);
            }
        }
    }

    #[test]
    fn udp_4500_demultiplexing() {
        assert_eq!(classify_udp_4500(&[0xff]), Udp4500::Keepalive);
        assert_eq!(classify_udp_4500(&[0, 0, 0, 0, 0x21, 0x20]), Udp4500::Ike);
        assert_eq!(classify_udp_4500(&ESP), Udp4500::Esp);
        assert_eq!(classify_udp_4500(&ESP[..7]), Udp4500::Malformed);
        assert_eq!(classify_udp_4500(&[]), Udp4500::Malformed);
        assert_eq!(classify_udp_4500(&[0xff, 0xff]), Udp4500::Malformed);
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift::new(0xe5b);
        let mut buf = [0u8; 32];
        for _ in 0..20_000 {
            rng.fill(&mut buf);
            let n = rng.below(buf.len() + 1);
            if let Ok(p) = Packet::new_checked(&buf[..n]) {
                let _ = Repr::parse(&p);
                let _ = p.payload().len();
            }
            let _ = classify_udp_4500(&buf[..n]);
        }
    }
}
