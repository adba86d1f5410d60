//! The IPsec decisions of `process`, end to end without DPDK: two gateways' tables built from
//! config text, a packet protected by one and unprotected by the other.

use super::*;
use crate::buf::{PacketBuf, VecBuf};
use crate::config::{self, MacAddr};
use crate::control::packet::icmp4_frame;
use crate::control::ControlPlane;
use crate::ipsec::datapath::IpsecWorker;
use crate::ipsec::manual;
use crate::ipsec::sadb::{SaDirection, SadbBuilder};
use crate::route::{L3Port, Neighbour};
use crate::worker::ipsec as worker_ipsec;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

const A_LAN: [u8; 6] = [2, 0, 0, 0, 0xa, 1];
const A_WAN: [u8; 6] = [2, 0, 0, 0, 0xa, 2];
const B_LAN: [u8; 6] = [2, 0, 0, 0, 0xb, 1];
const B_WAN: [u8; 6] = [2, 0, 0, 0, 0xb, 2];
const H1: [u8; 6] = [2, 0, 0, 0, 0, 0x11];
const H2: [u8; 6] = [2, 0, 0, 0, 0, 0x22];

const KEY: &str = "000102030405060708090a0b0c0d0e0f10111213";

/// One gateway: lan + wan ports, neighbours known, SAs and policies from YAML.
struct Gw {
    t: Tables,
    sp: IpsecTables,
    w: IpsecWorker,
    b: SadbBuilder,
}

fn gateway(site_a: bool, extra_policies: &str) -> Gw {
    gateway_with(site_a, extra_policies, &format!("algorithm: aes128gcm16, enc_key: \"{KEY}\""))
}

/// `transform` is the SA's algorithm and key fields (and `protocol`), shared by both SAs.
fn gateway_with(site_a: bool, extra_policies: &str, transform: &str) -> Gw {
    let (lan_mac, wan_mac, lan, wan, peer, host, host_mac, peer_mac) = if site_a {
        (A_LAN, A_WAN, "192.0.2.1/24", "203.0.113.1/24", "203.0.113.2", "192.0.2.2", H1, B_WAN)
    } else {
        (B_LAN, B_WAN, "198.51.100.1/24", "203.0.113.2/24", "203.0.113.1", "198.51.100.2", H2, A_WAN)
    };
    let (out_spi, in_spi, here, there) = if site_a {
        (0x1001, 0x2001, "192.0.2.0/24", "198.51.100.0/24")
    } else {
        (0x2001, 0x1001, "198.51.100.0/24", "192.0.2.0/24")
    };
    let me = &wan[..wan.len() - 3];
    let text = format!(
        "ports:\n  - {{ name: lan, device: net_null0, addresses: [\"{lan}\"] }}\n  \
         - {{ name: wan, device: net_null1, addresses: [\"{wan}\"] }}\n\
         ipsec:\n  allow_static_gcm: true\n  sas:\n    \
         - {{ name: out, direction: out, spi: {out_spi}, local: {me}, remote: {peer}, {transform} }}\n    \
         - {{ name: in, direction: in, spi: {in_spi}, local: {me}, remote: {peer}, {transform} }}\n  \
         policies:\n{extra_policies}    \
         - {{ direction: out, src: {here}, dst: {there}, action: protect, sa: out }}\n    \
         - {{ direction: in, src: {there}, dst: {here}, action: protect, sa: in }}\n"
    );
    let cfg = config::parse(&text, "test.yaml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let ports = vec![
        L3Port {
            name: "lan".into(),
            mac: MacAddr(lan_mac),
            mtu: 1500,
            addresses: vec![lan.parse().unwrap()],
        },
        L3Port {
            name: "wan".into(),
            mac: MacAddr(wan_mac),
            mtu: 1500,
            addresses: vec![wan.parse().unwrap()],
        },
    ];
    let neigh = vec![
        Neighbour { port: 0, ip: host.parse().unwrap(), mac: MacAddr(host_mac) },
        Neighbour { port: 1, ip: peer.parse().unwrap(), mac: MacAddr(peer_mac) },
    ];
    let mut w = IpsecWorker::new().unwrap();
    let mut b = manual::load(&cfg.ipsec).unwrap();
    let sp = b.snapshot();
    w.sync(&sp);
    Gw { t: ControlPlane::initial_tables(&ports, &[], &[], &neigh), sp, w, b }
}

fn ping(src_mac: [u8; 6], dst_mac: [u8; 6], src: &str, dst: &str, payload: usize, df: bool) -> Vec<u8> {
    let mut f = icmp4_frame(
        MacAddr(src_mac),
        MacAddr(dst_mac),
        src.parse().unwrap(),
        dst.parse().unwrap(),
        8,
        0,
        [0, 1, 0, 1],
        &vec![0x5a; payload],
    );
    let mut ip = ipv4::Packet::new_unchecked(&mut f[14..]);
    ip.set_ttl(64);
    if df {
        f[14 + 6] |= 0x40;
    }
    let mut ip = ipv4::Packet::new_unchecked(&mut f[14..]);
    ip.fill_checksum();
    f
}

