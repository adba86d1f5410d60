# Helpers shared by the namespace tests and the demo. Source after setting WORK (and ESPGW).

pass=0; failn=0
ok()   { pass=$((pass+1)); echo "  ok   $*"; }
bad()  { failn=$((failn+1)); echo "  FAILED $*"; }
# check WHAT CMD...: runs CMD; ok when it succeeds, else FAILED with its output indented.
check() { local what=$1; shift; if "$@" >"$WORK/out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/       /' "$WORK/out"; fi; }

# wait_for SECONDS CMD...: CMD succeeds within SECONDS (tried every 0.2 s); on failure the
# last try's output is shown.
wait_for() {
    local n=$(($1 * 5)); shift
    for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    "$@"
}

# listening NS PORT: a TCP listener is on PORT in namespace NS.
listening() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .; }
# wait_listen NS PORT: wait up to 5 s for it (a server started in the background, or one that
# daemonised before it listened).
wait_listen() { wait_for 5 listening "$1" "$2" >/dev/null; }

# stop_pid PID: SIGTERM, then SIGKILL after 5 s.
stop_pid() {
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
}

# wait_socket SOCKET PID: wait up to 20 s for espgw's control socket to answer.
wait_socket() {
    local i
    for i in $(seq 1 200); do
        "$ESPGW" status -s "$1" --json >/dev/null 2>&1 && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
