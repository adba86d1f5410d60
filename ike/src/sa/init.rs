//! IKE_SA_INIT (RFC 7296 §1.2, §2.6, §2.7, §2.23): both roles.
//!
//! ```text
//! Initiator                          Responder
//! HDR, [N(COOKIE)], SAi1, KEi, Ni,
//!      N(NAT_D_SRC), N(NAT_D_DST),
//!      N(IKEV2_FRAGMENTATION_SUPPORTED) -->
//!                                  <--  HDR, SAr1, KEr, Nr, N(NAT_D_SRC), N(NAT_D_DST),
//!                                           [N(IKEV2_FRAGMENTATION_SUPPORTED)]
//!                                  <--  HDR, N(COOKIE) | N(INVALID_KE_PAYLOAD) | N(NO_PROPOSAL_CHOSEN)
//! ```
//!
//! The responder answers the three refusals without keeping any state.

use super::nat::{self, NatStatus, NAT_T_PORT};
use super::proposal::{describe, describe_one, ike_algs, ike_offer, select};
use super::retransmit::Outstanding;
use super::{
    random_ike_spi, random_nonce, Event, Failure, FailureKind, Handshake, Ike, IkeSa, InitState, Output,
    Phase,
};
use crate::codec::notify::Notify;
use crate::codec::payload::{KeyExchange, Nonce, Payload};
use crate::codec::sa::SecurityAssociation;
use crate::codec::{DhGroup, ExchangeType, Flags, Header, Message, NotifyType};
use crate::crypto::dh::DhPrivateKey;
use crate::crypto::keys::{ike_sa_keys, skeyseed, IkeSaKeys, Suite};
use crate::protect::IkeSaProtection;
use rand_core::CryptoRngCore;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::config::PeerConfig;
use super::Datagram;

/// Bound on COOKIE / INVALID_KE_PAYLOAD round trips for one IKE_SA_INIT.
const MAX_REDO: u8 = 4;

pub(super) fn find_notify(payloads: &[Payload], ty: NotifyType) -> Option<&Notify> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.ty == ty => Some(n),
        _ => None,
    })
}

/// The first error notify, if any.
pub(super) fn error_notify(payloads: &[Payload]) -> Option<&Notify> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.ty.is_error() => Some(n),
        _ => None,
    })
}

pub(super) fn notify_name(t: NotifyType) -> String {
    t.name().map_or_else(|| format!("notify {}", t.0), str::to_owned)
}

fn all_groups(cfg: &PeerConfig) -> Vec<DhGroup> {
    let mut g: Vec<DhGroup> = Vec::new();
    for p in &cfg.ike_proposals {
        for x in &p.dh {
            if !g.contains(x) {
                g.push(*x);
            }
        }
    }
    g
}

pub(super) struct Derived {
    pub suite: Suite,
    pub keys: IkeSaKeys,
}

impl Ike {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        spi_i: u64,
        spi_r: u64,
        initiator: bool,
        suite: Suite,
        dh_group: DhGroup,
        keys: IkeSaKeys,
        proposal: String,
    ) -> Option<Ike> {
        let prot = IkeSaProtection::new(&suite, &keys, initiator).ok()?;
        Some(Ike {
            spi_i,
            spi_r,
            initiator,
            suite,
            dh_group,
            prot,
            sk_d: keys.sk_d.clone(),
            sk_pi: keys.sk_pi.clone(),
            sk_pr: keys.sk_pr.clone(),
            proposal,
            next_id: 0,
            peer_next_id: 0,
            pending: None,
            cache: None,
            iv_counter: 0,
            retired: false,
            frag_requests: None,
            frag_responses: None,
        })
    }
}

