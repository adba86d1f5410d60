//! Per-packet L2/L3 decision: the part of the worker loop that looks at bytes.
//!
//! [`classify`] never mutates and never panics on any input: every malformed frame maps to a
//! [`DropReason`]. [`process`] classifies and, for a forwarded packet, rewrites the Ethernet
//! header and decrements TTL / hop limit (RFC 1624 incremental checksum for IPv4). Anything
//! that needs more than a rewrite — ARP, neighbour discovery, packets for the gateway itself,
//! unresolved next hops and every case that answers with an ICMP error — is punted to the
//! control path, which runs [`classify`] again on the same bytes to learn why.

use crate::drop::DropReason;
use crate::ipsec::esp;
use crate::ipsec::sadb::IpsecTables;
use crate::ipsec::spd::{Flow, Verdict};
use crate::route::fib::Rewrite;
use crate::route::Adjacency;
use crate::tables::Tables;
use crate::wire::{checksum, ethernet, ipv4, ipv6, EtherType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub mod fast;

/// Why a packet goes to the control path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Punt {
    Arp,
    /// IPv6 to a multicast group (neighbour discovery, MLD, router solicitations).
    Ipv6Multicast,
    /// Addressed to one of the gateway's addresses (or an IPv6 link-local address).
    Local,
    NoRoute,
    TtlExceeded,
    /// Larger than the egress port's MTU.
    TooBig {
        mtu: u16,
    },
    /// An IPv4 packet without DF, too big for its tunnel: fragment it so that each fragment
    /// is at most `mtu` bytes, then each is protected (through the inject path).
    Fragment {
        mtu: u16,
    },
    /// The next hop's MAC is unknown: resolve `next_hop` on `port`.
    Resolve {
        port: u8,
        next_hop: IpAddr,
    },
}

/// The outcome for one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Forward {
        port: u8,
        dst: [u8; 6],
        v6: bool,
    },
    Punt(Punt),
    Drop(DropReason),
    /// An outbound policy protects it: encapsulate with the SA in this SADB slot, then route
    /// the outer packet.
    Protect {
        sa: u32,
    },
    /// ESP for one of the gateway's addresses: decapsulate, then decide again on the inner
    /// packet with [`Origin::Decrypted`].
    Unprotect,
}

/// Where the packet being decided comes from, as far as IPsec policy is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Received from a port as it is.
    Wire,
    /// The inner packet of ESP that the inbound SA in this slot authenticated.
    Decrypted(u32),
    /// The control path asking why the worker punted it: the worker already applied the
    /// inbound policy (and may have decrypted the packet), so only the outbound side counts.
    Punted,
}

/// First stage: what the headers say, before the FIB is consulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    V4 {
        dst: Ipv4Addr,
        len: u16,
        ttl: u8,
    },
    V6 {
        dst: Ipv6Addr,
        len: u16,
        ttl: u8,
    },
    /// Decided without a lookup (ARP, multicast, malformed, ...).
    Done(Decision),
}

/// Decides what to do with `frame`, received on port index `in_port`: the three stages
/// [`parse`] → [`lookup`] → [`finish`] for one packet. Workers run the same stages over a
/// whole burst so that the FIB lookups of different packets overlap.
#[inline]
pub fn classify(frame: &[u8], in_port: u8, t: &Tables, sp: &IpsecTables, origin: Origin) -> Decision {
    let p = parse(frame, in_port, t);
    let adj = lookup(&p, t);
    if !sp.is_idle() {
        if let Some(d) = ipsec_step(frame, &p, adj, t, sp, origin) {
            return d;
        }
    }
    finish(&p, adj, t)
}

/// Stage 1: validate the Ethernet and IP headers.
#[inline(always)]
pub fn parse(frame: &[u8], in_port: u8, t: &Tables) -> Parsed {
    let Ok(eth) = ethernet::Packet::new_checked(frame) else {
        return Parsed::Done(Decision::Drop(DropReason::Runt));
    };
    let Some(me) = t.ports.get(in_port as usize) else {
        return Parsed::Done(Decision::Drop(DropReason::NotForUs));
    };
    let dst_mac = eth.dst_addr();
    if dst_mac.0 != me.mac && !dst_mac.is_multicast() {
        return Parsed::Done(Decision::Drop(DropReason::NotForUs));
    }
    match eth.ethertype() {
        EtherType::IPV4 => parse_v4(eth.payload()),
        EtherType::IPV6 => parse_v6(eth.payload()),
        EtherType::ARP => Parsed::Done(Decision::Punt(Punt::Arp)),
        _ => Parsed::Done(Decision::Drop(DropReason::UnsupportedEthertype)),
    }
}

