//! The security policy database (RFC 4301 §4.4.1): ordered policies, first match wins, one
//! table per direction.
//!
//! Lookup cost does not grow with the number of policies in the common case. Every policy's
//! destination is a prefix, and prefixes nest, so the policies whose destination covers an
//! address are exactly those attached to the longest matching destination prefix and its
//! ancestors. The build step gives every distinct destination prefix the ordered list of
//! those policies; a lookup is one LPM walk (at most 3 loads for IPv4) and a scan of that
//! short list checking source, protocol and ports. The list is as long as the nesting depth
//! of destination prefixes plus the policies sharing one destination, not the table size.

use crate::config::ipsec::PortRange;
use crate::config::types::IpPrefix;
use crate::route::lpm::{Lpm, LpmBuilder};
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// What a matching policy says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Apply the SA in this SADB slot.
    Protect(u32),
    Bypass,
    Discard,
    /// No SA yet (IKE `start_action: trap`): the packet is dropped and raises acquire bit `n`
    /// of [`super::sadb::Acquires`], which makes the key manager negotiate the SA. Inbound,
    /// clear text matching it is dropped as a protect policy's would be.
    Trap(u32),
}

/// Traffic selectors of one policy (RFC 4301 §4.4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selector {
    pub src: IpPrefix,
    pub dst: IpPrefix,
    /// `None` is any protocol.
    pub protocol: Option<u8>,
    pub src_ports: PortRange,
    pub dst_ports: PortRange,
}

/// How a flow relates to a selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    Yes,
    No,
    /// Addresses and protocol fit, but the selector names ports and the packet's ports cannot
    /// be read (a non-first fragment): it may belong to the policy's traffic.
    Unknown,
}

impl Selector {
    /// Whether `flow` falls under this selector. A flow without ports only matches a selector
    /// whose port ranges are both "any"; for a protocol that has ports (a non-first fragment)
    /// against a selector with ports, the answer is [`Fit::Unknown`].
    pub fn fit(&self, f: &Flow) -> Fit {
        if !prefix_contains(&self.src, f.src) || !prefix_contains(&self.dst, f.dst) {
            return Fit::No;
        }
        if self.protocol.is_some_and(|p| p != f.protocol) {
            return Fit::No;
        }
        if self.src_ports.is_any() && self.dst_ports.is_any() {
            return Fit::Yes;
        }
        match f.ports {
            Some((s, d)) if self.src_ports.contains(s) && self.dst_ports.contains(d) => Fit::Yes,
            Some(_) => Fit::No,
            None if has_ports(f.protocol) => Fit::Unknown,
            None => Fit::No,
        }
    }

    pub fn matches(&self, f: &Flow) -> bool {
        self.fit(f) == Fit::Yes
    }
}

fn has_ports(protocol: u8) -> bool {
    matches!(protocol, 6 | 17 | 132)
}

/// The fields of a packet the SPD looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    /// (source, destination) for TCP, UDP and SCTP first fragments.
    pub ports: Option<(u16, u16)>,
    /// ICMPv6 neighbour discovery (types 133-137), which must work before any SA can.
    pub nd: bool,
}

impl Flow {
    /// Reads the flow of an IP packet (no Ethernet header). IPv6 extension headers are not
    /// walked: the protocol is the first next header, without ports.
    pub fn parse(ip: &[u8]) -> Option<Flow> {
        match ip.first()? >> 4 {
            4 => {
                let h = ip.get(..20)?;
                let hl = ((h[0] & 0x0f) as usize) * 4;
                let src = IpAddr::from(<[u8; 4]>::try_from(&h[12..16]).ok()?);
                let dst = IpAddr::from(<[u8; 4]>::try_from(&h[16..20]).ok()?);
                let first_fragment = u16::from_be_bytes([h[6], h[7]]) & 0x1fff == 0;
                let ports = if first_fragment { ports(h[9], ip.get(hl..)) } else { None };
                Some(Flow { src, dst, protocol: h[9], ports, nd: false })
            }
            6 => {
                let h = ip.get(..40)?;
                let src = IpAddr::from(<[u8; 16]>::try_from(&h[8..24]).ok()?);
                let dst = IpAddr::from(<[u8; 16]>::try_from(&h[24..40]).ok()?);
                let (protocol, at, first_fragment) = upper_layer_v6(ip, h[6]);
                let l4 = if first_fragment { ip.get(at..) } else { None };
                let nd = protocol == 58
                    && first_fragment
                    && l4.and_then(|b| b.first()).is_some_and(|t| (133..=137).contains(t));
                Some(Flow { src, dst, protocol, ports: ports(protocol, l4), nd })
            }
            _ => None,
        }
    }

