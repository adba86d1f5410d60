//! The IKEv2 SA state machine (RFC 7296), sans-I/O.
//!
//! One [`IkeSa`] is one peer relationship: the IKE SA (across IKE rekeys) and the Child SAs
//! under it. It owns no socket, reads no clock and draws no randomness of its own:
//!
//! * [`IkeSa::initiate`] / [`IkeSa::accept`] create it (the responder's driver first runs the
//!   request through a [`CookieGate`]);
//! * [`IkeSa::handle_datagram`] takes each received UDP payload (with the RFC 3948 non-ESP
//!   marker when it arrived on port 4500) together with `now`, the addresses and an RNG;
//! * [`IkeSa::poll_timeout`] says when [`IkeSa::handle_timeout`] must be called next;
//! * every call returns [`Output`]s: datagrams to send, Child SAs to install or delete in the
//!   data plane, and [`Event`]s whose [`Failure`]s say what an admin should look at.
//!
//! `now` must never go backwards. Nothing here panics on any received bytes: malformed or
//! unauthenticated input is dropped (and answered with a notify where RFC 7296 asks for one).
//!
//! Exchanges: IKE_SA_INIT (proposal selection, INVALID_KE_PAYLOAD retry, COOKIE, NAT
//! detection and float to 4500), IKE_AUTH with PSK and the first Child SA, CREATE_CHILD_SA
//! (new Child SAs, Child rekey make-before-break with the §2.8.1 collision rule, IKE rekey),
//! INFORMATIONAL (delete, liveness checks). Requests are retransmitted with exponential
//! back-off over a window of one; retransmitted requests are answered from a response cache.
//! IKE fragmentation (RFC 7383) when both peers announce it: see `fragment.rs`.

mod auth;
mod child;
pub mod config;
pub mod cookie;
mod fragment;
mod info;
mod init;
pub mod nat;
mod proposal;
pub(crate) mod retransmit;
pub(crate) mod ts;

pub use config::{
    ChildConfig, DpdAction, EspProposal, IkeProposal, Mode, PeerConfig, RetransmitConfig, StartAction,
    TrafficLimits, DEFAULT_FRAGMENT_SIZE, MIN_FRAGMENT_SIZE,
};
pub use cookie::{CookieGate, GateVerdict};
pub use nat::NatStatus;

use crate::codec::header::Packet;
use crate::codec::payload::Payload;
use crate::codec::sk::{encode_inner, Encrypted};
use crate::codec::ts::TrafficSelector;
use crate::codec::{DhGroup, ExchangeType, Flags, Header, Message, PayloadType};
use crate::crypto::dh::DhPrivateKey;
use crate::crypto::encr::EncrAlg;
use crate::crypto::integ::IntegAlg;
use crate::crypto::keys::Suite;
use crate::crypto::Secret;
use crate::protect::{IkeSaProtection, Opened};
use core::fmt;
use rand_core::CryptoRngCore;
use retransmit::{Outstanding, Retransmit};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A UDP datagram to send (or, for [`CookieGate`], one to answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The UDP payload, including the non-ESP marker when sent from port 4500.
    pub bytes: Vec<u8>,
}

/// What a call asks the driver to do, in order.
#[derive(Debug)]
pub enum Output {
    Send(Datagram),
    InstallChild(ChildSa),
    DeleteChild(ChildSaDeleted),
    Event(Event),
}

/// A Child SA's ESP keys, per direction (from KEYMAT, RFC 7296 §2.17).
#[derive(Debug, Clone)]
pub struct ChildKeys {
    pub encr_in: Secret,
    pub integ_in: Secret,
    pub encr_out: Secret,
    pub integ_out: Secret,
}

/// The negotiated ESP transforms (or AH's: no encryption). AES-GCM keys include the 4-octet
/// salt (RFC 4106 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspAlgorithms {
    /// `None` exactly for AH ([`ChildProtocol::Ah`]), which has only integrity.
    pub encr: Option<EncrAlg>,
    pub integ: Option<IntegAlg>,
    pub esn: bool,
    /// The PFS group used to make this SA, if any.
    pub dh: Option<DhGroup>,
}

/// The IPsec protocol of a Child SA: ESP, or AH (IKEv1 quick mode only here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChildProtocol {
    #[default]
    Esp,
    Ah,
}

