//! `espgw diagnose TUNNEL`: the last failure of one IKE peer explained in an administrator's
//! terms — which phase and exchange, what each side offered, what to check and what to change.
//! TUNNEL may also name a VTI: then its peer is diagnosed, after the VTI's own state (up or
//! down, its host interface for a routing daemon, the routes learned through it).
//!
//! It works on the status document only (the same one `espgw status --json` prints), so it
//! explains exactly what the gateway knows. The failure's kind comes from the state machine's
//! own sentence, whose first words name it (`ike::sa::Failure`'s `Display`: "no proposal
//! chosen: …", "peer not answering: …"); a test holds every kind against that wording.

use gateway::api::{Status, VtiStatus};
use gateway::ike_driver::PeerView;
use std::fmt::Write;

/// What went wrong, as far as advice is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    NoProposal,
    Authentication,
    Identity,
    Selectors,
    DhGroup,
    NoAnswer,
    PeerDead,
    HalfOpen,
    PeerError,
    Protocol,
    Expired,
    Install,
    Unknown,
}

/// The cause a failure sentence names, from its first words.
fn cause(phase: &str, reason: &str) -> Cause {
    let mut r = reason.to_ascii_lowercase();
    // IKEv1 sentences name their phase first: "phase 2 failed for 'two': no proposal chosen — …".
    if r.starts_with("phase ") {
        if let Some(i) = r.find(": ") {
            r = r[i + 2..].to_string();
        }
    }
    let starts = |p: &str| r.starts_with(p);
    if starts("peer dead") || (phase.contains("established") && starts("peer not answering")) {
        Cause::PeerDead
    } else if starts("no proposal chosen") {
        Cause::NoProposal
    } else if starts("authentication failed") {
        Cause::Authentication
    } else if starts("identity mismatch") {
        Cause::Identity
    } else if starts("policy mismatch") {
        Cause::Selectors
    } else if starts("dh group mismatch") {
        Cause::DhGroup
    } else if starts("peer not answering") {
        Cause::NoAnswer
    } else if starts("half-open timeout") {
        Cause::HalfOpen
    } else if starts("peer error") {
        Cause::PeerError
    } else if starts("protocol error") {
        Cause::Protocol
    } else if starts("lifetime expired") {
        Cause::Expired
    } else if starts("not installed") {
        Cause::Install
    } else {
        Cause::Unknown
    }
}

/// Data-plane drop reasons worth showing next to a tunnel, with what they mean for it.
const TUNNEL_DROPS: &[(&str, &str)] = &[
    ("cleartext_protected", "clear-text packets arrived where a policy requires IPsec (the peer sends unencrypted, or its selectors differ)"),
    ("policy_mismatch", "decrypted packets fell outside the SA's traffic selectors"),
    ("esp_icv_mismatch", "ESP integrity checks failed (keys differ, or packets are altered on the way)"),
    ("esp_unknown_spi", "ESP arrived for an SPI with no SA (the peer still uses an SA this gateway deleted)"),
    ("esp_replayed", "replayed ESP packets"),
    ("esp_too_old", "ESP packets older than the anti-replay window (heavy reordering on the path?)"),
    ("mtu_exceeded", "packets too large for the tunnel (ICMP too-big sent where allowed)"),
    ("tunnel_no_route", "no route to the peer's address for the outer packet"),
    ("sa_expired", "packets hit an SA past its hard lifetime (a rekey did not happen in time)"),
];

/// The tunnel as a whole: `up`, `partially up` (a Child SA / policy pair refused while others
/// run), `no child`, `connecting`, `admin-down` or `down`. Shared by `status` and `diagnose`.
pub fn tunnel_state(p: &PeerView) -> &'static str {
    let installed = p.children.iter().filter(|c| c.installed).count();
    // The last failure concerns a child that is not up now: "CREATE_CHILD_SA (net2)",
    // "Child SA net2", or IKEv1's "phase 2 (two)".
    let failed_child = p.last_failure.as_ref().and_then(|f| {
        let ph = f.phase.as_str();
        let name = if let Some(r) = ph.strip_prefix("CREATE_CHILD_SA (").or(ph.strip_prefix("phase 2 (")) {
            r.strip_suffix(')')
        } else {
            ph.strip_prefix("Child SA ")
        }?;
        (!p.children.iter().any(|c| c.installed && c.name == name)).then_some(())
    });
    let v1_partial = p.ikev1.as_ref().is_some_and(|v| v.phase2.starts_with("partially"));
    match p.state.as_str() {
        "established" if installed > 0 && (failed_child.is_some() || v1_partial) => "partially up",
        "established" if installed > 0 => "up",
        "established" => "no child",
        "connecting" => "connecting",
        "admin-down" => "admin-down",
        _ => "down",
    }
}

