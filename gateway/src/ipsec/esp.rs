//! ESP encapsulation and decapsulation (RFC 4303) on a [`PacketBuf`], in place.
//!
//! The buffer holds an IP packet without its Ethernet header. Encapsulation grows it at both
//! ends (outer header, optional UDP for NAT-T, ESP header and IV in front; padding, trailer and
//! ICV behind) and seals it; decapsulation checks the anti-replay window *before* the ICV,
//! updates it only *after* the ICV verified (RFC 4303 §3.4.3), decrypts, validates padding and
//! next header, and shrinks the buffer back to the inner packet.
//!
//! - Tunnel mode: IPv4 or IPv6 inside IPv4 or IPv6 (any mix). The outer header copies DSCP
//!   and ECN from the inner (RFC 6040 normal mode) and sets DF per [`DfPolicy`]; on the way
//!   in, CE on the outer is propagated to an ECN-capable inner packet and a Not-ECT inner
//!   packet under CE is dropped (RFC 6040 §4.2).
//! - Transport mode: ESP goes between the IP header and its payload. IPv6 packets with
//!   extension headers are not supported in transport mode (counted as malformed).
//! - NAT-T (RFC 3948): a UDP header after the outer IP header; IPv4 UDP checksum 0, IPv6 UDP
//!   checksum computed.
//!
//! Every failure is a [`DropReason`]; nothing panics on any input.

use super::crypto::CryptoError;
use super::replay::{ReplayError, ReplayWindow};
use super::sa::{DfPolicy, Mode, Sa};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::wire::{checksum, esp, IpProtocol};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const IPV4_HEADER: usize = 20;
pub const IPV6_HEADER: usize = 40;
pub const UDP_HEADER: usize = 8;
pub const NATT_PORT: u16 = 4500;
pub const OUTER_TTL: u8 = 64;
pub(crate) const NH_IPV4: u8 = 4;
pub(super) const NH_IPV6: u8 = 41;
const NH_NONE: u8 = 59;

/// The facts about an IP packet encapsulation needs (shared with `ah`).
#[derive(Clone, Copy, Debug)]
pub(super) struct IpInfo {
    pub(super) v6: bool,
    pub(super) header_len: usize,
    pub(super) total_len: usize,
    /// DSCP and ECN byte (IPv4 TOS / IPv6 traffic class).
    pub(super) tos: u8,
    pub(super) df: bool,
    pub(super) protocol: u8,
    pub(super) flow_label: u32,
}

pub(super) fn ip_info(p: &[u8]) -> Option<IpInfo> {
    match p.first()? >> 4 {
        4 => {
            let h = p.get(..IPV4_HEADER)?;
            let header_len = ((h[0] & 0x0f) as usize) * 4;
            let total_len = u16::from_be_bytes([h[2], h[3]]) as usize;
            if header_len < IPV4_HEADER || total_len < header_len || total_len > p.len() {
                return None;
            }
            Some(IpInfo {
                v6: false,
                header_len,
                total_len,
                tos: h[1],
                df: h[6] & 0x40 != 0,
                protocol: h[9],
                flow_label: 0,
            })
        }
        6 => {
            let h = p.get(..IPV6_HEADER)?;
            let total_len = IPV6_HEADER + u16::from_be_bytes([h[4], h[5]]) as usize;
            if total_len > p.len() {
                return None;
            }
            let w = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
            Some(IpInfo {
                v6: true,
                header_len: IPV6_HEADER,
                total_len,
                tos: (w >> 20) as u8,
                df: true,
                protocol: h[6],
                flow_label: w & 0x000f_ffff,
            })
        }
        _ => None,
    }
}

pub(super) fn ipv4_checksum(h: &mut [u8]) {
    h[10] = 0;
    h[11] = 0;
    let c = match h.first_chunk::<20>() {
        Some(h20) if h.len() == 20 => checksum::ipv4_header(h20),
        _ => checksum::checksum(h),
    };
    h[10..12].copy_from_slice(&c.to_be_bytes());
}

