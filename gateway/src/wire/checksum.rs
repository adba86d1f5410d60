//! Internet checksum (RFC 1071) and incremental update (RFC 1624).
//!
//! Terminology used here:
//!
//! * a *sum* is the folded 16-bit one's complement sum of some data, not yet
//!   complemented ([`sum`], [`pseudo_header_v4`], [`combine`], ...);
//! * a *checksum* is the complement of a sum, i.e. the value stored in a
//!   header's checksum field ([`checksum`], [`update`]).
//!
//! Data is interpreted as a sequence of big-endian 16-bit words; an odd
//! trailing byte is padded with a zero low byte. None of these functions
//! panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::IpProtocol;

/// Fold a wide accumulator down to a 16-bit one's complement sum.
///
/// Branch-free: four end-around-carry steps take any `u64` below 2^16 (after the first,
/// the value is below 2^33; then below 0x30000, 0x10002 and finally 0x10000). Each step maps
/// a non-zero value to a non-zero value with the same residue mod 0xffff, so the result is
/// the one a fold-until-done loop gives.
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc as u16
}

/// Checksum of a 20-byte IPv4 header (no options) whose checksum field is zero: five
/// 32-bit loads, no loop. Equal to [`checksum`] over the same bytes.
#[inline]
pub fn ipv4_header(h: &[u8; 20]) -> u16 {
    let w = |i: usize| u64::from(u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    !fold(w(0) + w(4) + w(8) + w(12) + w(16))
}

/// One's complement addition of two 16-bit values (end-around carry).
#[inline]
pub fn add(a: u16, b: u16) -> u16 {
    let (s, carry) = a.overflowing_add(b);
    s.wrapping_add(carry as u16)
}

/// One's complement sum of `data` (not complemented).
///
/// The result is `0` only if every 16-bit word of `data` is zero.
#[inline]
pub fn sum(data: &[u8]) -> u16 {
    // Summing 32-bit big-endian words into a 64-bit accumulator gives the
    // same result modulo 0xffff as summing 16-bit words, because
    // 2^16 == 1 (mod 0xffff). 2^32 additions would be needed to overflow.
    let mut acc: u64 = 0;
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        acc += u64::from(u32::from_be_bytes([q[0], q[1], q[2], q[3]]));
    }
    let mut pairs = quads.remainder().chunks_exact(2);
    for p in &mut pairs {
        acc += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold(acc)
}

/// One's complement sum of several partial sums.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// Internet checksum of `data`: the complement of [`sum`].
///
/// Computing this over a region whose checksum field is already filled in
/// yields `0` when the checksum is correct.
pub fn checksum(data: &[u8]) -> u16 {
    !sum(data)
}

/// Sum of the IPv4 pseudo-header (RFC 768 / RFC 793): source, destination,
/// zero, protocol, upper-layer length (which must fit in 16 bits on IPv4;
/// larger values are summed as a 32-bit quantity and cannot occur on the
/// wire).
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, length: u32) -> u16 {
    combine(&[sum(&src.octets()), sum(&dst.octets()), u16::from(protocol.0), fold(u64::from(length))])
}

/// Sum of the IPv6 pseudo-header (RFC 8200 section 8.1): source, destination,
/// 32-bit upper-layer length, three zero bytes, next header.
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: IpProtocol, length: u32) -> u16 {
    combine(&[sum(&src.octets()), sum(&dst.octets()), u16::from(next_header.0), fold(u64::from(length))])
}

/// Pseudo-header sum for either IP version.
///
/// For matching families this is [`pseudo_header_v4`] or
/// [`pseudo_header_v6`]. Mixed families have no meaning on the wire; each
/// address is then summed over its own length, so the function stays total
/// (it never panics) but the result is only useful for consistency.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: IpProtocol, length: u32) -> u16 {
    let addr_sum = |a: IpAddr| match a {
        IpAddr::V4(a) => sum(&a.octets()),
        IpAddr::V6(a) => sum(&a.octets()),
    };
    combine(&[addr_sum(src), addr_sum(dst), u16::from(protocol.0), fold(u64::from(length))])
}

