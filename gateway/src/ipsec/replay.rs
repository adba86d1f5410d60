//! ESP anti-replay window (RFC 4303 §3.4.3 and Appendix A, RFC 6479, RFC 4304).
//!
//! One [`ReplayWindow`] belongs to one inbound SA and is used by a single
//! owner thread. It remembers which of the last `size` sequence numbers (up
//! to and including the highest one accepted so far) have been seen.
//!
//! # Call order
//!
//! 1. [`ReplayWindow::check`] with the 32 bits carried in the ESP header,
//!    *before* any decryption or ICV work. It is read-only. On success it
//!    returns the full 64-bit sequence number: with ESN the high 32 bits are
//!    reconstructed here and must be fed into the ICV computation (RFC 4303
//!    §2.2.1); without ESN it is just the wire value.
//! 2. Verify the ICV. If it fails, drop the packet and do **not** touch the
//!    window.
//! 3. [`ReplayWindow::update`] with the value `check` returned. It repeats
//!    the check (another copy of the same packet may have been accepted
//!    between steps 1 and 3) and only on success records the number,
//!    advancing the window if it is the new highest.
//!
//! # Errors
//!
//! * [`ReplayError::Replayed`]: the number lies inside the window and was
//!   already accepted — a duplicate.
//! * [`ReplayError::TooOld`]: the number lies at or below the bottom of the
//!   window (`seq <= highest - size`), so it can no longer be told apart
//!   from a replay. Also used for numbers that cannot exist: with ESN a low
//!   half that would need high bits below 0 or above `u32::MAX`; without
//!   ESN a value above `u32::MAX` passed to `update`.
//! * [`ReplayError::Zero`]: sequence number 0. The first packet of an SA
//!   carries 1, so 0 is never valid. Without ESN this also catches the
//!   32-bit counter wrapping: a 32-bit SA must be rekeyed before its counter
//!   passes `0xFFFF_FFFF`; after that the window rejects 0 (`Zero`) and
//!   every small number (`TooOld`), it never starts over.
//!
//! # ESN reconstruction (RFC 4303 Appendix A2.1)
//!
//! Let `T = highest`, `Th`/`Tl` its high/low 32 bits, `W = size` and
//! `Bl = Tl - W + 1 (mod 2^32)`, the low half of the window bottom.
//!
//! * Case A, `Tl >= W - 1`: the window lies within one 2^32 subspace. A low
//!   half `>= Bl` belongs to subspace `Th` (inside the window or ahead of
//!   it); one `< Bl` must have wrapped ahead, subspace `Th + 1`.
//! * Case B, `Tl < W - 1`: the window spans subspaces `Th - 1` and `Th`. A
//!   low half `>= Bl` is a late packet from subspace `Th - 1`; one `< Bl`
//!   belongs to `Th`.
//!
//! The result is exact for any packet inside the window or ahead of
//! `highest` by less than 2^31. Anything else (much older than the window)
//! may be given wrong high bits; the ICV then fails and the packet is dropped
//! without `update` being called, which is why the ICV must cover the
//! reconstructed high bits.
//!
//! # Data structure and cost (RFC 6479)
//!
//! The bitmap is a ring of `size / 64 + 1` `u64` words; the word for
//! sequence number `s` holds block `s / 64`. The spare word means that
//! advancing the window never shifts bits: blocks that enter the window get
//! their word cleared as a whole. Storage is allocated once in
//! [`ReplayWindow::new`]; `check` and `update` never allocate or panic.
//!
//! `check` is O(1). `update` is O(1) plus one word clear per 64-number block
//! the window advances; a jump of a whole window or more clears every word
//! once, so the worst case is `size / 64 + 1` word writes, however far the
//! jump.

use std::fmt;

/// Window size used when the configuration does not ask for another one.
pub const DEFAULT_WINDOW: u32 = 1024;
/// Smallest window; smaller requests are raised to this.
pub const MIN_WINDOW: u32 = 64;
/// Largest window; larger requests are lowered to this (a 128 KiB bitmap).
/// ESN reconstruction needs the window well below 2^31.
pub const MAX_WINDOW: u32 = 1 << 20;

const WORD_BITS: u64 = 64;

