//! Two IKEv1 cores (initiator "west", responder "east") in one process on a virtual clock, with
//! a deterministic RNG and a simulated network (latency, loss, NAT). `IKE_TRACE=1` prints the
//! datagrams, installs, deletes and events.

use ike::codec::id::Identification;
use ike::codec::DhGroup;
use ike::sa::*;
use ike::v1::{IsakmpSa, V1Config};
use rand_core::RngCore;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::*;

fn configs() -> (V1Config, V1Config) {
    let w = SocketAddr::new(WEST.into(), 500);
    let e = SocketAddr::new(EAST.into(), 500);
    let wid = Identification::Fqdn("west.example.net".into());
    let eid = Identification::Fqdn("east.example.net".into());
    let psk = b"correct horse battery staple";
    let mut west = PeerConfig::new("east", w, e, wid.clone(), Some(eid.clone()), psk);
    let mut east = PeerConfig::new("west", e, w, eid, Some(wid), psk);
    west.children.push(ChildConfig::new("net", vec![west_net()], vec![east_net()]));
    east.children.push(ChildConfig::new("net", vec![east_net()], vec![west_net()]));
    for c in [&mut west, &mut east] {
        c.ike_proposals = vec![IkeProposal::parse("aes256-sha256-ecp256").unwrap()];
        c.children[0].esp_proposals = vec![EspProposal::parse("aes128-sha256").unwrap()];
        c.retransmit = RetransmitConfig { timeout: Duration::from_secs(1), tries: 5 };
        c.dpd_interval = None;
        c.ike_rekey_time = None;
        c.children[0].rekey_time = None;
    }
    (V1Config::new(west), V1Config::new(east))
}

#[derive(Default)]
struct Node {
    sas: Vec<IsakmpSa>,
    installed: BTreeMap<u32, ChildSa>,
    deleted: Vec<ChildSaDeleted>,
    events: Vec<Event>,
    sent: Vec<Datagram>,
    /// When each of `sent` left.
    sent_at: Vec<Instant>,
}

impl Node {
    fn failures(&self) -> Vec<&Failure> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Failed(f) => Some(f),
                Event::ChildFailed { failure, .. } => Some(failure),
                _ => None,
            })
            .collect()
    }

    fn established(&self) -> bool {
        self.events.iter().any(|e| matches!(e, Event::IkeEstablished { .. }))
    }

    fn live(&mut self) -> &mut IsakmpSa {
        self.sas.iter_mut().rev().find(|s| !s.is_dead()).expect("a live ISAKMP SA")
    }
}

type DropFilter = Box<dyn FnMut(&[u8]) -> bool>;

struct Net {
    now: Instant,
    rng: TestRng,
    wire: TestRng,
    nodes: [Node; 2],
    east_config: Arc<V1Config>,
    inflight: Vec<(Instant, u64, Datagram)>,
    seq: u64,
    loss_permille: u64,
    nat: bool,
    east_down: bool,
    truncate: bool,
    /// Per node: act like the gateway's driver for phase 1 re-authentication (start a new
    /// phase 1 at `reauth_at`, let the newest established SA take over the older one).
    reauth: [bool; 2],
    /// Drops east's datagrams for which this returns true (before the random loss).
    drop_from_east: Option<DropFilter>,
}

impl Net {
    fn new(west: V1Config, east: V1Config) -> Net {
        Net::with_seed(west, east, 7, false)
    }

    fn with_seed(west: V1Config, east: V1Config, seed: u64, nat: bool) -> Net {
        let mut n = Net {
            now: Instant::now(),
            rng: TestRng(seed),
            wire: TestRng(seed ^ 0x5555),
            nodes: [Node::default(), Node::default()],
            east_config: Arc::new(east),
            inflight: Vec::new(),
            seq: 0,
            loss_permille: 0,
            nat,
            east_down: false,
            truncate: false,
            reauth: [false; 2],
            drop_from_east: None,
        };
        let (sa, out) = IsakmpSa::initiate(Arc::new(west), n.now, &mut n.rng);
        n.nodes[0].sas.push(sa);
        n.apply(0, out);
        n
    }

    fn apply(&mut self, node: usize, out: Vec<Output>) {
        let trace = std::env::var("IKE_TRACE").is_ok();
        for o in out {
            if trace {
                match &o {
                    Output::Send(d) => {
                        eprintln!("n{node} send {} -> {} {} bytes", d.src, d.dst, d.bytes.len())
                    }
                    other => eprintln!("n{node} {other:?}"),
                }
            }
            match o {
                Output::Send(d) => self.transmit(node, d),
                Output::InstallChild(c) => {
                    assert!(self.nodes[node].installed.insert(c.spi_in, c).is_none(), "SPI installed twice");
                }
                Output::DeleteChild(d) => {
                    assert!(
                        self.nodes[node].installed.remove(&d.spi_in).is_some(),
                        "deleting unknown SA {d:?}"
                    );
                    self.nodes[node].deleted.push(d);
                }
                Output::Event(e) => self.nodes[node].events.push(e),
            }
        }
    }

