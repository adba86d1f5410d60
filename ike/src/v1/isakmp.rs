//! The ISAKMP SA state machine: one [`IsakmpSa`] per peer, holding the phase 1 SA and the
//! phase 2 (quick mode) SAs made under it. Sans-I/O, with the same shape as the IKEv2
//! [`crate::sa::IkeSa`] and the same [`Output`] type, so one driver serves both protocols.
//!
//! Retransmission (IKEv1 has no message-ID window): the side that waits for an answer resends
//! its last message after `timeout·2ⁿ`; each side remembers the last message it received and
//! what it answered, and answers a repeat of that message with the same bytes. The last
//! message of main mode (6) and quick mode (3) are never answered: a lost one shows up as a
//! repeat of the message before it.

use super::codec::payload::{Delete, Notification};
use super::codec::{self, ExchangeType, Flags, Header, NotifyType, Payload, ProtocolId, DOI_IPSEC};
use super::config::V1Config;
use super::crypto::{self as v1crypto, Ph1Keys};
use super::proposal::Ph1Choice;
use crate::codec::ts::TrafficSelector;
use crate::crypto::dh::DhPrivateKey;
use crate::crypto::encr::Cipher;
use crate::sa::nat::{frame, unframe, NAT_T_PORT};
use crate::sa::retransmit::{Outstanding, Retransmit};
use crate::sa::{
    ChildInfo, ChildSaDeleted, Datagram, DeleteReason, Event, Failure, FailureKind, NatStatus, Output,
};
use core::fmt;
use rand_core::CryptoRngCore;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) const NONCE_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Initiator, main mode: sent message 1 / 3 / 5.
    Mm2,
    Mm4,
    Mm6,
    /// Responder, main mode: sent message 2 / 4.
    RMm3,
    RMm5,
    /// Initiator, aggressive mode: sent message 1.
    Am2,
    /// Responder, aggressive mode: sent message 2.
    RAm3,
    Established,
    Dead,
}

/// What phase 1 carries from message to message.
#[derive(Default)]
pub(super) struct Handshake {
    /// The initiator's SA payload body (SAi_b).
    pub sa_i_b: Vec<u8>,
    pub dh: Option<DhPrivateKey>,
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    pub gxi: Vec<u8>,
    pub gxr: Vec<u8>,
}

/// Phase 1 keys and the CBC state.
pub(super) struct P1 {
    pub choice: Ph1Choice,
    pub keys: Ph1Keys,
    pub cipher: Cipher,
    /// During phase 1, the IV of the next message; afterwards the last phase 1 block.
    pub iv: Vec<u8>,
}

/// One quick mode (or the record of a finished one, kept to answer retransmits).
pub(super) struct Quick {
    pub id: u32,
    pub initiator: bool,
    pub iv: Vec<u8>,
    pub cfg: Option<usize>,
    pub name: String,
    pub ni: Vec<u8>,
    pub dh: Option<DhPrivateKey>,
    pub spi_in: u32,
    pub ts_local: TrafficSelector,
    pub ts_remote: TrafficSelector,
    pub offer: Option<codec::sa::SaPayload>,
    /// Responder: the SA to install once message 3 arrives.
    pub pending: Option<crate::sa::ChildSa>,
    pub out: Option<Outstanding>,
    pub last_rx: Vec<u8>,
    pub last_tx: Option<Vec<u8>>,
    pub done: bool,
    pub forget_at: Option<Instant>,
    pub replaces: Option<u32>,
    pub lifetime: Duration,
    /// The commit bit is set on this exchange: the responder sends message 4 (CONNECTED)
    /// after installing; the initiator installs only when it arrives.
    pub commit: bool,
}

pub(super) struct Child {
    pub cfg: Option<usize>,
    pub name: String,
    pub spi_in: u32,
    pub spi_out: u32,
    pub ts_local: TrafficSelector,
    pub ts_remote: TrafficSelector,
    pub rekey_at: Option<Instant>,
    pub expire_at: Instant,
    pub rekeying: bool,
    pub replaced: bool,
}

