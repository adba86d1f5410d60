//! The security association database as the workers see it: an immutable snapshot
//! ([`IpsecTables`]) published by RCU pointer swap, built by the one writer that owns the
//! mutable state ([`SadbBuilder`], on the control side).
//!
//! - SAs live in **stable slots**: an SA keeps its slot index for its whole life, so per-worker
//!   state indexed by slot (the inbound replay windows) survives every republication. A slot
//!   freed by a delete is reused later by a new SA with a new `uid`, which tells a worker to
//!   start a fresh window.
//! - Inbound SAs are found by SPI in a [`SpiTable`] whose buckets point at the SA entries
//!   themselves (one cache line read per lookup, from 1 to 100k SAs). SPIs chosen by different
//!   peers can collide; such SPIs are disambiguated by the outer destination address (RFC 4301
//!   §4.1 allows SPI plus destination).
//! - Entries are shared (`Arc`) between the writer and every snapshot: publishing copies
//!   pointers, and a change to an entry copies that entry only (copy on write).
//! - Outbound SAs are reached through the outbound [`Spd`]; the inbound [`Spd`] says which SA
//!   must have protected a packet (and that a clear-text packet it protects is dropped).
//!
//! - Route-based tunnels (VTIs): the SADB knows which IKE peer each VTI is bound to, marks the
//!   SAs of that peer with the VTI, and keeps per VTI the slot of its current outbound SA
//!   ([`IpsecTables::vti_sa`]). Rekeys, repoints and removals move or clear it, and it is
//!   published with the same snapshot as the SAs, so a worker never sees a VTI pointing at a
//!   slot that snapshot does not hold.
//!
//! Rekeying is make-before-break: the new inbound SA is added while the old one is still in
//! the table, so packets of either are accepted; then the outbound policy is pointed at the
//! new outbound SA; the old SAs are deleted last. Workers never wait: they load the snapshot
//! once per burst and hold it until the burst ends.

use super::sa::Sa;
use super::spd::{Policy, Spd, Verdict};
use super::spi_table::{Found, SpiTable};
use rustc_hash::FxHashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Direction of an SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaDirection {
    In,
    Out,
}

/// One occupied slot.
#[derive(Clone, Debug)]
pub struct SaEntry {
    /// Unique over the process lifetime: a new SA in a reused slot has a new uid.
    pub uid: u64,
    pub direction: SaDirection,
    pub sa: Arc<Sa>,
    /// Set on an SA being rekeyed: the slot of the SA replacing it. An inbound packet that the
    /// old SA decrypts still passes the policy check of the new one until the old SA is
    /// deleted (make-before-break).
    pub successor: Option<(u32, u64)>,
    /// When the SA was added (its seconds lifetimes count from here).
    pub installed: std::time::Instant,
    /// The VTI (index) whose traffic this SA carries: a packet it decrypts may have any inner
    /// addresses and is routed as arriving from the VTI.
    pub vti: Option<u16>,
}

/// The snapshot workers read.
pub struct IpsecTables {
    /// Increases with every publication; workers re-sync their per-slot state when it moves.
    pub generation: u64,
    slots: Vec<Option<Arc<SaEntry>>>,
    /// Inbound SPI → SA.
    by_spi: SpiTable,
    /// (SPI, destination) → slot, for the SPIs several inbound SAs share.
    by_spi_dst: FxHashMap<(u32, IpAddr), u32>,
    pub outbound: Spd,
    pub inbound: Spd,
    /// Per inbound policy: [`super::policy_hint::settle`].
    settled: Vec<bool>,
    /// Fragment DF-clear IPv4 packets too big for their tunnel before encryption (otherwise
    /// drop them).
    pub pre_fragment: bool,
    /// No SA and no policy (computed once per snapshot: the workers test it per packet).
    idle: bool,
    /// Where a packet dropped on a trap policy asks for its SA.
    pub acquires: Arc<Acquires>,
    /// Per VTI index: the slot of its current outbound SA.
    vti_out: Vec<Option<u32>>,
}

impl std::fmt::Debug for IpsecTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpsecTables")
            .field("generation", &self.generation)
            .field("sas", &self.slots.iter().flatten().count())
            .field("outbound", &self.outbound)
            .field("inbound", &self.inbound)
            .finish()
    }
}

