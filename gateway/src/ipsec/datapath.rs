//! The per-worker half of IPsec processing: the state one worker owns (inbound replay windows,
//! an IV generator) and the two operations it performs on a packet, [`IpsecWorker::protect`]
//! and [`IpsecWorker::unprotect`]. The shared half is the published [`IpsecTables`].
//!
//! Replay windows are indexed by SADB slot and tagged with the SA's uid. They live here, not
//! in the snapshot, because a window is mutated by every packet: each inbound SA's window has
//! one owning worker (RSS hashes the outer addresses, so one SA's packets reach one queue). On
//! a new table generation the worker gives every new inbound SA a fresh window and keeps the
//! windows of SAs that are still there, so a republication never reopens a replay gap.

use super::ah;
use super::esp::{self, Decapsulated, Inbound};
use super::policy_hint::PolicyHint;
use super::replay::ReplayWindow;
use super::sa::{Mode, Protocol, Sa};
use super::sadb::{IpsecTables, SaDirection};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes256;

/// Unpredictable IVs for CBC (RFC 3602 §3): AES-256 in counter mode under a random per-worker
/// key (the CTR_DRBG construction of NIST SP 800-90A without a derivation function). GCM
/// uses the sequence number as its IV instead (RFC 4106 §3.1: unique is enough).
pub struct IvSource {
    cipher: Aes256,
    counter: u128,
}

impl IvSource {
    pub fn new() -> Result<IvSource, String> {
        let mut seed = [0u8; 48];
        getrandom::getrandom(&mut seed).map_err(|e| format!("cannot seed the IV generator: {e}"))?;
        let cipher = Aes256::new_from_slice(&seed[..32]).map_err(|e| e.to_string())?;
        let counter = u128::from_be_bytes(seed[32..48].try_into().unwrap_or([0; 16]));
        seed.iter_mut().for_each(|b| *b = 0);
        Ok(IvSource { cipher, counter })
    }

    /// The next 16 unpredictable bytes.
    #[inline]
    pub fn next_block(&mut self) -> [u8; 16] {
        self.counter = self.counter.wrapping_add(1);
        let mut b = self.counter.to_be_bytes().into();
        self.cipher.encrypt_block(&mut b);
        b.into()
    }
}

/// What [`IpsecWorker::unprotect`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unprotected {
    /// Decapsulated by the inbound SA in `slot`: the buffer holds the inner IP packet.
    Packet { slot: u32, inner: Decapsulated },
    /// A NAT-T keepalive: consumed.
    Keepalive,
    /// Not ESP (IKE on UDP 4500 behind the non-ESP marker, or something else for the gateway):
    /// the buffer is unchanged, for the control path.
    NotIpsec,
}

/// The IPsec state one worker owns.
pub struct IpsecWorker {
    generation: u64,
    /// (uid, window) per SADB slot; `None` for outbound or empty slots.
    windows: Vec<Option<(u64, ReplayWindow)>>,
    ivs: IvSource,
    /// Traffic of the inbound SA decapsulated last, not yet added to its shared counters:
    /// one pair of atomic adds per run of packets rather than per packet. The worker calls
    /// [`IpsecWorker::flush_traffic`] after every burst; the hard-limit check counts it.
    pending: PendingTraffic,
    last: LastInbound,
    /// The inbound policy that passed the last decrypted packet (see [`PolicyHint`]).
    pub policy_hint: PolicyHint,
}

/// The worker's last inbound SA lookup: packets of one SA tend to arrive in runs, and a run
/// then skips the SPI hash lookup. Valid only for the table generation it was made in.
#[derive(Clone, Copy, Debug)]
struct LastInbound {
    generation: u64,
    spi: u32,
    dst: std::net::IpAddr,
    slot: u32,
}

impl Default for LastInbound {
    fn default() -> Self {
        // Generation 0 is never published (the first snapshot is 1): matches nothing.
        LastInbound { generation: 0, spi: 0, dst: std::net::Ipv4Addr::UNSPECIFIED.into(), slot: 0 }
    }
}

/// See [`IpsecWorker::flush_traffic`].
#[derive(Clone, Copy, Debug, Default)]
struct PendingTraffic {
    slot: u32,
    uid: u64,
    packets: u64,
    bytes: u64,
}

impl IpsecWorker {
    pub fn new() -> Result<IpsecWorker, String> {
        Ok(IpsecWorker {
            generation: 0,
            windows: Vec::new(),
            ivs: IvSource::new()?,
            pending: PendingTraffic::default(),
            last: LastInbound::default(),
            policy_hint: PolicyHint::default(),
        })
    }

