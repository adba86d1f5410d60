//! Whole IKE messages: header plus payload chain.

use super::header::{Header, HEADER_LEN};
use super::payload::{decode_chain, encode_chain_into, Payload};
use super::sk::{Encrypted, EncryptedFragment};
use super::{Error, ErrorKind, Reader, Result, Writer};

/// An IKE message, owned. For protected messages the last payload is [`Payload::Sk`] (or
/// [`Payload::Skf`]), still encrypted; see [`crate::protect`] to open or seal it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub payloads: Vec<Payload>,
}

impl Message {
    /// Parses one datagram's worth of IKE message (without the RFC 3948 non-ESP marker).
    ///
    /// The Length field must equal `datagram.len()`. Never panics; see [`Error::notify`] for
    /// the notification an error calls for.
    pub fn parse(datagram: &[u8]) -> Result<Message> {
        let mut r = Reader::new(datagram, "header");
        let (header, first, length) = Header::decode(&mut r)?;
        if (length as usize) < HEADER_LEN || length as usize > datagram.len() {
            return Err(Error::new(ErrorKind::Truncated, "header length"));
        }
        if length as usize != datagram.len() {
            return Err(Error::new(ErrorKind::BadLength, "header length"));
        }
        let payloads = decode_chain(first, r.rest(), true)?;
        Ok(Message { header, payloads })
    }