pub(super) struct Dpd {
    pub first_seq: u32,
    pub seq: u32,
    pub tries: u32,
    pub next_at: Instant,
}

/// One IKEv1 peer: the ISAKMP SA and its IPsec SAs. See the module documentation.
pub struct IsakmpSa {
    pub(super) cfg: Arc<V1Config>,
    pub(super) local: SocketAddr,
    pub(super) remote: SocketAddr,
    pub(super) initiator: bool,
    pub(super) cky_i: u64,
    pub(super) cky_r: u64,
    pub(super) step: Step,
    pub(super) hs: Handshake,
    pub(super) p1: Option<P1>,
    pub(super) nat: NatStatus,
    pub(super) peer_nat_t: bool,
    pub(super) peer_dpd: bool,
    pub(super) p1_out: Option<Outstanding>,
    pub(super) p1_last_rx: Vec<u8>,
    pub(super) p1_last_tx: Option<Vec<u8>>,
    /// The phase 1 message number we are waiting for (for failure messages).
    pub(super) waiting_for: u8,
    pub(super) quicks: Vec<Quick>,
    pub(super) children: Vec<Child>,
    pub(super) dpd: Option<Dpd>,
    pub(super) dpd_seq: u32,
    pub(super) last_rx: Instant,
    pub(super) proposal: String,
    /// The chosen phase 1 transform, once known.
    pub(super) hs_choice: Option<Ph1Choice>,
    /// Aggressive mode responder: the initiator's ID from message 1, for HASH_I.
    pub(super) hs_idi: Option<super::codec::id::IdPayload>,
    /// Quick modes to start (child config, SA being rekeyed) once ours in flight is done: one
    /// at a time, as strongSwan drops a half-done responder quick mode when another arrives.
    pub(super) quick_queue: Vec<(usize, Option<u32>)>,
    /// After our quick mode message 3, the next queued quick mode waits until then
    /// ([`QUICK_GAP`](super::quick::QUICK_GAP)).
    pub(super) quick_gap_until: Option<Instant>,
    /// When phase 1 completed.
    pub(super) established_at: Option<Instant>,
    /// A phase 1 started to replace another ([`IsakmpSa::reauthenticate`]): it starts no
    /// quick modes of its own but takes over the old SA's ([`IsakmpSa::take_over`]).
    pub(super) replacing: bool,
}

impl fmt::Debug for IsakmpSa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IsakmpSa")
            .field("peer", &self.cfg.peer.name)
            .field("cookies", &(self.cky_i, self.cky_r))
            .field("step", &self.step)
            .field("children", &self.child_sas())
            .finish()
    }
}

pub(super) fn fail(kind: FailureKind, detail: impl Into<String>) -> Failure {
    Failure { kind, detail: detail.into() }
}

pub(super) fn random_nonzero_u64(rng: &mut impl CryptoRngCore) -> u64 {
    loop {
        let v = rng.next_u64();
        if v != 0 {
            return v;
        }
    }
}

pub(super) fn random_spi(rng: &mut impl CryptoRngCore) -> u32 {
    loop {
        let v = rng.next_u32();
        if v > 255 {
            return v;
        }
    }
}

pub(super) fn nonce(rng: &mut impl CryptoRngCore) -> Vec<u8> {
    let mut n = vec![0u8; NONCE_LEN];
    rng.fill_bytes(&mut n);
    n
}

impl IsakmpSa {
    pub(super) fn blank(
        cfg: Arc<V1Config>,
        initiator: bool,
        local: SocketAddr,
        remote: SocketAddr,
        now: Instant,
    ) -> IsakmpSa {
        IsakmpSa {
            cfg,
            local,
            remote,
            initiator,
            cky_i: 0,
            cky_r: 0,
            step: Step::Dead,
            hs: Handshake::default(),
            p1: None,
            nat: NatStatus::default(),
            peer_nat_t: false,
            peer_dpd: false,
            p1_out: None,
            p1_last_rx: Vec::new(),
            p1_last_tx: None,
            waiting_for: 0,
            quicks: Vec::new(),
            children: Vec::new(),
            dpd: None,
            dpd_seq: 0,
            last_rx: now,
            proposal: String::new(),
            hs_choice: None,
            hs_idi: None,
            quick_queue: Vec::new(),
            quick_gap_until: None,
            established_at: None,
            replacing: false,
        }
    }

