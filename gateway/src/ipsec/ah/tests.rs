//! AH encapsulation/decapsulation: round trips over every mode and address-family mix with and
//! without ESN; replay, tampering of every immutable byte, en-route changes of every mutable
//! field, next header, ECN, unsupported headers and truncated or random input.

use super::*;
use crate::buf::VecBuf;
use crate::ipsec::crypto::{Algorithm, Transform};
use crate::ipsec::sa::{Limits, SaCounters};
use crate::wire::checksum;
use std::net::Ipv6Addr;
use std::sync::Arc;

const ALG: Algorithm = Algorithm::AhHmacSha256_128;

#[inline(never)]
fn sa(mode: Mode, esn: bool) -> Sa {
    let key: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(5)).collect();
    Sa {
        name: "ah-test".into(),
        spi: 0x2000_0002,
        protocol: Protocol::Ah,
        mode,
        transform: Transform::new(ALG, &[], &key).unwrap(),
        esn,
        natt: None,
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

fn transport(v6: bool) -> Mode {
    if v6 {
        Mode::Transport { local: "2001:db8:1::2".parse().unwrap(), remote: "2001:db8:2::2".parse().unwrap() }
    } else {
        Mode::Transport { local: "192.0.2.2".parse().unwrap(), remote: "198.51.100.2".parse().unwrap() }
    }
}

/// An IPv4/UDP or IPv6/UDP packet with `payload` bytes and TOS / traffic class `tos`.
#[inline(never)]
fn packet(v6: bool, payload: usize, tos: u8) -> Vec<u8> {
    let udp_len = 8 + payload;
    let mut p = Vec::new();
    if v6 {
        let w: u32 = (6 << 28) | ((tos as u32) << 20) | 0xabcde;
        p.extend_from_slice(&w.to_be_bytes());
        p.extend_from_slice(&(udp_len as u16).to_be_bytes());
        p.extend_from_slice(&[17, 64]);
        p.extend_from_slice(&"2001:db8:1::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"2001:db8:2::2".parse::<Ipv6Addr>().unwrap().octets());
    } else {
        p.extend_from_slice(&[0x45, tos]);
        p.extend_from_slice(&((20 + udp_len) as u16).to_be_bytes());
        p.extend_from_slice(&[0xbe, 0xef, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 2, 198, 51, 100, 2]);
        esp::ipv4_checksum(&mut p[..20]);
    }
    p.extend_from_slice(&[0x30, 0x39, 0x10, 0xe1]);
    p.extend_from_slice(&(udp_len as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend((0..payload).map(|i| (i * 7) as u8));
    p
}

#[inline(never)]
fn encap(sa: &Sa, pkt: &[u8], seq: u64) -> VecBuf {
    let mut b = VecBuf::like_mbuf(pkt);
    encapsulate(&mut b, sa, seq).unwrap_or_else(|e| panic!("encapsulate: {e:?}"));
    b
}

#[inline(never)]
fn decap(sa: &Sa, w: &mut ReplayWindow, b: &mut VecBuf) -> Result<Decapsulated, DropReason> {
    let loc = locate(b.data())?;
    decapsulate(b, &loc, sa, w)
}

/// Outer header and AH header of a tunnel-mode packet.
#[inline(never)]
fn check_tunnel_headers(b: &VecBuf, s: &Sa, outer_v6: bool, inner_v6: bool, seq: u64) {
    let d = b.data();
    let hl = if outer_v6 { 40 } else { 20 };
    let ah = if outer_v6 { 32 } else { 28 };
    if outer_v6 {
        assert_eq!(d[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([d[4], d[5]]) as usize, d.len() - 40);
        assert_eq!((d[6], d[7]), (51, esp::OUTER_TTL));
        assert_eq!(((d[0] & 0x0f) << 4) | (d[1] >> 4), 0xb8, "traffic class copied");
    } else {
        assert_eq!(d[0], 0x45, "no options");
        assert_eq!(u16::from_be_bytes([d[2], d[3]]) as usize, d.len());
        assert_eq!((d[8], d[9]), (esp::OUTER_TTL, 51));
        assert_eq!(checksum::checksum(&d[..20]), 0, "outer IPv4 checksum");
        assert_eq!(d[1], 0xb8, "TOS copied");
        assert_eq!(d[6], 0x40, "DF copied from the inner IPv4 (set) or set for IPv6; offset 0");
    }
    let a = &d[hl..hl + ah];
    assert_eq!(a[0], if inner_v6 { 41 } else { 4 }, "next header");
    assert_eq!(a[1] as usize, ah / 4 - 2, "payload length in words minus 2");
    assert_eq!(&a[2..4], &[0, 0], "reserved");
    assert_eq!(u32::from_be_bytes(a[4..8].try_into().unwrap()), s.spi);
    assert_eq!(u32::from_be_bytes(a[8..12].try_into().unwrap()), seq as u32, "low half only on the wire");
    assert_eq!(&a[28..], &[0u8; 4][..ah - 28], "IPv6 alignment padding is zero");
}

#[test]
fn tunnel_round_trip_every_family_mix_with_and_without_esn() {
    for outer_v6 in [false, true] {
        for inner_v6 in [false, true] {
            for esn in [false, true] {
                let s = sa(tunnel(outer_v6), esn);
                let mut w = ReplayWindow::new(1024, esn);
                for (seq, len) in [(1u64, 0usize), (2, 1), (3, 17), (4, 100), (5, 1400)] {
                    let pkt = packet(inner_v6, len, 0xb8);
                    let mut b = encap(&s, &pkt, seq);
                    let ah = if outer_v6 { 32 } else { 28 };
                    assert_eq!(b.len(), pkt.len() + if outer_v6 { 40 } else { 20 } + ah);
                    check_tunnel_headers(&b, &s, outer_v6, inner_v6, seq);
                    let loc = locate(b.data()).unwrap();
                    assert_eq!((loc.spi, loc.seq_low, loc.v6, loc.ah_len), (s.spi, seq as u32, outer_v6, ah));
                    assert_eq!((loc.src, loc.dst), (s.mode.local(), s.mode.remote()));
                    let d = decapsulate(&mut b, &loc, &s, &mut w).unwrap_or_else(|e| {
                        panic!("outer6={outer_v6} inner6={inner_v6} esn={esn} len={len}: {e:?}")
                    });
                    assert_eq!(b.data(), &pkt[..], "inner packet restored");
                    assert_eq!((d.v6, d.seq), (inner_v6, seq));
                }
            }
        }
    }
}

#[test]
fn transport_round_trip_both_families_with_and_without_esn() {
    for v6 in [false, true] {
        for esn in [false, true] {
            let s = sa(transport(v6), esn);
            let mut w = ReplayWindow::new(64, esn);
            for (seq, len) in [(7u64, 0usize), (8, 3), (9, 333)] {
                let pkt = packet(v6, len, 0x28);
                let mut b = encap(&s, &pkt, seq);
                let d = b.data();
                let (hl, ah) = if v6 { (40, 32) } else { (20, 28) };
                assert_eq!(d.len(), pkt.len() + ah);
                let keep = if v6 { 4 } else { 2 };
                assert_eq!(d[..keep], pkt[..keep], "version, TOS / traffic class and flow label kept");
                if v6 {
                    assert_eq!((d[6], d[7]), (51, 64));
                    assert_eq!(u16::from_be_bytes([d[4], d[5]]) as usize, d.len() - 40);
                } else {
                    assert_eq!((d[8], d[9]), (64, 51), "TTL kept, protocol AH");
                    assert_eq!(u16::from_be_bytes([d[2], d[3]]) as usize, d.len());
                    assert_eq!(checksum::checksum(&d[..20]), 0);
                }
                assert_eq!((d[hl], d[hl + 1] as usize), (17, ah / 4 - 2), "next header is the payload's");
                assert_eq!(&d[hl + ah..], &pkt[hl..], "payload untouched");
                let r = decap(&s, &mut w, &mut b).unwrap_or_else(|e| panic!("v6={v6} esn={esn}: {e:?}"));
                assert_eq!(b.data(), &pkt[..], "v6={v6} esn={esn}: packet restored");
                assert_eq!((r.v6, r.seq), (v6, seq));
                assert_eq!((r.src, r.dst), (s.mode.local(), s.mode.remote()));
            }
        }
    }
}

#[test]
fn replayed_and_old_packets_are_dropped_and_do_not_move_the_window() {
    let s = sa(tunnel(false), false);
    let mut w = ReplayWindow::new(64, false);
    let pkt = packet(false, 10, 0);
    let p100 = encap(&s, &pkt, 100);
    assert!(decap(&s, &mut w, &mut p100.clone()).is_ok());
    assert_eq!(decap(&s, &mut w, &mut p100.clone()), Err(DropReason::EspReplayed));
    assert_eq!(decap(&s, &mut w, &mut encap(&s, &pkt, 10)), Err(DropReason::EspTooOld));
    assert!(decap(&s, &mut w, &mut encap(&s, &pkt, 40)).is_ok(), "inside the window (37..=100)");
    // A forged packet ahead of the window fails the ICV and leaves the window where it was.
    let mut forged = encap(&s, &pkt, 5000);
    forged.data_mut()[60] ^= 1;
    assert_eq!(decap(&s, &mut w, &mut forged), Err(DropReason::AhIcvMismatch));
    assert_eq!(w.highest(), 100);
    assert!(decap(&s, &mut w, &mut encap(&s, &pkt, 41)).is_ok(), "41 still acceptable");
}

/// Bytes of the IP header that are mutable for AH (RFC 4302 §3.3.3.1), by bit mask.
fn mutable_mask(v6: bool, at: usize) -> u8 {
    let table: &[(usize, u8)] = if v6 { &V6_MUTABLE } else { &V4_MUTABLE };
    table.iter().find(|(i, _)| *i == at).map_or(0, |(_, m)| *m)
}

/// Bytes `locate` reads to find AH, and the sequence number the replay check reads: changing
/// them may be caught before the ICV.
fn structural(v6: bool, at: usize) -> bool {
    let hl = if v6 { 40 } else { 20 };
    let ip = if v6 { matches!(at, 0 | 4 | 5 | 6) } else { matches!(at, 0 | 2 | 3 | 6 | 7 | 9) };
    ip || at == hl + 1 || (hl + 8..hl + 12).contains(&at)
}

#[test]
fn every_immutable_bit_is_covered_and_every_mutable_field_is_not() {
    for (mode, v6) in
        [(tunnel(false), false), (tunnel(true), true), (transport(false), false), (transport(true), true)]
    {
        for esn in [false, true] {
            let s = sa(mode, esn);
            let good = encap(&s, &packet(v6, 23, 0x02), 9);
            for at in 0..good.len() {
                for bit in 0..8 {
                    let flip = 1u8 << bit;
                    let mut bad = good.clone();
                    bad.data_mut()[at] ^= flip;
                    let mut w = ReplayWindow::new(64, esn);
                    let r = decap(&s, &mut w, &mut bad);
                    let label = format!("{mode:?} esn={esn} byte {at} bit {bit}");
                    if mutable_mask(v6, at) & flip != 0 {
                        // Flags and fragment offset: MF / an offset make the packet a fragment.
                        let frag = !v6 && (at == 7 || (at == 6 && flip & 0x3f != 0));
                        if frag {
                            assert_eq!(r, Err(DropReason::AhFragment), "{label}");
                        } else {
                            assert!(r.is_ok(), "{label}: a mutable field must not affect the ICV: {r:?}");
                        }
                    } else if structural(v6, at) {
                        assert!(r.is_err(), "{label}");
                    } else {
                        assert_eq!(r, Err(DropReason::AhIcvMismatch), "{label}");
                    }
                }
            }
        }
    }
}

#[test]
fn routers_changing_ttl_tos_and_flow_label_do_not_break_the_icv() {
    // IPv4 outer: TTL decremented, DSCP rewritten, DF set, checksum updated.
    let s = sa(tunnel(false), false);
    let pkt = packet(false, 40, 0x00);
    let mut w = ReplayWindow::new(64, false);
    let mut b = encap(&s, &pkt, 1);
    let d = b.data_mut();
    d[8] -= 3;
    d[1] = 0x48;
    d[6] |= 0x40;
    esp::ipv4_checksum(&mut d[..20]);
    assert!(decap(&s, &mut w, &mut b).is_ok());
    assert_eq!(b.data(), &pkt[..]);
    // IPv6 outer: hop limit, traffic class and flow label.
    let s = sa(tunnel(true), true);
    let pkt = packet(true, 40, 0x00);
    let mut w = ReplayWindow::new(64, true);
    let mut b = encap(&s, &pkt, 1);
    let d = b.data_mut();
    d[7] = 1;
    d[1] ^= 0xc5; // DSCP and flow label bits (CE over a Not-ECT inner would be a conflict)
    d[3] ^= 0x77;
    assert!(decap(&s, &mut w, &mut b).is_ok());
    assert_eq!(b.data(), &pkt[..]);
}

#[test]
fn esn_high_bits_take_part_in_the_icv_and_are_not_sent() {
    let s = sa(tunnel(true), true);
    let mut w = ReplayWindow::new(1024, true);
    // Climb into the second 2^32 subspace in steps below 2^31, as a sender's numbers would.
    for step in [1u64, (1 << 31) - 1, (1 << 32) - 100, (1 << 32) + 1] {
        assert!(decap(&s, &mut w, &mut encap(&s, &packet(false, 8, 0), step)).is_ok(), "seq {step:#x}");
    }
    let seq = (1u64 << 32) + 5;
    let b = encap(&s, &packet(false, 8, 0), seq);
    assert_eq!(b.len(), 40 + 32 + 36, "no extra bytes on the wire");
    assert_eq!(decap(&s, &mut w, &mut b.clone()).unwrap().seq, seq);
    // The same low half without ESN gives a different ICV.
    let plain = encap(&sa(tunnel(true), false), &packet(false, 8, 0), seq);
    assert_ne!(plain.data()[40 + 12..40 + 28], b.data()[40 + 12..40 + 28]);
    // A receiver that guesses the wrong high half fails the ICV instead of accepting.
    let mut fresh = ReplayWindow::new(1024, true);
    assert_eq!(decap(&s, &mut fresh, &mut b.clone()), Err(DropReason::AhIcvMismatch));
}

#[test]
fn next_header_must_fit_the_mode() {
    // Same keys and SPI, other mode: the ICV verifies, the next header does not fit.
    for v6 in [false, true] {
        let mut w = ReplayWindow::new(64, false);
        let mut t = encap(&sa(transport(v6), false), &packet(v6, 5, 0), 1);
        assert_eq!(decap(&sa(tunnel(v6), false), &mut w, &mut t), Err(DropReason::AhBadNextHeader));
        let mut u = encap(&sa(tunnel(v6), false), &packet(v6, 5, 0), 2);
        assert_eq!(decap(&sa(transport(v6), false), &mut w, &mut u), Err(DropReason::AhBadNextHeader));
    }
}

#[test]
fn ecn_is_copied_out_and_ce_propagated_in() {
    for outer_v6 in [false, true] {
        let s = sa(tunnel(outer_v6), false);
        let mut w = ReplayWindow::new(64, false);
        for (seq, inner_ecn, expect) in [
            (1u64, 0b10u8, Ok(0b11u8)),
            (2, 0b01, Ok(0b11)),
            (3, 0b11, Ok(0b11)),
            (4, 0b00, Err(DropReason::EcnConflict)),
        ] {
            let pkt = packet(false, 4, 0xb8 | inner_ecn);
            let mut b = encap(&s, &pkt, seq);
            let d = b.data_mut();
            // A router marks congestion on the outer header (ECN is mutable for AH).
            if outer_v6 {
                assert_eq!((d[1] >> 4) & 3, inner_ecn, "ECN copied to the outer header");
                d[1] |= 0b11 << 4;
            } else {
                assert_eq!(d[1] & 3, inner_ecn, "ECN copied to the outer header");
                d[1] |= 0b11;
                esp::ipv4_checksum(&mut d[..20]);
            }
            match (decap(&s, &mut w, &mut b), expect) {
                (Ok(_), Ok(e)) => {
                    assert_eq!(b.data()[1] & 3, e);
                    assert_eq!(checksum::checksum(&b.data()[..20]), 0, "inner checksum updated");
                }
                (r, e) => assert_eq!(r.err(), e.err()),
            }
        }
    }
}

#[test]
fn df_policy() {
    for (policy, inner_df, expect) in [
        (DfPolicy::Set, 0, 0x40),
        (DfPolicy::Clear, 0x40, 0),
        (DfPolicy::Copy, 0, 0),
        (DfPolicy::Copy, 0x40, 0x40),
    ] {
        let mut s = sa(tunnel(false), false);
        s.df = policy;
        let mut pkt = packet(false, 4, 0);
        pkt[6] = inner_df;
        esp::ipv4_checksum(&mut pkt[..20]);
        let b = encap(&s, &pkt, 1);
        assert_eq!(b.data()[6], expect, "{policy:?}: DF only, no other flag, offset 0");
        assert!(decap(&s, &mut ReplayWindow::new(64, false), &mut b.clone()).is_ok());
    }
}

#[test]
fn unsupported_packets_are_named_drops_on_the_way_out() {
    let s4 = sa(transport(false), false);
    let mut opts = packet(false, 8, 0);
    opts.splice(20..20, [1, 1, 1, 0]); // NOP NOP NOP EOL
    opts[0] = 0x46;
    let total = opts.len() as u16;
    opts[2..4].copy_from_slice(&total.to_be_bytes());
    esp::ipv4_checksum(&mut opts[..24]);
    assert_eq!(encapsulate(&mut VecBuf::like_mbuf(&opts), &s4, 1), Err(DropReason::AhIpv4Options));
    // Tunnel mode carries the same packet fine: the options are inner payload.
    let t4 = sa(tunnel(false), false);
    let mut b = encap(&t4, &opts, 1);
    assert!(decap(&t4, &mut ReplayWindow::new(64, false), &mut b).is_ok());
    assert_eq!(b.data(), &opts[..]);

    let mut frag = packet(false, 8, 0);
    frag[6] = 0x20; // MF
    esp::ipv4_checksum(&mut frag[..20]);
    assert_eq!(encapsulate(&mut VecBuf::like_mbuf(&frag), &s4, 1), Err(DropReason::AhFragment));

    let mut ext = packet(true, 8, 0);
    ext[6] = 0; // hop-by-hop options header follows
    assert_eq!(
        encapsulate(&mut VecBuf::like_mbuf(&ext), &sa(transport(true), false), 1),
        Err(DropReason::AhInnerMalformed)
    );
    assert_eq!(encapsulate(&mut VecBuf::like_mbuf(&[0x45, 0, 0]), &s4, 1), Err(DropReason::AhInnerMalformed));
    assert_eq!(encapsulate(&mut VecBuf::like_mbuf(&[]), &t4, 1), Err(DropReason::AhInnerMalformed));

    let pkt = packet(false, 10, 0);
    assert_eq!(encapsulate(&mut VecBuf::new(&pkt, 47, 64), &t4, 1), Err(DropReason::EncapNoRoom));
    assert!(encapsulate(&mut VecBuf::new(&pkt, 48, 0), &t4, 1).is_ok(), "AH needs no tailroom");
    assert_eq!(encapsulate(&mut VecBuf::new(&pkt, 27, 0), &s4, 1), Err(DropReason::EncapNoRoom));
}

#[test]
fn esp_sas_and_ah_sas_do_not_mix() {
    let mut esp_sa = sa(tunnel(false), false);
    esp_sa.protocol = Protocol::Esp;
    let pkt = packet(false, 10, 0);
    assert_eq!(encapsulate(&mut VecBuf::like_mbuf(&pkt), &esp_sa, 1), Err(DropReason::SaProtocolMismatch));
    let mut b = encap(&sa(tunnel(false), false), &pkt, 1);
    let loc = locate(b.data()).unwrap();
    let mut w = ReplayWindow::new(64, false);
    assert_eq!(decapsulate(&mut b, &loc, &esp_sa, &mut w), Err(DropReason::SaProtocolMismatch));
    // An SA marked AH but holding an ESP transform is refused too.
    let mut wrong = sa(tunnel(false), false);
    wrong.transform = Transform::new(Algorithm::NullHmacSha256_128, &[], &[1; 32]).unwrap();
    assert_eq!(encapsulate(&mut VecBuf::like_mbuf(&pkt), &wrong, 1), Err(DropReason::SaProtocolMismatch));
    assert_eq!(decapsulate(&mut b, &loc, &wrong, &mut w), Err(DropReason::SaProtocolMismatch));
    assert_eq!(w.highest(), 0);
    // ESP handed an AH SA refuses it (the transform will not seal or open ESP), without panicking.
    let ah_sa = sa(tunnel(false), false);
    assert!(esp::encapsulate(&mut VecBuf::like_mbuf(&pkt), &ah_sa, 1, &[]).is_err());
    let esp_pkt = {
        let mut null = sa(tunnel(false), false);
        null.protocol = Protocol::Esp;
        null.transform = Transform::new(Algorithm::NullHmacSha256_128, &[], &[1; 32]).unwrap();
        let mut e = VecBuf::like_mbuf(&pkt);
        esp::encapsulate(&mut e, &null, 1, &[]).unwrap();
        e
    };
    let mut e = esp_pkt.clone();
    let Ok(esp::Inbound::Esp(eloc)) = esp::classify_inbound(e.data()) else { panic!("not ESP") };
    assert!(esp::decapsulate(&mut e, &eloc, &ah_sa, &mut w).is_err());
}

/// A copy of `p` with the payload length field of the AH header after an `hl`-byte IP header
/// set to `words`.
fn with_ah_words(p: &[u8], hl: usize, words: u8) -> Vec<u8> {
    let mut q = p.to_vec();
    q[hl + 1] = words;
    q
}

#[test]
fn locate_checks_lengths_spi_and_protocol() {
    let b4 = encap(&sa(tunnel(false), false), &packet(false, 12, 0), 3);
    let p = b4.data();
    let loc = locate(p).unwrap();
    assert_eq!(
        loc,
        AhLocation {
            spi: 0x2000_0002,
            seq_low: 3,
            v6: false,
            header_len: 20,
            ah_offset: 20,
            ah_len: 28,
            end: p.len(),
            src: "203.0.113.1".parse().unwrap(),
            dst: "203.0.113.2".parse().unwrap(),
        }
    );
    let mut spi0 = p.to_vec();
    spi0[24..28].fill(0);
    assert_eq!(locate(&spi0), Err(DropReason::AhMalformed), "SPI 0 is reserved");
    assert_eq!(locate(&with_ah_words(p, 20, 0)), Err(DropReason::AhMalformed), "8 bytes < fixed part");
    assert_eq!(locate(&with_ah_words(p, 20, 255)), Err(DropReason::AhMalformed), "beyond the packet");
    let mut esp = p.to_vec();
    esp[9] = 50;
    assert_eq!(locate(&esp), Err(DropReason::AhMalformed), "not AH");
    // A structurally valid but shorter AH header than the SA's.
    let short = with_ah_words(p, 20, 4);
    let l = locate(&short).unwrap();
    assert_eq!(l.ah_len, 24);
    let mut w = ReplayWindow::new(64, false);
    let r = decapsulate(&mut VecBuf::like_mbuf(&short), &l, &sa(tunnel(false), false), &mut w);
    assert_eq!(r, Err(DropReason::AhMalformed));

    // IPv6: the AH length must be a multiple of 8; 28 bytes (no padding) is refused.
    let b6 = encap(&sa(tunnel(true), false), &packet(false, 12, 0), 3);
    assert_eq!(locate(b6.data()).unwrap().ah_len, 32);
    assert_eq!(locate(&with_ah_words(b6.data(), 40, 5)), Err(DropReason::AhMalformed), "28 on IPv6");
    let mut ext = b6.data().to_vec();
    ext[6] = 60; // AH behind a destination options header is not supported
    assert_eq!(locate(&ext), Err(DropReason::AhMalformed));
}

#[test]
fn a_failed_icv_leaves_the_buffer_as_received() {
    for (mode, v6) in [(tunnel(false), false), (transport(true), true)] {
        let s = sa(mode, false);
        let mut b = encap(&s, &packet(v6, 30, 0x03), 1);
        let last = b.len() - 1;
        b.data_mut()[last] ^= 0x80;
        let before = b.clone();
        assert_eq!(decap(&s, &mut ReplayWindow::new(64, false), &mut b), Err(DropReason::AhIcvMismatch));
        assert_eq!(b, before);
    }
}

#[test]
fn inner_packet_must_fill_the_tunnel_payload() {
    let s = sa(tunnel(false), false);
    let mut b = encap(&s, &packet(false, 20, 0), 1);
    // Shorten the inner IPv4 length by 4 and re-sign: authentic, but 4 bytes are left over
    // (AH has no TFC padding).
    let d = b.data_mut();
    let inner_len = u16::from_be_bytes([d[50], d[51]]) - 4;
    d[50..52].copy_from_slice(&inner_len.to_be_bytes());
    d[32..48].fill(0);
    let mut icv = [0u8; 16];
    with_mutable_zeroed(d, false, |p| s.transform.ah_sign(p, None, &mut icv)).unwrap();
    d[32..48].copy_from_slice(&icv);
    assert_eq!(decap(&s, &mut ReplayWindow::new(64, false), &mut b), Err(DropReason::AhInnerMalformed));
}

#[test]
fn every_prefix_and_random_bytes_never_panic_or_pass() {
    for (mode, v6) in
        [(tunnel(false), false), (tunnel(true), true), (transport(false), false), (transport(true), true)]
    {
        let s = sa(mode, true);
        let full = encap(&s, &packet(v6, 40, 0), 1);
        for n in 0..full.len() {
            let mut b = VecBuf::like_mbuf(&full.data()[..n]);
            let mut w = ReplayWindow::new(64, true);
            let r = locate(b.data()).and_then(|loc| decapsulate(&mut b, &loc, &s, &mut w));
            assert!(r.is_err(), "{mode:?}: prefix {n} must not decapsulate");
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut bytes = full.data().to_vec();
            bytes.truncate((x as usize) % (bytes.len() + 1));
            for k in 0..3 {
                if !bytes.is_empty() {
                    let i = ((x >> (k * 16)) as usize) % bytes.len();
                    bytes[i] = (x >> (k * 8 + 5)) as u8;
                }
            }
            let mut b = VecBuf::like_mbuf(&bytes);
            let mut w = ReplayWindow::new(64, true);
            if let Ok(loc) = locate(b.data()) {
                let _ = decapsulate(&mut b, &loc, &s, &mut w);
            }
            // Encapsulating garbage is a named drop or a well-formed packet, never a panic.
            let _ = encapsulate(&mut VecBuf::like_mbuf(&bytes), &s, 2);
        }
    }
}
