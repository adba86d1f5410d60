//! Fuzz target: the inbound data path as a worker runs it, on arbitrary frames.
//!
//! The first input byte picks how the rest is used:
//! - even: the rest is a frame received on the wan port (its destination MAC is forced to the
//!   port's, so that the bytes reach the IP, ESP and policy code rather than the MAC check);
//! - odd: the rest is an inner IP packet that the peer's real SA encrypts first, so the
//!   fuzzer drives what happens *after* a successful decryption (inner parsing, ECN, policy,
//!   forwarding) as well.
//!
//! Whatever the input, nothing may panic; a decision is always reached.
#![no_main]

use gateway::buf::{PacketBuf, VecBuf};
use gateway::config::{self, MacAddr};
use gateway::control::ControlPlane;
use gateway::forward::{self, Decision, Origin};
use gateway::ipsec::datapath::IpsecWorker;
use gateway::ipsec::manual;
use gateway::ipsec::sadb::{IpsecTables, SaDirection, SadbBuilder};
use gateway::route::{L3Port, Neighbour};
use gateway::tables::Tables;
use gateway::worker::ipsec::{encapsulate_and_route, unprotect};
use libfuzzer_sys::fuzz_target;
use std::sync::{LazyLock, Mutex};

const WAN_MAC: [u8; 6] = [2, 0, 0, 0, 0xa, 2];

const CONFIG: &str = r#"
ports:
  - { name: lan, device: net_null0, addresses: ["192.0.2.1/24", "2001:db8:1::1/64"] }
  - { name: wan, device: net_null1, addresses: ["203.0.113.1/24", "2001:db8:ff::1/64"] }
ipsec:
  allow_static_gcm: true
  sas:
    - { name: out, direction: out, spi: 0x1001, local: 203.0.113.1, remote: 203.0.113.2, algorithm: aes128gcm16, enc_key: "000102030405060708090a0b0c0d0e0f10111213" }
    - { name: in, direction: in, spi: 0x2001, local: 203.0.113.1, remote: 203.0.113.2, algorithm: aes128gcm16, enc_key: "000102030405060708090a0b0c0d0e0f10111213", replay_window: 64 }
    - { name: in6, direction: in, spi: 0x2002, local: "2001:db8:ff::1", remote: "2001:db8:ff::2", algorithm: aes128-sha256, enc_key: "000102030405060708090a0b0c0d0e0f", auth_key: "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f", esn: true }
    - { name: nat, direction: in, spi: 0x2003, local: 203.0.113.1, remote: 203.0.113.3, algorithm: aes256gcm16, enc_key: "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f10111213", natt: { local_port: 4500, remote_port: 4500 } }
    - { name: tr, direction: in, spi: 0x2004, mode: transport, local: 203.0.113.1, remote: 203.0.113.4, algorithm: null-sha256, enc_key: "", auth_key: "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f" }
  policies:
    - { direction: out, src: 192.0.2.0/24, dst: 198.51.100.0/24, action: protect, sa: out }
    - { direction: in, src: 198.51.100.0/24, dst: 192.0.2.0/24, action: protect, sa: in }
    - { direction: in, src: "2001:db8:2::/64", dst: "2001:db8:1::/64", action: protect, sa: in6 }
    - { direction: in, src: 0.0.0.0/0, dst: 192.0.2.128/25, protocol: udp, dst_ports: "5000-6000", action: discard }
"#;

struct State {
    t: Tables,
    sp: IpsecTables,
    /// The peer: encrypts odd inputs with the SA our "in" SA decrypts.
    peer: IpsecTables,
    w: IpsecWorker,
    peer_w: IpsecWorker,
    seq: u64,
}

static STATE: LazyLock<Mutex<State>> = LazyLock::new(|| {
    let cfg = config::parse(CONFIG, "fuzz.yaml").expect("fuzz config");
    let ports = vec![
        L3Port {
            name: "lan".into(),
            mac: MacAddr([2, 0, 0, 0, 0xa, 1]),
            mtu: 1500,
            addresses: vec!["192.0.2.1/24".parse().unwrap(), "2001:db8:1::1/64".parse().unwrap()],
        },
        L3Port {
            name: "wan".into(),
            mac: MacAddr(WAN_MAC),
            mtu: 1500,
            addresses: vec!["203.0.113.1/24".parse().unwrap(), "2001:db8:ff::1/64".parse().unwrap()],
        },
    ];
    let neigh = vec![
        Neighbour { port: 0, ip: "192.0.2.2".parse().unwrap(), mac: MacAddr([2, 0, 0, 0, 0, 0x11]) },
        Neighbour { port: 1, ip: "203.0.113.2".parse().unwrap(), mac: MacAddr([2, 0, 0, 0, 0xb, 2]) },
    ];
    let sp = manual::load(&cfg.ipsec).expect("sadb").snapshot();
    // The peer's outbound SA: our inbound "in" SA seen from the other side.
    let peer_sa: config::SaConfig = serde_yaml_ng::from_str(
        "{ name: peer, direction: out, spi: 0x2001, local: 203.0.113.2, remote: 203.0.113.1, \
         algorithm: aes128gcm16, enc_key: \"000102030405060708090a0b0c0d0e0f10111213\" }",
    )
    .expect("peer SA");
    let mut pb = SadbBuilder::new();
    pb.add(manual::sa_from_config(&peer_sa).expect("peer SA"), SaDirection::Out);
    let peer = pb.snapshot();
    let mut w = IpsecWorker::new().unwrap();
    w.sync(&sp);
    Mutex::new(State {
        t: ControlPlane::initial_tables(&ports, &[], &[], &neigh),
        sp,
        peer,
        w,
        peer_w: IpsecWorker::new().unwrap(),
        seq: 0,
    })
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut st = STATE.lock().unwrap();
    let st = &mut *st;
    let mut buf = if mode & 1 == 0 {
        let mut b = VecBuf::like_mbuf(rest);
        if b.len() >= 6 {
            b.data_mut()[..6].copy_from_slice(&WAN_MAC);
        }
        b
    } else {
        // Encrypt `rest` as an inner packet under the peer's SA, then receive it.
        let Some(sa) = st.peer.sa(0) else { return };
        st.seq += 1;
        let mut frame = vec![0u8; 14];
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(rest);
        let mut b = VecBuf::like_mbuf(&frame);
        if let Decision::Drop(_) = encapsulate_and_route(&mut b, sa, st.seq, 1, &st.t, &mut st.peer_w) {
            return;
        }
        b.data_mut()[..6].copy_from_slice(&WAN_MAC);
        b.data_mut()[12..14].copy_from_slice(&[0x08, 0x00]);
        b
    };
    let mut d = forward::process(buf.data_mut(), 1, &st.t, &st.sp, Origin::Wire);
    if d == Decision::Unprotect {
        d = unprotect(&mut buf, 1, &st.t, &st.sp, &mut st.w);
    }
    // The control path's view of the same bytes never panics either.
    let _ = forward::classify(buf.data(), 1, &st.t, &st.sp, Origin::Punted);
    std::hint::black_box(d);
});