/// IPv4 validation. The common case (version 4, no options) reads the 20-byte header once at
/// fixed offsets; anything else goes through the wire view ([`parse_v4_view`]). Both reach
/// the same verdicts (checked by a differential test).
#[inline(always)]
fn parse_v4(bytes: &[u8]) -> Parsed {
    let Some(h) = bytes.first_chunk::<{ ipv4::HEADER_LEN }>() else {
        return Parsed::Done(Decision::Drop(DropReason::Ipv4Malformed));
    };
    if h[0] != 0x45 {
        return parse_v4_view(bytes);
    }
    let total = u16::from_be_bytes([h[2], h[3]]);
    if (total as usize) < ipv4::HEADER_LEN || total as usize > bytes.len() {
        return Parsed::Done(Decision::Drop(DropReason::Ipv4Malformed));
    }
    let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]) as u64;
    let acc = word(0) + word(4) + word(8) + word(12) + word(16);
    if checksum::fold(acc) != 0xffff {
        return Parsed::Done(Decision::Drop(DropReason::Ipv4BadChecksum));
    }
    v4_addresses(Ipv4Addr::from(word(12) as u32), Ipv4Addr::from(word(16) as u32), total, h[8])
}

/// The address checks shared by both IPv4 parsers.
#[inline]
fn v4_addresses(src: Ipv4Addr, dst: Ipv4Addr, len: u16, ttl: u8) -> Parsed {
    if dst.is_multicast() || dst == Ipv4Addr::BROADCAST {
        return Parsed::Done(Decision::Drop(DropReason::MulticastNotForwarded));
    }
    if src.is_multicast() || src.is_loopback() || src.is_unspecified() || src == Ipv4Addr::BROADCAST {
        return Parsed::Done(Decision::Drop(DropReason::MartianSource));
    }
    Parsed::V4 { dst, len, ttl }
}

/// General IPv4 validation through the wire view (options, bad versions, odd lengths).
fn parse_v4_view(bytes: &[u8]) -> Parsed {
    let drop = |r| Parsed::Done(Decision::Drop(r));
    let Ok(ip) = ipv4::Packet::new_checked(bytes) else {
        return drop(DropReason::Ipv4Malformed);
    };
    if ip.version() != 4 {
        return drop(DropReason::Ipv4Malformed);
    }
    if !ip.verify_checksum() {
        return drop(DropReason::Ipv4BadChecksum);
    }
    v4_addresses(ip.src_addr(), ip.dst_addr(), ip.total_len(), ip.ttl())
}

#[inline]
fn parse_v6(bytes: &[u8]) -> Parsed {
    let Ok(ip) = ipv6::Packet::new_checked(bytes) else {
        return Parsed::Done(Decision::Drop(DropReason::Ipv6Malformed));
    };
    if ip.version() != 6 {
        return Parsed::Done(Decision::Drop(DropReason::Ipv6Malformed));
    }
    let dst = ip.dst_addr();
    if dst.is_multicast() {
        return Parsed::Done(Decision::Punt(Punt::Ipv6Multicast));
    }
    if is_link_local(dst) {
        return Parsed::Done(Decision::Punt(Punt::Local));
    }
    let src = ip.src_addr();
    if src.is_multicast() || src.is_loopback() || src.is_unspecified() {
        return Parsed::Done(Decision::Drop(DropReason::MartianSource));
    }
    let len = ip.payload_len().saturating_add(ipv6::HEADER_LEN as u16);
    Parsed::V6 { dst, len, ttl: ip.hop_limit() }
}

/// Stage 2: the FIB lookup.
#[inline]
pub fn lookup(p: &Parsed, t: &Tables) -> Option<Adjacency> {
    match *p {
        Parsed::V4 { dst, .. } => t.fib.lookup_v4(dst),
        Parsed::V6 { dst, .. } => t.fib.lookup_v6(dst),
        Parsed::Done(_) => None,
    }
}

