#!/usr/bin/env bash
# Namespace test: two kernel hosts route through espgw on DPDK af_packet ports.
# Asserts: ARP and ND answered by espgw; IPv4/IPv6 forwarding with TTL/hop-limit decrement;
# ICMP time exceeded for TTL 1 and net unreachable for an unrouted prefix, both from the
# gateway; pings to the gateway itself; a TCP transfer with intact checksums; counters and
# named drops in `espgw status --json`; and that nothing is left behind afterwards.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ESPGW=${ESPGW:-$ROOT/target/release/espgw}
P=espgw-t$$
. "$ROOT/tests/netns/topology.sh"

WORK=$(mktemp -d /tmp/espgw-test.XXXXXX)
SOCK=$WORK/espgw.sock
PID=""
. "$ROOT/tests/netns/lib.sh"
cleanup() {
    trap - EXIT INT TERM
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID"; for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$PID" 2>/dev/null
    fi
    topo_down
    rm -rf "$WORK" "/var/run/dpdk/$P"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "netns forwarding test (prefix $P)"
topo_up || { echo "cannot create namespaces"; exit 1; }
write_config "$WORK/espgw.yaml" "$SOCK" "$P"
ip netns exec "$GW" "$ESPGW" run -c "$WORK/espgw.yaml" >"$WORK/espgw.log" 2>&1 &
PID=$!
if ! wait_status "$ESPGW" "$SOCK" "$PID"; then cat "$WORK/espgw.log"; echo "0 passed, 1 failed"; exit 1; fi

LAN_MAC=$(ip -n "$GW" -br link show gw-lan | awk '{print $3}')

ping_has() { # ping_has NS PATTERN ARGS...: ping succeeds and output matches PATTERN
    local ns=$1 pat=$2; shift 2
    ip netns exec "$ns" ping "$@" | tee /dev/stderr | grep -q -- "$pat"
}
check "IPv4 ping h1 -> h2 through espgw, no loss, reply TTL 63" \
    ping_has "$H1" " 0% packet loss" -c 5 -i 0.2 -W 2 198.51.100.2
check "IPv4 reply TTL decremented once (63)" ping_has "$H1" "ttl=63" -c 1 -W 2 198.51.100.2
check "IPv4 ping h2 -> h1 (reverse direction)" ping_has "$H2" "ttl=63" -c 2 -i 0.2 -W 2 192.0.2.2
arp_by_espgw() { ip -n "$H1" neigh show 192.0.2.1 | grep -qi "lladdr $LAN_MAC"; }
check "h1 resolved 192.0.2.1 to espgw's lan port MAC ($LAN_MAC) via ARP" arp_by_espgw
check "IPv6 ping h1 -> h2, hop limit 63" ping_has "$H1" "ttl=63" -6 -c 3 -i 0.2 -W 2 2001:db8:2::2
nd_by_espgw() { ip -n "$H1" -6 neigh show 2001:db8:1::1 | grep -qi "lladdr $LAN_MAC"; }
check "h1 resolved 2001:db8:1::1 via ND to espgw's MAC" nd_by_espgw
check "ICMP time exceeded from 192.0.2.1 for TTL 1" ping_has "$H1" "From 192.0.2.1 .*Time to live exceeded" -c 1 -t 1 -W 2 198.51.100.2
check "ICMPv6 time exceeded from 2001:db8:1::1 for hop limit 1" ping_has "$H1" "From 2001:db8:1::1 .*Time exceeded" -6 -c 1 -t 1 -W 2 2001:db8:2::2
check "ICMP net unreachable from 192.0.2.1 for 203.0.113.9" ping_has "$H1" "From 192.0.2.1 .*Destination Net Unreachable" -c 1 -W 2 203.0.113.9
check "gateway answers ping on its lan address" ping_has "$H1" "ttl=64" -c 1 -W 2 192.0.2.1
check "gateway answers ping on its wan address from the lan side" ping_has "$H1" " 0% packet loss" -c 1 -W 2 198.51.100.1
check "gateway answers ping6" ping_has "$H1" " 0% packet loss" -6 -c 1 -W 2 2001:db8:1::1
if command -v iperf3 >/dev/null; then
    ip netns exec "$H2" iperf3 -s -1 -D -B 198.51.100.2 >/dev/null 2>&1
    wait_listen "$H2" 5201
    tcp() { ip netns exec "$H1" iperf3 -c 198.51.100.2 -t 1 -f m | grep -q receiver; }
    check "TCP (iperf3, 1 s) through espgw" tcp
else
    bad "iperf3 not installed (make deps)"
fi

ip netns exec "$H1" ping -c 1 -W 1 -t 1 198.51.100.2 >/dev/null 2>&1
"$ESPGW" status -s "$SOCK" --json > "$WORK/status.json"
st() { python3 -c "import json,sys; s=json.load(open('$WORK/status.json')); sys.exit(0 if ($1) else 1)"; }
check "status: both ports forwarded packets" st "all(p['rx_packets']>0 and p['tx_packets']>0 for p in s['ports'])"
check "status: ttl_exceeded and no_route drops counted" st "{d['reason']:d['packets'] for d in s['drops']}['ttl_exceeded']>=2 and {d['reason']:d['packets'] for d in s['drops']}['no_route']>=1"
check "status: h1 and h2 are reachable neighbours" st "{n['ip'] for n in s['neighbours'] if n['state']=='reachable'} >= {'192.0.2.2','198.51.100.2','2001:db8:1::2','2001:db8:2::2'}"
check "status: human view renders" "$ESPGW" status -s "$SOCK"

kill -TERM "$PID"
stopped() { for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
check "espgw stops on SIGTERM" stopped
wait "$PID"; rc=$?
check "espgw exit status 0 after SIGTERM (was $rc)" test "$rc" = 0
check "DPDK runtime directory removed by espgw" test ! -e "/var/run/dpdk/$P"
check "control socket removed" test ! -e "$SOCK"
PID=""
topo_down
leftover() { ! ip netns list | grep -q "^$P-" && ! pgrep -f "$WORK/espgw.yaml" >/dev/null; }
check "no namespace or process left behind" leftover

echo "netns forwarding: $pass passed, $failn failed"
[ "$failn" = 0 ]