impl Default for IpsecTables {
    /// No SA, no policy: every IPsec step is skipped.
    fn default() -> Self {
        SadbBuilder::new().snapshot()
    }
}

impl IpsecTables {
    /// No SA and no policy: the workers skip every IPsec step.
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.idle
    }

    #[inline]
    pub fn has_inbound_sas(&self) -> bool {
        self.by_spi.len() > 0
    }

    /// Whether inbound policy `i` settles the policy checks of a decrypted IPv4 packet that
    /// fits it ([`super::policy_hint`]).
    #[inline]
    pub fn is_settled(&self, i: usize) -> bool {
        self.settled.get(i).copied().unwrap_or(false)
    }

    /// The SA in `slot`, if any.
    #[inline]
    pub fn entry(&self, slot: u32) -> Option<&SaEntry> {
        self.slots.get(slot as usize)?.as_deref()
    }

    #[inline]
    pub fn sa(&self, slot: u32) -> Option<&Sa> {
        self.entry(slot).map(|e| &*e.sa)
    }

    /// Whether a packet decrypted by the SA in `decrypted` may pass an inbound policy that
    /// names `policy_sa`: the same SA, or one it is being rekeyed into.
    #[inline]
    pub fn accepts(&self, policy_sa: u32, decrypted: u32) -> bool {
        policy_sa == decrypted
            || self.entry(decrypted).is_some_and(|e| {
                // The successor by slot and uid: if it was removed and its slot reused, the
                // newcomer's policies do not cover the old SA's packets.
                e.successor.is_some_and(|(slot, uid)| {
                    slot == policy_sa && self.entry(slot).is_some_and(|s| s.uid == uid)
                })
            })
    }

    /// The slot of VTI `vti`'s current outbound SA; `None` while the VTI is down.
    #[inline]
    pub fn vti_sa(&self, vti: u16) -> Option<u32> {
        self.vti_out.get(vti as usize).copied().flatten()
    }

    /// Whether any VTI is configured (the inject path then checks routes into VTIs).
    #[inline]
    pub fn has_vtis(&self) -> bool {
        !self.vti_out.is_empty()
    }

    /// The VTI whose SA in `slot` decrypted a packet, if it is a VTI's.
    #[inline]
    pub fn vti_of(&self, slot: u32) -> Option<u16> {
        self.entry(slot).and_then(|e| e.vti)
    }

    /// The inbound SA for `spi` arriving for outer destination `dst`.
    #[inline]
    pub fn inbound_sa(&self, spi: u32, dst: IpAddr) -> Option<(u32, &SaEntry)> {
        match self.by_spi.get(spi)? {
            Found::Sa(slot, entry) => Some((slot, entry)),
            Found::Colliding => {
                let slot = *self.by_spi_dst.get(&(spi, dst))?;
                Some((slot, self.entry(slot)?))
            }
        }
    }

    /// Number of slots (occupied or not): per-worker state is sized to this.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Every SA with its slot.
    pub fn entries(&self) -> impl Iterator<Item = (u32, &SaEntry)> {
        self.slots.iter().enumerate().filter_map(|(i, e)| Some((i as u32, &**e.as_ref()?)))
    }
}

/// A lifetime limit reached (RFC 4301 §4.4.2.1): soft asks the key manager to rekey, hard
/// removes the SA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifetimeEvent {
    pub slot: u32,
    pub name: String,
    pub hard: bool,
    /// Which limit: "seconds", "bytes" or "packets".
    pub limit: &'static str,
}

/// Words of [`Acquires`]: 64 trap policies each.
const ACQUIRE_WORDS: usize = 32;

/// Acquire requests from the data plane to the key manager: one bit per trap
/// ([`Verdict::Trap`]). A worker that drops a packet on a trap raises its bit (a load, and an
/// atomic OR only when the bit is clear: no allocation, no lock, no wait); the control loop
/// takes the raised bits and negotiates. Shared by every snapshot, so a bit raised through an
/// old snapshot is not lost.
#[derive(Debug, Default)]
pub struct Acquires {
    bits: [std::sync::atomic::AtomicU64; ACQUIRE_WORDS],
}