/// Stage 3: the decision from the headers and the adjacency.
#[inline]
pub fn finish(p: &Parsed, adj: Option<Adjacency>, t: &Tables) -> Decision {
    let (dst, len, ttl, v6) = match *p {
        Parsed::V4 { dst, len, ttl } => (IpAddr::V4(dst), len, ttl, false),
        Parsed::V6 { dst, len, ttl } => (IpAddr::V6(dst), len, ttl, true),
        Parsed::Done(d) => return d,
    };
    let Some(adj) = adj else {
        return Decision::Punt(Punt::NoRoute);
    };
    match adj {
        Adjacency::Local => Decision::Punt(Punt::Local),
        _ if ttl <= 1 => Decision::Punt(Punt::TtlExceeded),
        // A VTI with an SA is handled by `ipsec_step`; reaching here means it has none.
        Adjacency::Vti { .. } | Adjacency::VtiGroup { .. } => Decision::Drop(DropReason::VtiDown),
        Adjacency::Glean { port } => Decision::Punt(Punt::Resolve { port, next_hop: dst }),
        Adjacency::Resolve { port, via } => Decision::Punt(Punt::Resolve { port, next_hop: via }),
        Adjacency::Forward { port, dst } => {
            let mtu = t.ports.get(port as usize).map_or(0, |p| p.mtu);
            if len > mtu {
                return Decision::Punt(Punt::TooBig { mtu });
            }
            Decision::Forward { port, dst: dst.0, v6 }
        }
    }
}

/// Rewrites a frame that [`classify`] decided to forward: new MACs, TTL/hop limit minus one
/// (RFC 1624 incremental checksum for IPv4). Writes at fixed offsets: `classify` only returns
/// `Forward` for a frame holding an Ethernet header and a complete IPv4 (IHL ≥ 5) or IPv6
/// header; a frame shorter than that is left alone, so nothing here can panic.
#[inline]
pub fn rewrite(frame: &mut [u8], src_mac: [u8; 6], dst_mac: [u8; 6], v6: bool) {
    if frame.len() < MIN_IP_FRAME {
        return;
    }
    frame[0..6].copy_from_slice(&dst_mac);
    frame[6..12].copy_from_slice(&src_mac);
    decrement_ttl(frame, v6);
}

/// Classifies and, when forwarding, rewrites in place: the worker's per-packet function.
///
/// Fast path: an IPv4 or IPv6 packet whose FIB entry is a resolved `Forward` adjacency, TTL
/// above 1 and size within the MTU gets the precomputed [`Rewrite`] (12 bytes of MACs) and
/// its TTL decremented. Everything else takes the general [`finish`] + [`apply`] path, which
/// decides the same way (the tests check both agree).
#[inline(always)]
pub fn process(frame: &mut [u8], in_port: u8, t: &Tables, sp: &IpsecTables, origin: Origin) -> Decision {
    let p = parse(frame, in_port, t);
    let (index, len, ttl, v6) = match p {
        Parsed::V4 { dst, len, ttl } => (t.fib.index_v4(dst), len, ttl, false),
        Parsed::V6 { dst, len, ttl } => (t.fib.index_v6(dst), len, ttl, true),
        Parsed::Done(d) => return link_scope_from_tunnel(d, origin),
    };
    if !sp.is_idle() {
        if let Some(d) = ipsec_step(frame, &p, index.and_then(|i| t.fib.adjacency(i)), t, sp, origin) {
            if matches!(d, Decision::Protect { .. }) && origin != Origin::Punted {
                decrement_ttl(frame, v6);
            }
            return d;
        }
    }
    if let Some(rw) = index.and_then(|i| t.fib.rewrite(i)) {
        if rw.port != Rewrite::NOT_FORWARD && ttl > 1 && len <= rw.mtu && frame.len() >= MIN_IP_FRAME {
            frame[..12].copy_from_slice(&rw.macs);
            decrement_ttl(frame, v6);
            let mut dst = [0u8; 6];
            dst.copy_from_slice(&rw.macs[..6]);
            return Decision::Forward { port: rw.port, dst, v6 };
        }
    }
    let d = finish(&p, index.and_then(|i| t.fib.adjacency(i)), t);
    apply(frame, &d, t);
    d
}

