//! IKEv1 peers (`version: 1`) in the IKE driver: the same shell as for IKEv2, around the
//! sans-I/O [`ike::v1::IsakmpSa`] instead of [`ike::sa::IkeSa`].
//!
//! Both state machines speak the same [`Output`] (datagrams, `InstallChild`, `DeleteChild`,
//! events), so the pieces that touch the data plane are the IKEv2 driver's own: [`install`]
//! (one inbound and one outbound SA per quick mode, keyed policies, and make-before-break
//! through [`SadbBuilder::rekey`] when a quick mode replaces an SA pair), [`remove_all`], the
//! per-peer bookkeeping [`Peer`] (installed slots, status records, counters) and [`Tally`].
//! What is IKEv1's own lives here:
//!
//! * demultiplexing by the ISAKMP version byte (both versions share UDP 500/4500);
//! * one quick mode per configured child (policy pair) under one phase 1; a pair that fails
//!   is retried on its own after [`RETRY_AFTER_FAILURE`], the others stay up, and status
//!   says "partially up";
//! * failures phrased per phase: "phase 1 failed: no proposal chosen — …", "phase 2 failed
//!   for 'net': …".

use super::{
    install, remove_all, uninstall, ChildView, Effects, FailureView, Peer, PeerView, Tally,
    RETRY_AFTER_FAILURE, RETRY_FIRST,
};
use crate::config::ike::IkeConfig;
use crate::ipsec::sa::SaCounters;
use crate::ipsec::sadb::SadbBuilder;
use ike::sa::{DpdAction, Event, Failure, Output, StartAction};
use ike::v1::{IsakmpSa, V1Config};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Is this UDP payload (non-ESP marker included on port 4500) an ISAKMP (IKEv1) message?
/// The major version is the high nibble of byte 17 of the header (RFC 2408 §3.1).
pub(super) fn is_ikev1(dst: SocketAddr, payload: &[u8]) -> bool {
    let msg = if dst.port() == 4500 { payload.strip_prefix(&[0u8; 4][..]) } else { Some(payload) };
    msg.and_then(|m| m.get(17)).is_some_and(|v| v >> 4 == 1)
}

/// What `espgw status` shows of an IKEv1 peer beyond the shared [`PeerView`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1View {
    /// main | aggressive
    pub mode: String,
    /// established | connecting | down
    pub phase1: String,
    /// up | partially up | connecting | failed | down
    pub phase2: String,
    /// One entry per configured child: a quick mode's policy pair.
    pub pairs: Vec<PairView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairView {
    pub name: String,
    pub local_ts: String,
    pub remote_ts: String,
    /// up | failed | pending
    pub state: String,
    /// The last failure of this pair's quick mode since it was last up.
    pub failure: Option<String>,
}

struct V1Peer {
    cfg: Arc<V1Config>,
    /// The bookkeeping shared with IKEv2 peers; its `sa` stays `None`.
    base: Peer,
    sa: Option<IsakmpSa>,
    /// A phase 1 re-authenticating `sa` (ours or the peer's), until it is established and
    /// takes `sa`'s IPsec SAs over (see [`ike::v1::reauth`]).
    next: Option<IsakmpSa>,
    /// No new re-authentication of ours before this (one failed).
    reauth_not_before: Option<Instant>,
    /// Child name → its last quick mode failure, until it comes up.
    pair_failures: HashMap<String, String>,
    /// Child name → when to start its quick mode again (we started it and it failed).
    pair_retry: HashMap<String, Instant>,
}

pub(super) struct V1Peers {
    peers: Vec<V1Peer>,
}

