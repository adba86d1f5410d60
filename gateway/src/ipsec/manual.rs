//! Manual keying: the `ipsec:` section of the config turned into SADB slots and SPD entries,
//! so the data plane carries traffic before (and without) IKE.

use super::crypto::{Algorithm, Transform};
use super::sa::{DfPolicy, Limits, Mode, NatT, Protocol, Sa, SaCounters};
use super::sadb::{SaDirection, SadbBuilder};
use super::spd::{Policy, Selector, Verdict};
use crate::config::ipsec::{
    Action, DfName, Direction, LimitsConfig, ModeName, ProtocolName, SaConfig, TooBigAction,
};
use crate::config::IpsecConfig;
use std::collections::HashMap;
use std::sync::Arc;

fn limits(l: &LimitsConfig) -> Limits {
    Limits { seconds: l.seconds, bytes: l.bytes, packets: l.packets }
}

/// Builds one SA from its (validated) configuration.
pub fn sa_from_config(c: &SaConfig) -> Result<Sa, String> {
    let alg = Algorithm::from_name(&c.algorithm)
        .ok_or_else(|| format!("SA `{}`: unknown algorithm `{}`", c.name, c.algorithm))?;
    let transform = Transform::new(alg, c.enc_key.expose(), c.auth_key.expose())
        .map_err(|e| format!("SA `{}`: {e}", c.name))?;
    let mode = match c.mode {
        ModeName::Tunnel => Mode::Tunnel { local: c.local, remote: c.remote },
        ModeName::Transport => Mode::Transport { local: c.local, remote: c.remote },
    };
    Ok(Sa {
        name: c.name.clone(),
        protocol: match c.protocol {
            ProtocolName::Esp => Protocol::Esp,
            ProtocolName::Ah => Protocol::Ah,
        },
        spi: c.spi,
        mode,
        transform,
        esn: c.esn,
        natt: c.natt.map(|n| NatT { local_port: n.local_port, remote_port: n.remote_port }),
        replay_window: c.replay_window,
        df: match c.df {
            DfName::Copy => DfPolicy::Copy,
            DfName::Set => DfPolicy::Set,
            DfName::Clear => DfPolicy::Clear,
        },
        soft: limits(&c.lifetime.soft),
        hard: limits(&c.lifetime.hard),
        counters: Arc::new(SaCounters::default()),
    })
}

/// The manually keyed SAs and policies a running gateway holds, by SA name, so that a reload
/// can tell what changed.
pub struct ManualSas {
    pub builder: SadbBuilder,
    /// SA name → (slot, the configuration it was built from).
    by_name: HashMap<String, (u32, SaConfig)>,
    /// SAs of the current config removed by their hard lifetime: their policies point at
    /// [`EXPIRED`] (traffic dropped as `sa_expired`) until a reload brings them back.
    expired: std::collections::HashSet<String>,
    /// The section the policies were last built from.
    current: IpsecConfig,
}

/// The slot protect policies of an expired SA point at: never occupied, so their traffic is
/// dropped and can never reach an SA that later takes the freed slot.
pub const EXPIRED: u32 = u32::MAX;

/// What a reload changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    pub unchanged: Vec<String>,
    pub added: Vec<String>,
    /// Same name, different parameters: a new SA (new counters, sequence numbers and replay
    /// window) replaces the old one.
    pub replaced: Vec<String>,
    pub removed: Vec<String>,
    pub policies: usize,
}

impl std::fmt::Display for ReloadSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[String]| if v.is_empty() { "-".to_string() } else { v.join(", ") };
        write!(
            f,
            "SAs unchanged: {}; added: {}; replaced: {}; removed: {}; {} policies",
            list(&self.unchanged),
            list(&self.added),
            list(&self.replaced),
            list(&self.removed),
            self.policies
        )
    }
}

/// Whether two configurations of one SA share their key material (direction, protocol,
/// algorithm and keys): then its sequence counter carries over a reload.
fn same_keys(a: &SaConfig, b: &SaConfig) -> bool {
    a.direction == b.direction
        && a.protocol == b.protocol
        && a.algorithm == b.algorithm
        && a.enc_key == b.enc_key
        && a.auth_key == b.auth_key
}

/// Loads every SA and policy of a validated `ipsec:` section.
pub fn load(cfg: &IpsecConfig) -> Result<SadbBuilder, String> {
    Ok(ManualSas::load(cfg)?.builder)
}

