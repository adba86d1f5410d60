//! A shortcut for the policy check of decrypted packets.
//!
//! Every packet an inbound SA decrypts is checked against the inbound SPD (its first matching
//! policy must protect with that SA, RFC 4301 §5.2) and, on the forwarding fast path, against
//! the outbound SPD (only "no policy" or bypass may be forwarded as it is). Both are full
//! lookups: an LPM walk and a scan of a candidate list each.
//!
//! The packets of one SA keep fitting the same inbound policy. When nothing else can match a
//! packet that fits that policy, fitting it settles both lookups: no earlier inbound policy
//! intersects it (so it is the first match) and no outbound policy but a port-free bypass intersects it
//! (so the outbound answer is "none" or bypass). [`settle`] works that out once per table
//! snapshot; a worker then keeps a [`PolicyHint`] (the policy that passed its last decrypted
//! packet, for that SA and snapshot) and checks the next packet against that one selector.

use super::sadb::IpsecTables;
use super::spd::{Spd, Verdict};

/// Pair checks [`settle`] may spend on one snapshot. Policy `i` costs `i` plus the number of
/// outbound policies that are not bypass; policies past the budget are not settled and always
/// take the full lookups (about the first 1,400 of 100,000 policies are settled).
pub const SETTLE_BUDGET: usize = 1 << 20;

/// Per inbound policy: whether a decrypted IPv4 packet that fits it (with a protect verdict)
/// has it as its first inbound match and no outbound match but bypass. Errs on `false`.
pub fn settle(inbound: &Spd, outbound: &Spd, budget: usize) -> Vec<bool> {
    let mut settled = vec![false; inbound.len()];
    let blockers: Vec<usize> = (outbound.policies().iter().enumerate())
        // A bypass policy with ports discards a packet whose ports cannot be read: it blocks.
        .filter(|(_, p)| {
            let portless = p.selector.src_ports.is_any() && p.selector.dst_ports.is_any();
            p.verdict != Verdict::Bypass || !portless
        })
        .map(|(j, _)| j)
        .collect();
    let mut left = budget;
    for (i, p) in inbound.policies().iter().enumerate() {
        if !matches!(p.verdict, Verdict::Protect(_)) {
            continue;
        }
        let cost = i + blockers.len();
        if cost > left {
            break; // later policies cost more
        }
        left -= cost;
        settled[i] = !(0..i).any(|j| inbound.may_share_v4(i, inbound, j))
            && !blockers.iter().any(|&j| inbound.may_share_v4(i, outbound, j));
    }
    settled
}

/// The settled inbound policy that passed a worker's last decrypted packet, with the SA slot
/// and table generation it holds for. Generation 0 is never published: the default matches
/// nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct PolicyHint {
    generation: u64,
    slot: u32,
    policy: u32,
}

impl PolicyHint {
    /// Whether the IPv4 packet the SA in `slot` decrypted passes both policy checks by fitting
    /// the remembered policy: the same answer as the full lookups, without them.
    #[inline(always)]
    pub fn passes(
        &self,
        sp: &IpsecTables,
        slot: u32,
        src: u32,
        dst: u32,
        protocol: u8,
        ports: Option<(u16, u16)>,
    ) -> bool {
        self.generation == sp.generation
            && self.slot == slot
            && matches!(
                sp.inbound.verdict_v4(self.policy, src, dst, protocol, ports),
                Some(Verdict::Protect(_))
            )
    }

    /// Whether a policy was ever remembered (for tests).
    pub fn is_set(&self) -> bool {
        self.generation != 0
    }

