"""Many benchmark paths in one device call: compile in parallel, time one at a time.

    PYTHONPATH=. python results/h200_2026-12-02/inductor_sweep.py OUTDIR DEADLINE_S NAME=PRESET:PATH[:OPTS] ...

Each NAME runs in its own process: it builds the step with --benchmark's own
benchmark_step, runs the warm-up steps (compilation, autotuning and graph capture
happen there, all processes at once, since compiling is CPU work), then waits
until every process is ready (or DEADLINE_S seconds have passed), takes an
exclusive lock, and alone on the GPU times 20 steps with CUDA events
(tiny_openfold_v1.time_steps) and profiles 5 more (kernel count and kernel time
per step, profile_kernels.kernel_table). OPTS is a "+"-joined list of Inductor
settings: mix32, mix64, mix128 (triton.mix_order_reduction_split_size), nomix (no mix-order
reductions), pdl (triton.enable_pdl), combo (combo_kernels), autotune (max_autotune: Triton GEMM templates
with fused epilogues, benchmarked against cuBLAS), coord (coordinate-descent
tuning of Triton kernel configs), aggr (aggressive_fusion), nosplit (split_reductions off),
bigfuse (max_fusion_size 256), multikernel (triton.multi_kernel: each reduction as a
persistent and a looped kernel, the faster chosen at run time); einsum is not an Inductor setting but the fused
triangle multiplication as it was before a6030d3 (einsum, autograd's backward), bmm
the fused a/b projections of Alg. 11/12 as one product per protein (batched_project_channels_first), and
rowbias FlexAttention with its bias materialised per row (results/h200_2026-12-02g/probe_attention.py),
stages2 and alg8sdpa the flex path as before results/h200_2026-12-02g (FLEX_KERNEL_OPTIONS for
every FlexAttention call; Alg. 8 through SDPA),
blaslt cuBLASLt preferred for every matrix product, nobf16red no bf16 reductions inside
bf16 GEMMs (torch.backends.cuda.matmul), pbreduce and pbheads the pair-bias projections
of Alg. 7, 13 and 14 (width 4) as sums over c_z inside compile, not matrix products
(PairBiasAsSums, PairBiasAsHeadSums),
nopad the fused projections without their padding to a multiple of 8 outputs (unpadded_project),
noaffine the pair-side LayerNorms before products without weight and bias (NO_AFFINE; not the same function),
mattri and matmsa the flex path with the triangle attentions (Alg. 13, 14) or the MSA attentions
(Alg. 7, 8) written out as the reference path's logits (math_attention), noopm --triton-kernels
without its outer-product-mean kernels (the einsum path of Alg. 10, as before the thirteenth session), notrans
--triton-kernels without its transition kernels (Alg. 9/15 as before the twenty-second session), rowpartials
the backward kernels' per-program sums stored programs first (PARTIALS_CHANNELS_FIRST off, as before the
twenty-third session), lnlin --triton-kernels with the LayerNorm + projection operator
(LN_LINEAR_KERNELS; lnlin64 only on inputs of at most 64 channels; nolnlin without it, the
default before the twenty-fourth session), and
fwd64, fwdm64, fwdw8, fwdtma FlexAttention's forward options for short rows (FLEX_FORWARD_TILES),
ws16k 16 KiB cuBLAS workspaces (no room for split-K's partial sums), copiesN FlexAttention's
shared biases read as N copies (FLEX_BIAS_COPIES of flex_bias_copies.patch; copies1: the bias itself), and
wgsnok --weight-grad-stream without the second stream in the transition and ln_linear operators,
wgsrowsN the second stream only for products of at most N input rows (wgsrows8192: the MSA side at
medium), wgsprio the CUDA graph captured on a stream of priority -1 (torch >= 2.10 instantiates graphs
with their nodes' priorities, so the main stream's kernels are dispatched before the second
stream's, which keeps the lowest priority, 0; the script itself does so under --weight-grad-stream
since 0d451df, so on today's code the option changes only rows without the flag, where it has
no second stream to yield to), and
fusedadam the fused AdamW kernel where --compile compiled the optimizer step (a change
measured in results/h200_2026-12-02b call 4 and reverted; a no-op on other code). Results: OUTDIR/NAME.json and OUTDIR/NAME.log.
SWEEP_TOP (default 12) is how many of the top kernels each log lists; SWEEP_TRACE=1 also writes
each process's profiled steps as OUTDIR/NAME.trace.json (Chrome trace).
Before timing, each process runs the script's --peer-ping helper (a second process
opens a CUDA context on the card and exits), so every graph replays in the same mode
(SWEEP_PEER_PING=0 turns this off, as every sweep before the twenty-eighth session ran).
Without it the process whose graph was captured last, after the others had opened their
contexts, replayed with about 0.4 us between kernels where the others had about 0.1 us:
0.8-0.9 ms a medium step (results/h100_2026-12-07b).
A process not finished SWEEP_GRACE_S (default 120) seconds after the deadline is
killed and its row printed as failed. The device returns only a few files per
call, so tar OUTDIR into one file there.
"""
import dataclasses, fcntl, functools, glob, importlib.util, json, os, subprocess, sys, time

