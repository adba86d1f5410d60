//! Interop with an independent ESP implementation: scapy's
//! `scapy.layers.ipsec.SecurityAssociation` (on the `cryptography` package).
//! `scripts/gen_scapy_vectors.py` produced `scapy_vectors.json`; every packet
//! must open with `Transform` to the recorded payload plus RFC 4303 default
//! padding, and sealing that plaintext with the same IV must reproduce
//! scapy's bytes exactly.

use serde_json::Value;

use super::test_util::{build_esp, hex, pad_payload};
use super::{Algorithm, Transform, ESP_HEADER_LEN};

const VECTORS: &str = include_str!("scapy_vectors.json");

fn algorithm(name: &str) -> Algorithm {
    Algorithm::ALL
        .into_iter()
        .find(|a| format!("{a:?}") == name)
        .unwrap_or_else(|| panic!("unknown algorithm {name}"))
}

#[test]
fn scapy_packets_open_and_reseal_identically() {
    let doc: Value = serde_json::from_str(VECTORS).expect("json");
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert_eq!(vectors.len(), 7 * 19);
    let mut seen = std::collections::HashSet::new();
    for (i, v) in vectors.iter().enumerate() {
        let alg = algorithm(v["algorithm"].as_str().unwrap());
        let ek = hex(v["enc_key"].as_str().unwrap());
        let ak = hex(v["auth_key"].as_str().unwrap());
        let spi = v["spi"].as_u64().unwrap() as u32;
        let seq = v["seq"].as_u64().unwrap() as u32;
        let esn = v["esn"].as_u64().map(|x| x as u32);
        let iv = hex(v["iv"].as_str().unwrap());
        let payload = hex(v["payload"].as_str().unwrap());
        let nh = v["next_header"].as_u64().unwrap() as u8;
        let esp = hex(v["esp"].as_str().unwrap());
        seen.insert((alg, esn.is_some()));

        let t = Transform::new(alg, &ek, &ak).expect("keys");
        let padded = pad_payload(&payload, nh, alg.block_align());
        let ct_start = ESP_HEADER_LEN + alg.iv_len();

        // Open scapy's packet.
        let mut pkt = esp.clone();
        t.open(&mut pkt, esn).unwrap_or_else(|e| panic!("vector {i} ({alg:?}): open: {e}"));
        assert_eq!(&pkt[ct_start..pkt.len() - alg.icv_len()], &padded[..], "vector {i} ({alg:?}) plaintext");

        // Seal the same plaintext with the same IV: scapy's exact bytes.
        let mut mine = build_esp(alg, spi, seq, &iv, &padded);
        t.seal(&mut mine, esn).expect("seal");
        assert_eq!(mine, esp, "vector {i} ({alg:?}) sealed bytes");

        // And the wrong ESN setting is refused.
        let mut pkt = esp.clone();
        let other = if esn.is_some() { None } else { Some(1) };
        assert!(t.open(&mut pkt, other).is_err(), "vector {i}");
    }
    for alg in Algorithm::ESP {
        assert!(seen.contains(&(alg, false)) && seen.contains(&(alg, true)), "{alg:?} coverage");
    }
}
