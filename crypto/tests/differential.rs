//! Differential and property tests: every backend this CPU has against the
//! portable backend and against the `aes-gcm` crate, over every length
//! 0..=2048, random lengths up to 9000, random AAD lengths, unaligned
//! buffers, and tampered tags / ciphertext / AAD.

mod common;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use common::{backends, Rng};
use espgw_crypto::{Backend, GcmKey, Job};

/// Seal with the `aes-gcm` crate.
fn oracle(key: &[u8], nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
    let n = Nonce::from_slice(nonce);
    let tag = match key.len() {
        16 => Aes128Gcm::new_from_slice(key).unwrap().encrypt_in_place_detached(n, aad, data),
        _ => Aes256Gcm::new_from_slice(key).unwrap().encrypt_in_place_detached(n, aad, data),
    };
    tag.expect("aes-gcm seal").into()
}

/// AAD lengths: mostly the ESP 8 / 12, often small, sometimes long.
fn aad_len(rng: &mut Rng) -> usize {
    match rng.below(8) {
        0 => 8,
        1 => 12,
        2 => 0,
        3 | 4 => rng.below(48),
        5 => rng.below(600),
        _ => 8 + 4 * rng.below(2),
    }
}

/// Runs one case on one backend: seal matches the oracle, open inverts it,
/// and any single-bit change in tag, ciphertext or AAD is refused with the
/// data left as received. The data sits at `offset` in a larger buffer
/// whose bytes around it must not change.
fn one_case(rng: &mut Rng, keys: &[(Vec<u8>, Vec<GcmKey>)], len: usize) {
    let (raw, ks) = &keys[rng.below(keys.len())];
    let mut nonce = [0u8; 12];
    rng.fill(&mut nonce);
    let alen = aad_len(rng);
    let aad = rng.bytes(alen);
    let pt = rng.bytes(len);
    let mut want = pt.clone();
    let want_tag = oracle(raw, &nonce, &aad, &mut want);
    let offset = rng.below(64);
    for k in ks {
        let b = k.backend();
        let mut arena = vec![0xa5u8; len + offset + 64];
        arena[offset..offset + len].copy_from_slice(&pt);
        let tag = k.seal(&nonce, &aad, &mut arena[offset..offset + len]);
        assert_eq!(&arena[offset..offset + len], &want[..], "{b:?} len {len} aad {}: ciphertext", aad.len());
        assert_eq!(tag, want_tag, "{b:?} len {len} aad {}: tag", aad.len());
        assert!(arena[..offset].iter().chain(&arena[offset + len..]).all(|&x| x == 0xa5), "{b:?}: overrun");

        // The packed entry points: the same output, whatever lies past the nonce and AAD.
        if aad.len() <= 16 {
            let mut n = [0u8; 16];
            rng.fill(&mut n);
            n[..12].copy_from_slice(&nonce);
            let mut a = [0u8; 16];
            rng.fill(&mut a);
            a[..aad.len()].copy_from_slice(&aad);
            let (n, a) = (u128::from_le_bytes(n), u128::from_le_bytes(a));
            let mut d = pt.clone();
            let t = k.seal_packed(n, a, aad.len(), &mut d);
            assert_eq!((&d[..], t), (&want[..], want_tag), "{b:?} len {len} aad {}: packed seal", aad.len());
            assert!(k.open_packed(n, a, aad.len(), &mut d, &t), "{b:?} len {len}: packed open");
            assert_eq!(d, pt, "{b:?} len {len}: packed open plaintext");
            let mut bad = t;
            bad[rng.below(16)] ^= 1 << rng.below(8);
            let mut e = want.clone();
            assert!(!k.open_packed(n, a, aad.len(), &mut e, &bad), "{b:?} len {len}: packed bad tag");
            assert_eq!(e, want, "{b:?} len {len}: packed refused open left data");
        }

        // Tampering: tag, ciphertext (if any), AAD.
        let mut bad_tag = tag;
        bad_tag[rng.below(16)] ^= 1 << rng.below(8);
        assert!(
            !k.open(&nonce, &aad, &mut arena[offset..offset + len], &bad_tag),
            "{b:?} len {len}: bad tag"
        );
        assert_eq!(&arena[offset..offset + len], &want[..], "{b:?} len {len}: restored after bad tag");
        if len > 0 {
            let i = offset + rng.below(len);
            let bit = 1 << rng.below(8);
            arena[i] ^= bit;
            assert!(!k.open(&nonce, &aad, &mut arena[offset..offset + len], &tag), "{b:?} len {len}: bad ct");
            arena[i] ^= bit;
            assert_eq!(&arena[offset..offset + len], &want[..], "{b:?} len {len}: restored after bad ct");
        }
        let mut bad_aad = aad.clone();
        bad_aad.push(0);
        assert!(!k.open(&nonce, &bad_aad, &mut arena[offset..offset + len], &tag), "{b:?}: longer aad");
        if !aad.is_empty() {
            let i = rng.below(aad.len());
            bad_aad = aad.clone();
            bad_aad[i] ^= 1 << rng.below(8);
            assert!(!k.open(&nonce, &bad_aad, &mut arena[offset..offset + len], &tag), "{b:?}: bad aad");
        }
        let mut bad_nonce = nonce;
        bad_nonce[rng.below(12)] ^= 1;
        assert!(!k.open(&bad_nonce, &aad, &mut arena[offset..offset + len], &tag), "{b:?}: bad nonce");
        assert_eq!(&arena[offset..offset + len], &want[..], "{b:?} len {len}: ciphertext kept");

        assert!(k.open(&nonce, &aad, &mut arena[offset..offset + len], &tag), "{b:?} len {len}: open");
        assert_eq!(&arena[offset..offset + len], &pt[..], "{b:?} len {len}: plaintext");
        assert!(arena[..offset].iter().chain(&arena[offset + len..]).all(|&x| x == 0xa5), "{b:?}: overrun");

        // The packed entry points: the same output, whatever lies past the nonce and AAD.
        if aad.len() <= 16 {
            let mut n = [0u8; 16];
            rng.fill(&mut n);
            n[..12].copy_from_slice(&nonce);
            let mut a = [0u8; 16];
            rng.fill(&mut a);
            a[..aad.len()].copy_from_slice(&aad);
            let (n, a) = (u128::from_le_bytes(n), u128::from_le_bytes(a));
            let mut d = pt.clone();
            let t = k.seal_packed(n, a, aad.len(), &mut d);
            assert_eq!((&d[..], t), (&want[..], want_tag), "{b:?} len {len} aad {}: packed seal", aad.len());
            assert!(k.open_packed(n, a, aad.len(), &mut d, &t), "{b:?} len {len}: packed open");
            assert_eq!(d, pt, "{b:?} len {len}: packed open plaintext");
            let mut bad = t;
            bad[rng.below(16)] ^= 1 << rng.below(8);
            let mut e = want.clone();
            assert!(!k.open_packed(n, a, aad.len(), &mut e, &bad), "{b:?} len {len}: packed bad tag");
            assert_eq!(e, want, "{b:?} len {len}: packed refused open left data");
        }
    }
}

