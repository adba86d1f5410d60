//! espgw's gateway: configuration, the DPDK data plane (workers), and the control path that
//! answers ARP/ND/ICMP and resolves next hops.
//!
//! Layout:
//! - [`config`]: the YAML configuration, validated with file/line/field errors.
//! - [`wire`]: zero-copy views of the headers the gateway reads and writes.
//! - [`route`]: longest-prefix match and the FIB snapshot.
//! - [`forward`]: the per-packet decision (forward / punt / drop).
//! - [`drop`], [`stats`]: named drop reasons and single-writer counters.

#![forbid(unsafe_code)]

pub mod api;
pub mod buf;
pub mod config;
pub mod control;
pub mod drop;
pub mod forward;
pub mod ike_driver;
pub mod ipsec;
pub mod logging;
pub mod metrics;
pub mod route;
pub mod runtime;
pub mod stats;
pub mod tables;
pub mod wire;
pub mod worker;
