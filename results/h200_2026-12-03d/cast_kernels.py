"""How many kernels of one graph replay only cast a tensor (Inductor's
triton_poi_fused__to_copy_<n>: a dtype conversion and nothing else), forward and backward.

    python results/h200_2026-12-03d/cast_kernels.py results/h200_2026-12-03d/call2/probe.trace.json.gz

Reads a Chrome trace of several profiled steps of a CUDA-graph path (clock_probe.py's),
takes the kernels of the first step (a step starts where the trace's first kernel
name recurs), and splits them at the step's first FlexAttention backward kernel. Also
counts the step's torch.cat copy kernels.
"""
import collections, gzip, json, re, sys


def main(path):
    events = json.load(gzip.open(path) if path.endswith(".gz") else open(path))["traceEvents"]
    kernels = sorted((e for e in events if e.get("cat") == "kernel"), key=lambda e: e["ts"])
    starts = [i for i, e in enumerate(kernels) if e["name"] == kernels[0]["name"]]
    step = kernels[starts[0]:starts[1]] if len(starts) > 1 else kernels
    backward = next(i for i, e in enumerate(step) if "flex_attention_backward" in e["name"])
    casts = [i for i, e in enumerate(step) if re.fullmatch(r"triton_poi_fused__to_copy_\d+", e["name"])]
    grids = collections.Counter(tuple(step[i]["args"]["grid"]) for i in casts)
    cats = [e for e in step if "CatArrayBatchedCopy" in e["name"]]
    print(f"{len(step)} kernels in the first step, {sum(e['dur'] for e in step) / 1e3:.2f} ms; "
          f"cast-only kernels: {len(casts)} ({sum(step[i]['dur'] for i in casts):.1f} us), "
          f"{sum(i < backward for i in casts)} before the first flex backward kernel, "
          f"{sum(i >= backward for i in casts)} after; grids: {dict(grids.most_common())}; "
          f"torch.cat kernels (FlatAdamW's gather among them): {len(cats)} ({sum(e['dur'] for e in cats):.1f} us)")


if __name__ == "__main__":
    main(sys.argv[1])
