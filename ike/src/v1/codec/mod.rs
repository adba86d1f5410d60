//! ISAKMP message codec for IKEv1 (RFC 2408 §3, RFC 2407 §4, RFC 3947 §3–4).
//!
//! Built on the IKEv2 codec's bounds-checked [`Reader`] / [`Writer`]: every length on the wire
//! is checked against the bytes present before it is used, and no function here panics on any
//! input. Numbers are open newtypes ([`registry`]), so unknown values round-trip.
//!
//! An ISAKMP message is a 28-octet [`Header`] and a payload chain. When the header's E flag is
//! set the chain is CBC ciphertext (RFC 2409 Appendix B): [`split`] hands back the header and
//! the body so the caller can decrypt it before [`decode_chain`]. Decrypted chains are followed
//! by padding; [`decode_chain`] reports where the chain ended so the padding is ignored and
//! hashes over "the rest of the message" can use the exact bytes.
//!
//! Contract: a valid message (reserved fields zero) re-encodes to the same bytes.

pub mod id;
pub mod payload;
pub mod registry;
pub mod sa;

pub use payload::Payload;
pub use registry::*;

use crate::codec::{Error, ErrorKind, Reader, Result, Writer};

/// Length of the ISAKMP header.
pub const HEADER_LEN: usize = 28;
/// Version 1.0: major 1 in the high nibble, minor 0.
pub const VERSION: u8 = 0x10;

/// Header flags (RFC 2408 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// The payloads after the header are encrypted.
    pub const ENCRYPTION: u8 = 0x01;
    /// Commit: the sender wants a CONNECTED notify before using the SA.
    pub const COMMIT: u8 = 0x02;
    /// Authentication only (no encryption), not used by IKE.
    pub const AUTH_ONLY: u8 = 0x04;

    pub fn encrypted(self) -> bool {
        self.0 & Self::ENCRYPTION != 0
    }

    pub fn commit(self) -> bool {
        self.0 & Self::COMMIT != 0
    }
}

/// The ISAKMP header. `length` is computed on encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub cky_i: u64,
    pub cky_r: u64,
    pub next: PayloadType,
    pub exchange: ExchangeType,
    pub flags: Flags,
    pub message_id: u32,
}

impl Header {
    pub fn new(cky_i: u64, cky_r: u64, exchange: ExchangeType, message_id: u32) -> Header {
        Header { cky_i, cky_r, next: PayloadType::NONE, exchange, flags: Flags(0), message_id }
    }

    fn encode(&self, w: &mut Writer, total_len: usize) {
        w.u64(self.cky_i);
        w.u64(self.cky_r);
        w.u8(self.next.0);
        w.u8(VERSION);
        w.u8(self.exchange.0);
        w.u8(self.flags.0);
        w.u32(self.message_id);
        match u32::try_from(total_len) {
            Ok(n) => w.u32(n),
            Err(_) => {
                w.mark_overflow();
                w.u32(0)
            }
        }
    }

    /// The header followed by `body` (a plaintext chain, or ciphertext when E is set).
    pub fn encode_with(&self, body: &[u8]) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        self.encode(&mut w, HEADER_LEN + body.len());
        w.bytes(body);
        w.finish()
    }
}

/// Parses the header and checks the Length field against the datagram: it must cover the
/// header and match the datagram exactly. Returns the header and the body bytes.
pub fn split(bytes: &[u8]) -> Result<(Header, &[u8])> {
    let mut r = Reader::new(bytes, "ISAKMP header");
    let cky_i = r.u64()?;
    let cky_r = r.u64()?;
    let next = PayloadType(r.u8()?);
    let version = r.u8()?;
    let exchange = ExchangeType(r.u8()?);
    let flags = Flags(r.u8()?);
    let message_id = r.u32()?;
    let len = r.u32()? as usize;
    if version >> 4 != 1 {
        return Err(r.error(ErrorKind::InvalidMajorVersion(version >> 4)));
    }
    if len < HEADER_LEN || len != bytes.len() {
        return Err(r.error(ErrorKind::BadLength));
    }
    Ok((Header { cky_i, cky_r, next, exchange, flags, message_id }, r.rest()))
}

/// One payload of a chain as borrowed bytes: its type and body (after the generic header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPayload<'a> {
    pub ty: PayloadType,
    pub body: &'a [u8],
    /// Offset of this payload's generic header from the start of the chain.
    pub offset: usize,
    /// Offset just past this payload.
    pub end: usize,
}