/// The explanation for tunnel `name`, or an error listing the tunnels there are.
pub fn diagnose(s: &Status, name: &str) -> Result<String, String> {
    let by_vti = s.vtis.iter().find(|v| v.name == name);
    let peer_name = by_vti.map_or(name, |v| v.peer.as_str());
    let Some(p) = s.ike.iter().find(|p| p.name == peer_name) else {
        let mut names: Vec<&str> = s.ike.iter().map(|p| p.name.as_str()).collect();
        names.extend(s.vtis.iter().map(|v| v.name.as_str()));
        return Err(if names.is_empty() {
            format!("no tunnel named {name:?}: this gateway has no IKE peers configured")
        } else {
            format!("no tunnel named {name:?}; the tunnels are: {}", names.join(", "))
        });
    };
    let mut o = String::new();
    if let Some(v) = by_vti.or_else(|| s.vtis.iter().find(|v| v.peer == p.name)) {
        vti_section(&mut o, s, v);
    }
    let installed = p.children.iter().filter(|c| c.installed).count();
    let verdict = match tunnel_state(p) {
        "partially up" => "PARTIALLY UP",
        "up" => "UP",
        "no child" => "IKE SA up, no Child SA installed",
        "connecting" => "CONNECTING",
        "admin-down" => "ADMINISTRATIVELY DOWN (espgw tunnel up NAME brings it back)",
        _ => "DOWN",
    };
    let version = if p.version == 1 { "IKEv1" } else { "IKEv2" };
    let _ = writeln!(o, "Tunnel {} ({} -> {}, {version}): {verdict}", p.name, p.local, p.remote);
    if let Some(v) = &p.ikev1 {
        let _ = writeln!(o, "  {} mode; phase 1 {}, phase 2 {}", v.mode, v.phase1, v.phase2);
    }
    if let Some(up) = p.established_s {
        let _ = writeln!(
            o,
            "  IKE SA established {up} s ago{}{}",
            p.proposal.as_deref().map(|x| format!(", proposal {x}")).unwrap_or_default(),
            p.nat.as_deref().map(|x| format!(", NAT: {x}")).unwrap_or_default()
        );
    }
    for c in &p.children {
        let _ = writeln!(
            o,
            "  Child SA {}: {} {} === {} (in {} pkts, out {} pkts)",
            c.name,
            if c.installed { "installed" } else { "not installed" },
            c.local_ts.join(","),
            c.remote_ts.join(","),
            c.packets_in,
            c.packets_out
        );
    }
    match &p.last_failure {
        None if p.state == "established" => {
            let _ = writeln!(o, "\nNo failure recorded.");
            traffic_advice(&mut o, p, installed);
        }
        None => {
            let _ = writeln!(
                o,
                "\nNo failure recorded yet. {}",
                if p.state == "connecting" {
                    "A negotiation is under way; run diagnose again in a few seconds."
                } else {
                    "The gateway does not start this tunnel itself (start_action none): it waits for the peer to initiate."
                }
            );
        }
        Some(f) => {
            let _ = writeln!(o, "\nLast failure, {} s ago, in {}:\n  {}", f.seconds_ago, f.phase, f.reason);
            advice(&mut o, p, cause(&f.phase, &f.reason));
        }
    }
    let drops: Vec<String> = TUNNEL_DROPS
        .iter()
        .filter_map(|(r, what)| {
            s.drops
                .iter()
                .find(|d| d.reason == *r && d.packets > 0)
                .map(|d| format!("  {r}: {} — {what}", d.packets))
        })
        .collect();
    if !drops.is_empty() {
        let _ = writeln!(o, "\nData-plane drops that concern tunnels (whole gateway, since start):");
        for d in drops {
            let _ = writeln!(o, "{d}");
        }
    }
    Ok(o)
}

