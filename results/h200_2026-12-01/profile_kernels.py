"""Where a benchmark path's GPU time goes: kernels per step, grouped by kind.

    PYTHONPATH=. python results/h200_2026-12-01/profile_kernels.py PRESET N PATH STEPS [WARMUP]

Builds the step with --benchmark's own benchmark_step (same model, optimizer,
batches and TrainConfig fields), runs WARMUP (default 3) untimed steps, then profiles STEPS steps with
torch.profiler and prints: GPU kernel time and kernel count per step, the
same by kernel kind (GEMM, split-K reduction, attention, Triton, ...), and the
top kernels.
"""
import collections, dataclasses, re, sys
import torch
from torch.profiler import profile, ProfilerActivity
import tiny_openfold_v1 as t

KINDS = [("gemm", r"nvjet|gemm|sm90_xmma|cutlass.*(?<!fmha)kernel|cublas|Kernel2"),
         ("splitK-reduce", r"splitKreduce|reduce_1Block|splitK"),
         ("attention", r"fmha|attention|flash|efficient"),
         ("triton", r"^triton_"),
         ("optimizer", r"multi_tensor|adam|Adam"),
         ("aten-elementwise", r"elementwise|vectorized|unrolled"),
         ("aten-reduce", r"reduce_kernel|Reduce"),
         ("copy/cat", r"copy|cat|Memcpy|Memset")]

def kind(name):
    for k, pat in KINDS:
        if re.search(pat, name):
            return k
    return "other"

def profile_steps(step, batch, steps):
    """torch.profiler over `steps` calls of step(batch); returns the profile."""
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step(batch)
        torch.cuda.synchronize()
    return prof


def kernel_table(prof, steps, title, top=12):
    """The printed summary: kernel time and count per step, by kind, top kernels.
    Returns (GPU kernel ms per step, kernels per step)."""
    per_kind = collections.defaultdict(lambda: [0, 0.0])
    per_name = collections.defaultdict(lambda: [0, 0.0])
    for e in prof.events():
        if e.device_type == torch.autograd.DeviceType.CUDA and e.device_time_total > 0:
            k = per_kind[kind(e.name)]
            k[0] += 1; k[1] += e.device_time_total
            m = per_name[e.name]
            m[0] += 1; m[1] += e.device_time_total
    total = sum(v[1] for v in per_kind.values()) / steps / 1e3
    count = sum(v[0] for v in per_kind.values()) / steps
    print(f"== {title}: {total:.2f} ms of GPU kernels per step, {count:.0f} kernels per step")
    print(f"{'kind':<18} {'kernels/step':>12} {'ms/step':>9} {'share':>6} {'us/kernel':>9}")
    for k, (c, us) in sorted(per_kind.items(), key=lambda kv: -kv[1][1]):
        print(f"{k:<18} {c / steps:>12.0f} {us / steps / 1e3:>9.3f} {100 * us / steps / 1e3 / total:>5.1f}% {us / c:>9.1f}")
    print("top kernels:")
    for name, (c, us) in sorted(per_name.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"  {c / steps:>6.0f}/step {us / steps / 1e3:>7.3f} ms  {us / c:>7.1f} us  {name[:110]}")
    return total, count


if __name__ == "__main__":
    preset, n, path, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    cfg = t.config_from_preset(preset, max_seq_len=n)
    tc = dataclasses.replace(t.TrainConfig(use_amp=True), batch_size=t.PRESETS[preset]["batch_size"],
                             **t.parse_benchmark_path(path))
    step, (batch, _) = t.benchmark_step(cfg, tc, torch.device("cuda"))
    for _ in range(warmup):
        step(batch)
    torch.cuda.synchronize()
    kernel_table(profile_steps(step, batch, steps), steps, f"{preset} N={n} {path}")
