#!/usr/bin/env python3
"""report.py -- benches/https/run.sh raw results -> median tables with ratios.

  report.py OUTDIR [--peers P1 P2 ...]   Markdown summary on stdout, plus
                                          OUTDIR/runs.csv and OUTDIR/medians.json
  report.py --one RAWDIR                 one-line summary of a single run

The first peer of --peers is the baseline for the "x base" columns.
Per-core figures are operations per CPU-second of the proxy's process tree
(utime+stime from /proc, sampled by the shared harness's procmon.py), i.e.
what one fully busy core of that proxy would do.
"""
import csv
import glob
import json
import os
import re
import statistics
import sys

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
TITLE = {
    "ka": "ka: HTTPS keep-alive requests/s — GET /100b.bin, wrk -t1 -c{ka_conns}, proxied to the nginx origin",
    "hs": "hs: new full TLS handshakes/s — hsload -c{hs_conns}, one new TCP connection + full handshake each, no resumption",
}
UNIT_NAME = {"ka": "req/s", "hs": "hs/s"}
OP_NAME = {"ka": "req", "hs": "hs"}


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def kv(path):
    m = {}
    for line in read(path).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            m[k] = v
    return m


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def parse_wrk(text):
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rate"] = float(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+),", text)
    if m:
        r["ops"] = int(m.group(1))
    for q, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % q, text, re.M)
        if m:
            r[key] = float(m.group(1)) * UNIT[m.group(2)]
    err = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        err += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        err += int(m.group(1))
    r["errors"] = err
    return r


def cpu_list(spec):
    """The CPU numbers of a taskset -c list ("1", "0,2", "2-3")."""
    cpus = []
    for part in str(spec).split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            cpus.extend(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            return []
    return cpus


def load_cpu_of(rd, meta):
    """The load generator's CPU(s) of a run: its meta, else the results
    directory's env.txt, else LOAD_CPU from the environment, else run.sh's
    default (1)."""
    return (meta.get("load_cpu")
            or kv(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(rd))), "env.txt")).get("load_cpu")
            or os.environ.get("LOAD_CPU")
            or "1")


def openssl_tls(meta):
    """What openssl s_client negotiated at the check: protocol and cipher,
    key exchange group, and the server's signature type."""
    parts = [meta.get("tls_new", ""), meta.get("tls_tempkey", "")]
    if meta.get("tls_sigtype"):
        parts.append("signature " + meta["tls_sigtype"])
    return ", ".join(p for p in parts if p)


def parse_run(rd):
    meta = kv(os.path.join(rd, "meta"))
    rec = {
        "workload": meta.get("workload"),
        "peer": meta.get("peer"),
        "rep": int(meta.get("rep", 0)),
        "order": int(meta.get("order", 0)),
        "tls_openssl_client": openssl_tls(meta),
        "tls_sigtype": meta.get("tls_sigtype"),
        "load_cpu": load_cpu_of(rd, meta),
        "timewait_before": meta.get("timewait_before"),
    }
    if "error" in meta:
        rec["error"] = meta["error"]
        return rec
    pm = None
    if os.path.exists(os.path.join(rd, "pm.json")):
        pm = json.loads(read(os.path.join(rd, "pm.json")))
    out = read(os.path.join(rd, "load.out"))
    if rec["workload"] == "ka":
        rec.update(parse_wrk(out))
    else:
        j = last_json(out) or {}
        if "rate" in j:
            rec["rate"] = j["rate"]
            rec["ops"] = j["handshakes"]
            rec["errors"] = j.get("errors", 0) + j.get("bad_status", 0)
            rec["p50_ms"] = j.get("lat_p50_ms")
            rec["p99_ms"] = j.get("lat_p99_ms")
            rec["tls_client"] = "%s %s %s" % (j.get("protocol", ""), j.get("suite", ""), j.get("kx", ""))
            if j.get("sig"):
                rec["tls_client"] += " " + j["sig"]
            if j.get("first_error"):
                rec["first_error"] = j["first_error"]
    if "rate" not in rec:
        rec["error"] = "no load-generator result"
        return rec
    if pm:
        rec["wall_s"] = pm["wall_s"]
        if pm.get("proxy_cpu_win_s") is not None:
            cpu, win = pm["proxy_cpu_win_s"], pm["win_s"]
        else:
            cpu, win = pm.get("proxy_cpu_s"), pm["wall_s"]
        rec["proxy_cpu_s"] = cpu
        rec["proxy_cores"] = cpu / win if cpu is not None and win else None
        rec["client_cores"] = pm["loadgen_cpu_s"] / pm["wall_s"] if pm.get("wall_s") else None
        rec["origin_cores"] = pm.get("origin_cpu_s", 0) / pm["wall_s"] if pm.get("wall_s") else None
        rec["foreign_cores"] = pm.get("foreign_cores")
        c = pm.get("cpu", {})
        rec["cpu0_busy"] = c.get("cpu0", {}).get("busy_pct")
        rec["cpu1_busy"] = c.get("cpu1", {}).get("busy_pct")
        # the load generator's CPU (LOAD_CPU), whichever it was
        busy = [c.get(f"cpu{n}", {}).get("busy_pct") for n in cpu_list(rec["load_cpu"])]
        busy = [b for b in busy if b is not None]
        rec["load_cpu_busy"] = sum(busy) / len(busy) if busy else None
        rec["steal_pct"] = c.get("cpu", {}).get("steal_pct")
        rec["top_other"] = pm.get("top_other")
        if rec["proxy_cores"]:
            rec["per_core"] = rec["rate"] / rec["proxy_cores"]
            rec["cpu_us_per_op"] = 1e6 * rec["proxy_cores"] / rec["rate"] if rec["rate"] else None
        if pm.get("rc") not in (0, None):
            rec["load_rc"] = pm["rc"]
    return rec