    /// Remembers inbound policy `policy`, which passed a packet the SA in `slot` decrypted,
    /// if it is settled.
    #[inline]
    pub fn remember(&mut self, sp: &IpsecTables, slot: u32, policy: usize) {
        if sp.is_settled(policy) {
            *self = PolicyHint { generation: sp.generation, slot, policy: policy as u32 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipsec::spd::{Policy, Selector};

    fn pol(src: &str, dst: &str, protocol: Option<u8>, verdict: Verdict) -> Policy {
        Policy {
            name: String::new(),
            selector: Selector {
                src: src.parse().unwrap(),
                dst: dst.parse().unwrap(),
                protocol,
                src_ports: Default::default(),
                dst_ports: Default::default(),
            },
            verdict,
        }
    }

    #[test]
    fn a_policy_is_settled_only_when_nothing_earlier_or_outbound_can_match_its_packets() {
        let inbound = Spd::build(vec![
            pol("203.0.113.0/25", "192.0.2.0/24", None, Verdict::Protect(1)),
            // Intersects policy 0 (its source holds 0's): shadowed where they meet.
            pol("203.0.113.0/24", "192.0.2.0/26", Some(17), Verdict::Protect(2)),
            // Disjoint from everything earlier.
            pol("198.51.100.0/24", "192.0.2.0/24", None, Verdict::Protect(3)),
            // Inside policy 0, which takes any protocol: shadowed.
            pol("203.0.113.0/25", "192.0.2.128/25", Some(6), Verdict::Protect(4)),
            pol("10.0.0.0/8", "10.1.0.0/16", Some(6), Verdict::Protect(5)),
            pol("10.0.0.0/8", "10.1.0.0/16", Some(17), Verdict::Protect(6)),
            pol("10.2.0.0/16", "10.3.0.0/16", None, Verdict::Discard),
            // No IPv4 packet fits it: settled, vacuously (the hint only serves IPv4).
            pol("2001:db8::/32", "2001:db8:1::/48", None, Verdict::Protect(8)),
            pol("10.4.0.0/16", "10.5.0.0/16", None, Verdict::Protect(9)),
        ]);
        let outbound = Spd::build(vec![
            // Bypass never blocks.
            pol("198.51.100.0/24", "192.0.2.0/24", None, Verdict::Bypass),
            // Protect over policy 8's packets: they would be encrypted again.
            pol("10.4.0.0/16", "10.5.0.0/24", None, Verdict::Protect(10)),
        ]);
        let s = settle(&inbound, &outbound, SETTLE_BUDGET);
        assert_eq!(s, [true, false, true, false, true, true, false, true, false]);
        // The budget stops the scan: policy 0 costs 1 (one blocker), policy 2 costs 3.
        assert_eq!(
            settle(&inbound, &outbound, 3),
            [true, false, false, false, false, false, false, false, false]
        );
        assert!(settle(&inbound, &Spd::build(Vec::new()), 0)[0], "policy 0 with no blocker costs 0");
    }

    /// Whenever a settled policy fits a random IPv4 flow, the full lookups agree with it: it
    /// is the first inbound match and the outbound answer is none or bypass.
    #[test]
    fn a_settled_policy_that_fits_gives_the_full_lookups_answer() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Addresses from a small space so that random policies meet each other and flows.
        let prefix = |r: u64| {
            let len = [0u8, 8, 16, 24, 26, 30, 32][(r % 7) as usize];
            let a = u32::from_be_bytes([10, (r >> 8) as u8 & 3, (r >> 16) as u8 & 3, (r >> 24) as u8 & 7]);
            format!("{}/{len}", std::net::Ipv4Addr::from(a))
        };
        let verdicts = [Verdict::Protect(1), Verdict::Protect(2), Verdict::Bypass, Verdict::Discard];
        let policy = |r: u64| {
            let proto = [None, Some(6), Some(17)][(r >> 40) as usize % 3];
            let mut p = pol(&prefix(r), &prefix(r.rotate_left(17)), proto, verdicts[(r >> 50) as usize % 4]);
            if r >> 62 == 0 {
                p.selector.dst_ports = crate::config::ipsec::PortRange { lo: 80, hi: 90 };
            }
            p
        };
        let (mut fits, mut checked) = (0, 0);
        for _ in 0..300 {
            let (n_in, n_out) = (1 + next() % 6, next() % 4);
            let inbound = Spd::build((0..n_in).map(|_| policy(next())).collect());
            let outbound = Spd::build((0..n_out).map(|_| policy(next())).collect());
            let settled = settle(&inbound, &outbound, SETTLE_BUDGET);
            for _ in 0..200 {
                let r = next();
                let (src, dst) =
                    (0x0a00_0000 | (r as u32 & 0x0003_0307), 0x0a00_0000 | ((r >> 32) as u32 & 0x0003_0307));
                let protocol = [6u8, 17, 1][(r >> 28) as usize % 3];
                let ports = (protocol != 1 && r >> 63 == 0).then_some((1000, 80 + (r >> 20) as u16 % 20));
                for (i, _) in settled.iter().enumerate().filter(|(_, s)| **s) {
                    let Some(v @ Verdict::Protect(_)) =
                        inbound.verdict_v4(i as u32, src, dst, protocol, ports)
                    else {
                        continue;
                    };
                    fits += 1;
                    assert_eq!(inbound.lookup_v4(src, dst, protocol, ports), Some((i, v)));
                    let out = outbound.lookup_v4(src, dst, protocol, ports).map(|o| o.1);
                    assert!(matches!(out, None | Some(Verdict::Bypass)), "outbound {out:?}");
                }
                checked += 1;
            }
        }
        assert!(fits > 1_000 && checked == 60_000, "{fits} fits");
    }
}
