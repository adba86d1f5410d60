//! Helpers shared by the codec tests.

use super::payload::{decode_chain, encode_chain, Payload};
use super::PayloadType;

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(s.len() & 1, 0, "odd hex length");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Small deterministic generator for no-panic tests (xorshift64*).
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn fill(&mut self, b: &mut [u8]) {
        for x in b {
            *x = self.next() as u8;
        }
    }
}

/// Encodes `payloads` as a chain, checks it decodes back to the same list and re-encodes to the
/// same bytes, and that every strict prefix of the chain is rejected. Returns the chain bytes.
pub fn chain_round_trip(payloads: &[Payload]) -> (PayloadType, Vec<u8>) {
    let (first, bytes) = encode_chain(payloads).unwrap();
    let back = decode_chain(first, &bytes, true).unwrap();
    assert_eq!(back, payloads);
    let (first2, bytes2) = encode_chain(&back).unwrap();
    assert_eq!((first2, &bytes2), (first, &bytes));
    for n in 0..bytes.len() {
        if n == 0 && first == PayloadType::NONE {
            continue;
        }
        assert!(decode_chain(first, &bytes[..n], true).is_err(), "prefix {n} of {} accepted", bytes.len());
    }
    (first, bytes)
}
