//! The neighbour table (ARP for IPv4, ND for IPv6) and its reachability state machine.
//!
//! Sans-I/O: every call takes `now`; the table returns what to send ([`Probe`]) and what
//! resolved or failed, and the caller builds the packets. Packets waiting for a resolution
//! are held here (bounded per neighbour) as opaque values of type `P`.
//!
//! States: `Incomplete` (resolving; up to [`MAX_PROBES`] solicitations one second apart, then
//! the waiting packets fail) → `Reachable` (confirmed within [`REACHABLE_TIME`]) → `Stale`
//! (unicast probes to the known MAC; the entry keeps forwarding meanwhile) → removed after
//! [`MAX_PROBES`] unanswered probes. Static entries never change.

use crate::config::MacAddr;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub const MAX_PROBES: u32 = 3;
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
pub const REACHABLE_TIME: Duration = Duration::from_secs(300);
/// Packets held per unresolved neighbour.
pub const MAX_PENDING: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub port: u8,
    pub ip: IpAddr,
}

#[derive(Debug)]
enum State<P> {
    Static,
    Incomplete { probes: u32, last: Instant, pending: Vec<P> },
    Reachable { confirmed: Instant },
    Stale { probes: u32, last: Instant },
}

#[derive(Debug)]
struct Entry<P> {
    mac: Option<MacAddr>,
    state: State<P>,
}

/// A solicitation to send: broadcast/multicast when `unicast` is `None`, else to that MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub key: Key,
    pub unicast: Option<MacAddr>,
}

/// What a `learn` or `tick` changed.
#[derive(Debug)]
pub struct Changes<P> {
    /// Packets that can go now: (key, MAC, packet).
    pub ready: Vec<(Key, MacAddr, P)>,
    /// Packets whose next hop never answered.
    pub failed: Vec<(Key, P)>,
    pub probes: Vec<Probe>,
    /// The resolved set changed (an entry appeared, moved, or was removed): rebuild the FIB.
    pub table_changed: bool,
}

impl<P> Default for Changes<P> {
    fn default() -> Self {
        Changes { ready: Vec::new(), failed: Vec::new(), probes: Vec::new(), table_changed: false }
    }
}

/// Outcome of asking to send a packet to an unresolved neighbour.
#[derive(Debug, PartialEq, Eq)]
pub enum Enqueue<P> {
    /// Known after all: send it to this MAC.
    Ready(MacAddr, P),
    /// Queued; send this probe now if given.
    Queued(Option<Probe>),
    /// The per-neighbour queue is full; the packet comes back to be dropped.
    Full(P),
}

/// A read-only view for status output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighbourView {
    pub port: u8,
    pub ip: IpAddr,
    pub mac: Option<MacAddr>,
    pub state: &'static str,
    pub pending: usize,
}

pub struct NeighbourTable<P> {
    entries: HashMap<Key, Entry<P>>,
}

impl<P> Default for NeighbourTable<P> {
    fn default() -> Self {
        NeighbourTable { entries: HashMap::new() }
    }
}

impl<P> NeighbourTable<P> {
    pub fn add_static(&mut self, key: Key, mac: MacAddr) {
        self.entries.insert(key, Entry { mac: Some(mac), state: State::Static });
    }

    /// The MAC to use for `key`, if any (reachable, stale or static).
    pub fn lookup(&self, key: &Key) -> Option<MacAddr> {
        self.entries.get(key).and_then(|e| e.mac)
    }

