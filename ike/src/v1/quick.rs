//! Quick Mode (RFC 2409 §5.5): one IPsec SA pair per exchange, several per ISAKMP SA (one per
//! proxy-ID pair of a policy-based VPN), each failing on its own.
//!
//! ```text
//! 1 I→R  HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr]
//! 2 R→I  HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, N(RESPONDER-LIFETIME)]
//! 3 I→R  HDR*, HASH(3)
//! HASH(1) = prf(SKEYID_a, M-ID | rest)      HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest)
//! HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)
//! ```
//!
//! Proxy IDs mirror: the initiator's IDci is its local selector and the responder's remote
//! one. The responder picks the child whose selectors cover the proposed ones (no narrowing in
//! IKEv1). The initiator installs after message 2, the responder after message 3.
//!
//! With the commit bit (RFC 2408 §3.1), set by either side in its first message and echoed by
//! the responder in message 2 (the initiator goes by message 2), a fourth message follows: once the responder has installed on message 3 it answers
//! `HDR*(C), HASH(4), N(CONNECTED)` with HASH(4) = prf(SKEYID_a, M-ID | N), in the same
//! exchange (message ID and IV chain). The initiator installs only then, so it never sends on
//! an SA its peer does not hold yet; it retransmits message 3 until message 4 arrives, and the
//! responder answers a repeated message 3 with message 4 again.
//! Rekeying is make-before-break: a new quick mode at the soft lifetime, install the new pair,
//! then delete the old one.

use super::codec::id::IdPayload;
use super::codec::sa::{Attribute, Proposal, SaPayload};
use super::codec::{ExchangeType, Flags, Header, LifeType, NotifyType, Payload, ProtocolId};
use super::crypto as v1crypto;
use super::isakmp::{fail, nonce, notify, random_spi, Child, IsakmpSa, Quick};
use super::proposal::{self, EspChoice};
use crate::codec::ts::TrafficSelector;
use crate::crypto::dh::DhPrivateKey;
use crate::crypto::Secret;
use crate::sa::retransmit::{Outstanding, Retransmit};
use crate::sa::ts::{covered, describe};
use crate::sa::{ChildKeys, ChildProtocol, ChildSa, Datagram, DeleteReason, Event, FailureKind, Output};
use rand_core::CryptoRngCore;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

fn host(ip: IpAddr) -> TrafficSelector {
    match ip {
        IpAddr::V4(a) => TrafficSelector::Ipv4 { protocol: 0, ports: (0, 65535), start: a, end: a },
        IpAddr::V6(a) => TrafficSelector::Ipv6 { protocol: 0, ports: (0, 65535), start: a, end: a },
    }
}

fn ids(payloads: &[Payload]) -> Vec<&IdPayload> {
    payloads.iter().filter_map(|p| if let Payload::Id(i) = p { Some(i) } else { None }).collect()
}

fn lifetime_notify_secs(payloads: &[Payload]) -> Option<Duration> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.ty == NotifyType::RESPONDER_LIFETIME => {
            let mut r = crate::codec::Reader::new(&n.data, "RESPONDER-LIFETIME");
            let mut secs = None;
            let mut ty = None;
            while !r.is_empty() {
                let t = r.u16().ok()?;
                let v = r.u16().ok()?;
                let (class, value) = if t & 0x8000 != 0 {
                    (t & 0x7fff, u64::from(v))
                } else {
                    let b = r.take(v as usize).ok()?;
                    (t, Attribute::var(t, b.to_vec()).as_u64()?)
                };
                match class {
                    1 => ty = Some(value),
                    2 if ty == Some(u64::from(LifeType::SECONDS.0)) => {
                        secs = Some(Duration::from_secs(value))
                    }
                    _ => {}
                }
            }
            secs
        }
        _ => None,
    })
}

/// A quick mode header, with the commit bit when this exchange uses it.
fn quick_header(cky_i: u64, cky_r: u64, id: u32, commit: bool) -> Header {
    let mut h = Header::new(cky_i, cky_r, ExchangeType::QUICK_MODE, id);
    if commit {
        h.flags = Flags(Flags::COMMIT);
    }
    h
}

/// How long finished exchanges are remembered to answer retransmits.
fn linger(cfg: &crate::sa::RetransmitConfig) -> Duration {
    cfg.timeout.saturating_mul(1u32 << (cfg.tries.min(16) + 1))
}

