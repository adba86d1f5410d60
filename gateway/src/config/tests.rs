//! Loader tests: every bad configuration asserts the exact line, the field
//! path and a distinctive part of the reason.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use super::*;

/// Two valid ports on lines 1-7; tests append further sections.
const PORTS: &str = "\
ports:
  - name: lan
    device: net_af_packet0,iface=gw-lan
    addresses: [192.0.2.1/24, 2001:db8:1::1/64]
  - name: wan
    device: net_af_packet1,iface=gw-wan
    addresses: [198.51.100.1/24, 2001:db8:2::1/64]
";

pub(super) fn with_ports(rest: &str) -> String {
    format!("{PORTS}{rest}")
}

pub(super) fn parse_err(text: &str) -> ConfigError {
    match parse(text, "gw.yaml") {
        Ok(cfg) => panic!("expected an error, got {cfg:#?}"),
        Err(e) => e,
    }
}

#[track_caller]
pub(super) fn assert_err(text: &str, line: usize, field: &str, reason: &str) {
    let e = parse_err(text);
    assert_eq!((e.line, e.field.as_str()), (Some(line), field), "wrong place: {e}");
    assert!(e.reason.contains(reason), "reason does not mention {reason:?}: {e}");
    assert!(e.column.is_some(), "no column: {e}");
    assert!(e.to_string().starts_with(&format!("gw.yaml:{line}:")), "bad display: {e}");
    assert!(!e.reason.contains(" at line "), "duplicated position: {e}");
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn prefix(s: &str) -> IpPrefix {
    s.parse().unwrap()
}

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

fn pq(port: &str, queue: u16) -> PortQueue {
    PortQueue { port: port.to_string(), queue }
}

// ---------------------------------------------------------------- errors --

#[test]
fn syntax_error() {
    let text = "\
ports:
  - name: lan
    device: net_af_packet0: x
    addresses: [192.0.2.1/24]
";
    let e = parse_err(text);
    assert_eq!(e.field, "(document)");
    assert_eq!((e.line, e.column), (Some(3), Some(27)));
    assert!(e.reason.contains("mapping values are not allowed"), "{e}");
    assert!(!e.reason.contains("line"), "{e}");
}

#[test]
fn unknown_field_lists_allowed_fields() {
    let text = "\
ports:
  - name: lan
    device: net_af_packet0
    adresses: [192.0.2.1/24]
";
    assert_err(text, 4, "ports[0].adresses", "unknown field `adresses`");
    let e = parse_err(text);
    assert!(e.reason.contains("allowed fields: name, device, mtu, mac, addresses"), "{e}");
    assert_eq!(e.column, Some(5));
}

#[test]
fn missing_device() {
    let text = "\
ports:
  - name: lan
    addresses: [192.0.2.1/24]
  - name: wan
    addresses: [198.51.100.1/24]
";
    assert_err(text, 2, "ports[0].device", "required field `device` is missing");
}

#[test]
fn bad_prefix_string() {
    let text = with_ports("routes:\n  - prefix: 203.0.113.0/33\n    via: 198.51.100.2\n");
    assert_err(&text, 9, "routes[0].prefix", "/33 is too long");
    let text = "\
ports:
  - name: lan
    device: net_af_packet0
    addresses: [192.0.2.1]
";
    assert_err(text, 4, "ports[0].addresses[0]", "expected ADDRESS/LENGTH");
}

#[test]
fn duplicate_port_name() {
    let text = PORTS.replace("name: wan", "name: lan");
    assert_err(&text, 5, "ports[1].name", "duplicate port name `lan`");
}

#[test]
fn route_to_unknown_port() {
    let text = with_ports("routes:\n  - prefix: 203.0.113.0/24\n    port: dmz\n");
    assert_err(&text, 10, "routes[0].port", "unknown port `dmz` (known ports: lan, wan)");
}

#[test]
fn next_hop_not_in_connected_subnet() {
    let text = with_ports(
        "\
routes:
  - prefix: 203.0.113.0/24
    via: 198.51.100.254
  - prefix: 2001:db8:ff::/48
    via: 2001:db8:3::1
",
    );
    assert_err(&text, 12, "routes[1].via", "not in any connected subnet");
    let e = parse_err(&text);
    assert!(e.reason.contains("2001:db8:1::/64, 2001:db8:2::/64"), "{e}");

    // With `port`, the next hop must be in that port's subnets.
    let text = with_ports("routes:\n  - prefix: 203.0.113.0/24\n    via: 198.51.100.2\n    port: lan\n");
    assert_err(&text, 10, "routes[0].via", "connected via port `wan`");
}

#[test]
fn route_prefix_with_host_bits() {
    let text = with_ports("routes:\n  - prefix: 203.0.113.7/24\n    via: 198.51.100.2\n");
    assert_err(&text, 9, "routes[0].prefix", "did you mean 203.0.113.0/24?");
}

#[test]
fn route_needs_via_or_port() {
    let text = with_ports("routes:\n  - prefix: 203.0.113.0/24\n");
    assert_err(&text, 9, "routes[0]", "needs `via`, `port` or both");
}

#[test]
fn mtu_out_of_range() {
    let text = PORTS.replace(
        "    device: net_af_packet1,iface=gw-wan\n",
        "    device: net_af_packet1,iface=gw-wan\n    mtu: 9001\n",
    );
    assert_err(&text, 7, "ports[1].mtu", "9001 is out of range 576..=9000");
}

#[test]
fn ipv6_port_needs_mtu_1280() {
    let text = PORTS.replace(
        "    device: net_af_packet0,iface=gw-lan\n",
        "    device: net_af_packet0,iface=gw-lan\n    mtu: 1000\n",
    );
    assert_err(&text, 4, "ports[0].mtu", "IPv6 needs at least 1280");
}

#[test]
fn worker_on_main_lcore() {
    let text = with_ports(
        "\
eal:
  main_lcore: 2
workers:
  - lcore: 1
    rx: [lan:0]
  - lcore: 2
    rx: [wan:0]
",
    );
    assert_err(&text, 13, "workers[1].lcore", "is eal.main_lcore");
}

#[test]
fn main_cpu_out_of_range() {
    let text = with_ports("eal:\n  main_lcore: 2\n  main_cpu: 100000\n");
    assert_err(&text, 10, "eal.main_cpu", "out of range");
}

/// `-l` by default; with `main_cpu`, `--lcores` puts the control lcore on that CPU and each
/// worker on its own.
#[test]
fn main_cpu_places_the_control_lcore() {
    let workers = "workers:\n  - lcore: 0\n    rx: [lan:0]\n  - lcore: 1\n    rx: [wan:0]\n";
    let args = |eal: &str| {
        crate::runtime::eal_args(&parse(&with_ports(&format!("{eal}{workers}")), "gw.yaml").unwrap())
    };
    let a = args("eal:\n  main_lcore: 2\n  main_cpu: 0\n");
    assert_eq!(a[..3], ["--lcores", "2@0,0@0,1@1", "--main-lcore=2"]);
    let a = args("eal:\n  main_lcore: 2\n");
    assert_eq!(a[..3], ["-l", "2,0,1", "--main-lcore=2"]);
}

#[test]
fn rx_queue_of_unknown_port() {
    let text = with_ports("workers:\n  - lcore: 1\n    rx: [lan:0, wan:0, dmz:0]\n");
    assert_err(&text, 10, "workers[0].rx[2]", "unknown port `dmz`");
}

#[test]
fn rx_queue_beyond_rx_queues() {
    let text = with_ports("workers:\n  - lcore: 1\n    rx: [lan:0, wan:1]\n");
    assert_err(&text, 10, "workers[0].rx[1]", "queue 1 does not exist");
}

#[test]
fn port_queue_polled_twice() {
    let text = with_ports(
        "\
workers:
  - lcore: 1
    rx: [lan:0, wan:0]
  - lcore: 2
    rx:
      - wan:0
",
    );
    assert_err(&text, 13, "workers[1].rx[0]", "wan:0 is already polled by workers[0]");
}

#[test]
fn port_queue_polled_by_no_worker() {
    let text = PORTS.replace(
        "    device: net_af_packet1,iface=gw-wan\n",
        "    device: net_af_packet1,iface=gw-wan\n    rx_queues: 2\n",
    );
    let text = format!("{text}workers:\n  - lcore: 1\n    rx: [lan:0, wan:0]\n");
    assert_err(&text, 9, "workers", "port queue wan:1 is polled by no worker");
}

#[test]
fn default_worker_cannot_cover_extra_queues() {
    let text = PORTS.replace(
        "    device: net_af_packet0,iface=gw-lan\n",
        "    device: net_af_packet0,iface=gw-lan\n    rx_queues: 4\n",
    );
    assert_err(&text, 4, "ports[0].rx_queues", "default worker polls queue 0 only");
}

#[test]
fn bad_mac() {
    let text = PORTS.replace(
        "    device: net_af_packet1,iface=gw-wan\n",
        "    device: net_af_packet1,iface=gw-wan\n    mac: \"02:00:00:00:01\"\n",
    );
    assert_err(&text, 7, "ports[1].mac", "invalid MAC address `02:00:00:00:01`");
}

#[test]
fn multicast_mac() {
    let text = PORTS.replace(
        "    device: net_af_packet1,iface=gw-wan\n",
        "    device: net_af_packet1,iface=gw-wan\n    mac: \"01:00:5e:00:00:01\"\n",
    );
    assert_err(&text, 7, "ports[1].mac", "multicast");
}

#[test]
fn relative_socket_path() {
    let text = with_ports("control:\n  socket: run/espgw.sock\n");
    assert_err(&text, 9, "control.socket", "not an absolute path");
}

#[test]
fn bad_metrics_address() {
    let text = with_ports("metrics:\n  listen: localhost:9520\n");
    assert_err(&text, 9, "metrics.listen", "not a socket address");
}

#[test]
fn forbidden_extra_args() {
    let text = with_ports(
        "\
eal:
  extra_args:
    - --log-level=lib.eal:debug
    - --vdev=net_tap0
",
    );
    assert_err(&text, 11, "eal.extra_args[1]", "espgw sets --vdev itself");
    let text = with_ports("eal:\n  extra_args: [\"-l\", \"0-3\"]\n");
    assert_err(&text, 9, "eal.extra_args[0]", "sets -l itself");
}

#[test]
fn duplicate_vdev_name() {
    let text = PORTS.replace("net_af_packet1,iface=gw-wan", "net_af_packet0,iface=gw-wan");
    assert_err(&text, 6, "ports[1].device", "duplicate vdev name `net_af_packet0`");
}

#[test]
fn bad_device() {
    let text = PORTS.replace("net_af_packet1,iface=gw-wan", "eth1");
    assert_err(&text, 6, "ports[1].device", "not a valid device");
}

#[test]
fn neighbour_outside_port_subnets() {
    let text = PORTS.replace(
        "    addresses: [192.0.2.1/24, 2001:db8:1::1/64]\n",
        "    addresses: [192.0.2.1/24, 2001:db8:1::1/64]
    neighbours:
      - { ip: 192.0.2.2, mac: \"02:00:00:00:00:22\" }
      - { ip: 198.51.100.2, mac: \"02:00:00:00:00:23\" }
",
    );
    assert_err(&text, 7, "ports[0].neighbours[1].ip", "not inside any subnet of port `lan`");
}

#[test]
fn interface_address_is_network_address() {
    let text = PORTS.replace("198.51.100.1/24", "198.51.100.0/24");
    assert_err(&text, 7, "ports[1].addresses[0]", "network address of 198.51.100.0/24");
}

#[test]
fn overlapping_port_subnets() {
    let text = PORTS.replace("198.51.100.1/24", "192.0.2.200/25");
    assert_err(&text, 7, "ports[1].addresses[0]", "overlaps subnet 192.0.2.0/24 of port `lan`");
}

#[test]
fn empty_ports_list() {
    assert_err("eal:\n  memory_mb: 512\nports: []\n", 3, "ports", "at least one port is required");
}

#[test]
fn wrong_type() {
    let text = with_ports("dataplane:\n  burst: many\n");
    assert_err(&text, 9, "dataplane.burst", "invalid type: string \"many\"");
}

#[test]
fn out_of_range_dataplane_value() {
    let text = with_ports("dataplane:\n  burst: 0\n  mbufs: 512\n");
    assert_err(&text, 9, "dataplane.burst", "0 is out of range 1..=256");
}

#[test]
fn repeated_key() {
    let text = with_ports("eal:\n  memory_mb: 128\n  memory_mb: 256\n");
    assert_err(&text, 10, "eal.memory_mb", "given more than once");
}

#[test]
fn first_error_in_document_order() {
    // dataplane comes first in the file, so its error wins even though the
    // ports are checked earlier.
    let text = format!("dataplane:\n  mbufs: 10\n{}", PORTS.replace("name: wan", "name: WAN"));
    assert_err(&text, 2, "dataplane.mbufs", "out of range 1024..=1048576");
    let text = PORTS.replace("name: wan", "name: WAN");
    assert_err(&text, 5, "ports[1].name", "`WAN` must be 1 to 15 characters");
}

#[test]
fn empty_document() {
    let e = parse_err("# nothing here\n");
    assert_eq!(e.field, "(document)");
    assert_eq!(e.line, None);
    assert_eq!(
        e.to_string(),
        "gw.yaml: (document): the configuration is empty (at least `ports` is required)"
    );
}

#[test]
fn unreadable_file_names_the_path() {
    let e = load(Path::new("/nonexistent/espgw.yaml")).unwrap_err();
    assert_eq!(e.file, "/nonexistent/espgw.yaml");
    assert!(e.to_string().starts_with("/nonexistent/espgw.yaml: (document): cannot read file"), "{e}");
}

#[test]
fn display_has_file_line_column_field_reason() {
    let text = PORTS.replace("name: wan", "name: lan");
    assert_eq!(
        parse_err(&text).to_string(),
        "gw.yaml:5:5: ports[1].name: duplicate port name `lan` (already used by ports[0])"
    );
}

// -------------------------------------------------------------- positive --

const FULL: &str = "\
eal:
  main_lcore: 2
  memory_mb: 1024
  no_huge: false
  file_prefix: gw_test-1
  extra_args: [--log-level=lib.eal:info, --in-memory]
ports:
  - name: lan
    device: net_af_packet0,iface=gw-lan,qpairs=2
    mtu: 9000
    mac: \"02:00:00:00:00:01\"
    addresses: [192.0.2.1/24, 2001:db8:1::1/64]
    neighbours:
      - { ip: 192.0.2.2, mac: \"02:00:00:00:00:22\" }
      - { ip: \"2001:db8:1::2\", mac: \"02:00:00:00:00:23\" }
    rx_queues: 2
  - name: wan
    device: \"0000:03:00.1\"
    addresses: [198.51.100.1/24, 2001:db8:2::1/64]
routes:
  - prefix: 203.0.113.0/24
    via: 198.51.100.2
  - prefix: 2001:db8:ff::/48
    via: 2001:db8:2::2
    port: wan
  - prefix: 0.0.0.0/0
    port: wan
workers:
  - lcore: 3
    rx: [lan:0, wan:0]
  - lcore: 4
    rx: [lan:1]
control:
  socket: /tmp/espgw-test/ctl.sock
metrics:
  listen: \"[::1]:9600\"
dataplane:
  burst: 64
  mbufs: 16383
  idle_sleep_max_us: 0
";

fn full_expected() -> Config {
    Config {
        eal: EalConfig {
            main_lcore: 2,
            main_cpu: None,
            memory_mb: 1024,
            no_huge: false,
            file_prefix: "gw_test-1".to_string(),
            extra_args: vec!["--log-level=lib.eal:info".to_string(), "--in-memory".to_string()],
        },
        ports: vec![
            PortConfig {
                name: "lan".to_string(),
                device: "net_af_packet0,iface=gw-lan,qpairs=2".to_string(),
                mtu: 9000,
                mac: Some(MacAddr([2, 0, 0, 0, 0, 1])),
                addresses: vec![prefix("192.0.2.1/24"), prefix("2001:db8:1::1/64")],
                neighbours: vec![
                    NeighbourConfig { ip: ip("192.0.2.2"), mac: mac("02:00:00:00:00:22") },
                    NeighbourConfig { ip: ip("2001:db8:1::2"), mac: mac("02:00:00:00:00:23") },
                ],
                rx_queues: 2,
            },
            PortConfig {
                name: "wan".to_string(),
                device: "0000:03:00.1".to_string(),
                mtu: 1500,
                mac: None,
                addresses: vec![prefix("198.51.100.1/24"), prefix("2001:db8:2::1/64")],
                neighbours: vec![],
                rx_queues: 1,
            },
        ],
        vtis: vec![],
        routes: vec![
            RouteConfig {
                prefix: prefix("203.0.113.0/24"),
                via: Some(ip("198.51.100.2")),
                port: None,
                vti: None,
                metric: None,
            },
            RouteConfig {
                prefix: prefix("2001:db8:ff::/48"),
                via: Some(ip("2001:db8:2::2")),
                port: Some("wan".to_string()),
                vti: None,
                metric: None,
            },
            RouteConfig {
                prefix: prefix("0.0.0.0/0"),
                via: None,
                port: Some("wan".to_string()),
                vti: None,
                metric: None,
            },
        ],
        workers: vec![
            WorkerConfig { lcore: 3, rx: vec![pq("lan", 0), pq("wan", 0)] },
            WorkerConfig { lcore: 4, rx: vec![pq("lan", 1)] },
        ],
        control: ControlConfig { socket: PathBuf::from("/tmp/espgw-test/ctl.sock") },
        metrics: Some("[::1]:9600".parse::<SocketAddr>().unwrap()),
        dataplane: DataplaneConfig { burst: 64, mbufs: 16383, idle_sleep_max_us: 0 },
        ipsec: IpsecConfig::default(),
        ike: ike::IkeConfig::default(),
        log: LogConfig::default(),
    }
}

#[test]
fn full_config_parses_to_expected_values() {
    let cfg = parse(FULL, "full.yaml").unwrap();
    assert_eq!(cfg, full_expected());
}

#[test]
fn serialized_config_parses_back_equal() {
    let cfg = parse(FULL, "full.yaml").unwrap();
    let text = serde_yaml_ng::to_string(&cfg).unwrap();
    assert!(text.contains("listen: '[::1]:9600'") || text.contains("listen: \"[::1]:9600\""), "{text}");
    assert_eq!(parse(&text, "printed.yaml").unwrap(), cfg);

    let minimal = parse(PORTS, "min.yaml").unwrap();
    let text = serde_yaml_ng::to_string(&minimal).unwrap();
    assert_eq!(parse(&text, "printed.yaml").unwrap(), minimal);
}

#[test]
fn defaults_are_filled_in() {
    let cfg = parse(PORTS, "min.yaml").unwrap();
    assert_eq!(cfg.eal, EalConfig::default());
    assert_eq!(cfg.eal.main_lcore, 0);
    assert_eq!(cfg.eal.memory_mb, 256);
    assert!(cfg.eal.no_huge);
    assert_eq!(cfg.eal.file_prefix, "espgw");
    assert!(cfg.eal.extra_args.is_empty());
    assert_eq!(cfg.ports[0].mtu, 1500);
    assert_eq!(cfg.ports[0].rx_queues, 1);
    assert_eq!(cfg.ports[0].mac, None);
    assert!(cfg.ports[0].neighbours.is_empty());
    assert!(cfg.routes.is_empty());
    assert_eq!(cfg.workers, vec![WorkerConfig { lcore: 1, rx: vec![pq("lan", 0), pq("wan", 0)] }]);
    assert_eq!(cfg.control.socket, PathBuf::from("/run/espgw/espgw.sock"));
    assert_eq!(cfg.metrics, None);
    assert_eq!(cfg.dataplane, DataplaneConfig { burst: 32, mbufs: 8191, idle_sleep_max_us: 500 });
}

#[test]
fn default_worker_follows_main_lcore_and_empty_sections_are_defaults() {
    let text = with_ports("eal:\n  main_lcore: 5\nroutes:\nmetrics:\n  listen: \"\"\ncontrol:\n");
    let cfg = parse(&text, "gw.yaml").unwrap();
    assert_eq!(cfg.workers.len(), 1);
    assert_eq!(cfg.workers[0].lcore, 6);
    assert_eq!(cfg.metrics, None);
    assert_eq!(cfg.control, ControlConfig::default());
}

#[test]
fn demo_example_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/demo.yaml");
    let cfg = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = cfg.ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["lan", "wan"]);
    assert_eq!(cfg.ports[0].addresses, [prefix("192.0.2.1/24"), prefix("2001:db8:1::1/64")]);
    assert_eq!(cfg.ports[1].addresses, [prefix("198.51.100.1/24"), prefix("2001:db8:2::1/64")]);
    assert_eq!(cfg.ports[0].device, "net_af_packet0,iface=gw-lan");
    assert_eq!(cfg.ports[1].device, "net_af_packet1,iface=gw-wan");
    assert!(cfg.routes.is_empty());
    assert_eq!(cfg.workers[0].rx, [pq("lan", 0), pq("wan", 0)]);
}

#[test]
fn bad_log_filter_is_reported() {
    let text = with_ports("log:\n  level: \"info,gateway::ipsec=loud\"\n");
    assert_err(&text, 9, "log.level", "loud");
}
