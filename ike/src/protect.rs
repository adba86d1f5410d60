//! Sealing and opening SK-protected messages (RFC 7296 §3.14, RFC 5282 for AEAD).
//!
//! ```text
//! IKE header | [unprotected payloads] | SK header | IV | E(inner chain | padding | Pad Length) | ICV
//! ```
//!
//! CBC: the plaintext is padded to the block size and the ICV (integrity transform) covers
//! everything from the first header octet to the end of the ciphertext. GCM: no padding is
//! needed; the AAD is the header through the SK generic header, and the tag is the ICV.
//! Opening checks the ICV / tag before it decrypts anything; a failure is one undistinguished
//! [`ProtectError::Crypto`] so the caller can drop the message silently (§2.21.2).

use crate::codec::header::HEADER_LEN;
use crate::codec::payload::{Payload, PayloadIter, GENERIC_HEADER_LEN};
use crate::codec::sk::{encode_inner, Encrypted};
use crate::codec::{self, Header, PayloadType, Reader, Writer};
use crate::crypto::encr::Cipher;
use crate::crypto::integ::Integ;
use crate::crypto::keys::{IkeSaKeys, Suite};
use crate::crypto::CryptoError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectError {
    /// The bytes are malformed (answerable with the error's notify).
    Codec(codec::Error),
    /// ICV or tag mismatch, bad padding, or a length the cipher cannot take.
    Crypto(CryptoError),
    /// No SK payload where one was expected.
    NotEncrypted,
}

impl From<codec::Error> for ProtectError {
    fn from(e: codec::Error) -> Self {
        ProtectError::Codec(e)
    }
}

impl From<CryptoError> for ProtectError {
    fn from(e: CryptoError) -> Self {
        ProtectError::Crypto(e)
    }
}

/// One direction's SK keys: the cipher and, for non-AEAD ciphers, the integrity transform.
#[derive(Debug)]
pub struct SkProtection {
    cipher: Cipher,
    integ: Option<Integ>,
}

/// A decrypted message: the payloads outside SK (normally none) and the inner chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub header: Header,
    pub unprotected: Vec<Payload>,
    pub payloads: Vec<Payload>,
}

impl SkProtection {
    pub fn new(suite: &Suite, sk_e: &[u8], sk_a: &[u8]) -> Result<SkProtection, CryptoError> {
        let cipher = Cipher::new(suite.encr, sk_e)?;
        let integ = match suite.integ {
            Some(alg) => Some(Integ::new(alg, sk_a)?),
            None => None,
        };
        Ok(SkProtection { cipher, integ })
    }

    fn icv_len(&self) -> usize {
        self.integ.as_ref().map_or(self.cipher.alg().tag_len(), |i| i.alg().icv_len())
    }

    /// Builds the protected message: `header`, then SK carrying `inner`. `iv` is the cipher's
    /// IV ([`crate::crypto::encr::EncrAlg::iv_len`] bytes) supplied by the caller.
    pub fn seal(&self, header: &Header, inner: &[Payload], iv: &[u8]) -> Result<Vec<u8>, ProtectError> {
        let alg = self.cipher.alg();
        if iv.len() != alg.iv_len() {
            return Err(CryptoError::BadLength.into());
        }
        let (first, mut plain) = encode_inner(inner)?;
        let bl = alg.block_len();
        let pad = (bl - (plain.len() + 1) % bl) % bl;
        plain.resize(plain.len() + pad, 0);
        plain.push(pad as u8);
        let icv_len = self.icv_len();
        let total = HEADER_LEN + GENERIC_HEADER_LEN + iv.len() + plain.len() + icv_len;
        let sk_len = total - HEADER_LEN;
        let (Ok(total32), Ok(sk16)) = (u32::try_from(total), u16::try_from(sk_len)) else {
            return Err(codec::Error::new(codec::ErrorKind::TooLong, "SK").into());
        };
        let mut w = Writer::new();
        header.encode(PayloadType::SK, total32, &mut w);
        w.u8(first.0);
        w.u8(0);
        w.u16(sk16);
        w.bytes(iv);
        let ct_start = w.len();
        w.bytes(&plain);
        w.zeros(icv_len);
        let mut out = w.finish()?;
        let (authed, icv) = out.split_at_mut(total - icv_len);
        let (aad, ct) = authed.split_at_mut(ct_start);
        let aad = &aad[..HEADER_LEN + GENERIC_HEADER_LEN];
        match &self.integ {
            None => self.cipher.encrypt(iv, aad, ct, icv)?,
            Some(integ) => {
                self.cipher.encrypt(iv, &[], ct, &mut [])?;
                integ.sign(&[authed], icv)?;
            }
        }
        plain.iter_mut().for_each(|b| *b = 0);
        Ok(out)
    }