    /// IKE (UDP 500/4500), ESP/AH themselves and IPv6 neighbour discovery: never subject to
    /// policy, so the gateway's own key exchange, encapsulated traffic and neighbour resolution
    /// cannot be caught by a broad selector (RFC 4301 §4.4.1 asks for ND to bypass).
    pub fn is_policy_exempt(&self) -> bool {
        if self.nd {
            return true;
        }
        match self.protocol {
            50 | 51 => true,
            17 => self.ports.is_some_and(|(s, d)| matches!(s, 500 | 4500) || matches!(d, 500 | 4500)),
            _ => false,
        }
    }
}

/// Walks IPv6 extension headers (hop-by-hop, routing, destination options, fragment; at most
/// eight) to the upper-layer protocol, so that selectors see it. Returns the protocol, its
/// offset, and whether this is the first fragment (or not a fragment). An unreadable chain
/// yields the last next-header value seen, without ports.
fn upper_layer_v6(ip: &[u8], first: u8) -> (u8, usize, bool) {
    let (mut nh, mut at, mut first_fragment) = (first, 40usize, true);
    for _ in 0..8 {
        match nh {
            0 | 43 | 60 => {
                let Some(h) = ip.get(at..at + 2) else { return (nh, at, false) };
                nh = h[0];
                at += (h[1] as usize + 1) * 8;
            }
            44 => {
                let Some(h) = ip.get(at..at + 8) else { return (nh, at, false) };
                nh = h[0];
                if u16::from_be_bytes([h[2], h[3]]) & 0xfff8 != 0 {
                    first_fragment = false;
                }
                at += 8;
            }
            _ => return (nh, at, first_fragment),
        }
    }
    (nh, at, false)
}

fn ports(protocol: u8, l4: Option<&[u8]>) -> Option<(u16, u16)> {
    match protocol {
        6 | 17 | 132 => {
            let l4 = l4?.get(..4)?;
            Some((u16::from_be_bytes([l4[0], l4[1]]), u16::from_be_bytes([l4[2], l4[3]])))
        }
        _ => None,
    }
}

