//! ESP tunnel benchmark: espgw next to DPDK's ipsec-secgw example on the same vdevs and pcaps.
//!
//! One tunnel SA pair, AES-128-GCM with a 16-byte ICV, IPv4 in IPv4. One worker core. Input is
//! `net_pcap` with `infinite_rx=1` (port 0), output is `net_null` with `no-rx=1` (port 1).
//! Sizes are Ethernet frame sizes including the 4-byte FCS, as in `forward` (64 = 60-byte
//! records in the pcap). For decryption the size is the clear frame that leaves port 1; the ESP
//! frame read from the pcap is 56–59 bytes longer.
//!
//! - **encrypt**: clear UDP frames 192.0.2.10 → 203.0.113.1–250, protected by an outbound policy
//!   with SA 0x1001 (198.51.100.1 → 198.51.100.2). 4,096 frames, repeated by `infinite_rx`.
//! - **decrypt**: ESP frames under SA 0x2001 (198.51.100.2 → 198.51.100.1), made with espgw's
//!   own encapsulation, one distinct sequence number per frame (`--distinct`, 4,096 by
//!   default). `infinite_rx` replays the file, so the inbound SA runs with anti-replay off
//!   (`replay_window: 0`), as ipsec-secgw does (library mode's default window 0; legacy mode
//!   has none): both loop over the same file and are measured in the steady state. Any drop
//!   (ICV, padding, malformed) fails the run.
//!
//! Peer throughput comes from ipsec-secgw's own statistics (`-t 1`: "Total packets sent" per
//! second, i.e. packets its worker transmitted), timed by when each block arrives on its
//! line-buffered stdout.

use crate::forward::{self, round2, status_now, stop_child, tx_packets};
use crate::{pcap, report};
use gateway::buf::{PacketBuf, VecBuf};
use gateway::config::ipsec::{Direction, SaConfig, Secret};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// espgw's outbound SA (encrypt) and inbound SA (decrypt).
const SPI_OUT: u32 = 0x1001;
const SPI_IN: u32 = 0x2001;
/// AES-128 key followed by the 4-byte salt (RFC 4106 §8.1). A benchmark key, nothing secret.
const KEY: [u8; 20] = [
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c, 0xca,
    0xfe, 0xba, 0xbe,
];
const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const REMOTE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const CLEAR_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const CLEAR_HOST_MAC: &str = "02:00:00:00:00:10";
const REMOTE_MAC: &str = "02:00:00:00:00:02";
const ENCRYPT_FRAMES: usize = 4096;
/// `--sizes imix`: the simple IMIX of [`pcap::imix_len`].
const IMIX: usize = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Encrypt,
    Decrypt,
}

impl Dir {
    fn name(self) -> &'static str {
        match self {
            Dir::Encrypt => "encrypt",
            Dir::Decrypt => "decrypt",
        }
    }
}

/// The two ways ipsec-secgw can run the SA on a CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerMode {
    /// librte_ipsec (`-l`) with `type cpu-crypto` SAs: synchronous AES-GCM calls on the worker.
    Library,
    /// The older built-in ESP code with `type no-offload` SAs through the crypto_aesni_gcm
    /// cryptodev (enqueue/dequeue).
    Legacy,
}

impl PeerMode {
    fn label(self) -> &'static str {
        match self {
            PeerMode::Library => "library cpu-crypto",
            PeerMode::Legacy => "legacy crypto_aesni_gcm",
        }
    }
    fn sa_type(self) -> &'static str {
        match self {
            PeerMode::Library => "cpu-crypto",
            PeerMode::Legacy => "no-offload",
        }
    }
}

struct Opts {
    sizes: Vec<usize>,
    runs: usize,
    seconds: f64,
    dirs: Vec<Dir>,
    distinct: usize,
    check: bool,
    /// Also measure espgw with two workers (`--cores 1,2`), next to its one-core figure.
    two_cores: bool,
    out: PathBuf,
}

const USAGE: &str =
    "espgw-perf esp [--sizes 64,512,1420] [--runs N] [--seconds S] [--dir encrypt|decrypt|both] \
                     [--distinct N] [--cores 1|1,2] [--no-check] [--out target/perf/esp.json]";

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        sizes: vec![64, 512, 1420],
        runs: 3,
        seconds: 3.0,
        dirs: vec![Dir::Encrypt, Dir::Decrypt],
        distinct: 4096,
        check: true,
        two_cores: false,
        out: PathBuf::from("target/perf/esp.json"),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut v = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--sizes" => {
                o.sizes = v()?
                    .split(',')
                    .map(|s| match s.trim() {
                        "imix" | "IMIX" => Ok(IMIX),
                        s => s.parse::<usize>().map_err(|e| format!("--sizes: {s}: {e}")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--runs" => o.runs = v()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--seconds" => o.seconds = v()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--distinct" => o.distinct = v()?.parse().map_err(|e| format!("--distinct: {e}"))?,
            "--dir" => {
                o.dirs = match v()?.as_str() {
                    "encrypt" => vec![Dir::Encrypt],
                    "decrypt" => vec![Dir::Decrypt],
                    "both" => vec![Dir::Encrypt, Dir::Decrypt],
                    d => return Err(format!("--dir: {d}: use encrypt, decrypt or both")),
                }
            }
            "--no-check" => o.check = false,
            "--cores" => {
                o.two_cores = match v()?.as_str() {
                    "1" => false,
                    "1,2" => true,
                    c => return Err(format!("--cores: {c}: use 1 or 1,2 (two is this benchmark's maximum)")),
                }
            }
            "--out" => o.out = PathBuf::from(v()?),
            other => return Err(format!("unknown option {other}\nusage: {USAGE}")),
        }
    }
    // 64 B is the Ethernet minimum; 1420 + 59 bytes of ESP overhead must stay within 1518.
    if o.sizes.is_empty() || o.sizes.iter().any(|s| *s != IMIX && !(64..=1456).contains(s)) {
        return Err("--sizes: each size must be 64..=1456 (Ethernet frame with FCS) or imix".into());
    }
    if o.runs == 0 || o.seconds < 1.0 || !(1024..=1_000_000).contains(&o.distinct) {
        return Err("need --runs >= 1, --seconds >= 1, 1024 <= --distinct <= 1000000".into());
    }
    Ok(o)
}

