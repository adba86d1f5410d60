//! The worker's IPsec steps on mbufs: strip and restore the Ethernet header around ESP
//! processing, reserve outbound sequence numbers once per run of packets for the same SA, and
//! route the outer packet. The ESP work itself is [`crate::ipsec::esp`]; the per-worker state is
//! [`IpsecWorker`].

use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::forward::{self, Decision, Origin, Punt};
use crate::ipsec::datapath::{IpsecWorker, Unprotected};
use crate::ipsec::sadb::IpsecTables;
use crate::route::fib::Rewrite;
use crate::tables::Tables;
use crate::wire::ethernet;
use dpdk_sys::{Burst, Mbuf, MAX_BURST};
use std::net::IpAddr;

const ETH: usize = ethernet::HEADER_LEN;

/// Writes an Ethernet header addressed to our own port `port` (so that the frame classifies as
/// received there) with the EtherType of the IP packet behind it.
fn self_addressed(frame: &mut [u8], mac: [u8; 6], v6: bool) {
    frame[0..6].copy_from_slice(&mac);
    frame[6..12].copy_from_slice(&mac);
    frame[12..14].copy_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
}

/// Decapsulates ESP addressed to the gateway and decides again on the inner packet. Generic
/// over the buffer so that the tests and the fuzz target run exactly the workers' code.
#[inline]
pub fn unprotect<B: PacketBuf>(
    m: &mut B,
    in_port: u8,
    t: &Tables,
    sp: &IpsecTables,
    w: &mut IpsecWorker,
) -> Decision {
    let Some(mac) = t.ports.get(in_port as usize).map(|p| p.mac) else {
        return Decision::Drop(DropReason::NotForUs);
    };
    if !PacketBuf::adj(m, ETH) {
        return Decision::Drop(DropReason::Runt);
    }
    let r = w.unprotect(m, sp);
    if !PacketBuf::prepend(m, ETH) {
        return Decision::Drop(DropReason::EncapNoRoom);
    }
    match r {
        Err(reason) => Decision::Drop(reason),
        Ok(Unprotected::Keepalive) => Decision::Drop(DropReason::NatKeepalive),
        // Untouched (adj/prepend restored the same bytes): IKE or other traffic for us.
        Ok(Unprotected::NotIpsec) => Decision::Punt(Punt::Local),
        Ok(Unprotected::Packet { slot, inner }) => {
            self_addressed(PacketBuf::data_mut(m), mac, inner.v6);
            forward::process(PacketBuf::data_mut(m), in_port, t, sp, Origin::Decrypted(slot))
        }
    }
}

/// Packets waiting for encapsulation, with their SA slots and the port index they came in on
/// (or, for the control path's frames, were meant to leave by).
pub struct ProtectQueue {
    burst: Burst,
    slots: [u32; MAX_BURST],
    ports: [u8; MAX_BURST],
}

impl Default for ProtectQueue {
    fn default() -> Self {
        ProtectQueue { burst: Burst::new(), slots: [0; MAX_BURST], ports: [0; MAX_BURST] }
    }
}

impl ProtectQueue {
    /// Queues `m` for SA `slot`; a full queue gives the packet back.
    #[inline]
    pub fn push(&mut self, m: Mbuf, slot: u32, port: u8) -> Result<(), Mbuf> {
        let i = self.burst.len();
        self.burst.push(m)?;
        self.slots[i] = slot;
        self.ports[i] = port;
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.burst.is_empty()
    }

