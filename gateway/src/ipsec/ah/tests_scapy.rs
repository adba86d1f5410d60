//! Interop of complete AH packets with an independent AH implementation: scapy's
//! `scapy.layers.ipsec.SecurityAssociation(AH, auth_algo='SHA2-256-128', ...)`, in tunnel mode
//! (`tunnel_header=IP(...)`/`IPv6(...)`) and transport mode, IPv4 and IPv6, ESN off and on.
//!
//! `scripts/gen_scapy_ah_vectors.py` produced `scapy_ah_vectors.json` (re-run it to refresh; it
//! is deterministic). It sets the outer header fields scapy cannot infer to what espgw writes
//! (TTL/hop limit 64, DSCP+ECN and IPv6 flow label copied from the inner packet, IPv4
//! Identification = low 16 bits of the sequence number, DF per `DfPolicy::Copy`), so the whole
//! packet, IP header to payload, is compared byte for byte. scapy agrees with RFC 4302 on every
//! point these vectors touch: payload length = words − 2 (5 over IPv4, 6 over IPv6), the IPv6
//! AH header padded with 4 zero bytes to 32 and the padding covered by the ICV, mutable fields
//! zeroed (IPv4 TOS, flags, TTL, checksum; IPv6 traffic class, flow label, hop limit), and the
//! ESN high half appended to the ICV input but not sent. No deviation needed documenting.
//!
//! For every vector:
//! - `encapsulate` of the original packet with the vector's sequence number yields exactly
//!   scapy's packet;
//! - `locate` + `decapsulate` of scapy's packet yield exactly the original packet (ESN vectors:
//!   the replay window is first moved to the right 2^32 subspace by accepting espgw-made
//!   packets in steps of 2^30), a replay of it is refused, and a flipped ICV bit is caught.

use super::*;
use crate::buf::VecBuf;
use crate::ipsec::crypto::{Algorithm, Transform};
use crate::ipsec::sa::{Limits, SaCounters};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

const VECTORS: &str = include_str!("scapy_ah_vectors.json");

struct Vector {
    index: usize,
    tunnel: bool,
    auth_key: Vec<u8>,
    spi: u32,
    seq: u64,
    esn: bool,
    local: IpAddr,
    remote: IpAddr,
    inner: Vec<u8>,
    packet: Vec<u8>,
}