import torch

import tiny_openfold_v1 as t

STEPS, WARMUP, PROFILED = int(os.environ.get("SWEEP_STEPS", 20)), 4, 5
PEER_PING = os.environ.get("SWEEP_PEER_PING", "1") != "0"
OPTIONS = {"combo": {"combo_kernels": True}, "autotune": {"max_autotune": True, "max_autotune_gemm": True},
           "coord": {"coordinate_descent_tuning": True},
           # LayerNorm backward as one "mix-order" kernel writes partial weight/bias gradients
           # of [rows / split, C] and finishes them with an aten sum(dim=0); split 16 by default
           "mix32": {"triton.mix_order_reduction_split_size": 32},
           "mix64": {"triton.mix_order_reduction_split_size": 64},
           "mix128": {"triton.mix_order_reduction_split_size": 128},
           "nomix": {"triton.mix_order_reduction": False},
           "pdl": {"triton.enable_pdl": True},  # programmatic dependent launch (Hopper)
           # fewer launches (results/h200_2026-12-03: one process idles 0.34 us between kernels):
           "aggr": {"aggressive_fusion": True},  # fuse nodes that share no buffer, too
           "nosplit": {"split_reductions": False},  # a large reduction as one kernel, not two
           "bigfuse": {"max_fusion_size": 256},  # nodes per fused kernel, 64 by default
           # each reduction compiled persistent and looped, the faster picked by timing both
           "multikernel": {"triton.multi_kernel": 1}}


def load_module(relative_path, name):
    """The script at results/RELATIVE_PATH as module NAME (registered in sys.modules,
    where Dynamo looks traced functions' modules up by name)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(__file__), "..", relative_path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_profile_kernels():
    """The first day's profile_kernels.py (kernel_table, profile_steps), as a module."""
    return load_module(os.path.join("h200_2026-12-01", "profile_kernels.py"), "profile_kernels")


def unpadded_project(x, layers, fused):
    """OPTS "nopad": project() as before results/h200_2026-12-03d's padding (fused
    widths as they come, e.g. the pair biases' 4)."""
    if not t.fusing(x, fused):
        return tuple(layer(x) for layer in layers)
    weight, bias = t.concatenated_weights(layers)
    return t.F.linear(x, weight, bias).split([layer.out_features for layer in layers], dim=-1)


def einsum_triangle_product(a, b, outgoing):
    """OPTS "einsum": TriangleProduct's function, through einsum and autograd's own backward."""
    return torch.einsum("...cik,...cjk->...cij" if outgoing else "...cki,...ckj->...cij", a, b)