    /// Encodes the message, computing every Next Payload and Length field.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        // Header with placeholders, then patch Next Payload and Length once the chain is known.
        self.header.encode(super::PayloadType::NONE, 0, &mut w);
        let first = encode_chain_into(&self.payloads, &mut w);
        let len = w.len();
        let Ok(len32) = u32::try_from(len) else {
            return Err(Error::new(ErrorKind::TooLong, "encode"));
        };
        let mut p = super::header::Packet::new_unchecked(w.as_mut_slice());
        p.set_next_payload(first);
        p.set_length(len32);
        w.finish()
    }

    /// The SK payload, if the message has one.
    pub fn encrypted(&self) -> Option<&Encrypted> {
        match self.payloads.last() {
            Some(Payload::Sk(e)) => Some(e),
            _ => None,
        }
    }

    /// The SKF payload, if the message is a fragment.
    pub fn fragment(&self) -> Option<&EncryptedFragment> {
        match self.payloads.last() {
            Some(Payload::Skf(f)) => Some(f),
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod test {
    use super::*;
    use crate::codec::header::Flags;
    use crate::codec::id::Identification;
    use crate::codec::notify::Notify;
    use crate::codec::payload::{Authentication, KeyExchange, Nonce};
    use crate::codec::sa::test::{esp_sa, ike_sa};
    use crate::codec::test_util::XorShift;
    use crate::codec::ts::{TrafficSelector, TrafficSelectors};
    use crate::codec::{AuthMethod, DhGroup, ExchangeType, NotifyType, PayloadType};

    /// An IKE_SA_INIT request as an initiator sends it (x25519 KE, NAT-D, fragmentation and
    /// signature hash notifies).
    pub fn sa_init_request() -> Message {
        Message {
            header: Header {
                spi_i: 0x8a3c_51e0_0d2f_7701,
                spi_r: 0,
                minor_version: 0,
                exchange: ExchangeType::IKE_SA_INIT,
                flags: Flags::INITIATOR,
                message_id: 0,
            },
            payloads: vec![
                Payload::Sa(ike_sa()),
                Payload::Ke(KeyExchange { group: DhGroup::CURVE25519, data: (0..32).collect() }),
                Payload::Nonce(Nonce((100..132).collect())),
                Payload::Notify(Notify::new(NotifyType::NAT_DETECTION_SOURCE_IP, vec![0xa1; 20])),
                Payload::Notify(Notify::new(NotifyType::NAT_DETECTION_DESTINATION_IP, vec![0xb2; 20])),
                Payload::Notify(Notify::new(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![])),
                Payload::Notify(Notify::new(NotifyType::SIGNATURE_HASH_ALGORITHMS, vec![0, 2, 0, 3, 0, 4])),
            ],
        }
    }

    /// The payloads an IKE_AUTH request carries inside SK (PSK auth, one Child SA).
    pub fn ike_auth_inner() -> Vec<Payload> {
        vec![
            Payload::IdI(Identification::Fqdn("west.example.net".into())),
            Payload::Notify(Notify::new(NotifyType::INITIAL_CONTACT, vec![])),
            Payload::IdR(Identification::Fqdn("east.example.net".into())),
            Payload::Auth(Authentication { method: AuthMethod::SHARED_KEY_MIC, data: vec![0x5e; 32] }),
            Payload::Sa(esp_sa()),
            Payload::TsI(TrafficSelectors { selectors: vec![TrafficSelector::any_v4()] }),
            Payload::TsR(TrafficSelectors { selectors: vec![TrafficSelector::any_v4()] }),
        ]
    }

    fn check_message(m: &Message) -> Vec<u8> {
        let b = m.encode().unwrap();
        let back = Message::parse(&b).unwrap();
        assert_eq!(&back, m);
        assert_eq!(back.encode().unwrap(), b);
        for n in 0..b.len() {
            assert!(Message::parse(&b[..n]).is_err(), "prefix {n} accepted");
            // Also with the Length field made to agree with the cut.
            if n >= HEADER_LEN {
                let mut cut = b[..n].to_vec();
                cut[24..28].copy_from_slice(&(n as u32).to_be_bytes());
                assert!(Message::parse(&cut).is_err(), "relabelled prefix {n} accepted");
            }
        }
        b
    }

    #[test]
    fn ike_sa_init_round_trip_and_truncation() {
        let b = check_message(&sa_init_request());
        assert_eq!(b[16], PayloadType::SA.0);
        assert_eq!(u32::from_be_bytes([b[24], b[25], b[26], b[27]]) as usize, b.len());
    }

    #[test]
    fn ike_auth_round_trip_with_encrypted_inner_chain() {
        let (first, inner) = crate::codec::sk::encode_inner(&ike_auth_inner()).unwrap();
        assert_eq!(first, PayloadType::IDI);
        let m = Message {
            header: Header {
                spi_i: 0x8a3c_51e0_0d2f_7701,
                spi_r: 0x1122_3344_5566_7788,
                minor_version: 0,
                exchange: ExchangeType::IKE_AUTH,
                flags: Flags::INITIATOR,
                message_id: 1,
            },
            // Stand-in ciphertext: 16-byte IV, the inner chain, 16-byte ICV.
            payloads: vec![Payload::Sk(Encrypted {
                first_inner: first,
                body: [vec![0x11; 16], inner.clone(), vec![0x22; 16]].concat(),
            })],
        };
        let b = check_message(&m);
        let back = Message::parse(&b).unwrap();
        let sk = back.encrypted().unwrap();
        let body = &sk.body[16..sk.body.len() - 16];
        assert_eq!(Encrypted::decode_inner(sk.first_inner, body).unwrap(), ike_auth_inner());
    }

    #[test]
    fn header_length_must_match_datagram() {
        let mut b = sa_init_request().encode().unwrap();
        b.push(0);
        assert_eq!(Message::parse(&b).unwrap_err().kind, ErrorKind::BadLength);
        b.pop();
        b[27] = b[27].wrapping_sub(1);
        assert!(Message::parse(&b).is_err());
        b[24..28].copy_from_slice(&20u32.to_be_bytes());
        assert_eq!(Message::parse(&b).unwrap_err().kind, ErrorKind::Truncated);
    }

    #[test]
    fn version_and_critical_errors_carry_their_notify() {
        let mut b = sa_init_request().encode().unwrap();
        b[17] = 0x30;
        let e = Message::parse(&b).unwrap_err();
        assert_eq!(e.notify(), NotifyType::INVALID_MAJOR_VERSION);

        // Replace the first payload's type with an unknown one and set its critical bit.
        let mut b = sa_init_request().encode().unwrap();
        b[16] = 250;
        b[29] = 0x80;
        let e = Message::parse(&b).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedCriticalPayload(PayloadType(250)));
        assert_eq!(e.notify(), NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD);
        // Without the critical bit it is skipped and kept.
        b[29] = 0;
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.payloads[0].ty(), PayloadType(250));
        assert_eq!(m.encode().unwrap(), b);
    }

    #[test]
    fn empty_message() {
        let m = Message { payloads: vec![], ..sa_init_request() };
        let b = check_message(&m);
        assert_eq!(b.len(), HEADER_LEN);
    }

    #[test]
    fn fuzz_no_panic() {
        let good = sa_init_request().encode().unwrap();
        let mut rng = XorShift::new(0xfeed);
        for _ in 0..5_000 {
            let mut b = good.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            let n = rng.below(b.len() + 1);
            if let Ok(m) = Message::parse(&b[..n]) {
                // Anything accepted re-encodes without panicking.
                let _ = m.encode();
            }
        }
    }
}
