//! The inbound SPI index: SPI → SADB slot, the lookup every inbound ESP and AH packet starts
//! with.
//!
//! One open-addressing table of 8-byte entries (SPI in the high half, slot in the low half),
//! linear probing, at most half full. A lookup hashes the SPI (Fibonacci hashing: the high
//! bits of a multiplication) to its home entry and reads on from there to the SPI or an
//! empty entry: at half load that is usually the home entry itself and almost always its
//! cache line. With 100,000 SAs the table is 2 MiB, where a general hash map (a control
//! group, a bucket, then the value) touches three places per lookup.
//!
//! SPI 0 is reserved (RFC 4303 §2.1) and never installed by the config or IKE; an entry of 0
//! marks an empty place. Should an SA with SPI 0 be installed anyway, it is kept aside.
//!
//! The table is built once per snapshot and never changed: insertion needs no deletion or
//! resizing logic.

/// An empty entry (SPI 0 is never a table entry).
const EMPTY: u64 = 0;

/// SPI → slot, immutable once built.
#[derive(Clone, Debug, Default)]
pub struct SpiTable {
    /// `1 << bits` entries; a search wraps from the last to the first.
    entries: Box<[u64]>,
    /// log2 of the number of entries (0 while empty).
    bits: u32,
    len: usize,
    zero: Option<u32>,
}

impl SpiTable {
    /// A table of `pairs` (SPI, slot). A repeated SPI keeps the last slot given for it.
    pub fn build(pairs: &[(u32, u32)]) -> SpiTable {
        // At most half full, and at least 16 entries.
        let bits = (pairs.len().max(8) * 2).next_power_of_two().trailing_zeros();
        let mut t = SpiTable { entries: vec![EMPTY; 1 << bits].into_boxed_slice(), bits, len: 0, zero: None };
        let mask = t.entries.len() - 1;
        for &(spi, slot) in pairs {
            if spi == 0 {
                t.len += usize::from(t.zero.is_none());
                t.zero = Some(slot);
                continue;
            }
            let mut i = t.home(spi);
            loop {
                let e = t.entries[i];
                if e == EMPTY || (e >> 32) as u32 == spi {
                    t.len += usize::from(e == EMPTY);
                    t.entries[i] = (spi as u64) << 32 | slot as u64;
                    break;
                }
                i = (i + 1) & mask;
            }
        }
        t
    }

    /// The home entry of `spi`.
    #[inline(always)]
    fn home(&self, spi: u32) -> usize {
        // The high `bits` bits of the product; `bits` is at least 4 once built.
        (spi.wrapping_mul(0x9e37_79b9) as u64 >> (32 - self.bits)) as usize
    }

    /// The slot of the SA with `spi`.
    #[inline]
    pub fn get(&self, spi: u32) -> Option<u32> {
        if spi == 0 || self.entries.is_empty() {
            return self.zero.filter(|_| spi == 0);
        }
        let mask = self.entries.len() - 1;
        let mut i = self.home(spi);
        // At most half full: an empty entry ends every search.
        loop {
            let e = *self.entries.get(i)?;
            if (e >> 32) as u32 == spi {
                return Some(e as u32);
            }
            if e == EMPTY {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Number of SPIs.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A xorshift generator: reproducible SPIs and slots.
    fn rng(seed: u64) -> impl FnMut() -> u32 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 16) as u32
        }
    }

    #[test]
    fn agrees_with_a_hash_map_on_present_and_absent_spis() {
        for (n, seed) in [(0usize, 1u64), (1, 2), (7, 3), (8, 4), (9, 5), (1000, 6), (100_000, 7)] {
            let mut next = rng(seed);
            let pairs: Vec<(u32, u32)> = (0..n).map(|i| (next() | 0x100, i as u32)).collect();
            let t = SpiTable::build(&pairs);
            let model: HashMap<u32, u32> = pairs.iter().copied().collect();
            assert_eq!(t.len(), model.len());
            for (&spi, &slot) in &model {
                assert_eq!(t.get(spi), Some(slot), "{n} SPIs: {spi:#x}");
            }
            for _ in 0..10_000 {
                let spi = next();
                assert_eq!(t.get(spi), model.get(&spi).copied(), "{n} SPIs: absent {spi:#x}");
            }
        }
    }

    #[test]
    fn sequential_spis_and_spis_that_share_a_home_are_all_found() {
        // Sequential SPIs (a peer's counter) and SPIs that share a home bucket (more than a
        // bucket holds, so they spill into the next) must all be found.
        let seq: Vec<(u32, u32)> = (0..5000u32).map(|i| (0x1000 + i, i)).collect();
        let t = SpiTable::build(&seq);
        assert!(seq.iter().all(|&(s, i)| t.get(s) == Some(i)));
        assert_eq!(t.get(0x1000 + 5000), None);
        // Twelve SPIs with one home entry in a table built for twelve.
        let probe = SpiTable::build(&(1..=12u32).map(|i| (i << 8, i)).collect::<Vec<_>>());
        let same_home: Vec<u32> = (1..=u32::MAX / 0x1000)
            .map(|k| k * 0x1000)
            .filter(|&s| probe.home(s) == probe.home(0x100))
            .take(12)
            .collect();
        assert_eq!(same_home.len(), 12);
        let pairs: Vec<(u32, u32)> = same_home.iter().enumerate().map(|(i, &s)| (s, i as u32)).collect();
        let t = SpiTable::build(&pairs);
        assert_eq!(t.bits, probe.bits);
        for &(s, i) in &pairs {
            assert_eq!(t.get(s), Some(i));
        }
        assert_eq!(t.get(0x100), None);
    }

    #[test]
    fn a_cluster_at_the_last_entry_wraps_to_the_first() {
        let probe = SpiTable::build(&(1..=8u32).map(|i| (i << 8, i)).collect::<Vec<_>>());
        let last = (1usize << probe.bits) - 1;
        let spis: Vec<u32> =
            (1..=u32::MAX / 0x100).map(|k| k * 0x100).filter(|&s| probe.home(s) == last).take(6).collect();
        let pairs: Vec<(u32, u32)> = spis.iter().enumerate().map(|(i, &s)| (s, i as u32)).collect();
        let t = SpiTable::build(&pairs);
        assert_eq!(t.bits, probe.bits);
        for &(s, i) in &pairs {
            assert_eq!(t.get(s), Some(i));
        }
        assert_eq!(t.get(spis[0] + 1), None);
    }

    #[test]
    fn spi_zero_and_repeats() {
        let t = SpiTable::build(&[(0, 4), (0x300, 1), (0x300, 2)]);
        assert_eq!(t.get(0), Some(4));
        assert_eq!(t.get(0x300), Some(2), "the last slot given wins");
        assert_eq!(t.len(), 2);
        let empty = SpiTable::build(&[]);
        assert!(empty.is_empty());
        assert_eq!(empty.get(0), None);
        assert_eq!(empty.get(0x300), None);
        assert_eq!(SpiTable::default().get(0x300), None);
    }
}
