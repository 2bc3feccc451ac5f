"""Why do some processes run the same CUDA graph 0.5 ms a step slower than others?

    PYTHONPATH=. python results/h200_2026-12-03d/clock_probe.py PRESET [PATH]

Builds the benchmark step of PATH (default: the README's fastest path) with
--benchmark's own benchmark_step, warms it up, then times rounds of 100 steps with
CUDA events (tiny_openfold_v1.time_steps), in ONE process, under changing host
conditions:
  plain   back to back;
  slept   after 2 s of sleep (the sweep's processes wait idle before their turn);
  busy    while two other processes spin on the CPU (host idle states);
then profiles 5 steps for the sum of kernel times. PROBE_HELPER=compile, capture or
upload starts another process multiplying matrices on the GPU for that part of the
setup only (compile: until CudaGraphStep begins its capture; capture: from then until
the first replays are done; upload: the first replays only); selfbusy queues a second
of this process's own products on a side stream during the first replays instead;
recapture captures the step a second time and times that graph. ping runs, after the
capture and before the first replays, a process that only creates its CUDA context, runs
one small product and exits; pinglate does that after the first replays, just before timing.
PROBE_ROUNDS=n times n back-to-back rounds only. Each round prints the GPU's SM and
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


HELPER = """
import sys, torch
x = torch.randn(2048, 2048, device="cuda")
x @ x; torch.cuda.synchronize(); print("busy", flush=True)
while True:
    for _ in range(50):
        x @ x
    torch.cuda.synchronize()
"""


def start_helper() -> subprocess.Popen:
    """Another process multiplying matrices on the GPU until stopped; returns once it works."""
    p = subprocess.Popen([sys.executable, "-c", HELPER], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    print(f"helper started at {time.strftime('%H:%M:%S')}", flush=True)
    return p


PING = "import torch; x = torch.ones(8, 8, device='cuda'); (x @ x).sum().item()"


def ping() -> None:
    """Another process that creates a CUDA context, runs one product and exits."""
    subprocess.run([sys.executable, "-c", PING], check=True)
    print(f"ping done at {time.strftime('%H:%M:%S')}", flush=True)


def stop_helper(helper: list) -> None:
    for p in helper:
        p.kill()
        p.wait()
        print(f"helper stopped at {time.strftime('%H:%M:%S')}", flush=True)
    helper.clear()


def main():
    preset = sys.argv[1]
    path = sys.argv[2] if len(sys.argv) > 2 else "flex+fused+triton+compile+graphs+flat"
    device = torch.device(os.environ.get("PROBE_DEVICE", "cuda"))  # cpu: a smoke test
    cfg = t.config_from_preset(preset)
    batch = t.PRESETS[preset]["batch_size"]
    tc = dataclasses.replace(t.TrainConfig(use_amp=True), batch_size=batch, **t.parse_benchmark_path(path))
    phase = os.environ.get("PROBE_HELPER", "")  # which part of the setup has other GPU work beside it
    if phase not in ("", "compile", "capture", "upload", "selfbusy", "recapture", "ping", "pinglate"):
        sys.exit("PROBE_HELPER: expected compile, capture, upload, selfbusy, recapture, ping or pinglate, "
                 f"got {phase!r}")
    helper = []
    if phase in ("compile", "capture"):
        real_graph = torch.cuda.graph

        def graph(*args, **kwargs):  # CudaGraphStep's capture: compilation is over
            if phase == "compile":
                stop_helper(helper)
            else:
                helper.append(start_helper())
            return real_graph(*args, **kwargs)
        torch.cuda.graph = graph
    begin = time.time()
    if phase == "compile":
        helper.append(start_helper())
    step, batches = t.benchmark_step(cfg, tc, device)
    if phase == "recapture":  # a second capture of the same step, the first graph kept alive
        first = step
        step = t.CudaGraphStep(first.objective, first.model, first.optimizer, first.grad_clip, batches[0])
    if phase == "ping":  # a context of another process, created and gone before the first replays
        ping()
    if phase == "upload":  # the first replays upload the graph to the GPU
        helper.append(start_helper())
    if phase == "selfbusy":  # the same, with this process's own work on a side stream instead
        side, x = torch.cuda.Stream(), torch.randn(2048, 2048, device=device)
        with torch.cuda.stream(side):
            for _ in range(3000):  # about a second of fp32 products
                x @ x
    for i in range(4):
        step(batches[i % 2])
    t.synchronize(device)
    stop_helper(helper)
    if phase == "pinglate":
        ping()
    if os.environ.get("PROBE_READY"):  # tells a helper process (call3.sh) that setup is over
        open(os.environ["PROBE_READY"], "w").close()
    print(f"{preset} {path}: setup {time.time() - begin:.1f} s; compile threads "
          f"{os.environ.get('TORCHINDUCTOR_COMPILE_THREADS', 'default')}", flush=True)
    print(f"{'round':<8} {'median ms':>9} {'mean ms':>8} {'min ms':>7} {'max ms':>7}  "
          "clocks after (SM, memory, power, pstate)")
    spinners = []
    plan = ["plain"] * 3 + ["slept"] * 3 + ["busy"] * 3 + ["plain"] * 2
    if os.environ.get("PROBE_ROUNDS"):  # only this many back-to-back rounds
        plan = ["plain"] * int(os.environ["PROBE_ROUNDS"])
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
        print(f"{kind:<8} {r['ms_per_step']:9.3f} {r['ms_per_step_mean']:8.3f} {min(per):7.3f} {max(per):7.3f}  {c}",
              flush=True)
    for p in spinners:
        p.kill()
    prof = None if device.type == "cpu" else pk.profile_steps(step, batches[0], 5)
    if prof is not None and os.environ.get("PROBE_TRACE"):  # a Chrome trace of the profiled steps
        prof.export_chrome_trace(os.environ["PROBE_TRACE"])
    kernel_ms, kernels = (0.0, 0) if prof is None else pk.kernel_table(prof, 5, f"{preset} {path}", top=5)
    for kind in sorted(set(plan)):
        print(f"{kind}: median of round medians {np.median([ms for k, ms in rows if k == kind]):.3f} ms")
    print(f"kernel time {kernel_ms:.3f} ms a step, {kernels:.0f} kernels")


if __name__ == "__main__":
    main()
