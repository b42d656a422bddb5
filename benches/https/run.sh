#!/usr/bin/env bash
# run.sh -- HTTPS benchmark: TLS-terminating reverse proxies side by side.
#
#   benches/https/run.sh [PEER...]        peers: lighttpd nginx wick (default: lighttpd wick nginx)
#
# Every peer terminates TLS on 127.0.0.1 with the same certificate (generated
# once per run with the openssl CLI) and proxies to the same nginx origin
# (/work/shared/bench/conf/nginx-origin.conf on 19080, /100b.bin):
#   lighttpd  lighttpd -D -f conf/lighttpd-https.conf          (mod_openssl) 19181
#   wick      $EXTRA, {conf} = conf/lighttpd-https.conf (the same file)       19181
#   nginx     nginx -c conf/nginx-https.conf (ssl server, upstream keepalive) 19182
# The first peer named is the baseline: every figure also gets a ratio to it.
#
# Workloads (WORKLOADS="ka hs"):
#   ka  HTTPS keep-alive requests/s: wrk -t1 -c$KA_CONNS -d${DURATION}s https://…/100b.bin
#   hs  new full TLS handshakes/s: hsload -c$HS_CONNS (Rust/rustls client, one new TCP
#       connection + full handshake per iteration, session resumption disabled;
#       HS_PATH=/100b.bin adds one GET per connection)
# For each run: the rate, the proxy's CPU seconds per second (whole process
# tree, /proc), hence the rate per proxy core, and the client's CPU use.
#
# Knobs (environment):
#   REPS=3 DURATION=10 WARMUP=2     repetitions (interleaved; order reversed on even reps),
#                                   measured seconds, warm-up seconds
#   WORKLOADS="ka hs"  KA_CONNS=64  HS_CONNS=16  HS_PATH=          (empty: handshake only)
#   CERT=rsa2048                    or p256 (ECDSA P-256: cheap to sign, the client's
#                                   verify then costs more than the server's sign)
#   EXTRA='/work/main/target/release/wick -D -f {conf}'   the wick peer's command;
#   EXTRA_NAME=wick                 its label (the peer is named by EXTRA_NAME on the command line)
#   SNAPSHOT=1                      copy EXTRA's program into the run directory first, so a
#                                   rebuild during the run does not change the binary measured
#   PROXY_CPU=0 LOAD_CPU=1          taskset CPUs (proxy | load generator + origin)
#   NICE=0                          e.g. NICE=-5 to favour the benchmark over co-tenants
#   SHARED_BENCH=/work/shared/bench the shared harness (procmon.py, nginx-origin.conf; read only)
#   PYTHON=python3                  the Python that runs procmon.py and report.py
#   OUT=dir                         results dir (default benches/https/results/<stamp>)
#
# Everything binds to 127.0.0.1, ports 19080 (origin), 19180-19182.  Processes
# started here are stopped by PID (trap on exit); nothing is killed by name.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CONF="$HERE/conf"
SHARED_BENCH="${SHARED_BENCH:-/work/shared/bench}"
PROCMON="$SHARED_BENCH/lib/procmon.py"
ORIGIN_CONF="$SHARED_BENCH/conf/nginx-origin.conf"
HSLOAD_DIR="$HERE/hsload"
HSLOAD="$HSLOAD_DIR/target/release/hsload"
PY="${PYTHON:-python3}"
PY="$("$PY" -c 'import sys; print(sys.executable)')" || { echo "python3 not found" >&2; exit 1; }

case "${1:-}" in -h | --help) sed -n '2,39p' "$0"; exit 0 ;; esac

