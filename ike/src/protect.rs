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
use crate::codec::sk::{encode_inner, Encrypted, EncryptedFragment};
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
        let (first, mut plain) = encode_inner(inner)?;
        let out = self.seal_body(header, PayloadType::SK, first, &[], &plain, iv);
        plain.iter_mut().for_each(|b| *b = 0);
        out
    }

    /// Builds one Encrypted Fragment message (RFC 7383 §2.5): `header`, then SKF with
    /// `number` of `total` carrying `part` of the inner chain's bytes. `first` is the inner
    /// chain's first payload type in fragment 1 and must be NONE in the others. Fragment
    /// Number and Total Fragments are authenticated with the header (the AAD for AES-GCM).
    pub fn seal_fragment(
        &self,
        header: &Header,
        first: PayloadType,
        number: u16,
        total: u16,
        part: &[u8],
        iv: &[u8],
    ) -> Result<Vec<u8>, ProtectError> {
        if number == 0 || number > total || (number != 1 && first != PayloadType::NONE) {
            return Err(codec::Error::new(codec::ErrorKind::InvalidValue, "SKF numbering").into());
        }
        let mut fields = [0u8; EncryptedFragment::FIELDS_LEN];
        fields[..2].copy_from_slice(&number.to_be_bytes());
        fields[2..].copy_from_slice(&total.to_be_bytes());
        self.seal_body(header, PayloadType::SKF, first, &fields, part, iv)
    }

    /// Bytes an SKF message adds around a part of the inner chain at most: IKE header, SKF
    /// header, IV, a full block of padding with the Pad Length octet, and the ICV.
    pub fn fragment_overhead(&self) -> usize {
        let alg = self.cipher.alg();
        HEADER_LEN
            + GENERIC_HEADER_LEN
            + EncryptedFragment::FIELDS_LEN
            + alg.iv_len()
            + alg.block_len().max(1)
            + self.icv_len()
    }

    /// Header, one SK / SKF payload (`fields` are SKF's numbers, empty for SK), encrypted
    /// `content` padded to the block size.
    fn seal_body(
        &self,
        header: &Header,
        ty: PayloadType,
        next: PayloadType,
        fields: &[u8],
        content: &[u8],
        iv: &[u8],
    ) -> Result<Vec<u8>, ProtectError> {
        let alg = self.cipher.alg();
        if iv.len() != alg.iv_len() {
            return Err(CryptoError::BadLength.into());
        }
        let bl = alg.block_len();
        let pad = (bl - (content.len() + 1) % bl) % bl;
        let mut plain = Vec::with_capacity(content.len() + pad + 1);
        plain.extend_from_slice(content);
        plain.resize(content.len() + pad, 0);
        plain.push(pad as u8);
        let icv_len = self.icv_len();
        let sk_hdr = GENERIC_HEADER_LEN + fields.len();
        let total = HEADER_LEN + sk_hdr + iv.len() + plain.len() + icv_len;
        let sk_len = total - HEADER_LEN;
        let (Ok(total32), Ok(sk16)) = (u32::try_from(total), u16::try_from(sk_len)) else {
            return Err(codec::Error::new(codec::ErrorKind::TooLong, "SK").into());
        };
        let mut w = Writer::new();
        header.encode(ty, total32, &mut w);
        w.u8(next.0);
        w.u8(0);
        w.u16(sk16);
        w.bytes(fields);
        w.bytes(iv);
        let ct_start = w.len();
        w.bytes(&plain);
        w.zeros(icv_len);
        let mut out = w.finish()?;
        let (authed, icv) = out.split_at_mut(total - icv_len);
        let (aad, ct) = authed.split_at_mut(ct_start);
        let aad = &aad[..HEADER_LEN + sk_hdr];
        let r = match &self.integ {
            None => self.cipher.encrypt(iv, aad, ct, icv),
            Some(integ) => {
                self.cipher.encrypt(iv, &[], ct, &mut []).and_then(|()| integ.sign(&[authed], icv))
            }
        };
        plain.iter_mut().for_each(|b| *b = 0);
        r?;
        Ok(out)
    }

    /// Verifies and decrypts a protected message (whose last payload must be SK).
    pub fn open(&self, datagram: &[u8]) -> Result<Opened, ProtectError> {
        let mut b = self.open_body(datagram)?;
        if b.ty != PayloadType::SK {
            return Err(ProtectError::NotEncrypted);
        }
        let payloads = Encrypted::decode_inner(b.next, &b.plain);
        b.plain.iter_mut().for_each(|x| *x = 0);
        Ok(Opened { header: b.header, unprotected: b.unprotected, payloads: payloads? })
    }

    /// Verifies and decrypts one Encrypted Fragment message (RFC 7383 §2.6): its numbers and
    /// its part of the inner chain, to be joined with the others by the caller.
    pub fn open_fragment(&self, datagram: &[u8]) -> Result<OpenedFragment, ProtectError> {
        let b = self.open_body(datagram)?;
        if b.ty != PayloadType::SKF {
            return Err(ProtectError::NotEncrypted);
        }
        let number = u16::from_be_bytes([b.fields[0], b.fields[1]]);
        let total = u16::from_be_bytes([b.fields[2], b.fields[3]]);
        if number == 0 || number > total || (number != 1 && b.next != PayloadType::NONE) {
            return Err(codec::Error::new(codec::ErrorKind::InvalidValue, "SKF numbering").into());
        }
        Ok(OpenedFragment { header: b.header, first_inner: b.next, number, total, part: b.plain })
    }

    /// Checks the ICV / tag of a message whose last payload is SK or SKF and decrypts it:
    fn open_body(&self, datagram: &[u8]) -> Result<Body, ProtectError> {
        let mut r = Reader::new(datagram, "header");
        let (header, first, length) = Header::decode(&mut r)?;
        if length as usize != datagram.len() {
            return Err(codec::Error::new(codec::ErrorKind::BadLength, "header length").into());
        }
        let mut unprotected = Vec::new();
        let mut sk = None;
        for raw in PayloadIter::new(first, r.rest()) {
            let raw = raw?;
            if raw.ty == PayloadType::SK || raw.ty == PayloadType::SKF {
                sk = Some(raw);
            } else if sk.is_some() {
                return Err(codec::Error::new(codec::ErrorKind::Misplaced, "payload after SK").into());
            } else {
                unprotected.push(Payload::decode(&raw, true)?);
            }
        }
        let sk = sk.ok_or(ProtectError::NotEncrypted)?;
        let fields = if sk.ty == PayloadType::SKF { EncryptedFragment::FIELDS_LEN } else { 0 };
        let alg = self.cipher.alg();
        let (iv_len, icv_len) = (alg.iv_len(), self.icv_len());
        let body = sk.body;
        if body.len() < fields + iv_len + icv_len + 1 {
            return Err(CryptoError::BadLength.into());
        }
        let iv = &body[fields..fields + iv_len];
        let mut ct = body[fields + iv_len..body.len() - icv_len].to_vec();
        let icv = &body[body.len() - icv_len..];
        let sk_start = HEADER_LEN + sk.offset;
        match &self.integ {
            None => {
                let aad = &datagram[..sk_start + GENERIC_HEADER_LEN + fields];
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
            ct.iter_mut().for_each(|b| *b = 0);
            return Err(CryptoError::AuthenticationFailed.into());
        }
        let n = ct.len() - pad - 1;
        ct[n..].iter_mut().for_each(|b| *b = 0);
        ct.truncate(n);
        let mut f = [0u8; EncryptedFragment::FIELDS_LEN];
        f[..fields].copy_from_slice(&body[..fields]);
        Ok(Body { header, unprotected, ty: sk.ty, next: sk.next, fields: f, plain: ct })
    }
}

