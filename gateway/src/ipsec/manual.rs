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

/// Loads every SA and policy of a validated `ipsec:` section.
pub fn load(cfg: &IpsecConfig) -> Result<SadbBuilder, String> {
    let mut b = SadbBuilder::new();
    let mut slots = Vec::with_capacity(cfg.sas.len());
    for c in &cfg.sas {
        let dir = match c.direction {
            Direction::In => SaDirection::In,
            Direction::Out => SaDirection::Out,
        };
        slots.push((c.name.as_str(), b.add(sa_from_config(c)?, dir)));
    }
    let (mut outbound, mut inbound) = (Vec::new(), Vec::new());
    for (i, p) in cfg.policies.iter().enumerate() {
        let verdict = match p.action {
            Action::Bypass => Verdict::Bypass,
            Action::Discard => Verdict::Discard,
            Action::Protect => {
                let name = p.sa.as_deref().unwrap_or_default();
                let slot = slots
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|s| s.1)
                    .ok_or_else(|| format!("ipsec.policies[{i}]: no SA named `{name}`"))?;
                Verdict::Protect(slot)
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
    b.set_policies(outbound, inbound);
    b.set_pre_fragment(cfg.too_big_df_clear == TooBigAction::Fragment);
    Ok(b)
}