    pub fn config(&self) -> &Arc<V1Config> {
        &self.cfg
    }

    /// The cookie pair (CKY-I, CKY-R); CKY-R is 0 until the responder answered.
    pub fn cookies(&self) -> (u64, u64) {
        (self.cky_i, self.cky_r)
    }

    pub fn is_established(&self) -> bool {
        self.step == Step::Established
    }

    pub fn is_dead(&self) -> bool {
        self.step == Step::Dead
    }

    /// Did we start this phase 1?
    pub fn is_initiator(&self) -> bool {
        self.initiator
    }

    pub fn nat(&self) -> NatStatus {
        self.nat
    }

    /// Current (local, remote) addresses of the ISAKMP SA (port 4500 after a float).
    pub fn addresses(&self) -> (SocketAddr, SocketAddr) {
        (self.local, self.remote)
    }

    pub fn child_sas(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .map(|c| ChildInfo { name: c.name.clone(), spi_in: c.spi_in, spi_out: c.spi_out })
            .collect()
    }

    /// SKEYID, SKEYID_d, SKEYID_a and SKEYID_e, for the interop test that compares them with
    /// strongSwan's log; only in builds with the `interop-keys` feature (never the gateway's).
    #[cfg(feature = "interop-keys")]
    pub fn phase1_keys_for_interop(&self) -> Vec<(&'static str, Vec<u8>)> {
        let Some(p1) = self.p1.as_ref() else { return Vec::new() };
        let k = &p1.keys;
        [
            ("SKEYID", &k.skeyid),
            ("SKEYID_d", &k.skeyid_d),
            ("SKEYID_a", &k.skeyid_a),
            ("SKEYID_e", &k.skeyid_e),
        ]
        .into_iter()
        .map(|(n, s)| (n, s.as_bytes().to_vec()))
        .collect()
    }

    /// Each IPsec SA pair's state and next rekey (the IKEv2 core's shape, for status): a
    /// pair replaced by a responder-side rekey is `rekeyed` until the peer deletes it or it
    /// expires.
    pub fn child_schedule(&self) -> Vec<crate::sa::ChildSchedule> {
        self.children
            .iter()
            .map(|c| crate::sa::ChildSchedule {
                spi_in: c.spi_in,
                state: if c.replaced {
                    "rekeyed"
                } else if c.rekeying {
                    "rekeying"
                } else {
                    "installed"
                },
                rekey_at: c.rekey_at.filter(|_| !c.rekeying && !c.replaced),
            })
            .collect()
    }

    /// Does this datagram belong to this SA (same cookies)? For the driver's demultiplexing.
    pub fn matches_datagram(&self, dst: SocketAddr, datagram: &[u8]) -> bool {
        let Some(b) = unframe(dst.port(), datagram) else { return false };
        if b.len() < 16 {
            return false;
        }
        let ci = u64::from_be_bytes(b[..8].try_into().unwrap_or_default());
        let cr = u64::from_be_bytes(b[8..16].try_into().unwrap_or_default());
        ci == self.cky_i && (cr == self.cky_r || self.cky_r == 0 || cr == 0)
    }

    pub(super) fn datagram(&self, bytes: &[u8]) -> Datagram {
        Datagram { src: self.local, dst: self.remote, bytes: frame(self.local.port(), bytes.to_vec()) }
    }

    /// Moves both ends to port 4500 (RFC 3947 §4).
    pub(super) fn float(&mut self) {
        if self.local.port() != NAT_T_PORT {
            self.local.set_port(NAT_T_PORT);
            self.remote.set_port(NAT_T_PORT);
        }
    }