def fmt(v, nd=0, suffix=""):
    if v is None:
        return "–"
    if nd == 0:
        return f"{v:,.0f}{suffix}"
    return f"{v:,.{nd}f}{suffix}"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs):
    xs = [x for x in xs if x is not None]
    if len(xs) < 2 or not statistics.median(xs):
        return None
    return 100.0 * (max(xs) - min(xs)) / statistics.median(xs)


def one(rd):
    r = parse_run(rd)
    if "error" in r:
        print(f"  {r['peer']} {r['workload']} r{r['rep']}: ERROR {r['error']}")
        return
    print(
        f"  {r['peer']} {r['workload']} r{r['rep']}: {fmt(r['rate'])} {UNIT_NAME.get(r['workload'], '/s')}"
        f", proxy {fmt(r.get('proxy_cores'), 2)} cores -> {fmt(r.get('per_core'))} per core"
        f", client {fmt(r.get('client_cores'), 2)} cores, load CPU {r['load_cpu']} {fmt(r.get('load_cpu_busy'))} % busy"
        f", errors {r.get('errors', 0)}"
        f", other tenants {fmt(r.get('foreign_cores'), 2)} cores"
    )


def summarize(outdir, peers):
    env = kv(os.path.join(outdir, "env.txt"))
    runs = [parse_run(rd) for rd in sorted(glob.glob(os.path.join(outdir, "raw", "*")))]
    if not peers:
        peers = sorted({r["peer"] for r in runs})
    base = peers[0]
    wls = [w for w in ("ka", "hs") if any(r["workload"] == w for r in runs)]
    # runs.csv
    keys = ["workload", "peer", "rep", "order", "rate", "ops", "errors", "p50_ms", "p99_ms",
            "proxy_cpu_s", "proxy_cores", "per_core", "cpu_us_per_op", "client_cores",
            "origin_cores", "foreign_cores", "cpu0_busy", "cpu1_busy", "load_cpu",
            "load_cpu_busy", "steal_pct", "tls_sigtype", "timewait_before", "error"]
    with open(os.path.join(outdir, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in sorted(runs, key=lambda r: r["order"]):
            w.writerow(r)

    medians = {}
    for wl in wls:
        for p in peers:
            rs = [r for r in runs if r["workload"] == wl and r["peer"] == p and "error" not in r]
            n_err = sum(1 for r in runs if r["workload"] == wl and r["peer"] == p and "error" in r)
            m = {k: med([r.get(k) for r in rs]) for k in
                 ("rate", "p50_ms", "p99_ms", "proxy_cores", "per_core", "cpu_us_per_op",
                  "client_cores", "cpu0_busy", "cpu1_busy", "load_cpu_busy", "foreign_cores")}
            m["errors"] = sum(r.get("errors", 0) for r in rs)
            m["n"] = len(rs)
            m["failed_runs"] = n_err
            m["spread_rate"] = spread([r.get("rate") for r in rs])
            m["spread_per_core"] = spread([r.get("per_core") for r in rs])
            m["client_cores_max"] = max([r["client_cores"] for r in rs if r.get("client_cores") is not None], default=None)
            m["tls"] = sorted({r.get("tls_client") or r.get("tls_openssl_client") for r in rs} - {None, ""})
            m["tls_openssl"] = sorted({r.get("tls_openssl_client") for r in rs} - {None, ""})
            medians.setdefault(wl, {})[p] = m
    with open(os.path.join(outdir, "medians.json"), "w") as f:
        json.dump(medians, f, indent=1)

    o = []
    o.append("# HTTPS benchmark — wick vs lighttpd (mod_openssl) vs nginx\n")
    o.append(f"- date: {env.get('date', '?')}; peers (baseline first): {', '.join(peers)}")
    o.append(f"- reps={env.get('reps', '?')} (interleaved, peer order reversed on even reps, fresh proxy process per run), "
             f"measured {env.get('duration', '?')} s after {env.get('warmup', '?')} s warm-up")
    cert = {"rsa2048": "RSA-2048", "p256": "ECDSA P-256"}.get(env.get("cert"), env.get("cert", "?"))
    o.append(f"- certificate: one self-signed {cert} certificate (openssl req -x509), the same file for every peer; "
             f"ka: {env.get('ka_conns', '?')} connections; hs: {env.get('hs_conns', '?')} concurrent handshakes"
             + (f", one GET {env['hs_path']} per connection" if env.get("hs_path") else ", handshake only (no request)"))
    o.append(f"- machine: {env.get('cpu_model', '?')}, kernel {env.get('kernel', '')}, {env.get('cpus', '?')} CPUs, {env.get('mem', '?')}; "
             f"proxy pinned to CPU {env.get('proxy_cpu', '?')}, load generator + origin to CPU {env.get('load_cpu', '?')}, nice {env.get('nice', '0')}")
    o.append(f"- loadavg start: {env.get('loadavg_start', '?')}; end: {env.get('loadavg_end', '?')}")
    o.append(f"- versions: {env.get('lighttpd', '')}; {env.get('nginx', '')}; {env.get('openssl', '')}; {env.get('wrk', '')}; hsload {env.get('hsload', '')}")
    o.append(f"- {env.get('extra_name', 'wick')} command: `{env.get('extra', '')}`"
             + (f" ({env['extra_snapshot']})" if env.get("extra_snapshot") else ""))
    o.append("")
    o.append("Columns: rate = median over reps; proxy cores = the proxy process tree's CPU seconds per "
             "second during the measured window; per proxy core = rate / proxy cores (what one fully busy "
             "core of that proxy does); client cores = the load generator's CPU seconds per second "
             "(it must stay well below 1 for the rate to be the proxy's); load CPU busy = that CPU's "
             "busy % from /proc/stat (client + origin + other tenants); spread = (max−min)/median over reps.\n")
    cfg = {"ka_conns": env.get("ka_conns", "?"), "hs_conns": env.get("hs_conns", "?")}
    load_cpus = sorted({r["load_cpu"] for r in runs})
    load_col = f"load CPU {'/'.join(load_cpus)} busy %"
    for wl in wls:
        o.append("## " + TITLE[wl].format(**cfg) + "\n")
        u, op = UNIT_NAME[wl], OP_NAME[wl]
        o.append(f"| peer | {u} | × base | p50 ms | p99 ms | proxy cores | proxy CPU µs/{op} | {u} per proxy core | × base | client cores | {load_col} | errors | spread % (rate / per core) | n |")
        o.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        b = medians[wl].get(base, {})
        for p in peers:
            m = medians[wl][p]
            if not m["n"]:
                o.append(f"| {p} | failed ({m['failed_runs']} runs) |" + " |" * 12)
                continue
            rx = (m["rate"] / b["rate"]) if b.get("rate") else None
            cx = (m["per_core"] / b["per_core"]) if b.get("per_core") and m.get("per_core") else None
            o.append(
                f"| {p} | {fmt(m['rate'])} | {fmt(rx, 2, '×')} | {fmt(m['p50_ms'], 2)} | {fmt(m['p99_ms'], 2)} "
                f"| {fmt(m['proxy_cores'], 2)} | {fmt(m['cpu_us_per_op'], 1)} | {fmt(m['per_core'])} | {fmt(cx, 2, '×')} "
                f"| {fmt(m['client_cores'], 2)} | {fmt(m['load_cpu_busy'], 0)} | {m['errors']} "
                f"| {fmt(m['spread_rate'], 1)} / {fmt(m['spread_per_core'], 1)} | {m['n']}"
                + (f" (+{m['failed_runs']} failed)" if m["failed_runs"] else "") + " |")
        o.append("")
        # pairwise per-core ratios
        have = [p for p in peers if medians[wl][p].get("per_core")]
        if len(have) > 1:
            o.append(f"Per-core ratio, row ÷ column ({u} per proxy core):\n")
            o.append("| | " + " | ".join(have) + " |")
            o.append("|---|" + "---:|" * len(have))
            for a in have:
                o.append(f"| {a} | " + " | ".join(
                    fmt(medians[wl][a]["per_core"] / medians[wl][c]["per_core"], 2, "×") for c in have) + " |")
            o.append("")
        if wl == "hs":
            o.append("TLS negotiated (hsload, rustls client): "
                     + "; ".join(f"{p}: {', '.join(medians[wl][p]['tls']) or '?'}" for p in peers) + "\n")
        o.append("TLS negotiated (openssl s_client at the check): "
                 + "; ".join(f"{p}: {' / '.join(medians[wl][p]['tls_openssl']) or '?'}" for p in peers) + "\n")
    # noise
    ok = [r for r in runs if "error" not in r]
    fc = [r["foreign_cores"] for r in ok if r.get("foreign_cores") is not None]
    o.append("## Noise\n")
    if fc:
        o.append(f"- CPU used by other tenants' processes during measured runs: median {statistics.median(fc):.2f} cores, "
                 f"max {max(fc):.2f} cores (of {env.get('cpus', '?')})")
    st = [r["steal_pct"] for r in ok if r.get("steal_pct") is not None]
    if st:
        o.append(f"- steal: max {max(st):.2f} %")
    hs_cli = [r["client_cores"] for r in ok if r["workload"] == "hs" and r.get("client_cores") is not None]
    if hs_cli:
        o.append(f"- hs client (hsload) CPU: median {statistics.median(hs_cli):.2f} cores, max {max(hs_cli):.2f} cores")
    unsat = [r for r in ok if r.get("proxy_cores") is not None and r["proxy_cores"] < 0.9]
    if unsat:
        o.append(f"- {len(unsat)} of {len(ok)} runs had the proxy below 0.9 cores ("
                 + ", ".join(f"{r['workload']} {r['peer']} r{r['rep']}: {r['proxy_cores']:.2f}" for r in unsat[:8])
                 + (" …" if len(unsat) > 8 else "")
                 + "): its CPU was shared with other tenants or the client/origin could not keep up; "
                 "the per-core figures still hold, the raw rates less so")
    bad = [r for r in runs if "error" in r]
    for r in bad:
        o.append(f"- FAILED: {r['workload']} {r['peer']} r{r['rep']}: {r['error']}")
    la = env.get("loadavg_start", "9").split()[0]
    try:
        if float(la) >= 0.5:
            o.append(f"- load average was {la} at the start: other tenants were busy, treat the figures as noisy")
    except ValueError:
        pass
    o.append("")
    return "\n".join(o)


def main():
    a = sys.argv[1:]
    if not a:
        print(__doc__)
        return 2
    if a[0] == "--one":
        one(a[1])
        return 0
    peers = []
    if "--peers" in a:
        i = a.index("--peers")
        peers = a[i + 1:]
        a = a[:i]
    print(summarize(a[0], peers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
