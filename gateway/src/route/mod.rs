//! Routing: the longest-prefix-match tables ([`lpm`]) and the forwarding information base
//! ([`fib`]) the workers consult once per packet.

pub mod fib;
pub mod lpm;

pub use fib::{Adjacency, Fib, FibInput, L3Port, Neighbour, StaticRoute};
