"""Where a step's time goes when kernels overlap: each kind's share of the busy time.

    python3 results/h100_2026-12-07e/time_share.py TRACE.json[.gz] [NAME_PATTERN]

Reads the GPU events (kernels, memsets, memcpys) of a torch.profiler Chrome trace of replayed steps (steps counted by
the fused AdamW kernel, as sum_kernels.py does) and sorts them into the kinds of the
README's kernel tables. Per step it prints, for each kind: its kernels, their summed
time, its share of the busy time (while n kernels run at once, each gets 1/n of that
time, so the shares add up to the busy time), and the time it ran with no other kernel
beside it. With two streams (--weight-grad-stream) the summed kernel time exceeds the
step; the share is what the step would lose if that kind's kernels took no time and
nothing else moved. With PDL (--pdl) a kernel starts, and waits, while the one before
still runs, so its share and its summed time include waiting. NAME_PATTERN (a regular
expression) takes the kernels whose names match it out of their kinds into a row of its
own, e.g. 'layer_norm_backward' for the kernels that Inductor fused a LayerNorm's
backward into.
"""
import collections
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "h100_2026-12-06c"))
from trace_gaps import GPU_CATS, load  # noqa: E402  (reads gzipped traces too)

HAND_WRITTEN = ("_transition_", "_ln_linear_", "_opm_", "_forward_kernel", "_backward_kernel")


def kind(name, own=None):
    """The README's kinds of kernel, by the kernel's name (own: a pattern for a row of its own)."""
    if own and re.search(own, name):
        return f"matching {own!r}"
    if re.search(r"nvjet|gemm|splitKreduce|cutlass", name):
        return "GEMMs and cuBLAS split-K reductions"
    if name.startswith("triton_") and "flex" in name:
        return "FlexAttention"
    if name.startswith("triton_"):
        return "Inductor's Triton kernels"
    if name.startswith(HAND_WRITTEN):
        return "hand-written kernels (--triton-kernels)"
    if "FusedAdam" in name or "multi_tensor_apply" in name:
        return "the optimizer"
    if "reduce_kernel" in name:
        return "aten sums"
    return "the rest"


def shares(kernels, own=None):
    """{kind: [count, summed us, share of busy us, us alone]} and the busy us."""
    table = collections.defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    edges = []
    for e in kernels:
        k = kind(e["name"], own)
        table[k][0] += 1
        table[k][1] += e["dur"]
        edges += [(e["ts"], 1, k), (e["ts"] + e["dur"], -1, k)]
    edges.sort(key=lambda x: (x[0], x[1]))  # ends before starts at the same instant
    running, last, busy = collections.Counter(), edges[0][0], 0.0
    for t, step, k in edges:
        n = sum(running.values())
        if n:
            busy += t - last
            for kk, m in running.items():
                table[kk][2] += (t - last) * m / n
            if n == 1:
                table[next(kk for kk, m in running.items() if m)][3] += t - last
        running[k] += step
        last = t
    return table, busy


if __name__ == "__main__":
    kernels = [e for e in load(sys.argv[1]) if e.get("cat") in GPU_CATS]
    steps = max(1, sum("FusedAdamMathFunctor" in e["name"] for e in kernels))
    table, busy = shares(kernels, sys.argv[2] if len(sys.argv) > 2 else None)
    print(f"{steps} steps; a step: {len(kernels) / steps:.0f} kernels (memsets and memcpys "
          f"counted as kernels, as the sweep's kernel column does), "
          f"{sum(r[1] for r in table.values()) / steps / 1000:.2f} ms of kernels, "
          f"{busy / steps / 1000:.2f} ms busy")
    print("| kind | kernels a step | kernel ms a step | share of the busy ms | ms alone |")
    print("|---|--:|--:|--:|--:|")
    for k, (n, summed, share, alone) in sorted(table.items(), key=lambda kv: -kv[1][2]):
        print(f"| {k} | {n / steps:.0f} | {summed / steps / 1000:.2f} | "
              f"{share / steps / 1000:.2f} | {alone / steps / 1000:.2f} |")