impl ManualSas {
    pub fn load(cfg: &IpsecConfig) -> Result<ManualSas, String> {
        let mut m = ManualSas {
            builder: SadbBuilder::new(),
            by_name: HashMap::new(),
            expired: Default::default(),
            current: IpsecConfig::default(),
        };
        m.reload(cfg)?;
        Ok(m)
    }

    /// Applies a new (validated) `ipsec:` section: SAs whose configuration is unchanged keep
    /// their slot, so their traffic, sequence numbers and replay windows carry on untouched;
    /// new ones are added, changed ones replaced, missing ones removed; the policies are
    /// rebuilt. Nothing is changed if any SA fails to build.
    pub fn reload(&mut self, cfg: &IpsecConfig) -> Result<ReloadSummary, String> {
        // Build every new or changed SA first, so that a failure leaves the tables as they are.
        let mut fresh = Vec::new();
        let mut in_place = Vec::new();
        for c in &cfg.sas {
            match self.by_name.get(&c.name) {
                Some((_, old)) if old == c => {}
                Some((slot, old)) if same_keys(old, c) => {
                    // Same keys: the sequence counter must carry on (restarting it would reuse
                    // GCM nonces and trip the peer's replay window), and for the same SPI the
                    // replay window too (a fresh one would accept old packets again).
                    let mut sa = sa_from_config(c)?;
                    let entry =
                        self.builder.entry(*slot).ok_or_else(|| format!("SA `{}`: lost its slot", c.name))?;
                    sa.counters = entry.sa.counters.clone();
                    if old.spi == c.spi && old.local == c.local {
                        if old.replay_window != c.replay_window || old.esn != c.esn {
                            return Err(format!(
                                "SA `{}`: replay_window and esn cannot change while the SPI and keys stay: \
                                 change the SPI and the keys too",
                                c.name
                            ));
                        }
                        in_place.push((c.clone(), *slot, sa));
                    } else {
                        fresh.push((c.clone(), sa));
                    }
                }
                _ => fresh.push((c.clone(), sa_from_config(c)?)),
            }
        }
        let mut summary = ReloadSummary::default();
        let wanted: std::collections::HashSet<&str> = cfg.sas.iter().map(|c| c.name.as_str()).collect();
        let gone: Vec<String> =
            self.by_name.keys().filter(|n| !wanted.contains(n.as_str())).cloned().collect();
        for name in gone {
            if let Some((slot, _)) = self.by_name.remove(&name) {
                self.builder.remove(slot);
                summary.removed.push(name);
            }
        }
        for (c, slot, sa) in in_place {
            self.builder.replace(slot, sa);
            summary.replaced.push(c.name.clone());
            self.by_name.insert(c.name.clone(), (slot, c));
        }
        for (c, sa) in fresh {
            let dir = match c.direction {
                Direction::In => SaDirection::In,
                Direction::Out => SaDirection::Out,
            };
            if let Some((old, _)) = self.by_name.remove(&c.name) {
                self.builder.remove(old);
                summary.replaced.push(c.name.clone());
            } else {
                summary.added.push(c.name.clone());
            }
            let slot = self.builder.add(sa, dir);
            self.by_name.insert(c.name.clone(), (slot, c));
        }
        for c in &cfg.sas {
            if !summary.added.contains(&c.name) && !summary.replaced.contains(&c.name) {
                summary.unchanged.push(c.name.clone());
            }
        }
        // A reload brings expired SAs back (rebuilt above as new: they left by_name).
        self.expired.clear();
        let (outbound, inbound) = self.policies(cfg)?;
        summary.policies = outbound.len() + inbound.len();
        self.builder.set_policies(outbound, inbound);
        self.builder.set_pre_fragment(cfg.too_big_df_clear == TooBigAction::Fragment);
        self.current = cfg.clone();
        Ok(summary)
    }

    /// Checks lifetimes (see [`SadbBuilder::expire`]). An SA removed by its hard lifetime
    /// leaves the name table, and its policies are rebuilt to drop their traffic. The caller
    /// publishes a snapshot when any event is hard.
    pub fn expire(&mut self, now: std::time::Instant) -> Vec<super::sadb::LifetimeEvent> {
        let events = self.builder.expire(now);
        let mut changed = false;
        for e in events.iter().filter(|e| e.hard) {
            if self.by_name.get(&e.name).is_some_and(|(slot, _)| *slot == e.slot) {
                self.by_name.remove(&e.name);
                self.expired.insert(e.name.clone());
                changed = true;
            }
        }
        if changed {
            let current = self.current.clone();
            if let Ok((outbound, inbound)) = self.policies(&current) {
                self.builder.set_policies(outbound, inbound);
            }
        }
        events
    }