pub(super) fn is_ipv6_extension(nh: u8) -> bool {
    matches!(nh, 0 | 43 | 44 | 50 | 51 | 60 | 135 | 139 | 140)
}

/// Padding so that payload ‖ padding ‖ pad length ‖ next header is a multiple of `align`.
fn pad_len(payload: usize, align: usize) -> usize {
    (align - (payload + esp::TRAILER_LEN) % align) % align
}

/// Encapsulates the IP packet in `buf` with outbound SA `sa`, sequence number `seq` (from
/// `SaCounters::reserve`) and `iv` (`iv_len` bytes, unique per packet: for GCM the sequence
/// number serves, RFC 4106 §3.1; for CBC it must be unpredictable). On error the buffer's
/// contents are unspecified and the packet is to be dropped under the returned reason.
pub fn encapsulate<B: PacketBuf>(buf: &mut B, sa: &Sa, seq: u64, iv: &[u8]) -> Result<(), DropReason> {
    let alg = sa.transform.algorithm();
    if iv.len() != alg.iv_len() {
        return Err(DropReason::EncapNoRoom);
    }
    let info = ip_info(buf.data()).ok_or(DropReason::EspInnerMalformed)?;
    // Drop trailing bytes beyond the IP length (e.g. Ethernet padding).
    let extra = buf.len() - info.total_len;
    if extra > 0 && !buf.trim(extra) {
        return Err(DropReason::EspInnerMalformed);
    }
    match sa.mode {
        Mode::Tunnel { local, remote } => encap_tunnel(buf, sa, &info, seq, iv, local, remote),
        Mode::Transport { .. } => encap_transport(buf, sa, &info, seq, iv),
    }
}

/// The size of an IP packet of `ip_len` bytes (header `ip_header_len`) once `sa` encapsulates
/// it: what the MTU check before encryption compares against the egress MTU.
pub fn encapsulated_len(sa: &Sa, ip_len: usize, ip_header_len: usize) -> usize {
    let alg = sa.transform.algorithm();
    let udp = if sa.natt.is_some() { UDP_HEADER } else { 0 };
    let (outer, payload) = match sa.mode {
        Mode::Tunnel { remote, .. } => (if remote.is_ipv4() { IPV4_HEADER } else { IPV6_HEADER }, ip_len),
        Mode::Transport { .. } => (ip_header_len, ip_len.saturating_sub(ip_header_len)),
    };
    let pad = pad_len(payload, alg.block_align());
    outer + udp + esp::HEADER_LEN + alg.iv_len() + payload + pad + esp::TRAILER_LEN + alg.icv_len()
}

/// Appends padding, pad length, next header and room for the ICV.
fn append_trailer<B: PacketBuf>(
    buf: &mut B,
    sa: &Sa,
    payload_len: usize,
    next_header: u8,
) -> Result<(), DropReason> {
    let alg = sa.transform.algorithm();
    let pad = pad_len(payload_len, alg.block_align());
    let tail = pad + esp::TRAILER_LEN + alg.icv_len();
    let start = buf.len();
    if !buf.append(tail) {
        return Err(DropReason::EncapNoRoom);
    }
    let t = &mut buf.data_mut()[start..];
    for (i, b) in t[..pad].iter_mut().enumerate() {
        *b = (i + 1) as u8; // RFC 4303 §2.4 default padding 1, 2, 3, ...
    }
    t[pad] = pad as u8;
    t[pad + 1] = next_header;
    Ok(())
}

