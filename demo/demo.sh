#!/usr/bin/env bash
# `make demo`: espgw routes between two hosts in network namespaces, on DPDK af_packet ports.
# Shows pings (IPv4 and IPv6) crossing the gateway, TTL decrement, an ICMP time-exceeded
# from the gateway, a short TCP transfer, and `espgw status`. Removes everything it made on
# exit, failure or Ctrl-C.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ESPGW=${ESPGW:-$ROOT/target/release/espgw}
P=espgw-demo
. "$ROOT/tests/netns/topology.sh"

[ "$(id -u)" = 0 ] || { echo "make demo needs root (network namespaces, DPDK)"; exit 1; }
[ -x "$ESPGW" ] || { echo "no espgw binary at $ESPGW: run make build"; exit 1; }

WORK=$(mktemp -d /tmp/espgw-demo.XXXXXX)
SOCK=$WORK/espgw.sock
PID=""
cleanup() {
    trap - EXIT INT TERM
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$PID" 2>/dev/null
    fi
    topo_down
    rm -rf "$WORK" "/var/run/dpdk/$P"
    echo "demo: cleaned up (namespaces, espgw process, DPDK runtime directory)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Topology: $H1 (192.0.2.2) -- espgw in $GW -- $H2 (198.51.100.2)"
topo_up || { echo "demo: could not create namespaces"; exit 1; }
write_config "$WORK/espgw.yaml" "$SOCK" "$P"
"$ESPGW" check-config "$WORK/espgw.yaml" || exit 1

step "Starting espgw (DPDK net_af_packet on gw-lan and gw-wan)"
ip netns exec "$GW" "$ESPGW" run -c "$WORK/espgw.yaml" > "$WORK/espgw.log" 2>&1 &
PID=$!
if ! wait_status "$ESPGW" "$SOCK" "$PID"; then
    echo "demo: espgw did not come up:"; cat "$WORK/espgw.log"; exit 1
fi
grep '^espgw:' "$WORK/espgw.log"

fail=0
step "IPv4: $H1 pings $H2 through espgw (reply TTL 63: one router hop)"
ip netns exec "$H1" ping -c 3 -i 0.2 -W 2 198.51.100.2 || fail=1
step "IPv6: $H1 pings $H2 (hop limit 63)"
ip netns exec "$H1" ping -6 -c 3 -i 0.2 -W 2 2001:db8:2::2 || fail=1
step "TTL 1: espgw answers with ICMP time exceeded"
ip netns exec "$H1" ping -c 1 -t 1 -W 2 198.51.100.2
step "ARP: $H1 learned the gateway's MAC from espgw"
ip -n "$H1" neigh show 192.0.2.1
if command -v iperf3 >/dev/null; then
    step "TCP: 2 s of iperf3 from $H1 to $H2 through espgw"
    ip netns exec "$H2" iperf3 -s -1 -D -B 198.51.100.2 >/dev/null 2>&1
    sleep 0.5
    ip netns exec "$H1" iperf3 -c 198.51.100.2 -t 2 -f m 2>&1 | grep -E 'sender|receiver' || fail=1
fi
step "espgw status"
"$ESPGW" status -s "$SOCK" || fail=1

if [ $fail -ne 0 ]; then echo "demo: FAILED"; exit 1; fi
step "demo: traffic crossed the gateway"
