//! The `ipsec:` section: a valid file, bad files with exact line and field, and secrets that
//! never show.

use super::ipsec::ProtocolName;
use super::tests::{assert_err, parse_err, with_ports};
use super::*;

const GCM_KEY: &str = "000102030405060708090a0b0c0d0e0f10111213"; // 16-byte key + 4-byte salt

/// Ports on lines 1-7 (lan 192.0.2.1, wan 198.51.100.1); SAs start at line 8.
fn ipsec(sa_extra: &str, policies: &str) -> String {
    with_ports(&format!(
        "ipsec:
  sas:
    - name: out-b
      direction: out
      spi: 0x1001
      local: 198.51.100.1
      remote: 198.51.100.2
      algorithm: aes128gcm16
      enc_key: \"{GCM_KEY}\"
{sa_extra}    - name: in-b
      direction: in
      spi: 4098
      local: 198.51.100.1
      remote: 198.51.100.2
      algorithm: aes128gcm16
      enc_key: \"{GCM_KEY}\"
  policies:
{policies}  allow_static_gcm: true
"
    ))
}

const POLICIES: &str =
    "    - { direction: out, src: 192.0.2.0/24, dst: 203.0.113.0/24, action: protect, sa: out-b }
    - { direction: in, src: 203.0.113.0/24, dst: 192.0.2.0/24, action: protect, sa: in-b }
";

#[test]
fn valid_ipsec_section_parses() {
    let cfg = parse(&ipsec("", POLICIES), "gw.yaml").unwrap();
    assert_eq!(cfg.ipsec.sas.len(), 2);
    let sa = &cfg.ipsec.sas[0];
    assert_eq!((sa.spi, sa.direction, sa.replay_window), (0x1001, Direction::Out, 1024));
    assert_eq!(sa.enc_key.expose().len(), 20);
    assert_eq!(cfg.ipsec.sas[1].spi, 4098);
    assert_eq!(cfg.ipsec.policies[0].action, Action::Protect);
    assert!(cfg.ipsec.policies[0].src_ports.is_any());
}

#[test]
fn keys_never_show_in_debug_or_serialization() {
    let cfg = parse(&ipsec("", POLICIES), "gw.yaml").unwrap();
    let dbg = format!("{cfg:?}");
    let yaml = serde_yaml_ng::to_string(&cfg).unwrap();
    for text in [&dbg, &yaml] {
        assert!(!text.contains("0a0b0c0d"), "key bytes leaked: {text}");
        assert!(!text.contains("10, 11, 12"), "key bytes leaked: {text}");
        assert!(text.contains("redacted"));
    }
}

#[test]
fn bad_hex_key_is_reported_without_its_value() {
    let text = ipsec("", POLICIES).replacen(GCM_KEY, "zz0102030405060708090a0b0c0d0e0f10111213", 1);
    let e = parse_err(&text);
    // serde reports errors from a field's own deserializer at the enclosing mapping.
    assert_eq!((e.line, e.field.as_str()), (Some(10), "ipsec.sas[0]"), "{e}");
    assert!(e.reason.contains("enc_key/auth_key"), "{e}");
    assert!(e.reason.contains("value not shown"), "{e}");
    assert!(!e.to_string().contains("0a0b0c0d"), "{e}");
}

#[test]
fn wrong_key_length_names_what_is_needed() {
    let text = ipsec("", POLICIES).replacen(GCM_KEY, "00112233445566778899aabbccddeeff", 1);
    assert_err(&text, 16, "ipsec.sas[0].enc_key", "needs a 20-byte encryption key");
}

#[test]
fn auth_key_with_aead_is_rejected() {
    assert_err(
        &ipsec("      auth_key: \"00112233\"\n", POLICIES),
        17,
        "ipsec.sas[0].auth_key",
        "takes no auth_key",
    );
}

