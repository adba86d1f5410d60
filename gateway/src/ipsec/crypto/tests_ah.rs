//! The AH transform: HMAC-SHA-256-128 against RFC 4868 §2.7.2.1 and the `hmac` crate, ESN
//! appended to the ICV input, and refusal to mix ESP and AH calls.

use hmac::{Hmac, Mac};

use super::test_util::{hex, Rng};
use super::{Algorithm, CryptoError, Transform};

const ALG: Algorithm = Algorithm::AhHmacSha256_128;

fn oracle(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes()[..16].to_vec()
}

#[test]
fn rfc4868_auth256_test_cases() {
    // RFC 4868 §2.7.2.1, AUTH256-1 and AUTH256-3 (the 32-byte key cases), truncated to 128 bits.
    let cases = [
        (vec![0x0b; 32], b"Hi There".to_vec(), "198a607eb44bfbc69903a0f1cf2bbdc5"),
        ((1..=32).collect::<Vec<u8>>(), vec![0xcd; 50], "372efcf9b40b35c2115b1346903d2ef4"),
    ];
    for (key, data, want) in cases {
        let t = Transform::new(ALG, &[], &key).unwrap();
        let mut icv = [0u8; 16];
        t.ah_sign(&data, None, &mut icv).unwrap();
        assert_eq!(icv.to_vec(), hex(want));
        assert_eq!(t.ah_verify(&data, None, &icv), Ok(()));
    }
}

#[test]
fn esn_high_half_is_appended_to_the_icv_input() {
    let mut rng = Rng::new(0xa4);
    for len in [0usize, 1, 55, 56, 63, 64, 65, 119, 120, 1500] {
        let key = rng.bytes(32);
        let data = rng.bytes(len);
        let hi = rng.next_u32();
        let t = Transform::new(ALG, &[], &key).unwrap();
        let mut icv = [0u8; 16];
        t.ah_sign(&data, Some(hi), &mut icv).unwrap();
        assert_eq!(icv.to_vec(), oracle(&key, &[&data, &hi.to_be_bytes()]), "len {len}");
        assert_eq!(t.ah_verify(&data, Some(hi), &icv), Ok(()));
        assert_eq!(t.ah_verify(&data, None, &icv), Err(CryptoError::IcvMismatch), "ESN off");
        assert_eq!(t.ah_verify(&data, Some(hi ^ 1), &icv), Err(CryptoError::IcvMismatch), "wrong hi");
        t.ah_sign(&data, None, &mut icv).unwrap();
        assert_eq!(icv.to_vec(), oracle(&key, &[&data]), "len {len} without ESN");
    }
}

#[test]
fn esp_and_ah_calls_do_not_mix() {
    let ah = Transform::new(ALG, &[], &[7; 32]).unwrap();
    let mut pkt = vec![0u8; 64];
    assert_eq!(ah.seal(&mut pkt, None), Err(CryptoError::WrongProtocol));
    assert_eq!(ah.open(&mut pkt, None), Err(CryptoError::WrongProtocol));
    let esp = Transform::new(Algorithm::NullHmacSha256_128, &[], &[7; 32]).unwrap();
    let mut icv = [0u8; 16];
    assert_eq!(esp.ah_sign(&pkt, None, &mut icv), Err(CryptoError::WrongProtocol));
    assert_eq!(esp.ah_verify(&pkt, None, &icv), Err(CryptoError::WrongProtocol));
    assert_eq!(ah.ah_sign(&pkt, None, &mut icv[..12]), Err(CryptoError::Truncated));
    assert_eq!(ah.ah_verify(&pkt, None, &icv[..15]), Err(CryptoError::Truncated));
}

#[test]
fn ah_keys_have_fixed_lengths_and_never_print() {
    assert_eq!(
        Transform::new(ALG, &[1], &[7; 32]).err(),
        Some(CryptoError::KeyLength { expected: 0, got: 1 })
    );
    assert_eq!(
        Transform::new(ALG, &[], &[7; 20]).err(),
        Some(CryptoError::KeyLength { expected: 32, got: 20 })
    );
    let t = Transform::new(ALG, &[], &[0x5a; 32]).unwrap();
    let dbg = format!("{t:?}");
    assert!(dbg.contains("AhHmacSha256_128") && !dbg.contains("5a") && !dbg.contains("90"), "{dbg}");
    assert_eq!(Algorithm::from_name("sha256"), Some(ALG));
    assert!(ALG.is_ah() && Algorithm::ESP.iter().all(|a| !a.is_ah()));
    assert_eq!(Algorithm::ALL.len(), Algorithm::ESP.len() + Algorithm::AH.len());
}
