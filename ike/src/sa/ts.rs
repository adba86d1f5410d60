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

/// Compact text for failure reasons: `10.1.0.0-10.1.255.255[proto 0, ports 0-65535]`.
pub(crate) fn describe(list: &[TrafficSelector]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|t| match bounds(t) {
            Some((p, (s, e), a, b)) => {
                let mut x = format!("{a}-{b}");
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
        assert_eq!(describe(&[tcp]), "[10.1.2.0-10.1.2.255[proto 6, ports 443-443]]");
    }
}