fn prefix_contains(p: &IpPrefix, a: IpAddr) -> bool {
    match (p.addr, a) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if p.len == 0 { 0 } else { u32::MAX << (32 - p.len as u32) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if p.len == 0 { 0 } else { u128::MAX << (128 - p.len as u32) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// One policy as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub selector: Selector,
    pub verdict: Verdict,
}

/// One direction's policies, immutable once built.
pub struct Spd {
    policies: Vec<Policy>,
    v4: Lpm<4>,
    v6: Lpm<16>,
    /// Candidate lists, concatenated: policy indices in priority order.
    candidates: Vec<u32>,
    /// LPM value → (start, len) in `candidates`.
    lists: Vec<(u32, u32)>,
    /// Per policy, its selector compiled for IPv4 flows ([`Spd::lookup_v4`]).
    compiled: Vec<SelectorV4>,
}

/// A selector compiled for IPv4 flows: prefixes as masked `u32`s, the protocol and port ranges
/// as plain integers, the verdict alongside. [`SelectorV4::fit`] answers as [`Selector::fit`]
/// does for the same IPv4 flow (a test compares them).
#[derive(Clone, Copy, Debug)]
struct SelectorV4 {
    src_net: u32,
    src_mask: u32,
    dst_net: u32,
    dst_mask: u32,
    /// 0..=255, or 256 for any protocol.
    protocol: u16,
    /// Both port ranges are "any".
    portless: bool,
    /// The selector is IPv6 (or mixed): no IPv4 flow fits.
    never: bool,
    sport: (u16, u16),
    dport: (u16, u16),
    verdict: Verdict,
}

fn v4_net(p: &IpPrefix) -> Option<(u32, u32)> {
    match p.addr {
        IpAddr::V4(a) => {
            let mask = if p.len == 0 { 0 } else { u32::MAX << (32 - p.len.min(32) as u32) };
            Some((u32::from(a) & mask, mask))
        }
        IpAddr::V6(_) => None,
    }
}

impl SelectorV4 {
    fn compile(p: &Policy) -> SelectorV4 {
        let s = &p.selector;
        let (src, dst) = (v4_net(&s.src), v4_net(&s.dst));
        let ((src_net, src_mask), (dst_net, dst_mask)) = (src.unwrap_or((0, 0)), dst.unwrap_or((0, 0)));
        SelectorV4 {
            src_net,
            src_mask,
            dst_net,
            dst_mask,
            protocol: s.protocol.map_or(256, u16::from),
            portless: s.src_ports.is_any() && s.dst_ports.is_any(),
            never: src.is_none() || dst.is_none(),
            sport: (s.src_ports.lo, s.src_ports.hi),
            dport: (s.dst_ports.lo, s.dst_ports.hi),
            verdict: p.verdict,
        }
    }

    /// [`verdict`] for the IPv4 flow `src` → `dst`, `protocol`, `ports`.
    #[inline(always)]
    fn verdict(&self, src: u32, dst: u32, protocol: u8, ports: Option<(u16, u16)>) -> Option<Verdict> {
        if self.never
            || src & self.src_mask != self.src_net
            || dst & self.dst_mask != self.dst_net
            || (self.protocol != 256 && self.protocol != protocol as u16)
        {
            return None;
        }
        if self.portless {
            return Some(self.verdict);
        }
        match ports {
            Some((s, d))
                if self.sport.0 <= s && s <= self.sport.1 && self.dport.0 <= d && d <= self.dport.1 =>
            {
                Some(self.verdict)
            }
            Some(_) => None,
            None if has_ports(protocol) => Some(Verdict::Discard),
            None => None,
        }
    }
}

impl std::fmt::Debug for Spd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spd").field("policies", &self.policies.len()).finish_non_exhaustive()
    }
}

impl Default for Spd {
    fn default() -> Self {
        Spd::build(Vec::new())
    }
}

/// The verdict of policy `p` for `f`, if it applies. A fragment whose ports cannot be read,
/// meeting a port-specific policy first, is discarded: it could be that policy's traffic, and
/// letting it reach a later (bypass) policy could leak it (RFC 4301 §7 allows the drop).
fn verdict(p: &Policy, f: &Flow) -> Option<Verdict> {
    match p.selector.fit(f) {
        Fit::Yes => Some(p.verdict),
        Fit::Unknown => Some(Verdict::Discard),
        Fit::No => None,
    }
}

type PrefixKey = (u128, u8, bool);

fn key(p: &IpPrefix) -> PrefixKey {
    let n = p.network();
    match n.addr {
        IpAddr::V4(a) => (u32::from(a) as u128, n.len, false),
        IpAddr::V6(a) => (u128::from(a), n.len, true),
    }
}

