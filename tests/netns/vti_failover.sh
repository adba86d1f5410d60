#!/usr/bin/env bash
# Namespace test: two route-based tunnels to two far gateways: failover and load sharing.
#
# Site 1 (192.0.2.0/24) has gateway A; site 2 (198.51.100.0/24) has two gateways, B1 and B2,
# each in front of its own copy of host 198.51.100.2 (h2 behind B1, h2b behind B2), so the
# answering copy shows which tunnel carried the ping. A has two IKEv2 peers and two VTIs:
#
#   [h1] 192.0.2.2 == [A] 203.0.113.1 ==+== 203.0.113.2 [B1] == [h2]  198.51.100.2
#                       vti1 169.254.10.1/30 <-> 169.254.10.2/30 (B1)
#                       vti2 169.254.11.1/30 <-> 169.254.11.2/30 (B2)
#                                       +== 203.0.113.3 [B2] == [h2b] 198.51.100.2
#
# (the wan side is a bridge in its own namespace). FO_MODE chooses how A routes the far site:
#   bgp (default)  BIRD 2 on every gateway, eBGP over each VTI (hold time 3 s); B1 and B2 both
#                  announce 198.51.100.0/24 and A prefers B1 (B2's routes get local preference
#                  50); espgw imports BIRD's choice from the kernel table.
#   ecmp           the same with equal preference and BIRD's kernel protocol merging the two
#                  paths: a multipath kernel route, imported as an ECMP group of vti1 and vti2.
#   static         no BIRD: static routes into vti1 (metric 10) and vti2 (metric 20), the far
#                  side's routes static too; tracking: vti2 carries while vti1 has no SA.
#
# Asserts: both VTIs up (and the BGP sessions); which far gateway decrypts h1's traffic (B1;
# with ecmp, flows from 8 source addresses spread over both); B1 killed (espgw and BIRD,
# kill -9) in the middle of a 20/s ping stream: the stream moves to vti2 and h2b, and the
# pings lost are bounded (bgp, ecmp: hold time 3 s + import period 1 s, asserted < 5 s;
# static: DPD, 2 s interval and 3 retransmits of 0.5 s doubling, asserted < 10 s); B1
# restarted: A's DPD restarts the IKE SA (and BGP comes back) and B1 carries the traffic again.
FO_MODE=${FO_MODE:-bgp}
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ESPGW=${ESPGW:-$ROOT/target/release/espgw}
P=espgw-fo$$
H1="$P-h1"; A="$P-a"; B1="$P-b1"; B2="$P-b2"; H2="$P-h2"; H2B="$P-h2b"; SW="$P-sw"
WORK=$(mktemp -d /tmp/espgw-failover.XXXXXX)
PIDS=""
. "$ROOT/tests/netns/lib.sh"
. "$ROOT/tests/netns/tunnel_topology.sh"   # DEMO_PSK

