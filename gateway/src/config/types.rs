//! Small value types used by the configuration: IP prefixes, MAC addresses
//! and `port:queue` references. Each is written as a string in YAML.

use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An IP address with a prefix length, e.g. `192.0.2.1/24`.
///
/// The address may have host bits set (an interface address) or not (a
/// network prefix); [`IpPrefix::network`] clears them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl IpPrefix {
    /// Builds a prefix, checking the length against the address family.
    pub fn new(addr: IpAddr, len: u8) -> Result<IpPrefix, String> {
        let max = max_len(&addr);
        if len > max {
            return Err(format!(
                "prefix length /{len} is too long for an {} address (at most /{max})",
                family(&addr)
            ));
        }
        Ok(IpPrefix { addr, len })
    }

    /// The prefix with all host bits cleared.
    pub fn network(&self) -> IpPrefix {
        let addr = match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & v4_mask(self.len))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & v6_mask(self.len))),
        };
        IpPrefix { addr, len: self.len }
    }

    /// True when no host bit is set, i.e. the prefix names a network.
    pub fn is_network(&self) -> bool {
        self.network().addr == self.addr
    }

    /// The IPv4 broadcast address of the prefix (`None` for IPv6).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        match self.addr {
            IpAddr::V4(a) => Some(Ipv4Addr::from(u32::from(a) | !v4_mask(self.len))),
            IpAddr::V6(_) => None,
        }
    }

    /// True when `ip` is of the same family and inside this prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = v4_mask(self.len);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = v6_mask(self.len);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// True when the two prefixes share at least one address.
    pub fn overlaps(&self, other: &IpPrefix) -> bool {
        let shorter = if self.len <= other.len { self } else { other };
        let longer = if self.len <= other.len { other } else { self };
        shorter.contains(longer.addr)
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }
}

fn max_len(addr: &IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

pub(crate) fn family(addr: &IpAddr) -> &'static str {
    match addr {
        IpAddr::V4(_) => "IPv4",
        IpAddr::V6(_) => "IPv6",
    }
}

fn v4_mask(len: u8) -> u32 {
    match len {
        0 => 0,
        l => u32::MAX << (32 - u32::from(l.min(32))),
    }
}

fn v6_mask(len: u8) -> u128 {
    match len {
        0 => 0,
        l => u128::MAX << (128 - u32::from(l.min(128))),
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for IpPrefix {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = s.split_once('/').ok_or_else(|| {
            format!("invalid prefix `{s}`: expected ADDRESS/LENGTH, e.g. 192.0.2.1/24 or 2001:db8::1/64")
        })?;
        let addr: IpAddr =
            addr.parse().map_err(|_| format!("invalid prefix `{s}`: `{addr}` is not an IP address"))?;
        let len: u8 = len
            .parse()
            .ok()
            .filter(|_| !len.starts_with('+'))
            .ok_or_else(|| format!("invalid prefix `{s}`: `{len}` is not a prefix length"))?;
        IpPrefix::new(addr, len).map_err(|e| format!("invalid prefix `{s}`: {e}"))
    }
}

/// A 48-bit Ethernet MAC address, written `02:00:00:00:00:01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// Usable as a station address: unicast and not all-zero.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && !self.is_zero()
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

impl FromStr for MacAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid MAC address `{s}`: expected six hex octets like 02:00:00:00:00:01");
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in out.iter_mut() {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddr(out))
    }
}

/// A receive queue of a port, written `port:queue`, e.g. `lan:0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortQueue {
    pub port: String,
    pub queue: u16,
}

impl fmt::Display for PortQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.port, self.queue)
    }
}

impl FromStr for PortQueue {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid rx queue `{s}`: expected \"PORT:QUEUE\", e.g. \"lan:0\"");
        let (port, queue) = s.rsplit_once(':').ok_or_else(bad)?;
        if port.is_empty() || queue.is_empty() || !queue.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let queue = queue.parse().map_err(|_| bad())?;
        Ok(PortQueue { port: port.to_string(), queue })
    }
}

