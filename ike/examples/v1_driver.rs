//! A minimal blocking UDP driver for one IKEv1 initiator, for interop checks against a real
//! peer (e.g. strongSwan in a network namespace). Not part of the library.
//!
//! `v1_driver LOCAL_IP REMOTE_IP PSK LOCAL_ID REMOTE_ID LOCAL_NET REMOTE_NET [aggressive|respond]`
//! (`respond`: wait for the peer's main mode instead of initiating); proposals from
//! `IKE_PROPOSAL` / `ESP_PROPOSAL` (default aes128-sha256-modp2048 / aes128gcm16-modp2048);
//! `AH_PROPOSAL` (e.g. sha256-modp2048) negotiates AH instead of ESP.
//! (networks as a.b.c.d/len). Prints events, installs (with keys, for comparison with the
//! peer's log) and exits 0 once an IPsec SA pair is installed, 1 on failure or after 20 s.

use ike::codec::id::Identification;
use ike::codec::ts::TrafficSelector;
use ike::sa::*;
use ike::v1::{IsakmpSa, V1Config};
use rand_core::{CryptoRng, RngCore};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct UrandomRng(std::fs::File);

impl RngCore for UrandomRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.read_exact(dest).expect("/dev/urandom");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for UrandomRng {}

fn subnet(s: &str) -> TrafficSelector {
    let (a, l) = s.split_once('/').expect("a.b.c.d/len");
    let a: Ipv4Addr = a.parse().expect("address");
    let l: u32 = l.parse().expect("prefix");
    let m = if l == 0 { 0 } else { u32::MAX << (32 - l) };
    let s = u32::from(a) & m;
    TrafficSelector::Ipv4 { protocol: 0, ports: (0, 65535), start: s.into(), end: (s | !m).into() }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 8 {
        eprintln!(
            "usage: v1_driver LOCAL_IP REMOTE_IP PSK LOCAL_ID REMOTE_ID LOCAL_NET REMOTE_NET [aggressive]"
        );
        std::process::exit(2);
    }
    let lip: IpAddr = a[1].parse().expect("local ip");
    let rip: IpAddr = a[2].parse().expect("remote ip");
    let mut peer = PeerConfig::new(
        "peer",
        SocketAddr::new(lip, 500),
        SocketAddr::new(rip, 500),
        Identification::Fqdn(a[4].clone()),
        Some(Identification::Fqdn(a[5].clone())),
        a[3].as_bytes(),
    );
    peer.ike_proposals =
        vec![IkeProposal::parse(&std::env::var("IKE_PROPOSAL").unwrap_or("aes128-sha256-modp2048".into()))
            .expect("proposal")];
    let mut child = ChildConfig::new("net", vec![subnet(&a[6])], vec![subnet(&a[7])]);
    child.esp_proposals =
        vec![EspProposal::parse(&std::env::var("ESP_PROPOSAL").unwrap_or("aes128gcm16-modp2048".into()))
            .expect("esp")];
    if let Ok(ah) = std::env::var("AH_PROPOSAL") {
        child.protocol = ChildProtocol::Ah;
        child.esp_proposals = vec![EspProposal::parse_ah(&ah).expect("ah")];
    }
    peer.children.push(child);
    let mut cfg = V1Config::new(peer);
    cfg.aggressive = a.get(8).is_some_and(|s| s == "aggressive");
    let respond = a.get(8).is_some_and(|s| s == "respond");
    let s500 = UdpSocket::bind(SocketAddr::new(lip, 500)).expect("bind 500");
    let s4500 = UdpSocket::bind(SocketAddr::new(lip, 4500)).expect("bind 4500");
    for s in [&s500, &s4500] {
        s.set_read_timeout(Some(Duration::from_millis(20))).expect("timeout");
    }
    let mut rng = UrandomRng(std::fs::File::open("/dev/urandom").expect("urandom"));
    let start = Instant::now();
    let cfg = Arc::new(cfg);
    let (mut sa, mut out) = if respond {
        (None, Vec::new())
    } else {
        let (sa, out) = IsakmpSa::initiate(cfg.clone(), start, &mut rng);
        (Some(sa), out)
    };
    let mut buf = vec![0u8; 65536];
    loop {
        for o in out.drain(..) {
            match o {
                Output::Send(d) => {
                    let s = if d.src.port() == 4500 { &s4500 } else { &s500 };
                    s.send_to(&d.bytes, d.dst).expect("send");
                    println!("send {} -> {} {} bytes", d.src, d.dst, d.bytes.len());
                }
                Output::InstallChild(c) => {
                    println!(
                        "INSTALL {} in {:08x} out {:08x} {:?} udp_encap {} encr_in {} encr_out {} integ_in {} integ_out {}",
                        c.name,
                        c.spi_in,
                        c.spi_out,
                        c.algorithms,
                        c.udp_encap,
                        hex(c.keys.encr_in.as_bytes()),
                        hex(c.keys.encr_out.as_bytes()),
                        hex(c.keys.integ_in.as_bytes()),
                        hex(c.keys.integ_out.as_bytes())
                    );
                    #[cfg(feature = "interop-keys")]
                    for (name, k) in sa.iter().flat_map(|s| s.phase1_keys_for_interop()) {
                        println!("PHASE1 {name} {}", hex(&k));
                    }
                    std::process::exit(0);
                }
                Output::DeleteChild(d) => println!("DELETE {d:?}"),
                Output::Event(e) => {
                    println!("EVENT {e:?}");
                    if let Event::Failed(f) = &e {
                        println!("FAILED: {f}");
                        std::process::exit(1);
                    }
                    if let Event::ChildFailed { failure, .. } = &e {
                        println!("CHILD FAILED: {failure}");
                        std::process::exit(1);
                    }
                }
            }
        }
        if start.elapsed() > Duration::from_secs(20) {
            println!("timeout");
            std::process::exit(1);
        }
        for (s, port) in [(&s500, 500u16), (&s4500, 4500u16)] {
            if let Ok((n, src)) = s.recv_from(&mut buf) {
                println!("recv {src} {n} bytes");
                let dst = SocketAddr::new(lip, port);
                match sa.as_mut() {
                    Some(sa) => out.extend(sa.handle_datagram(Instant::now(), src, dst, &buf[..n], &mut rng)),
                    None => {
                        let (new, o) =
                            IsakmpSa::accept(cfg.clone(), Instant::now(), src, dst, &buf[..n], &mut rng);
                        sa = new;
                        out.extend(o);
                    }
                }
            }
        }
        if let Some(sa) = sa.as_mut().filter(|s| s.poll_timeout().is_some_and(|t| t <= Instant::now())) {
            out.extend(sa.handle_timeout(Instant::now(), &mut rng));
        }
    }
}
