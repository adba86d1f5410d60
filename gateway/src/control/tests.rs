//! The control plane driven with real frames: ARP, ND, echo, ICMP errors and next-hop
//! resolution, on a virtual clock.

use super::*;
use crate::route::L3Port;
use crate::stats::WorkerStats;
use arc_swap::ArcSwap;
use std::net::Ipv4Addr;

const GW_LAN: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
const GW_WAN: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
const H1: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x11]);
const H2: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x22]);

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

struct Fixture {
    cp: ControlPlane,
    tables: SharedTables,
    stats: Arc<WorkerStats>,
    now: Instant,
}

fn fixture(routes: Vec<StaticRoute>) -> Fixture {
    let ports = vec![
        L3Port {
            name: "lan".into(),
            mac: GW_LAN,
            mtu: 1500,
            addresses: vec!["192.0.2.1/24".parse().unwrap(), "2001:db8:1::1/64".parse().unwrap()],
        },
        L3Port {
            name: "wan".into(),
            mac: GW_WAN,
            mtu: 1400,
            addresses: vec!["198.51.100.1/24".parse().unwrap(), "2001:db8:2::1/64".parse().unwrap()],
        },
    ];
    let tables: SharedTables =
        Arc::new(ArcSwap::from_pointee(ControlPlane::initial_tables(&ports, &routes, &[], &[])));
    let stats = Arc::new(WorkerStats::new(0, 2));
    let cp = ControlPlane::new(ports, routes, vec![], &[], tables.clone(), Default::default(), stats.clone());
    Fixture { cp, tables, stats, now: Instant::now() }
}

impl Fixture {
    fn feed(&mut self, port: u8, frame: &[u8]) -> Vec<Transmit> {
        let mut out = Vec::new();
        self.cp.handle_frame(port, frame, self.now, &mut out);
        out
    }
    fn drops(&self, r: DropReason) -> u64 {
        self.stats.drops[r as usize].get()
    }
}

/// An ICMPv4 echo request frame from H1 (192.0.2.2) with the given TTL and payload size.
fn ping4(dst: Ipv4Addr, ttl: u8, size: usize, df: bool) -> Vec<u8> {
    let mut f = icmp4_frame(
        H1,
        GW_LAN,
        v4("192.0.2.2"),
        dst,
        ICMP4_ECHO_REQUEST,
        0,
        [0x12, 0x34, 0, 1],
        &vec![0xab; size],
    );
    let mut ip = ipv4::Packet::new_unchecked(&mut f[14..]);
    ip.set_ttl(ttl);
    ip.set_dont_frag(df);
    ip.fill_checksum();
    f
}

fn parse_icmp4(f: &[u8]) -> (Ipv4Addr, Ipv4Addr, u8, u8, Vec<u8>) {
    let eth = ethernet::Packet::new_checked(f).unwrap();
    assert_eq!(eth.ethertype(), EtherType::IPV4);
    let ip = ipv4::Packet::new_checked(eth.payload()).unwrap();
    assert!(ip.verify_checksum(), "IPv4 header checksum");
    assert_eq!(ip.protocol(), IpProtocol::ICMP);
    let m = ip.payload();
    assert_eq!(crate::wire::checksum::checksum(m), 0, "ICMP checksum");
    (ip.src_addr(), ip.dst_addr(), m[0], m[1], m.to_vec())
}

#[test]
fn arp_request_for_gateway_is_answered_and_sender_learned() {
    let mut fx = fixture(vec![]);
    let req = arp_frame(arp::Operation::REQUEST, H1, v4("192.0.2.2"), None, MacAddr([0; 6]), v4("192.0.2.1"));
    let out = fx.feed(0, &req);
    assert_eq!(out.len(), 1);
    let eth = ethernet::Packet::new_checked(&out[0].frame[..]).unwrap();
    assert_eq!(eth.dst_addr().0, H1.0);
    assert_eq!(eth.src_addr().0, GW_LAN.0);
    let r = arp::Repr::parse(&arp::Packet::new_checked(eth.payload()).unwrap()).unwrap();
    assert_eq!(r.operation, arp::Operation::REPLY);
    assert_eq!(r.sender_hardware_addr.0, GW_LAN.0);
    assert_eq!(r.sender_protocol_addr, v4("192.0.2.1"));
    assert_eq!(r.target_protocol_addr, v4("192.0.2.2"));
    // The requester became a host route: traffic to it now forwards in the worker.
    let fib = &fx.tables.load().fib;
    assert_eq!(
        fib.lookup(IpAddr::V4(v4("192.0.2.2"))),
        Some(crate::route::Adjacency::Forward { port: 0, dst: H1 })
    );
}

