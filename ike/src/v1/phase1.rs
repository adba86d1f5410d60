//! Phase 1 with pre-shared keys: Main Mode (RFC 2409 §5, six messages, identities encrypted)
//! and Aggressive Mode (§5, three messages; off unless enabled per peer).
//!
//! ```text
//! Main mode                                   Aggressive mode
//! 1 I→R  HDR, SA, VID*                        1 I→R  HDR, SA, KE, Ni, IDii, VID*
//! 2 R→I  HDR, SA, VID*                        2 R→I  HDR, SA, KE, Nr, IDir, HASH_R, NAT-D*, VID*
//! 3 I→R  HDR, KE, Ni, NAT-D*                  3 I→R  HDR*, HASH_I, NAT-D*
//! 4 R→I  HDR, KE, Nr, NAT-D*
//! 5 I→R  HDR*, IDii, HASH_I        (port 4500 if a NAT was found)
//! 6 R→I  HDR*, IDir, HASH_R
//! ```
//!
//! `HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)` and
//! `HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)` (§5).

use super::codec::id::{Id, IdPayload};
use super::codec::{self, ExchangeType, Header, Message, NotifyType, Payload};
use super::config::V1Config;
use super::crypto as v1crypto;
use super::isakmp::{fail, nonce, random_nonzero_u64, Handshake, IsakmpSa, Step, P1};
use super::nat::{self, VID_DPD, VID_RFC3947};
use super::proposal::{self, Ph1Choice};
use crate::crypto::dh::DhPrivateKey;
use crate::crypto::Secret;
use crate::sa::nat::NAT_T_PORT;
use crate::sa::{Event, Failure, FailureKind, Output, StartAction};
use rand_core::CryptoRngCore;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

fn vids(cfg: &V1Config) -> Vec<Payload> {
    let mut v = Vec::new();
    if cfg.nat_t {
        v.push(Payload::VendorId(VID_RFC3947.to_vec()));
    }
    v.push(Payload::VendorId(VID_DPD.to_vec()));
    v
}

fn has_vid(payloads: &[Payload], vid: &[u8]) -> bool {
    payloads.iter().any(|p| matches!(p, Payload::VendorId(v) if v == vid))
}

fn find<T>(payloads: &[Payload], f: impl Fn(&Payload) -> Option<&T>) -> Option<&T> {
    payloads.iter().find_map(f)
}

fn ke(p: &[Payload]) -> Option<&Vec<u8>> {
    find(p, |x| if let Payload::Ke(k) = x { Some(k) } else { None })
}

fn nonce_of(p: &[Payload]) -> Option<&Vec<u8>> {
    find(p, |x| if let Payload::Nonce(k) = x { Some(k) } else { None })
}

fn id_of(p: &[Payload]) -> Option<&IdPayload> {
    find(p, |x| if let Payload::Id(k) = x { Some(k) } else { None })
}

fn hash_of(p: &[Payload]) -> Option<&Vec<u8>> {
    find(p, |x| if let Payload::Hash(k) = x { Some(k) } else { None })
}

fn sa_of(p: &[Payload]) -> Option<&codec::sa::SaPayload> {
    find(p, |x| if let Payload::Sa(k) = x { Some(k) } else { None })
}

/// Our phase 1 identity (the ID payload carries protocol UDP and port 500, as is customary;
/// receivers accept 0/0 too).
fn our_id(cfg: &V1Config) -> IdPayload {
    IdPayload { protocol: 17, port: 500, id: Id::from_identification(&cfg.peer.local_id) }
}

fn peer_id_ok(cfg: &V1Config, got: &IdPayload) -> bool {
    cfg.peer.remote_id.as_ref().is_none_or(|want| Id::from_identification(want) == got.id)
}

fn describe_id(id: &IdPayload) -> String {
    match &id.id {
        Id::Fqdn(s) | Id::UserFqdn(s) => format!("'{s}'"),
        Id::Ipv4(a) => a.to_string(),
        Id::Ipv6(a) => a.to_string(),
        other => format!("{other:?}"),
    }
}

