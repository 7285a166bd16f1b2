#!/usr/bin/env python3
"""Boot the test kernel in QEMU with a named NUMA topology and judge the run.

Packs a busybox initramfs with the module, the guest tests and vm/guest-init.sh,
boots it with a serial console, and judges the console: the guest's TAP, plus
checks of the run itself (kernel splats, kmemleak, time limit, TAP plan).

  vm/run.py --kdir DIR --topology 2node --tests topology,load
  vm/run.py --kdir DIR --topology 2node --mode demo

Prints nested TAP on stdout; the last line of a test run is the count
'N passed, N failed, N skipped'.  Exit status 0 only when nothing failed.
"""

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


@dataclass
class Node:
    """One guest NUMA node: its CPUs (inclusive range or None) and MiB."""

    cpus: tuple | None
    mem_mib: int


@dataclass
class Topology:
    nodes: list
    # Symmetric SLIT distances beyond the default (10 local, 20 remote).
    dist: dict = field(default_factory=dict)

    @property
    def ncpus(self):
        return sum(n.cpus[1] - n.cpus[0] + 1 for n in self.nodes if n.cpus)


# The topologies named by the issue; tests read the same table from the guest
# file /etc/hv-evlog/topology, so the expectation is never typed twice.
TOPOLOGIES = {
    "1node": Topology([Node((0, 1), 256)]),
    "2node": Topology([Node((0, 1), 256), Node((2, 3), 256)]),
    "4node": Topology(
        [Node((0, 0), 128), Node((1, 2), 128), Node((3, 5), 128), Node((6, 7), 128)]
    ),
    # node 1: CPUs without memory; node 2: memory without CPUs, nearer to
    # node 1 than node 0 is, so node 1's CPUs are served from node 2.
    "memless": Topology(
        [Node((0, 0), 256), Node((1, 2), 0), Node(None, 256)],
        dist={(0, 1): 20, (0, 2): 20, (1, 2): 15},
    ),
}

CONSOLE_FAILURES = [
    ("kernel BUG", re.compile(r"\bBUG:")),
    ("kernel WARNING", re.compile(r"\bWARNING:")),
    ("Oops", re.compile(r"\bOops\b")),
    ("kernel panic", re.compile(r"Kernel panic")),
    ("call trace", re.compile(r"Call Trace:")),
    (
        "lockdep report",
        re.compile(
            r"possible circular locking|inconsistent lock state|"
            r"possible recursive locking|suspicious RCU usage|lock held when returning"
        ),
    ),
    ("KFENCE report", re.compile(r"KFENCE: ")),
]
KMEMLEAK_OBJECT = re.compile(r"unreferenced object")
RESULT = re.compile(r"^(\s*)(not ok|ok)\s+(\d+)\s*(.*)$")
PLAN = re.compile(r"^(\s*)1\.\.(\d+)")


def qemu_numa_args(topo):
    args, total = [], 0
    for i, n in enumerate(topo.nodes):
        spec = f"node,nodeid={i}"
        if n.cpus:
            spec += f",cpus={n.cpus[0]}-{n.cpus[1]}"
        if n.mem_mib:
            args += ["-object", f"memory-backend-ram,id=m{i},size={n.mem_mib}M"]
            spec += f",memdev=m{i}"
            total += n.mem_mib
        args += ["-numa", spec]
    for (a, b), d in sorted(topo.dist.items()):
        args += ["-numa", f"dist,src={a},dst={b},val={d}"]
    # One socket per CPU: CPUs sharing a socket across nodes trip the
    # scheduler's topology_sane() warning.
    n = topo.ncpus
    return ["-smp", f"{n},sockets={n},cores=1,threads=1", "-m", f"{total}M"] + args


