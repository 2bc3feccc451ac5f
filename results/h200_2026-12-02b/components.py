"""Where the fast path's time goes, component by component, and how far each is
from its roofline: the embedder, the nine Alg. modules of block 0 and the head,
each compiled alone on the inputs it sees in the model, forward + backward.

    PYTHONPATH=. python results/h200_2026-12-02b/components.py OUTDIR PRESET PATH

PATH is a --benchmark path without compile/graphs (e.g. sdpa+fused): each
component is configured that way and torch.compile'd on its own. One process per
component compiles at the same time as the others, then each is timed alone on
the GPU (a file lock): the median of 20 forward+backward calls (CUDA events) and
the GPU kernel time of 5 more (torch.profiler). bf16 autocast.

FLOPs are the analytic ones (tiny_openfold_v1.analytic_flops, one block) x 3 for
forward + backward (2 for the embedder, whose input is data). The roofline uses
the forward's minimum bytes (inputs and weights read once, outputs written once,
at 2 bytes per float: flops_analysis.minimum_bytes), so the intensity is the
forward's "AI min"; backward reads and writes about twice what forward does and
does twice its FLOPs, so the training intensity is about the same. The peak and
bandwidth are measured here (an 8192^2 bf16 matmul, a 1 GiB copy).
PROBE_DEVICE=cpu runs it on the CPU as a smoke test (no profiler, clock times).
"""
import fcntl, glob, json, os, statistics, subprocess, sys, time
import torch
import flops_analysis as fa
import tiny_openfold_v1 as t
from probe_trimul import load_sweep  # this script's folder is on sys.path

DEVICE = torch.device(os.environ.get("PROBE_DEVICE", "cuda"))


def build(preset, path):
    cfg = t.config_from_preset(preset)
    fields = t.parse_benchmark_path(path)
    torch.manual_seed(0)
    model = t.TinyOpenFold(cfg).to(DEVICE)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    model.configure(attention=fields["attention"], fuse_projections=fields["fuse_projections"],
                    triton_kernels=fields["triton_kernels"])
    batch = fa.synthetic_batch(cfg, t.PRESETS[preset]["batch_size"], DEVICE)
    components = fa.evoformer_components(model)
    inputs = fa.capture_component_inputs(model, components, batch, torch.bfloat16, DEVICE)
    return cfg, batch, components, inputs


def timed(fn, reps):
    if DEVICE.type == "cpu":
        times = []
        for _ in range(reps):
            t0 = time.perf_counter(); fn(); times.append(1e3 * (time.perf_counter() - t0))
        return statistics.median(times)
    marks = [torch.cuda.Event(enable_timing=True) for _ in range(reps + 1)]
    for i in range(reps):
        marks[i].record(); fn()
    marks[-1].record(); torch.cuda.synchronize()
    return statistics.median(marks[i].elapsed_time(marks[i + 1]) for i in range(reps))


