//! Encrypted and Authenticated payload SK (RFC 7296 §3.14) and Encrypted Fragment SKF
//! (RFC 7383 §2.5), as opaque bodies.
//!
//! ```text
//! SK:  generic header (Next Payload = first inner payload) | IV | ciphertext | ICV
//! SKF: generic header | Fragment Number(2) | Total Fragments(2) | IV | ciphertext | ICV
//! ```
//!
//! The codec does not know the cipher, so IV / ciphertext / ICV are one body here; the
//! protection layer ([`crate::protect`]) splits and checks them. Once decrypted, the inner
//! payloads are a chain like any other: [`Encrypted::decode_inner`] and [`encode_inner`].

use super::payload::{decode_chain, encode_chain, Payload};
use super::{ErrorKind, PayloadType, Reader, Result, Writer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypted {
    /// Type of the first payload inside (the SK header's Next Payload field).
    pub first_inner: PayloadType,
    /// IV, ciphertext (with padding and Pad Length) and ICV.
    pub body: Vec<u8>,
}

impl Encrypted {
    /// Decodes decrypted inner data (padding and Pad Length already removed) as a payload chain.
    /// A nested SK / SKF is refused.
    pub fn decode_inner(first: PayloadType, plaintext: &[u8]) -> Result<Vec<Payload>> {
        decode_chain(first, plaintext, false)
    }
}

/// Encodes the payloads to protect as an inner chain: (first payload type, bytes).
pub fn encode_inner(payloads: &[Payload]) -> Result<(PayloadType, Vec<u8>)> {
    if payloads.iter().any(|p| matches!(p, Payload::Sk(_) | Payload::Skf(_))) {
        return Err(super::Error::new(ErrorKind::Misplaced, "SK inside SK"));
    }
    encode_chain(payloads)
}

/// SKF header fields plus the opaque protected body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedFragment {
    /// The first inner payload type in fragment 1; zero in every other fragment.
    pub first_inner: PayloadType,
    /// 1-based.
    pub number: u16,
    pub total: u16,
    pub body: Vec<u8>,
}

impl EncryptedFragment {
    /// Length of the Fragment Number and Total Fragments fields.
    pub const FIELDS_LEN: usize = 4;

    pub(super) fn decode_with_next(next: PayloadType, body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "SKF");
        let number = r.u16()?;
        let total = r.u16()?;
        if number == 0 || number > total || (number != 1 && next != PayloadType::NONE) {
            return Err(r.error(ErrorKind::InvalidValue));
        }
        Ok(EncryptedFragment { first_inner: next, number, total, body: r.rest().to_vec() })
    }

    pub(super) fn encode(&self, w: &mut Writer) {
        w.u16(self.number);
        w.u16(self.total);
        w.bytes(&self.body);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::notify::Notify;
    use crate::codec::test_util::{chain_round_trip, hex};
    use crate::codec::NotifyType;

    #[test]
    fn sk_and_skf_round_trip() {
        chain_round_trip(&[
            Payload::VendorId(vec![1]),
            Payload::Sk(Encrypted { first_inner: PayloadType::IDI, body: vec![0x55; 48] }),
        ]);
        chain_round_trip(&[Payload::Skf(EncryptedFragment {
            first_inner: PayloadType::IDI,
            number: 1,
            total: 3,
            body: vec![0x66; 40],
        })]);
        chain_round_trip(&[Payload::Skf(EncryptedFragment {
            first_inner: PayloadType::NONE,
            number: 3,
            total: 3,
            body: vec![0x77; 40],
        })]);
    }

    #[test]
    fn skf_numbering_rules() {
        let chain = |next: u8, fields: &str| {
            let mut b = hex(&format!("{next:02x} 00 0008 {fields}"));
            b.extend_from_slice(&[]);
            decode_chain(PayloadType::SKF, &b, true)
        };
        assert!(chain(0x23, "0001 0002").is_ok());
        assert!(chain(0x00, "0002 0002").is_ok());
        assert_eq!(chain(0x00, "0000 0002").unwrap_err().kind, ErrorKind::InvalidValue);
        assert_eq!(chain(0x00, "0003 0002").unwrap_err().kind, ErrorKind::InvalidValue);
        assert_eq!(chain(0x23, "0002 0002").unwrap_err().kind, ErrorKind::InvalidValue);
    }

    #[test]
    fn inner_chain_helpers() {
        let inner = vec![
            Payload::Notify(Notify::new(NotifyType::INITIAL_CONTACT, vec![])),
            Payload::VendorId(vec![3]),
        ];
        let (first, bytes) = encode_inner(&inner).unwrap();
        assert_eq!(first, PayloadType::NOTIFY);
        assert_eq!(Encrypted::decode_inner(first, &bytes).unwrap(), inner);
        let nested = vec![Payload::Sk(Encrypted { first_inner: PayloadType::NONE, body: vec![] })];
        assert_eq!(encode_inner(&nested).unwrap_err().kind, ErrorKind::Misplaced);
    }
}
