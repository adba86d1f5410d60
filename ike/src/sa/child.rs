//! Child SAs: the first one in IKE_AUTH, more with CREATE_CHILD_SA (RFC 7296 §1.3), their
//! rekeying (§1.3.3, §2.8 make-before-break, §2.8.1 simultaneous rekeys) and IKE SA rekeying
//! (§1.3.2, §2.18).
//!
//! ```text
//! new child:   HDR, SK {SA, Ni, [KEi], TSi, TSr}                 --> HDR, SK {SA, Nr, [KEr], TSi, TSr}
//! child rekey: HDR, SK {N(REKEY_SA), SA, Ni, [KEi], TSi, TSr}    --> HDR, SK {SA, Nr, [KEr], TSi, TSr}
//! IKE rekey:   HDR, SK {SA, Ni, KEi}                             --> HDR, SK {SA, Nr, KEr}
//! ```
//!
//! Rekey: the initiator installs the new pair, then deletes the old one with an INFORMATIONAL
//! exchange. When both ends rekey the same Child SA at once, both exchanges complete; the SA
//! made by the exchange holding the lowest of the four nonces is redundant and is deleted by
//! its initiator, who leaves deleting the old SA to the other end.

use super::init::{error_notify, find_notify, notify_name};
use super::proposal::{describe, describe_one, esp_algs, esp_offer, ike_algs, ike_offer, select, strip_dh};
use super::ts::{covered, describe as describe_ts, narrow};
use super::{
    random_esp_spi, random_ike_spi, random_nonce, After, Child, ChildKeys, ChildReq, ChildSa, ChildState,
    EspAlgorithms, Event, Exchange, Failure, FailureKind, Ike, IkeRekeyReq, IkeSa, Mode, Output, Task, Which,
    REKEY_RETRY,
};
use crate::codec::notify::Notify;
use crate::codec::payload::{KeyExchange, Nonce, Payload};
use crate::codec::sa::SecurityAssociation;
use crate::codec::ts::{TrafficSelector, TrafficSelectors};
use crate::codec::{ExchangeType, NotifyType, ProtocolId};
use crate::crypto::dh::DhPrivateKey;
use crate::crypto::keys::{child_keymat, ike_sa_keys, rekey_skeyseed, ChildSaKeys};
use crate::crypto::Secret;
use rand_core::CryptoRngCore;
use std::time::Instant;

fn spi32(b: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(b).ok().map(u32::from_be_bytes)
}

fn notify(ty: NotifyType) -> Vec<Payload> {
    vec![Payload::Notify(Notify::new(ty, vec![]))]
}

struct Parts<'a> {
    sa: Option<&'a SecurityAssociation>,
    ke: Option<&'a KeyExchange>,
    nonce: Option<&'a [u8]>,
    tsi: Option<&'a [TrafficSelector]>,
    tsr: Option<&'a [TrafficSelector]>,
}

fn parts(payloads: &[Payload]) -> Parts<'_> {
    let mut p = Parts { sa: None, ke: None, nonce: None, tsi: None, tsr: None };
    for x in payloads {
        match x {
            Payload::Sa(s) => p.sa = Some(s),
            Payload::Ke(k) => p.ke = Some(k),
            Payload::Nonce(n) => p.nonce = Some(&n.0),
            Payload::TsI(t) => p.tsi = Some(&t.selectors),
            Payload::TsR(t) => p.tsr = Some(&t.selectors),
            _ => {}
        }
    }
    p
}

