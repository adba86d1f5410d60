//! The forwarding information base: an immutable snapshot mapping destination prefixes to
//! adjacencies, rebuilt by the control thread and published to workers with an RCU pointer
//! swap (arc-swap). Workers load it once per burst.
//!
//! Built from (in increasing precedence for equal prefixes):
//! - routes a routing daemon learned (read from the kernel, [`super::kernel`]) → into their
//!   VTI: the lowest, so a peer announcing one of our own subnets cannot take it over,
//! - connected subnets of each port → [`Adjacency::Glean`] (resolve the destination itself),
//! - static routes → [`Adjacency::Forward`] when the next hop is resolved, else
//!   [`Adjacency::Resolve`]; routes with a port and no next hop are on-link (Glean),
//! - resolved neighbours → host routes with [`Adjacency::Forward`] (as VPP does: one lookup
//!   gives the rewrite),
//! - VTI inside subnets and static routes into a VTI → [`Adjacency::Vti`] (the packet is
//!   encrypted with the VTI's current outbound Child SA, found in the IPsec snapshot); several
//!   routes to one prefix into different VTIs → [`Adjacency::VtiGroup`]: per flow, one of the
//!   VTIs of the lowest metric that are up (ECMP across equal metrics, tracking failover to a
//!   higher metric while every lower one is down; see [`Fib::pick_vti`]),
//! - the gateway's own addresses, VTI inside addresses included → [`Adjacency::Local`].

use super::lpm::{Lpm, LpmBuilder};
use crate::config::{IpPrefix, MacAddr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What to do with a packet whose destination matched a prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adjacency {
    /// Addressed to the gateway: hand to the control path.
    Local,
    /// On-link destination on `port` whose MAC is not known yet: control path resolves it.
    Glean { port: u8 },
    /// Route via `via` on `port`, next hop not yet resolved: control path resolves it.
    Resolve { port: u8, via: IpAddr },
    /// Rewrite the Ethernet header to `dst` and send out of `port`.
    Forward { port: u8, dst: MacAddr },
    /// Into VTI number `vti` (its index in the `vtis:` config): encrypt with the VTI's current
    /// outbound SA, or drop (`vti_down`) while it has none.
    Vti { vti: u16 },
    /// Into one VTI of group `group` ([`Fib::pick_vti`] chooses per flow).
    VtiGroup { group: u16 },
}

impl Adjacency {
    /// Into a VTI, alone or of a group.
    pub fn is_vti(self) -> bool {
        matches!(self, Adjacency::Vti { .. } | Adjacency::VtiGroup { .. })
    }
}

/// A port as L3 sees it.
#[derive(Clone, Debug)]
pub struct L3Port {
    pub name: String,
    pub mac: MacAddr,
    pub mtu: u16,
    pub addresses: Vec<IpPrefix>,
}

/// A configured static route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticRoute {
    pub prefix: IpPrefix,
    pub via: Option<IpAddr>,
    pub port: Option<u8>,
    /// A route into this VTI (then `via` and `port` are `None`).
    pub vti: Option<u16>,
    /// Among routes to the same prefix into VTIs: the lower the preferred; equal ones share
    /// the flows (ECMP).
    pub metric: u32,
}

/// A resolved neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub port: u8,
    pub ip: IpAddr,
    pub mac: MacAddr,
}

pub struct FibInput<'a> {
    pub ports: &'a [L3Port],
    pub routes: &'a [StaticRoute],
    /// Learned routes (into VTIs), below everything else.
    pub learned: &'a [StaticRoute],
    pub neighbours: &'a [Neighbour],
    /// Inside address (with the link prefix) of each VTI, by VTI index.
    pub vtis: &'a [IpPrefix],
}

/// What the worker's fast path needs from a `Forward` adjacency, precomputed: the 12 bytes of
/// Ethernet addresses to write (next hop's MAC, then the egress port's), the egress port and
/// its MTU. `port == NOT_FORWARD` marks every other adjacency kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct Rewrite {
    pub macs: [u8; 12],
    pub mtu: u16,
    pub port: u8,
}

impl Rewrite {
    pub const NOT_FORWARD: u8 = u8::MAX;
}