/// Runs gateway `g` on a frame received on `port` through the workers' own IPsec steps
/// (`worker::ipsec`); returns the final decision and the frame as it would leave.
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
fn a_ping_crosses_two_gateways_encrypted() {
    let (mut a, mut b) = (gateway(true, ""), gateway(false, ""));
    let f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 56, false);
    let (d, wire) = run(&mut a, &f, 0);
    assert_eq!(d, Decision::Forward { port: 1, dst: B_WAN, v6: false });
    let outer = ipv4::Packet::new_checked(&wire[14..]).unwrap();
    assert_eq!(outer.protocol(), crate::wire::IpProtocol::ESP);
    assert_eq!(outer.src_addr().to_string(), "203.0.113.1");
    assert_eq!(outer.dst_addr().to_string(), "203.0.113.2");
    assert!(!wire.windows(16).any(|w| w == [0x5a; 16]), "payload visible on the wire");

    let (d, inner) = run(&mut b, &wire, 1);
    assert_eq!(d, Decision::Forward { port: 0, dst: H2, v6: false });
    let ip = ipv4::Packet::new_checked(&inner[14..]).unwrap();
    assert_eq!(ip.ttl(), 62, "each gateway decrements the inner TTL once");
    assert!(ip.verify_checksum());
    assert_eq!(&inner[14 + 20 + 8..], &f[14 + 20 + 8..], "ICMP payload intact");
    assert_eq!(&inner[6..12], &B_LAN);

    // The same ESP packet again: replayed.
    assert_eq!(run(&mut b, &wire, 1).0, Decision::Drop(DropReason::EspReplayed));
    // The next packet with a flipped ciphertext byte: ICV mismatch, and the window does not
    // move, so the genuine packet with that sequence number is still accepted.
    let (_, wire2) = run(&mut a, &f, 0);
    let mut bad = wire2.clone();
    bad[14 + 20 + 8 + 8 + 3] ^= 1;
    assert_eq!(run(&mut b, &bad, 1).0, Decision::Drop(DropReason::EspIcvMismatch));
    assert!(matches!(run(&mut b, &wire2, 1).0, Decision::Forward { port: 0, .. }));
    // Unknown SPI.
    let mut other = wire.clone();
    other[14 + 20 + 3] ^= 0x40;
    assert_eq!(run(&mut b, &other, 1).0, Decision::Drop(DropReason::EspUnknownSpi));
    let sa_in = b.sp.entries().find(|(_, e)| e.sa.name == "in").unwrap().1;
    assert_eq!(sa_in.sa.counters.packets.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[test]
fn clear_text_where_protection_is_required_is_dropped() {
    let mut a = gateway(true, "");
    // From the peer's subnet, arriving on the wan port without ESP.
    let f = ping(B_WAN, A_WAN, "198.51.100.2", "192.0.2.2", 56, false);
    assert_eq!(run(&mut a, &f, 1).0, Decision::Drop(DropReason::CleartextProtected));
    // Traffic no policy covers is routed in the clear.
    let f = ping(B_WAN, A_WAN, "203.0.113.2", "192.0.2.2", 56, false);
    assert_eq!(run(&mut a, &f, 1).0, Decision::Forward { port: 0, dst: H1, v6: false });
}

#[test]
fn a_decrypted_packet_outside_the_sa_selectors_is_dropped() {
    // B protects 203.0.113.0/24 -> 192.0.2.0/24 with its outbound SA too, which A's inbound
    // policy for that SA does not allow.
    let mut b = gateway(
        false,
        "    - { direction: out, src: 203.0.113.0/24, dst: 192.0.2.0/24, action: protect, sa: out }\n",
    );
    let mut a = gateway(true, "");
    let f = ping(H2, B_LAN, "203.0.113.2", "192.0.2.2", 56, false);
    let (d, wire) = run(&mut b, &f, 0);
    assert!(matches!(d, Decision::Forward { port: 1, .. }), "{d:?}");
    assert_eq!(run(&mut a, &wire, 1).0, Decision::Drop(DropReason::PolicyMismatch));
}

#[test]
fn too_big_for_the_tunnel_gets_the_inner_mtu_that_fits() {
    let mut a = gateway(true, "");
    let f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 1472, true);
    let d = run(&mut a, &f, 0).0;
    let Decision::Punt(Punt::TooBig { mtu }) = d else { panic!("{d:?}") };
    let sa = a.sp.entries().find(|(_, e)| e.sa.name == "out").unwrap().1;
    assert!(esp::encapsulated_len(&sa.sa, mtu as usize, 20) <= 1500, "reported MTU {mtu} must fit");
    assert!(esp::encapsulated_len(&sa.sa, mtu as usize + 4, 20) > 1500 - 4, "and not waste much: {mtu}");
    // The control path, asking why, gets the same answer.
    assert_eq!(super::classify(&f, 0, &a.t, &a.sp, Origin::Punted), d);
    // A packet that fits after encapsulation is protected.
    let g = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", mtu as usize - 28, true);
    assert!(matches!(run(&mut a, &g, 0).0, Decision::Forward { .. }));
    // Without DF: fragmented before encryption (by the control path), each fragment then
    // protected on its own and small enough for the tunnel; B forwards both fragments.
    let h = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 1472, false);
    let Decision::Punt(Punt::Fragment { mtu }) = run(&mut a, &h, 0).0 else { panic!() };
    let frags = crate::control::fragment::fragment_v4(&h[14..], mtu as usize).unwrap();
    assert_eq!(frags.len(), 2);
    let mut b = gateway(false, "");
    let mut carried = 0;
    for f in frags {
        let mut frame = h[..14].to_vec();
        frame.extend_from_slice(&f);
        let super::LocalOut::Protect(slot) = super::local_outbound(&frame, &a.t, &a.sp) else {
            panic!("a fragment matches the policy")
        };
        let sa = a.sp.sa(slot).unwrap();
        let mut buf = VecBuf::like_mbuf(&frame);
        let seq = sa.counters.reserve(1, sa.max_seq()).unwrap();
        let d = worker_ipsec::encapsulate_and_route(&mut buf, sa, seq, 0, &a.t, &mut a.w);
        assert!(matches!(d, Decision::Forward { port: 1, .. }));
        assert!(buf.len() - 14 <= 1500, "outer packet {} bytes", buf.len() - 14);
        let (d, inner) = run(&mut b, buf.data(), 1);
        assert_eq!(d, Decision::Forward { port: 0, dst: H2, v6: false });
        carried += inner.len() - 14 - 20;
    }
    assert_eq!(carried, 1472 + 8, "the two fragments carry the whole ICMP message");
    // With `too_big_df_clear: drop` it is dropped instead.
    a.b.set_pre_fragment(false);
    a.sp = a.b.snapshot();
    assert_eq!(run(&mut a, &h, 0).0, Decision::Drop(DropReason::MtuExceeded));
}