impl V1Peers {
    /// The `version: 1` peers of a validated `ike:` section.
    pub(super) fn new(cfg: &IkeConfig, now: Instant) -> Result<V1Peers, String> {
        let mut peers = Vec::new();
        for p in cfg.peers.iter().filter(|p| p.is_v1()) {
            let v1 = Arc::new(p.to_v1_config().map_err(|e| format!("ike peer {}: {e}", p.name))?);
            for w in v1.warnings() {
                tracing::warn!(target: "gateway::ike", peer = %p.name, "WARNING: {w}");
            }
            peers.push(V1Peer {
                base: Peer {
                    cfg: Arc::new(v1.peer.clone()),
                    initiates: p.initiates(),
                    sa: None,
                    initiator: false,
                    installed: HashMap::new(),
                    records: HashMap::new(),
                    tally: Tally::default(),
                    established: None,
                    failure: None,
                    retry_at: p.initiates().then_some(now),
                    failures_in_row: 0,
                    installs: 0,
                    admin_down: false,
                    admin_up: false,
                    traps: Vec::new(),
                },
                cfg: v1,
                sa: None,
                next: None,
                reauth_not_before: None,
                pair_failures: HashMap::new(),
                pair_retry: HashMap::new(),
            });
        }
        Ok(V1Peers { peers })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    pub(super) fn handle_datagram(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        sadb: &mut SadbBuilder,
        fx: &mut Effects,
    ) {
        let rng = &mut OsRng;
        if let Some(peer) = self
            .peers
            .iter_mut()
            .find(|p| p.next.as_ref().is_some_and(|sa| sa.matches_datagram(dst, payload)))
        {
            let Some(next) = peer.next.as_mut() else { return };
            let out = next.handle_datagram(now, src, dst, payload, rng);
            apply_next(peer, out, now, sadb, fx);
            return;
        }
        if let Some(peer) =
            self.peers.iter_mut().find(|p| p.sa.as_ref().is_some_and(|sa| sa.matches_datagram(dst, payload)))
        {
            let Some(sa) = peer.sa.as_mut() else { return };
            let out = sa.handle_datagram(now, src, dst, payload, rng);
            apply(peer, out, now, sadb, fx);
            return;
        }
        // A phase 1 message 1: the peer is the one configured for these addresses.
        let Some(peer) = self
            .peers
            .iter_mut()
            .find(|p| p.cfg.peer.remote.ip() == src.ip() && p.cfg.peer.local.ip() == dst.ip())
        else {
            tracing::debug!(target: "gateway::ike", %src, %dst, "IKEv1 datagram from no configured IKEv1 peer");
            return;
        };
        if peer.base.admin_down {
            tracing::debug!(target: "gateway::ike", peer = %peer.cfg.peer.name, "phase 1 ignored: tunnel is administratively down");
            return;
        }
        let up = peer.sa.as_ref().is_some_and(|s| s.is_established());
        if up {
            // Our own re-authentication crossed the peer's: the higher initiator cookie wins.
            let msg = if dst.port() == 4500 { payload.strip_prefix(&[0u8; 4][..]) } else { Some(payload) };
            let theirs = msg
                .and_then(|b| b.get(..8))
                .map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap_or_default()));
            if peer.next.as_ref().is_some_and(|n| n.is_initiator() && n.cookies().0 > theirs) {
                tracing::debug!(target: "gateway::ike", peer = %peer.cfg.peer.name, "phase 1 re-authentications crossed: ours goes on");
                return;
            }
        }
        let (sa, out) = IsakmpSa::accept(peer.cfg.clone(), now, src, dst, payload, rng);
        let Some(sa) = sa else {
            // Not a message 1, or refused (the refusal's notify and failure are in `out`).
            if up {
                fx.sends.extend(out.into_iter().filter_map(|o| match o {
                    Output::Send(d) => Some(d),
                    _ => None,
                }));
            } else {
                apply(peer, out, now, sadb, fx);
            }
            return;
        };
        if up {
            // The peer re-authenticates: the new ISAKMP SA takes the IPsec SAs over once up.
            tracing::info!(target: "gateway::ike", peer = %peer.cfg.peer.name, %src, "phase 1 re-authentication from peer (responder)");
            peer.next = Some(sa);
            apply_next(peer, out, now, sadb, fx);
            return;
        }
        if let Some(mut old) = peer.sa.take() {
            tracing::info!(target: "gateway::ike", peer = %peer.cfg.peer.name, "peer started a new phase 1; dropping the old ISAKMP SA");
            drop(old.delete_ike(now, rng));
            remove_all(&mut peer.base, sadb, fx);
        }
        tracing::info!(target: "gateway::ike", peer = %peer.cfg.peer.name, %src, "IKEv1 phase 1 from peer (responder)");
        peer.base.tally.up = false;
        peer.base.initiator = false;
        peer.base.retry_at = None;
        peer.pair_retry.clear();
        peer.sa = Some(sa);
        apply(peer, out, now, sadb, fx);
    }

    /// Starts phase 1 and retries failed quick modes when due; retransmits, phase 2 rekeys,
    /// DPD.
    pub(super) fn tick(&mut self, now: Instant, sadb: &mut SadbBuilder, fx: &mut Effects) {
        let rng = &mut OsRng;
        for peer in &mut self.peers {
            if peer.sa.is_none()
                && (peer.base.initiates || peer.base.admin_up)
                && !peer.base.admin_down
                && peer.base.retry_at.is_some_and(|t| t <= now)
            {
                peer.base.retry_at = None;
                peer.pair_retry.clear();
                tracing::info!(target: "gateway::ike", peer = %peer.cfg.peer.name, remote = %peer.cfg.peer.remote,
                    mode = if peer.cfg.aggressive { "aggressive" } else { "main" }, "initiating IKEv1 phase 1");
                let (sa, out) = IsakmpSa::initiate(peer.cfg.clone(), now, rng);
                peer.sa = Some(sa);
                peer.base.initiator = true;
                apply(peer, out, now, sadb, fx);
            }
            let due: Vec<String> =
                peer.pair_retry.iter().filter(|(_, t)| **t <= now).map(|(n, _)| n.clone()).collect();
            for name in due {
                peer.pair_retry.remove(&name);
                let out = match peer.sa.as_mut().filter(|s| s.is_established()) {
                    Some(sa) => sa.initiate_child(now, &name, rng),
                    None => continue,
                };
                tracing::info!(target: "gateway::ike", peer = %peer.cfg.peer.name, child = %name, "retrying quick mode");
                apply(peer, out, now, sadb, fx);
            }
            let reauth = peer.sa.as_ref().and_then(|s| s.reauth_at());
            if peer.next.is_none()
                && !peer.base.admin_down
                && reauth.is_some_and(|t| t <= now)
                && peer.reauth_not_before.is_none_or(|t| t <= now)
            {
                tracing::info!(target: "gateway::ike", peer = %peer.cfg.peer.name, "phase 1 lifetime nearly over: re-authenticating (new phase 1)");
                let (next, out) = IsakmpSa::reauthenticate(peer.cfg.clone(), now, rng);
                peer.next = Some(next);
                apply_next(peer, out, now, sadb, fx);
            }
            if peer.next.as_ref().and_then(|n| n.poll_timeout()).is_some_and(|t| t <= now) {
                let out = match peer.next.as_mut() {
                    Some(n) => n.handle_timeout(now, rng),
                    None => continue,
                };
                apply_next(peer, out, now, sadb, fx);
            }
            let due = peer.sa.as_ref().and_then(|sa| sa.poll_timeout()).is_some_and(|t| t <= now);
            if due {
                let out = match peer.sa.as_mut() {
                    Some(sa) => sa.handle_timeout(now, rng),
                    None => continue,
                };
                apply(peer, out, now, sadb, fx);
            }
        }
    }

    /// `espgw tunnel up|down` for an IKEv1 peer (see [`super::IkeDriver::set_admin`]); `None`
    /// when no IKEv1 peer has that name.
    pub(super) fn set_admin(
        &mut self,
        name: &str,
        up: bool,
        now: Instant,
        sadb: &mut SadbBuilder,
        fx: &mut Effects,
    ) -> Option<String> {
        let peer = self.peers.iter_mut().find(|p| p.cfg.peer.name == name)?;
        if up {
            peer.base.admin_down = false;
            peer.base.admin_up = true;
            if peer.sa.is_some() {
                return Some(format!("{name}: already up or negotiating"));
            }
            peer.base.retry_at = Some(now);
            return Some(format!("{name}: initiating"));
        }
        peer.base.admin_down = true;
        peer.base.admin_up = false;
        peer.base.retry_at = None;
        peer.pair_retry.clear();
        peer.close(now, sadb, fx);
        tracing::info!(target: "gateway::ike", peer = %name, "tunnel down (administrative): phase 1 and 2 deleted");
        Some(format!("{name}: down"))
    }

    /// For [`super::IkeDriver::reload`]: each of these peers moves into `fresh` when
    /// `unchanged` says its configuration is the same, else it is closed (deletes sent, SAs
    /// removed). Names go to `kept` or `closed`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn reload_into(
        &mut self,
        fresh: &mut V1Peers,
        unchanged: &dyn Fn(&str) -> bool,
        now: Instant,
        sadb: &mut SadbBuilder,
        fx: &mut Effects,
        kept: &mut Vec<String>,
        closed: &mut Vec<String>,
    ) {
        for mut p in std::mem::take(&mut self.peers) {
            let name = p.cfg.peer.name.clone();
            match fresh.peers.iter().position(|f| f.cfg.peer.name == name) {
                Some(i) if unchanged(&name) => {
                    fresh.peers[i] = p;
                    kept.push(name);
                }
                _ => {
                    p.close(now, sadb, fx);
                    closed.push(name);
                }
            }
        }
    }

    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        self.peers.iter().map(|p| p.cfg.peer.name.as_str())
    }

    /// Deletes every IPsec SA and ISAKMP SA (on shutdown): the deletes go out once.
    pub(super) fn shutdown(&mut self, now: Instant, sadb: &mut SadbBuilder, fx: &mut Effects) {
        for peer in &mut self.peers {
            peer.close(now, sadb, fx);
        }
    }

    pub(super) fn view(&self, now: Instant) -> Vec<PeerView> {
        self.peers.iter().map(|p| p.view(now)).collect()
    }
}

