//! ESP-level tests: differential against independent implementations
//! (`aes-gcm`, `cbc`, `hmac` crates), tampering, truncation, key handling,
//! zeroization and Debug output.

use aes_gcm::aead::{AeadInPlace, KeyInit as AeadKeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};

use super::test_util::{build_esp, pad_payload, random_keys, to_hex, Rng};
use super::{Algorithm, CryptoError, Keys, Transform, ESP_HEADER_LEN};

const MAX_PAYLOAD: usize = 2000;

fn oracle_hmac(alg: Algorithm, key: &[u8], authed: &[u8], esn: Option<u32>) -> Vec<u8> {
    let hi = esn.map(u32::to_be_bytes);
    let tail: &[u8] = match &hi {
        Some(h) => h,
        None => &[],
    };
    let full = if alg.auth_key_len() == 20 {
        let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).unwrap();
        m.update(authed);
        m.update(tail);
        m.finalize().into_bytes().to_vec()
    } else {
        let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
        m.update(authed);
        m.update(tail);
        m.finalize().into_bytes().to_vec()
    };
    full[..alg.icv_len()].to_vec()
}

fn gcm_aad(pkt: &[u8], esn: Option<u32>) -> Vec<u8> {
    let mut aad = pkt[..4].to_vec();
    if let Some(hi) = esn {
        aad.extend_from_slice(&hi.to_be_bytes());
    }
    aad.extend_from_slice(&pkt[4..8]);
    aad
}

/// Independent ESP seal: returns the full packet.
fn oracle_seal(alg: Algorithm, ek: &[u8], ak: &[u8], hdr_iv: &[u8], pt: &[u8], esn: Option<u32>) -> Vec<u8> {
    let mut pkt = hdr_iv.to_vec();
    let ct_start = pkt.len();
    pkt.extend_from_slice(pt);
    match alg {
        Algorithm::AesGcm16_128 | Algorithm::AesGcm16_256 => {
            let (key, salt) = ek.split_at(ek.len() - 4);
            let mut nonce = salt.to_vec();
            nonce.extend_from_slice(&hdr_iv[8..16]);
            let aad = gcm_aad(hdr_iv, esn);
            let nonce = Nonce::from_slice(&nonce);
            let tag = if key.len() == 16 {
                Aes128Gcm::new_from_slice(key)
                    .unwrap()
                    .encrypt_in_place_detached(nonce, &aad, &mut pkt[ct_start..])
                    .unwrap()
            } else {
                Aes256Gcm::new_from_slice(key)
                    .unwrap()
                    .encrypt_in_place_detached(nonce, &aad, &mut pkt[ct_start..])
                    .unwrap()
            };
            pkt.extend_from_slice(&tag);
        }
        Algorithm::NullHmacSha256_128 => {
            let icv = oracle_hmac(alg, ak, &pkt, esn);
            pkt.extend_from_slice(&icv);
        }
        _ => {
            let iv = &hdr_iv[8..24];
            let n = pt.len();
            if ek.len() == 16 {
                cbc::Encryptor::<aes::Aes128>::new_from_slices(ek, iv)
                    .unwrap()
                    .encrypt_padded_mut::<NoPadding>(&mut pkt[ct_start..], n)
                    .unwrap();
            } else {
                cbc::Encryptor::<aes::Aes256>::new_from_slices(ek, iv)
                    .unwrap()
                    .encrypt_padded_mut::<NoPadding>(&mut pkt[ct_start..], n)
                    .unwrap();
            }
            let icv = oracle_hmac(alg, ak, &pkt, esn);
            pkt.extend_from_slice(&icv);
        }
    }
    pkt
}