    fn transmit(&mut self, from: usize, mut d: Datagram) {
        self.nodes[from].sent.push(d.clone());
        self.nodes[from].sent_at.push(self.now);
        if let Some(drop) = self.drop_from_east.as_mut().filter(|_| from == 1) {
            if drop(&d.bytes) {
                return;
            }
        }
        if self.nat && from == 0 {
            d.src = SocketAddr::new(NAT_IP.into(), d.src.port() + 40000);
        }
        if self.wire.next_u64() % 1000 < self.loss_permille {
            if std::env::var("IKE_TRACE").is_ok() {
                eprintln!("   (lost)");
            }
            return;
        }
        self.seq += 1;
        self.inflight.push((self.now + Duration::from_millis(10), self.seq, d));
    }

    fn deliver(&mut self, mut d: Datagram) {
        let to = if d.dst.ip() == EAST { 1 } else { 0 };
        if to == 1 && self.east_down {
            return;
        }
        if self.nat && to == 0 {
            assert_eq!(d.dst.ip(), NAT_IP, "east answers the NAT's public address");
            d.dst = SocketAddr::new(WEST.into(), d.dst.port() - 40000);
        }
        let now = self.now;
        if self.truncate {
            for n in 0..d.bytes.len() {
                let cut = &d.bytes[..n];
                for sa in &mut self.nodes[to].sas {
                    let out = sa.handle_datagram(now, d.src, d.dst, cut, &mut self.rng);
                    assert!(out.is_empty(), "a {n}-byte prefix produced output");
                }
                if to == 1 {
                    let (sa, out) =
                        IsakmpSa::accept(self.east_config.clone(), now, d.src, d.dst, cut, &mut self.rng);
                    assert!(sa.is_none() && out.is_empty());
                }
            }
        }
        let idx = self.nodes[to].sas.iter().position(|s| !s.is_dead() && s.matches_datagram(d.dst, &d.bytes));
        let out = match idx {
            Some(i) => self.nodes[to].sas[i].handle_datagram(now, d.src, d.dst, &d.bytes, &mut self.rng),
            None if to == 1 => {
                let (sa, out) =
                    IsakmpSa::accept(self.east_config.clone(), now, d.src, d.dst, &d.bytes, &mut self.rng);
                self.nodes[1].sas.extend(sa);
                out
            }
            // West answers a new phase 1 only as the driver would during a re-authentication.
            None if self.reauth.iter().any(|r| *r) => {
                let cfg = self.nodes[0].sas[0].config().clone();
                let (sa, out) = IsakmpSa::accept(cfg, now, d.src, d.dst, &d.bytes, &mut self.rng);
                self.nodes[0].sas.extend(sa);
                out
            }
            None => vec![],
        };
        self.apply(to, out);
        self.settle(to);
    }

    /// The driver's part of a re-authentication: once a second ISAKMP SA is established, the
    /// newest takes over the older one.
    fn settle(&mut self, node: usize) {
        if !self.reauth.iter().any(|r| *r) {
            return;
        }
        let up: Vec<usize> =
            (0..self.nodes[node].sas.len()).filter(|i| self.nodes[node].sas[*i].is_established()).collect();
        if let [.., old, new] = up[..] {
            let now = self.now;
            let (a, b) = self.nodes[node].sas.split_at_mut(new);
            let out = b[0].take_over(&mut a[old], now, &mut self.rng);
            self.apply(node, out);
        }
    }

    /// When the driver would start a re-authentication on `node`, if it would.
    fn reauth_due(&self, node: usize) -> Option<Instant> {
        let sas = &self.nodes[node].sas;
        let live: Vec<&IsakmpSa> = sas.iter().filter(|s| !s.is_dead()).collect();
        match live[..] {
            [one] if self.reauth[node] => one.reauth_at(),
            _ => None,
        }
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..1_000_000 {
            let next_wire = self.inflight.iter().map(|x| (x.0, x.1)).min();
            let next_timer = (0..2)
                .flat_map(|n| {
                    self.nodes[n].sas.iter().filter_map(|s| s.poll_timeout()).chain(self.reauth_due(n))
                })
                .min();
            let next = match (next_wire, next_timer) {
                (Some((w, _)), Some(t)) => w.min(t),
                (Some((w, _)), None) => w,
                (None, Some(t)) => t,
                (None, None) => break,
            };
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            if let Some((at, seq)) = next_wire.filter(|w| w.0 <= self.now) {
                let i = self.inflight.iter().position(|x| x.0 == at && x.1 == seq).unwrap();
                let (_, _, dg) = self.inflight.remove(i);
                self.deliver(dg);
                continue;
            }
            for n in 0..2 {
                for i in 0..self.nodes[n].sas.len() {
                    if self.nodes[n].sas[i].poll_timeout().is_some_and(|t| t <= self.now) {
                        let now = self.now;
                        let out = self.nodes[n].sas[i].handle_timeout(now, &mut self.rng);
                        self.apply(n, out);
                    }
                }
                if self.reauth_due(n).is_some_and(|t| t <= self.now) {
                    let cfg =
                        if n == 0 { self.nodes[0].sas[0].config().clone() } else { self.east_config.clone() };
                    let (sa, out) = IsakmpSa::reauthenticate(cfg, self.now, &mut self.rng);
                    self.nodes[n].sas.push(sa);
                    self.apply(n, out);
                }
                self.settle(n);
            }
        }
        self.now = self.now.max(end);
    }

    fn act(&mut self, node: usize, f: impl FnOnce(&mut IsakmpSa, Instant, &mut TestRng) -> Vec<Output>) {
        let now = self.now;
        let out = f(self.nodes[node].live(), now, &mut self.rng);
        self.apply(node, out);
    }
}

