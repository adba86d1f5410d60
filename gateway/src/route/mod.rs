//! Routing: the longest-prefix-match tables ([`lpm`]) and the forwarding information base
//! ([`fib`]) the workers consult once per packet, and the routes a routing daemon learned,
//! read from the kernel ([`kernel`]).

pub mod ecmp;
pub mod fib;
pub mod kernel;
pub mod lpm;

pub use fib::{Adjacency, Fib, FibInput, L3Port, Neighbour, StaticRoute};
