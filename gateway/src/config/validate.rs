//! Semantic validation: everything that deserialization alone cannot check.
//!
//! Every problem is recorded as an [`Issue`] against a field path; the caller
//! locates the paths in the source and reports the earliest one.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::{IpAddr, SocketAddr};

use super::ike::IkeConfig;
use super::ipsec::{Action, Direction, IpsecConfig, ModeName, PolicyConfig, ProtocolName};
use super::model::{Config, EalConfig, PortConfig, RawConfig, RouteConfig, VtiConfig, WorkerConfig};
use super::types::{family, IpPrefix, MacAddr, PortQueue};

/// A validation problem: the offending field path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: String,
    pub reason: String,
}

/// Highest lcore id accepted for `main_lcore` and workers.
pub const MAX_LCORE: u32 = 127;
/// Shortest IKE or Child SA rekey interval accepted. Production values are minutes to hours;
/// a few seconds is for tests that watch rekeys happen (each rekey is one exchange, so a
/// shorter interval than a few round trips only makes them queue up).
const MIN_REKEY_SECONDS: u64 = 5;
/// Soft traffic limits below these would rekey a busy tunnel continuously (lifetimes are
/// checked once a second).
const MIN_REKEY_BYTES: u64 = 64 * 1024;
const MIN_REKEY_PACKETS: u64 = 100;
/// IKE fragment sizes: the state machine's floor (room for inner bytes with any cipher) up to
/// jumbo frames (larger never helps).
const MIN_FRAGMENT_SIZE: usize = ike::sa::MIN_FRAGMENT_SIZE;
const MAX_FRAGMENT_SIZE: usize = 9216;
/// Most ports a gateway may have.
pub const MAX_PORTS: usize = 32;

/// Applies dependent defaults and checks `raw`. Returns the resulting
/// configuration together with all problems found (empty when valid).
pub(crate) fn validate(raw: RawConfig) -> (Config, Vec<Issue>) {
    let mut v = Validator::default();
    let eal = raw.eal.unwrap_or_default();
    let ports = raw.ports;
    let routes = raw.routes.unwrap_or_default();
    let vtis = raw.vtis.unwrap_or_default();
    let control = raw.control.unwrap_or_default();
    let dataplane = raw.dataplane.unwrap_or_default();

    v.check_eal(&eal);
    v.check_ports(&ports);
    v.check_routes(&routes, &ports, &vtis);
    let workers = match raw.workers {
        Some(workers) => {
            v.check_workers(&workers, &ports, eal.main_lcore);
            workers
        }
        None => v.default_workers(&ports, eal.main_lcore),
    };

    let socket = control.socket.to_string_lossy();
    if !socket.starts_with('/') {
        v.issue("control.socket", format!("`{socket}` is not an absolute path (e.g. /run/espgw/espgw.sock)"));
    } else if socket.ends_with('/') {
        v.issue("control.socket", format!("`{socket}` names a directory, not a socket file"));
    } else if socket.len() > 107 {
        v.issue(
            "control.socket",
            format!("path is {} bytes long; UNIX socket paths are limited to 107", socket.len()),
        );
    }

    let metrics = v.check_metrics(raw.metrics.and_then(|m| m.listen));

    v.range("dataplane.burst", dataplane.burst, 1, 256);
    v.range("dataplane.mbufs", dataplane.mbufs, 1024, 1_048_576);
    v.range("dataplane.idle_sleep_max_us", dataplane.idle_sleep_max_us, 0, 100_000);

    let ipsec = raw.ipsec.unwrap_or_default();
    v.check_ipsec(&ipsec, &ports);

    let ike = raw.ike.unwrap_or_default();
    v.check_ike(&ike, &ports);
    v.check_vtis(&vtis, &ports, &ike, &routes);

    let log = raw.log.unwrap_or_default();
    if let Err(e) = crate::logging::parse_filter(&log.level) {
        v.issue("log.level", e);
    }

    let config = Config { eal, ports, vtis, routes, workers, control, metrics, dataplane, ipsec, ike, log };
    (config, v.issues)
}

#[derive(Default)]
struct Validator {
    issues: Vec<Issue>,
}

/// EAL options that espgw derives from other settings itself.
const RESERVED_EAL_ARGS: &[(&str, &str)] = &[
    ("--file-prefix", "eal.file_prefix"),
    ("-l", "workers and eal.main_lcore"),
    ("--lcores", "workers and eal.main_lcore"),
    ("-c", "workers and eal.main_lcore"),
    ("--main-lcore", "eal.main_lcore"),
    ("--master-lcore", "eal.main_lcore"),
    ("--vdev", "ports[].device"),
    ("-m", "eal.memory_mb"),
    ("--no-huge", "eal.no_huge"),
];

impl Validator {
    fn issue(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.issues.push(Issue { path: path.into(), reason: reason.into() });
    }

    fn range<T: PartialOrd + Display>(&mut self, path: &str, value: T, lo: T, hi: T) -> bool {
        if value < lo || value > hi {
            self.issue(path, format!("{value} is out of range {lo}..={hi}"));
            false
        } else {
            true
        }
    }