#[test]
fn arp_for_someone_else_is_counted_not_answered() {
    let mut fx = fixture(vec![]);
    let req = arp_frame(arp::Operation::REQUEST, H1, v4("192.0.2.2"), None, MacAddr([0; 6]), v4("192.0.2.9"));
    assert!(fx.feed(0, &req).is_empty());
    assert_eq!(fx.drops(DropReason::ArpNotForUs), 1);
    let mut bad = req.clone();
    bad[14 + 4] = 8; // hardware length 8: not Ethernet
    assert!(fx.feed(0, &bad).is_empty());
    assert_eq!(fx.drops(DropReason::ArpMalformed), 1);
}

#[test]
fn unresolved_next_hop_is_resolved_then_packet_forwarded() {
    let mut fx = fixture(vec![]);
    let ping = ping4(v4("198.51.100.2"), 64, 56, true);
    let out = fx.feed(0, &ping);
    assert_eq!(out.len(), 1, "an ARP request goes out on wan");
    assert_eq!(out[0].port, 1);
    let eth = ethernet::Packet::new_checked(&out[0].frame[..]).unwrap();
    assert!(eth.dst_addr().is_broadcast());
    let r = arp::Repr::parse(&arp::Packet::new_checked(eth.payload()).unwrap()).unwrap();
    assert_eq!((r.operation, r.target_protocol_addr), (arp::Operation::REQUEST, v4("198.51.100.2")));
    assert_eq!(r.sender_protocol_addr, v4("198.51.100.1"));

    let reply =
        arp_frame(arp::Operation::REPLY, H2, v4("198.51.100.2"), Some(GW_WAN), GW_WAN, v4("198.51.100.1"));
    let out = fx.feed(1, &reply);
    assert_eq!(out.len(), 1, "the held ping is released");
    assert_eq!(out[0].port, 1);
    let f = &out[0].frame;
    let eth = ethernet::Packet::new_checked(&f[..]).unwrap();
    assert_eq!((eth.dst_addr().0, eth.src_addr().0), (H2.0, GW_WAN.0));
    let ip = ipv4::Packet::new_checked(eth.payload()).unwrap();
    assert_eq!(ip.ttl(), 63);
    assert!(ip.verify_checksum());
}

#[test]
fn ttl_one_gets_time_exceeded_from_ingress_address() {
    let mut fx = fixture(vec![]);
    let ping = ping4(v4("198.51.100.2"), 1, 56, false);
    let out = fx.feed(0, &ping);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].port, 0);
    let (src, dst, t, code, m) = parse_icmp4(&out[0].frame);
    assert_eq!((src, dst, t, code), (v4("192.0.2.1"), v4("192.0.2.2"), ICMP4_TIME_EXCEEDED, 0));
    assert_eq!(&m[8..8 + 20], &ping[14..34], "quotes the offending header");
    assert_eq!(fx.drops(DropReason::TtlExceeded), 1);
}

#[test]
fn no_route_gets_net_unreachable() {
    let mut fx = fixture(vec![]);
    let out = fx.feed(0, &ping4(v4("203.0.113.5"), 64, 8, false));
    let (_, dst, t, code, _) = parse_icmp4(&out[0].frame);
    assert_eq!((dst, t, code), (v4("192.0.2.2"), ICMP4_DST_UNREACHABLE, 0));
    assert_eq!(fx.drops(DropReason::NoRoute), 1);
}

#[test]
fn too_big_with_df_gets_frag_needed_with_mtu() {
    let mut fx = fixture(vec![]);
    // Resolve the wan host first so the packet hits a Forward adjacency.
    let reply =
        arp_frame(arp::Operation::REQUEST, H2, v4("198.51.100.2"), None, MacAddr([0; 6]), v4("198.51.100.1"));
    fx.feed(1, &reply);
    let out = fx.feed(0, &ping4(v4("198.51.100.2"), 64, 1450, true));
    let (_, _, t, code, m) = parse_icmp4(&out[0].frame);
    assert_eq!((t, code), (ICMP4_DST_UNREACHABLE, 4));
    assert_eq!(u16::from_be_bytes([m[6], m[7]]), 1400);
    // Without DF: counted, no ICMP (fragmentation comes with the ESP data plane).
    assert!(fx.feed(0, &ping4(v4("198.51.100.2"), 64, 1450, false)).is_empty());
    assert_eq!(fx.drops(DropReason::MtuExceeded), 2);
}

