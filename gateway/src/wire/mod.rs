//! Zero-copy packet wire formats for the gateway data path.
//!
//! Every protocol header lives in its own module and follows the same
//! two-layer scheme:
//!
//! * `Packet<T>` wraps a byte buffer (`&[u8]`, `&mut [u8]`, `Vec<u8>`, ...)
//!   and gives typed access to header fields in place, without copying.
//! * `Repr` is an owned, validated, high-level description of a header that
//!   can be obtained with `Repr::parse` and written back with `Repr::emit`.
//!
//! # Safety contract
//!
//! * `Packet::new_unchecked` does no validation. Getters on such a packet
//!   may panic if the buffer is too short.
//! * `Packet::new_checked` calls `check_len`. Once `check_len` has succeeded,
//!   **no getter and no `payload()` accessor panics**, whatever the content
//!   of the buffer. `check_len` validates the header's own length fields
//!   (IPv4 IHL and total length, IPv6 payload length, UDP length, ARP address
//!   lengths, ...).
//! * `Repr::parse` never panics, for any buffer accepted by `check_len`.
//! * Setters, `emit` and the in-place mutators assume a buffer that is large
//!   enough for what they write (at least `Repr::buffer_len()` bytes, or the
//!   fixed header length for setters) and panic otherwise. Sizing output
//!   buffers is the caller's job.
//! * No parser allocates.
//!
//! Protocol numbers are open newtypes (`EtherType(pub u16)`,
//! `IpProtocol(pub u8)`, ...) so that values unknown to this crate survive
//! a parse and can still be forwarded or logged.

use core::fmt;

pub mod arp;
pub mod checksum;
pub mod esp;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod udp;

pub use self::ethernet::{EtherType, EthernetAddress};
pub use self::icmpv4::Icmpv4Type;
pub use self::icmpv6::Icmpv6Type;

/// Error returned when a buffer cannot be interpreted as a given header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer is shorter than the header (or than a length field claims).
    Truncated,
    /// A field holds a value that is invalid or unsupported.
    Malformed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated packet"),
            Error::Malformed => f.write_str("malformed packet"),
        }
    }
}

impl std::error::Error for Error {}

/// Result type used throughout the wire module.
pub type Result<T> = core::result::Result<T, Error>;

/// IP protocol number (IPv4 "protocol", IPv6 "next header").
///
/// Open newtype: any `u8` is representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    pub const HOPOPT: IpProtocol = IpProtocol(0);
    pub const ICMP: IpProtocol = IpProtocol(1);
    pub const IGMP: IpProtocol = IpProtocol(2);
    pub const TCP: IpProtocol = IpProtocol(6);
    pub const UDP: IpProtocol = IpProtocol(17);
    pub const IPV6_ROUTE: IpProtocol = IpProtocol(43);
    pub const IPV6_FRAG: IpProtocol = IpProtocol(44);
    pub const ESP: IpProtocol = IpProtocol(50);
    pub const AH: IpProtocol = IpProtocol(51);
    pub const ICMPV6: IpProtocol = IpProtocol(58);
    pub const IPV6_NONXT: IpProtocol = IpProtocol(59);
    pub const IPV6_OPTS: IpProtocol = IpProtocol(60);
}

impl From<u8> for IpProtocol {
    fn from(value: u8) -> Self {
        IpProtocol(value)
    }
}

impl From<IpProtocol> for u8 {
    fn from(value: IpProtocol) -> Self {
        value.0
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            IpProtocol::HOPOPT => "Hop-by-Hop",
            IpProtocol::ICMP => "ICMP",
            IpProtocol::IGMP => "IGMP",
            IpProtocol::TCP => "TCP",
            IpProtocol::UDP => "UDP",
            IpProtocol::IPV6_ROUTE => "IPv6-Route",
            IpProtocol::IPV6_FRAG => "IPv6-Frag",
            IpProtocol::ESP => "ESP",
            IpProtocol::AH => "AH",
            IpProtocol::ICMPV6 => "ICMPv6",
            IpProtocol::IPV6_NONXT => "IPv6-NoNxt",
            IpProtocol::IPV6_OPTS => "IPv6-Opts",
            IpProtocol(other) => return write!(f, "proto({other})"),
        };
        f.write_str(name)
    }
}

/// Helpers shared by the unit tests of all header modules.
#[cfg(test)]
pub(crate) mod test_util {
    /// Deterministic xorshift64 generator (no external crates).
    pub struct XorShift(u64);

    impl XorShift {
        pub fn new(seed: u64) -> Self {
            XorShift(seed | 1)
        }

        pub fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        pub fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }

        pub fn byte(&mut self) -> u8 {
            self.next_u64() as u8
        }

        pub fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                *b = self.byte();
            }
        }

        /// A random buffer: either fully random bytes of random length, or a
        /// copy of `seed` with a few bytes mutated and a random truncation or
        /// extension. The second kind gets past the first validation steps.
        pub fn fuzz_buffer(&mut self, seed: &[u8], max_len: usize) -> Vec<u8> {
            if self.below(2) == 0 {
                let len = self.below(max_len + 1);
                let mut v = vec![0u8; len];
                self.fill(&mut v);
                v
            } else {
                let mut v = seed.to_vec();
                let extra = self.below(8);
                for _ in 0..extra {
                    v.push(self.byte());
                }
                let flips = 1 + self.below(4);
                for _ in 0..flips {
                    if v.is_empty() {
                        break;
                    }
                    let i = self.below(v.len());
                    v[i] = self.byte();
                }
                if self.below(3) == 0 {
                    let len = self.below(v.len() + 1);
                    v.truncate(len);
                }
                v
            }
        }
    }

    /// Fuzz iterations per header.
    pub const FUZZ_ITERS: usize = 20_000;
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn ip_protocol_display_and_open_values() {
        assert_eq!(IpProtocol::ESP.to_string(), "ESP");
        assert_eq!(IpProtocol(50), IpProtocol::ESP);
        assert_eq!(IpProtocol(253).to_string(), "proto(253)");
        assert_eq!(u8::from(IpProtocol::from(200)), 200);
    }

    #[test]
    fn error_display() {
        assert_eq!(Error::Truncated.to_string(), "truncated packet");
        assert_eq!(Error::Malformed.to_string(), "malformed packet");
    }
}