    fn check_eal(&mut self, eal: &EalConfig) {
        self.range("eal.main_lcore", eal.main_lcore, 0, MAX_LCORE);
        if let Some(cpu) = eal.main_cpu {
            self.range("eal.main_cpu", cpu, 0, MAX_LCORE);
        }
        self.range("eal.memory_mb", eal.memory_mb, 64, 65_536);
        let p = &eal.file_prefix;
        if p.is_empty()
            || p.len() > 32
            || !p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            self.issue(
                "eal.file_prefix",
                format!("`{p}` must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'"),
            );
        }
        for (i, arg) in eal.extra_args.iter().enumerate() {
            let path = format!("eal.extra_args[{i}]");
            if arg.trim().is_empty() {
                self.issue(path, "empty EAL argument");
                continue;
            }
            if let Some((opt, source)) = RESERVED_EAL_ARGS.iter().find(|(opt, _)| is_option(arg, opt)) {
                self.issue(path, format!("`{arg}` is not allowed: espgw sets {opt} itself from {source}"));
            }
        }
    }

    fn check_ports(&mut self, ports: &[PortConfig]) {
        if ports.is_empty() {
            self.issue("ports", "at least one port is required");
        } else if ports.len() > MAX_PORTS {
            self.issue("ports", format!("{} ports given, at most {MAX_PORTS} are supported", ports.len()));
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut devices: HashMap<String, usize> = HashMap::new();
        let mut macs: HashMap<MacAddr, usize> = HashMap::new();
        // (address, port index, address index) of every address seen so far.
        let mut seen_addrs: Vec<(IpPrefix, usize, usize)> = Vec::new();

        for (i, port) in ports.iter().enumerate() {
            let base = format!("ports[{i}]");
            let name = port.name.as_str();
            if !valid_port_name(name) {
                self.issue(
                    format!("{base}.name"),
                    format!("`{name}` must be 1 to 15 characters of a-z, 0-9, '_' or '-'"),
                );
            } else if let Some(first) = names.get(name) {
                self.issue(
                    format!("{base}.name"),
                    format!("duplicate port name `{name}` (already used by ports[{first}])"),
                );
            } else {
                names.insert(name, i);
            }

            match parse_device(&port.device) {
                Err(e) => self.issue(format!("{base}.device"), e),
                Ok(key) => {
                    if let Some(first) = devices.get(&key) {
                        let what = if key.starts_with("net_") {
                            format!("duplicate vdev name `{key}`")
                        } else {
                            format!("duplicate PCI device {key}")
                        };
                        self.issue(
                            format!("{base}.device"),
                            format!("{what} (already used by ports[{first}] `{}`)", ports[*first].name),
                        );
                    } else {
                        devices.insert(key, i);
                    }
                }
            }

            if self.range(&format!("{base}.mtu"), port.mtu, 576, 9000)
                && port.mtu < 1280
                && port.addresses.iter().any(IpPrefix::is_ipv6)
            {
                self.issue(
                    format!("{base}.mtu"),
                    format!(
                        "{} is too small for a port with IPv6 addresses (IPv6 needs at least 1280)",
                        port.mtu
                    ),
                );
            }

            if let Some(mac) = port.mac {
                if self.check_mac(&format!("{base}.mac"), mac) {
                    if let Some(first) = macs.get(&mac) {
                        self.issue(
                            format!("{base}.mac"),
                            format!("MAC address {mac} is already used by ports[{first}]"),
                        );
                    } else {
                        macs.insert(mac, i);
                    }
                }
            }

            if port.addresses.is_empty() {
                self.issue(format!("{base}.addresses"), "at least one interface address is required");
            }
            for (j, addr) in port.addresses.iter().enumerate() {
                let path = format!("{base}.addresses[{j}]");
                if let Err(e) = check_interface_address(addr) {
                    self.issue(path, e);
                    continue;
                }
                let net = addr.network();
                if let Some((_, pi, aj)) = seen_addrs.iter().find(|(a, ..)| a.addr == addr.addr) {
                    self.issue(
                        path,
                        format!("address {} is already assigned at ports[{pi}].addresses[{aj}]", addr.addr),
                    );
                } else if let Some((other, pi, _)) =
                    seen_addrs.iter().find(|(a, pi, _)| *pi != i && a.network().overlaps(&net))
                {
                    self.issue(
                        path,
                        format!(
                            "subnet {net} overlaps subnet {} of port `{}`",
                            other.network(),
                            ports[*pi].name
                        ),
                    );
                }
                seen_addrs.push((*addr, i, j));
            }

            self.check_neighbours(&base, port);
            self.range(&format!("{base}.rx_queues"), port.rx_queues, 1, 16);
        }
    }

    /// Checks that `mac` is a usable station address; true when it is.
    fn check_mac(&mut self, path: &str, mac: MacAddr) -> bool {
        if mac.is_zero() {
            self.issue(path, "the all-zero MAC address is not allowed");
            false
        } else if mac.is_multicast() {
            self.issue(
                path,
                format!("{mac} is a multicast address (lowest bit of the first octet set); a unicast address is required"),
            );
            false
        } else {
            true
        }
    }

    fn check_neighbours(&mut self, base: &str, port: &PortConfig) {
        let mut seen: HashMap<IpAddr, usize> = HashMap::new();
        for (k, n) in port.neighbours.iter().enumerate() {
            let path = format!("{base}.neighbours[{k}]");
            if !port.addresses.iter().any(|a| a.contains(n.ip)) {
                self.issue(
                    format!("{path}.ip"),
                    format!(
                        "neighbour {} is not inside any subnet of port `{}` ({})",
                        n.ip,
                        port.name,
                        list_subnets(port.addresses.iter().copied(), None)
                    ),
                );
            } else if port.addresses.iter().any(|a| a.addr == n.ip) {
                self.issue(format!("{path}.ip"), format!("{} is the port's own address", n.ip));
            } else if let Some(first) = seen.get(&n.ip) {
                self.issue(
                    format!("{path}.ip"),
                    format!("duplicate neighbour {} (already at {base}.neighbours[{first}])", n.ip),
                );
            } else {
                seen.insert(n.ip, k);
            }
            self.check_mac(&format!("{path}.mac"), n.mac);
        }
    }

    fn check_routes(&mut self, routes: &[RouteConfig], ports: &[PortConfig], vtis: &[VtiConfig]) {
        let mut seen: HashMap<IpPrefix, usize> = HashMap::new();
        for (i, route) in routes.iter().enumerate() {
            let base = format!("routes[{i}]");
            let prefix = route.prefix;
            if !prefix.is_network() {
                self.issue(
                    format!("{base}.prefix"),
                    format!(
                        "{prefix} has host bits set; a route needs a network prefix: did you mean {}?",
                        prefix.network()
                    ),
                );
            } else if let Some(&first) = seen.get(&prefix) {
                // Several routes into different VTIs make an ECMP / tracking group.
                let other = &routes[first];
                let vtis_differ = routes[first..i]
                    .iter()
                    .filter(|r| r.prefix == prefix)
                    .all(|r| r.vti.is_some() && r.vti != route.vti);
                if route.vti.is_none() || other.vti.is_none() || !vtis_differ {
                    self.issue(
                        format!("{base}.prefix"),
                        format!(
                            "duplicate route for {prefix} (already at routes[{first}]); only routes into \
                             different VTIs may share a prefix (ECMP / failover by metric)"
                        ),
                    );
                }
            } else {
                seen.insert(prefix, i);
            }

            if route.metric.is_some() && route.vti.is_none() {
                self.issue(
                    format!("{base}.metric"),
                    "a metric orders routes into VTIs: add `vti`, or remove it",
                );
            }
            if let Some(name) = &route.vti {
                if route.via.is_some() || route.port.is_some() {
                    self.issue(
                        format!("{base}.vti"),
                        "a route into a VTI names no `via` or `port`: the VTI is its next hop",
                    );
                } else if !vtis.iter().any(|v| &v.name == name) {
                    let known: Vec<&str> = vtis.iter().map(|v| v.name.as_str()).collect();
                    let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
                    self.issue(format!("{base}.vti"), format!("unknown VTI `{name}` (known VTIs: {known})"));
                }
                continue;
            }
            if route.via.is_none() && route.port.is_none() {
                self.issue(base.clone(), "a route needs `via`, `port` or both, or a `vti`");
            }

            let port = match &route.port {
                Some(name) => match ports.iter().find(|p| &p.name == name) {
                    Some(p) => Some(p),
                    None => {
                        self.issue(
                            format!("{base}.port"),
                            format!("unknown port `{name}` (known ports: {})", port_names(ports)),
                        );
                        continue;
                    }
                },
                None => None,
            };

            let Some(via) = route.via else { continue };
            let path = format!("{base}.via");
            if via.is_ipv4() != prefix.is_ipv4() {
                self.issue(
                    path,
                    format!(
                        "next hop {via} is {} but prefix {prefix} is {}",
                        family(&via),
                        family(&prefix.addr)
                    ),
                );
                continue;
            }
            if ports.iter().flat_map(|p| &p.addresses).any(|a| a.addr == via) {
                self.issue(path, format!("next hop {via} is one of the gateway's own addresses"));
                continue;
            }
            let connected_port = ports.iter().find(|p| p.addresses.iter().any(|a| a.contains(via)));
            match (port, connected_port) {
                (Some(p), Some(c)) if p.name != c.name => self.issue(
                    path,
                    format!(
                        "next hop {via} is not in a subnet of port `{}` (it is connected via port `{}`)",
                        p.name, c.name
                    ),
                ),
                (Some(p), None) => self.issue(
                    path,
                    format!(
                        "next hop {via} is not in a subnet of port `{}` ({})",
                        p.name,
                        list_subnets(p.addresses.iter().copied(), Some(via))
                    ),
                ),
                (None, None) => self.issue(
                    path,
                    format!(
                        "next hop {via} is not in any connected subnet ({})",
                        list_subnets(ports.iter().flat_map(|p| p.addresses.iter().copied()), Some(via))
                    ),
                ),
                _ => {}
            }
        }
    }

    /// VTIs: a unique name, an inside address that overlaps no port subnet and no other VTI,
    /// and an IKEv2 peer of its own whose children all select any-to-any (0.0.0.0/0 and/or
    /// ::/0 on both sides), so that no SPD policy comes from it and routing alone decides.
    fn check_vtis(
        &mut self,
        vtis: &[VtiConfig],
        ports: &[PortConfig],
        ike: &IkeConfig,
        routes: &[RouteConfig],
    ) {
        for (i, vti) in vtis.iter().enumerate() {
            let at = |f: &str| format!("vtis[{i}].{f}");
            if !valid_port_name(&vti.name) {
                self.issue(
                    at("name"),
                    format!("`{}` must be 1 to 15 characters of a-z, 0-9, '_' or '-'", vti.name),
                );
            } else if vtis[..i].iter().any(|o| o.name == vti.name) {
                self.issue(at("name"), format!("duplicate VTI name `{}`", vti.name));
            } else if ports.iter().any(|p| p.name == vti.name) {
                self.issue(at("name"), format!("`{}` is already the name of a port", vti.name));
            }
            if let Err(e) = check_interface_address(&vti.address) {
                self.issue(at("address"), e);
            } else {
                let net = vti.address.network();
                let overlaps = |a: &IpPrefix| {
                    let other = a.network();
                    other.contains(net.addr) || net.contains(other.addr)
                };
                if let Some(p) = ports.iter().find(|p| p.addresses.iter().any(overlaps)) {
                    self.issue(at("address"), format!("{net} overlaps a subnet of port `{}`", p.name));
                } else if let Some(o) = vtis[..i].iter().find(|o| overlaps(&o.address)) {
                    self.issue(
                        at("address"),
                        format!("{net} overlaps the inside subnet of VTI `{}`", o.name),
                    );
                }
            }
            if let Some(h) = &vti.host_interface {
                if !valid_port_name(h) {
                    self.issue(
                        at("host_interface"),
                        format!("`{h}` must be 1 to 15 characters of a-z, 0-9, '_' or '-'"),
                    );
                } else if vtis[..i].iter().any(|o| o.host_interface.as_deref() == Some(h.as_str())) {
                    self.issue(
                        at("host_interface"),
                        format!("host interface `{h}` is already another VTI's"),
                    );
                }
                if !vti.address.addr.is_ipv4() {
                    self.issue(
                        at("host_interface"),
                        "the host interface carries an IPv4 inside address only",
                    );
                }
            } else if vti.import_routes {
                self.issue(
                    at("import_routes"),
                    "routes are imported from the host interface: set `host_interface` too",
                );
            }
            let Some(peer) = ike.peers.iter().find(|p| p.name == vti.peer) else {
                let known: Vec<&str> = ike.peers.iter().map(|p| p.name.as_str()).collect();
                let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
                self.issue(at("peer"), format!("unknown IKE peer `{}` (ike.peers: {known})", vti.peer));
                continue;
            };
            if let Some(o) = vtis[..i].iter().find(|o| o.peer == vti.peer) {
                self.issue(
                    at("peer"),
                    format!("IKE peer `{}` is already bound to VTI `{}`", vti.peer, o.name),
                );
            } else if peer.is_v1() {
                self.issue(at("peer"), format!("IKE peer `{}` is IKEv1; VTIs need an IKEv2 peer", vti.peer));
            } else if peer.children.is_empty() {
                self.issue(at("peer"), format!("IKE peer `{}` has no child", vti.peer));
            }
            let any = |ts: &[IpPrefix]| !ts.is_empty() && ts.iter().all(|p| p.len == 0);
            for c in &peer.children {
                if !any(&c.local_ts) || !any(&c.remote_ts) || families(&c.local_ts) != families(&c.remote_ts)
                {
                    self.issue(
                        at("peer"),
                        format!(
                            "child `{}` of IKE peer `{}` is not any-to-any; a VTI's peer needs local_ts and \
                             remote_ts of 0.0.0.0/0 and/or ::/0 (the same on both sides)",
                            c.name, vti.peer
                        ),
                    );
                } else if c.start_action == super::ike::StartActionName::Trap {
                    self.issue(
                        at("peer"),
                        format!(
                            "child `{}` of IKE peer `{}` has start_action trap; a VTI's child uses start or none",
                            c.name, vti.peer
                        ),
                    );
                }
            }
        }
        // A route into a VTI whose Child SA carries no traffic of its family would only drop.
        for (j, r) in routes.iter().enumerate() {
            let Some(vti) = r.vti.as_ref().and_then(|n| vtis.iter().find(|v| &v.name == n)) else { continue };
            let Some(peer) = ike.peers.iter().find(|p| p.name == vti.peer) else { continue };
            let carried =
                peer.children.iter().any(|c| c.local_ts.iter().any(|t| t.is_ipv4() == r.prefix.is_ipv4()));
            if !carried {
                self.issue(
                    format!("routes[{j}].vti"),
                    format!(
                        "{} is {} but the children of VTI `{}`'s peer `{}` select no {} traffic",
                        r.prefix,
                        family(&r.prefix.addr),
                        vti.name,
                        vti.peer,
                        family(&r.prefix.addr)
                    ),
                );
            }
        }
    }

    fn check_workers(&mut self, workers: &[WorkerConfig], ports: &[PortConfig], main_lcore: u32) {
        if workers.is_empty() {
            self.issue(
                "workers",
                "at least one worker is required (omit `workers` to get the default worker)",
            );
            return;
        }
        let issues_before = self.issues.len();
        let mut lcores: HashMap<u32, usize> = HashMap::new();
        // (port, queue) -> (worker index, rx index)
        let mut polled: HashMap<(&str, u16), (usize, usize)> = HashMap::new();
        for (i, w) in workers.iter().enumerate() {
            let base = format!("workers[{i}]");
            let lcore_path = format!("{base}.lcore");
            let in_range = self.range(&lcore_path, w.lcore, 0, MAX_LCORE);
            if !in_range {
                // Already reported as out of range.
            } else if w.lcore == main_lcore {
                self.issue(
                    lcore_path,
                    format!("lcore {} is eal.main_lcore, which runs the control thread", w.lcore),
                );
            } else if let Some(first) = lcores.get(&w.lcore) {
                self.issue(lcore_path, format!("lcore {} is already used by workers[{first}]", w.lcore));
            } else {
                lcores.insert(w.lcore, i);
            }

            if w.rx.is_empty() {
                self.issue(format!("{base}.rx"), "a worker must poll at least one rx queue");
            }
            for (j, q) in w.rx.iter().enumerate() {
                let path = format!("{base}.rx[{j}]");
                let Some(port) = ports.iter().find(|p| p.name == q.port) else {
                    self.issue(
                        path,
                        format!("unknown port `{}` in `{q}` (known ports: {})", q.port, port_names(ports)),
                    );
                    continue;
                };
                if q.queue >= port.rx_queues {
                    self.issue(
                        path,
                        format!(
                            "port `{}` has rx_queues: {}, so queue {} does not exist",
                            port.name, port.rx_queues, q.queue
                        ),
                    );
                    continue;
                }
                if let Some((wi, rj)) = polled.get(&(port.name.as_str(), q.queue)) {
                    self.issue(
                        path,
                        format!(
                            "queue {q} is already polled by workers[{wi}] (lcore {}, rx[{rj}]); each queue needs exactly one worker",
                            workers[*wi].lcore
                        ),
                    );
                } else {
                    polled.insert((port.name.as_str(), q.queue), (i, j));
                }
            }
        }
        if self.issues.len() > issues_before {
            // A queue left unpolled is likely a consequence of the problem
            // already reported.
            return;
        }
        let mut missing = Vec::new();
        for port in ports {
            for q in 0..port.rx_queues {
                if !polled.contains_key(&(port.name.as_str(), q)) {
                    missing.push(format!("{}:{q}", port.name));
                }
            }
        }
        if !missing.is_empty() {
            let (noun, verb) = if missing.len() == 1 { ("queue", "is") } else { ("queues", "are") };
            self.issue("workers", format!("port {noun} {} {verb} polled by no worker", missing.join(", ")));
        }
    }

    /// The default: one worker on `main_lcore + 1` polling queue 0 of every
    /// port. Ports with more queues then need an explicit `workers` list.
    fn default_workers(&mut self, ports: &[PortConfig], main_lcore: u32) -> Vec<WorkerConfig> {
        let lcore = main_lcore.saturating_add(1);
        if main_lcore <= MAX_LCORE && lcore > MAX_LCORE {
            self.issue(
                "eal.main_lcore",
                format!(
                    "no lcore above {main_lcore} is left for the default worker; add a `workers` section"
                ),
            );
        }
        for (i, port) in ports.iter().enumerate() {
            if port.rx_queues > 1 && port.rx_queues <= 16 {
                self.issue(
                    format!("ports[{i}].rx_queues"),
                    format!(
                        "queues 1..{} of port `{}` would be polled by no worker: the default worker polls queue 0 only; add a `workers` section",
                        port.rx_queues, port.name
                    ),
                );
            }
        }
        vec![WorkerConfig {
            lcore,
            rx: ports.iter().map(|p| PortQueue { port: p.name.clone(), queue: 0 }).collect(),
        }]
    }

    fn check_metrics(&mut self, listen: Option<String>) -> Option<SocketAddr> {
        let listen = listen?;
        let listen = listen.trim();
        if listen.is_empty() {
            return None;
        }
        match listen.parse::<SocketAddr>() {
            Ok(addr) if addr.port() == 0 => {
                self.issue("metrics.listen", format!("`{listen}` has port 0; give a fixed port"));
                None
            }
            Ok(addr) => Some(addr),
            Err(_) => {
                self.issue(
                    "metrics.listen",
                    format!("`{listen}` is not a socket address; expected IP:PORT such as 127.0.0.1:9520 or [::1]:9520 (\"\" disables metrics)"),
                );
                None
            }
        }
    }
}