/// The VTI bound to the peer: its state, and the routing daemon's side when it has a host
/// interface.
fn vti_section(o: &mut String, s: &Status, v: &VtiStatus) {
    let _ = writeln!(
        o,
        "VTI {} ({}, IKE peer {}): {}, in {} pkts, out {} pkts",
        v.name,
        v.address,
        v.peer,
        v.state.to_uppercase(),
        v.packets_in,
        v.packets_out
    );
    let vti_down = s.drops.iter().find(|d| d.reason == "vti_down").map_or(0, |d| d.packets);
    if v.state != "up" {
        let _ = writeln!(
            o,
            "  No outbound SA: packets routed into it are dropped (vti_down: {vti_down} so far). It comes up \
             with the IKE peer's Child SA, diagnosed below."
        );
    }
    if let (Some(h), Some(c)) = (&v.host_interface, &v.host) {
        let _ = writeln!(
            o,
            "  Host interface {h} (routing daemon): {} packets to the host, {} from it, {} dropped (not routed into a VTI)",
            c.to_host, c.from_host, c.from_host_dropped
        );
        if v.learned_route_count > 0 {
            let first: Vec<&str> = v.learned_routes.iter().take(4).map(String::as_str).collect();
            let _ = writeln!(
                o,
                "  {} routes learned through it, e.g. {}",
                v.learned_route_count,
                first.join(" ")
            );
        } else if v.state == "up" {
            let _ = writeln!(
                o,
                "  No routes learned through it. Check that the routing daemon runs in this network \
                 namespace and its BGP session to the far inside address is up (birdc show \
                 protocols; vtysh -c 'show bgp summary'), that it exports the learned routes to the \
                 kernel (BIRD: export where source = RTS_BGP), that `ip route` shows them via {h}, \
                 and that the VTI has `import_routes: true`."
            );
            if c.from_host == 0 {
                let _ = writeln!(
                    o,
                    "  Nothing came from {h} yet: the daemon has not tried to reach its neighbour."
                );
            }
        }
    }
    let _ = writeln!(o);
}

fn section(o: &mut String, meaning: &str, check: &[String], fix: &[String]) {
    let _ = writeln!(o, "\nWhat it means:\n  {meaning}");
    let _ = writeln!(o, "\nCheck:");
    for c in check {
        let _ = writeln!(o, "  - {c}");
    }
    let _ = writeln!(o, "\nFix:");
    for f in fix {
        let _ = writeln!(o, "  - {f}");
    }
}

