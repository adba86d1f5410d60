//! Helpers shared by the test modules.

use super::{Algorithm, ESP_HEADER_LEN};

/// Decodes hex, ignoring whitespace.
pub(super) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex length");
    digits
        .chunks(2)
        .map(|p| {
            let s = core::str::from_utf8(p).expect("ascii");
            u8::from_str_radix(s, 16).expect("hex digit")
        })
        .collect()
}

pub(super) fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// SplitMix64: deterministic test randomness without a dependency.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(super) fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(super) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// payload ‖ 1, 2, ..., n ‖ n ‖ next_header with n the least padding making
/// the length a multiple of `align` (RFC 4303 §2.4 default padding).
pub(super) fn pad_payload(payload: &[u8], next_header: u8, align: usize) -> Vec<u8> {
    let pad = (align - (payload.len() + 2) % align) % align;
    let mut v = payload.to_vec();
    v.extend((1..=pad).map(|i| i as u8));
    v.push(pad as u8);
    v.push(next_header);
    v
}

/// SPI | Seq | IV | plaintext | zeroed ICV space.
pub(super) fn build_esp(alg: Algorithm, spi: u32, seq: u32, iv: &[u8], plaintext: &[u8]) -> Vec<u8> {
    assert_eq!(iv.len(), alg.iv_len());
    let mut v = Vec::with_capacity(ESP_HEADER_LEN + iv.len() + plaintext.len() + alg.icv_len());
    v.extend_from_slice(&spi.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(iv);
    v.extend_from_slice(plaintext);
    v.resize(v.len() + alg.icv_len(), 0);
    v
}

/// Random keys of the right lengths for `alg`.
pub(super) fn random_keys(rng: &mut Rng, alg: Algorithm) -> (Vec<u8>, Vec<u8>) {
    (rng.bytes(alg.enc_key_len()), rng.bytes(alg.auth_key_len()))
}
