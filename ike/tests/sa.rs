//! Two IKE cores (initiator "west" and responder "east") in one process on a virtual clock,
//! with a deterministic RNG and a simulated network (latency, loss, reordering, NAT).
//! `IKE_TRACE=1` prints every datagram header, install, delete and event.

use ike::codec::id::Identification;
use ike::sa::*;
use rand_core::RngCore;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::*;

fn configs() -> (PeerConfig, PeerConfig) {
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
        c.retransmit = RetransmitConfig { timeout: Duration::from_secs(1), tries: 5 };
        c.dpd_interval = None;
        c.ike_rekey_time = None;
        c.children[0].rekey_time = None;
    }
    (west, east)
}

#[derive(Default)]
struct Node {
    sas: Vec<IkeSa>,
    installed: BTreeMap<u32, ChildSa>,
    deleted: Vec<ChildSaDeleted>,
    events: Vec<Event>,
    sent: Vec<Datagram>,
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

    fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }

    fn established(&self) -> bool {
        self.count(|e| matches!(e, Event::IkeEstablished { .. })) > 0
    }

    fn live(&mut self) -> &mut IkeSa {
        self.sas.iter_mut().rev().find(|s| !s.is_dead()).expect("a live IKE SA")
    }
}

struct Net {
    t0: Instant,
    now: Instant,
    rng: TestRng,
    wire: TestRng,
    nodes: [Node; 2],
    east_config: Arc<PeerConfig>,
    gate: CookieGate,
    gate_replies: usize,
    inflight: Vec<(Instant, u64, Datagram)>,
    seq: u64,
    latency: Duration,
    loss_permille: u64,
    reorder_permille: u64,
    nat: bool,
    /// Datagrams to east are dropped (east is "dead").
    east_down: bool,
    truncate: bool,
}

impl Net {
    fn new(west: PeerConfig, east: PeerConfig) -> Net {
        let mut n = Net::build(east);
        n.start(west);
        n
    }

    fn start(&mut self, west: PeerConfig) {
        let (sa, out) = IkeSa::initiate(Arc::new(west), self.now, &mut self.rng);
        self.nodes[0].sas.push(sa);
        self.apply(0, out);
    }

    fn build(east: PeerConfig) -> Net {
        let t0 = Instant::now();
        let mut rng = TestRng(7);
        let gate = CookieGate::new(usize::MAX, &mut rng);
        Net {
            t0,
            now: t0,
            rng,
            wire: TestRng(99),
            nodes: [Node::default(), Node::default()],
            east_config: Arc::new(east),
            gate,
            gate_replies: 0,
            inflight: Vec::new(),
            seq: 0,
            latency: Duration::from_millis(10),
            loss_permille: 0,
            reorder_permille: 0,
            nat: false,
            east_down: false,
            truncate: false,
        }
    }

