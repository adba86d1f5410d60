//! Stateless responder cookies against half-open SA floods (RFC 7296 §2.6).
//!
//! ```text
//! Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
//! ```
//!
//! The driver runs every IKE_SA_INIT request through [`CookieGate::check`] before it creates
//! an IKE SA with [`super::IkeSa::accept`], passing how many half-open SAs it holds. Under the
//! limit everything passes; above it only requests carrying a valid cookie do, and the others
//! get the cookie in an unprotected notify and cost the responder no state.

use super::nat::{frame, unframe};
use super::Datagram;
use crate::codec::notify::Notify;
use crate::codec::payload::Payload;
use crate::codec::{ExchangeType, Flags, Header, Message, NotifyType};
use crate::crypto::hash::{HashAlg, Hasher};
use crate::crypto::Secret;
use rand_core::CryptoRngCore;
use std::net::{IpAddr, SocketAddr};

const SECRET_LEN: usize = 32;

#[derive(Debug)]
pub struct CookieGate {
    version: u32,
    secret: Secret,
    previous: Option<(u32, Secret)>,
    /// Half-open SAs at which cookies become required.
    pub limit: usize,
}

#[derive(Debug)]
pub enum GateVerdict {
    /// Go on: create the IKE SA.
    Accept,
    /// Send this (a COOKIE notify) and keep no state.
    Reply(Datagram),
    /// Not an IKE_SA_INIT request the gate understands.
    Drop,
}

fn secret(rng: &mut impl CryptoRngCore) -> Secret {
    let mut s = vec![0u8; SECRET_LEN];
    rng.fill_bytes(&mut s);
    Secret::new(s)
}

impl CookieGate {
    pub fn new(limit: usize, rng: &mut impl CryptoRngCore) -> CookieGate {
        CookieGate { version: 1, secret: secret(rng), previous: None, limit }
    }

    /// A new secret; cookies made with the previous one stay valid until the next rotation.
    pub fn rotate(&mut self, rng: &mut impl CryptoRngCore) {
        let old = core::mem::replace(&mut self.secret, secret(rng));
        self.previous = Some((self.version, old));
        self.version = self.version.wrapping_add(1);
    }

    fn cookie(version: u32, secret: &Secret, ni: &[u8], ip: IpAddr, spi_i: u64) -> Vec<u8> {
        let ip = match ip {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        let h = Hasher::digest(HashAlg::Sha256, &[ni, &ip, &spi_i.to_be_bytes(), secret.as_bytes()]);
        [version.to_be_bytes().to_vec(), h].concat()
    }

    fn valid(&self, got: &[u8], ni: &[u8], ip: IpAddr, spi_i: u64) -> bool {
        let Some(v) = got.get(..4) else { return false };
        let v = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        let secret = if v == self.version {
            &self.secret
        } else {
            match &self.previous {
                Some((pv, s)) if *pv == v => s,
                _ => return false,
            }
        };
        Secret::new(Self::cookie(v, secret, ni, ip, spi_i)).ct_eq(got)
    }

    /// Decides on an IKE_SA_INIT request received from `src` on `dst`.
    pub fn check(&self, src: SocketAddr, dst: SocketAddr, datagram: &[u8], half_open: usize) -> GateVerdict {
        let Some(msg) = unframe(dst.port(), datagram) else { return GateVerdict::Drop };
        let Ok(m) = Message::parse(msg) else { return GateVerdict::Drop };
        let h = m.header;
        if h.exchange != ExchangeType::IKE_SA_INIT || h.flags.response() || h.message_id != 0 || h.spi_r != 0
        {
            return GateVerdict::Drop;
        }
        if half_open < self.limit {
            return GateVerdict::Accept;
        }
        let Some(ni) = m.payloads.iter().find_map(|p| match p {
            Payload::Nonce(n) => Some(n.0.as_slice()),
            _ => None,
        }) else {
            return GateVerdict::Drop;
        };
        // The COOKIE notify must come first (§2.6).
        if let Some(Payload::Notify(n)) = m.payloads.first() {
            if n.ty == NotifyType::COOKIE && self.valid(&n.data, ni, src.ip(), h.spi_i) {
                return GateVerdict::Accept;
            }
        }
        let cookie = Self::cookie(self.version, &self.secret, ni, src.ip(), h.spi_i);
        let reply = Message {
            header: Header {
                spi_i: h.spi_i,
                spi_r: 0,
                minor_version: 0,
                exchange: ExchangeType::IKE_SA_INIT,
                flags: Flags::RESPONSE,
                message_id: 0,
            },
            payloads: vec![Payload::Notify(Notify::new(NotifyType::COOKIE, cookie))],
        };
        match reply.encode() {
            Ok(b) => GateVerdict::Reply(Datagram { src: dst, dst: src, bytes: frame(dst.port(), b) }),
            Err(_) => GateVerdict::Drop,
        }
    }
}
