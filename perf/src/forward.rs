//! L3 forwarding benchmark: espgw routing vs dpdk-testpmd io forwarding, same vdevs, same run.

use crate::{pcap, report};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Opts {
    runs: usize,
    seconds: f64,
    frame_len: usize,
    burst: usize,
    out: PathBuf,
    /// Also run DPDK's l3fwd example (a router) as a second peer.
    l3fwd: bool,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        runs: 3,
        seconds: 5.0,
        frame_len: 60,
        burst: 32,
        out: PathBuf::from("target/perf/forward.json"),
        l3fwd: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut v = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--runs" => o.runs = v()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--seconds" => o.seconds = v()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--frame-len" => o.frame_len = v()?.parse().map_err(|e| format!("--frame-len: {e}"))?,
            "--burst" => o.burst = v()?.parse().map_err(|e| format!("--burst: {e}"))?,
            "--out" => o.out = PathBuf::from(v()?),
            "--no-l3fwd" => o.l3fwd = false,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.runs == 0 || o.seconds < 1.0 || !(60..=1514).contains(&o.frame_len) || !(1..=256).contains(&o.burst)
    {
        return Err("need --runs >= 1, --seconds >= 1, 60 <= --frame-len <= 1514, 1 <= --burst <= 256".into());
    }
    Ok(o)
}