/// What [`SkProtection::open_body`] found.
struct Body {
    header: Header,
    unprotected: Vec<Payload>,
    /// SK or SKF.
    ty: PayloadType,
    /// Its Next Payload field.
    next: PayloadType,
    /// SKF's Fragment Number and Total Fragments (zeros for SK).
    fields: [u8; EncryptedFragment::FIELDS_LEN],
    /// The inner bytes, padding removed.
    plain: Vec<u8>,
}

/// One verified and decrypted fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedFragment {
    pub header: Header,
    /// The inner chain's first payload type (fragment 1), NONE in the others.
    pub first_inner: PayloadType,
    pub number: u16,
    pub total: u16,
    /// This fragment's share of the inner chain's bytes.
    pub part: Vec<u8>,
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
    fn fragments_seal_open_and_join_every_suite() {
        for suite in suites() {
            let keys = ike_sa_keys(&suite, &Secret::new(vec![7; 32]), &[1; 32], &[2; 32], 1, 2).unwrap();
            let ini = IkeSaProtection::new(&suite, &keys, true).unwrap();
            let res = IkeSaProtection::new(&suite, &keys, false).unwrap();
            let (first, plain) = encode_inner(&ike_auth_inner()).unwrap();
            let chunks: Vec<&[u8]> = plain.chunks(50).collect();
            let total = chunks.len() as u16;
            let iv = vec![0x3c; suite.encr.iv_len()];
            let mut joined = Vec::new();
            for (i, c) in chunks.iter().enumerate() {
                let n = i as u16 + 1;
                let f = if n == 1 { first } else { PayloadType::NONE };
                let wire = ini.outbound.seal_fragment(&header(), f, n, total, c, &iv).unwrap();
                assert!(wire.len() <= 50 + ini.outbound.fragment_overhead());
                // The codec sees an SKF payload with the numbers in the clear.
                let m = Message::parse(&wire).unwrap();
                let skf = m.fragment().unwrap();
                assert_eq!((skf.number, skf.total, skf.first_inner), (n, total, f));
                let o = res.inbound.open_fragment(&wire).unwrap();
                assert_eq!((o.number, o.total, o.first_inner, o.header), (n, total, f, header()));
                joined.extend_from_slice(&o.part);
                // A fragment is not a whole message, and the numbers are authenticated.
                assert_eq!(res.inbound.open(&wire).unwrap_err(), ProtectError::NotEncrypted);
                for at in [HEADER_LEN + 5, HEADER_LEN + 7] {
                    let mut bad = wire.clone();
                    bad[at] ^= 0x01;
                    assert!(res.inbound.open_fragment(&bad).is_err());
                }
                for cut in 0..wire.len() {
                    assert!(res.inbound.open_fragment(&wire[..cut]).is_err());
                }
            }
            assert_eq!(Encrypted::decode_inner(first, &joined).unwrap(), ike_auth_inner());
            // Numbering rules on the way out.
            for (f, n, t) in [(first, 0, 2), (first, 3, 2), (PayloadType::IDI, 2, 2)] {
                assert!(ini.outbound.seal_fragment(&header(), f, n, t, b"x", &iv).is_err());
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