/// The published snapshot.
pub struct Fib {
    v4: Lpm<4>,
    v6: Lpm<16>,
    adjacencies: Vec<Adjacency>,
    /// Same indices as `adjacencies`.
    rewrites: Vec<Rewrite>,
    /// The members of each [`Adjacency::VtiGroup`]: (metric, VTI), sorted.
    groups: Vec<Vec<(u32, u16)>>,
    /// Incremented by the control thread on every rebuild.
    pub generation: u64,
    /// The gateway's own IPv4 addresses (ports and VTIs), sorted: exactly the addresses whose
    /// lookup gives [`Adjacency::Local`] (their /32s go in last and nothing is longer).
    local_v4: Vec<u32>,
}

impl Fib {
    /// Builds the FIB. Static routes whose next hop lies in no connected subnet are skipped
    /// (configuration validation rejects them up front).
    pub fn build(input: &FibInput<'_>, generation: u64) -> Fib {
        // Prefixes with routes into several VTIs: one group each (static routes decide the
        // members where both kinds name a prefix).
        let mut groups: Vec<Vec<(u32, u16)>> = Vec::new();
        let mut group_of: std::collections::HashMap<IpPrefix, u16> = std::collections::HashMap::new();
        for set in [input.learned, input.routes] {
            let mut by_prefix: std::collections::HashMap<IpPrefix, Vec<(u32, u16)>> = Default::default();
            for r in set {
                if let Some(v) = r.vti {
                    by_prefix.entry(r.prefix.network()).or_default().push((r.metric, v));
                }
            }
            for (p, mut m) in by_prefix {
                m.sort_unstable();
                m.dedup_by_key(|x| x.1);
                if m.len() > 1 {
                    group_of.insert(p, groups.len() as u16);
                    groups.push(m);
                } else {
                    group_of.remove(&p);
                }
            }
        }
        let vti_adj = |r: &StaticRoute, vti: u16| match group_of.get(&r.prefix.network()) {
            Some(&group) => Adjacency::VtiGroup { group },
            None => Adjacency::Vti { vti },
        };
        let mut adj: Vec<Adjacency> = Vec::new();
        let mut intern = |a: Adjacency| -> u32 {
            if let Some(i) = adj.iter().position(|x| *x == a) {
                i as u32
            } else {
                adj.push(a);
                (adj.len() - 1) as u32
            }
        };
        let mut v4 = LpmBuilder::<4>::new();
        let mut v6 = LpmBuilder::<16>::new();
        let mut add = |prefix: IpAddr, len: u8, a: u32| match prefix {
            IpAddr::V4(p) => v4.insert(p.octets(), len, a),
            IpAddr::V6(p) => v6.insert(p.octets(), len, a),
        };

        for r in input.learned {
            if let Some(vti) = r.vti {
                add(r.prefix.network().addr, r.prefix.len, intern(vti_adj(r, vti)));
            }
        }
        for (i, p) in input.ports.iter().enumerate() {
            for a in &p.addresses {
                add(a.network().addr, a.len, intern(Adjacency::Glean { port: i as u8 }));
            }
        }
        for (i, a) in input.vtis.iter().enumerate() {
            add(a.network().addr, a.len, intern(Adjacency::Vti { vti: i as u16 }));
        }
        for r in input.routes {
            if let Some(vti) = r.vti {
                add(r.prefix.network().addr, r.prefix.len, intern(vti_adj(r, vti)));
                continue;
            }
            let port = r.port.or_else(|| r.via.and_then(|v| connected_port(input.ports, v)));
            let Some(port) = port else { continue };
            let a = match r.via {
                None => Adjacency::Glean { port },
                Some(via) => match input.neighbours.iter().find(|n| n.port == port && n.ip == via) {
                    Some(n) => Adjacency::Forward { port, dst: n.mac },
                    None => Adjacency::Resolve { port, via },
                },
            };
            add(r.prefix.network().addr, r.prefix.len, intern(a));
        }
        for n in input.neighbours {
            let full = if n.ip.is_ipv4() { 32 } else { 128 };
            add(n.ip, full, intern(Adjacency::Forward { port: n.port, dst: n.mac }));
        }
        let mut local_v4 = Vec::new();
        for a in input.ports.iter().flat_map(|p| &p.addresses).chain(input.vtis) {
            let full = if a.addr.is_ipv4() { 32 } else { 128 };
            add(a.addr, full, intern(Adjacency::Local));
            if let IpAddr::V4(v) = a.addr {
                local_v4.push(u32::from(v));
            }
        }
        local_v4.sort_unstable();
        local_v4.dedup();
        let rewrites = adj
            .iter()
            .map(|a| match *a {
                Adjacency::Forward { port, dst } => {
                    let p = &input.ports[port as usize];
                    let mut macs = [0u8; 12];
                    macs[..6].copy_from_slice(&dst.0);
                    macs[6..].copy_from_slice(&p.mac.0);
                    Rewrite { macs, mtu: p.mtu, port }
                }
                _ => Rewrite { macs: [0; 12], mtu: 0, port: Rewrite::NOT_FORWARD },
            })
            .collect();
        Fib { v4: v4.build(), v6: v6.build(), adjacencies: adj, rewrites, groups, generation, local_v4 }
    }