impl IsakmpSa {
    /// Starts phase 1 as initiator (main mode, or aggressive mode if the peer config enables
    /// it), returning the SA and the first message.
    pub fn initiate(
        cfg: Arc<V1Config>,
        now: Instant,
        rng: &mut impl CryptoRngCore,
    ) -> (IsakmpSa, Vec<Output>) {
        let (local, remote) = (cfg.peer.local, cfg.peer.remote);
        let mut sa = IsakmpSa::blank(cfg.clone(), true, local, remote, now);
        let mut out = Vec::new();
        sa.cky_i = random_nonzero_u64(rng);
        let life = cfg.ike_lifetime();
        if cfg.aggressive {
            let Some(group) = cfg.peer.ike_proposals.first().and_then(|p| p.dh.first().copied()) else {
                sa.die(Event::Failed(fail(FailureKind::Protocol, "no DH group configured")), &mut out);
                return (sa, out);
            };
            let offer = proposal::ph1_offer(&cfg.peer.ike_proposals, life, cfg.ike_lifetime_kb, Some(group));
            let dh = match DhPrivateKey::generate(group, cfg.peer.allow_weak_dh, rng) {
                Ok(d) => d,
                Err(e) => {
                    let f = fail(FailureKind::Protocol, format!("phase 1 failed: DH group {group:?}: {e}"));
                    sa.die(Event::Failed(f), &mut out);
                    return (sa, out);
                }
            };
            sa.hs.sa_i_b = offer.body_bytes();
            sa.hs.gxi = dh.public_value();
            sa.hs.ni = nonce(rng);
            sa.hs.dh = Some(dh);
            let mut payloads = vec![
                Payload::Sa(offer),
                Payload::Ke(sa.hs.gxi.clone()),
                Payload::Nonce(sa.hs.ni.clone()),
                Payload::Id(our_id(&cfg)),
            ];
            payloads.extend(vids(&cfg));
            let h = Header::new(sa.cky_i, 0, ExchangeType::AGGRESSIVE, 0);
            sa.step = Step::Am2;
            sa.waiting_for = 2;
            if let Ok(m) = (Message { header: h, payloads }).encode() {
                sa.send_p1(now, m, true, &mut out);
            }
        } else {
            let offer = proposal::ph1_offer(&cfg.peer.ike_proposals, life, cfg.ike_lifetime_kb, None);
            sa.hs.sa_i_b = offer.body_bytes();
            let mut payloads = vec![Payload::Sa(offer)];
            payloads.extend(vids(&cfg));
            let h = Header::new(sa.cky_i, 0, ExchangeType::IDENTITY_PROTECTION, 0);
            sa.step = Step::Mm2;
            sa.waiting_for = 2;
            if let Ok(m) = (Message { header: h, payloads }).encode() {
                sa.send_p1(now, m, true, &mut out);
            }
        }
        (sa, out)
    }