/// Walks a payload chain starting with type `first`. With `allow_trailing` (a decrypted body),
/// bytes after the last payload are padding and ignored; otherwise they are an error.
/// Returns the payloads and where the chain ended.
pub fn walk(first: PayloadType, bytes: &[u8], allow_trailing: bool) -> Result<(Vec<RawPayload<'_>>, usize)> {
    let mut out = Vec::new();
    let mut r = Reader::new(bytes, "payload chain");
    let mut ty = first;
    let mut pos = 0;
    while ty != PayloadType::NONE {
        if ty == PayloadType::PROPOSAL || ty == PayloadType::TRANSFORM {
            return Err(r.error(ErrorKind::Misplaced));
        }
        let next = PayloadType(r.u8()?);
        let _reserved = r.u8()?;
        let len = r.u16()? as usize;
        if len < 4 {
            return Err(r.error(ErrorKind::BadLength));
        }
        let body = r.take(len - 4)?;
        out.push(RawPayload { ty, body, offset: pos, end: pos + len });
        pos += len;
        ty = next;
    }
    if !allow_trailing {
        r.expect_end()?;
    }
    Ok((out, pos))
}

/// Decodes a chain into owned payloads; see [`walk`] for `allow_trailing`.
pub fn decode_chain(first: PayloadType, bytes: &[u8], allow_trailing: bool) -> Result<(Vec<Payload>, usize)> {
    let (raw, end) = walk(first, bytes, allow_trailing)?;
    let payloads = raw.iter().map(|p| Payload::decode(p.ty, p.body)).collect::<Result<Vec<_>>>()?;
    Ok((payloads, end))
}

/// Encodes a chain; returns the first payload's type and the bytes.
pub fn encode_chain(payloads: &[Payload]) -> Result<(PayloadType, Vec<u8>)> {
    let mut w = Writer::new();
    for (i, p) in payloads.iter().enumerate() {
        let next = payloads.get(i + 1).map_or(PayloadType::NONE, Payload::ty);
        let start = w.len();
        w.u8(next.0);
        w.u8(0);
        let mark = w.len16_from(start);
        p.encode_body(&mut w);
        w.patch_len(mark);
    }
    let first = payloads.first().map_or(PayloadType::NONE, Payload::ty);
    Ok((first, w.finish()?))
}

/// A whole plaintext message (phase 1 messages 1–4, aggressive mode 1–2, unprotected notifies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub payloads: Vec<Payload>,
}

impl Message {
    /// Parses a message whose E flag is clear (an encrypted one is an error here: decrypt with
    /// [`split`] and [`decode_chain`] instead).
    pub fn parse(bytes: &[u8]) -> Result<Message> {
        let (header, body) = split(bytes)?;
        if header.flags.encrypted() {
            return Err(Error::new(ErrorKind::InvalidValue, "encrypted message"));
        }
        let (payloads, _) = decode_chain(header.next, body, false)?;
        Ok(Message { header, payloads })
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        let (first, body) = encode_chain(&self.payloads)?;
        let mut h = self.header;
        h.next = first;
        h.encode_with(&body)
    }
}

#[cfg(test)]
pub(crate) mod test {
    use super::payload::*;
    use super::sa::*;
    use super::*;
    use crate::v1::codec::id::{Id, IdPayload};
    use std::net::Ipv4Addr;

    pub(crate) fn sample_sa() -> SaPayload {
        SaPayload {
            doi: DOI_IPSEC,
            situation: SIT_IDENTITY_ONLY,
            proposals: vec![Proposal {
                number: 1,
                protocol: ProtocolId::ISAKMP,
                spi: vec![],
                transforms: vec![
                    Transform {
                        number: 1,
                        id: KEY_IKE,
                        attributes: vec![
                            Attribute::basic(Ph1Attr::ENCRYPTION_ALGORITHM.0, 7),
                            Attribute::basic(Ph1Attr::KEY_LENGTH.0, 256),
                            Attribute::basic(Ph1Attr::LIFE_TYPE.0, 1),
                            Attribute::var(Ph1Attr::LIFE_DURATION.0, vec![0, 1, 0x51, 0x80]),
                        ],
                    },
                    Transform { number: 2, id: KEY_IKE, attributes: vec![] },
                ],
            }],
        }
    }