    /// Encapsulates every queued packet and hands each to `out` with its decision (forward on
    /// a port, punt for neighbour resolution, or drop). Sequence numbers are reserved with one
    /// compare-and-swap per run of consecutive packets for the same SA. A punted packet carries the
    /// DPDK id of its port (`dpdk_ids`, by our port index), as received packets do.
    pub fn flush(
        &mut self,
        t: &Tables,
        sp: &IpsecTables,
        w: &mut IpsecWorker,
        dpdk_ids: &[u16],
        mut out: impl FnMut(Mbuf, Decision),
    ) {
        let n = self.burst.len();
        let slots = self.slots;
        let mut i = 0;
        let mut seq = 0u64;
        let mut run_end = 0usize;
        let mut run_ok: Result<(), DropReason> = Ok(());
        let mut run_bytes = 0u64;
        let mut run_packets = 0u64;
        for mut m in self.burst.drain() {
            if i == run_end {
                // A new run: consecutive packets for the same SA.
                run_end = i + 1;
                while run_end < n && slots[run_end] == slots[i] {
                    run_end += 1;
                }
                run_ok = match sp.sa(slots[i]) {
                    None => Err(DropReason::SaExpired),
                    Some(sa) if sa.past_hard_traffic_limit() => Err(DropReason::SaExpired),
                    Some(sa) => match sa.counters.reserve((run_end - i) as u64, sa.max_seq()) {
                        Some(first) => {
                            seq = first;
                            Ok(())
                        }
                        None => Err(DropReason::SeqExhausted),
                    },
                };
            }
            let (slot, port) = (slots[i], self.ports[i]);
            i += 1;
            let d = match (run_ok, sp.sa(slot)) {
                (Ok(()), Some(sa)) => {
                    let s = seq;
                    seq += 1;
                    let inner = m.pkt_len().saturating_sub(ETH) as u64;
                    let d = encapsulate_and_route(&mut m, sa, s, port, t, w);
                    if matches!(d, Decision::Punt(_)) {
                        m.set_port(dpdk_ids.get(port as usize).copied().unwrap_or(u16::MAX));
                    }
                    if matches!(d, Decision::Forward { .. } | Decision::Punt(_)) {
                        run_packets += 1;
                        run_bytes += inner;
                    }
                    d
                }
                (Err(r), _) => Decision::Drop(r),
                (Ok(()), None) => Decision::Drop(DropReason::SaExpired),
            };
            if i == run_end && run_packets > 0 {
                if let Some(sa) = sp.sa(slot) {
                    sa.counters.add_traffic(run_packets, run_bytes);
                }
                run_packets = 0;
                run_bytes = 0;
            }
            out(m, d);
        }
    }
}

/// Encapsulates the frame in `m` (Ethernet + IP) with `sa` and sequence number `seq` and routes
/// the outer packet: with a resolved
/// next hop the MACs are written and the packet leaves on that port; otherwise it goes to the
/// control path addressed to our own port `port`, which resolves the next hop and sends it.
pub fn encapsulate_and_route<B: PacketBuf>(
    m: &mut B,
    sa: &crate::ipsec::sa::Sa,
    seq: u64,
    port: u8,
    t: &Tables,
    w: &mut IpsecWorker,
) -> Decision {
    if !PacketBuf::adj(m, ETH) {
        return Decision::Drop(DropReason::Runt);
    }
    if let Err(r) = w.protect(m, sa, seq) {
        return Decision::Drop(r);
    }
    if !PacketBuf::prepend(m, ETH) {
        return Decision::Drop(DropReason::EncapNoRoom);
    }
    let remote = sa.mode.remote();
    let v6 = remote.is_ipv6();
    let index = match remote {
        IpAddr::V4(a) => t.fib.index_v4(a),
        IpAddr::V6(a) => t.fib.index_v6(a),
    };
    let ip_len = m.len() - ETH;
    let frame = PacketBuf::data_mut(m);
    frame[12..14].copy_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
    if let Some(rw) = index.and_then(|i| t.fib.rewrite(i)) {
        if rw.port != Rewrite::NOT_FORWARD && ip_len <= rw.mtu as usize {
            frame[..12].copy_from_slice(&rw.macs);
            let mut dst = [0u8; 6];
            dst.copy_from_slice(&rw.macs[..6]);
            return Decision::Forward { port: rw.port, dst, v6 };
        }
    }
    let Some(mac) = t.ports.get(port as usize).map(|p| p.mac) else {
        return Decision::Drop(DropReason::NotForUs);
    };
    self_addressed(frame, mac, v6);
    Decision::Punt(Punt::Resolve { port, next_hop: remote })
}