    fn apply(&mut self, node: usize, out: Vec<Output>) {
        let trace = std::env::var("IKE_TRACE").is_ok();
        for o in out {
            if trace {
                let t = (self.now - self.t0).as_millis();
                match &o {
                    Output::Send(d) => {
                        let b = if d.src.port() == 4500 { &d.bytes[4..] } else { &d.bytes[..] };
                        let p = ike::codec::header::Packet::new_unchecked(b);
                        eprintln!(
                            "{t} n{node} send {:?} id {} {:?} spi {:x}/{:x}",
                            p.exchange_type(),
                            p.message_id(),
                            p.flags(),
                            p.spi_i(),
                            p.spi_r()
                        );
                    }
                    Output::InstallChild(c) => eprintln!(
                        "{t} n{node} INSTALL in {:x} out {:x} replaces {:x?}",
                        c.spi_in, c.spi_out, c.replaces
                    ),
                    Output::DeleteChild(c) => {
                        eprintln!("{t} n{node} DELETE in {:x} out {:x} {:?}", c.spi_in, c.spi_out, c.reason)
                    }
                    Output::Event(e) => eprintln!("{t} n{node} {e:?}"),
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
        if self.nat && from == 0 {
            // West sits behind a NAT: its source is rewritten (500 -> 40500, 4500 -> 44500).
            d.src = SocketAddr::new(NAT_IP.into(), d.src.port() + 40000);
        }
        if self.wire.next_u64() % 1000 < self.loss_permille {
            if std::env::var("IKE_TRACE").is_ok() {
                eprintln!("   (lost)");
            }
            return;
        }
        let mut at = self.now + self.latency;
        if self.wire.next_u64() % 1000 < self.reorder_permille {
            at += Duration::from_millis(self.wire.next_u64() % 700);
        }
        self.seq += 1;
        self.inflight.push((at, self.seq, d));
    }

    fn deliver(&mut self, mut d: Datagram) {
        let to = if d.dst.ip() == EAST { 1 } else { 0 };
        if to == 1 && self.east_down {
            return;
        }
        if self.nat && to == 0 {
            assert_eq!(
                d.dst.ip(),
                NAT_IP,
                "east answers the NAT's public address: {:?} {}",
                d.src,
                d.bytes.len()
            );
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
                        IkeSa::accept(self.east_config.clone(), now, d.src, d.dst, cut, &mut self.rng);
                    assert!(sa.is_none() && out.is_empty());
                }
            }
        }
        let idx = self.nodes[to].sas.iter().position(|s| s.matches_datagram(d.dst, &d.bytes));
        let out = match idx {
            Some(i) => self.nodes[to].sas[i].handle_datagram(now, d.src, d.dst, &d.bytes, &mut self.rng),
            None if to == 1 => {
                let half_open = self.nodes[1].sas.iter().filter(|s| s.is_half_open()).count();
                match self.gate.check(d.src, d.dst, &d.bytes, half_open) {
                    GateVerdict::Accept => {
                        let (sa, out) = IkeSa::accept(
                            self.east_config.clone(),
                            now,
                            d.src,
                            d.dst,
                            &d.bytes,
                            &mut self.rng,
                        );
                        self.nodes[1].sas.extend(sa);
                        out
                    }
                    GateVerdict::Reply(r) => {
                        self.gate_replies += 1;
                        vec![Output::Send(r)]
                    }
                    GateVerdict::Drop => vec![],
                }
            }
            None => vec![],
        };
        self.apply(to, out);
    }

    /// Runs the simulation for `d` of virtual time.
    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..1_000_000 {
            let next_wire = self.inflight.iter().map(|x| (x.0, x.1)).min();
            let next_timer =
                (0..2).flat_map(|n| self.nodes[n].sas.iter().filter_map(|s| s.poll_timeout())).min();
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
            }
        }
        self.now = self.now.max(end);
    }

    fn act(&mut self, node: usize, f: impl FnOnce(&mut IkeSa, Instant, &mut TestRng) -> Vec<Output>) {
        let now = self.now;
        let out = f(self.nodes[node].live(), now, &mut self.rng);
        self.apply(node, out);
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }
}

/// Both sides hold the same set of Child SA pairs: west's inbound is east's outbound.
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
        assert_ne!(a.keys.encr_in.as_bytes(), a.keys.encr_out.as_bytes());
        assert_eq!(a.ts_local, b.ts_remote);
        assert_eq!(a.ts_remote, b.ts_local);
    }
}

fn established_pair() -> Net {
    let (w, e) = configs();
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(2));
    assert!(n.nodes[0].established() && n.nodes[1].established(), "{:?}", n.nodes[0].failures());
    n
}

#[test]
fn establish_ike_and_first_child() {
    let (w, e) = configs();
    let mut n = Net::new(w, e);
    n.truncate = true;
    n.run(Duration::from_secs(2));
    for node in &n.nodes {
        assert!(node.established(), "{:?}", node.failures());
        assert!(node.failures().is_empty());
        assert_eq!(node.installed.len(), 1);
    }
    assert_pairs_match(&n);
    let c = n.nodes[0].installed.values().next().unwrap();
    assert_eq!(c.name, "net");
    assert_eq!((c.ts_local.clone(), c.ts_remote.clone()), (vec![west_net()], vec![east_net()]));
    assert_eq!(c.keys.encr_in.len(), 20, "AES-128-GCM key + salt");
    assert!(!c.udp_encap && c.replaces.is_none());
    // Two exchanges, four messages, no retransmits.
    assert_eq!((n.nodes[0].sent.len(), n.nodes[1].sent.len()), (2, 2));
    assert!(n.elapsed() >= Duration::from_secs(2));
    assert!(n.nodes[0].sas[0].spis() == n.nodes[1].sas[0].spis());
}

