//! The IKE header (RFC 7296 §3.1).
//!
//! ```text
//!  0                   1                   2                   3
//! +---------------------------------------------------------------+
//! |                       IKE SA Initiator's SPI                  |
//! |                                                               |
//! +---------------------------------------------------------------+
//! |                       IKE SA Responder's SPI                  |
//! |                                                               |
//! +---------------+-------+-------+---------------+---------------+
//! |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
//! +---------------+-------+-------+---------------+---------------+
//! |                          Message ID                           |
//! +---------------------------------------------------------------+
//! |                            Length                             |
//! +---------------------------------------------------------------+
//! ```
//!
//! [`Packet`] is a zero-copy view: after [`Packet::check_len`] (28 bytes present) no getter
//! panics. It is what a driver reads to find the IKE SA (SPIs) and check the message ID before
//! anything is allocated. [`Header`] is the owned form; the Next Payload and Length fields are
//! not part of it because they describe the payloads and are computed when a message is encoded.

use super::{Error, ErrorKind, ExchangeType, PayloadType, Reader, Result, Writer};
use core::fmt;

mod field {
    use core::ops::Range;
    pub const SPI_I: Range<usize> = 0..8;
    pub const SPI_R: Range<usize> = 8..16;
    pub const NEXT_PAYLOAD: usize = 16;
    pub const VERSION: usize = 17;
    pub const EXCHANGE: usize = 18;
    pub const FLAGS: usize = 19;
    pub const MESSAGE_ID: Range<usize> = 20..24;
    pub const LENGTH: Range<usize> = 24..28;
}

pub const HEADER_LEN: usize = 28;
/// The only major version this codec speaks.
pub const IKEV2_MAJOR: u8 = 2;

/// The header Flags octet. Bits other than I, V and R must be sent as zero and are ignored on
/// receipt; they are kept so that a parsed header re-encodes unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// Set in messages sent by the original initiator of the IKE SA.
    pub const INITIATOR: Flags = Flags(0x08);
    /// "Can speak a higher major version" (never set by IKEv2 implementations).
    pub const VERSION: Flags = Flags(0x10);
    /// Set in responses.
    pub const RESPONSE: Flags = Flags(0x20);

    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn initiator(self) -> bool {
        self.contains(Flags::INITIATOR)
    }

    pub const fn response(self) -> bool {
        self.contains(Flags::RESPONSE)
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.initiator() {
            parts.push("I");
        }
        if self.contains(Flags::VERSION) {
            parts.push("V");
        }
        if self.response() {
            parts.push("R");
        }
        write!(f, "Flags({}", parts.join("|"))?;
        let other = self.0 & !0x38;
        if other != 0 {
            write!(f, " +{other:#04x}")?;
        }
        f.write_str(")")
    }
}

/// Zero-copy view of an IKE header at the start of `buffer`.
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

    /// The fixed header is present. (Whether the Length field matches is [`Packet::check_length_field`].)
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::new(ErrorKind::Truncated, "header"))
        } else {
            Ok(())
        }
    }

    /// The Length field equals the buffer length (one message per datagram; no trailing bytes).
    pub fn check_length_field(&self) -> Result<()> {
        let len = self.length() as usize;
        let have = self.buffer.as_ref().len();
        if len < HEADER_LEN || len != have {
            let kind = if len > have { ErrorKind::Truncated } else { ErrorKind::BadLength };
            return Err(Error::new(kind, "header"));
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.buffer.as_ref()[at..at + N]);
        a
    }

    pub fn spi_i(&self) -> u64 {
        u64::from_be_bytes(self.bytes(field::SPI_I.start))
    }

    pub fn spi_r(&self) -> u64 {
        u64::from_be_bytes(self.bytes(field::SPI_R.start))
    }

    pub fn next_payload(&self) -> PayloadType {
        PayloadType(self.buffer.as_ref()[field::NEXT_PAYLOAD])
    }

    pub fn major_version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION] >> 4
    }

    pub fn minor_version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION] & 0x0f
    }

    pub fn exchange_type(&self) -> ExchangeType {
        ExchangeType(self.buffer.as_ref()[field::EXCHANGE])
    }

    pub fn flags(&self) -> Flags {
        Flags(self.buffer.as_ref()[field::FLAGS])
    }

    pub fn message_id(&self) -> u32 {
        u32::from_be_bytes(self.bytes(field::MESSAGE_ID.start))
    }

    pub fn length(&self) -> u32 {
        u32::from_be_bytes(self.bytes(field::LENGTH.start))
    }

    /// Everything after the fixed header (the payload chain, if the Length field is right).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_next_payload(&mut self, t: PayloadType) {
        self.buffer.as_mut()[field::NEXT_PAYLOAD] = t.0;
    }

    pub fn set_length(&mut self, len: u32) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }

    pub fn set_message_id(&mut self, id: u32) {
        self.buffer.as_mut()[field::MESSAGE_ID].copy_from_slice(&id.to_be_bytes());
    }

    pub fn set_flags(&mut self, f: Flags) {
        self.buffer.as_mut()[field::FLAGS] = f.0;
    }
}