/// The IPsec part of the decision, for a frame `parse` accepted as IP: ESP to us is
/// decapsulated; the inbound SPD checks that a decrypted packet matches the policy of the SA
/// that protected it and that clear text does not arrive where protection is required; the
/// outbound SPD decides protect / bypass / discard for forwarded packets; a packet the SPD
/// leaves alone (no match, or bypass) whose route is a VTI is protected with the VTI's current
/// SA. A packet a VTI's SA decrypted may carry any inner addresses: only a discard policy
/// stops it, then it is routed like any other. `None` means plain forwarding (or local
/// delivery) goes on.
fn ipsec_step(
    frame: &[u8],
    p: &Parsed,
    adj: Option<Adjacency>,
    t: &Tables,
    sp: &IpsecTables,
    origin: Origin,
) -> Option<Decision> {
    let (len, ttl) = match *p {
        Parsed::V4 { len, ttl, .. } | Parsed::V6 { len, ttl, .. } => (len, ttl),
        Parsed::Done(_) => return None,
    };
    let ip = frame.get(ethernet::HEADER_LEN..)?;
    let flow = Flow::parse(ip)?;
    let local = matches!(adj, Some(Adjacency::Local));
    // IKE, ESP/AH and neighbour discovery bypass policy only as the gateway's own traffic:
    // addressed to it, or (IKE, ESP/AH) sent by it, and never as the inner packet of ESP.
    // The same protocols between hosts behind the gateway meet the policies like any packet.
    if flow.is_policy_exempt() && !matches!(origin, Origin::Decrypted(_)) {
        let ours = local || (!flow.nd && from_us(&flow, t));
        if ours {
            let ipsec = matches!(flow.protocol, 50 | 51)
                || (flow.protocol == 17 && flow.ports.is_some_and(|p| p.1 == esp::NATT_PORT));
            if local && ipsec && origin == Origin::Wire && sp.has_inbound_sas() {
                return Some(Decision::Unprotect);
            }
            return via_vti(ip, adj, len, ttl, t, sp);
        }
    }
    let decrypted = match origin {
        Origin::Decrypted(s) => Some(s),
        _ => None,
    };
    if origin != Origin::Punted && (decrypted.is_some() || !sp.inbound.is_empty()) {
        let from_vti = decrypted.is_some_and(|d| sp.vti_of(d).is_some());
        match (sp.inbound.lookup(&flow).map(|m| m.1), decrypted) {
            (Some(Verdict::Discard), _) => return Some(Decision::Drop(DropReason::PolicyDiscard)),
            _ if from_vti => {}
            (Some(Verdict::Protect(s)), Some(d)) if sp.accepts(s, d) => {}
            (Some(Verdict::Protect(_) | Verdict::Trap(_)), None) => {
                return Some(Decision::Drop(DropReason::CleartextProtected))
            }
            (None | Some(Verdict::Bypass), None) => {}
            _ => return Some(Decision::Drop(DropReason::PolicyMismatch)),
        }
    }
    if local || sp.outbound.is_empty() {
        return via_vti(ip, adj, len, ttl, t, sp);
    }
    let Some((index, verdict)) = sp.outbound.lookup(&flow) else {
        return via_vti(ip, adj, len, ttl, t, sp);
    };
    match verdict {
        Verdict::Bypass => via_vti(ip, adj, len, ttl, t, sp),
        Verdict::Discard => Some(Decision::Drop(DropReason::PolicyDiscard)),
        Verdict::Trap(id) => {
            // The control loop negotiates the SA; this packet is not kept.
            sp.acquires.raise(id);
            Some(Decision::Drop(DropReason::IkeAcquire))
        }
        Verdict::Protect(slot) => {
            // Fragments after the first carry no ports: only a policy without port selectors
            // is sure to catch them all again.
            let sel = sp.outbound.policies().get(index).map(|p| p.selector);
            let portless = sel.is_some_and(|s| s.src_ports.is_any() && s.dst_ports.is_any());
            Some(protect(ip, slot, len, ttl, portless, t, sp))
        }
    }
}

/// Route-based protection: a packet whose route is a VTI is protected with the VTI's current
/// outbound SA (the same checks as a protect policy: TTL, tunnel MTU), or dropped as
/// `vti_down` while the VTI has none. `None` for any other route.
#[inline]
fn via_vti(
    ip: &[u8],
    adj: Option<Adjacency>,
    len: u16,
    ttl: u8,
    t: &Tables,
    sp: &IpsecTables,
) -> Option<Decision> {
    let vti = match adj {
        Some(Adjacency::Vti { vti }) => vti,
        Some(Adjacency::VtiGroup { group }) => group_vti(t, sp, group, ip)?,
        _ => return None,
    };
    Some(match sp.vti_sa(vti) {
        Some(slot) => protect(ip, slot, len, ttl, true, t, sp),
        None if ttl <= 1 => Decision::Punt(Punt::TtlExceeded),
        None => Decision::Drop(DropReason::VtiDown),
    })
}