#[test]
fn discard_and_bypass_policies_and_ike_is_never_caught() {
    let extra = "    - { direction: out, src: 192.0.2.0/24, dst: 198.51.100.7/32, action: discard }\n    \
                 - { direction: out, src: 192.0.2.0/24, dst: 198.51.100.8/32, action: bypass }\n";
    let mut a = gateway(true, extra);
    let f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.7", 56, false);
    assert_eq!(run(&mut a, &f, 0).0, Decision::Drop(DropReason::PolicyDiscard));
    // Bypass: routed in the clear (there is no route to 198.51.100.0/24 in the clear here).
    let f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.8", 56, false);
    assert_eq!(run(&mut a, &f, 0).0, Decision::Punt(Punt::NoRoute));
    // TTL 1 under a protect policy: time exceeded, not encrypted.
    let mut f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 56, false);
    let mut ip = ipv4::Packet::new_unchecked(&mut f[14..]);
    ip.set_ttl(1);
    ip.fill_checksum();
    assert_eq!(run(&mut a, &f, 0).0, Decision::Punt(Punt::TtlExceeded));
}

/// An AES-GCM tunnel SA between `local` and `remote` with this SPI (the shared test key).
fn sa_like(name: &str, spi: u32, local: &str, remote: &str) -> crate::ipsec::sa::Sa {
    let c: crate::config::SaConfig = serde_yaml_ng::from_str(&format!(
        "{{ name: {name}, direction: in, spi: {spi}, local: {local}, remote: {remote}, algorithm: aes128gcm16, enc_key: \"{KEY}\" }}"
    ))
    .unwrap();
    manual::sa_from_config(&c).unwrap()
}