DEFAULT_EXTRA="$REPO/target/release/wick -D -f {conf}"
EXTRA="${EXTRA:-$DEFAULT_EXTRA}"
EXTRA_NAME="${EXTRA_NAME:-wick}"
# a relative program path is taken from the directory run.sh was called in
first="${EXTRA%% *}"
if [[ "$first" == */* && "$first" != /* ]]; then
    EXTRA="$PWD/$first${EXTRA#"$first"}"
fi
if [[ $# -eq 0 ]]; then PEERS=(lighttpd "$EXTRA_NAME" nginx); else PEERS=("$@"); fi
for p in "${PEERS[@]}"; do
    case "$p" in lighttpd | nginx | "$EXTRA_NAME") ;; *) echo "unknown peer '$p' (lighttpd nginx $EXTRA_NAME)" >&2; exit 2 ;; esac
done

REPS="${REPS:-3}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
WORKLOADS=(${WORKLOADS:-ka hs})
KA_CONNS="${KA_CONNS:-64}"
HS_CONNS="${HS_CONNS:-16}"
HS_PATH="${HS_PATH:-}"
CERT="${CERT:-rsa2048}"
SNAPSHOT="${SNAPSHOT:-1}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
NICE="${NICE:-0}"
pin() { local c=$1; shift; if [[ "$NICE" != 0 ]]; then nice -n "$NICE" taskset -c "$c" "$@"; else taskset -c "$c" "$@"; fi; }

# fixed loopback ports (must match conf/* and the shared origin config)
P_ORIGIN=19080 P_PLAIN=19180 P_LT=19181 P_NGINX=19182

STAMP="$(date +%Y%m%d-%H%M%S)"
OUT="${OUT:-$HERE/results/$STAMP}"
mkdir -p "$OUT/raw" "$OUT/work"
OUT="$(cd "$OUT" && pwd)"
WORK="$OUT/work"
LOG="$OUT/run.log"

log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

# ---------------------------------------------------------------- prerequisites
for b in taskset wrk curl openssl nginx lighttpd; do
    command -v "$b" >/dev/null || { echo "missing: $b" >&2; exit 1; }
done
[[ -f "$PROCMON" && -f "$ORIGIN_CONF" ]] || { echo "shared harness not found at $SHARED_BENCH (set SHARED_BENCH)" >&2; exit 1; }
# lighttpd without mod_openssl refuses conf/lighttpd-https.conf: every lighttpd run would fail
if [[ " ${PEERS[*]} " == *" lighttpd "* && ! -f /usr/lib/lighttpd/mod_openssl.so ]]; then
    echo "lighttpd's mod_openssl is missing (/usr/lib/lighttpd/mod_openssl.so): apt-get install lighttpd-mod-openssl, or leave the lighttpd peer out" >&2
    exit 1
fi
if [[ " ${WORKLOADS[*]} " == *" hs "* && ! -x "$HSLOAD" ]]; then
    log "building hsload (cargo build --release in $HSLOAD_DIR)"
    (cd "$HSLOAD_DIR" && { cargo build --release -q --offline 2>/dev/null || cargo build --release -q; }) \
        || { echo "hsload build failed" >&2; exit 1; }
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# the wick peer's program: snapshot it, so a rebuild during the run changes nothing
EXTRA_PROG="${EXTRA%% *}"
if [[ " ${PEERS[*]} " == *" $EXTRA_NAME "* ]]; then
    if [[ "$EXTRA_PROG" == /* && ! -x "$EXTRA_PROG" ]]; then
        echo "$EXTRA_NAME: $EXTRA_PROG is not an executable (build it, or set EXTRA)" >&2; exit 1
    fi
    if [[ "$SNAPSHOT" == 1 && "$EXTRA_PROG" == /* ]]; then
        mkdir -p "$WORK/bin"
        cp "$EXTRA_PROG" "$WORK/bin/" || exit 1
        EXTRA_SHA="$(sha256sum "$WORK/bin/$(basename "$EXTRA_PROG")" | cut -c1-16)"
        EXTRA_MTIME="$(date -r "$EXTRA_PROG" -Is)"
        EXTRA="$WORK/bin/$(basename "$EXTRA_PROG")${EXTRA#"$EXTRA_PROG"}"
    fi
fi

# ------------------------------------------------------------ process tracking
PIDS=()
stop_pid() {  # stop one process we started (by PID), and whatever it forked
    local pid=$1
    [[ -z "$pid" || "$pid" == 0 ]] && return 0
    "$PY" "$PROCMON" stop "$pid" 5
    wait "$pid" 2>/dev/null
    return 0
}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    PIDS=()
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
forget_pid() { local p keep=(); for p in "${PIDS[@]}"; do [[ "$p" != "$1" ]] && keep+=("$p"); done; PIDS=("${keep[@]}"); }

# launch DIR CPU LOGFILE CMD...   -> LAUNCHED_PID (the program's own PID)
launch() {
    local dir=$1 cpu=$2 logf=$3
    shift 3
    if [[ "$NICE" != 0 ]]; then
        ( cd "$dir" && exec nice -n "$NICE" taskset -c "$cpu" "$@" ) >>"$logf" 2>&1 &
    else
        ( cd "$dir" && exec taskset -c "$cpu" "$@" ) >>"$logf" 2>&1 &
    fi
    LAUNCHED_PID=$!
    PIDS+=("$LAUNCHED_PID")
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {  # wait_port PORT PID [secs]
    local port=$1 pid=$2 n=$(( ${3:-10} * 20 )) i
    for ((i = 0; i < n; i++)); do
        if [[ "$pid" != 0 ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        port_open "$port" && return 0
        sleep 0.05
    done
    return 1
}
check_ports_free() {
    local p busy=0
    for p in "$@"; do
        if port_open "$p"; then echo "port $p already in use on 127.0.0.1" >&2; busy=1; fi
    done
    return $busy
}

# ---------------------------------------------------------------- certificate
gen_cert() {
    local d="$WORK/cert"
    mkdir -p "$d"
    local key=(-newkey rsa:2048)
    case "$CERT" in
    rsa2048) ;;
    p256) key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
    *) echo "CERT must be rsa2048 or p256" >&2; exit 2 ;;
    esac
    openssl req -x509 "${key[@]}" -nodes -keyout "$d/key.pem" -out "$d/cert.pem" -days 30 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$d/openssl.log" 2>&1 \
        || { cat "$d/openssl.log" >&2; exit 1; }
    cat "$d/cert.pem" "$d/key.pem" >"$d/server.pem"
    chmod 600 "$d/server.pem" "$d/key.pem"
    PEM="$d/server.pem"
    log "certificate: $CERT, $(openssl x509 -in "$d/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2 | cut -c1-23)…"
}

# ------------------------------------------------------------------- origin
ORIGIN_PID=0
start_origin() {
    local d="$WORK/origin"
    mkdir -p "$d/www" "$d/tmp"
    head -c 100 /dev/urandom >"$d/www/100b.bin"
    head -c 65536 /dev/urandom >"$d/www/64k.bin"
    launch "$d" "$LOAD_CPU" "$d/origin.log" nginx -p "$d/" -c "$ORIGIN_CONF" -e stderr
    ORIGIN_PID=$LAUNCHED_PID
    wait_port $P_ORIGIN "$ORIGIN_PID" || { echo "origin nginx failed" >&2; cat "$d/origin.log" >&2; exit 1; }
    log "origin up: PID $ORIGIN_PID"
}

# --------------------------------------------------------------------- peers
# start_peer PEER WORKLOAD -> PEER_PID, PEER_PORT
start_peer() {
    local peer=$1 wl=$2 d="$WORK/peer-$1"
    mkdir -p "$d/tmp"
    ln -sf "$PEM" "$d/server.pem"
    local plog="$d/peer.log"
    echo "=== $(date +%T) $wl" >>"$plog"
    PEER_PID=0
    case "$peer" in
    lighttpd)
        PEER_PORT=$P_LT
        launch "$d" "$PROXY_CPU" "$plog" lighttpd -D -f "$CONF/lighttpd-https.conf" ;;
    nginx)
        PEER_PORT=$P_NGINX
        cp "$CONF/nginx-https.conf" "$d/nginx-https.conf"
        launch "$d" "$PROXY_CPU" "$plog" nginx -p "$d/" -c "$d/nginx-https.conf" -e stderr ;;
    "$EXTRA_NAME")
        PEER_PORT=$P_LT
        local cmd="${EXTRA//\{conf\}/$CONF/lighttpd-https.conf}"
        launch "$d" "$PROXY_CPU" "$plog" bash -c "exec $cmd" ;;
    esac
    PEER_PID=$LAUNCHED_PID
    if ! wait_port "$PEER_PORT" "$PEER_PID" 15; then
        log "peer $peer did not come up on port $PEER_PORT (see $plog)"
        tail -5 "$plog" >&2
        stop_peer
        return 1
    fi
    sleep 0.3
    return 0
}
stop_peer() {
    if [[ "${PEER_PID:-0}" != 0 ]]; then
        stop_pid "$PEER_PID"
        forget_pid "$PEER_PID"
    fi
    PEER_PID=0
}

# check_peer RD -> 0 if the peer answers 200 with the 100-byte body over TLS;
# records the TLS parameters a stock OpenSSL client negotiates
check_peer() {
    local rd=$1 url="https://127.0.0.1:$PEER_PORT/100b.bin" chk
    chk="$(curl -sk -o /dev/null -m 5 -w '%{http_code} %{size_download}' "$url")"
    echo "check=$chk" >>"$rd/meta"
    openssl s_client -connect "127.0.0.1:$PEER_PORT" -servername localhost </dev/null >"$rd/s_client.out" 2>&1
    {
        echo "tls_new=$(sed -n 's/^New, \(.*\)$/\1/p' "$rd/s_client.out" | head -1)"
        echo "tls_tempkey=$(sed -n 's/^Server Temp Key: \(.*\)$/\1/p' "$rd/s_client.out" | head -1)"
        echo "tls_sigtype=$(sed -n 's/^Peer signature type: \(.*\)$/\1/p' "$rd/s_client.out" | head -1)"
    } >>"$rd/meta"
    if [[ "$chk" != "200 100" ]]; then
        log "  $1: sanity check failed for $url: $chk"
        echo "error=sanity check: $chk" >>"$rd/meta"
        return 1
    fi
    return 0
}

# run_one PEER WORKLOAD REP
run_one() {
    local peer=$1 wl=$2 rep=$3
    local rd="$OUT/raw/$wl.$peer.r$rep"
    mkdir -p "$rd"
    {
        echo "workload=$wl"; echo "peer=$peer"; echo "rep=$rep"; echo "order=$ORDER_IDX"
        echo "duration=$DURATION"; echo "warmup=$WARMUP"; echo "proxy_cpu=$PROXY_CPU"; echo "load_cpu=$LOAD_CPU"
        echo "timewait_before=$(ss -s 2>/dev/null | sed -n 's/.*timewait \([0-9]*\).*/\1/p' | head -1)"
        echo "loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg)"
    } >"$rd/meta"
    if ! start_peer "$peer" "$wl"; then echo "error=peer did not start" >>"$rd/meta"; return 0; fi
    echo "peer_pid=$PEER_PID" >>"$rd/meta"
    if ! check_peer "$rd"; then stop_peer; return 0; fi
    local pm=(pin "$LOAD_CPU" "$PY" "$PROCMON" run --out "$rd/pm.json" --stdout "$rd/load.out"
              --proxy-pid "$PEER_PID" --origin-pids "$ORIGIN_PID" --timeout $((DURATION + WARMUP + 60)) --)
    case $wl in
    ka)
        local url="https://127.0.0.1:$PEER_PORT/100b.bin"
        pin "$LOAD_CPU" wrk -t1 -c"$KA_CONNS" -d"${WARMUP}s" "$url" >"$rd/warmup.out" 2>&1
        "${pm[@]}" wrk -t1 -c"$KA_CONNS" -d"${DURATION}s" --latency "$url" ;;
    hs)
        local h=("$HSLOAD" --addr "127.0.0.1:$PEER_PORT" -c "$HS_CONNS" -w "$WARMUP" -d "$DURATION")
        [[ -n "$HS_PATH" ]] && h+=(--path "$HS_PATH")
        # warm-up inside hsload: the proxy CPU is taken over its measured window
        "${pm[@]}" "${h[@]}" 2>"$rd/load.err" ;;
    esac
    echo "load_rc=$?" >>"$rd/meta"
    echo "loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$rd/meta"
    stop_peer
    "$PY" "$HERE/report.py" --one "$rd" 2>/dev/null | tee -a "$LOG" >&2
}

