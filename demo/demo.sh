#!/usr/bin/env bash
# `make demo`: two sites joined by an IPsec tunnel between two espgw gateways, all in network
# namespaces on DPDK af_packet ports (no NIC, no hugepages). The gateways negotiate the tunnel
# themselves with IKEv2 and a pre-shared key: gateway A initiates, B responds, and two Child
# SAs (IPv4 and IPv6 inner traffic, IPv4 outer header) are installed in their data planes.
# Shows IPv4 and IPv6 pings across the tunnel, what the wan link carries (ESP only), a TCP
# transfer, path-MTU discovery through the tunnel, `espgw status` with the IKE SA, its Child
# SAs and their counters, and the Prometheus metrics. Removes everything it made on exit,
# failure or Ctrl-C.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ESPGW=${ESPGW:-$ROOT/target/release/espgw}
P=espgw-demo
H1="$P-h1"; GA="$P-ga"; GB="$P-gb"; H2="$P-h2"

[ "$(id -u)" = 0 ] || { echo "make demo needs root (network namespaces, DPDK)"; exit 1; }
[ -x "$ESPGW" ] || { echo "no espgw binary at $ESPGW: run make build"; exit 1; }

WORK=$(mktemp -d /tmp/espgw-demo.XXXXXX)
. "$ROOT/tests/netns/tunnel_topology.sh"
PIDA=""; PIDB=""
. "$ROOT/tests/netns/lib.sh"
cleanup() {
    trap - EXIT INT TERM
    stop_pid "$PIDA"; stop_pid "$PIDB"
    topo_down
    rm -rf "$WORK" "/var/run/dpdk/$P-a" "/var/run/dpdk/$P-b"
    echo "demo: cleaned up (namespaces, espgw processes, DPDK runtime directories)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Topology: $H1 (192.0.2.2) -- espgw A -- wan 203.0.113.0/24 -- espgw B -- $H2 (198.51.100.2)"
topo_up || { echo "demo: could not create namespaces"; exit 1; }
write_gw "$WORK/a.yaml" a ike; write_gw "$WORK/b.yaml" b ike
"$ESPGW" check-config "$WORK/a.yaml" && "$ESPGW" check-config "$WORK/b.yaml" || exit 1
echo "gateway A's IKE configuration (IKEv2, pre-shared key; B has the mirror image and waits for A):"
sed -n '/^ike:/,$p' "$WORK/a.yaml" | sed -E 's/(psk: ).*/\1<the demo PSK, not shown>/'

step "Starting the two gateways: A initiates IKEv2 to B as soon as it runs"
ip netns exec "$GA" "$ESPGW" run -c "$WORK/a.yaml" >"$WORK/a.log" 2>&1 & PIDA=$!
ip netns exec "$GB" "$ESPGW" run -c "$WORK/b.yaml" >"$WORK/b.log" 2>&1 & PIDB=$!
wait_socket "$WORK/a.sock" "$PIDA" && wait_socket "$WORK/b.sock" "$PIDB" || {
    echo "demo: espgw did not come up"; cat "$WORK/a.log" "$WORK/b.log"; exit 1; }

# ike_up SOCKET: the IKE SA is established and both Child SAs are in the data plane.
ike_up() {
    "$ESPGW" status -s "$1" --json 2>/dev/null | python3 -c 'import json,sys
peers=json.load(sys.stdin).get("ike") or []
if not peers: print("no IKE status yet"); sys.exit(1)
p=peers[0]; n=sum(1 for c in p["children"] if c["installed"])
print("%s: IKE SA %s, %d of 2 Child SAs installed" % (p["name"], p["state"], n))
sys.exit(0 if p["state"] == "established" and n == 2 else 1)' 2>/dev/null
}
step "Waiting for espgw status to show the IKE SA established and the Child SAs installed"
up=0
for _ in $(seq 1 150); do
    ike_up "$WORK/a.sock" >/dev/null && ike_up "$WORK/b.sock" >/dev/null && { up=1; break; }
    sleep 0.2
done
echo "gateway A: $(ike_up "$WORK/a.sock")"
echo "gateway B: $(ike_up "$WORK/b.sock")"
if [ $up -ne 1 ]; then
    echo "demo: the IKE SA did not come up within 30 s"
    "$ESPGW" status -s "$WORK/a.sock" | sed -n '/^IKE peers/,/^$/p'
    grep -E 'gateway::ike' "$WORK/a.log" "$WORK/b.log" | tail -20
    exit 1
fi
echo "gateway A's log:"
grep -E 'gateway::' "$WORK/a.log"

fail=0
step "What the wan link carries while $H1 pings $H2: the replies reach gateway A as ESP (tcpdump on ga-wan)"
ip netns exec "$GA" timeout 5 tcpdump -l -n -i ga-wan -c 4 'ip proto 50' >"$WORK/wan.txt" 2>/dev/null &
TD=$!
sleep 0.5
ip netns exec "$H1" ping -c 4 -i 0.2 -W 2 198.51.100.2 || fail=1
wait $TD 2>/dev/null
cat "$WORK/wan.txt"
step "IPv6 across the tunnel (Child SA net6, IPv4 outer header)"
ip netns exec "$H1" ping -6 -c 3 -i 0.2 -W 2 2001:db8:2::2 || fail=1
step "Path MTU: a 1500-byte packet with DF does not fit in the tunnel; gateway A says how much does"
ip netns exec "$H1" ping -M do -s 1472 -c 1 -W 2 198.51.100.2
if command -v iperf3 >/dev/null; then
    step "TCP: 3 s of iperf3 from $H1 to $H2 through the tunnel"
    ip netns exec "$H2" iperf3 -s -1 -D -B 198.51.100.2 >/dev/null 2>&1
    sleep 0.5
    timeout --foreground 20 ip netns exec "$H1" iperf3 -c 198.51.100.2 -t 3 -f m 2>&1 | grep -E 'sender|receiver' || fail=1
fi
step "espgw status on gateway A"
"$ESPGW" status -s "$WORK/a.sock" || fail=1
if command -v curl >/dev/null; then
    step "Prometheus metrics of gateway A (IKE series that are not zero, per-SA packet counters)"
    ip netns exec "$GA" curl -sf http://127.0.0.1:9464/metrics >"$WORK/metrics.txt" || fail=1
    grep -E '^espgw_ike_' "$WORK/metrics.txt" | grep -v ' 0$'
    grep -E '^espgw_sa_packets_total' "$WORK/metrics.txt" || fail=1
    if command -v promtool >/dev/null; then
        promtool check metrics <"$WORK/metrics.txt" && echo "promtool check metrics: ok" || fail=1
    fi
fi
step "The pre-shared key appears in no status, metric or log"
for f in "$WORK/a.log" "$WORK/b.log" "$WORK/metrics.txt"; do
    [ -f "$f" ] && grep -qF "$DEMO_PSK" "$f" && { echo "demo: the PSK shows in $f"; fail=1; }
done
for s in a b; do
    { "$ESPGW" status -s "$WORK/$s.sock"; "$ESPGW" status -s "$WORK/$s.sock" --json; } | grep -qF "$DEMO_PSK" &&
        { echo "demo: the PSK shows in gateway $s's status"; fail=1; }
done
[ $fail -eq 0 ] && echo "not in either gateway's status (text and JSON), logs or metrics"

if [ $fail -ne 0 ]; then echo "demo: FAILED"; exit 1; fi
step "demo: traffic crossed the IPsec tunnel that the two gateways negotiated with IKEv2"