    /// Every entry with a MAC: what the FIB turns into host routes.
    pub fn resolved(&self) -> impl Iterator<Item = (Key, MacAddr)> + '_ {
        self.entries.iter().filter_map(|(k, e)| e.mac.map(|m| (*k, m)))
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.entries.contains_key(key)
    }

    /// Holds `packet` until `key` resolves; starts resolution if needed.
    pub fn enqueue(&mut self, key: Key, packet: P, now: Instant) -> Enqueue<P> {
        let e = self.entries.entry(key).or_insert_with(|| Entry {
            mac: None,
            state: State::Incomplete { probes: 0, last: now, pending: Vec::new() },
        });
        if let Some(mac) = e.mac {
            return Enqueue::Ready(mac, packet);
        }
        let State::Incomplete { probes, last, pending } = &mut e.state else {
            // An entry without a MAC is always Incomplete.
            return Enqueue::Full(packet);
        };
        if pending.len() >= MAX_PENDING {
            return Enqueue::Full(packet);
        }
        pending.push(packet);
        if *probes == 0 {
            *probes = 1;
            *last = now;
            return Enqueue::Queued(Some(Probe { key, unicast: None }));
        }
        Enqueue::Queued(None)
    }

    /// Records that `key` is at `mac` (from an ARP/NA/NS seen on the wire). `create` says whether
    /// an unknown neighbour may be added (true when the message was addressed to us).
    pub fn learn(&mut self, key: Key, mac: MacAddr, create: bool, now: Instant) -> Changes<P> {
        let mut ch = Changes::default();
        let Some(e) = self.entries.get_mut(&key) else {
            if create {
                self.entries
                    .insert(key, Entry { mac: Some(mac), state: State::Reachable { confirmed: now } });
                ch.table_changed = true;
            }
            return ch;
        };
        if matches!(e.state, State::Static) {
            return ch;
        }
        if e.mac != Some(mac) {
            ch.table_changed = true;
        }
        e.mac = Some(mac);
        let old = std::mem::replace(&mut e.state, State::Reachable { confirmed: now });
        if let State::Incomplete { pending, .. } = old {
            ch.ready.extend(pending.into_iter().map(|p| (key, mac, p)));
        }
        ch
    }

    /// Drives retries and aging; call about once a second.
    pub fn tick(&mut self, now: Instant) -> Changes<P> {
        let mut ch = Changes::default();
        let mut remove = Vec::new();
        for (key, e) in self.entries.iter_mut() {
            match &mut e.state {
                State::Static => {}
                State::Incomplete { probes, last, .. } => {
                    if now.duration_since(*last) >= PROBE_INTERVAL {
                        if *probes >= MAX_PROBES {
                            remove.push(*key);
                        } else {
                            *probes += 1;
                            *last = now;
                            ch.probes.push(Probe { key: *key, unicast: None });
                        }
                    }
                }
                State::Reachable { confirmed } => {
                    if now.duration_since(*confirmed) >= REACHABLE_TIME {
                        e.state = State::Stale { probes: 1, last: now };
                        ch.probes.push(Probe { key: *key, unicast: e.mac });
                    }
                }
                State::Stale { probes, last } => {
                    if now.duration_since(*last) >= PROBE_INTERVAL {
                        if *probes >= MAX_PROBES {
                            remove.push(*key);
                        } else {
                            *probes += 1;
                            *last = now;
                            ch.probes.push(Probe { key: *key, unicast: e.mac });
                        }
                    }
                }
            }
        }
        remove.sort();
        for key in remove {
            if let Some(e) = self.entries.remove(&key) {
                if e.mac.is_some() {
                    ch.table_changed = true;
                }
                if let State::Incomplete { pending, .. } = e.state {
                    ch.failed.extend(pending.into_iter().map(|p| (key, p)));
                }
            }
        }
        ch.probes.sort_by_key(|p| p.key);
        ch
    }

    pub fn view(&self) -> Vec<NeighbourView> {
        let mut v: Vec<NeighbourView> = self
            .entries
            .iter()
            .map(|(k, e)| {
                let (state, pending) = match &e.state {
                    State::Static => ("static", 0),
                    State::Incomplete { pending, .. } => ("incomplete", pending.len()),
                    State::Reachable { .. } => ("reachable", 0),
                    State::Stale { .. } => ("probing", 0),
                };
                NeighbourView { port: k.port, ip: k.ip, mac: e.mac, state, pending }
            })
            .collect();
        v.sort_by_key(|n| (n.port, n.ip));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        Key { port: 0, ip: s.parse().unwrap() }
    }
    const M: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);

    #[test]
    fn resolution_releases_pending_packets_in_order() {
        let mut t = NeighbourTable::<u32>::default();
        let now = Instant::now();
        let k = key("192.0.2.2");
        assert_eq!(t.enqueue(k, 1, now), Enqueue::Queued(Some(Probe { key: k, unicast: None })));
        assert_eq!(t.enqueue(k, 2, now), Enqueue::Queued(None), "one probe in flight");
        let ch = t.learn(k, M, false, now);
        assert!(ch.table_changed);
        assert_eq!(ch.ready.iter().map(|r| r.2).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(t.lookup(&k), Some(M));
        assert_eq!(t.enqueue(k, 3, now), Enqueue::Ready(M, 3));
    }

    #[test]
    fn unanswered_resolution_fails_after_three_probes() {
        let mut t = NeighbourTable::<u32>::default();
        let t0 = Instant::now();
        let k = key("192.0.2.3");
        t.enqueue(k, 7, t0);
        let mut probes = 1;
        for s in 1..=3 {
            let ch = t.tick(t0 + Duration::from_secs(s));
            probes += ch.probes.len();
            if s == 3 {
                assert_eq!(ch.failed.iter().map(|f| f.1).collect::<Vec<_>>(), vec![7]);
                assert!(!t.contains(&k));
            } else {
                assert!(ch.failed.is_empty());
            }
        }
        assert_eq!(probes, MAX_PROBES as usize);
    }

    #[test]
    fn queue_is_bounded() {
        let mut t = NeighbourTable::<usize>::default();
        let now = Instant::now();
        let k = key("2001:db8:1::2");
        for i in 0..MAX_PENDING {
            assert!(matches!(t.enqueue(k, i, now), Enqueue::Queued(_)));
        }
        assert_eq!(t.enqueue(k, 99, now), Enqueue::Full(99));
    }

    #[test]
    fn unsolicited_learning_needs_permission_and_static_entries_stay() {
        let mut t = NeighbourTable::<u32>::default();
        let now = Instant::now();
        assert!(!t.learn(key("192.0.2.4"), M, false, now).table_changed);
        assert_eq!(t.lookup(&key("192.0.2.4")), None);
        assert!(t.learn(key("192.0.2.4"), M, true, now).table_changed);
        let s = key("192.0.2.5");
        t.add_static(s, M);
        assert!(!t.learn(s, MacAddr([2, 0, 0, 0, 0, 1]), true, now).table_changed);
        assert_eq!(t.lookup(&s), Some(M));
    }

    #[test]
    fn reachable_entries_age_into_unicast_probes_and_expire() {
        let mut t = NeighbourTable::<u32>::default();
        let t0 = Instant::now();
        let k = key("192.0.2.6");
        t.learn(k, M, true, t0);
        assert!(t.tick(t0 + Duration::from_secs(10)).probes.is_empty());
        let ch = t.tick(t0 + REACHABLE_TIME);
        assert_eq!(ch.probes, vec![Probe { key: k, unicast: Some(M) }]);
        assert_eq!(t.lookup(&k), Some(M), "a stale entry keeps forwarding while probed");
        // An answer restores it.
        t.learn(k, M, false, t0 + REACHABLE_TIME + Duration::from_millis(10));
        assert_eq!(t.view()[0].state, "reachable");
        // No answers: removed after MAX_PROBES.
        let t1 = t0 + REACHABLE_TIME * 2 + Duration::from_secs(1);
        t.tick(t1);
        t.tick(t1 + Duration::from_secs(1));
        t.tick(t1 + Duration::from_secs(2));
        assert_eq!(t.lookup(&k), Some(M), "still probing after {MAX_PROBES} probes went out");
        let ch = t.tick(t1 + Duration::from_secs(3));
        assert!(ch.table_changed);
        assert_eq!(t.lookup(&k), None);
    }
}
