"""Why do some processes run the same CUDA graph 0.5 ms a step slower than others?

    PYTHONPATH=. python results/h200_2026-12-03d/clock_probe.py PRESET [PATH]

Builds the benchmark step of PATH (default: the README's fastest path) with
--benchmark's own benchmark_step, warms it up, then times rounds of 100 steps with
CUDA events (tiny_openfold_v1.time_steps), in ONE process, under changing host
conditions:
  plain   back to back;
  slept   after 2 s of sleep (the sweep's processes wait idle before their turn);
  busy    while two other processes spin on the CPU (host idle states);
then profiles 5 steps for the sum of kernel times. Each round prints the GPU's SM and
memory clocks (nvidia-smi) read just after it. If rounds differ, the host or the GPU's
clock state decides the gap, not the process's code.
"""
import dataclasses, os, subprocess, sys, time

import numpy as np
import torch

import tiny_openfold_v1 as t

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "h200_2026-12-01"))
import profile_kernels as pk  # noqa: E402


def clocks() -> str:
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=clocks.sm,clocks.mem,power.draw,pstate",
                               "--format=csv,noheader"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"nvidia-smi failed: {exc}"


def main():
    preset = sys.argv[1]
    path = sys.argv[2] if len(sys.argv) > 2 else "flex+fused+triton+compile+graphs+flat"
    device = torch.device(os.environ.get("PROBE_DEVICE", "cuda"))  # cpu: a smoke test
    cfg = t.config_from_preset(preset)
    batch = t.PRESETS[preset]["batch_size"]
    tc = dataclasses.replace(t.TrainConfig(use_amp=True), batch_size=batch, **t.parse_benchmark_path(path))
    begin = time.time()
    step, batches = t.benchmark_step(cfg, tc, device)
    for i in range(4):
        step(batches[i % 2])
    t.synchronize(device)
    if os.environ.get("PROBE_READY"):  # tells a helper process (call3.sh) that setup is over
        open(os.environ["PROBE_READY"], "w").close()
    print(f"{preset} {path}: setup {time.time() - begin:.1f} s; compile threads "
          f"{os.environ.get('TORCHINDUCTOR_COMPILE_THREADS', 'default')}", flush=True)
    print(f"{'round':<8} {'median ms':>9} {'mean ms':>8} {'min ms':>7} {'max ms':>7}  clocks after (SM, memory, power, pstate)")
    spinners = []
    plan = ["plain"] * 3 + ["slept"] * 3 + ["busy"] * 3 + ["plain"] * 2
    rows = []
    for kind in plan:
        if kind == "slept":
            time.sleep(2)
        if kind == "busy" and not spinners:
            spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
            time.sleep(1)
        if kind != "busy" and spinners:
            for p in spinners:
                p.kill()
            spinners = []
        r = t.time_steps(step, batches, batch, device, 100, 2)
        # the spread: 20 more steps, each timed alone (synchronised before and after)
        per = []
        for i in range(20):
            per.append(t.time_steps(step, batches, batch, device, 1, 0)["ms_per_step"])
        c = clocks()
        rows.append((kind, r["ms_per_step"]))
        print(f"{kind:<8} {r['ms_per_step']:9.3f} {r['ms_per_step_mean']:8.3f} {min(per):7.3f} {max(per):7.3f}  {c}", flush=True)
    for p in spinners:
        p.kill()
    prof = None if device.type == "cpu" else pk.profile_steps(step, batches[0], 5)
    if prof is not None and os.environ.get("PROBE_TRACE"):  # a Chrome trace of the profiled steps
        prof.export_chrome_trace(os.environ["PROBE_TRACE"])
    kernel_ms, kernels = (0.0, 0) if prof is None else pk.kernel_table(prof, 5, f"{preset} {path}", top=5)
    for kind in ("plain", "slept", "busy"):
        print(f"{kind}: median of round medians {np.median([ms for k, ms in rows if k == kind]):.3f} ms")
    print(f"kernel time {kernel_ms:.3f} ms a step, {kernels:.0f} kernels")


if __name__ == "__main__":
    main()