/// Both sides hold the same IPsec SA pairs: west's inbound is east's outbound, same keys.
fn assert_pairs_match(n: &Net) {
    let (w, e) = (&n.nodes[0].installed, &n.nodes[1].installed);
    assert_eq!(w.len(), e.len(), "west {:?} east {:?}", w.keys(), e.keys());
    for (spi, a) in w {
        let b = e
            .values()
            .find(|b| b.spi_out == *spi)
            .unwrap_or_else(|| panic!("east has no SA to west {spi:#x}"));
        assert_eq!(a.spi_out, b.spi_in);
        assert_eq!(a.algorithms, b.algorithms);
        assert_eq!(a.keys.encr_in.as_bytes(), b.keys.encr_out.as_bytes());
        assert_eq!(a.keys.integ_in.as_bytes(), b.keys.integ_out.as_bytes());
        assert_eq!(a.keys.encr_out.as_bytes(), b.keys.encr_in.as_bytes());
        assert_eq!(a.keys.integ_out.as_bytes(), b.keys.integ_in.as_bytes());
        // The two directions have their own keys (AH: integrity keys only).
        assert_ne!(
            [a.keys.encr_in.as_bytes(), a.keys.integ_in.as_bytes()],
            [a.keys.encr_out.as_bytes(), a.keys.integ_out.as_bytes()]
        );
        assert_eq!(a.protocol, b.protocol);
        assert_eq!(a.ts_local, b.ts_remote);
        assert_eq!(a.ts_remote, b.ts_local);
        assert_eq!(a.udp_encap, b.udp_encap);
    }
}

