//! Payload chains and the generic payload header (RFC 7296 §3.2), plus the payloads whose
//! bodies are a type field and opaque data (KE, Nonce, AUTH, CERT, CERTREQ, V, EAP).
//!
//! ```text
//! +---------------+-+-------------+-------------------------------+
//! | Next Payload  |C|  RESERVED   |         Payload Length        |
//! +---------------+-+-------------+-------------------------------+
//! ```
//!
//! A chain is walked with [`PayloadIter`] (zero-copy). The Next Payload field of SK and SKF names
//! the first payload *inside* the encrypted data, so either ends the outer chain
//! (RFC 7296 §3.14: the Encrypted payload is the last one in a message).
//!
//! Unknown payload types are kept as [`Payload::Unknown`] when their critical bit is clear and
//! rejected with [`ErrorKind::UnsupportedCriticalPayload`] when it is set (§2.5). For known
//! payloads the bit is ignored on receipt, as the RFC requires, and sent as zero.

use super::cp::Configuration;
use super::delete::Delete;
use super::id::Identification;
use super::notify::Notify;
use super::sa::SecurityAssociation;
use super::sk::{Encrypted, EncryptedFragment};
use super::ts::TrafficSelectors;
use super::{AuthMethod, CertEncoding, DhGroup, Error, ErrorKind, PayloadType, Reader, Result, Writer};

/// Length of the generic payload header.
pub const GENERIC_HEADER_LEN: usize = 4;
const CRITICAL: u8 = 0x80;

/// A payload body: decoded from the bytes after the generic header, encoded back into them.
pub trait Body: Sized {
    fn decode(body: &[u8]) -> Result<Self>;
    fn encode(&self, w: &mut Writer);
}

/// One payload of a chain, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPayload<'a> {
    pub ty: PayloadType,
    /// The Next Payload field of this payload's header.
    pub next: PayloadType,
    pub critical: bool,
    /// Offset of the generic header from the start of the chain.
    pub offset: usize,
    /// The body, after the generic header.
    pub body: &'a [u8],
}

/// Walks a payload chain. Yields `Err` once (then stops) on a malformed chain; after the last
/// payload checks that no bytes are left over.
#[derive(Debug, Clone)]
pub struct PayloadIter<'a> {
    buf: &'a [u8],
    pos: usize,
    next: PayloadType,
    done: bool,
}

impl<'a> PayloadIter<'a> {
    pub fn new(first: PayloadType, chain: &'a [u8]) -> PayloadIter<'a> {
        PayloadIter { buf: chain, pos: 0, next: first, done: false }
    }

    fn step(&mut self) -> Result<Option<RawPayload<'a>>> {
        let ty = self.next;
        if ty == PayloadType::NONE {
            if self.pos != self.buf.len() {
                return Err(Error::new(ErrorKind::BadLength, "payload chain"));
            }
            return Ok(None);
        }
        let mut r = Reader::new(&self.buf[self.pos..], "payload header");
        let next = PayloadType(r.u8()?);
        let flags = r.u8()?;
        let len = r.u16()? as usize;
        if len < GENERIC_HEADER_LEN {
            return Err(r.error(ErrorKind::BadLength));
        }
        let body = r.take(len - GENERIC_HEADER_LEN)?;
        let raw = RawPayload { ty, next, critical: flags & CRITICAL != 0, offset: self.pos, body };
        self.pos += len;
        // SK / SKF: the Next Payload field is the first inner payload; the outer chain ends here.
        self.next = if ty == PayloadType::SK || ty == PayloadType::SKF {
            if self.pos != self.buf.len() {
                return Err(Error::new(ErrorKind::Misplaced, "SK not last"));
            }
            PayloadType::NONE
        } else {
            next
        };
        Ok(Some(raw))
    }
}

impl<'a> Iterator for PayloadIter<'a> {
    type Item = Result<RawPayload<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(p)) => Some(Ok(p)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// KE payload (RFC 7296 §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExchange {
    pub group: DhGroup,
    pub data: Vec<u8>,
}

impl Body for KeyExchange {
    fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "KE");
        let group = DhGroup(r.u16()?);
        r.take(2)?; // RESERVED: ignored on receipt
        Ok(KeyExchange { group, data: r.rest().to_vec() })
    }

    fn encode(&self, w: &mut Writer) {
        w.u16(self.group.0);
        w.u16(0);
        w.bytes(&self.data);
    }
}

/// Nonce payload (RFC 7296 §3.9): 16 to 256 octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nonce(pub Vec<u8>);

impl Nonce {
    pub const MIN_LEN: usize = 16;
    pub const MAX_LEN: usize = 256;
}

