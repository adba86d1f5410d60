//! AH encapsulation and decapsulation (RFC 4302) on a [`PacketBuf`], in place.
//!
//! The buffer holds an IP packet without its Ethernet header. AH authenticates but does not
//! encrypt: its ICV covers the whole IP packet, outer header included, with the fields routers
//! may change en route zeroed (RFC 4302 §3.3.3.1):
//!
//! - IPv4: TOS (DSCP and ECN), flags and fragment offset, TTL, header checksum;
//! - IPv6: traffic class, flow label, hop limit.
//!
//! The ICV field itself is zeroed for the computation; the IPv6 alignment padding after it is
//! covered as transmitted (zero here). With ESN the high 32 bits of the sequence number are
//! appended to the ICV input and never sent (RFC 4302 §2.5.1).
//!
//! ```text
//! | next hdr (1) | payload len (1) | reserved (2) | SPI (4) | seq low (4) | ICV (16) [| pad (4)] |
//! ```
//!
//! The AH header is a multiple of 4 bytes over IPv4 and of 8 over IPv6 (RFC 4302 §2.6):
//! 28 bytes with HMAC-SHA-256-128 over IPv4, 32 (4 zero padding bytes) over IPv6. Its payload
//! length field is its length in 32-bit words minus 2.
//!
//! - Tunnel mode: IPv4 or IPv6 inside IPv4 or IPv6 (any mix). The outer header is written as
//!   ESP writes it (`esp::write_outer`: DSCP and ECN copied per RFC 6040 normal mode, DF per
//!   [`DfPolicy`], no IPv4 options); on the way in, CE on the outer is propagated as in ESP.
//! - Transport mode: AH goes between the IP header and its payload. Not supported, and dropped
//!   under a named reason: IPv6 extension headers (as in ESP), IPv4 options (their mutability
//!   is per option, RFC 4302 Appendix A; none is emitted or accepted), IPv4 fragments (AH
//!   protects whole packets, RFC 4302 §3.3.4 and §3.4.1).
//! - NAT-T is not defined for AH (RFC 3948 covers ESP only); `Sa::natt` is ignored here and
//!   refused by the configuration.
//!
//! Decapsulation checks the anti-replay window *before* the ICV and updates it only *after*
//! the ICV verified (RFC 4302 §3.4.3, §3.4.4); the ICV is compared in constant time.
//!
//! Every failure is a [`DropReason`]; nothing panics on any input.

use super::crypto::CryptoError;
use super::esp::{self, IpInfo, IPV4_HEADER, IPV6_HEADER, NH_IPV4, NH_IPV6};
use super::replay::ReplayWindow;
use super::sa::{DfPolicy, Mode, Protocol, Sa};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::wire::IpProtocol;
use std::net::IpAddr;

pub use super::esp::Decapsulated;

/// Next header, payload length, reserved, SPI and sequence number (RFC 4302 §2).
pub const HEADER_LEN: usize = 12;
/// Room for the largest ICV an AH algorithm here produces.
const MAX_ICV: usize = 16;

/// Length of the AH header with an ICV of `icv_len` bytes: fixed part, ICV and padding to a
/// multiple of 4 bytes over IPv4 or 8 over IPv6 (RFC 4302 §2.6, §3.3.3.2.1).
pub const fn ah_len(icv_len: usize, v6: bool) -> usize {
    let align = if v6 { 8 } else { 4 };
    (HEADER_LEN + icv_len).next_multiple_of(align)
}

/// Where the AH header sits in an IP packet ([`locate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AhLocation {
    pub spi: u32,
    pub seq_low: u32,
    pub v6: bool,
    /// Length of the IP header (20 or 40: no IPv4 options, no IPv6 extension headers).
    pub header_len: usize,
    /// Offset of the AH header (right after the IP header).
    pub ah_offset: usize,
    /// Length of the AH header from its payload length field (ICV and padding included).
    pub ah_len: usize,
    /// End of the IP packet (its total length).
    pub end: usize,
    pub src: IpAddr,
    pub dst: IpAddr,
}