#[test]
fn esp_cbc_with_esn_and_more_children_policy_based() {
    let (mut w, mut e) = configs();
    let esp = vec![EspProposal::parse("aes256-sha256-esn-ecp256").unwrap()];
    for c in [&mut w, &mut e] {
        c.ike_proposals = vec![IkeProposal::parse("aes256-sha256-ecp256").unwrap()];
        c.children[0].esp_proposals = esp.clone();
    }
    let mut web = ChildConfig::new(
        "web",
        vec![net([10, 1, 5, 0], [10, 1, 5, 255])],
        vec![net([10, 3, 0, 0], [10, 3, 0, 255])],
    );
    web.esp_proposals = esp.clone();
    w.children.push(web.clone());
    let mut eweb =
        ChildConfig::new("web", web.remote_ts.clone(), vec![net([10, 1, 0, 0], [10, 1, 255, 255])]);
    eweb.esp_proposals = esp;
    e.children.push(eweb);
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert_eq!(n.nodes[0].installed.len(), 2, "{:?}", n.nodes[0].failures());
    assert_pairs_match(&n);
    let web = n.nodes[0].installed.values().find(|c| c.name == "web").unwrap();
    assert!(web.algorithms.esn && web.algorithms.integ.is_some());
    // CREATE_CHILD_SA with PFS; IKE_AUTH's child has none.
    assert_eq!(web.algorithms.dh, Some(ike::codec::DhGroup::ECP_256));
    let first = n.nodes[0].installed.values().find(|c| c.name == "net").unwrap();
    assert_eq!(first.algorithms.dh, None);
    // East narrowed west's TSr to what east allows.
    assert_eq!(web.ts_local, vec![net([10, 1, 5, 0], [10, 1, 5, 255])]);
}

#[test]
fn proposal_mismatch_names_both_offers() {
    let (w, mut e) = configs();
    e.ike_proposals = vec![IkeProposal::parse("aes256-sha256-modp2048").unwrap()];
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(5));
    let fw = n.nodes[0].failures();
    assert_eq!(fw.len(), 1);
    assert_eq!(fw[0].kind, FailureKind::NoProposalChosen);
    assert!(fw[0].detail.contains("AES_GCM_16_128/HMAC_SHA2_256/CURVE25519"), "{}", fw[0]);
    let fe = n.nodes[1].failures();
    assert_eq!(fe[0].kind, FailureKind::NoProposalChosen);
    assert!(fe[0].detail.contains("CURVE25519") && fe[0].detail.contains("MODP_2048"), "{}", fe[0]);
    assert!(n.nodes[1].sas.is_empty(), "no state kept for a refused IKE_SA_INIT");
    assert!(n.nodes[0].sas[0].is_dead());
}

#[test]
fn wrong_psk_is_authentication_failed() {
    let (w, mut e) = configs();
    e.psk = ike::crypto::Secret::from_slice(b"another secret entirely");
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(5));
    let fe = n.nodes[1].failures();
    assert_eq!(fe[0].kind, FailureKind::AuthenticationFailed);
    assert!(fe[0].detail.contains("PSKs differ"), "{}", fe[0]);
    let fw = n.nodes[0].failures();
    assert_eq!(fw[0].kind, FailureKind::AuthenticationFailed);
    assert!(fw[0].to_string().contains("AUTHENTICATION_FAILED"), "{}", fw[0]);
    assert!(n.nodes.iter().all(|x| x.installed.is_empty() && !x.established()));
}