/// A Child SA pair for the data plane.
#[derive(Debug, Clone)]
pub struct ChildSa {
    pub name: String,
    pub protocol: ChildProtocol,
    pub spi_in: u32,
    pub spi_out: u32,
    pub keys: ChildKeys,
    pub algorithms: EspAlgorithms,
    pub ts_local: Vec<TrafficSelector>,
    pub ts_remote: Vec<TrafficSelector>,
    pub mode: Mode,
    /// Outer addresses (tunnel end points / UDP encapsulation addresses).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// ESP in UDP (RFC 3948) between `local` and `remote` because a NAT was detected.
    pub udp_encap: bool,
    /// The inbound SPI of the SA this one replaces (rekey): install this one, then expect a
    /// [`Output::DeleteChild`] for the old one.
    pub replaces: Option<u32>,
    /// Set when we answered the peer's rekey: decrypt with the new inbound SA at once, but keep
    /// sending on the replaced SA until it is deleted. The peer installs its side of the new
    /// pair only when our answer reaches it, so packets we sent on the new SA before then
    /// would be lost; its Delete of the old pair says it has switched.
    pub defer_outbound: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// Replaced by a rekeyed SA (or the redundant SA of a rekey collision).
    Rekeyed,
    /// We closed it.
    Deleted,
    /// The peer closed it.
    DeletedByPeer,
    /// The IKE SA is gone (closed, failed, or the peer is dead).
    IkeSaDown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSaDeleted {
    pub name: String,
    pub spi_in: u32,
    pub spi_out: u32,
    pub reason: DeleteReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No common proposal (IKE or ESP).
    NoProposalChosen,
    /// The PSK did not verify (ours or the peer's).
    AuthenticationFailed,
    /// The peer's ID is not the configured one.
    IdentityMismatch,
    /// Traffic selectors do not match (TS_UNACCEPTABLE).
    PolicyMismatch,
    /// The peer insists on a DH group we do not offer.
    InvalidKe,
    /// No answer after all retransmits.
    NoAnswer,
    /// The peer answered with another error notify.
    PeerError,
    /// A responder's half-open SA got no IKE_AUTH in time.
    HalfOpenTimeout,
    /// The peer's messages break the protocol.
    Protocol,
    /// The SA reached its hard lifetime without being replaced (IKEv1 phase 1 whose
    /// re-authentication kept failing).
    LifetimeExpired,
}

/// Why something failed, in words an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub detail: String,
}

impl Failure {
    fn new(kind: FailureKind, detail: impl Into<String>) -> Failure {
        Failure { kind, detail: detail.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            FailureKind::NoProposalChosen => "no proposal chosen",
            FailureKind::AuthenticationFailed => "authentication failed",
            FailureKind::IdentityMismatch => "identity mismatch",
            FailureKind::PolicyMismatch => "policy mismatch",
            FailureKind::InvalidKe => "DH group mismatch",
            FailureKind::NoAnswer => "peer not answering",
            FailureKind::PeerError => "peer error",
            FailureKind::HalfOpenTimeout => "half-open timeout",
            FailureKind::Protocol => "protocol error",
            FailureKind::LifetimeExpired => "lifetime expired",
        };
        write!(f, "{what}: {}", self.detail)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// IKE_AUTH completed (both PSKs verified).
    IkeEstablished { spi_i: u64, spi_r: u64, proposal: String, nat: NatStatus },
    /// The IKE SA was rekeyed: these are the new SPIs.
    IkeRekeyed { spi_i: u64, spi_r: u64 },
    /// A Child SA was replaced by a new one (installed in the same call).
    ChildRekeyed { name: String, old_spi_in: u32, new_spi_in: u32 },
    /// A Child SA could not be made; the IKE SA stays up.
    ChildFailed { name: String, failure: Failure },
    /// The IKE SA could not be made, or is gone.
    Failed(Failure),
    /// The IKE SA was deleted in an orderly way.
    Closed { by_peer: bool },
    /// The peer was declared dead; `action` is being applied.
    PeerDead { action: DpdAction },
}

/// A summary of an installed Child SA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildInfo {
    pub name: String,
    pub spi_in: u32,
    pub spi_out: u32,
}

/// A Child SA's place in its life, for status displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSchedule {
    pub spi_in: u32,
    /// `installed`, `rekeying` (our rekey is in flight), `rekeyed` (replaced, its Delete is
    /// pending) or `deleting`.
    pub state: &'static str,
    /// When we start its rekey; `None` when rekeying is off or one is under way.
    pub rekey_at: Option<Instant>,
}

// ----------------------------------------------------------------------------------------------
// Internal state.

/// One IKE SA's keys and message-ID state. After an IKE rekey the old one lives on (retired)
/// until its Delete exchange is done, so both can be addressed by SPI.
struct Ike {
    spi_i: u64,
    spi_r: u64,
    /// We set the I flag on this SA (we initiated it, or its rekey).
    initiator: bool,
    suite: Suite,
    dh_group: DhGroup,
    prot: IkeSaProtection,
    sk_d: Secret,
    sk_pi: Secret,
    sk_pr: Secret,
    proposal: String,
    next_id: u32,
    peer_next_id: u32,
    pending: Option<Pending>,
    /// The last response we sent (whole or its fragments) and its message ID (answers
    /// retransmitted requests).
    cache: Option<(u32, Vec<Vec<u8>>)>,
    iv_counter: u64,
    retired: bool,
    /// Fragments of the peer's request / response being collected (RFC 7383 §2.6).
    frag_requests: Option<fragment::Reassembly>,
    frag_responses: Option<fragment::Reassembly>,
}

struct Pending {
    out: Outstanding,
    ex: Exchange,
}

enum Exchange {
    Auth(Option<ChildReq>),
    Child(ChildReq),
    RekeyIke(IkeRekeyReq),
    Delete(Vec<u32>),
    DeleteIke,
    Dpd,
}