/// Traffic flows A → B through the workers' code while a control thread republishes both
/// gateways' tables without pause: other SAs added and deleted, and the live SA pair rekeyed
/// make-before-break every few rounds (new inbound SA first, then the outbound switch, then the
/// old SAs deleted). Every packet must arrive intact.
#[test]
fn table_swaps_under_traffic_lose_no_packet_of_a_live_sa() {
    let Gw { t: ta, sp: spa, w: mut wa, b: mut ba } = gateway(true, "");
    let Gw { t: tb, sp: spb, w: mut wb, b: mut bb } = gateway(false, "");
    // Slots from the config order: out = 0, in = 1.
    assert_eq!(spa.sa(0).unwrap().name, "out");
    assert_eq!(spb.sa(1).unwrap().name, "in");
    let shared_a = Arc::new(ArcSwap::from_pointee(spa));
    let shared_b = Arc::new(ArcSwap::from_pointee(spb));
    let done = Arc::new(AtomicBool::new(false));
    let publications = Arc::new(AtomicU64::new(0));
    let control = {
        let (shared_a, shared_b, done, publications) =
            (shared_a.clone(), shared_b.clone(), done.clone(), publications.clone());
        std::thread::spawn(move || {
            let mut spi = 0x10_0000u32;
            let mut others: Vec<(u32, u32)> = Vec::new();
            let (mut live_out, mut live_in) = (0u32, 1u32);
            let mut round = 0u32;
            while !done.load(Ordering::Relaxed) {
                round += 1;
                spi += 2;
                // Unrelated SAs come and go.
                let oa = ba.add(sa_like("other", spi, "203.0.113.1", "203.0.113.9"), SaDirection::In);
                let ob = bb.add(sa_like("other", spi + 1, "203.0.113.2", "203.0.113.9"), SaDirection::In);
                others.push((oa, ob));
                if others.len() > 8 {
                    let (x, y) = others.remove(0);
                    ba.remove(x);
                    bb.remove(y);
                }
                if round.is_multiple_of(16) {
                    // Rekey the live pair: the new inbound SA on B first, then A's outbound
                    // policy, then (next rounds) the old SAs go.
                    spi += 2;
                    let nb = bb.rekey(live_in, sa_like("in", spi, "203.0.113.2", "203.0.113.1")).unwrap();
                    shared_b.store(Arc::new(bb.snapshot()));
                    let na = ba.rekey(live_out, sa_like("out", spi, "203.0.113.1", "203.0.113.2")).unwrap();
                    shared_a.store(Arc::new(ba.snapshot()));
                    // The old inbound SA goes once the new one carries traffic: then nothing
                    // sent under the old one is still in flight (a timer in real life).
                    let new_in = bb.entry(nb).unwrap().sa.counters.clone();
                    let t0 = std::time::Instant::now();
                    while new_in.packets.load(Ordering::Relaxed) == 0 && t0.elapsed().as_secs() < 10 {
                        std::thread::yield_now();
                    }
                    ba.remove(live_out);
                    bb.remove(live_in);
                    live_out = na;
                    live_in = nb;
                }
                shared_a.store(Arc::new(ba.snapshot()));
                shared_b.store(Arc::new(bb.snapshot()));
                publications.fetch_add(2, Ordering::Relaxed);
                std::thread::yield_now();
            }
        })
    };
    let f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 100, false);
    let mut lost = Vec::new();
    // At least 20,000 packets and 400 publications (including 12 live rekeys), whichever
    // takes longer on a busy machine.
    let mut n = 0u64;
    while n < 20_000 || publications.load(Ordering::Relaxed) < 400 {
        let i = n;
        n += 1;
        assert!(n < 50_000_000, "the control thread made no progress");
        let spa = shared_a.load();
        wa.sync(&spa);
        let mut buf = VecBuf::like_mbuf(&f);
        let mut d = super::process(buf.data_mut(), 0, &ta, &spa, Origin::Wire);
        if let Decision::Protect { sa } = d {
            let sa = spa.sa(sa).unwrap();
            let seq = sa.counters.reserve(1, sa.max_seq()).unwrap();
            d = worker_ipsec::encapsulate_and_route(&mut buf, sa, seq, 0, &ta, &mut wa);
        }
        drop(spa);
        let spb = shared_b.load();
        wb.sync(&spb);
        if d == (Decision::Forward { port: 1, dst: B_WAN, v6: false }) {
            d = super::process(buf.data_mut(), 1, &tb, &spb, Origin::Wire);
            if d == Decision::Unprotect {
                d = worker_ipsec::unprotect(&mut buf, 1, &tb, &spb, &mut wb);
                wb.flush_traffic(&spb);
            }
        }
        let ok =
            d == (Decision::Forward { port: 0, dst: H2, v6: false }) && buf.data()[14 + 28..] == f[14 + 28..];
        if !ok {
            lost.push((i, d));
        }
    }
    done.store(true, Ordering::Relaxed);
    control.join().unwrap();
    let final_b = shared_b.load();
    let live: Vec<u32> =
        final_b.entries().filter(|(_, e)| e.sa.name == "in").map(|(_, e)| e.sa.spi).collect();
    assert!(
        live.iter().all(|&spi| spi != 0x1001) && !live.is_empty(),
        "the live SA was never rekeyed: {live:x?}"
    );
    assert!(lost.is_empty(), "{} of {n} packets lost, first: {:?}", lost.len(), &lost[..lost.len().min(5)]);
}

/// The same two-gateway crossing with every SA kind the config offers: AH, CBC+HMAC, NULL.
#[test]
fn every_transform_crosses_two_gateways() {
    let k32 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    for transform in [
        format!("protocol: ah, algorithm: sha256, auth_key: \"{k32}\""),
        format!("algorithm: aes256gcm16, enc_key: \"{k32}01020304\""),
        format!("algorithm: aes128-sha1, enc_key: \"{}\", auth_key: \"{}\"", &k32[..32], &k32[..40]),
        format!("algorithm: aes256-sha256, enc_key: \"{k32}\", auth_key: \"{k32}\", esn: true"),
        format!("algorithm: null-sha256, enc_key: \"\", auth_key: \"{k32}\""),
    ] {
        let (mut a, mut b) = (gateway_with(true, "", &transform), gateway_with(false, "", &transform));
        let f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 56, false);
        let (d, wire) = run(&mut a, &f, 0);
        assert_eq!(d, Decision::Forward { port: 1, dst: B_WAN, v6: false }, "{transform}");
        let proto = ipv4::Packet::new_checked(&wire[14..]).unwrap().protocol().0;
        assert_eq!(proto, if transform.contains("protocol: ah") { 51 } else { 50 }, "{transform}");
        let (d, inner) = run(&mut b, &wire, 1);
        assert_eq!(d, Decision::Forward { port: 0, dst: H2, v6: false }, "{transform}");
        assert_eq!(&inner[14 + 28..], &f[14 + 28..], "{transform}");
        assert_eq!(run(&mut b, &wire, 1).0, Decision::Drop(DropReason::EspReplayed), "{transform}");
    }
}

/// An IPv4/UDP frame (no payload checksum) for the exemption tests.
fn udp(src_mac: [u8; 6], dst_mac: [u8; 6], src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 8 + 16];
    f[0..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&src_mac);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(44u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src.parse::<std::net::Ipv4Addr>().unwrap().octets());
    ip[16..20].copy_from_slice(&dst.parse::<std::net::Ipv4Addr>().unwrap().octets());
    ip[20..22].copy_from_slice(&sport.to_be_bytes());
    ip[22..24].copy_from_slice(&dport.to_be_bytes());
    ip[24..26].copy_from_slice(&24u16.to_be_bytes());
    let c = checksum::checksum(&ip[..20]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f
}