fn advice(o: &mut String, p: &PeerView, c: Cause) {
    let (local, remote, name) = (&p.local, &p.remote, &p.name);
    let capture = format!("capture on the wan side: tcpdump -ni <wan interface> 'host {remote} and (udp port 500 or udp port 4500)'");
    let s = |x: &str| x.to_string();
    match c {
        Cause::NoAnswer => section(
            o,
            &format!("This gateway sent IKE requests to {remote} and nothing came back, after every retransmit."),
            &[
                format!("the peer is up and has a connection configured for this gateway's address {local}"),
                format!("UDP 500 and UDP 4500 pass both ways between {local} and {remote} (firewalls, security groups, ACLs)"),
                format!("this gateway has a route to {remote} (espgw status, Routes)"),
                capture,
            ],
            &[
                s("open UDP 500 and 4500 (and ESP, protocol 50, if the peer does not use NAT-T) on every filter in the path"),
                format!("correct ike.peers[{name}].remote if the peer's address changed"),
            ],
        ),
        Cause::PeerDead => section(
            o,
            &format!("The tunnel was up, then {remote} stopped answering liveness checks (DPD) and the IKE SA was removed."),
            &[
                s("whether the peer rebooted, failed over, or lost its path (its logs at the time above)"),
                format!("UDP 4500/500 reachability from {local} to {remote} now"),
                s("the DPD action: restart brings the tunnel back by itself; clear waits for the peer"),
            ],
            &[
                format!("with dpd.action clear the tunnel waits for the peer to initiate; set ike.peers[{name}].dpd.action: restart to have this side bring it back"),
                s("if this repeats on a lossy path, raise dpd.interval so short outages do not tear the tunnel down"),
            ],
        ),
        Cause::NoProposal => section(
            o,
            "The two sides share no proposal: no common combination of encryption, integrity/PRF and DH group (IKE), or of ESP transforms (Child SA). The failure above lists what was offered.",
            &[
                s("which side refused: 'received NO_PROPOSAL_CHOSEN' means the peer refused ours; otherwise we refused the peer's"),
                s("the peer's configured IKE and ESP proposals against ike.peers[].proposals / esp_proposals here"),
            ],
            &[
                format!("add one of the peer's proposals to ike.peers[{name}] (or configure ours on the peer), then espgw reload"),
                s("prefer AES-GCM with a modern group (x25519/ecp256/modp2048+); MODP 1024/1536 are accepted only when explicitly enabled"),
            ],
        ),
        Cause::Authentication => section(
            o,
            "The pre-shared key did not verify: one side computed an AUTH payload the other could not reproduce.",
            &[
                s("the PSK is identical on both sides (no trailing spaces; 0x… means hex here)"),
                s("the peer selects its PSK by the IDs it sees: its secret must be bound to this gateway's local_id"),
            ],
            &[format!("set the same PSK in ike.peers[{name}].psk and on the peer, then espgw reload")],
        ),
        Cause::Identity => section(
            o,
            "The peer authenticated under another identity than the one configured here (or sent an ID we do not accept).",
            &[s("the ID the failure above says the peer sent, against ike.peers[].remote_id"), s("the peer's own local ID setting (strongSwan: local_id / leftid)")],
            &[format!("set ike.peers[{name}].remote_id to the peer's ID, or change the peer's local ID; then espgw reload")],
        ),
        Cause::Selectors => section(
            o,
            "The traffic selectors do not match: the subnets this side proposes are not acceptable to the other (TS_UNACCEPTABLE). Other subnet pairs of the same peer may still be up (partially up).",
            &[s("our local subnets must equal the peer's remote subnets and the other way round, pair by pair (policy-based VPNs compare them exactly)")],
            &[format!("make ike.peers[{name}].children[].local_ts / remote_ts mirror the peer's configuration, then espgw reload")],
        ),
        Cause::DhGroup => section(
            o,
            "The peer insists on a Diffie-Hellman group this side does not offer.",
            &[s("the DH group in the peer's proposal")],
            &[format!("add the peer's group to ike.peers[{name}].proposals, or configure one of ours on the peer")],
        ),
        Cause::HalfOpen => section(
            o,
            &format!("{remote} started IKE_SA_INIT but never completed IKE_AUTH. Typical causes: UDP 4500 blocked after the switch to NAT-T, or a large (fragmented) IKE_AUTH lost on the path."),
            &[format!("UDP 4500 from {remote} reaches this gateway"), s("IP fragments are not filtered on the path; enable IKE fragmentation on the peer"), capture],
            &[s("open UDP 4500; allow fragments or enable IKE fragmentation (RFC 7383) on the peer")],
        ),
        Cause::PeerError => section(
            o,
            "The peer answered with an error notify (named above).",
            &[s("the peer's log at the time above: it says why it refused")],
            &[s("fix what the peer's log names; the notify is in the failure text")],
        ),
        Cause::Protocol => section(
            o,
            "The peer's messages broke the protocol (malformed, unexpected or failing integrity).",
            &[s("IKE version on both sides (IKEv2 vs IKEv1)"), s("a middlebox rewriting UDP 500/4500 payloads"), capture],
            &[s("use the same IKE version on both sides; bypass payload-inspecting middleboxes for IKE")],
        ),
        Cause::Expired => section(
            o,
            &format!("The phase 1 SA with {remote} reached the end of its lifetime because every re-authentication (a new main mode) before then failed; the reason of the last attempt is shown above. The IPsec SAs were deleted with it and negotiation starts over."),
            &[s("the re-authentication failure above (PSK, proposal or no answer)"), s("the peer's phase 1 lifetime: a much shorter one than ours means it expires first")],
            &[s("fix what made the re-authentication fail; the tunnel comes back on the next attempt")],
        ),
        Cause::Install => section(
            o,
            "Negotiation succeeded but the Child SA could not be installed into the data plane.",
            &[s("the reason above (an algorithm the data plane does not support, or a table limit)")],
            &[s("choose ESP transforms the data plane supports (aes128gcm16, aes256gcm16, aes*-sha*)")],
        ),
        Cause::Unknown => {
            let _ = writeln!(o, "\nSee the failure text above and the log (journalctl -u espgw) around that time.");
        }
    }
    if let Some(nat) = &p.nat {
        if nat.contains("NAT") {
            let _ = writeln!(
                o,
                "\nNAT: {nat}. UDP 4500 must pass both ways and keepalives keep the mapping open."
            );
        }
    }
}

