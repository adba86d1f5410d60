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
                "  {:<16} {} -> {}  {}{}",
                p.name,
                p.local,
                p.remote,
                p.state,
                p.role.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
            );
            if let (Some(i), Some(r)) = (&p.spi_i, &p.spi_r) {
                let _ = writeln!(
                    o,
                    "    IKE SA {i}_i {r}_r{}{}{}",
                    p.proposal.as_deref().map(|x| format!("  {x}")).unwrap_or_default(),
                    p.nat.as_deref().map(|x| format!("  nat {x}")).unwrap_or_default(),
                    p.established_s.map(|x| format!("  up {x}s")).unwrap_or_default()
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
            }
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
    if !s.routes.is_empty() {
        let _ = writeln!(o, "\nStatic routes:");
        for r in &s.routes {
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
