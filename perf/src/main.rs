//! `espgw-perf`: espgw's benchmarks, each measured next to a reference in the same run.
//!
//! ```text
//! espgw-perf forward [--runs N] [--seconds S] [--frame-len 60] [--burst 32] [--no-l3fwd] [--out target/perf/forward.json]
//! espgw-perf esp [--sizes 64,512,1420] [--runs N] [--seconds S] [--dir encrypt|decrypt|both] [--out target/perf/esp.json]
//! espgw-perf crypto [--sizes 64,128,256,512,1024,1420] [--samples N] [--out target/perf/crypto.json]
//! espgw-perf spi [--sas 100000] [--out target/perf/spi.json]
//! espgw-perf pipeline [--sas 100000] [--out target/perf/pipeline.json]
//! espgw-perf report [target/perf]
//! ```
//!
//! `forward`: IPv4 L3 forwarding, one worker lcore, DPDK `net_pcap` (infinite_rx) → `net_null`,
//! next to `dpdk-testpmd` io forwarding (the vdevs' ceiling) and DPDK's `l3fwd` example (a router
//! in C) on the same vdevs and the same packets. Runs alternate (espgw, testpmd, l3fwd, espgw,
//! ...) and the medians are reported with their ratios.
//!
//! `esp`: AES-128-GCM tunnel encryption and decryption on the same vdevs, next to DPDK's
//! ipsec-secgw example (library and legacy mode, the faster one counts); see `esp.rs`.
//!
//! `crypto`: AES-128-GCM seal/open per packet by size, in bursts, and cycles per byte, next to
//! aws-lc-rs in the same process (with the `peers` feature); see `crypto.rs`.
//!
//! `spi`: the inbound SA lookup with 100,000 SAs next to one SA. `pipeline`: ESP
//! encapsulation and decapsulation in memory, over one SA and over 100,000. `report`: all of the above that
//! ran, as one `report.json` (the shape the benchmark issue asks for) and a table.

mod crypto;
mod esp;
mod forward;
mod l3fwd;
mod pcap;
mod pipeline;
mod report;
mod spi;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result =
        match args.first().map(String::as_str) {
            Some("forward") => forward::main(&args[1..]),
            Some("esp") => esp::main(&args[1..]),
            Some("crypto") => crypto::main(&args[1..]),
            Some("spi") => spi::main(&args[1..]),
            Some("pipeline") => pipeline::main(&args[1..]),
            Some("report") => report::main(&args[1..]),
            _ => Err("usage: espgw-perf forward [--runs N] [--seconds S] [--frame-len BYTES] [--burst N] [--no-l3fwd] [--out FILE]\n       \
                 espgw-perf esp [--sizes 64,512,1420,imix] [--runs N] [--seconds S] [--dir encrypt|decrypt|both] [--distinct N] [--cores 1|1,2] [--no-check] [--out FILE]\n       \
                 espgw-perf crypto [--sizes 64,...] [--samples N] [--out FILE]\n       \
                 espgw-perf spi [--sas N] [--out FILE]\n       \
                 espgw-perf pipeline [--sas N] [--out FILE]\n       \
                 espgw-perf report [DIR]"
                .to_string()),
        };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("espgw-perf: {e}");
            ExitCode::FAILURE
        }
    }
}