    /// Sends a phase 1 message and, if we wait for an answer, arms the retransmit timer.
    pub(super) fn send_p1(&mut self, now: Instant, msg: Vec<u8>, wait: bool, out: &mut Vec<Output>) {
        let d = self.datagram(&msg);
        if wait {
            self.p1_out = Some(Outstanding::new(0, vec![d.bytes.clone()], now, &self.cfg.peer.retransmit));
        } else {
            self.p1_out = None;
        }
        self.p1_last_tx = Some(d.bytes.clone());
        out.push(Output::Send(d));
    }

    /// A whole encrypted message: header + CBC(chain) with `iv` (updated to the last block).
    pub(super) fn seal(&self, mut h: Header, payloads: &[Payload], iv: &mut Vec<u8>) -> Option<Vec<u8>> {
        let p1 = self.p1.as_ref()?;
        let (first, chain) = codec::encode_chain(payloads).ok()?;
        h.next = first;
        h.flags = Flags(h.flags.0 | Flags::ENCRYPTION);
        let ct = v1crypto::encrypt(&p1.cipher, iv, &chain).ok()?;
        h.encode_with(&ct).ok()
    }

    /// A phase 2 / informational message whose first payload is HASH = prf(SKEYID_a, prefix |
    /// rest of message).
    pub(super) fn seal_hashed(
        &self,
        h: Header,
        prefix: &[&[u8]],
        rest: &[Payload],
        iv: &mut Vec<u8>,
    ) -> Option<Vec<u8>> {
        let p1 = self.p1.as_ref()?;
        let (_, chain) = codec::encode_chain(rest).ok()?;
        let mut parts: Vec<&[u8]> = prefix.to_vec();
        parts.push(&chain);
        let hash = p1.choice.prf.prf(p1.keys.skeyid_a.as_bytes(), &parts);
        let mut all = vec![Payload::Hash(hash.as_bytes().to_vec())];
        all.extend_from_slice(rest);
        self.seal(h, &all, iv)
    }

    /// Decrypts and checks a hashed phase 2 / informational message. Returns the payloads
    /// after the HASH and the IV to continue with; None if it does not decrypt or verify.
    pub(super) fn open_hashed(
        &self,
        h: &Header,
        body: &[u8],
        iv: &[u8],
        prefix: &[&[u8]],
    ) -> Option<(Vec<Payload>, Vec<u8>, Vec<u8>)> {
        let p1 = self.p1.as_ref()?;
        if !h.flags.encrypted() {
            return None;
        }
        let (plain, next_iv) = v1crypto::decrypt(&p1.cipher, iv, body).ok()?;
        let (raw, end) = codec::walk(h.next, &plain, true).ok()?;
        let first = raw.first()?;
        if first.ty != codec::PayloadType::HASH {
            return None;
        }
        let rest = &plain[first.end..end];
        let mut parts: Vec<&[u8]> = prefix.to_vec();
        parts.push(rest);
        let want = p1.choice.prf.prf(p1.keys.skeyid_a.as_bytes(), &parts);
        if !want.ct_eq(first.body) {
            return None;
        }
        let payloads =
            raw[1..].iter().map(|p| Payload::decode(p.ty, p.body)).collect::<Result<Vec<_>, _>>().ok()?;
        Some((payloads, next_iv, rest.to_vec()))
    }

    /// The IV an exchange with message ID `id` starts from.
    pub(super) fn p2_iv(&self, id: u32) -> Option<Vec<u8>> {
        let p1 = self.p1.as_ref()?;
        Some(v1crypto::phase2_iv(p1.choice.prf, &p1.iv, id, p1.cipher.alg().block_len()))
    }

    pub(super) fn fresh_message_id(&self, rng: &mut impl CryptoRngCore) -> u32 {
        loop {
            let id = rng.next_u32();
            if id != 0 && !self.quicks.iter().any(|q| q.id == id) {
                return id;
            }
        }
    }

    /// Sends an informational exchange (HASH(1), then `payloads`).
    pub(super) fn send_info(
        &self,
        payloads: Vec<Payload>,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let id = self.fresh_message_id(rng);
        let Some(mut iv) = self.p2_iv(id) else { return };
        let h = Header::new(self.cky_i, self.cky_r, ExchangeType::INFORMATIONAL, id);
        if let Some(m) = self.seal_hashed(h, &[&id.to_be_bytes()], &payloads, &mut iv) {
            out.push(Output::Send(self.datagram(&m)));
        }
    }