#[test]
fn id_mismatch() {
    let (w, mut e) = configs();
    e.remote_id = Some(Identification::Rfc822("road@example.net".into()));
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(5));
    let fe = n.nodes[1].failures();
    assert_eq!(fe[0].kind, FailureKind::IdentityMismatch);
    assert!(fe[0].detail.contains("west.example.net") && fe[0].detail.contains("road@example.net"));
    assert_eq!(n.nodes[0].failures()[0].kind, FailureKind::AuthenticationFailed);
}

#[test]
fn ts_mismatch_on_one_of_two_children_leaves_it_partially_up() {
    let (mut w, e) = configs();
    w.children.push(ChildConfig::new("lab", vec![west_net()], vec![net([10, 9, 0, 0], [10, 9, 0, 255])]));
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert!(n.nodes[0].established());
    assert_eq!(n.nodes[0].installed.len(), 1);
    assert_pairs_match(&n);
    let fw = n.nodes[0].events.iter().find_map(|e| match e {
        Event::ChildFailed { name, failure } => Some((name.clone(), failure.clone())),
        _ => None,
    });
    let (name, f) = fw.expect("child failure reported");
    assert_eq!((name.as_str(), f.kind), ("lab", FailureKind::PolicyMismatch));
    assert!(f.to_string().starts_with("policy mismatch") && f.detail.contains("10.9.0.0"), "{f}");
    assert_eq!(n.nodes[1].failures()[0].kind, FailureKind::PolicyMismatch);
    // And the same when the first child (in IKE_AUTH) is the bad one.
    let (mut w, e) = configs();
    w.children
        .insert(0, ChildConfig::new("lab", vec![west_net()], vec![net([10, 9, 0, 0], [10, 9, 0, 255])]));
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert!(n.nodes[0].established() && n.nodes[1].established());
    assert_eq!(n.nodes[0].installed.values().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["net"]);
    assert_pairs_match(&n);
}

#[test]
fn invalid_ke_retry_with_the_requested_group() {
    let (mut w, mut e) = configs();
    w.ike_proposals = vec![IkeProposal::parse("aes128gcm16-prfsha256-x25519-ecp256").unwrap()];
    e.ike_proposals = vec![IkeProposal::parse("aes128gcm16-prfsha256-ecp256").unwrap()];
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(3));
    assert!(n.nodes[0].established(), "{:?}", n.nodes[0].failures());
    assert_pairs_match(&n);
    // INIT (x25519), INIT (ecp256), AUTH.
    assert_eq!(n.nodes[0].sent.len(), 3);
    assert!(
        matches!(&n.nodes[0].events[0], Event::IkeEstablished { proposal, .. } if proposal.contains("ECP_256"))
    );
}

#[test]
fn weak_modp1024_negotiates_only_when_both_allow_it() {
    let (mut w, mut e) = configs();
    for c in [&mut w, &mut e] {
        c.ike_proposals = vec![IkeProposal::parse("aes128-sha256-modp1024").unwrap()];
        c.children[0].esp_proposals = vec![EspProposal::parse("aes128gcm16-modp1536").unwrap()];
        c.allow_weak_dh = true;
        c.validate().unwrap();
    }
    let mut n = Net::new(w.clone(), e.clone());
    n.run(Duration::from_secs(2));
    assert!(n.nodes[0].established() && n.nodes[1].established(), "{:?}", n.nodes[0].failures());
    assert!(
        matches!(&n.nodes[0].events[0], Event::IkeEstablished { proposal, .. } if proposal.contains("MODP_1024"))
    );
    // A CREATE_CHILD_SA rekey with PFS uses group 5.
    let spi = only_child(&n, 0);
    n.act(0, |sa, now, rng| sa.rekey_child(now, spi, rng));
    n.run(Duration::from_secs(2));
    assert_eq!(
        n.nodes[0].count(|e| matches!(e, Event::ChildRekeyed { .. })),
        1,
        "{:?}",
        n.nodes[0].failures()
    );
    assert_pairs_match(&n);
    // Without allow_weak_dh the initiator cannot make its KE payload.
    w.allow_weak_dh = false;
    let n = Net::new(w, e);
    assert!(n.nodes[0].failures()[0].to_string().contains("MODP_1024"), "{:?}", n.nodes[0].failures());
}