fn write_esp_header(esp: &mut [u8], sa: &Sa, seq: u64, iv: &[u8]) {
    esp[0..4].copy_from_slice(&sa.spi.to_be_bytes());
    esp[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
    esp[8..8 + iv.len()].copy_from_slice(iv);
}

fn seal(esp: &mut [u8], sa: &Sa, seq: u64) -> Result<(), DropReason> {
    let hi = sa.esn.then_some((seq >> 32) as u32);
    sa.transform.seal(esp, hi).map_err(|_| DropReason::EspMalformed)
}

#[allow(clippy::too_many_arguments)]
fn encap_tunnel<B: PacketBuf>(
    buf: &mut B,
    sa: &Sa,
    info: &IpInfo,
    seq: u64,
    iv: &[u8],
    local: IpAddr,
    remote: IpAddr,
) -> Result<(), DropReason> {
    let next_header = if info.v6 { NH_IPV6 } else { NH_IPV4 };
    append_trailer(buf, sa, info.total_len, next_header)?;
    let outer = if remote.is_ipv4() { IPV4_HEADER } else { IPV6_HEADER };
    let udp = if sa.natt.is_some() { UDP_HEADER } else { 0 };
    let head = outer + udp + esp::HEADER_LEN + iv.len();
    if !buf.prepend(head) {
        return Err(DropReason::EncapNoRoom);
    }
    let total = buf.len();
    if total > u16::MAX as usize + if remote.is_ipv4() { 0 } else { IPV6_HEADER } {
        return Err(DropReason::MtuExceeded);
    }
    let d = buf.data_mut();
    let (hdr, esp) = d.split_at_mut(outer + udp);
    write_esp_header(esp, sa, seq, iv);
    seal(esp, sa, seq)?;
    let protocol = if udp > 0 { IpProtocol::UDP.0 } else { IpProtocol::ESP.0 };
    let df = match sa.df {
        DfPolicy::Copy => info.df,
        DfPolicy::Set => true,
        DfPolicy::Clear => false,
    };
    write_outer(hdr, outer, local, remote, info.tos, df, info.flow_label, protocol, total, seq);
    if let Some(n) = sa.natt {
        let udp_len = total - outer;
        let rest = &mut d[outer..];
        write_udp(rest, n.local_port, n.remote_port, udp_len, local, remote);
    }
    Ok(())
}

/// Writes an outer IPv4 or IPv6 header of `header_len` bytes into `h`.
#[allow(clippy::too_many_arguments)]
pub(super) fn write_outer(
    h: &mut [u8],
    header_len: usize,
    local: IpAddr,
    remote: IpAddr,
    tos: u8,
    df: bool,
    flow_label: u32,
    protocol: u8,
    total: usize,
    seq: u64,
) {
    match (local, remote) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let h = &mut h[..header_len];
            h[0] = 0x45;
            h[1] = tos;
            h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            // Identification only matters for fragments; with DF set it is arbitrary (RFC 6864).
            h[4..6].copy_from_slice(&(seq as u16).to_be_bytes());
            h[6] = if df { 0x40 } else { 0 };
            h[7] = 0;
            h[8] = OUTER_TTL;
            h[9] = protocol;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            ipv4_checksum(h);
        }
        (s, d) => {
            let (s, d) = (to_v6(s), to_v6(d));
            let w: u32 = (6 << 28) | ((tos as u32) << 20) | (flow_label & 0x000f_ffff);
            h[0..4].copy_from_slice(&w.to_be_bytes());
            h[4..6].copy_from_slice(&((total - IPV6_HEADER) as u16).to_be_bytes());
            h[6] = protocol;
            h[7] = OUTER_TTL;
            h[8..24].copy_from_slice(&s.octets());
            h[24..40].copy_from_slice(&d.octets());
        }
    }
}

fn to_v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    }
}

