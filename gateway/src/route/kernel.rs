//! Routes a routing daemon learned, read back from the kernel: BIRD (or FRR) peers over a
//! VTI's host interface and its `kernel` protocol exports the learned prefixes into the
//! kernel's table with that interface as output; espgw dumps the table over rtnetlink
//! ([`dpdk_sys::host::dump_ipv4_routes`]) and turns every unicast route out of a VTI's host
//! interface into a FIB route into that VTI. The daemon never talks to espgw directly.
//!
//! This module parses the dump (`RTM_NEWROUTE` messages, `struct rtmsg` and its attributes,
//! in host byte order as netlink is); it never panics on malformed input.

use crate::config::IpPrefix;
use std::net::{IpAddr, Ipv4Addr};

/// One IPv4 route from the kernel's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelRoute {
    pub prefix: IpPrefix,
    /// Output interface index (`RTA_OIF`, or one next hop's of an `RTA_MULTIPATH` route:
    /// such a route gives one `KernelRoute` per next hop).
    pub oif: u32,
    pub table: u32,
    /// `rtm_protocol`: who installed it (2 kernel, 4 static, 12 bird, 186 bgp, ...).
    pub protocol: u8,
}

const RTM_NEWROUTE: u16 = 24;
const RTN_UNICAST: u8 = 1;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const AF_INET: u8 = 2;

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// The unicast IPv4 routes in a dump; anything else (other types, other families,
/// truncated messages) is skipped.
pub fn parse_ipv4_routes(dump: &[u8]) -> Vec<KernelRoute> {
    let mut v = Vec::new();
    let mut off = 0;
    while let (Some(len), Some(ty)) = (u32_at(dump, off), u16_at(dump, off + 4)) {
        let len = len as usize;
        let Some(msg) = dump.get(off..off.saturating_add(len)).filter(|_| len >= 16) else { break };
        if ty == RTM_NEWROUTE {
            route(&msg[16..], &mut v);
        }
        off += (len + 3) & !3;
    }
    v
}

