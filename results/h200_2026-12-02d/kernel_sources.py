"""Which operator launches each kind of non-Triton, non-GEMM kernel of a training step.

    PYTHONPATH=. python3 results/h200_2026-12-02d/kernel_sources.py PRESET PATH [LOCKFILE]

Builds the step with --benchmark's own benchmark_step (PATH without "graphs": under
a CUDA graph the kernels have no launching operator), runs 3 warm-up steps, then
profiles one step with record_shapes and prints, for every kernel that is not
Triton (Inductor's own) and not a matrix product, the operator that launched it,
that operator's input shapes and its enclosing record_function ranges: so an aten
kernel inside a compiled step can be traced to the line of the model that asks
for it. LOCKFILE: an flock taken around the profiled step (shared with
inductor_sweep.py, so its timing runs alone). SWEEP_DEVICE=cpu: a smoke test.
"""
import collections, dataclasses, fcntl, os, re, sys

import torch
from torch.profiler import profile, ProfilerActivity

import tiny_openfold_v1 as t

SKIP = re.compile(r"^triton_|nvjet|gemm|cutlass|cublas|Kernel2|fmha|flash|attention")


def launching_ops(prof):
    """{(kernel, op, shapes, ranges): [count, device us]} for every kernel not matched by SKIP."""
    rows = collections.defaultdict(lambda: [0, 0.0])
    for event in prof.events():
        for kernel in getattr(event, "kernels", []):
            if SKIP.search(kernel.name):
                continue
            ranges, parent = [], event.cpu_parent
            while parent is not None and len(ranges) < 4:
                ranges.append(parent.name[:40])
                parent = parent.cpu_parent
            key = (kernel.name[:90], event.name, str(event.input_shapes)[:120], " < ".join(ranges))
            rows[key][0] += 1
            rows[key][1] += kernel.duration
    return rows


def main(preset, path, lockfile=None):
    device = torch.device(os.environ.get("SWEEP_DEVICE", "cuda"))
    cfg = t.config_from_preset(preset)
    tc = dataclasses.replace(t.TrainConfig(use_amp=True), batch_size=t.PRESETS[preset]["batch_size"],
                             **t.parse_benchmark_path(path))
    step, batches = t.benchmark_step(cfg, tc, device)
    for i in range(3):
        step(batches[i % 2])
    t.synchronize(device)
    lock = open(lockfile, "w") if lockfile else None
    if lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities, record_shapes=True) as prof:
        step(batches[0])
        t.synchronize(device)
    if lock:
        lock.close()
    rows = launching_ops(prof)
    print(f"== {preset} {path}: kernels that are neither Triton nor a matrix product, by launching operator")
    print(f"{'count':>5} {'us':>8}  kernel | operator | input shapes | enclosing ranges")
    for (kernel, op, shapes, ranges), (count, us) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
        print(f"{count:>5} {us:>8.1f}  {kernel} | {op} | {shapes} | {ranges}")


if __name__ == "__main__":
    main(*sys.argv[1:])
