//! The worker's IPsec steps on mbufs: strip and restore the Ethernet header around ESP
//! processing, reserve outbound sequence numbers once per run of packets for the same SA, and
//! route the outer packet. The ESP work itself is [`crate::ipsec::esp`]; the per-worker state is
//! [`IpsecWorker`].

use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::forward::{self, Decision, Origin, Punt};
use crate::ipsec::datapath::{IpsecWorker, Unprotected};
use crate::ipsec::esp::{IPV4_HEADER, NH_IPV4, OUTER_TTL};
use crate::ipsec::sa::{DfPolicy, Mode, Protocol, Sa};
use crate::ipsec::sadb::IpsecTables;
use crate::route::fib::Rewrite;
use crate::tables::Tables;
use crate::wire::{esp, ethernet, IpProtocol};
use dpdk_sys::{Burst, Mbuf, MAX_BURST};
use std::net::IpAddr;

const ETH: usize = ethernet::HEADER_LEN;

/// Writes an Ethernet header addressed to our own port `port` (so that the frame classifies as
/// received there) with the EtherType of the IP packet behind it.
///
/// The two MACs go out as one 8-byte and one 4-byte store: the fast path reads the
/// destination MAC back at once, and a load that spans two narrower stores cannot be served
/// from the store buffer (it waits for both to reach the cache).
fn self_addressed(frame: &mut [u8], mac: [u8; 6], v6: bool) {
    // Built as integers: from an array of bytes the compiler emits byte stores.
    let m = forward::fast::mac_key(mac);
    frame[0..8].copy_from_slice(&(m | (m << 48)).to_le_bytes());
    frame[8..12].copy_from_slice(&((m >> 16) as u32).to_le_bytes());
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
            let frame = PacketBuf::data_mut(m);
            if !inner.v6 {
                let hint = &mut w.policy_hint;
                if let Some(port) =
                    forward::fast::decrypted_v4(frame, forward::fast::mac_key(mac), slot, t, sp, hint)
                {
                    let mut dst = [0u8; 6];
                    dst.copy_from_slice(&frame[..6]);
                    return Decision::Forward { port, dst, v6: false };
                }
            }
            forward::process(frame, in_port, t, sp, Origin::Decrypted(slot))
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
        let mut fast: Option<TunnelV4<'_>> = None;
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
                fast = match (run_ok, sp.sa(slots[i])) {
                    (Ok(()), Some(sa)) => TunnelV4::new(sa, t),
                    _ => None,
                };
            }
            let (slot, port) = (slots[i], self.ports[i]);
            i += 1;
            let d = match (run_ok, sp.sa(slot)) {
                (Ok(()), Some(sa)) => {
                    let s = seq;
                    seq += 1;
                    let inner = m.pkt_len().saturating_sub(ETH) as u64;
                    let d = match fast.as_ref().and_then(|f| f.encapsulate_and_route(&mut m, s, port, t)) {
                        Some(d) => d,
                        None => encapsulate_and_route(&mut m, sa, s, port, t, w),
                    };
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
    sa: &Sa,
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
    route_outer(m, sa, port, t)
}

/// Routes the outer packet in `m` (with room for its Ethernet header in front), as
/// [`encapsulate_and_route`] describes.
fn route_outer<B: PacketBuf>(m: &mut B, sa: &Sa, port: u8, t: &Tables) -> Decision {
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

/// The IPv4-in-IPv4 ESP tunnel fast path, for one run of packets of one outbound SA: what
/// [`encapsulate_and_route`] derives from the SA and the route to the peer for every packet
/// is derived here once. The outer header is a template (addresses, TTL and protocol, with
/// their checksum sum); per packet only the TOS, length, identification and DF are patched
/// and the checksum is finished from registers. The Ethernet header of the resolved next hop
/// is kept too.
///
/// It applies to ESP SAs in tunnel mode between IPv4 addresses, without NAT-T, with an AEAD
/// transform (the IV is the sequence number), whose peer has a resolved route; and to inner
/// IPv4 packets without options. [`TunnelV4::encapsulate_and_route`] declines anything else
/// untouched, and the caller takes the general path. A test checks both give the same
/// decision and bytes over many mutated frames and buffer sizes.
pub struct TunnelV4<'a> {
    sa: &'a Sa,
    /// The outer header: TOS, length, identification, flags and checksum zero.
    outer: [u8; IPV4_HEADER],
    /// One's-complement sum of the template's 16-bit words, unfolded.
    sum: u32,
    /// Next hop and egress port MACs.
    macs: [u8; 12],
    out_port: u8,
    mtu: u16,
    align: usize,
    icv: usize,
}

impl<'a> TunnelV4<'a> {
    /// The fast path's state for `sa`, or `None` when it does not apply (see above).
    #[inline]
    pub fn new(sa: &'a Sa, t: &Tables) -> Option<TunnelV4<'a>> {
        let alg = sa.transform.algorithm();
        let Mode::Tunnel { local: IpAddr::V4(src), remote: IpAddr::V4(dst) } = sa.mode else {
            return None;
        };
        if sa.protocol != Protocol::Esp || sa.natt.is_some() || !alg.is_aead() || alg.iv_len() != 8 {
            return None;
        }
        let rw = t.fib.rewrite(t.fib.index_v4(dst)?)?;
        if rw.port == Rewrite::NOT_FORWARD {
            return None;
        }
        let mut outer = [0u8; IPV4_HEADER];
        outer[0] = 0x45;
        outer[8] = OUTER_TTL;
        outer[9] = IpProtocol::ESP.0;
        outer[12..16].copy_from_slice(&src.octets());
        outer[16..20].copy_from_slice(&dst.octets());
        let sum = outer.chunks_exact(2).map(|w| u16::from_be_bytes([w[0], w[1]]) as u32).sum();
        Some(TunnelV4 {
            sa,
            outer,
            sum,
            macs: rw.macs,
            out_port: rw.port,
            mtu: rw.mtu,
            align: alg.block_align(),
            icv: alg.icv_len(),
        })
    }

    /// Encapsulates the frame in `m` (Ethernet + IPv4) with sequence number `seq` and routes
    /// it: the decision [`encapsulate_and_route`] reaches, or `None` with `m` untouched.
    /// Inlined into the flush loop so that the decision stays in registers (returned through
    /// memory it was read back wider than it was written, a store-forwarding stall).
    #[inline(always)]
    pub fn encapsulate_and_route<B: PacketBuf>(
        &self,
        m: &mut B,
        seq: u64,
        port: u8,
        t: &Tables,
    ) -> Option<Decision> {
        const HEAD: usize = IPV4_HEADER + esp::HEADER_LEN + 8;
        let d = PacketBuf::data(m);
        let h = d.get(ETH..ETH + IPV4_HEADER)?;
        let total = u16::from_be_bytes([h[2], h[3]]) as usize;
        if h[0] != 0x45 || total < IPV4_HEADER || total > d.len() - ETH {
            return None;
        }
        let (tos, inner_df) = (h[1], h[6] & 0x40 != 0);
        let extra = d.len() - ETH - total;
        let pad = (self.align - (total + esp::TRAILER_LEN) % self.align) % self.align;
        let tail = pad + esp::TRAILER_LEN + self.icv;
        let outer_len = HEAD + total + tail;
        if outer_len > u16::MAX as usize {
            return None;
        }
        // The general path's order of buffer steps and its drop reasons.
        if extra > 0 && !PacketBuf::trim(m, extra) {
            return Some(Decision::Drop(DropReason::EspInnerMalformed));
        }
        if !PacketBuf::append(m, tail) {
            return Some(Decision::Drop(DropReason::EncapNoRoom));
        }
        if !PacketBuf::prepend(m, HEAD) {
            return Some(Decision::Drop(DropReason::EncapNoRoom));
        }
        let f = PacketBuf::data_mut(m);
        let Some((head, rest)) = f.split_at_mut_checked(ETH + HEAD) else {
            return Some(Decision::Drop(DropReason::EncapNoRoom));
        };
        let Some(trailer) = rest.get_mut(total..total + pad + esp::TRAILER_LEN) else {
            return Some(Decision::Drop(DropReason::EncapNoRoom));
        };
        for (i, b) in trailer[..pad].iter_mut().enumerate() {
            *b = (i + 1) as u8; // RFC 4303 §2.4 default padding 1, 2, 3, ...
        }
        trailer[pad] = pad as u8;
        trailer[pad + 1] = NH_IPV4;
        let e = &mut head[ETH + IPV4_HEADER..];
        // SPI ‖ SeqLo as one 8-byte store, which the seal reads back as one 8-byte load.
        let spi_seq = (self.sa.spi as u64) << 32 | seq as u32 as u64;
        e[0..8].copy_from_slice(&spi_seq.to_be_bytes());
        e[8..16].copy_from_slice(&seq.to_be_bytes());
        let esn = self.sa.esn.then_some((seq >> 32) as u32);
        if self.sa.transform.seal(&mut f[ETH + IPV4_HEADER..], esn).is_err() {
            return Some(Decision::Drop(DropReason::EspMalformed));
        }
        let df = match self.sa.df {
            DfPolicy::Copy => inner_df,
            DfPolicy::Set => true,
            DfPolicy::Clear => false,
        };
        // Identification only matters for fragments; with DF set it is arbitrary (RFC 6864).
        let (len, id, flags) = (outer_len as u16, seq as u16, if df { 0x4000u16 } else { 0 });
        let sum = self.sum + tos as u32 + len as u32 + id as u32 + flags as u32;
        let sum = (sum & 0xffff) + (sum >> 16);
        let csum = !((sum & 0xffff) + (sum >> 16)) as u16;
        let mut o = self.outer;
        o[1] = tos;
        o[2..4].copy_from_slice(&len.to_be_bytes());
        o[4..6].copy_from_slice(&id.to_be_bytes());
        o[6..8].copy_from_slice(&flags.to_be_bytes());
        o[10..12].copy_from_slice(&csum.to_be_bytes());
        f[ETH..ETH + IPV4_HEADER].copy_from_slice(&o);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        if outer_len > self.mtu as usize {
            // The general path's answer for a packet its route cannot carry.
            return Some(route_outer(m, self.sa, port, t));
        }
        f[..12].copy_from_slice(&self.macs);
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&self.macs[..6]);
        Some(Decision::Forward { port: self.out_port, dst, v6: false })
    }
}