/// The VTI of an ECMP / tracking group for this packet's flow.
#[inline]
fn group_vti(t: &Tables, sp: &IpsecTables, group: u16, ip: &[u8]) -> Option<u16> {
    t.fib.pick_vti(group, crate::route::ecmp::flow_hash(ip), |v| sp.vti_sa(v).is_some())
}

/// A decision `parse` reached without a lookup. For the inner packet of ESP, a punt means
/// link-scope traffic (IPv6 multicast, link-local, ARP cannot occur): a tunnel does not carry
/// the wan link's neighbour discovery, so it is dropped rather than handed to the control path
/// as if it had arrived on that link.
#[inline]
fn link_scope_from_tunnel(d: Decision, origin: Origin) -> Decision {
    match (origin, d) {
        (Origin::Decrypted(_), Decision::Punt(_)) => Decision::Drop(DropReason::PolicyMismatch),
        _ => d,
    }
}

/// Whether the packet's source is one of the gateway's own addresses.
fn from_us(flow: &Flow, t: &Tables) -> bool {
    let adj = match flow.src {
        IpAddr::V4(a) => t.fib.lookup_v4(a),
        IpAddr::V6(a) => t.fib.lookup_v6(a),
    };
    matches!(adj, Some(Adjacency::Local))
}

/// The checks before encapsulating: TTL, a route to the peer, and the tunnel MTU. A packet
/// that would not fit gets ICMP fragmentation-needed / Packet Too Big carrying the largest
/// inner size that fits (DF set, or IPv6); an IPv4 packet without DF is fragmented before
/// encryption, or dropped, as the config says.
fn protect(
    ip: &[u8],
    slot: u32,
    len: u16,
    ttl: u8,
    portless: bool,
    t: &Tables,
    sp: &IpsecTables,
) -> Decision {
    if ttl <= 1 {
        return Decision::Punt(Punt::TtlExceeded);
    }
    let Some(sa) = sp.sa(slot) else {
        return Decision::Drop(DropReason::SaExpired);
    };
    // Most packets fit any port once encapsulated: then no route or size work is needed. A
    // peer without a route is found when the outer packet is routed.
    let v6 = ip[0] >> 4 == 6;
    let hl = if v6 { ipv6::HEADER_LEN } else { ((ip[0] & 0x0f) as usize) * 4 };
    let out = crate::ipsec::datapath::protected_len(sa, len as usize, hl);
    if out <= t.min_mtu as usize {
        return Decision::Protect { sa: slot };
    }
    let adj = match sa.mode.remote() {
        IpAddr::V4(a) => t.fib.lookup_v4(a),
        IpAddr::V6(a) => t.fib.lookup_v6(a),
    };
    let port = match adj {
        Some(
            Adjacency::Forward { port, .. } | Adjacency::Glean { port } | Adjacency::Resolve { port, .. },
        ) => port,
        _ => return Decision::Drop(DropReason::TunnelNoRoute),
    };
    let mtu = t.ports.get(port as usize).map_or(0, |p| p.mtu) as usize;
    if out > mtu {
        // The overhead plus the worst-case padding, so that the size reported fits.
        let align = sa.transform.algorithm().block_align();
        let overhead = out - len as usize + align - 1;
        // IPv6 hosts ignore a Packet Too Big below 1280 (RFC 8200); IPv4 accepts down to 68.
        let floor = if v6 { 1280 } else { 68 };
        let inner = mtu.saturating_sub(overhead).max(floor).min(u16::MAX as usize) as u16;
        if !v6 && ip[6] & 0x40 == 0 {
            return if sp.pre_fragment && portless {
                Decision::Punt(Punt::Fragment { mtu: inner })
            } else {
                Decision::Drop(DropReason::MtuExceeded)
            };
        }
        return Decision::Punt(Punt::TooBig { mtu: inner });
    }
    Decision::Protect { sa: slot }
}

/// Shortest frame `parse` accepts as IP: Ethernet plus a 20-byte IPv4 header.
const MIN_IP_FRAME: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN;

