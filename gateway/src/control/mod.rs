//! The control path: everything a worker punts. Answers ARP and neighbour solicitations for
//! the gateway's addresses, resolves next hops (holding packets meanwhile), answers pings to
//! the gateway, and sends the ICMP errors routers send (time exceeded, unreachable,
//! fragmentation needed / packet too big), rate limited.
//!
//! Sans-I/O: [`ControlPlane::handle_frame`] and [`ControlPlane::tick`] take bytes and the
//! current time and return frames to transmit; the runtime moves them between mbufs and rings.
//! When the set of resolved neighbours changes, the FIB is rebuilt and published to workers.

pub mod fragment;
pub mod neighbour;
pub mod packet;

use crate::config::{IpPrefix, MacAddr};
use crate::drop::DropReason;
use crate::forward::{self, Decision, Origin, Punt};
use crate::route::{Fib, FibInput, L3Port, Neighbour, StaticRoute};
use crate::stats::WorkerStats;
use crate::tables::{PortL2, SharedIpsec, SharedTables, Tables};
use crate::wire::{arp, ethernet, ipv4, ipv6, EtherType, IpProtocol};
use neighbour::{Changes, Enqueue, Key, NeighbourTable, NeighbourView, Probe};
use packet::*;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A frame for the runtime to send out of port `port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub port: u8,
    pub frame: Vec<u8>,
}

/// A UDP datagram for the gateway's IKE ports (500, 4500 behind the non-ESP marker), as the
/// IKE driver takes it: the UDP payload unchanged (marker included), with both end points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkeDatagram {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
}

/// UDP ports the IKE driver listens on (RFC 7296 §2, RFC 3948 §2.2).
pub const IKE_PORTS: [u16; 2] = [500, 4500];

/// A punted frame waiting for its next hop: (ingress port, bytes).
type Pending = (u8, Vec<u8>);

/// ICMP error rate limit: a token bucket shared by all error types.
struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    fn allow(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            self.tokens =
                (self.tokens + now.saturating_duration_since(last).as_secs_f64() * self.rate).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub struct ControlPlane {
    ports: Vec<L3Port>,
    link_local: Vec<Ipv6Addr>,
    routes: Vec<StaticRoute>,
    /// Inside address of each VTI, by VTI index (fixed for the process's life).
    vtis: Vec<IpPrefix>,
    neigh: NeighbourTable<Pending>,
    tables: SharedTables,
    ipsec: SharedIpsec,
    generation: u64,
    icmp_errors: TokenBucket,
    stats: Arc<WorkerStats>,
    last_tick: Option<Instant>,
    /// IKE datagrams received since the last [`ControlPlane::take_ike`].
    ike_inbox: Vec<IkeDatagram>,
    /// Collect IKE datagrams (an IKE driver runs); otherwise they are `local_unhandled`.
    ike_enabled: bool,
    /// Per VTI index: packets for its inside address go to the host (a routing daemon on the
    /// VTI's host interface) instead of being answered here.
    host_vtis: Vec<bool>,
    /// IP packets for the host, by VTI index, since the last [`ControlPlane::take_host`].
    to_host: Vec<(u16, Vec<u8>)>,
    /// Routes the host's routing daemon learned (into VTIs), below the static routes; shared
    /// with the status snapshot without copying (a full table is 100k routes).
    learned: Arc<Vec<StaticRoute>>,
    host_counters: HostCounters,
}

/// Packets through the host exception path (all VTIs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostCounters {
    /// Handed to the host (arrived through a VTI for its inside address).
    pub to_host: u64,
    /// Sent by the host and injected into the data plane (routed into a VTI).
    pub from_host: u64,
    /// Sent by the host but not routed into any VTI, or not IPv4: dropped.
    pub from_host_dropped: u64,
}

impl ControlPlane {
    /// Builds the control plane, installs static neighbours and publishes the first FIB.
    pub fn new(
        ports: Vec<L3Port>,
        routes: Vec<StaticRoute>,
        vtis: Vec<IpPrefix>,
        static_neighbours: &[Neighbour],
        tables: SharedTables,
        ipsec: SharedIpsec,
        stats: Arc<WorkerStats>,
    ) -> ControlPlane {
        let mut neigh = NeighbourTable::default();
        for n in static_neighbours {
            neigh.add_static(Key { port: n.port, ip: n.ip }, n.mac);
        }
        let link_local = ports.iter().map(|p| link_local_from_mac(p.mac)).collect();
        let mut cp = ControlPlane {
            ports,
            link_local,
            routes,
            vtis,
            neigh,
            tables,
            ipsec,
            generation: 0,
            icmp_errors: TokenBucket { tokens: 100.0, rate: 100.0, burst: 100.0, last: None },
            stats,
            last_tick: None,
            ike_inbox: Vec::new(),
            ike_enabled: false,
            host_vtis: Vec::new(),
            to_host: Vec::new(),
            learned: Arc::new(Vec::new()),
            host_counters: HostCounters::default(),
        };
        cp.publish();
        cp
    }

    /// Turns the host exception path on for these VTIs (by index).
    pub fn set_host_vtis(&mut self, host: Vec<bool>) {
        self.host_vtis = host;
    }

    /// IP packets for the host since the last call, by VTI index.
    pub fn take_host(&mut self) -> Vec<(u16, Vec<u8>)> {
        std::mem::take(&mut self.to_host)
    }

    pub fn host_counters(&self) -> HostCounters {
        self.host_counters
    }

    /// An IPv4 packet the host sent out of VTI `vti`'s host interface: injected into the data
    /// plane, which encrypts it with the VTI's SA when the FIB routes it into a VTI (the
    /// daemon's BGP session, traffic to the far inside address). Anything else is dropped:
    /// the host interface is no way around the gateway's routing.
    pub fn from_host(&mut self, vti: u16, packet: &[u8], out: &mut Vec<Transmit>) {
        let routed = ipv4::Packet::new_checked(packet)
            .ok()
            .filter(|ip| ip.total_len() as usize == packet.len())
            .and_then(|ip| self.tables.load().fib.lookup_v4(ip.dst_addr()))
            .is_some_and(crate::route::Adjacency::is_vti);
        if !routed || vti as usize >= self.vtis.len() {
            self.host_counters.from_host_dropped += 1;
            return self.count(DropReason::NoRoute);
        }
        self.host_counters.from_host += 1;
        let mut frame = vec![0u8; ethernet::HEADER_LEN];
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(packet);
        out.push(Transmit { port: 0, frame });
    }

    /// Routes the host's routing daemon learned: installed below connected subnets and
    /// static routes (those win for the same prefix). Republishes the FIB when they changed.
    pub fn set_learned_routes(&mut self, routes: Vec<StaticRoute>) {
        if routes != *self.learned {
            self.learned = Arc::new(routes);
            let t = Instant::now();
            self.publish();
            tracing::debug!(target: "gateway::route", routes = self.learned.len(),
                micros = t.elapsed().as_micros() as u64, "FIB rebuilt with the learned routes");
        }
    }

    pub fn learned_routes(&self) -> &Arc<Vec<StaticRoute>> {
        &self.learned
    }

    /// Builds the initial tables without a control plane (used before workers start).
    pub fn initial_tables(
        ports: &[L3Port],
        routes: &[StaticRoute],
        vtis: &[IpPrefix],
        neighbours: &[Neighbour],
    ) -> Tables {
        Tables::new(
            Fib::build(&FibInput { ports, routes, learned: &[], neighbours, vtis }, 0),
            ports.iter().map(|p| PortL2 { mac: p.mac.0, mtu: p.mtu }).collect(),
        )
    }

    fn publish(&mut self) {
        self.generation += 1;
        let neighbours: Vec<Neighbour> =
            self.neigh.resolved().map(|(k, mac)| Neighbour { port: k.port, ip: k.ip, mac }).collect();
        let fib = Fib::build(
            &FibInput {
                ports: &self.ports,
                routes: &self.routes,
                learned: &self.learned,
                neighbours: &neighbours,
                vtis: &self.vtis,
            },
            self.generation,
        );
        let ports = self.ports.iter().map(|p| PortL2 { mac: p.mac.0, mtu: p.mtu }).collect();
        self.tables.store(Arc::new(Tables::new(fib, ports)));
    }

    /// FIB generation currently published.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn neighbours(&self) -> Vec<NeighbourView> {
        self.neigh.view()
    }

    pub fn ports(&self) -> &[L3Port] {
        &self.ports
    }

    pub fn routes(&self) -> &[StaticRoute] {
        &self.routes
    }

    /// Replaces the static routes (a reload) and publishes the new FIB.
    pub fn set_routes(&mut self, routes: Vec<StaticRoute>) {
        if routes != self.routes {
            self.routes = routes;
            self.publish();
        }
    }

    /// Hands UDP 500/4500 datagrams for our addresses to [`ControlPlane::take_ike`].
    pub fn enable_ike(&mut self) {
        self.ike_enabled = true;
    }

    /// The IKE datagrams received since the last call.
    pub fn take_ike(&mut self) -> Vec<IkeDatagram> {
        std::mem::take(&mut self.ike_inbox)
    }

    /// Sends a UDP datagram from one of the gateway's addresses, IPv4 or IPv6 (the IKE
    /// driver's messages): builds the IP/UDP packet and routes it like any packet the gateway
    /// originates, so an unresolved next hop is ARPed for (or solicited) while the frame
    /// waits. Returns false (nothing sent) when `src` is not ours or the families differ.
    pub fn send_udp(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Transmit>,
    ) -> bool {
        let Some(port) = self.ports.iter().position(|p| p.addresses.iter().any(|a| a.addr == src.ip()))
        else {
            return false;
        };
        let mac = self.ports[port].mac;
        let frame = match (src, dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                udp4_frame(mac, mac, *s.ip(), *d.ip(), s.port(), d.port(), payload)
            }
            (SocketAddr::V6(s), SocketAddr::V6(d)) => {
                udp6_frame(mac, mac, *s.ip(), *d.ip(), s.port(), d.port(), payload)
            }
            _ => return false,
        };
        // Addressed to our own MAC on `port`: classify takes it as received there and routes it.
        self.handle_frame(port as u8, &frame, now, out);
        true
    }

    fn count(&self, r: DropReason) {
        self.stats.count_drop(r, 1);
    }

    /// Handles one punted frame received on `in_port`.
    pub fn handle_frame(&mut self, in_port: u8, frame: &[u8], now: Instant, out: &mut Vec<Transmit>) {
        if in_port as usize >= self.ports.len() {
            self.count(DropReason::NotForUs);
            return;
        }
        let decision =
            forward::classify(frame, in_port, &self.tables.load(), &self.ipsec.load(), Origin::Punted);
        match decision {
            Decision::Drop(r) => self.count(r),
            Decision::Forward { port, dst, v6 } => {
                // Resolved since the worker punted it.
                let f = self.release(frame, port, dst, v6);
                out.push(Transmit { port, frame: f });
            }
            // Covered by an outbound policy since the worker punted it: hand it back, the
            // worker's inject path encapsulates it.
            Decision::Protect { .. } => out.push(Transmit { port: in_port, frame: frame.to_vec() }),
            Decision::Unprotect => self.count(DropReason::LocalUnhandled),
            Decision::Punt(p) => match p {
                Punt::Arp => self.handle_arp(in_port, frame, now, out),
                Punt::Ipv6Multicast | Punt::Local => self.handle_local(in_port, frame, now, out),
                Punt::NoRoute => {
                    self.count(DropReason::NoRoute);
                    self.icmp_error(in_port, frame, IcmpError::NoRoute, now, out);
                }
                Punt::TtlExceeded => {
                    self.count(DropReason::TtlExceeded);
                    self.icmp_error(in_port, frame, IcmpError::TimeExceeded, now, out);
                }
                Punt::TooBig { mtu } => {
                    self.count(DropReason::MtuExceeded);
                    self.icmp_error(in_port, frame, IcmpError::TooBig(mtu), now, out);
                }
                Punt::Fragment { mtu } => {
                    // Fragments go back through the worker's inject path, where the outbound
                    // policy that caught the packet encapsulates each of them.
                    match frame
                        .get(ethernet::HEADER_LEN..)
                        .and_then(|ip| fragment::fragment_v4(ip, mtu as usize))
                    {
                        Some(frags) => {
                            self.stats.fragments_made.add(frags.len() as u64);
                            for f in frags {
                                let mut fr = frame[..ethernet::HEADER_LEN].to_vec();
                                fr.extend_from_slice(&f);
                                out.push(Transmit { port: in_port, frame: fr });
                            }
                        }
                        None => self.count(DropReason::MtuExceeded),
                    }
                }
                Punt::Resolve { port, next_hop } => {
                    let key = Key { port, ip: next_hop };
                    match self.neigh.enqueue(key, (in_port, frame.to_vec()), now) {
                        Enqueue::Ready(mac, (_, f)) => {
                            let f = self.release(&f, port, mac.0, next_hop.is_ipv6());
                            out.push(Transmit { port, frame: f });
                        }
                        Enqueue::Queued(probe) => {
                            if let Some(p) = probe {
                                self.send_probe(p, out);
                            }
                        }
                        Enqueue::Full(_) => self.count(DropReason::NeighbourQueueFull),
                    }
                }
            },
        }
    }

    /// Drives neighbour retries and aging. Cheap to call often; acts at most every 100 ms.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Transmit>) {
        if self.last_tick.is_some_and(|t| now.saturating_duration_since(t) < Duration::from_millis(100)) {
            return;
        }
        self.last_tick = Some(now);
        let ch = self.neigh.tick(now);
        self.apply(ch, now, out);
    }

    fn apply(&mut self, ch: Changes<Pending>, now: Instant, out: &mut Vec<Transmit>) {
        if ch.table_changed {
            self.publish();
        }
        for p in ch.probes {
            self.send_probe(p, out);
        }
        for (_, _, (in_port, frame)) in ch.ready {
            self.handle_frame(in_port, &frame, now, out);
        }
        for (_, (in_port, frame)) in ch.failed {
            self.count(DropReason::NeighbourUnresolved);
            self.icmp_error(in_port, &frame, IcmpError::HostUnreachable, now, out);
        }
    }

    /// A frame waiting for its next hop, ready to leave on `port` to `dst`. A forwarded packet
    /// loses one from its TTL / hop limit; one the gateway originated (its source is one of our
    /// addresses: ESP outer headers, transport-mode replies) leaves with the TTL it was built
    /// with, only the MACs change.
    fn release(&self, frame: &[u8], port: u8, dst: [u8; 6], v6: bool) -> Vec<u8> {
        let mut f = frame.to_vec();
        let src_mac = self.ports[port as usize].mac.0;
        if self.originated(frame) {
            if f.len() >= 12 {
                f[0..6].copy_from_slice(&dst);
                f[6..12].copy_from_slice(&src_mac);
            }
        } else {
            forward::rewrite(&mut f, src_mac, dst, v6);
        }
        f
    }

    /// Whether the IP packet in `frame` has one of the gateway's addresses as its source.
    fn originated(&self, frame: &[u8]) -> bool {
        let src = match frame.get(12..14) {
            Some([0x86, 0xdd]) => {
                frame.get(22..38).and_then(|b| <[u8; 16]>::try_from(b).ok()).map(IpAddr::from)
            }
            Some([0x08, 0x00]) => {
                frame.get(26..30).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(IpAddr::from)
            }
            _ => None,
        };
        src.is_some_and(|ip| match ip {
            IpAddr::V6(a) if self.link_local.contains(&a) => true,
            _ => self.ports.iter().any(|p| p.addresses.iter().any(|a| a.addr == ip)),
        })
    }

    /// Our address on `port` to use as the source towards `peer` (same subnet first).
    fn source_for(&self, port: u8, peer: IpAddr) -> Option<IpAddr> {
        let p = self.ports.get(port as usize)?;
        let same_family = |a: &&IpPrefix| a.addr.is_ipv4() == peer.is_ipv4();
        p.addresses
            .iter()
            .find(|a| a.contains(peer))
            .or_else(|| p.addresses.iter().find(same_family))
            .map(|a| a.addr)
            .or_else(|| if peer.is_ipv6() { Some(IpAddr::V6(self.link_local[port as usize])) } else { None })
    }

    /// The EUI-64 link-local address of `port`.
    fn is_link_local_of(&self, port: u8, ip: IpAddr) -> bool {
        matches!(ip, IpAddr::V6(a) if self.link_local.get(port as usize) == Some(&a))
    }

    /// One of the gateway's addresses (on any port), or `port`'s link-local address.
    fn is_ours(&self, port: u8, ip: IpAddr) -> bool {
        self.is_link_local_of(port, ip) || self.ports.iter().any(|p| p.addresses.iter().any(|a| a.addr == ip))
    }

    /// An address of `port` itself (including its link-local address).
    fn is_ours_on(&self, port: u8, ip: IpAddr) -> bool {
        self.is_link_local_of(port, ip)
            || self.ports.get(port as usize).is_some_and(|p| p.addresses.iter().any(|a| a.addr == ip))
    }

    fn on_link(&self, port: u8, ip: IpAddr) -> bool {
        self.ports.get(port as usize).is_some_and(|p| p.addresses.iter().any(|a| a.contains(ip)))
    }

    fn send_probe(&mut self, p: Probe, out: &mut Vec<Transmit>) {
        let port = &self.ports[p.key.port as usize];
        match p.key.ip {
            IpAddr::V4(target) => {
                let Some(IpAddr::V4(src)) = self.source_for(p.key.port, p.key.ip) else { return };
                let f = arp_frame(arp::Operation::REQUEST, port.mac, src, p.unicast, MacAddr([0; 6]), target);
                out.push(Transmit { port: p.key.port, frame: f });
            }
            IpAddr::V6(target) => {
                let Some(IpAddr::V6(src)) = self.source_for(p.key.port, p.key.ip) else { return };
                let (dst_ip, dst_mac) = match p.unicast {
                    Some(m) => (target, m),
                    None => (solicited_node(target), ipv6_multicast_mac(solicited_node(target))),
                };
                let mut body = Vec::with_capacity(24);
                body.extend_from_slice(&target.octets());
                body.extend_from_slice(&lladdr_option(ND_OPT_SOURCE_LLADDR, port.mac));
                let f =
                    icmp6_frame(port.mac, dst_mac, src, dst_ip, 255, ND_NEIGHBOR_SOLICIT, 0, [0; 4], &body);
                out.push(Transmit { port: p.key.port, frame: f });
            }
        }
    }

    fn handle_arp(&mut self, in_port: u8, frame: &[u8], now: Instant, out: &mut Vec<Transmit>) {
        let Some(payload) = frame.get(ethernet::HEADER_LEN..) else {
            return self.count(DropReason::ArpMalformed);
        };
        let parsed = arp::Packet::new_checked(payload).and_then(|p| arp::Repr::parse(&p));
        let Ok(a) = parsed else { return self.count(DropReason::ArpMalformed) };
        let sender = IpAddr::V4(a.sender_protocol_addr);
        let target = IpAddr::V4(a.target_protocol_addr);
        let ours = self.is_ours_on(in_port, target);
        let mac = MacAddr(a.sender_hardware_addr.0);
        if mac.is_unicast()
            && !mac.is_zero()
            && self.on_link(in_port, sender)
            && !self.is_ours(in_port, sender)
        {
            let ch = self.neigh.learn(Key { port: in_port, ip: sender }, mac, ours, now);
            self.apply(ch, now, out);
        }
        if a.operation == arp::Operation::REQUEST {
            if ours {
                let me = self.ports[in_port as usize].mac;
                let f = arp_frame(
                    arp::Operation::REPLY,
                    me,
                    a.target_protocol_addr,
                    Some(mac),
                    mac,
                    a.sender_protocol_addr,
                );
                out.push(Transmit { port: in_port, frame: f });
            } else {
                self.count(DropReason::ArpNotForUs);
            }
        }
    }

    fn handle_local(&mut self, in_port: u8, frame: &[u8], now: Instant, out: &mut Vec<Transmit>) {
        let Ok(eth) = ethernet::Packet::new_checked(frame) else { return self.count(DropReason::Runt) };
        let src_mac = MacAddr(eth.src_addr().0);
        match eth.ethertype() {
            EtherType::IPV4 => self.local_v4(in_port, src_mac, eth.payload(), out),
            EtherType::IPV6 => self.local_v6(in_port, src_mac, eth.payload(), now, out),
            _ => self.count(DropReason::LocalUnhandled),
        }
    }

    fn local_v4(&mut self, in_port: u8, src_mac: MacAddr, bytes: &[u8], out: &mut Vec<Transmit>) {
        let Ok(ip) = ipv4::Packet::new_checked(bytes) else { return self.count(DropReason::Ipv4Malformed) };
        let dst = IpAddr::V4(ip.dst_addr());
        // From across a VTI (the source routes back into one) to a host-path VTI's inside
        // address: for the host's routing daemon (BGP), which answers pings too. Anything
        // else for that address (a ping from the LAN) is answered here, as without a host.
        let from_vti =
            || self.tables.load().fib.lookup_v4(ip.src_addr()).is_some_and(crate::route::Adjacency::is_vti);
        if let Some(v) = self
            .vtis
            .iter()
            .position(|a| a.addr == dst)
            .filter(|v| self.host_vtis.get(*v) == Some(&true) && from_vti())
        {
            let end = (ip.total_len() as usize).min(bytes.len());
            self.host_counters.to_host += 1;
            self.to_host.push((v as u16, bytes[..end].to_vec()));
            return;
        }
        if ip.protocol() == IpProtocol::UDP && !ip.more_frags() && ip.frag_offset() == 0 {
            let (src, dst) = (IpAddr::V4(ip.src_addr()), IpAddr::V4(ip.dst_addr()));
            return self.local_udp(src, dst, ip.payload());
        }
        if ip.protocol() != IpProtocol::ICMP || ip.more_frags() || ip.frag_offset() != 0 {
            return self.count(DropReason::LocalUnhandled);
        }
        let m = ip.payload();
        if m.len() < 8 || crate::wire::checksum::checksum(m) != 0 {
            return self.count(DropReason::IcmpMalformed);
        }
        if m[0] != ICMP4_ECHO_REQUEST || m[1] != 0 {
            return self.count(DropReason::LocalUnhandled);
        }
        let me = self.ports[in_port as usize].mac;
        let rest = [m[4], m[5], m[6], m[7]];
        let f = icmp4_frame(me, src_mac, ip.dst_addr(), ip.src_addr(), ICMP4_ECHO_REPLY, 0, rest, &m[8..]);
        out.push(Transmit { port: in_port, frame: f });
    }

    fn local_v6(
        &mut self,
        in_port: u8,
        src_mac: MacAddr,
        bytes: &[u8],
        now: Instant,
        out: &mut Vec<Transmit>,
    ) {
        let Ok(ip) = ipv6::Packet::new_checked(bytes) else { return self.count(DropReason::Ipv6Malformed) };
        if ip.next_header() == IpProtocol::UDP {
            let (src, dst) = (IpAddr::V6(ip.src_addr()), IpAddr::V6(ip.dst_addr()));
            return self.local_udp(src, dst, ip.payload());
        }
        if ip.next_header() != IpProtocol::ICMPV6 {
            return self.count(DropReason::LocalUnhandled);
        }
        let (src, dst, m) = (ip.src_addr(), ip.dst_addr(), ip.payload());
        if m.len() < 8 || !icmp6_checksum_ok(src, dst, m) {
            return self.count(DropReason::IcmpMalformed);
        }
        let me = self.ports[in_port as usize].mac;
        match m[0] {
            ICMP6_ECHO_REQUEST if !dst.is_multicast() && self.is_ours(in_port, IpAddr::V6(dst)) => {
                let rest = [m[4], m[5], m[6], m[7]];
                let f = icmp6_frame(me, src_mac, dst, src, DEFAULT_TTL, ICMP6_ECHO_REPLY, 0, rest, &m[8..]);
                out.push(Transmit { port: in_port, frame: f });
            }
            ND_NEIGHBOR_SOLICIT => self.neighbour_solicit(in_port, &ip, m, now, out),
            ND_NEIGHBOR_ADVERT => self.neighbour_advert(in_port, &ip, m, now, out),
            _ => self.count(DropReason::LocalUnhandled),
        }
    }

    /// UDP for one of our addresses: IKE when a driver runs and the checksum holds.
    fn local_udp(&mut self, src: IpAddr, dst: IpAddr, l4: &[u8]) {
        let Ok(udp) = crate::wire::udp::Packet::new_checked(l4) else {
            return self.count(DropReason::LocalUnhandled);
        };
        if !self.ike_enabled || !IKE_PORTS.contains(&udp.dst_port()) {
            return self.count(DropReason::LocalUnhandled);
        }
        // A zero UDP checksum over IPv4 means "none" (RFC 768); over IPv6 it is invalid.
        let unchecked = udp.checksum() == 0 && src.is_ipv4();
        if !unchecked && !udp.verify_checksum(src, dst) {
            return self.count(DropReason::LocalUnhandled);
        }
        self.ike_inbox.push(IkeDatagram {
            src: SocketAddr::new(src, udp.src_port()),
            dst: SocketAddr::new(dst, udp.dst_port()),
            payload: udp.payload().to_vec(),
        });
    }

    /// RFC 4861 §7.1.1 checks, then learn the sender and answer if the target is ours.
    fn neighbour_solicit(
        &mut self,
        in_port: u8,
        ip: &ipv6::Packet<&[u8]>,
        m: &[u8],
        now: Instant,
        out: &mut Vec<Transmit>,
    ) {
        let Some((target, opts)) = parse_nd(ip, m) else { return self.count(DropReason::NdMalformed) };
        let src = ip.src_addr();
        let dad = src.is_unspecified();
        if dad && opts.source.is_some() {
            return self.count(DropReason::NdMalformed);
        }
        let ours = self.is_ours_on(in_port, IpAddr::V6(target));
        if let Some(mac) = opts.source {
            if self.on_link(in_port, IpAddr::V6(src)) {
                let ch = self.neigh.learn(Key { port: in_port, ip: IpAddr::V6(src) }, mac, ours, now);
                self.apply(ch, now, out);
            }
        }
        if !ours {
            return self.count(DropReason::LocalUnhandled);
        }
        let me = self.ports[in_port as usize].mac;
        let (dst_ip, dst_mac, flags) = if dad {
            let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
            (all_nodes, ipv6_multicast_mac(all_nodes), 0xa0u8) // Router | Override
        } else {
            let eth_src = opts.source.unwrap_or(MacAddr([0; 6]));
            let mac = if eth_src.is_zero() {
                self.neigh.lookup(&Key { port: in_port, ip: IpAddr::V6(src) })
            } else {
                Some(eth_src)
            };
            let Some(mac) = mac else { return self.count(DropReason::NdMalformed) };
            (src, mac, 0xe0u8) // Router | Solicited | Override
        };
        let mut body = Vec::with_capacity(24);
        body.extend_from_slice(&target.octets());
        body.extend_from_slice(&lladdr_option(ND_OPT_TARGET_LLADDR, me));
        let f = icmp6_frame(me, dst_mac, target, dst_ip, 255, ND_NEIGHBOR_ADVERT, 0, [flags, 0, 0, 0], &body);
        out.push(Transmit { port: in_port, frame: f });
    }

    fn neighbour_advert(
        &mut self,
        in_port: u8,
        ip: &ipv6::Packet<&[u8]>,
        m: &[u8],
        now: Instant,
        out: &mut Vec<Transmit>,
    ) {
        let Some((target, opts)) = parse_nd(ip, m) else { return self.count(DropReason::NdMalformed) };
        if let Some(mac) = opts.target {
            if self.on_link(in_port, IpAddr::V6(target)) && !self.is_ours(in_port, IpAddr::V6(target)) {
                let ch = self.neigh.learn(Key { port: in_port, ip: IpAddr::V6(target) }, mac, false, now);
                self.apply(ch, now, out);
            }
        }
    }

    fn icmp_error(
        &mut self,
        in_port: u8,
        frame: &[u8],
        kind: IcmpError,
        now: Instant,
        out: &mut Vec<Transmit>,
    ) {
        let Ok(eth) = ethernet::Packet::new_checked(frame) else { return };
        let peer_mac = MacAddr(eth.src_addr().0);
        let me = self.ports[in_port as usize].mac;
        let payload = eth.payload();
        // A packet the gateway itself originated (an ESP outer header, a reply it built) has no
        // one to tell: the error would be addressed to ourselves.
        if self.originated(frame) {
            return;
        }
        match eth.ethertype() {
            EtherType::IPV4 => {
                let Ok(ip) = ipv4::Packet::new_checked(payload) else { return };
                // RFC 1812 §4.3.2.7: never about ICMP errors or non-first fragments.
                if ip.frag_offset() != 0 {
                    return;
                }
                if ip.protocol() == IpProtocol::ICMP {
                    let t = ip.payload().first().copied().unwrap_or(0);
                    if !matches!(t, ICMP4_ECHO_REQUEST | ICMP4_ECHO_REPLY | 13 | 14) {
                        return;
                    }
                }
                let (t, code, rest) = match kind {
                    IcmpError::NoRoute => (ICMP4_DST_UNREACHABLE, 0, [0; 4]),
                    IcmpError::HostUnreachable => (ICMP4_DST_UNREACHABLE, 1, [0; 4]),
                    IcmpError::TimeExceeded => (ICMP4_TIME_EXCEEDED, 0, [0; 4]),
                    IcmpError::TooBig(mtu) => {
                        if !ip.dont_frag() {
                            return; // fragmentation is not done here yet: counted as mtu_exceeded
                        }
                        let m = mtu.to_be_bytes();
                        (ICMP4_DST_UNREACHABLE, 4, [0, 0, m[0], m[1]])
                    }
                };
                let side = self.tunnel_side(payload);
                let tunnel = self.tunnel_source(side);
                let Some(IpAddr::V4(src)) =
                    tunnel.or_else(|| self.source_for(in_port, IpAddr::V4(ip.src_addr())))
                else {
                    return;
                };
                if !self.icmp_errors.allow(now) {
                    return self.count(DropReason::IcmpRateLimited);
                }
                let quoted_len = (ip.total_len() as usize).min(payload.len());
                let quote = &payload[..quoted_len.min(ICMP4_ERROR_MAX - ipv4::HEADER_LEN - 8)];
                let f = icmp4_frame(me, peer_mac, src, ip.src_addr(), t, code, rest, quote);
                self.send_error(in_port, side.is_some(), f, out);
            }
            EtherType::IPV6 => {
                let Ok(ip) = ipv6::Packet::new_checked(payload) else { return };
                if ip.next_header() == IpProtocol::ICMPV6 && ip.payload().first().is_some_and(|&t| t < 128) {
                    return;
                }
                let (t, code, rest) = match kind {
                    IcmpError::NoRoute => (ICMP6_DST_UNREACHABLE, 0, [0; 4]),
                    IcmpError::HostUnreachable => (ICMP6_DST_UNREACHABLE, 3, [0; 4]),
                    IcmpError::TimeExceeded => (ICMP6_TIME_EXCEEDED, 0, [0; 4]),
                    IcmpError::TooBig(mtu) => (ICMP6_PACKET_TOO_BIG, 0, (mtu as u32).to_be_bytes()),
                };
                let side = self.tunnel_side(payload);
                let tunnel = self.tunnel_source(side);
                let Some(IpAddr::V6(src)) =
                    tunnel.or_else(|| self.source_for(in_port, IpAddr::V6(ip.src_addr())))
                else {
                    return;
                };
                if !self.icmp_errors.allow(now) {
                    return self.count(DropReason::IcmpRateLimited);
                }
                let total = (ipv6::HEADER_LEN + ip.payload_len() as usize).min(payload.len());
                let quote = &payload[..total.min(ICMP6_ERROR_MAX - ipv6::HEADER_LEN - 8)];
                let f = icmp6_frame(me, peer_mac, src, ip.src_addr(), DEFAULT_TTL, t, code, rest, quote);
                self.send_error(in_port, side.is_some(), f, out);
            }
            _ => {}
        }
    }

    /// For an offending packet that came through a tunnel, the protected side of the inbound
    /// protect policy covering it (that policy's destination selector); `None` otherwise.
    fn tunnel_side(&self, offending: &[u8]) -> Option<IpPrefix> {
        let sp = self.ipsec.load();
        if sp.inbound.is_empty() {
            return None;
        }
        let flow = crate::ipsec::spd::Flow::parse(offending)?;
        match sp.inbound.lookup(&flow)? {
            (i, crate::ipsec::spd::Verdict::Protect(_)) => Some(sp.inbound.policies().get(i)?.selector.dst),
            _ => None,
        }
    }

    /// The source for an ICMP error about a packet that came through a tunnel: one of the
    /// gateway's addresses on the protected side, so that the error matches the outbound
    /// policy back and goes through the tunnel to the sender (a traceroute or path-MTU probe
    /// from the far site works).
    fn tunnel_source(&self, protected: Option<IpPrefix>) -> Option<IpAddr> {
        let protected = protected?;
        self.ports.iter().flat_map(|p| p.addresses.iter()).map(|a| a.addr).find(|&a| protected.contains(a))
    }

    /// Sends ICMP error `f`, unless the packet it is about came through a tunnel (`via_tunnel`)
    /// and the error would leave unprotected: an error about tunnel traffic quotes decrypted
    /// bytes, so it goes back through a matching SA or not at all (RFC 4301 §6).
    fn send_error(&self, in_port: u8, via_tunnel: bool, f: Vec<u8>, out: &mut Vec<Transmit>) {
        if via_tunnel
            && !matches!(
                forward::local_outbound(&f, &self.tables.load(), &self.ipsec.load()),
                forward::LocalOut::Protect(_)
            )
        {
            return self.count(DropReason::IcmpErrorUnprotected);
        }
        out.push(Transmit { port: in_port, frame: f });
    }
}

#[derive(Clone, Copy)]
enum IcmpError {
    NoRoute,
    HostUnreachable,
    TimeExceeded,
    TooBig(u16),
}

#[derive(Default)]
struct NdOptions {
    source: Option<MacAddr>,
    target: Option<MacAddr>,
}

/// The validity checks RFC 4861 §7.1.1/§7.1.2 share for solicitations and advertisements (hop
/// limit 255, code 0, at least 24 bytes, unicast target, well-formed options); returns the target
/// and the link-layer address options.
fn parse_nd(ip: &ipv6::Packet<&[u8]>, m: &[u8]) -> Option<(Ipv6Addr, NdOptions)> {
    if ip.hop_limit() != 255 || m.get(1) != Some(&0) || m.len() < 24 {
        return None;
    }
    let target = Ipv6Addr::from(<[u8; 16]>::try_from(&m[8..24]).ok()?);
    if target.is_multicast() {
        return None;
    }
    Some((target, parse_nd_options(&m[24..])?))
}

/// Walks ND options (RFC 4861 §4.6); `None` if any option has length 0 or overruns.
fn parse_nd_options(mut b: &[u8]) -> Option<NdOptions> {
    let mut o = NdOptions::default();
    while !b.is_empty() {
        if b.len() < 2 {
            return None;
        }
        let len = b[1] as usize * 8;
        if len == 0 || len > b.len() {
            return None;
        }
        if len == 8 {
            let mac = MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]]);
            match b[0] {
                ND_OPT_SOURCE_LLADDR => o.source = Some(mac),
                ND_OPT_TARGET_LLADDR => o.target = Some(mac),
                _ => {}
            }
        }
        b = &b[len..];
    }
    Some(o)
}

#[cfg(test)]
mod tests;
