//! Route-based decisions: packets routed into a VTI are protected with the VTI's current SA
//! (or dropped as `vti_down` without one); what a VTI's SA decrypts is accepted whatever its
//! inner addresses and routed on; the VTI's inside address is the gateway's own.

use super::*;
use crate::buf::{PacketBuf, VecBuf};
use crate::config::{self, MacAddr};
use crate::control::packet::icmp4_frame;
use crate::control::ControlPlane;
use crate::ipsec::datapath::IpsecWorker;
use crate::ipsec::manual;
use crate::ipsec::sadb::SadbBuilder;
use crate::route::{L3Port, Neighbour, StaticRoute};
use crate::worker::ipsec as worker_ipsec;

const A_LAN: [u8; 6] = [2, 0, 0, 0, 0xa, 1];
const A_WAN: [u8; 6] = [2, 0, 0, 0, 0xa, 2];
const B_LAN: [u8; 6] = [2, 0, 0, 0, 0xb, 1];
const B_WAN: [u8; 6] = [2, 0, 0, 0, 0xb, 2];
const H1: [u8; 6] = [2, 0, 0, 0, 0, 0x11];
const H2: [u8; 6] = [2, 0, 0, 0, 0, 0x22];
const KEY: &str = "000102030405060708090a0b0c0d0e0f10111213";

/// One gateway with VTI 0 (169.254.10.1/30 on A, .2 on B) and a route to the far site into
/// it. With `up`, an SA pair (manually keyed here, as IKE would install it) carries the VTI.
struct Gw {
    t: Tables,
    sp: IpsecTables,
    w: IpsecWorker,
    b: SadbBuilder,
}

fn gateway(site_a: bool, up: bool) -> Gw {
    let (lan_mac, wan_mac, host_mac, peer_mac) =
        if site_a { (A_LAN, A_WAN, H1, B_WAN) } else { (B_LAN, B_WAN, H2, A_WAN) };
    let [lan, wan, peer, host, vti, far] = if site_a {
        ["192.0.2.1/24", "203.0.113.1/24", "203.0.113.2", "192.0.2.2", "169.254.10.1/30", "198.51.100.0/24"]
    } else {
        [
            "198.51.100.1/24",
            "203.0.113.2/24",
            "203.0.113.1",
            "198.51.100.2",
            "169.254.10.2/30",
            "192.0.2.0/24",
        ]
    };
    let (out_spi, in_spi) = if site_a { (0x1001, 0x2001) } else { (0x2001, 0x1001) };
    let me = &wan[..wan.len() - 3];
    let text = format!(
        "ports:\n  - {{ name: lan, device: net_null0, addresses: [\"{lan}\"] }}\n  \
         - {{ name: wan, device: net_null1, addresses: [\"{wan}\"] }}\n\
         ipsec:\n  allow_static_gcm: true\n  sas:\n    \
         - {{ name: out, direction: out, spi: {out_spi}, local: {me}, remote: {peer}, algorithm: aes128gcm16, enc_key: \"{KEY}\" }}\n    \
         - {{ name: in, direction: in, spi: {in_spi}, local: {me}, remote: {peer}, algorithm: aes128gcm16, enc_key: \"{KEY}\" }}\n"
    );
    let cfg = config::parse(&text, "test.yaml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let port = |name: &str, mac, a: &str| L3Port {
        name: name.into(),
        mac: MacAddr(mac),
        mtu: 1500,
        addresses: vec![a.parse().unwrap()],
    };
    let ports = vec![port("lan", lan_mac, lan), port("wan", wan_mac, wan)];
    let neigh = vec![
        Neighbour { port: 0, ip: host.parse().unwrap(), mac: MacAddr(host_mac) },
        Neighbour { port: 1, ip: peer.parse().unwrap(), mac: MacAddr(peer_mac) },
    ];
    let routes =
        vec![StaticRoute { prefix: far.parse().unwrap(), via: None, port: None, vti: Some(0), metric: 0 }];
    let mut b = manual::load(&cfg.ipsec).unwrap();
    b.set_vtis(vec!["peer".into()]);
    if up {
        let slot = |b: &SadbBuilder, name: &str| {
            (0..8).find(|&s| b.entry(s).is_some_and(|e| e.sa.name == name)).unwrap()
        };
        let (si, so) = (slot(&b, "in"), slot(&b, "out"));
        b.set_vti(si, 0);
        b.set_vti(so, 0);
        b.set_vti_sa(0, so);
    }
    let mut w = IpsecWorker::new().unwrap();
    let sp = b.snapshot();
    w.sync(&sp);
    let t = ControlPlane::initial_tables(&ports, &routes, &[vti.parse().unwrap()], &neigh);
    Gw { t, sp, w, b }
}