#[test]
fn reserved_spi() {
    let text = ipsec("", POLICIES).replacen("spi: 0x1001", "spi: 255", 1);
    assert_err(&text, 12, "ipsec.sas[0].spi", "reserved");
}

#[test]
fn duplicate_inbound_spi_on_the_same_address() {
    let text = ipsec("", POLICIES).replacen("spi: 4098", "spi: 0x1001", 1).replacen(
        "direction: in\n",
        "direction: out\n",
        1,
    );
    assert_err(&text, 19, "ipsec.sas[1].spi", "already used");
}

#[test]
fn tunnel_endpoint_must_be_ours() {
    let text = ipsec("", POLICIES).replacen("local: 198.51.100.1", "local: 198.51.100.77", 1);
    assert_err(&text, 13, "ipsec.sas[0].local", "not an address of any port");
}

#[test]
fn unknown_algorithm_lists_the_known_ones() {
    let text = ipsec("", POLICIES).replacen("algorithm: aes128gcm16", "algorithm: chacha20poly1305", 1);
    assert_err(&text, 15, "ipsec.sas[0].algorithm", "aes256gcm16");
}

#[test]
fn policy_naming_a_missing_sa() {
    let p = POLICIES.replacen("sa: out-b", "sa: nope", 1);
    assert_err(&ipsec("", &p), 25, "ipsec.policies[0].sa", "no SA named `nope`");
}

#[test]
fn policy_direction_must_match_its_sa() {
    let p = POLICIES.replacen("sa: out-b", "sa: in-b", 1);
    assert_err(&ipsec("", &p), 25, "ipsec.policies[0].sa", "inbound but this policy is outbound");
}

#[test]
fn ports_need_tcp_or_udp() {
    let p = POLICIES.replacen("action: protect, sa: out-b", "dst_ports: 80, action: discard", 1);
    assert_err(&ipsec("", &p), 25, "ipsec.policies[0].protocol", "port ranges need");
}

#[test]
fn selector_with_host_bits() {
    let p = POLICIES.replacen("src: 192.0.2.0/24", "src: 192.0.2.9/24", 1);
    assert_err(&ipsec("", &p), 25, "ipsec.policies[0].src", "did you mean 192.0.2.0/24");
}

#[test]
fn bad_port_range_and_protocol_words() {
    let p = POLICIES.replacen(
        "action: protect, sa: out-b",
        "protocol: udp, dst_ports: \"9-3\", action: discard",
        1,
    );
    let e = parse_err(&ipsec("", &p));
    assert!(e.reason.contains("empty (low > high)"), "{e}");
    let p = POLICIES.replacen("action: protect, sa: out-b", "protocol: sctpx, action: discard", 1);
    let e = parse_err(&ipsec("", &p));
    assert!(e.reason.contains("unknown protocol `sctpx`"), "{e}");
}

const AH_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"; // 32 bytes

/// The first SA (`out-b`) as AH: `protocol` on line 15, `algorithm` 16, `auth_key` 17, and
/// `sa_extra` from line 18.
fn ah_sa(sa_extra: &str) -> String {
    ipsec(sa_extra, POLICIES).replacen(
        &format!("algorithm: aes128gcm16\n      enc_key: \"{GCM_KEY}\""),
        &format!("protocol: ah\n      algorithm: sha256\n      auth_key: \"{AH_KEY}\""),
        1,
    )
}

#[test]
fn valid_ah_sa_parses_and_esp_stays_the_default() {
    let cfg = parse(&ah_sa(""), "gw.yaml").unwrap();
    let sa = &cfg.ipsec.sas[0];
    assert_eq!((sa.protocol, sa.algorithm.as_str()), (ProtocolName::Ah, "sha256"));
    assert!(sa.enc_key.is_empty());
    assert_eq!(sa.auth_key.len(), 32);
    assert_eq!(cfg.ipsec.sas[1].protocol, ProtocolName::Esp);
    assert!(!format!("{cfg:?}").contains("1c1d1e1f"), "AH key leaked");
}