/// IKE ports and ESP/AH are exempt from policy only as the gateway's own traffic: between
/// hosts they are protected, dropped or checked like anything else.
#[test]
fn ike_ports_between_hosts_meet_the_policies() {
    let mut a = gateway(true, "");
    // From the peer's protected subnet, in clear, with source port 4500: not exempt.
    let f = udp(B_WAN, A_WAN, "198.51.100.2", "192.0.2.2", 4500, 9);
    assert_eq!(run(&mut a, &f, 1).0, Decision::Drop(DropReason::CleartextProtected));
    // From an inside host to the far site with source port 500: protected, not sent in clear.
    let f = udp(H1, A_LAN, "192.0.2.2", "198.51.100.2", 500, 500);
    assert!(matches!(run(&mut a, &f, 0).0, Decision::Forward { port: 1, .. }));
    let (_, wire) = run(&mut a, &f, 0);
    assert_eq!(wire[14 + 9], 50, "ESP on the wire");
    // IKE to the gateway itself stays exempt (punted to the control path).
    let f = udp(B_WAN, A_WAN, "198.51.100.2", "203.0.113.1", 500, 500);
    assert_eq!(run(&mut a, &f, 1).0, Decision::Punt(Punt::Local));
}

/// Review findings, each a regression test: outer source spoofing, link-scope traffic inside
/// the tunnel, and outer ESP fragments.
#[test]
fn spoofed_sources_link_scope_inner_packets_and_outer_fragments_are_dropped() {
    let (mut a, mut b) = (gateway(true, ""), gateway(false, ""));
    let f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 56, false);
    let (_, wire) = run(&mut a, &f, 0);
    // The same ESP packet from another outer source: not this SA's (no NAT-T).
    let mut spoofed = wire.clone();
    spoofed[14 + 12..14 + 16].copy_from_slice(&[203, 0, 113, 77]);
    let mut ip = ipv4::Packet::new_unchecked(&mut spoofed[14..]);
    ip.fill_checksum();
    assert_eq!(run(&mut b, &spoofed, 1).0, Decision::Drop(DropReason::EspUnknownSpi));
    // An outer fragment of ESP.
    let mut frag = wire.clone();
    frag[14 + 6] |= 0x20; // MF
    let mut ip = ipv4::Packet::new_unchecked(&mut frag[14..]);
    ip.fill_checksum();
    assert_eq!(run(&mut b, &frag, 1).0, Decision::Drop(DropReason::EspFragment));
    // The genuine packet still passes (neither changed the replay window).
    assert!(matches!(run(&mut b, &wire, 1).0, Decision::Forward { port: 0, .. }));
    // A neighbour advertisement to ff02::1 encrypted by A's SA: link-scope traffic from the
    // tunnel is dropped, never handed to B's neighbour table.
    let na = crate::control::packet::icmp6_frame(
        MacAddr(H1),
        MacAddr(A_LAN),
        "fe80::1".parse().unwrap(),
        "ff02::1".parse().unwrap(),
        255,
        136,
        0,
        [0x20, 0, 0, 0],
        &[0u8; 16],
    );
    let sa = a.sp.entries().find(|(_, e)| e.sa.name == "out").unwrap().1.sa.clone();
    let mut buf = VecBuf::like_mbuf(&na);
    let seq = sa.counters.reserve(1, sa.max_seq()).unwrap();
    let d = worker_ipsec::encapsulate_and_route(&mut buf, &sa, seq, 0, &a.t, &mut a.w);
    assert!(matches!(d, Decision::Forward { port: 1, .. }), "{d:?}");
    assert_eq!(run(&mut b, buf.data(), 1).0, Decision::Drop(DropReason::PolicyMismatch));
}

#[test]
fn a_trap_drops_the_packet_raises_its_acquire_and_yields_to_the_sa_once_it_exists() {
    use crate::ipsec::spd::{Policy, Selector, Verdict};
    let mut a = gateway(true, "");
    let out_slot = a.sp.entries().find(|(_, e)| e.sa.name == "out").unwrap().0;
    let sel = |src: &str, dst: &str| Selector {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        protocol: None,
        src_ports: Default::default(),
        dst_ports: Default::default(),
    };
    let trap = |s| Policy { name: "peer/net (trap)".into(), selector: s, verdict: Verdict::Trap(70) };
    // No configured policy: only the IKE child's traps, as the driver installs them.
    a.b.set_policies(vec![], vec![]);
    a.b.add_trap_policies(
        vec![trap(sel("192.0.2.0/24", "198.51.100.0/24"))],
        vec![trap(sel("198.51.100.0/24", "192.0.2.0/24"))],
    );
    a.sp = a.b.snapshot();
    a.w.sync(&a.sp);
    let f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 56, false);
    assert_eq!(run(&mut a, &f, 0).0, Decision::Drop(DropReason::IkeAcquire));
    assert_eq!(run(&mut a, &f, 0).0, Decision::Drop(DropReason::IkeAcquire));
    assert_eq!(a.sp.acquires.take(), vec![70], "raised once, whatever the number of packets");
    assert!(a.sp.acquires.take().is_empty(), "taking clears");
    // Clear text from the far side is not let in while the tunnel is missing.
    let back = ping(B_WAN, A_WAN, "198.51.100.2", "192.0.2.2", 56, false);
    assert_eq!(run(&mut a, &back, 1).0, Decision::Drop(DropReason::CleartextProtected));
    // Traffic the trap does not cover is routed as before.
    let other = ping(H1, A_LAN, "192.0.2.2", "203.0.113.2", 56, false);
    assert!(matches!(run(&mut a, &other, 0).0, Decision::Forward { port: 1, .. }));
    assert!(a.sp.acquires.take().is_empty());
    // The Child SA's keyed policy comes before the trap: the packet is encrypted.
    let protect = Policy {
        name: "peer/net".into(),
        selector: sel("192.0.2.0/24", "198.51.100.0/24"),
        verdict: Verdict::Protect(out_slot),
    };
    a.b.add_keyed_policies(vec![protect], vec![]);
    a.sp = a.b.snapshot();
    a.w.sync(&a.sp);
    let (d, wire) = run(&mut a, &f, 0);
    assert_eq!(d, Decision::Forward { port: 1, dst: B_WAN, v6: false });
    assert_eq!(ipv4::Packet::new_checked(&wire[14..]).unwrap().protocol(), crate::wire::IpProtocol::ESP);
    assert!(a.sp.acquires.take().is_empty());
}

