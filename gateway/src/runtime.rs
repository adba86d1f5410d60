//! Bringing the gateway up and down: EAL arguments from the config, the mbuf pool, ports and
//! queues, the punt/inject rings, worker lcores, the control loop (on the main lcore) and the
//! status API thread. [`run`] returns when SIGINT/SIGTERM arrives, after every worker stopped
//! and every DPDK resource was released (the EAL's runtime directory included).

use crate::api::{self, StatusSource};
use crate::config::Config;
use crate::control::ControlPlane;
use crate::drop::DropReason;
use crate::ipsec::datapath::IpsecWorker;
use crate::route::{L3Port, Neighbour, StaticRoute};
use crate::stats::WorkerStats;
use crate::tables::{SharedIpsec, SharedTables};
use crate::worker::Worker;
use arc_swap::ArcSwap;
use dpdk_sys::{mbuf_ring, Burst, Eal, Mempool, Port, PortConfig, RingProducer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Punt and inject ring sizes (per worker).
const RING_SIZE: u32 = 4096;

/// The EAL command line for `cfg`.
pub fn eal_args(cfg: &Config) -> Vec<String> {
    let workers = cfg.workers.iter().map(|w| w.lcore.to_string());
    // `-l` runs lcore n on CPU n; `--lcores` places the control thread's lcore on another CPU.
    let (opt, lcore_list) = match cfg.eal.main_cpu {
        None => ("-l", std::iter::once(cfg.eal.main_lcore.to_string()).chain(workers).collect::<Vec<_>>()),
        Some(cpu) => (
            "--lcores",
            std::iter::once(format!("{}@{cpu}", cfg.eal.main_lcore))
                .chain(workers.map(|w| format!("{w}@{w}")))
                .collect(),
        ),
    };
    let mut a = vec![
        opt.to_string(),
        lcore_list.join(","),
        format!("--main-lcore={}", cfg.eal.main_lcore),
        "-m".into(),
        cfg.eal.memory_mb.to_string(),
        format!("--file-prefix={}", cfg.eal.file_prefix),
        "--log-level=lib.eal:warning".into(),
    ];
    if cfg.eal.no_huge {
        a.push("--no-huge".into());
    }
    let mut any_pci = false;
    for p in &cfg.ports {
        if is_pci(&p.device) {
            any_pci = true;
            a.push(format!("--allow={}", p.device));
        } else {
            a.push(format!("--vdev={}", p.device));
        }
    }
    if !any_pci {
        a.push("--no-pci".into());
    }
    a.extend(cfg.eal.extra_args.iter().cloned());
    a
}

fn is_pci(device: &str) -> bool {
    let b = device.as_bytes();
    b.len() >= 12 && b[4] == b':' && b[7] == b':' && b[10] == b'.'
}

/// The DPDK device name of a port's `device` string (vdev name before the first comma).
pub fn device_name(device: &str) -> &str {
    device.split(',').next().unwrap_or(device)
}

/// L3 view of the configured ports, with each port's actual MAC.
fn l3_ports(cfg: &Config, macs: &[[u8; 6]]) -> Vec<L3Port> {
    cfg.ports
        .iter()
        .zip(macs)
        .map(|(p, mac)| L3Port {
            name: p.name.clone(),
            mac: crate::config::MacAddr(*mac),
            mtu: p.mtu,
            addresses: p.addresses.clone(),
        })
        .collect()
}

fn port_index(cfg: &Config, name: &str) -> Option<u8> {
    cfg.ports.iter().position(|p| p.name == name).map(|i| i as u8)
}

/// A configured route as the FIB takes it: port and VTI names become indices.
fn static_route(cfg: &Config, r: &crate::config::RouteConfig) -> StaticRoute {
    StaticRoute {
        prefix: r.prefix,
        via: r.via,
        port: r.port.as_deref().and_then(|n| port_index(cfg, n)),
        vti: r.vti.as_deref().and_then(|n| cfg.vtis.iter().position(|v| v.name == n)).map(|i| i as u16),
        metric: r.metric.unwrap_or(0),
    }
}

/// Runs the gateway until SIGINT or SIGTERM.
/// Re-reads the configuration file and applies what can change while running: static routes
/// and the `ipsec:` section (unchanged SAs keep running untouched). A file that does not
/// validate, or that changes what needs a restart (EAL, ports, workers, sockets, data-plane
/// sizing), is refused and the running configuration stays.
fn reload(
    path: &str,
    running: &mut Config,
    cp: &mut ControlPlane,
    manual: &mut crate::ipsec::manual::ManualSas,
    ike: &mut crate::ike_driver::IkeDriver,
    ipsec: &SharedIpsec,
    source: &StatusSource,
) -> Result<(String, crate::ike_driver::Effects), String> {
    let mut ike_fx = crate::ike_driver::Effects::default();
    let new = crate::config::load(std::path::Path::new(path)).map_err(|e| e.to_string())?;
    let mut fixed = Vec::new();
    if new.eal != running.eal {
        fixed.push("eal");
    }
    if new.ports != running.ports {
        fixed.push("ports");
    }
    if new.workers != running.workers {
        fixed.push("workers");
    }
    if new.control != running.control {
        fixed.push("control");
    }
    if new.metrics != running.metrics {
        fixed.push("metrics");
    }
    if new.dataplane != running.dataplane {
        fixed.push("dataplane");
    }
    if new.vtis != running.vtis {
        fixed.push("vtis");
    }
    if !fixed.is_empty() {
        return Err(format!("{path}: {} changed; that needs a restart (espgw run)", fixed.join(", ")));
    }
    let routes_changed = new.routes != running.routes;
    // IKE first: its reload builds the new peers before touching anything, so a refusal
    // leaves all as it was.
    let ike_summary = if new.ike != running.ike {
        ike.reload(&running.ike, &new.ike, Instant::now(), &mut manual.builder, &mut ike_fx)?
    } else {
        "IKE peers unchanged".to_string()
    };
    let summary = manual.reload(&new.ipsec)?;
    ipsec.store(Arc::new(manual.builder.snapshot()));
    if routes_changed {
        let routes = new.routes.iter().map(|r| static_route(&new, r)).collect();
        cp.set_routes(routes);
    }
    source.set_config(new.clone());
    *running = new;
    let routes = if routes_changed { "changed" } else { "unchanged" };
    Ok((format!("{summary}; {ike_summary}; routes {routes}"), ike_fx))
}

pub fn run(cfg: Config, config_path: String) -> Result<(), String> {
    crate::logging::init(&cfg.log.level);
    let stop = Arc::new(AtomicBool::new(false));
    // The workers stop after the control loop: IKE deletes still go out through them.
    let workers_stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| format!("signal handler: {e}"))?;
    }
    let sighup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, sighup.clone())
        .map_err(|e| format!("signal handler: {e}"))?;

    let mut manual = crate::ipsec::manual::ManualSas::load(&cfg.ipsec)?;
    for sa in
        cfg.ipsec.sas.iter().filter(|s| s.replay_window == 0 && s.direction == crate::config::Direction::In)
    {
        tracing::warn!(target: "gateway::ipsec", sa = %sa.name, "anti-replay switched off (replay_window: 0): replayed packets are accepted");
    }
    if cfg.ipsec.allow_static_gcm && cfg.ipsec.sas.iter().any(|s| s.algorithm.contains("gcm")) {
        tracing::warn!(
            target: "gateway::ipsec",
            "AES-GCM with static keys (ipsec.allow_static_gcm): lab use only; a restart reuses GCM nonces (RFC 4106 §8)"
        );
    }
    manual.builder.set_vtis(cfg.vtis.iter().map(|v| v.peer.clone()).collect());
    let mut ike = crate::ike_driver::IkeDriver::new(&cfg.ike, Instant::now())?;
    let ipsec: SharedIpsec = Arc::new(ArcSwap::from_pointee(manual.builder.snapshot()));
    if !cfg.ipsec.sas.is_empty() || !cfg.ipsec.policies.is_empty() {
        tracing::info!(target: "gateway::ipsec", sas = cfg.ipsec.sas.len(), policies = cfg.ipsec.policies.len(), "manually keyed SAs loaded");
    }
    let args = eal_args(&cfg);
    let eal = Eal::init(&args).map_err(|e| format!("{e} (EAL arguments: {})", args.join(" ")))?;
    let nworkers = cfg.workers.len();
    let pool = Mempool::new(&eal, "espgw_mbufs", cfg.dataplane.mbufs, 256, -1).map_err(|e| e.to_string())?;

    // Ports, in config order; our port index = position in the config.
    let mut ports: Vec<Port> = Vec::new();
    let mut dpdk_to_index = [u8::MAX; 1024];
    for (i, pc) in cfg.ports.iter().enumerate() {
        let name = device_name(&pc.device);
        let id = Port::id_by_name(&eal, name).map_err(|e| format!("port {}: {e}", pc.name))?;
        let conf = PortConfig {
            rx_queues: pc.rx_queues,
            tx_queues: nworkers as u16,
            mtu: Some(pc.mtu),
            ..PortConfig::default()
        };
        let port = Port::configure(&eal, id, &conf, &pool).map_err(|e| format!("port {}: {e}", pc.name))?;
        if let Some(mac) = pc.mac {
            port.set_mac(mac.0).map_err(|e| format!("port {}: {e}", pc.name))?;
        }
        port.start().map_err(|e| format!("port {}: {e}", pc.name))?;
        if let Some(slot) = dpdk_to_index.get_mut(id as usize) {
            *slot = i as u8;
        }
        ports.push(port);
    }
    let macs: Vec<[u8; 6]> = ports.iter().map(|p| p.mac()).collect();
    let l3 = l3_ports(&cfg, &macs);
    let routes: Vec<StaticRoute> = cfg.routes.iter().map(|r| static_route(&cfg, r)).collect();
    let vti_addresses: Vec<crate::config::IpPrefix> = cfg.vtis.iter().map(|v| v.address).collect();
    let static_neigh: Vec<Neighbour> = cfg
        .ports
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.neighbours.iter().map(move |n| Neighbour { port: i as u8, ip: n.ip, mac: n.mac })
        })
        .collect();
    let tables: SharedTables = Arc::new(ArcSwap::from_pointee(ControlPlane::initial_tables(
        &l3,
        &routes,
        &vti_addresses,
        &static_neigh,
    )));

    // Workers.
    let mut worker_stats = Vec::new();
    let mut punt_consumers = Vec::new();
    let mut inject_producers: Vec<RingProducer> = Vec::new();
    let mut handles = Vec::new();
    let mut queue_owner = Vec::new(); // (port index, queue, lcore, worker, position)
    for (w, wc) in cfg.workers.iter().enumerate() {
        let (punt_p, punt_c) =
            mbuf_ring(&eal, &format!("espgw_punt{w}"), RING_SIZE).map_err(|e| e.to_string())?;
        let (inj_p, inj_c) =
            mbuf_ring(&eal, &format!("espgw_inject{w}"), RING_SIZE).map_err(|e| e.to_string())?;
        let mut rx = Vec::new();
        for (pos, pq) in wc.rx.iter().enumerate() {
            let idx = port_index(&cfg, &pq.port)
                .ok_or_else(|| format!("worker rx names unknown port {}", pq.port))?;
            let q = ports[idx as usize]
                .rx_queue(pq.queue)
                .ok_or_else(|| format!("rx queue {}:{} unavailable", pq.port, pq.queue))?;
            queue_owner.push((idx, pq.queue, wc.lcore, w, pos));
            rx.push((q, idx));
        }
        let tx = ports
            .iter()
            .map(|p| p.tx_queue(w as u16).ok_or_else(|| format!("tx queue {w} of {} unavailable", p.name())))
            .collect::<Result<Vec<_>, _>>()?;
        let stats = Arc::new(WorkerStats::new(rx.len(), ports.len()));
        worker_stats.push((wc.lcore, stats.clone()));
        let worker = Worker {
            lcore: wc.lcore,
            rx,
            tx,
            punt: punt_p,
            inject: inj_c,
            tables: tables.clone(),
            ipsec: ipsec.clone(),
            ipsec_state: IpsecWorker::new()?,
            port_ids: ports.iter().map(|p| p.id()).collect(),
            stats,
            stop: workers_stop.clone(),
            burst: cfg.dataplane.burst as usize,
            idle_sleep_max_us: cfg.dataplane.idle_sleep_max_us as u64,
        };
        punt_consumers.push(punt_c);
        inject_producers.push(inj_p);
        handles.push(
            eal.launch(wc.lcore, move || worker.run()).map_err(|e| format!("lcore {}: {e}", wc.lcore))?,
        );
    }

    let control_stats = Arc::new(WorkerStats::new(0, ports.len()));
    let mut cp = ControlPlane::new(
        l3.clone(),
        routes.clone(),
        vti_addresses,
        &static_neigh,
        tables.clone(),
        ipsec.clone(),
        control_stats.clone(),
    );

    let hosts = host_interfaces(&cfg)?;
    let route_monitor = if hosts.iter().any(|h| h.import_routes) {
        Some(
            dpdk_sys::host::RouteMonitor::new()
                .map_err(|e| format!("cannot watch the kernel's routes: {e}"))?,
        )
    } else {
        None
    };
    cp.set_host_vtis(cfg.vtis.iter().map(|v| v.host_interface.is_some()).collect());

    let (reload_tx, reload_rx) = std::sync::mpsc::channel::<api::ReloadRequest>();
    let (tunnel_tx, tunnel_rx) = std::sync::mpsc::channel::<api::TunnelRequest>();
    let source = Arc::new(
        StatusSource::new(
            cfg.clone(),
            config_path.clone(),
            ports.clone(),
            l3,
            worker_stats,
            control_stats.clone(),
            queue_owner,
        )
        .with_ipsec(ipsec.clone())
        .with_reload(reload_tx)
        .with_tunnel(tunnel_tx),
    );
    let mut running_cfg = cfg.clone();
    if !ike.is_empty() {
        cp.enable_ike();
        tracing::info!(target: "gateway::ike", peers = cfg.ike.peers.len(), "IKE (IKEv1 and IKEv2 peers) on UDP 500/4500");
    }
    source.update_control(&cp);
    let api_thread = api::spawn(&cfg.control.socket, source.clone(), stop.clone())?;
    let metrics_thread = match cfg.metrics {
        Some(addr) => Some(crate::metrics::spawn(addr, source.clone(), stop.clone())?),
        None => None,
    };

    tracing::info!(
        ports = ports.len(),
        workers = nworkers,
        lcores = ?cfg.workers.iter().map(|w| w.lcore).collect::<Vec<_>>(),
        socket = %cfg.control.socket.display(),
        "running"
    );
    for (pc, mac) in cfg.ports.iter().zip(&macs) {
        tracing::info!(
            port = %pc.name,
            device = %pc.device,
            mac = %crate::config::MacAddr(*mac),
            addresses = %pc.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" "),
            "port up"
        );
    }

    // The control loop, on the main lcore.
    let mut burst = Burst::new();
    let mut out = Vec::new();
    let mut idle_sleep = Duration::from_micros(50);
    let mut last_publish = Instant::now();
    let mut last_lifetime_check = Instant::now();
    let mut last_route_import: Option<Instant> = None;
    let mut route_dirty = true;
    let mut host_buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let mut work = 0;
        for c in punt_consumers.iter_mut() {
            let n = c.dequeue_burst(&mut burst, 64);
            work += n;
            for m in burst.drain() {
                let idx = dpdk_to_index.get(m.port() as usize).copied().unwrap_or(u8::MAX);
                cp.handle_frame(idx, m.data(), now, &mut out);
            }
        }
        work += exchange_with_host(&hosts, &mut cp, &mut host_buf, &mut out);
        // The kernel table is read again when it changed, at most once a second (a full
        // table is 100k routes); and once at start.
        if let Some(m) = &route_monitor {
            route_dirty |= m.changed();
            if route_dirty
                && last_route_import.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
            {
                route_dirty = false;
                last_route_import = Some(now);
                import_host_routes(&hosts, &mut cp);
            }
        }
        // Lifetimes: manual SAs are only reported (or removed at a hard limit); IKE's Child SAs
        // are rekeyed (soft) or deleted with the peer (hard) by the driver, below.
        let mut lifetime_events = Vec::new();
        if now.duration_since(last_lifetime_check) >= Duration::from_secs(1) {
            last_lifetime_check = now;
            lifetime_events = manual.expire(now);
            if lifetime_events.iter().any(|e| e.hard) {
                ipsec.store(Arc::new(manual.builder.snapshot()));
            }
        }
        let mut fx = crate::ike_driver::Effects::default();
        for e in &lifetime_events {
            if ike.lifetime_event(now, e, &mut manual.builder, &mut fx) {
                continue;
            }
            if e.hard {
                tracing::warn!(target: "gateway::ipsec", sa = %e.name, limit = e.limit, "hard lifetime reached: SA removed");
            } else {
                tracing::warn!(target: "gateway::ipsec", sa = %e.name, limit = e.limit, "soft lifetime reached: rekey needed");
            }
        }
        if !ike.is_empty() {
            for d in cp.take_ike() {
                work += 1;
                ike.handle_datagram(now, d.src, d.dst, &d.payload, &mut manual.builder, &mut fx);
            }
            while let Ok(r) = tunnel_rx.try_recv() {
                let _ = r.reply.send(ike.set_admin(&r.name, r.up, now, &mut manual.builder, &mut fx));
            }
            ike.tick(now, &mut manual.builder, &mut fx);
            for d in fx.sends {
                if !cp.send_udp(d.src, d.dst, &d.bytes, now, &mut out) {
                    tracing::warn!(target: "gateway::ike", src = %d.src, dst = %d.dst, "cannot send IKE datagram (not from a port address)");
                }
            }
            if fx.sadb_changed {
                ipsec.store(Arc::new(manual.builder.snapshot()));
            }
        } else {
            while let Ok(r) = tunnel_rx.try_recv() {
                let _ = r.reply.send(Err(format!("no IKE peers configured (no tunnel {:?})", r.name)));
            }
        }
        cp.tick(now, &mut out);
        work += out.len();
        for (k, t) in out.drain(..).enumerate() {
            let Some(mut m) = pool.alloc() else {
                control_stats.count_drop(DropReason::MbufExhausted, 1);
                continue;
            };
            if !m.append(t.frame.len()) {
                control_stats.count_drop(DropReason::MbufExhausted, 1);
                continue;
            }
            m.data_mut().copy_from_slice(&t.frame);
            m.set_port(t.port as u16);
            // Spread control transmissions over the workers' inject rings.
            let ring = &inject_producers[k % inject_producers.len()];
            if ring.enqueue(m).is_err() {
                control_stats.count_drop(DropReason::InjectRingFull, 1);
            }
        }
        if now.duration_since(last_publish) >= Duration::from_millis(100) {
            source.update_control(&cp);
            if !ike.is_empty() {
                source.set_ike(ike.view(now));
            }
            last_publish = now;
        }
        // Reload: asked for over the control socket, or SIGHUP.
        let mut reload_replies = Vec::new();
        while let Ok(r) = reload_rx.try_recv() {
            reload_replies.push(r.reply);
        }
        if sighup.swap(false, Ordering::Relaxed) || !reload_replies.is_empty() {
            let result = reload(&config_path, &mut running_cfg, &mut cp, &mut manual, &mut ike, &ipsec, &source)
                .map(|(summary, ike_fx)| {
                    for d in ike_fx.sends {
                        if !cp.send_udp(d.src, d.dst, &d.bytes, now, &mut out) {
                            tracing::warn!(target: "gateway::ike", src = %d.src, dst = %d.dst, "cannot send IKE datagram");
                        }
                    }
                    if ike_fx.sadb_changed {
                        ipsec.store(Arc::new(manual.builder.snapshot()));
                    }
                    summary
                });
            if !ike.is_empty() {
                cp.enable_ike();
            }
            source.set_ike(ike.view(now));
            match &result {
                Ok(summary) => tracing::info!(file = %config_path, "reloaded: {summary}"),
                Err(e) => {
                    tracing::warn!(file = %config_path, "reload refused, the running configuration stays: {e}")
                }
            }
            for r in reload_replies {
                let _ = r.send(result.clone());
            }
        }
        if work == 0 {
            std::thread::sleep(idle_sleep);
            idle_sleep = (idle_sleep * 2).min(Duration::from_millis(2));
        } else {
            idle_sleep = Duration::from_micros(50);
        }
    }

    tracing::info!("stopping");
    if !ike.is_empty() {
        // Tell the IKE peers (delete notifications) while the workers still transmit.
        let now = Instant::now();
        let mut fx = crate::ike_driver::Effects::default();
        ike.shutdown(now, &mut manual.builder, &mut fx);
        for d in fx.sends {
            cp.send_udp(d.src, d.dst, &d.bytes, now, &mut out);
        }
        for (k, t) in out.drain(..).enumerate() {
            let Some(mut m) = pool.alloc() else { continue };
            if !m.append(t.frame.len()) {
                continue;
            }
            m.data_mut().copy_from_slice(&t.frame);
            m.set_port(t.port as u16);
            let _ = inject_producers[k % inject_producers.len()].enqueue(m);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    workers_stop.store(true, Ordering::Relaxed);
    let mut failed = Vec::new();
    for h in handles {
        let lcore = h.lcore();
        if let Err(e) = h.wait() {
            failed.push(format!("worker on lcore {lcore}: {e}"));
        }
    }
    let _ = api_thread.join();
    if let Some(t) = metrics_thread {
        let _ = t.join();
    }
    let _ = std::fs::remove_file(&cfg.control.socket);
    drop(source);
    drop(punt_consumers);
    drop(inject_producers);
    drop(ports);
    drop(pool);
    drop(eal);
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// A VTI's host interface (the routing daemon's side of the exception path).
struct HostInterface {
    vti: u16,
    tun: dpdk_sys::host::Tun,
    import_routes: bool,
}

/// MTU of the host interfaces: room for ESP in UDP and an IPv6 outer header under 1500.
const HOST_MTU: u16 = 1400;

/// Creates the TUN interface of every VTI that has `host_interface`, with the VTI's inside
/// address, up.
fn host_interfaces(cfg: &Config) -> Result<Vec<HostInterface>, String> {
    let mut v = Vec::new();
    for (i, vti) in cfg.vtis.iter().enumerate() {
        let Some(name) = &vti.host_interface else { continue };
        let std::net::IpAddr::V4(a) = vti.address.addr else { continue };
        let tun = dpdk_sys::host::Tun::create(name)
            .map_err(|e| format!("vtis[{i}].host_interface: cannot create TUN interface `{name}`: {e}"))?;
        tun.configure_ipv4(a, vti.address.len, HOST_MTU)
            .map_err(|e| format!("vtis[{i}].host_interface: cannot configure `{name}`: {e}"))?;
        tracing::info!(vti = %vti.name, interface = %name, ifindex = tun.ifindex(), address = %vti.address,
            import_routes = vti.import_routes, "VTI host interface up (exception path for a routing daemon)");
        v.push(HostInterface { vti: i as u16, tun, import_routes: vti.import_routes });
    }
    Ok(v)
}

/// Moves packets between the host interfaces and the data plane: what the host sent goes
/// to the control path (injected, routed into a VTI); what came through a VTI for its inside
/// address goes to the host. Returns how many packets moved.
fn exchange_with_host(
    hosts: &[HostInterface],
    cp: &mut ControlPlane,
    buf: &mut [u8],
    out: &mut Vec<crate::control::Transmit>,
) -> usize {
    let mut moved = 0;
    for h in hosts {
        for _ in 0..64 {
            match h.tun.recv(buf) {
                Ok(Some(n)) => {
                    moved += 1;
                    cp.from_host(h.vti, &buf[..n], out);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(interface = %h.tun.name(), "host interface read failed: {e}");
                    break;
                }
            }
        }
    }
    for (vti, p) in cp.take_host() {
        moved += 1;
        if let Some(h) = hosts.iter().find(|h| h.vti == vti) {
            if let Err(e) = h.tun.send(&p) {
                tracing::debug!(interface = %h.tun.name(), "host interface write failed: {e}");
            }
        }
    }
    moved
}

/// The kernel's main-table routes out of an importing VTI's host interface (what the
/// routing daemon learned and exported), as routes into that VTI. Routes the kernel made
/// itself (the interface's own subnet) are left out.
fn import_host_routes(hosts: &[HostInterface], cp: &mut ControlPlane) {
    let t = Instant::now();
    const MAIN_TABLE: u32 = 254;
    const RTPROT_KERNEL: u8 = 2;
    let dump = match dpdk_sys::host::dump_ipv4_routes() {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("cannot read the kernel routing table: {e}");
            return;
        }
    };
    let mut learned: Vec<StaticRoute> = crate::route::kernel::parse_ipv4_routes(&dump)
        .into_iter()
        .filter(|r| r.table == MAIN_TABLE && r.protocol != RTPROT_KERNEL)
        .filter_map(|r| {
            let h = hosts.iter().find(|h| h.import_routes && h.tun.ifindex() == r.oif)?;
            Some(StaticRoute { prefix: r.prefix, via: None, port: None, vti: Some(h.vti), metric: 0 })
        })
        .collect();
    learned.sort_by_key(|r| (r.prefix.addr, r.prefix.len, r.vti));
    learned.dedup();
    if learned != **cp.learned_routes() {
        let n = learned.len();
        let first = learned.iter().take(8).map(|r| r.prefix.to_string()).collect::<Vec<_>>().join(" ");
        cp.set_learned_routes(learned);
        tracing::info!(target: "gateway::route", routes = n, prefixes = %first,
            millis = t.elapsed().as_millis() as u64,
            "routes learned from the host (routing daemon) into VTIs changed: FIB republished");
    }
}