/// The ipsec-secgw binary: `IPSEC_SECGW` if set, else built once into target/perf/ipsec-secgw
/// from the dpdk-doc example sources with the vdev RX-offload change.
fn ipsec_secgw() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("IPSEC_SECGW") {
        return Ok(PathBuf::from(p));
    }
    let dir = PathBuf::from("target/perf/ipsec-secgw");
    let bin = dir.join("build/ipsec-secgw");
    if bin.exists() {
        return Ok(bin);
    }
    let src = Path::new("/usr/share/dpdk/examples/ipsec-secgw");
    if !src.exists() {
        return Err(format!("{} not found: apt-get install dpdk-doc (make deps)", src.display()));
    }
    println!("building ipsec-secgw in {} (once)", dir.display());
    let _ = std::fs::remove_dir_all(&dir);
    let sh = format!(
        "set -e; mkdir -p {d}; cp -r {s}/. {d}/; cd {d}; \
         sed -i 's/\\.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,/.offloads = 0,/' ipsec-secgw.c; \
         grep -q '\\.offloads = 0,' ipsec-secgw.c; make -j1 >build.log 2>&1 || {{ tail -20 build.log; exit 1; }}",
        d = dir.display(),
        s = src.display()
    );
    let st = Command::new("bash").args(["-c", &sh]).status().map_err(|e| e.to_string())?;
    if !st.success() || !bin.exists() {
        return Err(format!("building ipsec-secgw failed (see {}/build.log)", dir.display()));
    }
    Ok(bin)
}