/// The IPv4 protect fast path never disagrees with `process`: for random mutations of the
/// Ethernet, IPv4 and port bytes of frames meeting protect, discard, bypass and port-specific
/// policies (checksum fixed half the time, frames truncated sometimes), whenever
/// `fast::protect_v4` answers, `process` protects with the same SA and leaves the same bytes;
/// when it declines, the frame is untouched. The common case must take it.
#[test]
fn protect_fast_path_agrees_with_process() {
    let extra = "    - { direction: out, src: 192.0.2.0/24, dst: 198.51.100.7/32, action: discard }\n    \
                 - { direction: out, src: 192.0.2.0/24, dst: 198.51.100.8/32, action: bypass }\n    \
                 - { direction: out, src: 192.0.2.0/25, dst: 198.51.100.0/24, protocol: 17, dst_ports: 1000-2000, action: protect, sa: out }\n    \
                 - { direction: in, src: 192.0.2.0/24, dst: 198.51.100.16/28, action: discard }\n    \
                 - { direction: in, src: 192.0.2.0/24, dst: 198.51.100.32/28, action: bypass }\n";
    let a = gateway(true, extra);
    let me = fast::mac_key(A_LAN);
    let mut bases = Vec::new();
    for dst in [
        "198.51.100.2",
        "198.51.100.7",
        "198.51.100.8",
        "198.51.100.20",
        "198.51.100.40",
        "192.0.2.1",
        "203.0.113.2",
    ] {
        bases.push(udp(H1, A_LAN, "192.0.2.2", dst, 4000, 1500));
        bases.push(udp(H1, A_LAN, "192.0.2.200", dst, 500, 9));
        bases.push(ping(H1, A_LAN, "192.0.2.2", dst, 56, false));
    }
    let mut big = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 1460, true);
    bases.push(big.clone());
    big.truncate(14 + 20 + 8 + 1400);
    bases.push(big);
    let (mut taken, mut x) = (0, 0x2545_f491_4f6c_dd1du64);
    for i in 0..300_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut f = bases[i as usize % bases.len()].clone();
        for k in 0..(x % 4) as usize {
            let pos = ((x >> (8 * k)) % 38) as usize;
            if pos < f.len() {
                f[pos] = (x >> (8 * k + 3)) as u8;
            }
        }
        if i % 2 == 0 && f.len() >= 34 {
            f[24] = 0;
            f[25] = 0;
            let c = checksum::checksum(&f[14..34]);
            f[24..26].copy_from_slice(&c.to_be_bytes());
        }
        if i % 13 == 0 {
            f.truncate((x % 70) as usize);
        }
        let before = f.clone();
        let mut slow = f.clone();
        match fast::protect_v4(&mut f, me, &a.t, &a.sp) {
            Some(slot) => {
                taken += 1;
                let d = super::process(&mut slow, 0, &a.t, &a.sp, Origin::Wire);
                assert_eq!(d, Decision::Protect { sa: slot }, "for {before:02x?}");
                assert_eq!(f, slow, "bytes differ for {before:02x?}");
            }
            None => assert_eq!(f, before, "declined but wrote"),
        }
    }
    assert!(taken > 20_000, "fast path taken only {taken} times");
    let mut f = udp(H1, A_LAN, "192.0.2.2", "198.51.100.2", 4000, 1500);
    assert!(fast::protect_v4(&mut f, me, &a.t, &a.sp).is_some());
}