    /// An unprotected error notify (before keys exist, or when the peer's keys are not ours).
    pub(super) fn send_plain_notify(
        &self,
        ty: NotifyType,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let h = Header::new(self.cky_i, self.cky_r, ExchangeType::INFORMATIONAL, rng.next_u32());
        let n = notify(ProtocolId::ISAKMP, self.spi_pair(), ty, vec![]);
        if let Ok(m) = (codec::Message { header: h, payloads: vec![n] }).encode() {
            out.push(Output::Send(self.datagram(&m)));
        }
    }

    pub(super) fn spi_pair(&self) -> Vec<u8> {
        [self.cky_i.to_be_bytes(), self.cky_r.to_be_bytes()].concat()
    }

    /// The SA is gone: report the children as deleted, then the event.
    pub(super) fn die(&mut self, ev: Event, out: &mut Vec<Output>) {
        for c in self.children.drain(..) {
            out.push(Output::DeleteChild(ChildSaDeleted {
                name: c.name,
                spi_in: c.spi_in,
                spi_out: c.spi_out,
                reason: DeleteReason::IkeSaDown,
            }));
        }
        self.quicks.clear();
        self.quick_queue.clear();
        self.quick_gap_until = None;
        self.p1_out = None;
        self.dpd = None;
        self.step = Step::Dead;
        out.push(Output::Event(ev));
    }