/// True when `arg` is the option `opt`, with or without an attached value
/// (`--vdev=...`, `-l0-3`, `-m 512` as one string).
fn is_option(arg: &str, opt: &str) -> bool {
    let arg = arg.trim();
    if arg == opt {
        return true;
    }
    let Some(rest) = arg.strip_prefix(opt) else {
        return false;
    };
    if opt.starts_with("--") {
        rest.starts_with('=') || rest.starts_with(' ')
    } else {
        // Short options take their value attached or after a space.
        !rest.is_empty()
    }
}

fn valid_port_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

/// Validates a port device and returns the key that must be unique across
/// ports: the vdev name or the lower-cased PCI address.
fn parse_device(dev: &str) -> Result<String, String> {
    let help = "expected a vdev spec net_<driver><n>[,key=value...] (e.g. net_af_packet0,iface=gw-lan) or a PCI address DDDD:BB:DD.F (e.g. 0000:03:00.0)";
    if dev.starts_with("net_") {
        let mut parts = dev.split(',');
        let name = parts.next().unwrap_or_default();
        let body = &name[4..];
        let driver = body.trim_end_matches(|c: char| c.is_ascii_digit());
        let instance = &body[driver.len()..];
        if driver.is_empty()
            || instance.is_empty()
            || !driver.starts_with(|c: char| c.is_ascii_lowercase())
            || !driver.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        {
            return Err(format!("invalid vdev name `{name}` in `{dev}`: {help}"));
        }
        for kv in parts {
            let ok = kv.split_once('=').is_some_and(|(k, v)| {
                !k.is_empty()
                    && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                    && !v.is_empty()
                    && !v.contains(char::is_whitespace)
            });
            if !ok {
                return Err(format!("invalid vdev argument `{kv}` in `{dev}`: arguments must be key=value"));
            }
        }
        return Ok(name.to_string());
    }
    if is_pci_address(dev) {
        return Ok(dev.to_ascii_lowercase());
    }
    Err(format!("`{dev}` is not a valid device: {help}"))
}