impl Body for Nonce {
    fn decode(body: &[u8]) -> Result<Self> {
        if !(Nonce::MIN_LEN..=Nonce::MAX_LEN).contains(&body.len()) {
            return Err(Error::new(ErrorKind::InvalidValue, "Nonce"));
        }
        Ok(Nonce(body.to_vec()))
    }

    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.0);
    }
}

/// AUTH payload (RFC 7296 §3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub method: AuthMethod,
    pub data: Vec<u8>,
}

impl Body for Authentication {
    fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "AUTH");
        let method = AuthMethod(r.u8()?);
        r.take(3)?;
        Ok(Authentication { method, data: r.rest().to_vec() })
    }

    fn encode(&self, w: &mut Writer) {
        w.u8(self.method.0);
        w.zeros(3);
        w.bytes(&self.data);
    }
}

/// CERT and CERTREQ payloads (RFC 7296 §3.6, §3.7): an encoding and opaque data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub encoding: CertEncoding,
    pub data: Vec<u8>,
}

impl Body for Certificate {
    fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "CERT");
        let encoding = CertEncoding(r.u8()?);
        Ok(Certificate { encoding, data: r.rest().to_vec() })
    }

    fn encode(&self, w: &mut Writer) {
        w.u8(self.encoding.0);
        w.bytes(&self.data);
    }
}

/// A payload whose type we do not know; only ever non-critical after a successful parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPayload {
    pub ty: PayloadType,
    pub critical: bool,
    pub data: Vec<u8>,
}

/// One payload, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Sa(SecurityAssociation),
    Ke(KeyExchange),
    IdI(Identification),
    IdR(Identification),
    Cert(Certificate),
    CertReq(Certificate),
    Auth(Authentication),
    Nonce(Nonce),
    Notify(Notify),
    Delete(Delete),
    VendorId(Vec<u8>),
    TsI(TrafficSelectors),
    TsR(TrafficSelectors),
    /// The Encrypted and Authenticated payload, still encrypted ([`super::sk`]).
    Sk(Encrypted),
    Cp(Configuration),
    /// An EAP message (RFC 7296 §3.16), opaque here.
    Eap(Vec<u8>),
    /// An Encrypted Fragment (RFC 7383).
    Skf(EncryptedFragment),
    Unknown(UnknownPayload),
}

