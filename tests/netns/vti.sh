#!/usr/bin/env bash
# Namespace test: a route-based tunnel. Two espgw gateways negotiate one IKEv2 Child SA that
# selects 0.0.0.0/0 === 0.0.0.0/0, bound on each side to a VTI (169.254.10.1/30 on A,
# 169.254.10.2/30 on B). The same data plane also carries a policy-based tunnel: the IPv6
# sites, by manually keyed SAs and SPD policies.
#
#   [$P-h1] 192.0.2.2 == [$P-ga: espgw A] 203.0.113.1 == 203.0.113.2 [$P-gb: espgw B] == 198.51.100.2 [$P-h2]
#   2001:db8:1::2                       2001:db8:ff::1 == 2001:db8:ff::2                   2001:db8:2::2
#
# ROUTING=static (default): static routes send the far IPv4 site into the VTI.
# ROUTING=bgp: no route to the far site is configured. Each VTI has a host interface
# (espgw-vti0, a TUN with the inside address, the exception path) and BIRD 2 runs in each
# gateway namespace: eBGP over the VTI (AS 65001 / 65002), each side announcing its site. BIRD
# exports what it learns to the kernel table; espgw imports the routes out of espgw-vti0 into
# its FIB as routes into the VTI.
#
# Asserts: check-config accepts both files; status shows the VTI up on both sides; (bgp: the
# BGP session established over the VTI, each side's route learned by the other's BIRD, in the
# kernel table and in espgw's FIB via the VTI; 100,000 routes added to the kernel table out of
# the host interface, imported, replaced by 100,000 others and withdrawn while h1 pings h2 at
# 20/s with none lost); hosts ping each other through the VTI (IPv4)
# and through the policy-based tunnel (IPv6) at the same time; h1 pings B's inside address
# 169.254.10.2 (answered by B through the VTI: by espgw, or with bgp by B's kernel); only ESP
# between the gateways on the wan link; status shows the VTI's counters and the routes via the
# VTI; clean shutdown.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ESPGW=${ESPGW:-$ROOT/target/release/espgw}
ROUTING=${ROUTING:-static}
P=espgw-vti$$
H1="$P-h1"; GA="$P-ga"; GB="$P-gb"; H2="$P-h2"
WORK=$(mktemp -d /tmp/espgw-vti.XXXXXX)
PIDA=""; PIDB=""
. "$ROOT/tests/netns/lib.sh"