/// Datagrams a node sent that are SKF fragments (RFC 7383), as (message ID, number, total).
fn fragments_sent(node: &Node) -> Vec<(u32, u16, u16)> {
    node.sent
        .iter()
        .filter_map(|d| {
            let b = if d.src.port() == 4500 { &d.bytes[4..] } else { &d.bytes[..] };
            let m = ike::codec::Message::parse(b).ok()?;
            m.fragment().map(|f| (m.header.message_id, f.number, f.total))
        })
        .collect()
}

fn fragmenting_configs() -> (PeerConfig, PeerConfig) {
    let (mut w, mut e) = configs();
    for c in [&mut w, &mut e] {
        c.fragment_size = MIN_FRAGMENT_SIZE;
        c.children[0].esp_proposals = ["aes128gcm16", "aes256gcm16", "aes128-sha256", "aes256-sha1-esn"]
            .iter()
            .map(|p| EspProposal::parse(p).unwrap())
            .collect();
        c.validate().unwrap();
    }
    (w, e)
}

#[test]
fn ike_auth_in_fragments() {
    let (w, e) = fragmenting_configs();
    let mut n = Net::new(w, e);
    n.truncate = true;
    n.run(Duration::from_secs(2));
    for node in &n.nodes {
        assert!(node.established() && node.failures().is_empty(), "{:?}", node.failures());
    }
    assert_pairs_match(&n);
    // IKE_SA_INIT is never fragmented; IKE_AUTH (message 1) is, both ways, and every
    // datagram fits the fragment size (IPv4 + UDP headers added).
    for node in &n.nodes {
        let f = fragments_sent(node);
        assert!(
            f.len() >= 2 && f.iter().all(|&(id, _, total)| id == 1 && total as usize == f.len()),
            "{f:?}"
        );
        assert!(node.sent[1..].iter().all(|d| d.bytes.len() + 28 <= MIN_FRAGMENT_SIZE));
    }
    assert!(fragments_sent(&n.nodes[0]).len() >= 3, "the request with four ESP proposals");
    // Later exchanges fragment too: a CREATE_CHILD_SA rekey.
    let spi = only_child(&n, 0);
    n.act(0, |sa, now, rng| sa.rekey_child(now, spi, rng));
    n.run(Duration::from_secs(2));
    assert_eq!(
        n.nodes[0].count(|e| matches!(e, Event::ChildRekeyed { .. })),
        1,
        "{:?}",
        n.nodes[0].failures()
    );
    assert!(fragments_sent(&n.nodes[0]).iter().any(|&(id, _, _)| id == 2));
    assert_pairs_match(&n);
}

#[test]
fn fragments_survive_loss_and_reordering() {
    for seed in 1u64..=12 {
        let (mut w, mut e) = fragmenting_configs();
        for c in [&mut w, &mut e] {
            c.retransmit = RetransmitConfig { timeout: Duration::from_millis(500), tries: 10 };
            c.half_open_timeout = Duration::from_secs(600);
            c.children[0].rekey_time = Some(Duration::from_secs(40));
        }
        let mut n = Net::new(w, e);
        n.wire = TestRng(seed);
        n.loss_permille = 150;
        n.reorder_permille = 300;
        n.run(Duration::from_secs(120));
        n.loss_permille = 0;
        n.reorder_permille = 0;
        n.run(Duration::from_secs(600));
        for node in &n.nodes {
            assert!(node.established(), "seed {seed}: {:?}", node.failures());
            assert!(node.failures().is_empty(), "seed {seed}: {:?}", node.failures());
            assert!(node.count(|e| matches!(e, Event::ChildRekeyed { .. })) >= 1, "seed {seed}");
        }
        assert_eq!(n.nodes[0].installed.len(), 1, "seed {seed}");
        assert_pairs_match(&n);
    }
}

