//! Notify payload (RFC 7296 §3.10).
//!
//! ```text
//! Protocol ID | SPI Size | Notify Message Type(2) | SPI | Notification Data
//! ```

use super::payload::Body;
use super::{NotifyType, ProtocolId, Reader, Result, Writer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// Zero when no SPI is given (then ignored on receipt, but kept for round trips).
    pub protocol: ProtocolId,
    pub spi: Vec<u8>,
    pub ty: NotifyType,
    pub data: Vec<u8>,
}

impl Notify {
    /// A notify about the IKE SA (no protocol, no SPI).
    pub fn new(ty: NotifyType, data: Vec<u8>) -> Notify {
        Notify { protocol: ProtocolId::NONE, spi: Vec::new(), ty, data }
    }
}

impl Body for Notify {
    fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "N");
        let protocol = ProtocolId(r.u8()?);
        let spi_size = r.u8()? as usize;
        let ty = NotifyType(r.u16()?);
        let spi = r.take(spi_size)?.to_vec();
        Ok(Notify { protocol, spi, ty, data: r.rest().to_vec() })
    }

    fn encode(&self, w: &mut Writer) {
        w.u8(self.protocol.0);
        w.count_u8(self.spi.len());
        w.u16(self.ty.0);
        w.bytes(&self.spi);
        w.bytes(&self.data);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::payload::Payload;
    use crate::codec::test_util::{chain_round_trip, hex};
    use crate::codec::ErrorKind;

    #[test]
    fn common_notifies_round_trip() {
        chain_round_trip(&[
            Payload::Notify(Notify::new(NotifyType::NAT_DETECTION_SOURCE_IP, vec![0x11; 20])),
            Payload::Notify(Notify::new(NotifyType::NAT_DETECTION_DESTINATION_IP, vec![0x22; 20])),
            Payload::Notify(Notify::new(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![])),
            Payload::Notify(Notify::new(NotifyType::SIGNATURE_HASH_ALGORITHMS, vec![0, 2, 0, 3, 0, 4])),
            Payload::Notify(Notify::new(NotifyType::COOKIE, vec![0xc0; 32])),
            Payload::Notify(Notify::new(NotifyType::INVALID_KE_PAYLOAD, vec![0, 19])),
            Payload::Notify(Notify {
                protocol: ProtocolId::ESP,
                spi: vec![1, 2, 3, 4],
                ty: NotifyType::REKEY_SA,
                data: vec![],
            }),
            Payload::Notify(Notify::new(NotifyType(40000), vec![9])),
        ]);
    }

    #[test]
    fn wire_format_and_truncated_spi() {
        let n =
            Notify { protocol: ProtocolId::ESP, spi: vec![0xaa; 4], ty: NotifyType::REKEY_SA, data: vec![] };
        let mut w = Writer::new();
        n.encode(&mut w);
        assert_eq!(w.finish().unwrap(), hex("03 04 4009 aaaaaaaa"));
        assert_eq!(Notify::decode(&hex("03 04 4009 aaaaaa")).unwrap_err().kind, ErrorKind::Truncated);
    }
}
