//! The local control socket: a Unix stream socket that answers one JSON request per
//! connection (`{"cmd":"status"}`) with one JSON document. `espgw status` is its client.
//!
//! The status is assembled off the hot path from single-writer counters, DPDK port stats and
//! a snapshot of control-plane state the control loop refreshes every 100 ms.

use crate::config::Config;
use crate::control::ControlPlane;
use crate::drop::DropReason;
use crate::ipsec::sadb::SaDirection;
use crate::ipsec::spd::Verdict;
use crate::route::L3Port;
use crate::stats::WorkerStats;
use crate::tables::SharedIpsec;
use arc_swap::ArcSwap;
use dpdk_sys::Port;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Control-plane facts refreshed by the control loop.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ControlSnapshot {
    pub fib_generation: u64,
    pub neighbours: Vec<NeighbourStatus>,
    /// Routes learned from the host (into VTIs), shared with the control plane.
    #[serde(skip)]
    pub learned: Arc<Vec<crate::route::StaticRoute>>,
    pub host: crate::control::HostCounters,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeighbourStatus {
    pub port: String,
    pub ip: String,
    pub mac: Option<String>,
    pub state: String,
    pub pending: usize,
}

/// Everything the API thread reads.
pub struct StatusSource {
    cfg: ArcSwap<Config>,
    config_path: String,
    ports: Vec<Port>,
    l3: Vec<L3Port>,
    workers: Vec<(u32, Arc<WorkerStats>)>,
    control: Arc<WorkerStats>,
    /// (port index, queue, lcore, worker, position in that worker's rx list)
    queues: Vec<(u8, u16, u32, usize, usize)>,
    snapshot: ArcSwap<ControlSnapshot>,
    ipsec: SharedIpsec,
    ike: ArcSwap<Vec<crate::ike_driver::PeerView>>,
    started: Instant,
    /// Reload requests to the control loop, each with the channel for its answer.
    reload: std::sync::Mutex<Option<std::sync::mpsc::Sender<ReloadRequest>>>,
    /// `tunnel up|down` requests to the control loop.
    tunnel: std::sync::Mutex<Option<std::sync::mpsc::Sender<TunnelRequest>>>,
}

/// `espgw tunnel up|down NAME`, for the control loop (which owns the IKE driver).
pub struct TunnelRequest {
    pub name: String,
    pub up: bool,
    pub reply: std::sync::mpsc::Sender<Result<String, String>>,
}

/// A reload asked for over the control socket; the control loop answers on `reply`.
pub struct ReloadRequest {
    pub reply: std::sync::mpsc::Sender<Result<String, String>>,
}

impl StatusSource {
    pub fn new(
        cfg: Config,
        config_path: String,
        ports: Vec<Port>,
        l3: Vec<L3Port>,
        workers: Vec<(u32, Arc<WorkerStats>)>,
        control: Arc<WorkerStats>,
        queues: Vec<(u8, u16, u32, usize, usize)>,
    ) -> Self {
        StatusSource {
            cfg: ArcSwap::from_pointee(cfg),
            config_path,
            ports,
            l3,
            workers,
            control,
            queues,
            snapshot: ArcSwap::from_pointee(ControlSnapshot::default()),
            ipsec: SharedIpsec::default(),
            ike: ArcSwap::from_pointee(Vec::new()),
            reload: std::sync::Mutex::new(None),
            tunnel: std::sync::Mutex::new(None),
            started: Instant::now(),
        }
    }

    /// Reports the SAs and policies of this IPsec snapshot handle.
    pub fn with_ipsec(mut self, ipsec: SharedIpsec) -> Self {
        self.ipsec = ipsec;
        self
    }

    /// Where `reload` requests go (the control loop's receiver).
    pub fn with_reload(self, tx: std::sync::mpsc::Sender<ReloadRequest>) -> Self {
        if let Ok(mut r) = self.reload.lock() {
            *r = Some(tx);
        }
        self
    }

    /// Where `tunnel up|down` requests go (the control loop's receiver).
    pub fn with_tunnel(self, tx: std::sync::mpsc::Sender<TunnelRequest>) -> Self {
        if let Ok(mut r) = self.tunnel.lock() {
            *r = Some(tx);
        }
        self
    }

    /// Asks the control loop to bring a tunnel up or down and waits for its answer.
    fn request_tunnel(&self, name: String, up: bool) -> Result<String, String> {
        let tx = self.tunnel.lock().ok().and_then(|r| r.clone()).ok_or("tunnel control is not available")?;
        let (reply, answer) = std::sync::mpsc::channel();
        tx.send(TunnelRequest { name, up, reply })
            .map_err(|_| "the control loop is not running".to_string())?;
        answer
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "no answer from the control loop".to_string())?
    }

    /// After a reload: the configuration `status` reports from now on.
    pub fn set_config(&self, cfg: Config) {
        self.cfg.store(Arc::new(cfg));
    }

    /// Asks the control loop to reload and waits for its answer.
    fn request_reload(&self) -> Result<String, String> {
        let tx = self.reload.lock().ok().and_then(|r| r.clone()).ok_or("reload is not available")?;
        let (reply, answer) = std::sync::mpsc::channel();
        tx.send(ReloadRequest { reply }).map_err(|_| "the control loop is not running".to_string())?;
        answer
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "no answer from the control loop".to_string())?
    }

    /// The IKE peers as the driver sees them (called by the control loop).
    pub fn set_ike(&self, peers: Vec<crate::ike_driver::PeerView>) {
        self.ike.store(Arc::new(peers));
    }

    /// Called by the control loop.
    pub fn update_control(&self, cp: &ControlPlane) {
        let names: Vec<&str> = self.l3.iter().map(|p| p.name.as_str()).collect();
        let neighbours = cp
            .neighbours()
            .into_iter()
            .map(|n| NeighbourStatus {
                port: names.get(n.port as usize).map_or_else(|| n.port.to_string(), |s| s.to_string()),
                ip: n.ip.to_string(),
                mac: n.mac.map(|m| m.to_string()),
                state: n.state.to_string(),
                pending: n.pending,
            })
            .collect();
        let learned = cp.learned_routes().clone();
        self.snapshot.store(Arc::new(ControlSnapshot {
            fib_generation: cp.generation(),
            neighbours,
            learned,
            host: cp.host_counters(),
        }));
    }

    pub fn status(&self) -> Status {
        let snap = self.snapshot.load_full();
        let cfg = self.cfg.load_full();
        let ports = self
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let st = p.stats();
                let link = p.link();
                let queues = self
                    .queues
                    .iter()
                    .filter(|q| q.0 as usize == i)
                    .map(|&(_, queue, lcore, w, pos)| {
                        let t = &self.workers[w].1.rx_queues[pos];
                        QueueStatus { queue, lcore, rx_packets: t.packets.get(), rx_bytes: t.bytes.get() }
                    })
                    .collect();
                let tx_queues: Vec<TxQueueStatus> = self
                    .workers
                    .iter()
                    .enumerate()
                    .map(|(w, (lcore, s))| TxQueueStatus {
                        queue: w as u16,
                        lcore: *lcore,
                        tx_packets: s.tx_ports[i].packets.get(),
                        tx_bytes: s.tx_ports[i].bytes.get(),
                    })
                    .collect();
                let (tx_packets, tx_bytes) =
                    tx_queues.iter().fold((0, 0), |a, q| (a.0 + q.tx_packets, a.1 + q.tx_bytes));
                PortStatus {
                    name: self.l3[i].name.clone(),
                    device: cfg.ports.get(i).map(|p| p.device.clone()).unwrap_or_default(),
                    dpdk_port: p.id(),
                    mac: self.l3[i].mac.to_string(),
                    mtu: self.l3[i].mtu,
                    link_up: link.up,
                    speed_mbps: link.speed_mbps,
                    addresses: self.l3[i].addresses.iter().map(|a| a.to_string()).collect(),
                    rx_packets: st.rx_packets,
                    rx_bytes: st.rx_bytes,
                    tx_packets: st.tx_packets,
                    tx_bytes: st.tx_bytes,
                    rx_missed: st.rx_missed,
                    rx_errors: st.rx_errors,
                    tx_errors: st.tx_errors,
                    rx_nombuf: st.rx_nombuf,
                    forwarded_tx_packets: tx_packets,
                    forwarded_tx_bytes: tx_bytes,
                    queues,
                    tx_queues,
                    xstats: p.xstats().into_iter().map(|x| (x.name, x.value)).collect(),
                }
            })
            .collect();
        let workers = self
            .workers
            .iter()
            .map(|(lcore, s)| {
                let total = s.total_tsc.get();
                WorkerStatus {
                    lcore: *lcore,
                    polls: s.polls.get(),
                    idle_polls: s.idle_polls.get(),
                    busy_percent: if total == 0 {
                        0.0
                    } else {
                        100.0 * s.busy_tsc.get() as f64 / total as f64
                    },
                    punted: s.punted.get(),
                    injected: s.injected.get(),
                    latency: {
                        let (counts, sum_ns, count) = s.latency.snapshot();
                        LatencyStatus {
                            bounds_ns: crate::stats::LATENCY_BOUNDS_NS.to_vec(),
                            counts,
                            sum_ns,
                            count,
                            window_p50_p99_p999_ns: s.latency.window_quantiles(),
                        }
                    },
                }
            })
            .collect();
        let drops = DropReason::ALL
            .iter()
            .map(|r| {
                let n = self.control.drops[*r as usize].get()
                    + self.workers.iter().map(|(_, s)| s.drops[*r as usize].get()).sum::<u64>();
                DropCount { reason: r.name().to_string(), packets: n }
            })
            .collect();
        let routes = cfg
            .routes
            .iter()
            .map(|r| RouteStatus {
                prefix: r.prefix.to_string(),
                via: r.via.map(|v| v.to_string()),
                port: r.port.clone(),
                vti: r.vti.clone(),
            })
            .collect();
        let ipsec = self.ipsec_status();
        let mut vtis = self.vti_status(&cfg.vtis);
        for (i, v) in vtis.iter_mut().enumerate() {
            let mine = snap.learned.iter().filter(|r| r.vti == Some(i as u16));
            v.learned_route_count = mine.clone().count();
            v.learned_routes = mine.take(LEARNED_SHOWN).map(|r| r.prefix.to_string()).collect();
        }
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            config: self.config_path.clone(),
            pid: std::process::id(),
            uptime_s: self.started.elapsed().as_secs_f64(),
            fib_generation: snap.fib_generation,
            ports,
            workers,
            drops,
            neighbours: snap.neighbours.clone(),
            routes,
            vtis,
            ipsec,
            ike: (*self.ike.load_full()).clone(),
        }
    }

    /// Each VTI from the current IPsec snapshot: up while it has an outbound SA; the SPIs of
    /// its newest pair; packets and bytes summed over the SAs that carry it now (during a
    /// rekey, old and new).
    fn vti_status(&self, vtis: &[crate::config::VtiConfig]) -> Vec<VtiStatus> {
        let t = self.ipsec.load_full();
        vtis.iter()
            .enumerate()
            .map(|(i, v)| {
                let i = i as u16;
                let out = t.vti_sa(i).and_then(|s| t.entry(s));
                let newest_in = t
                    .entries()
                    .filter(|(_, e)| e.vti == Some(i) && e.direction == SaDirection::In)
                    .max_by_key(|(_, e)| e.uid);
                let mut s = VtiStatus {
                    name: v.name.clone(),
                    address: v.address.to_string(),
                    peer: v.peer.clone(),
                    state: if out.is_some() { "up" } else { "down" }.to_string(),
                    spi_in: newest_in.map(|(_, e)| format!("{:08x}", e.sa.spi)),
                    spi_out: out.map(|e| format!("{:08x}", e.sa.spi)),
                    host_interface: v.host_interface.clone(),
                    host: v.host_interface.as_ref().map(|_| self.snapshot.load().host),
                    ..VtiStatus::default()
                };
                for (_, e) in t.entries().filter(|(_, e)| e.vti == Some(i)) {
                    let (p, b) = (
                        e.sa.counters.packets.load(Ordering::Relaxed),
                        e.sa.counters.bytes.load(Ordering::Relaxed),
                    );
                    match e.direction {
                        SaDirection::In => (s.packets_in, s.bytes_in) = (s.packets_in + p, s.bytes_in + b),
                        SaDirection::Out => {
                            (s.packets_out, s.bytes_out) = (s.packets_out + p, s.bytes_out + b)
                        }
                    }
                }
                s
            })
            .collect()
    }

    /// SAs and policies of the current IPsec snapshot, with traffic counters; never keys.
    fn ipsec_status(&self) -> IpsecStatus {
        let t = self.ipsec.load_full();
        let sas = t
            .entries()
            .map(|(slot, e)| {
                let sa = &e.sa;
                SaStatus {
                    name: sa.name.clone(),
                    slot,
                    direction: match e.direction {
                        SaDirection::In => "in",
                        SaDirection::Out => "out",
                    }
                    .to_string(),
                    spi: sa.spi,
                    mode: if sa.mode.is_tunnel() { "tunnel" } else { "transport" }.to_string(),
                    local: sa.mode.local().to_string(),
                    remote: sa.mode.remote().to_string(),
                    algorithm: sa.transform.algorithm().name().to_string(),
                    esn: sa.esn,
                    natt: sa.natt.map(|n| format!("{}->{}", n.local_port, n.remote_port)),
                    packets: sa.counters.packets.load(Ordering::Relaxed),
                    bytes: sa.counters.bytes.load(Ordering::Relaxed),
                    replay_drops: sa.counters.replay_drops.load(Ordering::Relaxed),
                    icv_failures: sa.counters.icv_failures.load(Ordering::Relaxed),
                    hard_seconds_left: sa
                        .hard
                        .seconds
                        .map(|s| s.saturating_sub(e.installed.elapsed().as_secs())),
                    last_seq: (e.direction == SaDirection::Out).then(|| sa.counters.last_seq()),
                }
            })
            .collect();
        let policies = |dir: &str, spd: &crate::ipsec::spd::Spd| -> Vec<PolicyStatus> {
            spd.policies()
                .iter()
                .map(|p| PolicyStatus {
                    name: p.name.clone(),
                    direction: dir.to_string(),
                    src: p.selector.src.to_string(),
                    dst: p.selector.dst.to_string(),
                    action: match p.verdict {
                        Verdict::Protect(s) => {
                            format!("protect {}", t.sa(s).map_or("?", |sa| sa.name.as_str()))
                        }
                        Verdict::Bypass => "bypass".to_string(),
                        Verdict::Discard => "discard".to_string(),
                        Verdict::Trap(_) => "trap (traffic starts IKE)".to_string(),
                    },
                })
                .collect()
        };
        let mut all = policies("out", &t.outbound);
        all.extend(policies("in", &t.inbound));
        IpsecStatus { generation: t.generation, sas, policies: all }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IpsecStatus {
    pub generation: u64,
    pub sas: Vec<SaStatus>,
    pub policies: Vec<PolicyStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SaStatus {
    pub name: String,
    pub slot: u32,
    pub direction: String,
    pub spi: u32,
    pub mode: String,
    pub local: String,
    pub remote: String,
    pub algorithm: String,
    pub esn: bool,
    pub natt: Option<String>,
    pub packets: u64,
    pub bytes: u64,
    pub replay_drops: u64,
    pub icv_failures: u64,
    /// Seconds until the hard lifetime removes the SA, if it has one.
    pub hard_seconds_left: Option<u64>,
    /// Outbound: the last sequence number sent.
    pub last_seq: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PolicyStatus {
    pub name: String,
    pub direction: String,
    pub src: String,
    pub dst: String,
    pub action: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub config: String,
    pub pid: u32,
    pub uptime_s: f64,
    pub fib_generation: u64,
    pub ports: Vec<PortStatus>,
    pub workers: Vec<WorkerStatus>,
    pub drops: Vec<DropCount>,
    #[serde(default)]
    pub ipsec: IpsecStatus,
    /// IKEv2 peers: IKE SA state, Child SAs, and the last failure with its reason.
    #[serde(default)]
    pub ike: Vec<crate::ike_driver::PeerView>,
    pub neighbours: Vec<NeighbourStatus>,
    pub routes: Vec<RouteStatus>,
    /// Virtual tunnel interfaces (route-based tunnels).
    #[serde(default)]
    pub vtis: Vec<VtiStatus>,
}

/// A VTI as `espgw status` shows it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VtiStatus {
    pub name: String,
    /// Inside address with the link prefix.
    pub address: String,
    /// The IKE peer whose Child SA carries it.
    pub peer: String,
    /// `up` (an outbound SA to encrypt with) or `down`.
    pub state: String,
    pub spi_in: Option<String>,
    pub spi_out: Option<String>,
    /// Packets and bytes (inner) the VTI's SAs carried in and out.
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    /// The host exception path: its interface, the packets through it (all VTIs' host
    /// interfaces together), and the routes learned from it into this VTI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<crate::control::HostCounters>,
    /// How many routes were learned into this VTI, and the first [`LEARNED_SHOWN`] of them.
    #[serde(default)]
    pub learned_route_count: usize,
    #[serde(default)]
    pub learned_routes: Vec<String>,
}

/// Learned routes listed per VTI in the status document (all are counted).
pub const LEARNED_SHOWN: usize = 1000;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PortStatus {
    pub name: String,
    pub device: String,
    pub dpdk_port: u16,
    pub mac: String,
    pub mtu: u16,
    pub link_up: bool,
    pub speed_mbps: u32,
    pub addresses: Vec<String>,
    /// Device counters (DPDK `rte_eth_stats`).
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
    /// Packets the workers handed to this port's TX queues (forwarded plus control replies).
    pub forwarded_tx_packets: u64,
    pub forwarded_tx_bytes: u64,
    pub queues: Vec<QueueStatus>,
    /// Per TX queue (one per worker).
    #[serde(default)]
    pub tx_queues: Vec<TxQueueStatus>,
    pub xstats: Vec<(String, u64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueueStatus {
    pub queue: u16,
    pub lcore: u32,
    pub rx_packets: u64,
    pub rx_bytes: u64,
}

/// A TX queue: worker `w` (on `lcore`) sends on queue `w` of every port.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TxQueueStatus {
    pub queue: u16,
    pub lcore: u32,
    pub tx_packets: u64,
    pub tx_bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub lcore: u32,
    pub polls: u64,
    pub idle_polls: u64,
    pub busy_percent: f64,
    pub punted: u64,
    pub injected: u64,
    #[serde(default)]
    pub latency: LatencyStatus,
}

/// Time packets spend in a worker: bucket upper bounds (ns), per-bucket counts (one more than
/// the bounds: the last counts everything above), their sum and count.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LatencyStatus {
    pub bounds_ns: Vec<u64>,
    pub counts: Vec<u64>,
    pub sum_ns: u64,
    pub count: u64,
    /// Exact p50, p99 and p99.9 (ns) of the last ~100 ms window with traffic (hdrhistogram).
    #[serde(default)]
    pub window_p50_p99_p999_ns: [u64; 3],
}

impl LatencyStatus {
    /// The upper bound (ns) of the bucket holding quantile `q` (0..=1); `None` when empty or
    /// in the open last bucket.
    pub fn quantile_bound_ns(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let target = (q * self.count as f64).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (i, c) in self.counts.iter().enumerate() {
            acc += c;
            if acc >= target {
                return self.bounds_ns.get(i).copied();
            }
        }
        None
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DropCount {
    pub reason: String,
    pub packets: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RouteStatus {
    pub prefix: String,
    pub via: Option<String>,
    pub port: Option<String>,
    /// A route into this VTI.
    #[serde(default)]
    pub vti: Option<String>,
}

#[derive(Deserialize)]
struct Request {
    cmd: String,
    /// The tunnel for `tunnel-up` / `tunnel-down`.
    #[serde(default)]
    name: Option<String>,
}

/// Binds the socket (replacing a stale one) and serves it until `stop`.
pub fn spawn(
    path: &Path,
    source: Arc<StatusSource>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("control socket directory {}: {e}", dir.display()))?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(format!("control socket {} is in use: is another espgw running?", path.display()));
        }
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("control socket {}: {e}", path.display()))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("espgw-api".into())
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
        .map_err(|e| e.to_string())
}

fn serve(stream: UnixStream, source: &StatusSource) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let reply = match serde_json::from_str::<Request>(&line) {
        Ok(r) if r.cmd == "status" => serde_json::to_string(&source.status()).unwrap_or_default(),
        Ok(r) if r.cmd == "reload" => match source.request_reload() {
            Ok(summary) => serde_json::json!({ "ok": summary }).to_string(),
            Err(e) => serde_json::json!({ "error": e }).to_string(),
        },
        Ok(r) if r.cmd == "tunnel-up" || r.cmd == "tunnel-down" => {
            match source.request_tunnel(r.name.clone().unwrap_or_default(), r.cmd == "tunnel-up") {
                Ok(summary) => serde_json::json!({ "ok": summary }).to_string(),
                Err(e) => serde_json::json!({ "error": e }).to_string(),
            }
        }
        Ok(r) => serde_json::json!({ "error": format!("unknown command {:?}", r.cmd) }).to_string(),
        Err(e) => serde_json::json!({ "error": format!("bad request: {e}") }).to_string(),
    };
    let mut w = &stream;
    let _ = w.write_all(reply.as_bytes());
    let _ = w.write_all(b"\n");
}

/// Client side: sends `cmd` and returns the JSON reply.
pub fn request(path: &Path, cmd: &str) -> Result<String, String> {
    request_json(path, serde_json::json!({ "cmd": cmd }))
}

/// Client side: sends `tunnel-up` / `tunnel-down` for tunnel `name`.
pub fn request_tunnel(path: &Path, name: &str, up: bool) -> Result<String, String> {
    request_json(
        path,
        serde_json::json!({ "cmd": if up { "tunnel-up" } else { "tunnel-down" }, "name": name }),
    )
}

fn request_json(path: &Path, req: serde_json::Value) -> Result<String, String> {
    let mut s = UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot reach espgw at {}: {e} (is `espgw run` running with this control socket?)",
            path.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let req = req.to_string();
    s.write_all(req.as_bytes()).and_then(|_| s.write_all(b"\n")).map_err(|e| e.to_string())?;
    let mut out = String::new();
    BufReader::new(&s).read_line(&mut out).map_err(|e| e.to_string())?;
    if out.trim().is_empty() {
        return Err("empty reply from espgw".into());
    }
    Ok(out)
}