impl Payload {
    pub fn ty(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::SA,
            Payload::Ke(_) => PayloadType::KE,
            Payload::IdI(_) => PayloadType::IDI,
            Payload::IdR(_) => PayloadType::IDR,
            Payload::Cert(_) => PayloadType::CERT,
            Payload::CertReq(_) => PayloadType::CERTREQ,
            Payload::Auth(_) => PayloadType::AUTH,
            Payload::Nonce(_) => PayloadType::NONCE,
            Payload::Notify(_) => PayloadType::NOTIFY,
            Payload::Delete(_) => PayloadType::DELETE,
            Payload::VendorId(_) => PayloadType::VENDOR_ID,
            Payload::TsI(_) => PayloadType::TSI,
            Payload::TsR(_) => PayloadType::TSR,
            Payload::Sk(_) => PayloadType::SK,
            Payload::Cp(_) => PayloadType::CP,
            Payload::Eap(_) => PayloadType::EAP,
            Payload::Skf(_) => PayloadType::SKF,
            Payload::Unknown(u) => u.ty,
        }
    }

    /// Decodes one raw payload. `allow_encrypted` is false inside an SK payload (no nesting).
    pub fn decode(raw: &RawPayload<'_>, allow_encrypted: bool) -> Result<Payload> {
        let b = raw.body;
        let p = match raw.ty {
            PayloadType::SA => Payload::Sa(SecurityAssociation::decode(b)?),
            PayloadType::KE => Payload::Ke(KeyExchange::decode(b)?),
            PayloadType::IDI => Payload::IdI(Identification::decode(b)?),
            PayloadType::IDR => Payload::IdR(Identification::decode(b)?),
            PayloadType::CERT => Payload::Cert(Certificate::decode(b)?),
            PayloadType::CERTREQ => Payload::CertReq(Certificate::decode(b)?),
            PayloadType::AUTH => Payload::Auth(Authentication::decode(b)?),
            PayloadType::NONCE => Payload::Nonce(Nonce::decode(b)?),
            PayloadType::NOTIFY => Payload::Notify(Notify::decode(b)?),
            PayloadType::DELETE => Payload::Delete(Delete::decode(b)?),
            PayloadType::VENDOR_ID => Payload::VendorId(b.to_vec()),
            PayloadType::TSI => Payload::TsI(TrafficSelectors::decode(b)?),
            PayloadType::TSR => Payload::TsR(TrafficSelectors::decode(b)?),
            PayloadType::CP => Payload::Cp(Configuration::decode(b)?),
            PayloadType::EAP => Payload::Eap(b.to_vec()),
            PayloadType::SK | PayloadType::SKF if !allow_encrypted => {
                return Err(Error::new(ErrorKind::Misplaced, "SK inside SK"));
            }
            PayloadType::SK => Payload::Sk(Encrypted { first_inner: raw.next, body: b.to_vec() }),
            PayloadType::SKF => Payload::Skf(EncryptedFragment::decode_with_next(raw.next, b)?),
            ty if raw.critical => {
                return Err(Error::new(ErrorKind::UnsupportedCriticalPayload(ty), "payload chain"));
            }
            ty => Payload::Unknown(UnknownPayload { ty, critical: false, data: b.to_vec() }),
        };
        Ok(p)
    }

    fn encode_body(&self, w: &mut Writer) {
        match self {
            Payload::Sa(p) => p.encode(w),
            Payload::Ke(p) => p.encode(w),
            Payload::IdI(p) | Payload::IdR(p) => p.encode(w),
            Payload::Cert(p) | Payload::CertReq(p) => p.encode(w),
            Payload::Auth(p) => p.encode(w),
            Payload::Nonce(p) => p.encode(w),
            Payload::Notify(p) => p.encode(w),
            Payload::Delete(p) => p.encode(w),
            Payload::VendorId(d) | Payload::Eap(d) => w.bytes(d),
            Payload::TsI(p) | Payload::TsR(p) => p.encode(w),
            Payload::Sk(p) => w.bytes(&p.body),
            Payload::Cp(p) => p.encode(w),
            Payload::Skf(p) => p.encode(w),
            Payload::Unknown(u) => w.bytes(&u.data),
        }
    }

    /// Writes the generic header (with `next` as Next Payload, or the first inner type for
    /// SK / SKF) and the body.
    pub fn encode(&self, next: PayloadType, w: &mut Writer) {
        let start = w.len();
        let next = match self {
            Payload::Sk(e) => e.first_inner,
            Payload::Skf(f) => f.first_inner,
            _ => next,
        };
        w.u8(next.0);
        let critical = matches!(self, Payload::Unknown(u) if u.critical);
        w.u8(if critical { CRITICAL } else { 0 });
        let mark = w.len16_from(start);
        self.encode_body(w);
        w.patch_len(mark);
    }
}

/// Decodes a whole chain starting with type `first`. `allow_encrypted` is false for the inner
/// chain of an SK payload.
pub fn decode_chain(first: PayloadType, chain: &[u8], allow_encrypted: bool) -> Result<Vec<Payload>> {
    let mut out = Vec::new();
    for raw in PayloadIter::new(first, chain) {
        out.push(Payload::decode(&raw?, allow_encrypted)?);
    }
    Ok(out)
}

/// Encodes `payloads` as a chain into `w`, returning the type of the first payload (the value
/// for the preceding Next Payload field). SK / SKF, if present, must be last.
pub fn encode_chain_into(payloads: &[Payload], w: &mut Writer) -> PayloadType {
    for (i, p) in payloads.iter().enumerate() {
        let next = payloads.get(i + 1).map_or(PayloadType::NONE, Payload::ty);
        if matches!(p, Payload::Sk(_) | Payload::Skf(_)) && i + 1 != payloads.len() {
            w.mark_overflow();
        }
        p.encode(next, w);
    }
    payloads.first().map_or(PayloadType::NONE, Payload::ty)
}