/// The pause between our quick mode message 3 and the next quick mode we start on the same
/// ISAKMP SA. strongSwan hands each received message to a worker thread, so two messages
/// sent back to back can be processed in the opposite order; a new quick mode's first
/// message handled before the previous one's message 3 replaces that half-done exchange,
/// and the pair we consider up is never installed at the peer ("sa payload missing" in its
/// log). Message 3 has no answer to wait for, so a short gap keeps the two apart.
pub(super) const QUICK_GAP: Duration = Duration::from_millis(100);

impl IsakmpSa {
    /// Starts a quick mode for the child named `name` (for children with another start action,
    /// or after a failure).
    pub fn initiate_child(&mut self, now: Instant, name: &str, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        let mut out = Vec::new();
        if let Some(i) = self.cfg.peer.children.iter().position(|c| c.name == name) {
            if self.is_established() {
                self.start_quick(now, i, None, rng, &mut out);
            }
        }
        out
    }

    /// Rekeys an IPsec SA pair now (make-before-break).
    pub fn rekey_child(&mut self, now: Instant, spi_in: u32, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        let mut out = Vec::new();
        let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi_in && !c.rekeying && !c.replaced)
        else {
            return out;
        };
        let Some(cfg) = c.cfg else { return out };
        c.rekeying = true;
        self.start_quick(now, cfg, Some(spi_in), rng, &mut out);
        out
    }

    /// A quick mode we started is waiting for its answer.
    pub(super) fn quick_in_flight(&self) -> bool {
        self.quicks.iter().any(|q| q.initiator && !q.done)
    }

    /// A new quick mode must wait: ours is in flight, or its message 3 was just sent.
    fn quick_busy(&self, now: Instant) -> bool {
        self.quick_in_flight() || self.quick_gap_until.is_some_and(|t| now < t)
    }

    /// Starts the queued quick modes, one at a time (see [`IsakmpSa::quick_queue`]).
    pub(super) fn next_quick(&mut self, now: Instant, rng: &mut impl CryptoRngCore, out: &mut Vec<Output>) {
        while self.is_established() && !self.quick_busy(now) && !self.quick_queue.is_empty() {
            let (cfg_idx, replaces) = self.quick_queue.remove(0);
            if replaces.is_some_and(|old| !self.children.iter().any(|c| c.spi_in == old)) {
                continue;
            }
            self.start_quick(now, cfg_idx, replaces, rng, out);
        }
    }

    pub(super) fn start_quick(
        &mut self,
        now: Instant,
        cfg_idx: usize,
        replaces: Option<u32>,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        if self.quick_busy(now) {
            if !self.quick_queue.contains(&(cfg_idx, replaces)) {
                self.quick_queue.push((cfg_idx, replaces));
            }
            return;
        }
        let cfg = self.cfg.clone();
        let Some(ch) = cfg.peer.children.get(cfg_idx) else { return };
        let child_failed = |detail: String| {
            Output::Event(Event::ChildFailed {
                name: ch.name.clone(),
                failure: fail(FailureKind::PolicyMismatch, detail),
            })
        };
        let (Some(ts_local), Some(ts_remote)) = (ch.local_ts.first().cloned(), ch.remote_ts.first().cloned())
        else {
            return;
        };
        let (Some(idci), Some(idcr)) = (IdPayload::from_ts(&ts_local), IdPayload::from_ts(&ts_remote)) else {
            out.push(child_failed(format!(
                "child '{}': selectors {} / {} cannot be written as IKEv1 proxy IDs (one port or all ports only)",
                ch.name,
                describe(std::slice::from_ref(&ts_local)),
                describe(std::slice::from_ref(&ts_remote))
            )));
            return;
        };
        let ah = ch.protocol == ChildProtocol::Ah;
        if ah && self.nat.any() {
            out.push(child_failed(format!(
                "child '{}': AH cannot cross the NAT detected between us and the peer (it \
                 authenticates the outer addresses); use ESP",
                ch.name
            )));
            return;
        }
        let pfs = ch.esp_proposals.iter().find_map(|p| p.dh.first().copied());
        let dh = match pfs.map(|g| DhPrivateKey::generate(g, cfg.peer.allow_weak_dh, rng)) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                out.push(child_failed(format!("child '{}': PFS group {pfs:?}: {e}", ch.name)));
                return;
            }
        };
        let spi_in = random_spi(rng);
        let ni = nonce(rng);
        let lifetime = cfg.child_lifetime(cfg_idx);
        let offer = if ah {
            proposal::ah_offer(&ch.esp_proposals, spi_in, pfs, ch.mode, lifetime, cfg.child_lifetime_kb)
        } else {
            proposal::esp_offer(
                &ch.esp_proposals,
                spi_in,
                pfs,
                ch.mode,
                self.nat.any(),
                lifetime,
                cfg.child_lifetime_kb,
            )
        };
        let mut rest = vec![Payload::Sa(offer.clone()), Payload::Nonce(ni.clone())];
        if let Some(d) = &dh {
            rest.push(Payload::Ke(d.public_value()));
        }
        rest.push(Payload::Id(idci));
        rest.push(Payload::Id(idcr));
        let id = self.fresh_message_id(rng);
        let Some(mut iv) = self.p2_iv(id) else { return };
        let commit = cfg.commit_bit;
        let h = quick_header(self.cky_i, self.cky_r, id, commit);
        let Some(msg) = self.seal_hashed(h, &[&id.to_be_bytes()], &rest, &mut iv) else { return };
        let d = self.datagram(&msg);
        self.quicks.push(Quick {
            commit,
            id,
            initiator: true,
            iv,
            cfg: Some(cfg_idx),
            name: ch.name.clone(),
            ni,
            dh,
            spi_in,
            ts_local,
            ts_remote,
            offer: Some(offer),
            pending: None,
            out: Some(Outstanding::new(id, vec![d.bytes.clone()], now, &cfg.peer.retransmit)),
            last_rx: Vec::new(),
            last_tx: Some(d.bytes.clone()),
            done: false,
            forget_at: None,
            replaces,
            lifetime,
        });
        out.push(Output::Send(d));
    }

    /// The IPsec SA pair from KEYMAT (RFC 2409 §5.5): each direction keyed with its
    /// receiver's SPI.
    #[allow(clippy::too_many_arguments)]
    fn make_child_sa(
        &self,
        name: &str,
        c: &EspChoice,
        spi_in: u32,
        spi_out: u32,
        gqm: Option<&Secret>,
        ni: &[u8],
        nr: &[u8],
        ts_local: &TrafficSelector,
        ts_remote: &TrafficSelector,
        replaces: Option<u32>,
    ) -> Option<ChildSa> {
        let p1 = self.p1.as_ref()?;
        let el = c.algs.encr.map_or(0, |e| e.key_material_len());
        let il = c.algs.integ.map_or(0, |i| i.key_len());
        let prf = p1.choice.prf;
        // AH has no encryption algorithm; its KEYMAT is keyed with protocol AH (RFC 2409 §5.5).
        let (protocol, proto) = match c.algs.encr {
            None => (ChildProtocol::Ah, ProtocolId::IPSEC_AH.0),
            Some(_) => (ChildProtocol::Esp, ProtocolId::IPSEC_ESP.0),
        };
        let kin = v1crypto::keymat(prf, &p1.keys.skeyid_d, gqm, proto, spi_in, ni, nr, el + il);
        let kout = v1crypto::keymat(prf, &p1.keys.skeyid_d, gqm, proto, spi_out, ni, nr, el + il);
        let (a, b) = (kin.as_bytes(), kout.as_bytes());
        Some(ChildSa {
            name: name.to_owned(),
            protocol,
            spi_in,
            spi_out,
            keys: ChildKeys {
                encr_in: Secret::from_slice(&a[..el]),
                integ_in: Secret::from_slice(&a[el..]),
                encr_out: Secret::from_slice(&b[..el]),
                integ_out: Secret::from_slice(&b[el..]),
            },
            algorithms: c.algs,
            ts_local: vec![ts_local.clone()],
            ts_remote: vec![ts_remote.clone()],
            mode: c.mode,
            local: self.local,
            remote: self.remote,
            udp_encap: protocol == ChildProtocol::Esp && (c.udp || self.nat.any()),
            replaces,
            defer_outbound: false,
        })
    }

    /// Installs a new pair; for a rekey reports it and retires the old pair.
    #[allow(clippy::too_many_arguments)]
    fn install(
        &mut self,
        now: Instant,
        sa: ChildSa,
        cfg: Option<usize>,
        lifetime: Duration,
        initiator: bool,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let mut sa = sa;
        // A responder learns of a rekey by a new pair for the same child and selectors.
        if sa.replaces.is_none() && cfg.is_some() {
            sa.replaces = self
                .children
                .iter()
                .find(|c| {
                    c.cfg == cfg
                        && !c.replaced
                        && [c.ts_local.clone()] == *sa.ts_local
                        && [c.ts_remote.clone()] == *sa.ts_remote
                })
                .map(|c| c.spi_in);
        }
        let soft = cfg.and_then(|i| self.cfg.peer.children.get(i)).and_then(|c| c.rekey_time);
        let rekey_at = soft.map(|s| {
            let s = if lifetime < s + s / 9 { lifetime * 9 / 10 } else { s };
            // The responder waits longer, so that normally the initiator's rekey wins.
            now + if initiator { s } else { s + (lifetime.saturating_sub(s)) / 2 }
        });
        self.children.push(Child {
            cfg,
            name: sa.name.clone(),
            spi_in: sa.spi_in,
            spi_out: sa.spi_out,
            ts_local: sa.ts_local[0].clone(),
            ts_remote: sa.ts_remote[0].clone(),
            rekey_at,
            expire_at: now + lifetime,
            rekeying: false,
            replaced: false,
        });
        let (name, new_in, old) = (sa.name.clone(), sa.spi_in, sa.replaces);
        out.push(Output::InstallChild(sa));
        if let Some(old) = old {
            out.push(Output::Event(Event::ChildRekeyed { name, old_spi_in: old, new_spi_in: new_in }));
            if let Some(i) = self.children.iter().position(|c| c.spi_in == old) {
                if initiator {
                    let c = self.children.remove(i);
                    self.send_child_delete(c, DeleteReason::Rekeyed, rng, out);
                } else {
                    self.children[i].replaced = true;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn quick_datagram(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        bytes: &[u8],
        h: &Header,
        body: &[u8],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let id = h.message_id;
        if id == 0 {
            return;
        }
        if let Some(q) = self.quicks.iter().find(|q| q.id == id) {
            if bytes == q.last_rx.as_slice() {
                if let Some(tx) = &q.last_tx {
                    out.push(Output::Send(Datagram { src: self.local, dst: self.remote, bytes: tx.clone() }));
                }
                return;
            }
            if q.done {
                return;
            }
            if q.initiator && q.commit && q.pending.is_some() {
                self.qm4(now, src, dst, bytes, h, body, rng, out);
            } else if q.initiator {
                self.qm2(now, src, dst, bytes, h, body, rng, out);
            } else {
                self.qm3(now, src, dst, bytes, h, body, rng, out);
            }
        } else {
            self.qm1(now, src, dst, bytes, h, body, rng, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn qm1(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        bytes: &[u8],
        h: &Header,
        body: &[u8],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let id = h.message_id;
        let Some(iv) = self.p2_iv(id) else { return };
        let Some((payloads, next_iv, _)) = self.open_hashed(h, body, &iv, &[&id.to_be_bytes()]) else {
            return;
        };
        self.authenticated_from(now, src, dst);
        let Some(offer) = payloads.iter().find_map(|p| if let Payload::Sa(s) = p { Some(s) } else { None })
        else {
            return;
        };
        let Some(ni) = payloads.iter().find_map(|p| if let Payload::Nonce(n) = p { Some(n) } else { None })
        else {
            return;
        };
        let ke = payloads.iter().find_map(|p| if let Payload::Ke(k) = p { Some(k) } else { None });
        let idv = ids(&payloads);
        let (their_local, their_remote) = match idv.as_slice() {
            [] => (host(self.remote.ip()), host(self.local.ip())),
            [ci, cr] => match (ci.to_ts(), cr.to_ts()) {
                (Some(a), Some(b)) => (a, b),
                _ => return,
            },
            _ => return,
        };
        // Mirrored: their local is our remote.
        let (ts_local, ts_remote) = (their_remote, their_local);
        let peer = self.remote;
        let cfg = self.cfg.clone();
        let Some(prop) = offer
            .proposals
            .iter()
            .find(|p| matches!(p.protocol, ProtocolId::IPSEC_ESP | ProtocolId::IPSEC_AH) && p.spi.len() == 4)
        else {
            return;
        };
        let spi_out = u32::from_be_bytes([prop.spi[0], prop.spi[1], prop.spi[2], prop.spi[3]]);
        let Some(ci) = cfg
            .peer
            .children
            .iter()
            .position(|c| covered(&ts_local, &c.local_ts) && covered(&ts_remote, &c.remote_ts))
        else {
            self.send_info(
                vec![notify(prop.protocol, prop.spi.clone(), NotifyType::INVALID_ID_INFORMATION, vec![])],
                rng,
                out,
            );
            let f = fail(
                FailureKind::PolicyMismatch,
                format!(
                    "quick mode from {peer}: proxy IDs local {} remote {} match no child of peer '{}' (sent \
                     INVALID_ID_INFORMATION)",
                    describe(std::slice::from_ref(&ts_local)),
                    describe(std::slice::from_ref(&ts_remote)),
                    cfg.peer.name
                ),
            );
            out.push(Output::Event(Event::ChildFailed { name: "?".into(), failure: f }));
            return;
        };
        let ch = &cfg.peer.children[ci];
        let want =
            if ch.protocol == ChildProtocol::Ah { ProtocolId::IPSEC_AH } else { ProtocolId::IPSEC_ESP };
        let acceptable = |c: &proposal::EspChoice| {
            if want == ProtocolId::IPSEC_AH {
                !self.nat.any() && proposal::ah_acceptable(&ch.esp_proposals, c)
            } else {
                proposal::esp_acceptable(&ch.esp_proposals, c)
            }
        };
        let chosen = prop.transforms.iter().filter(|_| prop.protocol == want).find_map(|t| {
            let c = proposal::read_for(prop.protocol, t).ok()?;
            let ke_ok = match c.algs.dh {
                Some(g) => ke.is_some() && crate::crypto::dh::is_supported(g, cfg.peer.allow_weak_dh),
                None => ke.is_none(),
            };
            (ke_ok && c.mode == ch.mode && acceptable(&c)).then(|| (t.clone(), c))
        });
        let Some((t, mut choice)) = chosen else {
            self.send_info(
                vec![notify(prop.protocol, prop.spi.clone(), NotifyType::NO_PROPOSAL_CHOSEN, vec![])],
                rng,
                out,
            );
            let f = fail(
                FailureKind::NoProposalChosen,
                format!(
                    "quick mode for child '{}' from {peer}: proposals unacceptable: peer offered {}, we accept {}",
                    ch.name,
                    proposal::describe_esp(offer),
                    proposal::describe_esp_props(&ch.esp_proposals)
                ),
            );
            out.push(Output::Event(Event::ChildFailed { name: ch.name.clone(), failure: f }));
            return;
        };
        let (dh, gqm) = match (choice.algs.dh, ke) {
            (Some(g), Some(k)) => {
                let Ok(d) = DhPrivateKey::generate(g, cfg.peer.allow_weak_dh, rng) else { return };
                let Ok(s) = d.shared_secret(k) else { return };
                (Some(d), Some(s))
            }
            _ => (None, None),
        };
        let ours = cfg.child_lifetime(ci);
        let lifetime = choice.lifetime.map_or(ours, |l| l.min(ours));
        let spi_in = random_spi(rng);
        let nr = nonce(rng);
        choice.udp = choice.udp || self.nat.any();
        let answer = SaPayload {
            doi: offer.doi,
            situation: offer.situation,
            proposals: vec![Proposal {
                spi: spi_in.to_be_bytes().to_vec(),
                transforms: vec![t],
                ..prop.clone()
            }],
        };
        let mut rest = vec![Payload::Sa(answer), Payload::Nonce(nr.clone())];
        if let Some(d) = &dh {
            rest.push(Payload::Ke(d.public_value()));
        }
        for i in &idv {
            rest.push(Payload::Id((*i).clone()));
        }
        if choice.lifetime.is_some_and(|l| l > ours) {
            let mut data = Vec::new();
            data.extend_from_slice(&(0x8000u16 | 1).to_be_bytes());
            data.extend_from_slice(&LifeType::SECONDS.0.to_be_bytes());
            let a = Attribute::number(2, ours.as_secs());
            match a.value {
                super::codec::sa::AttrValue::Basic(v) => {
                    data.extend_from_slice(&(0x8000u16 | 2).to_be_bytes());
                    data.extend_from_slice(&v.to_be_bytes());
                }
                super::codec::sa::AttrValue::Var(b) => {
                    data.extend_from_slice(&2u16.to_be_bytes());
                    data.extend_from_slice(&(b.len() as u16).to_be_bytes());
                    data.extend_from_slice(&b);
                }
            }
            rest.push(notify(
                ProtocolId::IPSEC_ESP,
                spi_in.to_be_bytes().to_vec(),
                NotifyType::RESPONDER_LIFETIME,
                data,
            ));
        }
        let mut iv = next_iv;
        let commit = h.flags.commit() || cfg.commit_bit;
        let hdr = quick_header(self.cky_i, self.cky_r, id, commit);
        let Some(msg) = self.seal_hashed(hdr, &[&id.to_be_bytes(), ni], &rest, &mut iv) else { return };
        let pending = self.make_child_sa(
            &ch.name,
            &choice,
            spi_in,
            spi_out,
            gqm.as_ref(),
            ni,
            &nr,
            &ts_local,
            &ts_remote,
            None,
        );
        let d = self.datagram(&msg);
        self.quicks.push(Quick {
            commit,
            id,
            initiator: false,
            iv,
            cfg: Some(ci),
            name: ch.name.clone(),
            ni: [ni.as_slice(), nr.as_slice()].concat(),
            dh: None,
            spi_in,
            ts_local,
            ts_remote,
            offer: None,
            pending,
            out: Some(Outstanding::new(id, vec![d.bytes.clone()], now, &cfg.peer.retransmit)),
            last_rx: bytes.to_vec(),
            last_tx: Some(d.bytes.clone()),
            done: false,
            forget_at: None,
            replaces: None,
            lifetime,
        });
        drop(dh);
        out.push(Output::Send(d));
    }

    #[allow(clippy::too_many_arguments)]
    fn qm2(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        bytes: &[u8],
        h: &Header,
        body: &[u8],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let id = h.message_id;
        let Some(qi) = self.quicks.iter().position(|q| q.id == id) else { return };
        let (iv, ni) = (self.quicks[qi].iv.clone(), self.quicks[qi].ni.clone());
        let Some((payloads, next_iv, _)) = self.open_hashed(h, body, &iv, &[&id.to_be_bytes(), &ni]) else {
            return;
        };
        self.authenticated_from(now, src, dst);
        let q = &self.quicks[qi];
        let name = q.name.clone();
        let child_failed = |detail: String, kind| {
            Output::Event(Event::ChildFailed { name: name.clone(), failure: fail(kind, detail) })
        };
        let Some(sa) = payloads.iter().find_map(|p| if let Payload::Sa(s) = p { Some(s) } else { None })
        else {
            return;
        };
        let Some(nr) =
            payloads.iter().find_map(|p| if let Payload::Nonce(n) = p { Some(n.clone()) } else { None })
        else {
            return;
        };
        let ke = payloads.iter().find_map(|p| if let Payload::Ke(k) = p { Some(k) } else { None });
        let ours = q.offer.as_ref().and_then(|o| o.proposals.first()).map(|p| p.protocol);
        let (prop, t) = match sa.proposals.as_slice() {
            [p] if p.transforms.len() == 1 && p.spi.len() == 4 && Some(p.protocol) == ours => {
                (p, &p.transforms[0])
            }
            _ => {
                out.push(child_failed(
                    "quick mode answer does not choose exactly one transform of the protocol we offered"
                        .into(),
                    FailureKind::Protocol,
                ));
                self.quicks.remove(qi);
                return;
            }
        };
        let Ok(mut choice) = proposal::read_for(prop.protocol, t) else { return };
        // The answer must be one of our transforms in substance; peers reorder attributes and
        // may lower the lifetime.
        let offered = q
            .offer
            .iter()
            .flat_map(|o| o.proposals.iter())
            .flat_map(|p| p.transforms.iter().map(move |t| (p.protocol, t)))
            .any(|(pr, x)| {
                proposal::read_for(pr, x).is_ok_and(|o| o.algs == choice.algs && o.mode == choice.mode)
            });
        if !offered {
            out.push(child_failed(
                format!("peer chose {}, which we did not offer", proposal::describe_esp(sa)),
                FailureKind::NoProposalChosen,
            ));
            self.quicks.remove(qi);
            return;
        }
        let gqm = match (&q.dh, ke) {
            (Some(d), Some(k)) => match d.shared_secret(k) {
                Ok(s) => Some(s),
                Err(_) => return,
            },
            (None, None) => None,
            _ => return,
        };
        let idv = ids(&payloads);
        if let [ci, cr] = idv.as_slice() {
            if ci.to_ts().as_ref() != Some(&q.ts_local) || cr.to_ts().as_ref() != Some(&q.ts_remote) {
                out.push(child_failed(
                    "peer answered with other proxy IDs than we proposed".into(),
                    FailureKind::PolicyMismatch,
                ));
                self.quicks.remove(qi);
                return;
            }
        }
        let mut lifetime = q.lifetime;
        if let Some(l) = lifetime_notify_secs(&payloads) {
            lifetime = lifetime.min(l);
        }
        choice.udp = choice.udp || self.nat.any();
        let spi_out = u32::from_be_bytes([prop.spi[0], prop.spi[1], prop.spi[2], prop.spi[3]]);
        let Some(child) = self.make_child_sa(
            &name,
            &choice,
            q.spi_in,
            spi_out,
            gqm.as_ref(),
            &ni,
            &nr,
            &q.ts_local,
            &q.ts_remote,
            q.replaces,
        ) else {
            return;
        };
        let p1 = match self.p1.as_ref() {
            Some(p) => p,
            None => return,
        };
        let h3 = p1.choice.prf.prf(p1.keys.skeyid_a.as_bytes(), &[&[0], &id.to_be_bytes(), &ni, &nr]);
        let mut iv = next_iv;
        // The responder's answer decides: it echoes our commit bit or sets its own; a
        // responder that ignores ours (strongSwan does) gets the usual three messages.
        let commit = h.flags.commit();
        let hdr = quick_header(self.cky_i, self.cky_r, id, commit);
        let Some(msg) = self.seal(hdr, &[Payload::Hash(h3.as_bytes().to_vec())], &mut iv) else { return };
        let d = self.datagram(&msg);
        let cfg_idx = q.cfg;
        let linger = linger(&self.cfg.peer.retransmit);
        let rcfg = self.cfg.peer.retransmit;
        let q = &mut self.quicks[qi];
        q.iv = iv;
        q.dh = None;
        q.last_rx = bytes.to_vec();
        q.last_tx = Some(d.bytes.clone());
        out.push(Output::Send(d.clone()));
        if commit {
            // Install on message 4; until then message 3 is repeated like a request.
            q.commit = true;
            q.lifetime = lifetime;
            q.pending = Some(child);
            q.out = Some(Outstanding::new(id, vec![d.bytes], now, &rcfg));
            return;
        }
        q.done = true;
        q.out = None;
        q.forget_at = Some(now + linger);
        self.quick_gap_until = Some(now + QUICK_GAP);
        self.install(now, child, cfg_idx, lifetime, true, rng, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn qm3(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        bytes: &[u8],
        h: &Header,
        body: &[u8],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let id = h.message_id;
        let Some(qi) = self.quicks.iter().position(|q| q.id == id) else { return };
        let q = &self.quicks[qi];
        // Responder records keep Ni_b | Nr_b in `ni`.
        let Some((_, next_iv, _)) = self.open_hashed(h, body, &q.iv, &[&[0], &id.to_be_bytes(), &q.ni])
        else {
            return;
        };
        self.authenticated_from(now, src, dst);
        let (commit, spi_in) = (self.quicks[qi].commit, self.quicks[qi].spi_in);
        let (pending, cfg, lifetime) = self.finish_quick(qi, now, bytes);
        if let Some(mut sa) = pending {
            // Installed from the addresses of now (a NAT may have moved the peer).
            sa.local = self.local;
            sa.remote = self.remote;
            self.install(now, sa, cfg, lifetime, false, rng, out);
        }
        if commit {
            // Message 4: installed, the initiator may send.
            let n =
                notify(ProtocolId::IPSEC_ESP, spi_in.to_be_bytes().to_vec(), NotifyType::CONNECTED, vec![]);
            let mut iv = next_iv;
            let hdr = quick_header(self.cky_i, self.cky_r, id, true);
            let Some(msg) = self.seal_hashed(hdr, &[&id.to_be_bytes()], &[n], &mut iv) else { return };
            let d = self.datagram(&msg);
            if let Some(q) = self.quicks.iter_mut().find(|q| q.id == id) {
                q.last_tx = Some(d.bytes.clone());
            }
            out.push(Output::Send(d));
        }
    }

    /// Initiator, commit bit set: message 4 (HASH(4), N(CONNECTED)) says the responder has
    /// installed; now we do.
    #[allow(clippy::too_many_arguments)]
    fn qm4(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        bytes: &[u8],
        h: &Header,
        body: &[u8],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let id = h.message_id;
        let Some(qi) = self.quicks.iter().position(|q| q.id == id) else { return };
        let Some((payloads, _, _)) = self.open_hashed(h, body, &self.quicks[qi].iv, &[&id.to_be_bytes()])
        else {
            return;
        };
        let connected =
            payloads.iter().any(|p| matches!(p, Payload::Notify(n) if n.ty == NotifyType::CONNECTED));
        if !connected {
            return;
        }
        self.authenticated_from(now, src, dst);
        let (pending, cfg, lifetime) = self.finish_quick(qi, now, bytes);
        if let Some(sa) = pending {
            self.install(now, sa, cfg, lifetime, true, rng, out);
        }
    }

    /// Quick mode `qi` got its last message (`bytes`): no more retransmits; it is remembered
    /// a while to recognise a repeat. Returns the SA pair waiting for this message, if any,
    /// with its child and lifetime.
    fn finish_quick(
        &mut self,
        qi: usize,
        now: Instant,
        bytes: &[u8],
    ) -> (Option<ChildSa>, Option<usize>, Duration) {
        let linger = linger(&self.cfg.peer.retransmit);
        let q = &mut self.quicks[qi];
        q.done = true;
        q.out = None;
        q.last_rx = bytes.to_vec();
        q.last_tx = None;
        q.forget_at = Some(now + linger);
        (q.pending.take(), q.cfg, q.lifetime)
    }

    /// A protected error notify about one of our quick modes (by the SPI we proposed).
    pub(super) fn quick_refused(&mut self, ty: NotifyType, spi: &[u8], out: &mut Vec<Output>) {
        let pending = |q: &Quick| q.initiator && !q.done;
        let qi = match <[u8; 4]>::try_from(spi).map(u32::from_be_bytes) {
            Ok(spi) if spi != 0 => self.quicks.iter().position(|q| pending(q) && q.spi_in == spi),
            // No SPI (strongSwan before it chose a proposal): ours only if one is outstanding.
            _ if self.quicks.iter().filter(|q| pending(q)).count() == 1 => {
                self.quicks.iter().position(pending)
            }
            _ => None,
        };
        let Some(qi) = qi else { return };
        let q = self.quicks.remove(qi);
        let peer = self.remote;
        let f = match ty {
            NotifyType::NO_PROPOSAL_CHOSEN => fail(
                FailureKind::NoProposalChosen,
                format!(
                    "quick mode for child '{}': {peer} accepted none of our proposals {} (NO_PROPOSAL_CHOSEN)",
                    q.name,
                    q.offer.as_ref().map(proposal::describe_esp).unwrap_or_default()
                ),
            ),
            NotifyType::INVALID_ID_INFORMATION => fail(
                FailureKind::PolicyMismatch,
                format!(
                    "quick mode for child '{}': {peer} refused proxy IDs local {} remote {} \
                     (INVALID_ID_INFORMATION): the subnets differ between the two configurations",
                    q.name,
                    describe(std::slice::from_ref(&q.ts_local)),
                    describe(std::slice::from_ref(&q.ts_remote))
                ),
            ),
            t => fail(FailureKind::PeerError, format!("quick mode for child '{}': {peer} answered {t:?}", q.name)),
        };
        if let Some(old) = q.replaces {
            if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == old) {
                c.rekeying = false;
            }
        }
        out.push(Output::Event(Event::ChildFailed { name: q.name, failure: f }));
    }

    pub(super) fn quick_timeouts(
        &mut self,
        now: Instant,
        _rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let rcfg = self.cfg.peer.retransmit;
        let (local, remote) = (self.local, self.remote);
        let mut failed = Vec::new();
        for q in &mut self.quicks {
            if let Some(o) = q.out.as_mut().filter(|o| o.next_at() <= now) {
                match o.on_timeout(now, &rcfg) {
                    Retransmit::Resend(b) => out.extend(
                        b.iter()
                            .map(|b| Output::Send(Datagram { src: local, dst: remote, bytes: b.clone() })),
                    ),
                    Retransmit::GiveUp { retransmits } => failed.push((q.id, retransmits)),
                }
            }
        }
        for (id, n) in failed {
            let Some(qi) = self.quicks.iter().position(|q| q.id == id) else { continue };
            let q = self.quicks.remove(qi);
            let which = match (q.initiator, q.pending.is_some()) {
                (true, true) => "message 4 (CONNECTED, commit bit)",
                (true, false) => "message 2",
                (false, _) => "message 3",
            };
            let f = fail(
                FailureKind::NoAnswer,
                format!(
                    "quick mode for child '{}': no {which} from {} after {n} retransmits",
                    q.name, self.remote
                ),
            );
            if let Some(old) = q.replaces {
                if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == old) {
                    c.rekeying = false;
                    c.rekey_at = None;
                }
            }
            out.push(Output::Event(Event::ChildFailed { name: q.name, failure: f }));
        }
        self.quicks.retain(|q| q.forget_at.is_none_or(|t| t > now));
    }

    pub(super) fn child_timers(&mut self, now: Instant, rng: &mut impl CryptoRngCore, out: &mut Vec<Output>) {
        let expired: Vec<u32> =
            self.children.iter().filter(|c| c.expire_at <= now).map(|c| c.spi_in).collect();
        for spi in expired {
            if let Some(i) = self.children.iter().position(|c| c.spi_in == spi) {
                let c = self.children.remove(i);
                let reason = if c.replaced { DeleteReason::Rekeyed } else { DeleteReason::Deleted };
                self.send_child_delete(c, reason, rng, out);
            }
        }
        let due: Vec<(u32, usize)> = self
            .children
            .iter()
            .filter(|c| !c.rekeying && !c.replaced && c.rekey_at.is_some_and(|t| t <= now))
            .filter_map(|c| Some((c.spi_in, c.cfg?)))
            .collect();
        for (spi, cfg) in due {
            if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi) {
                c.rekeying = true;
            }
            self.start_quick(now, cfg, Some(spi), rng, out);
        }
    }
}
