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
    /// Replaces the value (single writer), for gauges.
    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
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
/// burst that sent them, as the control side reads it: log-spaced buckets of single-writer
/// counters (cumulative since start) and the exact p50/p99/p99.9 of the last window.
///
/// The worker records each burst into its own [`LatencyWindow`] (an hdrhistogram, allocated
/// once) and folds it in here about every 100 ms, so nothing per packet touches shared memory.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [Counter; LATENCY_BOUNDS_NS.len() + 1],
    sum_ns: Counter,
    count: Counter,
    /// p50, p99 and p99.9 (ns) of the last folded window; 0 before the first.
    window: [Counter; 3],
}

/// The quantiles [`LatencyHistogram`] publishes per window.
pub const LATENCY_WINDOW_QUANTILES: [f64; 3] = [0.5, 0.99, 0.999];

/// A worker's own latency record between folds: 1 ns to 10 s at 2 significant digits (1%).
pub struct LatencyWindow {
    h: hdrhistogram::Histogram<u64>,
}

impl Default for LatencyWindow {
    fn default() -> Self {
        LatencyWindow::new()
    }
}

impl LatencyWindow {
    pub fn new() -> LatencyWindow {
        // The bounds are constants that new_with_bounds accepts (low >= 1, high >= 2 * low,
        // sigfig <= 5); its buckets are allocated here, once.
        let h = hdrhistogram::Histogram::new_with_bounds(1, 10_000_000_000, 2)
            .unwrap_or_else(|_| hdrhistogram::Histogram::new(2).unwrap_or_else(|_| unreachable!()));
        LatencyWindow { h }
    }

    /// `n` packets that each spent `ns`; values beyond the range count as the maximum.
    #[inline]
    pub fn record(&mut self, ns: u64, n: u64) {
        self.h.saturating_record_n(ns.max(1), n);
    }

    pub fn is_empty(&self) -> bool {
        self.h.is_empty()
    }
}

impl LatencyHistogram {
    /// Adds the window's values to the buckets, publishes its quantiles and clears it.
    pub fn fold(&self, w: &mut LatencyWindow) {
        if w.h.is_empty() {
            return;
        }
        for v in w.h.iter_recorded() {
            self.record(v.value_iterated_to(), v.count_at_value());
        }
        for (slot, q) in self.window.iter().zip(LATENCY_WINDOW_QUANTILES) {
            slot.set(w.h.value_at_quantile(q));
        }
        w.h.reset();
    }

    /// p50, p99 and p99.9 of the last window (ns).
    pub fn window_quantiles(&self) -> [u64; 3] {
        [self.window[0].get(), self.window[1].get(), self.window[2].get()]
    }

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

#[cfg(test)]
mod latency_tests {
    use super::*;

    #[test]
    fn a_folded_window_fills_the_buckets_and_publishes_exact_quantiles() {
        let h = LatencyHistogram::default();
        let mut w = LatencyWindow::new();
        // 1000 bursts of 32 packets: latencies 1..=1000 µs.
        for i in 1..=1000u64 {
            w.record(i * 1000, 32);
        }
        h.fold(&mut w);
        assert!(w.is_empty(), "the window starts over after a fold");
        let (counts, sum, count) = h.snapshot();
        assert_eq!(count, 32_000);
        assert_eq!(counts.iter().sum::<u64>(), 32_000);
        // 1..=128 µs falls in buckets up to 128_000 ns (within hdrhistogram's 1%).
        let upto_128us: u64 =
            counts[..LATENCY_BOUNDS_NS.iter().position(|&b| b == 128_000).unwrap() + 1].iter().sum();
        assert!((127 * 32..=129 * 32).contains(&upto_128us), "{upto_128us}");
        let mean = sum as f64 / count as f64;
        assert!((mean - 500_500.0).abs() / 500_500.0 < 0.01, "{mean}");
        let [p50, p99, p999] = h.window_quantiles();
        for (got, want) in [(p50, 500_000.0), (p99, 990_000.0), (p999, 999_000.0)] {
            assert!((got as f64 - want).abs() / want < 0.01, "{got} vs {want}");
        }
        // An empty window changes nothing.
        h.fold(&mut w);
        assert_eq!(h.snapshot().2, 32_000);
    }
}