# ---------------------------------------------------------------------- main
check_ports_free $P_ORIGIN $P_PLAIN $P_LT $P_NGINX || exit 1
{
    echo "date=$(date -Is)"; echo "peers=${PEERS[*]}"; echo "extra=$EXTRA"; echo "extra_name=$EXTRA_NAME"
    [[ -n "${EXTRA_SHA:-}" ]] && echo "extra_snapshot=sha256:$EXTRA_SHA of $EXTRA_PROG (mtime $EXTRA_MTIME)"
    echo "reps=$REPS"; echo "duration=$DURATION"; echo "warmup=$WARMUP"; echo "workloads=${WORKLOADS[*]}"
    echo "ka_conns=$KA_CONNS"; echo "hs_conns=$HS_CONNS"; echo "hs_path=$HS_PATH"; echo "cert=$CERT"
    echo "proxy_cpu=$PROXY_CPU"; echo "load_cpu=$LOAD_CPU"; echo "nofile=$(ulimit -n)"; echo "nice=$NICE"
    echo "kernel=$(uname -r)"; echo "cpus=$(nproc)"; echo "mem=$(free -g | awk '/Mem:/{print $2}')GiB"
    echo "cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
    echo "loadavg_start=$(cat /proc/loadavg)"
    echo "lighttpd=$(lighttpd -v 2>&1 | head -1)"
    echo "nginx=$(nginx -V 2>&1 | sed -n '1p;2p' | paste -sd';')"
    echo "openssl=$(openssl version)"
    echo "wrk=$(wrk -v 2>&1 | head -1)"
    echo "hsload=rustls $(sed -n '/^name = "rustls"$/{n;s/version = "\(.*\)"/\1/p}' "$HSLOAD_DIR/Cargo.lock" 2>/dev/null) (ring)"
} >"$OUT/env.txt"