def worker(outdir, preset, path, index, n_total):
    model_cfg, batch, components, captured = build(preset, path)
    module = components[index]
    name = module.profile_name
    module.train()
    args = []
    for x in captured[name]:
        x = x.detach().clone()
        if x.is_floating_point() and x.dim() >= 4 and x.shape[-1] in (model_cfg.msa_dim, model_cfg.pair_dim):
            x.requires_grad_()  # m or z: activations; masks and relpos features are data
        args.append(x)
    compiled = torch.compile(module, dynamic=False)
    with torch.autocast(DEVICE.type, torch.bfloat16):
        outputs = compiled(*args)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    grads = [torch.randn_like(o) for o in outputs]
    params = [p for p in module.parameters()]

    def run():
        for p in params:
            p.grad = None
        with torch.autocast(DEVICE.type, torch.bfloat16):
            out = compiled(*args)
        torch.autograd.backward(out if isinstance(out, tuple) else (out,), grads)

    for _ in range(3):
        run()
    t.synchronize(DEVICE)
    open(os.path.join(outdir, f"ready_{index}"), "w").close()
    deadline = time.time() + 300
    while len(glob.glob(os.path.join(outdir, "ready_*"))) < n_total and time.time() < deadline:
        time.sleep(1)
    with open(os.path.join(outdir, "gpu.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ms = timed(run, 20)
        kernel_ms = kernels = None
        if DEVICE.type == "cuda":  # the kernel sum of profile_kernels.py (its table goes to this worker's log)
            pk = load_sweep().load_profile_kernels()
            kernel_ms, kernels = pk.kernel_table(pk.profile_steps(lambda _b: run(), None, 5), 5, name, top=5)
    B, S, N = batch["msa_tokens"].shape
    fwd = t.analytic_flops(model_cfg, B, N, S)[name]
    if name not in ("Alg3_InputEmbedder", "DistanceHead"):
        fwd /= model_cfg.n_evoformer_blocks
    train_flops = fwd * (2 if name == "Alg3_InputEmbedder" else 3)
    with torch.no_grad(), torch.autocast(DEVICE.type, torch.bfloat16):
        out = module(*args)
    min_bytes = fa.minimum_bytes(module, tuple(args), out, 2)
    row = dict(component=name, ms_fwd_bwd=ms, kernel_ms=kernel_ms, kernels=kernels, train_gflop=train_flops / 1e9,
               forward_min_mb=min_bytes / 1e6, intensity=fwd / min_bytes)
    json.dump(row, open(os.path.join(outdir, f"{index:02d}.json"), "w"), indent=1)


def drive(outdir, preset, path):
    os.makedirs(outdir, exist_ok=True)
    n = len(fa.evoformer_components(t.TinyOpenFold(t.config_from_preset(preset))))
    env = dict(os.environ, TORCHINDUCTOR_COMPILE_THREADS="2")
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", outdir, preset, path, str(i), str(n)],
                              stdout=open(os.path.join(outdir, f"{i:02d}.log"), "w"), stderr=subprocess.STDOUT, env=env)
             for i in range(n)]
    for p in procs:
        p.wait()
    if DEVICE.type == "cuda":
        peak, peak_src = fa.measure_matmul_tflops(DEVICE, torch.bfloat16)
        bw, bw_src = fa.measure_bandwidth_tbs(DEVICE)
    else:
        peak, peak_src, bw, bw_src = 1.0, "cpu smoke test", 0.02, "cpu smoke test"
    rows = []
    for i in range(n):
        try:
            rows.append(json.load(open(os.path.join(outdir, f"{i:02d}.json"))))
        except OSError:
            print(f"component {i} failed; see {i:02d}.log")
    print(f"{preset} {path}, each component compiled alone, forward + backward, bf16 autocast on {t.device_name(DEVICE)}, "
          f"torch {torch.__version__}")
    print(f"peak {peak:.1f} TFLOP/s ({peak_src}), bandwidth {bw:.2f} TB/s ({bw_src}), ridge {peak / bw:.0f} FLOP/B")
    print(f"{'component':<38} {'ms f+b':>7} {'kern ms':>8} {'kernels':>7} {'share':>6} {'GFLOP':>8} {'TFLOP/s':>8} "
          f"{'AI min':>7} {'attain.':>8} {'% att.':>7}")
    total = sum(r["kernel_ms"] or r["ms_fwd_bwd"] for r in rows)
    for r in rows:
        ms = r["kernel_ms"] or r["ms_fwd_bwd"]
        achieved = r["train_gflop"] / ms  # GFLOP / ms = TFLOP/s
        attainable = min(peak, r["intensity"] * bw)
        r.update(achieved_tflops=achieved, attainable_tflops=attainable, peak_tflops=peak, bandwidth_tbs=bw)
        print(f"{r['component']:<38} {r['ms_fwd_bwd']:>7.3f} {ms:>8.3f} {r['kernels'] or 0:>7.0f} {100 * ms / total:>5.1f}% "
              f"{r['train_gflop']:>8.2f} {achieved:>8.1f} {r['intensity']:>7.0f} {attainable:>8.1f} {100 * achieved / attainable:>6.1f}%")
    print(f"sum of kernel times: {total:.3f} ms (block 0 plus embedder and head)")
    json.dump(dict(preset=preset, path=path, rows=rows, peak_source=peak_src, bandwidth_source=bw_src,
                   torch=torch.__version__, gpu=t.device_name(DEVICE)), open(os.path.join(outdir, "components.json"), "w"), indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        drive(sys.argv[1], sys.argv[2], sys.argv[3])
