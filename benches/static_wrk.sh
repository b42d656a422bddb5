#!/usr/bin/env bash
# Whole-process static-file benchmark: lighttpd and wick serve the same
# directory with the same configuration; wrk loads a 100-byte and a 64 KiB
# file. The server is pinned to CPU 0, wrk to CPU 1; each measurement
# starts a fresh server. Reports requests/s and requests per CPU-second of
# the server process (user+system ticks from /proc), medians over ROUNDS
# interleaved rounds, and the wick/lighttpd ratio of the per-core figure.
#
#   benches/static_wrk.sh                 ROUNDS=5 DURATION=5 CONNS=64
#   WICK_BIN=… LIGHTTPD_BIN=… benches/static_wrk.sh
#   FILES="100b.bin 64k.bin 1m.bin 16m.bin" benches/static_wrk.sh
#       (1m.bin and 16m.bin: past wick's file cache, sent with sendfile;
#        CONNS=8 suits them better)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
CONNS=${CONNS:-64}
WICK_BIN=${WICK_BIN:-target/release/wick}
LIGHTTPD_BIN=${LIGHTTPD_BIN:-$(command -v lighttpd || echo /usr/sbin/lighttpd)}
command -v wrk >/dev/null || { echo "static_wrk.sh: wrk is needed (apt-get install wrk)" >&2; exit 2; }
[ -x "$WICK_BIN" ] || cargo build --release --bin wick
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/root"
head -c 100 /dev/urandom > "$tmp/root/100b.bin"
head -c 65536 /dev/urandom > "$tmp/root/64k.bin"
FILES=${FILES:-100b.bin 64k.bin}
for f in $FILES; do
    case $f in
        1m.bin) head -c 1048576 /dev/urandom > "$tmp/root/1m.bin" ;;
        16m.bin) head -c 16777216 /dev/urandom > "$tmp/root/16m.bin" ;;
    esac
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
conf() { cat > "$tmp/$1.conf" <<CONF
server.document-root = "$tmp/root"
server.bind = "127.0.0.1"
server.port = $2
mimetype.assign = ( ".bin" => "application/octet-stream" )
server.max-keep-alive-requests = 1000000
CONF
}
measure() { # name bin port file
    local name=$1 bin=$2 port=$3 file=$4
    taskset -c 0 "$bin" -D -f "$tmp/$name.conf" 2>/dev/null & local pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/$file" && break; sleep 0.05; done
    taskset -c 1 wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$port/$file" >/dev/null
    local t0; t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    local out; out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$port/$file")
    local t1; t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    local reqs; reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    local hz; hz=$(getconf CLK_TCK)
    python3 -c "r=$reqs; t=($t1-$t0)/$hz; print('%s %s %.0f %.0f' % ('$name', '$file', r/$DURATION, r/t if t else 0))"
}
results="$tmp/results"
for round in $(seq "$ROUNDS"); do
    for peer in lighttpd wick; do
        port=$(free_port); conf "$peer" "$port"
        bin=$LIGHTTPD_BIN; [ "$peer" = wick ] && bin=$WICK_BIN
        for f in $FILES; do measure "$peer" "$bin" "$port" "$f" >> "$results"; done
    done
done
python3 - "$results" <<'PY'
import statistics, sys, collections
d = collections.defaultdict(lambda: ([], []))
for line in open(sys.argv[1]):
    peer, f, rps, per_cpu = line.split()
    d[(peer, f)][0].append(float(rps)); d[(peer, f)][1].append(float(per_cpu))
print("%-9s %-9s %12s %16s" % ("peer", "file", "req/s", "req/CPU-second"))
for (peer, f), (rps, cpu) in sorted(d.items()):
    print("%-9s %-9s %12.0f %16.0f" % (peer, f, statistics.median(rps), statistics.median(cpu)))
for f in sorted({f for (_, f) in d}):
    w = statistics.median(d[("wick", f)][1]); l = statistics.median(d[("lighttpd", f)][1])
    print("ratio wick/lighttpd per core, %s: %.2f" % (f, w / l))
PY
