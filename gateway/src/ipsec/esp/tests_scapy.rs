//! Interop of complete tunnel-mode packets with an independent ESP implementation: scapy's
//! `scapy.layers.ipsec.SecurityAssociation` (on the `cryptography` package), with
//! `tunnel_header=IP(...)`/`IPv6(...)` and `nat_t_header=UDP(sport=4500, dport=4500)`.
//!
//! `scripts/gen_scapy_tunnel_vectors.py` produced `scapy_tunnel_vectors.json` (re-run it to
//! refresh; it is deterministic). It sets the outer header fields scapy cannot infer to what
//! espgw writes (TTL/hop limit 64, DSCP+ECN and IPv6 flow label copied from the inner packet,
//! IPv4 Identification = low 16 bits of the sequence number, DF per `DfPolicy::Copy`), so the
//! whole packet, outer IP header to ICV, is compared byte for byte. One documented deviation:
//! over IPv6 scapy's NAT-T writes UDP checksum 0, espgw computes it (RFC 8200 §8.1), so for
//! those vectors the generator let scapy's UDP layer recompute the checksum of scapy's packet.
//!
//! For every vector:
//! - `encapsulate` of the inner packet with the vector's sequence number and IV yields exactly
//!   scapy's packet;
//! - `classify_inbound` + `decapsulate` of scapy's packet yield exactly the inner packet (ESN
//!   vectors: the replay window is first moved to the right 2^32 subspace by accepting
//!   espgw-made packets in steps below 2^31), a replay of it is refused, and a flipped ICV bit
//!   is caught.

use super::*;
use crate::buf::VecBuf;
use crate::ipsec::crypto::{Algorithm, Transform};
use crate::ipsec::replay::ReplayWindow;
use crate::ipsec::sa::{Limits, NatT, Protocol, SaCounters};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

const VECTORS: &str = include_str!("scapy_tunnel_vectors.json");

struct Vector {
    index: usize,
    alg: Algorithm,
    enc_key: Vec<u8>,
    auth_key: Vec<u8>,
    spi: u32,
    seq: u64,
    esn: bool,
    natt: bool,
    outer_src: IpAddr,
    outer_dst: IpAddr,
    iv: Vec<u8>,
    inner: Vec<u8>,
    packet: Vec<u8>,
}

impl Vector {
    fn inner_v6(&self) -> bool {
        self.inner[0] >> 4 == 6
    }
    fn outer_v6(&self) -> bool {
        self.outer_dst.is_ipv6()
    }
    fn label(&self) -> String {
        format!(
            "vector {} ({} outer{} inner{} natt={} esn={} seq={:#x})",
            self.index,
            self.alg,
            if self.outer_v6() { 6 } else { 4 },
            if self.inner_v6() { 6 } else { 4 },
            self.natt,
            self.esn,
            self.seq
        )
    }
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

#[inline(never)]
fn parse(index: usize, v: &Value) -> Vector {
    let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("vector {index}: {k}"));
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("vector {index}: {k}"));
    let b = |k: &str| v[k].as_bool().unwrap_or_else(|| panic!("vector {index}: {k}"));
    Vector {
        index,
        alg: Algorithm::from_name(s("algorithm")).expect("known algorithm"),
        enc_key: unhex(s("enc_key")),
        auth_key: unhex(s("auth_key")),
        spi: u32::try_from(n("spi")).expect("spi"),
        seq: n("seq"),
        esn: b("esn"),
        natt: b("natt"),
        outer_src: s("outer_src").parse().expect("outer_src"),
        outer_dst: s("outer_dst").parse().expect("outer_dst"),
        iv: unhex(s("iv")),
        inner: unhex(s("inner")),
        packet: unhex(s("packet")),
    }
}

#[inline(never)]
fn vectors() -> Vec<Vector> {
    let doc: Value = serde_json::from_str(VECTORS).expect("json");
    doc["vectors"].as_array().expect("vectors").iter().enumerate().map(|(i, v)| parse(i, v)).collect()
}

#[inline(never)]
fn sa_for(v: &Vector) -> Sa {
    Sa {
        name: format!("scapy-{}", v.index),
        spi: v.spi,
        protocol: Protocol::Esp,
        mode: Mode::Tunnel { local: v.outer_src, remote: v.outer_dst },
        transform: Transform::new(v.alg, &v.enc_key, &v.auth_key).expect("keys"),
        esn: v.esn,
        natt: v.natt.then_some(NatT { local_port: NATT_PORT, remote_port: NATT_PORT }),
        replay_window: 1024,
        df: DfPolicy::Copy,
        soft: Limits::default(),
        hard: Limits::default(),
        counters: Arc::new(SaCounters::default()),
    }
}

#[inline(never)]
fn encap(sa: &Sa, inner: &[u8], seq: u64, iv: &[u8]) -> Result<VecBuf, DropReason> {
    let mut b = VecBuf::like_mbuf(inner);
    encapsulate(&mut b, sa, seq, iv)?;
    Ok(b)
}

#[inline(never)]
fn decap(sa: &Sa, w: &mut ReplayWindow, b: &mut VecBuf) -> Result<(EspLocation, Decapsulated), DropReason> {
    match classify_inbound(b.data())? {
        Inbound::Esp(loc) => decapsulate(b, &loc, sa, w).map(|d| (loc, d)),
        other => panic!("not classified as ESP: {other:?}"),
    }
}