#[test]
fn main_mode_and_quick_mode_establish_with_matching_keys() {
    let (w, e) = configs();
    let mut n = Net::new(w, e);
    n.truncate = true;
    n.run(Duration::from_secs(3));
    for node in &n.nodes {
        assert!(node.established(), "{:?}", node.failures());
        assert!(node.failures().is_empty(), "{:?}", node.failures());
        assert_eq!(node.installed.len(), 1);
    }
    assert_pairs_match(&n);
    let c = n.nodes[0].installed.values().next().unwrap();
    assert_eq!(c.name, "net");
    assert_eq!((c.ts_local.clone(), c.ts_remote.clone()), (vec![west_net()], vec![east_net()]));
    assert_eq!((c.keys.encr_in.len(), c.keys.integ_in.len()), (16, 32));
    assert!(!c.udp_encap && c.replaces.is_none());
    // Main mode 3 + quick mode 2 from west, 3 + 1 from east: no retransmits.
    assert_eq!((n.nodes[0].sent.len(), n.nodes[1].sent.len()), (5, 4));
    assert_eq!(n.nodes[0].sas[0].cookies(), n.nodes[1].sas[0].cookies());
    match &n.nodes[0].events[0] {
        Event::IkeEstablished { proposal, .. } => assert_eq!(proposal, "aes256-sha256-ecp256"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn modp2048_and_aes_gcm_esp() {
    let (mut w, mut e) = configs();
    for c in [&mut w, &mut e] {
        c.peer.ike_proposals = vec![IkeProposal::parse("aes128-sha1-modp2048").unwrap()];
        c.peer.children[0].esp_proposals = vec![EspProposal::parse("aes256gcm16").unwrap()];
    }
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert_pairs_match(&n);
    let c = n.nodes[1].installed.values().next().expect("installed");
    assert_eq!((c.keys.encr_in.len(), c.keys.integ_in.len()), (36, 0), "AES-256 key + salt");
}

/// 3DES phase 1 where both configurations enable it; a responder that does not list it
/// refuses the offer and names it.
#[test]
fn triple_des_phase1_only_when_enabled() {
    let (mut w, mut e) = configs();
    for c in [&mut w, &mut e] {
        c.peer.ike_proposals = vec![IkeProposal::parse("3des-sha1-modp2048").unwrap()];
        c.peer.allow_3des = true;
        c.validate().unwrap();
    }
    let mut n = Net::new(w.clone(), e);
    n.run(Duration::from_secs(3));
    assert_pairs_match(&n);
    let est = n.nodes[0].events.iter().find_map(|e| match e {
        Event::IkeEstablished { proposal, .. } => Some(proposal.clone()),
        _ => None,
    });
    assert_eq!(est.as_deref(), Some("3des-sha1-modp2048"));
    // A plain 16-byte AES block would not fit: phase 2 ran over 8-byte 3DES blocks.
    assert_eq!(n.nodes[1].installed.len(), 1);

    let (_, e) = configs();
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert!(n.nodes[1].installed.is_empty());
    let f = n.nodes[1].failures()[0].to_string();
    assert!(f.starts_with("no proposal chosen: ") && f.contains("3des-sha1-modp2048"), "{f}");
}

/// Quick mode with AH (HMAC-SHA-256-128) and PFS: both sides install an AH pair keyed from
/// KEYMAT with protocol AH; a responder configured for ESP refuses it and says what was
/// offered; AH is not proposed across a NAT.
#[test]
fn quick_mode_with_ah() {
    let ah = |c: &mut V1Config| {
        c.peer.children[0].protocol = ChildProtocol::Ah;
        c.peer.children[0].esp_proposals = vec![EspProposal::parse_ah("sha256-modp2048").unwrap()];
    };
    let (mut w, mut e) = configs();
    ah(&mut w);
    ah(&mut e);
    let mut n = Net::new(w.clone(), e);
    n.truncate = true;
    n.run(Duration::from_secs(3));
    assert_pairs_match(&n);
    for node in &n.nodes {
        let c = node.installed.values().next().expect("installed");
        assert_eq!(c.protocol, ChildProtocol::Ah);
        assert_eq!(c.algorithms.encr, None);
        assert_eq!(c.algorithms.integ, Some(ike::crypto::integ::IntegAlg::HmacSha256_128));
        assert_eq!(c.algorithms.dh, Some(DhGroup::MODP_2048));
        assert_eq!((c.keys.encr_in.len(), c.keys.integ_in.len()), (0, 32));
        assert!(!c.udp_encap);
    }

    // East wants ESP: NO_PROPOSAL_CHOSEN, and both sides name the AH offer.
    let (_, e) = configs();
    let mut n = Net::new(w.clone(), e);
    n.run(Duration::from_secs(3));
    assert!(n.nodes[0].installed.is_empty() && n.nodes[1].installed.is_empty());
    let f = n.nodes[1].failures()[0].to_string();
    assert!(f.contains("peer offered [ah-sha256-modp2048], we accept [aes128-sha256]"), "{f}");
    let f = n.nodes[0].failures()[0].to_string();
    assert!(f.contains("accepted none of our proposals [ah-sha256-modp2048]"), "{f}");

    // Behind a NAT, AH is not even proposed.
    let (_, mut e) = configs();
    ah(&mut e);
    let mut n = Net::with_seed(w, e, 7, true);
    n.run(Duration::from_secs(3));
    assert!(n.nodes[0].installed.is_empty());
    let f = n.nodes[0].failures()[0].to_string();
    assert!(f.contains("AH cannot cross the NAT"), "{f}");
}

#[test]
fn aggressive_mode_when_enabled_on_both_sides() {
    let (mut w, mut e) = configs();
    w.aggressive = true;
    e.aggressive = true;
    assert!(w.warnings()[0].contains("aggressive mode is enabled"));
    let mut n = Net::new(w, e);
    n.truncate = true;
    n.run(Duration::from_secs(3));
    assert!(n.nodes[0].established() && n.nodes[1].established(), "{:?}", n.nodes[1].failures());
    assert_eq!(n.nodes[0].installed.len(), 1);
    assert_pairs_match(&n);
}

#[test]
fn aggressive_mode_refused_when_disabled() {
    let (mut w, e) = configs();
    w.aggressive = true;
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    let f = n.nodes[1].failures();
    assert_eq!(f.len(), 1);
    assert!(f[0].detail.contains("aggressive mode, which is disabled for peer 'west'"), "{}", f[0]);
    let f = n.nodes[0].failures();
    assert!(f[0].detail.contains("refused aggressive mode"), "{}", f[0]);
    assert!(n.nodes[1].sas.is_empty() && n.nodes[0].installed.is_empty());
}

#[test]
fn phase1_proposal_mismatch_names_both_offers() {
    let (mut w, e) = configs();
    w.peer.ike_proposals = vec![IkeProposal::parse("aes128-sha1-modp3072").unwrap()];
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    let f = n.nodes[1].failures();
    assert_eq!(f[0].kind, FailureKind::NoProposalChosen);
    assert!(
        f[0].detail.contains("peer offered [aes128-sha1-modp3072], we accept [aes256-sha256-ecp256]"),
        "{}",
        f[0]
    );
    let f = n.nodes[0].failures();
    assert_eq!(f[0].kind, FailureKind::NoProposalChosen, "{}", f[0]);
    assert!(n.nodes[0].sas[0].is_dead());
}

#[test]
fn wrong_psk_fails_on_both_sides_with_a_hint() {
    let (w, mut e) = configs();
    e.peer.psk = ike::crypto::Secret::from_slice(b"a different secret");
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(60));
    let f = n.nodes[1].failures();
    assert_eq!(f[0].kind, FailureKind::AuthenticationFailed);
    assert!(
        f[0].detail.starts_with("phase 1 failed:") && f[0].detail.ends_with("check the PSK/IDs"),
        "{}",
        f[0]
    );
    let f = n.nodes[0].failures();
    assert_eq!(f[0].kind, FailureKind::AuthenticationFailed, "{}", f[0]);
    assert!(f[0].detail.contains("check the PSK/IDs"));
    assert!(n.nodes[0].installed.is_empty() && n.nodes[1].installed.is_empty());
}

#[test]
fn wrong_peer_id_is_an_identity_mismatch() {
    let (w, mut e) = configs();
    e.peer.remote_id = Some(Identification::Fqdn("someone.else".into()));
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(60));
    let f = n.nodes[1].failures();
    assert_eq!(f[0].kind, FailureKind::IdentityMismatch, "{}", f[0]);
    assert!(f[0].detail.contains("'west.example.net'"));
}

#[test]
fn quick_mode_with_pfs() {
    let (mut w, mut e) = configs();
    for c in [&mut w, &mut e] {
        c.peer.children[0].esp_proposals = vec![EspProposal::parse("aes256-sha1-modp2048").unwrap()];
    }
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert_pairs_match(&n);
    let c = n.nodes[0].installed.values().next().expect("installed");
    assert_eq!(c.algorithms.dh, Some(DhGroup::MODP_2048));
    assert_eq!((c.keys.encr_in.len(), c.keys.integ_in.len()), (32, 20));
}

#[test]
fn pfs_mismatch_fails_only_the_child() {
    let (mut w, e) = configs();
    w.peer.children[0].esp_proposals = vec![EspProposal::parse("aes128-sha256-ecp256").unwrap()];
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert!(n.nodes[0].established());
    let f = n.nodes[1].failures();
    assert_eq!(f[0].kind, FailureKind::NoProposalChosen);
    assert!(
        f[0].detail.contains("peer offered [aes128-sha256-ecp256], we accept [aes128-sha256]"),
        "{}",
        f[0]
    );
    assert_eq!(n.nodes[0].failures()[0].kind, FailureKind::NoProposalChosen);
    assert!(n.nodes[0].sas[0].is_established());
}

#[test]
fn two_quick_modes_one_with_mismatching_proxy_ids_is_partially_up() {
    let (mut w, mut e) = configs();
    w.peer.children.push(ChildConfig::new(
        "web",
        vec![west_net()],
        vec![net([10, 3, 0, 0], [10, 3, 0, 255])],
    ));
    w.peer.children[1].esp_proposals = vec![EspProposal::parse("aes128-sha256").unwrap()];
    // East has 10.4.0.0/24 where west expects 10.3.0.0/24.
    e.peer.children.push(ChildConfig::new(
        "web",
        vec![net([10, 4, 0, 0], [10, 4, 0, 255])],
        vec![west_net()],
    ));
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert_eq!(n.nodes[0].installed.len(), 1);
    assert_pairs_match(&n);
    let f = n.nodes[0].failures();
    assert_eq!((f.len(), f[0].kind), (1, FailureKind::PolicyMismatch));
    assert!(
        f[0].detail.contains("child 'web'") && f[0].detail.contains("INVALID_ID_INFORMATION"),
        "{}",
        f[0]
    );
    let f = n.nodes[1].failures();
    assert!(f[0].detail.contains("match no child"), "{}", f[0]);
    assert!(n.nodes[0].sas[0].is_established() && n.nodes[1].sas[0].is_established());
}

#[test]
fn nat_t_floats_to_4500_and_encapsulates() {
    let (w, e) = configs();
    let mut n = Net::with_seed(w, e, 7, true);
    n.run(Duration::from_secs(3));
    assert_pairs_match(&n);
    let wsa = &n.nodes[0].sas[0];
    assert!(wsa.nat().local_behind_nat && !wsa.nat().remote_behind_nat);
    assert!(n.nodes[1].sas[0].nat().remote_behind_nat);
    assert_eq!(wsa.addresses().0.port(), 4500);
    assert_eq!(n.nodes[1].sas[0].addresses().1, SocketAddr::new(NAT_IP.into(), 44500));
    let c = n.nodes[1].installed.values().next().unwrap();
    assert!(c.udp_encap && c.remote == SocketAddr::new(NAT_IP.into(), 44500));
    // Messages 5 and on travel with the non-ESP marker.
    let sent = &n.nodes[0].sent;
    assert!(sent[..2].iter().all(|d| d.src.port() == 500));
    assert!(sent[2..].iter().all(|d| d.src.port() == 4500 && d.bytes[..4] == [0; 4]));
}

#[test]
fn dpd_declares_a_silent_peer_dead() {
    let (mut w, mut e) = configs();
    w.peer.dpd_interval = Some(Duration::from_secs(30));
    e.peer.dpd_interval = Some(Duration::from_secs(30));
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(100));
    // Liveness checks answered: still up.
    assert!(n.nodes[0].failures().is_empty() && n.nodes[0].installed.len() == 1);
    n.east_down = true;
    n.run(Duration::from_secs(200));
    assert!(n.nodes[0].events.iter().any(|e| matches!(e, Event::PeerDead { action: DpdAction::Clear })));
    assert!(n.nodes[0].installed.is_empty());
    assert_eq!(n.nodes[0].deleted[0].reason, DeleteReason::IkeSaDown);
    assert!(n.nodes[0].failures()[0].detail.contains("R-U-THERE-ACK"));
}

