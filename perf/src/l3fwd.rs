//! DPDK's own router, `l3fwd`, as a second peer for the forwarding benchmark.
//!
//! testpmd's io mode moves mbufs without reading them: the ceiling of the vdev pair. l3fwd
//! routes (LPM, TTL decrement, checksum update, MAC rewrite), so it shows what a C router built
//! on the same DPDK reaches on the same vdevs. It is built once into target/perf/l3fwd from the
//! dpdk-doc example sources, with the one change vdevs need (no RX checksum offload request).
//! On vdevs it must run with `--parse-ptype` (software packet-type parsing, an RX callback),
//! because the PMDs report no packet types and l3fwd refuses to start without them. It does not
//! verify the IPv4 header checksum in software (it expects the NIC to) and has no TTL-expiry,
//! martian or MTU checks; espgw does all of these.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The l3fwd binary: `L3FWD` if set, else built once into target/perf/l3fwd.
pub fn binary() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("L3FWD") {
        return Ok(PathBuf::from(p));
    }
    let dir = PathBuf::from("target/perf/l3fwd");
    let bin = dir.join("l3fwd/build/l3fwd");
    if bin.exists() {
        return Ok(bin);
    }
    let src = Path::new("/usr/share/dpdk/examples");
    if !src.join("l3fwd").exists() {
        return Err(format!("{}/l3fwd not found: apt-get install dpdk-doc (make deps)", src.display()));
    }
    println!("building l3fwd in {} (once)", dir.display());
    let _ = std::fs::remove_dir_all(&dir);
    // The example includes ../common, so both directories are copied side by side.
    let sh = format!(
        "set -e; mkdir -p {d}; cp -r {s}/l3fwd {s}/common {d}/; cd {d}/l3fwd; \
         sed -i 's/\\.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,/.offloads = 0,/' main.c; \
         grep -q '\\.offloads = 0,' main.c; make -j1 >build.log 2>&1 || {{ tail -20 build.log; exit 1; }}",
        d = dir.display(),
        s = src.display()
    );
    let st = Command::new("bash").args(["-c", &sh]).status().map_err(|e| e.to_string())?;
    if !st.success() || !bin.exists() {
        return Err(format!("building l3fwd failed (see {}/l3fwd/build.log)", dir.display()));
    }
    Ok(bin)
}

/// Runs l3fwd on one lcore, net_pcap (port 0) → net_null (port 1), with the route the espgw
/// run has (203.0.113.0/24 out of port 1), and returns port 1's transmit rate in Mpps over
/// `seconds` after 2 s of warm-up, read through DPDK telemetry (`dpdk-telemetry.py`).
pub fn run(bin: &Path, work: &Path, pcap: &Path, seconds: f64, burst: usize) -> Result<f64, String> {
    let prefix = format!("espgw-perf-l3fwd-{}", std::process::id());
    let rules4 = work.join("l3fwd-v4.cfg");
    let rules6 = work.join("l3fwd-v6.cfg");
    std::fs::write(&rules4, "R203.0.113.0/24 1\nR192.0.2.0/24 0\n").map_err(|e| e.to_string())?;
    std::fs::write(&rules6, "R2001:db8::/32 1\n").map_err(|e| e.to_string())?;
    if burst != 32 {
        return Err("l3fwd's burst is fixed at 32 (MAX_PKT_BURST): run with --burst 32".into());
    }
    let log = std::fs::File::create(work.join("l3fwd.log")).map_err(|e| e.to_string())?;
    let mut child = Command::new(bin)
        .args(["-l", "1", "--no-huge", "-m", "1024", "--no-pci", "--log-level=lib.eal:warning"])
        .arg(format!("--file-prefix={prefix}"))
        .arg(format!("--vdev=net_pcap0,rx_pcap={},infinite_rx=1", pcap.display()))
        .arg("--vdev=net_null0,no-rx=1")
        .args(["--", "-p", "0x3", "-P", "--config=(0,0,1),(1,0,1)", "--parse-ptype"])
        .arg(format!("--rule_ipv4={}", rules4.display()))
        .arg(format!("--rule_ipv6={}", rules6.display()))
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("spawn l3fwd: {e}"))?;
    let measured = (|| {
        let t0 = Instant::now();
        while opackets(&prefix).is_none() {
            if t0.elapsed() > Duration::from_secs(30) || matches!(child.try_wait(), Ok(Some(_))) {
                let log = std::fs::read_to_string(work.join("l3fwd.log")).unwrap_or_default();
                return Err(format!("l3fwd did not start:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(2));
        let a = opackets(&prefix).ok_or("telemetry failed")?;
        let t1 = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(seconds));
        let b = opackets(&prefix).ok_or("telemetry failed")?;
        let dt = t1.elapsed().as_secs_f64();
        if b <= a {
            return Err("l3fwd forwarded nothing".into());
        }
        Ok((b - a) as f64 / dt / 1e6)
    })();
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) && !matches!(child.try_wait(), Ok(Some(_))) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    measured
}

/// Port 1's transmitted packets, from the process's telemetry socket.
fn opackets(prefix: &str) -> Option<u64> {
    let mut c = Command::new("dpdk-telemetry.py")
        .args(["-f", prefix])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    {
        use std::io::Write;
        let mut stdin = c.stdin.take()?;
        stdin.write_all(b"/ethdev/stats,1\n").ok()?;
    }
    let out = c.wait_with_output().ok()?;
    parse_opackets(&String::from_utf8_lossy(&out.stdout))
}

/// `opackets` from dpdk-telemetry.py's output: one JSON object per command, on its own line.
fn parse_opackets(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.trim_start().starts_with("{\"/ethdev/stats\""))?;
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v["/ethdev/stats"]["opackets"].as_u64()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_opackets_from_a_telemetry_reply() {
        let out =
            "Connecting to /var/run/dpdk/x/dpdk_telemetry.v2\n{\"version\": \"DPDK 22.11.11\", \"pid\": 1}\n\
                   {\"/ethdev/stats\": {\"ipackets\": 0, \"opackets\": 100491008, \"obytes\": 0}}\n";
        assert_eq!(super::parse_opackets(out), Some(100491008));
        assert_eq!(super::parse_opackets("{\"/ethdev/stats\": null}"), None);
        assert_eq!(super::parse_opackets(""), None);
    }
}