impl Acquires {
    /// How many traps there can be (ids `0..CAPACITY`).
    pub const CAPACITY: u32 = (ACQUIRE_WORDS * 64) as u32;

    /// Data plane: traffic hit trap `id`. An id past the capacity is ignored.
    #[inline]
    pub fn raise(&self, id: u32) {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(w) = self.bits.get((id / 64) as usize) else { return };
        let bit = 1u64 << (id % 64);
        if w.load(Relaxed) & bit == 0 {
            w.fetch_or(bit, Relaxed);
        }
    }

    /// Control side: the traps raised since the last call, clearing them.
    pub fn take(&self) -> Vec<u32> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut v = Vec::new();
        for (i, w) in self.bits.iter().enumerate() {
            if w.load(Relaxed) == 0 {
                continue;
            }
            let mut b = w.swap(0, Relaxed);
            while b != 0 {
                v.push(i as u32 * 64 + b.trailing_zeros());
                b &= b - 1;
            }
        }
        v
    }
}

/// The single writer's view: owns slot allocation and builds snapshots.
#[derive(Default)]
pub struct SadbBuilder {
    slots: Vec<Option<Arc<SaEntry>>>,
    /// Per slot: whether the SA's soft limit was already reported.
    soft_reported: Vec<bool>,
    free: Vec<u32>,
    next_uid: u64,
    outbound: Vec<Policy>,
    inbound: Vec<Policy>,
    /// Policies a key manager (IKE) adds per Child SA; they come after the configured ones.
    keyed_outbound: Vec<Policy>,
    keyed_inbound: Vec<Policy>,
    /// A key manager's trap policies: last, so a Child SA's keyed policies win once it exists.
    trap_outbound: Vec<Policy>,
    trap_inbound: Vec<Policy>,
    acquires: Arc<Acquires>,
    generation: u64,
    pre_fragment: bool,
    /// Per VTI index: the IKE peer it is bound to, and the slot of its current outbound SA.
    vtis: Vec<(String, Option<u32>)>,
}