impl Exchange {
    fn name(&self) -> &'static str {
        match self {
            Exchange::Auth(_) => "IKE_AUTH",
            Exchange::Child(c) if c.rekey.is_some() => "CREATE_CHILD_SA (rekey)",
            Exchange::Child(_) => "CREATE_CHILD_SA",
            Exchange::RekeyIke(_) => "CREATE_CHILD_SA (IKE rekey)",
            Exchange::Delete(_) | Exchange::DeleteIke => "INFORMATIONAL (delete)",
            Exchange::Dpd => "INFORMATIONAL (liveness check)",
        }
    }
}

/// Our side of a Child SA being made by us.
struct ChildReq {
    cfg: usize,
    spi_in: u32,
    ni: Vec<u8>,
    dh: Option<DhPrivateKey>,
    /// The inbound SPI of the Child SA being rekeyed.
    rekey: Option<u32>,
    /// A rekey of the same Child SA by the peer, answered while ours was outstanding
    /// (§2.8.1): the inbound SPI it gave us and the lowest nonce of that exchange.
    collision: Option<(u32, Vec<u8>)>,
    ts_local: Vec<TrafficSelector>,
    ts_remote: Vec<TrafficSelector>,
    offer: crate::codec::sa::SecurityAssociation,
}

struct IkeRekeyReq {
    spi: u64,
    ni: Vec<u8>,
    dh: DhPrivateKey,
    offer: crate::codec::sa::SecurityAssociation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChildState {
    Installed,
    Rekeying,
    /// Replaced; waiting for its Delete.
    Rekeyed,
    Deleting,
}

struct Child {
    cfg: usize,
    spi_in: u32,
    spi_out: u32,
    ts_local: Vec<TrafficSelector>,
    ts_remote: Vec<TrafficSelector>,
    state: ChildState,
    rekey_at: Option<Instant>,
    /// Superseded by a rekey: its deletion is reported as [`DeleteReason::Rekeyed`].
    replaced: bool,
}

enum Task {
    NewChild(usize),
    RekeyChild(u32),
    RekeyIke,
    DeleteChild(u32),
    DeleteIke,
    Dpd,
}

/// The initiator's IKE_SA_INIT in flight.
struct InitState {
    spi_i: u64,
    ni: Vec<u8>,
    dh: DhPrivateKey,
    cookie: Option<Vec<u8>>,
    request: Vec<u8>,
    out: Outstanding,
    /// COOKIE / INVALID_KE round trips so far (bounded).
    redo: u8,
}

/// What IKE_AUTH needs from IKE_SA_INIT.
struct Handshake {
    init_req: Vec<u8>,
    init_resp: Vec<u8>,
    ni: Vec<u8>,
    nr: Vec<u8>,
    /// Responder: forget the SA if IKE_AUTH has not arrived by then.
    deadline: Option<Instant>,
}

enum Phase {
    Init(Box<InitState>),
    Auth(Box<Handshake>),
    Established,
    Dead,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Cur,
    Old,
}

/// What to do once a response has been sent.
enum After {
    Nothing,
    /// Authentication failed: the SA is dead (the failure event is already out).
    Die,
    /// The peer deleted the IKE SA.
    Close,
    /// We answered an IKE rekey: switch to the new SA.
    Promote(Box<Ike>),
}

/// One peer: an IKE SA and its Child SAs. See the module documentation.
pub struct IkeSa {
    config: Arc<PeerConfig>,
    local: SocketAddr,
    remote: SocketAddr,
    nat: NatStatus,
    phase: Phase,
    cur: Option<Ike>,
    old: Option<Ike>,
    children: Vec<Child>,
    queue: VecDeque<Task>,
    last_rx: Instant,
    ike_rekey_at: Option<Instant>,
    /// The child IKE_AUTH carries when it is not the first `start` one: the child whose
    /// traffic (a trap) made us initiate.
    first_child: Option<usize>,
    /// Both peers announced IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT (kept across IKE
    /// rekeys).
    fragmentation: bool,
}

impl fmt::Debug for IkeSa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IkeSa")
            .field("peer", &self.config.name)
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("spis", &self.spis())
            .field("established", &self.is_established())
            .field("children", &self.child_sas())
            .finish()
    }
}

const NONCE_LEN: usize = 32;
/// Retry delay for a Child rekey the peer answered with TEMPORARY_FAILURE.
const REKEY_RETRY: Duration = Duration::from_secs(10);

fn random_nonce(rng: &mut impl CryptoRngCore) -> Vec<u8> {
    let mut n = vec![0u8; NONCE_LEN];
    rng.fill_bytes(&mut n);
    n
}

fn random_ike_spi(rng: &mut impl CryptoRngCore) -> u64 {
    loop {
        let s = rng.next_u64();
        if s != 0 {
            return s;
        }
    }
}

/// ESP SPIs 1–255 are reserved (RFC 4303 §2.1).
fn random_esp_spi(rng: &mut impl CryptoRngCore) -> u32 {
    loop {
        let s = rng.next_u32();
        if s > 255 {
            return s;
        }
    }
}