/// The IPv4 tunnel encapsulation fast path (`worker::ipsec::TunnelV4`) never disagrees with
/// `encapsulate_and_route`: for random inner headers (lengths, TOS, DF, options, versions),
/// Ethernet padding, buffers short of headroom or tailroom, sizes around the egress MTU and
/// every DF policy, whenever the fast path answers, the general path reaches the same decision
/// and, unless it drops, the same bytes; when it declines, the buffer is untouched.
#[test]
fn tunnel_fast_path_agrees_with_encapsulate_and_route() {
    use crate::ipsec::sa::DfPolicy;
    let mut a = gateway(true, "");
    // A smaller wan MTU, so that some packets no longer fit once encapsulated.
    let ports: Vec<L3Port> = vec![
        L3Port {
            name: "lan".into(),
            mac: MacAddr(A_LAN),
            mtu: 1500,
            addresses: vec!["192.0.2.1/24".parse().unwrap()],
        },
        L3Port {
            name: "wan".into(),
            mac: MacAddr(A_WAN),
            mtu: 600,
            addresses: vec!["203.0.113.1/24".parse().unwrap()],
        },
    ];
    let neigh = vec![Neighbour { port: 1, ip: "203.0.113.2".parse().unwrap(), mac: MacAddr(B_WAN) }];
    let small_mtu = ControlPlane::initial_tables(&ports, &[], &[], &neigh);
    let mut sas = Vec::new();
    for (df, esn) in [(DfPolicy::Copy, false), (DfPolicy::Set, true), (DfPolicy::Clear, false)] {
        let mut sa = sa_like("fast", 0x3003, "203.0.113.1", "203.0.113.2");
        sa.df = df;
        sa.esn = esn;
        sas.push(sa);
    }
    let bases = [
        udp(H1, A_LAN, "192.0.2.2", "198.51.100.2", 4000, 1500),
        ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 1, false),
        ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 56, true),
        ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 555, false),
        ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 1200, true),
    ];
    let (mut taken, mut x) = (0, 0x9e37_79b9_7f4a_7c15u64);
    for i in 0..100_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let sa = &sas[i as usize % 3];
        let t = if i % 5 == 0 { &small_mtu } else { &a.t };
        let fast = worker_ipsec::TunnelV4::new(sa, t).expect("applies to an AES-GCM IPv4 tunnel");
        let mut f = bases[(x >> 40) as usize % bases.len()].clone();
        for k in 0..(x % 4) as usize {
            let pos = 14 + ((x >> (8 * k)) % 20) as usize;
            f[pos] = (x >> (8 * k + 3)) as u8;
        }
        if i % 3 == 0 {
            // Ethernet padding behind the IP packet.
            f.extend(std::iter::repeat_n(0xee, (x >> 20) as usize % 9));
        }
        if i % 17 == 0 {
            f.truncate((x % 40) as usize);
        }
        let (headroom, tailroom) = match i % 7 {
            0 => ((x >> 24) as usize % 48, 64),
            1 => (128, (x >> 24) as usize % 48),
            _ => (128, 2048),
        };
        let seq = 1 + (x >> 8) % 5_000_000_000;
        let port = (i % 2) as u8;
        let mut fb = VecBuf::new(&f, headroom, tailroom);
        let mut gb = fb.clone();
        match fast.encapsulate_and_route(&mut fb, seq, port, t) {
            Some(d) => {
                taken += 1;
                let g = worker_ipsec::encapsulate_and_route(&mut gb, sa, seq, port, t, &mut a.w);
                assert_eq!(d, g, "decision for {f:02x?} ({headroom}, {tailroom})");
                if !matches!(d, Decision::Drop(_)) {
                    assert_eq!(fb.data(), gb.data(), "bytes for {f:02x?}");
                }
            }
            None => assert_eq!(fb, gb, "declined but wrote"),
        }
    }
    assert!(taken > 40_000, "fast path taken only {taken} times");
    // It does not apply to CBC, transport mode or an unresolved peer.
    let k = "000102030405060708090a0b0c0d0e0f1011121314151617";
    let cbc = gateway_with(
        true,
        "",
        &format!("algorithm: aes128-sha1, enc_key: \"{}\", auth_key: \"{}\"", &k[..32], &k[..40]),
    );
    let out = cbc.sp.entries().find(|(_, e)| e.sa.name == "out").unwrap().1;
    assert!(worker_ipsec::TunnelV4::new(&out.sa, &cbc.t).is_none());
    let far = sa_like("far", 0x3004, "203.0.113.1", "203.0.113.77");
    assert!(worker_ipsec::TunnelV4::new(&far, &a.t).is_none(), "no neighbour for the peer");
}

/// A worker adds inbound traffic to the SA's shared counters once per burst; the hard limit
/// still counts what it has not added yet.
#[test]
fn the_inbound_hard_packet_limit_counts_traffic_not_yet_flushed() {
    let mut a = gateway(true, "");
    let limited =
        format!("algorithm: aes128gcm16, enc_key: \"{KEY}\", lifetime: {{ hard: {{ packets: 3 }} }}");
    let mut b = gateway_with(false, "", &limited);
    let f = ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 56, false);
    let mut decisions = Vec::new();
    for _ in 0..4 {
        let (_, wire) = run(&mut a, &f, 0);
        let mut buf = VecBuf::like_mbuf(&wire);
        assert_eq!(super::process(buf.data_mut(), 1, &b.t, &b.sp, Origin::Wire), Decision::Unprotect);
        decisions.push(worker_ipsec::unprotect(&mut buf, 1, &b.t, &b.sp, &mut b.w));
    }
    assert!(decisions[..3].iter().all(|d| matches!(d, Decision::Forward { port: 0, .. })), "{decisions:?}");
    assert_eq!(decisions[3], Decision::Drop(DropReason::SaExpired));
    let sa_in = b.sp.entries().find(|(_, e)| e.sa.name == "in").unwrap().1;
    assert_eq!(sa_in.sa.counters.packets.load(Ordering::Relaxed), 0, "not flushed yet");
    b.w.flush_traffic(&b.sp);
    assert_eq!(sa_in.sa.counters.packets.load(Ordering::Relaxed), 3);
}