def batched_project_channels_first(x, layers, fused):
    """OPTS "bmm": project_channels_first with one product per protein, W @ x_b^T by bmm
    over the expanded weight, so its output is [*, c_out, I, J] contiguous (not a
    [c_out, *, I, J] buffer seen through movedim); the weight gradient is then a bmm and
    a sum over the batch."""
    if not t.fusing(x, fused):
        return PROJECT_CHANNELS_FIRST(x, layers, fused)
    weight, bias = t.concatenated_weights(layers)
    rows = x.reshape(-1, x.shape[-3] * x.shape[-2], x.shape[-1])  # [L, I J, c_in]
    if torch.is_autocast_enabled(x.device.type):  # cast before expanding: one copy of the weight, not L
        weight = weight.to(torch.get_autocast_dtype(x.device.type))
    out = torch.bmm(weight.expand(rows.shape[0], -1, -1), rows.transpose(1, 2))  # [L, c_out, I J]
    out = out.view(*x.shape[:-3], -1, x.shape[-3], x.shape[-2])
    if bias is not None:
        out = out + bias.to(out.dtype)[:, None, None]
    return out.split([layer.out_features for layer in layers], dim=-3)


PROJECT_CHANNELS_FIRST = t.project_channels_first


class PairBiasAsSums(torch.nn.Linear):
    """OPTS "pbreduce": a pair-bias projection (Alg. 7, 13, 14: c_z -> H, no bias)
    that, inside torch.compile, is computed as sum_c z[..., c] W[h, c] instead of a
    matrix product of width H (the form of ed64e2b, measured in results/h200_2026-12-03b
    call 5: Inductor made one reduction per (row, head), 33 us where the LayerNorm took 11).
    Outside compile, the product."""

    def forward(self, z):
        if not torch.compiler.is_compiling():
            return super().forward(z)
        return (z.unsqueeze(-2) * self.weight).sum(-1)  # [*, H, c_z] -> [*, H]


class PairBiasAsHeadSums(PairBiasAsSums):
    """OPTS "pbheads": as "pbreduce", but H separate sums over c_z, one per head, so
    each is a reduction over the row that the LayerNorm before it also reduces, and
    Inductor can compute all of them in the LayerNorm's kernel from one read of the row."""

    def forward(self, z):
        if not torch.compiler.is_compiling():
            return super().forward(z)  # the product
        return torch.stack([(z * w).sum(-1) for w in self.weight.unbind(0)], dim=-1)  # [*, H]


LINEAR = t.linear


def pair_bias_linear(cls):
    """t.linear, with layers of at most 8 outputs and no bias (the pair-bias
    projections; every other bias-free layer is wider) turned into cls."""
    def make(c_in, c_out, bias=True, init="default"):
        layer = LINEAR(c_in, c_out, bias, init)
        if not bias and c_out <= 8:
            layer.__class__ = cls
        return layer
    return make


def flex_or_sdpa(flex, q, k, v, biases, key_mask):
    """OPTS "alg8sdpa": GatedAttention._flex for the biased attentions, SDPA (_fused) for Alg. 8."""
    return flex(q, k, v, biases, key_mask) if biases else t.GatedAttention._fused(q, k, v, biases, key_mask)


def math_attention(q, k, v, biases, key_mask):
    """The reference path's attention (GatedAttention._attend's last branch): the
    [*, R, H, Q, K] logits written out, softmax in float32, for Inductor to fuse."""
    logits = t.at_least_fp32(torch.einsum("...hqc,...hkc->...hqk", q / q.shape[-1] ** 0.5, k))
    for bias in biases:
        logits = logits + t.at_least_fp32(bias)
    logits = logits + t.mask_to_bias(key_mask.to(logits.dtype))[..., None, None, :]
    return torch.einsum("...hqk,...hkc->...hqc", torch.softmax(logits, dim=-1).to(v.dtype), v)


def flex_or_math(flex, triangle, q, k, v, biases, key_mask):
    """OPTS "mattri" (triangle=True) / "matmsa" (False): math_attention for the triangle
    attentions or for the MSA ones, FlexAttention for the rest. q [*, R, H, Q, c]: a
    triangle attention has R = Q = N rows (the MSA row attention has R = S, the column
    attention no bias), which holds at the presets (S != N)."""
    is_triangle = bool(biases) and q.shape[-4] == q.shape[-2]
    return (math_attention if is_triangle == triangle else flex)(q, k, v, biases, key_mask)