/// The owned IKE header, less Next Payload and Length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub spi_i: u64,
    pub spi_r: u64,
    /// Sent as 0 by RFC 7296 implementations and ignored on receipt; kept for round trips.
    pub minor_version: u8,
    pub exchange: ExchangeType,
    pub flags: Flags,
    pub message_id: u32,
}

impl Header {
    /// Reads the fixed header. Returns the header, the Next Payload field and the Length field;
    /// a major version other than 2 is [`ErrorKind::InvalidMajorVersion`].
    pub fn decode(r: &mut Reader<'_>) -> Result<(Header, PayloadType, u32)> {
        let spi_i = r.u64()?;
        let spi_r = r.u64()?;
        let next = PayloadType(r.u8()?);
        let version = r.u8()?;
        let exchange = ExchangeType(r.u8()?);
        let flags = Flags(r.u8()?);
        let message_id = r.u32()?;
        let length = r.u32()?;
        if version >> 4 != IKEV2_MAJOR {
            return Err(r.error(ErrorKind::InvalidMajorVersion(version >> 4)));
        }
        let h = Header { spi_i, spi_r, minor_version: version & 0x0f, exchange, flags, message_id };
        Ok((h, next, length))
    }

    /// Writes the header with the given Next Payload and Length.
    pub fn encode(&self, next: PayloadType, length: u32, w: &mut Writer) {
        w.u64(self.spi_i);
        w.u64(self.spi_r);
        w.u8(next.0);
        w.u8(IKEV2_MAJOR << 4 | (self.minor_version & 0x0f));
        w.u8(self.exchange.0);
        w.u8(self.flags.0);
        w.u32(self.message_id);
        w.u32(length);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::test_util::{hex, XorShift};

    // An IKE_SA_INIT request header: SPIi 0x0102030405060708, SPIr 0, next SA, v2.0, I flag,
    // message ID 0, length 0x150.
    fn sample() -> Vec<u8> {
        hex("0102030405060708 0000000000000000 21 20 22 08 00000000 00000150")
    }

    #[test]
    fn deconstruct() {
        let b = sample();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.spi_i(), 0x0102_0304_0506_0708);
        assert_eq!(p.spi_r(), 0);
        assert_eq!(p.next_payload(), PayloadType::SA);
        assert_eq!((p.major_version(), p.minor_version()), (2, 0));
        assert_eq!(p.exchange_type(), ExchangeType::IKE_SA_INIT);
        assert!(p.flags().initiator() && !p.flags().response());
        assert_eq!(p.message_id(), 0);
        assert_eq!(p.length(), 0x150);
        assert!(p.payload().is_empty());
        assert_eq!(p.check_length_field().unwrap_err().kind, ErrorKind::Truncated);
    }

    #[test]
    fn construct() {
        let mut b = sample();
        b[16] = 0;
        b[20..].fill(0);
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_next_payload(PayloadType::SA);
        p.set_length(0x150);
        p.set_message_id(0);
        p.set_flags(Flags::INITIATOR);
        assert_eq!(b, sample());
    }

    #[test]
    fn repr_round_trip() {
        let b = sample();
        let (h, next, len) = Header::decode(&mut Reader::new(&b, "header")).unwrap();
        assert_eq!(next, PayloadType::SA);
        assert_eq!(len, 0x150);
        let mut w = Writer::new();
        h.encode(next, len, &mut w);
        assert_eq!(w.finish().unwrap(), b);
    }

    #[test]
    fn major_version_checked_minor_kept() {
        let mut b = sample();
        b[17] = 0x10;
        let e = Header::decode(&mut Reader::new(&b, "header")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidMajorVersion(1));
        b[17] = 0x27;
        let (h, _, _) = Header::decode(&mut Reader::new(&b, "header")).unwrap();
        assert_eq!(h.minor_version, 7);
    }

    #[test]
    fn flags_debug() {
        assert_eq!(format!("{:?}", Flags::INITIATOR | Flags::RESPONSE), "Flags(I|R)");
        assert_eq!(format!("{:?}", Flags(0x01)), "Flags( +0x01)");
    }

    #[test]
    fn every_prefix_truncation() {
        let b = sample();
        for n in 0..b.len() {
            assert_eq!(Packet::new_checked(&b[..n]).unwrap_err().kind, ErrorKind::Truncated);
            assert!(Header::decode(&mut Reader::new(&b[..n], "header")).is_err());
        }
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift::new(7);
        let mut buf = [0u8; 40];
        for _ in 0..20_000 {
            rng.fill(&mut buf);
            let n = rng.below(buf.len() + 1);
            if let Ok(p) = Packet::new_checked(&buf[..n]) {
                let _ = (p.spi_i(), p.spi_r(), p.length(), p.flags(), p.payload().len());
                let _ = p.check_length_field();
            }
            let _ = Header::decode(&mut Reader::new(&buf[..n], "header"));
        }
    }
}