down() {
    for ns in "$H1" "$A" "$B1" "$B2" "$H2" "$H2B" "$SW"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    return 0
}
cleanup() {
    trap - EXIT INT TERM
    for p in $PIDS; do stop_pid "$p"; done
    for b in a b1 b2; do [ -f "$WORK/bird-$b.pid" ] && kill "$(cat "$WORK/bird-$b.pid")" 2>/dev/null; done
    down
    if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    rm -rf /var/run/dpdk/"$P"-*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

up() {
    down
    local ns
    for ns in "$H1" "$A" "$B1" "$B2" "$H2" "$H2B" "$SW"; do ip netns add "$ns" || return 1; ip -n "$ns" link set lo up; done
    ip -n "$SW" link add br0 type bridge && ip -n "$SW" link set br0 up || return 1
    # name:namespace pairs: each gateway's wan veth into the bridge.
    for g in a:"$A" b1:"$B1" b2:"$B2"; do
        ip link add "g${g%%:*}-wan" netns "${g#*:}" type veth peer name "sw-${g%%:*}" netns "$SW" || return 1
        ip -n "$SW" link set "sw-${g%%:*}" master br0 up
        ip netns exec "${g#*:}" sysctl -qw "net.ipv6.conf.g${g%%:*}-wan.disable_ipv6=1"
        ip -n "${g#*:}" link set "g${g%%:*}-wan" up
    done
    for h in "h1:$H1:ga-lan:$A:192.0.2" "h2:$H2:gb1-lan:$B1:198.51.100" "h2b:$H2B:gb2-lan:$B2:198.51.100"; do
        IFS=: read -r hn hns gl gns net <<<"$h"
        ip link add "$hn-eth0" netns "$hns" type veth peer name "$gl" netns "$gns" || return 1
        ip netns exec "$gns" sysctl -qw "net.ipv6.conf.$gl.disable_ipv6=1"
        ip -n "$gns" link set "$gl" up
        ip netns exec "$hns" ethtool -K "$hn-eth0" tx off >/dev/null 2>&1
        ip -n "$hns" addr add "$net.2/24" dev "$hn-eth0"
        ip -n "$hns" link set "$hn-eth0" up
        ip -n "$hns" route add default via "$net.1"
    done
}

# gw_config SIDE LAN WAN: espgw's file; peers as "name:remote:inside" words after the third.
gw_config() {
    local side=$1 lan=$2 wan=$3 start=none far=192.0.2.0/24
    shift 3
    [ "$side" = a ] && start=start && far=198.51.100.0/24
    {
        cat <<YAML
eal: { main_lcore: 0, memory_mb: 256, file_prefix: $P-$side }
ports:
  - { name: lan, device: "net_af_packet0,iface=g$side-lan", addresses: ["$lan"] }
  - { name: wan, device: "net_af_packet1,iface=g$side-wan", addresses: ["$wan/24"] }
workers:
  - { lcore: 1, rx: ["lan:0", "wan:0"] }
control: { socket: $WORK/$side.sock }
dataplane: { idle_sleep_max_us: 1000 }
vtis:
YAML
        local p name remote inside metric=10
        for p in "$@"; do
            IFS=: read -r name remote inside <<<"$p"
            if [ "$FO_MODE" = static ]; then
                echo "  - { name: $name, address: $inside, peer: $name }"
            else
                echo "  - { name: $name, address: $inside, peer: $name, host_interface: espgw-$name, import_routes: true }"
            fi
        done
        if [ "$FO_MODE" = static ]; then
            echo "routes:"
            for p in "$@"; do
                IFS=: read -r name remote inside <<<"$p"
                echo "  - { prefix: $far, vti: $name, metric: $metric }"
                metric=$((metric + 10))
            done
        fi
        echo "ike:"
        echo "  peers:"
        for p in "$@"; do
            IFS=: read -r name remote inside <<<"$p"
            cat <<YAML
    - name: $name
      local: $wan
      remote: $remote
      local_id: $wan
      remote_id: $remote
      psk: "$DEMO_PSK"
      ike_proposals: [aes128gcm16-prfsha256-x25519]
      dpd: { interval: 2, action: $([ "$side" = a ] && echo restart || echo clear) }
      retransmit: { timeout_ms: 500, tries: 3 }
      children:
        - { name: all, local_ts: [0.0.0.0/0], remote_ts: [0.0.0.0/0], esp_proposals: [aes128gcm16], start_action: $start }
YAML
        done
    } > "$WORK/$side.yaml"
}

# bird_config SIDE ROUTER_ID AS SITE; sessions as "name:local:neighbor:as:pref" words after.
bird_config() {
    local side=$1 id=$2 as=$3 site=$4 s name local nb nas pref
    shift 4
    {
        cat <<BIRD
log "$WORK/bird-$side.log" all;
router id $id;
protocol device { scan time 1; }
protocol kernel {
  ipv4 { import none; export where source = RTS_BGP; };
  learn off;
  scan time 1;
  $([ "$FO_MODE" = ecmp ] && echo "merge paths yes;")
}
protocol static site { ipv4; route $site unreachable; }
BIRD
        for s in "$@"; do
            IFS=: read -r name local nb nas pref <<<"$s"
            cat <<BIRD
protocol bgp $name {
  local $local as $as;
  neighbor $nb as $nas;
  hold time 3; keepalive time 1; connect retry time 1;
  ipv4 { import filter { bgp_local_pref = $pref; accept; }; export where source = RTS_STATIC; };
}
BIRD
        done
    } > "$WORK/bird-$side.conf"
}

start_gw() { # start_gw SIDE NS
    ip netns exec "$2" "$ESPGW" run -c "$WORK/$1.yaml" >>"$WORK/$1.log" 2>&1 &
    eval "PID_$1=$!"; PIDS="$PIDS $!"
    wait_socket "$WORK/$1.sock" "$!" || { bad "espgw $1 did not start"; tail -20 "$WORK/$1.log"; return 1; }
    [ "$FO_MODE" = static ] && return 0
    ip netns exec "$2" bird -c "$WORK/bird-$1.conf" -s "$WORK/bird-$1.ctl" -P "$WORK/bird-$1.pid"
}
birdc_() { birdc -s "$WORK/bird-$1.ctl" "${@:2}"; }
established() { # established SIDE PROTO SECONDS
    for _ in $(seq 1 $(($3 * 5))); do
        birdc_ "$1" show protocols "$2" 2>/dev/null | grep -q Established && return 0
        sleep 0.2
    done
    birdc_ "$1" show protocols all "$2" 2>&1 | tail -5; return 1
}
# via VTI: A's kernel route to the far site goes out of espgw-VTI and espgw imported it.
route_via() {
    for _ in $(seq 1 50); do
        ip -n "$A" route show 198.51.100.0/24 | grep -q "dev espgw-$1" \
            && "$ESPGW" status -s "$WORK/a.sock" | grep -A3 "^  $1 " | grep -q "routes learned from the host: 198.51.100.0/24" \
            && return 0
        sleep 0.2
    done
    ip -n "$A" route show 198.51.100.0/24; "$ESPGW" status -s "$WORK/a.sock" | sed -n '/^VTIs/,/^$/p'; return 1
}

# Echo requests a host has received (its namespace's Icmp InEchos). The far hosts h2 (behind
# B1) and h2b (behind B2) both answer 198.51.100.2, so these say which gateway carried h1's
# pings. (The VTIs' packet counters would not: they also count the BGP traffic on each VTI.)
echos() { ip netns exec "$1" awk '$1 == "Icmp:" { if (!c) { for (i = 2; i <= NF; i++) if ($i == "InEchos") c = i } else { print $c; exit } }' /proc/net/snmp; }
# carrier: which far gateway carried 2 pings from each source address of h1 ("b1", "b2", or
# "both" with flows from several source addresses).
carrier() {
    local a1 a2 b1 b2 src
    a1=$(echos "$H2"); a2=$(echos "$H2B")
    for src in ${1:-192.0.2.2}; do ip netns exec "$H1" ping -I "$src" -c 2 -i 0.1 -W 1 198.51.100.2 >/dev/null 2>&1; done
    b1=$(echos "$H2"); b2=$(echos "$H2B")
    if [ $((b1 - a1)) -gt 0 ] && [ $((b2 - a2)) -gt 0 ]; then echo both
    elif [ $((b1 - a1)) -gt 0 ]; then echo b1
    elif [ $((b2 - a2)) -gt 0 ]; then echo b2
    else echo none; fi
}
wait_carrier() { # wait_carrier WANT SECONDS [SOURCES]
    local c
    for _ in $(seq 1 $(($2 * 2))); do c=$(carrier "${3:-}"); [ "$c" = "$1" ] && return 0; sleep 0.3; done
    echo "carrier: $c"; "$ESPGW" status -s "$WORK/a.sock" | sed -n '/^VTIs/,/^$/p'; return 1
}

echo "netns VTI failover test, $FO_MODE routing (prefix $P)"
[ "$FO_MODE" = static ] || command -v bird >/dev/null || { echo "no bird (make deps)"; echo "vti_failover: 0 passed, 1 failed"; exit 1; }
up || { echo "cannot create namespaces"; echo "vti_failover: 0 passed, 1 failed"; exit 1; }
pref2=50; [ "$FO_MODE" = ecmp ] && pref2=100
gw_config a 192.0.2.1/24 203.0.113.1 vti1:203.0.113.2:169.254.10.1/30 vti2:203.0.113.3:169.254.11.1/30
gw_config b1 198.51.100.1/24 203.0.113.2 vti1:203.0.113.1:169.254.10.2/30
gw_config b2 198.51.100.1/24 203.0.113.3 vti2:203.0.113.1:169.254.11.2/30
bird_config a 192.0.2.1 65001 192.0.2.0/24 vti1:169.254.10.1:169.254.10.2:65002:100 vti2:169.254.11.1:169.254.11.2:65002:$pref2
bird_config b1 203.0.113.2 65002 198.51.100.0/24 vti1:169.254.10.2:169.254.10.1:65001:100
bird_config b2 203.0.113.3 65002 198.51.100.0/24 vti2:169.254.11.2:169.254.11.1:65001:100
for s in a b1 b2; do check "config $s passes check-config" "$ESPGW" check-config "$WORK/$s.yaml"; done
start_gw b1 "$B1" && start_gw b2 "$B2" && start_gw a "$A" || { echo "vti_failover: $pass passed, $((failn+1)) failed"; exit 1; }
srcs=""
for i in $(seq 3 10); do ip -n "$H1" addr add "192.0.2.$i/24" dev h1-eth0; srcs="$srcs 192.0.2.$i"; done

if [ "$FO_MODE" != static ]; then
    check "BGP over vti1 (A <-> B1) established" established a vti1 40
    check "BGP over vti2 (A <-> B2) established" established a vti2 40
fi
case $FO_MODE in
    bgp)    check "A routes 198.51.100.0/24 into vti1 (B1 preferred), imported by espgw" route_via vti1 ;;
    ecmp)   imported_by() { "$ESPGW" status -s "$WORK/a.sock" | grep -A3 "^  $1 " | grep -q "routes learned from the host: 198.51.100.0/24"; }
            multipath() {
                for _ in $(seq 1 50); do
                    [ "$(ip -n "$A" route show 198.51.100.0/24 | grep -c 'dev espgw-vti')" = 2 ] &&
                        imported_by vti1 && imported_by vti2 && break
                    sleep 0.2
                done
                ip -n "$A" route show 198.51.100.0/24 | tee /dev/stderr | grep -q "dev espgw-vti1" &&
                ip -n "$A" route show 198.51.100.0/24 | grep -q "dev espgw-vti2" && imported_by vti1 && imported_by vti2
            }
            check "A's kernel has a two-path route (vti1, vti2), imported into both VTIs" multipath ;;
