#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that the module's layers name only the layers they may use, and
that each pure layer forbids unsafe code.

The folders under hv_evlog/ are the layers (README.md, "Layout"); this
table is the one statement of which may name which. A `crate::LAYER` path
(in a `use` or inline) from a file of another layer must be allowed here,
or the check fails with the file, the line and the two layers.

  scripts/check-layers.py          check; exit 1 on a violation
  scripts/check-layers.py --graph  print the edges the code has
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Layer -> the layers it may name. Pure layers name only pure ones. The one
# edge against the flow is deliberate: the backend names the simulator as
# one of the two transports (hv -> sim), which the simulator implements.
ALLOWED = {
    "hv_evlog_numa": {"tlfs"},
    "tlfs": set(),
    "policy": {"tlfs", "hv_evlog_numa"},
    "sim/model": {"tlfs", "policy", "hv_evlog_numa"},
    "uapi": {"tlfs"},
    "platform": {"tlfs", "policy", "hv_evlog_numa"},
    "hv": {"platform", "tlfs", "policy", "sim"},
    "sim": {"sim/model", "hv", "platform", "tlfs", "policy", "hv_evlog_numa"},
    "group": {"hv", "sim", "platform", "tlfs", "policy", "hv_evlog_numa", "uapi"},
    "device": {"group", "hv", "platform", "tlfs", "policy", "uapi", "sim", "hv_evlog_numa"},
    "word_params": {"policy"},
    "root": None,  # hv_evlog.rs wires everything together
}
PURE = {"hv_evlog_numa", "tlfs", "policy", "sim/model", "uapi"}
# The file each pure layer's module tree starts from: it forbids `unsafe`
# for the whole layer, in every crate that mounts it.
PURE_ROOTS = {
    "hv_evlog_numa": "hv_evlog_numa.rs",
    "tlfs": "hv_evlog/tlfs/mod.rs",
    "policy": "hv_evlog/policy/mod.rs",
    "sim/model": "hv_evlog/sim/model/mod.rs",
    "uapi": "hv_evlog/uapi.rs",
}
assert set(PURE_ROOTS) == PURE
LAYERS = {"tlfs", "policy", "platform", "hv", "sim", "group", "device", "uapi",
          "word_params", "hv_evlog_numa"}


def layer_of(path):
    rel = path.relative_to(ROOT).as_posix()
    if rel == "hv_evlog.rs":
        return "root"
    if rel == "hv_evlog_numa.rs":
        return "hv_evlog_numa"
    parts = rel.split("/")
    if parts[1] == "sim" and len(parts) > 3 and parts[2] == "model":
        return "sim/model"
    name = parts[1]
    return name[:-3] if name.endswith(".rs") else name


def references(text):
    """(line number, layer) for every crate:: path naming a layer."""
    out = []
    # use crate::{a::..., b, ...}; blocks: the first segment of each item.
    for m in re.finditer(r"use crate::\{(.*?)\};", text, re.S):
        body, depth, item, start = m.group(1), 0, "", m.start(1)
        for i, ch in enumerate(body + ","):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                first = re.match(r"\s*(\w+)", item)
                if first:
                    out.append((text.count("\n", 0, start + i) + 1, first.group(1), item.strip()))
                item = ""
                continue
            item += ch
    for m in re.finditer(r"crate::(\w+)(::(\w+))?", text):
        out.append((text.count("\n", 0, m.start()) + 1, m.group(1), m.group(0)))
    res = []
    for line, first, what in out:
        if first == "sim" and re.search(r"sim::model\b", what):
            first = "sim/model"
        if first in LAYERS:
            res.append((line, first))
    return res


def main():
    graph = "--graph" in sys.argv[1:]
    files = [ROOT / "hv_evlog.rs", ROOT / "hv_evlog_numa.rs"] + sorted((ROOT / "hv_evlog").rglob("*.rs"))
    bad = 0
    edges = set()
    for f in files:
        src = layer_of(f)
        text = f.read_text()
        # Doc comments may name anything.
        code = "\n".join("" if l.lstrip().startswith("//") else l for l in text.split("\n"))
        for line, dst in references(code):
            if dst == src:
                continue
            edges.add((src, dst))
            allowed = ALLOWED[src]
            if allowed is not None and dst not in allowed and dst != src:
                print(f"{f.relative_to(ROOT)}:{line}: layer {src} names {dst}, which it may not"
                      + (" (a pure layer names only pure ones)" if src in PURE else ""))
                bad += 1
    for layer, root in sorted(PURE_ROOTS.items()):
        if not re.search(r"^#!\[forbid\(unsafe_code\)\]$", (ROOT / root).read_text(), re.M):
            print(f"{root}: the pure layer {layer} does not forbid unsafe code "
                  "(#![forbid(unsafe_code)])")
            bad += 1
    if graph:
        for s, d in sorted(edges):
            print(f"{s} -> {d}")
    if bad:
        print(f"check-layers: {bad} violation(s); the table is in scripts/check-layers.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
