"""Kernel time per step by group, from Chrome traces of a replayed step (the README's table).

    python3 results/h100_2026-12-07c/kernel_groups.py TRACE.json[.gz] ...

Sums the duration of every GPU kernel in each trace, over all streams (so overlapping
kernels both count), groups it by kernel name, and divides by the number of steps in
the trace: the fused AdamW kernel runs once a step. One column per trace.
"""
import collections
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "h100_2026-12-06c"))
from trace_gaps import load  # noqa: E402  (reads gzipped traces too)

# The first pattern a kernel's name matches names its group. cuBLAS's split-K reduction
# comes before the GEMMs (its name has "cublasLt" in it); FlexAttention's kernels before
# the other Triton kernels (Inductor names them triton_tem_fused_flex_attention...).
GROUPS = [("cuBLAS splitKreduce", r"splitKreduce"),
          ("FlexAttention backward", r"flex_attention_backward"),
          ("FlexAttention forward", r"flex_attention"),
          ("cuBLAS GEMMs", r"gemm|nvjet|sm90"),
          ("Triton", r"^triton"),
          ("other", r"")]
STEP_KERNEL = "FusedAdamMathFunctor"


def group_ms_per_step(path):
    totals, steps = collections.Counter(), 0
    for event in load(path):
        if event.get("cat") != "kernel":
            continue
        name = event["name"]
        steps += STEP_KERNEL in name
        totals[next(group for group, pattern in GROUPS if re.search(pattern, name))] += event["dur"]
    return {group: us / max(steps, 1) / 1000 for group, us in totals.items()}, steps


if __name__ == "__main__":
    columns = [group_ms_per_step(path) for path in sys.argv[1:]]
    print(f"{'ms a step':24}" + "".join(f"{os.path.basename(p).split('.')[0]:>10}" for p in sys.argv[1:]))
    print(f"{'steps in the trace':24}" + "".join(f"{steps:>10}" for _, steps in columns))
    for group, _ in GROUPS + [("all", None)]:
        values = [sum(ms.values()) if group == "all" else ms.get(group, 0.0) for ms, _ in columns]
        print(f"{group:24}" + "".join(f"{v:>10.2f}" for v in values))
