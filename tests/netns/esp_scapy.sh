#!/usr/bin/env bash
# Namespace test: scapy (an independent ESP and AH implementation, tests/netns/scapy_peer.py) is
# the remote gateway, through espgw's DPDK af_packet ports.
#
#   [ns $P-h1] h1-eth0 ==== gw-lan [ns $P-gw: espgw] gw-wan ==== peer-eth0 [ns $P-peer: scapy]
#   192.0.2.2/24            192.0.2.1/24, 2001:db8:1::1/64       203.0.113.2/24, 2001:db8:ff::2/64
#   2001:db8:1::2/64        203.0.113.1/24, 2001:db8:ff::1/64    (remote site 198.51.100.0/24 and
#                                                                  2001:db8:2::/64: only scapy knows it)
#
# In the peer namespace the kernel answers ARP/ND for 203.0.113.2 / 2001:db8:ff::2, and
# nftables drops incoming ESP, AH and UDP 4500 so that it sends no ICMP errors about them (AH is
# an extension header to nftables over IPv6: `ip6 nexthdr ah`, not `meta l4proto`); scapy
# sniffs and sends on peer-eth0. For every case espgw is restarted with its own config:
# h1 pings the remote site, scapy decrypts espgw's ESP, checks the outer headers (SPI,
# sequence numbers 1,2,3, outer addresses, UDP 4500 with NAT-T, the IV), checks the inner echo
# request, and answers it through the reverse SA; h1's ping succeeding proves both directions.
# In transport mode scapy pings the gateway's wan address (IPv4 or IPv6) inside ESP instead and
# expects ESP-protected echo replies.
# The AH cases (RFC 4302, HMAC-SHA-256-128) run the same exchanges over AH with the same checks
# (protocol 51 instead of 50, no IV) and two more: the payload must be on the wire in clear, and
# a copy of scapy's first AH packet with one payload byte flipped, sent just before the genuine
# one under the same sequence number, must be dropped as ah_icv_mismatch (exactly once) while
# the genuine one is accepted.
# ONLY=REGEX runs just the cases whose name matches (e.g. ONLY=^ah-); KEEP_WORK=1 keeps the
# configs and logs.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ESPGW=${ESPGW:-$ROOT/target/release/espgw}
PY=${PY:-$ROOT/target/pyenv/bin/python}
PEER_PY=$ROOT/tests/netns/scapy_peer.py
P=espgw-esp$$
H1="$P-h1"; GW="$P-gw"; PEER="$P-peer"
COUNT=3

WORK=$(mktemp -d /tmp/espgw-scapy.XXXXXX)
PID=""; SPID=""
. "$ROOT/tests/netns/lib.sh"

