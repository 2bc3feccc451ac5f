"""Why --benchmark times the fastest small path about 9 % slower than inductor_sweep.py.

    PYTHONPATH=. python3 results/h200_2026-12-03/bench_gap.py [--reference-first] [CLI FLAGS...]

Does what run_benchmark does for one preset (small) and one path (the fastest), with the
TrainConfig that the CLI builds from the given flags (configs_from_args): optionally the
reference path first, then torch._dynamo.reset(), gc, empty_cache, benchmark_step,
3 warm-up steps and 20 timed ones (time_steps, CUDA events). Then it profiles 5 more
steps (profile_kernels.kernel_table), so that a slower step can be told apart as
slower kernels or time between them. Call 2 added: four more 20-step windows, the host's
time to enqueue a step, and one window after that. Call 3: a step alone (the queue
empty), its GPU time and the host's time to enqueue it. Prints one JSON line.
"""
import dataclasses, gc, json, sys, time

import torch

import tiny_openfold_v1 as t

sys.path.insert(0, "results/h200_2026-12-02")
from inductor_sweep import load_profile_kernels  # noqa: E402

PATH = "flex+fused+triton+compile+graphs+flat"

if __name__ == "__main__":
    argv = sys.argv[1:]
    reference_first = "--reference-first" in argv
    argv = [a for a in argv if a != "--reference-first"]
    args = t.build_parser().parse_args(["--benchmark", "--use-amp", "--benchmark-presets", "small"] + argv)
    cfg, tc = t.configs_from_args(args)
    cfg = t.config_from_preset("small")
    device = torch.device("cuda")
    pk = load_profile_kernels()
    out = {"reference_first": reference_first, "argv": argv}
    if reference_first:
        ref_tc = dataclasses.replace(tc, batch_size=4, **t.parse_benchmark_path("reference"))
        out["reference"] = t.benchmark_path(cfg, ref_tc, device, 20, 3)
    torch._dynamo.reset()
    gc.collect()
    torch.cuda.empty_cache()
    run_tc = dataclasses.replace(tc, batch_size=4, **t.parse_benchmark_path(PATH))
    begin = time.time()
    step, batches = t.benchmark_step(cfg, run_tc, device)
    out["fast"] = t.time_steps(step, batches, 4, device, 20, 3)
    # call 2: is the first window slower than later ones (clocks still rising after the
    # compile's idle GPU), and how long does the host take to enqueue a step?
    out["windows_ms"] = [round(t.time_steps(step, batches, 4, device, 20, 0)["ms_per_step"], 3) for _ in range(4)]
    t.synchronize(device)
    tick = time.perf_counter()
    for i in range(50):
        step(batches[i % 2])
    out["host_enqueue_ms_per_step"] = round(1e3 * (time.perf_counter() - tick) / 50, 3)
    t.synchronize(device)
    out["after_enqueue_ms"] = round(t.time_steps(step, batches, 4, device, 20, 0)["ms_per_step"], 3)
    out["setup_and_timing_s"] = round(time.time() - begin, 1)
    # call 3: one step at a time, the queue empty before each: its GPU time (events) and
    # the host's time to enqueue it
    lone_gpu, lone_host = [], []
    for i in range(10):
        t.synchronize(device)
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        tick = time.perf_counter()
        a.record()
        step(batches[i % 2])
        b.record()
        lone_host.append(1e3 * (time.perf_counter() - tick))
        t.synchronize(device)
        lone_gpu.append(a.elapsed_time(b))
    out["lone_step_gpu_ms"] = round(sorted(lone_gpu)[5], 3)
    out["lone_step_host_ms"] = round(sorted(lone_host)[5], 3)
    kernel_ms, kernels = pk.kernel_table(pk.profile_steps(step, batches[0], 5), 5, f"small {PATH}", top=8)
    out.update(kernel_ms_per_step=kernel_ms, kernels_per_step=kernels)
    print(json.dumps(out))