#[test]
fn delete_child_then_ike() {
    let (w, e) = configs();
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    let spi = *n.nodes[0].installed.keys().next().unwrap();
    n.act(0, |sa, now, rng| sa.delete_child(now, spi, rng));
    n.run(Duration::from_secs(1));
    assert!(n.nodes[0].installed.is_empty() && n.nodes[1].installed.is_empty());
    assert_eq!(n.nodes[1].deleted[0].reason, DeleteReason::DeletedByPeer);
    n.act(0, |sa, now, rng| sa.initiate_child(now, "net", rng));
    n.run(Duration::from_secs(1));
    assert_pairs_match(&n);
    assert_eq!(n.nodes[0].installed.len(), 1);
    n.act(0, |sa, now, rng| sa.delete_ike(now, rng));
    n.run(Duration::from_secs(1));
    assert!(n.nodes[1].events.iter().any(|e| matches!(e, Event::Closed { by_peer: true })));
    assert!(n.nodes[1].installed.is_empty() && n.nodes[1].sas[0].is_dead());
}

#[test]
fn phase2_rekey_is_make_before_break() {
    let (mut w, mut e) = configs();
    w.peer.children[0].rekey_time = Some(Duration::from_secs(900));
    e.peer.children[0].rekey_time = Some(Duration::from_secs(900));
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    let old = *n.nodes[0].installed.keys().next().unwrap();
    n.run(Duration::from_secs(1000));
    assert_pairs_match(&n);
    assert_eq!(n.nodes[0].installed.len(), 1);
    assert!(!n.nodes[0].installed.contains_key(&old));
    let new = n.nodes[0].installed.values().next().unwrap();
    assert_eq!(new.replaces, Some(old));
    assert_eq!(n.nodes[0].deleted[0].reason, DeleteReason::Rekeyed);
    assert_eq!(n.nodes[1].deleted[0].reason, DeleteReason::Rekeyed);
    for node in &n.nodes {
        assert!(node.events.iter().any(|e| matches!(e, Event::ChildRekeyed { .. })));
        assert!(node.failures().is_empty(), "{:?}", node.failures());
    }
    // Only the initiator of the quick mode rekeyed (once, within the window).
    assert_eq!(n.nodes[1].events.iter().filter(|e| matches!(e, Event::ChildRekeyed { .. })).count(), 1);
}