def topology_file(topo):
    """One line per node: id, CPU list, MiB, and its distance row."""
    lines = []
    for i, n in enumerate(topo.nodes):
        cpus = f"{n.cpus[0]}-{n.cpus[1]}" if n.cpus else "-"
        if n.cpus and n.cpus[0] == n.cpus[1]:
            cpus = str(n.cpus[0])
        row = []
        for j in range(len(topo.nodes)):
            d = 10 if i == j else topo.dist.get((min(i, j), max(i, j)), 20)
            row.append(str(d))
        lines.append(f"{i} {cpus} {n.mem_mib} {','.join(row)}")
    return "\n".join(lines) + "\n"


def build_initramfs(work, args, topo_name, tests):
    root = os.path.join(work, "root")
    for d in ("bin", "sbin", "proc", "sys", "dev", "tmp", "etc/hv-evlog", "tests", "lib/modules"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(root, "bin/busybox"))
    shutil.copy(os.path.join(HERE, "guest-init.sh"), os.path.join(root, "init"))
    os.chmod(os.path.join(root, "init"), 0o755)
    for f in args.module or []:
        shutil.copy(f, os.path.join(root, "lib/modules", os.path.basename(f)))
    for f in args.guest_file or []:
        dst = os.path.join(root, "tests", os.path.basename(f))
        shutil.copy(f, dst)
        os.chmod(dst, 0o755)
    with open(os.path.join(root, "etc/hv-evlog/topology"), "w") as f:
        f.write(topology_file(TOPOLOGIES[topo_name]))
    with open(os.path.join(root, "etc/hv-evlog/name"), "w") as f:
        f.write(topo_name + "\n")
    with open(os.path.join(root, "etc/hv-evlog/mode"), "w") as f:
        f.write(args.mode + "\n")
    with open(os.path.join(root, "etc/hv-evlog/tests"), "w") as f:
        f.write(" ".join(tests) + "\n")
    # Sourced by guest-init.sh before the tests: shortened forms for the
    # suite (e.g. CYCLES=50), the full ones when absent.
    with open(os.path.join(root, "etc/hv-evlog/env"), "w") as f:
        # The third serial port: bytes a test writes there land unchanged in
        # OUT/NAME.data on the host (see qemu_cmd), for checks the guest
        # cannot run (it has no Python).
        f.write("export HV_EVLOG_DATA=/dev/ttyS2\n")
        for kv in args.guest_env or []:
            key, sep, value = kv.partition("=")
            if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key) or not re.fullmatch(r"[\w.,-]*", value):
                sys.exit(f"run.py: --guest-env wants NAME=VALUE, got {kv!r}")
            f.write(f"export {key}={value}\n")
    cpio = subprocess.run(
        "find . | LC_ALL=C sort | cpio -o -H newc --quiet",
        shell=True, cwd=root, check=True, stdout=subprocess.PIPE,
    ).stdout
    path = os.path.join(work, "initramfs.cpio.gz")
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(cpio)
    return path


# The hang detector: the guest prints on its console (the kernel) or its
# report port (each test's TAP and its time) at least this often while it is
# making progress; the longest quiet stretch seen is a kmemleak scan or a
# fixed-length test (the 20 s flood, the fuzzer's 20 s per mode) on a
# machine twice as slow as usual, well below it.
SILENCE = 240


# What the test kernel's boot-time debugging is set to: "on" for the tests
# (every check the kernel can make), "off" for benchmarks, which measure the
# module and not the instrumentation (slub_debug's metadata, a KFENCE guard
# page every 10 ms, kmemleak's tracking, the direct map's unmapping of every
# free page). Lockdep and DEBUG_VM are built in and stay on either way.
DEBUG_ARGS = {
    "on": "slub_debug=FZPU kfence.sample_interval=10 ",
    "off": "kfence.sample_interval=0 kmemleak=off debug_pagealloc=off ",
}


def qemu_cmd(args, accel, topo, initrd, report, data):
    append = "console=ttyS0 panic=-1 oops=panic loglevel=7 " + DEBUG_ARGS[args.debug] + (args.append or "")
    cpu = "host" if accel == "kvm" else "max"
    return [
        "qemu-system-x86_64", "-accel", accel, "-cpu", cpu,
        *qemu_numa_args(topo),
        "-kernel", os.path.join(args.kdir, "arch/x86/boot/bzImage"),
        "-initrd", initrd, "-append", append,
        "-display", "none", "-serial", "stdio", "-serial", f"file:{report}",
        "-serial", f"file:{data}",
        "-monitor", "none", "-no-reboot", "-nodefaults",
    ]


