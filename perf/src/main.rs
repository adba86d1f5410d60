//! `espgw-perf`: espgw's benchmarks, each measured next to a reference in the same run.
//!
//! ```text
//! espgw-perf forward [--runs N] [--seconds S] [--frame-len 60] [--out target/perf/forward.json]
//! ```
//!
//! `forward`: IPv4 L3 forwarding, one worker lcore, DPDK `net_pcap` (infinite_rx) → `net_null`,
//! next to `dpdk-testpmd` io forwarding on the same vdevs and the same packets. Runs alternate
//! (espgw, testpmd, espgw, ...) and the medians are reported with their ratio.

mod forward;
mod pcap;
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result =
        match args.first().map(String::as_str) {
            Some("forward") => forward::main(&args[1..]),
            _ => Err("usage: espgw-perf forward [--runs N] [--seconds S] [--frame-len BYTES] [--out FILE]"
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
