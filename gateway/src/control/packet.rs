//! Builders for the frames the control path sends: ARP, ICMPv4, ICMPv6 (echo replies, errors,
//! neighbour solicitations and advertisements). The control path may allocate; these return
//! complete Ethernet frames as `Vec<u8>`.

use crate::config::MacAddr;
use crate::wire::{arp, checksum, ethernet, ipv4, ipv6, EtherType, EthernetAddress, IpProtocol};
use std::net::{Ipv4Addr, Ipv6Addr};

pub const ICMP4_ECHO_REPLY: u8 = 0;
pub const ICMP4_DST_UNREACHABLE: u8 = 3;
pub const ICMP4_ECHO_REQUEST: u8 = 8;
pub const ICMP4_TIME_EXCEEDED: u8 = 11;
pub const ICMP6_DST_UNREACHABLE: u8 = 1;
pub const ICMP6_PACKET_TOO_BIG: u8 = 2;
pub const ICMP6_TIME_EXCEEDED: u8 = 3;
pub const ICMP6_ECHO_REQUEST: u8 = 128;
pub const ICMP6_ECHO_REPLY: u8 = 129;
pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
pub const ND_NEIGHBOR_ADVERT: u8 = 136;
pub const ND_OPT_SOURCE_LLADDR: u8 = 1;
pub const ND_OPT_TARGET_LLADDR: u8 = 2;

/// Largest ICMPv4 error datagram (RFC 1812 §4.3.2.3) and ICMPv6 error (RFC 4443 §2.4(c)).
pub const ICMP4_ERROR_MAX: usize = 576;
pub const ICMP6_ERROR_MAX: usize = 1280;
pub const DEFAULT_TTL: u8 = 64;

fn eth_header(frame: &mut [u8], src: MacAddr, dst: MacAddr, ethertype: EtherType) {
    let mut eth = ethernet::Packet::new_unchecked(frame);
    ethernet::Repr { src_addr: EthernetAddress(src.0), dst_addr: EthernetAddress(dst.0), ethertype }
        .emit(&mut eth);
}

/// An ARP request (`target_mac` None: broadcast) or reply.
pub fn arp_frame(
    op: arp::Operation,
    src_mac: MacAddr,
    src_ip: Ipv4Addr,
    dst_mac: Option<MacAddr>,
    target_mac: MacAddr,
    target_ip: Ipv4Addr,
) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN + arp::ETHERNET_IPV4_LEN];
    eth_header(&mut f, src_mac, dst_mac.unwrap_or(MacAddr([0xff; 6])), EtherType::ARP);
    let mut p = arp::Packet::new_unchecked(&mut f[ethernet::HEADER_LEN..]);
    arp::Repr {
        operation: op,
        sender_hardware_addr: EthernetAddress(src_mac.0),
        sender_protocol_addr: src_ip,
        target_hardware_addr: EthernetAddress(target_mac.0),
        target_protocol_addr: target_ip,
    }
    .emit(&mut p);
    f
}

