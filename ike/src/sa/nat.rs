//! NAT detection and NAT traversal framing (RFC 7296 §2.23, RFC 3948 §2.2).
//!
//! NAT_DETECTION_*_IP data = SHA-1(SPIi | SPIr | IP address | port). Each side hashes the
//! addresses as it sends them; the receiver recomputes with the addresses it actually saw. A
//! mismatch on the source hash means the sender is behind a NAT, on the destination hash that
//! the receiver is. Once a NAT is found, IKE moves to port 4500 where every IKE message is
//! preceded by a four-zero-octet non-ESP marker (an ESP packet starts with a non-zero SPI).

use crate::codec::notify::Notify;
use crate::codec::payload::Payload;
use crate::codec::NotifyType;
use crate::crypto::hash::{HashAlg, Hasher};
use std::net::{IpAddr, SocketAddr};

pub const NAT_T_PORT: u16 = 4500;
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// What NAT detection found in IKE_SA_INIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NatStatus {
    pub local_behind_nat: bool,
    pub remote_behind_nat: bool,
}

impl NatStatus {
    pub fn any(self) -> bool {
        self.local_behind_nat || self.remote_behind_nat
    }
}

pub(crate) fn nat_hash(spi_i: u64, spi_r: u64, addr: SocketAddr) -> Vec<u8> {
    let ip = match addr.ip() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    Hasher::digest(
        HashAlg::Sha1,
        &[&spi_i.to_be_bytes(), &spi_r.to_be_bytes(), &ip, &addr.port().to_be_bytes()],
    )
}

/// The two NAT-D notifies for a message sent from `src` to `dst`.
pub(crate) fn nat_notifies(spi_i: u64, spi_r: u64, src: SocketAddr, dst: SocketAddr) -> [Payload; 2] {
    [
        Payload::Notify(Notify::new(NotifyType::NAT_DETECTION_SOURCE_IP, nat_hash(spi_i, spi_r, src))),
        Payload::Notify(Notify::new(NotifyType::NAT_DETECTION_DESTINATION_IP, nat_hash(spi_i, spi_r, dst))),
    ]
}

/// Checks received NAT-D notifies against the addresses the message really had. Without the
/// notifies the peer does not do NAT-T and no NAT is assumed.
pub(crate) fn detect(
    payloads: &[Payload],
    spi_i: u64,
    spi_r: u64,
    src: SocketAddr,
    dst: SocketAddr,
) -> NatStatus {
    let mut srcs = Vec::new();
    let mut dsts = Vec::new();
    for p in payloads {
        if let Payload::Notify(n) = p {
            if n.ty == NotifyType::NAT_DETECTION_SOURCE_IP {
                srcs.push(n.data.as_slice());
            } else if n.ty == NotifyType::NAT_DETECTION_DESTINATION_IP {
                dsts.push(n.data.as_slice());
            }
        }
    }
    let s = nat_hash(spi_i, spi_r, src);
    let d = nat_hash(spi_i, spi_r, dst);
    NatStatus {
        remote_behind_nat: !srcs.is_empty() && !srcs.contains(&s.as_slice()),
        local_behind_nat: !dsts.is_empty() && !dsts.contains(&d.as_slice()),
    }
}

/// The IKE message in a datagram received on `local_port`: on 4500 it must carry the marker.
pub(crate) fn unframe(local_port: u16, datagram: &[u8]) -> Option<&[u8]> {
    if local_port == NAT_T_PORT {
        datagram.strip_prefix(&NON_ESP_MARKER[..])
    } else {
        Some(datagram)
    }
}

/// The datagram for an IKE message sent from `local_port`.
pub(crate) fn frame(local_port: u16, message: Vec<u8>) -> Vec<u8> {
    if local_port == NAT_T_PORT {
        let mut d = NON_ESP_MARKER.to_vec();
        d.extend_from_slice(&message);
        d
    } else {
        message
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn detection_and_framing() {
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let b: SocketAddr = "198.51.100.1:500".parse().unwrap();
        let nat: SocketAddr = "203.0.113.9:40000".parse().unwrap();
        let sent = nat_notifies(1, 0, a, b);
        assert_eq!(detect(&sent, 1, 0, a, b), NatStatus::default());
        let st = detect(&sent, 1, 0, nat, b);
        assert!(st.remote_behind_nat && !st.local_behind_nat && st.any());
        assert_eq!(nat_hash(1, 0, a).len(), 20);
        assert_eq!(unframe(4500, &[0, 0, 0, 0, 9]), Some(&[9u8][..]));
        assert_eq!(unframe(4500, &[0, 0, 0, 1, 9]), None);
        assert_eq!(unframe(500, &[0, 0, 0, 1]), Some(&[0u8, 0, 0, 1][..]));
        assert_eq!(frame(4500, vec![7]), vec![0, 0, 0, 0, 7]);
    }
}