    /// The VTI of group `group` for a flow with hash `flow`: among the members whose VTI is
    /// `up`, those of the lowest metric, and of them the one `flow` selects (so a flow stays
    /// on one VTI while the set is unchanged). With none up, the first member (whose packets
    /// are then dropped as `vti_down`).
    #[inline]
    pub fn pick_vti(&self, group: u16, flow: u32, up: impl Fn(u16) -> bool) -> Option<u16> {
        let m = self.groups.get(group as usize)?;
        let mut best: Option<u32> = None;
        let mut n = 0u32;
        for &(metric, v) in m {
            if best.is_some_and(|b| metric > b) {
                break;
            }
            if up(v) {
                best = Some(metric);
                n += 1;
            }
        }
        let Some(best) = best else { return m.first().map(|x| x.1) };
        let k = ((u64::from(flow) * u64::from(n)) >> 32) as u32;
        m.iter().filter(|&&(metric, v)| metric == best && up(v)).nth(k as usize).map(|x| x.1)
    }

    /// Whether `dst` is one of the gateway's own IPv4 addresses: the same answer as
    /// `lookup_v4(dst) == Some(Local)`, from a few compares instead of the LPM tables while
    /// there are few addresses.
    #[inline]
    pub fn is_local_v4(&self, dst: u32) -> bool {
        if self.local_v4.len() <= 8 {
            self.local_v4.contains(&dst)
        } else {
            self.local_v4.binary_search(&dst).is_ok()
        }
    }

    /// Index of the adjacency for `dst` (see [`Fib::adjacency`], [`Fib::rewrite`]).
    #[inline]
    pub fn index_v4(&self, dst: Ipv4Addr) -> Option<u32> {
        self.v4.lookup(&dst.octets())
    }

    #[inline]
    pub fn index_v6(&self, dst: Ipv6Addr) -> Option<u32> {
        self.v6.lookup(&dst.octets())
    }

    /// The adjacency at `index` (from `index_v4`/`index_v6`).
    #[inline]
    pub fn adjacency(&self, index: u32) -> Option<Adjacency> {
        self.adjacencies.get(index as usize).copied()
    }

    /// The precomputed rewrite at `index`.
    #[inline]
    pub fn rewrite(&self, index: u32) -> Option<&Rewrite> {
        self.rewrites.get(index as usize)
    }

    #[inline]
    pub fn lookup_v4(&self, dst: Ipv4Addr) -> Option<Adjacency> {
        self.index_v4(dst).and_then(|i| self.adjacency(i))
    }

    #[inline]
    pub fn lookup_v6(&self, dst: Ipv6Addr) -> Option<Adjacency> {
        self.index_v6(dst).and_then(|i| self.adjacency(i))
    }

    pub fn lookup(&self, dst: IpAddr) -> Option<Adjacency> {
        match dst {
            IpAddr::V4(a) => self.lookup_v4(a),
            IpAddr::V6(a) => self.lookup_v6(a),
        }
    }

    /// Prefix counts (IPv4, IPv6).
    pub fn prefix_counts(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }
}

