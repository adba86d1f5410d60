#!/usr/bin/env bash
# Namespace test: two espgw gateways carry traffic between two sites through manually keyed
# ESP tunnels (AES-GCM-128, tunnel mode).
#
#   [ns $P-h1] h1-eth0 ==== ga-lan [ns $P-ga: espgw A] ga-wan ==== gb-wan [ns $P-gb: espgw B] gb-lan ==== h2-eth0 [ns $P-h2]
#   192.0.2.2/24            192.0.2.1/24        203.0.113.1/24   203.0.113.2/24        198.51.100.1/24   198.51.100.2/24
#   2001:db8:1::2/64        2001:db8:1::1/64    2001:db8:ff::1   2001:db8:ff::2        2001:db8:2::1/64  2001:db8:2::2/64
#
# SAs: IPv4 site subnets 192.0.2.0/24 <-> 198.51.100.0/24 in IPv4 outer (203.0.113.1 <-> .2,
# SPIs 0x1001 A->B / 0x2001 B->A); IPv6 subnets 2001:db8:1::/64 <-> 2001:db8:2::/64 in IPv6
# outer (2001:db8:ff::1 <-> ::2, SPIs 0x1006 / 0x2006). Each gateway also has a plain route to
# the far site via the peer, so an SPD that failed to match would leak clear text onto the
# wan link (which the capture checks would see) instead of failing with "no route".
#
# Asserts: pings both ways (IPv4, IPv6) without loss; ICMP fragmentation-needed / Packet Too
# Big with the tunnel MTU and a ping of exactly that size getting through; iperf3 TCP both
# ways (Mbit/s printed); only ESP between the gateways on the wan link (plus ARP/ND); tshark's
# own ESP dissector decrypts the capture with the configured keys and finds the inner pings;
# per-SA counters in `espgw status --json` agree across the gateways; replayed ESP, a flipped
# ciphertext byte, an unknown SPI and clear text from the protected subnet are dropped under
# esp_replayed, esp_icv_mismatch, esp_unknown_spi and cleartext_protected; a valid packet
# built by scapy with the same keys is accepted; clean shutdown; nothing left behind.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ESPGW=${ESPGW:-$ROOT/target/release/espgw}
PY=${PY:-$ROOT/target/pyenv/bin/python}
P=espgw-tun$$
H1="$P-h1"; GA="$P-ga"; GB="$P-gb"; H2="$P-h2"

WORK=$(mktemp -d /tmp/espgw-tunnel.XXXXXX)
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