    /// Brings the per-slot state in line with `t`: called once per burst, does work only when
    /// the generation moved (a table change, not a packet, is what allocates).
    #[inline]
    pub fn sync(&mut self, t: &IpsecTables) {
        if t.generation != self.generation {
            self.resync(t);
        }
    }

    /// Adds the traffic decapsulated since the last call to its SA's counters. Called by the
    /// worker after every burst, with the tables the burst was processed with.
    #[inline]
    pub fn flush_traffic(&mut self, t: &IpsecTables) {
        let p = &mut self.pending;
        if p.packets > 0 {
            if let Some(e) = t.entry(p.slot).filter(|e| e.uid == p.uid) {
                e.sa.counters.add_traffic(p.packets, p.bytes);
            }
            p.packets = 0;
            p.bytes = 0;
        }
    }

    /// Counts one decapsulated packet of `bytes` for the inbound SA in `slot`.
    #[inline(always)]
    fn count_traffic(&mut self, slot: u32, uid: u64, bytes: u64, t: &IpsecTables) {
        let p = &self.pending;
        if p.packets > 0 && (p.slot != slot || p.uid != uid) {
            self.flush_traffic(t);
        }
        let p = &mut self.pending;
        p.slot = slot;
        p.uid = uid;
        p.packets += 1;
        p.bytes += bytes;
    }

    #[cold]
    fn resync(&mut self, t: &IpsecTables) {
        self.generation = t.generation;
        self.windows.resize_with(t.slot_count(), || None);
        for (i, w) in self.windows.iter_mut().enumerate() {
            match t.entry(i as u32) {
                Some(e) if e.direction == SaDirection::In => {
                    if w.as_ref().is_none_or(|(uid, _)| *uid != e.uid) {
                        let window = if e.sa.replay_window == 0 {
                            ReplayWindow::disabled()
                        } else {
                            ReplayWindow::new(e.sa.replay_window, e.sa.esn)
                        };
                        *w = Some((e.uid, window));
                    }
                }
                _ => *w = None,
            }
        }
    }

    /// Encapsulates the IP packet in `buf` with `sa` (ESP or AH) and sequence number `seq`.
    #[inline]
    pub fn protect<B: PacketBuf>(&mut self, buf: &mut B, sa: &Sa, seq: u64) -> Result<(), DropReason> {
        if sa.protocol == Protocol::Ah {
            return ah::encapsulate(buf, sa, seq);
        }
        let iv_len = sa.transform.algorithm().iv_len();
        let block;
        let seq_iv = seq.to_be_bytes();
        let iv: &[u8] = if sa.transform.algorithm().is_aead() {
            &seq_iv[..iv_len.min(8)]
        } else {
            block = self.ivs.next_block();
            &block[..iv_len.min(16)]
        };
        esp::encapsulate(buf, sa, seq, iv)
    }

    /// Classifies and, for ESP, authenticates, replay-checks and decapsulates the IP packet in
    /// `buf` (addressed to the gateway).
    #[inline(always)]
    pub fn unprotect<B: PacketBuf>(
        &mut self,
        buf: &mut B,
        t: &IpsecTables,
    ) -> Result<Unprotected, DropReason> {
        if is_ah(buf.data()) {
            return self.unprotect_ah(buf, t);
        }
        let loc = match esp::classify_inbound(buf.data())? {
            Inbound::Esp(loc) => loc,
            Inbound::Keepalive => return Ok(Unprotected::Keepalive),
            Inbound::Other => return Ok(Unprotected::NotIpsec),
        };
        let (slot, entry) = self.inbound_sa(t, loc.spi, loc.dst).ok_or(DropReason::EspUnknownSpi)?;
        let sa = &*entry.sa;
        if sa.protocol != Protocol::Esp {
            return Err(DropReason::SaProtocolMismatch);
        }
        // ESP in UDP only for an SA configured for NAT-T, and plain ESP only for one without.
        if loc.udp_sport.is_some() != sa.natt.is_some() {
            return Err(DropReason::EspUnknownSpi);
        }
        // Without NAT-T the peer's address is known: a packet from elsewhere is not this SA's
        // (and could otherwise be steered by RSS to a worker whose replay window has not seen
        // its sequence number).
        if sa.natt.is_none() && loc.src != sa.mode.remote() {
            return Err(DropReason::EspUnknownSpi);
        }
        let window = self.window(slot, entry.uid, sa)?;
        let inner = match esp::decapsulate(buf, &loc, sa, window) {
            Ok(inner) => inner,
            Err(r) => {
                count_sa_drop(sa, r);
                return Err(r);
            }
        };
        // Bytes of the inner (decrypted) packet, as the outbound side counts them.
        self.count_traffic(slot, entry.uid, buf.len() as u64, t);
        Ok(Unprotected::Packet { slot, inner })
    }

