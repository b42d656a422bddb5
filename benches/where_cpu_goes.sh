#!/usr/bin/env bash
# Where a server's CPU goes per HTTP request: user and system time, system
# calls and TCP segments per request, for wick and its peers on the same
# workload. It answers "how much faster can this get?": when a peer already
# makes the minimum of system calls and segments, the kernel's share of its
# CPU bounds what any user-space work can gain.
#
#   benches/where_cpu_goes.sh static      wick vs lighttpd, a 100-byte file
#   benches/where_cpu_goes.sh proxy       wick vs lighttpd vs nginx, mod_proxy
#                                         to an nginx origin, 100-byte answers
#   ROUNDS=3 DURATION=4 CONNS=64 FILE=100b.bin   (defaults)
#   WICK_BIN=… LIGHTTPD_BIN=…
#
# The server runs pinned to CPU 0; wrk and the origin to CPU 1. System calls
# are counted with perf's syscall tracepoints on the serving process (nginx:
# its worker), which does not slow the server as strace would; TCP segments
# from /proc/net/snmp (OutSegs, the whole machine: client, server and origin,
# so 2 a static request and 4 a proxied one at the least). Needs wrk, perf
# (linux-perf), and nginx for `proxy`. Figures are medians of ROUNDS
# interleaved rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-static}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4}
CONNS=${CONNS:-64}
FILE=${FILE:-100b.bin}
WICK_BIN=${WICK_BIN:-target/release/wick}
LIGHTTPD_BIN=${LIGHTTPD_BIN:-$(command -v lighttpd || echo /usr/sbin/lighttpd)}
for t in wrk perf; do
    command -v "$t" >/dev/null || { echo "where_cpu_goes.sh: $t is needed" >&2; exit 2; }
done
[ "$MODE" = proxy ] && ! command -v nginx >/dev/null && { echo "where_cpu_goes.sh: nginx is needed for proxy" >&2; exit 2; }
[ -x "$WICK_BIN" ] || cargo build --release --bin wick
WICK_BIN=$(realpath "$WICK_BIN")
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/root" "$tmp/origin/logs" "$tmp/nginx/logs"
head -c 100 /dev/urandom > "$tmp/root/100b.bin"
head -c 65536 /dev/urandom > "$tmp/root/64k.bin"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
clk=$(getconf CLK_TCK)

# An nginx configuration in DIR whose http block holds BODY (one process,
# no access log, its files kept in DIR).
nginx_conf() { # DIR BODY
    cat > "$1/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/logs/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    keepalive_requests 1000000;
$2
}
CONF
}

origin_port=
if [ "$MODE" = proxy ]; then
    origin_port=$(free_port)
    nginx_conf "$tmp/origin" "    server { listen 127.0.0.1:$origin_port; root $tmp/root; }"
    taskset -c 1 nginx -p "$tmp/origin/" -c "$tmp/origin/nginx.conf" -e "$tmp/origin/logs/error.log" &
    pids+=("$!")
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$origin_port/$FILE" && break; sleep 0.05; done
fi

conf() { # name port -> config file for wick and lighttpd
    local f="$tmp/$1.conf"
    {
        echo "server.document-root = \"$tmp/root\""
        echo 'server.bind = "127.0.0.1"'
        echo "server.port = $2"
        echo 'server.max-keep-alive-requests = 1000000'
        echo 'mimetype.assign = ( ".bin" => "application/octet-stream" )'
        if [ "$MODE" = proxy ]; then
            echo 'server.modules += ( "mod_proxy" )'
            echo "proxy.server = ( \"\" => ( ( \"host\" => \"127.0.0.1\", \"port\" => $origin_port ) ) )"
        fi
    } > "$f"
    echo "$f"
}

outsegs() { awk '/^Tcp:/ && $2 ~ /^[0-9]/ {print $12}' /proc/net/snmp; }

measure() { # name -> "name user_us sys_us syscalls_per_req segs_per_req req_s"
    local name=$1 port; port=$(free_port)
    local cmd
    case $name in
        wick) cmd=("$WICK_BIN" -D -f "$(conf wick "$port")") ;;
        lighttpd) cmd=("$LIGHTTPD_BIN" -D -f "$(conf lighttpd "$port")") ;;
        nginx)
            nginx_conf "$tmp/nginx" "    upstream origin { server 127.0.0.1:$origin_port; keepalive 64; }
    server {
        listen 127.0.0.1:$port;
        location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
    }"
            cmd=(nginx -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log") ;;
    esac
    taskset -c 0 "${cmd[@]}" >/dev/null 2>&1 &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/$FILE" && break; sleep 0.05; done
    local target=$pid
    if [ "$name" = nginx ]; then
        for _ in $(seq 100); do target=$(pgrep -P "$pid" | head -1) && [ -n "$target" ] && break; sleep 0.05; done
    fi
    taskset -c 1 wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$port/$FILE" >/dev/null
    local t0 s0; t0=$(awk '{print $14, $15}' "/proc/$target/stat"); s0=$(outsegs)
    perf stat -x, -e raw_syscalls:sys_enter -p "$target" -o "$tmp/perf.$name" -- sleep $((DURATION + 1)) &
    local sp=$!
    local out; out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$port/$FILE")
    local t1 s1; t1=$(awk '{print $14, $15}' "/proc/$target/stat"); s1=$(outsegs)
    wait "$sp" || true
    kill "$pid"; wait "$pid" 2>/dev/null || true
    local reqs; reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    local calls; calls=$(awk -F, '/raw_syscalls/ {print $1}' "$tmp/perf.$name")
    python3 - "$name" "$reqs" "$DURATION" "$clk" "$t0" "$t1" "$s0" "$s1" "$calls" <<'PY'
import sys
name, reqs, dur, clk, t0, t1, s0, s1, calls = sys.argv[1:]
reqs = int(reqs); clk = int(clk)
u0, y0 = map(int, t0.split()); u1, y1 = map(int, t1.split())
# (perf counts for a second longer than wrk runs, so as to cover all of
# it; the server is idle in that second)
per = lambda x: x / reqs
calls = float(calls) if calls not in ("", "<not counted>") else float("nan")
print("%s %.3f %.3f %.2f %.2f %.0f" % (name, per((u1 - u0) / clk * 1e6), per((y1 - y0) / clk * 1e6),
      per(calls), per(int(s1) - int(s0)), reqs / int(dur)))
PY
}

peers=(wick lighttpd)
[ "$MODE" = proxy ] && peers=(wick lighttpd nginx)
results="$tmp/results"
for r in $(seq "$ROUNDS"); do
    order=("${peers[@]}")
    if (( r % 2 == 0 )); then order=(); for ((i=${#peers[@]}-1; i>=0; i--)); do order+=("${peers[$i]}"); done; fi
    for p in "${order[@]}"; do measure "$p" | tee -a "$results" >&2; done
done
python3 - "$results" "$MODE" "$FILE" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    n, *v = line.split()
    rows.setdefault(n, []).append([float(x) for x in v])
print("%s %s, medians of %d rounds" % (sys.argv[2], sys.argv[3], len(next(iter(rows.values())))))
print("%-9s %9s %9s %9s %13s %11s %9s" % ("peer", "user µs", "sys µs", "CPU µs", "syscalls/req", "segs/req", "req/s"))
for n, rs in rows.items():
    m = [statistics.median(c) for c in zip(*rs)]
    print("%-9s %9.2f %9.2f %9.2f %13.2f %11.2f %9.0f" % (n, m[0], m[1], m[0] + m[1], m[2], m[3], m[4]))
PY