/// Offsets of the mutable IP header bytes and the bits of each that are mutable.
const V4_MUTABLE: [(usize, u8); 6] = [(1, 0xff), (6, 0xff), (7, 0xff), (8, 0xff), (10, 0xff), (11, 0xff)];
const V6_MUTABLE: [(usize, u8); 5] = [(0, 0x0f), (1, 0xff), (2, 0xff), (3, 0xff), (7, 0xff)];

/// Runs `f` on `p` with the IP header's mutable fields zeroed, then puts them back. `p` must
/// start with a complete IPv4 (`v6` false) or IPv6 header; callers check its length.
fn with_mutable_zeroed<R>(p: &mut [u8], v6: bool, f: impl FnOnce(&[u8]) -> R) -> R {
    let fields: &[(usize, u8)] = if v6 { &V6_MUTABLE } else { &V4_MUTABLE };
    let mut saved = [0u8; V4_MUTABLE.len()];
    for (s, &(at, mask)) in saved.iter_mut().zip(fields) {
        *s = p[at];
        p[at] &= !mask;
    }
    let r = f(p);
    for (s, &(at, _)) in saved.iter().zip(fields) {
        p[at] = *s;
    }
    r
}

/// Whether an IPv4 header is a fragment (MF set or a non-zero offset).
fn is_fragment(h: &[u8]) -> bool {
    u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0
}

fn check_sa(sa: &Sa) -> Result<usize, DropReason> {
    let alg = sa.transform.algorithm();
    if sa.protocol != Protocol::Ah || !alg.is_ah() || alg.icv_len() > MAX_ICV {
        return Err(DropReason::SaProtocolMismatch);
    }
    Ok(alg.icv_len())
}

/// Protects the IP packet in `buf` with outbound AH SA `sa` and sequence number `seq` (from
/// `SaCounters::reserve`). On error the buffer's contents are unspecified and the packet is
/// to be dropped under the returned reason.
pub fn encapsulate<B: PacketBuf>(buf: &mut B, sa: &Sa, seq: u64) -> Result<(), DropReason> {
    let icv_len = check_sa(sa)?;
    let info = esp::ip_info(buf.data()).ok_or(DropReason::AhInnerMalformed)?;
    // Drop trailing bytes beyond the IP length (e.g. Ethernet padding).
    let extra = buf.len() - info.total_len;
    if extra > 0 && !buf.trim(extra) {
        return Err(DropReason::AhInnerMalformed);
    }
    match sa.mode {
        Mode::Tunnel { local, remote } => encap_tunnel(buf, sa, &info, icv_len, seq, local, remote),
        Mode::Transport { .. } => encap_transport(buf, sa, &info, icv_len, seq),
    }
}

/// Writes the AH header into `ah` (its whole length): ICV and padding zero.
fn write_header(ah: &mut [u8], next_header: u8, spi: u32, seq: u64) {
    ah[0] = next_header;
    ah[1] = (ah.len() / 4 - 2) as u8;
    ah[2..4].fill(0);
    ah[4..8].copy_from_slice(&spi.to_be_bytes());
    ah[8..12].copy_from_slice(&(seq as u32).to_be_bytes());
    ah[HEADER_LEN..].fill(0);
}