/// Writes the UDP header at the start of `rest` (which runs to the end of the packet).
fn write_udp(rest: &mut [u8], sport: u16, dport: u16, len: usize, local: IpAddr, remote: IpAddr) {
    rest[0..2].copy_from_slice(&sport.to_be_bytes());
    rest[2..4].copy_from_slice(&dport.to_be_bytes());
    rest[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    rest[6..8].copy_from_slice(&[0, 0]);
    if let (IpAddr::V6(s), IpAddr::V6(d)) = (local, remote) {
        // RFC 8200 §8.1: UDP over IPv6 needs a checksum.
        let c = !checksum::combine(&[
            checksum::pseudo_header_v6(s, d, IpProtocol::UDP, len as u32),
            checksum::sum(&rest[..len]),
        ]);
        rest[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    }
    // IPv4: checksum 0 (RFC 3948 §2.1).
}

fn encap_transport<B: PacketBuf>(
    buf: &mut B,
    sa: &Sa,
    info: &IpInfo,
    seq: u64,
    iv: &[u8],
) -> Result<(), DropReason> {
    if info.v6 && is_ipv6_extension(info.protocol) {
        return Err(DropReason::EspInnerMalformed);
    }
    let hl = info.header_len;
    append_trailer(buf, sa, info.total_len - hl, info.protocol)?;
    let udp = if sa.natt.is_some() { UDP_HEADER } else { 0 };
    let grow = udp + esp::HEADER_LEN + iv.len();
    if !buf.prepend(grow) {
        return Err(DropReason::EncapNoRoom);
    }
    let total = buf.len();
    if total > u16::MAX as usize + if info.v6 { IPV6_HEADER } else { 0 } {
        return Err(DropReason::MtuExceeded);
    }
    let d = buf.data_mut();
    d.copy_within(grow..grow + hl, 0);
    let protocol = if udp > 0 { IpProtocol::UDP.0 } else { IpProtocol::ESP.0 };
    let (hdr, rest) = d.split_at_mut(hl);
    let esp = &mut rest[udp..];
    write_esp_header(esp, sa, seq, iv);
    seal(esp, sa, seq)?;
    let (src, dst) = addresses(hdr, info.v6);
    if info.v6 {
        hdr[4..6].copy_from_slice(&((total - IPV6_HEADER) as u16).to_be_bytes());
        hdr[6] = protocol;
    } else {
        hdr[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        hdr[9] = protocol;
        ipv4_checksum(&mut hdr[..hl]);
    }
    if let Some(n) = sa.natt {
        write_udp(rest, n.local_port, n.remote_port, total - hl, src, dst);
    }
    Ok(())
}

pub(super) fn addresses(h: &[u8], v6: bool) -> (IpAddr, IpAddr) {
    if v6 {
        let s: [u8; 16] = h[8..24].try_into().unwrap_or([0; 16]);
        let d: [u8; 16] = h[24..40].try_into().unwrap_or([0; 16]);
        (IpAddr::V6(s.into()), IpAddr::V6(d.into()))
    } else {
        let s: [u8; 4] = h[12..16].try_into().unwrap_or([0; 4]);
        let d: [u8; 4] = h[16..20].try_into().unwrap_or([0; 4]);
        (IpAddr::V4(Ipv4Addr::from(s)), IpAddr::V4(Ipv4Addr::from(d)))
    }
}

/// What an incoming packet addressed to the gateway is, as far as IPsec is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// ESP (protocol 50, or UDP/4500 without the non-ESP marker).
    Esp(EspLocation),
    /// A NAT-T keepalive: consume.
    Keepalive,
    /// Not IPsec data (IKE, ICMP, ...): for the control path.
    Other,
}

/// Where the ESP packet sits in the IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EspLocation {
    pub spi: u32,
    pub seq_low: u32,
    pub v6: bool,
    pub header_len: usize,
    /// Offset of the ESP header (after the IP header and any UDP header).
    pub esp_offset: usize,
    /// End of the IP packet (its total length).
    pub end: usize,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// UDP source port when NAT-T encapsulated.
    pub udp_sport: Option<u16>,
}

/// Classifies an IP packet addressed to the gateway. (Inlined, as [`decapsulate`] is: their
/// results are large, and returned through memory they were read back wider than written.)
#[inline(always)]
pub fn classify_inbound(p: &[u8]) -> Result<Inbound, DropReason> {
    let Some(info) = ip_info(p) else { return Ok(Inbound::Other) };
    let hl = info.header_len;
    let (src, dst) = addresses(p, info.v6);
    // An IPv4 fragment of ESP (MF set or an offset): outer reassembly is not done, so it is
    // dropped under its own reason rather than failing the ICV and alarming as tampering.
    let fragment = !info.v6 && p.get(6..8).is_some_and(|f| u16::from_be_bytes([f[0], f[1]]) & 0x3fff != 0);
    if fragment && matches!(info.protocol, 50 | 17) {
        return Err(DropReason::EspFragment);
    }
    let (esp_offset, udp_sport) = match info.protocol {
        50 => (hl, None),
        17 => {
            let Some(u) = p.get(hl..hl + UDP_HEADER) else { return Ok(Inbound::Other) };
            let dport = u16::from_be_bytes([u[2], u[3]]);
            if dport != NATT_PORT {
                return Ok(Inbound::Other);
            }
            let udp_len = u16::from_be_bytes([u[4], u[5]]) as usize;
            if udp_len < UDP_HEADER || hl + udp_len > info.total_len {
                return Err(DropReason::EspMalformed);
            }
            match esp::classify_udp_4500(&p[hl + UDP_HEADER..hl + udp_len]) {
                esp::Udp4500::Esp => (hl + UDP_HEADER, Some(u16::from_be_bytes([u[0], u[1]]))),
                esp::Udp4500::Keepalive => return Ok(Inbound::Keepalive),
                esp::Udp4500::Ike => return Ok(Inbound::Other),
                esp::Udp4500::Malformed => return Err(DropReason::EspMalformed),
            }
        }
        _ => return Ok(Inbound::Other),
    };
    if info.v6 && info.protocol == 50 && hl != IPV6_HEADER {
        return Err(DropReason::EspMalformed);
    }
    let Some(e) = p.get(esp_offset..info.total_len).and_then(|e| esp::Packet::new_checked(e).ok()) else {
        return Err(DropReason::EspMalformed);
    };
    if e.spi() == 0 {
        return Err(DropReason::EspMalformed);
    }
    Ok(Inbound::Esp(EspLocation {
        spi: e.spi(),
        seq_low: e.sequence_number(),
        v6: info.v6,
        header_len: hl,
        esp_offset,
        end: info.total_len,
        src,
        dst,
        udp_sport,
    }))
}

/// The inner packet after decapsulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decapsulated {
    pub v6: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The full sequence number (with ESN high bits).
    pub seq: u64,
}

