//! Traffic selector narrowing (RFC 7296 §2.9): the responder answers with the intersection of
//! what the initiator proposed and what its policy allows; the initiator checks that the answer
//! lies inside its proposal.

use crate::codec::ts::TrafficSelector;
use std::net::IpAddr;

fn bounds(ts: &TrafficSelector) -> Option<(u8, (u16, u16), IpAddr, IpAddr)> {
    match ts {
        TrafficSelector::Ipv4 { protocol, ports, start, end } => {
            Some((*protocol, *ports, IpAddr::V4(*start), IpAddr::V4(*end)))
        }
        TrafficSelector::Ipv6 { protocol, ports, start, end } => {
            Some((*protocol, *ports, IpAddr::V6(*start), IpAddr::V6(*end)))
        }
        TrafficSelector::Other { .. } => None,
    }
}

/// The intersection of two selectors, if not empty.
pub(crate) fn intersect(a: &TrafficSelector, b: &TrafficSelector) -> Option<TrafficSelector> {
    let (pa, (sa, ea), a0, a1) = bounds(a)?;
    let (pb, (sb, eb), b0, b1) = bounds(b)?;
    let protocol = match (pa, pb) {
        (0, p) | (p, 0) => p,
        (x, y) if x == y => x,
        _ => return None,
    };
    let ports = (sa.max(sb), ea.min(eb));
    if ports.0 > ports.1 {
        return None;
    }
    let (lo, hi) = (a0.max(b0), a1.min(b1));
    if lo > hi {
        return None;
    }
    Some(match (lo, hi) {
        (IpAddr::V4(start), IpAddr::V4(end)) => TrafficSelector::Ipv4 { protocol, ports, start, end },
        (IpAddr::V6(start), IpAddr::V6(end)) => TrafficSelector::Ipv6 { protocol, ports, start, end },
        // Mixed families never intersect (IpAddr orders every V4 before every V6).
        _ => return None,
    })
}

/// Every non-empty pairwise intersection, without duplicates.
pub(crate) fn narrow(proposed: &[TrafficSelector], allowed: &[TrafficSelector]) -> Vec<TrafficSelector> {
    let mut out: Vec<TrafficSelector> = Vec::new();
    for p in proposed {
        for a in allowed {
            if let Some(x) = intersect(p, a) {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
        }
    }
    out
}

/// `inner` lies entirely inside one selector of `outer`.
pub(crate) fn covered(inner: &TrafficSelector, outer: &[TrafficSelector]) -> bool {
    outer.iter().any(|o| intersect(inner, o).as_ref() == Some(inner))
}

/// `start/len` when the range is exactly one prefix (as admins write selectors), else `start-end`.
fn describe_range(a: IpAddr, b: IpAddr) -> String {
    let (lo, hi, bits) = match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => (u128::from(u32::from(x)), u128::from(u32::from(y)), 32),
        (IpAddr::V6(x), IpAddr::V6(y)) => (u128::from(x), u128::from(y), 128),
        _ => return format!("{a}-{b}"),
    };
    if lo > hi {
        return format!("{a}-{b}");
    }
    // The range is a prefix when its size is a power of two and `lo` is aligned to it.
    let host_bits = (hi - lo).checked_add(1).map_or(128, |size| {
        if size.is_power_of_two() {
            size.trailing_zeros()
        } else {
            129
        }
    });
    if host_bits <= bits && (host_bits == 128 || lo & ((1u128 << host_bits) - 1) == 0) {
        return format!("{a}/{}", bits - host_bits);
    }
    format!("{a}-{b}")
}

/// Compact text for failure reasons: `10.1.0.0/16`, `10.1.0.1-10.1.0.6[proto 6, ports 443-443]`.
pub(crate) fn describe(list: &[TrafficSelector]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|t| match bounds(t) {
            Some((p, (s, e), a, b)) => {
                let mut x = describe_range(a, b);
                if p != 0 || (s, e) != (0, 65535) {
                    x.push_str(&format!("[proto {p}, ports {s}-{e}]"));
                }
                x
            }
            None => format!("{:?}", t.ty()),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod test {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(a: [u8; 4], b: [u8; 4], protocol: u8, ports: (u16, u16)) -> TrafficSelector {
        TrafficSelector::Ipv4 { protocol, ports, start: Ipv4Addr::from(a), end: Ipv4Addr::from(b) }
    }

    #[test]
    fn narrowing() {
        let any = TrafficSelector::any_v4();
        let net = v4([10, 1, 0, 0], [10, 1, 255, 255], 0, (0, 65535));
        assert_eq!(narrow(std::slice::from_ref(&any), std::slice::from_ref(&net)), vec![net.clone()]);
        let tcp = v4([10, 1, 2, 0], [10, 1, 2, 255], 6, (443, 443));
        assert_eq!(intersect(&net, &tcp), Some(tcp.clone()));
        assert!(intersect(&tcp, &v4([10, 1, 2, 0], [10, 1, 2, 255], 17, (0, 65535))).is_none());
        assert!(intersect(&net, &v4([10, 2, 0, 0], [10, 2, 0, 255], 0, (0, 65535))).is_none());
        assert!(covered(&tcp, std::slice::from_ref(&net)));
        assert!(!covered(&any, std::slice::from_ref(&net)));
        let v6 = TrafficSelector::Ipv6 {
            protocol: 0,
            ports: (0, 65535),
            start: "::".parse().unwrap(),
            end: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
        };
        assert!(intersect(&any, &v6).is_none());
        assert_eq!(describe(&[tcp]), "[10.1.2.0/24[proto 6, ports 443-443]]");
        let odd = v4([10, 0, 0, 1], [10, 0, 0, 6], 0, (0, 65535));
        let host = v4([198, 51, 100, 1], [198, 51, 100, 1], 0, (0, 65535));
        assert_eq!(describe(&[odd, host, any.clone()]), "[10.0.0.1-10.0.0.6, 198.51.100.1/32, 0.0.0.0/0]");
        let unaligned = v4([10, 0, 0, 2], [10, 0, 0, 5], 0, (0, 65535));
        assert_eq!(describe(&[unaligned]), "[10.0.0.2-10.0.0.5]");
        assert_eq!(describe(std::slice::from_ref(&v6)), "[::/0]");
    }
}