impl Spd {
    /// Builds the table; `policies` are in priority order (first match wins).
    pub fn build(policies: Vec<Policy>) -> Spd {
        // Policies grouped by destination prefix, each group in priority order.
        let mut by_dst: FxHashMap<PrefixKey, Vec<u32>> = FxHashMap::default();
        let mut lens_v4: Vec<u8> = Vec::new();
        let mut lens_v6: Vec<u8> = Vec::new();
        for (i, p) in policies.iter().enumerate() {
            let k = key(&p.selector.dst);
            by_dst.entry(k).or_default().push(i as u32);
            let lens = if k.2 { &mut lens_v6 } else { &mut lens_v4 };
            if !lens.contains(&k.1) {
                lens.push(k.1);
            }
        }
        let mut keys: Vec<PrefixKey> = by_dst.keys().copied().collect();
        keys.sort_unstable();
        let (mut b4, mut b6) = (LpmBuilder::<4>::new(), LpmBuilder::<16>::new());
        let mut candidates = Vec::new();
        let mut lists = Vec::with_capacity(keys.len());
        for k in keys {
            // Every policy whose destination covers this prefix: the groups of this prefix and
            // of each shorter prefix (of a length in use) containing it.
            let (addr, len, v6) = k;
            let width = if v6 { 128 } else { 32 };
            let lens = if v6 { &lens_v6 } else { &lens_v4 };
            let start = candidates.len();
            for &l in lens.iter().filter(|&&l| l <= len) {
                let mask = if l == 0 { 0 } else { u128::MAX << (width - l as u32) };
                let masked = if v6 { addr & mask } else { addr & mask & u32::MAX as u128 };
                if let Some(g) = by_dst.get(&(masked, l, v6)) {
                    candidates.extend_from_slice(g);
                }
            }
            candidates[start..].sort_unstable();
            let id = lists.len() as u32;
            lists.push((start as u32, (candidates.len() - start) as u32));
            if v6 {
                b6.insert(addr.to_be_bytes(), len, id);
            } else {
                b4.insert((addr as u32).to_be_bytes(), len, id);
            }
        }
        let compiled = policies.iter().map(SelectorV4::compile).collect();
        Spd { policies, v4: b4.build(), v6: b6.build(), candidates, lists, compiled }
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The first policy matching `f`: its index and verdict. IPv4 flows take the compiled
    /// selectors ([`Spd::lookup_v4`]).
    #[inline]
    pub fn lookup(&self, f: &Flow) -> Option<(usize, Verdict)> {
        let list = match (f.src, f.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => return self.lookup_v4(s.into(), d.into(), f.protocol, f.ports),
            (_, IpAddr::V4(a)) => self.v4.lookup(&a.octets()),
            (_, IpAddr::V6(a)) => self.v6.lookup(&a.octets()),
        }?;
        let &(start, len) = self.lists.get(list as usize)?;
        let c = self.candidates.get(start as usize..(start + len) as usize)?;
        c.iter().find_map(|&i| {
            let p = self.policies.get(i as usize)?;
            verdict(p, f).map(|v| (i as usize, v))
        })
    }

    /// [`Spd::lookup`] for an IPv4 flow given as integers (source, destination, protocol,
    /// ports of a first fragment): the same answer without building a [`Flow`], with
    /// selectors compiled to mask compares.
    #[inline]
    pub fn lookup_v4(
        &self,
        src: u32,
        dst: u32,
        protocol: u8,
        ports: Option<(u16, u16)>,
    ) -> Option<(usize, Verdict)> {
        let list = self.v4.lookup(&dst.to_be_bytes())?;
        let &(start, len) = self.lists.get(list as usize)?;
        let c = self.candidates.get(start as usize..(start + len) as usize)?;
        c.iter().find_map(|&i| {
            let p = self.compiled.get(i as usize)?;
            p.verdict(src, dst, protocol, ports).map(|v| (i as usize, v))
        })
    }

    /// What policy `i` alone says of the IPv4 flow (as [`Spd::lookup_v4`] would if it were the
    /// only policy); `None` if it does not apply or there is no policy `i`.
    #[inline(always)]
    pub fn verdict_v4(
        &self,
        i: u32,
        src: u32,
        dst: u32,
        protocol: u8,
        ports: Option<(u16, u16)>,
    ) -> Option<Verdict> {
        self.compiled.get(i as usize)?.verdict(src, dst, protocol, ports)
    }

    /// Whether some IPv4 flow could be matched by both policy `i` of this table and policy `j`
    /// of `other`: their addresses and protocols intersect. Ports are not looked at (a flow
    /// without ports meets a port-specific policy as a discard), so the answer errs on "yes".
    pub fn may_share_v4(&self, i: usize, other: &Spd, j: usize) -> bool {
        let (Some(a), Some(b)) = (self.compiled.get(i), other.compiled.get(j)) else { return true };
        if a.never || b.never {
            return false;
        }
        let (sm, dm) = (a.src_mask & b.src_mask, a.dst_mask & b.dst_mask);
        (a.src_net ^ b.src_net) & sm == 0
            && (a.dst_net ^ b.dst_net) & dm == 0
            && (a.protocol == 256 || b.protocol == 256 || a.protocol == b.protocol)
    }

    /// The same answer by scanning every policy in order: the reference the tests compare
    /// [`Spd::lookup`] against.
    pub fn lookup_linear(&self, f: &Flow) -> Option<(usize, Verdict)> {
        self.policies.iter().enumerate().find_map(|(i, p)| verdict(p, f).map(|v| (i, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pfx(s: &str) -> IpPrefix {
        s.parse().unwrap()
    }

    fn pol(src: &str, dst: &str, proto: Option<u8>, dports: (u16, u16), v: Verdict) -> Policy {
        Policy {
            name: String::new(),
            selector: Selector {
                src: pfx(src),
                dst: pfx(dst),
                protocol: proto,
                src_ports: PortRange::default(),
                dst_ports: PortRange { lo: dports.0, hi: dports.1 },
            },
            verdict: v,
        }
    }

    fn flow(src: &str, dst: &str, proto: u8, ports: Option<(u16, u16)>) -> Flow {
        Flow { src: src.parse().unwrap(), dst: dst.parse().unwrap(), protocol: proto, ports, nd: false }
    }

    const ANY: (u16, u16) = (0, u16::MAX);

    #[test]
    fn first_match_wins_across_nested_destinations() {
        let spd = Spd::build(vec![
            pol("0.0.0.0/0", "198.51.100.0/24", Some(17), (5000, 5100), Verdict::Discard),
            pol("192.0.2.0/24", "198.51.100.0/24", None, ANY, Verdict::Protect(7)),
            pol("192.0.2.0/24", "198.51.100.128/25", None, ANY, Verdict::Protect(9)),
            pol("0.0.0.0/0", "0.0.0.0/0", None, ANY, Verdict::Bypass),
        ]);
        let f = |s, d, p, ports| spd.lookup(&flow(s, d, p, ports)).map(|x| x.1);
        assert_eq!(f("192.0.2.5", "198.51.100.200", 6, Some((1, 80))), Some(Verdict::Protect(7)));
        assert_eq!(f("192.0.2.5", "198.51.100.200", 17, Some((1, 5050))), Some(Verdict::Discard));
        assert_eq!(f("192.0.2.5", "198.51.100.200", 17, Some((1, 5101))), Some(Verdict::Protect(7)));
        assert_eq!(f("203.0.113.5", "198.51.100.200", 1, None), Some(Verdict::Bypass));
        assert_eq!(f("203.0.113.5", "8.8.8.8", 1, None), Some(Verdict::Bypass));
        assert_eq!(spd.lookup(&flow("2001:db8::1", "2001:db8::2", 1, None)), None, "no IPv6 policy");
    }

    #[test]
    fn fragments_meeting_a_port_policy_are_discarded_not_let_through() {
        let spd = Spd::build(vec![
            pol("192.0.2.0/24", "198.51.100.0/24", Some(17), (5000, 5000), Verdict::Protect(1)),
            pol("0.0.0.0/0", "0.0.0.0/0", None, ANY, Verdict::Bypass),
        ]);
        let frag = flow("192.0.2.2", "198.51.100.2", 17, None);
        assert_eq!(spd.lookup(&frag), Some((0, Verdict::Discard)));
        assert_eq!(spd.lookup(&frag), spd.lookup_linear(&frag));
        let icmp = flow("192.0.2.2", "198.51.100.2", 1, None);
        assert_eq!(spd.lookup(&icmp), Some((1, Verdict::Bypass)), "protocols without ports are unaffected");
    }

    #[test]
    fn ipv6_extension_headers_are_walked_to_the_upper_layer() {
        // Destination options (8 bytes) then UDP 1234 -> 53.
        let mut p = vec![0u8; 40 + 8 + 8];
        p[0] = 0x60;
        p[6] = 60;
        p[40] = 17; // next header after the options
        p[41] = 0; // 8 bytes
        p[48..52].copy_from_slice(&[0x04, 0xd2, 0x00, 0x35]);
        let f = Flow::parse(&p).unwrap();
        assert_eq!((f.protocol, f.ports), (17, Some((1234, 53))));
        // A fragment header with a nonzero offset: a later fragment, ports unknown.
        let mut q = vec![0u8; 40 + 8 + 8];
        q[0] = 0x60;
        q[6] = 44;
        q[40] = 17;
        q[42..44].copy_from_slice(&(8u16 << 3).to_be_bytes());
        let f = Flow::parse(&q).unwrap();
        assert_eq!((f.protocol, f.ports), (17, None));
        // Never panics on truncated chains.
        for n in 0..p.len() {
            let _ = Flow::parse(&p[..n]);
            let _ = Flow::parse(&q[..n]);
        }
    }

    #[test]
    fn ports_only_match_flows_that_have_them() {
        let spd = Spd::build(vec![pol("0.0.0.0/0", "0.0.0.0/0", Some(17), (53, 53), Verdict::Bypass)]);
        assert_eq!(spd.lookup(&flow("1.1.1.1", "2.2.2.2", 17, Some((9, 53)))), Some((0, Verdict::Bypass)));
        assert_eq!(spd.lookup(&flow("1.1.1.1", "2.2.2.2", 17, Some((9, 54)))), None);
        assert_eq!(
            spd.lookup(&flow("1.1.1.1", "2.2.2.2", 17, None)),
            Some((0, Verdict::Discard)),
            "a non-first fragment may be the policy's traffic: discarded"
        );
    }

    #[test]
    fn flow_parse_reads_ports_of_first_fragments_only() {
        let mut p = vec![0u8; 28];
        p[0] = 0x45;
        p[9] = 17;
        p[12..16].copy_from_slice(&[192, 0, 2, 1]);
        p[16..20].copy_from_slice(&[198, 51, 100, 1]);
        p[20..24].copy_from_slice(&[0x11, 0x94, 0x00, 0x35]);
        let f = Flow::parse(&p).unwrap();
        assert_eq!(f, flow("192.0.2.1", "198.51.100.1", 17, Some((4500, 53))));
        assert!(f.is_policy_exempt());
        let mut ns = vec![0u8; 64];
        ns[0] = 0x60;
        ns[6] = 58;
        ns[40] = 135;
        assert!(Flow::parse(&ns).unwrap().is_policy_exempt(), "neighbour solicitation");
        ns[40] = 128;
        assert!(!Flow::parse(&ns).unwrap().is_policy_exempt(), "echo request");
        p[7] = 1; // fragment offset 8
        assert_eq!(Flow::parse(&p).unwrap().ports, None);
        for n in 0..p.len() {
            let _ = Flow::parse(&p[..n]);
        }
    }

    /// The indexed lookup agrees with a linear first-match scan on random nested policies.
    #[test]
    fn indexed_lookup_equals_linear_scan() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..20 {
            let mut policies = Vec::new();
            for i in 0..(50 + round * 20) {
                let r = next();
                // Addresses from a small space so prefixes nest and overlap often.
                let d = 0xc000_0000u32 | ((r as u32) & 0x0003_ff00);
                let dl = [0u8, 8, 14, 16, 20, 24, 28, 32][(r >> 32) as usize % 8];
                let s = 0xc000_0000u32 | ((r >> 20) as u32 & 0x0000_ff00);
                let sl = [0u8, 16, 24][(r >> 40) as usize % 3];
                let proto = [None, Some(6), Some(17)][(r >> 44) as usize % 3];
                let lo = (r >> 48) as u16 % 100;
                let dports = if r & 1 == 0 { ANY } else { (lo, lo + 10) };
                let verdict = match i % 3 {
                    0 => Verdict::Protect(i as u32),
                    1 => Verdict::Bypass,
                    _ => Verdict::Discard,
                };
                policies.push(Policy {
                    name: String::new(),
                    selector: Selector {
                        src: IpPrefix::new(IpAddr::from(s.to_be_bytes()), sl).unwrap(),
                        dst: IpPrefix::new(IpAddr::from(d.to_be_bytes()), dl).unwrap(),
                        protocol: proto,
                        src_ports: if r & 2 == 0 {
                            PortRange::default()
                        } else {
                            PortRange { lo: 1000, hi: 1000 }
                        },
                        dst_ports: PortRange { lo: dports.0, hi: dports.1 },
                    },
                    verdict,
                });
            }
            let spd = Spd::build(policies);
            for _ in 0..2000 {
                let r = next();
                let f = Flow {
                    src: IpAddr::from((0xc000_0000u32 | ((r as u32) & 0x0000_ffff)).to_be_bytes()),
                    dst: IpAddr::from((0xc000_0000u32 | ((r >> 16) as u32 & 0x0003_ffff)).to_be_bytes()),
                    protocol: [1u8, 6, 17][(r >> 40) as usize % 3],
                    ports: if r >> 50 & 1 == 0 {
                        None
                    } else {
                        Some((999 + (r >> 60) as u16 % 3, (r >> 52) as u16 % 120))
                    },
                    nd: false,
                };
                assert_eq!(spd.lookup(&f), spd.lookup_linear(&f), "flow {f:?}");
                let (IpAddr::V4(src), IpAddr::V4(dst)) = (f.src, f.dst) else { unreachable!() };
                assert_eq!(
                    spd.lookup_v4(src.into(), dst.into(), f.protocol, f.ports),
                    spd.lookup_linear(&f),
                    "compiled, flow {f:?}"
                );
            }
        }
    }

    #[test]
    fn ipv6_policies_and_a_large_table() {
        let mut policies = vec![pol("::/0", "2001:db8:2::/48", None, ANY, Verdict::Protect(1))];
        for i in 0..100_000u32 {
            let d = IpAddr::from((0x0a00_0000u32 + (i << 8)).to_be_bytes());
            policies.push(Policy {
                name: String::new(),
                selector: Selector {
                    src: pfx("192.0.2.0/24"),
                    dst: IpPrefix::new(d, 24).unwrap(),
                    protocol: None,
                    src_ports: PortRange::default(),
                    dst_ports: PortRange::default(),
                },
                verdict: Verdict::Protect(i + 10),
            });
        }
        let spd = Spd::build(policies);
        assert_eq!(spd.len(), 100_001);
        assert_eq!(
            spd.lookup(&flow("2001:db8:1::5", "2001:db8:2:7::1", 58, None)),
            Some((0, Verdict::Protect(1)))
        );
        let d = std::net::Ipv4Addr::from(0x0a00_0000u32 + (77_777 << 8) + 9);
        assert_eq!(
            spd.lookup(&Flow {
                src: "192.0.2.9".parse().unwrap(),
                dst: d.into(),
                protocol: 6,
                ports: None,
                nd: false
            }),
            Some((77_778, Verdict::Protect(77_787)))
        );
        assert_eq!(spd.lookup(&flow("203.0.113.1", "10.0.0.1", 6, None)), None, "source outside selector");
    }
}