topo_down() {
    for ns in "$H1" "$GW" "$PEER"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    return 0
}
cleanup() {
    trap - EXIT INT TERM
    stop_pid "$SPID"; stop_pid "$PID"
    topo_down
    if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    rm -rf /var/run/dpdk/"$P"-*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

topo_up() {
    topo_down
    local ns
    for ns in "$H1" "$GW" "$PEER"; do ip netns add "$ns" || return 1; ip -n "$ns" link set lo up; done
    ip link add h1-eth0 netns "$H1" type veth peer name gw-lan netns "$GW" || return 1
    ip link add gw-wan netns "$GW" type veth peer name peer-eth0 netns "$PEER" || return 1
    ip netns exec "$GW" sysctl -qw net.ipv6.conf.gw-lan.disable_ipv6=1 net.ipv6.conf.gw-wan.disable_ipv6=1
    ip -n "$GW" link set gw-lan up; ip -n "$GW" link set gw-wan up
    ip netns exec "$H1" ethtool -K h1-eth0 tx off >/dev/null 2>&1
    ip -n "$H1" addr add 192.0.2.2/24 dev h1-eth0
    ip -n "$H1" addr add 2001:db8:1::2/64 dev h1-eth0 nodad
    ip -n "$H1" link set h1-eth0 up
    ip -n "$H1" route add default via 192.0.2.1
    ip -n "$H1" -6 route add default via 2001:db8:1::1
    ip -n "$PEER" addr add 203.0.113.2/24 dev peer-eth0
    ip -n "$PEER" addr add 2001:db8:ff::2/64 dev peer-eth0 nodad
    ip -n "$PEER" link set peer-eth0 up
    # The peer's kernel has no ESP: keep it from answering ESP / ESP-in-UDP with ICMP errors.
    ip netns exec "$PEER" nft -f - <<'NFT' || return 1
table inet espgw_test {
    chain input {
        type filter hook input priority 0; policy accept;
        meta l4proto esp drop
        meta l4proto ah drop
        ip6 nexthdr ah drop
        udp dport 4500 drop
    }
}
NFT
}

# Test keys only: cut to each algorithm's length. OUT = espgw's outbound SA, IN = inbound.
ENC_OUT=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223
ENC_IN=f0f1f2f3f4f5f6f7f8f9fafbfcfdfeffe0e1e2e3e4e5e6e7e8e9eaebecedeeefd0d1d2d3
AUTH_OUT=a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf
AUTH_IN=c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf
SPI_OUT=0x3001; SPI_IN=0x4001
key_lens() { # key_lens ALG -> "ENC_BYTES AUTH_BYTES"
    case $1 in
        aes128gcm16) echo "20 0" ;; aes256gcm16) echo "36 0" ;;
        aes128-sha1) echo "16 20" ;; aes256-sha1) echo "32 20" ;;
        aes128-sha256) echo "16 32" ;; aes256-sha256) echo "32 32" ;;
        null-sha256) echo "0 32" ;;
        sha256) echo "0 32" ;;   # AH
    esac
}

# write_config FILE PROTO(esp|ah) ALG MODE INNER(4|6) OUTER(4|6) ESN(0|1) NATT(0|1)
# In transport mode INNER is the IP version of the protected traffic and equals OUTER.
write_config() {
    local f=$1 ipsec=$2 alg=$3 mode=$4 inner=$5 outer=$6 esn=$7 natt=$8 el al gw peer extra=""
    read -r el al < <(key_lens "$alg")
    if [ "$outer" = 4 ]; then gw=203.0.113.1; peer=203.0.113.2; else gw=2001:db8:ff::1; peer=2001:db8:ff::2; fi
    [ "$esn" = 1 ] && extra="$extra, esn: true"
    [ "$natt" = 1 ] && extra="$extra, natt: { local_port: 4500, remote_port: 4500 }"
    local ko="${ENC_OUT:0:$((2*el))}" ki="${ENC_IN:0:$((2*el))}" ao="" ai=""
    if [ "$al" != 0 ]; then ao=", auth_key: \"${AUTH_OUT:0:$((2*al))}\""; ai=", auth_key: \"${AUTH_IN:0:$((2*al))}\""; fi
    # ESP: the encryption key; AH: "protocol: ah" and no enc_key at all.
    local keo=", enc_key: \"$ko\"" kei=", enc_key: \"$ki\"" sap=""
    [ "$ipsec" = ah ] && { keo=""; kei=""; sap="protocol: ah, "; }
    local near far
    if [ "$mode" = transport ] && [ "$outer" = 4 ]; then near=203.0.113.1/32; far=203.0.113.2/32
    elif [ "$mode" = transport ]; then near=2001:db8:ff::1/128; far=2001:db8:ff::2/128
    elif [ "$inner" = 4 ]; then near=192.0.2.0/24; far=198.51.100.0/24
    else near=2001:db8:1::/64; far=2001:db8:2::/64; fi
    local proto=""
    [ "$mode" = transport ] && { [ "$outer" = 4 ] && proto=", protocol: icmp" || proto=", protocol: icmpv6"; }
    cat > "$f" <<YAML
# Generated by tests/netns/esp_scapy.sh: $ipsec $alg $mode inner IPv$inner outer IPv$outer esn=$esn natt=$natt
eal:
  main_lcore: 0
  memory_mb: 256
  file_prefix: $P-$CASE
ports:
  - name: lan
    device: "net_af_packet0,iface=gw-lan"
    addresses: ["192.0.2.1/24", "2001:db8:1::1/64"]
  - name: wan
    device: "net_af_packet1,iface=gw-wan"
    addresses: ["203.0.113.1/24", "2001:db8:ff::1/64"]
routes:
  - { prefix: 198.51.100.0/24, via: 203.0.113.2 }
  - { prefix: "2001:db8:2::/64", via: "2001:db8:ff::2" }
workers:
  - lcore: 1
    rx: ["lan:0", "wan:0"]
control:
  socket: $WORK/espgw.sock
ipsec:
  allow_static_gcm: true
  sas:
    - { name: to-peer, direction: out, spi: $SPI_OUT, ${sap}mode: $mode, local: "$gw", remote: "$peer", algorithm: $alg$keo$ao$extra }
    - { name: from-peer, direction: in, spi: $SPI_IN, ${sap}mode: $mode, local: "$gw", remote: "$peer", algorithm: $alg$kei$ai$extra }
  policies:
    - { direction: out, src: "$near", dst: "$far"$proto, action: protect, sa: to-peer }
    - { direction: in, src: "$far", dst: "$near"$proto, action: protect, sa: from-peer }
YAML
    PEER_ARGS=(--iface peer-eth0 --gw "$gw" --me "$peer" --proto "$ipsec" --mode "$mode" --inner "$inner" --alg "$alg"
        --spi-rx "$SPI_OUT" --spi-tx "$SPI_IN" --enc-rx "$ko" --enc-tx "$ki" --count "$COUNT" --timeout 10)
    if [ "$al" != 0 ]; then PEER_ARGS+=(--auth-rx "${AUTH_OUT:0:$((2*al))}" --auth-tx "${AUTH_IN:0:$((2*al))}"); fi
    [ "$esn" = 1 ] && PEER_ARGS+=(--esn)
    [ "$natt" = 1 ] && PEER_ARGS+=(--natt)
    return 0
}