#[test]
fn cookie_when_half_open_sas_exceed_the_limit() {
    let (w, e) = configs();
    let mut n = Net::new(w, e);
    n.gate.limit = 0;
    n.run(Duration::from_secs(3));
    assert_eq!(n.gate_replies, 1);
    assert!(n.nodes[0].established() && n.nodes[1].established());
    assert_pairs_match(&n);
    // A cookie is bound to the initiator's address and survives one rotation only.
    let (w, _) = configs();
    let mut rng = TestRng(5);
    let (_, out) = IkeSa::initiate(Arc::new(w), Instant::now(), &mut rng);
    let Output::Send(req) = &out[0] else { panic!() };
    let mut gate = CookieGate::new(0, &mut rng);
    let GateVerdict::Reply(r) = gate.check(req.src, req.dst, &req.bytes, 5) else { panic!() };
    let cookie = ike::codec::Message::parse(&r.bytes).unwrap().payloads[0].clone();
    let mut with = ike::codec::Message::parse(&req.bytes).unwrap();
    with.payloads.insert(0, cookie);
    let with = with.encode().unwrap();
    assert!(matches!(gate.check(req.src, req.dst, &with, 5), GateVerdict::Accept));
    let other: SocketAddr = "192.0.2.77:500".parse().unwrap();
    assert!(matches!(gate.check(other, req.dst, &with, 5), GateVerdict::Reply(_)));
    gate.rotate(&mut rng);
    assert!(matches!(gate.check(req.src, req.dst, &with, 5), GateVerdict::Accept));
    gate.rotate(&mut rng);
    assert!(matches!(gate.check(req.src, req.dst, &with, 5), GateVerdict::Reply(_)));
}

#[test]
fn nat_detected_floats_to_4500() {
    let (w, e) = configs();
    let mut n = Net::build(e);
    n.nat = true;
    n.truncate = true;
    n.start(w);
    n.run(Duration::from_secs(3));
    assert!(n.nodes[0].established() && n.nodes[1].established(), "{:?}", n.nodes[1].failures());
    let (west, east) = (n.nodes[0].sas[0].nat(), n.nodes[1].sas[0].nat());
    assert!(west.local_behind_nat && !west.remote_behind_nat);
    assert!(east.remote_behind_nat && !east.local_behind_nat);
    assert_eq!(n.nodes[0].sas[0].addresses().1, SocketAddr::new(EAST.into(), 4500));
    assert_eq!(
        n.nodes[1].sas[0].addresses(),
        (SocketAddr::new(EAST.into(), 4500), SocketAddr::new(NAT_IP.into(), 44500))
    );
    // IKE_AUTH went from 4500 with the non-ESP marker.
    let auth = &n.nodes[0].sent[1];
    assert_eq!((auth.src.port(), &auth.bytes[..4]), (4500, &[0u8; 4][..]));
    for node in &n.nodes {
        assert!(node.installed.values().all(|c| c.udp_encap));
    }
    assert_pairs_match(&n);
}

fn only_child(n: &Net, node: usize) -> u32 {
    assert_eq!(n.nodes[node].installed.len(), 1, "{:?}", n.nodes[node].installed.keys());
    *n.nodes[node].installed.keys().next().unwrap()
}

#[test]
fn child_rekey_both_ways_make_before_break() {
    let mut n = established_pair();
    for who in [0, 1, 0] {
        let old = only_child(&n, who);
        n.act(who, |sa, now, rng| sa.rekey_child(now, old, rng));
        n.run(Duration::from_secs(2));
        let new = only_child(&n, who);
        assert_ne!(old, new);
        assert_pairs_match(&n);
        // The initiator sends on the new pair at once; the responder only once the old pair
        // is deleted (by then the initiator has its side of the new pair).
        assert!(!n.nodes[who].installed[&new].defer_outbound);
        let theirs = only_child(&n, 1 - who);
        assert!(n.nodes[1 - who].installed[&theirs].defer_outbound);
        let d = n.nodes[who].deleted.last().unwrap();
        assert_eq!((d.spi_in, d.reason), (old, DeleteReason::Rekeyed));
        assert!(n.nodes[who].events.iter().any(|e| matches!(e, Event::ChildRekeyed { old_spi_in, new_spi_in, .. } if *old_spi_in == old && *new_spi_in == new)));
    }
    // Make-before-break: every new SA was installed before its predecessor went.
    for node in &n.nodes {
        assert!(node.failures().is_empty());
    }
}