/// Deserializes a `FromStr` type from a YAML string.
struct FromStrVisitor<T>(&'static str, PhantomData<T>);

impl<T> Visitor<'_> for FromStrVisitor<T>
where
    T: FromStr<Err = String>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

macro_rules! string_serde {
    ($ty:ty, $expecting:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(FromStrVisitor($expecting, PhantomData))
            }
        }
    };
}

string_serde!(IpPrefix, "an IP prefix string such as 192.0.2.1/24");
string_serde!(MacAddr, "a MAC address string such as 02:00:00:00:00:01");
string_serde!(PortQueue, "a \"port:queue\" string such as \"lan:0\"");

/// serde `deserialize_with` helper for an [`IpAddr`] that names the bad
/// value in its error.
pub(crate) fn de_ip<'de, D: Deserializer<'de>>(d: D) -> Result<IpAddr, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = IpAddr;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an IP address string such as 192.0.2.1 or 2001:db8::1")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<IpAddr, E> {
            v.parse().map_err(|_| E::custom(format!("invalid IP address `{v}`")))
        }
    }
    d.deserialize_str(V)
}

/// Like [`de_ip`] for an optional address (`null` = absent).
pub(crate) fn de_opt_ip<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpAddr>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "de_ip")] IpAddr);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpPrefix {
        s.parse().unwrap()
    }

    #[test]
    fn prefix_parse_display_network_contains() {
        let a = p("192.0.2.77/24");
        assert_eq!(a.to_string(), "192.0.2.77/24");
        assert_eq!(a.network(), p("192.0.2.0/24"));
        assert!(!a.is_network());
        assert!(a.contains("192.0.2.255".parse().unwrap()));
        assert!(!a.contains("192.0.3.1".parse().unwrap()));
        assert!(!a.contains("2001:db8::1".parse().unwrap()));
        assert_eq!(a.broadcast(), Some("192.0.2.255".parse().unwrap()));
        let b = p("2001:db8:1::1/64");
        assert_eq!(b.network().to_string(), "2001:db8:1::/64");
        assert!(b.contains("2001:db8:1::ffff".parse().unwrap()));
        assert!(!b.contains("2001:db8:2::1".parse().unwrap()));
        assert!(p("0.0.0.0/0").contains("203.0.113.9".parse().unwrap()));
        assert!(p("::/0").is_network());
        assert!(p("198.51.100.0/24").overlaps(&p("198.51.100.128/25")));
        assert!(!p("198.51.100.0/25").overlaps(&p("198.51.100.128/25")));
    }

    #[test]
    fn prefix_rejects_garbage() {
        for bad in
            ["192.0.2.1", "192.0.2.1/33", "2001:db8::/129", "192.0.2/24", "192.0.2.1/", "192.0.2.1/+4", "x/8"]
        {
            assert!(bad.parse::<IpPrefix>().is_err(), "{bad}");
        }
    }

    #[test]
    fn mac_parse_display() {
        let m: MacAddr = "02:00:00:AB:cd:01".parse().unwrap();
        assert_eq!(m.to_string(), "02:00:00:ab:cd:01");
        assert!(m.is_unicast());
        assert!("01:00:5e:00:00:01".parse::<MacAddr>().unwrap().is_multicast());
        assert!("00:00:00:00:00:00".parse::<MacAddr>().unwrap().is_zero());
        for bad in ["02:00:00:00:00", "02:00:00:00:00:01:02", "2:0:0:0:0:1", "zz:00:00:00:00:01"] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn port_queue_parse() {
        let q: PortQueue = "lan:3".parse().unwrap();
        assert_eq!((q.port.as_str(), q.queue), ("lan", 3));
        assert_eq!(q.to_string(), "lan:3");
        for bad in ["lan", ":0", "lan:", "lan:x", "lan:-1", "lan:70000"] {
            assert!(bad.parse::<PortQueue>().is_err(), "{bad}");
        }
    }
}