#[test]
fn ping_to_gateway_is_answered() {
    let mut fx = fixture(vec![]);
    let out = fx.feed(0, &ping4(v4("198.51.100.1"), 64, 32, false));
    assert_eq!(out.len(), 1);
    let (src, dst, t, _, m) = parse_icmp4(&out[0].frame);
    assert_eq!((src, dst, t), (v4("198.51.100.1"), v4("192.0.2.2"), ICMP4_ECHO_REPLY));
    assert_eq!(&m[4..8], &[0x12, 0x34, 0, 1]);
    assert_eq!(m.len(), 8 + 32);
}

#[test]
fn unanswered_resolution_sends_host_unreachable_after_three_probes() {
    let mut fx = fixture(vec![]);
    let out = fx.feed(0, &ping4(v4("198.51.100.77"), 64, 8, false));
    assert_eq!(out.len(), 1);
    let mut probes = 1;
    let mut errors = Vec::new();
    for s in 1..=4 {
        let mut out = Vec::new();
        fx.cp.tick(fx.now + Duration::from_secs(s), &mut out);
        for t in out {
            if t.port == 1 {
                probes += 1;
            } else {
                errors.push(t);
            }
        }
    }
    assert_eq!(probes, neighbour::MAX_PROBES as usize);
    assert_eq!(errors.len(), 1);
    let (_, dst, t, code, _) = parse_icmp4(&errors[0].frame);
    assert_eq!((dst, t, code), (v4("192.0.2.2"), ICMP4_DST_UNREACHABLE, 1));
    assert_eq!(fx.drops(DropReason::NeighbourUnresolved), 1);
}

#[test]
fn static_route_via_next_hop_resolves_the_gateway_not_the_destination() {
    let mut fx = fixture(vec![StaticRoute {
        prefix: "203.0.113.0/24".parse().unwrap(),
        via: Some("198.51.100.254".parse().unwrap()),
        port: None,
        vti: None,
        metric: 0,
    }]);
    let out = fx.feed(0, &ping4(v4("203.0.113.10"), 64, 8, false));
    let eth = ethernet::Packet::new_checked(&out[0].frame[..]).unwrap();
    let r = arp::Repr::parse(&arp::Packet::new_checked(eth.payload()).unwrap()).unwrap();
    assert_eq!(r.target_protocol_addr, v4("198.51.100.254"));
}

fn ns_frame(src: Ipv6Addr, target: Ipv6Addr, hop: u8) -> Vec<u8> {
    let mut body = target.octets().to_vec();
    body.extend_from_slice(&lladdr_option(ND_OPT_SOURCE_LLADDR, H1));
    let dst = solicited_node(target);
    icmp6_frame(H1, ipv6_multicast_mac(dst), src, dst, hop, ND_NEIGHBOR_SOLICIT, 0, [0; 4], &body)
}

#[test]
fn neighbour_solicitation_for_gateway_gets_advertisement() {
    let mut fx = fixture(vec![]);
    let out = fx.feed(0, &ns_frame(v6("2001:db8:1::2"), v6("2001:db8:1::1"), 255));
    assert_eq!(out.len(), 1);
    let eth = ethernet::Packet::new_checked(&out[0].frame[..]).unwrap();
    assert_eq!(eth.dst_addr().0, H1.0);
    let ip = ipv6::Packet::new_checked(eth.payload()).unwrap();
    assert_eq!(
        (ip.src_addr(), ip.dst_addr(), ip.hop_limit()),
        (v6("2001:db8:1::1"), v6("2001:db8:1::2"), 255)
    );
    let m = ip.payload();
    assert!(icmp6_checksum_ok(ip.src_addr(), ip.dst_addr(), m));
    assert_eq!(m[0], ND_NEIGHBOR_ADVERT);
    assert_eq!(m[4], 0xe0, "router, solicited, override");
    assert_eq!(&m[8..24], &v6("2001:db8:1::1").octets());
    assert_eq!(&m[24..32], &lladdr_option(ND_OPT_TARGET_LLADDR, GW_LAN));
    // The soliciting host was learned.
    assert_eq!(
        fx.tables.load().fib.lookup(IpAddr::V6(v6("2001:db8:1::2"))),
        Some(crate::route::Adjacency::Forward { port: 0, dst: H1 })
    );
    // Hop limit other than 255 is not from the link: rejected.
    assert!(fx.feed(0, &ns_frame(v6("2001:db8:1::2"), v6("2001:db8:1::1"), 64)).is_empty());
    assert_eq!(fx.drops(DropReason::NdMalformed), 1);
}