    /// Verifies and decrypts a protected message (whose last payload must be SK).
    pub fn open(&self, datagram: &[u8]) -> Result<Opened, ProtectError> {
        let mut r = Reader::new(datagram, "header");
        let (header, first, length) = Header::decode(&mut r)?;
        if length as usize != datagram.len() {
            return Err(codec::Error::new(codec::ErrorKind::BadLength, "header length").into());
        }
        let mut unprotected = Vec::new();
        let mut sk = None;
        for raw in PayloadIter::new(first, r.rest()) {
            let raw = raw?;
            if raw.ty == PayloadType::SK {
                sk = Some(raw);
            } else {
                unprotected.push(Payload::decode(&raw, true)?);
            }
        }
        let sk = sk.ok_or(ProtectError::NotEncrypted)?;
        let alg = self.cipher.alg();
        let (iv_len, icv_len) = (alg.iv_len(), self.icv_len());
        let body = sk.body;
        if body.len() < iv_len + icv_len + 1 {
            return Err(CryptoError::BadLength.into());
        }
        let iv = &body[..iv_len];
        let mut ct = body[iv_len..body.len() - icv_len].to_vec();
        let icv = &body[body.len() - icv_len..];
        let sk_start = HEADER_LEN + sk.offset;
        match &self.integ {
            None => {
                let aad = &datagram[..sk_start + GENERIC_HEADER_LEN];
                self.cipher.decrypt(iv, aad, &mut ct, icv)?;
            }
            Some(integ) => {
                if !integ.verify(&[&datagram[..datagram.len() - icv_len]], icv) {
                    return Err(CryptoError::AuthenticationFailed.into());
                }
                self.cipher.decrypt(iv, &[], &mut ct, &[])?;
            }
        }
        let pad = *ct.last().ok_or(CryptoError::BadLength)? as usize;
        if pad + 1 > ct.len() {
            return Err(CryptoError::AuthenticationFailed.into());
        }
        let payloads = Encrypted::decode_inner(sk.next, &ct[..ct.len() - pad - 1]);
        ct.iter_mut().for_each(|b| *b = 0);
        Ok(Opened { header, unprotected, payloads: payloads? })
    }
}

/// Both directions of an IKE SA: the initiator sends with SK_ei / SK_ai, the responder with
/// SK_er / SK_ar.
#[derive(Debug)]
pub struct IkeSaProtection {
    pub outbound: SkProtection,
    pub inbound: SkProtection,
}

