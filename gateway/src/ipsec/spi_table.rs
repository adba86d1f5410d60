//! Inbound SPI → SA: the one lookup every ESP and AH packet makes before anything else.
//!
//! An open-addressed table with linear probing, rebuilt whole with each snapshot and never
//! changed after. Each 16-byte bucket holds the SPI, the SA's slot and a reference to the SA
//! entry itself, so a lookup reads one bucket (four to a cache line) and nothing else: with
//! 100,000 SAs the lines a worker's caches must hold are the table's, not a hash map's
//! control bytes, its buckets and the slot array besides.
//!
//! - At most half full: with 100,000 random SPIs four in five are found in the first bucket.
//!   A sparser table is slower, not faster: its lines spread over more pages than the TLB
//!   holds (measured with SPIs that all sat in their first bucket: 2.4 ns per lookup with 8
//!   buckets per SA, 1.6 ns with 2).
//! - SPI 0 is reserved (RFC 4303 §2.1 and RFC 4302 §2.4: never sent), so a bucket with SPI 0
//!   is empty and ends a probe; a packet carrying SPI 0 finds nothing.
//! - SPIs chosen by different peers can collide: such an SPI's bucket is marked and the
//!   caller tells the SAs apart by outer destination.

use super::sadb::SaEntry;
use std::sync::Arc;

/// What a bucket says about an SPI.
pub(crate) enum Found<'t> {
    /// The one inbound SA with this SPI.
    Sa(u32, &'t SaEntry),
    /// Several inbound SAs share this SPI: look it up with the destination.
    Colliding,
}

#[derive(Clone, Default)]
struct Bucket {
    spi: u32,
    slot: u32,
    /// `None` with `spi != 0`: the SPI is shared by several SAs.
    entry: Option<Arc<SaEntry>>,
}

pub(crate) struct SpiTable {
    buckets: Box<[Bucket]>,
    /// `64 - log2(buckets.len())`: the index is the top bits of the hash.
    shift: u32,
    len: usize,
}

