//! The IKE driver: the thin I/O shell around the sans-I/O [`ike::sa::IkeSa`] state machine.
//!
//! It runs inside the control loop. The control path hands it the UDP 500/4500 datagrams punted
//! for the gateway's addresses ([`crate::control::IkeDatagram`], non-ESP marker included, as the
//! state machine wants them); it answers with datagrams for the control path to route out, and
//! applies the state machine's Child SA decisions to the SADB:
//!
//! * `InstallChild` adds the inbound and outbound [`Sa`] and, for a new Child SA, keyed
//!   policies for every (local TS, remote TS) pair; a rekey (`replaces`) goes through
//!   [`SadbBuilder::rekey`] instead, so the policies move to the new SAs while the old ones
//!   still decrypt (make-before-break);
//! * `DeleteChild` removes the pair and any policy still naming it.
//!
//! The caller publishes a new snapshot when [`Effects::sadb_changed`] says so. One [`Peer`] per
//! configured peer holds at most one IKE SA; a responder picks the peer by the datagram's
//! addresses. Time comes from the caller; randomness from the OS.

mod v1;
pub use v1::{PairView, V1View};

use crate::config::ike::{IkeConfig, StartActionName};
use crate::ipsec::crypto::{Algorithm, Transform};
use crate::ipsec::sa::{DfPolicy, Limits, Mode, NatT, Protocol, Sa, SaCounters};
use crate::ipsec::sadb::{Acquires, LifetimeEvent, SaDirection, SadbBuilder};
use crate::ipsec::spd::{Policy, Selector, Verdict};
use ike::codec::ts::TrafficSelector;
use ike::crypto::encr::EncrAlg;
use ike::crypto::integ::IntegAlg;
use ike::sa::{
    ChildSa, CookieGate, Datagram, DpdAction, EspAlgorithms, Event, FailureKind, GateVerdict, IkeSa, Output,
    PeerConfig, TrafficLimits,
};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Half-open responder SAs before cookies are asked for (RFC 7296 §2.6).
const COOKIE_THRESHOLD: usize = 64;
/// An initiator tries again this long after its first failure in a row, then twice as long
/// after each further one, up to [`RETRY_AFTER_FAILURE`]: a peer that restarts (and may refuse
/// or ignore us until its configuration is loaded) is back quickly, a misconfigured one is not
/// hammered.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest an initiator waits after a failure before trying again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);
const REPLAY_WINDOW: u32 = 1024;
/// Traffic on a trap asks for its child at most this often: while an exchange for it may still
/// be under way, more packets must not start another.
const ACQUIRE_HOLDOFF: Duration = Duration::from_secs(3);

/// What one call asks of the caller.
#[derive(Default)]
pub struct Effects {
    pub sends: Vec<Datagram>,
    /// The SADB changed: publish a snapshot.
    pub sadb_changed: bool,
}

/// The last thing that went wrong with a peer, for `espgw status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureView {
    /// Where it happened: IKE_SA_INIT, IKE_AUTH, a Child SA, or the established IKE SA.
    pub phase: String,
    /// The state machine's sentence.
    pub reason: String,
    pub seconds_ago: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildView {
    pub name: String,
    pub spi_in: u32,
    pub spi_out: u32,
    pub installed: bool,
    /// installed | rekeying | rekeyed (replaced, waiting for its Delete) | deleting
    #[serde(default)]
    pub state: String,
    /// The negotiated ESP transforms, e.g. `AES_GCM_16_128/NO_ESN`.
    #[serde(default)]
    pub esp: String,
    /// ESP in UDP 4500 (RFC 3948).
    #[serde(default)]
    pub udp_encap: bool,
    /// Traffic selectors: ours and the peer's, as prefixes or ranges.
    #[serde(default)]
    pub local_ts: Vec<String>,
    #[serde(default)]
    pub remote_ts: Vec<String>,
    /// The data plane's counters of the inbound and outbound SA (inner packets and bytes).
    #[serde(default)]
    pub packets_in: u64,
    #[serde(default)]
    pub bytes_in: u64,
    #[serde(default)]
    pub packets_out: u64,
    #[serde(default)]
    pub bytes_out: u64,
    /// Seconds until we start its rekey; `None` when rekeying is off or under way.
    #[serde(default)]
    pub rekey_in_s: Option<u64>,
}

/// Failure kinds, as metric labels and JSON keys: a fixed set (see [`reason_label`]).
pub const FAILURE_REASONS: [&str; 10] = [
    "no_proposal_chosen",
    "authentication_failed",
    "identity_mismatch",
    "policy_mismatch",
    "invalid_ke",
    "no_answer",
    "peer_error",
    "half_open_timeout",
    "protocol",
    "lifetime_expired",
];

/// The label of a failure kind; one of [`FAILURE_REASONS`].
pub fn reason_label(k: FailureKind) -> &'static str {
    match k {
        FailureKind::NoProposalChosen => FAILURE_REASONS[0],
        FailureKind::AuthenticationFailed => FAILURE_REASONS[1],
        FailureKind::IdentityMismatch => FAILURE_REASONS[2],
        FailureKind::PolicyMismatch => FAILURE_REASONS[3],
        FailureKind::InvalidKe => FAILURE_REASONS[4],
        FailureKind::NoAnswer => FAILURE_REASONS[5],
        FailureKind::PeerError => FAILURE_REASONS[6],
        FailureKind::HalfOpenTimeout => FAILURE_REASONS[7],
        FailureKind::Protocol => FAILURE_REASONS[8],
        FailureKind::LifetimeExpired => FAILURE_REASONS[9],
    }
}

/// What happened with one peer since the gateway started (for the metrics and `status`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IkeCounters {
    /// IKE SAs established (IKE_AUTH completed).
    pub ike_established: u64,
    /// IKE SA negotiations that failed before being established, by reason (only reasons
    /// that happened are present).
    pub ike_failed: BTreeMap<String, u64>,
    /// Child SAs made (in IKE_AUTH or CREATE_CHILD_SA), rekeys not counted.
    pub child_established: u64,
    /// Child SAs that could not be made or rekeyed, the IKE SA staying up, by reason.
    pub child_failed: BTreeMap<String, u64>,
    pub ike_rekeys: u64,
    pub child_rekeys: u64,
    /// An established IKE SA whose peer stopped answering (liveness check or any request).
    pub peer_dead: u64,
}

/// Counts what the state machine reports, in order. It tells a failed negotiation from an
/// established SA that fails later (a peer declared dead also reports a failure first).
#[derive(Default)]
struct Tally {
    counters: IkeCounters,
    /// The peer's IKE SA has been established and has not failed or closed since.
    up: bool,
}

impl Tally {
    fn observe(&mut self, out: &[Output]) {
        let c = &mut self.counters;
        for o in out {
            match o {
                Output::InstallChild(ch) if ch.replaces.is_none() => c.child_established += 1,
                Output::Event(e) => match e {
                    Event::IkeEstablished { .. } => {
                        c.ike_established += 1;
                        self.up = true;
                    }
                    Event::IkeRekeyed { .. } => c.ike_rekeys += 1,
                    Event::ChildRekeyed { .. } => c.child_rekeys += 1,
                    Event::ChildFailed { failure, .. } => {
                        *c.child_failed.entry(reason_label(failure.kind).to_string()).or_default() += 1
                    }
                    Event::Failed(f) => {
                        if !self.up {
                            *c.ike_failed.entry(reason_label(f.kind).to_string()).or_default() += 1;
                        }
                        self.up = false;
                    }
                    Event::Closed { .. } => self.up = false,
                    Event::PeerDead { .. } => {
                        c.peer_dead += 1;
                        self.up = false;
                    }
                },
                _ => {}
            }
        }
    }
}

