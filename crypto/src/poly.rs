//! Key-setup arithmetic for the SIMD GHASH, done once per key in portable
//! code (speed does not matter here; the per-packet work is in `x86`).
//!
//! The SIMD paths compute GHASH through POLYVAL (RFC 8452 Appendix A): with
//! every 16-byte block byte-reversed, GHASH_H(X1..Xn) is the byte reversal of
//! POLYVAL_{H'}(rev X1..rev Xn) where H' = mulX(rev H). In that domain a
//! block read as a little-endian u128 has the coefficient of x^i at bit i, the
//! field is GF(2)[x] / Q with Q = x^128 + x^127 + x^126 + x^121 + 1, and the
//! product is dot(a, b) = a·b·x^-128 mod Q: a carry-less multiply followed by
//! a Montgomery reduction that needs no bit shifts.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

/// Q without its x^128 term.
const Q_LOW: u128 = 0xC200_0000_0000_0000_0000_0000_0000_0001;

/// Number of precomputed key powers: the widest aggregate is a packet's last
/// partial chunk of up to 16 blocks with the AAD block before it and the
/// length block after it (18).
pub(crate) const POWERS: usize = 24;
/// Table entries: the powers, then zeros for vector lanes past the end.
pub(crate) const TABLE: usize = POWERS + 16;

/// a·x mod Q.
fn mul_x(a: u128) -> u128 {
    let carry = a >> 127;
    (a << 1) ^ (Q_LOW * carry)
}

/// dot(a, b) = a·b·x^-128 mod Q, bit by bit: Horner's rule over the bits of
/// `a`, dividing by x after each step (x^-1 exists as Q has a constant term).
pub(crate) fn dot(a: u128, b: u128) -> u128 {
    let mut acc = 0u128;
    for i in 0..128 {
        acc ^= b * ((a >> i) & 1);
        // acc·x^-1: make acc divisible by x by adding Q if needed, then shift;
        // Q's x^128 term lands on bit 127.
        let odd = acc & 1;
        acc = ((acc ^ (Q_LOW * odd)) >> 1) | (odd << 127);
    }
    acc
}

/// The table the SIMD GHASH loads its multipliers from:
/// `t[i] = H'^(POWERS - i)` for i < POWERS (dot-powers), then zeros. Block j
/// of an n-block aggregate is multiplied by `t[POWERS - n + j]` = H'^(n - j);
/// lanes past the end of the data read the zeros.
pub(crate) fn power_table(h: &[u8; 16]) -> [u128; TABLE] {
    let hp = mul_x(u128::from_be_bytes(*h));
    let mut t = [0u128; TABLE];
    let mut p = hp;
    for k in 1..=POWERS {
        t[POWERS - k] = p;
        p = dot(p, hp);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use ghash::universal_hash::{KeyInit, UniversalHash};

    /// POLYVAL through `dot` and the byte reversals equals the `ghash` crate.
    #[test]
    fn dot_matches_ghash() {
        let h = *b"\x66\xe9\x4b\xd4\xef\x8a\x2c\x3b\x88\x4c\xfa\x59\xca\x34\x2b\x2e";
        let t = power_table(&h);
        let blocks: Vec<[u8; 16]> = (0..5u8).map(|i| [i.wrapping_mul(37) ^ 0x5a; 16]).collect();
        let mut acc = 0u128;
        for b in &blocks {
            acc = dot(acc ^ u128::from_be_bytes(*b), t[POWERS - 1]);
        }
        let mut gh = ghash::GHash::new(ghash::Key::from_slice(&h));
        for b in &blocks {
            gh.update(&[(*b).into()]);
        }
        let want: [u8; 16] = gh.finalize().into();
        assert_eq!(acc.to_be_bytes(), want);
        // Aggregated form: sum of X_j · H^(n-j) with acc folded into X_1.
        let n = blocks.len();
        let mut agg = 0u128;
        for (j, b) in blocks.iter().enumerate() {
            agg ^= dot(u128::from_be_bytes(*b), t[POWERS - n + j]);
        }
        assert_eq!(agg, acc);
    }
}