    fn unprotect_ah<B: PacketBuf>(
        &mut self,
        buf: &mut B,
        t: &IpsecTables,
    ) -> Result<Unprotected, DropReason> {
        let loc = ah::locate(buf.data())?;
        let (slot, entry) = t.inbound_sa(loc.spi, loc.dst).ok_or(DropReason::AhUnknownSpi)?;
        let sa = &*entry.sa;
        if sa.protocol != Protocol::Ah {
            return Err(DropReason::SaProtocolMismatch);
        }
        let window = self.window(slot, entry.uid, sa)?;
        let inner = ah::decapsulate(buf, &loc, sa, window).inspect_err(|&r| count_sa_drop(sa, r))?;
        self.count_traffic(slot, entry.uid, buf.len() as u64, t);
        Ok(Unprotected::Packet { slot, inner })
    }

    /// [`IpsecTables::inbound_sa`], answered from the last lookup when it was for the same
    /// SPI and destination in the same table generation.
    #[inline]
    fn inbound_sa<'t>(
        &mut self,
        t: &'t IpsecTables,
        spi: u32,
        dst: std::net::IpAddr,
    ) -> Option<(u32, &'t super::sadb::SaEntry)> {
        let l = &self.last;
        if l.spi == spi && l.generation == t.generation && l.dst == dst {
            return Some((l.slot, t.entry(l.slot)?));
        }
        let (slot, entry) = t.inbound_sa(spi, dst)?;
        self.last = LastInbound { generation: t.generation, spi, dst, slot };
        Some((slot, entry))
    }

    /// This worker's replay window for the inbound SA in `slot`, unless the SA is past a hard
    /// packet or byte limit.
    #[inline]
    fn window(&mut self, slot: u32, uid: u64, sa: &Sa) -> Result<&mut ReplayWindow, DropReason> {
        let p = &self.pending;
        let (packets, bytes) =
            if p.slot == slot && p.uid == uid && p.packets > 0 { (p.packets, p.bytes) } else { (0, 0) };
        if sa.past_hard_traffic_limit_with(packets, bytes) {
            return Err(DropReason::SaExpired);
        }
        match self.windows.get_mut(slot as usize) {
            Some(Some((u, w))) if *u == uid => Ok(w),
            _ => Err(DropReason::EspUnknownSpi),
        }
    }
}

/// Per-SA counters of the drops an operator watches per tunnel (rare: not the fast path).
#[cold]
fn count_sa_drop(sa: &Sa, r: DropReason) {
    use std::sync::atomic::Ordering::Relaxed;
    match r {
        DropReason::EspReplayed | DropReason::EspTooOld => {
            sa.counters.replay_drops.fetch_add(1, Relaxed);
        }
        DropReason::EspIcvMismatch | DropReason::AhIcvMismatch => {
            sa.counters.icv_failures.fetch_add(1, Relaxed);
        }
        _ => {}
    }
}

/// IP protocol 51 (no IPv6 extension headers before it).
fn is_ah(p: &[u8]) -> bool {
    match p.first().map(|b| b >> 4) {
        Some(4) => p.get(9) == Some(&51),
        Some(6) => p.get(6) == Some(&51),
        _ => false,
    }
}