/// Why a packet must be dropped by the anti-replay check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplayError {
    /// Inside the window and already accepted.
    Replayed,
    /// At or below the bottom of the window, or a sequence number that
    /// cannot exist on this SA (see the module documentation).
    TooOld,
    /// Sequence number 0, which is never sent.
    Zero,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReplayError::Replayed => "replayed ESP sequence number",
            ReplayError::TooOld => "ESP sequence number left of the replay window",
            ReplayError::Zero => "ESP sequence number 0",
        })
    }
}

impl std::error::Error for ReplayError {}

/// Anti-replay state of one inbound SA. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    /// Ring of `size / 64 + 1` words.
    bitmap: Box<[u64]>,
    /// Ring index of the word holding block `highest / 64`.
    top: usize,
    /// Highest sequence number accepted; 0 before any.
    highest: u64,
    /// Window size in sequence numbers, a multiple of 64.
    size: u32,
    /// Extended (64-bit) sequence numbers negotiated for the SA.
    esn: bool,
    /// Anti-replay switched off for this SA (RFC 4303 §3.4.3 lets the receiver do so; only
    /// manually keyed SAs without ESN may ask for it).
    disabled: bool,
}

impl ReplayWindow {
    /// Creates an empty window. `size` is clamped to
    /// [`MIN_WINDOW`]..=[`MAX_WINDOW`] and rounded up to a multiple of 64.
    pub fn new(size: u32, esn: bool) -> Self {
        let clamped = size.clamp(MIN_WINDOW, MAX_WINDOW);
        let size = clamped.div_ceil(64) * 64;
        let words = (size / 64) as usize + 1;
        ReplayWindow {
            bitmap: vec![0u64; words].into_boxed_slice(),
            top: 0,
            highest: 0,
            size,
            esn,
            disabled: false,
        }
    }

    /// A window that accepts every sequence number: anti-replay off (no ESN: without a
    /// window the high half of an extended sequence number cannot be inferred).
    pub fn disabled() -> Self {
        ReplayWindow { bitmap: Box::new([]), top: 0, highest: 0, size: 0, esn: false, disabled: true }
    }

    /// Whether anti-replay is off.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Window size in sequence numbers (after clamping and rounding).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Whether the SA uses extended sequence numbers.
    pub fn esn(&self) -> bool {
        self.esn
    }

    /// Highest sequence number accepted so far (0 before any).
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// Read-only: may this packet be processed? `seq_low` is the sequence
    /// number field of the ESP header. Returns the full 64-bit sequence
    /// number to use for the ICV (ESN high bits) and to pass to
    /// [`update`](Self::update).
    pub fn check(&self, seq_low: u32) -> Result<u64, ReplayError> {
        if self.disabled {
            return Ok(u64::from(seq_low));
        }
        let seq = if self.esn { self.reconstruct(seq_low)? } else { u64::from(seq_low) };
        self.check_full(seq)?;
        Ok(seq)
    }

    /// After the ICV verified: record `seq` (the value `check` returned).
    /// Checks again first and returns `Err(Replayed)`/`Err(TooOld)`/
    /// `Err(Zero)` without changing anything if the number is not (or no
    /// longer) acceptable.
    pub fn update(&mut self, seq: u64) -> Result<(), ReplayError> {
        if self.disabled {
            self.highest = self.highest.max(seq);
            return Ok(());
        }
        if !self.esn && seq > u64::from(u32::MAX) {
            return Err(ReplayError::TooOld);
        }
        self.check_full(seq)?;
        if seq > self.highest {
            self.advance(seq);
        }
        let (idx, bit) = self.slot(seq);
        match self.bitmap.get_mut(idx) {
            Some(word) => {
                *word |= bit;
                Ok(())
            }
            // Unreachable: `slot` always yields an in-range index. Fail
            // closed rather than panic.
            None => Err(ReplayError::Replayed),
        }
    }

    /// RFC 4303 Appendix A2.1: high 32 bits for a received low half.
    fn reconstruct(&self, seq_low: u32) -> Result<u64, ReplayError> {
        let th = (self.highest >> 32) as u32;
        let tl = self.highest as u32;
        let w1 = self.size - 1; // size <= MAX_WINDOW < 2^31, never 0
        let bl = tl.wrapping_sub(w1);
        let high = if tl >= w1 {
            // Case A: window inside subspace Th.
            if seq_low >= bl {
                th
            } else {
                th.checked_add(1).ok_or(ReplayError::TooOld)?
            }
        } else {
            // Case B: window spans subspaces Th - 1 and Th.
            if seq_low >= bl {
                th.checked_sub(1).ok_or(ReplayError::TooOld)?
            } else {
                th
            }
        };
        Ok((u64::from(high) << 32) | u64::from(seq_low))
    }

