//! Security associations as the data plane sees them: an immutable description (keys,
//! tunnel endpoints, NAT-T ports, policy on DF/ECN, lifetimes) shared through the published
//! table snapshot, plus [`SaCounters`], the one piece of mutable state shared by every worker
//! that uses an outbound SA: its sequence number counter and traffic totals (atomics, no lock).
//! Inbound replay windows are per worker, outside the snapshot (see `replay`).

use super::crypto::Transform;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Which IPsec protocol an SA speaks: ESP (RFC 4303, encryption and/or integrity) or AH
/// (RFC 4302, integrity of the payload and the immutable IP header fields, no encryption).
/// The SA's `transform` must be of the same kind ([`crate::ipsec::crypto::Algorithm::is_ah`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Esp,
    Ah,
}

impl Protocol {
    /// The IP protocol number: 50 or 51.
    pub fn ip_protocol(self) -> u8 {
        match self {
            Protocol::Esp => 50,
            Protocol::Ah => 51,
        }
    }
}

/// Tunnel mode carries the whole inner IP packet under a new outer header between two
/// gateways; transport mode protects the payload of the gateway's own traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Tunnel {
        local: IpAddr,
        remote: IpAddr,
    },
    /// Transport mode between `local` and `remote` (the packet's own addresses).
    Transport {
        local: IpAddr,
        remote: IpAddr,
    },
}

impl Mode {
    pub fn local(&self) -> IpAddr {
        match *self {
            Mode::Tunnel { local, .. } | Mode::Transport { local, .. } => local,
        }
    }
    pub fn remote(&self) -> IpAddr {
        match *self {
            Mode::Tunnel { remote, .. } | Mode::Transport { remote, .. } => remote,
        }
    }
    pub fn is_tunnel(&self) -> bool {
        matches!(self, Mode::Tunnel { .. })
    }
}

/// UDP encapsulation of ESP (RFC 3948): ports on this side and the peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatT {
    pub local_port: u16,
    pub remote_port: u16,
}

/// How the outer IPv4 header's DF bit is set in tunnel mode (RFC 4301 §8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DfPolicy {
    /// Copy from an inner IPv4 header; set for inner IPv6 (which never fragments in flight).
    #[default]
    Copy,
    Set,
    Clear,
}

/// Lifetime limits; `None` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Limits {
    pub seconds: Option<u64>,
    pub bytes: Option<u64>,
    pub packets: Option<u64>,
}

/// One direction of an SA.
pub struct Sa {
    pub name: String,
    pub spi: u32,
    pub protocol: Protocol,
    pub mode: Mode,
    pub transform: Transform,
    pub esn: bool,
    pub natt: Option<NatT>,
    pub replay_window: u32,
    pub df: DfPolicy,
    pub soft: Limits,
    pub hard: Limits,
    pub counters: Arc<SaCounters>,
}

impl std::fmt::Debug for Sa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys never print: Transform's Debug shows only the algorithm.
        f.debug_struct("Sa")
            .field("name", &self.name)
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("protocol", &self.protocol)
            .field("mode", &self.mode)
            .field("transform", &self.transform)
            .field("esn", &self.esn)
            .field("natt", &self.natt)
            .finish_non_exhaustive()
    }
}

/// Shared, lock-free per-SA state. The sequence counter holds the last number used; workers
/// reserve numbers with one compare-and-swap per run of packets for the SA.
#[derive(Debug, Default)]
pub struct SaCounters {
    seq: AtomicU64,
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// Inbound: packets dropped by the anti-replay check (replayed or left of the window).
    pub replay_drops: AtomicU64,
    /// Inbound: packets whose ICV did not verify.
    pub icv_failures: AtomicU64,
}

impl SaCounters {
    /// Reserves `n` consecutive sequence numbers and returns the first, or `None` when that
    /// would pass `max` (2^32 − 1 without ESN, 2^64 − 1 with): the SA must be rekeyed, and
    /// sequence numbers never cycle (RFC 4303 §3.3.3).
    pub fn reserve(&self, n: u64, max: u64) -> Option<u64> {
        // Compare-and-swap: the counter only ever moves to a value within `max`, so once the
        // space is used up every later reservation fails, whatever its size (a fetch_add past
        // the end could wrap the counter and hand out sequence numbers, GCM nonces, again).
        let n = n.max(1);
        self.seq
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                last.checked_add(n).filter(|&l| l <= max)
            })
            .ok()
            .map(|last| last + 1)
    }

    /// The last sequence number handed out.
    pub fn last_seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// Starts the counter after `seq` (tests, and resuming a counter).
    pub fn set_last_seq(&self, seq: u64) {
        self.seq.store(seq, Ordering::Relaxed);
    }

    pub fn add_traffic(&self, packets: u64, bytes: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

impl Sa {
    /// Past a hard packet or byte limit: the SA must not be used any more (the control loop
    /// removes it; time limits are its job alone).
    #[inline]
    pub fn past_hard_traffic_limit(&self) -> bool {
        self.hard.packets.is_some_and(|l| self.counters.packets.load(Ordering::Relaxed) >= l)
            || self.hard.bytes.is_some_and(|l| self.counters.bytes.load(Ordering::Relaxed) >= l)
    }

    /// [`Sa::past_hard_traffic_limit`] counting `packets` and `bytes` more than the shared
    /// counters hold (a worker's traffic not yet added to them).
    #[inline]
    pub fn past_hard_traffic_limit_with(&self, packets: u64, bytes: u64) -> bool {
        self.hard
            .packets
            .is_some_and(|l| self.counters.packets.load(Ordering::Relaxed).saturating_add(packets) >= l)
            || self
                .hard
                .bytes
                .is_some_and(|l| self.counters.bytes.load(Ordering::Relaxed).saturating_add(bytes) >= l)
    }

    /// The largest sequence number this SA may send.
    pub fn max_seq(&self) -> u64 {
        if self.esn {
            u64::MAX
        } else {
            u32::MAX as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_start_at_one_and_never_cycle() {
        let c = SaCounters::default();
        assert_eq!(c.reserve(32, u32::MAX as u64), Some(1));
        assert_eq!(c.reserve(1, u32::MAX as u64), Some(33));
        c.set_last_seq(u32::MAX as u64 - 2);
        assert_eq!(c.reserve(2, u32::MAX as u64), Some(u32::MAX as u64 - 1));
        assert_eq!(c.reserve(1, u32::MAX as u64), None, "2^32 would wrap a 32-bit SA");
        assert_eq!(c.reserve(1, u32::MAX as u64), None, "and stays exhausted");
        // Whatever the run lengths that follow, the counter never wraps back to small numbers.
        for n in [32, 1, 2, 1, 255, 1, u64::MAX, 3] {
            assert_eq!(c.reserve(n, u32::MAX as u64), None, "reserve({n}) after exhaustion");
        }
        assert_eq!(c.last_seq(), u32::MAX as u64, "parked at the last number handed out");
        let e = SaCounters::default();
        e.set_last_seq(u32::MAX as u64);
        assert_eq!(e.reserve(1, u64::MAX), Some(1 << 32), "ESN continues past 2^32");
    }
}