#[test]
fn ike_rekey_both_ways_keeps_children() {
    let mut n = established_pair();
    let child = only_child(&n, 0);
    let spis = n.nodes[0].sas[0].spis();
    n.act(0, |sa, now, rng| sa.rekey_ike(now, rng));
    n.run(Duration::from_secs(2));
    let spis2 = n.nodes[0].sas[0].spis();
    assert_ne!(spis, spis2);
    assert_eq!(spis2, n.nodes[1].sas[0].spis());
    assert_eq!(only_child(&n, 0), child);
    for node in &n.nodes {
        assert_eq!(node.count(|e| matches!(e, Event::IkeRekeyed { .. })), 1);
    }
    // The new IKE SA works: rekey the child over it, then rekey the IKE SA from the other side.
    n.act(1, |sa, now, rng| sa.rekey_child(now, only_child_of(sa), rng));
    n.run(Duration::from_secs(2));
    assert_pairs_match(&n);
    n.act(1, |sa, now, rng| sa.rekey_ike(now, rng));
    n.run(Duration::from_secs(2));
    assert_ne!(n.nodes[1].sas[0].spis(), spis2);
    assert_eq!(n.nodes[0].sas[0].spis(), n.nodes[1].sas[0].spis());
    n.act(0, |sa, now, rng| sa.rekey_child(now, only_child_of(sa), rng));
    n.run(Duration::from_secs(2));
    assert_pairs_match(&n);
    assert_eq!(n.nodes[0].installed.len(), 1);
    assert!(n.nodes.iter().all(|x| x.failures().is_empty()));
}

fn only_child_of(sa: &IkeSa) -> u32 {
    sa.child_sas()[0].spi_in
}

#[test]
fn simultaneous_child_rekey_resolves_to_one_pair() {
    for seed in 0..6 {
        let mut n = established_pair();
        n.rng = TestRng(1000 + seed);
        let (a, b) = (only_child(&n, 0), only_child(&n, 1));
        n.act(0, |sa, now, rng| sa.rekey_child(now, a, rng));
        n.act(1, |sa, now, rng| sa.rekey_child(now, b, rng));
        n.run(Duration::from_secs(3));
        let (a2, b2) = (only_child(&n, 0), only_child(&n, 1));
        assert!(a2 != a && b2 != b);
        assert_pairs_match(&n);
        assert!(n.nodes[0].sas[0].child_sas().len() == 1 && n.nodes[1].sas[0].child_sas().len() == 1);
    }
}

#[test]
fn simultaneous_ike_rekey_resolves_to_one_sa() {
    let mut n = established_pair();
    n.act(0, |sa, now, rng| sa.rekey_ike(now, rng));
    n.act(1, |sa, now, rng| sa.rekey_ike(now, rng));
    n.run(Duration::from_secs(15));
    assert_eq!(n.nodes[0].sas[0].spis(), n.nodes[1].sas[0].spis());
    n.act(0, |sa, now, rng| sa.rekey_child(now, only_child_of(sa), rng));
    n.run(Duration::from_secs(2));
    assert_pairs_match(&n);
}

#[test]
fn delete_child_then_ike() {
    let mut n = established_pair();
    let c = only_child(&n, 0);
    n.act(0, |sa, now, rng| sa.delete_child(now, c, rng));
    n.run(Duration::from_secs(2));
    assert!(n.nodes[0].installed.is_empty() && n.nodes[1].installed.is_empty());
    assert_eq!(n.nodes[1].deleted[0].reason, DeleteReason::DeletedByPeer);
    n.act(0, |sa, now, rng| sa.initiate_child(now, "net", rng));
    n.run(Duration::from_secs(2));
    assert_pairs_match(&n);
    assert_eq!(n.nodes[0].installed.len(), 1);
    n.act(1, |sa, now, rng| sa.delete_ike(now, rng));
    n.run(Duration::from_secs(2));
    assert!(n.nodes[0].installed.is_empty() && n.nodes[1].installed.is_empty());
    assert!(n.nodes[0].events.contains(&Event::Closed { by_peer: true }));
    assert!(n.nodes[1].events.contains(&Event::Closed { by_peer: false }));
    assert!(n.nodes[0].sas[0].is_dead() && n.nodes[1].sas[0].is_dead());
}