pub fn main(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let espgw = forward::find_espgw()?;
    let secgw = ipsec_secgw()?;
    let work = std::env::temp_dir().join(format!("espgw-perf-esp-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let result = run_all(&o, &espgw, &secgw, &work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run_all(o: &Opts, espgw: &Path, secgw: &Path, work: &Path) -> Result<(), String> {
    let mac = discover_pcap_mac(espgw, work)?;
    println!(
        "esp: AES-128-GCM tunnel (aes128gcm16), 1 worker core (also 2 with --cores 1,2), net_pcap infinite_rx -> net_null; \
         sizes {:?} B with FCS; {} run(s) x {} s; decrypt pass {} distinct seqs",
        o.sizes, o.runs, o.seconds, o.distinct
    );
    println!("machine: {}", report::machine());
    println!("load average at start: {}", loadavg());
    if o.check {
        cross_check(espgw, secgw, work, mac)?;
    }
    let mut results = Vec::new();
    let mut table = Vec::new();
    let mut table2 = Vec::new();
    for &dir in &o.dirs {
        for &size in &o.sizes {
            let load = loadavg();
            println!(
                "\n{} {} (load average {load})",
                dir.name(),
                if size == IMIX { "IMIX (7:4:1 of 64/576/1420 B)".to_string() } else { format!("{size} B") }
            );
            let pcap_path = work.join(format!("{}-{size}.pcap", dir.name()));
            // Frame i's length without FCS: the size, or the IMIX pattern.
            let len = |i: usize| if size == IMIX { pcap::imix_len(i) - 4 } else { size - 4 };
            let frames = match dir {
                Dir::Encrypt => {
                    pcap::write_udp_frames_by(&pcap_path, mac, len, ENCRYPT_FRAMES)
                        .map_err(|e| e.to_string())?;
                    ENCRYPT_FRAMES
                }
                Dir::Decrypt => {
                    write_esp_frames(&pcap_path, mac, len, o.distinct)?;
                    o.distinct
                }
            };
            let size_name = if size == IMIX { "IMIX".to_string() } else { size.to_string() };
            let mut e_runs = Vec::new();
            let mut lat_runs: Vec<[u64; 3]> = Vec::new();
            let mut lib_runs = Vec::new();
            let mut leg_runs = Vec::new();
            let mut two_runs = Vec::new();
            for run in 1..=o.runs {
                if o.two_cores {
                    match run_espgw(espgw, work, &pcap_path, dir, frames, o.seconds, 2)? {
                        Some((e, _)) => {
                            println!(
                                "  run {run}/{}: espgw, 2 worker cores              {e:>6.2} Mpps",
                                o.runs
                            );
                            two_runs.push(e);
                        }
                        None => println!("  run {run}/{}: espgw, 2 worker cores                 n/a", o.runs),
                    }
                }
                match run_espgw(espgw, work, &pcap_path, dir, frames, o.seconds, 1)? {
                    Some((e, lat)) => {
                        println!(
                            "  run {run}/{}: espgw                           {e:>6.2} Mpps  (worker latency p50 {} / p99 {} / p99.9 {} ns)",
                            o.runs, lat[0], lat[1], lat[2]
                        );
                        e_runs.push(e);
                        lat_runs.push(lat);
                    }
                    None => println!(
                        "  run {run}/{}: espgw                              n/a (all {frames} forwarded, but the pass \
                         ended before the control socket could sample it)",
                        o.runs
                    ),
                }
                for (mode, acc) in [(PeerMode::Library, &mut lib_runs), (PeerMode::Legacy, &mut leg_runs)] {
                    let p = run_peer(secgw, work, &pcap_path, dir, mode, frames, o.seconds, mac, false)?;
                    println!("  run {run}/{}: ipsec-secgw {:<23} {:>6.2} Mpps", o.runs, mode.label(), p.mpps);
                    acc.push(p.mpps);
                }
            }
            let e = report::median(&mut e_runs);
            let lat: Vec<f64> = (0..3)
                .map(|i| report::median(&mut lat_runs.iter().map(|l| l[i] as f64).collect::<Vec<_>>()))
                .collect();
            let lib = report::median(&mut lib_runs);
            let leg = report::median(&mut leg_runs);
            let (mode, p) = if lib >= leg { (PeerMode::Library, lib) } else { (PeerMode::Legacy, leg) };
            let ratio = if p > 0.0 && e > 0.0 { e / p } else { 0.0 };
            let scenario = format!("esp-{}-ports", dir.name());
            table.push((scenario.clone(), size_name.clone(), e, mode, p, ratio, load.clone()));
            results.push(json!({
                "scenario": scenario,
                "size": size_name,
                "cores": 1,
                "espgw": if e_runs.is_empty() { Value::Null } else { json!(round2(e)) },
                "peer": format!("ipsec-secgw ({})", mode.label()),
                "peer_value": round2(p),
                "unit": "Mpps",
                "ratio": if e_runs.is_empty() { Value::Null } else { json!(round2(ratio)) },
                "load_average": load,
                "peer_modes": { PeerMode::Library.label(): round2(lib), PeerMode::Legacy.label(): round2(leg) },
                "runs": { "espgw": e_runs, "library": lib_runs, "legacy": leg_runs },
                "espgw_latency_ns": { "p50": lat[0], "p99": lat[1], "p99.9": lat[2],
                    "what": "per packet in the worker, RX burst to TX burst, last ~100 ms of each run (median of runs)" },
                "espgw_method": match dir {
                    Dir::Encrypt => "steady state, port 1 tx over the interval".to_string(),
                    Dir::Decrypt => format!("{} distinct sequence numbers, anti-replay off, steady state", o.distinct),
                },
            }));
            if o.two_cores {
                let e2 = report::median(&mut two_runs);
                let r2 = if e > 0.0 && e2 > 0.0 { e2 / e } else { 0.0 };
                table2.push((scenario.clone(), size_name.clone(), e2, e, r2));
                results.push(json!({
                    "scenario": scenario,
                    "size": size_name,
                    "cores": 2,
                    "espgw": if two_runs.is_empty() { Value::Null } else { json!(round2(e2)) },
                    "peer": "espgw, 1 core",
                    "peer_value": round2(e),
                    "unit": "Mpps",
                    "ratio": if two_runs.is_empty() || e_runs.is_empty() { Value::Null } else { json!(round2(r2)) },
                    "load_average": load,
                    "runs": { "espgw_2_cores": two_runs, "espgw_1_core": e_runs },
                    "espgw_method": "two workers on CPUs 0 and 1, one input queue each (the same pcap), \
                        the control thread sharing CPU 0; same steady-state count as one core",
                }));
            }
            let _ = std::fs::remove_file(&pcap_path);
        }
    }
    println!(
        "\n  {:<18} {:>5} {:>11} {:>11}  {:<24} {:>6}  load",
        "scenario", "size", "espgw", "peer", "peer mode", "ratio"
    );
    for (s, size, e, mode, p, r, load) in &table {
        let (e, r) = if *e > 0.0 {
            (format!("{e:>6.2} Mpps"), format!("{r:>6.2}"))
        } else {
            ("n/a".into(), "n/a".into())
        };
        println!("  {s:<18} {size:>5} {e:>11} {p:>6.2} Mpps  {:<24} {r:>6}  {load}", mode.label());
    }
    for (s, size, e2, e1, r) in &table2 {
        println!("  {s:<18} {size:>5} {e2:>6.2} Mpps {e1:>6.2} Mpps  espgw 2 cores vs 1      {r:>6.2}");
    }
    report::write(&o.out, results).map_err(|e| format!("{}: {e}", o.out.display()))?;
    println!("\nwrote {}", o.out.display());
    Ok(())
}

/// `/proc/loadavg`'s three averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn mac_string(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// espgw's configuration for one direction. Port 0 is always the pcap port (so its MAC is the
/// same in every run); for encrypt it is the clear side `lan`, for decrypt the ESP side `wan`.
/// Both SAs and both policies are present either way.
pub fn espgw_yaml(dir: Dir, input: &str, output: &str, prefix: &str, sock: &Path, mbufs: usize) -> String {
    espgw_yaml_cores(dir, input, output, prefix, sock, mbufs, 1)
}

/// [`espgw_yaml`] with `cores` (1 or 2) workers on lcores 1 or 0 and 1, each polling its own
/// queue of the input port (which must have that many). With two, the control thread's lcore
/// (2) shares CPU 0 with the first worker (`eal.main_cpu`): the machine has two cores.
pub fn espgw_yaml_cores(
    dir: Dir,
    input: &str,
    output: &str,
    prefix: &str,
    sock: &Path,
    mbufs: usize,
    cores: usize,
) -> String {
    let memory_mb = 512 + mbufs * 3 / 1024; // an mbuf with its 2 KB data room takes ~2.4 KB
    let lan = "  - name: lan\n    addresses: [\"192.0.2.1/24\"]\n";
    let wan = "  - name: wan\n    addresses: [\"198.51.100.1/24\"]\n";
    let queues = if cores > 1 { format!("    rx_queues: {cores}\n") } else { String::new() };
    let (first, second) = match dir {
        Dir::Encrypt => (
            format!("{lan}    device: \"{input}\"\n{queues}"),
            format!("{wan}    device: \"{output}\"\n    neighbours: [{{ ip: {REMOTE}, mac: \"{REMOTE_MAC}\" }}]\n"),
        ),
        Dir::Decrypt => (
            format!("{wan}    device: \"{input}\"\n{queues}"),
            format!("{lan}    device: \"{output}\"\n    neighbours: [{{ ip: {CLEAR_HOST}, mac: \"{CLEAR_HOST_MAC}\" }}]\n"),
        ),
    };
    let (in_port, out_port) = match dir {
        Dir::Encrypt => ("lan", "wan"),
        Dir::Decrypt => ("wan", "lan"),
    };
    let (eal, workers) = if cores > 1 {
        (
            "  main_lcore: 2\n  main_cpu: 0\n".to_string(),
            format!(
                "  - {{ lcore: 0, rx: [\"{in_port}:0\", \"{out_port}:0\"] }}\n  - {{ lcore: 1, rx: [\"{in_port}:1\"] }}\n"
            ),
        )
    } else {
        (
            "  main_lcore: 0\n".to_string(),
            format!("  - {{ lcore: 1, rx: [\"{in_port}:0\", \"{out_port}:0\"] }}\n"),
        )
    };
    let key = hex(&KEY);
    format!(
        "eal:\n{eal}  memory_mb: {memory_mb}\n  file_prefix: {prefix}\n\
         ports:\n{first}{second}\
         routes:\n  - {{ prefix: 203.0.113.0/24, via: {REMOTE} }}\n\
         workers:\n{workers}\
         control:\n  socket: {sock}\n\
         dataplane:\n  burst: 32\n  mbufs: {mbufs}\n\
         ipsec:\n  allow_static_gcm: true\n  sas:\n\
         \x20   - {{ name: bench-out, direction: out, spi: {SPI_OUT:#x}, mode: tunnel, local: {LOCAL}, remote: {REMOTE}, algorithm: aes128gcm16, enc_key: \"{key}\" }}\n\
         \x20   - {{ name: bench-in, direction: in, spi: {SPI_IN:#x}, mode: tunnel, local: {LOCAL}, remote: {REMOTE}, algorithm: aes128gcm16, enc_key: \"{key}\", replay_window: 0 }}\n\
         \x20 policies:\n\
         \x20   - {{ direction: out, src: 192.0.2.0/24, dst: 203.0.113.0/24, action: protect, sa: bench-out }}\n\
         \x20   - {{ direction: in, src: 203.0.113.0/24, dst: 192.0.2.0/24, action: protect, sa: bench-in }}\n",
        sock = sock.display()
    )
}

/// ipsec-secgw's SP/SA/RT rules for the same tunnel. `mirrored` describes the other end
/// (198.51.100.2), used by the cross-check: it sends with espgw's inbound SA and receives with
/// espgw's outbound SA. Port 1 is the output port; `next_hop_mac` its neighbour.
pub fn secgw_rules(mode: PeerMode, mirrored: bool, next_hop_mac: &str) -> String {
    let key = KEY.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    let t = mode.sa_type();
    let (out_spi, in_spi, me, peer, mine, theirs) = if mirrored {
        (SPI_IN, SPI_OUT, REMOTE, LOCAL, "203.0.113.0/24", "192.0.2.0/24")
    } else {
        (SPI_OUT, SPI_IN, LOCAL, REMOTE, "192.0.2.0/24", "203.0.113.0/24")
    };
    let any = "sport 0:65535 dport 0:65535";
    format!(
        "sp ipv4 out esp protect {out_spi} pri 1 src {mine} dst {theirs} {any}\n\
         sp ipv4 in esp protect {in_spi} pri 1 src {theirs} dst {mine} {any}\n\
         sa out {out_spi} aead_algo aes-128-gcm aead_key {key} mode ipv4-tunnel src {me} dst {peer} type {t}\n\
         sa in {in_spi} aead_algo aes-128-gcm aead_key {key} mode ipv4-tunnel src {peer} dst {me} type {t}\n\
         rt ipv4 dst {peer}/32 port 1\n\
         rt ipv4 dst {mine} port 1\n\
         neigh port 1 {next_hop_mac}\n"
    )
}

/// A manually keyed AES-128-GCM tunnel SA, as the benchmarks install them.
pub fn gcm128_sa(
    name: String,
    direction: Direction,
    spi: u32,
    (local, remote): (IpAddr, IpAddr),
    key: &[u8],
    replay_window: u32,
) -> Result<gateway::ipsec::sa::Sa, String> {
    gateway::ipsec::manual::sa_from_config(&SaConfig {
        name,
        direction,
        spi,
        protocol: Default::default(),
        mode: Default::default(),
        local,
        remote,
        algorithm: "aes128gcm16".into(),
        enc_key: Secret::new(key.to_vec()),
        auth_key: Secret::default(),
        esn: false,
        natt: None,
        replay_window,
        df: Default::default(),
        lifetime: Default::default(),
    })
}

/// The SA the far end (198.51.100.2) sends with: espgw's inbound SA seen from outside.
fn far_end_sa() -> Result<gateway::ipsec::sa::Sa, String> {
    gcm128_sa("far-end-out".into(), Direction::Out, SPI_IN, (REMOTE.into(), LOCAL.into()), &KEY, 1024)
}

/// ESP frame number `i` (sequence number `i + 1`) carrying a clear frame of `clear_len` bytes
/// (no FCS) from 203.0.113.x to 192.0.2.10, encapsulated by espgw's own ESP code.
pub fn esp_frame(
    sa: &gateway::ipsec::sa::Sa,
    dst_mac: [u8; 6],
    clear_len: usize,
    i: usize,
) -> Result<Vec<u8>, String> {
    let src = Ipv4Addr::new(203, 0, 113, 1 + (i % 250) as u8);
    let clear = pcap::udp_frame([0; 6], src, CLEAR_HOST, 1024 + (i % 1000) as u16, clear_len);
    let mut buf = VecBuf::like_mbuf(&clear[14..]);
    let seq = i as u64 + 1;
    gateway::ipsec::esp::encapsulate(&mut buf, sa, seq, &seq.to_be_bytes())
        .map_err(|r| format!("encapsulate: {}", r.name()))?;
    let mut f = Vec::with_capacity(14 + buf.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend_from_slice(buf.data());
    Ok(f)
}

fn write_esp_frames(
    path: &Path,
    dst_mac: [u8; 6],
    clear_len: impl Fn(usize) -> usize,
    count: usize,
) -> Result<(), String> {
    let sa = far_end_sa()?;
    let mut err = None;
    let frames = (0..count).map_while(|i| match esp_frame(&sa, dst_mac, clear_len(i), i) {
        Ok(f) => Some(f),
        Err(e) => {
            err = Some(e);
            None
        }
    });
    pcap::write_frames(path, frames).map_err(|e| e.to_string())?;
    err.map_or(Ok(()), Err)
}

fn discover_pcap_mac(espgw: &Path, work: &Path) -> Result<[u8; 6], String> {
    let p = work.join("probe.pcap");
    pcap::write_udp_frames(&p, [0xff; 6], 60, 16).map_err(|e| e.to_string())?;
    let prefix = format!("espgw-perf-esp-{}", std::process::id());
    let sock = work.join("espgw.sock");
    let input = format!("net_pcap0,rx_pcap={},infinite_rx=1", p.display());
    let yaml = espgw_yaml(Dir::Encrypt, &input, "net_null0,no-rx=1", &prefix, &sock, 8191);
    forward::with_espgw_config(espgw, work, &yaml, &prefix, &sock, |_, sock| {
        let s = status_now(sock).ok_or("status failed")?;
        let mac = s["ports"][0]["mac"].as_str().ok_or("no MAC in status")?;
        let b: Vec<u8> = mac.split(':').filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
        b.try_into().map_err(|_| format!("bad MAC {mac}"))
    })
}

fn drops(s: &Value) -> Vec<(String, u64)> {
    s["drops"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| Some((d["reason"].as_str()?.to_string(), d["packets"].as_u64()?)))
                .filter(|(_, n)| *n > 0)
                .collect()
        })
        .unwrap_or_default()
}

fn run_espgw(
    espgw: &Path,
    work: &Path,
    pcap: &Path,
    dir: Dir,
    frames: usize,
    seconds: f64,
    cores: usize,
) -> Result<Option<(f64, [u64; 3])>, String> {
    let prefix = format!("espgw-perf-esp-{}", std::process::id());
    let sock = work.join("espgw.sock");
    // One receive queue per worker, each looping over the same file.
    let queues = vec![format!("rx_pcap={}", pcap.display()); cores].join(",");
    let input = format!("net_pcap0,{queues},infinite_rx=1");
    let yaml =
        espgw_yaml_cores(dir, &input, "net_null0,no-rx=1", &prefix, &sock, cores * frames + 16_384, cores);
    let (out_port, what) = match dir {
        Dir::Encrypt => ("wan", "encrypted"),
        Dir::Decrypt => ("lan", "decrypted"),
    };
    forward::with_espgw_config(espgw, work, &yaml, &prefix, &sock, |_, sock| {
        std::thread::sleep(Duration::from_secs(2)); // warm-up
        let s1 = status_now(sock).ok_or("status failed")?;
        let t1 = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(seconds));
        let s2 = status_now(sock).ok_or("status failed")?;
        let dt = t1.elapsed().as_secs_f64();
        let d = tx_packets(&s2, out_port).saturating_sub(tx_packets(&s1, out_port));
        let bad = drops(&s2);
        if d == 0 || (dir == Dir::Decrypt && !bad.is_empty()) {
            return Err(format!("espgw {what} {d} packets; drops: {bad:?}"));
        }
        // The worker's own latency, RX burst to TX burst, of its last ~100 ms (hdrhistogram).
        let w = &s2["workers"][0]["latency"]["window_p50_p99_p999_ns"];
        let lat = [0, 1, 2].map(|i| w[i].as_u64().unwrap_or(0));
        Ok(Some((d as f64 / dt / 1e6, lat)))
    })
}