def boot(cmd, log_path, timeout, stop_at=None, echo_after=None, silence=None, watch=()):
    """Run QEMU, copy the console to log_path; return (lines, stopped).

    stopped is None when the guest ended by itself (or printed stop_at),
    else why the run was cut short: its total time limit, or, with silence,
    no byte on the console and no growth of the files in watch (the guest's
    report and data ports) for that many seconds. The total limit only
    bounds a guest that keeps printing; the silence limit is the hang
    detector, so a slow machine that is making progress is never cut.
    With echo_after, console lines after that marker are also printed live.
    """
    lines = []
    echo = False
    start = last = time.monotonic()
    sizes = {}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        os.set_blocking(proc.stdout.fileno(), False)
        buf = b""
        stopped = None
        while True:
            now = time.monotonic()
            for path in watch:
                try:
                    size = os.path.getsize(path)
                except OSError:
                    continue
                if sizes.get(path) != size:
                    sizes[path] = size
                    last = now
            if now - start > timeout:
                stopped = f"still running after its {timeout} s limit"
                break
            if silence is not None and now - last > silence:
                stopped = f"no output for {silence} s"
                break
            chunk = proc.stdout.read()
            if chunk:
                last = now
                buf += chunk
                *done, buf = buf.split(b"\n")
                for raw in done:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    lines.append(line)
                    log.write(line + "\n")
                    if echo:
                        print(line, flush=True)
                    echo = echo or (echo_after is not None and line == echo_after)
                    if stop_at and stop_at in line:
                        proc.kill()
                        proc.wait()
                        proc.stdout.close()
                        return lines, None
            elif proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        if buf:
            lines.append(buf.decode("utf-8", "replace"))
            log.write(lines[-1] + "\n")
    return lines, stopped


def choose_accel(args, out):
    """KVM only when a short probe shows a guest printing; otherwise TCG."""
    if args.accel != "auto":
        return args.accel
    cached = os.path.join(out, "accel")
    if os.path.exists(cached):
        return open(cached).read().strip()
    accel = "tcg"
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        cmd = [
            "qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-m", "256M",
            "-kernel", os.path.join(args.kdir, "arch/x86/boot/bzImage"),
            "-append", "console=ttyS0", "-display", "none", "-serial", "stdio",
            "-monitor", "none", "-no-reboot", "-nodefaults",
        ]
        lines, _ = boot(cmd, os.path.join(out, "kvm-probe.log"), 8, stop_at="Linux version")
        if any("Linux version" in line for line in lines):
            accel = "kvm"
    with open(cached, "w") as f:
        f.write(accel + "\n")
    return accel


def section(lines, begin, end):
    try:
        a = lines.index(begin)
    except ValueError:
        return None
    try:
        b = lines.index(end, a)
    except ValueError:
        b = len(lines)
    return lines[a + 1:b]


def judge_tap(tap):
    """Count results; return (passed, failed, skipped, problems).

    The guest nests each test program's own TAP below its top-level line.
    Nested results are counted one by one; a test with none counts as one;
    a top-level failure whose nested results all passed (a crash, a wrong
    exit code) still counts as one failure, so no failure is ever lost.
    """
    passed = failed = skipped = 0
    problems = []
    top_plan, top_seen = None, 0
    block = []
    for line in tap:
        m = PLAN.match(line)
        if m and not m.group(1):
            top_plan = int(m.group(2))
            continue
        m = RESULT.match(line)
        if not m or m.group(1):
            block.append(line)
            continue
        top_seen += 1
        p, f, s, nested, plan = count_block(block)
        block = []
        if plan is not None and plan != nested:
            problems.append(f"{m.group(4)}: plan 1..{plan} but {nested} results")
            f += 1
        top_failed = m.group(2) == "not ok"
        skip = "# SKIP" in m.group(4).upper()
        if nested == 0:
            p, f, s = int(not top_failed and not skip), int(top_failed), int(skip and not top_failed)
        elif top_failed and f == 0:
            f = 1
        passed, failed, skipped = passed + p, failed + f, skipped + s
    if top_plan is None:
        problems.append("no TAP plan")
    elif top_plan != top_seen:
        problems.append(f"TAP plan 1..{top_plan} but {top_seen} results")
    return passed, failed, skipped, problems