/// Decapsulates the ESP packet `loc` (from [`classify_inbound`]) in `buf` with inbound SA `sa`
/// and its replay window. On success `buf` holds the inner IP packet (tunnel mode) or the
/// restored IP packet (transport mode).
#[inline(always)]
pub fn decapsulate<B: PacketBuf>(
    buf: &mut B,
    loc: &EspLocation,
    sa: &Sa,
    window: &mut ReplayWindow,
) -> Result<Decapsulated, DropReason> {
    let alg = sa.transform.algorithm();
    let (iv, icv) = (alg.iv_len(), alg.icv_len());
    if loc.end > buf.len() || loc.esp_offset > loc.end || loc.end - loc.esp_offset < alg.min_packet_len() {
        return Err(DropReason::EspMalformed);
    }
    let outer_tos = match buf.data().first() {
        Some(b) if b >> 4 == 4 => buf.data().get(1).copied().unwrap_or(0),
        _ => {
            let d = buf.data();
            if d.len() >= 2 {
                ((d[0] & 0x0f) << 4) | (d[1] >> 4)
            } else {
                0
            }
        }
    };
    // 1. Anti-replay check before spending cycles on crypto.
    let seq = window.check(loc.seq_low).map_err(replay_reason)?;
    // 2. ICV and decryption.
    let esp = &mut buf.data_mut()[loc.esp_offset..loc.end];
    let hi = sa.esn.then_some((seq >> 32) as u32);
    sa.transform.open(esp, hi).map_err(|e| match e {
        CryptoError::IcvMismatch => DropReason::EspIcvMismatch,
        _ => DropReason::EspMalformed,
    })?;
    // 3. Only an authentic packet moves the window.
    window.update(seq).map_err(replay_reason)?;
    // 4. Trailer: padding and next header.
    let n = esp.len();
    let pad = esp[n - icv - 2] as usize;
    let next_header = esp[n - icv - 1];
    let payload_start = esp::HEADER_LEN + iv;
    let Some(payload_end) = (n - icv - esp::TRAILER_LEN).checked_sub(pad) else {
        return Err(DropReason::EspBadPadding);
    };
    if payload_end < payload_start {
        return Err(DropReason::EspBadPadding);
    }
    if esp[payload_end..payload_end + pad].iter().enumerate().any(|(i, &b)| b != (i + 1) as u8) {
        return Err(DropReason::EspBadPadding);
    }
    if next_header == NH_NONE {
        return Err(DropReason::EspDummy);
    }
    let keep_end = loc.esp_offset + payload_end;
    if !buf.trim(buf.len() - keep_end) {
        return Err(DropReason::EspMalformed);
    }
    if sa.mode.is_tunnel() {
        let v6 = match next_header {
            NH_IPV4 => false,
            NH_IPV6 => true,
            _ => return Err(DropReason::EspBadNextHeader),
        };
        if !buf.adj(loc.esp_offset + payload_start) {
            return Err(DropReason::EspMalformed);
        }
        let info = ip_info(buf.data()).ok_or(DropReason::EspInnerMalformed)?;
        if info.v6 != v6 {
            return Err(DropReason::EspInnerMalformed);
        }
        // Tunnel-mode TFC padding may follow the inner packet (RFC 4303 §2.7).
        let extra = buf.len() - info.total_len;
        if extra > 0 && !buf.trim(extra) {
            return Err(DropReason::EspInnerMalformed);
        }
        ecn_decapsulate(buf.data_mut(), v6, outer_tos & 0x03)?;
        let (src, dst) = addresses(buf.data(), v6);
        Ok(Decapsulated { v6, src, dst, seq })
    } else {
        if next_header == NH_IPV4 || next_header == NH_IPV6 {
            return Err(DropReason::EspBadNextHeader);
        }
        let hl = loc.header_len;
        let shift = loc.esp_offset - hl + payload_start;
        if !restore_transport_header(buf, hl, shift, loc.v6, next_header) {
            return Err(DropReason::EspMalformed);
        }
        Ok(Decapsulated { v6: loc.v6, src: loc.src, dst: loc.dst, seq })
    }
}

