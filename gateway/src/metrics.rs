//! The Prometheus endpoint: `GET /metrics` on `metrics.listen`, in the text exposition format.
//!
//! Every scrape builds the metrics from one [`Status`] snapshot, assembled off the hot path
//! from single-writer per-core counters, DPDK port stats and the published IPsec tables (the
//! same source as `espgw status`), so the endpoint and the CLI never disagree.
//!
//! Label cardinality is bounded: ports, queues, lcores and drop reasons are fixed by the
//! config and the code. SAs get their own series (labels `sa`, `direction`, `spi`) for the
//! first [`MAX_SA_SERIES`] SAs in slot order; the counters of any SA beyond that are summed
//! into one series with `sa="_other"`. IKE series carry the peer's configured name (the first
//! [`MAX_PEER_SERIES`] peers; the rest sum into `peer="_other"`) and, for negotiation
//! failures, one of the fixed [`FAILURE_REASONS`]. The IKE counters are kept by the control
//! loop's IKE driver and published with its status every 100 ms, never counted per packet.
//! No key material is reachable from here.

use crate::api::{Status, StatusSource};
use crate::ike_driver::FAILURE_REASONS;
use prometheus::core::Collector;
use prometheus::{Encoder, GaugeVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// SAs with series of their own; the rest are aggregated under `sa="_other"`.
pub const MAX_SA_SERIES: usize = 1000;
/// IKE peers with series of their own (in config order); the rest are summed under
/// `peer="_other"`.
pub const MAX_PEER_SERIES: usize = 1000;

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    register(r, c.clone());
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    register(r, g.clone());
    g
}

fn register<C: Collector + 'static>(r: &Registry, c: C) {
    // Names are unique constants in this file: registration cannot conflict.
    let _ = r.register(Box::new(c));
}