#[test]
fn thirty_percent_loss_with_retransmits() {
    thirty_percent_loss(false);
}

/// The same with the commit bit: four quick mode messages, the fourth retransmitted through
/// repeats of the third.
#[test]
fn thirty_percent_loss_with_the_commit_bit() {
    thirty_percent_loss(true);
}

fn thirty_percent_loss(commit: bool) {
    let mut ok = 0;
    let seeds: Vec<u64> = match std::env::var("V1_SEED") {
        Ok(v) => vec![v.parse().unwrap()],
        Err(_) => (0..16).collect(),
    };
    for seed in seeds {
        let (mut w, mut e) = configs();
        w.peer.children.push(ChildConfig::new(
            "b",
            vec![west_net()],
            vec![net([10, 3, 0, 0], [10, 3, 0, 255])],
        ));
        e.peer.children.push(ChildConfig::new(
            "b",
            vec![net([10, 3, 0, 0], [10, 3, 0, 255])],
            vec![west_net()],
        ));
        for c in [&mut w, &mut e] {
            c.peer.children[1].esp_proposals = vec![EspProposal::parse("aes128-sha256").unwrap()];
            c.peer.retransmit = RetransmitConfig { timeout: Duration::from_secs(1), tries: 8 };
        }
        w.commit_bit = commit;
        let mut n = Net::with_seed(w, e, seed, false);
        n.loss_permille = 300;
        n.run(Duration::from_secs(1000));
        if n.nodes[0].installed.len() == 2 && n.nodes[1].installed.len() == 2 {
            assert_pairs_match(&n);
            ok += 1;
        } else {
            eprintln!(
                "seed {seed}: west {:?} {:?} east {:?} {:?}",
                n.nodes[0].installed.len(),
                n.nodes[0].failures(),
                n.nodes[1].installed.len(),
                n.nodes[1].failures()
            );
        }
    }
    eprintln!("{ok} of 16 seeds came up");
    assert_eq!(ok, 16, "only {ok} of 16 seeds came up");
}

#[test]
fn mangled_messages_never_panic_or_change_state() {
    let (mut w, e) = configs();
    // With the commit bit, so that message 4 is among the mangled ones.
    w.commit_bit = true;
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert_pairs_match(&n);
    let before: Vec<usize> = n.nodes.iter().map(|x| x.installed.len()).collect();
    let sent: Vec<(usize, Datagram)> =
        (0..2).flat_map(|i| n.nodes[i].sent.iter().map(move |d| (i, d.clone()))).collect();
    let mut g = TestRng(3);
    for _ in 0..3000 {
        let (from, d) = &sent[(g.next_u64() % sent.len() as u64) as usize];
        let mut b = d.bytes.clone();
        for _ in 0..1 + g.next_u64() % 3 {
            let i = (g.next_u64() % b.len() as u64) as usize;
            b[i] ^= 1 + (g.next_u64() % 255) as u8;
        }
        let to = 1 - from;
        let now = n.now;
        let out = n.nodes[to].sas[0].handle_datagram(now, d.src, d.dst, &b, &mut n.rng);
        assert!(out.iter().all(|o| matches!(o, Output::Send(_))), "{out:?}");
    }
    assert_eq!(before, n.nodes.iter().map(|x| x.installed.len()).collect::<Vec<_>>());
    assert!(n.nodes[0].sas[0].is_established() && n.nodes[1].sas[0].is_established());
}

/// West's phase 1 lifetime is 100 s: west re-authenticates at 90 s (and again at 180 s), the
/// IPsec SA pair moves under each new ISAKMP SA untouched, and its rekey at 150 s runs under
/// the new one.
#[test]
fn phase1_reauth_moves_the_ipsec_sas_without_touching_them() {
    let (mut w, mut e) = configs();
    w.peer.ike_rekey_time = Some(Duration::from_secs(100));
    w.peer.children[0].rekey_time = Some(Duration::from_secs(150));
    e.peer.children[0].rekey_time = Some(Duration::from_secs(900));
    let mut n = Net::new(w, e);
    n.reauth = [true, true];
    n.run(Duration::from_secs(3));
    let first = *n.nodes[0].installed.keys().next().unwrap();
    let cookies = n.nodes[0].live().cookies();
    let at = n.nodes[0].live().reauth_at().unwrap();
    assert!(at > n.now + Duration::from_secs(80) && at < n.now + Duration::from_secs(90), "{at:?}");
    n.run(Duration::from_secs(100));
    // One re-authentication; the IPsec SA is the same one, never deleted.
    for node in &mut n.nodes {
        assert_eq!(node.events.iter().filter(|e| matches!(e, Event::IkeRekeyed { .. })).count(), 1);
        assert!(node.deleted.is_empty(), "{:?}", node.deleted);
        assert_eq!(node.sas.iter().filter(|s| !s.is_dead()).count(), 1);
        assert_ne!(node.live().cookies(), cookies);
        assert_eq!(node.live().child_sas().len(), 1);
    }
    assert!(n.nodes[0].installed.contains_key(&first));
    assert_pairs_match(&n);
    // The child's rekey (150 s) under the new ISAKMP SA, then the second re-authentication.
    n.run(Duration::from_secs(100));
    assert_pairs_match(&n);
    assert!(!n.nodes[0].installed.contains_key(&first));
    for node in &n.nodes {
        assert_eq!(node.installed.len(), 1);
        assert_eq!(node.deleted.len(), 1);
        assert_eq!(node.deleted[0].reason, DeleteReason::Rekeyed);
        assert_eq!(node.events.iter().filter(|e| matches!(e, Event::IkeRekeyed { .. })).count(), 2);
        assert!(node.failures().is_empty(), "{:?}", node.failures());
    }
}