/// Computes the ICV of the complete packet `p` (ICV field still zero) and writes it at
/// `icv_at`.
fn sign(p: &mut [u8], v6: bool, icv_at: usize, icv_len: usize, sa: &Sa, seq: u64) -> Result<(), DropReason> {
    let hi = sa.esn.then_some((seq >> 32) as u32);
    let mut icv = [0u8; MAX_ICV];
    let icv = &mut icv[..icv_len];
    with_mutable_zeroed(p, v6, |p| sa.transform.ah_sign(p, hi, icv))
        .map_err(|_| DropReason::SaProtocolMismatch)?;
    p[icv_at..icv_at + icv_len].copy_from_slice(icv);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn encap_tunnel<B: PacketBuf>(
    buf: &mut B,
    sa: &Sa,
    info: &IpInfo,
    icv_len: usize,
    seq: u64,
    local: IpAddr,
    remote: IpAddr,
) -> Result<(), DropReason> {
    // `write_outer` writes IPv4 only when both endpoints are IPv4.
    let outer_v6 = !(local.is_ipv4() && remote.is_ipv4());
    let outer = if outer_v6 { IPV6_HEADER } else { IPV4_HEADER };
    let ah = ah_len(icv_len, outer_v6);
    if !buf.prepend(outer + ah) {
        return Err(DropReason::EncapNoRoom);
    }
    let total = buf.len();
    if total > u16::MAX as usize + if outer_v6 { IPV6_HEADER } else { 0 } {
        return Err(DropReason::MtuExceeded);
    }
    let df = match sa.df {
        DfPolicy::Copy => info.df,
        DfPolicy::Set => true,
        DfPolicy::Clear => false,
    };
    let d = buf.data_mut();
    let next_header = if info.v6 { NH_IPV6 } else { NH_IPV4 };
    write_header(&mut d[outer..outer + ah], next_header, sa.spi, seq);
    esp::write_outer(d, outer, local, remote, info.tos, df, info.flow_label, IpProtocol::AH.0, total, seq);
    sign(d, outer_v6, outer + HEADER_LEN, icv_len, sa, seq)
}

fn encap_transport<B: PacketBuf>(
    buf: &mut B,
    sa: &Sa,
    info: &IpInfo,
    icv_len: usize,
    seq: u64,
) -> Result<(), DropReason> {
    if info.v6 && esp::is_ipv6_extension(info.protocol) {
        return Err(DropReason::AhInnerMalformed);
    }
    if !info.v6 {
        if info.header_len != IPV4_HEADER {
            return Err(DropReason::AhIpv4Options);
        }
        if is_fragment(buf.data()) {
            return Err(DropReason::AhFragment);
        }
    }
    let hl = info.header_len;
    let ah = ah_len(icv_len, info.v6);
    if !buf.prepend(ah) {
        return Err(DropReason::EncapNoRoom);
    }
    let total = buf.len();
    if total > u16::MAX as usize + if info.v6 { IPV6_HEADER } else { 0 } {
        return Err(DropReason::MtuExceeded);
    }
    let d = buf.data_mut();
    d.copy_within(ah..ah + hl, 0);
    write_header(&mut d[hl..hl + ah], info.protocol, sa.spi, seq);
    if info.v6 {
        d[4..6].copy_from_slice(&((total - IPV6_HEADER) as u16).to_be_bytes());
        d[6] = IpProtocol::AH.0;
    } else {
        d[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        d[9] = IpProtocol::AH.0;
        esp::ipv4_checksum(&mut d[..hl]);
    }
    sign(d, info.v6, hl + HEADER_LEN, icv_len, sa, seq)
}

/// Finds the AH header of an IP packet with protocol / next header 51, with strict length
/// checks: the AH header lies within the IP length, its length is 4- (IPv4) or 8-aligned
/// (IPv6) and at least [`HEADER_LEN`], and its SPI is not 0. AH after IPv6 extension headers
/// or IPv4 options is [`DropReason::AhMalformed`] / [`DropReason::AhIpv4Options`]; an IPv4
/// fragment is [`DropReason::AhFragment`].
pub fn locate(p: &[u8]) -> Result<AhLocation, DropReason> {
    let info = esp::ip_info(p).ok_or(DropReason::AhMalformed)?;
    if info.protocol != IpProtocol::AH.0 {
        return Err(DropReason::AhMalformed);
    }
    let hl = info.header_len;
    if !info.v6 {
        if hl != IPV4_HEADER {
            return Err(DropReason::AhIpv4Options);
        }
        if is_fragment(p) {
            return Err(DropReason::AhFragment);
        }
    }
    let Some(h) = p.get(hl..info.total_len).and_then(|a| a.get(..HEADER_LEN)) else {
        return Err(DropReason::AhMalformed);
    };
    let len = (h[1] as usize + 2) * 4;
    let align = if info.v6 { 8 } else { 4 };
    if len < HEADER_LEN || !len.is_multiple_of(align) || hl + len > info.total_len {
        return Err(DropReason::AhMalformed);
    }
    let spi = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    if spi == 0 {
        return Err(DropReason::AhMalformed);
    }
    let (src, dst) = esp::addresses(p, info.v6);
    Ok(AhLocation {
        spi,
        seq_low: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        v6: info.v6,
        header_len: hl,
        ah_offset: hl,
        ah_len: len,
        end: info.total_len,
        src,
        dst,
    })
}

/// Verifies and strips the AH packet `loc` (from [`locate`]) in `buf` with inbound SA `sa` and
/// its replay window. On success `buf` holds the inner IP packet (tunnel mode) or the restored
/// IP packet (transport mode). On [`DropReason::AhIcvMismatch`] the buffer is as received.
pub fn decapsulate<B: PacketBuf>(
    buf: &mut B,
    loc: &AhLocation,
    sa: &Sa,
    window: &mut ReplayWindow,
) -> Result<Decapsulated, DropReason> {
    let icv_len = check_sa(sa)?;
    let hl = if loc.v6 { IPV6_HEADER } else { IPV4_HEADER };
    let ah = ah_len(icv_len, loc.v6);
    // The SA fixes the AH length: anything else is not this SA's packet.
    if loc.header_len != hl || loc.ah_offset != hl || loc.ah_len != ah || hl + ah > loc.end {
        return Err(DropReason::AhMalformed);
    }
    let Some(p) = buf.data().get(..loc.end) else { return Err(DropReason::AhMalformed) };
    if p[0] >> 4 != if loc.v6 { 6 } else { 4 } {
        return Err(DropReason::AhMalformed);
    }
    let outer_ecn = if loc.v6 { (p[1] >> 4) & 0x03 } else { p[1] & 0x03 };
    // 1. Anti-replay check before spending cycles on the ICV.
    let seq = window.check(loc.seq_low).map_err(esp::replay_reason)?;
    // 2. The ICV, over the packet with the ICV field and the mutable fields zeroed.
    let hi = sa.esn.then_some((seq >> 32) as u32);
    let p = &mut buf.data_mut()[..loc.end];
    let icv_at = hl + HEADER_LEN;
    let mut received = [0u8; MAX_ICV];
    let received = &mut received[..icv_len];
    received.copy_from_slice(&p[icv_at..icv_at + icv_len]);
    p[icv_at..icv_at + icv_len].fill(0);
    let verified = with_mutable_zeroed(p, loc.v6, |p| sa.transform.ah_verify(p, hi, received));
    p[icv_at..icv_at + icv_len].copy_from_slice(received);
    verified.map_err(|e| match e {
        CryptoError::IcvMismatch => DropReason::AhIcvMismatch,
        _ => DropReason::SaProtocolMismatch,
    })?;
    // 3. Only an authentic packet moves the window.
    window.update(seq).map_err(esp::replay_reason)?;
    // 4. Strip AH.
    let next_header = p[hl];
    let extra = buf.len() - loc.end;
    if extra > 0 && !buf.trim(extra) {
        return Err(DropReason::AhMalformed);
    }
    if sa.mode.is_tunnel() {
        let v6 = match next_header {
            NH_IPV4 => false,
            NH_IPV6 => true,
            _ => return Err(DropReason::AhBadNextHeader),
        };
        if !buf.adj(hl + ah) {
            return Err(DropReason::AhMalformed);
        }
        // AH has no TFC padding: the inner packet fills the rest exactly.
        let info = esp::ip_info(buf.data()).ok_or(DropReason::AhInnerMalformed)?;
        if info.v6 != v6 || info.total_len != buf.len() {
            return Err(DropReason::AhInnerMalformed);
        }
        esp::ecn_decapsulate(buf.data_mut(), v6, outer_ecn)?;
        let (src, dst) = esp::addresses(buf.data(), v6);
        Ok(Decapsulated { v6, src, dst, seq })
    } else {
        if next_header == NH_IPV4 || next_header == NH_IPV6 {
            return Err(DropReason::AhBadNextHeader);
        }
        if !esp::restore_transport_header(buf, hl, ah, loc.v6, next_header) {
            return Err(DropReason::AhMalformed);
        }
        Ok(Decapsulated { v6: loc.v6, src: loc.src, dst: loc.dst, seq })
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_scapy;
