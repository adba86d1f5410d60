//! Human-readable rendering of `espgw status`.

use gateway::api::Status;
use std::fmt::Write;

pub fn render(s: &Status) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "espgw {} (pid {}), up {:.0}s, config {}, FIB generation {}",
        s.version, s.pid, s.uptime_s, s.config, s.fib_generation
    );
    let _ = writeln!(o, "\nPorts:");
    let _ = writeln!(
        o,
        "  {:<8} {:<6} {:<17} {:>5} {:>12} {:>12} {:>10} {:>10}  addresses",
        "name", "link", "mac", "mtu", "rx pkts", "tx pkts", "rx missed", "errors"
    );
    for p in &s.ports {
        let _ = writeln!(
            o,
            "  {:<8} {:<6} {:<17} {:>5} {:>12} {:>12} {:>10} {:>10}  {}",
            p.name,
            if p.link_up { "up" } else { "down" },
            p.mac,
            p.mtu,
            p.rx_packets,
            p.tx_packets,
            p.rx_missed,
            p.rx_errors + p.tx_errors,
            p.addresses.join(" ")
        );
        for q in &p.queues {
            let _ = writeln!(
                o,
                "           rx queue {} on lcore {}: {} packets, {} bytes",
                q.queue, q.lcore, q.rx_packets, q.rx_bytes
            );
        }
    }
    let _ = writeln!(o, "\nWorkers:");
    for w in &s.workers {
        let _ = writeln!(
            o,
            "  lcore {:<3} busy {:>5.1}%  polls {}  punted {}  injected {}{}",
            w.lcore,
            w.busy_percent,
            w.polls,
            w.punted,
            w.injected,
            match (w.latency.quantile_bound_ns(0.5), w.latency.quantile_bound_ns(0.99)) {
                (Some(a), Some(b)) => format!("  latency p50 <= {} ns, p99 <= {} ns", a, b),
                (Some(a), None) =>
                    format!("  latency p50 <= {a} ns, p99 > {} ns", w.latency.bounds_ns.last().unwrap_or(&0)),
                _ => String::new(),
            } + &match w.latency.window_p50_p99_p999_ns {
                [0, _, _] => String::new(),
                [a, b, c] => format!(" (last window: p50 {a} ns, p99 {b} ns, p99.9 {c} ns)"),
            }
        );
    }
    let _ = writeln!(o, "\nDrops:");
    let mut any = false;
    for d in s.drops.iter().filter(|d| d.packets > 0) {
        any = true;
        let _ = writeln!(o, "  {:<26} {}", d.reason, d.packets);
    }
    if !any {
        let _ = writeln!(o, "  none");
    }
    let _ = writeln!(o, "\nNeighbours:");
    if s.neighbours.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for n in &s.neighbours {
        let _ = writeln!(
            o,
            "  {:<8} {:<28} {:<17} {}{}",
            n.port,
            n.ip,
            n.mac.as_deref().unwrap_or("-"),
            n.state,
            if n.pending > 0 { format!(" ({} packets waiting)", n.pending) } else { String::new() }
        );
    }
    if !s.ike.is_empty() {
        let _ = writeln!(o, "\nIKE peers:");
        for p in &s.ike {
            let _ = writeln!(
                o,
                "  {:<16} {} -> {}  {}{}  tunnel {}",
                p.name,
                p.local,
                p.remote,
                p.state,
                p.role.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
                crate::diagnose::tunnel_state(p)
            );
            if let Some(v1) = &p.ikev1 {
                let _ =
                    writeln!(o, "    IKEv1 {} mode: phase 1 {}, phase 2 {}", v1.mode, v1.phase1, v1.phase2);
                for q in &v1.pairs {
                    let _ = writeln!(
                        o,
                        "      pair {:<12} {} === {}  {}",
                        q.name, q.local_ts, q.remote_ts, q.state
                    );
                    if let Some(f) = &q.failure {
                        let _ = writeln!(o, "        {f}");
                    }
                }
            }
            if let (Some(i), Some(r)) = (&p.spi_i, &p.spi_r) {
                let what = if p.ikev1.is_some() { "ISAKMP SA" } else { "IKE SA" };
                let _ = writeln!(o, "    {what} {i}_i {r}_r");
            }
            if let Some(x) = &p.proposal {
                let _ = writeln!(o, "      proposal {x}");
            }
            if let Some(up) = p.established_s {
                let _ = writeln!(
                    o,
                    "      established {} ago, {}{}",
                    duration(up),
                    rekey_text(
                        p.ike_rekey_in_s,
                        if p.ikev1.is_some() { "phase 1 re-auth" } else { "IKE rekey" }
                    ),
                    p.nat.as_deref().map(|x| format!(", NAT: {x}")).unwrap_or_default()
                );
            }
            for c in &p.children {
                let _ = writeln!(
                    o,
                    "    child {:<12} spi in {:08x} out {:08x}{}",
                    c.name,
                    c.spi_in,
                    c.spi_out,
                    if c.installed { "  installed" } else { "  (not in the data plane)" }
                );
                if !c.esp.is_empty() {
                    let _ = writeln!(
                        o,
                        "      {}{}, {}{}",
                        c.esp,
                        if c.udp_encap { " in UDP 4500" } else { "" },
                        if c.state == "installed" { String::new() } else { format!("{}, ", c.state) },
                        rekey_text(c.rekey_in_s, "rekey")
                    );
                    let _ = writeln!(o, "      {} === {}", c.local_ts.join(" "), c.remote_ts.join(" "));
                    let _ = writeln!(
                        o,
                        "      in  {} packets, {} bytes\n      out {} packets, {} bytes",
                        c.packets_in, c.bytes_in, c.packets_out, c.bytes_out
                    );
                }
            }
            let k = &p.counters;
            let failed = |m: &std::collections::BTreeMap<String, u64>| {
                let n: u64 = m.values().sum();
                if n == 0 {
                    "0 failed".to_string()
                } else {
                    let v: Vec<String> = m.iter().map(|(r, n)| format!("{r} {n}")).collect();
                    format!("{n} failed ({})", v.join(", "))
                }
            };
            let _ = writeln!(
                o,
                "    since start: IKE SAs {} established, {}; Child SAs {} made, {}; rekeys IKE {}, child {}; peer dead {}",
                k.ike_established,
                failed(&k.ike_failed),
                k.child_established,
                failed(&k.child_failed),
                k.ike_rekeys,
                k.child_rekeys,
                k.peer_dead
            );
            if let Some(f) = &p.last_failure {
                let _ = writeln!(o, "    last failure ({}s ago, {}): {}", f.seconds_ago, f.phase, f.reason);
            }
        }
    }
    if !s.ipsec.sas.is_empty() || !s.ipsec.policies.is_empty() {
        let _ = writeln!(o, "\nIPsec SAs (table generation {}):", s.ipsec.generation);
        for sa in &s.ipsec.sas {
            let _ = writeln!(
                o,
                "  {:<3} {:<20} spi {:#010x}  {} {} -> {}  {}{}{}  {} packets, {} bytes{}",
                sa.direction,
                sa.name,
                sa.spi,
                sa.mode,
                sa.local,
                sa.remote,
                sa.algorithm,
                if sa.esn { " esn" } else { "" },
                sa.natt.as_deref().map(|n| format!(" udp {n}")).unwrap_or_default(),
                sa.packets,
                sa.bytes,
                sa.last_seq.map(|q| format!(", seq {q}")).unwrap_or_default()
            );
        }
        let _ = writeln!(o, "\nIPsec policies (first match wins):");
        for p in &s.ipsec.policies {
            let _ = writeln!(o, "  {:<3} {:<24} -> {:<24} {}", p.direction, p.src, p.dst, p.action);
        }
    }
    if !s.vtis.is_empty() {
        let _ = writeln!(o, "\nVTIs:");
        for v in &s.vtis {
            let _ = writeln!(
                o,
                "  {:<15} {:<20} peer {:<16} {:<4}  spi in {} out {}  in {} packets, {} bytes; out {} packets, {} bytes",
                v.name,
                v.address,
                v.peer,
                v.state,
                v.spi_in.as_deref().unwrap_or("-"),
                v.spi_out.as_deref().unwrap_or("-"),
                v.packets_in,
                v.bytes_in,
                v.packets_out,
                v.bytes_out
            );
            if let (Some(h), Some(c)) = (&v.host_interface, &v.host) {
                let _ = writeln!(
                    o,
                    "    host interface {h}: {} packets to the host, {} from it ({} dropped: not routed into a VTI)",
                    c.to_host, c.from_host, c.from_host_dropped
                );
            }
            if v.learned_route_count > 0 {
                let shown: Vec<&str> = v.learned_routes.iter().take(16).map(String::as_str).collect();
                let more = v.learned_route_count.saturating_sub(shown.len());
                let _ = writeln!(
                    o,
                    "    {} routes learned from the host: {}{}",
                    v.learned_route_count,
                    shown.join(" "),
                    if more > 0 { format!(" (+{more})") } else { String::new() }
                );
            }
        }
    }
    if !s.routes.is_empty() {
        let _ = writeln!(o, "\nStatic routes:");
        for r in &s.routes {
            if let Some(vti) = &r.vti {
                let _ = writeln!(o, "  {:<24} via VTI {vti}", r.prefix);
                continue;
            }
            let _ = writeln!(
                o,
                "  {:<24} via {:<20} port {}",
                r.prefix,
                r.via.as_deref().unwrap_or("(on-link)"),
                r.port.as_deref().unwrap_or("(by next hop)")
            );
        }
    }
    o
}

/// `45s`, `12m05s`, `3h20m`, `2d04h`.
fn duration(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// `rekey in 59m48s`, or why there is no time: rekeying off or already under way.
fn rekey_text(left: Option<u64>, what: &str) -> String {
    match left {
        Some(0) => format!("{what} due now"),
        Some(s) => format!("{what} in {}", duration(s)),
        None => format!("no {what} scheduled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(60), "1m00s");
        assert_eq!(duration(3599), "59m59s");
        assert_eq!(duration(3600 + 125), "1h02m");
        assert_eq!(duration(86400 * 2 + 3600 * 4 + 7), "2d04h");
        assert_eq!(rekey_text(Some(3588), "rekey"), "rekey in 59m48s");
        assert_eq!(rekey_text(None, "IKE rekey"), "no IKE rekey scheduled");
    }
}