impl IkeSaProtection {
    pub fn new(suite: &Suite, keys: &IkeSaKeys, we_are_initiator: bool) -> Result<Self, CryptoError> {
        let i = SkProtection::new(suite, keys.sk_ei.as_bytes(), keys.sk_ai.as_bytes())?;
        let r = SkProtection::new(suite, keys.sk_er.as_bytes(), keys.sk_ar.as_bytes())?;
        Ok(if we_are_initiator {
            IkeSaProtection { outbound: i, inbound: r }
        } else {
            IkeSaProtection { outbound: r, inbound: i }
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::message::test::ike_auth_inner;
    use crate::codec::{EncrId, ExchangeType, Flags, IntegId, Message, PrfId};
    use crate::crypto::keys::ike_sa_keys;
    use crate::crypto::Secret;

    fn header() -> Header {
        Header {
            spi_i: 0x8a3c_51e0_0d2f_7701,
            spi_r: 0x1122_3344_5566_7788,
            minor_version: 0,
            exchange: ExchangeType::IKE_AUTH,
            flags: Flags::INITIATOR,
            message_id: 1,
        }
    }

    fn suites() -> Vec<Suite> {
        vec![
            Suite::from_ids(EncrId::AES_GCM_16, Some(128), PrfId::HMAC_SHA2_256, IntegId::NONE).unwrap(),
            Suite::from_ids(EncrId::AES_GCM_16, Some(256), PrfId::HMAC_SHA2_512, IntegId::NONE).unwrap(),
            Suite::from_ids(EncrId::AES_CBC, Some(128), PrfId::HMAC_SHA1, IntegId::HMAC_SHA1_96).unwrap(),
            Suite::from_ids(EncrId::AES_CBC, Some(256), PrfId::HMAC_SHA2_384, IntegId::HMAC_SHA2_384_192)
                .unwrap(),
            Suite::from_ids(EncrId::AES_CBC, Some(256), PrfId::HMAC_SHA2_256, IntegId::HMAC_SHA2_512_256)
                .unwrap(),
        ]
    }

    #[test]
    fn ike_auth_seal_open_round_trip_every_suite() {
        for suite in suites() {
            let keys = ike_sa_keys(&suite, &Secret::new(vec![7; 32]), &[1; 32], &[2; 32], 1, 2).unwrap();
            let ini = IkeSaProtection::new(&suite, &keys, true).unwrap();
            let res = IkeSaProtection::new(&suite, &keys, false).unwrap();
            let iv = vec![0x3c; suite.encr.iv_len()];
            let wire = ini.outbound.seal(&header(), &ike_auth_inner(), &iv).unwrap();
            // The sealed message is a valid IKE message with SK last.
            let m = Message::parse(&wire).unwrap();
            assert_eq!(m.encrypted().unwrap().first_inner, PayloadType::IDI);
            assert_eq!(m.encode().unwrap(), wire);
            let opened = res.inbound.open(&wire).unwrap();
            assert_eq!(opened.header, header());
            assert_eq!(opened.payloads, ike_auth_inner());
            assert!(opened.unprotected.is_empty());
            // Our own direction's keys do not open it (SK_ei != SK_er).
            assert!(matches!(ini.inbound.open(&wire), Err(ProtectError::Crypto(_))));
            // Any flipped bit is caught (header, SK header, IV, ciphertext or ICV).
            for i in (0..wire.len()).step_by(7) {
                let mut bad = wire.clone();
                bad[i] ^= 0x01;
                assert!(res.inbound.open(&bad).is_err(), "{:?} bit flip at {i}", suite.encr);
            }
            for n in 0..wire.len() {
                assert!(res.inbound.open(&wire[..n]).is_err());
            }
        }
    }

    #[test]
    fn cbc_padding_fills_whole_blocks() {
        let suite = suites()[2];
        let keys = ike_sa_keys(&suite, &Secret::new(vec![1; 20]), &[1; 16], &[2; 16], 1, 2).unwrap();
        let p = IkeSaProtection::new(&suite, &keys, true).unwrap();
        for n in 0..40 {
            let inner = vec![Payload::VendorId(vec![0x55; n])];
            let wire = p.outbound.seal(&header(), &inner, &[9; 16]).unwrap();
            let ct_len = wire.len() - HEADER_LEN - GENERIC_HEADER_LEN - 16 - 12;
            assert_eq!(ct_len % 16, 0);
            let back = IkeSaProtection::new(&suite, &keys, false).unwrap().inbound.open(&wire).unwrap();
            assert_eq!(back.payloads, inner);
        }
    }

    #[test]
    fn wrong_iv_length_and_plain_messages() {
        let suite = suites()[0];
        let keys = ike_sa_keys(&suite, &Secret::new(vec![1; 20]), &[1; 16], &[2; 16], 1, 2).unwrap();
        let p = IkeSaProtection::new(&suite, &keys, true).unwrap();
        assert_eq!(
            p.outbound.seal(&header(), &[], &[0; 16]).unwrap_err(),
            ProtectError::Crypto(CryptoError::BadLength)
        );
        let plain =
            Message { header: header(), payloads: vec![Payload::VendorId(vec![1])] }.encode().unwrap();
        assert_eq!(p.inbound.open(&plain).unwrap_err(), ProtectError::NotEncrypted);
    }
}
