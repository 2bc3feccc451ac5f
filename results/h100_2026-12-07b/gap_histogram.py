"""The idle gaps of two Chrome traces of the same step, side by side: how many, by size,
and which kernel each gap comes before (by name, summed over the trace).

    python3 results/h100_2026-12-07b/gap_histogram.py A.trace.json B.trace.json [TOP]

A trace may be gzipped (A.trace.json.gz). Uses trace_gaps.py's reading of the GPU
events and of their gaps (overlapping events merged). The two longest gaps of each trace are left out:
in these traces they are the profiler's start (1.8-1.9 ms and 0.16-0.19 ms, around the
copies issued before the first replay).
Written to see where call14's medium step without ln_linear (m_off) spends the 0.9 ms
outside its kernels that the step with it (m_on) does not.
"""
import collections
import importlib.util
import os
import sys

_spec = importlib.util.spec_from_file_location(
    "trace_gaps", os.path.join(os.path.dirname(__file__), "..", "h100_2026-12-06c", "trace_gaps.py"))
trace_gaps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trace_gaps)

EDGES = [0.5, 1.0, 2.0, 5.0, float("inf")]  # us


def gaps(path):
    """(the trace's gaps, longest first, without the two longest; its GPU event count)."""
    events = trace_gaps.spans(trace_gaps.load(path), trace_gaps.GPU_CATS)
    return sorted(trace_gaps.idle_gaps(events)[0], key=lambda g: -g[0])[2:], len(events)


def main():
    a_path, b_path = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    (a, na), (b, nb) = gaps(a_path), gaps(b_path)
    print(f"A {a_path}: {na} GPU events, {len(a)} gaps, {sum(g[0] for g in a) / 1e3:.3f} ms idle")
    print(f"B {b_path}: {nb} GPU events, {len(b)} gaps, {sum(g[0] for g in b) / 1e3:.3f} ms idle")
    print(f"{'gap (us)':<12}{'A gaps':>8}{'A ms':>9}{'B gaps':>8}{'B ms':>9}")
    lo = 0.0
    for hi in EDGES:
        row = [[g[0] for g in gs if lo <= g[0] < hi] for gs in (a, b)]
        print(f"{lo:g}-{hi:g}".ljust(12) + "".join(f"{len(r):>8}{sum(r) / 1e3:>9.3f}" for r in row))
        lo = hi
    by_next = [collections.Counter(), collections.Counter()]
    for counter, gs in zip(by_next, (a, b)):
        for gap, _, after, _ in gs:
            counter[after[:60]] += gap
    diff = {k: by_next[0][k] - by_next[1][k] for k in set(by_next[0]) | set(by_next[1])}
    print(f"\nidle before each kernel (us over the trace), the {top} largest differences A - B:")
    for name, d in sorted(diff.items(), key=lambda kv: -abs(kv[1]))[:top]:
        print(f"{d:>10.1f}  A {by_next[0][name]:>9.1f}  B {by_next[1][name]:>9.1f}  {name}")


if __name__ == "__main__":
    main()