impl Ike {
    fn matches(&self, spi_i: u64, spi_r: u64) -> bool {
        self.spi_i == spi_i && self.spi_r == spi_r
    }

    fn header(&self, exchange: ExchangeType, response: bool, message_id: u32) -> Header {
        let mut flags = if self.initiator { Flags::INITIATOR } else { Flags(0) };
        if response {
            flags = flags | Flags::RESPONSE;
        }
        Header { spi_i: self.spi_i, spi_r: self.spi_r, minor_version: 0, exchange, flags, message_id }
    }

    fn next_iv(&mut self, rng: &mut impl CryptoRngCore) -> Vec<u8> {
        let alg = self.suite.encr;
        if alg.is_aead() {
            // GCM needs a unique IV per key, not a random one: a counter.
            self.iv_counter += 1;
            self.iv_counter.to_be_bytes()[..alg.iv_len()].to_vec()
        } else {
            let mut iv = vec![0u8; alg.iv_len()];
            rng.fill_bytes(&mut iv);
            iv
        }
    }

    /// The protected message, or its SKF fragments when it is longer than `budget` bytes
    /// (the IKE message length the fragment size allows; `None` = never fragment).
    fn seal(
        &mut self,
        header: &Header,
        payloads: &[Payload],
        budget: Option<usize>,
        rng: &mut impl CryptoRngCore,
    ) -> Option<Vec<Vec<u8>>> {
        let iv = self.next_iv(rng);
        let whole = self.prot.outbound.seal(header, payloads, &iv).ok()?;
        let Some(budget) = budget.filter(|&b| whole.len() > b) else { return Some(vec![whole]) };
        let part = fragment::part_len(budget, self.prot.outbound.fragment_overhead())?;
        let (first, mut plain) = encode_inner(payloads).ok()?;
        let total = u16::try_from(plain.len().div_ceil(part)).ok().filter(|&t| t <= fragment::MAX_FRAGMENTS);
        let mut out = Vec::new();
        for (i, chunk) in plain.chunks(part).enumerate() {
            let Some(total) = total else { break };
            let number = i as u16 + 1;
            let first = if number == 1 { first } else { PayloadType::NONE };
            let iv = self.next_iv(rng);
            match self.prot.outbound.seal_fragment(header, first, number, total, chunk, &iv) {
                Ok(f) => out.push(f),
                Err(_) => break,
            }
        }
        plain.iter_mut().for_each(|b| *b = 0);
        (total.map(usize::from) == Some(out.len())).then_some(out)
    }
}

impl IkeSa {
    fn blank(config: Arc<PeerConfig>, local: SocketAddr, remote: SocketAddr, now: Instant) -> IkeSa {
        IkeSa {
            config,
            local,
            remote,
            nat: NatStatus::default(),
            phase: Phase::Dead,
            cur: None,
            old: None,
            children: Vec::new(),
            queue: VecDeque::new(),
            last_rx: now,
            ike_rekey_at: None,
            first_child: None,
            fragmentation: false,
        }
    }

    // ---- inspection -------------------------------------------------------------------------

    pub fn config(&self) -> &Arc<PeerConfig> {
        &self.config
    }