    fn policies(&self, cfg: &IpsecConfig) -> Result<(Vec<Policy>, Vec<Policy>), String> {
        let (mut outbound, mut inbound) = (Vec::new(), Vec::new());
        for (i, p) in cfg.policies.iter().enumerate() {
            let verdict = match p.action {
                Action::Bypass => Verdict::Bypass,
                Action::Discard => Verdict::Discard,
                Action::Protect => {
                    let name = p.sa.as_deref().unwrap_or_default();
                    match self.by_name.get(name) {
                        Some((slot, _)) => Verdict::Protect(*slot),
                        None if self.expired.contains(name) => Verdict::Protect(EXPIRED),
                        None => return Err(format!("ipsec.policies[{i}]: no SA named `{name}`")),
                    }
                }
            };
            let policy = Policy {
                name: p.name.clone().unwrap_or_else(|| format!("policies[{i}]")),
                selector: Selector {
                    src: p.src,
                    dst: p.dst,
                    protocol: p.protocol.0,
                    src_ports: p.src_ports,
                    dst_ports: p.dst_ports,
                },
                verdict,
            };
            match p.direction {
                Direction::Out => outbound.push(policy),
                Direction::In => inbound.push(policy),
            }
        }
        Ok((outbound, inbound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f10111213";

    fn cfg(sas: &[(&str, &str, u32)], policies: &[(&str, &str, &str)]) -> IpsecConfig {
        let mut y = String::from("sas:\n");
        for (name, dir, spi) in sas {
            y += &format!(
                "  - {{ name: {name}, direction: {dir}, spi: {spi}, local: 203.0.113.1, remote: 203.0.113.2, \
                 algorithm: aes128gcm16, enc_key: \"{KEY}\" }}\n"
            );
        }
        y += "policies:\n";
        for (dir, dst, sa) in policies {
            let src = if *dir == "out" { "192.0.2.0/24" } else { dst };
            let dst = if *dir == "out" { dst } else { "192.0.2.0/24" };
            y += &format!("  - {{ direction: {dir}, src: {src}, dst: {dst}, action: protect, sa: {sa} }}\n");
        }
        serde_yaml_ng::from_str(&y).unwrap()
    }

    #[test]
    fn reload_keeps_unchanged_sas_in_place() {
        let c1 = cfg(
            &[("a-out", "out", 0x1001), ("a-in", "in", 0x2001), ("b-out", "out", 0x1002)],
            &[
                ("out", "198.51.100.0/25", "a-out"),
                ("in", "198.51.100.0/25", "a-in"),
                ("out", "198.51.100.128/25", "b-out"),
            ],
        );
        let mut m = ManualSas::load(&c1).unwrap();
        let t1 = m.builder.snapshot();
        let uid = |t: &crate::ipsec::sadb::IpsecTables, name: &str| {
            t.entries().find(|(_, e)| e.sa.name == name).map(|(s, e)| (s, e.uid))
        };
        t1.entries().for_each(|(_, e)| e.sa.counters.add_traffic(5, 500));
        // a-out unchanged, a-in rekeyed (new SPI), b-out removed, c-out added.
        let c2 = cfg(
            &[("a-out", "out", 0x1001), ("a-in", "in", 0x2009), ("c-out", "out", 0x1003)],
            &[
                ("out", "198.51.100.0/25", "a-out"),
                ("in", "198.51.100.0/25", "a-in"),
                ("out", "198.51.100.128/25", "c-out"),
            ],
        );
        let s = m.reload(&c2).unwrap();
        assert_eq!(s.unchanged, vec!["a-out"]);
        assert_eq!(s.replaced, vec!["a-in"]);
        assert_eq!(s.added, vec!["c-out"]);
        assert_eq!(s.removed, vec!["b-out"]);
        assert_eq!(s.policies, 3);
        let t2 = m.builder.snapshot();
        assert_eq!(uid(&t2, "a-out"), uid(&t1, "a-out"), "same slot, same SA");
        let (_, e) = t2.entries().find(|(_, e)| e.sa.name == "a-out").unwrap();
        assert_eq!(e.sa.counters.packets.load(std::sync::atomic::Ordering::Relaxed), 5, "counters carry on");
        assert_ne!(uid(&t2, "a-in").unwrap().1, uid(&t1, "a-in").unwrap().1, "a new SA");
        assert!(uid(&t2, "b-out").is_none());
        assert!(t2.inbound_sa(0x2009, "203.0.113.1".parse().unwrap()).is_some());
        assert!(t2.inbound_sa(0x2001, "203.0.113.1".parse().unwrap()).is_none());
        let c_slot = uid(&t2, "c-out").unwrap().0;
        assert_eq!(t2.outbound.policies()[1].verdict, Verdict::Protect(c_slot));
        assert!(s.to_string().contains("replaced: a-in"));
        // Same keys, other lifetime: replaced in place, counters and uid (replay windows) kept.
        let mut c3 = c2.clone();
        c3.sas[0].lifetime.soft.seconds = Some(3600);
        let before = m.builder.snapshot();
        let s3 = m.reload(&c3).unwrap();
        assert_eq!(s3.replaced, vec!["a-out"]);
        let after = m.builder.snapshot();
        assert_eq!(uid(&after, "a-out"), uid(&before, "a-out"), "same slot and uid");
        let (_, e) = after.entries().find(|(_, e)| e.sa.name == "a-out").unwrap();
        assert_eq!(e.sa.soft.seconds, Some(3600));
        assert_eq!(
            e.sa.counters.packets.load(std::sync::atomic::Ordering::Relaxed),
            5,
            "counter carried over"
        );
        // Same keys and SPI but another replay window: refused, nothing changes.
        let mut c4 = c3.clone();
        c4.sas[1].replay_window = 64;
        assert!(m.reload(&c4).unwrap_err().contains("replay_window and esn cannot change"));
        // Reloading the same config changes nothing.
        let c2 = c3;
        let s = m.reload(&c2).unwrap();
        assert_eq!((s.added.len(), s.replaced.len(), s.removed.len(), s.unchanged.len()), (0, 0, 0, 3));
    }

    #[test]
    fn a_hard_expired_sa_never_hands_its_policies_to_the_next_sa_in_its_slot() {
        let mut c1 = cfg(&[("x-out", "out", 0x1001)], &[("out", "198.51.100.0/25", "x-out")]);
        c1.sas[0].lifetime.hard.packets = Some(10);
        let mut m = ManualSas::load(&c1).unwrap();
        let t = m.builder.snapshot();
        let (x_slot, e) = t.entries().next().unwrap();
        e.sa.counters.add_traffic(10, 1000);
        let ev = m.expire(std::time::Instant::now());
        assert!(ev.iter().any(|e| e.hard && e.slot == x_slot));
        let t = m.builder.snapshot();
        assert_eq!(t.outbound.policies()[0].verdict, Verdict::Protect(EXPIRED), "x's traffic is dropped");
        // A new tunnel takes the freed slot; x's policy must not follow it.
        let mut c2 = c1.clone();
        c2.sas.push(cfg(&[("z-out", "out", 0x1003)], &[]).sas.remove(0));
        c2.policies.push(cfg(&[], &[("out", "198.51.100.128/25", "z-out")]).policies.remove(0));
        let s = m.reload(&c2).unwrap();
        assert!(s.added.contains(&"z-out".to_string()) && s.added.contains(&"x-out".to_string()));
        let t = m.builder.snapshot();
        let slot_of = |n: &str| t.entries().find(|(_, e)| e.sa.name == n).map(|(s, _)| s).unwrap();
        assert_eq!(t.outbound.policies()[0].verdict, Verdict::Protect(slot_of("x-out")));
        assert_eq!(t.outbound.policies()[1].verdict, Verdict::Protect(slot_of("z-out")));
        assert_ne!(slot_of("x-out"), slot_of("z-out"));
    }

    #[test]
    fn reload_after_reload_is_stable() {
        let c2 = cfg(&[("a-out", "out", 0x1001)], &[("out", "198.51.100.0/25", "a-out")]);
        let mut m = ManualSas::load(&c2).unwrap();
        for _ in 0..3 {
            let s = m.reload(&c2).unwrap();
            assert_eq!((s.added.len(), s.replaced.len(), s.removed.len(), s.unchanged.len()), (0, 0, 0, 1));
        }
    }
}