# Forward options of FlexAttention for short rows. torch 2.11's default for bf16 at head
# width 64 on sm90 is 128 x 128 tiles, 4 warps (the script sets 2 stages), one program per
# (row, head) at N = 128: a 128 x 128 float32 score tile in 128 threads' registers.
FLEX_FORWARD_TILES = {
    "fwd64": {"fwd_BLOCK_M": 64, "fwd_BLOCK_N": 64},
    "fwdm64": {"fwd_BLOCK_M": 64},
    "fwdw8": {"fwd_num_warps": 8},
    "fwdtma": {"fwd_USE_TMA": True},
}


# OPTS "noaffine": the pair-side LayerNorms that feed only matrix products (Alg. 7's
# LayerNorm(z), Alg. 11/12's two, Alg. 13/14's, and Alg. 15's where its width is above
# TRANSITION_KERNEL_WIDTH, so that --triton-kernels' transition kernel, which reads the
# LayerNorm's weight, does not run it) without their weight and bias: the LayerNorms that
# --fold-layer-norms folds on the fast paths. Not the same function: the floor of a fold
# that costs nothing itself (results/h100_2026-12-08).
NO_AFFINE = {"MSARowAttentionWithPairBias": ("layer_norm_z",),
             "TriangleMultiplicationOutgoing": ("layer_norm_in", "layer_norm_out"),
             "TriangleAttentionStartingNode": ("layer_norm",),
             "PairTransition": ("layer_norm",)}


def without_affine(cls, names):
    """cls (and its subclasses that keep its __init__) with the LayerNorms names made
    without weight and bias (a transition's only above TRANSITION_KERNEL_WIDTH)."""
    init = cls.__init__

    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        for n in names:
            norm = getattr(self, n)
            if isinstance(self, t.Transition) and norm.normalized_shape[0] <= t.TRANSITION_KERNEL_WIDTH:
                continue
            setattr(self, n, torch.nn.LayerNorm(norm.normalized_shape, eps=norm.eps, elementwise_affine=False))
    cls.__init__ = patched