    /// The current IKE SA's SPIs (initiator's, responder's), once IKE_SA_INIT is done.
    pub fn spis(&self) -> Option<(u64, u64)> {
        self.cur.as_ref().map(|c| (c.spi_i, c.spi_r))
    }

    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Established)
    }

    pub fn is_dead(&self) -> bool {
        matches!(self.phase, Phase::Dead)
    }

    /// A responder SA still waiting for IKE_AUTH (what [`CookieGate::check`] counts).
    pub fn is_half_open(&self) -> bool {
        matches!(self.phase, Phase::Auth(_)) && self.cur.as_ref().is_some_and(|c| !c.initiator)
    }

    pub fn nat(&self) -> NatStatus {
        self.nat
    }

    /// Our address and the peer's, as currently used (after any NAT-T float).
    pub fn addresses(&self) -> (SocketAddr, SocketAddr) {
        (self.local, self.remote)
    }

    /// The Child SAs in place (including ones being rekeyed or deleted).
    pub fn child_sas(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .map(|c| ChildInfo {
                name: self.child_name(c.cfg).to_owned(),
                spi_in: c.spi_in,
                spi_out: c.spi_out,
            })
            .collect()
    }

    /// When the IKE SA is next rekeyed: `None` when rekeying is off, not yet established, or a
    /// rekey is under way.
    pub fn ike_rekey_at(&self) -> Option<Instant> {
        self.ike_rekey_at
    }

    /// Each Child SA's state and next rekey, by inbound SPI; for status displays.
    pub fn child_schedule(&self) -> Vec<ChildSchedule> {
        self.children
            .iter()
            .map(|c| ChildSchedule {
                spi_in: c.spi_in,
                state: match c.state {
                    ChildState::Installed => "installed",
                    ChildState::Rekeying => "rekeying",
                    ChildState::Rekeyed => "rekeyed",
                    ChildState::Deleting => "deleting",
                },
                rekey_at: c.rekey_at,
            })
            .collect()
    }

    /// Whether this SA wants the datagram (matching SPIs); for a driver's demultiplexing.
    pub fn matches_datagram(&self, dst: SocketAddr, datagram: &[u8]) -> bool {
        let Some(msg) = nat::unframe(dst.port(), datagram) else { return false };
        let Ok(p) = Packet::new_checked(msg) else { return false };
        let (i, r) = (p.spi_i(), p.spi_r());
        match &self.phase {
            Phase::Dead => false,
            Phase::Init(st) => i == st.spi_i && (r == 0 || p.flags().response()),
            _ => {
                self.cur.as_ref().is_some_and(|c| c.matches(i, r) || (c.spi_i == i && r == 0))
                    || self.old.as_ref().is_some_and(|c| c.matches(i, r))
            }
        }
    }

    fn child_name(&self, cfg: usize) -> &str {
        self.config.children.get(cfg).map_or("?", |c| c.name.as_str())
    }

    // ---- driver API ---------------------------------------------------------------------------

    /// Starts an IKE SA as [`IkeSa::initiate`] does, but with the child `name` in IKE_AUTH (the
    /// driver's answer to traffic on a trap); children configured to `start` follow it.
    pub fn initiate_for_child(
        config: Arc<PeerConfig>,
        now: Instant,
        name: &str,
        rng: &mut impl CryptoRngCore,
    ) -> (IkeSa, Vec<Output>) {
        let first = config.children.iter().position(|c| c.name == name);
        let (mut sa, out) = IkeSa::initiate(config, now, rng);
        sa.first_child = first;
        (sa, out)
    }

    /// Asks for another Child SA from the configuration (by name).
    pub fn initiate_child(&mut self, now: Instant, name: &str, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        if let Some(i) = self.config.children.iter().position(|c| c.name == name) {
            self.queue.push_back(Task::NewChild(i));
        }
        self.run_queue(now, rng)
    }

    /// Rekeys the Child SA with this inbound SPI now.
    pub fn rekey_child(&mut self, now: Instant, spi_in: u32, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        self.queue.push_back(Task::RekeyChild(spi_in));
        self.run_queue(now, rng)
    }

    /// Rekeys the IKE SA now.
    pub fn rekey_ike(&mut self, now: Instant, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        self.queue.push_back(Task::RekeyIke);
        self.run_queue(now, rng)
    }

    /// Deletes the Child SA with this inbound SPI.
    pub fn delete_child(&mut self, now: Instant, spi_in: u32, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        self.queue.push_back(Task::DeleteChild(spi_in));
        self.run_queue(now, rng)
    }

    /// Deletes the IKE SA and with it every Child SA.
    pub fn delete_ike(&mut self, now: Instant, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        self.queue.push_back(Task::DeleteIke);
        self.run_queue(now, rng)
    }

    fn run_queue(&mut self, now: Instant, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        let mut out = Vec::new();
        self.kick(now, rng, &mut out);
        out
    }

    // ---- input ----------------------------------------------------------------------------------

    /// One received UDP payload, from `src` to our `dst`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        datagram: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        let Some(msg) = nat::unframe(dst.port(), datagram) else { return out };
        let Ok(p) = Packet::new_checked(msg) else { return out };
        if p.check_length_field().is_err() || p.major_version() != 2 {
            return out;
        }
        let (spi_i, spi_r, flags, id, exchange) =
            (p.spi_i(), p.spi_r(), p.flags(), p.message_id(), p.exchange_type());
        match &self.phase {
            Phase::Dead => return out,
            Phase::Init(st) => {
                if flags.response() && exchange == ExchangeType::IKE_SA_INIT && spi_i == st.spi_i && id == 0 {
                    self.on_init_response(now, src, dst, msg, rng, &mut out);
                }
                return out;
            }
            Phase::Auth(hs) if exchange == ExchangeType::IKE_SA_INIT && !flags.response() && spi_r == 0 => {
                // A retransmitted IKE_SA_INIT request: answer it again.
                if let Some(cur) = &self.cur {
                    if !cur.initiator && cur.spi_i == spi_i && id == 0 {
                        out.push(self.send(hs.init_resp.clone()));
                    }
                }
                return out;
            }
            _ => {}
        }
        let which = if self.cur.as_ref().is_some_and(|c| c.matches(spi_i, spi_r)) {
            Which::Cur
        } else if self.old.as_ref().is_some_and(|c| c.matches(spi_i, spi_r)) {
            Which::Old
        } else {
            return out;
        };
        if flags.response() {
            self.on_response(which, now, src, dst, msg, rng, &mut out);
        } else {
            self.on_request(which, now, src, dst, msg, rng, &mut out);
        }
        self.kick(now, rng, &mut out);
        out
    }

    fn ike(&self, w: Which) -> Option<&Ike> {
        match w {
            Which::Cur => self.cur.as_ref(),
            Which::Old => self.old.as_ref(),
        }
    }

    fn ike_mut(&mut self, w: Which) -> Option<&mut Ike> {
        match w {
            Which::Cur => self.cur.as_mut(),
            Which::Old => self.old.as_mut(),
        }
    }

    /// After a NAT was detected, the peer's address is whatever its last authenticated
    /// message came from (§2.23).
    fn note_addresses(&mut self, now: Instant, src: SocketAddr, dst: SocketAddr) {
        self.last_rx = now;
        if self.nat.any() {
            self.remote = src;
            self.local = dst;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_request(
        &mut self,
        w: Which,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        msg: &[u8],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let Some(ike) = self.ike(w) else { return };
        let Ok(p) = Packet::new_checked(msg) else { return };
        let id = p.message_id();
        if id.wrapping_add(1) == ike.peer_next_id {
            // A retransmitted request; of a fragmented one only fragment 1 is answered, or
            // each fragment would draw the whole response (RFC 7383 §2.6.1).
            let first = p.next_payload() != PayloadType::SKF || skf_number(msg) == Some(1);
            if let Some((cid, msgs)) = ike.cache.as_ref().filter(|_| first) {
                if *cid == id {
                    self.send_all(&msgs.clone(), out);
                }
            }
            return;
        }
        if id != ike.peer_next_id || p.flags().initiator() == ike.initiator {
            return;
        }
        let Some(opened) = self.open(w, msg, false) else { return };
        self.note_addresses(now, src, dst);
        let exchange = opened.header.exchange;
        let (reply, after) = match exchange {
            ExchangeType::IKE_AUTH if w == Which::Cur => {
                self.on_auth_request(now, &opened.payloads, rng, out)
            }
            ExchangeType::CREATE_CHILD_SA => self.on_create_child_request(w, now, &opened.payloads, rng, out),
            ExchangeType::INFORMATIONAL => self.on_informational_request(w, &opened.payloads, out),
            _ => return,
        };
        let budget = self.fragment_budget();
        let Some(ike) = self.ike_mut(w) else { return };
        let header = ike.header(exchange, true, id);
        ike.peer_next_id = id.wrapping_add(1);
        if let Some(msgs) = ike.seal(&header, &reply, budget, rng) {
            ike.cache = Some((id, msgs.clone()));
            self.send_all(&msgs, out);
        }
        match after {
            After::Nothing => {}
            After::Die => self.phase = Phase::Dead,
            After::Close => {
                if w == Which::Old {
                    // The retired SA of a rekey: the Child SAs live on under the new one. It
                    // stays (retired) for an exchange of ours still outstanding on it.
                    if let Some(o) = self.old.as_mut() {
                        o.retired = true;
                    }
                } else {
                    self.tear_down(DeleteReason::DeletedByPeer, out);
                    out.push(Output::Event(Event::Closed { by_peer: true }));
                    self.phase = Phase::Dead;
                }
            }
            After::Promote(new) => self.promote(*new, now, out),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_response(
        &mut self,
        w: Which,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        msg: &[u8],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let Some(ike) = self.ike(w) else { return };
        let Ok(p) = Packet::new_checked(msg) else { return };
        let Some(pending) = &ike.pending else { return };
        if p.message_id() != pending.out.id || p.flags().initiator() == ike.initiator {
            return;
        }
        let Some(opened) = self.open(w, msg, true) else { return };
        self.note_addresses(now, src, dst);
        let Some(ike) = self.ike_mut(w) else { return };
        let Some(pending) = ike.pending.take() else { return };
        ike.next_id = ike.next_id.wrapping_add(1);
        let payloads = opened.payloads;
        match pending.ex {
            Exchange::Auth(child) => self.on_auth_response(now, child, &payloads, rng, out),
            Exchange::Child(req) => self.on_child_response(w, now, req, &payloads, out),
            Exchange::RekeyIke(req) if w == Which::Cur => {
                self.on_ike_rekey_response(now, req, &payloads, rng, out)
            }
            Exchange::RekeyIke(_) => {}
            Exchange::Delete(spis) => self.on_delete_response(&spis, out),
            Exchange::DeleteIke => {
                // A deleted old IKE SA is kept (retired) to answer retransmits of requests the
                // peer sent on it before the rekey; the next rekey drops it.
                if w == Which::Cur {
                    self.tear_down(DeleteReason::Deleted, out);
                    out.push(Output::Event(Event::Closed { by_peer: false }));
                    self.phase = Phase::Dead;
                }
            }
            Exchange::Dpd => {}
        }
    }

    /// Verifies and decrypts a request or response: a whole one at once, a fragment into its
    /// reassembly (RFC 7383 §2.6), giving the message when its last fragment is in.
    fn open(&mut self, w: Which, msg: &[u8], response: bool) -> Option<Opened> {
        let fragmentation = self.fragmentation;
        let ike = self.ike_mut(w)?;
        if Packet::new_checked(msg).ok()?.next_payload() != PayloadType::SKF {
            return ike.prot.inbound.open(msg).ok();
        }
        if !fragmentation {
            return None;
        }
        let f = ike.prot.inbound.open_fragment(msg).ok()?;
        let header = f.header;
        let slot = if response { &mut ike.frag_responses } else { &mut ike.frag_requests };
        let fragment::Added::Complete(first, mut inner) = fragment::add(slot, header.message_id, f) else {
            return None;
        };
        let payloads = Encrypted::decode_inner(first, &inner);
        inner.iter_mut().for_each(|b| *b = 0);
        Some(Opened { header, unprotected: Vec::new(), payloads: payloads.ok()? })
    }

    /// How long a protected IKE message may be before it goes out in fragments: the fragment
    /// size less the IP and UDP headers and the non-ESP marker; `None` without fragmentation.
    fn fragment_budget(&self) -> Option<usize> {
        if !self.fragmentation {
            return None;
        }
        let ip = if self.local.is_ipv4() { 20 } else { 40 };
        let marker = if self.local.port() == nat::NAT_T_PORT { 4 } else { 0 };
        self.config.fragment_size.checked_sub(ip + 8 + marker)
    }

    // ---- output helpers -------------------------------------------------------------------------

    fn send_all(&self, messages: &[Vec<u8>], out: &mut Vec<Output>) {
        out.extend(messages.iter().map(|m| self.send(m.clone())));
    }

    fn send(&self, message: Vec<u8>) -> Output {
        Output::Send(Datagram {
            src: self.local,
            dst: self.remote,
            bytes: nat::frame(self.local.port(), message),
        })
    }

    /// Seals and sends a request on the current IKE SA (whose window must be free).
    #[allow(clippy::too_many_arguments)]
    fn send_request(
        &mut self,
        w: Which,
        exchange: ExchangeType,
        payloads: &[Payload],
        ex: Exchange,
        now: Instant,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let retransmit = self.config.retransmit;
        let budget = self.fragment_budget();
        let Some(ike) = self.ike_mut(w) else { return };
        let header = ike.header(exchange, false, ike.next_id);
        let Some(msgs) = ike.seal(&header, payloads, budget, rng) else { return };
        ike.pending =
            Some(Pending { out: Outstanding::new(header.message_id, msgs.clone(), now, &retransmit), ex });
        self.send_all(&msgs, out);
    }

    fn fail(&mut self, failure: Failure, out: &mut Vec<Output>) {
        self.tear_down(DeleteReason::IkeSaDown, out);
        out.push(Output::Event(Event::Failed(failure)));
        self.phase = Phase::Dead;
    }

    /// Every Child SA goes away.
    fn tear_down(&mut self, reason: DeleteReason, out: &mut Vec<Output>) {
        for c in core::mem::take(&mut self.children) {
            out.push(Output::DeleteChild(ChildSaDeleted {
                name: self.child_name(c.cfg).to_owned(),
                spi_in: c.spi_in,
                spi_out: c.spi_out,
                reason,
            }));
        }
        self.queue.clear();
    }

    // ---- the work queue (window of one) -----------------------------------------------------

    fn kick(&mut self, now: Instant, rng: &mut impl CryptoRngCore, out: &mut Vec<Output>) {
        if !self.is_established() {
            return;
        }
        while self.cur.as_ref().is_some_and(|c| c.pending.is_none()) {
            let Some(task) = self.queue.pop_front() else { return };
            match task {
                Task::NewChild(cfg) => self.start_new_child(cfg, now, rng, out),
                Task::RekeyChild(spi) => self.start_child_rekey(spi, now, rng, out),
                Task::RekeyIke => self.start_ike_rekey(now, rng, out),
                Task::DeleteChild(spi) => self.start_delete_child(spi, now, rng, out),
                Task::DeleteIke => {
                    let d = vec![Payload::Delete(crate::codec::delete::Delete::ike())];
                    self.send_request(
                        Which::Cur,
                        ExchangeType::INFORMATIONAL,
                        &d,
                        Exchange::DeleteIke,
                        now,
                        rng,
                        out,
                    );
                }
                Task::Dpd => {
                    self.send_request(
                        Which::Cur,
                        ExchangeType::INFORMATIONAL,
                        &[],
                        Exchange::Dpd,
                        now,
                        rng,
                        out,
                    );
                }
            }
            if !self.is_established() {
                return;
            }
        }
    }

    // ---- timers ----------------------------------------------------------------------------------

    fn dpd_due(&self) -> Option<Instant> {
        let interval = self.config.dpd_interval?;
        let cur = self.cur.as_ref()?;
        if !self.is_established() || cur.pending.is_some() || !self.queue.is_empty() {
            return None;
        }
        Some(self.last_rx + interval)
    }

    /// When [`IkeSa::handle_timeout`] must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Vec<Instant> = Vec::new();
        match &self.phase {
            Phase::Dead => return None,
            Phase::Init(st) => return Some(st.out.next_at()),
            Phase::Auth(hs) => t.extend(hs.deadline),
            Phase::Established => {
                t.extend(self.dpd_due());
                t.extend(self.ike_rekey_at);
                t.extend(self.children.iter().filter_map(|c| c.rekey_at));
            }
        }
        for ike in [&self.cur, &self.old].into_iter().flatten() {
            t.extend(ike.pending.as_ref().map(|p| p.out.next_at()));
        }
        t.into_iter().min()
    }

    /// Runs whatever is due at `now`: retransmits, giving up, liveness checks, rekeys.
    pub fn handle_timeout(&mut self, now: Instant, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        let mut out = Vec::new();
        let cfg = self.config.retransmit;
        match &mut self.phase {
            Phase::Dead => return out,
            Phase::Init(st) => {
                if st.out.next_at() <= now {
                    match st.out.on_timeout(now, &cfg) {
                        Retransmit::Resend(m) => {
                            let m = m.to_vec();
                            self.send_all(&m, &mut out);
                        }
                        Retransmit::GiveUp { retransmits } => {
                            let f = self.no_answer(retransmits, "IKE_SA_INIT");
                            self.fail(f, &mut out);
                        }
                    }
                }
                return out;
            }
            Phase::Auth(hs) => {
                if hs.deadline.is_some_and(|d| d <= now) {
                    let f = Failure::new(
                        FailureKind::HalfOpenTimeout,
                        format!("peer {} completed IKE_SA_INIT but sent no IKE_AUTH", self.remote),
                    );
                    self.fail(f, &mut out);
                    return out;
                }
            }
            Phase::Established => {}
        }
        // Retransmits on the retired SA: giving up there just forgets it.
        if let Some(old) = self.old.as_mut() {
            if let Some(p) = old.pending.as_mut().filter(|p| p.out.next_at() <= now) {
                match p.out.on_timeout(now, &cfg) {
                    Retransmit::Resend(m) => {
                        let m = m.to_vec();
                        self.send_all(&m, &mut out);
                    }
                    Retransmit::GiveUp { .. } => {
                        if let Some(p) = self.old.take().and_then(|mut o| o.pending.take()) {
                            self.requeue(p.ex, now);
                        }
                    }
                }
            }
        }
        if let Some(cur) = self.cur.as_mut() {
            if let Some(p) = cur.pending.as_mut().filter(|p| p.out.next_at() <= now) {
                let name = p.ex.name();
                let deleting = matches!(p.ex, Exchange::DeleteIke);
                match p.out.on_timeout(now, &cfg) {
                    Retransmit::Resend(m) => {
                        let m = m.to_vec();
                        self.send_all(&m, &mut out);
                    }
                    Retransmit::GiveUp { .. } if deleting => {
                        // We were closing anyway.
                        self.tear_down(DeleteReason::Deleted, &mut out);
                        out.push(Output::Event(Event::Closed { by_peer: false }));
                        self.phase = Phase::Dead;
                        return out;
                    }
                    Retransmit::GiveUp { retransmits } => {
                        let f = self.no_answer(retransmits, name);
                        self.peer_dead(f, now, rng, &mut out);
                        return out;
                    }
                }
            }
        }
        if self.is_established() {
            for c in &mut self.children {
                if c.rekey_at.is_some_and(|t| t <= now) {
                    c.rekey_at = None;
                    self.queue.push_back(Task::RekeyChild(c.spi_in));
                }
            }
            if self.ike_rekey_at.is_some_and(|t| t <= now) {
                self.ike_rekey_at = None;
                self.queue.push_back(Task::RekeyIke);
            }
            if self.dpd_due().is_some_and(|t| t <= now) {
                self.queue.push_back(Task::Dpd);
            }
            self.kick(now, rng, &mut out);
        }
        out
    }

    /// An exchange of ours on the retired IKE SA got no answer: redo it on the current one.
    fn requeue(&mut self, ex: Exchange, now: Instant) {
        match ex {
            Exchange::Delete(spis) => {
                for spi in spis {
                    if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi) {
                        c.state = ChildState::Installed;
                        self.queue.push_front(Task::DeleteChild(spi));
                    }
                }
            }
            Exchange::Child(req) if req.rekey.is_none() => self.queue.push_back(Task::NewChild(req.cfg)),
            Exchange::Child(req) => self.rekey_failed(now, &req, false),
            _ => {}
        }
    }

    fn no_answer(&self, retransmits: u32, what: &str) -> Failure {
        Failure::new(
            FailureKind::NoAnswer,
            format!(
                "no answer from peer {} on UDP 500/4500 to {what} after {retransmits} retransmits",
                self.remote.ip()
            ),
        )
    }

    /// The peer stopped answering: apply the DPD action.
    fn peer_dead(
        &mut self,
        failure: Failure,
        now: Instant,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let was_up = self.is_established();
        self.fail(failure, out);
        if !was_up {
            return;
        }
        let action = self.config.dpd_action;
        out.push(Output::Event(Event::PeerDead { action }));
        if action == DpdAction::Restart {
            let (mut fresh, o) = IkeSa::initiate(self.config.clone(), now, rng);
            fresh.first_child = self.first_child;
            *self = fresh;
            out.extend(o);
        }
    }
}

/// The Fragment Number of an SKF message, unverified (to spot fragment 1 of a retransmit).
fn skf_number(msg: &[u8]) -> Option<u16> {
    Message::parse(msg).ok()?.fragment().map(|f| f.number)
}