/// One `struct rtmsg` (12 bytes) and its attributes: a route per output interface.
fn route(m: &[u8], out: &mut Vec<KernelRoute>) -> Option<()> {
    let (family, dst_len, table8, protocol, rtype) =
        (*m.first()?, *m.get(1)?, *m.get(4)?, *m.get(5)?, *m.get(7)?);
    if family != AF_INET || rtype != RTN_UNICAST || dst_len > 32 {
        return None;
    }
    let (mut dst, mut oif, mut table) = (Ipv4Addr::UNSPECIFIED, 0, u32::from(table8));
    let mut hops: Vec<u32> = Vec::new();
    let mut a = 12;
    while let (Some(alen), Some(aty)) = (u16_at(m, a), u16_at(m, a + 2)) {
        let alen = alen as usize;
        if alen < 4 {
            break;
        }
        let body = m.get(a + 4..a + alen)?;
        match aty {
            RTA_DST if body.len() == 4 => dst = Ipv4Addr::new(body[0], body[1], body[2], body[3]),
            RTA_OIF if body.len() == 4 => oif = u32_at(body, 0)?,
            RTA_TABLE if body.len() == 4 => table = u32_at(body, 0)?,
            // struct rtnexthop { len: u16, flags: u8, hops: u8, ifindex: i32 } + attributes.
            RTA_MULTIPATH => {
                let mut h = 0;
                while let (Some(hlen), Some(ifindex)) = (u16_at(body, h), u32_at(body, h + 4)) {
                    if hlen < 8 {
                        break;
                    }
                    hops.push(ifindex);
                    h += (hlen as usize + 3) & !3;
                }
            }
            _ => {}
        }
        a += (alen + 3) & !3;
    }
    let prefix = IpPrefix { addr: IpAddr::V4(dst), len: dst_len }.network();
    if hops.is_empty() {
        hops.push(oif);
    }
    out.extend(hops.into_iter().map(|oif| KernelRoute { prefix, oif, table, protocol }));
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(ty: u16, body: &[u8]) -> Vec<u8> {
        let mut a = ((4 + body.len()) as u16).to_ne_bytes().to_vec();
        a.extend_from_slice(&ty.to_ne_bytes());
        a.extend_from_slice(body);
        while !a.len().is_multiple_of(4) {
            a.push(0);
        }
        a
    }

    fn msg(ty: u16, family: u8, dst_len: u8, rtype: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut body = vec![family, dst_len, 0, 0, 254, 12, 0, rtype, 0, 0, 0, 0];
        for a in attrs {
            body.extend_from_slice(a);
        }
        let mut m = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&[2, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn unicast_routes_with_their_interface() {
        let mut dump = msg(
            RTM_NEWROUTE,
            AF_INET,
            24,
            RTN_UNICAST,
            &[
                attr(RTA_TABLE, &254u32.to_ne_bytes()),
                attr(RTA_DST, &[198, 51, 100, 0]),
                attr(5, &[169, 254, 10, 2]),
                attr(RTA_OIF, &7u32.to_ne_bytes()),
            ],
        );
        // A default route (no RTA_DST), a local route (type 2), an IPv6 one: only the first is
        // unicast IPv4 besides the /24.
        dump.extend(msg(RTM_NEWROUTE, AF_INET, 0, RTN_UNICAST, &[attr(RTA_OIF, &3u32.to_ne_bytes())]));
        dump.extend(msg(RTM_NEWROUTE, AF_INET, 32, 2, &[attr(RTA_DST, &[169, 254, 10, 1])]));
        dump.extend(msg(RTM_NEWROUTE, 10, 64, RTN_UNICAST, &[]));
        let r = parse_ipv4_routes(&dump);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].prefix, "198.51.100.0/24".parse().unwrap());
        assert_eq!((r[0].oif, r[0].table, r[0].protocol), (7, 254, 12));
        assert_eq!(r[1].prefix, "0.0.0.0/0".parse().unwrap());
        assert_eq!(r[1].oif, 3);
    }

    /// A route with two next hops (BIRD's `merge paths`): one `KernelRoute` per interface.
    #[test]
    fn multipath_gives_a_route_per_next_hop() {
        let mut hops = Vec::new();
        for (ifindex, gw) in [(7u32, [169, 254, 10, 2]), (8, [169, 254, 11, 2])] {
            let a = attr(5, &gw);
            hops.extend_from_slice(&((8 + a.len()) as u16).to_ne_bytes());
            hops.extend_from_slice(&[0, 0]);
            hops.extend_from_slice(&ifindex.to_ne_bytes());
            hops.extend_from_slice(&a);
        }
        let dump = msg(
            RTM_NEWROUTE,
            AF_INET,
            24,
            RTN_UNICAST,
            &[attr(RTA_DST, &[198, 51, 100, 0]), attr(RTA_MULTIPATH, &hops)],
        );
        let r = parse_ipv4_routes(&dump);
        assert_eq!(r.iter().map(|x| x.oif).collect::<Vec<_>>(), [7, 8]);
        assert!(r.iter().all(|x| x.prefix == "198.51.100.0/24".parse().unwrap()));
        for n in 0..dump.len() {
            assert!(parse_ipv4_routes(&dump[..n]).is_empty());
        }
    }

    #[test]
    fn every_truncation_and_mutation_is_survived() {
        let dump = msg(
            RTM_NEWROUTE,
            AF_INET,
            24,
            RTN_UNICAST,
            &[attr(RTA_DST, &[198, 51, 100, 0]), attr(RTA_OIF, &7u32.to_ne_bytes())],
        );
        for n in 0..dump.len() {
            let r = parse_ipv4_routes(&dump[..n]);
            assert!(r.is_empty(), "{n}: {r:?}");
        }
        let mut x = 0x9e37_79b9u32;
        for _ in 0..20_000 {
            let mut d = dump.clone();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % d.len();
                d[i] = (x >> 8) as u8;
            }
            let _ = parse_ipv4_routes(&d);
        }
    }
}