/// When the phase 1 initiator does not re-authenticate, the responder does, at 19/20 of the
/// lifetime, and becomes the initiator of the new ISAKMP SA.
#[test]
fn phase1_reauth_by_the_responder_when_the_initiator_does_not() {
    let (mut w, e) = configs();
    w.peer.ike_rekey_time = Some(Duration::from_secs(100));
    let mut n = Net::new(w, e);
    n.reauth = [false, true];
    n.run(Duration::from_secs(3));
    let first = *n.nodes[1].installed.keys().next().unwrap();
    n.run(Duration::from_secs(91));
    assert!(n.nodes[1].events.iter().all(|e| !matches!(e, Event::IkeRekeyed { .. })));
    n.run(Duration::from_secs(3));
    for node in &mut n.nodes {
        assert_eq!(node.events.iter().filter(|e| matches!(e, Event::IkeRekeyed { .. })).count(), 1);
        assert!(node.deleted.is_empty(), "{:?}", node.deleted);
        assert_eq!(node.sas.iter().filter(|s| !s.is_dead()).count(), 1);
    }
    assert!(n.nodes[1].live().is_initiator() && !n.nodes[0].live().is_initiator());
    assert!(n.nodes[1].installed.contains_key(&first));
    assert_pairs_match(&n);
}

/// A re-authentication that keeps failing does not stretch the phase 1 lifetime: at its end
/// the ISAKMP SA and its IPsec SAs are deleted on both sides, with a failure that says why.
#[test]
fn phase1_hard_lifetime_ends_the_sa_when_reauth_keeps_failing() {
    let (mut w, e) = configs();
    w.peer.ike_rekey_time = Some(Duration::from_secs(100));
    let mut n = Net::new(w, e);
    n.reauth = [true, true];
    n.run(Duration::from_secs(3));
    assert!(n.nodes[0].established() && n.nodes[0].installed.len() == 1);
    let expires = n.nodes[0].live().expire_at().unwrap();
    assert!(expires > n.now + Duration::from_secs(95) && expires <= n.now + Duration::from_secs(100));
    // East stops hearing west: every new phase 1 either side starts fails from here on.
    n.east_down = true;
    n.run(Duration::from_secs(95));
    for node in &mut n.nodes {
        assert_eq!(node.installed.len(), 1, "the old SAs live on while the lifetime lasts");
        assert!(!node.failures().iter().any(|f| f.kind == FailureKind::LifetimeExpired));
    }
    n.run(Duration::from_secs(5));
    // East (established 10 ms earlier) reaches the end first: it deletes the IPsec SAs and
    // the ISAKMP SA with the peer and reports why; west hears the deletes.
    let east = &mut n.nodes[1];
    let f = east.failures().into_iter().find(|f| f.kind == FailureKind::LifetimeExpired).cloned();
    let f = f.unwrap_or_else(|| panic!("no expiry failure in {:?}", east.failures()));
    assert!(f.detail.contains("phase 1 lifetime (100 s) expired"), "{f}");
    assert!(f.to_string().starts_with("lifetime expired: "), "{f}");
    let west = &n.nodes[0];
    assert!(west.events.iter().any(|e| matches!(e, Event::Closed { by_peer: true })));
    assert_eq!(west.deleted.iter().map(|d| d.reason).collect::<Vec<_>>(), [DeleteReason::DeletedByPeer]);
    for (i, node) in n.nodes.iter().enumerate() {
        assert!(node.installed.is_empty(), "node {i}: {:?}", node.installed.keys());
        assert!(node.sas.iter().all(|s| !s.is_established()), "node {i}");
    }
}

/// Quick mode messages (exchange 32) a node sent, as (message ID, commit flag, when).
fn quick_sent_at(node: &Node) -> Vec<(u32, bool, Instant)> {
    node.sent
        .iter()
        .zip(&node.sent_at)
        .filter(|(d, _)| d.bytes.len() > 28 && d.bytes[18] == 32)
        .map(|(d, t)| (u32::from_be_bytes(d.bytes[20..24].try_into().unwrap()), d.bytes[19] & 0x02 != 0, *t))
        .collect()
}

/// [`quick_sent_at`] without the times.
fn quick_sent(node: &Node) -> Vec<(u32, bool)> {
    quick_sent_at(node).into_iter().map(|(id, commit, _)| (id, commit)).collect()
}

