#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Benchmark results of scripts/bench.sh: collect, tabulate, document.

  bench-report.py collect OUT      BENCH lines of OUT/bench-*.report.log and the
                                   runs' OUT/bench-*.out -> OUT/bench.json
  bench-report.py check OUT/bench.json
                                   every measurement present, every figure a
                                   positive number (the smoke test)
  bench-report.py table OUT/bench.json
                                   the tables, as text
  bench-report.py doc OUT/bench.json [RST]
                                   rewrites the "Performance" section of RST
                                   (Documentation/hv_evlog.rst) between its
                                   '.. bench-begin' and '.. bench-end' lines

The goals are defined here once, in GOALS; the table, the JSON's
verdicts and the documentation all come from them.
"""

import json
import math
import os
import platform
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = ".. bench-begin", ".. bench-end"
TOPOLOGIES = ("2node", "4node")
CONSUME_PAGES = (16, 64, 512)
SETUP_BUFFERS = (16, 64, 256, 512)
IDLE_BUFFERS = (16, 512)

# name -> (description of the goal, test on the value)
GOALS = {
    "map_vs_copy": ("mapping / copy >= 3x", lambda v: v >= 3.0),
    "map_vs_limit": ("mapping / limit >= 0.8x", lambda v: v >= 0.8),
    "zeroloss_map_vs_copy": ("mapping / copy >= 3x", lambda v: v >= 3.0),
    "latency_vs_pipe": ("messages p99 <= 2x pipe p99", lambda v: v <= 2.0),
    "setup_vs_alloc": ("load / allocation <= 1.5x at every size", lambda v: v <= 1.5),
    "setup_linear": ("linear: R^2 of load time over buffers >= 0.95", lambda v: v >= 0.95),
    "idle_flat": ("scans at 512 buffers <= 1.5x of 16", lambda v: v <= 1.5),
    "placement": ("100 % of local buffer pages on their CPUs' node", lambda v: v >= 100.0),
    "memory": ("<= 256 B per buffer", lambda v: v <= 256),
}


def collect(out):
    """Reads every topology's BENCH lines; returns the JSON document."""
    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "accel": None,
        "topologies": {},
    }
    for topo in TOPOLOGIES:
        rep = os.path.join(out, f"bench-{topo}.report.log")
        run = os.path.join(out, f"bench-{topo}.out")
        if not os.path.exists(rep):
            continue
        lines, errors = [], []
        with open(rep, errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("BENCH {"):
                    lines.append(json.loads(line[len("BENCH "):]))
                elif line.startswith("BENCH_ERROR"):
                    errors.append(line)
        accel, took = None, None
        if os.path.exists(run):
            with open(run, errors="replace") as f:
                for line in f:
                    m = re.search(r"under (\w+)$", line.strip())
                    if m:
                        accel = m.group(1).upper()
                    m = re.search(r"finished in ([\d.]+) s", line)
                    if m:
                        took = float(m.group(1))
        doc["accel"] = doc["accel"] or accel
        doc["topologies"][topo] = {"raw": lines, "errors": errors, "boot_seconds": took}
        doc["topologies"][topo]["rows"] = rows(lines)
    return doc


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        qemu = subprocess.run(
            ["qemu-system-x86_64", "--version"], capture_output=True, text=True
        ).stdout.splitlines()[0]
    except (OSError, IndexError):
        qemu = "qemu unknown"
    return f"{os.cpu_count()} x {cpu}, {platform.system()} {platform.release()}, {qemu}"


def pick(lines, **kw):
    return [x for x in lines if all(x.get(k) == v for k, v in kw.items())]


def one(lines, **kw):
    found = pick(lines, **kw)
    return found[0] if found else None


def ratio(a, b):
    return a / b if b else float("inf")


def fit(xs, ys):
    """Least squares y = a + b x; returns (slope, R^2)."""
    n = len(xs)
    if n < 2:
        return 0.0, 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    syy = sum((y - my) ** 2 for y in ys)
    b = sxy / sxx if sxx else 0.0
    r2 = (sxy * sxy) / (sxx * syy) if sxx and syy else 0.0
    return b, r2


def mb(bps):
    return f"{bps / 1e6:.1f} MB/s"


def row(what, figure, baseline, rat, goal=None, value=None):
    met = None
    if goal is not None and value is not None:
        met = bool(GOALS[goal][1](value))
    return {
        "measurement": what,
        "figure": figure,
        "baseline": baseline,
        "ratio": rat,
        "goal": GOALS[goal][0] if goal else "",
        "met": met,
    }


def rows(lines):
    """The table of one topology, each figure next to its baseline."""
    out = []
    # 1. Consume throughput.
    for pages in CONSUME_PAGES:
        c = one(lines, m="consume", pages=pages)
        if not c:
            continue
        r = ratio(c["map_Bps"], c["copy_Bps"])
        out.append(row(
            f"1. consume, {pages} pages: mapping vs copy",
            f"{mb(c['map_Bps'])}, {c['map_eps'] / 1e6:.2f} M events/s",
            f"copy {mb(c['copy_Bps'])}, {c['copy_eps'] / 1e6:.2f} M events/s",
            f"{r:.2f}x", "map_vs_copy", r,
        ))
        r = ratio(c["map_decode_Bps"], c["limit_Bps"])
        out.append(row(
            f"1. consume, {pages} pages: mapping (decoding, without RELEASE) vs limit",
            f"{mb(c['map_decode_Bps'])}, {c['map_decode_eps'] / 1e6:.2f} M events/s",
            f"anonymous buffer {mb(c['limit_Bps'])}, {c['limit_eps'] / 1e6:.2f} M events/s",
            f"{r:.2f}x", "map_vs_limit", r,
        ))
        # Paid once per buffer and mapping (the page fault that maps it),
        # against copying one full buffer.
        copy_us = pages * 4096 / c["copy_Bps"] * 1e6
        out.append(row(
            f"1. consume, {pages} pages: first touch of a mapped buffer (once per mapping)",
            f"{c['first_touch_us']:.0f} us per buffer",
            f"copying one buffer {copy_us:.0f} us",
            f"{ratio(c['first_touch_us'], copy_us):.2f}x",
        ))
    # 2. Zero-loss rate.
    for th in ("one", "half"):
        m, c = one(lines, m="zeroloss", path="map", threshold=th), one(
            lines, m="zeroloss", path="copy", threshold=th
        )
        if not (m and c):
            continue
        r = ratio(m["rate"], c["rate"])

        def rate(x):
            unverified = " (not reached: no rate tried was lossless)" if x.get("verified") is False else ""
            return f"{x['rate']:,} events/s{unverified}"
        out.append(row(
            f"2. zero-loss rate, threshold {'1' if th == 'one' else 'half the buffers'}",
            f"mapping {rate(m)}",
            f"copy {rate(c)}",
            f"{r:.2f}x", "zeroloss_map_vs_copy", r,
        ))
    # 3. Wake-up latency: every completion (the goal), then only those
    # that came while the reader was already waiting in poll().
    msg, scan, pipe = (one(lines, m="latency", mode=x) for x in ("messages", "scan", "pipe"))
    if msg and pipe:
        def fmt(x, p=""):
            return (f"p50 {x[p + 'p50_us']:.0f} / p99 {x[p + 'p99_us']:.0f} / "
                    f"max {x[p + 'max_us']:.0f} us ({x[p + 'samples']})")
        r = ratio(msg["p99_us"], pipe["p99_us"])
        out.append(row("3. wake-up latency, messages", fmt(msg), "pipe " + fmt(pipe), f"{r:.2f}x",
                       "latency_vs_pipe", r))
        if scan:
            out.append(row("3. wake-up latency, header scan alone", fmt(scan), "pipe " + fmt(pipe),
                           f"{ratio(scan['p99_us'], pipe['p99_us']):.2f}x"))
        if "waiting_p99_us" in msg and "waiting_p99_us" in pipe:
            w = "waiting_"
            out.append(row(
                "3. wake-up latency, messages, only completions while the reader waited in poll()",
                fmt(msg, w), "pipe " + fmt(pipe, w),
                f"{ratio(msg[w + 'p99_us'], pipe[w + 'p99_us']):.2f}x",
            ))
    # 4. Set-up scaling.
    setups = sorted(pick(lines, m="setup"), key=lambda x: x["buffers"])
    if setups:
        worst = max(ratio(s["load_ms"], s["alloc_ms"]) for s in setups)
        for s in setups:
            out.append(row(
                f"4. set-up, {s['buffers']} buffers: insmod to ready / rmmod",
                f"{s['load_ms']:.1f} ms / {s['unload_ms']:.1f} ms",
                f"allocate {s['alloc_ms']:.1f} ms / free {s['free_ms']:.1f} ms",
                f"{ratio(s['load_ms'], s['alloc_ms']):.2f}x / {ratio(s['unload_ms'], s['free_ms']):.2f}x",
            ))
        xs = [s["buffers"] for s in setups]
        ls, lr2 = fit(xs, [s["load_ms"] for s in setups])
        as_, _ = fit(xs, [s["alloc_ms"] for s in setups])
        us, ur2 = fit(xs, [s["unload_ms"] for s in setups])
        fs, _ = fit(xs, [s["free_ms"] for s in setups])
        out.append(row("4. set-up: worst load / allocation", f"{worst:.2f}x", "", "", "setup_vs_alloc", worst))
        # For reference: without the kernel's fixed cost of loading this
        # module's code (an insmod the module refuses at its first check).
        if all("refused_load_ms" in s for s in setups):
            refused = setups[0]["refused_load_ms"]
            net = [(s, max(s["load_ms"] - refused, 0.0)) for s in setups]
            out.append(row(
                "4. set-up without loading the code: (insmod to ready - refused insmod) / allocation",
                ", ".join(f"{s['buffers']}: {n:.1f} ms" for s, n in net),
                f"refused insmod {refused:.1f} ms",
                " / ".join(f"{ratio(n, s['alloc_ms']):.2f}x" for s, n in net),
            ))
        out.append(row(
            "4. set-up: slopes",
            f"load {ls * 1000:.0f} us/buffer (R^2 {lr2:.3f}), unload {us * 1000:.0f} us/buffer (R^2 {ur2:.3f})",
            f"allocate {as_ * 1000:.0f} us/buffer, free {fs * 1000:.0f} us/buffer",
            f"{ratio(ls, as_):.2f}x", "setup_linear", lr2,
        ))
    # 5. Idle cost: the module's own count of its scans' time (debugfs
    # run_time); the simulator's ticks and the guest's busy time beside it.
    idles = {x["buffers"]: x for x in pick(lines, m="idle")}
    if idles:
        lo, hi = min(idles), max(idles)
        a, b = idles[lo]["scan_ms_per_s"], idles[hi]["scan_ms_per_s"]
        r = ratio(b, a)
        out.append(row(
            "5. idle cost (device open, no events): the module's scans",
            ", ".join(f"{n} buffers {idles[n]['scan_ms_per_s']:.2f} ms/s" for n in sorted(idles)),
            ", ".join(
                f"{n} buffers: simulator ticks {idles[n]['sim_tick_ms_per_s']:.2f} ms/s, "
                f"guest busy {idles[n]['guest_ms_per_s']:+.0f} ms/s"
                for n in sorted(idles)
            ),
            f"{r:.2f}x", "idle_flat", r,
        ))
    # 6. Placement.
    p = one(lines, m="placement")
    if p:
        out.append(row(
            "6. placement: local buffer pages on their CPUs' node",
            f"{p['local_pct']:.1f} % ({p['local_pages']} of {p['pages']} pages)",
            "", "", "placement", p["local_pct"],
        ))
        out.append(row(
            f"6. placement: writer into node 0 vs node {p['remote_node']} (from CPU 0)",
            mb(p["write_local_Bps"]), mb(p["write_remote_Bps"]),
            f"{ratio(p['write_local_Bps'], p['write_remote_Bps']):.2f}x",
        ))
    # 7. Memory overhead.
    m = one(lines, m="memory")
    if m:
        out.append(row(
            "7. memory per buffer (unreclaimable slab + vmalloc, no buffer pages)",
            f"{m['bytes_per_buffer']:.0f} B",
            f"{m['small_buffers']} buffers {m['small_bytes']:,} B, {m['large_buffers']} buffers {m['large_bytes']:,} B"
            + (f" (median of {len(m['rounds_bytes_per_buffer'])}: "
               + ", ".join(f"{x} B" for x in m["rounds_bytes_per_buffer"]) + ")"
               if "rounds_bytes_per_buffer" in m else ""),
            "", "memory", m["bytes_per_buffer"],
        ))
    return out


EXPECTED = {
    "env": ["cpus", "nodes"],
    "consume": ["map_Bps", "map_eps", "map_decode_Bps", "map_decode_eps", "copy_Bps", "copy_eps",
                "limit_Bps", "limit_eps", "first_touch_us"],
    "zeroloss": ["rate_per_cpu", "rate", "cpus"],
    "latency": ["samples", "p50_us", "p99_us", "max_us"],
    "setup": ["buffers", "load_ms", "alloc_ms", "unload_ms", "free_ms", "refused_load_ms"],
    # The idle figures may be 0 (a quiet guest) or, as differences, negative.
    "idle": ["buffers", "seconds", "scan_ms_per_s", "sim_tick_ms_per_s"],
    "placement": ["pages", "local_pages", "local_pct", "write_local_Bps", "write_remote_Bps"],
    "memory": ["small_bytes", "large_bytes", "large_buffers", "small_buffers"],
}
COUNTS = {"env": 1, "consume": 3, "zeroloss": 4, "latency": 3, "setup": 4, "idle": 2, "placement": 1, "memory": 1}


def check(doc):
    """Problems with a run: missing measurements or non-positive figures."""
    problems = []
    if not doc["topologies"]:
        problems.append("no topology ran")
    for topo, t in doc["topologies"].items():
        for e in t["errors"]:
            problems.append(f"{topo}: {e}")
        for m, fields in EXPECTED.items():
            got = pick(t["raw"], m=m)
            if len(got) != COUNTS[m]:
                problems.append(f"{topo}: {len(got)} '{m}' results, expected {COUNTS[m]}")
            for x in got:
                for f in fields:
                    v = x.get(f)
                    if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0 or math.isinf(v):
                        problems.append(f"{topo}: {m} {f} = {v!r} is not a positive number")
    return problems


def table_text(doc):
    out = [f"# {doc['date']}; {doc['machine']}; accelerator {doc['accel']}"]
    for topo, t in doc["topologies"].items():
        out.append(f"\n## {topo} ({doc['accel']}, guest ran {t['boot_seconds']} s)")
        for r in t["rows"]:
            met = "" if r["met"] is None else ("  [goal met]" if r["met"] else "  [goal NOT met]")
            out.append(f"{r['measurement']}: {r['figure']}")
            if r["baseline"]:
                out.append(f"    baseline: {r['baseline']}")
            if r["ratio"] or r["goal"]:
                out.append(f"    ratio {r['ratio'] or '-'}; goal: {r['goal'] or '-'}{met}")
    return "\n".join(out)


def rst_table(rows):
    """A reST list-table (no column widths to keep aligned by hand)."""
    out = [".. list-table::", "   :header-rows: 1", "",
           "   * - Measurement", "     - Figure", "     - Baseline (same boot)", "     - Ratio",
           "     - Goal", "     - Met"]
    for r in rows:
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        cells = [r["measurement"], r["figure"], r["baseline"], r["ratio"], r["goal"], met]
        for i, c in enumerate(cells):
            c = str(c).replace("*", "\\*").replace("`", "\\`").replace("_", "\\_") if c != met else c
            out.append(("   * - " if i == 0 else "     - ") + (c or "\\-"))
    return "\n".join(out)


def rst(doc):
    out = [
        BEGIN,
        "",
        f"Generated by ``scripts/bench-report.py doc`` from ``out/bench/bench.json``",
        f"of a ``scripts/bench.sh`` run on {doc['date']}: {doc['machine']};",
        f"guests under **{doc['accel']}**"
        + (" (no KVM on this machine kind: every figure is emulated, so only the"
           " ratios within one boot mean anything)" if doc["accel"] == "TCG" else "")
        + ", one guest at a time, on the test kernel with its boot-time debugging off"
        " (``vm/run.py --debug off``: no slub_debug, KFENCE, kmemleak or DEBUG_PAGEALLOC;"
        " lockdep and DEBUG_VM are built in and stay on).",
        "",
    ]
    for topo, t in doc["topologies"].items():
        title = f"{topo} (guest ran {t['boot_seconds']} s)"
        out += [title, "~" * len(title), "", rst_table(t["rows"]), ""]
        met = [r for r in t["rows"] if r["met"] is True]
        missed = [r for r in t["rows"] if r["met"] is False]
        out.append(
            f"Goals met on {topo}: {len(met)}; not met: {len(missed)}"
            + (" (" + "; ".join(r["measurement"].replace("*", "\\*") for r in missed) + ")." if missed else ".")
        )
        out.append("")
    out.append(END)
    return "\n".join(out)


def write_doc(doc, path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    a, b = text.find(BEGIN), text.find(END)
    if a < 0 or b < a:
        sys.exit(f"bench-report: {path} has no '{BEGIN}' ... '{END}' block")
    text = text[:a] + rst(doc) + text[b + len(END):]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == "collect":
        doc = collect(arg)
        with open(os.path.join(arg, "bench.json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        return 0
    with open(arg) as f:
        doc = json.load(f)
    if cmd == "check":
        problems = check(doc)
        for p in problems:
            print(f"bench: {p}")
        return 1 if problems else 0
    if cmd == "table":
        print(table_text(doc))
        return 0
    if cmd == "doc":
        write_doc(doc, sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "Documentation/hv_evlog.rst"))
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