/// The decrypt side's fast paths never disagree with `process`: `fast::esp_for_us_v4` only
/// says yes to frames `process` sends to decapsulation, and `fast::decrypted_v4` only forwards
/// inner packets (mutated headers, other SAs' slots, inbound discard, outbound protect and
/// bypass policies) that `process` forwards the same way with the same bytes. With the extra
/// policies the inbound protect policy is not settled; without them it is, and the worker's
/// policy hint answers for the lookups.
#[test]
fn decrypt_fast_paths_agree_with_process() {
    let extra = "    - { direction: in, src: 192.0.2.128/25, dst: 198.51.100.0/24, protocol: 17, action: discard }\n    \
                 - { direction: out, src: 192.0.2.0/24, dst: 198.51.100.64/26, action: protect, sa: out }\n    \
                 - { direction: out, src: 192.0.2.0/24, dst: 198.51.100.2/32, protocol: 6, action: bypass }\n";
    assert!(!decrypt_fast_paths_agree(extra).is_set(), "no settled policy");
    assert!(decrypt_fast_paths_agree("").is_set(), "the hint was taken");
    let bypass = "    - { direction: out, src: 192.0.2.0/24, dst: 198.51.100.0/24, action: bypass }\n";
    assert!(decrypt_fast_paths_agree(bypass).is_set(), "bypass does not unsettle");
}

fn decrypt_fast_paths_agree(extra: &str) -> crate::ipsec::policy_hint::PolicyHint {
    let mut hint = crate::ipsec::policy_hint::PolicyHint::default();
    let mut a = gateway(true, "");
    let b = gateway(false, extra);
    let me = fast::mac_key(B_WAN);
    let slot_in = b.sp.entries().find(|(_, e)| e.sa.name == "in").unwrap().0;
    let slot_out = b.sp.entries().find(|(_, e)| e.sa.name == "out").unwrap().0;
    let mut outer = Vec::new();
    for f in [
        udp(H1, A_LAN, "192.0.2.2", "198.51.100.2", 4000, 1500),
        ping(H1, A_LAN, "192.0.2.2", "198.51.100.2", 56, false),
    ] {
        outer.push(run(&mut a, &f, 0).1);
    }
    outer.push(ping(B_WAN, B_WAN, "203.0.113.1", "203.0.113.2", 8, false));
    outer.push(udp(A_WAN, B_WAN, "203.0.113.1", "203.0.113.2", 4500, 4500));
    let mut inner = Vec::new();
    for (src, dst) in [
        ("192.0.2.2", "198.51.100.2"),
        ("192.0.2.200", "198.51.100.2"),
        ("192.0.2.2", "198.51.100.70"),
        ("192.0.2.2", "198.51.100.9"),
        ("10.0.0.1", "198.51.100.2"),
    ] {
        inner.push(udp(B_WAN, B_WAN, src, dst, 1234, 80));
        inner.push(ping(B_WAN, B_WAN, src, dst, 30, false));
        let mut tcp = udp(B_WAN, B_WAN, src, dst, 1234, 80);
        tcp[14 + 9] = 6;
        tcp[24..26].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&tcp[14..34]);
        tcp[24..26].copy_from_slice(&c.to_be_bytes());
        inner.push(tcp);
    }
    let (mut esp_taken, mut fwd_taken, mut x) = (0, 0, 0xd1b5_4a32_d192_ed03u64);
    for i in 0..200_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let decrypted = i % 2 == 0;
        let base = if decrypted { &inner } else { &outer };
        let mut f = base[(x >> 32) as usize % base.len()].clone();
        for k in 0..(x % 4) as usize {
            let pos = ((x >> (8 * k)) % 38) as usize;
            if pos < f.len() {
                f[pos] = (x >> (8 * k + 3)) as u8;
            }
        }
        if (i / 2) % 2 == 0 && f.len() >= 34 {
            f[24] = 0;
            f[25] = 0;
            let c = checksum::checksum(&f[14..34]);
            f[24..26].copy_from_slice(&c.to_be_bytes());
        }
        if i % 13 == 0 {
            f.truncate((x % 70) as usize);
        }
        let before = f.clone();
        let mut slow = f.clone();
        if decrypted {
            let slot = if (x >> 60) % 5 == 0 { slot_out } else { slot_in };
            match fast::decrypted_v4(&mut f, me, slot, &b.t, &b.sp, &mut hint) {
                Some(port) => {
                    fwd_taken += 1;
                    let d = super::process(&mut slow, 1, &b.t, &b.sp, Origin::Decrypted(slot));
                    assert!(
                        matches!(d, Decision::Forward { port: p, v6: false, .. } if p == port),
                        "{d:?} for {before:02x?}"
                    );
                    assert_eq!(f, slow, "bytes differ for {before:02x?}");
                }
                None => assert_eq!(f, before, "declined but wrote"),
            }
        } else if fast::esp_for_us_v4(&f, me, &b.t, &b.sp) {
            esp_taken += 1;
            assert_eq!(
                super::process(&mut slow, 1, &b.t, &b.sp, Origin::Wire),
                Decision::Unprotect,
                "for {before:02x?}"
            );
        }
    }
    assert!(esp_taken > 10_000 && fwd_taken > 5_000, "taken {esp_taken} / {fwd_taken}");
    hint
}