    /// Answers a phase 1 message 1 (main or aggressive mode) as responder. Returns no SA when
    /// the message is not a valid message 1 or is refused (the refusal's failure event and
    /// notify are in the outputs).
    pub fn accept(
        cfg: Arc<V1Config>,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        datagram: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> (Option<IsakmpSa>, Vec<Output>) {
        let mut out = Vec::new();
        let Some(bytes) = crate::sa::nat::unframe(dst.port(), datagram) else { return (None, out) };
        let Ok(m) = Message::parse(bytes) else { return (None, out) };
        let h = m.header;
        if h.cky_i == 0 || h.cky_r != 0 || h.message_id != 0 {
            return (None, out);
        }
        let aggressive = match h.exchange {
            ExchangeType::IDENTITY_PROTECTION => false,
            ExchangeType::AGGRESSIVE => true,
            _ => return (None, out),
        };
        let Some(offer) = sa_of(&m.payloads) else { return (None, out) };
        let mut sa = IsakmpSa::blank(cfg.clone(), false, dst, src, now);
        sa.cky_i = h.cky_i;
        sa.cky_r = random_nonzero_u64(rng);
        sa.last_rx = now;
        if aggressive && !cfg.aggressive {
            let f = fail(
                FailureKind::Protocol,
                format!(
                    "phase 1 failed: {src} tried IKEv1 aggressive mode, which is disabled for peer '{}'; \
                     use main mode on the peer, or enable aggressive mode here (weaker: the PSK hash can be \
                     attacked offline)",
                    cfg.peer.name
                ),
            );
            sa.send_plain_notify(NotifyType::INVALID_EXCHANGE_TYPE, rng, &mut out);
            out.push(Output::Event(Event::Failed(f)));
            return (None, out);
        }
        // One proposal, the first acceptable transform (RFC 2409 §5: phase 1 offers one
        // proposal; we look at all of them anyway).
        let chosen = offer.proposals.iter().find_map(|p| {
            p.transforms.iter().find_map(|t| {
                let c = proposal::ph1_read(t, cfg.peer.allow_weak_dh).ok()?;
                (proposal::ph1_acceptable(&cfg.peer.ike_proposals, &c)
                    && (!aggressive || ke(&m.payloads).is_some()))
                .then(|| (p.clone(), t.clone(), c))
            })
        });
        let Some((prop, t, choice)) = chosen else {
            let f = fail(
                FailureKind::NoProposalChosen,
                format!(
                    "phase 1 failed: IKEv1 proposals from {src} unacceptable: peer offered {}, we accept {}",
                    proposal::describe_ph1(offer, true),
                    proposal::describe_ike_props(&cfg.peer.ike_proposals)
                ),
            );
            sa.send_plain_notify(NotifyType::NO_PROPOSAL_CHOSEN, rng, &mut out);
            out.push(Output::Event(Event::Failed(f)));
            return (None, out);
        };
        sa.peer_nat_t = cfg.nat_t && has_vid(&m.payloads, &VID_RFC3947);
        sa.peer_dpd = has_vid(&m.payloads, &VID_DPD);
        // SAi_b as it was on the wire (a peer may set reserved bits we would not re-encode).
        let raw_sa =
            codec::split(bytes).and_then(|(h, body)| codec::walk(h.next, body, false)).ok().and_then(
                |(raw, _)| raw.iter().find(|p| p.ty == codec::PayloadType::SA).map(|p| p.body.to_vec()),
            );
        sa.hs.sa_i_b = raw_sa.unwrap_or_else(|| offer.body_bytes());
        let answer = codec::sa::SaPayload {
            doi: offer.doi,
            situation: offer.situation,
            proposals: vec![codec::sa::Proposal { transforms: vec![t], ..prop }],
        };
        sa.p1_last_rx = bytes.to_vec();
        if !aggressive {
            sa.set_choice(choice);
            let mut payloads = vec![Payload::Sa(answer)];
            payloads.extend(vids(&cfg));
            let h = Header::new(sa.cky_i, sa.cky_r, ExchangeType::IDENTITY_PROTECTION, 0);
            sa.step = Step::RMm3;
            sa.waiting_for = 3;
            if let Ok(msg) = (Message { header: h, payloads }).encode() {
                sa.send_p1(now, msg, false, &mut out);
            }
            return (Some(sa), out);
        }
        // Aggressive mode: the key exchange and our authentication in message 2.
        let (Some(gxi), Some(ni), Some(idi)) = (ke(&m.payloads), nonce_of(&m.payloads), id_of(&m.payloads))
        else {
            return (None, out);
        };
        if !peer_id_ok(&cfg, idi) {
            let f = fail(
                FailureKind::IdentityMismatch,
                format!(
                    "phase 1 failed: {src} identifies as {}, not the configured peer ID: check the PSK/IDs",
                    describe_id(idi)
                ),
            );
            out.push(Output::Event(Event::Failed(f)));
            return (None, out);
        }
        let Ok(dh) = DhPrivateKey::generate(choice.group, cfg.peer.allow_weak_dh, rng) else {
            return (None, out);
        };
        sa.hs.gxi = gxi.clone();
        sa.hs.gxr = dh.public_value();
        sa.hs.ni = ni.clone();
        sa.hs.nr = nonce(rng);
        let Ok(gxy) = dh.shared_secret(gxi) else { return (None, out) };
        sa.hs.dh = Some(dh);
        sa.set_choice(choice);
        if sa.derive(&gxy).is_none() {
            return (None, out);
        }
        let idr = our_id(&cfg);
        let hash_r = sa.auth_hash(false, &idr.body_bytes());
        let mut payloads = vec![
            Payload::Sa(answer),
            Payload::Ke(sa.hs.gxr.clone()),
            Payload::Nonce(sa.hs.nr.clone()),
            Payload::Id(idr),
            Payload::Hash(hash_r.as_bytes().to_vec()),
        ];
        if sa.peer_nat_t {
            let hash = choice.prf.hash();
            payloads.extend(nat::natd_payloads(hash, sa.cky_i, sa.cky_r, sa.local, sa.remote));
        }
        payloads.extend(vids(&cfg));
        sa.hs_idi = Some(idi.clone());
        let h = Header::new(sa.cky_i, sa.cky_r, ExchangeType::AGGRESSIVE, 0);
        sa.step = Step::RAm3;
        sa.waiting_for = 3;
        if let Ok(msg) = (Message { header: h, payloads }).encode() {
            // The initiator's message 3 is not answered: we retransmit 2 until it arrives.
            sa.send_p1(now, msg, true, &mut out);
        }
        (Some(sa), out)
    }

    fn set_choice(&mut self, c: Ph1Choice) {
        self.proposal = c.describe();
        self.hs_choice = Some(c);
    }

    /// SKEYID and friends, the cipher and the first IV, once g^xy and both nonces are known.
    fn derive(&mut self, gxy: &Secret) -> Option<()> {
        let c = self.hs_choice?;
        let skeyid = v1crypto::skeyid_psk(c.prf, self.cfg.peer.psk.as_bytes(), &self.hs.ni, &self.hs.nr);
        let keys =
            v1crypto::derive(c.prf, skeyid, gxy, self.cky_i, self.cky_r, c.encr.key_bits() as usize / 8);
        let cipher = v1crypto::ph1_cipher(c.encr, &keys.enc).ok()?;
        let iv = v1crypto::phase1_iv(c.prf, &self.hs.gxi, &self.hs.gxr, cipher.alg().block_len());
        self.p1 = Some(P1 { choice: c, keys, cipher, iv });
        Some(())
    }

    /// HASH_I (`initiator`) or HASH_R over the given ID payload body.
    fn auth_hash(&self, initiator: bool, id_b: &[u8]) -> Secret {
        let Some(p1) = self.p1.as_ref() else { return Secret::default() };
        let (ci, cr) = (self.cky_i.to_be_bytes(), self.cky_r.to_be_bytes());
        let k = p1.keys.skeyid.as_bytes();
        let hs = &self.hs;
        if initiator {
            p1.choice.prf.prf(k, &[&hs.gxi, &hs.gxr, &ci, &cr, &hs.sa_i_b, id_b])
        } else {
            p1.choice.prf.prf(k, &[&hs.gxr, &hs.gxi, &cr, &ci, &hs.sa_i_b, id_b])
        }
    }

    fn auth_failed(&mut self, detail: String, out: &mut Vec<Output>) {
        let f =
            fail(FailureKind::AuthenticationFailed, format!("phase 1 failed: {detail}: check the PSK/IDs"));
        self.die(Event::Failed(f), out);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn phase1_datagram(
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
        if h.message_id != 0 {
            return;
        }
        // A repeat of the last message we answered: answer it again.
        if bytes == self.p1_last_rx.as_slice() {
            if let Some(tx) = &self.p1_last_tx {
                out.push(Output::Send(crate::sa::Datagram {
                    src: self.local,
                    dst: self.remote,
                    bytes: tx.clone(),
                }));
            }
            return;
        }
        match (self.step, h.exchange) {
            (Step::Mm2, ExchangeType::IDENTITY_PROTECTION) => self.i_mm2(now, bytes, h, rng, out),
            (Step::Mm4, ExchangeType::IDENTITY_PROTECTION) => self.i_mm4(now, bytes, h, rng, out),
            (Step::Mm6, ExchangeType::IDENTITY_PROTECTION) => {
                self.i_mm6(now, src, dst, bytes, h, body, rng, out)
            }
            (Step::RMm3, ExchangeType::IDENTITY_PROTECTION) => self.r_mm3(now, src, dst, bytes, h, rng, out),
            (Step::RMm5, ExchangeType::IDENTITY_PROTECTION) => {
                self.r_mm5(now, src, dst, bytes, h, body, rng, out)
            }
            (Step::Am2, ExchangeType::AGGRESSIVE) => self.i_am2(now, bytes, h, rng, out),
            (Step::RAm3, ExchangeType::AGGRESSIVE) => self.r_am3(now, src, dst, bytes, h, body, rng, out),
            _ => {}
        }
    }

    /// Checks the responder's single chosen transform against what we offered.
    fn check_answer(&self, sa: &codec::sa::SaPayload) -> Result<Ph1Choice, Failure> {
        let t = match sa.proposals.as_slice() {
            [p] if p.transforms.len() == 1 => &p.transforms[0],
            _ => {
                return Err(fail(
                    FailureKind::Protocol,
                    "phase 1 failed: the responder chose not exactly one transform",
                ))
            }
        };
        let c = proposal::ph1_read(t, self.cfg.peer.allow_weak_dh).map_err(|e| {
            fail(FailureKind::NoProposalChosen, format!("phase 1 failed: responder chose {e}"))
        })?;
        if !proposal::ph1_acceptable(&self.cfg.peer.ike_proposals, &c) {
            return Err(fail(
                FailureKind::NoProposalChosen,
                format!("phase 1 failed: responder chose {}, which we did not offer", c.describe()),
            ));
        }
        Ok(c)
    }

    fn i_mm2(
        &mut self,
        now: Instant,
        bytes: &[u8],
        h: &Header,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let Ok(m) = Message::parse(bytes) else { return };
        let Some(sa) = sa_of(&m.payloads) else { return };
        if h.cky_r == 0 {
            return;
        }
        let c = match self.check_answer(sa) {
            Ok(c) => c,
            Err(f) => return self.die(Event::Failed(f), out),
        };
        let dh = match DhPrivateKey::generate(c.group, self.cfg.peer.allow_weak_dh, rng) {
            Ok(d) => d,
            Err(_) => return,
        };
        self.cky_r = h.cky_r;
        self.peer_nat_t = self.cfg.nat_t && has_vid(&m.payloads, &VID_RFC3947);
        self.peer_dpd = has_vid(&m.payloads, &VID_DPD);
        self.set_choice(c);
        self.hs.gxi = dh.public_value();
        self.hs.ni = nonce(rng);
        self.hs.dh = Some(dh);
        let mut payloads = vec![Payload::Ke(self.hs.gxi.clone()), Payload::Nonce(self.hs.ni.clone())];
        if self.peer_nat_t {
            payloads.extend(nat::natd_payloads(
                c.prf.hash(),
                self.cky_i,
                self.cky_r,
                self.local,
                self.remote,
            ));
        }
        self.p1_last_rx = bytes.to_vec();
        self.last_rx = now;
        self.step = Step::Mm4;
        self.waiting_for = 4;
        let h = Header::new(self.cky_i, self.cky_r, ExchangeType::IDENTITY_PROTECTION, 0);
        if let Ok(msg) = (Message { header: h, payloads }).encode() {
            self.send_p1(now, msg, true, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn r_mm3(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        bytes: &[u8],
        h: &Header,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let Ok(m) = Message::parse(bytes) else { return };
        let (Some(gxi), Some(ni)) = (ke(&m.payloads), nonce_of(&m.payloads)) else { return };
        let Some(c) = self.hs_choice else { return };
        if h.cky_r != self.cky_r {
            return;
        }
        let Ok(dh) = DhPrivateKey::generate(c.group, self.cfg.peer.allow_weak_dh, rng) else { return };
        let Ok(gxy) = dh.shared_secret(gxi) else {
            let f = fail(
                FailureKind::Protocol,
                format!("phase 1 failed: invalid KE from {src} for {:?}", c.group),
            );
            return self.die(Event::Failed(f), out);
        };
        self.hs.gxi = gxi.clone();
        self.hs.gxr = dh.public_value();
        self.hs.ni = ni.clone();
        self.hs.nr = nonce(rng);
        self.hs.dh = Some(dh);
        if self.derive(&gxy).is_none() {
            return;
        }
        if self.peer_nat_t {
            self.nat = nat::detect(c.prf.hash(), &m.payloads, self.cky_i, self.cky_r, src, dst);
        }
        let mut payloads = vec![Payload::Ke(self.hs.gxr.clone()), Payload::Nonce(self.hs.nr.clone())];
        if self.peer_nat_t {
            payloads.extend(nat::natd_payloads(c.prf.hash(), self.cky_i, self.cky_r, dst, src));
        }
        self.p1_last_rx = bytes.to_vec();
        self.last_rx = now;
        self.step = Step::RMm5;
        self.waiting_for = 5;
        let h = Header::new(self.cky_i, self.cky_r, ExchangeType::IDENTITY_PROTECTION, 0);
        if let Ok(msg) = (Message { header: h, payloads }).encode() {
            self.send_p1(now, msg, false, out);
        }
    }

    fn i_mm4(
        &mut self,
        now: Instant,
        bytes: &[u8],
        h: &Header,
        _rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let Ok(m) = Message::parse(bytes) else { return };
        let (Some(gxr), Some(nr)) = (ke(&m.payloads), nonce_of(&m.payloads)) else { return };
        let Some(c) = self.hs_choice else { return };
        let Some(gxy) = self.hs.dh.as_ref().and_then(|d| d.shared_secret(gxr).ok()) else {
            let f = fail(FailureKind::Protocol, format!("phase 1 failed: invalid KE from {}", self.remote));
            return self.die(Event::Failed(f), out);
        };
        let _ = h;
        self.hs.gxr = gxr.clone();
        self.hs.nr = nr.clone();
        if self.derive(&gxy).is_none() {
            return;
        }
        if self.peer_nat_t {
            self.nat =
                nat::detect(c.prf.hash(), &m.payloads, self.cky_i, self.cky_r, self.remote, self.local);
            if self.nat.any() {
                self.float();
            }
        }
        let idi = our_id(&self.cfg);
        let hash_i = self.auth_hash(true, &idi.body_bytes());
        let payloads = [Payload::Id(idi), Payload::Hash(hash_i.as_bytes().to_vec())];
        let Some(mut iv) = self.p1.as_ref().map(|p| p.iv.clone()) else { return };
        let h = Header::new(self.cky_i, self.cky_r, ExchangeType::IDENTITY_PROTECTION, 0);
        let Some(msg) = self.seal(h, &payloads, &mut iv) else { return };
        if let Some(p1) = self.p1.as_mut() {
            p1.iv = iv;
        }
        self.p1_last_rx = bytes.to_vec();
        self.last_rx = now;
        self.step = Step::Mm6;
        self.waiting_for = 6;
        self.send_p1(now, msg, true, out);
    }

    /// Decrypts a phase 1 message with the chained IV; returns the payloads and next IV.
    fn open_p1(&self, h: &Header, body: &[u8]) -> Option<(Vec<Payload>, Vec<u8>)> {
        let p1 = self.p1.as_ref()?;
        if !h.flags.encrypted() {
            return None;
        }
        let (plain, next) = v1crypto::decrypt(&p1.cipher, &p1.iv, body).ok()?;
        let (payloads, _) = codec::decode_chain(h.next, &plain, true).ok()?;
        Some((payloads, next))
    }

    #[allow(clippy::too_many_arguments)]
    fn r_mm5(
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
        let Some((payloads, next_iv)) = self.open_p1(h, body) else {
            self.send_plain_notify(NotifyType::AUTHENTICATION_FAILED, rng, out);
            return self.auth_failed(
                format!(
                    "message 5 from {src} does not decrypt to a valid message (the pre-shared keys differ?)"
                ),
                out,
            );
        };
        let (Some(idi), Some(hash_i)) = (id_of(&payloads), hash_of(&payloads)) else {
            return self.auth_failed(format!("message 5 from {src} lacks ID or HASH"), out);
        };
        if !peer_id_ok(&self.cfg, idi) {
            self.send_info_auth_failed(rng, out);
            let f = fail(
                FailureKind::IdentityMismatch,
                format!(
                    "phase 1 failed: {src} identifies as {}, not the configured peer ID: check the PSK/IDs",
                    describe_id(idi)
                ),
            );
            return self.die(Event::Failed(f), out);
        }
        if !self.auth_hash(true, &idi.body_bytes()).ct_eq(hash_i) {
            self.send_info_auth_failed(rng, out);
            return self.auth_failed(
                format!("HASH_I from {} ({src}) does not verify with our pre-shared key", describe_id(idi)),
                out,
            );
        }
        if let Some(p1) = self.p1.as_mut() {
            p1.iv = next_iv;
        }
        // The initiator floated to 4500: follow it.
        if dst.port() == NAT_T_PORT {
            self.local = dst;
            self.remote = src;
        }
        let idr = our_id(&self.cfg);
        let hash_r = self.auth_hash(false, &idr.body_bytes());
        let payloads = [Payload::Id(idr), Payload::Hash(hash_r.as_bytes().to_vec())];
        let Some(mut iv) = self.p1.as_ref().map(|p| p.iv.clone()) else { return };
        let hdr = Header::new(self.cky_i, self.cky_r, ExchangeType::IDENTITY_PROTECTION, 0);
        let Some(msg) = self.seal(hdr, &payloads, &mut iv) else { return };
        if let Some(p1) = self.p1.as_mut() {
            p1.iv = iv;
        }
        self.p1_last_rx = bytes.to_vec();
        self.send_p1(now, msg, false, out);
        self.established(now, rng, out);
    }

    fn send_info_auth_failed(&self, rng: &mut impl CryptoRngCore, out: &mut Vec<Output>) {
        self.send_plain_notify(NotifyType::AUTHENTICATION_FAILED, rng, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn i_mm6(
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
        let _ = (src, dst);
        let Some((payloads, next_iv)) = self.open_p1(h, body) else { return };
        let (Some(idr), Some(hash_r)) = (id_of(&payloads), hash_of(&payloads)) else { return };
        if !peer_id_ok(&self.cfg, idr) {
            let f = fail(
                FailureKind::IdentityMismatch,
                format!(
                    "phase 1 failed: {} identifies as {}, not the configured peer ID: check the PSK/IDs",
                    self.remote,
                    describe_id(idr)
                ),
            );
            return self.die(Event::Failed(f), out);
        }
        if !self.auth_hash(false, &idr.body_bytes()).ct_eq(hash_r) {
            return self.auth_failed(
                format!(
                    "HASH_R from {} ({}) does not verify with our pre-shared key",
                    describe_id(idr),
                    self.remote
                ),
                out,
            );
        }
        if let Some(p1) = self.p1.as_mut() {
            p1.iv = next_iv;
        }
        self.p1_last_rx = bytes.to_vec();
        self.p1_out = None;
        self.established(now, rng, out);
    }

    fn i_am2(
        &mut self,
        now: Instant,
        bytes: &[u8],
        h: &Header,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let Ok(m) = Message::parse(bytes) else { return };
        let (Some(sa), Some(gxr), Some(nr), Some(idr), Some(hash_r)) = (
            sa_of(&m.payloads),
            ke(&m.payloads),
            nonce_of(&m.payloads),
            id_of(&m.payloads),
            hash_of(&m.payloads),
        ) else {
            return;
        };
        if h.cky_r == 0 {
            return;
        }
        let c = match self.check_answer(sa) {
            Ok(c) => c,
            Err(f) => return self.die(Event::Failed(f), out),
        };
        let Some(gxy) =
            self.hs.dh.as_ref().filter(|d| d.group() == c.group).and_then(|d| d.shared_secret(gxr).ok())
        else {
            return;
        };
        self.cky_r = h.cky_r;
        self.peer_nat_t = self.cfg.nat_t && has_vid(&m.payloads, &VID_RFC3947);
        self.peer_dpd = has_vid(&m.payloads, &VID_DPD);
        self.set_choice(c);
        self.hs.gxr = gxr.clone();
        self.hs.nr = nr.clone();
        if self.derive(&gxy).is_none() {
            return;
        }
        if !peer_id_ok(&self.cfg, idr) {
            let f = fail(
                FailureKind::IdentityMismatch,
                format!(
                    "phase 1 failed: {} identifies as {}: check the PSK/IDs",
                    self.remote,
                    describe_id(idr)
                ),
            );
            return self.die(Event::Failed(f), out);
        }
        if !self.auth_hash(false, &idr.body_bytes()).ct_eq(hash_r) {
            return self.auth_failed(
                format!(
                    "HASH_R from {} ({}) does not verify with our pre-shared key",
                    describe_id(idr),
                    self.remote
                ),
                out,
            );
        }
        let mut payloads =
            vec![Payload::Hash(self.auth_hash(true, &our_id(&self.cfg).body_bytes()).as_bytes().to_vec())];
        if self.peer_nat_t {
            self.nat =
                nat::detect(c.prf.hash(), &m.payloads, self.cky_i, self.cky_r, self.remote, self.local);
            payloads.extend(nat::natd_payloads(
                c.prf.hash(),
                self.cky_i,
                self.cky_r,
                self.local,
                self.remote,
            ));
            if self.nat.any() {
                self.float();
            }
        }
        let Some(mut iv) = self.p1.as_ref().map(|p| p.iv.clone()) else { return };
        let hdr = Header::new(self.cky_i, self.cky_r, ExchangeType::AGGRESSIVE, 0);
        let Some(msg) = self.seal(hdr, &payloads, &mut iv) else { return };
        if let Some(p1) = self.p1.as_mut() {
            p1.iv = iv;
        }
        self.p1_last_rx = bytes.to_vec();
        self.send_p1(now, msg, false, out);
        self.established(now, rng, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn r_am3(
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
        let Some((payloads, next_iv)) = self.open_p1(h, body) else {
            self.send_plain_notify(NotifyType::AUTHENTICATION_FAILED, rng, out);
            return self.auth_failed(format!("aggressive mode message 3 from {src} does not decrypt"), out);
        };
        let Some(hash_i) = hash_of(&payloads) else { return };
        let Some(idi) = self.hs_idi.clone() else { return };
        if !self.auth_hash(true, &idi.body_bytes()).ct_eq(hash_i) {
            self.send_plain_notify(NotifyType::AUTHENTICATION_FAILED, rng, out);
            return self.auth_failed(
                format!("HASH_I from {} ({src}) does not verify with our pre-shared key", describe_id(&idi)),
                out,
            );
        }
        if let Some(p1) = self.p1.as_mut() {
            p1.iv = next_iv;
        }
        if self.peer_nat_t {
            if let Some(c) = self.hs_choice {
                self.nat = nat::detect(c.prf.hash(), &payloads, self.cky_i, self.cky_r, src, dst);
            }
        }
        if dst.port() == NAT_T_PORT {
            self.local = dst;
            self.remote = src;
        }
        self.p1_last_rx = bytes.to_vec();
        self.p1_last_tx = None;
        self.p1_out = None;
        self.established(now, rng, out);
    }

    /// Phase 1 is up: report it, forget the handshake, start the quick modes to start.
    fn established(&mut self, now: Instant, rng: &mut impl CryptoRngCore, out: &mut Vec<Output>) {
        self.step = Step::Established;
        self.waiting_for = 0;
        self.last_rx = now;
        self.established_at = Some(now);
        let dh = self.hs.dh.take();
        drop(dh);
        self.hs = Handshake { sa_i_b: Vec::new(), ..Handshake::default() };
        out.push(Output::Event(Event::IkeEstablished {
            spi_i: self.cky_i,
            spi_r: self.cky_r,
            proposal: self.proposal.clone(),
            nat: self.nat,
        }));
        if self.initiator && !self.replacing {
            for i in 0..self.cfg.peer.children.len() {
                if self.cfg.peer.children[i].start_action == StartAction::Start {
                    self.start_quick(now, i, None, rng, out);
                }
            }
        }
    }
}