/// Spreads SPIs over the table: peers pick them at random, but static SAs are often numbered
/// in sequence (Fibonacci hashing on 64 bits, keeping the top bits).
#[inline(always)]
fn hash(spi: u32) -> u64 {
    u64::from(spi).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl SpiTable {
    /// A table of `sas` (SPI, slot, entry); an SPI that appears more than once is marked
    /// as colliding. SPI 0 is left out.
    pub(crate) fn build<'a>(sas: impl ExactSizeIterator<Item = (u32, u32, &'a Arc<SaEntry>)>) -> SpiTable {
        let want = (sas.len() * 2).max(8).next_power_of_two();
        let mut t = SpiTable {
            buckets: vec![Bucket::default(); want].into_boxed_slice(),
            shift: 64 - want.trailing_zeros(),
            len: 0,
        };
        let mask = want - 1;
        for (spi, slot, entry) in sas {
            if spi == 0 {
                continue;
            }
            let mut i = t.home(spi);
            loop {
                let b = &mut t.buckets[i];
                if b.spi == 0 {
                    *b = Bucket { spi, slot, entry: Some(entry.clone()) };
                    t.len += 1;
                    break;
                }
                if b.spi == spi {
                    b.entry = None;
                    break;
                }
                i = (i + 1) & mask;
            }
        }
        t
    }

    #[inline(always)]
    fn home(&self, spi: u32) -> usize {
        (hash(spi) >> self.shift) as usize
    }

    /// Number of distinct SPIs.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn get(&self, spi: u32) -> Option<Found<'_>> {
        let mask = self.buckets.len() - 1;
        let mut i = self.home(spi);
        loop {
            let b = self.buckets.get(i)?;
            if b.spi == spi {
                return match &b.entry {
                    Some(e) => Some(Found::Sa(b.slot, e)),
                    None if spi != 0 => Some(Found::Colliding),
                    None => None,
                };
            }
            if b.spi == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// The longest probe any present SPI takes, and how many SPIs sit in their home bucket
    /// (tests).
    #[cfg(test)]
    fn probes(&self) -> (usize, usize) {
        let mask = self.buckets.len() - 1;
        let (mut worst, mut home) = (0, 0);
        for (at, b) in self.buckets.iter().enumerate() {
            if b.spi != 0 {
                let d = at.wrapping_sub(self.home(b.spi)) & mask;
                worst = worst.max(d);
                home += usize::from(d == 0);
            }
        }
        (worst + 1, home)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipsec::sadb::SaDirection;
    use crate::wire::test_util::XorShift;

    fn entry(spi: u32) -> Arc<SaEntry> {
        let sa = crate::ipsec::sadb::tests::sa(spi, "203.0.113.1");
        Arc::new(SaEntry {
            uid: u64::from(spi),
            direction: SaDirection::In,
            sa: Arc::new(sa),
            successor: None,
            installed: std::time::Instant::now(),
            vti: None,
        })
    }

    fn slot_of(t: &SpiTable, spi: u32) -> Option<u32> {
        match t.get(spi)? {
            Found::Sa(slot, e) => {
                assert_eq!(e.sa.spi, spi);
                Some(slot)
            }
            Found::Colliding => Some(u32::MAX),
        }
    }

    /// `n` distinct random SPIs of 256 or more, as IKE allocates them.
    fn random_spis(n: usize) -> Vec<u32> {
        let (mut rng, mut seen) = (XorShift::new(0x2545_f491_4f6c_dd1d), std::collections::HashSet::new());
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            let s = (rng.next_u64() >> 32) as u32;
            if s >= 256 && seen.insert(s) {
                v.push(s);
            }
        }
        v
    }

    #[test]
    fn every_spi_is_found_and_no_other() {
        // Random-looking SPIs, sequential ones, and ones differing only in the high bits.
        let spis: Vec<u32> = random_spis(3000)
            .into_iter()
            .filter(|s| !(0x1000..0x1400).contains(s) && s & 0x00ff_ffff != 0)
            .chain(0x1000..0x1400)
            .chain((1..200).map(|i| i << 24))
            .collect();
        let entries: Vec<_> = spis.iter().map(|&s| entry(s)).collect();
        let t = SpiTable::build(spis.iter().zip(&entries).enumerate().map(|(i, (&s, e))| (s, i as u32, e)));
        assert_eq!(t.len(), spis.len());
        for (i, &s) in spis.iter().enumerate() {
            assert_eq!(slot_of(&t, s), Some(i as u32), "spi {s:#x}");
        }
        for s in [0u32, 1, 255, 0xffff_ffff, 0x0fff, 0x1400, 200 << 24] {
            assert_eq!(slot_of(&t, s), None, "spi {s:#x}");
        }
        assert!(t.probes().0 <= 16, "longest probe {}", t.probes().0);
    }

    #[test]
    fn a_shared_spi_is_marked_and_spi_zero_is_never_found() {
        let (a, b, c, z) = (entry(0x500), entry(0x500), entry(0x501), entry(0));
        let t = SpiTable::build([(0x500, 0, &a), (0x500, 1, &b), (0x501, 2, &c), (0, 3, &z)].into_iter());
        assert!(matches!(t.get(0x500), Some(Found::Colliding)));
        assert_eq!(slot_of(&t, 0x501), Some(2));
        assert!(t.get(0).is_none());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn an_empty_table_finds_nothing() {
        let t = SpiTable::build(std::iter::empty());
        assert_eq!(t.len(), 0);
        assert!(t.get(0x1234).is_none() && t.get(0).is_none());
    }

    #[test]
    fn a_hundred_thousand_spis_probe_briefly() {
        let entries: Vec<_> = random_spis(100_000).into_iter().map(entry).collect();
        let t = SpiTable::build(entries.iter().enumerate().map(|(i, e)| (e.sa.spi, i as u32, e)));
        assert_eq!(t.len(), 100_000);
        // Four in five are found in the first bucket read.
        let (longest, home) = t.probes();
        assert!(longest <= 40 && home >= 78_000, "longest probe {longest}, {home} at home");
        for (i, e) in entries.iter().enumerate().step_by(97) {
            assert_eq!(slot_of(&t, e.sa.spi), Some(i as u32));
        }
    }
}