cleanup() {
    trap - EXIT INT TERM
    stop_pid "$PIDA"; stop_pid "$PIDB"
    for b in a b; do [ -f "$WORK/bird-$b.pid" ] && kill "$(cat "$WORK/bird-$b.pid")" 2>/dev/null; done
    topo_down
    if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    rm -rf "/var/run/dpdk/$P-a" "/var/run/dpdk/$P-b"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. "$ROOT/tests/netns/tunnel_topology.sh"

# write_vti FILE SIDE: the topology's addresses, a VTI bound to the peer, the far IPv4 site
# routed into it (static) or learned (bgp), the IPv6 sites in a manually keyed policy-based
# tunnel. A initiates; B waits.
write_vti() {
    local f=$1 side=$2 lan wan peer far inside start other lan6 wan6 peer6 near6 far6 o6 i6 ko6 ki6 host=""
    if [ "$side" = a ]; then
        lan=192.0.2.1/24; wan=203.0.113.1; peer=203.0.113.2; far=198.51.100.0/24; inside=169.254.10.1/30
        start=start; other=b
        lan6=2001:db8:1::1/64; wan6=2001:db8:ff::1; peer6=2001:db8:ff::2; near6=2001:db8:1::/64; far6=2001:db8:2::/64
        o6=0x1006; i6=0x2006; ko6=$K_A2B_6; ki6=$K_B2A_6
    else
        lan=198.51.100.1/24; wan=203.0.113.2; peer=203.0.113.1; far=192.0.2.0/24; inside=169.254.10.2/30
        start=none; other=a
        lan6=2001:db8:2::1/64; wan6=2001:db8:ff::2; peer6=2001:db8:ff::1; near6=2001:db8:2::/64; far6=2001:db8:1::/64
        o6=0x2006; i6=0x1006; ko6=$K_B2A_6; ki6=$K_A2B_6
    fi
    local far_route="  - { prefix: \"$far\", vti: vti0 }"
    if [ "$ROUTING" = bgp ]; then host=", host_interface: espgw-vti0, import_routes: true"; far_route=""; fi
    cat > "$f" <<YAML
eal: { main_lcore: 0, memory_mb: 256, file_prefix: $P-$side }
ports:
  - { name: lan, device: "net_af_packet0,iface=g$side-lan", addresses: ["$lan", "$lan6"] }
  - { name: wan, device: "net_af_packet1,iface=g$side-wan", addresses: ["$wan/24", "$wan6/64"] }
vtis:
  - { name: vti0, address: $inside, peer: gw-$other$host }
routes:
$far_route
  - { prefix: "$far6", via: "$peer6" }
ipsec:
  allow_static_gcm: true   # test keys; RFC 4106 forbids static GCM keys outside a lab
  sas:
    - { name: out-v6, direction: out, spi: $o6, mode: tunnel, local: "$wan6", remote: "$peer6", algorithm: aes128gcm16, enc_key: "$ko6" }
    - { name: in-v6,  direction: in,  spi: $i6, mode: tunnel, local: "$wan6", remote: "$peer6", algorithm: aes128gcm16, enc_key: "$ki6" }
  policies:
    - { direction: out, src: "$near6", dst: "$far6", action: protect, sa: out-v6 }
    - { direction: in,  src: "$far6", dst: "$near6", action: protect, sa: in-v6 }
workers:
  - { lcore: 1, rx: ["lan:0", "wan:0"] }
control: { socket: $WORK/$side.sock }
metrics: { listen: "127.0.0.1:9464" }
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

# write_bird FILE SIDE: BIRD 2 on a gateway: eBGP over the VTI, announcing the site, and the
# learned routes exported to the kernel (whence espgw imports them).
write_bird() {
    local side=$1 me peer as peeras site
    if [ "$side" = a ]; then me=169.254.10.1; peer=169.254.10.2; as=65001; peeras=65002; site=192.0.2.0/24
    else me=169.254.10.2; peer=169.254.10.1; as=65002; peeras=65001; site=198.51.100.0/24; fi
    cat > "$WORK/bird-$side.conf" <<BIRD
log "$WORK/bird-$side.log" all;
router id $me;
protocol device { scan time 2; }
protocol kernel {
  ipv4 { import none; export where source = RTS_BGP; };
  learn off;
  scan time 2;
}
protocol static site {
  ipv4;
  route $site unreachable;
}
protocol bgp far {
  local $me as $as;
  neighbor $peer as $peeras;
  hold time 9; keepalive time 3; connect retry time 2;
  ipv4 { import all; export where source = RTS_STATIC; };
}
BIRD
}
start_bird() { ip netns exec "$1" bird -c "$WORK/bird-$2.conf" -s "$WORK/bird-$2.ctl" -P "$WORK/bird-$2.pid"; }
birdc_() { birdc -s "$WORK/bird-$1.ctl" "${@:2}"; }

status() { "$ESPGW" status -s "$WORK/$1.sock" --json; }
# vti FILE FIELD: a field of the first VTI in a saved status document.
vti() { python3 -c "import json,sys; v=json.load(open(sys.argv[1])).get('vtis',[{}]); print(v[0].get(sys.argv[2]) if v else None)" "$1" "$2"; }

echo "netns VTI test, $ROUTING routing (prefix $P)"
[ -x "$ESPGW" ] || { echo "no espgw binary at $ESPGW (make build)"; echo "vti: 0 passed, 1 failed"; exit 1; }
topo_up || { echo "cannot create namespaces"; echo "vti: 0 passed, 1 failed"; exit 1; }
write_vti "$WORK/a.yaml" a; write_vti "$WORK/b.yaml" b
check "gateway A config passes check-config" "$ESPGW" check-config "$WORK/a.yaml"
check "gateway B config passes check-config" "$ESPGW" check-config "$WORK/b.yaml"
if [ "$ROUTING" = bgp ]; then
    command -v bird >/dev/null || { echo "no bird (make deps)"; echo "vti: $pass passed, $((failn+1)) failed"; exit 1; }
    write_bird a; write_bird b
fi
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

if [ "$ROUTING" = bgp ]; then
    check "the host interface espgw-vti0 is up with 169.254.10.1/30 in A's namespace" \
        sh -c "ip -n '$GA' -br addr show espgw-vti0 | tee /dev/stderr | grep -q 'UP.*169.254.10.1/30\|UNKNOWN.*169.254.10.1/30'"
    start_bird "$GA" a && start_bird "$GB" b || bad "BIRD did not start"
    bgp_up() {
        for _ in $(seq 1 150); do
            birdc_ a show protocols far 2>/dev/null | grep -q Established \
                && birdc_ b show protocols far 2>/dev/null | grep -q Established && return 0
            sleep 0.2
        done
        birdc_ a show protocols all far; tail -5 "$WORK/bird-a.log"; return 1
    }
    t0=$(date +%s.%N)
    check "BGP session A <-> B established over the VTI (within 30 s)" bgp_up
    echo "       after $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"
    learned() { # learned NS SIDE PREFIX: BIRD learned PREFIX by BGP and put it in the kernel via the host interface
        for _ in $(seq 1 50); do
            ip -n "$1" route show "$3" 2>/dev/null | grep -q "via 169.254.10.[12] dev espgw-vti0 proto bird" && break
            sleep 0.2
        done
        birdc_ "$2" show route "$3" && ip -n "$1" route show "$3" | tee /dev/stderr | grep -q "dev espgw-vti0 proto bird"
    }
    check "A's BIRD learned 198.51.100.0/24 and exported it to the kernel (dev espgw-vti0)" learned "$GA" a 198.51.100.0/24
    check "B's BIRD learned 192.0.2.0/24 and exported it to the kernel (dev espgw-vti0)" learned "$GB" b 192.0.2.0/24
    imported() { # imported SIDE PREFIX: espgw's status lists PREFIX as learned into vti0
        for _ in $(seq 1 30); do
            "$ESPGW" status -s "$WORK/$1.sock" | grep -q "routes learned from the host: .*$2" && break
            sleep 0.2
        done
        "$ESPGW" status -s "$WORK/$1.sock" | grep -A3 "^  vti0" | tee /dev/stderr | grep -q "routes learned from the host: .*$2"
    }
    check "espgw A imported 198.51.100.0/24 into its FIB via vti0" imported a 198.51.100.0/24
    check "espgw B imported 192.0.2.0/24 into its FIB via vti0" imported b 192.0.2.0/24

    # A full table: 100,000 routes out of espgw-vti0 in A's kernel table, then replaced by
    # 100,000 others, while h1 pings h2 (198.51.100.2, a prefix none of them touches).
    python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
def batch(name, verb, plen, n):
    step = 1 << (32 - plen)
    with open(f"{w}/{name}", "w") as f:
        for i in range(n):
            a = (10 << 24) + i * step
            f.write(f"route {verb} {a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}/{plen} dev espgw-vti0 proto static\n")
batch("add1", "add", 25, 100000); batch("del1", "del", 25, 100000); batch("add2", "add", 26, 100000)
PY
    count_learned() { "$ESPGW" status -s "$WORK/a.sock" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["vtis"][0]["learned_route_count"])'; }
    wait_learned() { for _ in $(seq 1 150); do [ "$(count_learned)" = "$1" ] && return 0; sleep 0.2; done; count_learned; return 1; }
    ip netns exec "$H1" ping -i 0.05 -W 1 -w 40 198.51.100.2 >"$WORK/stream.txt" 2>&1 &
    PING=$!
    sleep 2
    t0=$(date +%s.%N)
    ip -n "$GA" -batch "$WORK/add1"
    check "espgw A learned 100,001 routes into vti0 (within 30 s)" wait_learned 100001
    echo "       $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s after the kernel got them; $(grep -o 'routes learned from the host.*millis=[0-9]*' "$WORK/a.log" | tail -1 | grep -o 'millis=[0-9]*') for the import"
    ip -n "$GA" -batch "$WORK/del1"; ip -n "$GA" -batch "$WORK/add2"
    check "espgw A replaced them with 100,000 others (within 30 s)" wait_learned 100001
    # (The count above is the old table's too: wait for a route only the new one has.)
    check "a route of the new table is in A's FIB" wait_for 10 sh -c "'$ESPGW' status -s '$WORK/a.sock' --json | grep -q '10.0.0.64/26'"
    ip -n "$GA" -batch "$WORK/del1" 2>/dev/null; sed 's/route add/route del/' "$WORK/add2" | ip -n "$GA" -batch - 2>/dev/null
    check "and dropped them again when the kernel did" wait_learned 1
    # Go on pinging for a second after the last change, so every request sent during the
    # churn has had its answer before ping is stopped. Requests still in flight at SIGINT
    # count as transmitted but not received (up to half a second of them is allowed); only
    # requests older than the last answer are lost ones.
    sleep 1
    kill -INT "$PING" 2>/dev/null; wait "$PING" 2>/dev/null
    ping_gaps() { # the requests before the last answered one that got no answer
        python3 - "$WORK/stream.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
seqs = {int(m) for m in re.findall(r"icmp_seq=(\d+) ttl", text)}
m = re.search(r"(\d+) packets transmitted", text)
sent = int(m.group(1)) if m else 0
last = max(seqs, default=0)
lost = sorted(set(range(1, last + 1)) - seqs)
print(f"{len(seqs)} answered of {sent} sent; answered up to icmp_seq {last}; unanswered before it: {lost or 'none'}")
sys.exit(0 if sent >= 100 and last >= sent - 10 and not lost else 1)
PY
    }
    if ping_gaps >"$WORK/gaps.txt"; then
        ok "no ping to the untouched prefix lost while 2 x 100,000 routes were replaced ($(cat "$WORK/gaps.txt"))"
    else bad "pings to the untouched prefix: $(cat "$WORK/gaps.txt")"; tail -3 "$WORK/stream.txt" | sed 's/^/       /'; fi
fi

ip netns exec "$GB" tcpdump -i gb-wan -Q in -n -U --immediate-mode -c 200 -w "$WORK/wan.pcap" >"$WORK/cap.log" 2>&1 &
CAP=$!
for _ in $(seq 1 50); do grep -q "listening on" "$WORK/cap.log" 2>/dev/null && break; sleep 0.1; done
check "h1 -> h2 ping through the VTI" ip netns exec "$H1" ping -c 3 -i 0.2 -W 2 198.51.100.2
check "h2 -> h1 ping through the VTI" ip netns exec "$H2" ping -c 3 -i 0.2 -W 2 192.0.2.2
check "h1 -> far VTI inside address 169.254.10.2" ip netns exec "$H1" ping -c 3 -i 0.2 -W 2 169.254.10.2
check "h1 -> near VTI inside address 169.254.10.1" ip netns exec "$H1" ping -c 2 -i 0.2 -W 2 169.254.10.1
check "h1 -> h2 IPv6 ping through the policy-based tunnel, at the same time" ip netns exec "$H1" ping -6 -c 3 -i 0.2 -W 2 2001:db8:2::2
check "h2 -> h1 IPv6 ping through the policy-based tunnel" ip netns exec "$H2" ping -6 -c 3 -i 0.2 -W 2 2001:db8:1::2
kill -INT "$CAP" 2>/dev/null; wait "$CAP" 2>/dev/null
clear=$(tcpdump -n -r "$WORK/wan.pcap" 'icmp or (icmp6 and (ip6[40] == 128 or ip6[40] == 129))' 2>/dev/null | wc -l)
esp=$(tcpdump -n -r "$WORK/wan.pcap" 'esp' 2>/dev/null | wc -l)
if [ "$clear" -eq 0 ] && [ "$esp" -ge 6 ]; then ok "only ESP on the wan link ($esp ESP packets, no clear ICMP)"; else
    bad "wan link: $esp ESP, $clear clear ICMP packets"; fi

status a >"$WORK/sa.json"; status b >"$WORK/sb.json"
pa=$(vti "$WORK/sa.json" packets_out); pb=$(vti "$WORK/sb.json" packets_in)
if [ "${pa:-0}" -ge 8 ] && [ "${pb:-0}" -ge 8 ]; then ok "status counts VTI traffic (A out $pa, B in $pb)"; else
    bad "VTI counters A out $pa, B in $pb"; fi
if { [ "$ROUTING" = bgp ] || "$ESPGW" status -s "$WORK/a.sock" | grep -q "198.51.100.0/24 *via VTI vti0"; } &&
   "$ESPGW" status -s "$WORK/a.sock" | grep -Eq "vti0 +169.254.10.1/30 +peer gw-b +up"; then
    ok "espgw status shows the VTI up and the route via it"
else bad "status text lacks the VTI or its route"; "$ESPGW" status -s "$WORK/a.sock" | tail -12; fi
diag_vti() {
    "$ESPGW" diagnose vti0 -s "$WORK/a.sock" | tee /dev/stderr | grep -q "^VTI vti0 (169.254.10.1/30, IKE peer gw-b): UP" &&
    { [ "$ROUTING" != bgp ] || "$ESPGW" diagnose vti0 -s "$WORK/a.sock" | grep -q "1 routes learned through it, e.g. 198.51.100.0/24"; }
}
check "espgw diagnose vti0: the VTI up (and with bgp, the route learned through its host interface)" diag_vti
want_learned=0; [ "$ROUTING" = bgp ] && want_learned=1
check "metrics: espgw_vti_up, VTI packet counters, learned routes ($want_learned)" sh -c "
    m=\$(ip netns exec '$GA' curl -s --max-time 5 http://127.0.0.1:9464/metrics)
    echo \"\$m\" | grep -E '^espgw_vti_(up|learned_routes|packets_total)' &&
    echo \"\$m\" | grep -q '^espgw_vti_up{vti=\"vti0\"} 1' &&
    echo \"\$m\" | grep -Eq '^espgw_vti_packets_total\{direction=\"out\",vti=\"vti0\"\} [1-9]' &&
    echo \"\$m\" | grep -q '^espgw_vti_learned_routes{vti=\"vti0\"} $want_learned'"
drops=$(python3 -c "import json,sys; print({d['reason']:d['packets'] for d in json.load(open(sys.argv[1]))['drops']}.get('vti_down',0))" "$WORK/sa.json")
[ "$drops" -eq 0 ] && ok "no vti_down drops once up" || bad "vti_down drops: $drops"

stop_pid "$PIDA"; stop_pid "$PIDB"
grep -q "panicked" "$WORK/a.log" "$WORK/b.log" && bad "a gateway panicked" || ok "clean shutdown"
PIDA=""; PIDB=""
echo "vti: $pass passed, $failn failed"
[ "$failn" -eq 0 ]
