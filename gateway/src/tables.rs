//! The snapshot workers read once per burst: the FIB plus the per-port L2 facts (MAC, MTU)
//! needed to rewrite a packet. Published by the control thread through [`SharedTables`]
//! (an RCU-style pointer swap: workers never wait, the old snapshot is freed when the last
//! reader lets go of it).

use crate::ipsec::sadb::IpsecTables;
use crate::route::Fib;
use arc_swap::ArcSwap;
use std::sync::Arc;

/// What a worker needs to know about an egress port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortL2 {
    pub mac: [u8; 6],
    pub mtu: u16,
}

pub struct Tables {
    pub fib: Fib,
    pub ports: Vec<PortL2>,
    /// The smallest port MTU: a packet that fits it after the largest possible
    /// encapsulation needs no per-SA MTU check.
    pub min_mtu: u16,
}

impl Tables {
    pub fn new(fib: Fib, ports: Vec<PortL2>) -> Tables {
        let min_mtu = ports.iter().map(|p| p.mtu).min().unwrap_or(0);
        Tables { fib, ports, min_mtu }
    }
}

pub type SharedTables = Arc<ArcSwap<Tables>>;

/// The IPsec snapshot (SADB and SPD), published separately from the FIB so that the key
/// management side and the neighbour side each swap their own table without coordinating.
pub type SharedIpsec = Arc<ArcSwap<IpsecTables>>;
