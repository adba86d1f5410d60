//! The data-plane worker: one per lcore, polling its RX queues in bursts.
//!
//! Per iteration: load the table snapshot once; for each RX queue, receive a burst, decide per
//! packet ([`crate::forward::process`]) and sort packets into per-port TX bursts, the punt
//! burst or the drop burst; then drain the control path's inject ring, transmit, hand punts to
//! the control thread, free drops in bulk, and add counters once. Nothing here allocates,
//! locks, logs or panics per packet.
//!
//! IPsec ([`ipsec`]): a packet an outbound policy protects is queued and encapsulated after the
//! RX burst, so sequence numbers are reserved once per run of packets for one SA; ESP for the
//! gateway is decapsulated in line and its inner packet decided again.
//!
//! A clear IPv4 packet that an outbound policy protects usually takes the straight-line
//! [`forward::fast::protect_v4`] instead of `process`; the IPv4 forwarding fast path applies
//! while no IPsec policy exists.
//!
//! Idle back-off: after `SPIN_POLLS` empty iterations the worker sleeps, doubling from 8 µs up
//! to the configured maximum, so a 2-core machine stays usable; the first packet resets it.

pub mod ipsec;

use crate::drop::DropReason;
use crate::forward::{self, Decision, Origin};
use crate::ipsec::datapath::IpsecWorker;
use crate::stats::{DropTally, LatencyWindow, WorkerStats};
use crate::tables::{SharedIpsec, SharedTables};
use dpdk_sys::{tsc, Burst, Mbuf, RingConsumer, RingProducer, RxQueue, TxQueue};
use ipsec::ProtectQueue;
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
    pub ipsec: SharedIpsec,
    pub ipsec_state: IpsecWorker,
    /// DPDK port id by our port index.
    pub port_ids: Vec<u16>,
    pub stats: Arc<WorkerStats>,
    pub stop: Arc<AtomicBool>,
    pub burst: usize,
    pub idle_sleep_max_us: u64,
}

