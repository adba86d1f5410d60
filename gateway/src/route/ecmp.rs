//! The flow hash that spreads packets over equal-cost VTIs ([`super::Fib::pick_vti`]): the
//! addresses, the protocol and, for TCP, UDP and SCTP first fragments, the ports, so every
//! packet of a connection takes the same tunnel (no reordering) while connections spread.

/// Hash of an IPv4 or IPv6 packet's flow; 0 for anything too short to tell.
#[inline]
pub fn flow_hash(ip: &[u8]) -> u32 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut mix = |x: u64| {
        h = (h ^ x).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 29;
    };
    let (proto, l4) = match ip.first().map(|b| b >> 4) {
        Some(4) if ip.len() >= 20 => {
            mix(u64::from(u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]])));
            mix(u64::from(u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]])));
            let first_fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            (ip[9], if first_fragment { ip.get(ihl..ihl + 4) } else { None })
        }
        Some(6) if ip.len() >= 40 => {
            for w in ip[8..40].chunks_exact(8) {
                mix(u64::from_be_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]));
            }
            (ip[6], ip.get(40..44))
        }
        _ => return 0,
    };
    mix(u64::from(proto));
    if let (6 | 17 | 132, Some(p)) = (proto, l4) {
        mix(u64::from(u32::from_be_bytes([p[0], p[1], p[2], p[3]])));
    }
    (h >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0, 8, 0, 0]);
        p
    }

    #[test]
    fn same_flow_same_hash_and_flows_spread() {
        let a = udp4([192, 0, 2, 2], [198, 51, 100, 2], 5000, 53);
        assert_eq!(flow_hash(&a), flow_hash(&a.clone()));
        // Later fragments carry no ports: same hash as a portless first fragment would not be
        // guaranteed, but the TTL or ID never matters.
        let mut b = a.clone();
        b[8] = 3;
        b[4] = 0x77;
        assert_eq!(flow_hash(&a), flow_hash(&b));
        // 4,096 source ports over 2 and 3 tunnels: each gets a fair share (within 10%).
        for n in [2u64, 3] {
            let mut bins = vec![0u32; n as usize];
            for port in 0..4096u16 {
                let h = flow_hash(&udp4([192, 0, 2, 2], [198, 51, 100, 2], 1024 + port, 53));
                bins[((u64::from(h) * n) >> 32) as usize] += 1;
            }
            let fair = 4096 / n as u32;
            assert!(bins.iter().all(|&c| c.abs_diff(fair) < fair / 10), "{bins:?}");
        }
        assert_eq!(flow_hash(&[0x45, 0]), 0);
        assert_eq!(flow_hash(&[]), 0);
        let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        v6.extend_from_slice(&[0x20, 1, 0xd, 0xb8].repeat(8));
        v6.extend_from_slice(&[0, 53, 0, 53]);
        assert_ne!(flow_hash(&v6), 0);
        assert_eq!(flow_hash(&v6[..39]), 0);
    }
}