fn ping(src_mac: [u8; 6], dst_mac: [u8; 6], src: &str, dst: &str, ttl: u8) -> Vec<u8> {
    let mut f = icmp4_frame(
        MacAddr(src_mac),
        MacAddr(dst_mac),
        src.parse().unwrap(),
        dst.parse().unwrap(),
        8,
        0,
        [0, 1, 0, 1],
        &[0x5a; 56],
    );
    let mut ip = ipv4::Packet::new_unchecked(&mut f[14..]);
    ip.set_ttl(ttl);
    ip.fill_checksum();
    f
}

/// The workers' steps on one frame received on `port`: decide, decapsulate, encapsulate.
fn run(g: &mut Gw, frame: &[u8], port: u8) -> (Decision, Vec<u8>) {
    let mut buf = VecBuf::like_mbuf(frame);
    let mut d = super::process(buf.data_mut(), port, &g.t, &g.sp, Origin::Wire);
    if d == Decision::Unprotect {
        d = worker_ipsec::unprotect(&mut buf, port, &g.t, &g.sp, &mut g.w);
        g.w.flush_traffic(&g.sp);
    }
    if let Decision::Protect { sa } = d {
        let sa = g.sp.sa(sa).unwrap();
        let seq = sa.counters.reserve(1, sa.max_seq()).unwrap();
        d = worker_ipsec::encapsulate_and_route(&mut buf, sa, seq, port, &g.t, &mut g.w);
    }
    (d, buf.data().to_vec())
}

#[test]
fn routed_into_a_vti_without_an_sa_is_dropped_as_vti_down() {
    let mut a = gateway(true, false);
    let f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 64);
    assert!(!a.sp.is_idle(), "manual SAs exist, just none bound to the VTI");
    assert_eq!(run(&mut a, &f, 0).0, Decision::Drop(DropReason::VtiDown));
    // With no IPsec state at all (the tables idle), the route alone decides the same.
    let idle = IpsecTables::default();
    assert!(idle.is_idle());
    let mut g = f.clone();
    assert_eq!(super::process(&mut g, 0, &a.t, &idle, Origin::Wire), Decision::Drop(DropReason::VtiDown));
    assert_eq!(g, f, "a dropped frame is left alone");
    // The fast path declines it (it would otherwise forward in the clear).
    assert_eq!(fast::forward_v4(&mut g, fast::mac_key(A_LAN), &a.t), None);
    // TTL about to expire: the ICMP error case comes first, as for any route.
    let low = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 1);
    assert_eq!(run(&mut a, &low, 0).0, Decision::Punt(Punt::TtlExceeded));
    // The gateway's own answers into a VTI that is down are dropped, not sent in the clear.
    let reply = ping(A_LAN, A_LAN, "169.254.10.1", "198.51.100.2", 64);
    assert_eq!(local_outbound(&reply, &a.t, &a.sp), LocalOut::VtiDown);
}