impl IkeSa {
    /// Our request for a Child SA (new, or replacing `rekey`).
    pub(super) fn child_request(
        &self,
        cfg: usize,
        rekey: Option<&Child>,
        pfs: bool,
        ni: Vec<u8>,
        rng: &mut impl CryptoRngCore,
    ) -> ChildReq {
        let c = &self.config.children[cfg];
        let spi_in = random_esp_spi(rng);
        let offer = esp_offer(&c.esp_proposals, spi_in, pfs);
        let group = if pfs { c.esp_proposals.iter().find_map(|p| p.dh.first().copied()) } else { None };
        let dh = group.and_then(|g| DhPrivateKey::generate(g, self.config.allow_weak_dh, rng).ok());
        let (ts_local, ts_remote) = match rekey {
            Some(old) => (old.ts_local.clone(), old.ts_remote.clone()),
            None => (c.local_ts.clone(), c.remote_ts.clone()),
        };
        ChildReq {
            cfg,
            spi_in,
            ni,
            dh,
            rekey: rekey.map(|o| o.spi_in),
            collision: None,
            ts_local,
            ts_remote,
            offer,
        }
    }

    pub(super) fn child_request_payloads(&self, req: &ChildReq, with_nonce: bool) -> Vec<Payload> {
        let mut p = Vec::new();
        if let Some(old) = req.rekey {
            p.push(Payload::Notify(Notify {
                protocol: ProtocolId::ESP,
                spi: old.to_be_bytes().to_vec(),
                ty: NotifyType::REKEY_SA,
                data: vec![],
            }));
        }
        if self.config.children[req.cfg].mode == Mode::Transport {
            p.push(Payload::Notify(Notify::new(NotifyType::USE_TRANSPORT_MODE, vec![])));
        }
        p.push(Payload::Sa(req.offer.clone()));
        if with_nonce {
            p.push(Payload::Nonce(Nonce(req.ni.clone())));
            if let Some(dh) = &req.dh {
                p.push(Payload::Ke(KeyExchange { group: dh.group(), data: dh.public_value() }));
            }
        }
        p.push(Payload::TsI(TrafficSelectors { selectors: req.ts_local.clone() }));
        p.push(Payload::TsR(TrafficSelectors { selectors: req.ts_remote.clone() }));
        p
    }

