//! The `ike:` section: a valid peer maps onto the state machine's configuration; bad peers
//! are reported at their line and field; the PSK never shows.

use super::tests::{assert_err, with_ports};
use super::*;

/// Ports on lines 1-7 (lan 192.0.2.1, wan 198.51.100.1); `ike:` on line 8, the peer's fields on
/// lines 10-16, its child on lines 18-21. `edit` replaces whole lines by their prefix.
fn ike(edit: &[(&str, &str)]) -> String {
    let mut lines = vec![
        "ike:",
        "  peers:",
        "    - name: site-b",
        "      local: 198.51.100.1",
        "      remote: 198.51.100.2",
        "      local_id: gw-a@example.org",
        "      remote_id: gw-b@example.org",
        "      psk: \"correct horse battery staple\"",
        "      ike_proposals: [aes128gcm16-prfsha256-x25519]",
        "      children:",
        "        - name: net",
        "          local_ts: [192.0.2.0/24]",
        "          remote_ts: [203.0.113.0/24]",
        "          esp_proposals: [aes128gcm16]",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    for (prefix, with) in edit {
        let i = lines.iter().position(|l| l.trim_start().starts_with(prefix)).expect("no such line");
        let indent = lines[i].len() - lines[i].trim_start().len();
        lines[i] = format!("{}{with}", " ".repeat(indent));
    }
    with_ports(&(lines.join("\n") + "\n"))
}

#[test]
fn valid_peer_maps_to_the_state_machine_config() {
    let cfg = parse(&ike(&[]), "gw.yaml").unwrap();
    let peer = &cfg.ike.peers[0];
    assert!(peer.initiates());
    let pc = peer.to_peer_config().unwrap();
    assert_eq!(pc.local, "198.51.100.1:500".parse().unwrap());
    assert_eq!(pc.remote, "198.51.100.2:500".parse().unwrap());
    assert_eq!(pc.local_id, ::ike::codec::id::Identification::Rfc822("gw-a@example.org".into()));
    assert_eq!(pc.psk.as_bytes(), b"correct horse battery staple");
    assert_eq!(pc.children.len(), 1);
    assert_eq!(pc.children[0].local_ts, vec![ike::prefix_to_ts(&"192.0.2.0/24".parse().unwrap())]);
    assert_eq!(pc.dpd_interval, Some(std::time::Duration::from_secs(30)));
    assert_eq!(
        ike::parse_identity("@vpn.example").unwrap(),
        ::ike::codec::id::Identification::Fqdn("vpn.example".into())
    );
}

#[test]
fn psk_never_shows() {
    let cfg = parse(&ike(&[]), "gw.yaml").unwrap();
    let dbg = format!("{cfg:?}");
    let yaml = serde_yaml_ng::to_string(&cfg).unwrap();
    let pc = format!("{:?}", cfg.ike.peers[0].to_peer_config().unwrap());
    for text in [&dbg, &yaml, &pc] {
        assert!(!text.contains("horse"), "PSK leaked: {text}");
    }
    // A PSK too short is refused without quoting it.
    let text = ike(&[("psk:", "psk: \"abc\"")]);
    assert_err(&text, 15, "ike.peers[0].psk", "use at least 8");
    assert!(!parse(&text, "gw.yaml").unwrap_err().to_string().contains("abc"));
}

#[test]
fn bad_ike_proposal() {
    let text = ike(&[("ike_proposals:", "ike_proposals: [aes128gcm16-sha256-x25519]")]);
    assert_err(&text, 16, "ike.peers[0].ike_proposals[0]", "AES-GCM takes no integrity algorithm");
    let text = ike(&[("ike_proposals:", "ike_proposals: [3des-md5-modp1024]")]);
    assert_err(&text, 16, "ike.peers[0].ike_proposals[0]", "unknown algorithm \"3des\"");
}

#[test]
fn bad_esp_proposal() {
    let text = ike(&[("esp_proposals:", "esp_proposals: [aes128-sha384]")]);
    assert_err(&text, 21, "ike.peers[0].children[0].esp_proposals[0]", "not offered for ESP");
}

#[test]
fn local_address_must_be_ours() {
    let text = ike(&[("local:", "local: 198.51.100.7")]);
    assert_err(&text, 11, "ike.peers[0].local", "not an address of any port");
}

#[test]
fn address_families_must_agree() {
    let text = ike(&[("remote:", "remote: 2001:db8:2::2")]);
    assert_err(&text, 12, "ike.peers[0].remote", "same address family");
}

#[test]
fn selector_with_host_bits() {
    let text = ike(&[("remote_ts:", "remote_ts: [203.0.113.7/24]")]);
    assert_err(&text, 20, "ike.peers[0].children[0].remote_ts[0]", "did you mean 203.0.113.0/24");
}

#[test]
fn empty_identity_and_missing_children() {
    let text = ike(&[("local_id:", "local_id: \"\"")]);
    assert_err(&text, 13, "ike.peers[0].local_id", "empty identity");
    let text = with_ports(
        "ike:\n  peers:\n    - name: x\n      local: 198.51.100.1\n      remote: 198.51.100.2\n      \
         local_id: a@b\n      psk: \"0123456789\"\n      children: []\n",
    );
    assert_err(&text, 15, "ike.peers[0].children", "at least one child");
}

#[test]
fn unknown_field_and_bad_dpd_action() {
    let text = ike(&[("remote_id:", "remote_idd: gw-b@example.org")]);
    let e = super::tests::parse_err(&text);
    assert_eq!(e.line, Some(14), "{e}");
    assert!(e.reason.contains("remote_idd"), "{e}");
    let text = ike(&[("remote_id:", "dpd: { interval: 10, action: explode }")]);
    let e = super::tests::parse_err(&text);
    assert_eq!(e.line, Some(14), "{e}");
    assert!(e.reason.contains("explode"), "{e}");
}

#[test]
fn traffic_lifetimes_map_to_the_child_and_hard_must_exceed_soft() {
    let text = ike(&[("esp_proposals:", "esp_proposals: [aes128gcm16]\n          rekey_bytes: 1000000\n          life_bytes: 2000000\n          rekey_packets: 5000")]);
    let cfg = parse(&text, "gw.yaml").unwrap();
    let pc = cfg.ike.peers[0].to_peer_config().unwrap();
    let c = &pc.children[0];
    assert_eq!((c.soft_traffic.bytes, c.soft_traffic.packets), (Some(1_000_000), Some(5000)));
    assert_eq!((c.hard_traffic.bytes, c.hard_traffic.packets), (Some(2_000_000), None));
    let text = ike(&[(
        "esp_proposals:",
        "esp_proposals: [aes128gcm16]\n          rekey_bytes: 1000000\n          life_bytes: 1000000",
    )]);
    assert_err(&text, 23, "ike.peers[0].children[0].life_bytes", "not above rekey_bytes");
    let text = ike(&[("esp_proposals:", "esp_proposals: [aes128gcm16]\n          rekey_packets: 10")]);
    assert_err(&text, 22, "ike.peers[0].children[0].rekey_packets", "use 100 or more");
}

#[test]
fn start_action_trap_maps_to_the_state_machine_and_does_not_initiate() {
    let text = ike(&[("esp_proposals:", "esp_proposals: [aes128gcm16]\n          start_action: trap")]);
    let cfg = parse(&text, "gw.yaml").unwrap();
    assert!(!cfg.ike.peers[0].initiates(), "a trap waits for traffic");
    let pc = cfg.ike.peers[0].to_peer_config().unwrap();
    assert_eq!(pc.children[0].start_action, ::ike::sa::StartAction::Trap);
}