/// [`encode_chain_into`] into a fresh buffer.
pub fn encode_chain(payloads: &[Payload]) -> Result<(PayloadType, Vec<u8>)> {
    let mut w = Writer::new();
    let first = encode_chain_into(payloads, &mut w);
    Ok((first, w.finish()?))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::test_util::{chain_round_trip, hex, XorShift};

    #[test]
    fn simple_payloads_round_trip() {
        chain_round_trip(&[
            Payload::Ke(KeyExchange { group: DhGroup::CURVE25519, data: vec![0x42; 32] }),
            Payload::Nonce(Nonce(vec![7; 32])),
            Payload::Auth(Authentication { method: AuthMethod::SHARED_KEY_MIC, data: vec![1; 32] }),
            Payload::Cert(Certificate { encoding: CertEncoding::X509_SIGNATURE, data: vec![0x30, 0x82] }),
            Payload::CertReq(Certificate { encoding: CertEncoding::X509_SIGNATURE, data: vec![9; 20] }),
            Payload::VendorId(b"espgw".to_vec()),
            Payload::Eap(vec![1, 2, 0, 5, 1]),
            Payload::Unknown(UnknownPayload { ty: PayloadType(200), critical: false, data: vec![1, 2, 3] }),
        ]);
        chain_round_trip(&[]);
    }

    #[test]
    fn ke_wire_format() {
        let (first, b) = chain_round_trip(&[Payload::Ke(KeyExchange {
            group: DhGroup::MODP_2048,
            data: vec![0xaa, 0xbb],
        })]);
        assert_eq!(first, PayloadType::KE);
        assert_eq!(b, hex("00 00 000a 000e 0000 aabb"));
    }

    #[test]
    fn nonce_size_limits() {
        assert_eq!(Nonce::decode(&[0; 15]).unwrap_err().kind, ErrorKind::InvalidValue);
        assert!(Nonce::decode(&[0; 16]).is_ok());
        assert!(Nonce::decode(&[0; 256]).is_ok());
        assert!(Nonce::decode(&[0; 257]).is_err());
    }

    #[test]
    fn unknown_critical_payload_is_refused() {
        // Unknown type 200 (critical) followed by nothing.
        let b = hex("00 80 0005 ff");
        let e = decode_chain(PayloadType(200), &b, true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedCriticalPayload(PayloadType(200)));
        assert_eq!(e.notify_data(), vec![200]);
        // The same payload not critical is skipped (kept as Unknown).
        let b = hex("00 00 0005 ff");
        assert!(matches!(&decode_chain(PayloadType(200), &b, true).unwrap()[0], Payload::Unknown(_)));
        // A critical bit on a known payload is ignored.
        let b = hex("00 80 0005 01");
        assert_eq!(decode_chain(PayloadType::VENDOR_ID, &b, true).unwrap(), vec![Payload::VendorId(vec![1])]);
    }

    #[test]
    fn malformed_lengths() {
        // Length below the generic header.
        assert_eq!(
            decode_chain(PayloadType::VENDOR_ID, &hex("00000003"), true).unwrap_err().kind,
            ErrorKind::BadLength
        );
        // Length past the data.
        assert_eq!(
            decode_chain(PayloadType::VENDOR_ID, &hex("00000008 01"), true).unwrap_err().kind,
            ErrorKind::Truncated
        );
        // Bytes after the last payload.
        assert_eq!(
            decode_chain(PayloadType::VENDOR_ID, &hex("00000005 01 ff"), true).unwrap_err().kind,
            ErrorKind::BadLength
        );
        // Next payload names a payload that is not there.
        assert_eq!(
            decode_chain(PayloadType::VENDOR_ID, &hex("2b000005 01"), true).unwrap_err().kind,
            ErrorKind::Truncated
        );
    }

    #[test]
    fn sk_must_be_last_and_not_nested() {
        // SK then a vendor ID: SK not last.
        let b = hex("2b000005 aa 00000005 01");
        assert_eq!(decode_chain(PayloadType::SK, &b, true).unwrap_err().kind, ErrorKind::Misplaced);
        let b = hex("2b000005 aa");
        assert_eq!(decode_chain(PayloadType::SK, &b, false).unwrap_err().kind, ErrorKind::Misplaced);
        let sk = decode_chain(PayloadType::SK, &b, true).unwrap();
        assert_eq!(
            sk,
            vec![Payload::Sk(Encrypted { first_inner: PayloadType::VENDOR_ID, body: vec![0xaa] })]
        );
        let e = encode_chain(&[sk[0].clone(), Payload::VendorId(vec![])]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLong);
    }

    #[test]
    fn iterator_offsets() {
        let b = hex("2b000005 01 00000006 0203");
        let raws: Vec<_> = PayloadIter::new(PayloadType::VENDOR_ID, &b).collect::<Result<_>>().unwrap();
        assert_eq!(raws.len(), 2);
        assert_eq!((raws[0].offset, raws[0].next, raws[0].body), (0, PayloadType::VENDOR_ID, &[1u8][..]));
        assert_eq!((raws[1].offset, raws[1].next, raws[1].body), (5, PayloadType::NONE, &[2u8, 3][..]));
    }

    #[test]
    fn fuzz_no_panic() {
        let mut rng = XorShift::new(0x1ce);
        let mut buf = [0u8; 96];
        let types = [33u8, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 53, 200];
        for _ in 0..50_000 {
            rng.fill(&mut buf);
            // Bias toward plausible payload headers.
            buf[0] = types[rng.below(types.len())];
            buf[2] = 0;
            buf[3] = rng.below(40) as u8;
            let n = rng.below(buf.len() + 1);
            let first = PayloadType(types[rng.below(types.len())]);
            let _ = decode_chain(first, &buf[..n], rng.below(2) == 0);
        }
    }
}