/// When one of ipsec-secgw's statistics blocks arrived, and its totals: received, sent, dropped.
type StatsBlock = (Instant, [u64; 3]);

struct PeerResult {
    mpps: f64,
    received: u64,
    sent: u64,
    dropped: u64,
}

/// Runs ipsec-secgw on `pcap` for 2 s of warm-up plus `seconds`, and returns its transmit rate
/// over the measured seconds from its per-second statistics. `output_pcap` replaces net_null
/// by a capture (cross-check); `mirrored` takes the far end's rules.
#[allow(clippy::too_many_arguments)]
fn run_peer(
    secgw: &Path,
    work: &Path,
    pcap: &Path,
    dir: Dir,
    mode: PeerMode,
    frames: usize,
    seconds: f64,
    next_hop_mac: [u8; 6],
    mirrored: bool,
) -> Result<PeerResult, String> {
    run_peer_to(secgw, work, pcap, dir, mode, frames, seconds, next_hop_mac, mirrored, None)
}

#[allow(clippy::too_many_arguments)]
fn run_peer_to(
    secgw: &Path,
    work: &Path,
    pcap: &Path,
    dir: Dir,
    mode: PeerMode,
    frames: usize,
    seconds: f64,
    next_hop_mac: [u8; 6],
    mirrored: bool,
    output_pcap: Option<&Path>,
) -> Result<PeerResult, String> {
    let rules = work.join("secgw.cfg");
    std::fs::write(&rules, secgw_rules(mode, mirrored, &mac_string(next_hop_mac)))
        .map_err(|e| e.to_string())?;
    let prefix = format!("espgw-perf-secgw-{}", std::process::id());
    let nbufs = frames + 16_384;
    let output = match output_pcap {
        None => "net_null0,no-rx=1".to_string(),
        Some(p) => {
            let empty = work.join("empty.pcap");
            pcap::write_frames(&empty, Vec::new()).map_err(|e| e.to_string())?;
            format!("net_pcap1,rx_pcap={},tx_pcap={}", empty.display(), p.display())
        }
    };
    let mut cmd = Command::new("stdbuf");
    cmd.args(["-oL"]).arg(secgw);
    cmd.args(["-l", "1", "--no-huge", "--no-pci", "--log-level=lib.eal:warning"])
        .arg(format!("-m{}", 1024 + nbufs * 3 / 1024)) // its IPv6 LPM alone takes ~150 MB
        .arg(format!("--file-prefix={prefix}"))
        .arg(format!("--vdev=net_pcap0,rx_pcap={},infinite_rx=1", pcap.display()))
        .arg(format!("--vdev={output}"))
        .arg("--vdev=crypto_aesni_gcm0")
        .args(["--", "-p", "0x3", "-P", "-u", if dir == Dir::Encrypt { "0x2" } else { "0x1" }]);
    if mode == PeerMode::Library {
        cmd.arg("-l");
    }
    cmd.args(["-t", "1", "-s"])
        .arg(nbufs.to_string())
        .args(["--config", "(0,0,1),(1,0,1)", "-f"])
        .arg(&rules)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("spawn ipsec-secgw: {e}"))?;
    let blocks: Arc<Mutex<Vec<StatsBlock>>> = Arc::default();
    let text: Arc<Mutex<String>> = Arc::default();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (b2, t2) = (blocks.clone(), text.clone());
    let reader = std::thread::spawn(move || {
        let mut cur = [0u64; 3];
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let num = |l: &str| l.rsplit(' ').next().and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
            if line.starts_with("Total packets received:") {
                cur[0] = num(&line);
            } else if line.starts_with("Total packets sent:") {
                cur[1] = num(&line);
            } else if line.starts_with("Total packets dropped:") {
                cur[2] = num(&line);
                if let Ok(mut b) = b2.lock() {
                    b.push((Instant::now(), cur));
                }
            } else if let Ok(mut t) = t2.lock() {
                if t.len() < 64 * 1024 {
                    t.push_str(&line);
                    t.push('\n');
                }
            }
        }
    });
    let t3 = text.clone();
    let err_reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(mut t) = t3.lock() {
                if t.len() < 64 * 1024 {
                    t.push_str(&line);
                    t.push('\n');
                }
            }
        }
    });
    let want = 2 + seconds.ceil() as usize + 1;
    let t0 = Instant::now();
    loop {
        let have = blocks.lock().map(|b| b.len()).unwrap_or(0);
        if have >= want {
            break;
        }
        if matches!(child.try_wait(), Ok(Some(_))) || t0.elapsed() > Duration::from_secs(90) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    interrupt(&mut child);
    let _ = reader.join();
    let _ = err_reader.join();
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    let b = blocks.lock().map(|b| b.clone()).unwrap_or_default();
    if b.len() < want {
        let t = text.lock().map(|t| t.clone()).unwrap_or_default();
        let tail: Vec<&str> = t.lines().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!(
            "ipsec-secgw ({}) gave {} stats blocks, wanted {want}:\n{}",
            mode.label(),
            b.len(),
            tail.join("\n")
        ));
    }
    let (ta, a) = b[2];
    let (tb, z) = b[want - 1];
    let dt = tb.duration_since(ta).as_secs_f64();
    Ok(PeerResult {
        mpps: z[1].saturating_sub(a[1]) as f64 / dt / 1e6,
        received: z[0],
        sent: z[1],
        dropped: z[2],
    })
}