/// The port whose connected subnet contains `ip`.
pub fn connected_port(ports: &[L3Port], ip: IpAddr) -> Option<u8> {
    ports.iter().position(|p| p.addresses.iter().any(|a| a.contains(ip))).map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pfx(s: &str) -> IpPrefix {
        s.parse().unwrap()
    }
    fn mac(b: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 0, b])
    }
    fn ports() -> Vec<L3Port> {
        vec![
            L3Port {
                name: "lan".into(),
                mac: mac(1),
                mtu: 1500,
                addresses: vec![pfx("192.0.2.1/24"), pfx("2001:db8:1::1/64")],
            },
            L3Port {
                name: "wan".into(),
                mac: mac(2),
                mtu: 1500,
                addresses: vec![pfx("198.51.100.1/24"), pfx("2001:db8:2::1/64")],
            },
        ]
    }

    #[test]
    fn connected_local_static_and_neighbour_entries() {
        let ports = ports();
        let routes = vec![
            StaticRoute {
                prefix: pfx("203.0.113.0/24"),
                via: Some("198.51.100.254".parse().unwrap()),
                port: None,
                vti: None,
                metric: 0,
            },
            StaticRoute {
                prefix: pfx("0.0.0.0/0"),
                via: Some("192.0.2.254".parse().unwrap()),
                port: None,
                vti: None,
                metric: 0,
            },
        ];
        let neigh = vec![
            Neighbour { port: 1, ip: "198.51.100.254".parse().unwrap(), mac: mac(0xfe) },
            Neighbour { port: 0, ip: "192.0.2.2".parse().unwrap(), mac: mac(0x22) },
        ];
        let fib = Fib::build(
            &FibInput { ports: &ports, routes: &routes, learned: &[], neighbours: &neigh, vtis: &[] },
            1,
        );
        let l = |s: &str| fib.lookup(s.parse().unwrap());
        assert_eq!(l("192.0.2.1"), Some(Adjacency::Local));
        assert_eq!(l("2001:db8:2::1"), Some(Adjacency::Local));
        assert_eq!(l("192.0.2.2"), Some(Adjacency::Forward { port: 0, dst: mac(0x22) }));
        assert_eq!(l("192.0.2.3"), Some(Adjacency::Glean { port: 0 }));
        assert_eq!(l("2001:db8:1::9"), Some(Adjacency::Glean { port: 0 }));
        assert_eq!(l("203.0.113.9"), Some(Adjacency::Forward { port: 1, dst: mac(0xfe) }));
        assert_eq!(
            l("8.8.8.8"),
            Some(Adjacency::Resolve { port: 0, via: "192.0.2.254".parse().unwrap() }),
            "default route via an unresolved next hop"
        );
        assert_eq!(l("2001:db8:3::1"), None, "no IPv6 default route");
    }

    /// The short local-address check gives the LPM's answer, also when a static route, a
    /// learned route and a neighbour name one of our own addresses, and with more local
    /// addresses than it scans linearly.
    #[test]
    fn is_local_v4_agrees_with_the_lookup() {
        for extra in [0u8, 12] {
            let mut ports = ports();
            for i in 0..extra {
                ports[1].addresses.push(pfx(&format!("198.51.100.{}/24", 100 + i)));
            }
            let own = |p: &str, via: Option<&str>| StaticRoute {
                prefix: pfx(p),
                via: via.map(|v| v.parse().unwrap()),
                port: None,
                vti: via.is_none().then_some(0),
                metric: 0,
            };
            let routes = vec![own("192.0.2.1/32", Some("192.0.2.254")), own("198.51.100.0/24", None)];
            let learned = vec![own("198.51.100.1/32", None)];
            let neigh = vec![Neighbour { port: 0, ip: "192.0.2.1".parse().unwrap(), mac: mac(9) }];
            let vtis = [pfx("169.254.10.1/30")];
            let fib = Fib::build(
                &FibInput {
                    ports: &ports,
                    routes: &routes,
                    learned: &learned,
                    neighbours: &neigh,
                    vtis: &vtis,
                },
                1,
            );
            let mut locals = 0;
            for net in [[192u32, 0, 2], [198, 51, 100], [169, 254, 10], [10, 0, 0]] {
                for host in 0..=255u32 {
                    let a = (net[0] << 24) | (net[1] << 16) | (net[2] << 8) | host;
                    let want = fib.lookup_v4(a.into()) == Some(Adjacency::Local);
                    assert_eq!(fib.is_local_v4(a), want, "{}", Ipv4Addr::from(a));
                    locals += usize::from(want);
                }
            }
            assert_eq!(
                locals,
                3 + usize::from(extra),
                "192.0.2.1, 198.51.100.1, 169.254.10.1 and the extras"
            );
        }
    }

    #[test]
    fn vti_subnets_and_routes_into_vtis() {
        let ports = ports();
        let route =
            |p: &str, vti| StaticRoute { prefix: pfx(p), via: None, port: None, vti: Some(vti), metric: 0 };
        let routes = vec![
            route("10.20.0.0/16", 0),
            route("10.30.0.0/16", 1),
            route("0.0.0.0/0", 1),
            route("2001:db8:99::/48", 0),
            StaticRoute {
                prefix: pfx("10.20.5.0/24"),
                via: Some("198.51.100.254".parse().unwrap()),
                port: None,
                vti: None,
                metric: 0,
            },
        ];
        let vtis = [pfx("169.254.10.1/30"), pfx("169.254.20.1/30")];
        let fib = Fib::build(
            &FibInput { ports: &ports, routes: &routes, learned: &[], neighbours: &[], vtis: &vtis },
            1,
        );
        let l = |s: &str| fib.lookup(s.parse().unwrap());
        assert_eq!(l("169.254.10.1"), Some(Adjacency::Local), "the inside address is ours");
        assert_eq!(l("169.254.10.2"), Some(Adjacency::Vti { vti: 0 }), "the far end is through the VTI");
        assert_eq!(l("169.254.20.2"), Some(Adjacency::Vti { vti: 1 }));
        assert_eq!(l("10.20.1.1"), Some(Adjacency::Vti { vti: 0 }));
        assert_eq!(
            l("10.20.5.1"),
            Some(Adjacency::Resolve { port: 1, via: "198.51.100.254".parse().unwrap() }),
            "a longer prefix through a port wins"
        );
        assert_eq!(l("10.30.0.1"), Some(Adjacency::Vti { vti: 1 }));
        assert_eq!(l("8.8.8.8"), Some(Adjacency::Vti { vti: 1 }), "a default route into a VTI");
        assert_eq!(l("192.0.2.7"), Some(Adjacency::Glean { port: 0 }), "connected subnets stay");
        assert_eq!(l("2001:db8:99::1"), Some(Adjacency::Vti { vti: 0 }));
        for a in ["10.20.1.1", "169.254.10.2"] {
            let i = fib.index_v4(a.parse().unwrap()).unwrap();
            assert_eq!(fib.rewrite(i).unwrap().port, Rewrite::NOT_FORWARD, "the fast path never takes a VTI");
        }
    }

    /// Several routes to one prefix into different VTIs: ECMP among the lowest metric that
    /// is up, failover to a higher metric, and a static route overriding learned ones.
    #[test]
    fn vti_groups_share_flows_and_fail_over_by_metric() {
        let r = |p: &str, vti: u16, metric: u32| StaticRoute {
            prefix: pfx(p),
            via: None,
            port: None,
            vti: Some(vti),
            metric,
        };
        let routes = vec![
            r("10.1.0.0/16", 0, 0),
            r("10.1.0.0/16", 1, 0),
            r("10.2.0.0/16", 0, 10),
            r("10.2.0.0/16", 1, 20),
        ];
        let learned = vec![r("10.3.0.0/16", 0, 0), r("10.3.0.0/16", 2, 0), r("10.2.0.0/16", 2, 0)];
        let ports = vec![L3Port {
            name: "wan".into(),
            mac: MacAddr([2, 0, 0, 0, 0, 1]),
            mtu: 1500,
            addresses: vec![],
        }];
        let fib = Fib::build(
            &FibInput { ports: &ports, routes: &routes, learned: &learned, neighbours: &[], vtis: &[] },
            1,
        );
        let group = |a: &str| match fib.lookup(a.parse().unwrap()) {
            Some(Adjacency::VtiGroup { group }) => group,
            other => panic!("{a}: {other:?}"),
        };
        let all = |_: u16| true;
        // ECMP: both VTIs get flows, a flow keeps its VTI.
        let g1 = group("10.1.2.3");
        let picks: Vec<u16> =
            (0..64u32).map(|f| fib.pick_vti(g1, f.wrapping_mul(0x9e37_79b9), all).unwrap()).collect();
        assert!(picks.contains(&0) && picks.contains(&1), "{picks:?}");
        assert_eq!(fib.pick_vti(g1, 12345, all), fib.pick_vti(g1, 12345, all));
        assert_eq!(fib.pick_vti(g1, 12345, |v| v != 0), Some(1), "the other member while one is down");
        // Tracking: the metric 10 VTI while up, then the metric 20 one; the static routes
        // decide the members (the learned route into VTI 2 is not one).
        let g2 = group("10.2.9.9");
        assert!((0..64u32).all(|f| fib.pick_vti(g2, f << 26, all) == Some(0)));
        assert_eq!(fib.pick_vti(g2, 7, |v| v != 0), Some(1));
        assert_eq!(fib.pick_vti(g2, 7, |_| false), Some(0), "none up: the first member (vti_down)");
        // A learned pair is a group too.
        let g3 = group("10.3.0.1");
        assert_eq!(fib.pick_vti(g3, 7, |v| v == 2), Some(2));
        assert_eq!(fib.pick_vti(99, 7, all), None);
    }
}
