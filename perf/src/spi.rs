//! `espgw-perf spi`: the inbound SA lookup (SPI and outer destination → SA) as a worker does
//! it per ESP packet, in a table of 100,000 SAs next to the same lookup in a table of one SA.
//! The SPIs looked up are drawn at random from the installed ones (4,096 precomputed, so the
//! drawing is not measured), which is the worst case for the caches; medians of 25 rounds.

use crate::report;
use gateway::config::Direction;
use gateway::ipsec::sadb::{SaDirection, SadbBuilder};
use serde_json::json;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Instant;

const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));

/// The next value of a xorshift64 generator with state `x`.
fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn table(n: u32) -> Result<(gateway::ipsec::sadb::IpsecTables, Vec<u32>), String> {
    let mut b = SadbBuilder::new();
    let mut spis = Vec::with_capacity(n as usize);
    let mut seen = std::collections::HashSet::new();
    // Random SPIs, as IKE allocates them (distinct, never 0..255): a seeded xorshift, so every
    // run looks up the same table. (A sequence like i × constant would flatter a table that
    // hashes by multiplication: it spreads such sequences perfectly.)
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..n {
        let spi = loop {
            let s = (xorshift(&mut x) >> 32) as u32;
            if s >= 0x100 && seen.insert(s) {
                break s;
            }
        };
        let ends = (DST, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 2)));
        let sa = crate::esp::gcm128_sa(format!("in-{i}"), Direction::In, spi, ends, &[7; 20], 1024)?;
        b.add(sa, SaDirection::In);
        spis.push(spi);
    }
    Ok((b.snapshot(), spis))
}

/// Median ns per lookup over `rounds` rounds of 4,096 × 64 lookups.
fn measure(t: &gateway::ipsec::sadb::IpsecTables, spis: &[u32], rounds: usize) -> f64 {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let keys: Vec<u32> = (0..4096).map(|_| spis[(xorshift(&mut x) % spis.len() as u64) as usize]).collect();
    let mut v = Vec::new();
    for _ in 0..rounds {
        let t0 = Instant::now();
        let mut found = 0u64;
        for _ in 0..64 {
            for k in &keys {
                found += u64::from(black_box(t.inbound_sa(black_box(*k), DST)).map_or(0, |e| e.0));
            }
        }
        black_box(found);
        v.push(t0.elapsed().as_nanos() as f64 / (64.0 * keys.len() as f64));
    }
    report::median(&mut v)
}

pub fn main(args: &[String]) -> Result<(), String> {
    let mut n = 100_000u32;
    let mut out = PathBuf::from("target/perf/spi.json");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sas" => n = it.next().and_then(|v| v.parse().ok()).ok_or("--sas needs a number")?,
            "--out" => out = PathBuf::from(it.next().ok_or("--out needs a file")?),
            x => return Err(format!("unknown option {x}")),
        }
    }
    let (one, one_spis) = table(1)?;
    let (many, many_spis) = table(n)?;
    // Alternate to share any load between the two.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        a.push(measure(&one, &one_spis, 5));
        b.push(measure(&many, &many_spis, 5));
    }
    let (one_ns, many_ns) = (report::median(&mut a), report::median(&mut b));
    let ratio = (one_ns / many_ns * 100.0).round() / 100.0;
    println!("spi-lookup: 1 SA {one_ns:.2} ns, {n} SAs {many_ns:.2} ns per lookup (ratio {ratio})");
    let scenario = format!("spi-lookup-{}k", n / 1000);
    let r = json!({"scenario": scenario, "size": "-", "cores": 1, "espgw": (many_ns * 100.0).round() / 100.0,
        "peer": "the same lookup with 1 SA", "peer_value": (one_ns * 100.0).round() / 100.0, "unit": "ns", "ratio": ratio});
    report::write(&out, vec![r]).map_err(|e| format!("{}: {e}", out.display()))
}