    #[allow(clippy::too_many_arguments)]
    fn child_keys(
        &self,
        w: Which,
        algs: &EspAlgorithms,
        g_ir: Option<&Secret>,
        ni: &[u8],
        nr: &[u8],
        we_initiated: bool,
    ) -> Option<ChildKeys> {
        let ike = self.ike(w)?;
        let e = algs.encr.map_or(0, |e| e.key_material_len());
        let i = algs.integ.map_or(0, |a| a.key_len());
        let km = child_keymat(ike.suite.prf, &ike.sk_d, g_ir, ni, nr, ChildSaKeys::keymat_len(e, i)).ok()?;
        let k = ChildSaKeys::split(&km, e, i).ok()?;
        Some(if we_initiated {
            ChildKeys { encr_out: k.encr_i, integ_out: k.integ_i, encr_in: k.encr_r, integ_in: k.integ_r }
        } else {
            ChildKeys { encr_out: k.encr_r, integ_out: k.integ_r, encr_in: k.encr_i, integ_in: k.integ_i }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn install(
        &mut self,
        now: Instant,
        cfg: usize,
        spi_in: u32,
        spi_out: u32,
        algorithms: EspAlgorithms,
        keys: ChildKeys,
        ts_local: Vec<TrafficSelector>,
        ts_remote: Vec<TrafficSelector>,
        replaces: Option<u32>,
        defer_outbound: bool,
        out: &mut Vec<Output>,
    ) {
        let c = &self.config.children[cfg];
        let name = c.name.clone();
        out.push(Output::InstallChild(ChildSa {
            name: name.clone(),
            protocol: super::ChildProtocol::Esp,
            spi_in,
            spi_out,
            keys,
            algorithms,
            ts_local: ts_local.clone(),
            ts_remote: ts_remote.clone(),
            mode: c.mode,
            local: self.local,
            remote: self.remote,
            udp_encap: self.nat.any(),
            replaces,
            defer_outbound: defer_outbound && replaces.is_some(),
        }));
        if let Some(old) = replaces {
            out.push(Output::Event(Event::ChildRekeyed { name, old_spi_in: old, new_spi_in: spi_in }));
        }
        self.children.push(Child {
            cfg,
            spi_in,
            spi_out,
            ts_local,
            ts_remote,
            state: ChildState::Installed,
            rekey_at: c.rekey_time.map(|t| now + t),
            replaced: false,
        });
    }

    fn child_failed(&self, cfg: usize, kind: FailureKind, detail: String, out: &mut Vec<Output>) {
        let name = self.child_name(cfg).to_owned();
        out.push(Output::Event(Event::ChildFailed { name, failure: Failure::new(kind, detail) }));
    }

    /// Responder: makes the Child SA the peer asks for. Returns the reply payloads (from SA on)
    /// and the new inbound SPI.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn respond_child(
        &mut self,
        w: Which,
        now: Instant,
        payloads: &[Payload],
        rekey_of: Option<usize>,
        (ni, nr): (&[u8], &[u8]),
        in_auth: bool,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) -> (Vec<Payload>, Option<u32>) {
        let p = parts(payloads);
        let (Some(sa), Some(tsi), Some(tsr)) = (p.sa, p.tsi, p.tsr) else {
            return (notify(NotifyType::INVALID_SYNTAX), None);
        };
        // Which tunnel: for a rekey the old one's; else the first whose selectors overlap.
        let pick = |cfg: usize| {
            let c = &self.config.children[cfg];
            let (i, r) = (narrow(tsi, &c.remote_ts), narrow(tsr, &c.local_ts));
            (!i.is_empty() && !r.is_empty()).then_some((cfg, i, r))
        };
        let found = match rekey_of {
            Some(idx) => pick(self.children[idx].cfg),
            None => (0..self.config.children.len()).find_map(pick),
        };
        let Some((cfg, ts_i, ts_r)) = found else {
            let ours: Vec<String> = self
                .config
                .children
                .iter()
                .map(|c| {
                    format!(
                        "'{}' local {} remote {}",
                        c.name,
                        describe_ts(&c.local_ts),
                        describe_ts(&c.remote_ts)
                    )
                })
                .collect();
            out.push(Output::Event(Event::ChildFailed {
                name: "?".into(),
                failure: Failure::new(
                    FailureKind::PolicyMismatch,
                    format!(
                        "peer {} proposed TSi {} TSr {}, which no child matches ({}); answered TS_UNACCEPTABLE",
                        self.remote.ip(),
                        describe_ts(tsi),
                        describe_ts(tsr),
                        ours.join("; ")
                    ),
                ),
            }));
            return (notify(NotifyType::TS_UNACCEPTABLE), None);
        };
        let c = &self.config.children[cfg];
        let spi_in = random_esp_spi(rng);
        let offer = esp_offer(&c.esp_proposals, spi_in, !in_auth);
        let offered = if in_auth { strip_dh(sa) } else { sa.clone() };
        let Some((chosen, algs)) = select(&offered, &offer).and_then(|x| esp_algs(&x).map(|a| (x, a))) else {
            let d = format!(
                "ESP proposals from {} unacceptable: peer offered {}, we accept {}",
                self.remote.ip(),
                describe(&offered),
                describe(&offer)
            );
            self.child_failed(cfg, FailureKind::NoProposalChosen, d, out);
            return (notify(NotifyType::NO_PROPOSAL_CHOSEN), None);
        };
        let Some(spi_out) = spi32(&chosen.spi) else { return (notify(NotifyType::INVALID_SYNTAX), None) };
        let mut ke_reply = None;
        let g_ir = match algs.dh {
            Some(g) => {
                let Some(ke) = p.ke.filter(|k| k.group == g) else {
                    return (
                        vec![Payload::Notify(Notify::new(
                            NotifyType::INVALID_KE_PAYLOAD,
                            g.0.to_be_bytes().to_vec(),
                        ))],
                        None,
                    );
                };
                let Ok(dh) = DhPrivateKey::generate(g, self.config.allow_weak_dh, rng) else {
                    return (notify(NotifyType::NO_PROPOSAL_CHOSEN), None);
                };
                let Ok(s) = dh.shared_secret(&ke.data) else {
                    return (notify(NotifyType::INVALID_SYNTAX), None);
                };
                ke_reply = Some(KeyExchange { group: g, data: dh.public_value() });
                Some(s)
            }
            None => None,
        };
        let Some(keys) = self.child_keys(w, &algs, g_ir.as_ref(), ni, nr, false) else {
            return (notify(NotifyType::NO_PROPOSAL_CHOSEN), None);
        };
        let transport = find_notify(payloads, NotifyType::USE_TRANSPORT_MODE).is_some()
            && self.config.children[cfg].mode == Mode::Transport;
        let replaces = rekey_of.map(|i| self.children[i].spi_in);
        self.install(now, cfg, spi_in, spi_out, algs, keys, ts_r.clone(), ts_i.clone(), replaces, true, out);
        let mut reply = vec![Payload::Sa(SecurityAssociation {
            proposals: vec![crate::codec::sa::Proposal { spi: spi_in.to_be_bytes().to_vec(), ..chosen }],
        })];
        if !in_auth {
            reply.push(Payload::Nonce(Nonce(nr.to_vec())));
        }
        reply.extend(ke_reply.map(Payload::Ke));
        reply.push(Payload::TsI(TrafficSelectors { selectors: ts_i }));
        reply.push(Payload::TsR(TrafficSelectors { selectors: ts_r }));
        if transport {
            reply.push(Payload::Notify(Notify::new(NotifyType::USE_TRANSPORT_MODE, vec![])));
        }
        (reply, Some(spi_in))
    }

    /// Initiator: the answer to our Child SA request (in IKE_AUTH, `nonces` are the IKE ones).
    pub(super) fn complete_child(
        &mut self,
        w: Which,
        now: Instant,
        req: ChildReq,
        payloads: &[Payload],
        nonces: Option<(Vec<u8>, Vec<u8>)>,
        out: &mut Vec<Output>,
    ) {
        let name = self.child_name(req.cfg).to_owned();
        if let Some(n) = error_notify(payloads) {
            self.child_refused(now, &req, n.ty, out);
            return;
        }
        let p = parts(payloads);
        let (ni, nr) = match nonces {
            Some(n) => n,
            None => match p.nonce {
                Some(nr) => (req.ni.clone(), nr.to_vec()),
                None => return self.child_protocol_error(now, &req, "no nonce in the answer", out),
            },
        };
        let (Some(sa), Some(tsi), Some(tsr)) = (p.sa, p.tsi, p.tsr) else {
            return self.child_protocol_error(now, &req, "no SA or traffic selectors in the answer", out);
        };
        let Some((chosen, algs)) = select(sa, &req.offer).and_then(|x| esp_algs(&x).map(|a| (x, a))) else {
            return self.child_protocol_error(now, &req, "the peer chose a proposal we did not offer", out);
        };
        let g_ir = match (&req.dh, algs.dh) {
            (None, None) => None,
            (Some(dh), Some(g)) if g == dh.group() => match p.ke.filter(|k| k.group == g) {
                Some(ke) => match dh.shared_secret(&ke.data) {
                    Ok(s) => Some(s),
                    Err(_) => return self.child_protocol_error(now, &req, "invalid KE payload", out),
                },
                None => return self.child_protocol_error(now, &req, "missing KE payload", out),
            },
            _ => return self.child_protocol_error(now, &req, "PFS group mismatch", out),
        };
        if !tsi.iter().all(|t| covered(t, &req.ts_local)) || !tsr.iter().all(|t| covered(t, &req.ts_remote)) {
            let d = format!(
                "child '{name}': peer answered TSi {} TSr {} outside what we proposed (local {} remote {})",
                describe_ts(tsi),
                describe_ts(tsr),
                describe_ts(&req.ts_local),
                describe_ts(&req.ts_remote)
            );
            self.child_failed(req.cfg, FailureKind::PolicyMismatch, d, out);
            self.rekey_failed(now, &req, false);
            return;
        }
        let Some(spi_out) = spi32(&chosen.spi) else {
            return self.child_protocol_error(now, &req, "bad SPI", out);
        };
        let Some(keys) = self.child_keys(w, &algs, g_ir.as_ref(), &ni, &nr, true) else { return };
        self.install(
            now,
            req.cfg,
            req.spi_in,
            spi_out,
            algs,
            keys,
            tsi.to_vec(),
            tsr.to_vec(),
            req.rekey,
            false,
            out,
        );
        let Some(old) = req.rekey else { return };
        // Make-before-break: the new pair is in; now the old one goes (unless we lost a collision).
        let ours_min = ni.clone().min(nr.clone());
        let lost = req.collision.as_ref().is_some_and(|(_, theirs_min)| ours_min < *theirs_min);
        let doomed = if lost { req.spi_in } else { old };
        if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == old) {
            c.state = ChildState::Rekeyed;
            c.rekey_at = None;
            c.replaced = true;
        }
        if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == doomed) {
            c.replaced = true;
            c.rekey_at = None;
        }
        self.queue.push_front(Task::DeleteChild(doomed));
    }

