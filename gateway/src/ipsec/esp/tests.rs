//! ESP encapsulation/decapsulation: round trips over every algorithm, mode, address-family mix,
//! NAT-T and ESN; replay, tampering, padding, next header, ECN and truncation cases.

use super::*;
use crate::buf::VecBuf;
use crate::ipsec::crypto::{Algorithm, Transform};
use crate::ipsec::replay::ReplayWindow;
use crate::ipsec::sa::{Limits, NatT, Protocol, SaCounters};
use std::sync::Arc;

fn key(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[inline(never)]
fn sa(alg: Algorithm, mode: Mode, natt: bool, esn: bool) -> Sa {
    Sa {
        name: "test".into(),
        spi: 0x1000_0001,
        protocol: Protocol::Esp,
        mode,
        transform: Transform::new(alg, &key(alg.enc_key_len(), 1), &key(alg.auth_key_len(), 2)).unwrap(),
        esn,
        natt: natt.then_some(NatT { local_port: 4500, remote_port: 4500 }),
        replay_window: 1024,
        df: DfPolicy::Copy,
        soft: Limits::default(),
        hard: Limits::default(),
        counters: Arc::new(SaCounters::default()),
    }
}

fn tunnel(v6: bool) -> Mode {
    if v6 {
        Mode::Tunnel { local: "2001:db8:ff::1".parse().unwrap(), remote: "2001:db8:ff::2".parse().unwrap() }
    } else {
        Mode::Tunnel { local: "203.0.113.1".parse().unwrap(), remote: "203.0.113.2".parse().unwrap() }
    }
}

/// An inner IPv4/UDP or IPv6/UDP packet with `payload` bytes, TOS/traffic class `tos`.
#[inline(never)]
fn inner(v6: bool, payload: usize, tos: u8) -> Vec<u8> {
    let udp_len = 8 + payload;
    let mut p = Vec::new();
    if v6 {
        let w: u32 = (6 << 28) | ((tos as u32) << 20) | 0x12345;
        p.extend_from_slice(&w.to_be_bytes());
        p.extend_from_slice(&(udp_len as u16).to_be_bytes());
        p.extend_from_slice(&[17, 63]);
        p.extend_from_slice(&"2001:db8:1::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"2001:db8:2::2".parse::<Ipv6Addr>().unwrap().octets());
    } else {
        let total = 20 + udp_len;
        p.extend_from_slice(&[0x45, tos]);
        p.extend_from_slice(&(total as u16).to_be_bytes());
        p.extend_from_slice(&[0x12, 0x34, 0x40, 0, 63, 17, 0, 0, 192, 0, 2, 2, 198, 51, 100, 2]);
        ipv4_checksum(&mut p[..20]);
    }
    p.extend_from_slice(&1234u16.to_be_bytes());
    p.extend_from_slice(&5678u16.to_be_bytes());
    p.extend_from_slice(&(udp_len as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend((0..payload).map(|i| i as u8));
    p
}

fn iv_for(alg: Algorithm, seq: u64) -> Vec<u8> {
    let mut iv = vec![0u8; alg.iv_len()];
    let s = seq.to_be_bytes();
    for (i, b) in iv.iter_mut().enumerate() {
        *b = s[i % 8] ^ (i as u8);
    }
    iv
}

#[inline(never)]
fn encap(sa: &Sa, pkt: &[u8], seq: u64) -> VecBuf {
    let mut b = VecBuf::like_mbuf(pkt);
    encapsulate(&mut b, sa, seq, &iv_for(sa.transform.algorithm(), seq)).unwrap();
    b
}

#[inline(never)]
fn decap(sa: &Sa, w: &mut ReplayWindow, b: &mut VecBuf) -> Result<Decapsulated, DropReason> {
    match classify_inbound(b.data())? {
        Inbound::Esp(loc) => {
            assert_eq!(loc.spi, sa.spi);
            decapsulate(b, &loc, sa, w)
        }
        other => panic!("not ESP: {other:?}"),
    }
}

#[test]
fn tunnel_round_trip_every_algorithm_family_natt_and_esn() {
    for alg in Algorithm::ESP {
        for outer_v6 in [false, true] {
            for inner_v6 in [false, true] {
                for natt in [false, true] {
                    for esn in [false, true] {
                        let s = sa(alg, tunnel(outer_v6), natt, esn);
                        let mut w = ReplayWindow::new(1024, esn);
                        for (seq, len) in [(1u64, 0usize), (2, 1), (3, 17), (4, 100), (5, 1400)] {
                            let pkt = inner(inner_v6, len, 0xb8);
                            let mut b = encap(&s, &pkt, seq);
                            check_outer(&b, &s, outer_v6, natt);
                            let d = decap(&s, &mut w, &mut b)
                                .unwrap_or_else(|e| panic!("{alg:?} outer6={outer_v6} inner6={inner_v6} natt={natt} esn={esn}: {e:?}"));
                            assert_eq!(b.data(), &pkt[..], "{alg:?}: inner packet restored");
                            assert_eq!((d.v6, d.seq), (inner_v6, seq));
                        }
                    }
                }
            }
        }
    }
}

/// Outer header: lengths, checksum, protocol, UDP ports, DSCP/ECN copied, DF copied.
#[inline(never)]
fn check_outer(b: &VecBuf, s: &Sa, v6: bool, natt: bool) {
    let d = b.data();
    let hl = if v6 { 40 } else { 20 };
    if v6 {
        assert_eq!(d[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([d[4], d[5]]) as usize, d.len() - 40);
        assert_eq!(d[6], if natt { 17 } else { 50 });
        assert_eq!(((d[0] & 0x0f) << 4) | (d[1] >> 4), 0xb8, "traffic class copied");
    } else {
        assert_eq!(d[0], 0x45);
        assert_eq!(u16::from_be_bytes([d[2], d[3]]) as usize, d.len());
        assert_eq!(checksum::checksum(&d[..20]), 0, "outer IPv4 checksum");
        assert_eq!(d[9], if natt { 17 } else { 50 });
        assert_eq!(d[1], 0xb8, "TOS copied");
        assert_eq!(d[6] & 0x40, 0x40, "DF copied from inner (set)");
    }
    let esp_off = if natt {
        assert_eq!(u16::from_be_bytes([d[hl], d[hl + 1]]), 4500);
        assert_eq!(u16::from_be_bytes([d[hl + 2], d[hl + 3]]), 4500);
        assert_eq!(u16::from_be_bytes([d[hl + 4], d[hl + 5]]) as usize, d.len() - hl);
        if v6 {
            let (s6, d6) = (
                Ipv6Addr::from(<[u8; 16]>::try_from(&d[8..24]).unwrap()),
                Ipv6Addr::from(<[u8; 16]>::try_from(&d[24..40]).unwrap()),
            );
            let sum = checksum::combine(&[
                checksum::pseudo_header_v6(s6, d6, IpProtocol::UDP, (d.len() - hl) as u32),
                checksum::sum(&d[hl..]),
            ]);
            assert_eq!(sum, 0xffff, "IPv6 UDP checksum valid");
        }
        hl + 8
    } else {
        hl
    };
    assert_eq!(u32::from_be_bytes(d[esp_off..esp_off + 4].try_into().unwrap()), s.spi);
    let alg = s.transform.algorithm();
    assert_eq!((d.len() - esp_off - 8 - alg.iv_len() - alg.icv_len()) % alg.block_align(), 0, "aligned");
}

#[test]
fn transport_round_trip() {
    for alg in Algorithm::ESP {
        for v6 in [false, true] {
            for natt in [false, true] {
                let mode = if v6 {
                    Mode::Transport {
                        local: "2001:db8:1::2".parse().unwrap(),
                        remote: "2001:db8:2::2".parse().unwrap(),
                    }
                } else {
                    Mode::Transport {
                        local: "192.0.2.2".parse().unwrap(),
                        remote: "198.51.100.2".parse().unwrap(),
                    }
                };
                let s = sa(alg, mode, natt, false);
                let mut w = ReplayWindow::new(64, false);
                let pkt = inner(v6, 333, 0);
                let mut b = encap(&s, &pkt, 7);
                let d = b.data();
                if v6 {
                    assert_eq!(d[6], if natt { 17 } else { 50 });
                } else {
                    assert_eq!(d[9], if natt { 17 } else { 50 });
                    assert_eq!(checksum::checksum(&d[..20]), 0);
                }
                decap(&s, &mut w, &mut b).unwrap();
                assert_eq!(b.data(), &pkt[..], "{alg:?} v6={v6} natt={natt}");
            }
        }
    }
}

#[test]
fn replayed_and_old_packets_are_dropped_and_do_not_move_the_window() {
    let s = sa(Algorithm::AesGcm16_128, tunnel(false), false, false);
    let mut w = ReplayWindow::new(64, false);
    let pkt = inner(false, 10, 0);
    let p100 = encap(&s, &pkt, 100);
    let p10 = encap(&s, &pkt, 10);
    let p40 = encap(&s, &pkt, 40);
    assert!(decap(&s, &mut w, &mut p100.clone()).is_ok());
    assert_eq!(decap(&s, &mut w, &mut p100.clone()), Err(DropReason::EspReplayed));
    assert_eq!(decap(&s, &mut w, &mut p10.clone()), Err(DropReason::EspTooOld));
    assert!(decap(&s, &mut w, &mut p40.clone()).is_ok(), "inside the 64-packet window (37..=100)");
    assert_eq!(decap(&s, &mut w, &mut p40.clone()), Err(DropReason::EspReplayed));
    assert_eq!(decap(&s, &mut w, &mut encap(&s, &pkt, 36)), Err(DropReason::EspTooOld), "64 behind");
}

#[test]
fn tampering_fails_the_icv_and_leaves_the_window_alone() {
    for alg in Algorithm::ESP {
        let s = sa(alg, tunnel(false), true, true);
        let mut w = ReplayWindow::new(1024, true);
        let good = encap(&s, &inner(false, 50, 0), 5);
        let len = good.len();
        for pos in [20 + 8 + 4, 20 + 8 + 8, len / 2, len - 1] {
            let mut bad = good.clone();
            bad.data_mut()[pos] ^= 0x10;
            assert_eq!(decap(&s, &mut w, &mut bad), Err(DropReason::EspIcvMismatch), "{alg:?} byte {pos}");
        }
        assert!(decap(&s, &mut w, &mut good.clone()).is_ok(), "the genuine packet still passes");
    }
}

#[test]
fn esn_high_bits_take_part_in_the_icv() {
    let s = sa(Algorithm::AesGcm16_256, tunnel(true), false, true);
    let seq = (1u64 << 32) + 5;
    let mut w = ReplayWindow::new(1024, true);
    // Climb into the second 2^32 subspace in steps of less than 2^31 (the ESN reconstruction
    // horizon), as a real sender's sequence numbers would.
    for step in [1u64, (1 << 31) - 1, (1 << 32) - 100, (1 << 32) + 1] {
        assert!(decap(&s, &mut w, &mut encap(&s, &inner(true, 8, 0), step)).is_ok(), "seq {step:#x}");
    }
    let d = decap(&s, &mut w, &mut encap(&s, &inner(true, 8, 0), seq)).unwrap();
    assert_eq!(d.seq, seq);
    // A receiver that guesses the wrong high half fails the ICV instead of accepting.
    let mut fresh = ReplayWindow::new(1024, true);
    assert_eq!(
        decap(&s, &mut fresh, &mut encap(&s, &inner(true, 8, 0), seq)),
        Err(DropReason::EspIcvMismatch)
    );
}

/// Builds a tunnel-mode ESP packet by hand with a chosen trailer, so that packets with valid
/// ICVs but bad padding or next header can be made.
#[inline(never)]
fn handmade(s: &Sa, payload: &[u8], padding: &[u8], next_header: u8, seq: u32) -> VecBuf {
    let alg = s.transform.algorithm();
    let mut esp = Vec::new();
    esp.extend_from_slice(&s.spi.to_be_bytes());
    esp.extend_from_slice(&seq.to_be_bytes());
    esp.extend_from_slice(&iv_for(alg, seq as u64));
    esp.extend_from_slice(payload);
    esp.extend_from_slice(padding);
    esp.push(padding.len() as u8);
    esp.push(next_header);
    esp.extend(std::iter::repeat_n(0, alg.icv_len()));
    s.transform.seal(&mut esp, None).unwrap();
    let mut pkt = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 50, 0, 0, 203, 0, 113, 2, 203, 0, 113, 1];
    let total = (20 + esp.len()) as u16;
    pkt[2..4].copy_from_slice(&total.to_be_bytes());
    ipv4_checksum(&mut pkt[..20]);
    pkt.extend_from_slice(&esp);
    VecBuf::like_mbuf(&pkt)
}

#[test]
fn bad_padding_next_header_and_dummy_packets_are_counted_drops() {
    let s = sa(Algorithm::AesGcm16_128, tunnel(false), false, false);
    let ip = inner(false, 2, 0); // 30 bytes: 30 + 2 = 32, aligned without padding
    let mut w = ReplayWindow::new(64, false);
    assert!(decap(&s, &mut w, &mut handmade(&s, &ip, &[], 4, 1)).is_ok(), "control: well-formed");
    assert_eq!(
        decap(&s, &mut w, &mut handmade(&s, &ip, &[1, 2, 9, 4], 4, 2)),
        Err(DropReason::EspBadPadding)
    );
    // Padding bytes out of order (a 28-byte inner packet needs 2 bytes of padding).
    assert_eq!(
        decap(&s, &mut w, &mut handmade(&s, &inner(false, 0, 0), &[2, 1], 4, 3)),
        Err(DropReason::EspBadPadding)
    );
    assert_eq!(decap(&s, &mut w, &mut handmade(&s, &ip, &[], 6, 4)), Err(DropReason::EspBadNextHeader));
    assert_eq!(decap(&s, &mut w, &mut handmade(&s, &ip, &[], 59, 5)), Err(DropReason::EspDummy));
    assert_eq!(decap(&s, &mut w, &mut handmade(&s, &ip, &[], 41, 6)), Err(DropReason::EspInnerMalformed));
}

#[test]
fn bad_pad_length_beyond_payload_is_rejected() {
    let s = sa(Algorithm::AesGcm16_128, tunnel(false), false, false);
    let mut w = ReplayWindow::new(64, false);
    // Trailer claims 200 bytes of padding in a 32-byte payload.
    let mut b = handmade(&s, &inner(false, 2, 0), &[], 4, 9);
    // Re-seal with a forged pad length byte.
    let alg = s.transform.algorithm();
    let n = b.len();
    let esp_start = 20;
    let esp = &mut b.data_mut()[esp_start..n];
    // Decrypt, edit, re-seal.
    s.transform.open(esp, None).unwrap();
    let m = esp.len();
    esp[m - alg.icv_len() - 2] = 200;
    s.transform.seal(esp, None).unwrap();
    assert_eq!(decap(&s, &mut w, &mut b), Err(DropReason::EspBadPadding));
}

#[test]
fn ecn_is_copied_out_and_ce_propagated_in() {
    let s = sa(Algorithm::AesGcm16_128, tunnel(false), false, false);
    let mut w = ReplayWindow::new(64, false);
    for (seq, inner_ecn, expect) in [
        (1u64, 0b10u8, Ok(0b11u8)),
        (2, 0b01, Ok(0b11)),
        (3, 0b11, Ok(0b11)),
        (4, 0b00, Err(DropReason::EcnConflict)),
    ] {
        let pkt = inner(false, 4, 0xb8 | inner_ecn);
        let mut b = encap(&s, &pkt, seq);
        assert_eq!(b.data()[1] & 3, inner_ecn, "ECN copied to the outer header");
        // A router on the path marks congestion on the outer header.
        let d = b.data_mut();
        d[1] |= 0b11;
        ipv4_checksum(&mut d[..20]);
        match (decap(&s, &mut w, &mut b), expect) {
            (Ok(_), Ok(e)) => {
                assert_eq!(b.data()[1] & 3, e);
                assert_eq!(checksum::checksum(&b.data()[..20]), 0, "inner checksum updated");
            }
            (r, e) => assert_eq!(r.err(), e.err()),
        }
    }
}

#[test]
fn df_policy() {
    for (policy, expect) in [(DfPolicy::Set, 0x40), (DfPolicy::Clear, 0)] {
        let mut s = sa(Algorithm::AesGcm16_128, tunnel(false), false, false);
        s.df = policy;
        let b = encap(&s, &inner(false, 4, 0), 1);
        assert_eq!(b.data()[6] & 0x40, expect);
    }
}

#[test]
fn every_prefix_and_random_bytes_never_panic_or_pass() {
    let s = sa(Algorithm::AesCbc128HmacSha256_128, tunnel(false), true, false);
    let full = encap(&s, &inner(false, 40, 0), 1);
    for n in 0..full.len() {
        let mut b = VecBuf::like_mbuf(&full.data()[..n]);
        let mut w = ReplayWindow::new(64, false);
        if let Ok(Inbound::Esp(loc)) = classify_inbound(b.data()) {
            assert!(decapsulate(&mut b, &loc, &s, &mut w).is_err(), "prefix {n} must not decapsulate");
        }
    }
    let mut x: u64 = 0x1234_5678_9abc_def1;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bytes = full.data().to_vec();
        let len = (x as usize) % (bytes.len() + 1);
        bytes.truncate(len);
        for k in 0..3 {
            if !bytes.is_empty() {
                let i = ((x >> (k * 16)) as usize) % bytes.len();
                bytes[i] = (x >> (k * 8 + 5)) as u8;
            }
        }
        let mut b = VecBuf::like_mbuf(&bytes);
        let mut w = ReplayWindow::new(64, false);
        if let Ok(Inbound::Esp(loc)) = classify_inbound(b.data()) {
            let _ = decapsulate(&mut b, &loc, &s, &mut w);
        }
    }
}

#[test]
fn udp_4500_keepalive_and_ike_are_told_apart_from_esp() {
    let mut ka = vec![0x45, 0, 0, 29, 0, 0, 0, 0, 64, 17, 0, 0, 203, 0, 113, 2, 203, 0, 113, 1];
    ka.extend_from_slice(&[0x11, 0x94, 0x11, 0x94, 0, 9, 0, 0, 0xff]);
    assert_eq!(classify_inbound(&ka), Ok(Inbound::Keepalive));
    let mut ike = ka.clone();
    ike[3] = 36;
    ike.truncate(28);
    ike[24..26].copy_from_slice(&16u16.to_be_bytes());
    ike.extend_from_slice(&[0, 0, 0, 0, 1, 2, 3, 4]);
    assert_eq!(classify_inbound(&ike), Ok(Inbound::Other));
    let mut other_port = ka.clone();
    other_port[22..24].copy_from_slice(&500u16.to_be_bytes());
    assert_eq!(classify_inbound(&other_port), Ok(Inbound::Other));
}

#[test]
fn encapsulation_without_room_is_a_counted_drop() {
    let s = sa(Algorithm::AesGcm16_128, tunnel(false), false, false);
    let pkt = inner(false, 10, 0);
    let mut no_head = VecBuf::new(&pkt, 10, 64);
    assert_eq!(
        encapsulate(&mut no_head, &s, 1, &iv_for(Algorithm::AesGcm16_128, 1)),
        Err(DropReason::EncapNoRoom)
    );
    let mut no_tail = VecBuf::new(&pkt, 128, 4);
    assert_eq!(
        encapsulate(&mut no_tail, &s, 1, &iv_for(Algorithm::AesGcm16_128, 1)),
        Err(DropReason::EncapNoRoom)
    );
}
