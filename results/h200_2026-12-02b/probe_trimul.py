"""Alg. 11/12 alone at the medium size, compiled, forward + backward: which layout
of the fused projection makes the slow backward kernels, and how slow.

    PYTHONPATH=. python results/h200_2026-12-02b/probe_trimul.py OUTDIR VARIANT ...

Each VARIANT runs in its own process (compiling at the same time as the others),
then alone on the GPU (a file lock) times 20 forward+backward calls of the
compiled module with CUDA events and profiles 5 more. Variants:
  cur    the current --fuse-projections code (W @ z^T, channels first, bias added after;
         from a6030d3 also TriangleProduct for line 4)
  unf    no fusion: four nn.Linear outputs, channel axis moved (views)
  addmm  as cur, the bias inside the product: addmm(bias[:, None], W, z^T)
  cl     fused channels last: F.linear(z, W, b) [*, N, N, 4c], then the channel axis moved
  einsum as cur, line 4 by einsum and autograd's backward (the fused path before a6030d3;
         at 64d604b, the first call, "cur" was this)
  cur_coord  cur with Inductor's coordinate-descent tuning of the Triton kernels
Env PROBE_DEBUG=NAME,... sets TORCH_COMPILE_DEBUG for those variants (output_code.py).
"""
import fcntl, glob, importlib.util, json, os, statistics, subprocess, sys, time
import torch
import torch.nn.functional as F
import tiny_openfold_v1 as t


def load_sweep():
    """../h200_2026-12-02/inductor_sweep.py as a module: its load_profile_kernels()
    and einsum_triangle_product (the fused path's line 4 before a6030d3)."""
    path = os.path.join(os.path.dirname(__file__), "..", "h200_2026-12-02", "inductor_sweep.py")
    spec = importlib.util.spec_from_file_location("inductor_sweep", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def addmm_variant(x, layers, fused):
    if not t.fusing(x, fused):
        return tuple(layer(x).movedim(-1, -3) for layer in layers)
    weight, bias = t.concatenated_weights(layers)
    out = torch.addmm(bias.to(torch.bfloat16)[:, None], weight.to(torch.bfloat16),
                      x.reshape(-1, x.shape[-1]).t().to(torch.bfloat16))
    out = out.unflatten(-1, x.shape[:-1]).movedim(0, -3)
    return out.split([layer.out_features for layer in layers], dim=-3)


def channels_last_variant(x, layers, fused):
    weight, bias = t.concatenated_weights(layers)
    return F.linear(x, weight, bias).movedim(-1, -3).split([layer.out_features for layer in layers], dim=-3)


def worker(outdir, name, n_total):
    base = name.split("_")[0]
    if name.endswith("_coord"):
        torch._inductor.config.coordinate_descent_tuning = True
    if base == "addmm":
        t.project_channels_first = addmm_variant
    elif base == "cl":
        t.project_channels_first = channels_last_variant
    elif base == "einsum":  # the fused path before a6030d3: line 4 by einsum and autograd
        t.triangle_product = load_sweep().einsum_triangle_product
    cfg = t.config_from_preset("medium")
    results = {}
    for cls in (t.TriangleMultiplicationOutgoing, t.TriangleMultiplicationIncoming):
        torch.manual_seed(0)
        module = cls(cfg).cuda()
        with torch.no_grad():
            for p in module.parameters():
                p.normal_(0, 0.05)
        module.fuse_projections = base != "unf"
        z = torch.randn(2, 128, 128, cfg.pair_dim, device="cuda", requires_grad=True)
        mask = torch.ones(2, 128, 128, device="cuda")
        grad = torch.randn(2, 128, 128, cfg.pair_dim, device="cuda")
        compiled = torch.compile(module, dynamic=False)

        def run():
            with torch.autocast("cuda", torch.bfloat16):
                out = compiled(z, mask)
            out.backward(grad)

        for _ in range(3):
            run()
        torch.cuda.synchronize()
        results[cls.__name__] = run
    open(os.path.join(outdir, f"ready_{name}"), "w").close()
    deadline = time.time() + 240
    while len(glob.glob(os.path.join(outdir, "ready_*"))) < n_total and time.time() < deadline:
        time.sleep(1)
    prof_mod = load_sweep().load_profile_kernels()
    out = {}
    with open(os.path.join(outdir, "gpu.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for cls_name, run in results.items():
            marks = [torch.cuda.Event(enable_timing=True) for _ in range(21)]
            for i in range(20):
                marks[i].record(); run()
            marks[-1].record(); torch.cuda.synchronize()
            ms = statistics.median(marks[i].elapsed_time(marks[i + 1]) for i in range(20))
            kernel_ms, kernels = prof_mod.kernel_table(prof_mod.profile_steps(lambda _b: run(), None, 5), 5,
                                                       f"{name} {cls_name}: {ms:.3f} ms fwd+bwd (median of 20)", top=10)
            out[cls_name] = {"ms_fwd_bwd": ms, "kernel_ms": kernel_ms, "kernels": kernels}
    with open(os.path.join(outdir, f"{name}.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        sys.exit(0)
    outdir, names = sys.argv[1], sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    debug = os.environ.get("PROBE_DEBUG", "").split(",")
    procs = []
    for name in names:
        env = dict(os.environ, TORCHINDUCTOR_COMPILE_THREADS="3")
        if name in debug:
            env.update(TORCH_COMPILE_DEBUG="1", TORCH_COMPILE_DEBUG_DIR=os.path.join(outdir, f"dbg_{name}"))
        log = open(os.path.join(outdir, f"{name}.log"), "w")
        procs.append(subprocess.Popen([sys.executable, __file__, "--worker", outdir, name, str(len(names))],
                                      stdout=log, stderr=subprocess.STDOUT, env=env))
    for p in procs:
        p.wait()
    for name in names:
        print(open(os.path.join(outdir, f"{name}.log")).read()[-6000:])