/// SIGINT (ipsec-secgw's clean shutdown, which also closes a tx_pcap capture), then SIGKILL.
fn interrupt(child: &mut Child) {
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).stderr(Stdio::null()).status();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop_child(child);
}

/// Interoperability in both directions at 64 B, before measuring:
/// 1. ipsec-secgw decrypts espgw's ESP: covered by every decrypt run of the peer (the decrypt
///    pcap is espgw's encapsulation), and checked here explicitly on espgw's *runtime* output:
///    espgw encrypts into a capture, ipsec-secgw (mirrored rules) must forward it all.
/// 2. espgw decrypts ipsec-secgw's ESP: ipsec-secgw (mirrored rules) encrypts into a capture,
///    espgw must forward every packet of it.
fn cross_check(espgw: &Path, secgw: &Path, work: &Path, mac: [u8; 6]) -> Result<(), String> {
    const N: usize = 4096;
    println!("cross-check (64 B, library mode):");
    let empty = work.join("empty.pcap");
    pcap::write_frames(&empty, Vec::new()).map_err(|e| e.to_string())?;

    // espgw encrypts → capture → ipsec-secgw decrypts.
    let clear = work.join("check-clear.pcap");
    pcap::write_udp_frames(&clear, mac, 60, N).map_err(|e| e.to_string())?;
    let cap = work.join("check-espgw-out.pcap");
    let prefix = format!("espgw-perf-esp-{}", std::process::id());
    let sock = work.join("espgw.sock");
    let input = format!("net_pcap0,rx_pcap={},infinite_rx=1", clear.display());
    let output = format!("net_pcap1,rx_pcap={},tx_pcap={}", empty.display(), cap.display());
    let yaml = espgw_yaml(Dir::Encrypt, &input, &output, &prefix, &sock, N + 16_384);
    forward::with_espgw_config(espgw, work, &yaml, &prefix, &sock, |_, sock| {
        let t0 = Instant::now();
        while status_now(sock).map(|s| tx_packets(&s, "wan")).unwrap_or(0) < N as u64 {
            if t0.elapsed() > Duration::from_secs(20) {
                return Err("espgw did not encrypt into the capture".to_string());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    })?;
    let esp = pcap::read_frames(&cap, N).map_err(|e| format!("{}: {e}", cap.display()))?;
    check_esp(&esp, SPI_OUT, N)?;
    let esp_pcap = work.join("check-espgw-esp.pcap");
    pcap::write_frames(&esp_pcap, esp).map_err(|e| e.to_string())?;
    let p = run_peer(secgw, work, &esp_pcap, Dir::Decrypt, PeerMode::Library, N, 1.0, mac, true)?;
    if p.sent == 0 || p.dropped != 0 || p.sent + 64 < p.received {
        return Err(format!(
            "ipsec-secgw did not decrypt espgw's ESP: received {}, sent {}, dropped {}",
            p.received, p.sent, p.dropped
        ));
    }
    println!(
        "  espgw -> ipsec-secgw: {N} ESP packets captured from espgw; ipsec-secgw decrypted and sent {} of {} received, dropped 0",
        p.sent, p.received
    );

    // ipsec-secgw encrypts → capture → espgw decrypts.
    let clear_far = work.join("check-clear-far.pcap");
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let src = Ipv4Addr::new(203, 0, 113, 1 + (i % 250) as u8);
            pcap::udp_frame(mac, src, CLEAR_HOST, 1024 + (i % 1000) as u16, 60)
        })
        .collect();
    pcap::write_frames(&clear_far, frames).map_err(|e| e.to_string())?;
    let cap2 = work.join("check-secgw-out.pcap");
    run_peer_to(secgw, work, &clear_far, Dir::Encrypt, PeerMode::Library, N, 1.0, mac, true, Some(&cap2))?;
    let esp = pcap::read_frames(&cap2, N).map_err(|e| format!("{}: {e}", cap2.display()))?;
    check_esp(&esp, SPI_IN, N)?;
    let esp_pcap2 = work.join("check-secgw-esp.pcap");
    pcap::write_frames(&esp_pcap2, esp).map_err(|e| e.to_string())?;
    let input = format!("net_pcap0,rx_pcap={},infinite_rx=1", esp_pcap2.display());
    let yaml = espgw_yaml(Dir::Decrypt, &input, "net_null0,no-rx=1", &prefix, &sock, N + 16_384);
    forward::with_espgw_config(espgw, work, &yaml, &prefix, &sock, |_, sock| {
        let t0 = Instant::now();
        loop {
            let s = status_now(sock).ok_or("status failed")?;
            let fwd = tx_packets(&s, "lan");
            // Anti-replay is off on the bench SA (the file loops): every drop is a failure.
            let bad = drops(&s);
            if !bad.is_empty() {
                return Err(format!("espgw dropped ipsec-secgw's ESP: {bad:?}"));
            }
            if fwd >= N as u64 {
                println!("  ipsec-secgw -> espgw: {N} ESP packets captured from ipsec-secgw; espgw decrypted and forwarded {fwd} (the file loops), no drop");
                return Ok(());
            }
            if t0.elapsed() > Duration::from_secs(10) {
                return Err(format!(
                    "espgw forwarded {fwd} of ipsec-secgw's {N} ESP packets; drops: {:?}",
                    drops(&s)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

/// `frames` are `n` IPv4 ESP frames of SA `spi` with sequence numbers 1..=n in order.
fn check_esp(frames: &[Vec<u8>], spi: u32, n: usize) -> Result<(), String> {
    if frames.len() != n {
        return Err(format!("capture holds {} frames, expected {n}", frames.len()));
    }
    for (i, f) in frames.iter().enumerate() {
        let ok = f.len() > 14 + 20 + 8
            && f[12..14] == [0x08, 0x00]
            && f[14 + 9] == 50
            && f[34..38] == spi.to_be_bytes()
            && f[38..42] == (i as u32 + 1).to_be_bytes();
        if !ok {
            return Err(format!(
                "captured frame {i} is not ESP SPI {spi:#x} seq {}: {:02x?}",
                i + 1,
                &f[..f.len().min(48)]
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway::ipsec::esp::{classify_inbound, decapsulate, Inbound};
    use gateway::ipsec::replay::ReplayWindow;

    #[test]
    fn espgw_yaml_is_a_valid_config_in_both_directions() {
        let dir = std::env::temp_dir().join(format!("espgw-perf-yaml-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for d in [Dir::Encrypt, Dir::Decrypt] {
            let y = espgw_yaml(
                d,
                "net_pcap0,rx_pcap=/x.pcap,infinite_rx=1",
                "net_null0,no-rx=1",
                "p",
                Path::new("/s"),
                40_000,
            );
            let path = dir.join("c.yaml");
            std::fs::write(&path, &y).unwrap();
            let cfg = gateway::config::load(&path).unwrap_or_else(|e| panic!("{d:?}: {e}\n{y}"));
            assert_eq!(cfg.ports[0].device, "net_pcap0,rx_pcap=/x.pcap,infinite_rx=1");
            assert_eq!(cfg.ipsec.sas.len(), 2);
            assert_eq!(cfg.ipsec.sas[0].enc_key.expose(), &KEY);
            assert_eq!(cfg.dataplane.mbufs, 40_000u32);
            // Two workers: one input queue each, the control lcore on CPU 0.
            let y = espgw_yaml_cores(
                d,
                "net_pcap0,rx_pcap=/x,rx_pcap=/x",
                "net_null0",
                "p",
                Path::new("/s"),
                9000,
                2,
            );
            std::fs::write(&path, &y).unwrap();
            let cfg = gateway::config::load(&path).unwrap_or_else(|e| panic!("{d:?}: {e}\n{y}"));
            assert_eq!((cfg.eal.main_lcore, cfg.eal.main_cpu, cfg.ports[0].rx_queues), (2, Some(0), 2));
            assert_eq!(
                cfg.workers.iter().map(|w| (w.lcore, w.rx.len())).collect::<Vec<_>>(),
                [(0, 2), (1, 1)]
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secgw_rules_mirror_each_other() {
        let a = secgw_rules(PeerMode::Library, false, "02:00:00:00:00:02");
        let b = secgw_rules(PeerMode::Legacy, true, "02:00:00:00:00:02");
        assert!(a.contains("sa out 4097 aead_algo aes-128-gcm aead_key 2b:7e:15:16:"));
        assert!(a.contains("mode ipv4-tunnel src 198.51.100.1 dst 198.51.100.2 type cpu-crypto\n"));
        assert!(a.contains("sp ipv4 out esp protect 4097 pri 1 src 192.0.2.0/24 dst 203.0.113.0/24"));
        assert!(b.contains("sa out 8193 aead_algo aes-128-gcm"));
        assert!(b.contains("src 198.51.100.2 dst 198.51.100.1 type no-offload\n"));
        assert!(b.contains("sp ipv4 in esp protect 4097 pri 1 src 192.0.2.0/24 dst 203.0.113.0/24"));
        assert_eq!(a.lines().count(), 7);
    }

    #[test]
    fn esp_frames_decrypt_with_the_inbound_sa_config() {
        // What espgw will do with the frame: its inbound SA built from the same YAML values.
        let sa = far_end_sa().unwrap();
        let mut inbound = far_end_sa().unwrap();
        inbound.mode =
            gateway::ipsec::sa::Mode::Tunnel { local: IpAddr::V4(LOCAL), remote: IpAddr::V4(REMOTE) };
        let mut w = ReplayWindow::new(1024, false);
        for (i, len) in [(0usize, 60usize), (1, 508), (2, 1416)] {
            let f = esp_frame(&sa, [2, 0, 0, 0, 0, 1], len, i).unwrap();
            assert!(f.len() <= 1514, "{len}: {}", f.len());
            let mut b = VecBuf::like_mbuf(&f[14..]);
            let Ok(Inbound::Esp(loc)) = classify_inbound(b.data()) else { panic!("not ESP") };
            assert_eq!((loc.spi, loc.seq_low), (SPI_IN, i as u32 + 1));
            let d = decapsulate(&mut b, &loc, &inbound, &mut w).unwrap();
            assert_eq!(d.dst, IpAddr::V4(CLEAR_HOST));
            assert_eq!(b.len(), len - 14);
        }
    }

    #[test]
    fn captured_esp_is_checked() {
        let sa = far_end_sa().unwrap();
        let f: Vec<Vec<u8>> = (0..3).map(|i| esp_frame(&sa, [0; 6], 60, i).unwrap()).collect();
        assert!(check_esp(&f, SPI_IN, 3).is_ok());
        assert!(check_esp(&f, SPI_OUT, 3).is_err());
        assert!(check_esp(&f[1..], SPI_IN, 2).is_err());
    }
}