#[test]
fn a_ping_crosses_the_vti_and_any_inner_address_is_accepted() {
    let (mut a, mut b) = (gateway(true, true), gateway(false, true));
    let f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 64);
    let (d, wire) = run(&mut a, &f, 0);
    assert_eq!(d, Decision::Forward { port: 1, dst: B_WAN, v6: false });
    let outer = ipv4::Packet::new_checked(&wire[14..]).unwrap();
    assert_eq!(outer.protocol(), crate::wire::IpProtocol::ESP);
    assert_eq!(outer.dst_addr().to_string(), "203.0.113.2");
    let (d, inner) = run(&mut b, &wire, 1);
    assert_eq!(d, Decision::Forward { port: 0, dst: H2, v6: false });
    assert_eq!(ipv4::Packet::new_checked(&inner[14..]).unwrap().ttl(), 62);

    // No selector names 10.9.9.9 or 172.16.0.1: a VTI's SA is any-to-any, routing decides.
    let f = ping(H1, A_LAN, "10.9.9.9", "198.51.100.2", 64);
    let (_, wire) = run(&mut a, &f, 0);
    assert_eq!(run(&mut b, &wire, 1).0, Decision::Forward { port: 0, dst: H2, v6: false });
    // A decrypted packet for a destination with no route is the router's business (ICMP).
    let mut odd = ping(H1, A_LAN, "192.0.2.2", "172.16.0.1", 64);
    let sa = a.sp.sa(a.sp.vti_sa(0).unwrap()).unwrap();
    let mut buf = VecBuf::like_mbuf(&odd);
    let seq = sa.counters.reserve(1, sa.max_seq()).unwrap();
    worker_ipsec::encapsulate_and_route(&mut buf, sa, seq, 0, &a.t, &mut a.w);
    odd = buf.data().to_vec();
    assert_eq!(run(&mut b, &odd, 1).0, Decision::Punt(Punt::NoRoute));

    // The far inside address is reached through the VTI and is local there.
    let f = ping(H1, A_LAN, "192.0.2.2", "169.254.10.2", 64);
    let (d, wire) = run(&mut a, &f, 0);
    assert!(matches!(d, Decision::Forward { port: 1, .. }), "{d:?}");
    assert_eq!(run(&mut b, &wire, 1).0, Decision::Punt(Punt::Local));
    // B's echo reply (from its inside address, injected by the control path) goes back
    // through the VTI's SA, and A delivers it to the host.
    let reply = ping(B_WAN, B_WAN, "169.254.10.2", "192.0.2.2", 64);
    let LocalOut::Protect(slot) = local_outbound(&reply, &b.t, &b.sp) else { panic!("not protected") };
    assert_eq!(Some(slot), b.sp.vti_sa(0));
    let sa = b.sp.sa(slot).unwrap();
    let mut buf = VecBuf::like_mbuf(&reply);
    let seq = sa.counters.reserve(1, sa.max_seq()).unwrap();
    let d = worker_ipsec::encapsulate_and_route(&mut buf, sa, seq, 1, &b.t, &mut b.w);
    assert_eq!(d, Decision::Forward { port: 1, dst: A_WAN, v6: false });
    assert_eq!(run(&mut a, buf.data(), 1).0, Decision::Forward { port: 0, dst: H1, v6: false });
    // The near inside address is the gateway's own.
    assert_eq!(
        run(&mut a, &ping(H1, A_LAN, "192.0.2.2", "169.254.10.1", 64), 0).0,
        Decision::Punt(Punt::Local)
    );
}

#[test]
fn a_vti_sa_is_not_a_policy_and_clear_text_from_the_far_site_is_routed() {
    // Route-based: no SPD policy exists, so nothing requires protection on the way in; the
    // far site's addresses arriving in the clear are routed (back into the VTI here).
    let mut a = gateway(true, true);
    assert!(a.sp.outbound.is_empty() && a.sp.inbound.is_empty());
    let f = ping(B_WAN, A_WAN, "203.0.113.2", "198.51.100.7", 64);
    assert!(matches!(run(&mut a, &f, 1).0, Decision::Forward { port: 1, dst: B_WAN, .. }));
    // Once the VTI's SA is gone (deleted, expired), the route drops again.
    let out = a.sp.vti_sa(0).unwrap();
    a.b.remove(out);
    a.sp = a.b.snapshot();
    a.w.sync(&a.sp);
    assert_eq!(run(&mut a, &f, 1).0, Decision::Drop(DropReason::VtiDown));
}
