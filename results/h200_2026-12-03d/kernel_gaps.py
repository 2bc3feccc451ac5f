"""Gaps between consecutive GPU kernels in Chrome traces of profiled training steps.

    python results/h200_2026-12-03d/kernel_gaps.py TRACE.json[.gz] ...

For each trace (torch.profiler's export_chrome_trace, e.g. from clock_probe.py or
inductor_sweep.py with SWEEP_TRACE=1; 5 profiled steps): kernels a step, kernel time a
step, and the idle time from one kernel's end to the next one's start (median, 10th and
90th percentile, in microseconds). Gaps over 50 us (between steps: the host starting
the next replay) are left out of the percentiles and counted apart. Then the
median gap before each kind of kernel: Triton (Inductor's), templates and the
hand-written kernels (FlexAttention's and --triton-kernels'), cuBLAS, copies, and
the rest (aten's own CUDA kernels, compiled into PyTorch).
"""
import collections, gzip, json, statistics, sys

STEPS = 5


def kind(name: str) -> str:
    if name.startswith("triton_tem") or "flex" in name or name in ("_forward_kernel", "_backward_kernel"):
        return "template/hand"
    if name.startswith("triton"):
        return "triton"
    if any(k in name for k in ("nvjet", "gemm", "cutlass", "splitK")):
        return "cublas"
    if "memcpy" in name.lower() or "memset" in name.lower():
        return "copy"
    return "aten"


def kernel_gaps(path: str) -> dict:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        events = json.load(f)["traceEvents"]
    gpu = sorted((e for e in events if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")),
                 key=lambda e: e["ts"])
    after = [(b, b["ts"] - (a["ts"] + a["dur"])) for a, b in zip(gpu, gpu[1:])]  # (event, gap before it)
    gaps = sorted(gap for _, gap in after)
    inner = [g for g in gaps if g <= 50]
    before = collections.defaultdict(list)  # gap before a kernel, by its kind
    for event, gap in after:
        if gap <= 50:
            before[kind(event["name"])].append(gap)
    return {"events_per_step": len(gpu) / STEPS, "busy_ms_per_step": sum(e["dur"] for e in gpu) / STEPS / 1e3,
            "gap_us_median": inner[len(inner) // 2], "gap_us_p10": inner[len(inner) // 10],
            "gap_us_p90": inner[9 * len(inner) // 10], "inner_gap_ms_per_step": sum(inner) / STEPS / 1e3,
            "gaps_over_50us": len(gaps) - len(inner),
            "median_gap_us_before": {k: (len(v) // STEPS, statistics.median(v)) for k, v in sorted(before.items())}}


if __name__ == "__main__":
    print(f"{'trace':<40} {'events':>7} {'busy ms':>8} {'gap p10':>8} {'median':>7} {'p90':>6} {'gaps ms':>8} "
          f"{'>50us':>6}")
    for path in sys.argv[1:]:
        r = kernel_gaps(path)
        print(f"{path:<40} {r['events_per_step']:7.0f} {r['busy_ms_per_step']:8.3f} {r['gap_us_p10']:8.3f} "
              f"{r['gap_us_median']:7.3f} {r['gap_us_p90']:6.3f} {r['inner_gap_ms_per_step']:8.3f} "
              f"{r['gaps_over_50us']:6d}")
        print("    median gap before (kernels a step, us): " + ", ".join(
            f"{k} ({n}) {m:.3f}" for k, (n, m) in r["median_gap_us_before"].items()))