log "peers=${PEERS[*]} workloads=${WORKLOADS[*]} reps=$REPS duration=${DURATION}s cert=$CERT out=$OUT"
log "load average: $(cut -d' ' -f1-3 /proc/loadavg) (figures are noisy when other tenants are busy)"
gen_cert
start_origin

ORDER_IDX=0
for ((rep = 1; rep <= REPS; rep++)); do
    order=("${PEERS[@]}")
    if ((rep % 2 == 0)); then
        order=()
        for ((i = ${#PEERS[@]} - 1; i >= 0; i--)); do order+=("${PEERS[$i]}"); done
    fi
    for wl in "${WORKLOADS[@]}"; do
        for peer in "${order[@]}"; do
            ORDER_IDX=$((ORDER_IDX + 1))
            log "rep $rep/$REPS  $wl  $peer"
            run_one "$peer" "$wl" "$rep"
            kill -0 "$ORIGIN_PID" 2>/dev/null || { log "origin died"; exit 1; }
        done
    done
done

cleanup
echo "loadavg_end=$(cat /proc/loadavg)" >>"$OUT/env.txt"
"$PY" "$HERE/report.py" "$OUT" --peers "${PEERS[@]}" >"$OUT/summary.md"
cat "$OUT/summary.md"
log "results: $OUT/summary.md (raw data in $OUT/raw)"