/// What the driver keeps of an installed Child SA for `espgw status` (no keys).
struct ChildRecord {
    esp: String,
    udp_encap: bool,
    local_ts: Vec<String>,
    remote_ts: Vec<String>,
    counters_in: Arc<SaCounters>,
    counters_out: Arc<SaCounters>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerView {
    pub name: String,
    pub local: String,
    pub remote: String,
    /// connecting | established | down | admin-down (`espgw tunnel down`)
    pub state: String,
    pub role: Option<String>,
    pub spi_i: Option<String>,
    pub spi_r: Option<String>,
    pub proposal: Option<String>,
    pub nat: Option<String>,
    pub established_s: Option<u64>,
    /// Seconds until we start the IKE SA's rekey; `None` when off, not established, or under way.
    #[serde(default)]
    pub ike_rekey_in_s: Option<u64>,
    pub children: Vec<ChildView>,
    pub last_failure: Option<FailureView>,
    #[serde(default)]
    pub counters: IkeCounters,
    /// 1 (IKEv1) or 2; 0 (an older gateway's status) means 2.
    #[serde(default)]
    pub version: u8,
    /// IKEv1 peers: phase 1 / phase 2 state and the policy pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ikev1: Option<V1View>,
}

/// A Child SA pair in the SADB.
struct Installed {
    slot_in: u32,
    slot_out: u32,
    /// The tunnel it belongs to: the child's name and its selectors (local, remote).
    tunnel: (String, Vec<TrafficSelector>, Vec<TrafficSelector>),
    /// Install order: the newest pair of a tunnel inherits its policies.
    seq: u64,
}

struct Peer {
    cfg: Arc<PeerConfig>,
    initiates: bool,
    sa: Option<IkeSa>,
    initiator: bool,
    /// Inbound SPI → the pair installed for it.
    installed: HashMap<u32, Installed>,
    installs: u64,
    /// Inbound SPI → what status shows of it; entries not in `installed` are stale.
    records: HashMap<u32, ChildRecord>,
    tally: Tally,
    established: Option<(Instant, String, String)>,
    failure: Option<(Instant, String, String)>,
    retry_at: Option<Instant>,
    /// Failed attempts since the last IKE SA was established (sets the retry back-off).
    failures_in_row: u32,
    /// `espgw tunnel down`: no SA, no initiation, new IKE_SA_INIT from the peer ignored.
    admin_down: bool,
    /// `espgw tunnel up` on a peer that does not start by itself: initiate it anyway.
    admin_up: bool,
    /// The children with `start_action: trap`.
    traps: Vec<Trap>,
}

/// A child negotiated when traffic needs it: its trap policies carry `id`
/// ([`Verdict::Trap`]), the data plane raises that bit of [`crate::ipsec::sadb::Acquires`].
struct Trap {
    child: String,
    id: u32,
    /// When its traffic last made us act.
    acquired: Option<Instant>,
}

impl Peer {
    /// Which exchange a failure would belong to: asked before the state machine runs, since
    /// the call may leave the SA in another phase (or, with DPD restart, replace it).
    fn phase(&self) -> &'static str {
        match &self.sa {
            Some(sa) if sa.is_established() => "established IKE SA",
            Some(sa) if sa.spis().is_some_and(|(_, r)| r != 0) => "IKE_AUTH",
            _ => "IKE_SA_INIT",
        }
    }
}

pub struct IkeDriver {
    peers: Vec<Peer>,
    /// `version: 1` peers, dispatched by the ISAKMP version byte.
    v1: v1::V1Peers,
    gate: CookieGate,
    rng: OsRng,
    /// The trap policies are in the SADB (done on the first tick).
    traps_installed: bool,
}