#[test]
fn ipv6_hop_limit_one_gets_time_exceeded() {
    let mut fx = fixture(vec![]);
    let f = icmp6_frame(
        H1,
        GW_LAN,
        v6("2001:db8:1::2"),
        v6("2001:db8:2::2"),
        1,
        ICMP6_ECHO_REQUEST,
        0,
        [0, 1, 0, 1],
        b"x",
    );
    let out = fx.feed(0, &f);
    assert_eq!(out.len(), 1);
    let eth = ethernet::Packet::new_checked(&out[0].frame[..]).unwrap();
    let ip = ipv6::Packet::new_checked(eth.payload()).unwrap();
    let m = ip.payload();
    assert!(icmp6_checksum_ok(ip.src_addr(), ip.dst_addr(), m));
    assert_eq!((ip.src_addr(), ip.dst_addr()), (v6("2001:db8:1::1"), v6("2001:db8:1::2")));
    assert_eq!((m[0], m[1]), (ICMP6_TIME_EXCEEDED, 0));
}

#[test]
fn icmp_errors_are_rate_limited() {
    let mut fx = fixture(vec![]);
    let ping = ping4(v4("203.0.113.5"), 64, 8, false);
    let mut sent = 0;
    for _ in 0..150 {
        sent += fx.feed(0, &ping).len();
    }
    assert_eq!(sent, 100);
    assert_eq!(fx.drops(DropReason::IcmpRateLimited), 50);
    fx.now += Duration::from_secs(1);
    assert_eq!(fx.feed(0, &ping).len(), 1, "tokens refill over time");
}

#[test]
fn no_icmp_error_about_an_icmp_error() {
    let mut fx = fixture(vec![]);
    let f = icmp4_frame(
        H1,
        GW_LAN,
        v4("192.0.2.2"),
        v4("203.0.113.5"),
        ICMP4_DST_UNREACHABLE,
        1,
        [0; 4],
        &[0; 28],
    );
    assert!(fx.feed(0, &f).is_empty());
    assert_eq!(fx.drops(DropReason::NoRoute), 1);
}

#[test]
fn ike_over_ipv6_is_received_and_sent_from_a_port_address() {
    let mut fx = fixture(vec![]);
    fx.cp.enable_ike();
    let (us, peer) = (v6("2001:db8:2::1"), v6("2001:db8:2::2"));
    // The peer on the wan link, learned from its neighbour solicitation.
    fx.feed(1, &ns_frame(peer, us, 255));
    let ike = b"\x00\x00\x00\x00 an IKE message after the non-ESP marker";
    // Received: UDP 4500 for our address goes to the driver with its IPv6 addresses.
    let f = udp6_frame(H1, GW_WAN, peer, us, 4500, 4500, ike);
    assert!(fx.feed(1, &f).is_empty());
    let got = fx.cp.take_ike();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].src, got[0].dst),
        ("[2001:db8:2::2]:4500".parse().unwrap(), "[2001:db8:2::1]:4500".parse().unwrap())
    );
    assert_eq!(got[0].payload, ike);
    // A corrupted checksum is not IKE.
    let mut bad = f.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    fx.feed(1, &bad);
    assert!(fx.cp.take_ike().is_empty());
    // Sent: an IPv6/UDP packet from our address, routed to the peer on the wan port.
    let mut out = Vec::new();
    let (src, dst) = ("[2001:db8:2::1]:500".parse().unwrap(), "[2001:db8:2::2]:500".parse().unwrap());
    assert!(fx.cp.send_udp(src, dst, b"IKE_SA_INIT", fx.now, &mut out));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].port, 1);
    let eth = ethernet::Packet::new_checked(&out[0].frame[..]).unwrap();
    assert_eq!((eth.dst_addr().0, eth.src_addr().0), (H1.0, GW_WAN.0));
    let ip = ipv6::Packet::new_checked(eth.payload()).unwrap();
    assert_eq!((ip.src_addr(), ip.dst_addr(), ip.next_header()), (us, peer, IpProtocol::UDP));
    let udp = crate::wire::udp::Packet::new_checked(ip.payload()).unwrap();
    assert!(udp.verify_checksum(IpAddr::V6(us), IpAddr::V6(peer)));
    assert_eq!((udp.src_port(), udp.dst_port(), udp.payload()), (500, 500, &b"IKE_SA_INIT"[..]));
    // Not from one of our addresses, or mixed families: nothing is sent.
    let other = "[2001:db8:2::7]:500".parse().unwrap();
    assert!(!fx.cp.send_udp(other, dst, b"x", fx.now, &mut out));
    assert!(!fx.cp.send_udp(src, "198.51.100.2:500".parse().unwrap(), b"x", fx.now, &mut out));
    assert_eq!(out.len(), 1);
}