/// Two pairs on one ISAKMP SA: the second quick mode starts only a while after the first's
/// message 3, which has no answer. A peer that handles messages on a thread pool (strongSwan)
/// could otherwise process the new message 1 first, lose the half-done exchange and never
/// install the pair we consider up.
#[test]
fn next_quick_mode_waits_a_gap_after_message_3() {
    let (mut w, mut e) = configs();
    let web = || vec![net([10, 3, 0, 0], [10, 3, 0, 255])];
    w.peer.children.push(ChildConfig::new("web", vec![west_net()], web()));
    e.peer.children.push(ChildConfig::new("web", web(), vec![west_net()]));
    for c in [&mut w, &mut e] {
        c.peer.children[1].esp_proposals = vec![EspProposal::parse("aes128-sha256").unwrap()];
        c.peer.children[1].rekey_time = None;
    }
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert_eq!(n.nodes[0].installed.len(), 2);
    assert_pairs_match(&n);
    let at = quick_sent_at(&n.nodes[0]);
    // QM1 and QM3 of the first pair, then of the second.
    assert_eq!(at.len(), 4, "{at:?}");
    assert!(at[0].0 == at[1].0 && at[2].0 == at[3].0 && at[1].0 != at[2].0, "{at:?}");
    let gap = at[2].2 - at[1].2;
    assert!(gap >= Duration::from_millis(100), "second quick mode {gap:?} after the first's message 3");
    assert!(gap < Duration::from_millis(200), "{gap:?}");
}

/// Three pairs: while the second quick mode is in flight, the third waits for it, and the
/// first's gap, long past, is no reason to wake: no timer is ever left in the past.
#[test]
fn a_past_quick_mode_gap_is_no_timer() {
    let (mut w, mut e) = configs();
    for (i, name) in ["web", "db"].into_iter().enumerate() {
        let remote = || vec![net([10, 3 + i as u8, 0, 0], [10, 3 + i as u8, 0, 255])];
        w.peer.children.push(ChildConfig::new(name, vec![west_net()], remote()));
        e.peer.children.push(ChildConfig::new(name, remote(), vec![west_net()]));
    }
    for c in [&mut w, &mut e] {
        for ch in &mut c.peer.children[1..] {
            ch.esp_proposals = vec![EspProposal::parse("aes128-sha256").unwrap()];
            ch.rekey_time = None;
        }
    }
    let mut n = Net::new(w, e);
    for _ in 0..1000 {
        n.run(Duration::from_millis(1));
        for (i, node) in n.nodes.iter().enumerate() {
            for sa in &node.sas {
                let t = sa.poll_timeout();
                assert!(
                    t.is_none_or(|t| t > n.now),
                    "node {i}: a timer {:?} in the past",
                    n.now - t.unwrap()
                );
            }
        }
    }
    assert_eq!(n.nodes[0].installed.len(), 3);
    assert_pairs_match(&n);
}

/// The commit bit, asked for by either side: four messages in one exchange (the responder's
/// second is N(CONNECTED)), both sides install the same pair.
#[test]
fn commit_bit_from_either_side_adds_the_connected_message() {
    for (west_asks, east_asks) in [(true, false), (false, true)] {
        let (mut w, mut e) = configs();
        w.commit_bit = west_asks;
        e.commit_bit = east_asks;
        let mut n = Net::new(w, e);
        // Every prefix of every message (message 4 included) is dropped without output.
        n.truncate = true;
        n.run(Duration::from_secs(3));
        assert_pairs_match(&n);
        assert_eq!(n.nodes[0].installed.len(), 1);
        let (qw, qe) = (quick_sent(&n.nodes[0]), quick_sent(&n.nodes[1]));
        let id = qe[0].0;
        // West: QM1 (commit only if it asked), QM3 with the bit; east: QM2 and QM4 with it.
        assert_eq!(qw, [(id, west_asks), (id, true)], "west {qw:?}");
        assert_eq!(qe, [(id, true), (id, true)], "east {qe:?}");
        assert!(n.nodes.iter().all(|x| x.failures().is_empty()));
    }
    // Without it: three messages.
    let (w, e) = configs();
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert_eq!(quick_sent(&n.nodes[1]).len(), 1);
}

/// The initiator does not install before CONNECTED: with every message 4 lost it repeats
/// message 3 (each answered by a new copy of message 4) and gives up, never having installed,
/// and says what was missing.
#[test]
fn commit_bit_initiator_waits_for_connected() {
    let (mut w, e) = configs();
    w.commit_bit = true;
    let mut n = Net::new(w, e);
    let mut quick = 0;
    n.drop_from_east = Some(Box::new(move |b: &[u8]| {
        if b.len() > 28 && b[18] == 32 {
            quick += 1;
            return quick > 1;
        }
        false
    }));
    n.run(Duration::from_secs(120));
    assert_eq!(n.nodes[1].installed.len(), 1, "east installed on message 3");
    assert!(n.nodes[0].installed.is_empty(), "west must not install without CONNECTED");
    let qw = quick_sent(&n.nodes[0]);
    assert_eq!(qw.len(), 1 + 1 + 5, "QM1, QM3 and its 5 retransmits: {qw:?}");
    assert_eq!(quick_sent(&n.nodes[1]).len(), 1 + 6, "QM2, then QM4 for each QM3");
    let f = n.nodes[0].failures()[0].to_string();
    assert!(f.contains("no message 4 (CONNECTED, commit bit)"), "{f}");
}
