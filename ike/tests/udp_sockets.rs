//! The IKEv2 core over plain UDP sockets: two peers on loopback addresses, each with real
//! sockets on ports 500 and 4500, exchange real datagrams until both have the Child SA. Shows
//! that nothing in the state machine depends on the gateway's DPDK punt path: the datagram in
//! (payload, source, destination), the datagrams out and the timers are all there is.
//!
//! Binding ports 500 and 4500 needs root (as `make test` runs); 127.0.0.2 and 127.0.0.3 keep
//! clear of anything on 127.0.0.1.

mod common;

use common::TestRng;
use ike::codec::id::Identification;
use ike::codec::ts::TrafficSelector;
use ike::sa::*;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WEST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const EAST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

fn net(a: [u8; 4]) -> TrafficSelector {
    let s = u32::from_be_bytes(a);
    TrafficSelector::Ipv4 { protocol: 0, ports: (0, 65535), start: s.into(), end: (s | 0xff).into() }
}

#[test]
fn ikev2_over_plain_udp_sockets_on_loopback() {
    let sock = |ip: Ipv4Addr, port: u16| {
        let s = UdpSocket::bind((ip, port)).unwrap_or_else(|e| panic!("bind {ip}:{port} (needs root): {e}"));
        s.set_nonblocking(true).unwrap();
        (SocketAddr::new(IpAddr::V4(ip), port), s)
    };
    let sockets: HashMap<SocketAddr, UdpSocket> =
        [sock(WEST, 500), sock(WEST, 4500), sock(EAST, 500), sock(EAST, 4500)].into_iter().collect();
    let (w, e) = (SocketAddr::new(WEST.into(), 500), SocketAddr::new(EAST.into(), 500));
    let (wid, eid) =
        (Identification::Fqdn("west.example.net".into()), Identification::Fqdn("east.example.net".into()));
    let psk = b"correct horse battery staple";
    let mut west = PeerConfig::new("east", w, e, wid.clone(), Some(eid.clone()), psk);
    let mut east = PeerConfig::new("west", e, w, eid, Some(wid), psk);
    west.children.push(ChildConfig::new("net", vec![net([192, 0, 2, 0])], vec![net([198, 51, 100, 0])]));
    east.children.push(ChildConfig::new("net", vec![net([198, 51, 100, 0])], vec![net([192, 0, 2, 0])]));
    let east = Arc::new(east);

    let mut rng = TestRng(7);
    let t0 = Instant::now();
    let (w_sa, out) = IkeSa::initiate(Arc::new(west), t0, &mut rng);
    let mut west_sa = Some(w_sa);
    let mut east_sa: Option<IkeSa> = None;
    let mut installed: HashMap<&str, ChildSa> = HashMap::new();
    let mut datagrams = 0;
    let mut pending = out;
    let mut buf = [0u8; 65536];
    while installed.len() < 2 && t0.elapsed() < Duration::from_secs(10) {
        let now = Instant::now();
        // Carry out what the cores asked for: send through the socket bound to the source.
        for o in pending.drain(..) {
            match o {
                Output::Send(d) => {
                    sockets[&d.src].send_to(&d.bytes, d.dst).expect("send");
                    datagrams += 1;
                }
                Output::InstallChild(c) => {
                    let who = if c.ts_local.contains(&net([192, 0, 2, 0])) { "west" } else { "east" };
                    installed.insert(who, c);
                }
                Output::Event(Event::Failed(f)) => panic!("negotiation failed: {f}"),
                _ => {}
            }
        }
        // Receive from every socket; each datagram goes to the core its destination names.
        for (local, s) in &sockets {
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                let payload = &buf[..n];
                let out = if local.ip() == IpAddr::V4(WEST) {
                    west_sa.as_mut().map(|sa| sa.handle_datagram(now, from, *local, payload, &mut rng))
                } else if let Some(sa) = east_sa.as_mut() {
                    Some(sa.handle_datagram(now, from, *local, payload, &mut rng))
                } else {
                    let (sa, out) = IkeSa::accept(east.clone(), now, from, *local, payload, &mut rng);
                    east_sa = sa;
                    Some(out)
                };
                pending.extend(out.unwrap_or_default());
            }
        }
        for sa in [west_sa.as_mut(), east_sa.as_mut()].into_iter().flatten() {
            if sa.poll_timeout().is_some_and(|t| t <= now) {
                pending.extend(sa.handle_timeout(now, &mut rng));
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let (wc, ec) = (&installed["west"], &installed["east"]);
    assert_eq!((wc.spi_in, wc.spi_out), (ec.spi_out, ec.spi_in), "the two ends of one Child SA pair");
    assert_eq!(wc.keys.encr_out.as_bytes(), ec.keys.encr_in.as_bytes());
    assert_eq!(wc.keys.encr_in.as_bytes(), ec.keys.encr_out.as_bytes());
    assert!(west_sa.is_some_and(|s| s.is_established()) && east_sa.is_some_and(|s| s.is_established()));
    assert!(datagrams >= 4, "IKE_SA_INIT and IKE_AUTH, both ways: {datagrams} datagrams");
}