/// Transport mode, inbound: moves the IP header (`hl` bytes) forward over the `shift` bytes of
/// IPsec header in front of the payload, drops them, and fixes the header: length, protocol /
/// next header `next_header`, IPv4 checksum. `false` when the buffer is too short.
pub(super) fn restore_transport_header<B: PacketBuf>(
    buf: &mut B,
    hl: usize,
    shift: usize,
    v6: bool,
    next_header: u8,
) -> bool {
    if buf.len() < hl + shift {
        return false;
    }
    buf.data_mut().copy_within(0..hl, shift);
    if !buf.adj(shift) {
        return false;
    }
    let total = buf.len();
    let h = buf.data_mut();
    if v6 {
        h[4..6].copy_from_slice(&((total - IPV6_HEADER) as u16).to_be_bytes());
        h[6] = next_header;
    } else {
        h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        h[9] = next_header;
        ipv4_checksum(&mut h[..hl]);
    }
    true
}

pub(super) fn replay_reason(e: ReplayError) -> DropReason {
    match e {
        ReplayError::Replayed => DropReason::EspReplayed,
        ReplayError::TooOld | ReplayError::Zero => DropReason::EspTooOld,
    }
}

/// RFC 6040 §4.2 decapsulation: outer CE marks an ECN-capable inner packet CE; a Not-ECT inner
/// packet under CE is dropped.
pub(super) fn ecn_decapsulate(inner: &mut [u8], v6: bool, outer_ecn: u8) -> Result<(), DropReason> {
    const CE: u8 = 0b11;
    if outer_ecn != CE {
        return Ok(());
    }
    let inner_ecn = if v6 { (inner[1] >> 4) & 0x03 } else { inner[1] & 0x03 };
    match inner_ecn {
        0 => Err(DropReason::EcnConflict),
        CE => Ok(()),
        _ => {
            if v6 {
                inner[1] |= CE << 4;
            } else {
                let old = u16::from_be_bytes([inner[0], inner[1]]);
                inner[1] |= CE;
                let new = u16::from_be_bytes([inner[0], inner[1]]);
                let c = checksum::update(u16::from_be_bytes([inner[10], inner[11]]), old, new);
                inner[10..12].copy_from_slice(&c.to_be_bytes());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_scapy;