#[test]
fn ah_takes_no_enc_key() {
    assert_err(
        &ah_sa(&format!("      enc_key: \"{GCM_KEY}\"\n")),
        18,
        "ipsec.sas[0].enc_key",
        "AH does not encrypt",
    );
}

#[test]
fn ah_needs_a_32_byte_integrity_key() {
    let text = ah_sa("").replacen(AH_KEY, "00112233", 1);
    assert_err(&text, 17, "ipsec.sas[0].auth_key", "sha256 needs a 32-byte integrity key, got 4 bytes");
}

#[test]
fn ah_with_an_esp_algorithm_is_rejected() {
    let text = ah_sa("").replacen("algorithm: sha256", "algorithm: aes128-sha256", 1);
    assert_err(
        &text,
        16,
        "ipsec.sas[0].algorithm",
        "`aes128-sha256` is an ESP algorithm; AH (integrity only) takes: sha256",
    );
}

#[test]
fn esp_with_the_ah_algorithm_is_rejected() {
    let text = ah_sa("").replacen("protocol: ah", "protocol: esp", 1);
    assert_err(
        &text,
        16,
        "ipsec.sas[0].algorithm",
        "`sha256` is an AH integrity algorithm: set `protocol: ah`",
    );
}

#[test]
fn ah_with_nat_t_is_rejected() {
    assert_err(
        &ah_sa("      natt: { local_port: 4500, remote_port: 4500 }\n"),
        18,
        "ipsec.sas[0].natt",
        "NAT-T (RFC 3948) is defined for ESP only",
    );
}

#[test]
fn ah_reserved_spi_cites_rfc_4302() {
    let text = ah_sa("").replacen("spi: 0x1001", "spi: 0", 1);
    assert_err(&text, 12, "ipsec.sas[0].spi", "RFC 4302 §2.4");
}

#[test]
fn unknown_protocol_and_missing_esp_key() {
    let e = parse_err(&ipsec("", POLICIES).replacen("spi: 0x1001", "spi: 0x1001\n      protocol: ipcomp", 1));
    assert_eq!((e.line, e.field.as_str()), (Some(13), "ipsec.sas[0].protocol"), "{e}");
    assert!(e.reason.contains("esp") && e.reason.contains("ah"), "{e}");
    // ESP still needs its key: now a validation error with the reason spelled out.
    let text = ipsec("", POLICIES).replacen(&format!("      enc_key: \"{GCM_KEY}\"\n"), "", 1);
    let e = parse_err(&text);
    assert_eq!(e.field, "ipsec.sas[0].enc_key", "{e}");
    assert!(e.reason.contains("needs a 20-byte encryption key") && e.reason.contains("got 0 bytes"), "{e}");
}

#[test]
fn replay_window_zero_switches_anti_replay_off_but_not_with_esn() {
    let ok = ipsec("      replay_window: 0\n", POLICIES);
    assert_eq!(parse(&ok, "t.yaml").unwrap().ipsec.sas[0].replay_window, 0);
    let text = ipsec("      replay_window: 0\n      esn: true\n", POLICIES);
    assert_err(&text, 17, "ipsec.sas[0].replay_window", "cannot be combined with esn");
    let text = ipsec("      replay_window: 32\n", POLICIES);
    assert_err(&text, 17, "ipsec.sas[0].replay_window", "or 0 to switch anti-replay off");
}

#[test]
fn static_gcm_is_refused_unless_the_lab_flag_is_set() {
    let text = ipsec("", POLICIES).replace("  allow_static_gcm: true\n", "");
    assert_err(&text, 15, "ipsec.sas[0].algorithm", "forbidden (RFC 4106");
}

#[test]
fn natt_local_port_must_be_4500() {
    let text = ipsec("      natt: { local_port: 4501, remote_port: 31000 }\n", POLICIES);
    assert_err(&text, 17, "ipsec.sas[0].natt.local_port", "port 4500 only");
}