def count_block(block):
    """Results of one test program's TAP at its outermost level."""
    indents = [len(m.group(1)) for m in map(RESULT.match, block) if m]
    if not indents:
        return 0, 0, 0, 0, None
    level = min(indents)
    p = f = s = 0
    plan = None
    for line in block:
        m = PLAN.match(line)
        if m and len(m.group(1)) == level:
            plan = int(m.group(2))
        m = RESULT.match(line)
        if not m or len(m.group(1)) != level:
            continue
        if "# SKIP" in m.group(4).upper():
            s += 1
        elif m.group(2) == "ok":
            p += 1
        else:
            f += 1
    return p, f, s, p + f + s, plan


def running_test(report):
    """The guest test that had started and not finished, from the report's
    '# NAME' and '# NAME took N s' lines; None between tests."""
    current = None
    for line in report:
        if line.startswith("# ") and " " not in line[2:]:
            current = line[2:]
        elif current and line.startswith(f"# {current} took "):
            current = None
    return current


def run_checks(lines, report, stopped, expect_console=(), kmemleak=True):
    """The run's own checks, as (name, ok, detail): console and report; ok
    is None for a check this boot cannot make (a skip). stopped is boot()'s
    reason for cutting the run short, or None."""
    if stopped:
        test = running_test(report)
        detail = stopped + (f" while {test} ran" if test else "")
    else:
        detail = "" if "HV_EVLOG_DONE" in report else "the guest ended before its report did"
    checks = [("finished without a hang", not detail, detail)]
    for rx in expect_console:
        hit = any(re.search(rx, line) for line in lines)
        checks.append((f"console shows /{rx}/", hit, "" if hit else "no such line"))
    for name, rx in CONSOLE_FAILURES:
        hits = [line for line in lines if rx.search(line)]
        checks.append((f"console has no {name}", not hits, hits[0] if hits else ""))
    leaks = section(report, "HV_EVLOG_KMEMLEAK_BEGIN", "HV_EVLOG_KMEMLEAK_END")
    if not kmemleak:
        checks.append(("kmemleak reports no leak", None, "kmemleak is off in this boot (--debug off)"))
    elif leaks is None:
        checks.append(("kmemleak scanned", False, "no kmemleak section"))
    else:
        objs = [line for line in leaks if KMEMLEAK_OBJECT.search(line)]
        checks.append(("kmemleak reports no leak", not objs, f"{len(objs)} object(s)" if objs else ""))
    return checks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kdir", required=True, help="kernel build tree with arch/x86/boot/bzImage")
    ap.add_argument("--topology", required=True, choices=sorted(TOPOLOGIES))
    ap.add_argument("--tests", default="", help="comma-separated guest test names (files in /tests)")
    ap.add_argument("--module", action="append", help="module file to put in /lib/modules")
    ap.add_argument("--guest-file", action="append", help="file to put in /tests")
    ap.add_argument("--guest-env", action="append", help="NAME=VALUE exported to the guest tests")
    ap.add_argument("--mode", choices=["test", "demo"], default="test")
    ap.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto")
    ap.add_argument("--timeout", type=int, default=SILENCE * 4,
                    help="total seconds before the run is cut (a bound, not a speed test)")
    ap.add_argument("--silence", type=int, default=SILENCE,
                    help="seconds without a byte from the guest before it counts as hung")
    ap.add_argument("--calibration", type=float,
                    help="this machine's time for the harness self-test boot, printed beside this boot's")
    ap.add_argument("--append", default="", help="extra kernel command line")
    ap.add_argument("--debug", choices=sorted(DEBUG_ARGS), default="on",
                    help="boot-time debugging of the test kernel (off: for benchmarks)")
    ap.add_argument("--out", default=os.path.join(ROOT, "out"))
    ap.add_argument("--name", help="name of this run in the report (default: topology)")
    ap.add_argument("--expect-console", action="append", help="regex a console line must match (repeatable)")
    ap.add_argument("--expect-fail", default="", help="comma-separated run checks that must FAIL (harness self-test)")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    name = args.name or args.topology
    topo = TOPOLOGIES[args.topology]
    tests = [t for t in args.tests.split(",") if t]
    accel = choose_accel(args, args.out)
    log_path = os.path.join(args.out, f"{name}.console.log")
    with tempfile.TemporaryDirectory(prefix="hv-evlog-vm-") as work:
        initrd = build_initramfs(work, args, args.topology, tests)
        report_path = os.path.join(args.out, f"{name}.report.log")
        data_path = os.path.join(args.out, f"{name}.data")
        cmd = qemu_cmd(args, accel, topo, initrd, report_path, data_path)
        print(f"# {name}: booting {args.topology} ({topo.ncpus} CPUs, {len(topo.nodes)} nodes) under {accel}", flush=True)
        t0 = time.monotonic()
        lines, stopped = boot(
            cmd, log_path, args.timeout, silence=args.silence, watch=(report_path, data_path),
            echo_after="HV_EVLOG_BOOTED" if args.mode == "demo" else None,
        )
        took = time.monotonic() - t0
    # Said, not judged: the limits only catch a hang. The harness self-test's
    # boot, timed on the same machine in the same run, tells a slow machine
    # from a slow boot.
    speed = ""
    if args.calibration:
        speed = f"; {took / args.calibration:.1f}x the harness self-test's boot ({args.calibration:.1f} s)"
    print(
        f"# {name}: finished in {took:.1f} s ({took / args.timeout:.0%} of its {args.timeout} s limit,"
        f" hung after {args.silence} s without output){speed}",
        flush=True,
    )
    with open(os.path.join(args.out, f"{name}.time"), "w") as f:
        f.write(f"{took:.1f}\n")
    print(f"# {name}: console log: {log_path}", flush=True)

    with open(report_path, errors="replace") as f:
        report = [line.rstrip("\r\n") for line in f]
    # kmemleak runs only with the boot-time debugging on.
    kmemleak = args.debug == "on"
    if args.mode == "demo":
        failed = [name for name, ok, _ in run_checks(lines, report, stopped, kmemleak=kmemleak) if ok is False]
        print(f"# demo {'FAILED: ' + ', '.join(failed) if failed else 'finished cleanly'}")
        return 1 if failed else 0

    tap = section(report, "HV_EVLOG_TAP_BEGIN", "HV_EVLOG_TAP_END") or []
    passed, failed, skipped, problems = judge_tap(tap)
    for line in tap:
        print("    " + line)
    checks = run_checks(lines, report, stopped, args.expect_console or (), kmemleak=kmemleak)
    checks.append(("guest TAP is complete", not problems, "; ".join(problems)))
    expect_fail = [e for e in args.expect_fail.split(",") if e]
    for cname, ok, detail in checks:
        if any(e in cname for e in expect_fail):
            ok, detail = (not ok), ("caught as expected" if not ok else "NOT caught")
            cname = f"harness catches: {cname}"
        if ok is None:
            skipped += 1
            print(f"ok - {name}: {cname} # SKIP {detail}")
        elif ok:
            passed += 1
            print(f"ok - {name}: {cname}")
        else:
            failed += 1
            print(f"not ok - {name}: {cname}" + (f" # {detail}" if detail else ""))
    print(f"# {name}: {passed} passed, {failed} failed, {skipped} skipped")
    with open(os.path.join(args.out, f"{name}.counts"), "w") as f:
        f.write(f"{passed} {failed} {skipped}\n")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
