#!/usr/bin/env python3
"""bench/summarize.py - render bench/run.sh's results.jsonl as markdown (stdlib only).

    python3 bench/summarize.py results.jsonl [--out FILE]

Medians across repetitions; overheads are paired (target minus direct in the same
repetition and connection count), then the median of the differences is taken.
For each (rep, conns, target) the least disturbed attempt is used.
"""
import argparse
import json
import statistics
import sys
from collections import defaultdict

# Targets from the issue; `sluice` (logging.level warn) is the one judged.
TARGET_ADDED_P99_US_1CONN = 200
TARGET_REQS_VS_NGINX_64 = 0.80
TARGET_ADDED_TTFB_P50_US = 100
TARGET_IDLE_RSS_MIB = 20
JUDGED = "sluice"


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=0, signed=False):
    if x is None:
        return "–"
    s = f"{x:+,.{nd}f}" if signed else f"{x:,.{nd}f}"
    return s


def load(path):
    meta, targets, loads, streams, memory = {}, [], defaultdict(list), defaultdict(list), {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            t = d.get("type")
            if t == "meta":
                meta = d
            elif t == "target":
                targets.append(d)
            elif t == "load":
                loads[(d["rep"], d["conc"], d["target"])].append(d)
            elif t == "stream":
                streams[(d["rep"], d["scenario"], d["target"])].append(d)
            elif t == "memory":
                memory[d["target"]] = d
    # keep the least disturbed attempt
    best = lambda atts: min(atts, key=lambda a: (a.get("foreign_pct", 0), a.get("attempt", 0)))
    loads = {k: best(v) for k, v in loads.items()}
    streams = {k: best(v) for k, v in streams.items()}
    return meta, targets, loads, streams, memory


def reqs(w):
    return w.get("requests", 0) / max(w.get("duration_us", 1), 1) * 1e6 if "requests" in w else None


def errors(w):
    return sum(w.get(k, 0) for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))