/// A replay window for `v`'s SA whose highest accepted number is within 2^30 below `v.seq`
/// (so the ESN high half of `v.seq` is reconstructed, RFC 4303 Appendix A2), reached by
/// accepting espgw-encapsulated packets in steps of 2^30.
#[inline(never)]
fn window_for(sa: &Sa, v: &Vector) -> ReplayWindow {
    let mut w = ReplayWindow::new(1024, v.esn);
    let mut cur = 0u64;
    while v.seq - cur > 1 << 30 {
        cur += 1 << 30;
        let mut b = encap(sa, &v.inner, cur, &v.iv).expect("encapsulate climbing packet");
        let (_, d) =
            decap(sa, &mut w, &mut b).unwrap_or_else(|e| panic!("{}: climb to {cur:#x}: {e:?}", v.label()));
        assert_eq!(d.seq, cur, "{}: climbing", v.label());
    }
    w
}

/// Names the region of the first differing byte, for a readable failure.
#[inline(never)]
fn first_difference(v: &Vector, mine: &[u8]) -> String {
    let theirs = &v.packet;
    let Some(at) = mine.iter().zip(theirs.iter()).position(|(a, b)| a != b) else {
        return format!("lengths differ: espgw {} scapy {}", mine.len(), theirs.len());
    };
    let outer = if v.outer_v6() { IPV6_HEADER } else { IPV4_HEADER };
    let esp = outer + if v.natt { UDP_HEADER } else { 0 };
    let ct = esp + 8 + v.alg.iv_len();
    let icv = theirs.len() - v.alg.icv_len();
    let region = match at {
        a if a < outer => "outer IP header",
        a if a < esp => "UDP header",
        a if a < esp + 4 => "ESP SPI",
        a if a < esp + 8 => "ESP sequence number",
        a if a < ct => "IV",
        a if a < icv => "ciphertext",
        _ => "ICV",
    };
    format!(
        "first difference at byte {at} ({region}): espgw {:#04x} scapy {:#04x} (lengths {} / {})",
        mine[at],
        theirs[at],
        mine.len(),
        theirs.len()
    )
}

#[test]
fn scapy_tunnel_vectors_cover_algorithms_families_natt_and_esn() {
    let vs = vectors();
    assert_eq!(vs.len(), 56);
    let mut seen = HashSet::new();
    for v in &vs {
        seen.insert((v.alg, v.inner_v6(), v.outer_v6(), v.natt, v.esn));
        assert_eq!(v.iv.len(), v.alg.iv_len(), "{}", v.label());
        assert!(v.esn || v.seq <= u32::MAX as u64, "{}", v.label());
    }
    for name in ["aes128gcm16", "aes256gcm16", "aes128-sha1", "aes256-sha256"] {
        let alg = Algorithm::from_name(name).unwrap();
        for inner6 in [false, true] {
            for (outer6, natt, esn) in [
                (false, false, false),
                (true, false, false),
                (false, true, false),
                (true, true, false),
                (false, false, true),
                (true, false, true),
                (false, true, true),
            ] {
                assert!(
                    seen.contains(&(alg, inner6, outer6, natt, esn)),
                    "{name} {inner6} {outer6} {natt} {esn}"
                );
            }
        }
    }
}

#[test]
fn encapsulate_reproduces_scapy_tunnel_packets_byte_for_byte() {
    for v in vectors() {
        let sa = sa_for(&v);
        let b = encap(&sa, &v.inner, v.seq, &v.iv).unwrap_or_else(|e| panic!("{}: {e:?}", v.label()));
        let mine = b.data();
        assert!(mine == &v.packet[..], "{}: {}", v.label(), first_difference(&v, mine));
    }
}

#[test]
fn decapsulate_opens_scapy_tunnel_packets_to_the_inner_packet() {
    for v in vectors() {
        let sa = sa_for(&v);
        let mut w = window_for(&sa, &v);
        let mut b = VecBuf::like_mbuf(&v.packet);
        let (loc, d) = decap(&sa, &mut w, &mut b).unwrap_or_else(|e| panic!("{}: {e:?}", v.label()));
        assert_eq!(b.data(), &v.inner[..], "{}: inner packet", v.label());
        assert_eq!((loc.spi, loc.seq_low, loc.v6), (v.spi, v.seq as u32, v.outer_v6()), "{}", v.label());
        assert_eq!((loc.src, loc.dst), (v.outer_src, v.outer_dst), "{}", v.label());
        assert_eq!(loc.udp_sport, v.natt.then_some(NATT_PORT), "{}", v.label());
        assert_eq!((d.v6, d.seq), (v.inner_v6(), v.seq), "{}", v.label());
        assert_eq!(w.highest(), v.seq, "{}", v.label());

        // The same packet again is a replay.
        let mut again = VecBuf::like_mbuf(&v.packet);
        assert_eq!(decap(&sa, &mut w, &mut again).map(|_| ()), Err(DropReason::EspReplayed), "{}", v.label());

        // A flipped ICV bit is caught (on a fresh window positioned the same way).
        let mut w = window_for(&sa, &v);
        let mut bad = v.packet.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        let mut bad = VecBuf::like_mbuf(&bad);
        assert_eq!(
            decap(&sa, &mut w, &mut bad).map(|_| ()),
            Err(DropReason::EspIcvMismatch),
            "{}",
            v.label()
        );
    }
}