impl Worker {
    pub fn run(mut self) {
        let nports = self.tx.len();
        let mut rx_b = Burst::new();
        let mut out = Out {
            tx_b: (0..nports).map(|_| Burst::new()).collect(),
            tx_bytes: vec![0u64; nports],
            punt_b: Burst::new(),
            drop_b: Burst::new(),
            tally: DropTally::default(),
        };
        let mut protect = ProtectQueue::default();
        // Cached snapshots: one atomic load per iteration to see whether a new table was
        // published (arc-swap's `Cache`), instead of a full guarded load.
        let mut tables_cache = arc_swap::Cache::new(self.tables.clone());
        let mut ipsec_cache = arc_swap::Cache::new(self.ipsec.clone());
        let mut idle_polls: u32 = 0;
        let mut sleep_us = FIRST_SLEEP_US;
        let mut last = tsc();
        let ns_per_tick = 1e9 / dpdk_sys::tsc_hz().max(1) as f64;
        // Latency is recorded per burst into this worker's own window and folded into the
        // shared counters every 100 ms of TSC time.
        let mut latency = LatencyWindow::new();
        let fold_ticks = dpdk_sys::tsc_hz() / 10;
        let mut last_fold = last;

        while !self.stop.load(Ordering::Relaxed) {
            let tables = tables_cache.load();
            let sp = ipsec_cache.load();
            self.ipsec_state.sync(sp);
            let mut moved = 0usize;

            for (qi, (rxq, in_port)) in self.rx.iter_mut().enumerate() {
                let n = rxq.rx_burst(&mut rx_b, self.burst);
                if n == 0 {
                    continue;
                }
                moved += n;
                let t_rx = tsc();
                let mut bytes = 0u64;
                // The IPv4 fast path applies while no IPsec policy exists (and only to frames
                // addressed to this port's MAC); everything it declines takes `process`.
                // With outbound policies, the IPv4 protect fast path applies instead.
                // ESP for the gateway is recognised without `process` while inbound SAs exist.
                let (fast_mac, protect_mac, esp_mac) = match tables.ports.get(*in_port as usize) {
                    Some(p) if sp.is_idle() => (forward::fast::mac_key(p.mac), u64::MAX, u64::MAX),
                    Some(p) => {
                        let k = forward::fast::mac_key(p.mac);
                        (
                            u64::MAX,
                            if sp.outbound.is_empty() { u64::MAX } else { k },
                            if sp.has_inbound_sas() { k } else { u64::MAX },
                        )
                    }
                    None => (u64::MAX, u64::MAX, u64::MAX),
                };
                for mut m in rx_b.drain() {
                    let len = m.pkt_len() as u64;
                    bytes += len;
                    if fast_mac != u64::MAX && m.is_contiguous() {
                        if let Some(port) = forward::fast::forward_v4(m.data_mut(), fast_mac, tables) {
                            out.forward(m, port as usize, len);
                            continue;
                        }
                    }
                    if protect_mac != u64::MAX && m.is_contiguous() {
                        if let Some(sa) = forward::fast::protect_v4(m.data_mut(), protect_mac, tables, sp) {
                            if let Err(m) = protect.push(m, sa, *in_port) {
                                out.dispose(m, Decision::Drop(DropReason::TxFull));
                            }
                            continue;
                        }
                    }
                    let mut d = if m.is_contiguous() {
                        if esp_mac != u64::MAX && forward::fast::esp_for_us_v4(m.data(), esp_mac, tables, sp)
                        {
                            Decision::Unprotect
                        } else {
                            forward::process(m.data_mut(), *in_port, tables, sp, Origin::Wire)
                        }
                    } else {
                        Decision::Drop(DropReason::MultiSegment)
                    };
                    if d == Decision::Unprotect {
                        d = ipsec::unprotect(&mut m, *in_port, tables, sp, &mut self.ipsec_state);
                    }
                    if let Decision::Protect { sa } = d {
                        if let Err(m) = protect.push(m, sa, *in_port) {
                            out.dispose(m, Decision::Drop(DropReason::TxFull));
                        }
                        continue;
                    }
                    out.dispose(m, d);
                }
                if !protect.is_empty() {
                    protect
                        .flush(tables, sp, &mut self.ipsec_state, &self.port_ids, |m, d| out.dispose(m, d));
                }
                self.ipsec_state.flush_traffic(sp);
                if let Some(q) = self.stats.rx_queues.get(qi) {
                    q.add(n as u64, bytes);
                }
                out.flush_tx(&mut self.tx, &self.stats);
                let ticks = tsc().wrapping_sub(t_rx);
                latency.record((ticks as f64 * ns_per_tick) as u64, n as u64);
            }

            // Frames built by the control path (ARP/ND/ICMP replies, released packets); the
            // mbuf's port field carries our port index. The gateway's own traffic is subject to
            // the outbound SPD too (transport mode, errors toward a protected subnet).
            let injected = self.inject.dequeue_burst(&mut rx_b, self.burst);
            if injected > 0 {
                moved += injected;
                self.stats.injected.add(injected as u64);
                for m in rx_b.drain() {
                    let p = m.port() as usize;
                    if p >= nports {
                        out.dispose(m, Decision::Drop(DropReason::NotForUs));
                    } else {
                        match forward::local_outbound(m.data(), tables, sp) {
                            forward::LocalOut::Protect(sa) => {
                                if let Err(m) = protect.push(m, sa, p as u8) {
                                    out.dispose(m, Decision::Drop(DropReason::TxFull));
                                }
                            }
                            forward::LocalOut::Discard => {
                                out.dispose(m, Decision::Drop(DropReason::PolicyDiscard))
                            }
                            forward::LocalOut::VtiDown => out.dispose(m, Decision::Drop(DropReason::VtiDown)),
                            forward::LocalOut::Clear => {
                                out.tx_bytes[p] += m.pkt_len() as u64;
                                out.queue_tx(p, m);
                            }
                        }
                    }
                }
                if !protect.is_empty() {
                    protect
                        .flush(tables, sp, &mut self.ipsec_state, &self.port_ids, |m, d| out.dispose(m, d));
                }
                out.flush_tx(&mut self.tx, &self.stats);
            }

            if !out.punt_b.is_empty() {
                let want = out.punt_b.len();
                let n = self.punt.enqueue_burst(&mut out.punt_b);
                self.stats.punted.add(n as u64);
                for _ in n..want {
                    out.tally.count(DropReason::PuntRingFull);
                }
                out.punt_b.clear();
            }
            out.drop_b.clear();
            out.tally.flush(&self.stats);

            let now = tsc();
            if now.wrapping_sub(last_fold) >= fold_ticks {
                self.stats.latency.fold(&mut latency);
                last_fold = now;
            }
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
        self.stats.latency.fold(&mut latency);
    }
}

/// Where decided packets go within one iteration: per-port TX bursts, the punt burst, the drop
/// burst (freed in bulk), and the drop tally.
struct Out {
    tx_b: Vec<Burst>,
    tx_bytes: Vec<u64>,
    punt_b: Burst,
    drop_b: Burst,
    tally: DropTally,
}

impl Out {
    #[inline(always)]
    fn dispose(&mut self, m: Mbuf, d: Decision) {
        match d {
            Decision::Forward { port, .. } => {
                let p = port as usize;
                if p < self.tx_b.len() {
                    self.tx_bytes[p] += m.pkt_len() as u64;
                    self.queue_tx(p, m);
                } else {
                    self.drop(m, DropReason::NotForUs);
                }
            }
            Decision::Punt(_) => {
                if let Err(m) = self.punt_b.push(m) {
                    self.drop(m, DropReason::PuntRingFull);
                }
            }
            Decision::Drop(r) => self.drop(m, r),
            // Resolved before dispose: a second decapsulation or a protect outside the queue
            // would be a bug, not a packet to forward.
            Decision::Protect { .. } | Decision::Unprotect => self.drop(m, DropReason::LocalUnhandled),
        }
    }

    /// Queues a frame the fast path rewrote for port `p`, `len` bytes.
    #[inline(always)]
    fn forward(&mut self, m: Mbuf, p: usize, len: u64) {
        if p < self.tx_b.len() {
            self.tx_bytes[p] += len;
            self.queue_tx(p, m);
        } else {
            self.drop(m, DropReason::NotForUs);
        }
    }

    #[inline]
    fn drop(&mut self, m: Mbuf, r: DropReason) {
        self.tally.count(r);
        let _ = self.drop_b.push(m);
    }

    /// Queues `m` for transmission on port `p`; a full TX burst makes it a `tx_full` drop.
    #[inline(always)]
    fn queue_tx(&mut self, p: usize, m: Mbuf) {
        if let Err(m) = self.tx_b[p].push(m) {
            self.tally.count(DropReason::TxFull);
            let _ = self.drop_b.push(m);
        }
    }

    #[inline]
    fn flush_tx(&mut self, tx: &mut [TxQueue], stats: &WorkerStats) {
        for (p, b) in self.tx_b.iter_mut().enumerate() {
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
                let avg = self.tx_bytes[p] / want as u64;
                self.tx_bytes[p] -= avg * unsent as u64;
                for _ in 0..unsent {
                    self.tally.count(DropReason::TxFull);
                }
                b.clear();
            }
            if let Some(t) = stats.tx_ports.get(p) {
                t.add(sent as u64, self.tx_bytes[p]);
            }
            self.tx_bytes[p] = 0;
        }
    }
}
