//! Delete payload (RFC 7296 §3.11).
//!
//! ```text
//! Protocol ID | SPI Size | Num of SPIs(2) | SPIs...
//! ```
//!
//! The SPIs must fill the body exactly (Num of SPIs × SPI Size).

use super::payload::Body;
use super::{ErrorKind, ProtocolId, Reader, Result, Writer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub protocol: ProtocolId,
    /// 0 for IKE (the SA is the one the message travels on), 4 for ESP / AH.
    pub spi_size: u8,
    pub spis: Vec<Vec<u8>>,
}

impl Delete {
    /// Delete the IKE SA this message is protected by.
    pub fn ike() -> Delete {
        Delete { protocol: ProtocolId::IKE, spi_size: 0, spis: Vec::new() }
    }

    /// Delete Child SAs by their 4-octet SPIs.
    pub fn child(protocol: ProtocolId, spis: &[u32]) -> Delete {
        Delete { protocol, spi_size: 4, spis: spis.iter().map(|s| s.to_be_bytes().to_vec()).collect() }
    }
}

impl Body for Delete {
    fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "D");
        let protocol = ProtocolId(r.u8()?);
        let spi_size = r.u8()?;
        let count = r.u16()? as usize;
        if count * spi_size as usize != r.remaining() {
            return Err(r.error(if count * (spi_size as usize) > r.remaining() {
                ErrorKind::Truncated
            } else {
                ErrorKind::BadLength
            }));
        }
        let spis =
            (0..count).map(|_| r.take(spi_size as usize).map(<[u8]>::to_vec)).collect::<Result<_>>()?;
        Ok(Delete { protocol, spi_size, spis })
    }

    fn encode(&self, w: &mut Writer) {
        w.u8(self.protocol.0);
        w.u8(self.spi_size);
        w.count_u16(self.spis.len());
        for s in &self.spis {
            if s.len() != self.spi_size as usize {
                w.mark_overflow();
            }
            w.bytes(s);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::payload::Payload;
    use crate::codec::test_util::{chain_round_trip, hex};

    #[test]
    fn round_trip() {
        chain_round_trip(&[
            Payload::Delete(Delete::ike()),
            Payload::Delete(Delete::child(ProtocolId::ESP, &[1, 0xdeadbeef])),
        ]);
    }

    #[test]
    fn spi_count_must_fill_body() {
        assert_eq!(Delete::decode(&hex("03 04 0002 00000001 00000002")).unwrap().spis.len(), 2);
        assert_eq!(Delete::decode(&hex("03 04 0002 00000001")).unwrap_err().kind, ErrorKind::Truncated);
        assert_eq!(Delete::decode(&hex("03 04 0001 00000001 00")).unwrap_err().kind, ErrorKind::BadLength);
        assert_eq!(Delete::decode(&hex("01 00 0000 ff")).unwrap_err().kind, ErrorKind::BadLength);
        let mut w = Writer::new();
        Delete { protocol: ProtocolId::ESP, spi_size: 4, spis: vec![vec![1]] }.encode(&mut w);
        assert!(w.finish().is_err());
    }
}