pub fn main(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let espgw = find_espgw()?;
    let l3fwd_bin = if o.l3fwd { Some(crate::l3fwd::binary()?) } else { None };
    let work = std::env::temp_dir().join(format!("espgw-perf-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let pcap_path = work.join("in.pcap");
    // net_pcap has a fixed MAC of its own and cannot take another: learn it from a first start
    // of espgw, then write frames addressed to it.
    pcap::write_udp_frames(&pcap_path, [0xff; 6], o.frame_len, 16).map_err(|e| e.to_string())?;
    let in_mac = discover_in_mac(&espgw, &work, &pcap_path)?;
    pcap::write_udp_frames(&pcap_path, in_mac, o.frame_len, 4096).map_err(|e| e.to_string())?;

    println!(
        "forward: {} B frames (+4 FCS), burst {}, 1 worker core, net_pcap infinite_rx -> net_null; {} run(s) x {} s each",
        o.frame_len, o.burst, o.runs, o.seconds
    );
    println!("machine: {}", report::machine());
    let mut espgw_mpps = Vec::new();
    let mut testpmd_mpps = Vec::new();
    let mut l3fwd_mpps = Vec::new();
    let result = (|| -> Result<(), String> {
        for run in 1..=o.runs {
            let e = run_espgw(&espgw, &work, &pcap_path, o.seconds, o.burst)?;
            println!("  run {run}/{}: espgw   {:>6.2} Mpps", o.runs, e);
            espgw_mpps.push(e);
            let t = run_testpmd(&work, &pcap_path, o.seconds, o.burst)?;
            println!("  run {run}/{}: testpmd {:>6.2} Mpps (io forward)", o.runs, t);
            testpmd_mpps.push(t);
            if let Some(bin) = &l3fwd_bin {
                let l = crate::l3fwd::run(bin, &work, &pcap_path, o.seconds, o.burst)?;
                println!("  run {run}/{}: l3fwd   {:>6.2} Mpps (DPDK's LPM router example)", o.runs, l);
                l3fwd_mpps.push(l);
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&work);
    result?;
    let e = report::median(&mut espgw_mpps);
    let t = report::median(&mut testpmd_mpps);
    let ratio = if t > 0.0 { e / t } else { 0.0 };
    println!("\n  {:<26} {:>8} {:>10} {:>14} {:>7}", "scenario", "size", "espgw", "testpmd io", "ratio");
    println!(
        "  {:<26} {:>8} {:>7.2} Mpps {:>9.2} Mpps {:>7.2}",
        "l3-forward-ports",
        o.frame_len + 4,
        e,
        t,
        ratio
    );
    let mut results: Vec<Value> = vec![json!({
        "scenario": "l3-forward-ports",
        "size": (o.frame_len + 4).to_string(),
        "cores": 1,
        "burst": o.burst,
        "espgw": round2(e),
        "peer": "dpdk-testpmd io",
        "peer_value": round2(t),
        "unit": "Mpps",
        "ratio": round2(ratio),
        "runs": { "espgw": espgw_mpps.clone(), "peer": testpmd_mpps },
    })];
    if !l3fwd_mpps.is_empty() {
        let l = report::median(&mut l3fwd_mpps);
        let r = if l > 0.0 { e / l } else { 0.0 };
        println!(
            "  {:<26} {:>8} {:>7.2} Mpps {:>9.2} Mpps {:>7.2}   (peer: dpdk-l3fwd)",
            "l3-forward-ports",
            o.frame_len + 4,
            e,
            l,
            r
        );
        println!("  dpdk-l3fwd / testpmd io: {:.2}", if t > 0.0 { l / t } else { 0.0 });
        results.push(json!({
            "scenario": "l3-forward-ports",
            "size": (o.frame_len + 4).to_string(),
            "cores": 1,
            "burst": o.burst,
            "espgw": round2(e),
            "peer": "dpdk-l3fwd",
            "peer_value": round2(l),
            "unit": "Mpps",
            "ratio": round2(r),
            "runs": { "espgw": espgw_mpps, "peer": l3fwd_mpps },
        }));
    }
    report::write(&o.out, results).map_err(|e| format!("{}: {e}", o.out.display()))?;
    println!("\nwrote {}", o.out.display());
    Ok(())
}

/// The `espgw` binary built next to this one.
pub(crate) fn find_espgw() -> Result<PathBuf, String> {
    std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .map(|d| d.join("espgw"))
        .filter(|p| p.exists())
        .ok_or_else(|| "espgw binary not found next to espgw-perf: run make build".to_string())
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub(crate) fn stop_child(child: &mut Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).stderr(Stdio::null()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub(crate) fn status(espgw: &Path, sock: &Path) -> Option<Value> {
    let out = Command::new(espgw).args(["status", "--json", "-s"]).arg(sock).output().ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// The same document as `espgw status --json`, asked in-process (no process spawn: cheap
/// enough to sample every millisecond).
pub(crate) fn status_now(sock: &Path) -> Option<Value> {
    let reply = gateway::api::request(sock, "status").ok()?;
    serde_json::from_str(&reply).ok()
}

pub(crate) fn tx_packets(s: &Value, port: &str) -> u64 {
    s["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == port))
        .and_then(|p| p["tx_packets"].as_u64())
        .unwrap_or(0)
}

/// Starts espgw on the benchmark config, runs `f` once its control socket answers, stops it.
fn with_espgw<T>(
    espgw: &Path,
    work: &Path,
    pcap: &Path,
    burst: usize,
    f: impl FnOnce(&Path) -> Result<T, String>,
) -> Result<T, String> {
    let prefix = format!("espgw-perf-{}", std::process::id());
    let sock = work.join("espgw.sock");
    let yaml = format!(
        "eal:\n  main_lcore: 0\n  memory_mb: 1024\n  file_prefix: {prefix}\n\
         ports:\n\
         \x20 - name: in\n    device: \"net_pcap0,rx_pcap={pcap},infinite_rx=1\"\n    addresses: [\"192.0.2.1/24\"]\n\
         \x20 - name: out\n    device: \"net_null0,no-rx=1\"\n    addresses: [\"198.51.100.1/24\"]\n    neighbours: [{{ ip: 198.51.100.2, mac: \"02:00:00:00:00:02\" }}]\n\
         routes:\n  - {{ prefix: 203.0.113.0/24, via: 198.51.100.2 }}\n\
         workers:\n  - {{ lcore: 1, rx: [\"in:0\", \"out:0\"] }}\n\
         control:\n  socket: {sock}\n\
         dataplane:\n  burst: {burst}\n  mbufs: 32767\n",
        pcap = pcap.display(),
        sock = sock.display()
    );
    with_espgw_config(espgw, work, &yaml, &prefix, &sock, |_child, sock| f(sock))
}

/// Writes `yaml` (whose `eal.file_prefix` is `prefix` and control socket `sock`), starts
/// `espgw run` on it, calls `f` as soon as the control socket answers (polled every 2 ms, so
/// `f` sees the first moments of traffic), then stops espgw and removes its DPDK runtime
/// directory.
pub(crate) fn with_espgw_config<T>(
    espgw: &Path,
    work: &Path,
    yaml: &str,
    prefix: &str,
    sock: &Path,
    f: impl FnOnce(&mut Child, &Path) -> Result<T, String>,
) -> Result<T, String> {
    let cfg = work.join("espgw.yaml");
    let _ = std::fs::remove_file(sock);
    std::fs::write(&cfg, yaml).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(work.join("espgw.log")).map_err(|e| e.to_string())?;
    let mut child = Command::new(espgw)
        .args(["run", "-c"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("spawn espgw: {e}"))?;
    let measured = (|| {
        let t0 = Instant::now();
        while status_now(sock).is_none() {
            if t0.elapsed() > Duration::from_secs(60) || matches!(child.try_wait(), Ok(Some(_))) {
                let log = std::fs::read_to_string(work.join("espgw.log")).unwrap_or_default();
                return Err(format!("espgw did not start:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        f(&mut child, sock)
    })();
    stop_child(&mut child);
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    measured
}

fn discover_in_mac(espgw: &Path, work: &Path, pcap: &Path) -> Result<[u8; 6], String> {
    with_espgw(espgw, work, pcap, 32, |sock| {
        let s = status(espgw, sock).ok_or("status failed")?;
        let mac = s["ports"][0]["mac"].as_str().ok_or("no MAC in status")?;
        let b: Vec<u8> = mac.split(':').filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
        b.try_into().map_err(|_| format!("bad MAC {mac}"))
    })
}

fn run_espgw(espgw: &Path, work: &Path, pcap: &Path, seconds: f64, burst: usize) -> Result<f64, String> {
    with_espgw(espgw, work, pcap, burst, |sock| {
        std::thread::sleep(Duration::from_secs(2)); // warm-up
        let s1 = status(espgw, sock).ok_or("status failed")?;
        let t1 = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(seconds));
        let s2 = status(espgw, sock).ok_or("status failed")?;
        let dt = t1.elapsed().as_secs_f64();
        let d = tx_packets(&s2, "out").saturating_sub(tx_packets(&s1, "out"));
        if d == 0 {
            let drops: Vec<String> = s2["drops"]
                .as_array()
                .map(|a| {
                    a.iter().filter(|d| d["packets"].as_u64() > Some(0)).map(|d| d.to_string()).collect()
                })
                .unwrap_or_default();
            return Err(format!("espgw forwarded nothing; drops: {}", drops.join(", ")));
        }
        Ok(d as f64 / dt / 1e6)
    })
}

fn run_testpmd(work: &Path, pcap: &Path, seconds: f64, burst: usize) -> Result<f64, String> {
    let prefix = format!("espgw-perf-tpmd-{}", std::process::id());
    let mut child = Command::new("dpdk-testpmd")
        .args(["-l", "0,1", "--no-huge", "-m", "1024", "--no-pci", "--log-level=lib.eal:warning"])
        .arg(format!("--file-prefix={prefix}"))
        .arg(format!("--vdev=net_pcap0,rx_pcap={},infinite_rx=1", pcap.display()))
        .arg("--vdev=net_null0,no-rx=1")
        .args(["--", "-i", "--nb-cores=1", "--forward-mode=io", "--total-num-mbufs=32768"])
        .arg(format!("--burst={burst}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .current_dir(work)
        .spawn()
        .map_err(|e| format!("spawn dpdk-testpmd (make deps installs it): {e}"))?;
    let out = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let sink = out.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut s) = sink.lock() {
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let wait_prompt = |n: usize| {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if out.lock().map(|s| s.matches("testpmd> ").count() >= n).unwrap_or(false) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    };
    let result = (|| {
        if !wait_prompt(1) {
            return Err(format!(
                "testpmd did not start:\n{}",
                out.lock().map(|s| s.clone()).unwrap_or_default()
            ));
        }
        let mut send =
            |c: &str| stdin.write_all(c.as_bytes()).and_then(|_| stdin.flush()).map_err(|e| e.to_string());
        send("start\n")?;
        std::thread::sleep(Duration::from_secs(2));
        send("show port stats all\n")?;
        std::thread::sleep(Duration::from_secs_f64(seconds));
        send("show port stats all\n")?;
        std::thread::sleep(Duration::from_millis(500));
        send("stop\n")?;
        send("quit\n")?;
        Ok(())
    })();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(15) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    result?;
    let text = out.lock().map(|s| s.clone()).unwrap_or_default();
    parse_tx_pps(&text)
        .map(|pps| pps / 1e6)
        .ok_or_else(|| format!("could not read Tx-pps from testpmd:\n{text}"))
}

/// Tx-pps of port 1 in the last `show port stats all` (testpmd computes it since the previous show).
fn parse_tx_pps(text: &str) -> Option<f64> {
    let block = text.rsplit("NIC statistics for port 1").next()?;
    let after = block.split("Tx-pps:").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_testpmd_tx_pps() {
        let t = "  ######################## NIC statistics for port 1  ########################\n  TX-packets: 5 \n  Throughput (since last show)\n  Rx-pps:            0          Rx-bps:            0\n  Tx-pps:     12345678          Tx-bps:   6320987136\n";
        assert_eq!(super::parse_tx_pps(t), Some(12345678.0));
    }
}
