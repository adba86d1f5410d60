#!/usr/bin/env bash
# Namespace test: espgw's IKEv2 driver against strongSwan 5.9 (charon with the kernel-libipsec
# userspace ESP backend, which always speaks ESP in UDP 4500).
#
#   [ns $P-h1] h1-eth0 ==== gw-lan [ns $P-gw: espgw] gw-wan ==== sw-eth0 [ns $P-sw: charon]
#   192.0.2.2/24            192.0.2.1/24   203.0.113.1/24        203.0.113.2/24
#                                                                 lo: 198.51.100.1/32 (the host behind it)
#
# The nat case puts a masquerading router between espgw and charon:
#
#   gw-wan ==== nat-out [ns $P-nat: nft masquerade, UDP to ports 20000-29999] nat-in ==== sw-eth0
#   203.0.113.1  203.0.113.2                                      198.51.100.129/25   198.51.100.130/25
#
# IKEv2 PSK; by default aes128gcm16-prfsha256-x25519 and ESP aes128gcm16; the child is
# 192.0.2.0/24 <=> 198.51.100.1/32. Every case gets a fresh topology, espgw and charon.
#   espgw-init  espgw initiates: pings and a 3 s iperf3 TCP run through the tunnel, SPIs match
#   sw-init     charon initiates, espgw responds
#   trap        espgw's child has start_action trap: no IKE until h1 pings; the first packets
#               are dropped (ike_acquire) and start the IKE SA, then pings pass
#   prop-cbc    aes256-sha256-modp2048 / ESP aes256-sha256
#   prop-384    aes256gcm16-prfsha384-ecp384 / ESP aes256gcm16
#   rekey-gw    espgw rekeys the Child SA and charon the IKE SA under a ping stream: no loss
#   rekey-sw    charon rekeys the Child SA and espgw the IKE SA under a ping stream: no loss
#   rekey-bytes espgw's Child SA has rekey_bytes 64 KiB (no rekey by time): the data plane's soft
#               lifetime makes espgw rekey under a 20 pps ping stream, with no loss
#   dpd         charon is killed: espgw's DPD declares the peer dead; charon comes back and
#               espgw's restart action brings the tunnel up again
#   nat         charon behind the NAT initiates: espgw sees the NAT and follows the mapped port
#   ipv6        IKE and ESP over IPv6 on the wan link (2001:db8:203::1 <-> ::2), the same IPv4
#               child inside: espgw initiates, pings pass, SPIs match
# Misconfigurations, each diagnosed in `espgw status` (and espgw's log):
#   bad-psk     another PSK on charon                      -> AUTHENTICATION_FAILED
#   bad-id      espgw expects another ID from charon       -> identity mismatch
#   no-prop     charon offers only IKE aes256-sha256-modp2048 (espgw responds) -> both offers shown
#   no-esp      charon accepts only ESP aes256gcm16        -> NO_PROPOSAL_CHOSEN for the child
#   bad-ts      espgw asks for 198.51.100.64/26            -> TS_UNACCEPTABLE
#   no-answer   nft drops UDP 500 in charon's namespace    -> no answer to IKE_SA_INIT
# KEEP_WORK=1 keeps configs and logs; ONLY="case ..." runs a subset.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ESPGW=${ESPGW:-$ROOT/target/release/espgw}
CHARON=${CHARON:-/usr/lib/ipsec/charon}
P=espgw-ike$$
H1="$P-h1"; GW="$P-gw"; SW="$P-sw"; NAT="$P-nat"

WORK=$(mktemp -d /tmp/espgw-ike.XXXXXX)
# shellcheck source=lib.sh
. "$ROOT/tests/netns/lib.sh"
PID=""; CPID=""; T0=$(date +%s)