    /// Our rekey did not happen: the old SA stays (and is retried later) unless the peer's
    /// colliding rekey replaced it.
    pub(super) fn rekey_failed(&mut self, now: Instant, req: &ChildReq, gone: bool) {
        let Some(old) = req.rekey else { return };
        if gone {
            self.children.retain(|c| c.spi_in != old);
            return;
        }
        if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == old) {
            if req.collision.is_some() {
                c.state = ChildState::Rekeyed;
                c.replaced = true;
            } else if c.state == ChildState::Rekeying {
                c.state = ChildState::Installed;
                c.rekey_at = Some(now + REKEY_RETRY);
            }
        }
    }

    fn child_protocol_error(&mut self, now: Instant, req: &ChildReq, what: &str, out: &mut Vec<Output>) {
        self.child_failed(req.cfg, FailureKind::Protocol, what.to_owned(), out);
        self.rekey_failed(now, req, false);
    }

    fn child_refused(&mut self, now: Instant, req: &ChildReq, ty: NotifyType, out: &mut Vec<Output>) {
        let name = self.child_name(req.cfg).to_owned();
        let (kind, detail) = match ty {
            NotifyType::TS_UNACCEPTABLE => (
                FailureKind::PolicyMismatch,
                format!(
                    "peer {} refused the traffic selectors of child '{name}' (TS_UNACCEPTABLE): we proposed local {} \
                     remote {}",
                    self.remote.ip(),
                    describe_ts(&req.ts_local),
                    describe_ts(&req.ts_remote)
                ),
            ),
            NotifyType::NO_PROPOSAL_CHOSEN => (
                FailureKind::NoProposalChosen,
                format!(
                    "peer {} accepted none of our ESP proposals for child '{name}'; we offered {}",
                    self.remote.ip(),
                    describe(&req.offer)
                ),
            ),
            NotifyType::INVALID_KE_PAYLOAD => (
                FailureKind::InvalidKe,
                format!("peer wants another PFS group for child '{name}'; check the ESP proposals' DH groups"),
            ),
            NotifyType::TEMPORARY_FAILURE if req.rekey.is_some() => {
                // A rekey collision we lost, or the peer is busy with this SA: not a failure.
                self.rekey_failed(now, req, false);
                return;
            }
            NotifyType::CHILD_SA_NOT_FOUND if req.rekey.is_some() => {
                let old = req.rekey.unwrap_or_default();
                if let Some(c) = self.children.iter().find(|c| c.spi_in == old) {
                    out.push(Output::DeleteChild(super::ChildSaDeleted {
                        name: name.clone(),
                        spi_in: c.spi_in,
                        spi_out: c.spi_out,
                        reason: super::DeleteReason::DeletedByPeer,
                    }));
                }
                self.rekey_failed(now, req, true);
                return;
            }
            t => (FailureKind::PeerError, format!("peer answered the request for child '{name}' with {}", notify_name(t))),
        };
        self.child_failed(req.cfg, kind, detail, out);
        self.rekey_failed(now, req, false);
    }

    pub(super) fn on_child_response(
        &mut self,
        w: Which,
        now: Instant,
        req: ChildReq,
        payloads: &[Payload],
        out: &mut Vec<Output>,
    ) {
        self.complete_child(w, now, req, payloads, None, out);
    }

    pub(super) fn start_new_child(
        &mut self,
        cfg: usize,
        now: Instant,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        if cfg >= self.config.children.len() {
            return;
        }
        let ni = random_nonce(rng);
        let req = self.child_request(cfg, None, true, ni, rng);
        let payloads = self.child_request_payloads(&req, true);
        self.send_request(
            Which::Cur,
            ExchangeType::CREATE_CHILD_SA,
            &payloads,
            Exchange::Child(req),
            now,
            rng,
            out,
        );
    }

    pub(super) fn start_child_rekey(
        &mut self,
        spi_in: u32,
        now: Instant,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let Some(idx) =
            self.children.iter().position(|c| c.spi_in == spi_in && c.state == ChildState::Installed)
        else {
            return;
        };
        let ni = random_nonce(rng);
        let req = self.child_request(self.children[idx].cfg, Some(&self.children[idx]), true, ni, rng);
        self.children[idx].state = ChildState::Rekeying;
        self.children[idx].rekey_at = None;
        let payloads = self.child_request_payloads(&req, true);
        self.send_request(
            Which::Cur,
            ExchangeType::CREATE_CHILD_SA,
            &payloads,
            Exchange::Child(req),
            now,
            rng,
            out,
        );
    }

    /// Responder for CREATE_CHILD_SA: a new Child SA, a Child rekey, or an IKE rekey.
    pub(super) fn on_create_child_request(
        &mut self,
        w: Which,
        now: Instant,
        payloads: &[Payload],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) -> (Vec<Payload>, After) {
        let retired = self.ike(w).is_none_or(|i| i.retired) || w == Which::Old;
        if !self.is_established() || retired {
            return (notify(NotifyType::TEMPORARY_FAILURE), After::Nothing);
        }
        let p = parts(payloads);
        let Some(ni) = p.nonce.map(<[u8]>::to_vec) else {
            return (notify(NotifyType::INVALID_SYNTAX), After::Nothing);
        };
        if p.sa.is_some_and(|s| s.proposals.first().is_some_and(|x| x.protocol == ProtocolId::IKE)) {
            return self.respond_ike_rekey(now, payloads, &ni, rng);
        }
        let nr = random_nonce(rng);
        let rekey = find_notify(payloads, NotifyType::REKEY_SA);
        let mut rekey_of = None;
        if let Some(n) = rekey {
            let Some(old_out) = spi32(&n.spi) else {
                return (notify(NotifyType::INVALID_SYNTAX), After::Nothing);
            };
            let Some(idx) = self.children.iter().position(|c| c.spi_out == old_out) else {
                // Our own Child exchange may still be about to create it (its answer lost so
                // far): ask the peer to retry rather than have it drop a live SA.
                let creating = [&self.cur, &self.old]
                    .into_iter()
                    .flatten()
                    .any(|i| matches!(i.pending, Some(super::Pending { ex: Exchange::Child(_), .. })));
                if creating {
                    return (notify(NotifyType::TEMPORARY_FAILURE), After::Nothing);
                }
                return (
                    vec![Payload::Notify(Notify {
                        protocol: ProtocolId::ESP,
                        spi: n.spi.clone(),
                        ty: NotifyType::CHILD_SA_NOT_FOUND,
                        data: vec![],
                    })],
                    After::Nothing,
                );
            };
            if matches!(self.children[idx].state, ChildState::Rekeyed | ChildState::Deleting) {
                return (notify(NotifyType::TEMPORARY_FAILURE), After::Nothing);
            }
            rekey_of = Some(idx);
        }
        let (reply, new_spi) = self.respond_child(w, now, payloads, rekey_of, (&ni, &nr), false, rng, out);
        if let (Some(idx), Some(new_spi)) = (rekey_of, new_spi) {
            let old_spi = self.children[idx].spi_in;
            if self.children[idx].state == ChildState::Rekeying {
                // Simultaneous rekey (§2.8.1): remember this exchange's lowest nonce.
                let min = ni.clone().min(nr.clone());
                for ike in [self.cur.as_mut(), self.old.as_mut()].into_iter().flatten() {
                    if let Some(super::Pending { ex: Exchange::Child(req), .. }) = ike.pending.as_mut() {
                        if req.rekey == Some(old_spi) {
                            req.collision = Some((new_spi, min.clone()));
                        }
                    }
                }
            } else {
                let c = &mut self.children[idx];
                c.state = ChildState::Rekeyed;
                c.rekey_at = None;
                c.replaced = true;
            }
        }
        (reply, After::Nothing)
    }

    // ---- IKE SA rekey ----------------------------------------------------------------------------

    pub(super) fn start_ike_rekey(
        &mut self,
        now: Instant,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let Some(cur) = &self.cur else { return };
        let Ok(dh) = DhPrivateKey::generate(cur.dh_group, self.config.allow_weak_dh, rng) else { return };
        let spi = random_ike_spi(rng);
        let ni = random_nonce(rng);
        let offer = ike_offer(&self.config.ike_proposals, &spi.to_be_bytes());
        let payloads = vec![
            Payload::Sa(offer.clone()),
            Payload::Nonce(Nonce(ni.clone())),
            Payload::Ke(KeyExchange { group: dh.group(), data: dh.public_value() }),
        ];
        let ex = Exchange::RekeyIke(IkeRekeyReq { spi, ni, dh, offer });
        self.send_request(Which::Cur, ExchangeType::CREATE_CHILD_SA, &payloads, ex, now, rng, out);
    }

    fn respond_ike_rekey(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        ni: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> (Vec<Payload>, After) {
        let _ = now;
        let nothing = |t| (notify(t), After::Nothing);
        let Some(cur) = &self.cur else { return nothing(NotifyType::TEMPORARY_FAILURE) };
        // Simultaneous IKE rekey: the exchange with the lower initiator nonce gives way, so
        // exactly one of the two completes.
        match &cur.pending {
            Some(super::Pending { ex: Exchange::RekeyIke(mine), .. }) if ni < mine.ni.as_slice() => {
                return nothing(NotifyType::TEMPORARY_FAILURE);
            }
            Some(super::Pending { ex: Exchange::RekeyIke(_), .. }) | None => {}
            // An exchange of ours is still open on this SA: finish it first (the peer retries),
            // so that no request is ever stranded on a retired IKE SA.
            Some(_) => return nothing(NotifyType::TEMPORARY_FAILURE),
        }
        if self.old.as_ref().is_some_and(|o| o.pending.is_some()) {
            return nothing(NotifyType::TEMPORARY_FAILURE);
        }
        let p = parts(payloads);
        let (Some(sa), Some(ke)) = (p.sa, p.ke) else { return nothing(NotifyType::INVALID_SYNTAX) };
        let offer = ike_offer(&self.config.ike_proposals, &[]);
        let Some((chosen, (suite, group))) = select(sa, &offer).and_then(|c| ike_algs(&c).map(|a| (c, a)))
        else {
            return nothing(NotifyType::NO_PROPOSAL_CHOSEN);
        };
        let Some(spi_i) = <[u8; 8]>::try_from(chosen.spi.as_slice()).ok().map(u64::from_be_bytes) else {
            return nothing(NotifyType::INVALID_SYNTAX);
        };
        if ke.group != group {
            return (
                vec![Payload::Notify(Notify::new(
                    NotifyType::INVALID_KE_PAYLOAD,
                    group.0.to_be_bytes().to_vec(),
                ))],
                After::Nothing,
            );
        }
        let Ok(dh) = DhPrivateKey::generate(group, self.config.allow_weak_dh, rng) else {
            return nothing(NotifyType::NO_PROPOSAL_CHOSEN);
        };
        let Ok(g_ir) = dh.shared_secret(&ke.data) else { return nothing(NotifyType::INVALID_SYNTAX) };
        let spi_r = random_ike_spi(rng);
        let nr = random_nonce(rng);
        let seed = rekey_skeyseed(cur.suite.prf, &cur.sk_d, &g_ir, ni, &nr);
        let Ok(keys) = ike_sa_keys(&suite, &seed, ni, &nr, spi_i, spi_r) else {
            return nothing(NotifyType::NO_PROPOSAL_CHOSEN);
        };
        let Some(new) = Ike::new(spi_i, spi_r, false, suite, group, keys, describe_one(&chosen)) else {
            return nothing(NotifyType::NO_PROPOSAL_CHOSEN);
        };
        let reply = vec![
            Payload::Sa(SecurityAssociation {
                proposals: vec![crate::codec::sa::Proposal { spi: spi_r.to_be_bytes().to_vec(), ..chosen }],
            }),
            Payload::Nonce(Nonce(nr)),
            Payload::Ke(KeyExchange { group, data: dh.public_value() }),
        ];
        (reply, After::Promote(Box::new(new)))
    }

    pub(super) fn on_ike_rekey_response(
        &mut self,
        now: Instant,
        req: IkeRekeyReq,
        payloads: &[Payload],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let retry = |sa: &mut IkeSa| sa.ike_rekey_at = Some(now + REKEY_RETRY);
        if error_notify(payloads).is_some() {
            return retry(self);
        }
        let Some(cur) = &self.cur else { return };
        let p = parts(payloads);
        let (Some(sa), Some(ke), Some(nr)) = (p.sa, p.ke, p.nonce) else { return retry(self) };
        let Some((chosen, (suite, group))) =
            select(sa, &req.offer).and_then(|c| ike_algs(&c).map(|a| (c, a)))
        else {
            return retry(self);
        };
        let Some(spi_r) = <[u8; 8]>::try_from(chosen.spi.as_slice()).ok().map(u64::from_be_bytes) else {
            return retry(self);
        };
        if ke.group != group || group != req.dh.group() || spi_r == 0 {
            return retry(self);
        }
        let Ok(g_ir) = req.dh.shared_secret(&ke.data) else { return retry(self) };
        let seed = rekey_skeyseed(cur.suite.prf, &cur.sk_d, &g_ir, &req.ni, nr);
        let Ok(keys) = ike_sa_keys(&suite, &seed, &req.ni, nr, req.spi, spi_r) else { return retry(self) };
        let Some(new) = Ike::new(req.spi, spi_r, true, suite, group, keys, describe_one(&chosen)) else {
            return retry(self);
        };
        self.promote(new, now, out);
        // The old IKE SA is deleted on itself; its Child SAs have moved to the new one.
        let d = vec![Payload::Delete(crate::codec::delete::Delete::ike())];
        self.send_request(Which::Old, ExchangeType::INFORMATIONAL, &d, Exchange::DeleteIke, now, rng, out);
    }

    /// The new IKE SA takes over; the old one is kept, retired, for its Delete exchange.
    pub(super) fn promote(&mut self, new: Ike, now: Instant, out: &mut Vec<Output>) {
        out.push(Output::Event(Event::IkeRekeyed { spi_i: new.spi_i, spi_r: new.spi_r }));
        let mut old = self.cur.replace(new);
        if let Some(o) = old.as_mut() {
            o.retired = true;
        }
        if let Some(p) = core::mem::replace(&mut self.old, old).and_then(|mut o| o.pending.take()) {
            self.requeue(p.ex, now);
        }
        self.ike_rekey_at = self.config.ike_rekey_time.map(|t| now + t);
    }
}