impl Vector {
    fn inner_v6(&self) -> bool {
        self.inner[0] >> 4 == 6
    }
    fn outer_v6(&self) -> bool {
        self.packet[0] >> 4 == 6
    }
    fn label(&self) -> String {
        format!(
            "vector {} ({} outer{} inner{} esn={} seq={:#x})",
            self.index,
            if self.tunnel { "tunnel" } else { "transport" },
            if self.outer_v6() { 6 } else { 4 },
            if self.inner_v6() { 6 } else { 4 },
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
    Vector {
        index,
        tunnel: match s("mode") {
            "tunnel" => true,
            "transport" => false,
            m => panic!("vector {index}: mode {m}"),
        },
        auth_key: unhex(s("auth_key")),
        spi: u32::try_from(n("spi")).expect("spi"),
        seq: n("seq"),
        esn: v["esn"].as_bool().expect("esn"),
        local: s("local").parse().expect("local"),
        remote: s("remote").parse().expect("remote"),
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
    let (local, remote) = (v.local, v.remote);
    Sa {
        name: format!("scapy-ah-{}", v.index),
        spi: v.spi,
        protocol: Protocol::Ah,
        mode: if v.tunnel { Mode::Tunnel { local, remote } } else { Mode::Transport { local, remote } },
        transform: Transform::new(Algorithm::AhHmacSha256_128, &[], &v.auth_key).expect("key"),
        esn: v.esn,
        natt: None,
        replay_window: 1024,
        df: DfPolicy::Copy,
        soft: Limits::default(),
        hard: Limits::default(),
        counters: Arc::new(SaCounters::default()),
    }
}

#[inline(never)]
fn encap(sa: &Sa, inner: &[u8], seq: u64) -> Result<VecBuf, DropReason> {
    let mut b = VecBuf::like_mbuf(inner);
    encapsulate(&mut b, sa, seq)?;
    Ok(b)
}

#[inline(never)]
fn decap(sa: &Sa, w: &mut ReplayWindow, b: &mut VecBuf) -> Result<(AhLocation, Decapsulated), DropReason> {
    let loc = locate(b.data())?;
    decapsulate(b, &loc, sa, w).map(|d| (loc, d))
}

/// A replay window for `v`'s SA whose highest accepted number is within 2^30 below `v.seq`
/// (so the ESN high half of `v.seq` is reconstructed, RFC 4303 Appendix A2), reached by
/// accepting espgw-protected packets in steps of 2^30.
#[inline(never)]
fn window_for(sa: &Sa, v: &Vector) -> ReplayWindow {
    let mut w = ReplayWindow::new(1024, v.esn);
    let mut cur = 0u64;
    while v.seq - cur > 1 << 30 {
        cur += 1 << 30;
        let mut b = encap(sa, &v.inner, cur).expect("protect climbing packet");
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
    let hl = if v.outer_v6() { IPV6_HEADER } else { IPV4_HEADER };
    let ah = ah_len(16, v.outer_v6());
    let region = match at {
        a if a < hl => "IP header",
        a if a < hl + 4 => "AH next header / payload length / reserved",
        a if a < hl + 8 => "AH SPI",
        a if a < hl + HEADER_LEN => "AH sequence number",
        a if a < hl + HEADER_LEN + 16 => "AH ICV",
        a if a < hl + ah => "AH padding",
        _ => "payload",
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
fn scapy_ah_vectors_cover_modes_families_and_esn() {
    let vs = vectors();
    assert_eq!(vs.len(), 24);
    let mut seen = HashSet::new();
    for v in &vs {
        seen.insert((v.tunnel, v.outer_v6(), v.inner_v6(), v.esn));
        assert!(v.esn || v.seq <= u32::MAX as u64, "{}", v.label());
        let ah = ah_len(16, v.outer_v6());
        let hl = if v.outer_v6() { IPV6_HEADER } else { IPV4_HEADER };
        assert_eq!(v.packet[hl + 1] as usize, ah / 4 - 2, "{}: scapy's payload length", v.label());
        if !v.tunnel {
            assert_eq!(v.inner_v6(), v.outer_v6());
        }
    }
    for esn in [false, true] {
        for outer6 in [false, true] {
            assert!(seen.contains(&(false, outer6, outer6, esn)), "transport {outer6} {esn}");
            for inner6 in [false, true] {
                assert!(seen.contains(&(true, outer6, inner6, esn)), "tunnel {outer6} {inner6} {esn}");
            }
        }
    }
}

#[test]
fn encapsulate_reproduces_scapy_ah_packets_byte_for_byte() {
    for v in vectors() {
        let sa = sa_for(&v);
        let b = encap(&sa, &v.inner, v.seq).unwrap_or_else(|e| panic!("{}: {e:?}", v.label()));
        let mine = b.data();
        assert!(mine == &v.packet[..], "{}: {}", v.label(), first_difference(&v, mine));
    }
}

#[test]
fn decapsulate_verifies_and_strips_scapy_ah_packets() {
    for v in vectors() {
        let sa = sa_for(&v);
        let mut w = window_for(&sa, &v);
        let mut b = VecBuf::like_mbuf(&v.packet);
        let (loc, d) = decap(&sa, &mut w, &mut b).unwrap_or_else(|e| panic!("{}: {e:?}", v.label()));
        assert_eq!(b.data(), &v.inner[..], "{}: original packet", v.label());
        assert_eq!((loc.spi, loc.seq_low, loc.v6), (v.spi, v.seq as u32, v.outer_v6()), "{}", v.label());
        if v.tunnel {
            assert_eq!((loc.src, loc.dst), (v.local, v.remote), "{}", v.label());
        }
        assert_eq!((d.v6, d.seq), (v.inner_v6(), v.seq), "{}", v.label());
        assert_eq!(w.highest(), v.seq, "{}", v.label());

        // The same packet again is a replay.
        let mut again = VecBuf::like_mbuf(&v.packet);
        assert_eq!(decap(&sa, &mut w, &mut again).map(|_| ()), Err(DropReason::EspReplayed), "{}", v.label());

        // A flipped ICV bit is caught (on a fresh window positioned the same way).
        let mut w = window_for(&sa, &v);
        let mut bad = v.packet.clone();
        let icv = if v.outer_v6() { IPV6_HEADER } else { IPV4_HEADER } + HEADER_LEN;
        bad[icv + 5] ^= 0x01;
        let mut bad = VecBuf::like_mbuf(&bad);
        assert_eq!(decap(&sa, &mut w, &mut bad).map(|_| ()), Err(DropReason::AhIcvMismatch), "{}", v.label());
    }
}
