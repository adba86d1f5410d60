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

/// Upper bounds (ns) of the latency histogram's buckets; one more bucket holds the rest.
pub const LATENCY_BOUNDS_NS: [u64; 13] =
    [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 1_024_000];

/// How long packets spend inside a worker, from the RX burst that brought them to the TX
/// burst that sent them: log-spaced buckets of single-writer counters, so the worker records
/// without locks or allocation and the control side reads at any time.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [Counter; LATENCY_BOUNDS_NS.len() + 1],
    sum_ns: Counter,
    count: Counter,
}

impl LatencyHistogram {
    /// Records `n` packets that each spent `ns` nanoseconds.
    #[inline]
    pub fn record(&self, ns: u64, n: u64) {
        let i = LATENCY_BOUNDS_NS.iter().position(|&b| ns <= b).unwrap_or(LATENCY_BOUNDS_NS.len());
        self.buckets[i].add(n);
        self.sum_ns.add(ns.saturating_mul(n));
        self.count.add(n);
    }

    /// Per-bucket counts (not cumulative), the sum in ns and the count.
    pub fn snapshot(&self) -> (Vec<u64>, u64, u64) {
        (self.buckets.iter().map(Counter::get).collect(), self.sum_ns.get(), self.count.get())
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
    /// Time packets spend in this worker (RX burst to TX burst).
    pub latency: LatencyHistogram,
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
            latency: LatencyHistogram::default(),
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

    #[test]
    fn latency_lands_in_the_right_bucket() {
        let h = LatencyHistogram::default();
        h.record(100, 2);
        h.record(250, 1);
        h.record(251, 1);
        h.record(10_000_000, 3);
        let (counts, sum, n) = h.snapshot();
        assert_eq!(counts[0], 3, "<= 250 ns");
        assert_eq!(counts[1], 1, "<= 500 ns");
        assert_eq!(counts[LATENCY_BOUNDS_NS.len()], 3, "beyond the last bound");
        assert_eq!((sum, n), (200 + 250 + 251 + 30_000_000, 7));
    }
}
