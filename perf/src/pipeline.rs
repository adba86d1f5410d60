//! `espgw-perf pipeline`: the ESP tunnel encapsulation and decapsulation espgw's workers run,
//! in memory without I/O (the packet in a buffer laid out like an mbuf), in ns per packet: with
//! one SA, and with packets spread over 100,000 SAs (round-robin: every packet's SA state is
//! cold), the SA count as the peer. AES-128-GCM, IPv4 in IPv4; sizes are the inner packet
//! plus 18 bytes (an Ethernet frame with FCS, as in `esp`).

use crate::report;
use gateway::buf::{PacketBuf, VecBuf};
use gateway::config::Direction;
use gateway::ipsec::esp::{self, Inbound};
use gateway::ipsec::replay::ReplayWindow;
use gateway::ipsec::sa::Sa;
use serde_json::json;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Instant;

fn sa(spi: u32, direction: Direction) -> Result<Sa, String> {
    let ends = (Ipv4Addr::new(198, 51, 100, 1).into(), Ipv4Addr::new(198, 51, 100, 2).into());
    // Replay window off: the same packets go round again (RFC 4303 §3.4.3 lets a receiver
    // do that).
    crate::esp::gcm128_sa(format!("sa-{spi}"), direction, spi, ends, &[7; 20], 0)
}

/// The inner IPv4/UDP packet of a `size`-byte frame.
fn inner(size: usize) -> Vec<u8> {
    let f = crate::pcap::udp_frame(
        [0; 6],
        Ipv4Addr::new(192, 0, 2, 10),
        Ipv4Addr::new(203, 0, 113, 1),
        1024,
        size - 4,
    );
    f[14..].to_vec()
}

/// Median ns per packet of encapsulation and of decapsulation over `sas`.
fn measure(sas: &[Sa], size: usize, rounds: usize) -> Result<(f64, f64), String> {
    let clear = inner(size);
    let n = sas.len().max(1024);
    // The ESP packets, one per SA (sequence numbers from 1), made once.
    let mut esp_packets = Vec::with_capacity(n);
    for i in 0..n {
        let s = &sas[i % sas.len()];
        let mut b = VecBuf::like_mbuf(&clear);
        let seq = (i / sas.len()) as u64 + 1;
        esp::encapsulate(&mut b, s, seq, &seq.to_be_bytes()).map_err(|r| r.name().to_string())?;
        esp_packets.push(b.data().to_vec());
    }
    let mut windows: Vec<ReplayWindow> = sas.iter().map(|_| ReplayWindow::disabled()).collect();
    let (mut enc, mut dec) = (Vec::new(), Vec::new());
    let mut buf = VecBuf::like_mbuf(&clear);
    for _ in 0..rounds {
        let t = Instant::now();
        for i in 0..n {
            buf = VecBuf::like_mbuf(&clear);
            let seq = i as u64 + 1;
            if let Err(r) = esp::encapsulate(&mut buf, &sas[i % sas.len()], seq, &seq.to_be_bytes()) {
                return Err(format!("encapsulation of packet {i} ({size} B) failed: {}", r.name()));
            }
            black_box(buf.data().len());
        }
        enc.push(t.elapsed().as_nanos() as f64 / n as f64);
        let t = Instant::now();
        for (i, p) in esp_packets.iter().enumerate() {
            buf = VecBuf::like_mbuf(p);
            let Ok(Inbound::Esp(loc)) = esp::classify_inbound(buf.data()) else {
                return Err("not ESP".into());
            };
            let k = i % sas.len();
            if let Err(r) = esp::decapsulate(&mut buf, &loc, &sas[k], &mut windows[k]) {
                return Err(format!("decapsulation of packet {i} ({size} B) failed: {}", r.name()));
            }
            black_box(buf.data().len());
        }
        dec.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    black_box(buf.data().len());
    Ok((report::median(&mut enc), report::median(&mut dec)))
}

pub fn main(args: &[String]) -> Result<(), String> {
    let mut count = 100_000u32;
    let mut out = PathBuf::from("target/perf/pipeline.json");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sas" => count = it.next().and_then(|v| v.parse().ok()).ok_or("--sas needs a number")?,
            "--out" => out = PathBuf::from(it.next().ok_or("--out needs a file")?),
            x => return Err(format!("unknown option {x}")),
        }
    }
    let one = vec![sa(0x1001, Direction::Out)?];
    let many: Vec<Sa> = (0..count).map(|i| sa(0x1000 + i, Direction::Out)).collect::<Result<_, _>>()?;
    let mut results = Vec::new();
    println!(
        "{:<24} {:>5} {:>14} {:>16} {:>6}",
        "scenario",
        "size",
        "1 SA ns",
        format!("{count} SAs ns"),
        "ratio"
    );
    for size in [64usize, 512, 1420] {
        let (e1, d1) = measure(&one, size, 15)?;
        let (en, dn) = measure(&many, size, 5)?;
        for (what, single, spread) in [("encrypt", e1, en), ("decrypt", d1, dn)] {
            let ratio = (single / spread * 100.0).round() / 100.0;
            println!(
                "{:<24} {:>5} {:>14.1} {:>16.1} {:>6}",
                format!("esp-{what}-pipeline"),
                size,
                single,
                spread,
                ratio
            );
            results.push(json!({"scenario": format!("esp-{what}-pipeline"), "size": size.to_string(), "cores": 1,
                "espgw": (spread * 10.0).round() / 10.0, "peer": format!("the same with 1 SA ({count} SAs measured)"),
                "peer_value": (single * 10.0).round() / 10.0, "unit": "ns", "ratio": ratio}));
        }
    }
    report::write(&out, results).map_err(|e| format!("{}: {e}", out.display()))
}
