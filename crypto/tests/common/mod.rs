//! Helpers shared by the integration tests.
#![allow(dead_code)]

use espgw_crypto::Backend;

/// Every backend this CPU runs (Soft always). Prints what is skipped, so a
/// run on a machine without AVX-512 says so.
pub fn backends() -> Vec<Backend> {
    let (on, off): (Vec<Backend>, Vec<Backend>) = Backend::ALL.into_iter().partition(|b| b.is_available());
    if !off.is_empty() {
        eprintln!("backends not available on this CPU (skipped): {off:?}");
    }
    on
}

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// xorshift64*: a deterministic generator for the property loops.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn fill(&mut self, b: &mut [u8]) {
        for x in b {
            *x = self.next_u64() as u8;
        }
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.fill(&mut v);
        v
    }
}
