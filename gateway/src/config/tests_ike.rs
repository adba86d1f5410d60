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
    let text = ike(&[("ike_proposals:", "ike_proposals: [3des-md5-modp2048]")]);
    assert_err(&text, 16, "ike.peers[0].ike_proposals[0]", "unknown algorithm \"md5\"");
}

#[test]
fn weak_dh_groups_only_when_allowed() {
    let weak = ike(&[("ike_proposals:", "ike_proposals: [aes128-sha256-modp1024]")]);
    assert_err(&weak, 16, "ike.peers[0].ike_proposals[0]", "set `allow_weak_dh: true` on the peer");
    let pfs = ike(&[("esp_proposals:", "esp_proposals: [aes128gcm16-modp1536]")]);
    assert_err(&pfs, 21, "ike.peers[0].children[0].esp_proposals[0]", "modp1536 (group 5) is a weak");
    let pfs = ike(&[("esp_proposals:", "pfs_group: modp1024\n          esp_proposals:")]);
    assert_err(&pfs, 21, "ike.peers[0].children[0].pfs_group", "modp1024 (group 2) is a weak");
    // Allowed: it parses, reaches the state machine and is warned about.
    let ok = ike(&[
        ("ike_proposals:", "ike_proposals: [aes128-sha256-modp1024, aes128gcm16-prfsha256-modp1536]"),
        ("local_id:", "allow_weak_dh: true\n      local_id: gw-a@example.org"),
    ]);
    let cfg = parse(&ok, "gw.yaml").unwrap();
    let pc = cfg.ike.peers[0].to_peer_config().unwrap();
    assert!(pc.allow_weak_dh);
    assert_eq!(pc.ike_proposals[1].dh, vec![::ike::codec::DhGroup::MODP_1536]);
    assert!(pc.warnings()[0].contains("weak DH groups"), "{:?}", pc.warnings());
    // IKEv1 peers read the same field.
    let v1 = ikev1(&[
        ("ike_proposals:", "ike_proposals: [aes128-sha1-modp1024]"),
        ("local_id:", "allow_weak_dh: true\n      local_id: gw-a@example.org"),
    ]);
    let v1 = parse(&v1, "gw.yaml").unwrap().ike.peers[0].to_v1_config().unwrap();
    assert!(v1.peer.allow_weak_dh && v1.warnings().join(" ").contains("MODP 1024/1536"));
}

#[test]
fn triple_des_only_for_ikev1_and_only_when_allowed() {
    let v2 = ike(&[
        ("ike_proposals:", "ike_proposals: [3des-sha1-modp2048]"),
        ("local_id:", "allow_3des: true\n      local_id: gw-a@example.org"),
    ]);
    assert_err(&v2, 17, "ike.peers[0].ike_proposals[0]", "3des is only for IKEv1 phase 1");
    let v1 = ikev1(&[("ike_proposals:", "ike_proposals: [3des-sha1-modp2048]")]);
    assert_err(&v1, 16, "ike.peers[0].ike_proposals[0]", "set `allow_3des: true` on the peer");
    let esp = ikev1(&[("esp_proposals:", "esp_proposals: [3des-sha1]")]);
    assert_err(&esp, 21, "ike.peers[0].children[0].esp_proposals[0]", "3des is not offered for ESP");
    let ok = ikev1(&[
        ("ike_proposals:", "ike_proposals: [3des-sha1-modp2048, aes128-sha256-modp2048]"),
        ("local_id:", "allow_3des: true\n      local_id: gw-a@example.org"),
    ]);
    let v1 = parse(&ok, "gw.yaml").unwrap().ike.peers[0].to_v1_config().unwrap();
    assert!(v1.peer.allow_3des && v1.warnings().join(" ").contains("Sweet32"), "{:?}", v1.warnings());
}

#[test]
fn ah_children_are_ikev1_only_and_exclusive_with_esp() {
    let ah = "ah_proposals: [sha256-modp2048]\n          esp_proposals: [aes128gcm16]";
    let v1 = ikev1(&[("esp_proposals:", ah)]);
    let cfg = parse(&v1, "gw.yaml").unwrap().ike.peers[0].to_v1_config().unwrap();
    let c = &cfg.peer.children[0];
    assert_eq!(c.protocol, ::ike::sa::ChildProtocol::Ah);
    assert_eq!(c.esp_proposals[0].integ, [::ike::crypto::integ::IntegAlg::HmacSha256_128]);
    assert_eq!(c.esp_proposals[0].dh, [::ike::codec::DhGroup::MODP_2048]);
    let v2 = ike(&[("esp_proposals:", ah)]);
    assert_err(&v2, 21, "ike.peers[0].children[0].ah_proposals", "AH children are IKEv1 only");
    let both =
        ikev1(&[("esp_proposals:", "ah_proposals: [sha256]\n          esp_proposals: [aes256-sha256]")]);
    assert_err(
        &both,
        21,
        "ike.peers[0].children[0].ah_proposals",
        "give esp_proposals or ah_proposals, not both",
    );
    let bad = ikev1(&[("esp_proposals:", "ah_proposals: [sha1]")]);
    assert_err(&bad, 21, "ike.peers[0].children[0].ah_proposals[0]", "not an AH algorithm here");
}