/// TTL / hop limit minus one; IPv4 header checksum updated incrementally (RFC 1624).
#[inline(always)]
pub(crate) fn decrement_ttl(frame: &mut [u8], v6: bool) {
    if v6 {
        let h = &mut frame[ethernet::HEADER_LEN + 7];
        *h = h.saturating_sub(1);
    } else {
        const TTL: usize = ethernet::HEADER_LEN + 8;
        const CSUM: usize = ethernet::HEADER_LEN + 10;
        let (ttl, proto) = (frame[TTL], frame[TTL + 1]);
        let new_ttl = ttl.saturating_sub(1);
        let old = u16::from_be_bytes([frame[CSUM], frame[CSUM + 1]]);
        let new =
            checksum::update(old, u16::from_be_bytes([ttl, proto]), u16::from_be_bytes([new_ttl, proto]));
        frame[TTL] = new_ttl;
        frame[CSUM..CSUM + 2].copy_from_slice(&new.to_be_bytes());
    }
}

/// Applies a `Forward` decision with [`rewrite`]; other decisions leave the frame alone.
#[inline]
pub fn apply(frame: &mut [u8], d: &Decision, t: &Tables) {
    let Decision::Forward { port, dst, v6 } = *d else { return };
    let src = t.ports.get(port as usize).map_or([0; 6], |p| p.mac);
    rewrite(frame, src, dst, v6);
}

/// What the outbound SPD says about a frame the control path hands to a worker to send: the
/// gateway's own packets (replies, ICMP errors, transport mode) and the frames it releases
/// after resolving a next hop or fragmenting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalOut {
    /// Send as it is.
    Clear,
    /// Encapsulate with the SA in this slot first.
    Protect(u32),
    /// A discard policy covers it.
    Discard,
    /// Routed into a VTI that has no SA.
    VtiDown,
}

/// The outbound SPD's verdict on a frame sent through the inject path. IKE and ESP/AH from
/// the gateway's own addresses (and ND) go out as they are; anything else meets the policies,
/// so a frame released late still obeys the SPD published now. Where no policy applies, a
/// destination routed into a VTI is protected with the VTI's SA (the gateway's answers to
/// pings that came through the VTI go back through it).
#[inline]
pub fn local_outbound(frame: &[u8], t: &Tables, sp: &IpsecTables) -> LocalOut {
    if (sp.outbound.is_empty() && !sp.has_vtis())
        || !matches!(frame.get(12..14), Some([0x08, 0x00] | [0x86, 0xdd]))
    {
        return LocalOut::Clear;
    }
    let Some(flow) = frame.get(ethernet::HEADER_LEN..).and_then(Flow::parse) else {
        return LocalOut::Clear;
    };
    if flow.is_policy_exempt() && (flow.nd || from_us(&flow, t)) {
        return LocalOut::Clear;
    }
    match sp.outbound.lookup(&flow).map(|m| m.1) {
        Some(Verdict::Protect(slot)) => LocalOut::Protect(slot),
        Some(Verdict::Discard) => LocalOut::Discard,
        Some(Verdict::Trap(id)) => {
            sp.acquires.raise(id);
            LocalOut::Discard
        }
        Some(Verdict::Bypass) | None if sp.has_vtis() => match t.fib.lookup(flow.dst) {
            Some(Adjacency::Vti { vti }) => sp.vti_sa(vti).map_or(LocalOut::VtiDown, LocalOut::Protect),
            Some(Adjacency::VtiGroup { group }) => frame
                .get(ethernet::HEADER_LEN..)
                .and_then(|ip| group_vti(t, sp, group, ip))
                .and_then(|v| sp.vti_sa(v))
                .map_or(LocalOut::VtiDown, LocalOut::Protect),
            _ => LocalOut::Clear,
        },
        Some(Verdict::Bypass) | None => LocalOut::Clear,
    }
}

