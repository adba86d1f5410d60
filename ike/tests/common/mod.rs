//! Shared by the two-peer IKE tests (`sa.rs` for IKEv2, `v1.rs` for IKEv1): a deterministic
//! RNG, the two peers' addresses and their protected subnets.
#![allow(dead_code)]

use ike::codec::ts::TrafficSelector;
use rand_core::{CryptoRng, RngCore};
use std::net::Ipv4Addr;

/// splitmix64: deterministic, for tests only.
pub struct TestRng(pub u64);

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for c in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for TestRng {}

pub const WEST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const EAST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const NAT_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);

pub fn net(a: [u8; 4], b: [u8; 4]) -> TrafficSelector {
    TrafficSelector::Ipv4 { protocol: 0, ports: (0, 65535), start: a.into(), end: b.into() }
}

pub fn west_net() -> TrafficSelector {
    net([10, 1, 0, 0], [10, 1, 255, 255])
}

pub fn east_net() -> TrafficSelector {
    net([10, 2, 0, 0], [10, 2, 255, 255])
}