#[test]
fn dpd_declares_a_dead_peer() {
    let (mut w, e) = configs();
    w.dpd_interval = Some(Duration::from_secs(10));
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(30));
    assert!(n.nodes[0].established());
    assert_eq!(n.nodes[0].failures().len(), 0, "liveness checks are answered");
    assert!(n.nodes[0].sent.len() >= 4, "DPD requests went out");
    n.east_down = true;
    n.run(Duration::from_secs(200));
    let f = n.nodes[0].failures();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, FailureKind::NoAnswer);
    assert!(f[0].detail.contains("no answer from peer 198.51.100.1 on UDP 500/4500"), "{}", f[0]);
    assert!(n.nodes[0].events.contains(&Event::PeerDead { action: DpdAction::Clear }));
    assert!(n.nodes[0].installed.is_empty());
    assert_eq!(n.nodes[0].deleted[0].reason, DeleteReason::IkeSaDown);
}

#[test]
fn dpd_restart_comes_back_when_the_peer_does() {
    let (mut w, mut e) = configs();
    w.dpd_interval = Some(Duration::from_secs(10));
    w.dpd_action = DpdAction::Restart;
    e.dpd_interval = Some(Duration::from_secs(10));
    let mut n = Net::new(w, e);
    n.run(Duration::from_secs(5));
    n.east_down = true;
    n.run(Duration::from_secs(80));
    assert!(n.nodes[0].events.contains(&Event::PeerDead { action: DpdAction::Restart }));
    n.east_down = false;
    n.run(Duration::from_secs(200));
    assert_eq!(n.nodes[0].count(|e| matches!(e, Event::IkeEstablished { .. })), 2);
    // East's old SA died of its own DPD; the new pair matches.
    assert_pairs_match(&n);
}

#[test]
fn lossy_network_still_establishes_and_rekeys() {
    for seed in 1u64..=16 {
        let (mut w, mut e) = configs();
        for c in [&mut w, &mut e] {
            c.retransmit = RetransmitConfig { timeout: Duration::from_millis(500), tries: 10 };
            // Longer than the initiator's whole back-off, or a slow IKE_AUTH loses the race.
            c.half_open_timeout = Duration::from_secs(600);
            c.children[0].rekey_time = Some(Duration::from_secs(40));
            c.ike_rekey_time = Some(Duration::from_secs(90));
        }
        e.children[0].rekey_time = Some(Duration::from_secs(55));
        e.ike_rekey_time = Some(Duration::from_secs(130));
        let mut n = Net::new(w, e);
        n.wire = TestRng(seed);
        n.loss_permille = 300;
        n.reorder_permille = 200;
        n.run(Duration::from_secs(300));
        // Then a clean network for longer than the longest back-off, so every exchange lands.
        n.loss_permille = 0;
        n.reorder_permille = 0;
        n.run(Duration::from_secs(600));
        for node in &n.nodes {
            assert!(node.established(), "seed {seed}: {:?}", node.failures());
            assert!(node.failures().is_empty(), "seed {seed}: {:?}", node.failures());
            assert!(node.count(|e| matches!(e, Event::ChildRekeyed { .. })) >= 3, "seed {seed}");
            assert!(node.count(|e| matches!(e, Event::IkeRekeyed { .. })) >= 2, "seed {seed}");
        }
        assert_eq!(n.nodes[0].installed.len(), 1, "seed {seed}");
        assert_pairs_match(&n);
        let retransmitted = n.nodes[0].sent.len() + n.nodes[1].sent.len();
        assert!(retransmitted > 20);
    }
}