/// A few random keys of both sizes, each expanded for every backend.
fn keys(rng: &mut Rng) -> Vec<(Vec<u8>, Vec<GcmKey>)> {
    let bs = backends();
    (0..4)
        .map(|i| {
            let raw = rng.bytes(if i % 2 == 0 { 16 } else { 32 });
            let ks = bs.iter().map(|&b| GcmKey::with_backend(&raw, b).expect("available backend")).collect();
            (raw, ks)
        })
        .collect()
}

#[test]
fn every_length_to_2048() {
    let mut rng = Rng::new(0x6763_6d31);
    let keys = keys(&mut rng);
    for len in 0..=2048 {
        one_case(&mut rng, &keys, len);
    }
}

#[test]
fn random_lengths_to_9000() {
    let mut rng = Rng::new(0x6763_6d32);
    let keys = keys(&mut rng);
    for _ in 0..400 {
        let len = rng.below(9001);
        one_case(&mut rng, &keys, len);
    }
    // The ESP extremes.
    for len in [9000, 16384, 65535] {
        one_case(&mut rng, &keys, len);
    }
}

/// Every backend is forced and reports itself; the fastest is picked by
/// default; bad key lengths are refused.
#[test]
fn backend_selection() {
    let k = GcmKey::new(&[7; 16]).unwrap();
    assert_eq!(k.backend(), Backend::detect());
    assert!(Backend::detect().is_available());
    for b in backends() {
        assert_eq!(GcmKey::with_backend(&[1; 32], b).unwrap().backend(), b);
        for bad in [0, 15, 17, 24, 31, 33] {
            assert!(GcmKey::with_backend(&vec![0; bad], b).is_none(), "{b:?} key length {bad}");
        }
    }
    for b in Backend::ALL {
        assert_eq!(GcmKey::with_backend(&[1; 16], b).is_some(), b.is_available());
    }
    // Debug never shows key material.
    let s = format!("{k:?}");
    assert!(s.contains("backend") && !s.contains("7, 7"), "{s}");
}