fn derive(
    suite: Suite,
    dh: &DhPrivateKey,
    peer_ke: &[u8],
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> Option<Derived> {
    let g_ir = dh.shared_secret(peer_ke).ok()?;
    let seed = skeyseed(suite.prf, ni, nr, &g_ir);
    let keys = ike_sa_keys(&suite, &seed, ni, nr, spi_i, spi_r).ok()?;
    Some(Derived { suite, keys })
}

fn init_header(spi_i: u64, spi_r: u64, response: bool) -> Header {
    Header {
        spi_i,
        spi_r,
        minor_version: 0,
        exchange: ExchangeType::IKE_SA_INIT,
        flags: if response { Flags::RESPONSE } else { Flags::INITIATOR },
        message_id: 0,
    }
}

impl IkeSa {
    /// Starts an IKE SA with the configured peer: returns it with the IKE_SA_INIT request.
    pub fn initiate(
        config: Arc<PeerConfig>,
        now: Instant,
        rng: &mut impl CryptoRngCore,
    ) -> (IkeSa, Vec<Output>) {
        let mut sa = IkeSa::blank(config.clone(), config.local, config.remote, now);
        let mut out = Vec::new();
        let group = config.ike_proposals.first().and_then(|p| p.dh.first().copied()).unwrap_or(DhGroup::NONE);
        let dh = match DhPrivateKey::generate(group, config.allow_weak_dh, rng) {
            Ok(dh) => dh,
            Err(e) => {
                let f = Failure::new(FailureKind::Protocol, format!("cannot use DH group {group:?}: {e}"));
                sa.fail(f, &mut out);
                return (sa, out);
            }
        };
        let spi_i = random_ike_spi(rng);
        let ni = random_nonce(rng);
        let request = sa.init_request(spi_i, &ni, &dh, None);
        let o = Outstanding::new(0, vec![request.clone()], now, &config.retransmit);
        sa.phase = Phase::Init(Box::new(InitState {
            spi_i,
            ni,
            dh,
            cookie: None,
            request: request.clone(),
            out: o,
            redo: 0,
        }));
        out.push(sa.send(request));
        (sa, out)
    }

    fn init_request(&self, spi_i: u64, ni: &[u8], dh: &DhPrivateKey, cookie: Option<&[u8]>) -> Vec<u8> {
        let mut payloads = Vec::new();
        if let Some(c) = cookie {
            payloads.push(Payload::Notify(Notify::new(NotifyType::COOKIE, c.to_vec())));
        }
        payloads.push(Payload::Sa(ike_offer(&self.config.ike_proposals, &[])));
        payloads.push(Payload::Ke(KeyExchange { group: dh.group(), data: dh.public_value() }));
        payloads.push(Payload::Nonce(Nonce(ni.to_vec())));
        payloads.extend(nat::nat_notifies(spi_i, 0, self.local, self.remote));
        payloads.push(Payload::Notify(Notify::new(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![])));
        let m = Message { header: init_header(spi_i, 0, false), payloads };
        m.encode().unwrap_or_default()
    }

    /// Sends a changed IKE_SA_INIT request (after COOKIE or INVALID_KE_PAYLOAD).
    fn redo_init(&mut self, now: Instant, out: &mut Vec<Output>) {
        let Phase::Init(st) = &self.phase else { return };
        let request = self.init_request(st.spi_i, &st.ni, &st.dh, st.cookie.as_deref());
        let o = Outstanding::new(0, vec![request.clone()], now, &self.config.retransmit);
        if let Phase::Init(st) = &mut self.phase {
            st.request = request.clone();
            st.out = o;
            st.redo += 1;
        }
        out.push(self.send(request));
    }

    pub(super) fn on_init_response(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        msg: &[u8],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let Ok(m) = Message::parse(msg) else { return };
        let Phase::Init(st) = &mut self.phase else { return };
        if let Some(n) = find_notify(&m.payloads, NotifyType::COOKIE) {
            if st.redo >= MAX_REDO || n.data.is_empty() || n.data.len() > 64 {
                return;
            }
            st.cookie = Some(n.data.clone());
            self.redo_init(now, out);
            return;
        }
        if let Some(n) = find_notify(&m.payloads, NotifyType::INVALID_KE_PAYLOAD) {
            let Some(g) = n.data.get(..2).map(|b| DhGroup(u16::from_be_bytes([b[0], b[1]]))) else { return };
            let ours = all_groups(&self.config);
            if !ours.contains(&g) {
                let f = Failure::new(
                    FailureKind::InvalidKe,
                    format!("peer requires DH group {g:?}; we offer {ours:?}"),
                );
                self.fail(f, out);
                return;
            }
            if g == st.dh.group() || st.redo >= MAX_REDO {
                return;
            }
            match DhPrivateKey::generate(g, self.config.allow_weak_dh, rng) {
                Ok(dh) => st.dh = dh,
                Err(_) => return,
            }
            self.redo_init(now, out);
            return;
        }
        if find_notify(&m.payloads, NotifyType::NO_PROPOSAL_CHOSEN).is_some() {
            let f = Failure::new(
                FailureKind::NoProposalChosen,
                format!(
                    "peer {} accepted none of our IKE proposals; we offered {}",
                    self.remote.ip(),
                    describe(&ike_offer(&self.config.ike_proposals, &[]))
                ),
            );
            self.fail(f, out);
            return;
        }
        if let Some(n) = error_notify(&m.payloads) {
            let f = Failure::new(
                FailureKind::PeerError,
                format!("peer answered IKE_SA_INIT with {}", notify_name(n.ty)),
            );
            self.fail(f, out);
            return;
        }
        let (mut sa, mut ke, mut nr) = (None, None, None);
        for p in &m.payloads {
            match p {
                Payload::Sa(s) => sa = Some(s),
                Payload::Ke(k) => ke = Some(k),
                Payload::Nonce(n) => nr = Some(n.0.clone()),
                _ => {}
            }
        }
        let (Some(sa), Some(ke), Some(nr)) = (sa, ke, nr) else { return };
        let spi_r = m.header.spi_r;
        if spi_r == 0 || sa.proposals.len() != 1 {
            return;
        }
        let offer = ike_offer(&self.config.ike_proposals, &[]);
        let Some(chosen) = select(sa, &offer) else { return };
        let Some((suite, group)) = ike_algs(&chosen) else { return };
        if group != st.dh.group() || ke.group != group {
            return;
        }
        let Some(d) = derive(suite, &st.dh, &ke.data, &st.ni, &nr, st.spi_i, spi_r) else { return };
        let Some(mut ike) = Ike::new(st.spi_i, spi_r, true, d.suite, group, d.keys, describe_one(&chosen))
        else {
            return;
        };
        ike.next_id = 1;
        self.nat = nat::detect(&m.payloads, st.spi_i, spi_r, src, dst);
        self.fragmentation = find_notify(&m.payloads, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
        let hs = Handshake {
            init_req: core::mem::take(&mut st.request),
            init_resp: msg.to_vec(),
            ni: core::mem::take(&mut st.ni),
            nr,
            deadline: None,
        };
        self.last_rx = now;
        self.cur = Some(ike);
        self.phase = Phase::Auth(Box::new(hs));
        if self.nat.any() && self.local.port() != NAT_T_PORT {
            // Float to 4500 (RFC 7296 §2.23, RFC 3948).
            self.local.set_port(NAT_T_PORT);
            self.remote.set_port(NAT_T_PORT);
        }
        self.send_auth_request(now, rng, out);
    }

    /// The responder side: a new IKE SA for an IKE_SA_INIT request (already let through a
    /// [`super::CookieGate`]). Returns `None` with the stateless answer when the request is
    /// refused (no proposal, wrong KE group) or unusable.
    pub fn accept(
        config: Arc<PeerConfig>,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        datagram: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> (Option<IkeSa>, Vec<Output>) {
        let mut out = Vec::new();
        let Some(msg) = nat::unframe(dst.port(), datagram) else { return (None, out) };
        let Ok(m) = Message::parse(msg) else { return (None, out) };
        let h = m.header;
        if h.exchange != ExchangeType::IKE_SA_INIT
            || h.flags.response()
            || !h.flags.initiator()
            || h.message_id != 0
            || h.spi_r != 0
            || h.spi_i == 0
        {
            return (None, out);
        }
        let refuse = |ty: NotifyType, data: Vec<u8>| -> Output {
            let reply = Message {
                header: init_header(h.spi_i, 0, true),
                payloads: vec![Payload::Notify(Notify::new(ty, data))],
            };
            Output::Send(Datagram {
                src: dst,
                dst: src,
                bytes: nat::frame(dst.port(), reply.encode().unwrap_or_default()),
            })
        };
        let (mut sa, mut ke, mut ni) = (None, None, None);
        for p in &m.payloads {
            match p {
                Payload::Sa(s) => sa = Some(s),
                Payload::Ke(k) => ke = Some(k),
                Payload::Nonce(n) => ni = Some(n.0.clone()),
                _ => {}
            }
        }
        let (Some(sa), Some(ke), Some(ni)) = (sa, ke, ni) else {
            out.push(refuse(NotifyType::INVALID_SYNTAX, vec![]));
            return (None, out);
        };
        let offer = ike_offer(&config.ike_proposals, &[]);
        let chosen = select(sa, &offer);
        let Some((chosen, (suite, group))) = chosen.and_then(|c| ike_algs(&c).map(|a| (c, a))) else {
            out.push(refuse(NotifyType::NO_PROPOSAL_CHOSEN, vec![]));
            out.push(Output::Event(Event::Failed(Failure::new(
                FailureKind::NoProposalChosen,
                format!(
                    "IKE proposals from {} unacceptable: peer offered {}, we accept {}",
                    src.ip(),
                    describe(sa),
                    describe(&offer)
                ),
            ))));
            return (None, out);
        };
        if ke.group != group {
            out.push(refuse(NotifyType::INVALID_KE_PAYLOAD, group.0.to_be_bytes().to_vec()));
            return (None, out);
        }
        let Ok(dh) = DhPrivateKey::generate(group, config.allow_weak_dh, rng) else { return (None, out) };
        let spi_r = super::random_ike_spi(rng);
        let nr = random_nonce(rng);
        let Some(d) = derive(suite, &dh, &ke.data, &ni, &nr, h.spi_i, spi_r) else {
            out.push(refuse(NotifyType::INVALID_SYNTAX, vec![]));
            return (None, out);
        };
        let reply_sa = SecurityAssociation {
            proposals: vec![crate::codec::sa::Proposal { spi: vec![], ..chosen.clone() }],
        };
        let Some(mut ike) = Ike::new(h.spi_i, spi_r, false, d.suite, group, d.keys, describe_one(&chosen))
        else {
            return (None, out);
        };
        ike.peer_next_id = 1;
        let mut payloads = vec![
            Payload::Sa(reply_sa),
            Payload::Ke(KeyExchange { group, data: dh.public_value() }),
            Payload::Nonce(Nonce(nr.clone())),
        ];
        let nat_ok = find_notify(&m.payloads, NotifyType::NAT_DETECTION_SOURCE_IP).is_some();
        if nat_ok {
            payloads.extend(nat::nat_notifies(h.spi_i, spi_r, dst, src));
        }
        let fragmentation = find_notify(&m.payloads, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
        if fragmentation {
            payloads.push(Payload::Notify(Notify::new(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![])));
        }
        let resp = Message { header: init_header(h.spi_i, spi_r, true), payloads };
        let Ok(resp) = resp.encode() else { return (None, out) };
        let mut sa = IkeSa::blank(config.clone(), dst, src, now);
        sa.nat = if nat_ok { nat::detect(&m.payloads, h.spi_i, 0, src, dst) } else { NatStatus::default() };
        sa.fragmentation = fragmentation;
        sa.cur = Some(ike);
        sa.phase = Phase::Auth(Box::new(Handshake {
            init_req: msg.to_vec(),
            init_resp: resp.clone(),
            ni,
            nr,
            deadline: Some(now + config.half_open_timeout),
        }));
        out.push(sa.send(resp));
        (Some(sa), out)
    }
}