impl SadbBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an SA and returns its slot. A freed slot is reused before the table grows.
    pub fn add(&mut self, sa: Sa, direction: SaDirection) -> u32 {
        self.next_uid += 1;
        let installed = std::time::Instant::now();
        let entry = Arc::new(SaEntry {
            uid: self.next_uid,
            direction,
            sa: Arc::new(sa),
            successor: None,
            installed,
            vti: None,
        });
        match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(entry);
                self.soft_reported[s as usize] = false;
                s
            }
            None => {
                self.slots.push(Some(entry));
                self.soft_reported.push(false);
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Puts `sa` in `slot` in place of the SA there, keeping its uid and install time: the
    /// workers keep its replay windows, and its lifetimes keep counting. For a change that
    /// leaves the keys alone (the caller carries the sequence counter over).
    pub fn replace(&mut self, slot: u32, sa: Sa) -> bool {
        match self.slots.get_mut(slot as usize) {
            Some(Some(e)) => {
                Arc::make_mut(e).sa = Arc::new(sa);
                true
            }
            _ => false,
        }
    }

    /// Removes the SA in `slot`; policies must no longer point at it. A VTI whose current
    /// outbound SA it was goes down.
    pub fn remove(&mut self, slot: u32) -> Option<Arc<SaEntry>> {
        let e = self.slots.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        for v in &mut self.vtis {
            if v.1 == Some(slot) {
                v.1 = None;
            }
        }
        Some(e)
    }

    /// Declares the VTIs: VTI `i` is bound to IKE peer `peers[i]`. Once, at start (VTIs change
    /// only with a restart).
    pub fn set_vtis(&mut self, peers: Vec<String>) {
        self.vtis = peers.into_iter().map(|p| (p, None)).collect();
    }

    /// The VTI bound to IKE peer `peer`, if any: its Child SAs are route-based.
    pub fn vti_of_peer(&self, peer: &str) -> Option<u16> {
        self.vtis.iter().position(|v| v.0 == peer).map(|i| i as u16)
    }

    /// Marks the SA in `slot` as carrying VTI `vti`'s traffic.
    pub fn set_vti(&mut self, slot: u32, vti: u16) {
        if let Some(Some(e)) = self.slots.get_mut(slot as usize) {
            Arc::make_mut(e).vti = Some(vti);
        }
    }

    /// Makes the outbound SA in `slot` the one VTI `vti` encrypts with.
    pub fn set_vti_sa(&mut self, vti: u16, slot: u32) {
        let outbound = self.entry(slot).is_some_and(|e| e.direction == SaDirection::Out);
        if let (Some(v), true) = (self.vtis.get_mut(vti as usize), outbound) {
            v.1 = Some(slot);
        }
    }

    pub fn entry(&self, slot: u32) -> Option<&SaEntry> {
        self.slots.get(slot as usize)?.as_deref()
    }

    /// Checks every SA's lifetime at `now`: reports soft limits once, and removes SAs past a
    /// hard limit (policies naming a removed SA then drop their traffic as `sa_expired`
    /// rather than send it in the clear). Returns what happened; the caller republishes when
    /// anything was removed.
    pub fn expire(&mut self, now: std::time::Instant) -> Vec<LifetimeEvent> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut events = Vec::new();
        for i in 0..self.slots.len() {
            let Some(e) = &self.slots[i] else { continue };
            let sa = &e.sa;
            let age = now.saturating_duration_since(e.installed).as_secs();
            let (packets, bytes) = (sa.counters.packets.load(Relaxed), sa.counters.bytes.load(Relaxed));
            let reached = |l: &super::sa::Limits| {
                if l.seconds.is_some_and(|s| age >= s) {
                    Some("seconds")
                } else if l.bytes.is_some_and(|b| bytes >= b) {
                    Some("bytes")
                } else if l.packets.is_some_and(|p| packets >= p) {
                    Some("packets")
                } else {
                    None
                }
            };
            if let Some(limit) = reached(&sa.hard) {
                events.push(LifetimeEvent { slot: i as u32, name: sa.name.clone(), hard: true, limit });
                self.remove(i as u32);
            } else if let Some(limit) = reached(&sa.soft) {
                if !self.soft_reported[i] {
                    self.soft_reported[i] = true;
                    events.push(LifetimeEvent { slot: i as u32, name: sa.name.clone(), hard: false, limit });
                }
            }
        }
        events
    }

    /// Rekeys make-before-break: adds `new` beside the SA in `old`, points every protect
    /// policy of that direction at the new slot, and marks the old SA as replaced. The old SA
    /// keeps working (inbound packets in flight decrypt and pass the policy check) until it is
    /// [`SadbBuilder::remove`]d.
    pub fn rekey(&mut self, old: u32, new: Sa) -> Option<u32> {
        let direction = self.entry(old)?.direction;
        let vti = self.entry(old)?.vti;
        let slot = self.add(new, direction);
        let uid = self.next_uid;
        if let Some(Some(e)) = self.slots.get_mut(old as usize) {
            Arc::make_mut(e).successor = Some((slot, uid));
        }
        if let Some(Some(e)) = self.slots.get_mut(slot as usize) {
            Arc::make_mut(e).vti = vti;
        }
        self.repoint(old, slot);
        Some(slot)
    }

    /// Points every protect policy that names the SA in `old` at the SA in `new` (same
    /// direction): a key manager moving traffic to an SA it added earlier, e.g. once the peer
    /// has deleted the SA being replaced. `old` may already be removed (a hard lifetime):
    /// its policies then move to `new`, in `new`'s direction.
    pub fn repoint(&mut self, old: u32, new: u32) {
        let Some(direction) = self.entry(new).map(|e| e.direction) else { return };
        if self.entry(old).is_some_and(|e| e.direction != direction) {
            return;
        }
        let (configured, keyed) = match direction {
            SaDirection::Out => (&mut self.outbound, &mut self.keyed_outbound),
            SaDirection::In => (&mut self.inbound, &mut self.keyed_inbound),
        };
        for p in configured.iter_mut().chain(keyed.iter_mut()) {
            if p.verdict == Verdict::Protect(old) {
                p.verdict = Verdict::Protect(new);
            }
        }
        for v in &mut self.vtis {
            if v.1 == Some(old) {
                v.1 = Some(new);
            }
        }
    }

    /// Adds policies that a key manager negotiated (a Child SA's traffic selectors). They are
    /// looked up after the configured policies, so an admin's bypass/discard still wins, and
    /// [`SadbBuilder::set_policies`] (a reload) leaves them alone.
    pub fn add_keyed_policies(&mut self, outbound: Vec<Policy>, inbound: Vec<Policy>) {
        self.keyed_outbound.extend(outbound);
        self.keyed_inbound.extend(inbound);
    }

    /// Drops the keyed policies that protect with the SA in `slot` (before removing the SA).
    pub fn remove_keyed_policies(&mut self, slot: u32) {
        self.keyed_outbound.retain(|p| p.verdict != Verdict::Protect(slot));
        self.keyed_inbound.retain(|p| p.verdict != Verdict::Protect(slot));
    }

    /// Adds trap policies ([`Verdict::Trap`]); they are looked up after every other policy
    /// and stay until an IKE reload rebuilds them ([`SadbBuilder::clear_trap_policies`]); a
    /// reload of the configured policies leaves them alone.
    pub fn add_trap_policies(&mut self, outbound: Vec<Policy>, inbound: Vec<Policy>) {
        self.trap_outbound.extend(outbound);
        self.trap_inbound.extend(inbound);
    }

    /// Drops every trap policy (an IKE reload rebuilds them).
    pub fn clear_trap_policies(&mut self) {
        self.trap_outbound.clear();
        self.trap_inbound.clear();
    }

    /// Where the data plane raises the traps it hit.
    pub fn acquires(&self) -> &Arc<Acquires> {
        &self.acquires
    }

    /// Whether DF-clear IPv4 packets too big for their tunnel are fragmented before
    /// encryption (`true`) or dropped.
    pub fn set_pre_fragment(&mut self, on: bool) {
        self.pre_fragment = on;
    }

    /// Replaces both policy lists (each in priority order).
    pub fn set_policies(&mut self, outbound: Vec<Policy>, inbound: Vec<Policy>) {
        self.outbound = outbound;
        self.inbound = inbound;
    }

    /// A new immutable snapshot of the current state.
    pub fn snapshot(&mut self) -> IpsecTables {
        self.generation += 1;
        let inbound_sas: Vec<_> = (self.slots.iter().enumerate())
            .filter_map(|(i, e)| {
                let e = e.as_ref().filter(|e| e.direction == SaDirection::In)?;
                Some((e.sa.spi, i as u32, e))
            })
            .collect();
        let by_spi = SpiTable::build(inbound_sas.iter().copied());
        // Only colliding SPIs need the (SPI, destination) map.
        let mut by_spi_dst: FxHashMap<(u32, IpAddr), u32> = FxHashMap::default();
        for &(spi, slot, e) in &inbound_sas {
            if matches!(by_spi.get(spi), Some(Found::Colliding)) {
                by_spi_dst.insert((spi, e.sa.mode.local()), slot);
            }
        }
        let chain = |a: &[Policy], b: &[Policy], c: &[Policy]| a.iter().chain(b).chain(c).cloned().collect();
        let outbound = Spd::build(chain(&self.outbound, &self.keyed_outbound, &self.trap_outbound));
        let inbound = Spd::build(chain(&self.inbound, &self.keyed_inbound, &self.trap_inbound));
        let settled = super::policy_hint::settle(&inbound, &outbound, super::policy_hint::SETTLE_BUDGET);
        IpsecTables {
            generation: self.generation,
            settled,
            slots: self.slots.clone(),
            idle: by_spi.len() == 0 && outbound.is_empty() && inbound.is_empty(),
            by_spi,
            by_spi_dst,
            outbound,
            inbound,
            pre_fragment: self.pre_fragment,
            acquires: self.acquires.clone(),
            vti_out: self.vtis.iter().map(|v| v.1).collect(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ipsec::crypto::{Algorithm, Transform};
    use crate::ipsec::sa::{DfPolicy, Limits, Mode, SaCounters};
    use crate::ipsec::spd::Selector;

    pub(crate) fn sa(spi: u32, local: &str) -> Sa {
        Sa {
            name: format!("sa-{spi:x}"),
            protocol: crate::ipsec::sa::Protocol::Esp,
            spi,
            mode: Mode::Tunnel { local: local.parse().unwrap(), remote: "203.0.113.9".parse().unwrap() },
            transform: Transform::new(Algorithm::AesGcm16_128, &[7; 20], &[]).unwrap(),
            esn: false,
            natt: None,
            replay_window: 64,
            df: DfPolicy::Copy,
            soft: Limits::default(),
            hard: Limits::default(),
            counters: Arc::new(SaCounters::default()),
        }
    }

    #[test]
    fn slots_are_stable_and_reused_with_a_new_uid() {
        let mut b = SadbBuilder::new();
        let a = b.add(sa(0x100, "203.0.113.1"), SaDirection::In);
        let c = b.add(sa(0x200, "203.0.113.1"), SaDirection::In);
        let t1 = b.snapshot();
        let uid_c = t1.entry(c).unwrap().uid;
        b.remove(a);
        let t2 = b.snapshot();
        assert!(t2.inbound_sa(0x100, "203.0.113.1".parse().unwrap()).is_none());
        assert_eq!(t2.inbound_sa(0x200, "203.0.113.1".parse().unwrap()).unwrap().0, c);
        assert_eq!(t2.entry(c).unwrap().uid, uid_c, "an untouched SA keeps slot and uid");
        let d = b.add(sa(0x300, "203.0.113.1"), SaDirection::In);
        assert_eq!(d, a, "the freed slot is reused");
        let t3 = b.snapshot();
        assert_ne!(t3.entry(d).unwrap().uid, t1.entry(a).unwrap().uid);
        assert!(t3.generation > t2.generation && t2.generation > t1.generation);
    }

    #[test]
    fn soft_lifetime_is_reported_once_and_hard_lifetime_removes() {
        let mut b = SadbBuilder::new();
        let mut x = sa(0x100, "203.0.113.1");
        x.soft.packets = Some(10);
        x.hard.packets = Some(20);
        let mut y = sa(0x200, "203.0.113.1");
        y.hard.seconds = Some(60);
        let xs = b.add(x, SaDirection::Out);
        let ys = b.add(y, SaDirection::In);
        let now = std::time::Instant::now();
        assert!(b.expire(now).is_empty());
        b.entry(xs).unwrap().sa.counters.add_traffic(10, 1000);
        let ev = b.expire(now);
        assert_eq!(ev.len(), 1);
        assert!(!ev[0].hard && ev[0].limit == "packets");
        assert!(b.expire(now).is_empty(), "soft is reported once");
        b.entry(xs).unwrap().sa.counters.add_traffic(10, 1000);
        let ev = b.expire(now);
        assert!(ev[0].hard && ev[0].slot == xs);
        assert!(b.entry(xs).is_none(), "hard expiry removes the SA");
        let ev = b.expire(now + std::time::Duration::from_secs(61));
        assert_eq!((ev[0].slot, ev[0].hard, ev[0].limit), (ys, true, "seconds"));
        assert!(b.snapshot().inbound_sa(0x200, "203.0.113.1".parse().unwrap()).is_none());
    }

    #[test]
    fn a_successor_whose_slot_was_reused_vouches_for_nobody() {
        let mut b = SadbBuilder::new();
        let old = b.add(sa(0x100, "203.0.113.1"), SaDirection::In);
        let new = b.rekey(old, sa(0x101, "203.0.113.1")).unwrap();
        assert!(b.snapshot().accepts(new, old), "during the rekey the old SA passes the new policy");
        b.remove(new);
        let other = b.add(sa(0x200, "203.0.113.1"), SaDirection::In);
        assert_eq!(other, new, "the slot is reused");
        assert!(!b.snapshot().accepts(other, old), "an unrelated SA in the slot is not the successor");
    }

    #[test]
    fn colliding_spis_are_told_apart_by_destination() {
        let mut b = SadbBuilder::new();
        let x = b.add(sa(0x1000, "203.0.113.1"), SaDirection::In);
        let y = b.add(sa(0x1000, "203.0.113.2"), SaDirection::In);
        let _out = b.add(sa(0x2000, "203.0.113.1"), SaDirection::Out);
        let t = b.snapshot();
        assert_eq!(t.inbound_sa(0x1000, "203.0.113.1".parse().unwrap()).unwrap().0, x);
        assert_eq!(t.inbound_sa(0x1000, "203.0.113.2".parse().unwrap()).unwrap().0, y);
        assert!(t.inbound_sa(0x1000, "203.0.113.3".parse().unwrap()).is_none());
        assert!(
            t.inbound_sa(0x2000, "203.0.113.1".parse().unwrap()).is_none(),
            "outbound SAs are not inbound"
        );
    }

    #[test]
    fn a_hundred_thousand_inbound_sas() {
        let mut b = SadbBuilder::new();
        for i in 0..100_000u32 {
            b.add(sa(0x1_0000 + i, "203.0.113.1"), SaDirection::In);
        }
        let t = b.snapshot();
        let dst = "203.0.113.1".parse().unwrap();
        for i in (0..100_000u32).step_by(997) {
            assert_eq!(t.inbound_sa(0x1_0000 + i, dst).unwrap().1.sa.spi, 0x1_0000 + i);
        }
        assert!(t.inbound_sa(7, dst).is_none());
    }

    #[test]
    fn a_published_snapshot_keeps_the_entries_it_was_built_with() {
        let mut b = SadbBuilder::new();
        let dst = "203.0.113.1".parse().unwrap();
        let old = b.add(sa(0x3000, "203.0.113.1"), SaDirection::In);
        let before = b.snapshot();
        let new = b.rekey(old, sa(0x3001, "203.0.113.1")).unwrap();
        b.set_vti(old, 0);
        let after = b.snapshot();
        // The writer's changes copy the entry: the earlier snapshot still sees it unchanged,
        // through the SPI table and through its slot alike.
        assert_eq!(before.inbound_sa(0x3000, dst).unwrap().1.successor, None);
        assert_eq!(before.entry(old).unwrap().vti, None);
        assert!(before.inbound_sa(0x3001, dst).is_none());
        let (slot, e) = after.inbound_sa(0x3000, dst).unwrap();
        assert_eq!((slot, e.successor.map(|s| s.0), e.vti), (old, Some(new), Some(0)));
        assert!(std::ptr::eq(e, after.entry(old).unwrap()), "one entry, reached either way");
        assert_eq!(after.inbound_sa(0x3001, dst).unwrap().0, new);
    }

    #[test]
    fn the_spi_table_follows_removals_and_reused_slots() {
        let mut b = SadbBuilder::new();
        let dst = "203.0.113.1".parse().unwrap();
        let slots: Vec<u32> =
            (0..1000u32).map(|i| b.add(sa(0x10_0000 + i * 7919, "203.0.113.1"), SaDirection::In)).collect();
        for &s in slots.iter().step_by(3) {
            b.remove(s);
        }
        // The freed slots go to new SPIs.
        let reused: Vec<u32> =
            (0..334u32).map(|i| b.add(sa(0x90_0000 + i, "203.0.113.1"), SaDirection::In)).collect();
        let t = b.snapshot();
        for (i, &s) in slots.iter().enumerate() {
            let found = t.inbound_sa(0x10_0000 + i as u32 * 7919, dst);
            if i % 3 == 0 {
                assert!(found.is_none(), "removed SPI {i} still found");
            } else {
                assert_eq!(found.unwrap().0, s);
            }
        }
        for (i, &s) in reused.iter().enumerate() {
            let (slot, e) = t.inbound_sa(0x90_0000 + i as u32, dst).unwrap();
            assert_eq!((slot, e.sa.spi), (s, 0x90_0000 + i as u32));
        }
        assert!(reused.iter().all(|s| slots.contains(s)), "freed slots are reused first");
    }

    #[test]
    fn keyed_policies_follow_rekeys_and_survive_set_policies() {
        use crate::config::ipsec::PortRange;
        let mut b = SadbBuilder::new();
        let out = b.add(sa(0x100, "203.0.113.1"), SaDirection::Out);
        let sel = Selector {
            src: "192.0.2.0/24".parse().unwrap(),
            dst: "198.51.100.0/24".parse().unwrap(),
            protocol: None,
            src_ports: PortRange::default(),
            dst_ports: PortRange::default(),
        };
        let pol = Policy { name: "ike".into(), selector: sel, verdict: Verdict::Protect(out) };
        b.add_keyed_policies(vec![pol], vec![]);
        b.set_policies(vec![], vec![]);
        assert_eq!(b.snapshot().outbound.policies().len(), 1, "a reload keeps IKE's policies");
        let new = b.rekey(out, sa(0x200, "203.0.113.1")).unwrap();
        assert_eq!(b.snapshot().outbound.policies()[0].verdict, Verdict::Protect(new));
        b.remove(out);
        b.remove_keyed_policies(new);
        b.remove(new);
        assert!(b.snapshot().is_idle());
    }

    #[test]
    fn repoint_moves_policies_to_an_sa_added_earlier() {
        use crate::config::ipsec::PortRange;
        let mut b = SadbBuilder::new();
        let old = b.add(sa(0x100, "203.0.113.1"), SaDirection::Out);
        let sel = Selector {
            src: "192.0.2.0/24".parse().unwrap(),
            dst: "198.51.100.0/24".parse().unwrap(),
            protocol: None,
            src_ports: PortRange::default(),
            dst_ports: PortRange::default(),
        };
        b.add_keyed_policies(
            vec![Policy { name: "ike".into(), selector: sel, verdict: Verdict::Protect(old) }],
            vec![],
        );
        // A deferred switch: the new SA is in, the policy still uses the old one.
        let new = b.add(sa(0x200, "203.0.113.1"), SaDirection::Out);
        assert_eq!(b.snapshot().outbound.policies()[0].verdict, Verdict::Protect(old));
        let inbound = b.add(sa(0x300, "203.0.113.1"), SaDirection::In);
        b.repoint(old, inbound);
        assert_eq!(
            b.snapshot().outbound.policies()[0].verdict,
            Verdict::Protect(old),
            "never across directions"
        );
        b.repoint(old, new);
        assert_eq!(b.snapshot().outbound.policies()[0].verdict, Verdict::Protect(new));
        b.remove(old);
        assert_eq!(b.snapshot().outbound.policies().len(), 1);
    }

    #[test]
    fn a_vti_follows_its_outbound_sa_through_rekey_and_delete() {
        let mut b = SadbBuilder::new();
        b.set_vtis(vec!["aws1".into(), "aws2".into()]);
        assert_eq!(b.vti_of_peer("aws2"), Some(1));
        assert_eq!(b.vti_of_peer("other"), None);
        let t = b.snapshot();
        assert!(t.has_vtis() && t.vti_sa(0).is_none() && t.vti_sa(7).is_none());
        let i = b.add(sa(0x100, "203.0.113.1"), SaDirection::In);
        let o = b.add(sa(0x101, "203.0.113.1"), SaDirection::Out);
        b.set_vti(i, 0);
        b.set_vti(o, 0);
        b.set_vti_sa(0, i);
        assert_eq!(b.snapshot().vti_sa(0), None, "only an outbound SA encrypts for a VTI");
        b.set_vti_sa(0, o);
        let t = b.snapshot();
        assert_eq!((t.vti_sa(0), t.vti_sa(1)), (Some(o), None));
        assert_eq!((t.vti_of(i), t.vti_of(o)), (Some(0), Some(0)));
        let i2 = b.rekey(i, sa(0x200, "203.0.113.1")).unwrap();
        let o2 = b.rekey(o, sa(0x201, "203.0.113.1")).unwrap();
        let t = b.snapshot();
        assert_eq!(t.vti_sa(0), Some(o2), "a rekey moves the VTI to the new SA");
        assert_eq!(t.vti_of(i2), Some(0), "the new inbound SA is the VTI's too");
        b.remove(o);
        b.remove(i);
        assert_eq!(b.snapshot().vti_sa(0), Some(o2), "removing the old pair leaves the VTI up");
        b.remove(o2);
        assert_eq!(b.snapshot().vti_sa(0), None, "without its SA the VTI is down");
    }
}