impl IkeDriver {
    /// From a validated `ike:` section.
    pub fn new(cfg: &IkeConfig, now: Instant) -> Result<IkeDriver, String> {
        let mut rng = OsRng;
        let mut next_trap = 0u32;
        let peers = cfg
            .peers
            .iter()
            .filter(|p| !p.is_v1())
            .map(|p| {
                let traps = p
                    .children
                    .iter()
                    .filter(|c| c.start_action == StartActionName::Trap)
                    .map(|c| {
                        next_trap += 1;
                        Trap { child: c.name.clone(), id: next_trap - 1, acquired: None }
                    })
                    .collect();
                let pc = p.to_peer_config().map_err(|e| format!("ike peer {}: {e}", p.name))?;
                for w in pc.warnings() {
                    tracing::warn!(target: "gateway::ike", peer = %p.name, "WARNING: {w}");
                }
                Ok(Peer {
                    cfg: Arc::new(pc),
                    initiates: p.initiates(),
                    sa: None,
                    initiator: false,
                    installed: HashMap::new(),
                    installs: 0,
                    records: HashMap::new(),
                    tally: Tally::default(),
                    established: None,
                    failure: None,
                    retry_at: p.initiates().then_some(now),
                    failures_in_row: 0,
                    admin_down: false,
                    admin_up: false,
                    traps,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        if next_trap > Acquires::CAPACITY {
            return Err(format!(
                "{next_trap} children with start_action trap: at most {}",
                Acquires::CAPACITY
            ));
        }
        let v1 = v1::V1Peers::new(cfg, now)?;
        Ok(IkeDriver {
            peers,
            v1,
            gate: CookieGate::new(COOKIE_THRESHOLD, &mut rng),
            rng,
            traps_installed: false,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty() && self.v1.is_empty()
    }

    /// One datagram for a gateway address on UDP 500 or 4500.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        sadb: &mut SadbBuilder,
        fx: &mut Effects,
    ) {
        if v1::is_ikev1(dst, payload) {
            return self.v1.handle_datagram(now, src, dst, payload, sadb, fx);
        }
        let rng = &mut self.rng;
        if let Some(i) =
            self.peers.iter().position(|p| p.sa.as_ref().is_some_and(|sa| sa.matches_datagram(dst, payload)))
        {
            let peer = &mut self.peers[i];
            let phase = peer.phase();
            let out = match peer.sa.as_mut() {
                Some(sa) => sa.handle_datagram(now, src, dst, payload, rng),
                None => return,
            };
            apply(peer, out, phase, now, sadb, fx);
            return;
        }
        // A new IKE_SA_INIT request: the peer is the one configured for these addresses.
        let Some(i) =
            self.peers.iter().position(|p| p.cfg.remote.ip() == src.ip() && p.cfg.local.ip() == dst.ip())
        else {
            tracing::debug!(target: "gateway::ike", %src, %dst, "IKE datagram from no configured peer");
            return;
        };
        if self.peers[i].admin_down {
            tracing::debug!(target: "gateway::ike", peer = %self.peers[i].cfg.name, "IKE_SA_INIT ignored: tunnel is administratively down");
            return;
        }
        let half_open = self.peers.iter().filter(|p| p.sa.as_ref().is_some_and(|s| s.is_half_open())).count();
        match self.gate.check(src, dst, payload, half_open) {
            GateVerdict::Drop => {}
            GateVerdict::Reply(d) => fx.sends.push(d),
            GateVerdict::Accept => {
                let peer = &mut self.peers[i];
                let (sa, out) = IkeSa::accept(peer.cfg.clone(), now, src, dst, payload, rng);
                let Some(sa) = sa else {
                    // Refused (e.g. no common proposal): answered statelessly, but the reason
                    // is what an admin needs to see.
                    for o in out {
                        match o {
                            Output::Send(d) => fx.sends.push(d),
                            Output::Event(e) => event(peer, e, RESPONDER_INIT, now),
                            _ => {}
                        }
                    }
                    return;
                };
                // The peer starts over: whatever we had with it is gone.
                if let Some(mut old) = peer.sa.take() {
                    tracing::info!(target: "gateway::ike", peer = %peer.cfg.name, "peer started a new IKE SA; dropping the old one");
                    drop(old.delete_ike(now, rng));
                    remove_all(peer, sadb, fx);
                }
                peer.tally.up = false;
                tracing::info!(target: "gateway::ike", peer = %peer.cfg.name, %src, "IKE_SA_INIT from peer (responder)");
                peer.sa = Some(sa);
                peer.initiator = false;
                peer.retry_at = None;
                apply(peer, out, RESPONDER_INIT, now, sadb, fx);
            }
        }
    }

    /// Drives retransmits, rekeys, DPD and (re)starts, and answers traffic on traps; call
    /// often. The first call installs the trap policies.
    pub fn tick(&mut self, now: Instant, sadb: &mut SadbBuilder, fx: &mut Effects) {
        if !self.traps_installed {
            self.traps_installed = true;
            install_traps(&self.peers, sadb, fx);
        }
        for id in sadb.acquires().take() {
            self.acquire(id, now, sadb, fx);
        }
        self.v1.tick(now, sadb, fx);
        let rng = &mut self.rng;
        for peer in &mut self.peers {
            if peer.sa.is_none()
                && (peer.initiates || peer.admin_up)
                && !peer.admin_down
                && peer.retry_at.is_some_and(|t| t <= now)
            {
                peer.retry_at = None;
                tracing::info!(target: "gateway::ike", peer = %peer.cfg.name, remote = %peer.cfg.remote, "initiating IKE SA");
                let (sa, out) = IkeSa::initiate(peer.cfg.clone(), now, rng);
                peer.sa = Some(sa);
                peer.initiator = true;
                apply(peer, out, "IKE_SA_INIT", now, sadb, fx);
            }
            let due = peer.sa.as_ref().and_then(|sa| sa.poll_timeout()).is_some_and(|t| t <= now);
            if due {
                let phase = peer.phase();
                let out = match peer.sa.as_mut() {
                    Some(sa) => sa.handle_timeout(now, rng),
                    None => continue,
                };
                apply(peer, out, phase, now, sadb, fx);
            }
        }
    }

    /// `espgw tunnel up|down NAME`. Down: the IKE SA and its Child SAs are deleted (the peer is
    /// told), their SAs leave the data plane, and the peer stays down — no initiation, its
    /// IKE_SA_INIT ignored — until `up`. Up: clears that, and initiates now (also for a peer that
    /// otherwise waits for the other side) unless an IKE SA already exists.
    pub fn set_admin(
        &mut self,
        name: &str,
        up: bool,
        now: Instant,
        sadb: &mut SadbBuilder,
        fx: &mut Effects,
    ) -> Result<String, String> {
        if let Some(r) = self.v1.set_admin(name, up, now, sadb, fx) {
            return Ok(r);
        }
        let Some(peer) = self.peers.iter_mut().find(|p| p.cfg.name == name) else {
            let names: Vec<&str> =
                self.peers.iter().map(|p| p.cfg.name.as_str()).chain(self.v1.names()).collect();
            return Err(format!("no IKE peer named {name:?} (peers: {})", names.join(", ")));
        };
        if up {
            peer.admin_down = false;
            peer.admin_up = true;
            if peer.sa.is_some() {
                return Ok(format!("{name}: already up or negotiating"));
            }
            peer.retry_at = Some(now);
            peer.failures_in_row = 0;
            tracing::info!(target: "gateway::ike", peer = %name, "tunnel up (administrative)");
            return Ok(format!("{name}: initiating"));
        }
        peer.admin_down = true;
        peer.admin_up = false;
        peer.retry_at = None;
        close(peer, now, &mut self.rng, sadb, fx);
        tracing::info!(target: "gateway::ike", peer = %name, "tunnel down (administrative): IKE SA deleted");
        Ok(format!("{name}: down"))
    }

    /// `espgw reload` with a changed `ike:` section (`old` is the running one, `new` already
    /// validated). A peer whose configuration is unchanged keeps running untouched: its IKE
    /// SA, Child SAs, counters and timers carry on. A changed or removed peer is closed (its
    /// IKE SA deleted with the peer, its SAs out of the data plane); a changed or added one
    /// starts afresh from `new`. Trap policies are rebuilt for all.
    pub fn reload(
        &mut self,
        old: &IkeConfig,
        new: &IkeConfig,
        now: Instant,
        sadb: &mut SadbBuilder,
        fx: &mut Effects,
    ) -> Result<String, String> {
        let mut fresh = IkeDriver::new(new, now)?;
        let unchanged = |name: &str| {
            let o = old.peers.iter().find(|p| p.name == name);
            o.is_some() && o == new.peers.iter().find(|p| p.name == name)
        };
        let (mut kept, mut closed) = (Vec::new(), Vec::new());
        for mut p in std::mem::take(&mut self.peers) {
            let name = p.cfg.name.clone();
            match fresh.peers.iter().position(|f| f.cfg.name == name) {
                Some(i) if unchanged(&name) => {
                    p.traps = std::mem::take(&mut fresh.peers[i].traps);
                    fresh.peers[i] = p;
                    kept.push(name);
                }
                _ => {
                    close(&mut p, now, &mut self.rng, sadb, fx);
                    closed.push(name);
                }
            }
        }
        self.v1.reload_into(&mut fresh.v1, &unchanged, now, sadb, fx, &mut kept, &mut closed);
        // Trap ids are numbered afresh: the policies are rebuilt on the next tick.
        sadb.clear_trap_policies();
        let _ = sadb.acquires().take();
        fx.sadb_changed = true;
        let names: Vec<&str> = new.peers.iter().map(|p| p.name.as_str()).collect();
        let changed = closed.iter().filter(|n| names.contains(&n.as_str())).count();
        let removed = closed.len() - changed;
        let added = names.len() - kept.len() - changed;
        *self = IkeDriver { gate: std::mem::replace(&mut self.gate, fresh.gate), ..fresh };
        Ok(format!(
            "IKE peers: {} unchanged, {changed} changed (restarted), {added} added, {removed} removed",
            kept.len()
        ))
    }

    /// Traffic hit trap `id`: start the IKE SA with the child in IKE_AUTH, or, with the IKE
    /// SA up, a CREATE_CHILD_SA for it. Nothing while the IKE SA is being set up, when the
    /// child exists already, or within [`ACQUIRE_HOLDOFF`] of the last time.
    fn acquire(&mut self, id: u32, now: Instant, sadb: &mut SadbBuilder, fx: &mut Effects) {
        let rng = &mut self.rng;
        let Some((peer, j)) =
            self.peers.iter_mut().find_map(|p| p.traps.iter().position(|t| t.id == id).map(|j| (p, j)))
        else {
            return;
        };
        if peer.traps[j].acquired.is_some_and(|t| now < t + ACQUIRE_HOLDOFF) {
            return;
        }
        let child = peer.traps[j].child.clone();
        let name = peer.cfg.name.clone();
        match peer.sa.as_mut() {
            None => {
                tracing::info!(target: "gateway::ike", peer = %name, %child, remote = %peer.cfg.remote,
                    "traffic on a trap: initiating IKE SA");
                let (sa, out) = IkeSa::initiate_for_child(peer.cfg.clone(), now, &child, rng);
                peer.sa = Some(sa);
                peer.initiator = true;
                peer.retry_at = None;
                peer.traps[j].acquired = Some(now);
                apply(peer, out, "IKE_SA_INIT", now, sadb, fx);
            }
            Some(sa) if sa.is_established() && !sa.child_sas().iter().any(|c| c.name == child) => {
                tracing::info!(target: "gateway::ike", peer = %name, %child, "traffic on a trap: creating the Child SA");
                let out = sa.initiate_child(now, &child, rng);
                peer.traps[j].acquired = Some(now);
                apply(peer, out, "established IKE SA", now, sadb, fx);
            }
            Some(_) => {}
        }
    }

    /// A traffic lifetime the data plane reached ([`SadbBuilder::expire`], which has already
    /// removed an SA past its hard limit). For a Child SA of ours: a soft limit rekeys it
    /// (make-before-break, like the rekey by time); a hard one takes the pair out of the SADB
    /// and deletes the Child SA with the peer. Returns whether the SA was one of ours.
    pub fn lifetime_event(
        &mut self,
        now: Instant,
        e: &LifetimeEvent,
        sadb: &mut SadbBuilder,
        fx: &mut Effects,
    ) -> bool {
        let rng = &mut self.rng;
        let found = self.peers.iter().enumerate().find_map(|(i, p)| {
            p.installed
                .iter()
                .find(|(_, x)| x.slot_in == e.slot || x.slot_out == e.slot)
                .map(|(&spi, _)| (i, spi))
        });
        let Some((i, spi_in)) = found else { return false };
        let peer = &mut self.peers[i];
        let phase = peer.phase();
        let spi = format!("{spi_in:08x}");
        if e.hard {
            tracing::warn!(target: "gateway::ike", peer = %peer.cfg.name, sa = %e.name, limit = e.limit, spi_in = %spi,
                "hard lifetime reached: Child SA removed and deleted with the peer");
            uninstall(peer, spi_in, sadb, fx);
            if let Some(sa) = peer.sa.as_mut() {
                let out = sa.delete_child(now, spi_in, rng);
                apply(peer, out, phase, now, sadb, fx);
            }
        } else {
            tracing::info!(target: "gateway::ike", peer = %peer.cfg.name, sa = %e.name, limit = e.limit, spi_in = %spi,
                "soft lifetime reached: rekeying the Child SA");
            if let Some(sa) = peer.sa.as_mut() {
                let out = sa.rekey_child(now, spi_in, rng);
                apply(peer, out, phase, now, sadb, fx);
            }
        }
        true
    }

    /// Closes every IKE SA (on shutdown): the deletes go out once, unanswered.
    pub fn shutdown(&mut self, now: Instant, sadb: &mut SadbBuilder, fx: &mut Effects) {
        self.v1.shutdown(now, sadb, fx);
        let rng = &mut self.rng;
        for peer in &mut self.peers {
            if let Some(sa) = peer.sa.as_mut() {
                if sa.is_established() {
                    let out = sa.delete_ike(now, rng);
                    fx.sends.extend(out.into_iter().filter_map(|o| match o {
                        Output::Send(d) => Some(d),
                        _ => None,
                    }));
                }
            }
            remove_all(peer, sadb, fx);
        }
    }

    /// What `espgw status` shows.
    pub fn view(&self, now: Instant) -> Vec<PeerView> {
        self.peers
            .iter()
            .map(|p| {
                let sa = p.sa.as_ref();
                let state = match sa {
                    Some(s) if s.is_established() => "established",
                    Some(s) if !s.is_dead() => "connecting",
                    _ if p.admin_down => "admin-down",
                    _ => "down",
                };
                let up = sa.is_some_and(|s| s.is_established());
                let left = |t: Instant| t.saturating_duration_since(now).as_secs();
                let schedule = sa.map(|s| s.child_schedule()).unwrap_or_default();
                PeerView {
                    name: p.cfg.name.clone(),
                    local: p.cfg.local.ip().to_string(),
                    remote: p.cfg.remote.ip().to_string(),
                    state: state.to_string(),
                    role: sa.map(|_| if p.initiator { "initiator" } else { "responder" }.to_string()),
                    spi_i: sa.and_then(|s| s.spis()).map(|(i, _)| format!("{i:016x}")),
                    spi_r: sa.and_then(|s| s.spis()).map(|(_, r)| format!("{r:016x}")),
                    proposal: p.established.as_ref().filter(|_| up).map(|e| e.1.clone()),
                    nat: p.established.as_ref().filter(|_| up).map(|e| e.2.clone()),
                    established_s: p
                        .established
                        .as_ref()
                        .filter(|_| up)
                        .map(|e| now.saturating_duration_since(e.0).as_secs()),
                    ike_rekey_in_s: sa.filter(|_| up).and_then(|s| s.ike_rekey_at()).map(left),
                    children: sa
                        .map(|s| s.child_sas())
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| {
                            let installed = p.installed.contains_key(&c.spi_in);
                            let rec = p.records.get(&c.spi_in).filter(|_| installed);
                            let sched = schedule.iter().find(|x| x.spi_in == c.spi_in);
                            let count = |k: Option<&Arc<SaCounters>>| {
                                k.map_or((0, 0), |k| {
                                    (k.packets.load(Ordering::Relaxed), k.bytes.load(Ordering::Relaxed))
                                })
                            };
                            let (packets_in, bytes_in) = count(rec.map(|r| &r.counters_in));
                            let (packets_out, bytes_out) = count(rec.map(|r| &r.counters_out));
                            ChildView {
                                installed,
                                name: c.name,
                                spi_in: c.spi_in,
                                spi_out: c.spi_out,
                                state: sched.map_or("installed", |x| x.state).to_string(),
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
                        .collect(),
                    last_failure: p.failure.as_ref().map(|(t, phase, reason)| FailureView {
                        phase: phase.clone(),
                        reason: reason.clone(),
                        seconds_ago: now.saturating_duration_since(*t).as_secs(),
                    }),
                    counters: p.tally.counters.clone(),
                    version: 2,
                    ikev1: None,
                }
            })
            .chain(self.v1.view(now))
            .collect()
    }
}

/// The phase of a failure in answering an IKE_SA_INIT request.
const RESPONDER_INIT: &str = "IKE_SA_INIT (responder)";

/// Carries out what the state machine asked for, in order. `phase` is [`Peer::phase`] from
/// before the call that produced `out`.
fn apply(
    peer: &mut Peer,
    out: Vec<Output>,
    phase: &'static str,
    now: Instant,
    sadb: &mut SadbBuilder,
    fx: &mut Effects,
) {
    peer.tally.observe(&out);
    let name = peer.cfg.name.clone();
    for o in out {
        match o {
            Output::Send(d) => fx.sends.push(d),
            Output::InstallChild(c) => match install(&name, &c, peer, sadb) {
                Ok(()) => {
                    fx.sadb_changed = true;
                    tracing::info!(target: "gateway::ike", peer = %name, child = %c.name,
                        spi_in = %format_args!("{:08x}", c.spi_in), spi_out = %format_args!("{:08x}", c.spi_out),
                        udp_encap = c.udp_encap, rekey_of = ?c.replaces.map(|s| format!("{s:08x}")),
                        outbound_after_delete = c.defer_outbound, "Child SA installed");
                }
                Err(e) => {
                    tracing::warn!(target: "gateway::ike", peer = %name, child = %c.name, "Child SA not installed: {e}");
                    peer.failure = Some((now, format!("Child SA {}", c.name), format!("not installed: {e}")));
                }
            },
            Output::DeleteChild(d) => {
                if uninstall(peer, d.spi_in, sadb, fx) {
                    tracing::info!(target: "gateway::ike", peer = %name, child = %d.name,
                        spi_in = %format_args!("{:08x}", d.spi_in), reason = ?d.reason, "Child SA removed");
                }
            }
            Output::Event(e) => event(peer, e, phase, now),
        }
    }
    if peer.sa.as_ref().is_some_and(|s| s.is_dead()) {
        peer.sa = None;
        remove_all(peer, sadb, fx);
        if peer.initiates && peer.retry_at.is_none() {
            let wait = RETRY_FIRST.saturating_mul(1 << peer.failures_in_row.min(5)).min(RETRY_AFTER_FAILURE);
            peer.failures_in_row = peer.failures_in_row.saturating_add(1);
            tracing::info!(target: "gateway::ike", peer = %peer.cfg.name, "trying again in {} s", wait.as_secs());
            peer.retry_at = Some(now + wait);
        }
    }
}

fn event(peer: &mut Peer, e: Event, phase: &'static str, now: Instant) {
    let name = &peer.cfg.name;
    match e {
        Event::IkeEstablished { spi_i, spi_r, proposal, nat } => {
            tracing::info!(target: "gateway::ike", peer = %name, spi_i = %format_args!("{spi_i:016x}"),
                spi_r = %format_args!("{spi_r:016x}"), %proposal, ?nat, "IKE SA established");
            let nat = match (nat.local_behind_nat, nat.remote_behind_nat) {
                (false, false) => "none",
                (true, false) => "we are behind a NAT",
                (false, true) => "peer behind a NAT (UDP 4500)",
                (true, true) => "both behind NATs",
            };
            peer.established = Some((now, proposal, nat.to_string()));
            peer.failures_in_row = 0;
        }
        Event::IkeRekeyed { spi_i, spi_r } => {
            tracing::info!(target: "gateway::ike", peer = %name, spi_i = %format_args!("{spi_i:016x}"),
                spi_r = %format_args!("{spi_r:016x}"), "IKE SA rekeyed");
        }
        Event::ChildRekeyed { name: child, old_spi_in, new_spi_in } => {
            tracing::info!(target: "gateway::ike", peer = %name, %child, old = %format_args!("{old_spi_in:08x}"),
                new = %format_args!("{new_spi_in:08x}"), "Child SA rekeyed");
        }
        Event::ChildFailed { name: child, failure } => {
            tracing::warn!(target: "gateway::ike", peer = %name, %child, "Child SA failed: {failure}");
            peer.failure = Some((now, format!("CREATE_CHILD_SA ({child})"), failure.to_string()));
        }
        Event::Failed(f) => {
            tracing::warn!(target: "gateway::ike", peer = %name, phase, "IKE SA failed: {f}");
            peer.failure = Some((now, phase.to_string(), f.to_string()));
        }
        Event::Closed { by_peer } => {
            tracing::info!(target: "gateway::ike", peer = %name, by_peer, "IKE SA closed");
        }
        Event::PeerDead { action } => {
            // The state machine reported why (the unanswered exchange) just before.
            let why = peer.failure.as_ref().filter(|f| f.0 == now).map(|f| f.2.clone()).unwrap_or_default();
            let why = why.strip_prefix("peer not answering: ").unwrap_or(&why).to_owned();
            let then = match action {
                DpdAction::Clear => "action clear: Child SAs removed",
                DpdAction::Restart => "action restart: Child SAs removed, initiating a new IKE SA",
                DpdAction::Hold => "action hold: Child SAs removed",
            };
            tracing::warn!(target: "gateway::ike", peer = %name, ?action, "peer dead (DPD): {why}; {then}");
            peer.failure =
                Some((now, "established IKE SA".into(), format!("peer dead (DPD): {why}; {then}")));
            if action == DpdAction::Restart {
                // The state machine has already started the new IKE SA, as initiator.
                peer.initiator = true;
                peer.retry_at = None;
            }
        }
    }
}

/// Takes the pair installed for `spi_in` out of the SADB; false when there is none. Traffic it
/// still carries moves to the newest pair of the same tunnel: a rekey we answered (whose
/// outbound switch waited for this delete), or the survivor of a rekey collision. Only the
/// last pair takes the policies. A slot the SADB already emptied (a hard lifetime) is fine.
fn uninstall(peer: &mut Peer, spi_in: u32, sadb: &mut SadbBuilder, fx: &mut Effects) -> bool {
    let Some(gone) = peer.installed.remove(&spi_in) else { return false };
    let heir = peer
        .installed
        .values()
        .filter(|i| i.tunnel == gone.tunnel)
        .max_by_key(|i| i.seq)
        .map(|i| (i.slot_in, i.slot_out));
    for (s, h) in [(gone.slot_in, heir.map(|h| h.0)), (gone.slot_out, heir.map(|h| h.1))] {
        match h {
            Some(h) => sadb.repoint(s, h),
            None => sadb.remove_keyed_policies(s),
        }
        sadb.remove(s);
    }
    fx.sadb_changed = true;
    true
}

/// The trap policies of every peer's `trap` children: outbound they ask for the child,
/// inbound they drop clear text from where the tunnel will be.
fn install_traps(peers: &[Peer], sadb: &mut SadbBuilder, fx: &mut Effects) {
    for p in peers {
        for t in &p.traps {
            let Some(c) = p.cfg.children.iter().find(|c| c.name == t.child) else { continue };
            let (outs, ins) = match (
                selectors(&c.local_ts, &c.remote_ts),
                selectors(&c.remote_ts, &c.local_ts),
            ) {
                (Ok(o), Ok(i)) => (o, i),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(target: "gateway::ike", peer = %p.cfg.name, child = %t.child, "no trap: {e}");
                    continue;
                }
            };
            let name = format!("{}/{} (trap)", p.cfg.name, t.child);
            let policy = |selector| Policy { name: name.clone(), selector, verdict: Verdict::Trap(t.id) };
            sadb.add_trap_policies(
                outs.into_iter().map(policy).collect(),
                ins.into_iter().map(policy).collect(),
            );
            fx.sadb_changed = true;
        }
    }
}

/// Ends what `peer` has: its IKE SA is deleted with the peer (when established) and its
/// Child SAs leave the data plane.
fn close(peer: &mut Peer, now: Instant, rng: &mut OsRng, sadb: &mut SadbBuilder, fx: &mut Effects) {
    if let Some(mut sa) = peer.sa.take() {
        if sa.is_established() {
            for o in sa.delete_ike(now, rng) {
                if let Output::Send(d) = o {
                    fx.sends.push(d);
                }
            }
        }
    }
    remove_all(peer, sadb, fx);
}

/// Removes every Child SA the driver installed for `peer`.
fn remove_all(peer: &mut Peer, sadb: &mut SadbBuilder, fx: &mut Effects) {
    peer.records.clear();
    for (_, i) in peer.installed.drain() {
        for s in [i.slot_in, i.slot_out] {
            sadb.remove_keyed_policies(s);
            sadb.remove(s);
        }
        fx.sadb_changed = true;
    }
}

/// The data plane's transform for negotiated algorithms (`encr` `None`: AH).
fn algorithm(encr: Option<EncrAlg>, integ: Option<IntegAlg>) -> Result<Algorithm, String> {
    let Some(encr) = encr else {
        return match integ {
            Some(IntegAlg::HmacSha256_128) => Ok(Algorithm::AhHmacSha256_128),
            i => Err(format!("the data plane has no AH transform {i:?}")),
        };
    };
    Ok(match (encr, integ) {
        (EncrAlg::AesGcm16_128, None) => Algorithm::AesGcm16_128,
        (EncrAlg::AesGcm16_256, None) => Algorithm::AesGcm16_256,
        (EncrAlg::AesCbc128, Some(IntegAlg::HmacSha1_96)) => Algorithm::AesCbc128HmacSha1_96,
        (EncrAlg::AesCbc256, Some(IntegAlg::HmacSha1_96)) => Algorithm::AesCbc256HmacSha1_96,
        (EncrAlg::AesCbc128, Some(IntegAlg::HmacSha256_128)) => Algorithm::AesCbc128HmacSha256_128,
        (EncrAlg::AesCbc256, Some(IntegAlg::HmacSha256_128)) => Algorithm::AesCbc256HmacSha256_128,
        (e, i) => return Err(format!("the data plane has no ESP transform {e:?} + {i:?}")),
    })
}

/// The Child SA's two directions as data-plane SAs, with the child's traffic lifetimes (the
/// data plane counts, the control loop reports them to [`IkeDriver::lifetime_event`]).
fn data_plane_sas(
    peer: &str,
    c: &ChildSa,
    limits: (TrafficLimits, TrafficLimits),
) -> Result<(Sa, Sa), String> {
    if c.mode != ike::sa::Mode::Tunnel {
        return Err("transport mode Child SAs are not wired to the data plane yet".into());
    }
    let alg = algorithm(c.algorithms.encr, c.algorithms.integ)?;
    let protocol = match c.protocol {
        ike::sa::ChildProtocol::Esp => Protocol::Esp,
        ike::sa::ChildProtocol::Ah => Protocol::Ah,
    };
    if protocol == Protocol::Ah && c.udp_encap {
        return Err("AH cannot be UDP-encapsulated".into());
    }
    let natt = c.udp_encap.then_some(NatT { local_port: c.local.port(), remote_port: c.remote.port() });
    let mode = Mode::Tunnel { local: c.local.ip(), remote: c.remote.ip() };
    let make = |spi: u32, enc: &[u8], auth: &[u8], dir: &str| -> Result<Sa, String> {
        Ok(Sa {
            name: format!("{peer}/{}-{dir}", c.name),
            spi,
            protocol,
            mode,
            transform: Transform::new(alg, enc, auth).map_err(|e| format!("{e:?}"))?,
            esn: c.algorithms.esn,
            natt,
            replay_window: REPLAY_WINDOW,
            df: DfPolicy::Copy,
            // IKE rekeys by time itself; the data plane counts bytes and packets.
            soft: Limits { seconds: None, bytes: limits.0.bytes, packets: limits.0.packets },
            hard: Limits { seconds: None, bytes: limits.1.bytes, packets: limits.1.packets },
            counters: Arc::new(SaCounters::default()),
        })
    };
    let k = &c.keys;
    let sa_in = make(c.spi_in, k.encr_in.as_bytes(), k.integ_in.as_bytes(), "in")?;
    let sa_out = make(c.spi_out, k.encr_out.as_bytes(), k.integ_out.as_bytes(), "out")?;
    Ok((sa_in, sa_out))
}

fn install(peer_name: &str, c: &ChildSa, peer: &mut Peer, sadb: &mut SadbBuilder) -> Result<(), String> {
    let limits = peer
        .cfg
        .children
        .iter()
        .find(|x| x.name == c.name)
        .map_or_else(Default::default, |x| (x.soft_traffic, x.hard_traffic));
    let (sa_in, sa_out) = data_plane_sas(peer_name, c, limits)?;
    peer.records.retain(|spi, _| peer.installed.contains_key(spi));
    peer.records.insert(
        c.spi_in,
        ChildRecord {
            esp: esp_text(&c.algorithms),
            udp_encap: c.udp_encap,
            local_ts: c.ts_local.iter().map(ts_text).collect(),
            remote_ts: c.ts_remote.iter().map(ts_text).collect(),
            counters_in: sa_in.counters.clone(),
            counters_out: sa_out.counters.clone(),
        },
    );
    peer.installs += 1;
    let tunnel = (c.name.clone(), c.ts_local.clone(), c.ts_remote.clone());
    let old = c.replaces.and_then(|old| peer.installed.get(&old)).map(|i| (i.slot_in, i.slot_out));
    // A peer bound to a VTI is route-based: its SAs carry whatever routing sends into the
    // VTI, so no policy comes from its (any-to-any) selectors.
    let vti = sadb.vti_of_peer(peer_name);
    if let Some((old_in, old_out)) = old {
        let si = sadb.rekey(old_in, sa_in).ok_or("the SA being rekeyed is gone")?;
        let so = if c.defer_outbound {
            // Policies (and the VTI) move when the peer deletes the old pair (DeleteChild above).
            let so = sadb.add(sa_out, SaDirection::Out);
            if let Some(v) = vti {
                sadb.set_vti(so, v);
            }
            so
        } else {
            sadb.rekey(old_out, sa_out).ok_or("the SA being rekeyed is gone")?
        };
        peer.installed.insert(c.spi_in, Installed { slot_in: si, slot_out: so, tunnel, seq: peer.installs });
        return Ok(());
    }
    if let Some(v) = vti {
        let si = sadb.add(sa_in, SaDirection::In);
        let so = sadb.add(sa_out, SaDirection::Out);
        sadb.set_vti(si, v);
        sadb.set_vti(so, v);
        sadb.set_vti_sa(v, so);
        peer.installed.insert(c.spi_in, Installed { slot_in: si, slot_out: so, tunnel, seq: peer.installs });
        return Ok(());
    }
    let outs = selectors(&c.ts_local, &c.ts_remote)?;
    let ins = selectors(&c.ts_remote, &c.ts_local)?;
    let si = sadb.add(sa_in, SaDirection::In);
    let so = sadb.add(sa_out, SaDirection::Out);
    let name = format!("{peer_name}/{}", c.name);
    let policy = |selector, slot| Policy { name: name.clone(), selector, verdict: Verdict::Protect(slot) };
    sadb.add_keyed_policies(
        outs.into_iter().map(|s| policy(s, so)).collect(),
        ins.into_iter().map(|s| policy(s, si)).collect(),
    );
    peer.installed.insert(c.spi_in, Installed { slot_in: si, slot_out: so, tunnel, seq: peer.installs });
    Ok(())
}

/// Every (source, destination) pair of selectors as SPD selectors; an address range that is
/// not a prefix becomes the prefixes that cover it exactly.
fn selectors(src: &[TrafficSelector], dst: &[TrafficSelector]) -> Result<Vec<Selector>, String> {
    let mut v = Vec::new();
    for s in src {
        for d in dst {
            let (sp, sproto, sports) = ts_parts(s)?;
            let (dp, dproto, dports) = ts_parts(d)?;
            if sproto != dproto && sproto.is_some() && dproto.is_some() {
                continue;
            }
            for a in &sp {
                for b in &dp {
                    if a.addr.is_ipv4() != b.addr.is_ipv4() {
                        continue;
                    }
                    v.push(Selector {
                        src: *a,
                        dst: *b,
                        protocol: sproto.or(dproto),
                        src_ports: sports,
                        dst_ports: dports,
                    });
                }
            }
        }
    }
    if v.is_empty() {
        return Err("the traffic selectors give no usable policy".into());
    }
    Ok(v)
}

/// ESP transforms the way the IKE proposal is shown: `AES_GCM_16_128/NO_ESN`,
/// `AES_CBC_256/HMAC_SHA2_256_128/ESN/MODP_2048` (a DH group when the SA was made with PFS).
fn esp_text(a: &EspAlgorithms) -> String {
    let mut v = vec![match a.encr {
        Some(e) => format!("{}_{}", e.id().name().unwrap_or("ENCR"), e.key_bits()),
        None => "AH".to_string(),
    }];
    v.extend(a.integ.map(|i| i.id().name().unwrap_or("INTEG").to_string()));
    v.push(if a.esn { "ESN" } else { "NO_ESN" }.to_string());
    v.extend(a.dh.map(|g| g.name().map_or_else(|| format!("DH_{}", u16::from(g)), str::to_string)));
    v.join("/")
}

/// A traffic selector as an admin writes it: `192.0.2.0/24`, a range `10.0.0.1-10.0.0.6`
/// when it is not one prefix, and `[tcp/443]` after it unless any protocol and port.
fn ts_text(ts: &TrafficSelector) -> String {
    let (addr, protocol, ports) = match ts {
        TrafficSelector::Ipv4 { protocol, ports, start, end } => {
            let p = range_prefixes(u32::from(*start) as u128, u32::from(*end) as u128, 32);
            let a = match p.as_slice() {
                [one] => one.to_string(),
                _ => format!("{start}-{end}"),
            };
            (a, *protocol, *ports)
        }
        TrafficSelector::Ipv6 { protocol, ports, start, end } => {
            let p = range_prefixes(u128::from(*start), u128::from(*end), 128);
            let a = match p.as_slice() {
                [one] => one.to_string(),
                _ => format!("{start}-{end}"),
            };
            (a, *protocol, *ports)
        }
        TrafficSelector::Other { ty, .. } => return format!("(selector type {})", u8::from(*ty)),
    };
    if protocol == 0 && ports == (0, 65535) {
        return addr;
    }
    let proto = match protocol {
        0 => "any".to_string(),
        1 => "icmp".to_string(),
        6 => "tcp".to_string(),
        17 => "udp".to_string(),
        58 => "ipv6-icmp".to_string(),
        n => n.to_string(),
    };
    match ports {
        (0, 65535) => format!("{addr}[{proto}]"),
        (lo, hi) if lo == hi => format!("{addr}[{proto}/{lo}]"),
        (lo, hi) => format!("{addr}[{proto}/{lo}-{hi}]"),
    }
}

type TsParts = (Vec<crate::config::IpPrefix>, Option<u8>, crate::config::ipsec::PortRange);

fn ts_parts(ts: &TrafficSelector) -> Result<TsParts, String> {
    let (prefixes, protocol, ports) = match *ts {
        TrafficSelector::Ipv4 { protocol, ports, start, end } => {
            (range_prefixes(u32::from(start) as u128, u32::from(end) as u128, 32), protocol, ports)
        }
        TrafficSelector::Ipv6 { protocol, ports, start, end } => {
            (range_prefixes(u128::from(start), u128::from(end), 128), protocol, ports)
        }
        TrafficSelector::Other { ty, .. } => {
            return Err(format!("traffic selector type {ty:?} not supported"))
        }
    };
    let protocol = (protocol != 0).then_some(protocol);
    Ok((prefixes, protocol, crate::config::ipsec::PortRange { lo: ports.0, hi: ports.1 }))
}

/// The fewest prefixes covering `start..=end` exactly, in an address space of `bits`.
fn range_prefixes(start: u128, end: u128, bits: u32) -> Vec<crate::config::IpPrefix> {
    let mut v = Vec::new();
    let mut cur = start;
    while cur <= end && v.len() < 64 {
        // The largest block aligned at `cur` that does not pass `end`.
        let mut len = bits - cur.trailing_zeros().min(bits);
        loop {
            let size = if len == 0 { None } else { 1u128.checked_shl(bits - len) };
            let last = match size {
                Some(s) => cur.checked_add(s - 1),
                None => Some(if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 }),
            };
            if last.is_some_and(|l| l <= end) {
                let addr = if bits == 32 { IpAddr::V4((cur as u32).into()) } else { IpAddr::V6(cur.into()) };
                v.push(crate::config::IpPrefix { addr, len: len as u8 });
                match last.and_then(|l| l.checked_add(1)) {
                    Some(n) => cur = n,
                    None => return v,
                }
                break;
            }
            len += 1;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> crate::config::IpPrefix {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_become_exact_prefixes() {
        let v4 = |a: &str| u32::from(a.parse::<std::net::Ipv4Addr>().unwrap()) as u128;
        assert_eq!(range_prefixes(v4("192.0.2.0"), v4("192.0.2.255"), 32), vec![p("192.0.2.0/24")]);
        assert_eq!(range_prefixes(v4("198.51.100.1"), v4("198.51.100.1"), 32), vec![p("198.51.100.1/32")]);
        assert_eq!(range_prefixes(0, v4("255.255.255.255"), 32), vec![p("0.0.0.0/0")]);
        assert_eq!(
            range_prefixes(v4("10.0.0.1"), v4("10.0.0.6"), 32),
            vec![p("10.0.0.1/32"), p("10.0.0.2/31"), p("10.0.0.4/31"), p("10.0.0.6/32")]
        );
        assert_eq!(range_prefixes(0, u128::MAX, 128), vec![p("::/0")]);
    }

    #[test]
    fn selectors_read_as_an_admin_writes_them() {
        let v4 = |p: u8, ports: (u16, u16), a: &str, b: &str| TrafficSelector::Ipv4 {
            protocol: p,
            ports,
            start: a.parse().unwrap(),
            end: b.parse().unwrap(),
        };
        assert_eq!(ts_text(&v4(0, (0, 65535), "192.0.2.0", "192.0.2.255")), "192.0.2.0/24");
        assert_eq!(ts_text(&v4(0, (0, 65535), "10.0.0.1", "10.0.0.6")), "10.0.0.1-10.0.0.6");
        assert_eq!(ts_text(&v4(6, (443, 443), "192.0.2.7", "192.0.2.7")), "192.0.2.7/32[tcp/443]");
        assert_eq!(ts_text(&v4(17, (0, 65535), "0.0.0.0", "255.255.255.255")), "0.0.0.0/0[udp]");
        assert_eq!(ts_text(&v4(0, (1024, 2047), "192.0.2.0", "192.0.2.255")), "192.0.2.0/24[any/1024-2047]");
        let v6 = crate::config::ike::prefix_to_ts(&p("2001:db8:1::/64"));
        assert_eq!(ts_text(&v6), "2001:db8:1::/64");
    }

    #[test]
    fn esp_transforms_read_like_the_ike_proposal() {
        use ike::codec::DhGroup;
        let gcm = EspAlgorithms { encr: Some(EncrAlg::AesGcm16_128), integ: None, esn: false, dh: None };
        assert_eq!(esp_text(&gcm), "AES_GCM_16_128/NO_ESN");
        let ah = EspAlgorithms { encr: None, integ: Some(IntegAlg::HmacSha256_128), esn: false, dh: None };
        assert_eq!(esp_text(&ah), "AH/HMAC_SHA2_256_128/NO_ESN");
        assert_eq!(algorithm(None, Some(IntegAlg::HmacSha256_128)), Ok(Algorithm::AhHmacSha256_128));
        assert!(algorithm(None, Some(IntegAlg::HmacSha1_96)).is_err());
        let cbc = EspAlgorithms {
            encr: Some(EncrAlg::AesCbc256),
            integ: Some(IntegAlg::HmacSha256_128),
            esn: true,
            dh: Some(DhGroup::MODP_2048),
        };
        assert_eq!(esp_text(&cbc), "AES_CBC_256/HMAC_SHA2_256_128/ESN/MODP_2048");
    }

    /// Two drivers talking to each other in one process on a virtual clock.
    struct Pair {
        a: IkeDriver,
        b: IkeDriver,
        sadb_a: SadbBuilder,
        sadb_b: SadbBuilder,
        now: Instant,
    }

    /// `extra` adds lines to the peer, `child` fields to its child `net`.
    fn peer_yaml(side: char, psk: &str, extra: &str, child: &str) -> IkeConfig {
        let (local, remote, near, far, start) = if side == 'a' {
            ("203.0.113.1", "203.0.113.2", "192.0.2.0/24", "198.51.100.0/24", "start")
        } else {
            ("203.0.113.2", "203.0.113.1", "198.51.100.0/24", "192.0.2.0/24", "none")
        };
        let y = format!(
            "peers:\n  - name: gw-{other}\n    local: {local}\n    remote: {remote}\n    local_id: gw-{side}@example.org\n    \
             psk: \"{psk}\"\n    ike_rekey_seconds: 7200\n    retransmit: {{ timeout_ms: 500, tries: 2 }}\n{extra}    \
             children:\n      - {{ name: net, local_ts: [{near}], remote_ts: [{far}], rekey_seconds: 600, start_action: {start}{child} }}\n",
            other = if side == 'a' { 'b' } else { 'a' },
        );
        serde_yaml_ng::from_str(&y).unwrap()
    }

    impl Pair {
        fn new(psk_b: &str, extra: &str) -> Pair {
            Pair::with_child(psk_b, extra, "")
        }

        fn with_child(psk_b: &str, extra: &str, child: &str) -> Pair {
            let a = peer_yaml('a', "correct horse battery staple", extra, child);
            Pair::with_configs(&a, &peer_yaml('b', psk_b, extra, child))
        }

        fn with_configs(a: &IkeConfig, b: &IkeConfig) -> Pair {
            let now = Instant::now();
            Pair {
                a: IkeDriver::new(a, now).unwrap(),
                b: IkeDriver::new(b, now).unwrap(),
                sadb_a: SadbBuilder::new(),
                sadb_b: SadbBuilder::new(),
                now,
            }
        }

        /// Runs `secs` of virtual time in 100 ms steps; `deliver: false` loses every datagram.
        fn run(&mut self, secs: u64, deliver: bool) {
            for _ in 0..secs * 10 {
                self.now += Duration::from_millis(100);
                let (mut fa, mut fb) = (Effects::default(), Effects::default());
                self.a.tick(self.now, &mut self.sadb_a, &mut fa);
                self.b.tick(self.now, &mut self.sadb_b, &mut fb);
                let (mut to_b, mut to_a) = (fa.sends, fb.sends);
                while deliver && !(to_a.is_empty() && to_b.is_empty()) {
                    let (mut fa, mut fb) = (Effects::default(), Effects::default());
                    for d in to_b.drain(..) {
                        self.b.handle_datagram(self.now, d.src, d.dst, &d.bytes, &mut self.sadb_b, &mut fb);
                    }
                    for d in to_a.drain(..) {
                        self.a.handle_datagram(self.now, d.src, d.dst, &d.bytes, &mut self.sadb_a, &mut fa);
                    }
                    (to_b, to_a) = (fa.sends, fb.sends);
                }
            }
        }
    }

    #[test]
    fn tunnel_down_deletes_and_holds_until_up() {
        let mut n = Pair::new("correct horse battery staple", "");
        n.run(1, true);
        assert_eq!(n.a.view(n.now)[0].state, "established");
        assert!(n.sadb_a.snapshot().entries().count() >= 2);
        // Down: the peer is told (its side goes away too) and our SAs leave the data plane.
        let mut fx = Effects::default();
        assert_eq!(n.a.set_admin("gw-b", false, n.now, &mut n.sadb_a, &mut fx).unwrap(), "gw-b: down");
        assert!(fx.sadb_changed && !fx.sends.is_empty());
        let mut fb = Effects::default();
        for d in fx.sends {
            n.b.handle_datagram(n.now, d.src, d.dst, &d.bytes, &mut n.sadb_b, &mut fb);
        }
        assert_eq!(n.sadb_a.snapshot().entries().count(), 0);
        assert_eq!(n.b.view(n.now)[0].state, "down", "the peer saw the delete");
        // It stays down: no initiation, and the peer's own attempt is ignored.
        n.run(40, true);
        assert_eq!(n.a.view(n.now)[0].state, "admin-down");
        let mut fb = Effects::default();
        assert_eq!(n.b.set_admin("gw-a", true, n.now, &mut n.sadb_b, &mut fb).unwrap(), "gw-a: initiating");
        n.run(5, true);
        assert_eq!(n.a.view(n.now)[0].state, "admin-down");
        assert_ne!(n.b.view(n.now)[0].state, "established");
        // Up: initiates at once and the tunnel is back.
        let mut fx = Effects::default();
        n.a.set_admin("gw-b", true, n.now, &mut n.sadb_a, &mut fx).unwrap();
        n.run(3, true);
        assert_eq!(n.a.view(n.now)[0].state, "established");
        assert!(n.a.view(n.now)[0].children.iter().any(|c| c.installed));
        assert!(n.a.set_admin("nope", true, n.now, &mut n.sadb_a, &mut fx).unwrap_err().contains("gw-b"));
    }

    #[test]
    fn reload_keeps_unchanged_peers_and_restarts_changed_ones() {
        let mut n = Pair::new("correct horse battery staple", "");
        n.run(1, true);
        let before = n.a.view(n.now)[0].clone();
        assert_eq!(before.state, "established");
        let old = peer_yaml('a', "correct horse battery staple", "", "");
        // Unchanged, plus a new peer: the running SA is untouched (same SPIs, still up).
        let mut added = old.clone();
        let mut extra = added.peers[0].clone();
        extra.name = "gw-c".into();
        extra.remote = "203.0.113.3".parse().unwrap();
        extra.children[0].start_action = crate::config::ike::StartActionName::None;
        added.peers.push(extra);
        let mut fx = Effects::default();
        let s = n.a.reload(&old, &added, n.now, &mut n.sadb_a, &mut fx).unwrap();
        assert_eq!(s, "IKE peers: 1 unchanged, 0 changed (restarted), 1 added, 0 removed");
        assert!(fx.sends.is_empty());
        let v = n.a.view(n.now);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].spi_i.clone(), v[0].state.as_str()), (before.spi_i.clone(), "established"));
        assert_eq!(v[0].children[0].spi_in, before.children[0].spi_in);
        n.run(2, true);
        assert_eq!(n.a.view(n.now)[0].spi_i, before.spi_i, "kept running after the reload");
        // Changed (another rekey time): closed with a delete to the peer, then negotiated anew.
        let mut changed = added.clone();
        changed.peers[0].ike_rekey_seconds = 3600;
        let mut fx = Effects::default();
        let s = n.a.reload(&added, &changed, n.now, &mut n.sadb_a, &mut fx).unwrap();
        assert_eq!(s, "IKE peers: 1 unchanged, 1 changed (restarted), 0 added, 0 removed");
        assert!(!fx.sends.is_empty(), "the old IKE SA is deleted with the peer");
        n.run(3, true);
        let v = n.a.view(n.now);
        assert_eq!(v[0].state, "established");
        assert_ne!(v[0].spi_i, before.spi_i);
        // Removed: gone from status, its SAs out of the data plane.
        let mut fx = Effects::default();
        let s = n.a.reload(&changed, &IkeConfig::default(), n.now, &mut n.sadb_a, &mut fx).unwrap();
        assert_eq!(s, "IKE peers: 0 unchanged, 0 changed (restarted), 0 added, 2 removed");
        assert!(n.a.view(n.now).is_empty() && n.a.is_empty());
        assert_eq!(n.sadb_a.snapshot().entries().count(), 0);
    }

    #[test]
    fn status_shows_the_negotiated_tunnel_and_its_traffic() {
        let mut n = Pair::new("correct horse battery staple", "");
        n.run(1, true);
        let v = &n.a.view(n.now)[0];
        assert_eq!((v.state.as_str(), v.role.as_deref()), ("established", Some("initiator")));
        assert_eq!(v.proposal.as_deref(), Some("AES_GCM_16_128/HMAC_SHA2_256/CURVE25519"));
        assert!(v.ike_rekey_in_s.is_some_and(|s| (7190..=7200).contains(&s)), "{:?}", v.ike_rekey_in_s);
        let c = &v.children[0];
        assert!(c.installed);
        assert_eq!((c.state.as_str(), c.esp.as_str()), ("installed", "AES_GCM_16_128/NO_ESN"));
        assert_eq!(
            (c.local_ts.clone(), c.remote_ts.clone()),
            (vec!["192.0.2.0/24".into()], vec!["198.51.100.0/24".into()])
        );
        assert!(c.rekey_in_s.is_some_and(|s| (590..=600).contains(&s)), "{:?}", c.rekey_in_s);
        assert_eq!(v.counters.ike_established, 1);
        assert_eq!(v.counters.child_established, 1);
        // The counters are the data plane's: what the workers add to the SA shows up here.
        let t = n.sadb_a.snapshot();
        let (_, out) = t.entries().find(|(_, e)| e.sa.spi == c.spi_out).expect("outbound SA installed");
        out.sa.counters.add_traffic(3, 252);
        let (_, inb) = t.entries().find(|(_, e)| e.sa.spi == c.spi_in).expect("inbound SA installed");
        inb.sa.counters.add_traffic(2, 168);
        let c = &n.a.view(n.now)[0].children[0];
        assert_eq!((c.packets_in, c.bytes_in, c.packets_out, c.bytes_out), (2, 168, 3, 252));
        // The responder sees the mirror image.
        let w = &n.b.view(n.now)[0];
        assert_eq!((w.state.as_str(), w.role.as_deref()), ("established", Some("responder")));
        assert_eq!(w.children[0].spi_in, n.a.view(n.now)[0].children[0].spi_out);
        assert_eq!(w.children[0].local_ts, vec!["198.51.100.0/24".to_string()]);
        // No secret reaches the status.
        let json = serde_json::to_string(&n.a.view(n.now)).unwrap();
        assert!(!json.contains("correct horse"), "{json}");
    }

    #[test]
    fn rekeys_are_counted_and_the_new_child_carries_on() {
        let mut n = Pair::new("correct horse battery staple", "");
        n.run(1, true);
        let first = n.a.view(n.now)[0].children[0].spi_in;
        n.run(605, true);
        let v = &n.a.view(n.now)[0];
        assert!(v.counters.child_rekeys >= 1, "{:?}", v.counters);
        assert_eq!(v.counters.child_established, 1, "a rekey is not a new Child SA");
        let live: Vec<_> = v.children.iter().filter(|c| c.state == "installed").collect();
        assert_eq!(live.len(), 1, "{:?}", v.children);
        assert_ne!(live[0].spi_in, first);
        assert_eq!(live[0].esp, "AES_GCM_16_128/NO_ESN");
        assert!(live[0].rekey_in_s.is_some_and(|s| s > 590));
    }

    /// The data plane's lifetime check on A, handed to A's driver as the control loop does.
    fn expire_a(n: &mut Pair) -> Vec<LifetimeEvent> {
        let events = n.sadb_a.expire(n.now);
        let mut fx = Effects::default();
        for e in &events {
            assert!(n.a.lifetime_event(n.now, e, &mut n.sadb_a, &mut fx), "{e:?} is an IKE Child SA");
        }
        for d in fx.sends {
            let mut fb = Effects::default();
            n.b.handle_datagram(n.now, d.src, d.dst, &d.bytes, &mut n.sadb_b, &mut fb);
            assert!(fb.sends.len() <= 1);
            for r in fb.sends {
                n.a.handle_datagram(n.now, r.src, r.dst, &r.bytes, &mut n.sadb_a, &mut Effects::default());
            }
        }
        events
    }

    #[test]
    fn a_soft_traffic_limit_rekeys_the_child_and_a_hard_one_deletes_it() {
        let mut n = Pair::with_child(
            "correct horse battery staple",
            "",
            ", rekey_bytes: 100000, rekey_packets: 1000, life_bytes: 200000",
        );
        n.run(1, true);
        let first = n.a.view(n.now)[0].children[0].clone();
        let t = n.sadb_a.snapshot();
        let (_, out) = t.entries().find(|(_, e)| e.sa.spi == first.spi_out).expect("outbound SA installed");
        assert_eq!(
            (out.sa.soft.bytes, out.sa.soft.packets, out.sa.hard.bytes),
            (Some(100_000), Some(1000), Some(200_000))
        );
        assert_eq!((out.sa.soft.seconds, out.sa.hard.packets), (None, None), "IKE keeps time itself");
        assert!(expire_a(&mut n).is_empty());
        // The outbound SA passes its soft byte limit: A rekeys the child, make-before-break.
        out.sa.counters.add_traffic(80, 100_001);
        let ev = expire_a(&mut n);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].hard, ev[0].limit), (false, "bytes"));
        let v = &n.a.view(n.now)[0];
        assert_eq!(v.counters.child_rekeys, 1, "{:?}", v.counters);
        n.run(1, true);
        let v = &n.a.view(n.now)[0];
        assert_eq!(v.children.len(), 1, "the old pair is deleted: {:?}", v.children);
        let second = v.children[0].clone();
        assert_ne!(second.spi_in, first.spi_in);
        assert_eq!((second.state.as_str(), second.bytes_out), ("installed", 0));
        assert!(n
            .sadb_a
            .snapshot()
            .entries()
            .all(|(_, e)| e.sa.spi != first.spi_out && e.sa.spi != first.spi_in));
        assert_eq!(n.b.view(n.now)[0].children.len(), 1);
        // The new inbound SA goes past its hard limit without its soft limit reported first
        // (a burst within one check): the pair leaves the data plane, the peer is told.
        let t = n.sadb_a.snapshot();
        let (_, inb) = t.entries().find(|(_, e)| e.sa.spi == second.spi_in).expect("inbound SA installed");
        inb.sa.counters.add_traffic(150, 200_000);
        let ev = expire_a(&mut n);
        assert!(ev.iter().any(|e| e.hard && e.limit == "bytes"), "{ev:?}");
        let t = n.sadb_a.snapshot();
        assert_eq!(t.entries().count(), 0, "both directions removed");
        assert!(t.outbound.is_empty() && t.inbound.is_empty(), "no policy names a removed SA");
        assert!(n.a.view(n.now)[0].children.is_empty());
        assert!(n.b.view(n.now)[0].children.is_empty(), "the peer deleted it too");
        assert_eq!(n.a.view(n.now)[0].state, "established", "the IKE SA stays");
    }

    #[test]
    fn traffic_on_a_trap_brings_the_child_up_and_its_sa_takes_over_the_traffic() {
        use crate::ipsec::spd::Flow;
        let mut a = peer_yaml('a', "correct horse battery staple", "", "");
        a.peers[0].children[0].start_action = StartActionName::Trap;
        let mut n = Pair::with_configs(&a, &peer_yaml('b', "correct horse battery staple", "", ""));
        // A packet from 192.0.2.7 to 198.51.100.9 (ICMP), as the SPD sees it.
        let flow = |src: &str, dst: &str| Flow {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: 1,
            ports: None,
            nd: false,
        };
        let out = flow("192.0.2.7", "198.51.100.9");
        n.run(5, true);
        let v = &n.a.view(n.now)[0];
        assert_eq!((v.state.as_str(), v.counters.ike_established), ("down", 0), "no traffic, no IKE");
        let t = n.sadb_a.snapshot();
        let trap = match t.outbound.lookup(&out) {
            Some((_, Verdict::Trap(id))) => id,
            other => panic!("outbound policy {other:?}"),
        };
        assert!(
            matches!(t.inbound.lookup(&flow("198.51.100.9", "192.0.2.7")), Some((_, Verdict::Trap(_)))),
            "clear text from the far side is refused before the tunnel exists"
        );
        // A worker drops a packet on the trap and raises its bit: the next tick acquires.
        t.acquires.raise(trap);
        n.run(1, true);
        let v = &n.a.view(n.now)[0];
        assert_eq!((v.state.as_str(), v.role.as_deref()), ("established", Some("initiator")));
        assert_eq!(v.children.len(), 1, "the trapped child rode in IKE_AUTH");
        let t = n.sadb_a.snapshot();
        match t.outbound.lookup(&out) {
            Some((_, Verdict::Protect(slot))) => assert_eq!(t.sa(slot).unwrap().spi, v.children[0].spi_out),
            other => panic!("outbound policy after the acquire: {other:?}"),
        }
        // More packets that hit the trap before the SA was published change nothing.
        t.acquires.raise(trap);
        n.run(4, true);
        assert_eq!(n.a.view(n.now)[0].children.len(), 1);
        assert_eq!(n.b.view(n.now)[0].children.len(), 1);
        // The peer deletes the child: the trap catches the traffic again, and it comes back
        // over the IKE SA that stayed.
        let spi = n.b.view(n.now)[0].children[0].spi_in;
        let out_b = n.b.peers[0].sa.as_mut().unwrap().delete_child(n.now, spi, &mut OsRng);
        let mut fb = Effects::default();
        apply(&mut n.b.peers[0], out_b, "established IKE SA", n.now, &mut n.sadb_b, &mut fb);
        for d in fb.sends {
            let mut fa = Effects::default();
            n.a.handle_datagram(n.now, d.src, d.dst, &d.bytes, &mut n.sadb_a, &mut fa);
            for r in fa.sends {
                n.b.handle_datagram(n.now, r.src, r.dst, &r.bytes, &mut n.sadb_b, &mut Effects::default());
            }
        }
        assert!(n.a.view(n.now)[0].children.is_empty());
        let t = n.sadb_a.snapshot();
        assert!(matches!(t.outbound.lookup(&out), Some((_, Verdict::Trap(_)))));
        t.acquires.raise(trap);
        n.run(1, true);
        let v = &n.a.view(n.now)[0];
        assert_eq!((v.children.len(), v.counters.ike_established, v.counters.child_established), (1, 1, 2));
        assert!(matches!(n.sadb_a.snapshot().outbound.lookup(&out), Some((_, Verdict::Protect(_)))));
    }

    #[test]
    fn ike_over_ipv6_makes_child_sas_with_ipv6_outer_addresses() {
        let v6 = |cfg: &mut IkeConfig, local: &str, remote: &str| {
            cfg.peers[0].local = local.parse().unwrap();
            cfg.peers[0].remote = remote.parse().unwrap();
        };
        let mut a = peer_yaml('a', "correct horse battery staple", "", "");
        let mut b = peer_yaml('b', "correct horse battery staple", "", "");
        v6(&mut a, "2001:db8::1", "2001:db8::2");
        v6(&mut b, "2001:db8::2", "2001:db8::1");
        let mut n = Pair::with_configs(&a, &b);
        n.run(1, true);
        let v = &n.a.view(n.now)[0];
        assert_eq!((v.state.as_str(), v.remote.as_str()), ("established", "2001:db8::2"));
        assert_eq!(v.children.len(), 1);
        let t = n.sadb_a.snapshot();
        let (_, out) = t.entries().find(|(_, e)| e.sa.spi == v.children[0].spi_out).expect("outbound SA");
        let want: (IpAddr, IpAddr) = ("2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap());
        assert_eq!(out.sa.mode, Mode::Tunnel { local: want.0, remote: want.1 });
        assert_eq!(n.b.view(n.now)[0].children[0].spi_in, v.children[0].spi_out);
    }

    #[test]
    fn a_dead_peer_is_not_a_failed_negotiation_but_a_retry_that_gets_no_answer_is() {
        let mut n = Pair::new("correct horse battery staple", "    dpd: { interval: 5, action: clear }\n");
        n.run(1, true);
        // The peer falls silent: DPD, retransmits, then the peer is declared dead. At that
        // moment no negotiation has failed.
        for _ in 0..30 {
            n.run(1, false);
            if n.a.view(n.now)[0].counters.peer_dead > 0 {
                break;
            }
        }
        let v = &n.a.view(n.now)[0];
        assert_eq!(v.state, "down");
        assert_eq!(v.counters.peer_dead, 1);
        assert!(v.counters.ike_failed.is_empty(), "{:?}", v.counters);
        // The gateway tries again (backing off) and gets no answer: those negotiations failed.
        n.run(40, false);
        let v = &n.a.view(n.now)[0];
        assert!(v.counters.ike_failed.get("no_answer").is_some_and(|&f| f >= 1), "{:?}", v.counters);
        assert_eq!((v.counters.ike_established, v.counters.peer_dead), (1, 1));
    }

    #[test]
    fn a_wrong_psk_counts_as_authentication_failed() {
        let mut n = Pair::new("not the same psk at all", "");
        n.run(1, true);
        let v = &n.a.view(n.now)[0];
        assert_ne!(v.state, "established");
        assert_eq!(v.counters.ike_established, 0);
        assert_eq!(v.counters.ike_failed.get("authentication_failed"), Some(&1), "{:?}", v.counters);
        let w = &n.b.view(n.now)[0];
        assert_eq!(w.counters.ike_failed.get("authentication_failed"), Some(&1), "{:?}", w.counters);
    }

    #[test]
    fn selectors_pair_every_local_with_every_remote() {
        let ts = |s: &str| crate::config::ike::prefix_to_ts(&p(s));
        let v = selectors(&[ts("192.0.2.0/24"), ts("192.0.3.0/24")], &[ts("198.51.100.0/24")]).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!((v[1].src, v[1].dst, v[1].protocol), (p("192.0.3.0/24"), p("198.51.100.0/24"), None));
        assert!(v[0].src_ports.is_any());
    }
}