impl V1Peer {
    /// Deletes the ISAKMP SA with the peer (the deletes go out once, unanswered) and takes its
    /// IPsec SAs out of the data plane.
    fn close(&mut self, now: Instant, sadb: &mut SadbBuilder, fx: &mut Effects) {
        for mut sa in [self.next.take(), self.sa.take()].into_iter().flatten() {
            fx.sends.extend(sa.delete_ike(now, &mut OsRng).into_iter().filter_map(|o| match o {
                Output::Send(d) => Some(d),
                _ => None,
            }));
        }
        remove_all(&mut self.base, sadb, fx);
    }

    fn view(&self, now: Instant) -> PeerView {
        let sa = self.sa.as_ref();
        let up = sa.is_some_and(|s| s.is_established());
        let phase1 = match sa {
            Some(s) if s.is_established() => "established",
            Some(s) if !s.is_dead() => "connecting",
            _ if self.base.admin_down => "admin-down",
            _ => "down",
        };
        let installed = sa.map(|s| s.child_sas()).unwrap_or_default();
        let schedule = sa.map(|s| s.child_schedule()).unwrap_or_default();
        let left = |t: Instant| t.saturating_duration_since(now).as_secs();
        let children: Vec<ChildView> = installed
            .into_iter()
            .map(|c| {
                let rec =
                    self.base.records.get(&c.spi_in).filter(|_| self.base.installed.contains_key(&c.spi_in));
                let count = |k: Option<&Arc<SaCounters>>| {
                    k.map_or((0, 0), |k| (k.packets.load(Ordering::Relaxed), k.bytes.load(Ordering::Relaxed)))
                };
                let (packets_in, bytes_in) = count(rec.map(|r| &r.counters_in));
                let (packets_out, bytes_out) = count(rec.map(|r| &r.counters_out));
                let sched = schedule.iter().find(|x| x.spi_in == c.spi_in);
                ChildView {
                    installed: rec.is_some(),
                    name: c.name,
                    spi_in: c.spi_in,
                    spi_out: c.spi_out,
                    state: sched.map_or("installed", |x| x.state).into(),
                    esp: rec.map(|r| r.esp.clone()).unwrap_or_default(),
                    udp_encap: rec.is_some_and(|r| r.udp_encap),
                    local_ts: rec.map(|r| r.local_ts.clone()).unwrap_or_default(),
                    remote_ts: rec.map(|r| r.remote_ts.clone()).unwrap_or_default(),
                    packets_in,
                    bytes_in,
                    packets_out,
                    bytes_out,
                    rekey_in_s: sched.and_then(|x| x.rekey_at).map(left),
                }
            })
            .collect();
        let pairs: Vec<PairView> = self
            .cfg
            .peer
            .children
            .iter()
            .map(|c| {
                let is_up = up && children.iter().any(|v| v.name == c.name && v.installed);
                let failure = self.pair_failures.get(&c.name).filter(|_| !is_up).cloned();
                let state = if is_up {
                    "up"
                } else if failure.is_some() {
                    "failed"
                } else {
                    "pending"
                };
                PairView {
                    name: c.name.clone(),
                    local_ts: c.local_ts.first().map(super::ts_text).unwrap_or_default(),
                    remote_ts: c.remote_ts.first().map(super::ts_text).unwrap_or_default(),
                    state: state.into(),
                    failure,
                }
            })
            .collect();
        let n_up = pairs.iter().filter(|p| p.state == "up").count();
        let phase2 = if !up {
            "down".to_string()
        } else if n_up == pairs.len() {
            "up".to_string()
        } else if n_up > 0 {
            format!("partially up ({n_up} of {} pairs)", pairs.len())
        } else if pairs.iter().any(|p| p.state == "failed") {
            "failed".to_string()
        } else {
            "connecting".to_string()
        };
        let est = self.base.established.as_ref().filter(|_| up);
        PeerView {
            name: self.cfg.peer.name.clone(),
            local: self.cfg.peer.local.ip().to_string(),
            remote: self.cfg.peer.remote.ip().to_string(),
            state: phase1.to_string(),
            role: sa.map(|_| if self.base.initiator { "initiator" } else { "responder" }.to_string()),
            spi_i: sa.map(|s| format!("{:016x}", s.cookies().0)),
            spi_r: sa.map(|s| format!("{:016x}", s.cookies().1)),
            proposal: est.map(|e| e.1.clone()),
            nat: est.map(|e| e.2.clone()),
            established_s: est.map(|e| now.saturating_duration_since(e.0).as_secs()),
            ike_rekey_in_s: sa
                .and_then(|s| s.reauth_at())
                .filter(|_| up)
                .map(|t| t.saturating_duration_since(now).as_secs()),
            children,
            last_failure: self.base.failure.as_ref().map(|(t, phase, reason)| FailureView {
                phase: phase.clone(),
                reason: reason.clone(),
                seconds_ago: now.saturating_duration_since(*t).as_secs(),
            }),
            counters: self.base.tally.counters.clone(),
            version: 1,
            ikev1: Some(V1View {
                mode: if self.cfg.aggressive { "aggressive" } else { "main" }.into(),
                phase1: phase1.into(),
                phase2,
                pairs,
            }),
        }
    }
}