/// The host exception path of a VTI (169.254.10.1/30, route 203.0.113.0/24 into it): what
/// comes from across the VTI for the inside address goes to the host; a ping from the LAN to
/// it is still answered here; what the host sends is injected only when routed into a VTI;
/// learned routes enter the FIB below the static ones.
#[test]
fn host_exception_path_and_learned_routes() {
    let ports = vec![
        L3Port {
            name: "lan".into(),
            mac: GW_LAN,
            mtu: 1500,
            addresses: vec!["192.0.2.1/24".parse().unwrap()],
        },
        L3Port {
            name: "wan".into(),
            mac: GW_WAN,
            mtu: 1500,
            addresses: vec!["198.51.100.1/24".parse().unwrap()],
        },
    ];
    let vtis: Vec<IpPrefix> = vec!["169.254.10.1/30".parse().unwrap()];
    let routes = vec![StaticRoute {
        prefix: "203.0.113.0/24".parse().unwrap(),
        via: None,
        port: None,
        vti: Some(0),
        metric: 0,
    }];
    let tables: SharedTables =
        Arc::new(ArcSwap::from_pointee(ControlPlane::initial_tables(&ports, &routes, &vtis, &[])));
    let stats = Arc::new(WorkerStats::new(0, 2));
    let mut cp =
        ControlPlane::new(ports, routes, vtis, &[], tables.clone(), Default::default(), stats.clone());
    cp.set_host_vtis(vec![true]);
    let now = Instant::now();

    // Decrypted from the VTI (the peer's inside address as source): to the host, unchanged.
    let bgp = icmp4_frame(
        GW_WAN,
        GW_WAN,
        v4("169.254.10.2"),
        v4("169.254.10.1"),
        ICMP4_ECHO_REQUEST,
        0,
        [0; 4],
        &[7; 20],
    );
    let mut out = Vec::new();
    cp.handle_frame(1, &bgp, now, &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(cp.take_host(), vec![(0u16, bgp[14..].to_vec())]);
    // From the LAN: espgw answers, the host sees nothing.
    cp.handle_frame(0, &ping4(v4("169.254.10.1"), 64, 8, false), now, &mut out);
    assert_eq!(out.len(), 1);
    assert!(cp.take_host().is_empty());
    out.clear();

    // From the host: into the VTI (its far inside address, the routed site) or dropped.
    let ip = |dst: &str| {
        icmp4_frame(GW_WAN, GW_WAN, v4("169.254.10.1"), v4(dst), ICMP4_ECHO_REQUEST, 0, [0; 4], &[1; 8])[14..]
            .to_vec()
    };
    for dst in ["169.254.10.2", "203.0.113.9"] {
        cp.from_host(0, &ip(dst), &mut out);
    }
    assert_eq!(out.len(), 2);
    assert_eq!(&out[0].frame[12..14], &[0x08, 0x00]);
    assert_eq!(&out[0].frame[14..], &ip("169.254.10.2")[..]);
    cp.from_host(0, &ip("192.0.2.2"), &mut out);
    cp.from_host(0, &[0x45, 0, 0], &mut out);
    assert_eq!(out.len(), 2);
    let c = cp.host_counters();
    assert_eq!((c.to_host, c.from_host, c.from_host_dropped), (1, 2, 2));

    // Learned routes: into the FIB, a static route for the same prefix wins, withdrawn again.
    let learned =
        |p: &str| StaticRoute { prefix: p.parse().unwrap(), via: None, port: None, vti: Some(0), metric: 0 };
    cp.set_learned_routes(vec![learned("10.9.0.0/16"), learned("192.0.2.0/24")]);
    let fib = |a: &str| tables.load().fib.lookup_v4(v4(a));
    assert_eq!(fib("10.9.1.1"), Some(crate::route::Adjacency::Vti { vti: 0 }));
    assert_eq!(fib("192.0.2.7"), Some(crate::route::Adjacency::Glean { port: 0 }), "connected beats learned");
    cp.set_learned_routes(vec![]);
    assert_eq!(fib("10.9.1.1"), None);
}
