#!/usr/bin/env bash
# Namespace test: a route-based tunnel. Two espgw gateways negotiate one IKEv2 Child SA that
# selects 0.0.0.0/0 === 0.0.0.0/0, bound on each side to a VTI (169.254.10.1/30 on A,
# 169.254.10.2/30 on B); static routes send the far site into the VTI.
#
#   [$P-h1] 192.0.2.2 == [$P-ga: espgw A] 203.0.113.1 == 203.0.113.2 [$P-gb: espgw B] == 198.51.100.2 [$P-h2]
#
# Asserts: check-config accepts both files; status shows the VTI up on both sides; hosts
# ping each other through it; h1 pings B's inside address 169.254.10.2 (answered by B through
# the VTI); only ESP between the gateways on the wan link; status shows the VTI's counters and
# the routes via the VTI; clean shutdown.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ESPGW=${ESPGW:-$ROOT/target/release/espgw}
P=espgw-vti$$
H1="$P-h1"; GA="$P-ga"; GB="$P-gb"; H2="$P-h2"
WORK=$(mktemp -d /tmp/espgw-vti.XXXXXX)
PIDA=""; PIDB=""
. "$ROOT/tests/netns/lib.sh"

cleanup() {
    trap - EXIT INT TERM
    stop_pid "$PIDA"; stop_pid "$PIDB"
    topo_down
    if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    rm -rf "/var/run/dpdk/$P-a" "/var/run/dpdk/$P-b"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. "$ROOT/tests/netns/tunnel_topology.sh"

# write_vti FILE SIDE: the topology's addresses, a VTI bound to the peer, the far site routed
# into it. A initiates; B waits.
write_vti() {
    local f=$1 side=$2 lan wan peer far inside start other
    if [ "$side" = a ]; then
        lan=192.0.2.1/24; wan=203.0.113.1; peer=203.0.113.2; far=198.51.100.0/24; inside=169.254.10.1/30
        start=start; other=b
    else
        lan=198.51.100.1/24; wan=203.0.113.2; peer=203.0.113.1; far=192.0.2.0/24; inside=169.254.10.2/30
        start=none; other=a
    fi
    cat > "$f" <<YAML
eal: { main_lcore: 0, memory_mb: 256, file_prefix: $P-$side }
ports:
  - { name: lan, device: "net_af_packet0,iface=g$side-lan", addresses: ["$lan"] }
  - { name: wan, device: "net_af_packet1,iface=g$side-wan", addresses: ["$wan/24"] }
vtis:
  - { name: vti0, address: $inside, peer: gw-$other }
routes:
  - { prefix: "$far", vti: vti0 }
workers:
  - { lcore: 1, rx: ["lan:0", "wan:0"] }
control: { socket: $WORK/$side.sock }
ike:
  peers:
    - name: gw-$other
      local: $wan
      remote: $peer
      local_id: gw-$side.example.org
      remote_id: gw-$other.example.org
      psk: "$DEMO_PSK"
      ike_proposals: [aes128gcm16-prfsha256-x25519]
      retransmit: { timeout_ms: 1000, tries: 5 }
      children:
        - { name: all, local_ts: [0.0.0.0/0], remote_ts: [0.0.0.0/0], esp_proposals: [aes128gcm16], start_action: $start }
YAML
}

status() { "$ESPGW" status -s "$WORK/$1.sock" --json; }
# vti FILE FIELD: a field of the first VTI in a saved status document.
vti() { python3 -c "import json,sys; v=json.load(open(sys.argv[1])).get('vtis',[{}]); print(v[0].get(sys.argv[2]) if v else None)" "$1" "$2"; }

echo "netns VTI test (prefix $P)"
[ -x "$ESPGW" ] || { echo "no espgw binary at $ESPGW (make build)"; echo "vti: 0 passed, 1 failed"; exit 1; }
topo_up || { echo "cannot create namespaces"; echo "vti: 0 passed, 1 failed"; exit 1; }
write_vti "$WORK/a.yaml" a; write_vti "$WORK/b.yaml" b
check "gateway A config passes check-config" "$ESPGW" check-config "$WORK/a.yaml"
check "gateway B config passes check-config" "$ESPGW" check-config "$WORK/b.yaml"
ip netns exec "$GA" "$ESPGW" run -c "$WORK/a.yaml" >"$WORK/a.log" 2>&1 &
PIDA=$!
ip netns exec "$GB" "$ESPGW" run -c "$WORK/b.yaml" >"$WORK/b.log" 2>&1 &
PIDB=$!
if ! wait_socket "$WORK/a.sock" "$PIDA" || ! wait_socket "$WORK/b.sock" "$PIDB"; then
    echo "--- espgw A log"; cat "$WORK/a.log"; echo "--- espgw B log"; cat "$WORK/b.log"
    echo "vti: $pass passed, $((failn+1)) failed"; exit 1
fi

up=""
for _ in $(seq 1 150); do
    status a >"$WORK/sa.json" 2>/dev/null; status b >"$WORK/sb.json" 2>/dev/null
    if [ "$(vti "$WORK/sa.json" state)" = up ] && [ "$(vti "$WORK/sb.json" state)" = up ]; then up=1; break; fi
    sleep 0.2
done
if [ -n "$up" ]; then ok "VTI up on both gateways (IKEv2 child 0.0.0.0/0 === 0.0.0.0/0)"; else
    bad "VTI not up within 30 s"; "$ESPGW" status -s "$WORK/a.sock"; tail -20 "$WORK/a.log" "$WORK/b.log"; fi

ip netns exec "$GB" tcpdump -i gb-wan -Q in -n -U -c 200 -w "$WORK/wan.pcap" >"$WORK/cap.log" 2>&1 &
CAP=$!
for _ in $(seq 1 30); do grep -q "listening on" "$WORK/cap.log" 2>/dev/null && break; sleep 0.1; done
check "h1 -> h2 ping through the VTI" ip netns exec "$H1" ping -c 3 -i 0.2 -W 2 198.51.100.2
check "h2 -> h1 ping through the VTI" ip netns exec "$H2" ping -c 3 -i 0.2 -W 2 192.0.2.2
check "h1 -> far VTI inside address 169.254.10.2" ip netns exec "$H1" ping -c 3 -i 0.2 -W 2 169.254.10.2
check "h1 -> near VTI inside address 169.254.10.1" ip netns exec "$H1" ping -c 2 -i 0.2 -W 2 169.254.10.1
kill -INT "$CAP" 2>/dev/null; wait "$CAP" 2>/dev/null
clear=$(tcpdump -n -r "$WORK/wan.pcap" 'icmp' 2>/dev/null | wc -l)
esp=$(tcpdump -n -r "$WORK/wan.pcap" 'esp' 2>/dev/null | wc -l)
if [ "$clear" -eq 0 ] && [ "$esp" -ge 6 ]; then ok "only ESP on the wan link ($esp ESP packets, no clear ICMP)"; else
    bad "wan link: $esp ESP, $clear clear ICMP packets"; fi

status a >"$WORK/sa.json"; status b >"$WORK/sb.json"
pa=$(vti "$WORK/sa.json" packets_out); pb=$(vti "$WORK/sb.json" packets_in)
if [ "${pa:-0}" -ge 8 ] && [ "${pb:-0}" -ge 8 ]; then ok "status counts VTI traffic (A out $pa, B in $pb)"; else
    bad "VTI counters A out $pa, B in $pb"; fi
if "$ESPGW" status -s "$WORK/a.sock" | grep -q "198.51.100.0/24 *via VTI vti0" &&
   "$ESPGW" status -s "$WORK/a.sock" | grep -Eq "vti0 +169.254.10.1/30 +peer gw-b +up"; then
    ok "espgw status shows the VTI up and the route via it"
else bad "status text lacks the VTI or its route"; "$ESPGW" status -s "$WORK/a.sock" | tail -12; fi
drops=$(python3 -c "import json,sys; print({d['reason']:d['packets'] for d in json.load(open(sys.argv[1]))['drops']}.get('vti_down',0))" "$WORK/sa.json")
[ "$drops" -eq 0 ] && ok "no vti_down drops once up" || bad "vti_down drops: $drops"

stop_pid "$PIDA"; stop_pid "$PIDB"
grep -q "panicked" "$WORK/a.log" "$WORK/b.log" && bad "a gateway panicked" || ok "clean shutdown"
PIDA=""; PIDB=""
echo "vti: $pass passed, $failn failed"
[ "$failn" -eq 0 ]