/// `phase 1 failed: no proposal chosen — peer offered …, we accept …`: the phase, then the
/// kind of failure, then the state machine's detail (without its own phase prefix).
fn phrase(head: &str, f: &Failure) -> String {
    let full = f.to_string();
    let kind = full.split_once(": ").map_or(full.as_str(), |(k, _)| k);
    let detail = ["phase 1 failed: ", "ISAKMP SA failed: "]
        .iter()
        .find_map(|p| f.detail.strip_prefix(p))
        .unwrap_or(&f.detail);
    format!("{head}: {kind} — {detail}")
}

/// Carries out what the state machine asked for, in order.
fn apply(peer: &mut V1Peer, out: Vec<Output>, now: Instant, sadb: &mut SadbBuilder, fx: &mut Effects) {
    peer.base.tally.observe(&out);
    let name = peer.cfg.peer.name.clone();
    for o in out {
        match o {
            Output::Send(d) => fx.sends.push(d),
            Output::InstallChild(c) => match install(&name, &c, &mut peer.base, sadb) {
                Ok(()) => {
                    fx.sadb_changed = true;
                    peer.pair_failures.remove(&c.name);
                    tracing::info!(target: "gateway::ike", peer = %name, child = %c.name,
                        spi_in = %format_args!("{:08x}", c.spi_in), spi_out = %format_args!("{:08x}", c.spi_out),
                        udp_encap = c.udp_encap, rekey_of = ?c.replaces.map(|s| format!("{s:08x}")),
                        "IKEv1 quick mode SA pair installed");
                }
                Err(e) => {
                    let text = format!("phase 2 failed for '{}': SA not installed: {e}", c.name);
                    tracing::warn!(target: "gateway::ike", peer = %name, child = %c.name, "{text}");
                    peer.pair_failures.insert(c.name.clone(), text.clone());
                    peer.base.failure = Some((now, format!("phase 2 ({})", c.name), text));
                }
            },
            Output::DeleteChild(d) => {
                if uninstall(&mut peer.base, d.spi_in, sadb, fx) {
                    tracing::info!(target: "gateway::ike", peer = %name, child = %d.name,
                        spi_in = %format_args!("{:08x}", d.spi_in), reason = ?d.reason, "IKEv1 IPsec SA pair removed");
                }
            }
            Output::Event(e) => event(peer, e, now),
        }
    }
    if peer.sa.as_ref().is_some_and(|s| s.is_dead()) {
        peer.sa = None;
        peer.next = None;
        peer.pair_retry.clear();
        remove_all(&mut peer.base, sadb, fx);
        if peer.base.initiates && peer.base.retry_at.is_none() {
            // The IKEv2 peers' backoff: a peer that restarted is back within seconds.
            let b = &mut peer.base;
            let wait = RETRY_FIRST.saturating_mul(1 << b.failures_in_row.min(5)).min(RETRY_AFTER_FAILURE);
            b.failures_in_row = b.failures_in_row.saturating_add(1);
            tracing::info!(target: "gateway::ike", peer = %name, "trying phase 1 again in {} s", wait.as_secs());
            b.retry_at = Some(now + wait);
        }
    }
}