    /// Window test on a full sequence number; no state change.
    fn check_full(&self, seq: u64) -> Result<(), ReplayError> {
        if seq == 0 {
            return Err(ReplayError::Zero);
        }
        if seq > self.highest {
            return Ok(());
        }
        if self.highest - seq >= u64::from(self.size) {
            return Err(ReplayError::TooOld);
        }
        let (idx, bit) = self.slot(seq);
        match self.bitmap.get(idx) {
            Some(word) if word & bit == 0 => Ok(()),
            _ => Err(ReplayError::Replayed),
        }
    }

    /// Ring index and bit mask for `seq`, which must satisfy
    /// `highest - size < seq <= highest` (then its block is at most
    /// `size / 64` blocks behind the top one, i.e. inside the ring).
    fn slot(&self, seq: u64) -> (usize, u64) {
        let words = self.bitmap.len();
        // `behind < words` given the precondition; `min` keeps the
        // arithmetic safe even if it were violated.
        let behind = ((self.highest / WORD_BITS) - (seq / WORD_BITS).min(self.highest / WORD_BITS))
            .min(words as u64 - 1) as usize;
        let idx = if behind <= self.top { self.top - behind } else { self.top + words - behind };
        (idx, 1u64 << (seq % WORD_BITS))
    }

    /// Moves the top of the window to `seq > highest`, clearing the words
    /// of the blocks that enter the window.
    fn advance(&mut self, seq: u64) {
        let words = self.bitmap.len();
        let blocks = seq / WORD_BITS - self.highest / WORD_BITS;
        if blocks >= words as u64 {
            // Jump of a whole ring or more: nothing old stays in the window.
            self.bitmap.fill(0);
            self.top = 0;
        } else {
            for _ in 0..blocks {
                self.top += 1;
                if self.top == words {
                    self.top = 0;
                }
                if let Some(word) = self.bitmap.get_mut(self.top) {
                    *word = 0;
                }
            }
        }
        self.highest = seq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const TWO32: u64 = 1 << 32;

    /// A fresh window whose top is already at `highest` (reaching high ESN
    /// subspaces one legal jump at a time would take ~2^33 packets).
    fn at(size: u32, esn: bool, highest: u64) -> ReplayWindow {
        let mut w = ReplayWindow::new(size, esn);
        w.highest = highest;
        w
    }

    fn accept(w: &mut ReplayWindow, low: u32) -> u64 {
        let seq = w.check(low).expect("check");
        w.update(seq).expect("update");
        seq
    }

    #[test]
    fn sizes_are_clamped_and_rounded() {
        assert_eq!(ReplayWindow::new(0, false).size(), 64);
        assert_eq!(ReplayWindow::new(64, false).size(), 64);
        assert_eq!(ReplayWindow::new(65, false).size(), 128);
        assert_eq!(ReplayWindow::new(DEFAULT_WINDOW, true).size(), 1024);
        assert_eq!(ReplayWindow::new(65536, false).size(), 65536);
        assert_eq!(ReplayWindow::new(65537, false).size(), 65536 + 64);
        assert_eq!(ReplayWindow::new(u32::MAX, false).size(), MAX_WINDOW);
        let w = ReplayWindow::new(100, true);
        assert_eq!(w.highest(), 0);
        assert!(w.esn());
    }

    #[test]
    fn a_disabled_window_accepts_everything() {
        let mut w = ReplayWindow::disabled();
        for seq in [5u32, 5, 1, 0, u32::MAX, 5] {
            assert_eq!(w.check(seq), Ok(u64::from(seq)));
            assert_eq!(w.update(u64::from(seq)), Ok(()));
        }
        assert!(w.is_disabled());
        assert!(!ReplayWindow::new(64, false).is_disabled());
    }

    #[test]
    fn in_order() {
        for esn in [false, true] {
            let mut w = ReplayWindow::new(64, esn);
            for s in 1..=10_000u32 {
                assert_eq!(accept(&mut w, s), u64::from(s));
                assert_eq!(w.highest(), u64::from(s));
            }
        }
    }

    #[test]
    fn duplicates() {
        let mut w = ReplayWindow::new(128, false);
        for s in [1u32, 2, 3, 10, 7] {
            accept(&mut w, s);
        }
        for s in [1u32, 2, 3, 10, 7] {
            assert_eq!(w.check(s), Err(ReplayError::Replayed));
            assert_eq!(w.update(u64::from(s)), Err(ReplayError::Replayed));
        }
        assert_eq!(w.check(4), Ok(4));
        // Two copies pass check before either is verified: only one wins.
        let a = w.check(5).unwrap();
        let b = w.check(5).unwrap();
        assert_eq!(w.update(a), Ok(()));
        let before = w.clone();
        assert_eq!(w.update(b), Err(ReplayError::Replayed));
        assert_eq!(w, before);
    }

    #[test]
    fn reordering_within_window() {
        let mut w = ReplayWindow::new(1024, false);
        accept(&mut w, 2000);
        for s in (977..2000u32).rev().step_by(3) {
            accept(&mut w, s);
        }
        for s in (977..2000u32).rev().step_by(3) {
            assert_eq!(w.check(s), Err(ReplayError::Replayed));
        }
        assert_eq!(w.check(1999 - 1), Ok(1998));
        assert_eq!(w.highest(), 2000);
    }

    #[test]
    fn window_edge() {
        for size in [64u32, 128, 1024, 4096, 65536] {
            for top in [u64::from(size) + 5, 3 * u64::from(size) + 63, 1 << 31] {
                let mut w = ReplayWindow::new(size, false);
                accept(&mut w, top as u32);
                let edge = top - u64::from(size) + 1;
                assert_eq!(w.check(edge as u32), Ok(edge), "size {size}");
                assert_eq!(w.check((edge - 1) as u32), Err(ReplayError::TooOld));
                assert_eq!(w.update(edge - 1), Err(ReplayError::TooOld));
                accept(&mut w, edge as u32);
                assert_eq!(w.check(edge as u32), Err(ReplayError::Replayed));
                // One more moves the edge: `edge` is now `size` behind.
                accept(&mut w, (top + 1) as u32);
                assert_eq!(w.check(edge as u32), Err(ReplayError::TooOld));
            }
            // Before the window is full everything from 1 up is inside.
            let mut w = ReplayWindow::new(size, false);
            accept(&mut w, size - 1);
            assert_eq!(w.check(1), Ok(1));
            accept(&mut w, size);
            assert_eq!(w.check(1), Ok(1));
            accept(&mut w, size + 1);
            assert_eq!(w.check(1), Err(ReplayError::TooOld));
        }
    }

    #[test]
    fn huge_jumps() {
        for size in [64u32, 1024, 4096] {
            let s = u64::from(size);
            let mut w = ReplayWindow::new(size, false);
            for x in 1..=s {
                accept(&mut w, x as u32);
            }
            // Exactly one window ahead: the old top is now TooOld, and every
            // number in the new window is free even though ring words are
            // reused.
            accept(&mut w, (2 * s) as u32);
            assert_eq!(w.check(s as u32), Err(ReplayError::TooOld));
            for x in s + 1..2 * s {
                assert_eq!(w.check(x as u32), Ok(x));
            }
            // Far ahead: full reset.
            let far = 1_000_000_007u64;
            accept(&mut w, far as u32);
            for x in far - s + 1..far {
                assert_eq!(w.check(x as u32), Ok(x));
            }
            assert_eq!(w.check((far - s) as u32), Err(ReplayError::TooOld));
            assert_eq!(w.check(far as u32), Err(ReplayError::Replayed));
            // Jump by window + 1 and by a few blocks.
            accept(&mut w, (far + s + 1) as u32);
            accept(&mut w, (far + s + 40) as u32);
            assert_eq!(w.check((far + s + 1) as u32), Err(ReplayError::Replayed));
            assert_eq!(w.check((far + s + 20) as u32), Ok(far + s + 20));
            // Maximum 32-bit jump.
            accept(&mut w, u32::MAX);
            assert_eq!(w.highest(), u64::from(u32::MAX));
        }
        // ESN: jump just under 2^31 repeatedly, crossing subspaces.
        let mut w = ReplayWindow::new(1024, true);
        let mut t = 0u64;
        for _ in 0..10 {
            t += (1 << 31) - 1;
            assert_eq!(accept(&mut w, t as u32), t);
        }
        assert_eq!(w.highest(), t);
    }

    #[test]
    fn seq_zero() {
        let mut w = ReplayWindow::new(64, false);
        assert_eq!(w.check(0), Err(ReplayError::Zero));
        assert_eq!(w.update(0), Err(ReplayError::Zero));
        accept(&mut w, 10);
        assert_eq!(w.check(0), Err(ReplayError::Zero));

        // ESN: full value 0 is invalid, low half 0 in subspace 1 is fine.
        let mut w = ReplayWindow::new(64, true);
        assert_eq!(w.check(0), Err(ReplayError::Zero));
        assert_eq!(w.update(0), Err(ReplayError::Zero));
        accept(&mut w, 0x7FFF_FFFF);
        accept(&mut w, 0xFFFF_FFF0);
        assert_eq!(w.check(0), Ok(TWO32));
        assert_eq!(accept(&mut w, 0), TWO32);
        assert_eq!(w.check(0), Err(ReplayError::Replayed));
    }

    #[test]
    fn u32_wrap_without_esn_is_rejected() {
        // A 32-bit SA must be rekeyed before the counter passes 0xFFFF_FFFF;
        // the window never accepts the wrapped numbers.
        let mut w = ReplayWindow::new(1024, false);
        accept(&mut w, u32::MAX - 1);
        accept(&mut w, u32::MAX);
        assert_eq!(w.check(0), Err(ReplayError::Zero));
        assert_eq!(w.check(1), Err(ReplayError::TooOld));
        assert_eq!(w.check(1000), Err(ReplayError::TooOld));
        assert_eq!(w.check(u32::MAX), Err(ReplayError::Replayed));
        assert_eq!(w.update(TWO32), Err(ReplayError::TooOld));
        assert_eq!(w.update(TWO32 + 1), Err(ReplayError::TooOld));
        assert_eq!(w.update(u64::MAX), Err(ReplayError::TooOld));
        assert_eq!(w.highest(), u64::from(u32::MAX));
        assert_eq!(w.check(u32::MAX - 2), Ok(u64::from(u32::MAX - 2)));
    }

    #[test]
    fn esn_initial_state_has_no_previous_subspace() {
        let w = ReplayWindow::new(1024, true);
        assert_eq!(w.check(1), Ok(1));
        assert_eq!(w.check(0x7FFF_FFFF), Ok(0x7FFF_FFFF));
        // Low halves that would be late packets of subspace -1.
        assert_eq!(w.check(u32::MAX), Err(ReplayError::TooOld));
        assert_eq!(w.check(u32::MAX - 1022), Err(ReplayError::TooOld));
        assert_eq!(w.check(u32::MAX - 1023), Ok(u64::from(u32::MAX - 1023)));
    }

    #[test]
    fn esn_forward_across_boundary() {
        // Case A: window inside subspace 0, a small low half means subspace 1.
        let mut w = ReplayWindow::new(1024, true);
        accept(&mut w, 0x7FFF_FFFF);
        accept(&mut w, 0xFFFF_F000);
        assert_eq!(w.check(3), Ok(TWO32 + 3));
        assert_eq!(w.check(0xFFFF_FFFF), Ok(TWO32 - 1));
        assert_eq!(w.check(0xFFFF_F000 - 1023), Ok(0xFFFF_F000 - 1023));
        accept(&mut w, 0xFFFF_FFFF);
        assert_eq!(accept(&mut w, 3), TWO32 + 3);
        assert_eq!(w.highest(), TWO32 + 3);
        // Now case B: late packets from subspace 0 keep high bits 0.
        assert_eq!(w.check(0xFFFF_FFFE), Ok(TWO32 - 2));
        assert_eq!(w.check(0xFFFF_FFFF), Err(ReplayError::Replayed));
        assert_eq!(w.check(2), Ok(TWO32 + 2));
        assert_eq!(w.check(0), Ok(TWO32));
        let edge = TWO32 + 3 - 1023;
        assert_eq!(w.check(edge as u32), Ok(edge));
        // One below the edge is read as a packet far ahead in subspace 1;
        // its ICV would then fail. It is never the true number.
        assert_ne!(w.check((edge - 1) as u32), Ok(edge - 1));
        // Leaving the spanning state: subspace 0 numbers become TooOld.
        accept(&mut w, 2000);
        assert_eq!(w.highest(), TWO32 + 2000);
        assert_eq!(w.check(977), Ok(TWO32 + 977));
        assert_eq!(w.check(976), Ok(2 * TWO32 + 976)); // ahead, case A
        assert_eq!(w.update(TWO32 - 2), Err(ReplayError::TooOld));
    }

    #[test]
    fn esn_late_packets_from_previous_subspace() {
        for size in [64u32, 1024, 65536] {
            let s = u64::from(size);
            for base in [TWO32, 7 * TWO32, u64::from(u32::MAX) << 32] {
                let mut w = at(size, true, base - 3);
                // Top just after the boundary; the window spans both.
                let top = base + s / 2;
                assert_eq!(accept(&mut w, top as u32), top);
                for x in [top - s + 1, base - 1, base - s / 4, base, top - 1] {
                    assert_eq!(w.check(x as u32), Ok(x), "size {size} x {x:#x}");
                }
                assert_eq!(w.check((base - 1) as u32), Ok(base - 1));
                accept(&mut w, (base - 1) as u32);
                assert_eq!(w.check((base - 1) as u32), Err(ReplayError::Replayed));
                assert_eq!(w.highest(), top);
                // Ahead within the new subspace.
                assert_eq!(w.check((top + 5) as u32), Ok(top + 5));
            }
        }
    }

    #[test]
    fn esn_top_subspace_does_not_overflow() {
        let mut w = at(64, true, u64::MAX - 100);
        assert_eq!(w.check(5), Err(ReplayError::TooOld)); // would need Th + 1
        assert_eq!(w.check(u32::MAX), Ok(u64::MAX));
        accept(&mut w, u32::MAX);
        assert_eq!(w.check(u32::MAX), Err(ReplayError::Replayed));
        assert_eq!(w.check(0), Err(ReplayError::TooOld));
        assert_eq!(w.update(u64::MAX), Err(ReplayError::Replayed));
    }

    #[test]
    fn check_does_not_change_state() {
        for esn in [false, true] {
            let mut w = ReplayWindow::new(256, esn);
            for s in [5u32, 300, 299, 1000, 999, 800] {
                accept(&mut w, s);
            }
            let before = w.clone();
            for low in (0..5000u32).chain([u32::MAX, u32::MAX - 300, 1 << 31]) {
                let _ = w.check(low);
            }
            assert_eq!(w, before);
            // Checked but never updated: still acceptable afterwards.
            assert_eq!(w.check(998), Ok(998));
            assert_eq!(w.check(2000), Ok(2000));
            assert_eq!(w.highest(), 1000);
        }
    }

    // ----- property test against a naive model -----

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }
    }

    struct Model {
        seen: HashSet<u64>,
        highest: u64,
        size: u64,
    }

    impl Model {
        fn new(size: u32) -> Self {
            Model { seen: HashSet::new(), highest: 0, size: u64::from(size) }
        }
        fn acceptable(&self, seq: u64) -> bool {
            seq != 0 && seq + self.size > self.highest && !self.seen.contains(&seq)
        }
        fn record(&mut self, seq: u64) {
            self.seen.insert(seq);
            self.highest = self.highest.max(seq);
        }
    }

    /// Next true sequence number, mixing the traffic patterns. With `esn`
    /// the result stays in the domain where reconstruction is defined
    /// unless `old` packets far behind the window are drawn.
    fn gen(rng: &mut Rng, m: &Model, recent: &[u64]) -> u64 {
        let h = m.highest;
        let s = m.size;
        match rng.below(100) {
            // Mostly increasing with a little jitter.
            0..=49 => h + 1 + rng.below(4),
            // Reordered within (or just around) the window.
            50..=69 => h.saturating_sub(rng.below(s + 2)),
            // Duplicates of recently accepted numbers.
            70..=79 => {
                if recent.is_empty() {
                    h + 1
                } else {
                    recent[rng.below(recent.len() as u64) as usize]
                }
            }
            // Exactly at the edges.
            80..=83 => h.saturating_sub(s - 1 + rng.below(2)),
            // Jumps: a few blocks, around the window size, or huge.
            84..=89 => h + 1 + rng.below(2 * s + 130),
            90..=91 => h + 1 + rng.below((1 << 31) - 1),
            // Old packets well behind the window.
            92..=97 => h.saturating_sub(s + rng.below(4 * s)),
            _ => 0,
        }
    }

    fn run_plain(size: u32, seed: u64, packets: usize) {
        let mut rng = Rng(seed | 1);
        let mut w = ReplayWindow::new(size, false);
        let mut m = Model::new(w.size());
        let mut recent = Vec::new();
        // Some runs start close to the 32-bit end to exercise the wrap.
        if seed & 3 == 0 {
            let start = u64::from(u32::MAX) - rng.below(3 * u64::from(size));
            w.update(start).unwrap();
            m.record(start);
        }
        for i in 0..packets {
            let cand = gen(&mut rng, &m, &recent);
            // A 32-bit SA carries only 32 bits; the model judges that value.
            let seq = u64::from(cand as u32);
            let want = m.acceptable(seq);
            let got = w.check(seq as u32);
            assert_eq!(got.is_ok(), want, "size {size} seed {seed} i {i} seq {seq}");
            match got {
                Ok(full) => {
                    assert_eq!(full, seq);
                    if rng.below(20) == 0 {
                        continue; // ICV failure: no update
                    }
                    w.update(full).unwrap();
                    m.record(full);
                    if recent.len() < 64 {
                        recent.push(full);
                    } else {
                        recent[rng.below(64) as usize] = full;
                    }
                }
                Err(e) => {
                    let expect = if seq == 0 {
                        ReplayError::Zero
                    } else if m.seen.contains(&seq) && seq + m.size > m.highest {
                        ReplayError::Replayed
                    } else {
                        ReplayError::TooOld
                    };
                    assert_eq!(e, expect, "size {size} seed {seed} i {i} seq {seq}");
                    let before = w.clone();
                    assert_eq!(w.update(seq), Err(e));
                    assert_eq!(w, before);
                }
            }
            assert_eq!(w.highest(), m.highest);
        }
    }

    fn run_esn(size: u32, seed: u64, packets: usize) {
        let mut rng = Rng(seed | 1);
        let mut w = ReplayWindow::new(size, true);
        let mut m = Model::new(w.size());
        let mut recent = Vec::new();
        // Walk to just below a subspace boundary (2^32 or a higher one).
        let boundary = TWO32 * (1 + rng.below(3));
        let target = boundary - 1 - rng.below(2 * u64::from(size));
        let mut t = 0u64;
        while t < target {
            t = (t + (1 << 31) - 1).min(target);
            assert_eq!(w.check(t as u32), Ok(t));
            w.update(t).unwrap();
            m.record(t);
        }
        for i in 0..packets {
            let seq = gen(&mut rng, &m, &recent);
            let in_domain = seq + m.size > m.highest && seq < m.highest + (1 << 31);
            let got = w.check(seq as u32);
            if !in_domain {
                // Too old to reconstruct: either rejected or given other high
                // bits (the ICV then fails, so no update).
                assert_ne!(got, Ok(seq), "size {size} seed {seed} i {i}");
                continue;
            }
            let want = m.acceptable(seq);
            assert_eq!(got.is_ok(), want, "size {size} seed {seed} i {i} seq {seq:#x}");
            match got {
                Ok(full) => {
                    assert_eq!(full, seq, "size {size} seed {seed} i {i}");
                    if rng.below(20) == 0 {
                        continue;
                    }
                    w.update(full).unwrap();
                    m.record(full);
                    if recent.len() < 64 {
                        recent.push(full);
                    } else {
                        recent[rng.below(64) as usize] = full;
                    }
                }
                Err(e) => {
                    let before = w.clone();
                    if seq != 0 {
                        assert_eq!(w.update(seq), Err(e));
                    }
                    assert_eq!(w, before);
                }
            }
            assert_eq!(w.highest(), m.highest);
        }
    }

    const SIZES: [u32; 5] = [64, 128, 1024, 4096, 65536];

    #[test]
    fn property_plain_against_model() {
        for size in SIZES {
            for seed in 1..=2000u64 {
                run_plain(size, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) + u64::from(size), 1000);
            }
        }
    }

    #[test]
    fn property_esn_against_model() {
        for size in SIZES {
            for seed in 1..=2000u64 {
                run_esn(size, seed.wrapping_mul(0xD1B5_4A32_D192_ED03) + u64::from(size), 1000);
            }
        }
    }
}