# run_case NAME PROTO ALG MODE INNER OUTER ESN NATT: one espgw run against scapy.
run_case() {
    [ -n "${ONLY:-}" ] && ! [[ $1 =~ $ONLY ]] && return 0
    CASE=$1; local ipsec=$2 alg=$3 mode=$4 inner=$5 outer=$6 esn=$7 natt=$8 d="$WORK/$1" what
    local P_=${ipsec^^}
    mkdir -p "$d"
    if [ "$mode" = transport ]; then
        what="$CASE ($P_ $alg, transport over IPv$outer$([ "$esn" = 1 ] && echo ", ESN"))"
    else
        what="$CASE ($P_ $alg, tunnel, inner IPv$inner in outer IPv$outer$([ "$esn" = 1 ] && echo ", ESN")$([ "$natt" = 1 ] && echo ", NAT-T UDP 4500"))"
    fi
    write_config "$d/espgw.yaml" "$ipsec" "$alg" "$mode" "$inner" "$outer" "$esn" "$natt"
    if ! "$ESPGW" check-config "$d/espgw.yaml" >"$d/check" 2>&1; then
        bad "$what: config rejected"; sed 's/^/       /' "$d/check"; return
    fi
    ip netns exec "$GW" "$ESPGW" run -c "$d/espgw.yaml" >"$d/espgw.log" 2>&1 &
    PID=$!
    if ! wait_socket "$WORK/espgw.sock" "$PID"; then
        bad "$what: espgw did not start"; sed 's/^/       /' "$d/espgw.log"; stop_pid "$PID"; PID=""; return
    fi
    local mac; mac=$(ip -n "$GW" -br link show gw-wan | awk '{print $3}')
    rm -f "$d/ready"
    ip netns exec "$PEER" "$PY" "$PEER_PY" "${PEER_ARGS[@]}" --gw-mac "$mac" --ready-file "$d/ready" >"$d/peer.log" 2>&1 &
    SPID=$!
    for _ in $(seq 1 300); do [ -e "$d/ready" ] && break; kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    local pingok=1
    if [ "$mode" = tunnel ]; then
        local dst=198.51.100.2 v=""; [ "$inner" = 6 ] && { dst=2001:db8:2::2; v=-6; }
        ip netns exec "$H1" ping $v -c "$COUNT" -i 0.2 -W 3 "$dst" >"$d/ping" 2>&1
        grep -q " 0% packet loss" "$d/ping" || pingok=0
    fi
    # The peer ends by itself after COUNT exchanges; once h1's ping is over, give it 2 s more,
    # then SIGTERM makes it report what it has.
    for _ in $(seq 1 $([ "$mode" = tunnel ] && echo 20 || echo 80)); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$SPID" 2>/dev/null
    wait "$SPID"; local prc=$?; SPID=""
    "$ESPGW" status -s "$WORK/espgw.sock" --json >"$d/status.json" 2>&1
    stop_pid "$PID"; wait "$PID" 2>/dev/null; PID=""
    # The status must show the traffic on both SAs and no ESP / AH drop, except (AH) exactly one
    # ah_icv_mismatch per tampered packet scapy sent.
    local st tampered
    tampered=$(sed -n 's/^RESULT .*"tampered": \([0-9]*\).*/\1/p' "$d/peer.log"); tampered=${tampered:-0}
    st=$(python3 - "$d/status.json" "$COUNT" "$tampered" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except Exception:
    print("no status JSON: " + open(sys.argv[1]).read()[:300]); sys.exit(1)
n, tampered = int(sys.argv[2]), int(sys.argv[3])
sas = {a["name"]: a["packets"] for a in s.get("ipsec", {}).get("sas", [])}
drops = {d["reason"]: d["packets"] for d in s["drops"] if d["packets"] and (d["reason"].startswith(("esp_", "ah_")) or d["reason"] in ("policy_mismatch", "cleartext_protected", "encap_no_room", "tunnel_no_route", "policy_discard", "sa_protocol_mismatch", "ecn_conflict"))}
icv = drops.pop("ah_icv_mismatch", 0)
print("SA packets %s, IPsec drops %s%s" % (sas, drops or "none", ", ah_icv_mismatch %d (tampered %d)" % (icv, tampered) if icv or tampered else ""))
sys.exit(0 if sas.get("to-peer") == n and sas.get("from-peer") == n and not drops and icv == tampered else 1)
PY
)
    local strc=$?
    if [ "$prc" != 1 ] && [ "$pingok" = 1 ] && [ "$strc" = 0 ]; then
        ok "$what: $(grep -c '^seq ' "$d/peer.log") $P_ exchanges checked by scapy; espgw seqs $(sed -n 's/^RESULT .*"seqs": \[\([0-9, ]*\)\].*/\1/p' "$d/peer.log"); $st"
    else
        bad "$what"
        { [ "$mode" = tunnel ] && sed 's/^/       ping: /' "$d/ping"
          sed 's/^/       scapy: /' "$d/peer.log"
          echo "       status: $st"
          grep -v '^EAL\|^TELEMETRY' "$d/espgw.log" | tail -5 | sed 's/^/       espgw: /'; }
    fi
    # The outer header is espgw's own: TTL / hop limit 64 on every packet, the first included.
    local ttl
    ttl=$(sed -n 's/^RESULT //p' "$d/peer.log" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("; ".join(r["ttl_errors"]))' 2>/dev/null)
    if [ "$prc" = 0 ] || { [ "$prc" = 1 ] && [ -z "$ttl" ] && grep -q '^RESULT' "$d/peer.log"; }; then
        ok "$CASE: outer TTL / hop limit 64 on every $P_ packet from espgw"
    else
        bad "$CASE: outer TTL / hop limit 64 on every $P_ packet from espgw: ${ttl:-no result from scapy}"
    fi
    # AH: the payload in clear on every packet (checked by scapy), and the tampered packet
    # dropped as ah_icv_mismatch while the genuine one behind it got through.
    if [ "$ipsec" = ah ]; then
        local clear icv
        clear=$(sed -n 's/^RESULT .*"clear": \([0-9]*\).*/\1/p' "$d/peer.log")
        icv=$(python3 -c 'import json,sys; print(sum(d["packets"] for d in json.load(open(sys.argv[1]))["drops"] if d["reason"] == "ah_icv_mismatch"))' "$d/status.json" 2>/dev/null)
        if [ "${clear:-0}" = "$COUNT" ] && [ "$tampered" = 1 ] && [ "$icv" = 1 ] && [ "$strc" = 0 ]; then
            ok "$CASE: payload in clear on all $COUNT AH packets from espgw; 1 tampered AH packet dropped as ah_icv_mismatch, the genuine one with the same sequence number accepted"
        else
            bad "$CASE: AH payload in clear on $COUNT packets (scapy: ${clear:-none}); tampered packets sent ${tampered}, ah_icv_mismatch drops ${icv:-unknown}, expected 1 and 1 with both SAs at $COUNT packets"
        fi
    fi
}

echo "netns ESP and AH interop test against scapy (prefix $P)"
[ -x "$ESPGW" ] || { echo "no espgw binary at $ESPGW (make build)"; echo "esp_scapy: 0 passed, 1 failed"; exit 1; }
[ -x "$PY" ] || { echo "no scapy venv at $PY (make pyenv)"; echo "esp_scapy: 0 passed, 1 failed"; exit 1; }
topo_up || { echo "cannot create namespaces"; echo "esp_scapy: 0 passed, 1 failed"; exit 1; }
START=$(date +%s)
#        name              proto algorithm      mode       inner outer esn natt
run_case gcm128-4in4       esp   aes128gcm16    tunnel     4     4     0   0
run_case gcm256-4in4       esp   aes256gcm16    tunnel     4     4     0   0
run_case cbc128sha1-4in4   esp   aes128-sha1    tunnel     4     4     0   0
run_case cbc256sha256-4in4 esp   aes256-sha256  tunnel     4     4     0   0
run_case null-sha256-4in4  esp   null-sha256    tunnel     4     4     0   0
run_case gcm128-6in4       esp   aes128gcm16    tunnel     6     4     0   0
run_case gcm128-4in6       esp   aes128gcm16    tunnel     4     6     0   0
run_case gcm128-6in6       esp   aes128gcm16    tunnel     6     6     0   0
run_case gcm128-esn        esp   aes128gcm16    tunnel     4     4     1   0
run_case cbc256sha256-esn  esp   aes256-sha256  tunnel     6     6     1   0
run_case gcm128-natt4      esp   aes128gcm16    tunnel     4     4     0   1
run_case gcm128-natt6      esp   aes128gcm16    tunnel     6     6     0   1
run_case transport-gcm128  esp   aes128gcm16    transport  4     4     0   0
run_case transport-sha1    esp   aes128-sha1    transport  4     4     0   0
run_case ah-4in4           ah    sha256         tunnel     4     4     0   0
run_case ah-6in6           ah    sha256         tunnel     6     6     0   0
run_case ah-4in6           ah    sha256         tunnel     4     6     0   0
run_case ah-esn            ah    sha256         tunnel     4     4     1   0
run_case ah-transport4     ah    sha256         transport  4     4     0   0
# Over IPv6 the transport policy (icmpv6 between the two wan addresses) also covers the peer's
# neighbour advertisements: espgw must still resolve the peer to send its replies.
run_case ah-transport6     ah    sha256         transport  6     6     0   0
echo "  ($(( $(date +%s) - START )) s for the matrix)"
topo_down
leftover() { ! ip netns list | grep -q "^$P-" && ! pgrep -f "$WORK/.*/espgw.yaml" >/dev/null && ! ls -d /var/run/dpdk/"$P"-* 2>/dev/null; }
check "no namespace, process or DPDK runtime directory left behind" leftover

echo "esp_scapy: $pass passed, $failn failed"
[ "$failn" = 0 ]
