//! Data-plane counters. Each worker (and the control thread) owns one [`WorkerStats`] and is its
//! only writer; readers (status, metrics) load the atomics with relaxed ordering. A single
//! writer means no read-modify-write instruction and no lock: `add` is a load and a store.
//! Workers accumulate in locals and add once per burst.

use crate::drop::DropReason;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A single-writer counter.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning thread may call this (single writer).
    #[inline]
    pub fn add(&self, n: u64) {
        if n != 0 {
            self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
        }
    }
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Packets and bytes.
#[derive(Default, Debug)]
pub struct Traffic {
    pub packets: Counter,
    pub bytes: Counter,
}

impl Traffic {
    #[inline]
    pub fn add(&self, packets: u64, bytes: u64) {
        self.packets.add(packets);
        self.bytes.add(bytes);
    }
}

/// One thread's counters, cache-line aligned so workers never share a line.
#[repr(align(64))]
#[derive(Debug)]
pub struct WorkerStats {
    /// Per polled RX queue, in the order of the worker's `rx` list.
    pub rx_queues: Vec<Traffic>,
    /// Per port (config index): packets this thread transmitted on its TX queue of that port.
    pub tx_ports: Vec<Traffic>,
    pub drops: [Counter; DropReason::COUNT],
    /// Packets handed to the control path.
    pub punted: Counter,
    /// Packets the control path asked this worker to transmit.
    pub injected: Counter,
    /// Control path: IPv4 fragments made before encryption.
    pub fragments_made: Counter,
    /// Polling loop iterations, and those that found nothing to do.
    pub polls: Counter,
    pub idle_polls: Counter,
    /// TSC ticks spent in iterations that moved packets vs. all iterations.
    pub busy_tsc: Counter,
    pub total_tsc: Counter,
}

impl WorkerStats {
    pub fn new(rx_queues: usize, ports: usize) -> Self {
        WorkerStats {
            rx_queues: (0..rx_queues).map(|_| Traffic::default()).collect(),
            tx_ports: (0..ports).map(|_| Traffic::default()).collect(),
            drops: std::array::from_fn(|_| Counter::default()),
            punted: Counter::default(),
            injected: Counter::default(),
            fragments_made: Counter::default(),
            polls: Counter::default(),
            idle_polls: Counter::default(),
            busy_tsc: Counter::default(),
            total_tsc: Counter::default(),
        }
    }

    #[inline]
    pub fn count_drop(&self, reason: DropReason, n: u64) {
        self.drops[reason as usize].add(n);
    }
}

/// Per-burst drop tally kept in registers/stack and flushed once per burst.
pub struct DropTally {
    counts: [u32; DropReason::COUNT],
    any: bool,
}

impl Default for DropTally {
    fn default() -> Self {
        DropTally { counts: [0; DropReason::COUNT], any: false }
    }
}

impl DropTally {
    #[inline]
    pub fn count(&mut self, r: DropReason) {
        self.counts[r as usize] += 1;
        self.any = true;
    }

    /// Adds the tally to `stats` and resets it.
    #[inline]
    pub fn flush(&mut self, stats: &WorkerStats) {
        if !self.any {
            return;
        }
        for (i, c) in self.counts.iter_mut().enumerate() {
            if *c != 0 {
                stats.drops[i].add(*c as u64);
                *c = 0;
            }
        }
        self.any = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_flushes_into_named_counters() {
        let s = WorkerStats::new(1, 2);
        let mut t = DropTally::default();
        t.count(DropReason::NoRoute);
        t.count(DropReason::NoRoute);
        t.count(DropReason::TtlExceeded);
        t.flush(&s);
        t.flush(&s);
        assert_eq!(s.drops[DropReason::NoRoute as usize].get(), 2);
        assert_eq!(s.drops[DropReason::TtlExceeded as usize].get(), 1);
        assert_eq!(s.drops[DropReason::Runt as usize].get(), 0);
    }
}