/// fe80::/10
pub fn is_link_local(a: Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MacAddr;
    use crate::control::packet::{icmp4_frame, icmp6_frame};
    use crate::control::ControlPlane;
    use crate::route::{L3Port, Neighbour, StaticRoute};

    /// The decision without IPsec (an empty SADB and SPD).
    fn process(frame: &mut [u8], in_port: u8, t: &Tables) -> Decision {
        super::process(frame, in_port, t, &IpsecTables::default(), Origin::Wire)
    }

    fn classify(frame: &[u8], in_port: u8, t: &Tables) -> Decision {
        super::classify(frame, in_port, t, &IpsecTables::default(), Origin::Wire)
    }

    const GW: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const GW2: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const NH: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xfe]);

    fn tables() -> Tables {
        let ports = vec![
            L3Port {
                name: "a".into(),
                mac: MacAddr(GW),
                mtu: 1500,
                addresses: vec!["192.0.2.1/24".parse().unwrap(), "2001:db8:1::1/64".parse().unwrap()],
            },
            L3Port {
                name: "b".into(),
                mac: MacAddr(GW2),
                mtu: 1500,
                addresses: vec!["198.51.100.1/24".parse().unwrap(), "2001:db8:2::1/64".parse().unwrap()],
            },
        ];
        let routes = vec![StaticRoute {
            prefix: "203.0.113.0/24".parse().unwrap(),
            via: Some("198.51.100.2".parse().unwrap()),
            port: None,
            vti: None,
            metric: 0,
        }];
        let neigh = vec![
            Neighbour { port: 1, ip: "198.51.100.2".parse().unwrap(), mac: NH },
            Neighbour { port: 1, ip: "2001:db8:2::2".parse().unwrap(), mac: NH },
        ];
        ControlPlane::initial_tables(&ports, &routes, &[], &neigh)
    }

    fn ping(dst: &str, ttl: u8) -> Vec<u8> {
        let mut f = icmp4_frame(
            MacAddr([2, 0, 0, 0, 0, 9]),
            MacAddr(GW),
            "192.0.2.2".parse().unwrap(),
            dst.parse().unwrap(),
            8,
            0,
            [0; 4],
            &[7; 20],
        );
        let mut ip = ipv4::Packet::new_unchecked(&mut f[14..]);
        ip.set_ttl(ttl);
        ip.fill_checksum();
        f
    }

    #[test]
    fn forwards_with_rewrite_equal_to_checked_rewrite() {
        let t = tables();
        for ttl in [2u8, 3, 64, 128, 255] {
            let mut f = ping("203.0.113.77", ttl);
            let mut g = f.clone();
            let d = process(&mut f, 0, &t);
            assert_eq!(d, Decision::Forward { port: 1, dst: NH.0, v6: false });
            rewrite(&mut g, GW2, NH.0, false);
            assert_eq!(f, g);
            let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
            assert_eq!(ip.ttl(), ttl - 1);
            assert!(ip.verify_checksum());
            assert_eq!(&f[0..6], &NH.0);
            assert_eq!(&f[6..12], &GW2);
        }
        let mut f = icmp6_frame(
            MacAddr([2, 0, 0, 0, 0, 9]),
            MacAddr(GW),
            "2001:db8:1::2".parse().unwrap(),
            "2001:db8:2::2".parse().unwrap(),
            64,
            128,
            0,
            [0; 4],
            b"x",
        );
        assert_eq!(process(&mut f, 0, &t), Decision::Forward { port: 1, dst: NH.0, v6: true });
        assert_eq!(ipv6::Packet::new_checked(&f[14..]).unwrap().hop_limit(), 63);
    }

    #[test]
    fn decisions_for_the_punt_and_drop_cases() {
        let t = tables();
        assert_eq!(classify(&ping("203.0.113.77", 1), 0, &t), Decision::Punt(Punt::TtlExceeded));
        assert_eq!(classify(&ping("192.0.2.1", 64), 0, &t), Decision::Punt(Punt::Local));
        assert_eq!(
            classify(&ping("192.0.2.9", 64), 0, &t),
            Decision::Punt(Punt::Resolve { port: 0, next_hop: "192.0.2.9".parse().unwrap() })
        );
        assert_eq!(classify(&ping("8.8.4.4", 64), 0, &t), Decision::Punt(Punt::NoRoute));
        let mut other_mac = ping("203.0.113.77", 64);
        other_mac[0..6].copy_from_slice(&[2, 9, 9, 9, 9, 9]);
        assert_eq!(classify(&other_mac, 0, &t), Decision::Drop(DropReason::NotForUs));
        let mut bad = ping("203.0.113.77", 64);
        bad[14 + 10] ^= 0xff;
        assert_eq!(classify(&bad, 0, &t), Decision::Drop(DropReason::Ipv4BadChecksum));
        let mut mcast = ping("224.0.0.5", 64);
        let mut ip = ipv4::Packet::new_unchecked(&mut mcast[14..]);
        ip.fill_checksum();
        assert_eq!(classify(&mcast, 0, &t), Decision::Drop(DropReason::MulticastNotForwarded));
        let mut vlan = ping("203.0.113.77", 64);
        vlan[12..14].copy_from_slice(&[0x81, 0x00]);
        assert_eq!(classify(&vlan, 0, &t), Decision::Drop(DropReason::UnsupportedEthertype));
    }

    #[test]
    fn fast_ipv4_parse_agrees_with_the_wire_view() {
        let base = ping("203.0.113.77", 64);
        let ip = base[14..].to_vec();
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for i in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = ip.clone();
            // Mutate one to three header bytes, sometimes fixing the checksum so the deeper
            // checks are reached, sometimes truncating.
            for k in 0..1 + (x % 3) as usize {
                let pos = ((x >> (8 * k)) % 20) as usize;
                b[pos] = (x >> (8 * k + 3)) as u8;
            }
            if i % 2 == 0 {
                b[10] = 0;
                b[11] = 0;
                let c = checksum::checksum(&b[..20]);
                b[10..12].copy_from_slice(&c.to_be_bytes());
            }
            if i % 7 == 0 {
                b.truncate((x % 48) as usize);
            }
            assert_eq!(parse_v4(&b), parse_v4_view(&b), "header {b:02x?}");
        }
    }

    /// The fast path never disagrees with `process`: for random mutations of the Ethernet and
    /// IPv4 headers (checksum fixed half the time, frames truncated sometimes), whenever
    /// `fast::forward_v4` answers, `process` forwards to the same port and leaves the same
    /// bytes; when it declines, the frame is untouched. The common case must take it.
    #[test]
    fn fast_path_agrees_with_process() {
        let t = tables();
        let me = fast::mac_key(GW);
        let sp = IpsecTables::default();
        let mut taken = 0;
        let mut x: u64 = 0x853c49e6748fea9b;
        let bases: Vec<Vec<u8>> =
            ["203.0.113.77", "192.0.2.1", "8.8.8.8", "198.51.100.2"].iter().map(|d| ping(d, 64)).collect();
        for i in 0..300_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut f = bases[i as usize % 4].clone();
            for k in 0..(x % 4) as usize {
                let pos = ((x >> (8 * k)) % 34) as usize;
                f[pos] = (x >> (8 * k + 3)) as u8;
            }
            if i % 2 == 0 {
                f[24] = 0;
                f[25] = 0;
                let c = checksum::checksum(&f[14..34]);
                f[24..26].copy_from_slice(&c.to_be_bytes());
            }
            if i % 11 == 0 {
                f.truncate((x % 60) as usize);
            }
            let mut slow = f.clone();
            let before = f.clone();
            match fast::forward_v4(&mut f, me, &t) {
                Some(port) => {
                    taken += 1;
                    let d = super::process(&mut slow, 0, &t, &sp, Origin::Wire);
                    assert!(
                        matches!(d, Decision::Forward { port: p, .. } if p == port),
                        "{d:?} for {before:02x?}"
                    );
                    assert_eq!(f, slow, "bytes differ for {before:02x?}");
                }
                None => assert_eq!(f, before, "declined but wrote"),
            }
        }
        assert!(taken > 10_000, "fast path taken only {taken} times");
        let mut f = ping("203.0.113.77", 64);
        assert_eq!(fast::forward_v4(&mut f, me, &t), Some(1));
        assert_eq!(fast::forward_v4(&mut ping("203.0.113.77", 1), me, &t), None);
    }

    #[test]
    fn every_prefix_of_a_frame_is_classified_without_panic() {
        let t = tables();
        let f = ping("203.0.113.77", 64);
        for n in 0..f.len() {
            let mut p = f[..n].to_vec();
            let d = process(&mut p, 0, &t);
            assert!(!matches!(d, Decision::Forward { .. }), "prefix {n} forwarded");
        }
        // Random bytes behind a valid Ethernet header never panic either.
        let mut x: u64 = 0x2545f4914f6cdd1d;
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 120) as usize;
            let mut p: Vec<u8> = (0..len).map(|i| (x >> (i % 56)) as u8).collect();
            if p.len() >= 14 {
                p[0..6].copy_from_slice(&GW);
                p[12..14].copy_from_slice(if x & 1 == 0 { &[0x08, 0x00] } else { &[0x86, 0xdd] });
            }
            let _ = process(&mut p, (x % 3) as u8, &t);
        }
    }
}

#[cfg(test)]
mod tests_ipsec;
#[cfg(test)]
mod tests_vti;
