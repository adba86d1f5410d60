//! The `vtis:` section and routes into VTIs: a valid route-based setup parses; each mistake
//! is reported at its line and field with the reason.

use super::tests::{assert_err, with_ports};
use super::*;

/// Ports on lines 1-7; `ike:` on lines 8-21 (peer `aws1`, child `all` on lines 18-21 selecting
/// 0.0.0.0/0 both ways); `vtis:` on lines 22-23; `routes:` on lines 24-25. `edit` replaces
/// whole lines by their prefix.
fn vti(edit: &[(&str, &str)]) -> String {
    let mut lines = vec![
        "ike:",
        "  peers:",
        "    - name: aws1",
        "      local: 198.51.100.1",
        "      remote: 198.51.100.2",
        "      local_id: gw-a@example.org",
        "      remote_id: gw-b@example.org",
        "      psk: \"correct horse battery staple\"",
        "      ike_proposals: [aes128gcm16-prfsha256-x25519]",
        "      children:",
        "        - name: all",
        "          local_ts: [0.0.0.0/0]",
        "          remote_ts: [0.0.0.0/0]",
        "          esp_proposals: [aes128gcm16]",
        "vtis:",
        "  - { name: vti1, address: 169.254.10.1/30, peer: aws1 }",
        "routes:",
        "  - { prefix: 10.20.0.0/16, vti: vti1 }",
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
fn a_vti_and_a_route_into_it_parse() {
    let cfg = parse(&vti(&[]), "gw.yaml").unwrap();
    assert_eq!(cfg.vtis.len(), 1);
    assert_eq!(cfg.vtis[0].name, "vti1");
    assert_eq!(cfg.vtis[0].address, "169.254.10.1/30".parse().unwrap());
    assert_eq!(cfg.vtis[0].peer, "aws1");
    assert_eq!(cfg.routes[0].vti.as_deref(), Some("vti1"));
    assert_eq!((cfg.routes[0].via, cfg.routes[0].port.as_deref()), (None, None));
}

#[test]
fn route_errors_name_the_vti_field() {
    assert_err(
        &vti(&[("- { prefix: 10.20", "- { prefix: 10.20.0.0/16, vti: vti9 }")]),
        25,
        "routes[0].vti",
        "unknown VTI `vti9` (known VTIs: vti1)",
    );
    assert_err(
        &vti(&[("- { prefix: 10.20", "- { prefix: 10.20.0.0/16, vti: vti1, port: wan }")]),
        25,
        "routes[0].vti",
        "names no `via` or `port`",
    );
    assert_err(
        &vti(&[("- { prefix: 10.20", "- { prefix: 2001:db8:9::/48, vti: vti1 }")]),
        25,
        "routes[0].vti",
        "select no IPv6 traffic",
    );
}

#[test]
fn vti_errors_name_file_field_and_reason() {
    assert_err(
        &vti(&[("- { name: vti1", "- { name: vti1, address: 169.254.10.1/30, peer: nobody }")]),
        23,
        "vtis[0].peer",
        "unknown IKE peer `nobody` (ike.peers: aws1)",
    );
    assert_err(
        &vti(&[("- { name: vti1", "- { name: vti1, address: 192.0.2.9/30, peer: aws1 }")]),
        23,
        "vtis[0].address",
        "overlaps a subnet of port `lan`",
    );
    assert_err(
        &vti(&[("- { name: vti1", "- { name: vti1, address: 169.254.10.0/30, peer: aws1 }")]),
        23,
        "vtis[0].address",
        "network address",
    );
    assert_err(
        &vti(&[("- { name: vti1", "- { name: wan, address: 169.254.10.1/30, peer: aws1 }")]),
        23,
        "vtis[0].name",
        "already the name of a port",
    );
    assert_err(
        &vti(&[("remote_ts:", "remote_ts: [10.0.0.0/8]")]),
        23,
        "vtis[0].peer",
        "child `all` of IKE peer `aws1` is not any-to-any",
    );
    assert_err(
        &vti(&[("esp_proposals:", "esp_proposals: [aes128gcm16]\n          start_action: trap")]),
        24,
        "vtis[0].peer",
        "start_action trap",
    );
}

#[test]
fn two_vtis_may_not_overlap_or_share_a_peer() {
    let two = |second: &str| {
        vti(&[(
            "- { name: vti1",
            &format!("- {{ name: vti1, address: 169.254.10.1/30, peer: aws1 }}\n  - {second}"),
        )])
    };
    assert_err(
        &two("{ name: vti2, address: 169.254.10.2/30, peer: aws1 }"),
        24,
        "vtis[1].address",
        "overlaps the inside subnet of VTI `vti1`",
    );
    assert_err(
        &two("{ name: vti2, address: 169.254.11.1/30, peer: aws1 }"),
        24,
        "vtis[1].peer",
        "already bound to VTI `vti1`",
    );
    assert_err(
        &two("{ name: vti1, address: 169.254.11.1/30, peer: aws1 }"),
        24,
        "vtis[1].name",
        "duplicate VTI name",
    );
}

#[test]
fn host_interface_and_route_import() {
    let ok = vti(&[(
        "- { name: vti1",
        "- { name: vti1, address: 169.254.10.1/30, peer: aws1, host_interface: espgw-vti1, import_routes: true }",
    )]);
    let cfg = parse(&ok, "gw.yaml").unwrap();
    assert_eq!(cfg.vtis[0].host_interface.as_deref(), Some("espgw-vti1"));
    assert!(cfg.vtis[0].import_routes);
    assert_err(
        &vti(&[(
            "- { name: vti1",
            "- { name: vti1, address: 169.254.10.1/30, peer: aws1, import_routes: true }",
        )]),
        23,
        "vtis[0].import_routes",
        "set `host_interface` too",
    );
    assert_err(
        &vti(&[(
            "- { name: vti1",
            "- { name: vti1, address: 169.254.10.1/30, peer: aws1, host_interface: a-name-far-too-long }",
        )]),
        23,
        "vtis[0].host_interface",
        "1 to 15 characters",
    );
}

#[test]
fn routes_into_several_vtis_share_a_prefix_with_metrics() {
    let two = vti(&[
        ("- { name: vti1", "- { name: vti1, address: 169.254.10.1/30, peer: aws1 }\n  - { name: vti2, address: 169.254.11.1/30, peer: aws2 }"),
        ("- { prefix: 10.20", "- { prefix: 10.20.0.0/16, vti: vti1, metric: 10 }\n  - { prefix: 10.20.0.0/16, vti: vti2, metric: 20 }"),
    ]);
    // A second IKE peer for vti2 (a copy of aws1 under another name and address).
    let two = two.replacen(
        "vtis:",
        "    - name: aws2\n      local: 198.51.100.1\n      remote: 198.51.100.3\n      local_id: gw-a@example.org\n      \
         remote_id: gw-c@example.org\n      psk: \"correct horse battery staple\"\n      ike_proposals: [aes128gcm16-prfsha256-x25519]\n      \
         children:\n        - name: all\n          local_ts: [0.0.0.0/0]\n          remote_ts: [0.0.0.0/0]\n          esp_proposals: [aes128gcm16]\nvtis:",
        1,
    );
    let cfg = parse(&two, "gw.yaml").unwrap();
    assert_eq!(cfg.routes.iter().map(|r| r.metric).collect::<Vec<_>>(), [Some(10), Some(20)]);
    // The same VTI twice, or a VTI route and a port route, may not share a prefix.
    let dup = two.replacen("vti: vti2, metric: 20", "vti: vti1, metric: 20", 1);
    assert!(parse(&dup, "gw.yaml")
        .unwrap_err()
        .to_string()
        .contains("only routes into different VTIs may share a prefix"));
    let mixed = two.replacen("vti: vti2, metric: 20", "via: 198.51.100.2", 1);
    assert!(parse(&mixed, "gw.yaml").unwrap_err().to_string().contains("duplicate route for 10.20.0.0/16"));
    let metric = two.replacen("vti: vti2, metric: 20", "via: 198.51.100.2, metric: 20", 1).replacen(
        "10.20.0.0/16, via",
        "10.21.0.0/16, via",
        1,
    );
    assert!(parse(&metric, "gw.yaml").unwrap_err().to_string().contains("a metric orders routes into VTIs"));
}