def worker(outdir, deadline, n_total, name, spec):
    preset, path, *opts = spec.split(":")
    opts = [o for o in (opts[0].split("+") if opts else []) if o]
    for o in opts:
        if o == "fusedadam":  # the fused AdamW kernel, on code that compiled --compile's optimizer step
            t.COMPILE_OPTIMIZER = False
            continue
        if o == "bmm":
            t.project_channels_first = batched_project_channels_first
            continue
        if o == "rowbias":  # results/h200_2026-12-02g/probe_attention.py's flex_rows
            probe = load_module(os.path.join("h200_2026-12-02g", "probe_attention.py"), "probe_attention")
            t.GatedAttention._flex = staticmethod(probe.flex_rows)
            continue
        if o == "stages2":  # FlexAttention's options as before 2026-12-02g: FLEX_KERNEL_OPTIONS for every call
            t.flex_kernel_options = lambda q, n_keys: t.FLEX_KERNEL_OPTIONS if q.is_cuda else None
            continue
        if o == "ws16k":  # 16 KiB cuBLAS and cuBLASLt workspaces (default 32 MiB on sm90): too small for
            # split-K's partial sums, so no splitKreduce kernels (read when this process makes its handles)
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":16:1"
            os.environ["CUBLASLT_WORKSPACE_SIZE"] = "16"
            continue
        if o in FLEX_FORWARD_TILES:  # FlexAttention's forward tiles for short rows (K <= 128 keys)
            t.FLEX_SHORT_ROW_OPTIONS.update(FLEX_FORWARD_TILES[o])
            continue
        if o == "alg8sdpa":  # the flex path's Alg. 8 (no bias) through SDPA, as before 2026-12-02g
            t.GatedAttention._flex = staticmethod(functools.partial(flex_or_sdpa, t.GatedAttention._flex))
            continue
        if o in ("mattri", "matmsa"):
            t.GatedAttention._flex = staticmethod(functools.partial(flex_or_math, t.GatedAttention._flex,
                                                                    o == "mattri"))
            continue
        if o.startswith("copies"):  # copiesN: FlexAttention reads N copies of each shared bias (1: none)
            if not hasattr(t, "FLEX_BIAS_COPIES"):
                sys.exit(f"{name}: option {o} needs results/h200_2026-12-04/flex_bias_copies.patch")
            t.FLEX_BIAS_COPIES = int(o[len("copies"):])
            continue
        if o == "noopm":  # configure() may set the flag; this property ignores it
            t.OuterProductMean.triton_kernels = property(lambda self: False, lambda self, value: None)
            continue
        if o == "notrans":  # --triton-kernels without its transition kernels (Alg. 9/15 compiled from PyTorch code)
            t.Transition.triton_kernels = property(lambda self: False, lambda self, value: None)
            continue
        if o in ("lnlin", "lnlin64"):  # --triton-kernels with its LayerNorm + projection operator (LN_LINEAR_KERNELS)
            t.LN_LINEAR_KERNELS = True
            if o == "lnlin64":  # only where the input has at most 64 channels (LN_LINEAR_KERNEL_WIDTH)
                t.LN_LINEAR_KERNEL_WIDTH = 64
            continue
        if o == "wgsnok":  # --weight-grad-stream for the nn.Linear products only, not inside the kernels' operators
            t.weight_grad_product = lambda g, x, side: g @ x
            continue
        if o.startswith("wgsrows"):  # wgsrowsN: the second stream only for products of at most N input rows
            limit, on_side = int(o[len("wgsrows"):]), t.weight_grads_on_side
            t.weight_grads_on_side = lambda x, enabled: on_side(x, enabled) and x.numel() // x.shape[-1] <= limit
            continue
        if o == "wgsprio":  # the graph captured on a high-priority stream, the weight gradients' stream low
            # (since 0d451df CudaGraphStep does this itself under --weight-grad-stream; its stream is kept)
            graph = torch.cuda.graph
            torch.cuda.graph = lambda g, stream=None, **kw: graph(g, stream=stream or torch.cuda.Stream(priority=-1),
                                                                  **kw)
            continue
        if o == "noaffine":
            for cls_name, names in NO_AFFINE.items():
                without_affine(getattr(t, cls_name), names)
            continue
        if o == "nolnlin":  # --triton-kernels without it (its default since the twenty-fourth session)
            t.LN_LINEAR_KERNELS = False
            continue
        if o == "rowpartials":  # --triton-kernels' per-program sums programs first, as before the 23rd session
            import tiny_openfold_kernels
            tiny_openfold_kernels.PARTIALS_CHANNELS_FIRST = False
            continue
        if o == "blaslt":  # cuBLASLt for every matrix product (aten's default picks cuBLAS for most)
            torch.backends.cuda.preferred_blas_library("cublaslt")
            continue
        if o == "nobf16red":  # no reduced-precision (bf16) reductions inside bf16 GEMMs, e.g. split-K's
            torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
            continue
        if o in ("pbreduce", "pbheads"):  # the pair-bias projections as sums under compile (any path)
            t.linear = pair_bias_linear(PairBiasAsSums if o == "pbreduce" else PairBiasAsHeadSums)
            continue
        if o == "nopad":  # fused projections without the zero rows up to a multiple of 8
            t.project = unpadded_project
            continue
        if o == "einsum":  # the fused path as before a6030d3: line 4 of Alg. 11/12 by einsum and autograd
            t.triangle_product = einsum_triangle_product
            continue
        for key, value in OPTIONS[o].items():
            *parents, leaf = key.split(".")
            config = torch._inductor.config
            for parent in parents:
                config = getattr(config, parent)
            getattr(config, leaf)  # an unknown setting fails here, not silently
            setattr(config, leaf, value)
    cfg = t.config_from_preset(preset)
    batch = t.PRESETS[preset]["batch_size"]
    tc = dataclasses.replace(t.TrainConfig(use_amp=True), batch_size=batch, **t.parse_benchmark_path(path))
    device = torch.device(os.environ.get("SWEEP_DEVICE", "cuda"))  # SWEEP_DEVICE=cpu: a smoke test
    pk = load_profile_kernels()  # before the lock: the GPU's turn is for timing only
    begin = time.time()
    step, batches = t.benchmark_step(cfg, tc, device)
    for i in range(WARMUP):
        step(batches[i % 2])
    t.synchronize(device)
    setup_s = time.time() - begin
    open(os.path.join(outdir, f"ready_{name}"), "w").close()
    while len(glob.glob(os.path.join(outdir, "ready_*"))) < n_total and time.time() < deadline:
        time.sleep(1)
    with open(os.path.join(outdir, "gpu.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        others_ready = len(glob.glob(os.path.join(outdir, "ready_*")))
        if PEER_PING and device.type == "cuda":  # after this process's capture: see the docstring
            t.peer_ping(device)
        result = t.time_steps(step, batches, batch, device, STEPS, 2)
        prof = None if device.type == "cpu" else pk.profile_steps(step, batches[0], PROFILED)
        if prof is not None and os.environ.get("SWEEP_TRACE"):  # a Chrome trace of the profiled steps
            prof.export_chrome_trace(os.path.join(outdir, f"{name}.trace.json"))
        kernel_ms, kernels = (0.0, 0) if prof is None else pk.kernel_table(prof, PROFILED,
                                             f"{name}: {preset} {path} {'+'.join(opts) or 'default inductor'}",
                                             top=int(os.environ.get("SWEEP_TOP", 12)))
    flops = t.analytic_train_flops(cfg, batch)
    result.update(name=name, preset=preset, path=path, inductor=opts, setup_s=round(setup_s, 1),
                  tflops=flops / result["ms_per_step"] / 1e9, mfu=flops / result["ms_per_step"] / 1e9 / 989.4,
                  peak_mb=t.peak_memory_mb(device), kernel_ms_per_step=kernel_ms,
                  kernels_per_step=kernels, timed_alone=others_ready >= n_total, peer_ping=PEER_PING,
                  torch=torch.__version__, gpu=t.device_name(device))
    with open(os.path.join(outdir, f"{name}.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


def drive(outdir, deadline_s, specs):
    os.makedirs(outdir, exist_ok=True)
    deadline = time.time() + deadline_s
    env = dict(os.environ, TORCHINDUCTOR_COMPILE_THREADS="2")
    procs = []
    for item in specs:
        name, spec = item.split("=", 1)
        log = open(os.path.join(outdir, f"{name}.log"), "w")
        procs.append((name, subprocess.Popen([sys.executable, __file__, "--worker", outdir, str(deadline),
                                              str(len(specs)), name, spec], stdout=log, stderr=subprocess.STDOUT,
                                             env=env)))
    # A process still compiling long after the deadline (autotuning can take many
    # minutes) is stopped, so the table of the others is still printed.
    stop_at = deadline + float(os.environ.get("SWEEP_GRACE_S", 120))
    for name, p in procs:
        try:
            p.wait(timeout=max(1.0, stop_at - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    print(f"{'name':<16} {'path':<30} {'inductor':<14} {'setup s':>8} {'ms/step':>8} {'samples/s':>9} "
          f"{'MFU':>6} {'kernels':>8} {'kern ms':>8} {'peak MB':>8} alone")
    for name, p in procs:
        try:
            r = json.load(open(os.path.join(outdir, f"{name}.json")))
        except OSError:
            print(f"{name:<16} failed (exit {p.returncode}); see {name}.log")
            continue
        print(f"{name:<16} {r['preset'] + ' ' + r['path']:<30} {'+'.join(r['inductor']) or '-':<14} "
              f"{r['setup_s']:>8.1f} {r['ms_per_step']:>8.2f} {r['samples_per_sec']:>9.1f} {100 * r['mfu']:>5.1f}% "
              f"{r['kernels_per_step']:>8.0f} {r['kernel_ms_per_step']:>8.2f} {r['peak_mb']:>8.0f} {r['timed_alone']}")


if __name__ == "__main__":
    if sys.argv[1] == "--worker":
        worker(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6])
    else:
        drive(sys.argv[1], float(sys.argv[2]), sys.argv[3:])