#[test]
fn commit_bit_is_ikev1_only() {
    let v2 = ike(&[("local_id:", "commit_bit: true\n      local_id: gw-a@example.org")]);
    assert_err(&v2, 13, "ike.peers[0].commit_bit", "the commit bit is IKEv1 only");
    let v1 = ikev1(&[("local_id:", "commit_bit: true\n      local_id: gw-a@example.org")]);
    assert!(parse(&v1, "gw.yaml").unwrap().ike.peers[0].to_v1_config().unwrap().commit_bit);
    let v1 = parse(&ikev1(&[]), "gw.yaml").unwrap().ike.peers[0].to_v1_config().unwrap();
    assert!(!v1.commit_bit);
}

#[test]
fn fragment_size_is_bounded_and_ikev2_only() {
    let pc = parse(&ike(&[]), "gw.yaml").unwrap().ike.peers[0].to_peer_config().unwrap();
    assert_eq!(pc.fragment_size, 1280);
    let set =
        |v: &str| ike(&[("local_id:", &format!("fragment_size: {v}\n      local_id: gw-a@example.org"))]);
    let pc = parse(&set("400"), "gw.yaml").unwrap().ike.peers[0].to_peer_config().unwrap();
    assert_eq!(pc.fragment_size, 400);
    assert_err(&set("100"), 13, "ike.peers[0].fragment_size", "out of range 200..=9216");
    assert_err(&set("65000"), 13, "ike.peers[0].fragment_size", "out of range 200..=9216");
    let v1 = ikev1(&[("local_id:", "fragment_size: 400\n      local_id: gw-a@example.org")]);
    assert_err(&v1, 13, "ike.peers[0].fragment_size", "remove it for an IKEv1 peer");
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

/// `version: 1` on line 14 (in place of remote_id), phase 1 proposal on line 16.
fn ikev1(edit: &[(&str, &str)]) -> String {
    let mut e =
        vec![("remote_id:", "version: 1"), ("ike_proposals:", "ike_proposals: [aes128-sha256-modp2048]")];
    e.extend_from_slice(edit);
    ike(&e)
}

#[test]
fn ikev1_peer_maps_to_the_v1_state_machine_config() {
    let text = ikev1(&[(
        "esp_proposals:",
        "esp_proposals: [aes256-sha256, aes128gcm16-ecp256]\n          pfs_group: modp2048",
    )]);
    let cfg = parse(&text, "gw.yaml").unwrap();
    let peer = &cfg.ike.peers[0];
    assert!(peer.is_v1());
    let v1 = peer.to_v1_config().unwrap();
    assert!(!v1.aggressive, "main mode unless asked");
    assert!(v1.warnings().is_empty());
    let esp = &v1.peer.children[0].esp_proposals;
    // pfs_group fills in only where the proposal names no group.
    assert_eq!(esp[0].dh, vec![::ike::codec::DhGroup::MODP_2048]);
    assert_eq!(esp[1].dh, vec![::ike::codec::DhGroup::ECP_256]);
    // Peers without `version` stay IKEv2.
    assert!(!parse(&ike(&[]), "gw.yaml").unwrap().ike.peers[0].is_v1());
}

#[test]
fn ikev1_aggressive_mode_is_opt_in_and_warned_about() {
    let text = ikev1(&[("local_id:", "local_id: gw-a@example.org\n      mode: aggressive")]);
    let v1 = parse(&text, "gw.yaml").unwrap().ike.peers[0].to_v1_config().unwrap();
    assert!(v1.aggressive);
    let w = v1.warnings().join(" ");
    assert!(w.contains("aggressive mode") && w.contains("offline"), "{w}");
}

#[test]
fn ikev1_phase1_has_no_gcm() {
    let text =
        ikev1(&[("ike_proposals:", "ike_proposals: [aes128-sha256-modp2048, aes128gcm16-prfsha256-x25519]")]);
    assert_err(&text, 16, "ike.peers[0].ike_proposals[1]", "IKEv1 phase 1 has no AES-GCM");
}

#[test]
fn mode_is_ikev1_only_and_versions_are_1_or_2() {
    let text = ike(&[("remote_id:", "mode: aggressive")]);
    assert_err(&text, 14, "ike.peers[0].mode", "IKEv1 only");
    let text = ike(&[("remote_id:", "version: 3")]);
    assert_err(&text, 14, "ike.peers[0].version", "use 1 (IKEv1) or 2 (IKEv2)");
    let text = ike(&[("remote_id:", "mode: sneaky")]);
    let e = super::tests::parse_err(&text);
    assert_eq!(e.line, Some(14), "{e}");
    assert!(e.reason.contains("sneaky"), "{e}");
}

#[test]
fn ikev1_child_is_one_selector_pair() {
    let text = ikev1(&[("local_ts:", "local_ts: [192.0.2.0/25, 192.0.2.128/25]")]);
    assert_err(&text, 19, "ike.peers[0].children[0].local_ts", "write one child per policy pair");
    // IKEv2 takes several.
    assert!(parse(&ike(&[("local_ts:", "local_ts: [192.0.2.0/25, 192.0.2.128/25]")]), "gw.yaml").is_ok());
}

#[test]
fn bad_pfs_group() {
    let text = ikev1(&[("esp_proposals:", "pfs_group: modp9")]);
    assert_err(&text, 21, "ike.peers[0].children[0].pfs_group", "unknown DH group `modp9`");
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