/// Incrementally update a checksum after one 16-bit word changed from
/// `old_word` to `new_word` (RFC 1624, eqn. 3: `HC' = ~(~HC + ~m + m')`).
///
/// For data whose sum cannot be `+0` (e.g. any IPv4 header, which has a
/// non-zero version word) the result is bit-identical to a full recompute,
/// including the `0x0000`/`0xffff` corner cases that trip up RFC 1141.
pub fn update(old_checksum: u16, old_word: u16, new_word: u16) -> u16 {
    !add(add(!old_checksum, !old_word), new_word)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::XorShift;

    /// Straightforward reference: 16-bit words, 32-bit accumulator.
    fn naive_sum(data: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        let mut i = 0;
        while i < data.len() {
            let hi = u32::from(data[i]) << 8;
            let lo = data.get(i + 1).map_or(0, |&b| u32::from(b));
            acc += hi | lo;
            acc = (acc & 0xffff) + (acc >> 16);
            i += 2;
        }
        acc as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_and_empty() {
        assert_eq!(sum(&[]), 0);
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(sum(&[0xab]), 0xab00);
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn add_end_around_carry() {
        assert_eq!(add(0xffff, 0x0001), 0x0001);
        assert_eq!(add(0xffff, 0x0000), 0xffff);
        assert_eq!(add(0x8000, 0x8000), 0x0001);
        assert_eq!(add(0x1234, 0x0001), 0x1235);
    }

    #[test]
    fn sum_matches_naive_reference() {
        let mut rng = XorShift::new(0x5eed_0001);
        for _ in 0..2000 {
            let len = rng.below(80);
            let mut v = vec![0u8; len];
            rng.fill(&mut v);
            if rng.below(4) == 0 {
                v.iter_mut().for_each(|b| *b = 0xff);
            }
            assert_eq!(sum(&v), naive_sum(&v), "{v:02x?}");
        }
    }

    #[test]
    fn combine_is_sum_of_parts() {
        let mut rng = XorShift::new(77);
        for _ in 0..500 {
            let mut v = vec![0u8; 2 * rng.below(40)];
            rng.fill(&mut v);
            let cut = 2 * rng.below(v.len() / 2 + 1);
            let (a, b) = v.split_at(cut);
            assert_eq!(combine(&[sum(a), sum(b)]), sum(&v));
        }
    }

    #[test]
    fn pseudo_headers_match_byte_layout() {
        let s4 = Ipv4Addr::new(192, 0, 2, 1);
        let d4 = Ipv4Addr::new(198, 51, 100, 1);
        let mut ph = Vec::new();
        ph.extend_from_slice(&s4.octets());
        ph.extend_from_slice(&d4.octets());
        ph.extend_from_slice(&[0, 17, 0x01, 0x23]);
        assert_eq!(pseudo_header_v4(s4, d4, IpProtocol::UDP, 0x123), sum(&ph));
        assert_eq!(pseudo_header(s4.into(), d4.into(), IpProtocol::UDP, 0x123), sum(&ph));

        let s6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let d6: Ipv6Addr = "fe80::1:2:3:4".parse().unwrap();
        let mut ph = Vec::new();
        ph.extend_from_slice(&s6.octets());
        ph.extend_from_slice(&d6.octets());
        ph.extend_from_slice(&0x0001_2345u32.to_be_bytes());
        ph.extend_from_slice(&[0, 0, 0, 58]);
        assert_eq!(pseudo_header_v6(s6, d6, IpProtocol::ICMPV6, 0x0001_2345), sum(&ph));
        assert_eq!(pseudo_header(s6.into(), d6.into(), IpProtocol::ICMPV6, 0x0001_2345), sum(&ph));
        // Mixed families do not panic.
        let _ = pseudo_header(s4.into(), d6.into(), IpProtocol::UDP, 8);
    }

    /// Pick 16-bit words biased towards the corner cases.
    fn edgy_word(rng: &mut XorShift) -> u16 {
        const EDGES: [u16; 7] = [0x0000, 0xffff, 0x0001, 0xfffe, 0x8000, 0x7fff, 0x0100];
        if rng.below(2) == 0 {
            EDGES[rng.below(EDGES.len())]
        } else {
            rng.next_u64() as u16
        }
    }

    #[test]
    fn incremental_update_equals_recompute() {
        let mut rng = XorShift::new(0x1624);
        let mut checked = 0;
        for _ in 0..20_000 {
            let words = 1 + rng.below(12);
            let mut buf: Vec<u16> = (0..words).map(|_| edgy_word(&mut rng)).collect();
            let bytes = |b: &[u16]| b.iter().flat_map(|w| w.to_be_bytes()).collect::<Vec<u8>>();
            let old_ck = checksum(&bytes(&buf));
            let i = rng.below(words);
            let old_word = buf[i];
            buf[i] = edgy_word(&mut rng);
            // RFC 1624 eqn. 3 is exact unless the new data sums to +0, which
            // only happens for all-zero data (impossible for IP headers).
            if buf.iter().all(|&w| w == 0) {
                continue;
            }
            let new_ck = checksum(&bytes(&buf));
            assert_eq!(
                update(old_ck, old_word, buf[i]),
                new_ck,
                "words {buf:04x?} idx {i} old {old_word:04x}"
            );
            checked += 1;
        }
        assert!(checked > 15_000);
    }

    #[test]
    fn incremental_update_checksum_corner_values() {
        // Old checksum 0x0000 (data sums to 0xffff).
        let data = [0x4500u16, 0xbaff];
        let bytes: Vec<u8> = data.iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(checksum(&bytes), 0x0000);
        let new = [0x4500u16, 0xb9ff];
        let nb: Vec<u8> = new.iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(update(0x0000, 0xbaff, 0xb9ff), checksum(&nb));
        assert_eq!(update(0x0000, 0xbaff, 0xb9ff), 0x0100);
        // New checksum becomes 0x0000.
        assert_eq!(update(0x0100, 0xb9ff, 0xbaff), 0x0000);
        // Changing a word to itself is a no-op, including 0xffff words.
        for ck in [0x0000u16, 0x1234, 0xfffe] {
            for w in [0x0000u16, 0xffff, 0x4001] {
                assert_eq!(update(ck, w, w), ck);
            }
        }
    }
}

#[cfg(test)]
mod fold_tests {
    use super::*;

    fn fold_loop(mut acc: u64) -> u16 {
        while acc >> 16 != 0 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn branch_free_fold_equals_the_loop() {
        let edges = [0u64, 1, 0xffff, 0x1_0000, 0x1_fffe, 0xffff_ffff, 0x1_0000_0000, u64::MAX, u64::MAX - 1];
        for a in edges {
            assert_eq!(fold(a), fold_loop(a), "{a:#x}");
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..1_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for a in [x, x >> 20, x >> 40, x & 0x3_ffff] {
                assert_eq!(fold(a), fold_loop(a), "{a:#x}");
            }
        }
    }

    #[test]
    fn ipv4_header_checksum_equals_the_general_one() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..100_000 {
            let mut h = [0u8; 20];
            for b in h.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            h[10] = 0;
            h[11] = 0;
            assert_eq!(ipv4_header(&h), checksum(&h));
        }
        assert_eq!(ipv4_header(&[0; 20]), 0xffff);
        assert_eq!(ipv4_header(&[0xff; 20]), checksum(&[0xff; 20]));
    }
}