/// Renders `s` in the Prometheus text format.
pub fn render(s: &Status) -> String {
    let r = Registry::new();
    let port_rx =
        counter(&r, "espgw_port_rx_packets_total", "Packets received on the port (DPDK stats).", &["port"]);
    let port_rx_b = counter(&r, "espgw_port_rx_bytes_total", "Bytes received on the port.", &["port"]);
    let port_tx = counter(&r, "espgw_port_tx_packets_total", "Packets sent on the port.", &["port"]);
    let port_tx_b = counter(&r, "espgw_port_tx_bytes_total", "Bytes sent on the port.", &["port"]);
    let port_missed = counter(
        &r,
        "espgw_port_rx_missed_total",
        "Packets the port dropped for lack of RX descriptors.",
        &["port"],
    );
    let port_err = counter(
        &r,
        "espgw_port_errors_total",
        "Port RX/TX errors and mbuf allocation failures.",
        &["port", "kind"],
    );
    let xstat = counter(&r, "espgw_port_xstat_total", "DPDK extended port statistics.", &["port", "stat"]);
    let link = gauge(&r, "espgw_port_link_up", "1 when the port's link is up.", &["port"]);
    let queue_rx = counter(
        &r,
        "espgw_queue_rx_packets_total",
        "Packets received per RX queue.",
        &["port", "queue", "lcore"],
    );
    let queue_rx_b = counter(
        &r,
        "espgw_queue_rx_bytes_total",
        "Bytes received per RX queue.",
        &["port", "queue", "lcore"],
    );
    let queue_tx = counter(
        &r,
        "espgw_queue_tx_packets_total",
        "Packets handed to each TX queue (one per worker).",
        &["port", "queue", "lcore"],
    );
    let queue_tx_b = counter(
        &r,
        "espgw_queue_tx_bytes_total",
        "Bytes handed to each TX queue.",
        &["port", "queue", "lcore"],
    );
    let drops =
        counter(&r, "espgw_drops_total", "Packets dropped, by reason (see `espgw status`).", &["reason"]);
    let busy = GaugeVec::new(
        Opts::new(
            "espgw_worker_busy_ratio",
            "Share of a worker's time spent in iterations that moved packets.",
        ),
        &["lcore"],
    )
    .expect("valid metric");
    register(&r, busy.clone());
    let window = GaugeVec::new(
        Opts::new(
            "espgw_worker_packet_latency_window_seconds",
            "Exact quantiles (hdrhistogram, 1%) of worker packet latency over the last ~100 ms with traffic.",
        ),
        // Not `quantile`: that label name belongs to summaries (promtool says so).
        &["lcore", "percentile"],
    )
    .expect("valid metric");
    register(&r, window.clone());
    let polls = counter(&r, "espgw_worker_polls_total", "Worker loop iterations.", &["lcore"]);
    let idle = counter(
        &r,
        "espgw_worker_idle_polls_total",
        "Worker loop iterations that found nothing.",
        &["lcore"],
    );
    let punted = counter(&r, "espgw_worker_punted_total", "Packets handed to the control path.", &["lcore"]);
    let injected = counter(
        &r,
        "espgw_worker_injected_total",
        "Packets the control path sent through the worker.",
        &["lcore"],
    );
    let sa_labels = &["sa", "direction", "spi"];
    let sa_packets = counter(
        &r,
        "espgw_sa_packets_total",
        "Packets protected (out) or accepted (in) by the SA.",
        sa_labels,
    );
    let sa_bytes =
        counter(&r, "espgw_sa_bytes_total", "Inner bytes protected or accepted by the SA.", sa_labels);
    let sa_replay = counter(
        &r,
        "espgw_sa_replay_drops_total",
        "Inbound packets dropped by the anti-replay check.",
        sa_labels,
    );
    let sa_icv =
        counter(&r, "espgw_sa_icv_failures_total", "Inbound packets whose ICV did not verify.", sa_labels);
    let sa_seq = gauge(&r, "espgw_sa_sequence_number", "Last outbound sequence number used.", sa_labels);
    let sa_life = gauge(
        &r,
        "espgw_sa_hard_lifetime_seconds_left",
        "Seconds until the hard lifetime removes the SA.",
        sa_labels,
    );
    let sa_count = gauge(&r, "espgw_sas", "SAs installed, by direction.", &["direction"]);
    let generation =
        IntGauge::new("espgw_ipsec_table_generation", "Generation of the published SA/policy tables.")
            .expect("valid metric");
    register(&r, generation.clone());
    let fib_gen =
        IntGauge::new("espgw_fib_generation", "Generation of the published FIB.").expect("valid metric");
    register(&r, fib_gen.clone());
    let uptime = IntGauge::new("espgw_uptime_seconds", "Seconds since espgw started.").expect("valid metric");
    register(&r, uptime.clone());
    let info = gauge(&r, "espgw_build_info", "Always 1; labels describe the build.", &["version"]);
    let ike_sas = gauge(
        &r,
        "espgw_ike_sas",
        "IKE SAs by state: 1 on the peer's current state (connecting, established, down).",
        &["peer", "state"],
    );
    let ike_children = gauge(
        &r,
        "espgw_ike_child_sas",
        "Child SAs negotiated with the peer and in the data plane.",
        &["peer"],
    );
    let ike_negotiations = counter(
        &r,
        "espgw_ike_negotiations_total",
        "IKE and Child SA negotiations by outcome; failures carry the reason kind.",
        &["peer", "sa", "outcome", "reason"],
    );
    let ike_rekeys =
        counter(&r, "espgw_ike_rekeys_total", "Completed IKE SA and Child SA rekeys.", &["peer", "sa"]);
    let ike_dead = counter(
        &r,
        "espgw_ike_peer_dead_total",
        "Established IKE SAs torn down because the peer stopped answering (DPD).",
        &["peer"],
    );

    let vti_up = gauge(&r, "espgw_vti_up", "1 while the VTI has an outbound SA to encrypt with.", &["vti"]);
    let vti_packets = counter(
        &r,
        "espgw_vti_packets_total",
        "Packets the VTI's SAs carried (inner), by direction.",
        &["vti", "direction"],
    );
    let vti_bytes = counter(
        &r,
        "espgw_vti_bytes_total",
        "Bytes the VTI's SAs carried (inner), by direction.",
        &["vti", "direction"],
    );
    let vti_learned = gauge(
        &r,
        "espgw_vti_learned_routes",
        "Routes learned from the VTI's host interface (the routing daemon) into the VTI.",
        &["vti"],
    );
    let host_packets = counter(
        &r,
        "espgw_host_exception_packets_total",
        "Packets through the VTI host interfaces: to_host, from_host, from_host_dropped (not routed into a VTI).",
        &["direction"],
    );
    for v in &s.vtis {
        let l = v.name.as_str();
        vti_up.with_label_values(&[l]).set(i64::from(v.state == "up"));
        vti_packets.with_label_values(&[l, "in"]).inc_by(v.packets_in);
        vti_packets.with_label_values(&[l, "out"]).inc_by(v.packets_out);
        vti_bytes.with_label_values(&[l, "in"]).inc_by(v.bytes_in);
        vti_bytes.with_label_values(&[l, "out"]).inc_by(v.bytes_out);
        vti_learned.with_label_values(&[l]).set(v.learned_route_count as i64);
    }
    if let Some(h) = s.vtis.iter().find_map(|v| v.host) {
        host_packets.with_label_values(&["to_host"]).inc_by(h.to_host);
        host_packets.with_label_values(&["from_host"]).inc_by(h.from_host);
        host_packets.with_label_values(&["from_host_dropped"]).inc_by(h.from_host_dropped);
    }

    info.with_label_values(&[&s.version]).set(1);
    uptime.set(s.uptime_s as i64);
    fib_gen.set(s.fib_generation as i64);
    generation.set(s.ipsec.generation as i64);
    for p in &s.ports {
        let l = [p.name.as_str()];
        port_rx.with_label_values(&l).inc_by(p.rx_packets);
        port_rx_b.with_label_values(&l).inc_by(p.rx_bytes);
        port_tx.with_label_values(&l).inc_by(p.tx_packets);
        port_tx_b.with_label_values(&l).inc_by(p.tx_bytes);
        port_missed.with_label_values(&l).inc_by(p.rx_missed);
        port_err.with_label_values(&[&p.name, "rx"]).inc_by(p.rx_errors);
        port_err.with_label_values(&[&p.name, "tx"]).inc_by(p.tx_errors);
        port_err.with_label_values(&[&p.name, "rx_nombuf"]).inc_by(p.rx_nombuf);
        link.with_label_values(&l).set(p.link_up as i64);
        for (name, v) in &p.xstats {
            xstat.with_label_values(&[&p.name, name]).inc_by(*v);
        }
        for q in &p.queues {
            let ql = [p.name.clone(), q.queue.to_string(), q.lcore.to_string()];
            let ql: Vec<&str> = ql.iter().map(String::as_str).collect();
            queue_rx.with_label_values(&ql).inc_by(q.rx_packets);
            queue_rx_b.with_label_values(&ql).inc_by(q.rx_bytes);
        }
        for q in &p.tx_queues {
            let ql = [p.name.clone(), q.queue.to_string(), q.lcore.to_string()];
            let ql: Vec<&str> = ql.iter().map(String::as_str).collect();
            queue_tx.with_label_values(&ql).inc_by(q.tx_packets);
            queue_tx_b.with_label_values(&ql).inc_by(q.tx_bytes);
        }
    }
    for d in &s.drops {
        drops.with_label_values(&[&d.reason]).inc_by(d.packets);
    }
    for w in &s.workers {
        let l = [w.lcore.to_string()];
        let l = [l[0].as_str()];
        busy.with_label_values(&l).set(w.busy_percent / 100.0);
        let lcore = w.lcore.to_string();
        for (q, ns) in ["50", "99", "99.9"].iter().zip(w.latency.window_p50_p99_p999_ns) {
            window.with_label_values(&[lcore.as_str(), q]).set(ns as f64 / 1e9);
        }
        polls.with_label_values(&l).inc_by(w.polls);
        idle.with_label_values(&l).inc_by(w.idle_polls);
        punted.with_label_values(&l).inc_by(w.punted);
        injected.with_label_values(&l).inc_by(w.injected);
    }
    for dir in ["in", "out"] {
        sa_count
            .with_label_values(&[dir])
            .set(s.ipsec.sas.iter().filter(|x| x.direction == dir).count() as i64);
    }
    for (i, sa) in s.ipsec.sas.iter().enumerate() {
        let own = i < MAX_SA_SERIES;
        let spi = format!("{:#010x}", sa.spi);
        let l: [&str; 3] = if own { [&sa.name, &sa.direction, &spi] } else { ["_other", &sa.direction, ""] };
        sa_packets.with_label_values(&l).inc_by(sa.packets);
        sa_bytes.with_label_values(&l).inc_by(sa.bytes);
        if sa.direction == "in" {
            sa_replay.with_label_values(&l).inc_by(sa.replay_drops);
            sa_icv.with_label_values(&l).inc_by(sa.icv_failures);
        }
        if own {
            if let Some(q) = sa.last_seq {
                sa_seq.with_label_values(&l).set(q.min(i64::MAX as u64) as i64);
            }
            if let Some(left) = sa.hard_seconds_left {
                sa_life.with_label_values(&l).set(left.min(i64::MAX as u64) as i64);
            }
        }
    }
    for (i, p) in s.ike.iter().enumerate() {
        let peer = if i < MAX_PEER_SERIES { p.name.as_str() } else { "_other" };
        for state in ["connecting", "established", "down", "admin-down"] {
            ike_sas.with_label_values(&[peer, state]).add((p.state == state) as i64);
        }
        ike_children.with_label_values(&[peer]).add(p.children.iter().filter(|c| c.installed).count() as i64);
        let k = &p.counters;
        for (sa, ok, failed) in
            [("ike", k.ike_established, &k.ike_failed), ("child", k.child_established, &k.child_failed)]
        {
            ike_negotiations.with_label_values(&[peer, sa, "established", "none"]).inc_by(ok);
            for reason in FAILURE_REASONS {
                let n = failed.get(reason).copied().unwrap_or(0);
                ike_negotiations.with_label_values(&[peer, sa, "failed", reason]).inc_by(n);
            }
        }
        ike_rekeys.with_label_values(&[peer, "ike"]).inc_by(k.ike_rekeys);
        ike_rekeys.with_label_values(&[peer, "child"]).inc_by(k.child_rekeys);
        ike_dead.with_label_values(&[peer]).inc_by(k.peer_dead);
    }
    let mut families = r.gather();
    families.push(latency_family(s));
    let mut out = Vec::new();
    let _ = TextEncoder::new().encode(&families, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Per-worker packet latency (RX burst to TX burst) as a Prometheus histogram: the workers
/// keep fixed buckets of single-writer counters, exported here as they are.
fn latency_family(s: &Status) -> prometheus::proto::MetricFamily {
    use prometheus::proto::{Bucket, Histogram, LabelPair, Metric, MetricFamily, MetricType};
    let mut mf = MetricFamily::default();
    mf.set_name("espgw_worker_packet_latency_seconds".into());
    mf.set_help(
        "Time packets spend in a worker, from the RX burst that brought them to the TX burst that sent them."
            .into(),
    );
    mf.set_field_type(MetricType::HISTOGRAM);
    let metrics = s
        .workers
        .iter()
        .map(|w| {
            let l = &w.latency;
            let mut acc = 0u64;
            let buckets = l
                .bounds_ns
                .iter()
                .zip(&l.counts)
                .map(|(&b, &c)| {
                    acc += c;
                    let mut bucket = Bucket::default();
                    bucket.set_upper_bound(b as f64 / 1e9);
                    bucket.set_cumulative_count(acc);
                    bucket
                })
                .collect();
            let mut h = Histogram::default();
            h.set_bucket(buckets);
            h.set_sample_count(l.count);
            h.set_sample_sum(l.sum_ns as f64 / 1e9);
            let mut label = LabelPair::default();
            label.set_name("lcore".into());
            label.set_value(w.lcore.to_string());
            let mut m = Metric::from_label(vec![label]);
            m.set_histogram(h);
            m
        })
        .collect();
    mf.set_metric(metrics);
    mf
}

/// Serves `GET /metrics` on `addr` until `stop` is set.
pub fn spawn(
    addr: SocketAddr,
    source: Arc<StatusSource>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("metrics.listen {addr}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| format!("metrics.listen {addr}: {e}"))?;
    std::thread::Builder::new()
        .name("espgw-metrics".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &source),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })
        .map_err(|e| format!("metrics thread: {e}"))
}

fn serve(stream: TcpStream, source: &StatusSource) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Drain the request headers.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = if method != "GET" {
        ("405 Method Not Allowed", "text/plain", "only GET\n".to_string())
    } else if path == "/metrics" || path.starts_with("/metrics?") {
        ("200 OK", "text/plain; version=0.0.4; charset=utf-8", render(&source.status()))
    } else {
        ("404 Not Found", "text/plain", "see /metrics\n".to_string())
    };
    let mut w = &stream;
    let _ = write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{IpsecStatus, SaStatus};

    fn status(sas: usize) -> Status {
        let mut s: Status = serde_json::from_value(serde_json::json!({
            "version": "0.1.0", "config": "x.yaml", "pid": 1, "uptime_s": 12.5, "fib_generation": 3,
            "ports": [{"name": "wan", "device": "net_null0", "dpdk_port": 0, "mac": "02:00:00:00:00:01",
                       "mtu": 1500, "link_up": true, "speed_mbps": 10000, "addresses": [],
                       "rx_packets": 10, "rx_bytes": 1000, "tx_packets": 9, "tx_bytes": 900, "rx_missed": 1,
                       "rx_errors": 0, "tx_errors": 0, "rx_nombuf": 0, "forwarded_tx_packets": 9,
                       "forwarded_tx_bytes": 900, "queues": [{"queue": 0, "lcore": 1, "rx_packets": 10, "rx_bytes": 1000}],
                       "xstats": [["rx_good_packets", 10]]}],
            "workers": [{"lcore": 1, "polls": 100, "idle_polls": 90, "busy_percent": 12.5, "punted": 2, "injected": 1,
                         "latency": {"bounds_ns": [250, 500, 1000], "counts": [3, 4, 0, 1], "sum_ns": 5000, "count": 8}}],
            "drops": [{"reason": "esp_replayed", "packets": 4}],
            "neighbours": [], "routes": [],
            "vtis": [{"name": "vti0", "address": "169.254.10.1/30", "peer": "aws1", "state": "up",
                      "spi_in": "c0000001", "spi_out": "c0000002", "packets_in": 3, "bytes_in": 300,
                      "packets_out": 4, "bytes_out": 400, "host_interface": "espgw-vti0",
                      "host": {"to_host": 6, "from_host": 7, "from_host_dropped": 1},
                      "learned_route_count": 2, "learned_routes": ["10.1.0.0/16", "10.2.0.0/16"]}]
        }))
        .unwrap();
        s.ipsec = IpsecStatus {
            generation: 7,
            sas: (0..sas)
                .map(|i| SaStatus {
                    name: format!("sa{i}"),
                    slot: i as u32,
                    direction: if i % 2 == 0 { "in" } else { "out" }.into(),
                    spi: 0x1000 + i as u32,
                    mode: "tunnel".into(),
                    local: "203.0.113.1".into(),
                    remote: "203.0.113.2".into(),
                    algorithm: "aes128gcm16".into(),
                    esn: false,
                    natt: None,
                    packets: 5,
                    bytes: 500,
                    replay_drops: 1,
                    icv_failures: 2,
                    hard_seconds_left: Some(3600),
                    last_seq: (i % 2 == 1).then_some(5),
                })
                .collect(),
            policies: vec![],
        };
        s
    }

    #[test]
    fn renders_ports_drops_workers_and_sas() {
        let text = render(&status(2));
        for want in [
            "espgw_port_rx_packets_total{port=\"wan\"} 10",
            "espgw_port_rx_missed_total{port=\"wan\"} 1",
            "espgw_port_xstat_total{port=\"wan\",stat=\"rx_good_packets\"} 10",
            "espgw_drops_total{reason=\"esp_replayed\"} 4",
            "espgw_worker_busy_ratio{lcore=\"1\"} 0.125",
            "espgw_sa_packets_total{direction=\"in\",sa=\"sa0\",spi=\"0x00001000\"} 5",
            "espgw_sa_replay_drops_total{direction=\"in\",sa=\"sa0\",spi=\"0x00001000\"} 1",
            "espgw_sa_icv_failures_total{direction=\"in\",sa=\"sa0\",spi=\"0x00001000\"} 2",
            "espgw_sa_sequence_number{direction=\"out\",sa=\"sa1\",spi=\"0x00001001\"} 5",
            "espgw_sa_hard_lifetime_seconds_left{direction=\"in\",sa=\"sa0\",spi=\"0x00001000\"} 3600",
            "espgw_ipsec_table_generation 7",
            "# TYPE espgw_sa_bytes_total counter",
            "# TYPE espgw_worker_packet_latency_seconds histogram",
            "espgw_worker_packet_latency_seconds_bucket{lcore=\"1\",le=\"0.00000025\"} 3",
            "espgw_worker_packet_latency_seconds_bucket{lcore=\"1\",le=\"0.0000005\"} 7",
            "espgw_worker_packet_latency_seconds_bucket{lcore=\"1\",le=\"+Inf\"} 8",
            "espgw_worker_packet_latency_seconds_count{lcore=\"1\"} 8",
            "espgw_vti_up{vti=\"vti0\"} 1",
            "espgw_vti_packets_total{direction=\"out\",vti=\"vti0\"} 4",
            "espgw_vti_bytes_total{direction=\"in\",vti=\"vti0\"} 300",
            "espgw_vti_learned_routes{vti=\"vti0\"} 2",
            "espgw_host_exception_packets_total{direction=\"from_host_dropped\"} 1",
        ] {
            assert!(text.contains(want), "missing `{want}` in\n{text}");
        }
    }

    fn with_peers(mut s: Status, n: usize) -> Status {
        s.ike = (0..n)
            .map(|i| {
                serde_json::from_value(serde_json::json!({
                    "name": format!("peer{i}"), "local": "203.0.113.1", "remote": "203.0.113.2",
                    "state": if i == 0 { "established" } else { "connecting" },
                    "children": [{"name": "net", "spi_in": 0x1234, "spi_out": 0x4321, "installed": true}],
                    "last_failure": null,
                    "counters": {"ike_established": 2, "ike_failed": {"authentication_failed": 3},
                                 "child_established": 4, "child_failed": {"policy_mismatch": 1},
                                 "ike_rekeys": 5, "child_rekeys": 6, "peer_dead": 1}
                }))
                .unwrap()
            })
            .collect();
        s
    }

    #[test]
    fn renders_ike_state_negotiations_rekeys_and_dead_peers() {
        let text = render(&with_peers(status(0), 2));
        for want in [
            "espgw_ike_sas{peer=\"peer0\",state=\"established\"} 1",
            "espgw_ike_sas{peer=\"peer0\",state=\"down\"} 0",
            "espgw_ike_sas{peer=\"peer1\",state=\"connecting\"} 1",
            "espgw_ike_child_sas{peer=\"peer0\"} 1",
            "espgw_ike_negotiations_total{outcome=\"established\",peer=\"peer0\",reason=\"none\",sa=\"ike\"} 2",
            "espgw_ike_negotiations_total{outcome=\"failed\",peer=\"peer0\",reason=\"authentication_failed\",sa=\"ike\"} 3",
            "espgw_ike_negotiations_total{outcome=\"failed\",peer=\"peer0\",reason=\"no_answer\",sa=\"ike\"} 0",
            "espgw_ike_negotiations_total{outcome=\"established\",peer=\"peer0\",reason=\"none\",sa=\"child\"} 4",
            "espgw_ike_negotiations_total{outcome=\"failed\",peer=\"peer0\",reason=\"policy_mismatch\",sa=\"child\"} 1",
            "espgw_ike_rekeys_total{peer=\"peer0\",sa=\"ike\"} 5",
            "espgw_ike_rekeys_total{peer=\"peer0\",sa=\"child\"} 6",
            "espgw_ike_peer_dead_total{peer=\"peer0\"} 1",
            "# TYPE espgw_ike_negotiations_total counter",
            "# TYPE espgw_ike_sas gauge",
        ] {
            assert!(text.contains(want), "missing `{want}` in\n{text}");
        }
        // Every series of a peer: 4 states, 1 child gauge, 2 × (1 + reasons) negotiations, 2
        // rekeys, 1 dead: a fixed number, whatever happened.
        let per_peer =
            text.lines().filter(|l| l.starts_with("espgw_ike_") && l.contains("peer=\"peer1\"")).count();
        assert_eq!(per_peer, 4 + 1 + 2 * (1 + FAILURE_REASONS.len()) + 2 + 1);
    }

    #[test]
    fn peer_series_are_bounded() {
        let text = render(&with_peers(status(0), MAX_PEER_SERIES + 5));
        let dead: Vec<&str> = text.lines().filter(|l| l.starts_with("espgw_ike_peer_dead_total{")).collect();
        assert_eq!(dead.len(), MAX_PEER_SERIES + 1);
        assert!(dead.contains(&"espgw_ike_peer_dead_total{peer=\"_other\"} 5"), "{:?}", &dead[..3]);
        assert!(text.contains("espgw_ike_sas{peer=\"_other\",state=\"connecting\"} 5"));
    }

    #[test]
    fn sa_series_are_bounded() {
        let n = MAX_SA_SERIES + 20;
        let text = render(&status(n));
        let series = text.lines().filter(|l| l.starts_with("espgw_sa_packets_total{")).count();
        assert_eq!(series, MAX_SA_SERIES + 2, "one `_other` series per direction beyond the limit");
        let other_in = text
            .lines()
            .find(|l| l.starts_with("espgw_sa_packets_total{direction=\"in\",sa=\"_other\""))
            .expect("aggregated series");
        assert!(other_in.ends_with(" 50"), "10 inbound SAs of 5 packets: {other_in}");
    }
}
