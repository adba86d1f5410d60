//! Per-packet L2/L3 decision: the part of the worker loop that looks at bytes.
//!
//! [`classify`] never mutates and never panics on any input: every malformed frame maps to a
//! [`DropReason`]. [`process`] classifies and, for a forwarded packet, rewrites the Ethernet
//! header and decrements TTL / hop limit (RFC 1624 incremental checksum for IPv4). Anything
//! that needs more than a rewrite — ARP, neighbour discovery, packets for the gateway itself,
//! unresolved next hops and every case that answers with an ICMP error — is punted to the
//! control path, which runs [`classify`] again on the same bytes to learn why.

use crate::drop::DropReason;
use crate::route::Adjacency;
use crate::tables::Tables;
use crate::wire::{ethernet, ipv4, ipv6, EtherType, EthernetAddress, IpProtocol};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
    /// The next hop's MAC is unknown: resolve `next_hop` on `port`.
    Resolve {
        port: u8,
        next_hop: IpAddr,
    },
}

/// The outcome for one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Forward { port: u8, dst: [u8; 6], v6: bool },
    Punt(Punt),
    Drop(DropReason),
}

/// Decides what to do with `frame`, received on port index `in_port`.
#[inline]
pub fn classify(frame: &[u8], in_port: u8, t: &Tables) -> Decision {
    let Ok(eth) = ethernet::Packet::new_checked(frame) else {
        return Decision::Drop(DropReason::Runt);
    };
    let Some(me) = t.ports.get(in_port as usize) else {
        return Decision::Drop(DropReason::NotForUs);
    };
    let dst_mac = eth.dst_addr();
    if dst_mac.0 != me.mac && !dst_mac.is_multicast() {
        return Decision::Drop(DropReason::NotForUs);
    }
    match eth.ethertype() {
        EtherType::IPV4 => classify_v4(eth.payload(), t),
        EtherType::IPV6 => classify_v6(eth.payload(), t),
        EtherType::ARP => Decision::Punt(Punt::Arp),
        _ => Decision::Drop(DropReason::UnsupportedEthertype),
    }
}

#[inline]
fn classify_v4(bytes: &[u8], t: &Tables) -> Decision {
    let Ok(ip) = ipv4::Packet::new_checked(bytes) else {
        return Decision::Drop(DropReason::Ipv4Malformed);
    };
    if ip.version() != 4 {
        return Decision::Drop(DropReason::Ipv4Malformed);
    }
    if !ip.verify_checksum() {
        return Decision::Drop(DropReason::Ipv4BadChecksum);
    }
    let dst = ip.dst_addr();
    if dst.is_multicast() || dst == Ipv4Addr::BROADCAST {
        return Decision::Drop(DropReason::MulticastNotForwarded);
    }
    let src = ip.src_addr();
    if src.is_multicast() || src.is_loopback() || src.is_unspecified() || src == Ipv4Addr::BROADCAST {
        return Decision::Drop(DropReason::MartianSource);
    }
    let Some(adj) = t.fib.lookup_v4(dst) else {
        return Decision::Punt(Punt::NoRoute);
    };
    let len = ip.total_len();
    let ttl = ip.ttl();
    decide(adj, IpAddr::V4(dst), len, ttl, false, t)
}

#[inline]
fn classify_v6(bytes: &[u8], t: &Tables) -> Decision {
    let Ok(ip) = ipv6::Packet::new_checked(bytes) else {
        return Decision::Drop(DropReason::Ipv6Malformed);
    };
    if ip.version() != 6 {
        return Decision::Drop(DropReason::Ipv6Malformed);
    }
    let dst = ip.dst_addr();
    if dst.is_multicast() {
        return Decision::Punt(Punt::Ipv6Multicast);
    }
    if is_link_local(dst) {
        return Decision::Punt(Punt::Local);
    }
    let src = ip.src_addr();
    if src.is_multicast() || src.is_loopback() || src.is_unspecified() {
        return Decision::Drop(DropReason::MartianSource);
    }
    let Some(adj) = t.fib.lookup_v6(dst) else {
        return Decision::Punt(Punt::NoRoute);
    };
    let len = ip.payload_len().saturating_add(ipv6::HEADER_LEN as u16);
    decide(adj, IpAddr::V6(dst), len, ip.hop_limit(), true, t)
}

#[inline]
fn decide(adj: Adjacency, dst: IpAddr, l3_len: u16, ttl: u8, v6: bool, t: &Tables) -> Decision {
    match adj {
        Adjacency::Local => Decision::Punt(Punt::Local),
        Adjacency::Glean { port } | Adjacency::Resolve { port, .. } | Adjacency::Forward { port, .. }
            if ttl <= 1 =>
        {
            let _ = port;
            Decision::Punt(Punt::TtlExceeded)
        }
        Adjacency::Glean { port } => Decision::Punt(Punt::Resolve { port, next_hop: dst }),
        Adjacency::Resolve { port, via } => Decision::Punt(Punt::Resolve { port, next_hop: via }),
        Adjacency::Forward { port, dst } => {
            let mtu = t.ports.get(port as usize).map_or(0, |p| p.mtu);
            if l3_len > mtu {
                return Decision::Punt(Punt::TooBig { mtu });
            }
            Decision::Forward { port, dst: dst.0, v6 }
        }
    }
}

/// Rewrites a frame that [`classify`] decided to forward: new MACs, TTL/hop limit minus one.
#[inline]
pub fn rewrite(frame: &mut [u8], src_mac: [u8; 6], dst_mac: [u8; 6], v6: bool) {
    let Ok(mut eth) = ethernet::Packet::new_checked(&mut *frame) else { return };
    eth.set_dst_addr(EthernetAddress(dst_mac));
    eth.set_src_addr(EthernetAddress(src_mac));
    let payload = eth.payload_mut();
    if v6 {
        if let Ok(mut ip) = ipv6::Packet::new_checked(payload) {
            ip.decrement_hop_limit();
        }
    } else if let Ok(mut ip) = ipv4::Packet::new_checked(payload) {
        ip.decrement_ttl();
    }
}

/// Classifies and, when forwarding, rewrites in place.
#[inline]
pub fn process(frame: &mut [u8], in_port: u8, t: &Tables) -> Decision {
    let d = classify(frame, in_port, t);
    if let Decision::Forward { port, dst, v6 } = d {
        let src = t.ports.get(port as usize).map_or([0; 6], |p| p.mac);
        rewrite(frame, src, dst, v6);
    }
    d
}

/// fe80::/10
pub fn is_link_local(a: Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

/// Protocol number helper kept here so the control path and workers agree.
pub const ICMPV6: IpProtocol = IpProtocol::ICMPV6;
