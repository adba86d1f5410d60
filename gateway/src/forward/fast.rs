//! The IPv4 fast path: one straight-line function for the packet a router sees most — a
//! plain IPv4 datagram (no options) to a resolved next hop, with TTL to spare and a size
//! within the egress MTU, while no IPsec policy is configured.
//!
//! It either forwards the frame (MACs rewritten, TTL decremented, checksum updated) and
//! returns the egress port, or returns `None` having written nothing, and the caller runs the
//! general [`super::process`]. It never decides a drop or a punt itself, so it can only be
//! narrower than `process`, never different: a test runs both over every mutation of a frame
//! and checks that whenever the fast path answers, `process` gives the same frame and port.
//!
//! [`protect_v4`] is the same idea for the packet a tunnel gateway sees most: a plain IPv4
//! datagram from the wire that an outbound protect policy covers, which fits every port once
//! encapsulated. It answers with the SA's slot (TTL decremented, as `process` does before
//! protecting) or declines without writing; a test checks it against `process` in the same
//! way.

use crate::ipsec::policy_hint::PolicyHint;
use crate::ipsec::sadb::IpsecTables;
use crate::ipsec::spd::Verdict;
use crate::route::fib::Rewrite;
use crate::tables::Tables;

/// Ethernet (14) + IPv4 without options (20).
const HDR: usize = 34;

/// The 48-bit MAC as the low bytes of a little-endian u64, for one compare per frame.
#[inline(always)]
pub fn mac_key(mac: [u8; 6]) -> u64 {
    u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0])
}

/// The fixed IPv4 header checks both fast paths share: unicast to us, IPv4 without options,
/// a total length within the frame, a valid checksum, TTL above 1, a unicast destination and
/// a source that is not martian. Returns (total length, source, destination).
#[inline(always)]
fn plain_v4(h: &[u8; HDR], my_mac: u64, frame_len: usize) -> Option<(u16, u32, u32)> {
    let dst_mac = u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], 0, 0]);
    if dst_mac != my_mac || h[12] != 0x08 || h[13] != 0x00 || h[14] != 0x45 {
        return None;
    }
    let total = u16::from_be_bytes([h[16], h[17]]);
    let ttl = h[22];
    let w = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]) as u64;
    let src = w(26) as u32;
    let dst = w(30) as u32;
    let mut acc = w(14) + w(18) + w(22) + src as u64 + dst as u64;
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    let (s0, d0) = ((src >> 24) as u8, (dst >> 24) as u8);
    if acc != 0xffff
        || (total as usize) < 20
        || total as usize > frame_len - 14
        || ttl <= 1
        || d0 >= 224
        || s0 >= 224
        || s0 == 0
        || s0 == 127
    {
        return None;
    }
    Some((total, src, dst))
}

/// Decides a clear IPv4 packet from the wire that an outbound protect policy covers: returns
/// the SA's slot, with the TTL decremented, or `None` with the frame untouched, and the
/// caller runs [`super::process`]. Declined: anything [`plain_v4`] declines, traffic exempt
/// from policy (ESP, AH, IKE ports), packets for the gateway itself, an inbound policy other
/// than bypass (clear text where protection is required is the general path's drop), any
/// outbound verdict but protect, a missing SA, and packets that might not fit a port once
/// encapsulated. Only for IPsec tables that are not idle (the caller checks once per burst).
#[inline(always)]
pub fn protect_v4(frame: &mut [u8], my_mac: u64, t: &Tables, sp: &IpsecTables) -> Option<u32> {
    let h: &[u8; HDR] = frame.first_chunk::<HDR>()?;
    let (total, src, dst) = plain_v4(h, my_mac, frame.len())?;
    let protocol = h[23];
    // Ports as `Flow::parse` reads them: first fragments of TCP, UDP and SCTP only.
    let first_fragment = u16::from_be_bytes([h[20], h[21]]) & 0x1fff == 0;
    let ports = match (first_fragment, protocol, frame.get(HDR..HDR + 4)) {
        (true, 6 | 17 | 132, Some(p)) => {
            Some((u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]])))
        }
        _ => None,
    };
    let exempt = match protocol {
        50 | 51 => true,
        17 => ports.is_some_and(|(s, d)| matches!(s, 500 | 4500) || matches!(d, 500 | 4500)),
        _ => false,
    };
    if exempt || t.fib.is_local_v4(dst) {
        return None;
    }
    if !sp.inbound.is_empty() {
        match sp.inbound.lookup_v4(src, dst, protocol, ports) {
            None | Some((_, Verdict::Bypass)) => {}
            Some(_) => return None,
        }
    }
    let Some((_, Verdict::Protect(slot))) = sp.outbound.lookup_v4(src, dst, protocol, ports) else {
        return None;
    };
    let sa = sp.sa(slot)?;
    if crate::ipsec::datapath::protected_len(sa, total as usize, 20) > t.min_mtu as usize {
        return None;
    }
    super::decrement_ttl(frame, false);
    Some(slot)
}