topo_down() {
    for ns in "$H1" "$GW" "$SW" "$NAT"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    return 0
}
cleanup() {
    trap - EXIT INT TERM
    stop_pid "$CPID"; stop_pid "$PID"
    topo_down
    if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    rm -rf /var/run/dpdk/"$P"-*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# topo_up [nat]
topo_up() {
    topo_down
    local ns nss=("$H1" "$GW" "$SW")
    [ "${1:-}" = nat ] && nss+=("$NAT")
    for ns in "${nss[@]}"; do ip netns add "$ns" || return 1; ip -n "$ns" link set lo up; done
    ip link add h1-eth0 netns "$H1" type veth peer name gw-lan netns "$GW" || return 1
    ip netns exec "$GW" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "$GW" link set gw-lan up
    # Kernel-built packets leave with complete checksums (espgw verifies UDP checksums).
    ip netns exec "$H1" ethtool -K h1-eth0 tx off >/dev/null 2>&1
    ip -n "$H1" addr add 192.0.2.2/24 dev h1-eth0
    ip -n "$H1" link set h1-eth0 up
    ip -n "$H1" route add default via 192.0.2.1
    ip -n "$SW" addr add 198.51.100.1/32 dev lo
    if [ "${1:-}" = nat ]; then
        ip link add gw-wan netns "$GW" type veth peer name nat-out netns "$NAT" || return 1
        ip link add nat-in netns "$NAT" type veth peer name sw-eth0 netns "$SW" || return 1
        ip -n "$NAT" addr add 203.0.113.2/24 dev nat-out
        ip -n "$NAT" addr add 198.51.100.129/25 dev nat-in
        ip -n "$NAT" link set nat-out up; ip -n "$NAT" link set nat-in up
        ip netns exec "$NAT" ethtool -K nat-out tx off >/dev/null 2>&1
        ip netns exec "$NAT" sysctl -qw net.ipv4.ip_forward=1
        ip netns exec "$NAT" nft -f - <<'NFT' || return 1
table ip espgw_test_nat {
    chain post {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "nat-out" ip saddr 198.51.100.128/25 meta l4proto udp masquerade to :20000-29999
    }
}
NFT
        ip -n "$SW" addr add 198.51.100.130/25 dev sw-eth0
        ip -n "$SW" link set sw-eth0 up
        ip -n "$SW" route add default via 198.51.100.129
    else
        ip link add gw-wan netns "$GW" type veth peer name sw-eth0 netns "$SW" || return 1
        ip -n "$SW" addr add 203.0.113.2/24 dev sw-eth0
        ip -n "$SW" link set sw-eth0 up
    fi
    ip netns exec "$SW" ethtool -K sw-eth0 tx off >/dev/null 2>&1
    [ "${1:-}" = v6 ] && ip -n "$SW" addr add 2001:db8:203::2/64 dev sw-eth0 nodad
    ip -n "$GW" link set gw-wan up
}

# What a case changes, reset by `defaults`. espgw (E_*) and charon (S_*) settings.
defaults() {
    E_START=start; E_IKE=aes128gcm16-prfsha256-x25519; E_ESP=aes128gcm16
    E_REMOTE_ID=gw-b@example.org; E_REMOTE_TS=198.51.100.1/32
    E_IKE_REKEY=14400; E_CHILD_REKEY=3600; E_DPD="{ interval: 30, action: clear }"
    E_RETRANSMIT="{ timeout_ms: 1000, tries: 3 }"; E_CHILD_EXTRA=""; E_FRAGMENT_SIZE=1280; S_CHARON_EXTRA=""
    S_PSK="correct horse battery staple"; S_IKE=aes128gcm16-prfsha256-x25519; S_ESP=aes128gcm16
    S_LOCAL=203.0.113.2; S_IKE_TIMES="rekey_time = 0"; S_CHILD_TIMES="rekey_time = 0"
    NATTOPO=""; BEFORE_ESPGW=""
    E_LOCAL=203.0.113.1; E_REMOTE=203.0.113.2; S_REMOTE=203.0.113.1; E_WAN_ADDRS='"203.0.113.1/24"'
}

espgw_config() { # espgw_config FILE CASE
    cat > "$1" <<YAML
# Generated by tests/netns/ike_strongswan.sh ($2)
eal: { main_lcore: 0, memory_mb: 256, file_prefix: $P-$2 }
ports:
  - { name: lan, device: "net_af_packet0,iface=gw-lan", addresses: ["192.0.2.1/24"] }
  - { name: wan, device: "net_af_packet1,iface=gw-wan", addresses: [$E_WAN_ADDRS] }
routes:
  - { prefix: 198.51.100.0/24, via: 203.0.113.2 }
workers:
  - { lcore: 1, rx: ["lan:0", "wan:0"] }
control: { socket: $WORK/$2.sock }
metrics: { listen: "127.0.0.1:9464" }
dataplane: { idle_sleep_max_us: 1000 }
log: { level: "info,gateway::ike=debug" }
ike:
  peers:
    - name: sw
      local: $E_LOCAL
      remote: $E_REMOTE
      local_id: gw-a@example.org
      remote_id: $E_REMOTE_ID
      psk: "correct horse battery staple"
      ike_proposals: [$E_IKE]
      ike_rekey_seconds: $E_IKE_REKEY
      dpd: $E_DPD
      retransmit: $E_RETRANSMIT
      fragment_size: $E_FRAGMENT_SIZE
      children:
        - name: net
          local_ts: [192.0.2.0/24]
          remote_ts: [$E_REMOTE_TS]
          esp_proposals: [$E_ESP]
          rekey_seconds: $E_CHILD_REKEY
          start_action: $E_START
$E_CHILD_EXTRA
YAML
}

charon_config() { # charon_config DIR
    local d=$1
    mkdir -p "$d/run"
    cat > "$d/strongswan.conf" <<CONF
charon {
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 pubkey curve25519 gmp kernel-libipsec kernel-netlink socket-default updown vici
  install_routes = yes
  retransmit_tries = 3
  $S_CHARON_EXTRA
  plugins {
    vici { socket = unix://$d/charon.vici }
    kernel-libipsec { allow_peer_ts = no }
  }
  filelog {
    main { path = $d/charon.log
           time_format = %T
           default = 1
           ike = 2
           chd = 2
           knl = 1
           esp = 1
           flush_line = yes
           append = yes }
  }
  syslog { daemon { default = -1 } }
}
swanctl { socket = unix://$d/charon.vici }
CONF
    cat > "$d/swanctl.conf" <<CONF
connections {
  gw {
    version = 2
    local_addrs = $S_LOCAL
    remote_addrs = $S_REMOTE
    proposals = $S_IKE
    $S_IKE_TIMES
    local { auth = psk
            id = gw-b@example.org }
    remote { auth = psk
             id = gw-a@example.org }
    children {
      net {
        local_ts = 198.51.100.1/32
        remote_ts = 192.0.2.0/24
        esp_proposals = $S_ESP
        mode = tunnel
        start_action = none
        $S_CHILD_TIMES
      }
    }
  }
}
secrets {
  ike-gw {
    id-a = gw-a@example.org
    id-b = gw-b@example.org
    secret = "$S_PSK"
  }
}
CONF
}

swanctl_() { STRONGSWAN_CONF="$SWD/strongswan.conf" ip netns exec "$SW" swanctl "$@" --uri "unix://$SWD/charon.vici"; }
status() { "$ESPGW" status -s "$WORK/$CASE.sock" "$@"; }
# wait_file PATTERN FILE [SECONDS]: PATTERN (grep -E) shows up in FILE.
wait_file() {
    local n=$((${3:-5} * 5))
    for _ in $(seq 1 "$n"); do grep -qE "$1" "$2" && return 0; sleep 0.2; done
    return 1
}
# A real Prometheus server in espgw's namespace scrapes it every second; its query API must
# return a nonzero packet counter for the Child SA espgw sends on, and the IKE SA as established.
prom_scrape() {
    mkdir -p "$WORK/prom"
    cat >"$WORK/prom/prometheus.yml" <<PROM
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: espgw
    static_configs: [{ targets: ["127.0.0.1:9464"] }]
PROM
    ip netns exec "$GW" prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
        --web.listen-address=127.0.0.1:9090 >"$WORK/prom/log" 2>&1 &
    local pp=$! i pk st q
    q() { ip netns exec "$GW" curl -sf "http://127.0.0.1:9090/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null; }
    for i in $(seq 1 60); do
        pk=$(q 'sum(espgw_sa_packets_total{sa=~"sw/net.*-out"})'); st=$(q 'espgw_ike_sas{peer="sw",state="established"}')
        if [ -n "$pk" ] && [ "$pk" != "0" ] && [ "$st" = "1" ]; then
            echo "sum(espgw_sa_packets_total{sa=~\"sw/net.*-out\"}) = $pk, espgw_ike_sas{peer=\"sw\",state=\"established\"} = $st (from Prometheus)"
            kill "$pp" 2>/dev/null; wait "$pp" 2>/dev/null; return 0
        fi
        sleep 0.5
    done
    tail -5 "$WORK/prom/log"; kill "$pp" 2>/dev/null; wait "$pp" 2>/dev/null; return 1
}
# espgw reload after appending a second peer to the config: same SPIs, still established.
reload_adds_peer() {
    local before after pp
    before=$(spis_now)
    ip netns exec "$H1" ping -i 0.2 -c 15 -W 1 198.51.100.1 >"$WORK/reload-ping" 2>&1 & pp=$!
    sleep 1
    cat >> "$WORK/$CASE.yaml" <<'YAML'
    - name: other
      local: 203.0.113.1
      remote: 203.0.113.9
      local_id: gw-a@example.org
      psk: "another secret, not used"
      ike_proposals: [aes128gcm16-prfsha256-x25519]
      children:
        - { name: x, local_ts: [192.0.2.0/24], remote_ts: [198.51.100.128/25], esp_proposals: [aes128gcm16], start_action: none }
YAML
    "$ESPGW" reload -s "$WORK/$CASE.sock" || return 1
    sleep 1
    after=$(spis_now)
    wait "$pp"
    echo "before: $before"; echo "after:  $after"; grep "packet loss" "$WORK/reload-ping"
    [ "$before" = "$after" ] && [ "$(sj 'p["state"]')" = established ] && status | grep -q "^  other " &&
        grep -q " 15 received, 0% packet loss" "$WORK/reload-ping"
}
# espgw reload after changing sw's IKE rekey time: sw is deleted at charon and comes back.
reload_changes_sw() {
    local before deletes
    before=$(spis_now); deletes=$(grep -c "received DELETE for IKE_SA" "$SWD/charon.log")
    sed -i '0,/ike_rekey_seconds:.*/s//ike_rekey_seconds: 3000/' "$WORK/$CASE.yaml"
    "$ESPGW" reload -s "$WORK/$CASE.sock" || return 1
    for _ in $(seq 1 50); do
        [ "$(grep -c "received DELETE for IKE_SA" "$SWD/charon.log")" -gt "$deletes" ] && break; sleep 0.1
    done
    [ "$(grep -c "received DELETE for IKE_SA" "$SWD/charon.log")" -gt "$deletes" ] || { echo "charon saw no new delete"; return 1; }
    for _ in $(seq 1 50); do
        [ "$(sj 'p["state"]')" = established ] && [ "$(spis_now)" != "$before" ] && sj 'len([c for c in p["children"] if c["installed"]])' | grep -qx 1 && return 0
        sleep 0.2
    done
    status; return 1
}
# diag PATTERN...: `espgw diagnose sw` prints every pattern (fixed strings).
diag() {
    "$ESPGW" diagnose sw -s "$WORK/$CASE.sock" >"$WORK/$CASE.diag" 2>&1 || { cat "$WORK/$CASE.diag"; return 1; }
    local p; for p in "$@"; do grep -qF -- "$p" "$WORK/$CASE.diag" || { cat "$WORK/$CASE.diag"; echo "missing: $p"; return 1; }; done
}

start_charon() {
    rm -f "$SWD/charon.vici"
    STRONGSWAN_CONF="$SWD/strongswan.conf" ip netns exec "$SW" \
        sh -c "mount --bind '$SWD/run' /run && exec '$CHARON'" >>"$SWD/stdout.log" 2>&1 &
    CPID=$!
    for _ in $(seq 1 50); do [ -S "$SWD/charon.vici" ] && break; sleep 0.1; done
    swanctl_ --load-all --file "$SWD/swanctl.conf" >"$SWD/load.log" 2>&1 \
        || { bad "$CASE: swanctl --load-all"; cat "$SWD/load.log"; return 1; }
}

start_case() { # start_case CASE (after defaults and the case's settings)
    CASE=$1; SWD=$WORK/sw-$1
    topo_up $NATTOPO || { bad "$CASE: topology"; return 1; }
    charon_config "$SWD"
    espgw_config "$WORK/$CASE.yaml" "$CASE"
    start_charon || return 1
    [ -z "$BEFORE_ESPGW" ] || eval "$BEFORE_ESPGW"
    ip netns exec "$GW" "$ESPGW" run -c "$WORK/$CASE.yaml" >"$WORK/$CASE.log" 2>&1 &
    PID=$!
    wait_socket "$WORK/$CASE.sock" "$PID" && return 0
    bad "$CASE: espgw did not come up"; tail -20 "$WORK/$CASE.log"; return 1
}
end_case() {
    stop_pid "$PID"; PID=""
    stop_pid "$CPID"; CPID=""
}
# run_case NAME DESCRIPTION: whether NAME is selected (ONLY), printing the header.
run_case() {
    [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]] || return 1
    echo "case $1: $2"
    defaults
}

# jq-like access to `espgw status --json` with a Python expression over `s` (the document)
# and `p` (the first IKE peer).
sj() { status --json | python3 -c 'import json,sys
s=json.load(sys.stdin); p=s["ike"][0]
v=eval(sys.argv[1]); print(v)' "$1"; }

# "<state> <installed children>" from espgw status
ike_state() { sj '"%s %d" % (p["state"], sum(1 for c in p["children"] if c["installed"]))'; }
wait_up() { # wait_up [SECONDS]
    local n=$((${1:-20} * 5))
    for _ in $(seq 1 "$n"); do [ "$(ike_state 2>/dev/null)" = "established 1" ] && return 0; sleep 0.2; done
    ike_state; status; return 1
}
# wait_status PATTERN SECONDS: until `espgw status` (text) matches the extended regex.
wait_status() {
    local n=$(($2 * 5))
    for _ in $(seq 1 "$n"); do status 2>/dev/null | grep -qE "$1" && { status | grep -E "$1"; return 0; }; sleep 0.2; done
    status; return 1
}

# espgw's child SPIs vs charon's: espgw in == charon out and espgw out == charon in.
spis_match() {
    local e s
    e=$(sj '"%08x %08x" % (p["children"][0]["spi_in"], p["children"][0]["spi_out"])')
    swanctl_ --list-sas --raw > "$WORK/$CASE.sas"
    s=$(python3 -c 'import re,sys
t=sys.stdin.read()
sas=re.findall(r"state=(\w+) [^{}]*?spi-in=([0-9a-f]+) spi-out=([0-9a-f]+)", t)
live=[(o, i) for st, i, o in sas if st == "INSTALLED"]
print(" ".join(live[0]) if len(live) == 1 else "installed: %s" % live)' < "$WORK/$CASE.sas")
    echo "espgw in/out: $e   strongSwan out/in: $s"
    [ -n "$e" ] && [ "$e" = "$s" ]
}
# Both directions of the Child SA carried the pings on charon's side too.
sw_counted() {
    swanctl_ --list-sas --raw | python3 -c 'import re,sys
t=sys.stdin.read(); i=re.search(r"packets-in=([0-9]+)", t); o=re.search(r"packets-out=([0-9]+)", t)
print(t[-400:]); sys.exit(0 if i and o and int(i.group(1))>=3 and int(o.group(1))>=3 else 1)'
}
ping_through() { ip netns exec "$H1" ping -c 3 -i 0.3 -W 2 198.51.100.1; }
# negotiated IKE_REGEX ESP: espgw's IKE proposal (status --json) matches IKE_REGEX, and both data-plane SAs
# use the ESP transform named ESP (strongSwan's keyword).
negotiated() {
    local ike esp
    ike=$(sj 'p["proposal"]'); esp=$(sj '" ".join(sorted(set(x["algorithm"] for x in s["ipsec"]["sas"])))')
    echo "espgw: $ike"; echo "espgw data plane: $esp"
    echo "$ike" | grep -qE "$1" && [ "$esp" = "$2" ]
}
# charon logged the CHILD_SA it made with the SPI espgw sends on.
sw_logged_spi() {
    local e; e=$(sj '"%08x" % p["children"][0]["spi_out"]')
    grep -i "CHILD_SA net{[0-9]*} established with SPIs ${e}_i" "$SWD/charon.log"
}
# The IKE and Child SPIs espgw shows, on one line.
spis_now() { sj '"%s %s %08x %08x" % (p["spi_i"], p["spi_r"], p["children"][0]["spi_in"], p["children"][0]["spi_out"])'; }
# Nothing of this peer left in the data plane.
no_sa_left() { [ "$(sj 'len(s["ipsec"]["sas"])')" = 0 ]; }

# 3 s of TCP from h1 to an iperf3 server on 198.51.100.1 (behind charon) through the tunnel.
iperf_through() {
    ip netns exec "$SW" iperf3 -s -1 -B 198.51.100.1 -p 5201 >"$WORK/iperf3-server.log" 2>&1 &
    local spid=$! ok=1 b0 b1
    wait_listen "$SW" 5201
    b0=$(sj 'sum(x["bytes"] for x in s["ipsec"]["sas"] if x["direction"] == "out")')
    ip netns exec "$H1" timeout 20 iperf3 -c 198.51.100.1 -p 5201 -t 3 -J >"$WORK/iperf3.json" 2>&1 || ok=0
    b1=$(sj 'sum(x["bytes"] for x in s["ipsec"]["sas"] if x["direction"] == "out")')
    stop_pid "$spid"
    python3 - "$WORK/iperf3.json" "$ok" "$b0" "$b1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if "error" in r:
    sys.exit("iperf3: " + r["error"])
e = r["end"]
sent, rcvd = e["sum_sent"]["bytes"], e["sum_received"]["bytes"]
esp = int(sys.argv[4]) - int(sys.argv[3])
print("iperf3 TCP 3 s: sent %d B, received %d B, %.1f Mbit/s, %d retransmits; espgw's outbound SA: %d B" % (
    sent, rcvd, e["sum_received"]["bits_per_second"] / 1e6, e["sum_sent"].get("retransmits", 0), esp))
# Everything the server received went through espgw's outbound SA (no plain-text leak).
sys.exit(0 if sys.argv[2] == "1" and rcvd > 0 and esp >= rcvd else 1)
PY
}

# A ping stream of N packets every 0.2 s (or as ping's further ARGS say): run in the
# background, then `ping_stream_done`.
ping_stream() { # ping_stream N [ARGS...]
    local n=$1; shift
    ip netns exec "$H1" ping -i 0.2 -c "$n" -W 2 "$@" 198.51.100.1 >"$WORK/$CASE.ping" 2>&1 &
    PINGPID=$!
}
ping_stream_done() { # no packet lost
    for _ in $(seq 1 100); do kill -0 "$PINGPID" 2>/dev/null || break; sleep 0.2; done
    tail -3 "$WORK/$CASE.ping"
    grep -q " 0% packet loss" "$WORK/$CASE.ping"
}

[ -x "$ESPGW" ] || { echo "no espgw binary at $ESPGW (make build)"; echo "ike_strongswan: 0 passed, 1 failed"; exit 1; }
[ -x "$CHARON" ] || { echo "no charon at $CHARON (make deps)"; echo "ike_strongswan: 0 passed, 1 failed"; exit 1; }

if run_case espgw-init "espgw initiates, strongSwan responds; ping and iperf3"; then
    if start_case espgw-init; then
        check "IKE SA established and Child SA installed in espgw" wait_up
        check "h1 pings 198.51.100.1 through the tunnel" ping_through
        check "Child SA SPIs in espgw match strongSwan's (in<->out)" spis_match
        check "strongSwan log: CHILD_SA established with espgw's SPI" sw_logged_spi
        check "strongSwan counted the pings both ways on that SA" sw_counted
        check "iperf3 TCP h1 -> 198.51.100.1 for 3 s completed and moved bytes" iperf_through
        sed 's/^/       /' "$WORK/out" | tail -1
        status > "$WORK/espgw-init.status" 2>&1
        sed -n '/IKE peers/,/^$/p' "$WORK/espgw-init.status" | sed 's/^/       /'
        check "a Prometheus server scrapes espgw; its query API returns the Child SA's packets and the IKE state" prom_scrape
        check "espgw tunnel down sw: answered" "$ESPGW" tunnel down sw -s "$WORK/$CASE.sock"
        check "status shows admin-down and no SA is left in the data plane" \
            sh -c "for i in \$(seq 1 25); do [ \"\$('$ESPGW' status -s '$WORK/$CASE.sock' --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s[\"ike\"][0][\"state\"], len(s[\"ipsec\"][\"sas\"]))')\" = 'admin-down 0' ] && exit 0; sleep 0.2; done; exit 1"
        check "strongSwan log: it received our IKE_SA delete" wait_file "received DELETE for IKE_SA" "$SWD/charon.log"
        sleep 3
        check "it stays down (no initiation while down)" sh -c "[ \"\$('$ESPGW' status -s '$WORK/$CASE.sock' --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"ike\"][0][\"state\"])')\" = admin-down ]"
        check "espgw tunnel up sw: the tunnel is back and pings pass" \
            sh -c "'$ESPGW' tunnel up sw -s '$WORK/$CASE.sock' && for i in \$(seq 1 50); do '$ESPGW' status -s '$WORK/$CASE.sock' --json | grep -q '\"installed\": *true' && exit 0; sleep 0.2; done; exit 1"
        check "h1 pings 198.51.100.1 through the new tunnel" ping_through
        check "espgw reload with a peer added: sw's IKE and Child SAs untouched, no ping lost across it" reload_adds_peer
        check "espgw reload with sw's ike_rekey_seconds changed: sw deleted and negotiated anew" reload_changes_sw
        check "h1 pings 198.51.100.1 after the reloads" ping_through
    fi
    end_case
fi

if run_case sw-init "strongSwan initiates, espgw responds"; then
    E_START=none
    if start_case sw-init; then
        swanctl_ --initiate --child net --timeout 10 >"$SWD/initiate.log" 2>&1
        check "swanctl --initiate succeeded" grep -q "initiate completed successfully" "$SWD/initiate.log"
        check "IKE SA established and Child SA installed in espgw (responder)" wait_up
        check "h1 pings 198.51.100.1 through the tunnel" ping_through
        check "Child SA SPIs in espgw match strongSwan's (in<->out)" spis_match
        check "strongSwan counted the pings both ways on that SA" sw_counted
    fi
    end_case
fi

if run_case trap "start_action trap: h1's first ping makes espgw initiate, then pings pass"; then
    E_START=trap
    if start_case trap; then
        sleep 3
        check "no IKE SA after 3 s without traffic (espgw down, strongSwan has none)" \
            sh -c "test \"\$('$ESPGW' status -s '$WORK/trap.sock' --json | python3 -c 'import json,sys; p=json.load(sys.stdin)[\"ike\"][0]; print(p[\"state\"], p[\"counters\"][\"ike_established\"])')\" = 'down 0' && ! grep -q 'IKE_SA_INIT' '$SWD/charon.log'"
        check "espgw status: the outbound trap policy is installed" \
            sh -c "'$ESPGW' status -s '$WORK/trap.sock' --json | grep -c 'trap (traffic starts IKE)'"
        ip netns exec "$H1" ping -c 2 -i 0.5 -W 1 198.51.100.1 >"$WORK/trap.first-ping" 2>&1
        check "the first packets were dropped as ike_acquire" \
            test "$(sj 'sum(d["packets"] for d in s["drops"] if d["reason"] == "ike_acquire")')" -ge 1
        check "IKE SA established and Child SA installed in espgw (initiator)" wait_up
        check "espgw log: traffic on a trap started the IKE SA" grep -q "traffic on a trap: initiating IKE SA" "$WORK/$CASE.log"
        check "h1 pings 198.51.100.1 through the tunnel" ping_through
        check "Child SA SPIs in espgw match strongSwan's (in<->out)" spis_match
    fi
    end_case
fi

if run_case prop-cbc "aes256-sha256-modp2048, ESP aes256-sha256 (espgw initiates)"; then
    E_IKE=aes256-sha256-modp2048; E_ESP=aes256-sha256; S_IKE=$E_IKE; S_ESP=$E_ESP
    if start_case prop-cbc; then
        check "IKE SA established and Child SA installed in espgw" wait_up
        check "negotiated AES_CBC_256/HMAC_SHA2_256/MODP_2048 and ESP AES-CBC-256 HMAC-SHA-256" \
            negotiated "AES_CBC_256.*HMAC_SHA2_256.*MODP_2048" aes256-sha256
        check "h1 pings 198.51.100.1 through the tunnel" ping_through
        check "Child SA SPIs in espgw match strongSwan's (in<->out)" spis_match
    fi
    end_case
fi

if run_case prop-384 "aes256gcm16-prfsha384-ecp384, ESP aes256gcm16 (espgw initiates)"; then
    E_IKE=aes256gcm16-prfsha384-ecp384; E_ESP=aes256gcm16; S_IKE=$E_IKE; S_ESP=$E_ESP
    if start_case prop-384; then
        check "IKE SA established and Child SA installed in espgw" wait_up
        check "negotiated AES_GCM_16_256/HMAC_SHA2_384/ECP_384 and ESP AES-GCM-256" \
            negotiated "AES_GCM_16_256.*SHA2_384.*ECP_384" aes256gcm16
        check "h1 pings 198.51.100.1 through the tunnel" ping_through
        check "Child SA SPIs in espgw match strongSwan's (in<->out)" spis_match
    fi
    end_case
fi

# rekey_case NAME: a 16 s ping stream (every 0.2 s) across the rekeys the settings cause.
rekey_case() {
    local before after
    check "IKE SA established and Child SA installed in espgw" wait_up || return
    before=$(spis_now)
    ping_stream 80
    sleep 16.5
    check "no ping lost across the rekeys (ping -i 0.2, 16 s)" ping_stream_done
    after=$(spis_now)
    echo "       IKE i/r, child in/out before: $before"
    echo "       IKE i/r, child in/out after:  $after"
    check "IKE SA and Child SA SPIs changed" test "${before%% *}" != "${after%% *}" -a \
        "$(echo "$before" | cut -d' ' -f3)" != "$(echo "$after" | cut -d' ' -f3)"
    # Rekeys go on every 5 s: a sample taken while one is under way can see new SPIs on one
    # side and old on the other, or the old and the new Child SA both installed for a moment.
    check "Child SA SPIs in espgw match strongSwan's after the rekeys" wait_for 3 spis_match
    check "exactly one Child SA left in espgw, installed" wait_for 3 one_child
}
one_child() { [ "$(ike_state)" = "established 1" ] || { ike_state; return 1; }; }

if run_case rekey-gw "espgw rekeys the Child SA every 5 s, strongSwan the IKE SA every 7 s"; then
    E_CHILD_REKEY=5; E_IKE_REKEY=0
    S_IKE_TIMES="rekey_time = 7s
    rand_time = 0s
    over_time = 60s"
    if start_case rekey-gw; then
        rekey_case
        check "espgw log: Child SA rekeyed (by espgw) and IKE SA rekeyed (by strongSwan)" \
            sh -c "grep -c 'Child SA rekeyed' '$WORK/$CASE.log' && grep -c 'IKE SA rekeyed' '$WORK/$CASE.log'"
        check "strongSwan log: it rekeyed the IKE SA, and answered espgw's CHILD_SA rekeys" \
            sh -c "grep -E 'IKE_SA gw\\[[0-9]+\\] rekeyed between' '$SWD/charon.log' && grep -E 'rekey|REKEY' '$SWD/charon.log' | grep -i child | head -3"
    fi
    end_case
fi

if run_case rekey-sw "strongSwan rekeys the Child SA every 5 s, espgw the IKE SA every 7 s"; then
    E_CHILD_REKEY=0; E_IKE_REKEY=7
    S_CHILD_TIMES="rekey_time = 5s
        rand_time = 0s
        life_time = 60s"
    if start_case rekey-sw; then
        rekey_case
        check "espgw log: Child SA rekeyed (by strongSwan) and IKE SA rekeyed (by espgw)" \
            sh -c "grep -c 'Child SA rekeyed' '$WORK/$CASE.log' && grep -c 'IKE SA rekeyed' '$WORK/$CASE.log'"
        check "strongSwan log: it rekeyed the CHILD_SA, and the IKE SA was rekeyed" \
            sh -c "grep -Ei 'rekeying CHILD_SA|establishing CHILD_SA net.*reqid' '$SWD/charon.log' | head -2 && grep -E 'IKE_SA gw\\[[0-9]+\\] rekeyed between' '$SWD/charon.log'"
    fi
    end_case
fi

if run_case rekey-bytes "espgw's soft byte lifetime (64 KiB) rekeys the Child SA under a ping stream"; then
    E_CHILD_REKEY=0; E_IKE_REKEY=0
    E_CHILD_EXTRA="          rekey_bytes: 65536
          life_bytes: 10000000"
    if start_case rekey-bytes; then
        check "IKE SA established and Child SA installed in espgw" wait_up
        before=$(spis_now)
        # 20 pings of 1228 bytes a second: about 25 kB/s each way, a rekey every ~3 s.
        ping_stream 160 -i 0.05 -s 1200
        sleep 8.5
        check "no ping lost across the rekeys (ping -i 0.05 -s 1200, 8 s)" ping_stream_done
        after=$(spis_now)
        echo "       IKE i/r, child in/out before: $before"
        echo "       IKE i/r, child in/out after:  $after"
        check "Child SA SPIs changed, IKE SA SPIs did not" test "${before%% *}" = "${after%% *}" -a \
            "$(echo "$before" | cut -d' ' -f3)" != "$(echo "$after" | cut -d' ' -f3)"
        check "espgw log: soft lifetime (bytes) reached, Child SA rekeyed" \
            sh -c "grep 'soft lifetime reached: rekeying the Child SA' '$WORK/$CASE.log' | grep -c bytes && grep -c 'Child SA rekeyed' '$WORK/$CASE.log'"
        check "Child SA SPIs in espgw match strongSwan's after the rekeys" spis_match
        check "exactly one Child SA left in espgw, installed" test "$(ike_state)" = "established 1"
    fi
    end_case
fi

if run_case dpd "strongSwan killed: espgw's DPD declares it dead; it returns, the tunnel too"; then
    E_DPD="{ interval: 2, action: restart }"; E_RETRANSMIT="{ timeout_ms: 500, tries: 3 }"
    if start_case dpd; then
        check "IKE SA established and Child SA installed in espgw" wait_up
        check "h1 pings 198.51.100.1 through the tunnel" ping_through
        kill -9 "$CPID"; CPID=""; t=$(date +%s)
        check "espgw status shows DPD declared the peer dead (within 15 s)" \
            wait_status "last failure .*peer dead \(DPD" 15
        echo "       after $(($(date +%s) - t)) s: $(status | grep 'last failure')"
        check "no SA left in espgw's data plane after the peer died" no_sa_left
        start_charon
        check "the tunnel is re-established by espgw's restart (within 40 s)" wait_up 40
        echo "       $(($(date +%s) - t)) s after the kill"
        check "h1 pings 198.51.100.1 through the new tunnel" ping_through
        check "Child SA SPIs in espgw match the restarted strongSwan's" spis_match
    fi
    end_case
fi

if run_case nat "strongSwan behind an nft masquerade initiates; espgw floats to the mapped port"; then
    E_START=none; S_LOCAL=198.51.100.130; NATTOPO=nat
    if start_case nat; then
        swanctl_ --initiate --child net --timeout 10 >"$SWD/initiate.log" 2>&1
        check "swanctl --initiate through the NAT succeeded" grep -q "initiate completed successfully" "$SWD/initiate.log"
        check "IKE SA established and Child SA installed in espgw (responder)" wait_up
        check "espgw status: NAT detected, peer behind a NAT (UDP 4500)" wait_status "NAT: .*peer behind a NAT \(UDP 4500\)" 2
        check "espgw diagnose: up, NAT named" diag "Tunnel sw (" "IKEv2): UP" "NAT: " "behind a NAT"
        check "espgw's Child SAs use UDP 4500 to the NAT-mapped port (20000-29999)" \
            sh -c "'$ESPGW' status -s '$WORK/nat.sock' | grep -E ' udp 4500->2[0-9]{4} ' | grep -c 'sw/net-'"
        check "h1 pings 198.51.100.1 through the tunnel and the NAT" ping_through
        check "strongSwan log: it is behind a NAT" grep -q "local host is behind NAT" "$SWD/charon.log"
        check "Child SA SPIs in espgw match strongSwan's (in<->out)" spis_match
    fi
    end_case
fi

if run_case ipv6 "IKE and ESP over IPv6 outer addresses (IPv4 child inside), espgw initiates"; then
    NATTOPO=v6; E_LOCAL=2001:db8:203::1; E_REMOTE=2001:db8:203::2; S_LOCAL=$E_REMOTE; S_REMOTE=$E_LOCAL
    E_WAN_ADDRS='"203.0.113.1/24", "2001:db8:203::1/64"'
    if start_case ipv6; then
        check "IKE SA established over IPv6 and Child SA installed in espgw" wait_up
        check "espgw status: the peer is 2001:db8:203::2" test "$(sj 'p["remote"]')" = 2001:db8:203::2
        check "espgw's data-plane SAs have IPv6 outer addresses" \
            test "$(sj 'sorted(set((x["local"], x["remote"]) for x in s["ipsec"]["sas"]))')" = "[('2001:db8:203::1', '2001:db8:203::2')]"
        check "h1 pings 198.51.100.1 through the tunnel" ping_through
        check "Child SA SPIs in espgw match strongSwan's (in<->out)" spis_match
        check "strongSwan counted the pings both ways on that SA" sw_counted
    fi
    end_case
fi

# strongSwan's IKE_AUTH request (ten ESP proposals) is over its 400-byte fragment size, and
# espgw's answer over espgw's 200: both go out as RFC 7383 fragments.
if run_case frag "IKE fragmentation both ways: strongSwan fragment_size 400, espgw 200; strongSwan initiates"; then
    E_START=none; E_FRAGMENT_SIZE=200; S_CHARON_EXTRA="fragment_size = 400"
    S_ESP=aes256gcm16-esn,aes256-sha512,aes256-sha384,aes128-sha256-esn,aes256-sha1,aes192gcm16,aes256-sha256-esn,aes192-sha256,aes128-sha1,aes128gcm16
    if start_case frag; then
        swanctl_ --initiate --child net --timeout 10 >"$SWD/initiate.log" 2>&1
        check "swanctl --initiate succeeded" grep -q "initiate completed successfully" "$SWD/initiate.log"
        check "IKE SA established and Child SA installed in espgw (responder)" wait_up
        check "h1 pings 198.51.100.1 through the tunnel" ping_through
        check "Child SA SPIs in espgw match strongSwan's (in<->out)" spis_match
        check "strongSwan log: it split its IKE_AUTH request into fragments" \
            grep -E "splitting IKE message \([0-9]+ bytes\) into [2-9] fragments" "$SWD/charon.log"
        check "strongSwan log: it reassembled espgw's fragmented IKE_AUTH response" \
            grep -E "received fragment #[0-9] of [2-9], reassembled fragmented IKE message" "$SWD/charon.log"
    fi
    end_case
fi

if run_case bad-psk "strongSwan has another PSK, espgw initiates"; then
    S_PSK="not the right secret at all"
    if start_case bad-psk; then
        check "espgw status shows the AUTHENTICATION_FAILED reason" \
            wait_status "last failure .*authentication failed: .*AUTHENTICATION_FAILED" 12
        check "espgw log says why" grep -q "IKE SA failed: authentication failed" "$WORK/$CASE.log"
        check "espgw diagnose: DOWN, check the PSK on both sides" diag "IKEv2): DOWN" "in IKE_AUTH" "PSK is identical on both sides"
        check "strongSwan log: MAC mismatched (it verified our AUTH)" grep -q "MAC mismatched\|verification of AUTH payload.*failed\|authentication of .* failed" "$SWD/charon.log"
        check "no SA left in espgw's data plane" no_sa_left
    fi
    end_case
fi

if run_case bad-id "espgw expects another ID than strongSwan's, espgw initiates"; then
    E_REMOTE_ID=gw-z@example.org
    if start_case bad-id; then
        check "espgw status shows the identity mismatch" \
            wait_status "last failure .*identity mismatch: responder authenticates as 'gw-b@example.org' but we expect 'gw-z@example.org'" 12
        check "espgw log says why" grep -q "IKE SA failed: identity mismatch" "$WORK/$CASE.log"
        check "espgw diagnose: set remote_id or the peer's local ID" diag "identity mismatch" "ike.peers[sw].remote_id"
        check "no SA left in espgw's data plane" no_sa_left
    fi
    end_case
fi

if run_case no-prop "strongSwan offers only aes256-sha256-modp2048 and initiates; espgw responds"; then
    E_START=none; S_IKE=aes256-sha256-modp2048
    if start_case no-prop; then
        swanctl_ --initiate --child net --timeout 10 >"$SWD/initiate.log" 2>&1
        check "espgw status shows NO_PROPOSAL_CHOSEN with both sides' proposals" \
            wait_status "last failure .*no proposal chosen: IKE proposals from 203.0.113.2 unacceptable: peer offered .*AES_CBC_256.*MODP_2048.*we accept .*AES_GCM_16_128.*CURVE25519" 5
        check "espgw log says why" grep -q "no proposal chosen" "$WORK/$CASE.log"
        check "espgw diagnose: no common proposal, add one of the peer's" diag "share no proposal" "AES_CBC_256" "add one of the peer's proposals"
        check "strongSwan log: received NO_PROPOSAL_CHOSEN" grep -q "received NO_PROPOSAL_CHOSEN notify error" "$SWD/charon.log"
    fi
    end_case
fi

if run_case no-esp "strongSwan accepts only ESP aes256gcm16, espgw offers aes128gcm16"; then
    S_ESP=aes256gcm16
    if start_case no-esp; then
        check "espgw status shows NO_PROPOSAL_CHOSEN for the child with our offer" \
            wait_status "last failure .*no proposal chosen: peer 203.0.113.2 accepted none of our ESP proposals for child 'net'; we offered .*AES_GCM_16_128" 12
        check "strongSwan log: received vs configured ESP proposals" \
            sh -c "grep -E 'received proposals: ESP:AES_GCM_16_128' '$SWD/charon.log' && grep -E 'configured proposals: ESP:AES_GCM_16_256' '$SWD/charon.log'"
        check "no Child SA in espgw's data plane" no_sa_left
    fi
    end_case
fi

if run_case bad-ts "espgw asks for 198.51.100.64/26 behind strongSwan, which has 198.51.100.1/32"; then
    E_REMOTE_TS=198.51.100.64/26
    if start_case bad-ts; then
        check "espgw status shows TS_UNACCEPTABLE with our selectors" \
            wait_status "last failure .*policy mismatch: .*TS_UNACCEPTABLE\): we proposed local \[192.0.2.0/24\] remote \[198.51.100.64/26\]" 12
        check "strongSwan log: traffic selectors unacceptable" grep -q "traffic selectors .* unacceptable" "$SWD/charon.log"
        check "espgw diagnose: selectors must mirror the peer's" diag "TS_UNACCEPTABLE" "local_ts / remote_ts mirror"
        check "no Child SA in espgw's data plane" no_sa_left
    fi
    end_case
fi

if run_case no-answer "nft drops UDP 500 in strongSwan's namespace; espgw initiates"; then
    E_RETRANSMIT="{ timeout_ms: 500, tries: 2 }"
    BEFORE_ESPGW='ip netns exec "$SW" nft add table ip espgw_test_drop &&
        ip netns exec "$SW" nft add chain ip espgw_test_drop in "{ type filter hook input priority 0; }" &&
        ip netns exec "$SW" nft add rule ip espgw_test_drop in udp dport 500 counter drop'
    if start_case no-answer; then
        check "espgw status shows no answer on UDP 500 (within 10 s)" \
            wait_status "last failure .*peer not answering: no answer from peer 203.0.113.2 on UDP 500.* to IKE_SA_INIT" 10
        check "espgw status shows the peer down" sh -c "'$ESPGW' status -s '$WORK/no-answer.sock' | grep -E '^  sw .* down'"
        check "espgw diagnose: check UDP 500/4500 both ways and the route" diag "IKEv2): DOWN" "in IKE_SA_INIT" "UDP 500 and UDP 4500 pass both ways" "tcpdump"
        sed 's/^/       | /' "$WORK/$CASE.diag"
    fi
    end_case
fi

echo "ike_strongswan: $pass passed, $failn failed in $(($(date +%s) - T0)) s"
[ "$failn" = 0 ]
