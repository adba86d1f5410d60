//! The data-plane worker: one per lcore, polling its RX queues in bursts.
//!
//! Per iteration: load the table snapshot once; for each RX queue, receive a burst, decide per
//! packet ([`crate::forward::process`]) and sort packets into per-port TX bursts, the punt
//! burst or the drop burst; then drain the control path's inject ring, transmit, hand punts to
//! the control thread, free drops in bulk, and add counters once. Nothing here allocates,
//! locks, logs or panics per packet.
//!
//! Idle back-off: after `SPIN_POLLS` empty iterations the worker sleeps, doubling from 8 µs up
//! to the configured maximum, so a 2-core machine stays usable; the first packet resets it.

use crate::drop::DropReason;
use crate::forward::{self, Decision};
use crate::stats::{DropTally, WorkerStats};
use crate::tables::SharedTables;
use dpdk_sys::{tsc, Burst, Mbuf, RingConsumer, RingProducer, RxQueue, TxQueue};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SPIN_POLLS: u32 = 256;
const FIRST_SLEEP_US: u64 = 8;

/// Everything one worker owns.
pub struct Worker {
    pub lcore: u32,
    /// (queue, our port index) in polling order.
    pub rx: Vec<(RxQueue, u8)>,
    /// This worker's TX queue on every port, indexed by our port index.
    pub tx: Vec<TxQueue>,
    pub punt: RingProducer,
    pub inject: RingConsumer,
    pub tables: SharedTables,
    pub stats: Arc<WorkerStats>,
    pub stop: Arc<AtomicBool>,
    pub burst: usize,
    pub idle_sleep_max_us: u64,
}

impl Worker {
    pub fn run(mut self) {
        let nports = self.tx.len();
        let mut rx_b = Burst::new();
        let mut tx_b: Vec<Burst> = (0..nports).map(|_| Burst::new()).collect();
        let mut tx_bytes = vec![0u64; nports];
        let mut punt_b = Burst::new();
        let mut drop_b = Burst::new();
        let mut tally = DropTally::default();
        let mut idle_polls: u32 = 0;
        let mut sleep_us = FIRST_SLEEP_US;
        let mut last = tsc();

        while !self.stop.load(Ordering::Relaxed) {
            let tables = self.tables.load();
            let mut moved = 0usize;

            for (qi, (rxq, in_port)) in self.rx.iter_mut().enumerate() {
                let n = rxq.rx_burst(&mut rx_b, self.burst);
                if n == 0 {
                    continue;
                }
                moved += n;
                let mut bytes = 0u64;
                for mut m in rx_b.drain() {
                    let len = m.pkt_len() as u64;
                    bytes += len;
                    let d = if m.is_contiguous() {
                        forward::process(m.data_mut(), *in_port, &tables)
                    } else {
                        Decision::Drop(DropReason::MultiSegment)
                    };
                    match d {
                        Decision::Forward { port, .. } => {
                            let p = port as usize;
                            tx_bytes[p] += len;
                            to_tx(&mut tx_b[p], m, &mut drop_b, &mut tally);
                        }
                        Decision::Punt(_) => {
                            if let Err(m) = punt_b.push(m) {
                                tally.count(DropReason::PuntRingFull);
                                let _ = drop_b.push(m);
                            }
                        }
                        Decision::Drop(r) => {
                            tally.count(r);
                            let _ = drop_b.push(m);
                        }
                    }
                }
                if let Some(q) = self.stats.rx_queues.get(qi) {
                    q.add(n as u64, bytes);
                }
                Self::flush_tx(&mut self.tx, &mut tx_b, &mut tx_bytes, &self.stats, &mut tally);
            }

            // Frames built by the control path (ARP/ND/ICMP replies, released packets); the
            // mbuf's port field carries our port index.
            let injected = self.inject.dequeue_burst(&mut rx_b, self.burst);
            if injected > 0 {
                moved += injected;
                self.stats.injected.add(injected as u64);
                for m in rx_b.drain() {
                    let p = m.port() as usize;
                    if p < nports {
                        tx_bytes[p] += m.pkt_len() as u64;
                        to_tx(&mut tx_b[p], m, &mut drop_b, &mut tally);
                    } else {
                        tally.count(DropReason::NotForUs);
                        let _ = drop_b.push(m);
                    }
                }
                Self::flush_tx(&mut self.tx, &mut tx_b, &mut tx_bytes, &self.stats, &mut tally);
            }

            if !punt_b.is_empty() {
                let want = punt_b.len();
                let n = self.punt.enqueue_burst(&mut punt_b);
                self.stats.punted.add(n as u64);
                for _ in n..want {
                    tally.count(DropReason::PuntRingFull);
                }
                punt_b.clear();
            }
            drop_b.clear();
            tally.flush(&self.stats);

            let now = tsc();
            self.stats.polls.add(1);
            self.stats.total_tsc.add(now.wrapping_sub(last));
            if moved > 0 {
                self.stats.busy_tsc.add(now.wrapping_sub(last));
                idle_polls = 0;
                sleep_us = FIRST_SLEEP_US;
            } else {
                self.stats.idle_polls.add(1);
                idle_polls = idle_polls.saturating_add(1);
                if idle_polls > SPIN_POLLS && self.idle_sleep_max_us > 0 {
                    std::thread::sleep(Duration::from_micros(sleep_us.min(self.idle_sleep_max_us)));
                    sleep_us = (sleep_us * 2).min(self.idle_sleep_max_us.max(1));
                } else {
                    std::hint::spin_loop();
                }
            }
            last = now;
        }
    }

    #[inline]
    fn flush_tx(
        tx: &mut [TxQueue],
        tx_b: &mut [Burst],
        tx_bytes: &mut [u64],
        stats: &WorkerStats,
        tally: &mut DropTally,
    ) {
        for (p, b) in tx_b.iter_mut().enumerate() {
            if b.is_empty() {
                continue;
            }
            let want = b.len();
            let mut sent = tx[p].tx_burst(b);
            // One retry absorbs a momentarily full descriptor ring.
            if sent < want {
                sent += tx[p].tx_burst(b);
            }
            let unsent = want - sent;
            if unsent > 0 {
                // Approximate the unsent bytes by the average size, keeping counters per burst.
                let avg = tx_bytes[p] / want as u64;
                tx_bytes[p] -= avg * unsent as u64;
                for _ in 0..unsent {
                    tally.count(DropReason::TxFull);
                }
                b.clear();
            }
            if let Some(t) = stats.tx_ports.get(p) {
                t.add(sent as u64, tx_bytes[p]);
            }
            tx_bytes[p] = 0;
        }
    }
}

/// Queues `m` for transmission; a full TX burst makes it a `tx_full` drop.
#[inline]
fn to_tx(tx: &mut Burst, m: Mbuf, drops: &mut Burst, tally: &mut DropTally) {
    if let Err(m) = tx.push(m) {
        tally.count(DropReason::TxFull);
        let _ = drops.push(m);
    }
}
