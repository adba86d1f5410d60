//! Machine description and the JSON report shape shared by all benchmarks.

use serde_json::{json, Value};
use std::path::Path;

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {}", kernel.trim())
}

pub fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn write(path: &Path, results: Vec<Value>) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let doc = json!({ "machine": machine(), "date": today(), "results": results });
    std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n")
}

/// `espgw-perf report`: gathers the results of the benchmarks that ran (forward.json,
/// esp.json, pipeline.json, crypto.json, spi.json in the same directory) into one report.json and prints
/// them as a table.
pub fn main(args: &[String]) -> Result<(), String> {
    let dir = Path::new(args.first().map_or("target/perf", String::as_str)).to_path_buf();
    let mut results: Vec<Value> = Vec::new();
    for name in ["forward.json", "esp.json", "pipeline.json", "crypto.json", "spi.json"] {
        let Ok(text) = std::fs::read_to_string(dir.join(name)) else { continue };
        let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
        if let Some(r) = doc["results"].as_array() {
            // Keep the fields (esp.json also holds every run and both peer modes), and
            // the other peers measured beside the main one (`also`: crypto's ring and aes-gcm).
            results.extend(r.iter().map(|x| {
                let mut e = json!({"scenario": x["scenario"], "size": x["size"], "cores": x["cores"],
                       "espgw": x["espgw"], "peer": x["peer"], "peer_value": x["peer_value"], "unit": x["unit"],
                       "ratio": x["ratio"]});
                if x["also"].is_array() {
                    e["also"] = x["also"].clone();
                }
                e
            }));
        }
    }
    if results.is_empty() {
        return Err(format!("no benchmark results in {}", dir.display()));
    }
    println!("{}", machine());
    println!(
        "{:<24} {:>6} {:>5} {:>12} {:>12} {:>8}  peer",
        "scenario", "size", "cores", "espgw", "peer", "ratio"
    );
    for r in &results {
        let num = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
        let also: Vec<String> = r["also"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                format!(
                    "{} {} ({})",
                    a["peer"].as_str().unwrap_or("?"),
                    num(&a["peer_value"]),
                    num(&a["ratio"])
                )
            })
            .collect();
        println!(
            "{:<24} {:>6} {:>5} {:>12} {:>12} {:>8}  {} ({}){}",
            r["scenario"].as_str().unwrap_or("?"),
            r["size"].as_str().unwrap_or("-"),
            r["cores"].as_u64().unwrap_or(1),
            num(&r["espgw"]),
            num(&r["peer_value"]),
            num(&r["ratio"]),
            r["peer"].as_str().unwrap_or("-"),
            r["unit"].as_str().unwrap_or(""),
            if also.is_empty() { String::new() } else { format!("; also {}", also.join(", ")) }
        );
    }
    let out = dir.join("report.json");
    write(&out, results).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("written to {} (ratio > 1: espgw ahead)", out.display());
    Ok(())
}