/// Whether `frame` is plain ESP (IPv4 without options, protocol 50) addressed to one of the
/// gateway's own addresses, with inbound SAs to try: what [`super::process`] answers
/// [`super::Decision::Unprotect`] for, without building a flow. `false` leaves the decision to
/// `process` (NAT-T, IPv6, anything malformed). Never writes.
#[inline(always)]
pub fn esp_for_us_v4(frame: &[u8], my_mac: u64, t: &Tables, sp: &IpsecTables) -> bool {
    let Some(h) = frame.first_chunk::<HDR>() else { return false };
    let dst_mac = u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], 0, 0]);
    if dst_mac != my_mac || h[12] != 0x08 || h[13] != 0x00 || h[14] != 0x45 || h[23] != 50 {
        return false;
    }
    let total = u16::from_be_bytes([h[16], h[17]]);
    let w = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]) as u64;
    let (src, dst) = (w(26) as u32, w(30) as u32);
    let mut acc = w(14) + w(18) + w(22) + src as u64 + dst as u64;
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    let (s0, d0) = ((src >> 24) as u8, (dst >> 24) as u8);
    acc == 0xffff
        && total >= 20
        && total as usize <= frame.len() - 14
        && d0 < 224
        && s0 < 224
        && s0 != 0
        && s0 != 127
        && sp.has_inbound_sas()
        && t.fib.is_local_v4(dst)
}

/// Decides the inner IPv4 packet that the inbound SA in `slot` decrypted (its Ethernet header
/// addressed to our port, `my_mac`), when it is the common case: an inbound protect policy
/// that accepts the SA, no outbound policy but bypass, and a resolved next hop within the MTU.
/// Forwards it like [`forward_v4`] and returns the egress port, or returns `None` with the
/// frame untouched, and the caller runs [`super::process`] with
/// [`super::Origin::Decrypted`]. SAs of a VTI are left to `process`. `hint` is the worker's
/// [`PolicyHint`]: a packet that fits its policy skips both policy lookups, and a packet that
/// passes them by a settled policy updates it.
#[inline(always)]
pub fn decrypted_v4(
    frame: &mut [u8],
    my_mac: u64,
    slot: u32,
    t: &Tables,
    sp: &IpsecTables,
    hint: &mut PolicyHint,
) -> Option<u8> {
    let h: &[u8; HDR] = frame.first_chunk::<HDR>()?;
    let (total, src, dst) = plain_v4(h, my_mac, frame.len())?;
    let protocol = h[23];
    let first_fragment = u16::from_be_bytes([h[20], h[21]]) & 0x1fff == 0;
    let ports = match (first_fragment, protocol, frame.get(HDR..HDR + 4)) {
        (true, 6 | 17 | 132, Some(p)) => {
            Some((u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]])))
        }
        _ => None,
    };
    // A resolved forward adjacency: not local, not a VTI.
    let rw = t.fib.rewrite(t.fib.index_v4(dst.into())?)?;
    if rw.port == Rewrite::NOT_FORWARD || total > rw.mtu || sp.vti_of(slot).is_some() {
        return None;
    }
    if !hint.passes(sp, slot, src, dst, protocol, ports) {
        match sp.inbound.lookup_v4(src, dst, protocol, ports) {
            Some((i, Verdict::Protect(s))) if sp.accepts(s, slot) => hint.remember(sp, slot, i),
            _ => return None,
        }
        if !sp.outbound.is_empty() {
            match sp.outbound.lookup_v4(src, dst, protocol, ports) {
                None | Some((_, Verdict::Bypass)) => {}
                Some(_) => return None,
            }
        }
    }
    frame[..12].copy_from_slice(&rw.macs);
    super::decrement_ttl(frame, false);
    Some(rw.port)
}

/// Forwards `frame` if it is the common case; `None` (frame untouched) otherwise. `my_mac` is
/// [`mac_key`] of the receiving port's MAC. Only valid while the IPsec tables are idle (the
/// caller checks once per burst).
#[inline(always)]
pub fn forward_v4(frame: &mut [u8], my_mac: u64, t: &Tables) -> Option<u8> {
    let h: &[u8; HDR] = frame.first_chunk::<HDR>()?;
    // Anything unusual goes to the general path, which names the reason.
    let (total, _, dst) = plain_v4(h, my_mac, frame.len())?;
    let rw = t.fib.rewrite(t.fib.index_v4(dst.into())?)?;
    if rw.port == Rewrite::NOT_FORWARD || total > rw.mtu {
        return None;
    }
    frame[..12].copy_from_slice(&rw.macs);
    super::decrement_ttl(frame, false);
    Some(rw.port)
}