fn is_pci_address(s: &str) -> bool {
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|c| c.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split(':').collect();
    let [domain, bus, devfn] = parts[..] else {
        return false;
    };
    let Some((dev, func)) = devfn.split_once('.') else {
        return false;
    };
    hex(domain, 4)
        && hex(bus, 2)
        && hex(dev, 2)
        && u8::from_str_radix(dev, 16).is_ok_and(|d| d <= 0x1f)
        && func.len() == 1
        && matches!(func.as_bytes()[0], b'0'..=b'7')
}

/// Checks an interface address (host address plus prefix length).
fn check_interface_address(a: &IpPrefix) -> Result<(), String> {
    let ip = a.addr;
    if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() {
        return Err(format!("{ip} is not a usable unicast interface address"));
    }
    if a.len == 0 {
        return Err(format!("{a}: prefix length /0 is not usable for an interface address"));
    }
    if let IpAddr::V4(v4) = ip {
        if v4.is_broadcast() {
            return Err(format!("{ip} is not a usable unicast interface address"));
        }
        if a.len < 31 {
            let net = a.network();
            if net.addr == ip {
                return Err(format!("{ip} is the network address of {net}; use a host address inside it"));
            }
            if a.broadcast() == Some(v4) {
                return Err(format!("{ip} is the broadcast address of {net}; use a host address inside it"));
            }
        }
    }
    Ok(())
}