/// A UDP datagram over IPv4 (DF clear, TTL 64, CS6), with its checksum.
pub fn udp4_frame(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Vec<u8> {
    use crate::wire::udp;
    let udp_len = udp::HEADER_LEN + payload.len();
    let ip_off = ethernet::HEADER_LEN;
    let l4 = ip_off + ipv4::HEADER_LEN;
    let mut f = vec![0u8; l4 + udp_len];
    eth_header(&mut f, src_mac, dst_mac, EtherType::IPV4);
    {
        let mut ip = ipv4::Packet::new_unchecked(&mut f[ip_off..]);
        ipv4::Repr {
            src_addr: src,
            dst_addr: dst,
            protocol: IpProtocol::UDP,
            payload_len: udp_len,
            ttl: DEFAULT_TTL,
            dscp: 0x30,
            ecn: 0,
            ident: 0,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
        }
        .emit(&mut ip);
    }
    f[l4 + udp::HEADER_LEN..].copy_from_slice(payload);
    let mut p = udp::Packet::new_unchecked(&mut f[l4..]);
    udp::Repr { src_port, dst_port, payload_len: payload.len() }.emit(&mut p, src.into(), dst.into());
    f
}

/// A UDP datagram over IPv6 (the checksum is mandatory there, RFC 8200 §8.1).
pub fn udp6_frame(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Vec<u8> {
    use crate::wire::udp;
    let udp_len = udp::HEADER_LEN + payload.len();
    let ip_off = ethernet::HEADER_LEN;
    let l4 = ip_off + ipv6::HEADER_LEN;
    let mut f = vec![0u8; l4 + udp_len];
    eth_header(&mut f, src_mac, dst_mac, EtherType::IPV6);
    {
        let mut ip = ipv6::Packet::new_unchecked(&mut f[ip_off..]);
        ipv6::Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::UDP,
            payload_len: udp_len,
            hop_limit: DEFAULT_TTL,
            dscp: 0x30,
            ecn: 0,
            flow_label: 0,
        }
        .emit(&mut ip);
    }
    f[l4 + udp::HEADER_LEN..].copy_from_slice(payload);
    let mut p = udp::Packet::new_unchecked(&mut f[l4..]);
    udp::Repr { src_port, dst_port, payload_len: payload.len() }.emit(&mut p, src.into(), dst.into());
    f
}

/// An ICMPv4 message: `icmp_type`, `code`, the 4 bytes after the checksum, then `body`.
#[allow(clippy::too_many_arguments)]
pub fn icmp4_frame(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    body: &[u8],
) -> Vec<u8> {
    let icmp_len = 8 + body.len();
    let ip_off = ethernet::HEADER_LEN;
    let l4 = ip_off + ipv4::HEADER_LEN;
    let mut f = vec![0u8; l4 + icmp_len];
    eth_header(&mut f, src_mac, dst_mac, EtherType::IPV4);
    {
        let mut ip = ipv4::Packet::new_unchecked(&mut f[ip_off..]);
        ipv4::Repr {
            src_addr: src,
            dst_addr: dst,
            protocol: IpProtocol::ICMP,
            payload_len: icmp_len,
            ttl: DEFAULT_TTL,
            dscp: 0x30, // CS6: network control
            ecn: 0,
            ident: 0,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
        }
        .emit(&mut ip);
    }
    let m = &mut f[l4..];
    m[0] = icmp_type;
    m[1] = code;
    m[4..8].copy_from_slice(&rest);
    m[8..].copy_from_slice(body);
    let c = checksum::checksum(m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    f
}

/// An ICMPv6 message with the pseudo-header checksum.
#[allow(clippy::too_many_arguments)]
pub fn icmp6_frame(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    body: &[u8],
) -> Vec<u8> {
    let icmp_len = 8 + body.len();
    let ip_off = ethernet::HEADER_LEN;
    let l4 = ip_off + ipv6::HEADER_LEN;
    let mut f = vec![0u8; l4 + icmp_len];
    eth_header(&mut f, src_mac, dst_mac, EtherType::IPV6);
    {
        let mut ip = ipv6::Packet::new_unchecked(&mut f[ip_off..]);
        ipv6::Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::ICMPV6,
            payload_len: icmp_len,
            hop_limit,
            dscp: 0x30,
            ecn: 0,
            flow_label: 0,
        }
        .emit(&mut ip);
    }
    let m = &mut f[l4..];
    m[0] = icmp_type;
    m[1] = code;
    m[4..8].copy_from_slice(&rest);
    m[8..].copy_from_slice(body);
    let c = !checksum::combine(&[
        checksum::pseudo_header_v6(src, dst, IpProtocol::ICMPV6, icmp_len as u32),
        checksum::sum(m),
    ]);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    f
}

/// ND option carrying a link-layer address (8 bytes: type, length 1, MAC).
pub fn lladdr_option(kind: u8, mac: MacAddr) -> [u8; 8] {
    let mut o = [kind, 1, 0, 0, 0, 0, 0, 0];
    o[2..].copy_from_slice(&mac.0);
    o
}

/// The solicited-node multicast group of `target` (RFC 4291 §2.7.1).
pub fn solicited_node(target: Ipv6Addr) -> Ipv6Addr {
    let o = target.octets();
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | o[13] as u16, u16::from_be_bytes([o[14], o[15]]))
}

/// The Ethernet multicast address of an IPv6 group (RFC 2464 §7).
pub fn ipv6_multicast_mac(group: Ipv6Addr) -> MacAddr {
    let o = group.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// The EUI-64 link-local address of a MAC (RFC 4291 appendix A).
pub fn link_local_from_mac(mac: MacAddr) -> Ipv6Addr {
    let m = mac.0;
    Ipv6Addr::from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
}

/// Verifies an ICMPv6 checksum over `msg` (the whole ICMPv6 message).
pub fn icmp6_checksum_ok(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> bool {
    checksum::combine(&[
        checksum::pseudo_header_v6(src, dst, IpProtocol::ICMPV6, msg.len() as u32),
        checksum::sum(msg),
    ]) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solicited_node_and_multicast_mac() {
        let t: Ipv6Addr = "2001:db8:1::1:2:3".parse().unwrap();
        assert_eq!(solicited_node(t), "ff02::1:ff02:3".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ipv6_multicast_mac(solicited_node(t)).0, [0x33, 0x33, 0xff, 0x02, 0x00, 0x03]);
    }

    #[test]
    fn link_local_eui64() {
        let ll = link_local_from_mac(MacAddr([0x02, 0x00, 0x5e, 0x10, 0x20, 0x30]));
        assert_eq!(ll, "fe80::5eff:fe10:2030".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn icmp_frames_have_valid_checksums() {
        let m1 = MacAddr([2, 0, 0, 0, 0, 1]);
        let m2 = MacAddr([2, 0, 0, 0, 0, 2]);
        let f = icmp4_frame(
            m1,
            m2,
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            0,
            0,
            [0, 1, 0, 2],
            b"ping",
        );
        let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(checksum::checksum(ip.payload()), 0);
        let s: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let d: Ipv6Addr = "2001:db8:1::2".parse().unwrap();
        let f = icmp6_frame(m1, m2, s, d, 64, 129, 0, [0, 1, 0, 2], b"ping");
        let ip = ipv6::Packet::new_checked(&f[14..]).unwrap();
        assert!(icmp6_checksum_ok(s, d, ip.payload()));
    }
}