    pub(crate) fn sample_payloads() -> Vec<Payload> {
        vec![
            Payload::Sa(sample_sa()),
            Payload::Ke(vec![1, 2, 3, 4]),
            Payload::Nonce(vec![5; 16]),
            Payload::Id(IdPayload { protocol: 17, port: 500, id: Id::Fqdn("west.example.net".into()) }),
            Payload::Id(IdPayload {
                protocol: 0,
                port: 0,
                id: Id::Ipv4Subnet(Ipv4Addr::new(10, 1, 0, 0), Ipv4Addr::new(255, 255, 0, 0)),
            }),
            Payload::Hash(vec![9; 20]),
            Payload::Notify(Notification {
                doi: DOI_IPSEC,
                protocol: ProtocolId::ISAKMP,
                spi: vec![1; 16],
                ty: NotifyType::R_U_THERE,
                data: vec![0, 0, 0, 7],
            }),
            Payload::Delete(Delete {
                doi: DOI_IPSEC,
                protocol: ProtocolId::IPSEC_ESP,
                spi_size: 4,
                spis: vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]],
            }),
            Payload::VendorId(crate::v1::nat::VID_RFC3947.to_vec()),
            Payload::NatD(vec![7; 20]),
            Payload::NatOa(NatOa::V4(Ipv4Addr::new(192, 0, 2, 9))),
            Payload::Other(PayloadType::CERT, vec![4, 1, 2]),
        ]
    }

    #[test]
    fn message_round_trip_and_every_prefix_fails() {
        let mut h = Header::new(0x0102_0304_0506_0708, 0, ExchangeType::IDENTITY_PROTECTION, 0);
        h.flags = Flags(0);
        let m = Message { header: h, payloads: sample_payloads() };
        let bytes = m.encode().unwrap();
        let back = Message::parse(&bytes).unwrap();
        assert_eq!(back.payloads, m.payloads);
        assert_eq!(back.header.next, PayloadType::SA);
        assert_eq!(back.encode().unwrap(), bytes);
        for n in 0..bytes.len() {
            assert!(Message::parse(&bytes[..n]).is_err(), "prefix {n}");
        }
        // The chain alone: every prefix fails too (the length field is not there to help).
        let (first, chain) = encode_chain(&m.payloads).unwrap();
        for n in 0..chain.len() {
            assert!(decode_chain(first, &chain[..n], false).is_err(), "chain prefix {n}");
        }
        // Trailing padding is accepted only when asked, and the end is reported.
        let mut padded = chain.clone();
        padded.extend_from_slice(&[0; 7]);
        assert!(decode_chain(first, &padded, false).is_err());
        assert_eq!(decode_chain(first, &padded, true).unwrap().1, chain.len());
    }

    #[test]
    fn header_checks() {
        let m = Message { header: Header::new(1, 2, ExchangeType::QUICK_MODE, 9), payloads: vec![] };
        let mut b = m.encode().unwrap();
        assert_eq!(b.len(), HEADER_LEN);
        assert_eq!(b[17], VERSION);
        assert_eq!(split(&b).unwrap().0.message_id, 9);
        b[17] = 0x20;
        assert_eq!(split(&b).unwrap_err().kind, ErrorKind::InvalidMajorVersion(2));
        b[17] = 0x10;
        b.push(0);
        assert_eq!(split(&b).unwrap_err().kind, ErrorKind::BadLength);
        b.pop();
        b[19] = Flags::ENCRYPTION;
        assert!(Message::parse(&b).is_err());
        assert!(split(&b).unwrap().0.flags.encrypted());
        // A proposal at the top level of a chain is misplaced.
        assert_eq!(walk(PayloadType::PROPOSAL, &[0, 0, 0, 4], false).unwrap_err().kind, ErrorKind::Misplaced);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut g = crate::codec::test_util::XorShift::new(5);
        let m =
            Message { header: Header::new(1, 2, ExchangeType::AGGRESSIVE, 0), payloads: sample_payloads() };
        let good = m.encode().unwrap();
        for _ in 0..3000 {
            let mut b = good.clone();
            for _ in 0..1 + g.below(4) {
                let i = g.below(b.len());
                b[i] = g.next() as u8;
            }
            let _ = Message::parse(&b);
            let _ = decode_chain(PayloadType::SA, &b[HEADER_LEN..], true);
        }
    }
}