status() { "$ESPGW" status -s "$WORK/$1.sock" --json; }   # status a|b
# jq-like probes on a saved status file: sa_pkts FILE NAME, drop FILE REASON
sa_pkts() { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(next((a['packets'] for a in s.get('ipsec',{}).get('sas',[]) if a['name']==sys.argv[2]), -1))" "$1" "$2"; }
drop()    { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print({d['reason']:d['packets'] for d in s['drops']}.get(sys.argv[2], 0))" "$1" "$2"; }

# start_cap NS IFACE FILE [FILTER...]: tcpdump of frames received on IFACE (each frame once,
# at the receiving gateway's side); waits until it listens. Sets CAPPID.
start_cap() {
    local ns=$1 ifc=$2 f=$3; shift 3
    ip netns exec "$ns" tcpdump -i "$ifc" -Q in -n -U --immediate-mode -s 0 -w "$f" "$@" >"$f.log" 2>&1 &
    CAPPID=$!
    for _ in $(seq 1 50); do grep -q "listening on" "$f.log" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
stop_cap() { kill -INT "$1" 2>/dev/null; for _ in $(seq 1 30); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$1" 2>/dev/null; }

echo "netns ESP tunnel test (prefix $P)"
[ -x "$ESPGW" ] || { echo "no espgw binary at $ESPGW (make build)"; echo "tunnel: 0 passed, 1 failed"; exit 1; }
[ -x "$PY" ] || { echo "no scapy venv at $PY (make pyenv)"; echo "tunnel: 0 passed, 1 failed"; exit 1; }
topo_up || { echo "cannot create namespaces"; echo "tunnel: 0 passed, 1 failed"; exit 1; }
write_gw "$WORK/a.yaml" a; write_gw "$WORK/b.yaml" b
check "gateway A config passes check-config" "$ESPGW" check-config "$WORK/a.yaml"
check "gateway B config passes check-config" "$ESPGW" check-config "$WORK/b.yaml"
ip netns exec "$GA" "$ESPGW" run -c "$WORK/a.yaml" >"$WORK/a.log" 2>&1 &
PIDA=$!
ip netns exec "$GB" "$ESPGW" run -c "$WORK/b.yaml" >"$WORK/b.log" 2>&1 &
PIDB=$!
if ! wait_socket "$WORK/a.sock" "$PIDA" || ! wait_socket "$WORK/b.sock" "$PIDB"; then
    echo "--- espgw A log"; cat "$WORK/a.log"; echo "--- espgw B log"; cat "$WORK/b.log"
    echo "tunnel: $pass passed, $((failn+1)) failed"; exit 1
fi

# ---- Phase 1: pings and PMTU, with full captures on both wan ends -----------------------
start_cap "$GB" gb-wan "$WORK/a2b.pcap" || bad "tcpdump on gb-wan did not start"; CAP_B=$CAPPID
start_cap "$GA" ga-wan "$WORK/b2a.pcap" || bad "tcpdump on ga-wan did not start"; CAP_A=$CAPPID

ping_has() { # ping_has NS PATTERN ARGS...: ping's output matches PATTERN
    local ns=$1 pat=$2; shift 2
    ip netns exec "$ns" ping "$@" | tee /dev/stderr | grep -q -- "$pat"
}
check "IPv4 ping h1 -> h2 through the tunnel, 0% loss" ping_has "$H1" " 0% packet loss" -c 5 -i 0.2 -W 2 198.51.100.2
check "IPv4 ping h2 -> h1 through the tunnel, 0% loss" ping_has "$H2" " 0% packet loss" -c 5 -i 0.2 -W 2 192.0.2.2
check "IPv6 ping h1 -> h2 through the tunnel, 0% loss" ping_has "$H1" " 0% packet loss" -6 -c 5 -i 0.2 -W 2 2001:db8:2::2
check "IPv6 ping h2 -> h1 through the tunnel, 0% loss" ping_has "$H2" " 0% packet loss" -6 -c 5 -i 0.2 -W 2 2001:db8:1::2

# Path MTU: a 1500-byte DF packet cannot fit in the tunnel; gateway A must say so with the
# tunnel MTU, and a packet of exactly that size must then cross.
ip netns exec "$H1" ping -M do -s 1472 -c 1 -W 2 198.51.100.2 >"$WORK/pmtu4" 2>&1
cat "$WORK/pmtu4" >&2
MTU4=$(sed -n 's/.*From 192\.0\.2\.1 .*Frag needed.*mtu = \([0-9]*\).*/\1/p' "$WORK/pmtu4" | head -1)
check "IPv4 1500-byte DF ping: ICMP frag-needed from 192.0.2.1 with the tunnel MTU (got '${MTU4:-none}')" test -n "$MTU4"
if [ -n "$MTU4" ]; then
    check "IPv4 ping of exactly the reported MTU ($MTU4) with DF crosses the tunnel" \
        ping_has "$H1" " 0% packet loss" -M do -s $((MTU4-28)) -c 2 -i 0.2 -W 2 198.51.100.2
fi
ip netns exec "$H1" ping -6 -M do -s 1452 -c 1 -W 2 2001:db8:2::2 >"$WORK/pmtu6" 2>&1
cat "$WORK/pmtu6" >&2
MTU6=$(sed -n 's/.*From 2001:db8:1::1 .*Packet too big: mtu=\([0-9]*\).*/\1/p' "$WORK/pmtu6" | head -1)
check "IPv6 1500-byte ping: Packet Too Big from 2001:db8:1::1 with the tunnel MTU (got '${MTU6:-none}')" test -n "$MTU6"
if [ -n "$MTU6" ]; then
    check "IPv6 ping of exactly the reported MTU ($MTU6) crosses the tunnel" \
        ping_has "$H1" " 0% packet loss" -6 -M do -s $((MTU6-48)) -c 2 -i 0.2 -W 2 2001:db8:2::2
fi
# ICMP errors about tunnel traffic go back through the tunnel: h2's TTL-2 ping expires at
# gateway A after crossing, and A's time-exceeded (from its address on the protected side)
# must reach h2 through the SA, never in clear on the wan.
check "time exceeded for a packet that crossed the tunnel comes back through it (from 192.0.2.1)" \
    ping_has "$H2" "From 192.0.2.1 .*Time to live exceeded" -c 1 -t 2 -W 2 192.0.2.2

# Without DF a packet too big for the tunnel is fragmented before encryption (RFC 4459 §5.1):
# h2 has not learned a smaller path MTU towards h1, so its 1500-byte packets reach gateway B
# whole, and only B's fragmentation lets them cross.
check "IPv4 1500-byte ping without DF h2 -> h1: fragmented before encryption, 0% loss" \
    ping_has "$H2" " 0% packet loss" -M dont -s 1472 -c 2 -i 0.2 -W 2 192.0.2.2
sleep 0.3
stop_cap "$CAP_A"; stop_cap "$CAP_B"
status a >"$WORK/a-ping.json" 2>&1; status b >"$WORK/b-ping.json" 2>&1

# Only ESP between the gateways: no IPv4/IPv6 packet on the wan link other than ESP, ARP and
# neighbour discovery; nothing whose outer addresses are the sites' hosts.
nonesp() { # nonesp PCAP: print non-ESP IP packets; fail if there are any
    tcpdump -n -r "$1" 'not arp and not (ip proto 50) and not (ip6 proto 50) and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)' 2>/dev/null >"$WORK/leak"
    cat "$WORK/leak"; [ ! -s "$WORK/leak" ]
}
esp_count() { tcpdump -n -r "$1" "$2" 2>/dev/null | wc -l; }
outer_ttl() { # outer_ttl PCAP: every ESP frame has outer TTL / hop limit 64 (espgw's own header)
    local f='(ip proto 50 and ip[8] != 64) or (ip6 proto 50 and ip6[7] != 64)'
    echo "$(esp_count "$1" "$f") of $(esp_count "$1" 'ip proto 50 or ip6 proto 50') ESP frames with another TTL / hop limit:"
    tcpdump -n -v -r "$1" "$f" 2>/dev/null | tee "$WORK/ttl"; [ ! -s "$WORK/ttl" ]
}
check "wan capture A->B: only ESP (no clear ICMP/TCP between the sites)" nonesp "$WORK/a2b.pcap"
check "wan capture B->A: only ESP" nonesp "$WORK/b2a.pcap"
N4=$(esp_count "$WORK/a2b.pcap" 'ip proto 50 and src 203.0.113.1 and dst 203.0.113.2')
N6=$(esp_count "$WORK/a2b.pcap" 'ip6 proto 50 and src 2001:db8:ff::1 and dst 2001:db8:ff::2')
M4=$(esp_count "$WORK/b2a.pcap" 'ip proto 50 and src 203.0.113.2 and dst 203.0.113.1')
M6=$(esp_count "$WORK/b2a.pcap" 'ip6 proto 50 and src 2001:db8:ff::2 and dst 2001:db8:ff::1')
echo "  wan ESP frames: A->B IPv4 outer $N4, IPv6 outer $N6; B->A IPv4 outer $M4, IPv6 outer $M6"
check "ESP seen both ways in IPv4 outer (203.0.113.1 <-> .2) and IPv6 outer (2001:db8:ff::1 <-> ::2)" \
    test "$N4" -gt 0 -a "$N6" -gt 0 -a "$M4" -gt 0 -a "$M6" -gt 0
check "A's ESP frames leave with outer TTL / hop limit 64" outer_ttl "$WORK/a2b.pcap"
check "B's ESP frames leave with outer TTL / hop limit 64" outer_ttl "$WORK/b2a.pcap"

# tshark: an independent ESP implementation decrypts the capture with the configured keys.
uat() { # uat FAMILY SRC DST SPI KEY
    printf '%s' "uat:esp_sa:\"$1\",\"$2\",\"$3\",\"$4\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x$5\",\"NULL\",\"\""
}
TSHARK_OPTS=(-o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE
    -o "$(uat IPv4 203.0.113.1 203.0.113.2 0x00001001 $K_A2B_4)"
    -o "$(uat IPv4 203.0.113.2 203.0.113.1 0x00002001 $K_B2A_4)"
    -o "$(uat IPv6 2001:db8:ff::1 2001:db8:ff::2 0x00001006 $K_A2B_6)"
    -o "$(uat IPv6 2001:db8:ff::2 2001:db8:ff::1 0x00002006 $K_B2A_6)")
decrypts() { # decrypts PCAP FILTER MIN: tshark decrypts at least MIN frames matching FILTER
    local n
    n=$(tshark -n -r "$1" "${TSHARK_OPTS[@]}" -Y "$2" 2>/dev/null | tee /dev/stderr | wc -l)
    echo "$n frames match '$2'"
    [ "$n" -ge "$3" ]
}
if command -v tshark >/dev/null; then
    check "tshark decrypts A->B ESP: inner ICMP echo requests 192.0.2.2 -> 198.51.100.2" \
        decrypts "$WORK/a2b.pcap" 'esp && ip.src==192.0.2.2 && ip.dst==198.51.100.2 && icmp.type==8' 5
    check "tshark decrypts B->A ESP: inner ICMP echo replies 198.51.100.2 -> 192.0.2.2" \
        decrypts "$WORK/b2a.pcap" 'esp && ip.src==198.51.100.2 && ip.dst==192.0.2.2 && icmp.type==0' 5
    check "tshark decrypts A->B IPv6-outer ESP: inner ICMPv6 echo requests 2001:db8:1::2 -> 2001:db8:2::2" \
        decrypts "$WORK/a2b.pcap" 'esp && ipv6.src==2001:db8:1::2 && ipv6.dst==2001:db8:2::2 && icmpv6.type==128' 5
    check "tshark decrypts B->A IPv6-outer ESP: inner ICMPv6 echo replies" \
        decrypts "$WORK/b2a.pcap" 'esp && ipv6.src==2001:db8:2::2 && ipv6.dst==2001:db8:1::2 && icmpv6.type==129' 5
    all_decrypt() { # all_decrypt PCAP: every ESP frame decrypts to an inner ICMP/ICMPv6 packet
        local n m
        n=$(tshark -n -r "$1" "${TSHARK_OPTS[@]}" -Y esp 2>/dev/null | wc -l)
        m=$(tshark -n -r "$1" "${TSHARK_OPTS[@]}" -Y 'esp && esp.icv_good==1 && (icmp || icmpv6 || ip.flags.mf==1 || ip.frag_offset>0)' 2>/dev/null | wc -l)
        echo "$m of $n ESP frames decrypted to inner ICMP/ICMPv6 with a good ICV"
        [ "$n" -gt 0 ] && [ "$n" = "$m" ]
    }
    check "tshark verifies the ICV of every ESP frame of phase 1 (A->B) and decrypts it to an inner ping" all_decrypt "$WORK/a2b.pcap"
    check "tshark verifies the ICV of every ESP frame of phase 1 (B->A) and decrypts it to an inner ping" all_decrypt "$WORK/b2a.pcap"
else
    bad "tshark not installed (make deps)"
fi

# ---- Phase 2: TCP through the tunnel, with a capture of anything that is not ESP --------
start_cap "$GB" gb-wan "$WORK/leak-a2b.pcap" 'not arp and not (ip proto 50) and not (ip6 proto 50) and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)' || bad "leak capture did not start"; LCAP_B=$CAPPID
start_cap "$GA" ga-wan "$WORK/leak-b2a.pcap" 'not arp and not (ip proto 50) and not (ip6 proto 50) and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)' || bad "leak capture did not start"; LCAP_A=$CAPPID
ip netns exec "$H2" iperf3 -s -D -B 198.51.100.2 >/dev/null 2>&1
ip netns exec "$H2" iperf3 -s -D -p 5202 -B 2001:db8:2::2 >/dev/null 2>&1
wait_listen "$H2" 5201; wait_listen "$H2" 5202
iperf() { # iperf NAME ARGS...: one iperf3 client run, prints Mbit/s received; fails on 0
    local name=$1; shift
    timeout --foreground 20 ip netns exec "$H1" iperf3 -J "$@" >"$WORK/iperf-$name.json" 2>&1
    python3 - "$WORK/iperf-$name.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print("no iperf3 JSON:", open(sys.argv[1]).read()[-2000:]); sys.exit(1)
if "error" in r:
    print("iperf3 error:", r["error"])
e = r.get("end", {})
rx = e.get("sum_received", {}).get("bits_per_second", 0) / 1e6
tx = e.get("sum_sent", {}).get("bits_per_second", 0) / 1e6
rt = e.get("sum_sent", {}).get("retransmits", "?")
print(f"{rx:.1f} Mbit/s received ({tx:.1f} sent, {rt} retransmits)")
sys.exit(0 if rx > 0 else 1)
PY
}
tcp_run() { # tcp_run LABEL NAME ARGS...
    local label=$1 name=$2; shift 2
    if iperf "$name" "$@" >"$WORK/out" 2>&1; then ok "$label: $(cat "$WORK/out")"; else bad "$label"; sed 's/^/       /' "$WORK/out"; fi
}
if command -v iperf3 >/dev/null; then
    tcp_run "TCP IPv4 h1 -> h2, 3 s through the tunnel" up4 -c 198.51.100.2 -t 3
    tcp_run "TCP IPv4 h2 -> h1 (reverse), 3 s through the tunnel" down4 -c 198.51.100.2 -t 3 -R
    tcp_run "TCP IPv6 h1 -> h2, 2 s through the tunnel" up6 -c 2001:db8:2::2 -p 5202 -t 2
    ip -n "$H1" route get 198.51.100.2 >&2
else
    bad "iperf3 not installed (make deps)"
fi
sleep 0.3
stop_cap "$LCAP_A"; stop_cap "$LCAP_B"
kdrops() { ip -n "$1" -s -j link show "$2" | python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["stats64"]; print("rx dropped %d, tx dropped %d" % (s["rx"]["dropped"], s["tx"]["dropped"]))'; }
echo "  kernel veth counters (informational): gb-wan $(kdrops "$GB" gb-wan); ga-wan $(kdrops "$GA" ga-wan)"
check "no clear text on the wan during TCP (A->B)" nonesp "$WORK/leak-a2b.pcap"
check "no clear text on the wan during TCP (B->A)" nonesp "$WORK/leak-b2a.pcap"

# ---- Metrics: promtool lints the exposition, and a real Prometheus scrapes gateway A ---------
if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
    ip netns exec "$GA" curl -sf http://127.0.0.1:9464/metrics >"$WORK/metrics-a.txt" 2>&1
    check "metrics endpoint answers and promtool check metrics passes" \
        sh -c "test -s '$WORK/metrics-a.txt' && promtool check metrics <'$WORK/metrics-a.txt'"
    check "per-TX-queue counters: the wan queue sent packets" grep -qE '^espgw_queue_tx_packets_total\{.*port="wan".*\} [1-9]' "$WORK/metrics-a.txt"
    check "promtool check rules deploy/prometheus/espgw-alerts.yml" promtool check rules "$ROOT/deploy/prometheus/espgw-alerts.yml"
    mkdir -p "$WORK/prom"
    cat >"$WORK/prom/prometheus.yml" <<PROM
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: ["$ROOT/deploy/prometheus/espgw-alerts.yml"]
scrape_configs:
  - job_name: espgw
    static_configs: [{ targets: ["127.0.0.1:9464"] }]
PROM
    ip netns exec "$GA" prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
        --web.listen-address=127.0.0.1:9090 >"$WORK/prom/log" 2>&1 &
    PROM_PID=$!
    prom_has_traffic() { # the query API returns a nonzero packet counter for gateway A's out-v4 SA
        local i v
        for i in $(seq 1 60); do
            v=$(ip netns exec "$GA" curl -sf 'http://127.0.0.1:9090/api/v1/query?query=espgw_sa_packets_total%7Bsa%3D%22out-v4%22%7D' 2>/dev/null |
                python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null)
            if [ -n "$v" ] && [ "$v" != "0" ]; then echo "espgw_sa_packets_total{sa=\"out-v4\"} = $v (from Prometheus)"; return 0; fi
            sleep 0.5
        done
        tail -5 "$WORK/prom/log"; return 1
    }
    check "a Prometheus server scrapes gateway A; its query API returns the tunnel's packet counter" prom_has_traffic
    kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null
else
    bad "promtool/prometheus not installed (make deps)"
fi

# ---- Counters -------------------------------------------------------------------------------
status a >"$WORK/a.json" 2>&1; status b >"$WORK/b.json" 2>&1
has_sas() { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); sas=s['ipsec']['sas']; print(json.dumps(sas)); sys.exit(0 if len(sas)==4 and all(a['packets']>0 and a['bytes']>0 for a in sas) else 1)" "$1"; }
check "status A: ipsec.sas lists 4 SAs, all with packets and bytes > 0" has_sas "$WORK/a.json"
check "status B: ipsec.sas lists 4 SAs, all with packets and bytes > 0" has_sas "$WORK/b.json"
# After the pings alone (phase 1, no loss) the counters must be equal: every packet one
# gateway protected, the other accepted.
for pair in "out-v4:in-v4" "out-v6:in-v6"; do
    o=${pair%%:*}; i=${pair##*:}
    for g in "a b" "b a"; do
        set -- $g
        x=$(sa_pkts "$WORK/${1}-ping.json" "$o"); y=$(sa_pkts "$WORK/${2}-ping.json" "$i")
        check "after the pings: ${1^^} $o packets ($x) = ${2^^} $i packets ($y)" test "$x" -gt 0 -a "$x" = "$y"
    done
done
# After TCP: the sender's SA counts are the receiver's plus what the wan link itself lost
# (the kernel's af_packet rings drop under load; espgw does not see those as rx_missed).
consistent() { # consistent FROM TO: FROM's out SAs vs TO's in SAs, given FROM wan tx - TO wan rx
    python3 - "$WORK/$1.json" "$WORK/$2.json" <<'PY'
import json, sys
f, t = (json.load(open(x)) for x in sys.argv[1:3])
sa = lambda s, n: next(a["packets"] for a in s["ipsec"]["sas"] if a["name"] == n)
port = lambda s, n: next(p for p in s["ports"] if p["name"] == n)
sent = sa(f, "out-v4") + sa(f, "out-v6")
got = sa(t, "in-v4") + sa(t, "in-v6")
wire_loss = port(f, "wan")["tx_packets"] - port(t, "wan")["rx_packets"]
print(f"out SAs {sent}, peer's in SAs {got}, difference {sent - got}; "
      f"wan tx {port(f, 'wan')['tx_packets']} - peer wan rx {port(t, 'wan')['rx_packets']} = {wire_loss} lost on the link")
sys.exit(0 if 0 <= sent - got <= max(wire_loss, 0) + 2 and got >= 0.9 * sent else 1)
PY
}
check "A's out SAs ~ B's in SAs (all of the difference lost on the wan link, <10%): $(consistent a b | tail -1)" consistent a b
check "B's out SAs ~ A's in SAs (all of the difference lost on the wan link, <10%): $(consistent b a | tail -1)" consistent b a

# ---- Tampering, replay, unknown SPI, clear text: injected next to the gateways ---------------
# Frames sent with scapy on ga-wan (in A's namespace) arrive at gateway B, and frames sent on
# gb-wan arrive at A. The replayed frame is the last one A sent and B accepted (inside B's
# replay window); the old frame is one from phase 1 (left of the window by now).
start_cap "$GB" gb-wan "$WORK/fresh.pcap" 'ip proto 50' || bad "capture did not start"; FCAP=$CAPPID
ip netns exec "$H1" ping -c 1 -W 2 198.51.100.2 >/dev/null 2>&1
# Stop the capture once it has written a packet (more than the 24-byte pcap file header).
wait_for 3 sh -c "[ \$(stat -c %s '$WORK/fresh.pcap') -gt 24 ]" >/dev/null 2>&1
sleep 0.1; stop_cap "$FCAP"
status b >"$WORK/b0.json" 2>&1; status a >"$WORK/a0.json" 2>&1
MAC_A=$(ip -n "$GA" -br link show ga-wan | awk '{print $3}')
ip netns exec "$GA" "$PY" - "$WORK/fresh.pcap" "$WORK/a2b.pcap" "$K_A2B_4" >"$WORK/inject-b.log" 2>&1 <<'PY'
import sys, time
from scapy.all import rdpcap, sendp, Ether, IP, ICMP, Raw, conf
from scapy.layers.ipsec import ESP, SecurityAssociation
conf.verb = 0
fresh, old, key = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
pick = lambda f: [p for p in rdpcap(f) if p.haslayer(ESP) and IP in p and p[ESP].spi == 0x1001]
f = pick(fresh)[-1]
o = pick(old)[0]
send = lambda p: (sendp(p, iface="ga-wan"), time.sleep(0.05))
print("replaying the last frame A sent: spi=%#x seq=%d len=%d" % (f[ESP].spi, f[ESP].seq, len(f)))
send(f); send(f)
print("replaying an old frame from phase 1: seq=%d" % o[ESP].seq)
send(o)
bad_spi = f.copy(); bad_spi[ESP].spi = 0x0badf00d
send(bad_spi)
# A fresh packet with the real key, ahead in the window: first with one ciphertext byte
# flipped (must fail the ICV and leave the window alone), then intact (must be accepted).
sa = SecurityAssociation(ESP, spi=0x1001, crypt_algo="AES-GCM", crypt_key=key,
                         tunnel_header=IP(src="203.0.113.1", dst="203.0.113.2"))
inner = IP(src="192.0.2.2", dst="198.51.100.2") / ICMP(id=0x5ca9, seq=1) / Raw(b"scapy-built")
seq = f[ESP].seq + 100
good = sa.encrypt(inner, seq_num=seq)
flipped = bytearray(bytes(good))
flipped[20 + 8 + 8 + 4] ^= 0x01           # outer IPv4, SPI+seq, IV, then 4 bytes into the ciphertext
eth = Ether(src=f[Ether].src, dst=f[Ether].dst)
send(eth / IP(bytes(flipped)))
send(eth / good)
print("sent: 2 replays, 1 old frame, 1 unknown SPI, 1 flipped ciphertext byte (seq %d), 1 valid (seq %d)" % (seq, seq))
PY
rc=$?
cat "$WORK/inject-b.log" >&2
check "scapy injected frames toward gateway B" test "$rc" = 0
# Clear text from the protected remote site arriving at A: must be dropped (cleartext_protected).
ip netns exec "$GB" "$PY" - "$MAC_A" >"$WORK/inject-a.log" 2>&1 <<'PY'
import sys
from scapy.all import sendp, Ether, IP, ICMP, conf
conf.verb = 0
sendp(Ether(dst=sys.argv[1]) / IP(src="198.51.100.2", dst="192.0.2.2") / ICMP(id=0x5caa), iface="gb-wan")
PY
check "scapy injected a clear-text packet toward gateway A" test "$?" = 0
sleep 0.5
status b >"$WORK/b1.json" 2>&1; status a >"$WORK/a1.json" 2>&1
delta() { # delta REASON N GW: drop counter REASON rose by exactly N at gateway GW
    local d0 d1; d0=$(drop "$WORK/${3}0.json" "$1"); d1=$(drop "$WORK/${3}1.json" "$1")
    echo "$1: $d0 -> $d1"; [ $((d1 - d0)) -eq "$2" ]
}
check "replayed ESP frame (twice) -> gateway B esp_replayed +2" delta esp_replayed 2 b
check "old ESP frame (left of the window) -> gateway B esp_too_old +1" delta esp_too_old 1 b
check "flipped ciphertext byte -> gateway B esp_icv_mismatch +1" delta esp_icv_mismatch 1 b
check "unknown SPI 0x0badf00d -> gateway B esp_unknown_spi +1" delta esp_unknown_spi 1 b
check "clear text 198.51.100.2 -> 192.0.2.2 on A's wan -> cleartext_protected +1" delta cleartext_protected 1 a
accepted() {
    local p0 p1; p0=$(sa_pkts "$WORK/b0.json" in-v4); p1=$(sa_pkts "$WORK/b1.json" in-v4)
    echo "B in-v4 packets: $p0 -> $p1"; [ "$p0" -ge 0 ] && [ $((p1 - p0)) -eq 1 ]
}
check "of the injected frames B accepted exactly one (the valid scapy-built packet)" accepted

# ---- Reload: an invalid file is refused; a policy change applies; unchanged SAs carry on ------
cp "$WORK/a.yaml" "$WORK/a.good.yaml"
status a >"$WORK/r0.json" 2>&1
sed -i 's/enc_key: "'"$K_A2B_4"'"/enc_key: "0102"/' "$WORK/a.yaml"
"$ESPGW" reload -s "$WORK/a.sock" >"$WORK/reload1.txt" 2>&1; rc=$?
cat "$WORK/reload1.txt" >&2
check "reload of an invalid file is refused (exit $rc) naming the file, line and field" \
    sh -c "[ $rc -ne 0 ] && grep -q 'a.yaml:[0-9]*:[0-9]*: ipsec.sas\[0\].enc_key' '$WORK/reload1.txt'"
check "after the refused reload the tunnel still carries pings" ping_has "$H1" " 0% packet loss" -c 3 -i 0.2 -W 2 198.51.100.2
# A discard policy in front of the protect policy: ICMP from h1 to h2 stops, the SAs stay.
cp "$WORK/a.good.yaml" "$WORK/a.yaml"
sed -i 's|^  policies:|  policies:\n    - { direction: out, src: "192.0.2.2/32", dst: "198.51.100.2/32", protocol: icmp, action: discard }|' "$WORK/a.yaml"
"$ESPGW" reload -s "$WORK/a.sock" >"$WORK/reload2.txt" 2>&1; rc=$?
cat "$WORK/reload2.txt" >&2
check "reload with a new discard policy succeeds; every SA is reported unchanged" \
    sh -c "[ $rc -eq 0 ] && grep -q 'SAs unchanged: out-v4, in-v4, out-v6, in-v6; added: -; replaced: -; removed: -; 5 policies' '$WORK/reload2.txt'"
ip netns exec "$H1" ping -c 2 -i 0.2 -W 1 198.51.100.2 >/dev/null 2>&1
status a >"$WORK/r1.json" 2>&1
check "the discard policy drops h1's pings (policy_discard $(drop "$WORK/r1.json" policy_discard))" \
    test "$(drop "$WORK/r1.json" policy_discard)" -ge 2
check "out-v4 kept its counters across the reload ($(sa_pkts "$WORK/r0.json" out-v4) -> $(sa_pkts "$WORK/r1.json" out-v4))" \
    test "$(sa_pkts "$WORK/r1.json" out-v4)" -ge "$(sa_pkts "$WORK/r0.json" out-v4)"
# SIGHUP reloads too: back to the original file.
cp "$WORK/a.good.yaml" "$WORK/a.yaml"
kill -HUP "$PIDA"
wait_for 5 sh -c "[ \$(grep -c 'reloaded: SAs' '$WORK/a.log') -ge 2 ]" >/dev/null
check "SIGHUP reloads: without the discard policy pings cross again" \
    ping_has "$H1" " 0% packet loss" -c 3 -i 0.2 -W 2 198.51.100.2
check "espgw logged both reloads and the refusal" \
    sh -c "grep -c 'reloaded: SAs' '$WORK/a.log' | grep -qx 2 && grep -q 'reload refused' '$WORK/a.log'"

# ---- Shutdown ---------------------------------------------------------------------------------
kill -TERM "$PIDA" "$PIDB"
stopped() { for _ in $(seq 1 100); do kill -0 "$PIDA" 2>/dev/null || kill -0 "$PIDB" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
check "both espgw instances stop on SIGTERM" stopped
wait "$PIDA"; rca=$?; wait "$PIDB"; rcb=$?
check "exit status 0 after SIGTERM (A $rca, B $rcb)" test "$rca" = 0 -a "$rcb" = 0
check "DPDK runtime directories removed" test ! -e "/var/run/dpdk/$P-a" -a ! -e "/var/run/dpdk/$P-b"
PIDA=""; PIDB=""
if [ "$failn" != 0 ]; then
    for g in a b; do echo "--- espgw $g log (last 30 lines)"; tail -30 "$WORK/$g.log"; done
    echo "--- status B after injection"; cat "$WORK/b1.json" 2>/dev/null | head -c 4000; echo
fi
topo_down
leftover() { ! ip netns list | grep -q "^$P-" && ! pgrep -f "$WORK/[ab].yaml" >/dev/null; }
check "no namespace or process left behind" leftover

echo "tunnel: $pass passed, $failn failed"
[ "$failn" = 0 ]
