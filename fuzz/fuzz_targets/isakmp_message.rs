//! Fuzz target: the ISAKMP (IKEv1) parser and a responder's first step on arbitrary datagrams.
//! Nothing may panic. A clear message that parses must survive encode → parse unchanged; an
//! encrypted one's body goes through the payload-chain decoder as decrypted plaintext would
//! (trailing padding allowed); and the bytes are offered to a responder as a first message.
#![no_main]

use ike::codec::id::Identification;
use ike::sa::{ChildConfig, IkeProposal, PeerConfig};
use ike::v1::codec::{decode_chain, split, Message};
use ike::v1::{IsakmpSa, V1Config};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// A fixed RNG: the target must be deterministic.
struct Fixed(u64);

impl rand_core::RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rand_core::CryptoRng for Fixed {}

fn config() -> Arc<V1Config> {
    static CFG: OnceLock<Arc<V1Config>> = OnceLock::new();
    CFG.get_or_init(|| {
        let mut p = PeerConfig::new(
            "fuzz",
            "192.0.2.1:500".parse().unwrap(),
            "192.0.2.2:500".parse().unwrap(),
            Identification::Fqdn("a.example".into()),
            None,
            b"fuzzing-psk-0123",
        );
        p.ike_proposals = vec![IkeProposal::parse("aes128-sha256-modp2048").unwrap()];
        p.children.push(ChildConfig::new("c", vec![], vec![]));
        let mut c = V1Config::new(p);
        c.aggressive = true;
        Arc::new(c)
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        if let Ok(bytes) = m.encode() {
            let again = Message::parse(&bytes).expect("an encoded message parses");
            assert_eq!(again, m, "encode/parse round trip");
        }
    }
    if let Ok((h, body)) = split(data) {
        let _ = decode_chain(h.next, body, true);
    }
    let mut rng = Fixed(7);
    let _ = IsakmpSa::accept(
        config(),
        Instant::now(),
        "192.0.2.2:500".parse().unwrap(),
        "192.0.2.1:500".parse().unwrap(),
        data,
        &mut rng,
    );
});
