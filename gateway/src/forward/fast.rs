//! The IPv4 fast path: one straight-line function for the packet a router sees most — a
//! plain IPv4 datagram (no options) to a resolved next hop, with TTL to spare and a size
//! within the egress MTU, while no IPsec policy is configured.
//!
//! It either forwards the frame (MACs rewritten, TTL decremented, checksum updated) and
//! returns the egress port, or returns `None` having written nothing, and the caller runs the
//! general [`super::process`]. It never decides a drop or a punt itself, so it can only be
//! narrower than `process`, never different: a test runs both over every mutation of a frame
//! and checks that whenever the fast path answers, `process` gives the same frame and port.

use crate::route::fib::Rewrite;
use crate::tables::Tables;

/// Ethernet (14) + IPv4 without options (20).
const HDR: usize = 34;

/// The 48-bit MAC as the low bytes of a little-endian u64, for one compare per frame.
#[inline(always)]
pub fn mac_key(mac: [u8; 6]) -> u64 {
    u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0])
}

/// Forwards `frame` if it is the common case; `None` (frame untouched) otherwise. `my_mac` is
/// [`mac_key`] of the receiving port's MAC. Only valid while the IPsec tables are idle (the
/// caller checks once per burst).
#[inline(always)]
pub fn forward_v4(frame: &mut [u8], my_mac: u64, t: &Tables) -> Option<u8> {
    let total_frame = frame.len();
    let h: &mut [u8; HDR] = frame.first_chunk_mut::<HDR>()?;
    let dst_mac = u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], 0, 0]);
    // Unicast to us, IPv4, version 4 with a 20-byte header.
    if dst_mac != my_mac || h[12] != 0x08 || h[13] != 0x00 || h[14] != 0x45 {
        return None;
    }
    let total = u16::from_be_bytes([h[16], h[17]]);
    let ttl = h[22];
    // The header checksum over the five 32-bit words, folded to 16 bits.
    let w = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]) as u64;
    let src = w(26) as u32;
    let dst = w(30) as u32;
    let mut acc = w(14) + w(18) + w(22) + src as u64 + dst as u64;
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    let (s0, d0) = ((src >> 24) as u8, (dst >> 24) as u8);
    // Anything unusual goes to the general path, which names the reason: bad length or
    // checksum, TTL about to expire, multicast/broadcast/class-E destinations, and sources in
    // 0/8, 127/8 or 224/3.
    if acc != 0xffff
        || (total as usize) < 20
        || total as usize > total_frame - 14
        || ttl <= 1
        || d0 >= 224
        || s0 >= 224
        || s0 == 0
        || s0 == 127
    {
        return None;
    }
    let rw = t.fib.rewrite(t.fib.index_v4(dst.into())?)?;
    if rw.port == Rewrite::NOT_FORWARD || total > rw.mtu {
        return None;
    }
    h[..12].copy_from_slice(&rw.macs);
    super::decrement_ttl(frame, false);
    Some(rw.port)
}