/// Carries out what a re-authenticating phase 1 ([`V1Peer::next`]) asked for: its messages
/// until it is up; then it takes the IPsec SAs over and becomes the peer's ISAKMP SA. If it
/// fails, the current one stays and we try again later.
fn apply_next(peer: &mut V1Peer, out: Vec<Output>, now: Instant, sadb: &mut SadbBuilder, fx: &mut Effects) {
    let Some(next) = peer.next.as_mut() else { return };
    let name = peer.cfg.peer.name.clone();
    if next.is_established() {
        let mut out = out;
        let Some(mut next) = peer.next.take() else { return };
        if let Some(mut old) = peer.sa.take() {
            out.extend(next.take_over(&mut old, now, &mut OsRng));
        }
        tracing::info!(target: "gateway::ike", peer = %name, cky_i = %format_args!("{:016x}", next.cookies().0),
            initiator = next.is_initiator(), "phase 1 re-authenticated: IPsec SAs moved under the new ISAKMP SA");
        peer.base.initiator = next.is_initiator();
        peer.reauth_not_before = None;
        peer.sa = Some(next);
        apply(peer, out, now, sadb, fx);
        return;
    }
    let dead = next.is_dead();
    for o in out {
        match o {
            Output::Send(d) => fx.sends.push(d),
            Output::Event(Event::Failed(f)) => {
                let text = phrase("phase 1 re-authentication failed", &f);
                tracing::warn!(target: "gateway::ike", peer = %name, "{text} (the current ISAKMP SA stays)");
                peer.base.failure = Some((now, "phase 1".into(), text));
            }
            _ => {}
        }
    }
    if dead {
        peer.next = None;
        peer.reauth_not_before = Some(now + RETRY_FIRST * 5);
    }
}