/// (has IPv4, has IPv6) among `ts`.
fn families(ts: &[IpPrefix]) -> (bool, bool) {
    (ts.iter().any(|p| p.is_ipv4()), ts.iter().any(|p| !p.is_ipv4()))
}

fn port_names(ports: &[PortConfig]) -> String {
    let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Comma-separated connected subnets, limited to the family of `like`.
fn list_subnets(addrs: impl Iterator<Item = IpPrefix>, like: Option<IpAddr>) -> String {
    let nets: Vec<String> = addrs
        .filter(|a| like.is_none_or(|l| l.is_ipv4() == a.is_ipv4()))
        .map(|a| a.network().to_string())
        .collect();
    if nets.is_empty() {
        "none of that family configured".to_string()
    } else {
        format!("connected: {}", nets.join(", "))
    }
}

impl Validator {
    #[inline(never)]
    fn check_ipsec(&mut self, ipsec: &IpsecConfig, ports: &[PortConfig]) {
        use crate::ipsec::crypto::Algorithm;
        let ours = |ip: IpAddr| ports.iter().any(|p| p.addresses.iter().any(|a| a.addr == ip));
        let mut names: Vec<&str> = Vec::new();
        for (i, sa) in ipsec.sas.iter().enumerate() {
            let at = |f: &str| format!("ipsec.sas[{i}].{f}");
            if sa.name.is_empty() || sa.name.len() > 63 {
                self.issue(at("name"), "an SA name must be 1 to 63 characters");
            } else if names.contains(&sa.name.as_str()) {
                self.issue(at("name"), format!("duplicate SA name `{}`", sa.name));
            }
            names.push(&sa.name);
            let ah = sa.protocol == ProtocolName::Ah;
            if sa.spi < 256 {
                let rfc = if ah { "RFC 4302 §2.4" } else { "RFC 4303 §2.1" };
                self.issue(at("spi"), format!("SPI {} is reserved (0-255, {rfc}); use 256 or more", sa.spi));
            }
            let dup = ipsec.sas[..i].iter().any(|o| {
                o.direction == sa.direction
                    && o.spi == sa.spi
                    && match sa.direction {
                        Direction::In => o.local == sa.local,
                        Direction::Out => o.remote == sa.remote,
                    }
            });
            if dup {
                self.issue(
                    at("spi"),
                    format!(
                        "SPI {:#x} is already used by another SA in this direction with the same {}",
                        sa.spi,
                        if sa.direction == Direction::In { "local address" } else { "peer" }
                    ),
                );
            }
            if sa.local.is_ipv4() != sa.remote.is_ipv4() {
                self.issue(
                    at("remote"),
                    format!("local {} and remote {} must be the same address family", sa.local, sa.remote),
                );
            }
            if !ours(sa.local) {
                self.issue(at("local"), format!("{} is not an address of any port; the tunnel endpoint must be one of this gateway's addresses", sa.local));
            }
            let names = |algs: &[Algorithm]| algs.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ");
            let known = if ah { names(&Algorithm::AH) } else { names(&Algorithm::ESP) };
            match Algorithm::from_name(&sa.algorithm) {
                None => {
                    let reason = format!("unknown algorithm `{}`; known: {known}", sa.algorithm);
                    self.issue(at("algorithm"), reason)
                }
                Some(alg) if alg.is_ah() && !ah => self.issue(
                    at("algorithm"),
                    format!(
                        "`{}` is an AH integrity algorithm: set `protocol: ah`, or use an ESP algorithm \
                         ({known})",
                        alg.name()
                    ),
                ),
                Some(alg) if ah && !alg.is_ah() => self.issue(
                    at("algorithm"),
                    format!("`{}` is an ESP algorithm; AH (integrity only) takes: {known}", alg.name()),
                ),
                Some(alg) => {
                    if alg.is_aead() && !ipsec.allow_static_gcm {
                        self.issue(
                            at("algorithm"),
                            format!(
                                "{} with a static key is forbidden (RFC 4106 §8): every restart would reuse \
                                 GCM nonces; use a CBC+HMAC algorithm for manual keys, or IKE, or set \
                                 ipsec.allow_static_gcm: true in a lab",
                                alg.name()
                            ),
                        );
                    }
                    if ah && !sa.enc_key.is_empty() {
                        self.issue(at("enc_key"), "AH does not encrypt: it takes no enc_key");
                    } else if sa.enc_key.len() != alg.enc_key_len() {
                        let what = if alg.is_aead() {
                            " (AES key followed by the 4-byte salt, RFC 4106 §8.1)"
                        } else {
                            ""
                        };
                        self.issue(
                            at("enc_key"),
                            format!(
                                "{} needs a {}-byte encryption key{what}, got {} bytes",
                                alg.name(),
                                alg.enc_key_len(),
                                sa.enc_key.len()
                            ),
                        );
                    }
                    if sa.auth_key.len() != alg.auth_key_len() {
                        if alg.auth_key_len() == 0 {
                            self.issue(
                                at("auth_key"),
                                format!("{} is an AEAD algorithm: it takes no auth_key", alg.name()),
                            );
                        } else {
                            self.issue(
                                at("auth_key"),
                                format!(
                                    "{} needs a {}-byte integrity key, got {} bytes",
                                    alg.name(),
                                    alg.auth_key_len(),
                                    sa.auth_key.len()
                                ),
                            );
                        }
                    }
                }
            }
            if sa.replay_window == 0 {
                if sa.esn {
                    self.issue(
                        at("replay_window"),
                        "0 (anti-replay off) cannot be combined with esn: the receiver infers the high \
                         half of an extended sequence number from the window",
                    );
                }
            } else if !(64..=65536).contains(&sa.replay_window) {
                self.issue(
                    at("replay_window"),
                    format!(
                        "{} is out of range: 64..=65536, or 0 to switch anti-replay off",
                        sa.replay_window
                    ),
                );
            }
            if ah && sa.natt.is_some() {
                self.issue(at("natt"), "NAT-T (RFC 3948) is defined for ESP only; an AH SA cannot use it");
            } else if let Some(n) = sa.natt {
                if n.local_port == 0 || n.remote_port == 0 {
                    self.issue(at("natt"), "NAT-T ports must not be 0");
                } else if n.local_port != 4500 {
                    self.issue(
                        at("natt.local_port"),
                        format!(
                            "{} is not supported: espgw receives ESP-in-UDP on port 4500 only (the peer's \
                             remote_port may be anything, e.g. behind a NAT)",
                            n.local_port
                        ),
                    );
                }
            }
        }
        for (i, p) in ipsec.policies.iter().enumerate() {
            self.check_policy(i, p, ipsec, &names);
        }
    }
}

impl Validator {
    /// The `ike:` section: names, addresses, identities, PSK strength, proposal strings (in
    /// the state machine's own parser, so what passes here is what it will negotiate),
    /// selectors and timers.
    #[inline(never)]
    fn check_ike(&mut self, ike: &IkeConfig, ports: &[PortConfig]) {
        use ike::sa::{EspProposal, IkeProposal};
        let ours = |ip: IpAddr| ports.iter().any(|p| p.addresses.iter().any(|a| a.addr == ip));
        for (i, peer) in ike.peers.iter().enumerate() {
            let at = |f: &str| format!("ike.peers[{i}].{f}");
            if peer.name.is_empty() || peer.name.len() > 63 {
                self.issue(at("name"), "a peer name must be 1 to 63 characters");
            } else if ike.peers[..i].iter().any(|o| o.name == peer.name) {
                self.issue(at("name"), format!("duplicate peer name `{}`", peer.name));
            }
            if !ours(peer.local) {
                self.issue(
                    at("local"),
                    format!(
                        "{} is not an address of any port; IKE must run from one of this gateway's addresses",
                        peer.local
                    ),
                );
            }
            if peer.local.is_ipv4() != peer.remote.is_ipv4() {
                self.issue(
                    at("remote"),
                    format!(
                        "local {} and remote {} must be the same address family",
                        peer.local, peer.remote
                    ),
                );
            } else if ike.peers[..i].iter().any(|o| o.remote == peer.remote && o.local == peer.local) {
                self.issue(
                    at("remote"),
                    format!(
                        "another peer already uses {} -> {}: a responder picks its peer by address",
                        peer.local, peer.remote
                    ),
                );
            }
            if let Err(e) = super::ike::parse_identity(&peer.local_id) {
                self.issue(at("local_id"), e);
            }
            if let Some(Err(e)) = peer.remote_id.as_deref().map(super::ike::parse_identity) {
                self.issue(at("remote_id"), e);
            }
            if peer.psk.expose().len() < 8 {
                self.issue(
                    at("psk"),
                    format!(
                        "the pre-shared key is {} bytes; use at least 8 (value not shown)",
                        peer.psk.expose().len()
                    ),
                );
            }
            if peer.ike_proposals.is_empty() {
                self.issue(
                    at("ike_proposals"),
                    "at least one IKE proposal, e.g. aes128gcm16-prfsha256-x25519",
                );
            }
            for (k, p) in peer.ike_proposals.iter().enumerate() {
                match IkeProposal::parse(p) {
                    Err(e) => self.issue(format!("ike.peers[{i}].ike_proposals[{k}]"), e),
                    Ok(p) if peer.is_v1() && p.encr.iter().any(|e| e.is_aead()) => self.issue(
                        format!("ike.peers[{i}].ike_proposals[{k}]"),
                        "IKEv1 phase 1 has no AES-GCM: use AES-CBC with a hash, e.g. aes128-sha256-modp2048",
                    ),
                    Ok(p) if !peer.is_v1() && p.encr.iter().any(|e| e.is_weak()) => self.issue(
                        format!("ike.peers[{i}].ike_proposals[{k}]"),
                        "3des is only for IKEv1 phase 1 (with `allow_3des: true`); IKEv2 peers all speak AES",
                    ),
                    Ok(p) if !peer.allow_3des && p.encr.iter().any(|e| e.is_weak()) => self.issue(
                        format!("ike.peers[{i}].ike_proposals[{k}]"),
                        "3des has 64-bit blocks (Sweet32): use aes128/aes256, or set `allow_3des: true` on \
                         the peer to accept it (logged as a warning)",
                    ),
                    Ok(p) => self.check_weak_dh(format!("ike.peers[{i}].ike_proposals[{k}]"), peer, &p.dh),
                }
            }
            self.check_ike_version(i, peer);
            if let Some(f) = peer.fragment_size {
                if peer.is_v1() {
                    self.issue(
                        at("fragment_size"),
                        "IKE fragmentation here is IKEv2's (RFC 7383); remove it for an IKEv1 peer",
                    );
                } else if !(MIN_FRAGMENT_SIZE..=MAX_FRAGMENT_SIZE).contains(&f) {
                    self.issue(
                        at("fragment_size"),
                        format!(
                            "{f} bytes is out of range {MIN_FRAGMENT_SIZE}..={MAX_FRAGMENT_SIZE} (the whole IP datagram \
                             of an IKE fragment; 1280 by default)"
                        ),
                    );
                }
            }
            if peer.dpd.interval > 86_400 {
                self.issue(
                    at("dpd.interval"),
                    format!("{} s is more than a day; 0 switches DPD off", peer.dpd.interval),
                );
            }
            if peer.retransmit.tries > 16 {
                self.issue(
                    at("retransmit.tries"),
                    format!("{} retransmits: at most 16", peer.retransmit.tries),
                );
            }
            if !(100..=60_000).contains(&peer.retransmit.timeout_ms) {
                self.issue(
                    at("retransmit.timeout_ms"),
                    format!("{} ms is out of range 100..=60000", peer.retransmit.timeout_ms),
                );
            }
            if peer.children.is_empty() {
                self.issue(at("children"), "a peer needs at least one child (tunnel)");
            }
            for (c, child) in peer.children.iter().enumerate() {
                let at = |f: &str| format!("ike.peers[{i}].children[{c}].{f}");
                if child.name.is_empty() || child.name.len() > 63 {
                    self.issue(at("name"), "a child name must be 1 to 63 characters");
                } else if peer.children[..c].iter().any(|o| o.name == child.name) {
                    self.issue(at("name"), format!("duplicate child name `{}`", child.name));
                }
                for (field, list) in [("local_ts", &child.local_ts), ("remote_ts", &child.remote_ts)] {
                    if list.is_empty() {
                        self.issue(at(field), "at least one prefix");
                    }
                    for (k, pfx) in list.iter().enumerate() {
                        self.check_selector(format!("ike.peers[{i}].children[{c}].{field}[{k}]"), pfx);
                    }
                }
                if child.esp_proposals.is_empty() {
                    self.issue(at("esp_proposals"), "at least one ESP proposal, e.g. aes128gcm16");
                }
                if !child.ah_proposals.is_empty() && !peer.is_v1() {
                    self.issue(
                        at("ah_proposals"),
                        "AH children are IKEv1 only here: use ESP, or `version: 1`",
                    );
                }
                if !child.ah_proposals.is_empty()
                    && child.esp_proposals != super::ike::default_esp_proposals()
                {
                    self.issue(
                        at("ah_proposals"),
                        "a quick mode negotiates ESP or AH: give esp_proposals or ah_proposals, not both",
                    );
                }
                for (k, p) in child.ah_proposals.iter().enumerate() {
                    let at = format!("ike.peers[{i}].children[{c}].ah_proposals[{k}]");
                    match EspProposal::parse_ah(p) {
                        Err(e) => self.issue(at, e),
                        Ok(p) => self.check_weak_dh(at, peer, &p.dh),
                    }
                }
                for (k, p) in child.esp_proposals.iter().enumerate() {
                    let at = format!("ike.peers[{i}].children[{c}].esp_proposals[{k}]");
                    match EspProposal::parse(p) {
                        Err(e) => self.issue(at, e),
                        Ok(p) => self.check_weak_dh(at, peer, &p.dh),
                    }
                }
                match child.pfs_group.as_deref().map(super::ike::pfs_group) {
                    Some(Err(e)) => self.issue(at("pfs_group"), e),
                    Some(Ok(g)) => self.check_weak_dh(at("pfs_group"), peer, &[g]),
                    None => {}
                }
                for (soft, hard, s, h) in [
                    ("rekey_bytes", "life_bytes", child.rekey_bytes, child.life_bytes),
                    ("rekey_packets", "life_packets", child.rekey_packets, child.life_packets),
                ] {
                    if h != 0 && s != 0 && h <= s {
                        self.issue(
                            at(hard),
                            format!(
                                "{h} is not above {soft} {s}: the hard limit must leave room for the rekey"
                            ),
                        );
                    }
                }
                if child.rekey_bytes != 0 && child.rekey_bytes < MIN_REKEY_BYTES {
                    self.issue(
                        at("rekey_bytes"),
                        format!("{} bytes: use {MIN_REKEY_BYTES} or more, or 0 for none", child.rekey_bytes),
                    );
                }
                if child.rekey_packets != 0 && child.rekey_packets < MIN_REKEY_PACKETS {
                    self.issue(
                        at("rekey_packets"),
                        format!(
                            "{} packets: use {MIN_REKEY_PACKETS} or more, or 0 for none",
                            child.rekey_packets
                        ),
                    );
                }
                if child.rekey_seconds != 0 && child.rekey_seconds < MIN_REKEY_SECONDS {
                    self.issue(
                        at("rekey_seconds"),
                        format!("{} s: use {MIN_REKEY_SECONDS} or more, or 0 for never", child.rekey_seconds),
                    );
                }
            }
            if peer.ike_rekey_seconds != 0 && peer.ike_rekey_seconds < MIN_REKEY_SECONDS {
                self.issue(
                    at("ike_rekey_seconds"),
                    format!("{} s: use {MIN_REKEY_SECONDS} or more, or 0 for never", peer.ike_rekey_seconds),
                );
            }
        }
    }

    /// MODP 1024 / 1536 only where the peer says `allow_weak_dh: true`.
    fn check_weak_dh(
        &mut self,
        at: String,
        peer: &super::ike::IkePeerConfig,
        groups: &[ike::codec::DhGroup],
    ) {
        if peer.allow_weak_dh {
            return;
        }
        if let Some(g) = groups.iter().find(|&&g| ike::crypto::dh::is_weak(g)) {
            let name = if *g == ike::codec::DhGroup::MODP_1024 {
                "modp1024 (group 2)"
            } else {
                "modp1536 (group 5)"
            };
            self.issue(
                at,
                format!(
                    "{name} is a weak DH group; use modp2048 or better, or set `allow_weak_dh: true` \
                     on the peer to accept it (logged as a warning)"
                ),
            );
        }
    }

    /// `version` and what only one IKE version has.
    fn check_ike_version(&mut self, i: usize, peer: &super::ike::IkePeerConfig) {
        let at = |f: &str| format!("ike.peers[{i}].{f}");
        match peer.version {
            1 => {}
            2 => {
                if peer.mode.is_some() {
                    self.issue(
                        at("mode"),
                        "main/aggressive mode is IKEv1 only: add `version: 1` or remove `mode`",
                    );
                }
                if peer.commit_bit.is_some() {
                    self.issue(
                        at("commit_bit"),
                        "the commit bit is IKEv1 only: add `version: 1` or remove `commit_bit`",
                    );
                }
            }
            v => self.issue(at("version"), format!("IKE version {v}: use 1 (IKEv1) or 2 (IKEv2)")),
        }
        if !peer.is_v1() {
            return;
        }
        for (c, child) in peer.children.iter().enumerate() {
            for (field, list) in [("local_ts", &child.local_ts), ("remote_ts", &child.remote_ts)] {
                if list.len() > 1 {
                    self.issue(
                        format!("ike.peers[{i}].children[{c}].{field}"),
                        format!(
                            "{} prefixes: an IKEv1 quick mode negotiates one local and one remote prefix; \
                             write one child per policy pair",
                            list.len()
                        ),
                    );
                }
            }
        }
    }

    #[inline(never)]
    fn check_policy(&mut self, i: usize, p: &PolicyConfig, ipsec: &IpsecConfig, names: &[&str]) {
        let at = |f: &str| format!("ipsec.policies[{i}].{f}");
        if p.src.addr.is_ipv4() != p.dst.addr.is_ipv4() {
            self.issue(at("dst"), format!("src {} and dst {} must be the same address family", p.src, p.dst));
        }
        self.check_selector(at("src"), &p.src);
        self.check_selector(at("dst"), &p.dst);
        let ports_used = !p.src_ports.is_any() || !p.dst_ports.is_any();
        let l4 = matches!(p.protocol.0, Some(6) | Some(17) | Some(132));
        if ports_used && !l4 {
            self.issue(at("protocol"), "port ranges need protocol tcp, udp or sctp (132)");
        }
        let protect = p.action == Action::Protect;
        let Some(name) = p.sa.as_deref() else {
            if protect {
                self.issue(at("sa"), "a protect policy must name the SA that protects it");
            }
            return;
        };
        if !protect {
            self.issue(at("sa"), "only protect policies name an SA");
            return;
        }
        let Some(sa) = ipsec.sas.iter().find(|s| s.name == name) else {
            self.issue(at("sa"), format!("no SA named `{name}` (SAs: {})", names.join(", ")));
            return;
        };
        if sa.direction != p.direction {
            let word = |d: Direction| if d == Direction::In { "inbound" } else { "outbound" };
            self.issue(
                at("sa"),
                format!("SA `{name}` is {} but this policy is {}", word(sa.direction), word(p.direction)),
            );
        } else if sa.mode == ModeName::Transport && sa.local.is_ipv4() != p.src.addr.is_ipv4() {
            self.issue(at("sa"), format!("transport-mode SA `{name}` cannot carry this address family"));
        }
    }

    #[inline(never)]
    fn check_selector(&mut self, path: String, pfx: &IpPrefix) {
        if !pfx.is_network() {
            self.issue(
                path,
                format!(
                    "{pfx} has host bits set; a selector is a network prefix: did you mean {}?",
                    pfx.network()
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices() {
        assert_eq!(parse_device("net_af_packet0,iface=gw-lan").unwrap(), "net_af_packet0");
        assert_eq!(parse_device("net_tap12").unwrap(), "net_tap12");
        assert_eq!(parse_device("0000:03:1F.7").unwrap(), "0000:03:1f.7");
        for bad in [
            "net_af_packet",
            "net_0",
            "net_af_packet0,iface",
            "net_af_packet0,=x",
            "eth0",
            "0000:03:00",
            "03:00.0",
            "0000:03:20.0",
            "0000:03:00.8",
        ] {
            assert!(parse_device(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options() {
        assert!(is_option("--vdev=net_tap0", "--vdev"));
        assert!(is_option("-l", "-l"));
        assert!(is_option("-l0-3", "-l"));
        assert!(is_option("-m 512", "-m"));
        assert!(!is_option("--log-level=8", "-l"));
        assert!(!is_option("--lcores-extra", "--lcores"));
    }

    #[test]
    fn interface_addresses() {
        let ok = |s: &str| check_interface_address(&s.parse().unwrap());
        assert!(ok("192.0.2.1/24").is_ok());
        assert!(ok("192.0.2.0/31").is_ok());
        assert!(ok("192.0.2.7/32").is_ok());
        assert!(ok("2001:db8::/64").is_ok());
        assert!(ok("192.0.2.0/24").unwrap_err().contains("network address"));
        assert!(ok("192.0.2.255/24").unwrap_err().contains("broadcast address"));
        assert!(ok("224.0.0.1/24").is_err());
        assert!(ok("::/64").is_err());
    }
}