def render(meta, targets, loads, streams, memory):
    names = [t["name"] for t in targets]
    reps = sorted({k[0] for k in loads} | {k[0] for k in streams})
    conns = meta.get("conns") or sorted({k[1] for k in loads})
    fmax = meta.get("foreign_max_pct", 15)
    out = []
    w = out.append
    w(f"# Sluice benchmark ({meta.get('date', '?')})")
    w("")
    w(f"Machine: {meta.get('nproc')} vCPU `{meta.get('cpu')}`, {meta.get('mem_kb', 0) / 1048576:.0f} GiB RAM, kernel "
      f"{meta.get('kernel')}; {meta.get('sluice')} (`{meta.get('sluice_bin')}`); {meta.get('wrk')}; "
      f"node {meta.get('node')}; {meta.get('nginx') or 'no nginx'}.")
    w("")
    w(f"Method: wrk -t1, {meta.get('duration_s')} s per run at {', '.join(map(str, conns))} connection(s), "
      f"POST /v1/chat/completions with a ~1 KB system+user body; {meta.get('repeats')} repetition(s), target order "
      f"rotated each repetition, **medians across repetitions**, overheads paired per repetition. "
      f"Mock upstream + wrk + probes on CPU 0, gateways on CPU 1 "
      f"({'pinned' if meta.get('pin') else 'NOT pinned'}; hot-core spinners {'on' if meta.get('hot_cores') else 'off'}; "
      f"measured processes at nice {meta.get('nice', 0)}). "
      f"`sluice`: logging.level warn, metrics on (the default); `sluice-log`: level info with the access log "
      f"(one JSON line per request, to a file); `sluice-nometrics`: as `sluice` with metrics.enabled false.")
    w("")

    # ---------------------------------------------------------------- load
    def cell(rep, c, t):
        d = loads.get((rep, c, t))
        return d if d and "requests" in d["wrk"] else None

    w("## Non-streaming load")
    w("")
    w("| conns | target | req/s | p50 µs | p90 µs | p99 µs | p99.9 µs | errors | server CPU µs/req | noisy runs |")
    w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    agg = {}
    for c in conns:
        for t in names:
            cells = [cell(r, c, t) for r in reps]
            cells = [x for x in cells if x]
            if not cells:
                continue
            ws = [x["wrk"] for x in cells]
            cpu = [x["cpu_ticks"] / x["clk_tck"] * 1e6 / max(x["wrk"]["requests"], 1) for x in cells]
            a = {
                "rps": median([reqs(x) for x in ws]),
                "p50": median([x["p50_us"] for x in ws]), "p90": median([x["p90_us"] for x in ws]),
                "p99": median([x["p99_us"] for x in ws]), "p999": median([x["p999_us"] for x in ws]),
                "err": sum(errors(x) for x in ws), "cpu": median(cpu),
                "noisy": sum(1 for x in cells if x.get("foreign_pct", 0) > fmax),
            }
            agg[(c, t)] = a
            w(f"| {c} | {t} | {fmt(a['rps'])} | {fmt(a['p50'])} | {fmt(a['p90'])} | {fmt(a['p99'])} | {fmt(a['p999'])} | "
              f"{a['err']} | {fmt(a['cpu'], 1)} | {a['noisy'] or ''} |")
    w("")
    w("*server CPU µs/req*: user+sys CPU of the target's process(es) during the run ÷ requests (for `direct`: the mock's own cost).")
    w("")

    w("## Overhead versus direct-to-mock")
    w("")
    has_nginx = "nginx" in names
    w("| conns | target | added p50 µs | added p99 µs | req/s ×direct |" + (" added p50 ×nginx's | req/s ×nginx |" if has_nginx else ""))
    w("|---:|---|---:|---:|---:|" + ("---:|---:|" if has_nginx else ""))
    over = {}
    for c in conns:
        for t in names:
            if t == "direct":
                continue
            d50, d99, rr, rn = [], [], [], []
            for r in reps:
                a, b, n = cell(r, c, t), cell(r, c, "direct"), cell(r, c, "nginx")
                if not a or not b:
                    continue
                d50.append(a["wrk"]["p50_us"] - b["wrk"]["p50_us"])
                d99.append(a["wrk"]["p99_us"] - b["wrk"]["p99_us"])
                rr.append(reqs(a["wrk"]) / max(reqs(b["wrk"]), 1e-9))
                if n:
                    rn.append(reqs(a["wrk"]) / max(reqs(n["wrk"]), 1e-9))
            if not d50:
                continue
            o = {"add50": median(d50), "add99": median(d99), "xdirect": median(rr), "xnginx": median(rn)}
            over[(c, t)] = o
            line = f"| {c} | {t} | {fmt(o['add50'], signed=True)} | {fmt(o['add99'], signed=True)} | {fmt(o['xdirect'], 2)}× |"
            if has_nginx:
                ng = over.get((c, "nginx"))
                ratio = (o["add50"] / ng["add50"]) if ng and ng["add50"] and ng["add50"] > 0 else None
                line += f" {fmt(ratio, 2) + '×' if ratio is not None else '–'} | {fmt(o['xnginx'], 2) + '×' if o['xnginx'] is not None else '–'} |"
            w(line)
    w("")
    w("At 64 connections wrk keeps every connection busy, so latency there is mostly queueing "
      "(≈ connections ÷ throughput); read the 1-connection rows for per-request cost and req/s for capacity.")
    w("")

    # ---------------------------------------------------------------- memory
    w("## Memory")
    w("")
    w("| target | RSS idle MiB | RSS after load MiB | peak RSS (VmHWM) MiB |")
    w("|---|---:|---:|---:|")
    for t in names:
        m = memory.get(t)
        if m:
            w(f"| {t} | {m['rss_idle_kb'] / 1024:.1f} | {m['rss_after_kb'] / 1024:.1f} | {m['hwm_kb'] / 1024:.1f} |")
    w("")
    w("*idle*: after start-up and 2 s of rest, before any request. `direct` is the mock; nginx = master + 1 worker.")
    w("")

    # ---------------------------------------------------------------- streaming
    sagg = {}
    if streams:
        w("## Streaming time to first byte")
        w("")
        w(f"{meta.get('stream_n')} sequential streaming requests per probe and repetition on one keep-alive connection "
          f"(+10 warm-up), {meta.get('stream_chunks')} content chunks. *burst*: the mock writes the whole stream at once; "
          f"*paced*: {meta.get('stream_delay_ms')} ms between chunks. TTFB = request written → first body byte.")
        w("")
        w("| scenario | target | TTFB p50 µs | TTFB p99 µs | total p50 µs | total p99 µs | added TTFB p50 µs | added TTFB p99 µs | added total p50 µs | events | failed |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for sc in ("burst", "paced"):
            for t in names:
                ps = [streams.get((r, sc, t)) for r in reps]
                ps = [p["probe"] for p in ps if p and p["probe"].get("ttfb_us")]
                if not ps:
                    continue
                add50, add99, addt = [], [], []
                if t != "direct":
                    for r in reps:
                        a, b = streams.get((r, sc, t)), streams.get((r, sc, "direct"))
                        if a and b and a["probe"].get("ttfb_us") and b["probe"].get("ttfb_us"):
                            add50.append(a["probe"]["ttfb_us"]["p50"] - b["probe"]["ttfb_us"]["p50"])
                            add99.append(a["probe"]["ttfb_us"]["p99"] - b["probe"]["ttfb_us"]["p99"])
                            addt.append(a["probe"]["total_us"]["p50"] - b["probe"]["total_us"]["p50"])
                s = {"ttfb50": median([p["ttfb_us"]["p50"] for p in ps]), "ttfb99": median([p["ttfb_us"]["p99"] for p in ps]),
                     "tot50": median([p["total_us"]["p50"] for p in ps]), "tot99": median([p["total_us"]["p99"] for p in ps]),
                     "add50": median(add50), "add99": median(add99), "addt": median(addt),
                     "events": median([p.get("events_p50") for p in ps]),
                     "failed": sum(p["n"] - p["ok"] for p in ps)}
                sagg[(sc, t)] = s
                w(f"| {sc} | {t} | {fmt(s['ttfb50'])} | {fmt(s['ttfb99'])} | {fmt(s['tot50'])} | {fmt(s['tot99'])} | "
                  f"{fmt(s['add50'], signed=True) if t != 'direct' else ''} | {fmt(s['add99'], signed=True) if t != 'direct' else ''} | "
                  f"{fmt(s['addt'], signed=True) if t != 'direct' else ''} | {fmt(s['events'])} | {s['failed']} |")
        w("")

    # ---------------------------------------------------------------- targets
    w("## Targets (judged: `sluice`, logging.level warn)")
    w("")
    w("| target | measured | limit | result |")
    w("|---|---:|---:|---|")

    def verdict(ok):
        return "–" if ok is None else ("**pass**" if ok else "**FAIL**")

    s1, n1 = over.get((1, JUDGED)), over.get((1, "nginx"))
    ok = (s1["add50"] <= n1["add50"]) if s1 and n1 else None
    w(f"| added p50 at 1 connection ≤ nginx's added p50 | {fmt(s1 and s1['add50'], signed=True)} µs | "
      f"{fmt(n1 and n1['add50'], signed=True)} µs | {verdict(ok)} |")
    ok = (s1["add99"] <= TARGET_ADDED_P99_US_1CONN) if s1 else None
    w(f"| added p99 at 1 connection ≤ {TARGET_ADDED_P99_US_1CONN} µs | {fmt(s1 and s1['add99'], signed=True)} µs | "
      f"{TARGET_ADDED_P99_US_1CONN} µs | {verdict(ok)} |")
    s64 = over.get((64, JUDGED))
    ok = (s64["xnginx"] >= TARGET_REQS_VS_NGINX_64) if s64 and s64.get("xnginx") is not None else None
    w(f"| req/s at 64 connections ≥ {TARGET_REQS_VS_NGINX_64:.0%} of nginx's | "
      f"{fmt(agg.get((64, JUDGED), {}).get('rps'))} req/s = {fmt(s64 and s64.get('xnginx'), 2)}× nginx "
      f"({fmt(agg.get((64, 'nginx'), {}).get('rps'))}) | {TARGET_REQS_VS_NGINX_64:.2f}× | {verdict(ok)} |")
    for sc in ("burst", "paced"):
        st = sagg.get((sc, JUDGED))
        ok = (st["add50"] <= TARGET_ADDED_TTFB_P50_US) if st and st["add50"] is not None else None
        w(f"| streaming added TTFB p50 ({sc}) ≤ {TARGET_ADDED_TTFB_P50_US} µs | {fmt(st and st['add50'], signed=True)} µs | "
          f"{TARGET_ADDED_TTFB_P50_US} µs | {verdict(ok)} |")
    m = memory.get(JUDGED)
    ok = (m["rss_idle_kb"] / 1024 <= TARGET_IDLE_RSS_MIB) if m else None
    w(f"| idle RSS ≤ {TARGET_IDLE_RSS_MIB} MiB | {m['rss_idle_kb'] / 1024:.1f} MiB | {TARGET_IDLE_RSS_MIB} MiB | {verdict(ok)} |"
      if m else f"| idle RSS ≤ {TARGET_IDLE_RSS_MIB} MiB | – | | – |")
    w("")
    noisy = [k for k, v in loads.items() if v.get("foreign_pct", 0) > fmax]
    if noisy:
        w(f"{len(noisy)} load run(s) still had > {fmax}% foreign CPU after retries (flagged in *noisy runs*).")
        w("")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jsonl")
    ap.add_argument("--out")
    a = ap.parse_args()
    md = render(*load(a.jsonl))
    sys.stdout.write(md)
    if a.out:
        with open(a.out, "w") as f:
            f.write(md)


if __name__ == "__main__":
    main()