fn event(peer: &mut V1Peer, e: Event, now: Instant) {
    let name = peer.cfg.peer.name.clone();
    match e {
        Event::IkeEstablished { spi_i, spi_r, proposal, nat } => {
            tracing::info!(target: "gateway::ike", peer = %name, cky_i = %format_args!("{spi_i:016x}"),
                cky_r = %format_args!("{spi_r:016x}"), %proposal, ?nat, "IKEv1 phase 1 established");
            let nat = match (nat.local_behind_nat, nat.remote_behind_nat) {
                (false, false) => "none",
                (true, false) => "we are behind a NAT",
                (false, true) => "peer behind a NAT (UDP 4500)",
                (true, true) => "both behind NATs",
            };
            peer.base.established = Some((now, proposal, nat.to_string()));
            peer.base.failures_in_row = 0;
        }
        Event::IkeRekeyed { .. } => {}
        Event::ChildRekeyed { name: child, old_spi_in, new_spi_in } => {
            tracing::info!(target: "gateway::ike", peer = %name, %child, old = %format_args!("{old_spi_in:08x}"),
                new = %format_args!("{new_spi_in:08x}"), "IKEv1 phase 2 rekeyed");
        }
        Event::ChildFailed { name: child, failure } => {
            let text = phrase(&format!("phase 2 failed for '{child}'"), &failure);
            tracing::warn!(target: "gateway::ike", peer = %name, %child, "{text}");
            let ours = peer.cfg.peer.children.iter().find(|c| c.name == child);
            if let Some(c) = ours {
                if peer.base.initiator && c.start_action == StartAction::Start {
                    peer.pair_retry.insert(child.clone(), now + RETRY_AFTER_FAILURE);
                }
                peer.pair_failures.insert(child.clone(), text.clone());
            }
            peer.base.failure = Some((now, format!("phase 2 ({child})"), text));
        }
        Event::Failed(f) => {
            // The state machine may already have dropped (or, restarting, replaced) the SA that
            // failed: a failure of an established ISAKMP SA says so itself.
            let stage = if f.detail.starts_with("ISAKMP SA failed: ")
                || peer.sa.as_ref().is_some_and(|s| s.is_established())
            {
                "ISAKMP SA"
            } else {
                "phase 1"
            };
            let text = phrase(&format!("{stage} failed"), &f);
            tracing::warn!(target: "gateway::ike", peer = %name, "{text}");
            peer.base.failure = Some((now, stage.to_string(), text));
        }
        Event::Closed { by_peer } => {
            tracing::info!(target: "gateway::ike", peer = %name, by_peer, "IKEv1 ISAKMP SA closed");
        }
        Event::PeerDead { action } => {
            tracing::warn!(target: "gateway::ike", peer = %name, ?action, "IKEv1 peer dead (DPD)");
            peer.base.failure =
                Some((now, "ISAKMP SA".into(), format!("peer dead (DPD, RFC 3706), action {action:?}")));
            if action == DpdAction::Restart {
                peer.base.retry_at = Some(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::IkeDriver;
    use super::*;
    use std::time::Duration;

    /// A `version: 1` peer; `b_esp2` is side b's proposal for the second pair.
    fn cfg(side: char, b_esp2: &str, mode: &str) -> IkeConfig {
        cfg_life(side, b_esp2, mode, 28800)
    }

    fn cfg_life(side: char, b_esp2: &str, mode: &str, life: u64) -> IkeConfig {
        let (local, remote, near, far, far2, start, esp2) = if side == 'a' {
            (
                "203.0.113.1",
                "203.0.113.2",
                "192.0.2.0/24",
                "198.51.100.0/25",
                "198.51.100.128/25",
                "start",
                "aes256-sha256",
            )
        } else {
            ("203.0.113.2", "203.0.113.1", "198.51.100.0/25", "192.0.2.0/24", "192.0.2.0/24", "none", b_esp2)
        };
        let near2 = if side == 'a' { near } else { "198.51.100.128/25" };
        let y = format!(
            "peers:\n  - name: gw\n    version: 1\n{mode}    local: {local}\n    remote: {remote}\n    \
             local_id: gw-{side}@example.org\n    psk: \"correct horse battery staple\"\n    \
             ike_proposals: [aes128-sha256-modp2048]\n    ike_rekey_seconds: {life}\n    retransmit: {{ timeout_ms: 500, tries: 2 }}\n    children:\n      \
             - {{ name: one, local_ts: [{near}], remote_ts: [{far}], esp_proposals: [aes128gcm16], pfs_group: modp2048, \
             rekey_seconds: 600, start_action: {start} }}\n      \
             - {{ name: two, local_ts: [{near2}], remote_ts: [{far2}], esp_proposals: [{esp2}], start_action: {start} }}\n"
        );
        serde_yaml_ng::from_str(&y).unwrap()
    }

    struct Pair {
        a: IkeDriver,
        b: IkeDriver,
        sa: SadbBuilder,
        sb: SadbBuilder,
        now: Instant,
        /// The link between the two is down: every datagram is lost.
        cut: bool,
    }

    impl Pair {
        fn new(b_esp2: &str, mode_a: &str, mode_b: &str) -> Pair {
            Pair::with(&cfg('a', b_esp2, mode_a), &cfg('b', b_esp2, mode_b), Instant::now())
        }

        fn with(ca: &IkeConfig, cb: &IkeConfig, now: Instant) -> Pair {
            Pair {
                a: IkeDriver::new(ca, now).unwrap(),
                b: IkeDriver::new(cb, now).unwrap(),
                sa: SadbBuilder::new(),
                sb: SadbBuilder::new(),
                now,
                cut: false,
            }
        }

        fn run(&mut self, secs: u64) {
            for _ in 0..secs * 10 {
                self.now += Duration::from_millis(100);
                let (mut fa, mut fb) = (Effects::default(), Effects::default());
                self.a.tick(self.now, &mut self.sa, &mut fa);
                self.b.tick(self.now, &mut self.sb, &mut fb);
                let (mut to_b, mut to_a) = (fa.sends, fb.sends);
                if self.cut {
                    continue;
                }
                while !(to_a.is_empty() && to_b.is_empty()) {
                    let (mut fa, mut fb) = (Effects::default(), Effects::default());
                    for d in to_b.drain(..) {
                        assert!(is_ikev1(d.dst, &d.bytes));
                        self.b.handle_datagram(self.now, d.src, d.dst, &d.bytes, &mut self.sb, &mut fb);
                    }
                    for d in to_a.drain(..) {
                        self.a.handle_datagram(self.now, d.src, d.dst, &d.bytes, &mut self.sa, &mut fa);
                    }
                    (to_b, to_a) = (fa.sends, fb.sends);
                }
            }
        }
    }

    #[test]
    fn two_pairs_under_one_phase1_and_one_fails() {
        let mut n = Pair::new("aes128-sha1", "", "");
        n.run(2);
        let v = &n.a.view(n.now)[0];
        let x = v.ikev1.as_ref().unwrap();
        assert_eq!((v.version, v.state.as_str(), x.mode.as_str()), (1, "established", "main"));
        assert_eq!(x.phase2, "partially up (1 of 2 pairs)", "{v:#?}");
        assert_eq!(x.pairs[0].state, "up");
        assert_eq!(x.pairs[1].state, "failed");
        let f = x.pairs[1].failure.as_deref().unwrap();
        assert!(f.starts_with("phase 2 failed for 'two': no proposal chosen — "), "{f}");
        // The installed pair is in the data plane with PFS, one SA each way.
        let c = v.children.iter().find(|c| c.name == "one").unwrap();
        assert!(c.installed);
        assert_eq!(c.esp, "AES_GCM_16_128/NO_ESN/MODP_2048");
        assert_eq!(n.sa.snapshot().entries().count(), 2);
        // The responder names what it was offered and what it accepts.
        let w = &n.b.view(n.now)[0];
        let f = &w.last_failure.as_ref().unwrap().reason;
        assert!(f.contains("peer offered") && f.contains("we accept"), "{f}");
        assert_eq!(w.ikev1.as_ref().unwrap().phase2, "partially up (1 of 2 pairs)");
        let json = serde_json::to_string(&n.a.view(n.now)).unwrap();
        assert!(!json.contains("horse"), "{json}");
        // Shutdown deletes everything and tells the peer.
        let mut fx = Effects::default();
        n.a.shutdown(n.now, &mut n.sa, &mut fx);
        assert!(fx.sadb_changed && !fx.sends.is_empty());
        assert_eq!(n.sa.snapshot().entries().count(), 0);
        for d in fx.sends {
            n.b.handle_datagram(n.now, d.src, d.dst, &d.bytes, &mut n.sb, &mut Effects::default());
        }
        assert_eq!(n.b.view(n.now)[0].state, "down");
        assert_eq!(n.sb.snapshot().entries().count(), 0);
    }

    #[test]
    fn both_pairs_up_and_phase2_rekeys_make_before_break() {
        let mut n = Pair::new("aes256-sha256", "", "");
        n.run(2);
        let v = &n.a.view(n.now)[0];
        assert_eq!(v.ikev1.as_ref().unwrap().phase2, "up", "{v:#?}");
        let first = v.children.iter().find(|c| c.name == "one").unwrap().spi_in;
        n.run(600);
        let v = &n.a.view(n.now)[0];
        assert!(v.counters.child_rekeys >= 1, "{:?}", v.counters);
        let one: Vec<_> = v.children.iter().filter(|c| c.name == "one").collect();
        assert!(one.iter().all(|c| c.spi_in != first), "{one:?}");
        assert_eq!(v.ikev1.as_ref().unwrap().phase2, "up");
    }

    #[test]
    fn aggressive_mode_only_when_both_enable_it() {
        let mut n = Pair::new("aes256-sha256", "    mode: aggressive\n", "");
        n.run(2);
        let w = &n.b.view(n.now)[0];
        assert_ne!(w.state, "established");
        let f = &w.last_failure.as_ref().unwrap().reason;
        assert!(f.starts_with("phase 1 failed: ") && f.contains("aggressive mode, which is disabled"), "{f}");
        let v = &n.a.view(n.now)[0];
        assert!(v.last_failure.as_ref().unwrap().reason.contains("refused aggressive mode"), "{v:#?}");
        let mut n = Pair::new("aes256-sha256", "    mode: aggressive\n", "    mode: aggressive\n");
        n.run(2);
        let v = &n.a.view(n.now)[0];
        assert_eq!(
            (v.state.as_str(), v.ikev1.as_ref().unwrap().mode.as_str()),
            ("established", "aggressive")
        );
        assert_eq!(v.ikev1.as_ref().unwrap().phase2, "up");
    }

    #[test]
    fn phase1_reauth_keeps_the_ipsec_sas_and_status_shows_when() {
        let now = Instant::now();
        let mut n = Pair::with(&cfg_life('a', "aes256-sha256", "", 60), &cfg('b', "aes256-sha256", ""), now);
        n.run(2);
        let v = &n.a.view(n.now)[0];
        assert!(v.ike_rekey_in_s.is_some_and(|s| (50..=54).contains(&s)), "{:?}", v.ike_rekey_in_s);
        // Phase 2 rekey times too: pair one rekeys at 600 s (a initiated it), pair two has none.
        let one = v.children.iter().find(|c| c.name == "one").unwrap();
        assert!(one.rekey_in_s.is_some_and(|s| (595..=600).contains(&s)), "{one:#?}");
        assert_eq!(one.state, "installed");
        let two = v.children.iter().find(|c| c.name == "two").unwrap();
        assert!(two.rekey_in_s.is_some_and(|s| (3595..=3600).contains(&s)), "{two:#?}");
        let (cky, spis) = (v.spi_i.clone(), n.sa.snapshot().entries().map(|e| e.1.uid).collect::<Vec<_>>());
        n.run(55);
        for (d, sadb) in [(&n.a, &mut n.sa), (&n.b, &mut n.sb)] {
            let v = &d.view(n.now)[0];
            assert_eq!(v.counters.ike_rekeys, 1, "{v:#?}");
            assert_ne!(v.spi_i, cky);
            assert_eq!((v.state.as_str(), v.ikev1.as_ref().unwrap().phase2.as_str()), ("established", "up"));
            assert_eq!(sadb.snapshot().entries().count(), 4);
            assert!(v.last_failure.is_none(), "{v:#?}");
        }
        // The very same SAs in the data plane: nothing was reinstalled.
        assert_eq!(n.sa.snapshot().entries().map(|e| e.1.uid).collect::<Vec<_>>(), spis);
        let v = &n.a.view(n.now)[0];
        assert!(v.ike_rekey_in_s.is_some_and(|s| (50..=54).contains(&s)), "{:?}", v.ike_rekey_in_s);
        assert_eq!(v.role.as_deref(), Some("initiator"));
    }

    /// The link dies after phase 1: re-authentication fails, and at the end of the phase 1
    /// lifetime the SAs go (the data plane with them) and status says why.
    #[test]
    fn phase1_hard_lifetime_when_reauth_keeps_failing() {
        let now = Instant::now();
        // Without DPD, which would otherwise notice the dead link first.
        let (mut ca, mut cb) = (cfg_life('a', "aes256-sha256", "", 60), cfg('b', "aes256-sha256", ""));
        ca.peers[0].dpd.interval = 0;
        cb.peers[0].dpd.interval = 0;
        let mut n = Pair::with(&ca, &cb, now);
        n.run(2);
        assert_eq!(n.sa.snapshot().entries().count(), 4);
        n.cut = true;
        n.run(56);
        // Re-authentication started at 54 s and is still trying; the old SAs carry traffic.
        assert_eq!(n.sa.snapshot().entries().count(), 4, "{:#?}", n.a.view(n.now)[0].last_failure);
        assert_eq!(n.a.view(n.now)[0].state, "established");
        n.run(4);
        assert_eq!(n.sa.snapshot().entries().count(), 0);
        let v = &n.a.view(n.now)[0];
        assert_ne!(v.state, "established");
        let f = format!("{:?}", v.last_failure);
        assert!(f.contains("phase 1 failed: lifetime expired — phase 1 lifetime (60 s) expired"), "{f}");
    }

    /// Pair one negotiated as AH (HMAC-SHA-256-128, PFS): both data planes hold AH SAs, and
    /// a packet A's outbound SA protects passes B's inbound SA (same keys, same SPI).
    #[test]
    fn ah_pair_negotiated_and_installed_in_both_data_planes() {
        use crate::buf::VecBuf;
        use crate::ipsec::{ah, replay::ReplayWindow, sa::Protocol, sadb::SaDirection};
        let now = Instant::now();
        let (mut ca, mut cb) = (cfg('a', "aes256-sha256", ""), cfg('b', "aes256-sha256", ""));
        for c in [&mut ca, &mut cb] {
            c.peers[0].children[0].ah_proposals = vec!["sha256".into()];
        }
        let mut n = Pair::with(&ca, &cb, now);
        n.run(2);
        let v = &n.a.view(n.now)[0];
        let one = v.children.iter().find(|c| c.name == "one").unwrap();
        assert_eq!(one.esp, "AH/HMAC_SHA2_256_128/NO_ESN/MODP_2048", "{v:#?}");
        let (snap_a, snap_b) = (n.sa.snapshot(), n.sb.snapshot());
        let out_a = snap_a
            .entries()
            .map(|e| e.1)
            .find(|e| e.sa.protocol == Protocol::Ah && e.direction == SaDirection::Out)
            .expect("A's outbound AH SA");
        let in_b = snap_b
            .entries()
            .map(|e| e.1)
            .find(|e| e.sa.protocol == Protocol::Ah && e.direction == SaDirection::In)
            .expect("B's inbound AH SA");
        assert_eq!((out_a.sa.spi, out_a.sa.natt), (in_b.sa.spi, None));
        let mut pkt = vec![0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 9, 198, 51, 100, 9];
        pkt.extend_from_slice(&[0x30, 0x39, 0x10, 0xe1, 0, 8, 0, 0]);
        let c = crate::wire::checksum::ipv4_header(pkt[..20].try_into().unwrap());
        pkt[10..12].copy_from_slice(&c.to_be_bytes());
        let mut b = VecBuf::like_mbuf(&pkt);
        ah::encapsulate(&mut b, &out_a.sa, 1).unwrap();
        let loc = ah::locate(crate::buf::PacketBuf::data(&b)).unwrap();
        let mut w = ReplayWindow::new(64, false);
        ah::decapsulate(&mut b, &loc, &in_b.sa, &mut w).unwrap();
        assert_eq!(crate::buf::PacketBuf::data(&b), &pkt[..]);
    }
}
