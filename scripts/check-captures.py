#!/usr/bin/env python3
"""Check the captures a VM boot wrote (selftests/capture_formats.sh) with
readers nobody here wrote.

  check-captures.py --data OUT/NAME.data --tool hv-evlog --python VENV/bin/python3

The data file is the gzipped tar the guest wrote to its data port. The
reference is what 'hv-evlog decode --json' finds in the binary capture;
against it:

- dissect.etl (PyPI) reads capture.etl: one record per event after the
  logfile header, with the same processor (buffer ProcessorIndex),
  time stamp (TimeDelta), type (HookId), size (record size - 8) and
  context (the payload's first 4 bytes), in the same order;
- etl-parser (PyPI) reads it too, with the same fields;
- both read direct.etl (captured as ETL) with the events our own reader
  decodes from it;
- capture.json parses as JSON, each event has the Trace Event Format's
  required fields, and the instant events per track (tid) equal the
  capture's events per CPU.

Prints one TAP line per check and ends with 'N passed, N failed, N skipped'.
Runs the readers in the interpreter given (the venv scripts/setup.sh makes);
without it the ETL checks are skips, without the data every check is.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

# Run inside the readers' venv (see main): fields of every event, per reader.
READERS = r'''
import json, struct, sys
path, which = sys.argv[1], sys.argv[2]
out = []
if which == "dissect":
    from dissect.etl.etl import ETL
    etl = ETL(open(path, "rb"))
    head = etl.logfile_header
    meta = {"buffers_written": head.buffers_written, "pointer_size": head.pointer_size,
            "buffer_size": etl.buffer_size}
    for n, buf in enumerate(etl.buffers()):
        for rec in buf:
            h = rec.header
            if n == 0 and h.hook_id == 0:
                continue
            p = bytes(h.payload)
            out.append([buf.header.ProcessorIndex, h.time_delta, h.hook_id, h.size - 8,
                        struct.unpack_from("<I", p, 0)[0]])
else:
    from etl.etl import ChunkParser, build_from_stream
    f = build_from_stream(open(path, "rb").read())
    meta = {"header": type(f.get_header()).__name__}
    for chunk in f.chunks:
        cpu = chunk.header.wnode.client_context.processor_index
        for rec in ChunkParser.parse(chunk.payload):
            if rec.type != "PerfInfoTraceRecord":
                out.append([rec.type])
                continue
            v = rec.value
            out.append([cpu, v.timestamp, int(v.header.group) << 8 | v.header.type,
                        v.header.size - 8, struct.unpack_from("<I", v.mof_data, 0)[0]])
json.dump({"meta": meta, "events": out}, sys.stdout)
'''


class Tap:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok - captures: {name}")
        else:
            self.failed += 1
            print(f"not ok - captures: {name}" + (f" # {detail}" if detail else ""))

    def skip(self, name, why):
        self.skipped += 1
        print(f"ok - captures: {name} # SKIP {why}")

    def end(self):
        print(f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped")
        return 0 if self.failed == 0 else 1


CHECKS = [
    "dissect.etl reads every event of capture.etl with identical fields",
    "etl-parser reads every event of capture.etl with identical fields",
    "dissect.etl reads direct.etl as our reader decodes it",
    "capture.json is a Trace Event Format trace with per-CPU counts equal to the capture's",
]


def decode(tool, path):
    """Events of a capture as [cpu, ts, type, size, context], by hv-evlog."""
    out = subprocess.run([tool, "decode", "--json", path], capture_output=True, check=True)
    return [[e["cpu"], e["ts"], e["type"], e["size"], e["context"]]
            for e in map(json.loads, out.stdout.decode().splitlines())]


def read_with(python, path, which):
    out = subprocess.run([python, "-c", READERS, path, which], capture_output=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.decode(errors="replace").strip().splitlines()[-1])
    return json.loads(out.stdout)


def first_difference(got, want):
    if len(got) != len(want):
        return f"{len(got)} events, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"event {i}: {g} (cpu, ts, type, size, context), expected {w}"
    return ""


def check_trace(path, reference):
    """Problems of a Trace Event Format file, '' when none."""
    with open(path) as f:
        trace = json.load(f)
    events = trace.get("traceEvents")
    if not isinstance(events, list):
        return "no traceEvents array"
    per_tid, names = {}, {}
    for n, e in enumerate(events):
        # Required by the format: name, ph, pid; ts for all but metadata;
        # tid for instant and metadata events; instant scope g, p or t.
        need = ["name", "ph", "pid"] + ([] if e.get("ph") == "M" else ["ts"])
        if e.get("ph") in ("i", "M"):
            need.append("tid")
        missing = [k for k in need if k not in e]
        if missing:
            return f"event {n} lacks {missing}: {e}"
        if e["ph"] == "i":
            if e.get("s") not in ("g", "p", "t"):
                return f"event {n}: instant scope {e.get('s')!r}"
            per_tid[e["tid"]] = per_tid.get(e["tid"], 0) + 1
        elif e["ph"] == "M" and e["name"] == "thread_name":
            names[e["tid"]] = e["args"]["name"]
        elif e["ph"] not in ("C", "M"):
            return f"event {n}: phase {e['ph']!r}"
    want = {}
    for cpu, *_ in reference:
        want[cpu] = want.get(cpu, 0) + 1
    if per_tid != want:
        return f"events per track {per_tid}, the capture's per CPU {want}"
    if any(names.get(cpu) != f"CPU {cpu}" for cpu in want):
        return f"track names {names}"
    return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--tool", required=True)
    ap.add_argument("--python", required=True)
    args = ap.parse_args()
    tap = Tap()
    if not os.path.exists(args.data) or os.path.getsize(args.data) == 0:
        for name in CHECKS:
            tap.skip(name, f"the boot wrote no captures to {args.data}")
        return tap.end()
    no_readers = None
    if not os.access(args.python, os.X_OK):
        no_readers = f"no ETL readers at {args.python} (scripts/setup.sh installs them)"
    with tempfile.TemporaryDirectory(prefix="hv-evlog-captures-") as d:
        try:
            with open(args.data, "rb") as f:
                tarfile.open(fileobj=io.BytesIO(f.read()), mode="r:gz").extractall(d, filter="data")
        except (tarfile.TarError, OSError, EOFError) as e:
            for name in CHECKS:
                tap.check(name, False, f"{args.data}: {e}")
            return tap.end()
        f = lambda name: os.path.join(d, name)
        reference = decode(args.tool, f("capture.bin"))
        if len(reference) != 10000:
            print(f"# the capture holds {len(reference)} events, not 10000")
        for which, name in (("dissect", CHECKS[0]), ("etl-parser", CHECKS[1])):
            if no_readers:
                tap.skip(name, no_readers)
                continue
            try:
                got = read_with(args.python, f("capture.etl"), which)
                problem = first_difference(got["events"], reference)
                if len(reference) != 10000:
                    problem = problem or f"{len(reference)} events captured, not 10000"
                tap.check(name, not problem, problem)
            except RuntimeError as e:
                tap.check(name, False, str(e))
        try:
            if no_readers:
                raise LookupError(no_readers)
            got = read_with(args.python, f("direct.etl"), "dissect")
            problem = first_difference(got["events"], decode(args.tool, f("direct.etl")))
            tap.check(CHECKS[2], not problem and len(got["events"]) == 2000,
                      problem or f"{len(got['events'])} events")
        except LookupError as e:
            tap.skip(CHECKS[2], str(e))
        except RuntimeError as e:
            tap.check(CHECKS[2], False, str(e))
        try:
            problem = check_trace(f("capture.json"), reference)
        except (OSError, ValueError) as e:
            problem = str(e)
        tap.check(CHECKS[3], not problem, problem)
    return tap.end()


if __name__ == "__main__":
    sys.exit(main())