/// The burst API gives the same bytes and tags as one call per packet, and
/// flags exactly the tampered packets.
#[test]
fn bursts_match_single_calls() {
    let mut rng = Rng::new(0x6263_6d33);
    for b in backends() {
        for round in 0..40 {
            let raw = rng.bytes(if round % 2 == 0 { 16 } else { 32 });
            let k = GcmKey::with_backend(&raw, b).unwrap();
            let n = 1 + rng.below(32);
            let pts: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let len = if rng.below(4) == 0 { rng.below(2000) } else { rng.below(128) };
                    rng.bytes(len)
                })
                .collect();
            let aads: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let alen = aad_len(&mut rng);
                    rng.bytes(alen)
                })
                .collect();
            let nonces: Vec<[u8; 12]> = (0..n)
                .map(|_| {
                    let mut x = [0u8; 12];
                    rng.fill(&mut x);
                    x
                })
                .collect();
            let mut bufs = pts.clone();
            let mut jobs: Vec<Job<'_>> = bufs
                .iter_mut()
                .enumerate()
                .map(|(i, d)| Job { nonce: nonces[i], aad: &aads[i], data: d, tag: [0; 16], ok: false })
                .collect();
            k.seal_many(&mut jobs);
            let mut tags: Vec<[u8; 16]> = jobs.iter().map(|j| j.tag).collect();
            assert!(jobs.iter().all(|j| j.ok));
            drop(jobs);
            for i in 0..n {
                let mut one = pts[i].clone();
                assert_eq!(k.seal(&nonces[i], &aads[i], &mut one), tags[i], "{b:?}: burst tag {i}");
                assert_eq!(one, bufs[i], "{b:?}: burst ciphertext {i}");
            }
            let cts = bufs.clone();
            let bad: Vec<bool> = (0..n).map(|_| rng.below(3) == 0).collect();
            for (t, &x) in tags.iter_mut().zip(&bad) {
                if x {
                    t[0] ^= 0x40;
                }
            }
            let mut jobs: Vec<Job<'_>> = bufs
                .iter_mut()
                .enumerate()
                .map(|(i, d)| Job { nonce: nonces[i], aad: &aads[i], data: d, tag: tags[i], ok: false })
                .collect();
            let good = k.open_many(&mut jobs);
            assert_eq!(good, bad.iter().filter(|&&x| !x).count());
            for (j, &x) in jobs.iter().zip(&bad) {
                assert_eq!(j.ok, !x);
            }
            drop(jobs);
            for i in 0..n {
                assert_eq!(&bufs[i], if bad[i] { &cts[i] } else { &pts[i] }, "{b:?}: burst open {i}");
            }
        }
    }
}

/// Non-96-bit IVs (J0 by GHASH, counters from an arbitrary 32-bit value) agree
/// across backends.
#[test]
fn long_and_short_ivs_agree() {
    let mut rng = Rng::new(0x6976_3434);
    let bs = backends();
    for _ in 0..200 {
        let klen = if rng.below(2) == 0 { 16 } else { 32 };
        let raw = rng.bytes(klen);
        let ivlen = 1 + rng.below(80);
        let iv = rng.bytes(ivlen);
        let alen = aad_len(&mut rng);
        let aad = rng.bytes(alen);
        let plen = rng.below(1500);
        let pt = rng.bytes(plen);
        let soft = GcmKey::with_backend(&raw, Backend::Soft).unwrap();
        let mut want = pt.clone();
        let want_tag = soft.seal_with_iv(&iv, &aad, &mut want);
        for &b in &bs {
            let k = GcmKey::with_backend(&raw, b).unwrap();
            let mut got = pt.clone();
            assert_eq!(k.seal_with_iv(&iv, &aad, &mut got), want_tag, "{b:?} iv {}", iv.len());
            assert_eq!(got, want, "{b:?} iv {}", iv.len());
            assert!(k.open_with_iv(&iv, &aad, &mut got, &want_tag));
            assert_eq!(got, pt);
        }
    }
}
