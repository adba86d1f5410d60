//! NAT traversal for IKEv1 (RFC 3947) and the vendor IDs that announce it and DPD (RFC 3706).
//!
//! Both peers send the RFC 3947 vendor ID in messages 1 and 2; if both did, messages 3 and 4
//! carry NAT-D payloads: first the hash of the receiver's address and port as the sender sees
//! it, then the sender's own. `HASH = hash(CKY-I | CKY-R | IP | port)` with the negotiated
//! hash. A mismatch of the first one says the receiver is behind a NAT, of the others that
//! the sender is. With a NAT, the initiator moves to port 4500 for message 5 (and everything
//! after), where each IKE message is preceded by the four-zero-octet non-ESP marker
//! (RFC 3948 §2.2), and ESP is UDP-encapsulated (encapsulation modes 3 / 4).

use super::codec::Payload;
use crate::crypto::hash::{HashAlg, Hasher};
use crate::sa::NatStatus;
use std::net::{IpAddr, SocketAddr};

/// MD5("RFC 3947").
pub const VID_RFC3947: [u8; 16] =
    [0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f];

/// The RFC 3706 DPD vendor ID (version 1.0).
pub const VID_DPD: [u8; 16] =
    [0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00];

pub fn natd_hash(hash: HashAlg, cky_i: u64, cky_r: u64, addr: SocketAddr) -> Vec<u8> {
    let ip = match addr.ip() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    Hasher::digest(hash, &[&cky_i.to_be_bytes(), &cky_r.to_be_bytes(), &ip, &addr.port().to_be_bytes()])
}

/// The NAT-D payloads a sender at `local` puts in a message to `remote`.
pub fn natd_payloads(
    hash: HashAlg,
    cky_i: u64,
    cky_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
) -> [Payload; 2] {
    [
        Payload::NatD(natd_hash(hash, cky_i, cky_r, remote)),
        Payload::NatD(natd_hash(hash, cky_i, cky_r, local)),
    ]
}

/// NAT status from a received message's NAT-D payloads and the addresses it arrived with.
/// Without NAT-D payloads there is nothing to detect.
pub fn detect(
    hash: HashAlg,
    payloads: &[Payload],
    cky_i: u64,
    cky_r: u64,
    src: SocketAddr,
    dst: SocketAddr,
) -> NatStatus {
    let natd: Vec<&[u8]> = payloads
        .iter()
        .filter_map(|p| match p {
            Payload::NatD(d) => Some(d.as_slice()),
            _ => None,
        })
        .collect();
    let Some((first, rest)) = natd.split_first() else {
        return NatStatus::default();
    };
    let me = natd_hash(hash, cky_i, cky_r, dst);
    let them = natd_hash(hash, cky_i, cky_r, src);
    NatStatus {
        local_behind_nat: *first != me.as_slice(),
        remote_behind_nat: !rest.contains(&them.as_slice()),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn detection() {
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let b: SocketAddr = "198.51.100.1:500".parse().unwrap();
        let n: SocketAddr = "203.0.113.9:40500".parse().unwrap();
        let sent = natd_payloads(HashAlg::Sha256, 1, 2, a, b);
        assert_eq!(detect(HashAlg::Sha256, &sent, 1, 2, a, b), NatStatus::default());
        let st = detect(HashAlg::Sha256, &sent, 1, 2, n, b);
        assert!(st.remote_behind_nat && !st.local_behind_nat);
        let back = natd_payloads(HashAlg::Sha256, 1, 2, b, n);
        let st = detect(HashAlg::Sha256, &back, 1, 2, b, a);
        assert!(st.local_behind_nat && !st.remote_behind_nat);
        assert_eq!(detect(HashAlg::Sha1, &[], 1, 2, a, b), NatStatus::default());
    }
}