/// The size of an IP packet of `ip_len` bytes (header `ip_header_len`) once `sa` protects
/// it with ESP or AH: what the MTU check compares against the egress MTU.
pub fn protected_len(sa: &Sa, ip_len: usize, ip_header_len: usize) -> usize {
    if sa.protocol == Protocol::Esp {
        return esp::encapsulated_len(sa, ip_len, ip_header_len);
    }
    let icv = sa.transform.algorithm().icv_len();
    match sa.mode {
        Mode::Tunnel { remote, .. } => {
            let v6 = remote.is_ipv6();
            (if v6 { esp::IPV6_HEADER } else { esp::IPV4_HEADER }) + ah::ah_len(icv, v6) + ip_len
        }
        Mode::Transport { remote, .. } => ip_len + ah::ah_len(icv, remote.is_ipv6()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::VecBuf;
    use crate::ipsec::crypto::{Algorithm, Transform};
    use crate::ipsec::sadb::SadbBuilder;

    /// An ESP tunnel SA between `local` and the peer (203.0.113.9), keyed by `seed`.
    fn sa(spi: u32, local: &str, seed: u8, inbound: bool) -> Sa {
        let base = crate::ipsec::sadb::tests::sa(spi, local);
        let (l, r) = (base.mode.local(), base.mode.remote());
        Sa {
            name: format!("sa-{spi:x}-{seed}"),
            mode: if inbound { base.mode } else { Mode::Tunnel { local: r, remote: l } },
            transform: Transform::new(Algorithm::AesGcm16_128, &[seed; 20], &[]).unwrap(),
            ..base
        }
    }

    /// A packet from the peer, protected with the peer's half of `sa(spi, local, seed)`.
    fn from_peer(spi: u32, local: &str, seed: u8, seq: u64) -> VecBuf {
        let mut p = vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 2, 198, 51, 100, 2];
        esp::ipv4_checksum(&mut p);
        p.extend_from_slice(&[0x04, 0xd2, 0x16, 0x2e, 0, 8, 0, 0]);
        let mut b = VecBuf::like_mbuf(&p);
        esp::encapsulate(&mut b, &sa(spi, local, seed, false), seq, &seq.to_be_bytes()).unwrap();
        b
    }

    fn unprotect(w: &mut IpsecWorker, t: &IpsecTables, mut b: VecBuf) -> Result<u32, DropReason> {
        w.sync(t);
        match w.unprotect(&mut b, t)? {
            Unprotected::Packet { slot, .. } => Ok(slot),
            other => panic!("{other:?}"),
        }
    }

    /// The worker answers a run of packets from its last lookup; a new table generation, a
    /// reused SPI in another slot and SPIs shared by two destinations never get a stale answer.
    #[test]
    fn the_last_lookup_is_reused_only_for_the_same_spi_destination_and_generation() {
        let mut w = IpsecWorker::new().unwrap();
        let mut b = SadbBuilder::new();
        let a = b.add(sa(0x1000, "198.51.100.1", 1, true), SaDirection::In);
        let t1 = b.snapshot();
        for seq in 1..=3 {
            assert_eq!(unprotect(&mut w, &t1, from_peer(0x1000, "198.51.100.1", 1, seq)), Ok(a));
        }
        assert_eq!(
            unprotect(&mut w, &t1, from_peer(0x1001, "198.51.100.1", 1, 4)),
            Err(DropReason::EspUnknownSpi)
        );

        // SPI 0x1000 now belongs to another SA, in another slot, with another key; the slot of
        // the old one holds an SA with another SPI.
        b.remove(a);
        let x = b.add(sa(0x2000, "198.51.100.1", 3, true), SaDirection::In);
        let new = b.add(sa(0x1000, "198.51.100.1", 2, true), SaDirection::In);
        assert_ne!(new, a);
        let t2 = b.snapshot();
        assert_eq!(unprotect(&mut w, &t1, from_peer(0x1000, "198.51.100.1", 1, 5)), Ok(a));
        assert_eq!(unprotect(&mut w, &t2, from_peer(0x1000, "198.51.100.1", 2, 1)), Ok(new));
        assert_eq!(unprotect(&mut w, &t2, from_peer(0x2000, "198.51.100.1", 3, 1)), Ok(x));
        assert_eq!(
            unprotect(&mut w, &t2, from_peer(0x1000, "198.51.100.1", 1, 6)),
            Err(DropReason::EspIcvMismatch),
            "the old key no longer decrypts"
        );

        // One SPI, two local addresses: alternating packets each find their own SA.
        let other = b.add(sa(0x1000, "198.51.100.7", 4, true), SaDirection::In);
        let t3 = b.snapshot();
        for seq in 2..=5 {
            assert_eq!(unprotect(&mut w, &t3, from_peer(0x1000, "198.51.100.1", 2, seq)), Ok(new));
            assert_eq!(unprotect(&mut w, &t3, from_peer(0x1000, "198.51.100.7", 4, seq)), Ok(other));
            assert_eq!(unprotect(&mut w, &t3, from_peer(0x1000, "198.51.100.7", 4, seq + 10)), Ok(other));
        }
    }
}