/// Independent ESP open: verifies the ICV and returns the plaintext.
fn oracle_open(alg: Algorithm, ek: &[u8], ak: &[u8], pkt: &[u8], esn: Option<u32>) -> Option<Vec<u8>> {
    let ct_start = ESP_HEADER_LEN + alg.iv_len();
    let icv_start = pkt.len() - alg.icv_len();
    let mut ct = pkt[ct_start..icv_start].to_vec();
    match alg {
        Algorithm::AesGcm16_128 | Algorithm::AesGcm16_256 => {
            let (key, salt) = ek.split_at(ek.len() - 4);
            let mut nonce = salt.to_vec();
            nonce.extend_from_slice(&pkt[8..16]);
            let aad = gcm_aad(pkt, esn);
            let nonce = Nonce::from_slice(&nonce);
            let tag = Tag::from_slice(&pkt[icv_start..]);
            let r = if key.len() == 16 {
                Aes128Gcm::new_from_slice(key).unwrap().decrypt_in_place_detached(nonce, &aad, &mut ct, tag)
            } else {
                Aes256Gcm::new_from_slice(key).unwrap().decrypt_in_place_detached(nonce, &aad, &mut ct, tag)
            };
            r.ok().map(|_| ct)
        }
        Algorithm::NullHmacSha256_128 => {
            (oracle_hmac(alg, ak, &pkt[..icv_start], esn) == pkt[icv_start..]).then_some(ct)
        }
        _ => {
            if oracle_hmac(alg, ak, &pkt[..icv_start], esn) != pkt[icv_start..] {
                return None;
            }
            let iv = &pkt[8..24];
            if ek.len() == 16 {
                cbc::Decryptor::<aes::Aes128>::new_from_slices(ek, iv)
                    .unwrap()
                    .decrypt_padded_mut::<NoPadding>(&mut ct)
                    .unwrap();
            } else {
                cbc::Decryptor::<aes::Aes256>::new_from_slices(ek, iv)
                    .unwrap()
                    .decrypt_padded_mut::<NoPadding>(&mut ct)
                    .unwrap();
            }
            Some(ct)
        }
    }
}

fn random_packet(rng: &mut Rng, alg: Algorithm, payload_len: usize) -> (Vec<u8>, Vec<u8>) {
    let payload = rng.bytes(payload_len);
    let pt = pad_payload(&payload, rng.next_u64() as u8, alg.block_align());
    let iv = rng.bytes(alg.iv_len());
    let pkt = build_esp(alg, rng.next_u32(), rng.next_u32(), &iv, &pt);
    (pkt, pt)
}

#[test]
fn differential_seal_then_oracle_open() {
    let mut rng = Rng::new(1);
    for alg in Algorithm::ESP {
        for payload_len in (0..=MAX_PAYLOAD).step_by(alg.block_align()) {
            let (ek, ak) = random_keys(&mut rng, alg);
            let t = Transform::new(alg, &ek, &ak).unwrap();
            let esn = (payload_len / alg.block_align() % 2 == 1).then(|| rng.next_u32());
            let (mut pkt, pt) = random_packet(&mut rng, alg, payload_len);
            let hdr_iv = pkt[..ESP_HEADER_LEN + alg.iv_len()].to_vec();
            t.seal(&mut pkt, esn).unwrap();
            assert_eq!(&pkt[..hdr_iv.len()], &hdr_iv[..], "{alg:?}: header changed");
            let got = oracle_open(alg, &ek, &ak, &pkt, esn);
            assert_eq!(got.as_deref(), Some(&pt[..]), "{alg:?} len {payload_len} esn {esn:?}");
            // The oracle's own seal of the same input is byte-identical.
            assert_eq!(oracle_seal(alg, &ek, &ak, &hdr_iv, &pt, esn), pkt, "{alg:?} len {payload_len}");
        }
    }
}