    /// Feeds a received UDP payload (with the non-ESP marker when it came to port 4500).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        datagram: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        if self.step == Step::Dead {
            return out;
        }
        let Some(bytes) = unframe(dst.port(), datagram) else { return out };
        let Ok((h, body)) = codec::split(bytes) else { return out };
        if h.cky_i != self.cky_i || (self.cky_r != 0 && h.cky_r != self.cky_r && h.cky_r != 0) {
            return out;
        }
        match h.exchange {
            ExchangeType::IDENTITY_PROTECTION | ExchangeType::AGGRESSIVE => {
                self.phase1_datagram(now, src, dst, bytes, &h, body, rng, &mut out)
            }
            ExchangeType::QUICK_MODE if self.step == Step::Established => {
                self.quick_datagram(now, src, dst, bytes, &h, body, rng, &mut out)
            }
            ExchangeType::INFORMATIONAL => self.info_datagram(now, src, dst, &h, body, rng, &mut out),
            _ => {}
        }
        self.next_quick(now, rng, &mut out);
        out
    }

    /// An authenticated message arrived from `src` to `dst`: note liveness and follow a NAT
    /// mapping change.
    pub(super) fn authenticated_from(&mut self, now: Instant, src: SocketAddr, dst: SocketAddr) {
        self.last_rx = now;
        if dst.port() == NAT_T_PORT && (src != self.remote || dst != self.local) {
            self.local = dst;
            self.remote = src;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn info_datagram(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        h: &Header,
        body: &[u8],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        if !h.flags.encrypted() {
            self.plain_notify(h, body, out);
            return;
        }
        let Some(iv) = self.p2_iv(h.message_id) else { return };
        let Some((payloads, _, _)) = self.open_hashed(h, body, &iv, &[&h.message_id.to_be_bytes()]) else {
            // Waiting for message 6, an encrypted notification we cannot read means the peer
            // has keys we do not (strongSwan answers a message 5 it cannot decrypt with an
            // encrypted PAYLOAD_MALFORMED). As unauthenticated as the plain notifies we accept
            // during phase 1, and far more useful than a timeout.
            if self.step == Step::Mm6 {
                let f = fail(
                    FailureKind::AuthenticationFailed,
                    format!(
                        "phase 1 failed: {} could not decrypt our message 5 (its encrypted answer does not \
                         decrypt with our keys either): the pre-shared keys differ: check the PSK/IDs",
                        self.remote
                    ),
                );
                self.die(Event::Failed(f), out);
            }
            return;
        };
        self.authenticated_from(now, src, dst);
        for p in payloads {
            match p {
                Payload::Delete(d) => self.peer_delete(&d, out),
                Payload::Notify(n) => self.protected_notify(now, &n, rng, out),
                _ => {}
            }
        }
    }

    /// Unprotected notifies are only believed while phase 1 is being set up, where nothing
    /// better exists (RFC 2408 §5.5): NO_PROPOSAL_CHOSEN, a refused exchange type, a failed
    /// authentication.
    fn plain_notify(&mut self, h: &Header, body: &[u8], out: &mut Vec<Output>) {
        if !self.initiator || matches!(self.step, Step::Established | Step::Dead) {
            return;
        }
        let Ok((payloads, _)) = codec::decode_chain(h.next, body, false) else { return };
        let Some(n) = payloads.iter().find_map(|p| match p {
            Payload::Notify(n) if n.ty.is_error() => Some(n),
            _ => None,
        }) else {
            return;
        };
        let peer = self.remote;
        let ours = super::proposal::describe_ike_props(&self.cfg.peer.ike_proposals);
        let f = match n.ty {
            NotifyType::NO_PROPOSAL_CHOSEN => fail(
                FailureKind::NoProposalChosen,
                format!("phase 1 failed: {peer} accepted none of our IKEv1 proposals {ours} (NO_PROPOSAL_CHOSEN)"),
            ),
            NotifyType::INVALID_EXCHANGE_TYPE if self.step == Step::Am2 => fail(
                FailureKind::PeerError,
                format!(
                    "phase 1 failed: {peer} refused aggressive mode (INVALID_EXCHANGE_TYPE): enable it for this peer \
                     there or use main mode"
                ),
            ),
            NotifyType::AUTHENTICATION_FAILED | NotifyType::INVALID_HASH_INFORMATION | NotifyType::PAYLOAD_MALFORMED
                if matches!(self.step, Step::Mm6 | Step::Am2) =>
            {
                fail(
                    FailureKind::AuthenticationFailed,
                    format!("phase 1 failed: {peer} could not authenticate us ({:?}): check the PSK/IDs", n.ty),
                )
            }
            t => fail(FailureKind::PeerError, format!("phase 1 failed: {peer} answered {t:?}")),
        };
        self.die(Event::Failed(f), out);
    }

    /// Time of the next [`IsakmpSa::handle_timeout`] call, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.step == Step::Dead {
            return None;
        }
        let mut t: Vec<Instant> = Vec::new();
        t.extend(self.p1_out.as_ref().map(Outstanding::next_at));
        for q in &self.quicks {
            t.extend(q.out.as_ref().map(Outstanding::next_at));
            t.extend(q.forget_at);
        }
        for c in &self.children {
            t.extend(c.rekey_at.filter(|_| !c.rekeying && !c.replaced));
            t.push(c.expire_at);
        }
        t.extend(self.dpd_due());
        t.extend(self.expire_at());
        // The gap is what a queued quick mode waits for only when none of ours is in flight
        // (its answer wakes us then); otherwise it may be long past.
        if !self.quick_queue.is_empty() && !self.quick_in_flight() {
            t.extend(self.quick_gap_until);
        }
        t.into_iter().min()
    }

    pub fn handle_timeout(&mut self, now: Instant, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        let mut out = Vec::new();
        if self.step == Step::Dead {
            return out;
        }
        let rcfg = self.cfg.peer.retransmit;
        if let Some(o) = self.p1_out.as_mut().filter(|o| o.next_at() <= now) {
            match o.on_timeout(now, &rcfg) {
                Retransmit::Resend(b) => {
                    out.extend(b.iter().map(|b| {
                        Output::Send(Datagram { src: self.local, dst: self.remote, bytes: b.clone() })
                    }))
                }
                Retransmit::GiveUp { retransmits } => {
                    let hint = if self.waiting_for == 6 || self.waiting_for == 2 && self.step == Step::Am2 {
                        ": the peer probably could not authenticate us: check the PSK/IDs"
                    } else {
                        ""
                    };
                    let what =
                        if self.step == Step::Am2 || self.step == Step::RAm3 { "aggressive" } else { "main" };
                    let f = fail(
                        FailureKind::NoAnswer,
                        format!(
                            "phase 1 failed: no {what} mode message {} from {} after {retransmits} retransmits{hint}",
                            self.waiting_for, self.remote
                        ),
                    );
                    self.die(Event::Failed(f), &mut out);
                    return out;
                }
            }
        }
        if self.expire_at().is_some_and(|t| t <= now) {
            self.expire(rng, &mut out);
            return out;
        }
        self.quick_timeouts(now, rng, &mut out);
        if self.step == Step::Established {
            self.child_timers(now, rng, &mut out);
            self.dpd_timeout(now, rng, &mut out);
        }
        self.next_quick(now, rng, &mut out);
        out
    }

    /// Deletes one IPsec SA pair (by inbound SPI), telling the peer.
    pub fn delete_child(&mut self, _now: Instant, spi_in: u32, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        let mut out = Vec::new();
        if let Some(i) = self.children.iter().position(|c| c.spi_in == spi_in) {
            let c = self.children.remove(i);
            self.send_child_delete(c, DeleteReason::Deleted, rng, &mut out);
        }
        out
    }

    pub(super) fn send_child_delete(
        &self,
        c: Child,
        reason: DeleteReason,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let d = Payload::Delete(Delete {
            doi: DOI_IPSEC,
            protocol: ProtocolId::IPSEC_ESP,
            spi_size: 4,
            spis: vec![c.spi_in.to_be_bytes().to_vec()],
        });
        self.send_info(vec![d], rng, out);
        out.push(Output::DeleteChild(ChildSaDeleted {
            name: c.name,
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            reason,
        }));
    }

    /// Deletes everything: each IPsec SA, then the ISAKMP SA (RFC 2408 §3.15).
    pub fn delete_ike(&mut self, _now: Instant, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        let mut out = Vec::new();
        if self.step == Step::Dead {
            return out;
        }
        if self.step == Step::Established {
            for c in std::mem::take(&mut self.children) {
                self.send_child_delete(c, DeleteReason::Deleted, rng, &mut out);
            }
            self.send_isakmp_delete(rng, &mut out);
        }
        self.die(Event::Closed { by_peer: false }, &mut out);
        out
    }

    pub(super) fn send_isakmp_delete(&self, rng: &mut impl CryptoRngCore, out: &mut Vec<Output>) {
        let d = Payload::Delete(Delete {
            doi: DOI_IPSEC,
            protocol: ProtocolId::ISAKMP,
            spi_size: 16,
            spis: vec![self.spi_pair()],
        });
        self.send_info(vec![d], rng, out);
    }

    fn peer_delete(&mut self, d: &Delete, out: &mut Vec<Output>) {
        match d.protocol {
            ProtocolId::ISAKMP if d.spis.iter().any(|s| *s == self.spi_pair()) => {
                self.die(Event::Closed { by_peer: true }, out);
            }
            ProtocolId::IPSEC_ESP => {
                for s in &d.spis {
                    let Ok(b) = <[u8; 4]>::try_from(s.as_slice()) else { continue };
                    let spi = u32::from_be_bytes(b);
                    if let Some(i) = self.children.iter().position(|c| c.spi_out == spi) {
                        let c = self.children.remove(i);
                        let reason =
                            if c.replaced { DeleteReason::Rekeyed } else { DeleteReason::DeletedByPeer };
                        out.push(Output::DeleteChild(ChildSaDeleted {
                            name: c.name,
                            spi_in: c.spi_in,
                            spi_out: c.spi_out,
                            reason,
                        }));
                    }
                }
            }
            _ => {}
        }
    }
}

pub(super) fn notify(protocol: ProtocolId, spi: Vec<u8>, ty: NotifyType, data: Vec<u8>) -> Payload {
    Payload::Notify(Notification { doi: DOI_IPSEC, protocol, spi, ty, data })
}