/// For an established tunnel: if traffic does not flow, where to look.
fn traffic_advice(o: &mut String, p: &PeerView, installed: usize) {
    if installed == 0 {
        let _ = writeln!(
            o,
            "The IKE SA is up but no Child SA is installed: check the peer's child/phase-2 settings."
        );
        return;
    }
    let idle_out = p.children.iter().filter(|c| c.installed).all(|c| c.packets_out == 0);
    let idle_in = p.children.iter().filter(|c| c.installed).all(|c| c.packets_in == 0);
    if idle_out && idle_in {
        let _ = writeln!(o, "No traffic has used the tunnel yet: check that hosts route the remote subnets through this gateway.");
    } else if idle_in {
        let _ = writeln!(o, "Packets go out but none come back: the peer may not route replies into the tunnel, or ESP/UDP 4500 from it is filtered.");
    } else if idle_out {
        let _ = writeln!(
            o,
            "Packets come in but none go out: check the routes toward the remote subnets on this side."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway::ike_driver::{ChildView, FailureView};
    use ike::sa::{Failure, FailureKind};

    fn peer(state: &str, failure: Option<(&str, String)>) -> PeerView {
        PeerView {
            name: "vmc".into(),
            local: "203.0.113.1".into(),
            remote: "203.0.113.2".into(),
            state: state.into(),
            role: None,
            spi_i: None,
            spi_r: None,
            proposal: None,
            nat: None,
            established_s: None,
            ike_rekey_in_s: None,
            children: Vec::new(),
            last_failure: failure.map(|(phase, reason)| FailureView {
                phase: phase.into(),
                reason,
                seconds_ago: 4,
            }),
            counters: Default::default(),
            version: 2,
            ikev1: None,
        }
    }

    fn status(peers: Vec<PeerView>) -> Status {
        let mut s: Status = serde_json::from_str(
            r#"{"version":"x","config":"c","pid":1,"uptime_s":1,"fib_generation":1,"ports":[],"workers":[],"drops":[],"neighbours":[],"routes":[]}"#,
        )
        .expect("minimal status document");
        s.ike = peers;
        s
    }

    #[test]
    fn every_failure_kind_maps_to_its_cause() {
        let cases = [
            (FailureKind::NoProposalChosen, Cause::NoProposal),
            (FailureKind::AuthenticationFailed, Cause::Authentication),
            (FailureKind::IdentityMismatch, Cause::Identity),
            (FailureKind::PolicyMismatch, Cause::Selectors),
            (FailureKind::InvalidKe, Cause::DhGroup),
            (FailureKind::NoAnswer, Cause::NoAnswer),
            (FailureKind::PeerError, Cause::PeerError),
            (FailureKind::HalfOpenTimeout, Cause::HalfOpen),
            (FailureKind::Protocol, Cause::Protocol),
            (FailureKind::LifetimeExpired, Cause::Expired),
        ];
        for (kind, want) in cases {
            let text = Failure { kind, detail: "detail".into() }.to_string();
            assert_eq!(cause("IKE_SA_INIT", &text), want, "{text}");
        }
        let no_answer = Failure { kind: FailureKind::NoAnswer, detail: "x".into() }.to_string();
        assert_eq!(cause("established IKE SA", &no_answer), Cause::PeerDead);
        assert_eq!(cause("established IKE SA", "peer dead (DPD): no answer"), Cause::PeerDead);
        assert_eq!(
            cause("phase 2 (two)", "phase 2 failed for 'two': no proposal chosen — peer accepted none"),
            Cause::NoProposal
        );
    }

    #[test]
    fn no_answer_points_at_udp_500_and_the_route() {
        let f = Failure {
            kind: FailureKind::NoAnswer,
            detail: "no answer to IKE_SA_INIT after 5 retransmits".into(),
        };
        let s = status(vec![peer("down", Some(("IKE_SA_INIT", f.to_string())))]);
        let t = diagnose(&s, "vmc").unwrap();
        assert!(t.starts_with("Tunnel vmc (203.0.113.1 -> 203.0.113.2, IKEv2): DOWN"), "{t}");
        assert!(t.contains("in IKE_SA_INIT"), "{t}");
        assert!(t.contains("UDP 500 and UDP 4500 pass both ways"), "{t}");
        assert!(t.contains("tcpdump"), "{t}");
    }

    #[test]
    fn a_child_failure_under_an_established_sa_is_partially_up() {
        let f = Failure { kind: FailureKind::PolicyMismatch, detail: "TS_UNACCEPTABLE".into() };
        let mut p = peer("established", Some(("CREATE_CHILD_SA (net2)", f.to_string())));
        p.established_s = Some(30);
        p.children.push(ChildView {
            name: "net1".into(),
            spi_in: 1,
            spi_out: 2,
            installed: true,
            state: "installed".into(),
            esp: String::new(),
            udp_encap: false,
            local_ts: vec!["192.0.2.0/24".into()],
            remote_ts: vec!["198.51.100.0/24".into()],
            packets_in: 5,
            bytes_in: 0,
            packets_out: 5,
            bytes_out: 0,
            rekey_in_s: None,
        });
        let mut s = status(vec![p]);
        s.drops.push(gateway::api::DropCount { reason: "cleartext_protected".into(), packets: 7 });
        let t = diagnose(&s, "vmc").unwrap();
        assert!(t.contains(": PARTIALLY UP"), "{t}");
        assert!(t.contains("local_ts / remote_ts mirror"), "{t}");
        assert!(t.contains("cleartext_protected: 7"), "{t}");
    }

    #[test]
    fn tunnel_state_is_partially_up_only_while_the_failed_child_is_down() {
        let f = Failure { kind: FailureKind::PolicyMismatch, detail: "TS_UNACCEPTABLE".into() };
        let mut p = peer("established", Some(("CREATE_CHILD_SA (net2)", f.to_string())));
        let child = |name: &str| ChildView {
            name: name.into(),
            spi_in: 1,
            spi_out: 2,
            installed: true,
            state: "installed".into(),
            esp: String::new(),
            udp_encap: false,
            local_ts: vec![],
            remote_ts: vec![],
            packets_in: 0,
            bytes_in: 0,
            packets_out: 0,
            bytes_out: 0,
            rekey_in_s: None,
        };
        assert_eq!(tunnel_state(&p), "no child");
        p.children.push(child("net1"));
        assert_eq!(tunnel_state(&p), "partially up");
        p.children.push(child("net2"));
        assert_eq!(tunnel_state(&p), "up", "net2 came up after its failure");
        p.state = "admin-down".into();
        assert_eq!(tunnel_state(&p), "admin-down");
    }

    #[test]
    fn an_unknown_tunnel_lists_the_known_ones() {
        let s = status(vec![peer("down", None)]);
        assert_eq!(diagnose(&s, "aws").unwrap_err(), "no tunnel named \"aws\"; the tunnels are: vmc");
        assert!(diagnose(&status(vec![]), "aws").unwrap_err().contains("no IKE peers"));
    }

    #[test]
    fn a_vti_is_diagnosed_with_its_peer_and_its_routing_daemon() {
        let mut s = status(vec![peer("connecting", None)]);
        s.vtis = vec![VtiStatus {
            name: "vti0".into(),
            address: "169.254.10.1/30".into(),
            peer: "vmc".into(),
            state: "down".into(),
            host_interface: Some("espgw-vti0".into()),
            host: Some(Default::default()),
            ..Default::default()
        }];
        let d = diagnose(&s, "vti0").unwrap();
        assert!(d.starts_with("VTI vti0 (169.254.10.1/30, IKE peer vmc): DOWN"), "{d}");
        assert!(d.contains("No outbound SA: packets routed into it are dropped"), "{d}");
        assert!(d.contains("Tunnel vmc (203.0.113.1 -> 203.0.113.2, IKEv2): CONNECTING"), "{d}");
        // Up, but the daemon learned nothing: say where to look.
        s.vtis[0].state = "up".into();
        let d = diagnose(&s, "vmc").unwrap();
        assert!(d.contains("No routes learned through it") && d.contains("birdc show protocols"), "{d}");
        assert!(d.contains("Nothing came from espgw-vti0 yet"), "{d}");
        s.vtis[0].learned_route_count = 2;
        s.vtis[0].learned_routes = vec!["10.1.0.0/16".into(), "10.2.0.0/16".into()];
        let d = diagnose(&s, "vti0").unwrap();
        assert!(d.contains("2 routes learned through it, e.g. 10.1.0.0/16 10.2.0.0/16"), "{d}");
        assert!(diagnose(&s, "nope").unwrap_err().contains("the tunnels are: vmc, vti0"));
    }
}