#[test]
fn differential_oracle_seal_then_open() {
    let mut rng = Rng::new(2);
    for alg in Algorithm::ESP {
        for payload_len in (0..=MAX_PAYLOAD).step_by(alg.block_align()) {
            let (ek, ak) = random_keys(&mut rng, alg);
            let t = Transform::new(alg, &ek, &ak).unwrap();
            let esn = (payload_len / alg.block_align() % 2 == 0).then(|| rng.next_u32());
            let (pkt, pt) = random_packet(&mut rng, alg, payload_len);
            let hdr_iv = &pkt[..ESP_HEADER_LEN + alg.iv_len()];
            let mut sealed = oracle_seal(alg, &ek, &ak, hdr_iv, &pt, esn);
            let ct_start = hdr_iv.len();
            t.open(&mut sealed, esn).unwrap_or_else(|e| panic!("{alg:?} len {payload_len}: {e}"));
            assert_eq!(&sealed[ct_start..ct_start + pt.len()], &pt[..], "{alg:?} len {payload_len}");
            // With the ESN flipped on/off the ICV must not verify.
            let mut again = oracle_seal(alg, &ek, &ak, hdr_iv, &pt, esn);
            let other = match esn {
                Some(_) => None,
                None => Some(0),
            };
            assert_eq!(t.open(&mut again, other), Err(CryptoError::IcvMismatch));
        }
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let mut rng = Rng::new(3);
    for alg in Algorithm::ESP {
        for esn in [None, Some(0x0102_0304)] {
            let (ek, ak) = random_keys(&mut rng, alg);
            let t = Transform::new(alg, &ek, &ak).unwrap();
            // Two CBC blocks / several GCM blocks of payload.
            let (mut pkt, _) = random_packet(&mut rng, alg, 37);
            t.seal(&mut pkt, esn).unwrap();
            let mut ok = pkt.clone();
            t.open(&mut ok, esn).unwrap();
            for bit in 0..pkt.len() * 8 {
                let mut bad = pkt.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                let before = bad.clone();
                assert_eq!(t.open(&mut bad, esn), Err(CryptoError::IcvMismatch), "{alg:?} bit {bit}");
                // Nothing was decrypted: the buffer is exactly what came in,
                // so no plaintext of a forged packet is ever exposed.
                assert_eq!(bad, before, "{alg:?} bit {bit}: buffer modified");
            }
            // A flipped bit of the (unsent) ESN high half.
            for bit in 0..32 {
                let mut bad = pkt.clone();
                let wrong = Some(esn.unwrap_or(0) ^ (1 << bit));
                assert_eq!(t.open(&mut bad, wrong), Err(CryptoError::IcvMismatch));
                assert_eq!(bad, pkt);
            }
        }
    }
}

#[test]
fn truncated_and_misaligned_buffers() {
    let mut rng = Rng::new(4);
    for alg in Algorithm::ESP {
        let (ek, ak) = random_keys(&mut rng, alg);
        let t = Transform::new(alg, &ek, &ak).unwrap();
        let min = alg.min_packet_len();
        assert_eq!(min, ESP_HEADER_LEN + alg.iv_len() + alg.block_align() + alg.icv_len());
        for len in 0..min {
            let mut buf = rng.bytes(len);
            assert_eq!(t.seal(&mut buf, None), Err(CryptoError::Truncated), "{alg:?} {len}");
            assert_eq!(t.open(&mut buf, None), Err(CryptoError::Truncated), "{alg:?} {len}");
            assert_eq!(t.open(&mut buf, Some(7)), Err(CryptoError::Truncated), "{alg:?} {len}");
        }
        // Smallest legal packet round-trips.
        let mut pkt =
            build_esp(alg, 1, 1, &rng.bytes(alg.iv_len()), &pad_payload(&[], 59, alg.block_align()));
        assert_eq!(pkt.len(), min);
        t.seal(&mut pkt, None).unwrap();
        t.open(&mut pkt, None).unwrap();
        // Ciphertext not a multiple of block_align: seal refuses.
        for extra in 1..alg.block_align() {
            let mut buf = rng.bytes(min + extra);
            assert_eq!(t.seal(&mut buf, None), Err(CryptoError::Misaligned), "{alg:?} +{extra}");
            let expect =
                if alg.block_align() == 16 { CryptoError::Misaligned } else { CryptoError::IcvMismatch };
            assert_eq!(t.open(&mut buf, None), Err(expect), "{alg:?} +{extra}");
        }
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng::new(5);
    for alg in Algorithm::ESP {
        let (ek, ak) = random_keys(&mut rng, alg);
        let t = Transform::new(alg, &ek, &ak).unwrap();
        for _ in 0..2000 {
            let len = rng.below(300);
            let mut buf = rng.bytes(len);
            let esn = (rng.next_u64() & 1 == 1).then(|| rng.next_u32());
            assert!(t.open(&mut buf, esn).is_err());
            let mut buf = rng.bytes(len);
            match t.seal(&mut buf, esn) {
                Ok(()) => t.open(&mut buf, esn).unwrap(),
                Err(e) => assert!(matches!(e, CryptoError::Truncated | CryptoError::Misaligned)),
            }
        }
    }
}

#[test]
fn algorithm_parameters() {
    use Algorithm::*;
    let table = [
        (AesGcm16_128, 8, 16, 4, 20, 0, "aes128gcm16"),
        (AesGcm16_256, 8, 16, 4, 36, 0, "aes256gcm16"),
        (AesCbc128HmacSha1_96, 16, 12, 16, 16, 20, "aes128-sha1"),
        (AesCbc256HmacSha1_96, 16, 12, 16, 32, 20, "aes256-sha1"),
        (AesCbc128HmacSha256_128, 16, 16, 16, 16, 32, "aes128-sha256"),
        (AesCbc256HmacSha256_128, 16, 16, 16, 32, 32, "aes256-sha256"),
        (NullHmacSha256_128, 0, 16, 4, 0, 32, "null-sha256"),
        (AhHmacSha256_128, 0, 16, 4, 0, 32, "sha256"),
    ];
    for (alg, iv, icv, align, ek, ak, name) in table {
        assert_eq!(alg.iv_len(), iv, "{alg:?}");
        assert_eq!(alg.icv_len(), icv, "{alg:?}");
        assert_eq!(alg.block_align(), align, "{alg:?}");
        assert_eq!(alg.enc_key_len(), ek, "{alg:?}");
        assert_eq!(alg.auth_key_len(), ak, "{alg:?}");
        assert_eq!(alg.name(), name);
        assert_eq!(alg.to_string(), name);
        assert_eq!(Algorithm::from_name(name), Some(alg));
        assert_eq!(alg.is_aead(), ak == 0);
    }
    assert_eq!(Algorithm::from_name("aes128"), None);
}

#[test]
fn wrong_key_lengths_are_refused() {
    for alg in Algorithm::ALL {
        let (e, a) = (alg.enc_key_len(), alg.auth_key_len());
        assert!(Transform::new(alg, &vec![1; e], &vec![2; a]).is_ok());
        for bad in [0, 1, 15, 16, 19, 20, 24, 31, 32, 35, 36, 64] {
            if bad != e {
                let r = Transform::new(alg, &vec![1; bad], &vec![2; a]);
                assert_eq!(r.unwrap_err(), CryptoError::KeyLength { expected: e, got: bad }, "{alg:?}");
            }
            if bad != a {
                let r = Transform::new(alg, &vec![1; e], &vec![2; bad]);
                assert_eq!(r.unwrap_err(), CryptoError::KeyLength { expected: a, got: bad }, "{alg:?}");
            }
        }
        assert_eq!(Transform::new(alg, &vec![1; e], &vec![2; a]).unwrap().algorithm(), alg);
    }
}

#[test]
fn gcm_counter_and_chunk_boundaries() {
    // Lengths around the 8-block CTR chunk and partial blocks, against aes-gcm.
    let mut rng = Rng::new(6);
    for alg in [Algorithm::AesGcm16_128, Algorithm::AesGcm16_256] {
        let (ek, ak) = random_keys(&mut rng, alg);
        let t = Transform::new(alg, &ek, &ak).unwrap();
        for ct_len in (4..=4 * 128 + 20).step_by(4) {
            let pt = rng.bytes(ct_len);
            let iv = rng.bytes(8);
            let mut pkt = build_esp(alg, rng.next_u32(), rng.next_u32(), &iv, &pt);
            let hdr_iv = pkt[..16].to_vec();
            t.seal(&mut pkt, None).unwrap();
            assert_eq!(oracle_seal(alg, &ek, &ak, &hdr_iv, &pt, None), pkt, "len {ct_len}");
        }
    }
}

// ----------------------------------------------------------------------------
// Key hygiene.
// ----------------------------------------------------------------------------

fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}

#[test]
fn key_types_zeroize_on_drop() {
    // AES key schedules wipe themselves (aes crate, `zeroize` feature).
    assert_zeroize_on_drop::<aes::Aes128Enc>();
    assert_zeroize_on_drop::<aes::Aes256Enc>();
    assert_zeroize_on_drop::<aes::Aes128>();
    assert_zeroize_on_drop::<aes::Aes256>();
    // Our own key holders.
    assert_zeroize_on_drop::<super::gcm::GcmKey>();
    assert_zeroize_on_drop::<super::integ::Integ>();
}

/// The wipe that `ZeroizeOnDrop` runs on drop (the same `Zeroize` impl), applied in place: the
/// GCM salt and the HMAC inner/outer chaining values read back as zero. Reading
/// the fields after a real drop would need `unsafe`, which this crate forbids; together with
/// `key_types_zeroize_on_drop` above (drop calls this impl) it covers the same ground.
#[test]
fn transform_key_fields_are_wiped_by_their_zeroize_impl() {
    use zeroize::Zeroize;
    let mut rng = Rng::new(7);
    for alg in Algorithm::ALL {
        let (ek, ak) = random_keys(&mut rng, alg);
        let mut t = Transform::new(alg, &ek, &ak).unwrap();
        match &mut t.keys {
            Keys::Gcm(k) => {
                // Round keys and H live in the engine, which wipes them itself
                // (tested in espgw-crypto); the salt is ours.
                assert!(k.salt.iter().any(|&b| b != 0), "{alg:?}: keyed before wipe");
                k.zeroize();
                assert!(k.salt.iter().all(|&b| b == 0), "{alg:?}: salt wiped");
            }
            Keys::Cbc(k) => {
                assert!(k.integ.inner.words().iter().any(|&w| w != 0));
                k.integ.zeroize();
                assert!(k.integ.inner.words().iter().chain(k.integ.outer.words()).all(|&w| w == 0));
            }
            Keys::Null(k) => {
                assert!(k.integ.inner.words().iter().any(|&w| w != 0));
                k.integ.zeroize();
                assert!(k.integ.inner.words().iter().chain(k.integ.outer.words()).all(|&w| w == 0));
            }
            Keys::Ah(k) => {
                assert!(k.inner.words().iter().any(|&w| w != 0));
                k.zeroize();
                assert!(k.inner.words().iter().chain(k.outer.words()).all(|&w| w == 0));
            }
        }
    }
}

#[test]
fn debug_never_shows_keys() {
    let mut rng = Rng::new(8);
    for alg in Algorithm::ALL {
        let (ek, ak) = random_keys(&mut rng, alg);
        let t = Transform::new(alg, &ek, &ak).unwrap();
        let dbg = format!("{t:?}");
        let alt = format!("{t:#?}");
        assert_eq!(dbg, format!("Transform {{ algorithm: {alg:?}, .. }}"));
        for s in [&dbg, &alt] {
            for key in [&ek, &ak] {
                for w in key.windows(3) {
                    let h = to_hex(w);
                    assert!(!s.to_lowercase().contains(&h), "{alg:?}: {s} contains key hex {h}");
                }
                // Not as decimal byte lists either.
                if let Some(b) = key.first() {
                    assert!(!s.contains(&format!("[{b}, ")), "{alg:?}: {s}");
                }
            }
        }
    }
}

#[test]
fn transform_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Transform>();
    check::<Algorithm>();
    check::<CryptoError>();
}