esac
check "B1 decrypts h1's pings (vti1)" wait_carrier b1 30
if [ "$FO_MODE" = ecmp ]; then
    check "flows from 8 source addresses spread over both VTIs (ECMP)" wait_carrier both 10 "$srcs"
fi

# A 20/s ping stream; B1 dies in the middle of it.
ip netns exec "$H1" ping -i 0.05 -W 1 -c 400 198.51.100.2 >"$WORK/stream.txt" 2>&1 &
PING=$!
sleep 5
t_kill=$(date +%s.%N)
kill -9 "$PID_b1" 2>/dev/null; wait "$PID_b1" 2>/dev/null
[ -f "$WORK/bird-b1.pid" ] && kill -9 "$(cat "$WORK/bird-b1.pid")" 2>/dev/null
check "after B1 died, B2 carries the traffic (within 15 s)" wait_carrier b2 15 "$srcs"
echo "       moved after $(python3 -c "print(round($(date +%s.%N) - $t_kill, 1))") s"
wait "$PING"
sent=$(grep -o "[0-9]* packets transmitted" "$WORK/stream.txt" | cut -d' ' -f1)
rcvd=$(grep -o "[0-9]* received" "$WORK/stream.txt" | cut -d' ' -f1)
lost=$((sent - rcvd))
bound=100; [ "$FO_MODE" = static ] && bound=200
echo "       ping stream: $sent sent, $rcvd received, $lost lost ($(python3 -c "print($lost * 0.05)") s at 20/s)"
if [ "$rcvd" -gt 0 ] && [ "$lost" -le "$bound" ]; then
    ok "failover loss bounded: $lost pings (<= $((bound / 20)) s at 20/s)"
else bad "failover lost $lost of $sent pings (bound $bound)"; fi

# B1 comes back: A's DPD restarts the IKE SA with it (BGP comes up) and B1 carries again.
start_gw b1 "$B1" || true
[ "$FO_MODE" != static ] && check "BGP over vti1 re-established after B1 returned (within 60 s)" established a vti1 60
want=b1; [ "$FO_MODE" = ecmp ] && want=both
check "B1 carries h1's traffic again ($want)" wait_carrier "$want" 60 "$([ "$FO_MODE" = ecmp ] && echo "$srcs")"

for p in $PIDS; do stop_pid "$p"; done
PIDS=""
grep -q "panicked" "$WORK"/*.log && bad "a gateway panicked" || ok "clean shutdown"
echo "vti_failover ($FO_MODE): $pass passed, $failn failed"
[ "$failn" -eq 0 ]
