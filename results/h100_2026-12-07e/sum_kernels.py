"""Kernels of one name in a Chrome trace of replayed steps: count, time and time alone.

    python3 results/h100_2026-12-07e/sum_kernels.py TRACE.json[.gz] NAME_PATTERN

Prints, per step (steps counted by the fused AdamW kernel, as kernel_groups.py of
../h100_2026-12-07c), how many kernels match NAME_PATTERN (a regular expression), their
time, and how much of it no other kernel ran beside them. The README of this folder
cites it for triton_red_fused__to_copy__unsafe_view_add_clone_sum_transpose_view$ in
../h100_2026-12-07c/c1/s_Cw.trace.json.gz.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "h100_2026-12-06c"))
from trace_gaps import load  # noqa: E402  (reads gzipped traces too)


def covered(start, end, others):
    """How much of [start, end) the intervals in others cover."""
    total, last = 0, start
    for a, b in sorted((max(a, start), min(b, end)) for a, b in others if a < end and b > start):
        if b > last:
            total += b - max(a, last)
            last = b
    return total


if __name__ == "__main__":
    kernels = sorted((e for e in load(sys.argv[1]) if e.get("cat") == "kernel"), key=lambda e: e["ts"])
    steps = max(1, sum("FusedAdamMathFunctor" in e["name"] for e in kernels))
    spans = [(e["ts"], e["ts"] + e["dur"]) for e in kernels]
    count = time = alone = 0
    for i, e in enumerate(kernels):
        if not re.search(sys.argv[2], re.sub(r"_\d+$", "", e["name"])):
            continue
        start, end = spans[i]
        near = [s for j, s in enumerate(spans[max(0, i - 200):i + 200], max(0, i - 200)) if j != i]
        count, time, alone = count + 1, time + e["dur"], alone + e["dur"] - covered(start, end, near)
    print(f"{steps} steps; a step: {count / steps:.1f} kernels, {time / steps / 1000:.3f} ms, "
          f"{alone / steps / 1000:.3f} ms of it with no other kernel running")
