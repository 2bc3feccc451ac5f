#!/usr/bin/env python3
"""FLOPs, MFU and a per-module roofline for TinyOpenFold, with three counters.

A FLOP count is only as good as the counter that made it. This script counts
the same TinyOpenFold forward pass three ways, prints them side by side, and
then times training steps to turn the count into TFLOP/s and MFU:

  1. Analytic (tiny_openfold_v1.analytic_flops): closed-form formulas for each
     algorithm, multiply-add = 2 FLOPs. Counts the matrix products only
     (linear layers, attention logits and weighted sums, the outer product,
     the triangle contractions). A training step is ~3x the forward.

  2. PyTorch's FlopCounterMode (torch.utils.flop_counter): a dispatch mode that
     sees every aten operator as it runs and applies a formula to the
     matmul-class ones (mm, bmm, addmm, convolution, attention kernels).
     Elementwise work (softmax, sigmoid, LayerNorm, adds) counts as zero, so it
     should equal the analytic count exactly. It also counts the backward, so
     it checks the training-step formula. (On a GPU, a fused attention kernel
     is counted only where PyTorch registers a formula for it; TinyOpenFold's
     attention is written with explicit einsums, so the counter sees it all.)

  3. DeepSpeed's FLOPS profiler (deepspeed.profiling.flops_profiler): swaps a
     list of Python-level functions (F.linear, F.layer_norm, F.softmax,
     torch.matmul, torch.einsum, torch.mul, ...) for counting wrappers while a
     forward runs. It counts the forward only, and it counts what passes
     through those functions: LayerNorm is 5 FLOPs per element, but
     torch.softmax, torch.sigmoid, torch.relu and the `*`, `+` operators are
     not on its list, so they count as zero. Its einsum count comes from
     numpy.einsum_path's printed summary, rounded to 4 significant digits.

Then: timed training steps (achieved TFLOP/s = analytic training FLOPs / step
time, and MFU against the datasheet peak), and with --roofline/--intensity a
per-component roofline: each Evoformer module of block 0, timed alone, placed
by its arithmetic intensity (FLOPs per byte moved) against the device's peak
FLOP/s and memory bandwidth.

    python flops_analysis.py                               # default config, GPU 0 if present
    python flops_analysis.py --use-amp --roofline          # bf16, with the roofline plot
    python flops_analysis.py --preset tiny --device cpu    # a quick look on a laptop
    python flops_analysis.py --aggregate out/gpu0 out/gpu1 --output-dir out   # combine per-GPU reports

Outputs in --output-dir: flops_report.json, flops_report.txt,
deepspeed_profile.txt, and with --roofline: roofline.json, roofline.csv,
roofline.png. run_deepspeed_flops.sh drives this script on one or many GPUs.

Sections:
    1. Command line               5. Peak FLOP/s and bandwidth
    2. Per-module bookkeeping     6. Per-component roofline
    3. The three FLOP counters    7. Reports
    4. Timed training steps       8. Aggregating per-GPU reports
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import math
import os
import statistics
import sys
import time
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

import tiny_openfold_v1 as tof

OTHER = "other"  # FLOPs outside every algorithm module: residual adds, masks, the loss
DATA_SEED = 0  # the synthetic batch and the initial weights are fixed

# Dense peak memory bandwidth in TB/s from the vendors' datasheets, keyed like
# tof.PEAK_TFLOPS (tof.peak_table_key). "A100" is the 80 GB part (the 40 GB
# A100 has 1.56 TB/s); an MI250X shows up as two devices, so its row is per GCD.
PEAK_BANDWIDTH_TBS = {
    "H100 SXM": 3.35,
    "H100 PCIe": 2.0,
    "H200": 4.8,
    "A100": 2.0,
    "MI250X GCD": 1.6,
    "MI300X": 5.3,
    "MI325X": 6.0,
}

COUNTER_NOTES = {
    "analytic": "Closed-form count of the matrix products (tiny_openfold_v1.analytic_flops), multiply-add = 2; "
                "elementwise work left out. Training step = 3x forward, less the gradients nobody needs.",
    "torch_counter": "torch.utils.flop_counter.FlopCounterMode: formulas for matmul-class aten ops only "
                     "(mm, bmm, addmm, convolution, attention); softmax, sigmoid, LayerNorm and elementwise ops "
                     "count 0. On GPU a fused SDPA kernel is counted only where its backend registers a formula; "
                     "TinyOpenFold's attention uses explicit einsums, so every product is seen. Counts backward too.",
    "deepspeed": "DeepSpeed FLOPS profiler: patches Python functions (F.linear, F.layer_norm, F.softmax, F.relu, "
                 "torch.matmul, torch.einsum, torch.mul/add as functions) while a forward runs. Forward only: a "
                 "training step is ~3x the number reported (not multiplied here). Adds 5 FLOPs per LayerNorm element "
                 "(4 without affine); torch.softmax, torch.sigmoid, torch.relu and the * + / operators are not "
                 "patched, so they count 0; einsum counts come from numpy.einsum_path's summary, rounded to 4 "
                 "significant digits. nn.Embedding counts 0. MACs cover linear/matmul only, not einsum.",
}


def log(args, *parts) -> None:
    if not args.quiet:
        print(*parts, flush=True)


# =============================================================================
# 1. Command line
# =============================================================================


def build_parser() -> argparse.ArgumentParser:
    positive = tof._checked(int, lambda v: v > 0, "a positive integer")
    non_negative = tof._checked(int, lambda v: v >= 0, "an integer >= 0")
    positive_float = tof._checked(float, lambda v: v > 0 and math.isfinite(v), "a positive number")
    p = tof.OneLineErrorParser(
        prog="flops_analysis.py", formatter_class=tof._DefaultsFormatter,
        description="Count TinyOpenFold's FLOPs three ways (analytic, FlopCounterMode, DeepSpeed), "
                    "measure TFLOP/s and MFU, and draw a per-module roofline.")
    g = p.add_argument_group("model and data (defaults: the --preset's values, as tiny_openfold_v1.py)")
    g.add_argument("--preset", default="small", choices=list(tof.PRESETS), help="named configuration")
    g.add_argument("--batch-size", type=positive, help="samples per step (default: the preset's)")
    g.add_argument("--seq-len", type=positive, help="residues N_res")
    g.add_argument("--num-blocks", type=positive, help="Evoformer blocks")
    g.add_argument("--num-seqs", type=positive, help="MSA depth N_seq")
    g.add_argument("--msa-dim", type=positive, help="c_m, MSA channels")
    g.add_argument("--pair-dim", type=positive, help="c_z, pair channels")
    g = p.add_argument_group("measurement")
    g.add_argument("--device", help="'cpu', 'cuda', or a GPU index (CUDA/ROCm); default: GPU 0 if present")
    g.add_argument("--steps", type=positive, default=10,
                   help="timed training steps, and DeepSpeed-profiled forwards")
    g.add_argument("--warmup-steps", type=non_negative, default=3, help="untimed training steps first")
    g.add_argument("--use-amp", action="store_true", help="bf16 autocast (fp16 + GradScaler where bf16 is missing)")
    g.add_argument("--roofline", action="store_true",
                   help="per-component roofline: time, bytes, intensity, bound (also --intensity)")
    g.add_argument("--intensity", action="store_true",
                   help="arithmetic-intensity table (the same table as --roofline)")
    g.add_argument("--measure-peaks", action="store_true",
                   help="measure peak matmul FLOP/s and copy bandwidth instead of the datasheet table")
    g.add_argument("--peak-tflops", type=positive_float,
                   help="peak TFLOP/s for the precision used, for MFU and the roofline (default: table)")
    g = p.add_argument_group("output")
    g.add_argument("--output-dir", default="./flops_analysis", help="where the reports are written")
    g.add_argument("--quiet", action="store_true", help="print nothing but errors and notes")
    g.add_argument("--aggregate", nargs="+", metavar="DIR",
                   help="combine the flops_report.json of these per-GPU output dirs into "
                        "OUTPUT_DIR/aggregate.json; runs no model")
    return p


def model_config(args) -> Tuple[tof.TinyOpenFoldConfig, tof.TrainConfig]:
    """The configs tiny_openfold_v1.py builds from the same flags.

    The shape flags are handed to the main script's own parser and
    configs_from_args, so both scripts always agree on what "--preset small
    --pair-dim 96" means (e.g. the transition widths follow the channels).
    """
    argv = ["--preset", args.preset, "--device", args.device or "cpu"]
    for flag in ("batch_size", "seq_len", "num_blocks", "num_seqs", "msa_dim", "pair_dim"):
        value = getattr(args, flag)
        if value is not None:
            argv += ["--" + flag.replace("_", "-"), str(value)]
    if args.use_amp:
        argv.append("--use-amp")
    main_args = tof.build_parser().parse_args(argv)
    cfg, tc = tof.configs_from_args(main_args)
    tc.device = args.device
    return cfg, tc


def synthetic_batch(cfg: tof.TinyOpenFoldConfig, batch_size: int, device: torch.device) -> Dict[str, torch.Tensor]:
    """One collated batch of synthetic proteins (fixed seed), on the device.

    msa_tokens [B, S, N] int64, msa_mask [B, S, N], residue_mask [B, N],
    residue_index [B, N], distances [B, N, N].
    """
    data = tof.SyntheticProteinDataset(batch_size, cfg.max_seq_len, cfg.n_seqs, seed=DATA_SEED)
    batch = tof.collate_proteins([data[i] for i in range(batch_size)])
    return {k: v.to(device) for k, v in batch.items()}


# =============================================================================
# 2. Per-module bookkeeping
# =============================================================================


class ModelWithLoss(nn.Module):
    """The model and its loss as one module, so counters that attribute work to
    modules also see the ops outside the Evoformer (relpos features, the loss)."""

    def __init__(self, model: tof.TinyOpenFold):
        super().__init__()
        self.model = model

    def forward(self, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        out = tof.forward_batch(self.model, batch)
        return tof.distance_loss(out["distances"], batch["distances"], batch["residue_mask"])


def module_labels(root: nn.Module, keys: Sequence[str]) -> Dict[str, str]:
    """named_modules() name -> the row of the per-module table it belongs to.

    A module's row is the profile_name of the innermost enclosing module that
    has one (itself included), e.g. "model.evoformer.1.msa_transition.linear_1"
    -> "Alg9_MSATransition". Names not in `keys` (the Alg6 block's own
    residual adds, the model's masks, the loss) go to OTHER. Summing the
    *exclusive* work of every module into its row counts each op exactly once.
    """
    labels: Dict[str, str] = {}
    for name, module in root.named_modules():  # parents come before their children
        parent = name.rpartition(".")[0] if name else None
        labels[name] = getattr(type(module), "profile_name", None) or labels.get(parent, OTHER)
    return {name: (label if label in keys else OTHER) for name, label in labels.items()}


def sum_by_label(exclusive: Dict[str, float], labels: Dict[str, str]) -> Dict[str, float]:
    """Add each module's own (exclusive) FLOPs into its row; every row appears."""
    rows = {label: 0.0 for label in labels.values()}
    for name, flops in exclusive.items():
        rows[labels[name]] += flops
    return rows


def evoformer_components(model: tof.TinyOpenFold) -> List[nn.Module]:
    """The modules of the roofline: the embedder, the Alg modules of block 0, the head."""
    block = model.evoformer[0]
    algs = [m for m in block.children() if hasattr(type(m), "profile_name")]
    return [model.input_embedder, *algs, model.distance_head]


# =============================================================================
# 3. The three FLOP counters
# =============================================================================


def analytic_counts(cfg, batch_size: int, n_res: int, n_seq: int) -> dict:
    per_module = tof.analytic_flops(cfg, batch_size, n_res, n_seq)
    return {"analytic_forward": sum(per_module.values()),
            "analytic_train_step": tof.analytic_train_flops(cfg, batch_size, n_res, n_seq),
            "analytic_forward_per_module": per_module}


def torch_counter_forward(wrapped: ModelWithLoss, batch, keys: Sequence[str]) -> Tuple[int, Dict[str, float]]:
    """FlopCounterMode's forward count, total and per module row.

    get_flop_counts() is keyed by module path ("ModelWithLoss.model.evoformer.0
    .msa_row_attention") and each entry includes the module's children, so a
    module's own work is its count minus its children's.
    """
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        wrapped(batch)
    inclusive = {path: sum(ops.values()) for path, ops in counter.get_flop_counts().items()}
    root = type(wrapped).__name__

    def count(name: str) -> int:
        return inclusive.get(f"{root}.{name}" if name else root, 0)

    exclusive = {}
    for name, module in wrapped.named_modules():
        children = (f"{name}.{child}" if name else child for child, _ in module.named_children())
        exclusive[name] = count(name) - sum(count(c) for c in children)
    return counter.get_total_flops(), sum_by_label(exclusive, module_labels(wrapped, keys))


def load_deepspeed_profiler():
    """(FlopsProfiler, None), or (None, reason) when DeepSpeed cannot be imported.

    Importing deepspeed can fail in many ways (missing, a CUDA/ROCm mismatch, a
    compiler it looks for), so any exception means "unavailable". Without a
    GPU, DS_ACCELERATOR=cpu skips its "Setting accelerator to CPU" warning.
    """
    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    try:
        from deepspeed.profiling.flops_profiler import FlopsProfiler
    except Exception as exc:  # noqa: BLE001 - any failure to import means "unavailable"
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return None, reason
    logging.getLogger("DeepSpeed").setLevel(logging.ERROR)
    return FlopsProfiler, None


def layernorm_flops_by_label(wrapped: nn.Module, keys: Sequence[str]):
    """Hooks that record DeepSpeed's LayerNorm estimate (5 FLOPs per element
    with affine, 4 without) per module row. Returns (rows, remove_hooks)."""
    labels = module_labels(wrapped, keys)
    rows: Dict[str, float] = defaultdict(float)
    handles = []
    for name, module in wrapped.named_modules():
        if isinstance(module, nn.LayerNorm):
            per_element = 5 if module.weight is not None else 4

            def hook(_module, inputs, label=labels[name], k=per_element):
                rows[label] += k * inputs[0].numel()

            handles.append(module.register_forward_pre_hook(hook))
    return rows, lambda: [h.remove() for h in handles]


def deepspeed_forward(profiler_cls, wrapped: ModelWithLoss, batch, steps: int, keys: Sequence[str],
                      profile_txt: str) -> dict:
    """Profile `steps` forwards, one profile each, and return DeepSpeed's counts.

    start_profile() zeroes every module's __flops__ and patches the counted
    functions; stop_profile() restores them; the counts stay readable until
    end_profile() removes them. Each step is a fresh profile, so the per-step
    totals must not grow. DeepSpeed's own report of step 0 goes to profile_txt.
    """
    profiler = profiler_cls(wrapped)
    labels = module_labels(wrapped, keys)
    per_step, per_module, macs = [], {}, 0
    layernorm, remove_hooks = layernorm_flops_by_label(wrapped, keys)  # step 0 only
    for step in range(steps):
        profiler.start_profile()
        with torch.no_grad():
            wrapped(batch)
        profiler.stop_profile()
        per_step.append(int(profiler.get_total_flops()))
        macs = int(profiler.get_total_macs())
        if step == 0:
            remove_hooks()
            # __flops__ holds the work of the functions a module called itself, not its children's.
            own = {name: float(m.__flops__) for name, m in wrapped.named_modules()}
            per_module = sum_by_label(own, labels)
            profiler.print_model_profile(profile_step=step, output_file=profile_txt)
        profiler.end_profile()
    return {"deepspeed_forward": per_step[0], "deepspeed_macs": macs, "deepspeed_per_step_forward": per_step,
            "deepspeed_forward_per_module": per_module,
            "deepspeed_layernorm_flops_per_module": {k: layernorm.get(k, 0.0) for k in per_module}}


def counter_overheads(model: nn.Module, batch, profiler_cls, device: torch.device, reps: int = 5) -> dict:
    """Milliseconds of one no-grad forward, plain and under each counter (median
    of `reps`): what each instrument costs. torch.profiler records shapes,
    memory and FLOPs, as --enable-pytorch-profiler does."""
    def plain():
        with torch.no_grad():
            tof.forward_batch(model, batch)

    def flop_counter():
        with FlopCounterMode(display=False):
            plain()

    def torch_profiler():
        activities = [torch.profiler.ProfilerActivity.CPU]
        if device.type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        with torch.profiler.profile(activities=activities, record_shapes=True, profile_memory=True,
                                    with_flops=True) as prof:
            plain()
        prof.key_averages()  # the table is part of the cost

    tools = {"plain": plain, "flop_counter_mode": flop_counter, "torch_profiler": torch_profiler}
    if profiler_cls is not None:
        ds = profiler_cls(model)

        def deepspeed():
            ds.start_profile()
            plain()
            ds.stop_profile()
            ds.get_total_flops()
            ds.end_profile()

        tools["deepspeed_flops_profiler"] = deepspeed
    return {name: 1e3 * statistics.median(timed_runs(fn, device, reps, warmup=1)) for name, fn in tools.items()}


DEEPSPEED_NULLS = {"deepspeed_forward": None, "deepspeed_macs": None, "deepspeed_per_step_forward": None,
                   "deepspeed_forward_per_module": None, "deepspeed_layernorm_flops_per_module": None}


# =============================================================================
# 4. Timed training steps
# =============================================================================


def autocast(device: torch.device, amp_dtype: Optional[torch.dtype]):
    return torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None)


def time_training_steps(model, batch, warmup: int, steps: int, amp_dtype, scaler, device) -> List[float]:
    """Seconds of each timed step: tiny_openfold_v1.train_step (TrainingObjective's
    forward and loss under autocast, backward, gradient clipping, AdamW), the
    work train() and --benchmark time too.

    The batch is reused, so data generation is not in the time; the device is
    synchronised before and after each step, so the wall clock sees the GPU.
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    objective = tof.TrainingObjective(model, tof.model_config(model), amp_dtype, device.type)
    model.train()
    times = []
    for step in range(warmup + steps):
        tof.synchronize(device)
        t0 = time.perf_counter()
        tof.train_step(objective, model, optimizer, scaler, 1.0, batch)
        tof.synchronize(device)
        if step >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def throughput(times: List[float], batch_size: int, train_flops: float, peak: Optional[float]) -> dict:
    mean = statistics.fmean(times)
    achieved = train_flops / mean / 1e12
    return {"step_time_ms_mean": 1e3 * mean,
            "step_time_ms_std": 1e3 * statistics.stdev(times) if len(times) > 1 else 0.0,
            "samples_per_sec": batch_size * len(times) / sum(times),
            "achieved_tflops": achieved,
            "mfu": achieved / peak if peak else None}


# =============================================================================
# 5. Peak FLOP/s and bandwidth
# =============================================================================


def best_time(fn: Callable[[], object], device: torch.device, reps: int, warmup: int = 1) -> float:
    """Shortest of `reps` synchronised runs of fn, in seconds."""
    return min(timed_runs(fn, device, reps, warmup))


def timed_runs(fn: Callable[[], object], device: torch.device, reps: int, warmup: int) -> List[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        tof.synchronize(device)
        t0 = time.perf_counter()
        fn()
        tof.synchronize(device)
        times.append(time.perf_counter() - t0)
    return times


def matmul_seconds(n: int, device: torch.device, dtype: torch.dtype, reps: int) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    return best_time(lambda: a @ b, device, reps)


def measure_matmul_tflops(device: torch.device, dtype: torch.dtype) -> Tuple[float, str]:
    """Peak matmul TFLOP/s in `dtype` (2 n^3 FLOPs per n x n product): n = 8192
    on a GPU; on a CPU n doubles from 256 until one product takes ~50 ms, so
    the whole measurement stays under 2 s."""
    n = 8192 if device.type == "cuda" else 256
    while device.type != "cuda" and n < 2048 and matmul_seconds(n, device, dtype, reps=1) < 0.05:
        n *= 2
    seconds = matmul_seconds(n, device, dtype, reps=10 if device.type == "cuda" else 3)
    return 2 * n ** 3 / seconds / 1e12, f"measured ({n}x{n} {str(dtype).replace('torch.', '')} matmul)"


def measure_bandwidth_tbs(device: torch.device) -> Tuple[float, str]:
    """Copy bandwidth in TB/s: a copy reads and writes each byte, 2 x bytes / time.
    1 GiB on a GPU (well past its caches), 64 MiB on a CPU."""
    numel = 2 ** 28 if device.type == "cuda" else 2 ** 24
    src = torch.ones(numel, device=device)
    dst = torch.empty_like(src)
    seconds = best_time(lambda: dst.copy_(src), device, reps=10 if device.type == "cuda" else 5)
    nbytes = src.numel() * src.element_size()
    return 2 * nbytes / seconds / 1e12, f"measured ({nbytes // 2 ** 20} MiB copy)"


def table_peaks(device: torch.device, precision: str) -> Tuple[Optional[float], Optional[float]]:
    """(peak TFLOP/s, bandwidth TB/s) from the datasheet tables, None where unknown."""
    if device.type != "cuda":
        return None, None
    key = tof.peak_table_key(torch.cuda.get_device_name(device))
    if key is None:
        return None, None
    return tof.PEAK_TFLOPS[key].get(precision), PEAK_BANDWIDTH_TBS.get(key)


def roofline_peaks(device, precision: str, dtype: torch.dtype, override: Optional[float], measure: bool) -> dict:
    """The roof: peak FLOP/s and bandwidth, each labelled with where it came from."""
    tflops, bandwidth = table_peaks(device, precision)
    tflops_source = bandwidth_source = "table"
    if override:
        tflops, tflops_source = override, "override (--peak-tflops)"
    elif measure or tflops is None:
        tflops, tflops_source = measure_matmul_tflops(device, dtype)
    if measure or bandwidth is None:
        bandwidth, bandwidth_source = measure_bandwidth_tbs(device)
    return {"peak_tflops": tflops, "peak_tflops_source": tflops_source, "bandwidth_tbs": bandwidth,
            "bandwidth_source": bandwidth_source, "ridge_flops_per_byte": tflops / bandwidth}


# =============================================================================
# 6. Per-component roofline
# =============================================================================
# Roofline model: a kernel moving B bytes and doing F FLOPs cannot beat
#     attainable = min(peak FLOP/s, (F / B) x bandwidth).
# F / B is its arithmetic intensity; below the ridge point peak / bandwidth it
# is memory-bound. We use two byte counts per module:
#   minimum bytes - read its inputs and weights once, write its output once
#                   (what a perfectly fused kernel would move);
#   eager bytes   - what PyTorch's eager aten ops really read and write: every
#                   intermediate (projections, logits, gates) goes to memory
#                   and comes back. Measured by ByteCounter below.
# FLOPs are the analytic (matmul-only) ones, as for MFU.


def footprint(t: torch.Tensor) -> int:
    """Bytes a kernel must touch to read t: broadcast (stride-0) dims count once."""
    distinct = math.prod(size for size, stride in zip(t.shape, t.stride()) if stride != 0)
    return distinct * t.element_size()


class ByteCounter(TorchDispatchMode):
    """Sums the bytes every aten op reads (tensor inputs) and writes (outputs).

    Views (transpose, reshape, expand, ...) move no data and are skipped.
    Caches can make real traffic lower than this; it is what eager mode asks for.
    """

    SKIP = {torch.ops.aten._unsafe_view.default}

    def __init__(self):
        super().__init__()
        self.bytes = 0
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not func.is_view and func not in self.SKIP:
            tensors = [t for t in tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor)]
            self.bytes += sum(footprint(t) for t in tensors)
            self.ops += 1
        return out


def capture_component_inputs(model, components, batch, amp_dtype, device) -> Dict[str, tuple]:
    """The real positional inputs each component receives in one forward."""
    captured: Dict[str, tuple] = {}
    handles = [c.register_forward_pre_hook(lambda mod, args: captured.setdefault(mod.profile_name, args))
               for c in components]
    model.eval()
    with torch.no_grad(), autocast(device, amp_dtype):
        tof.forward_batch(model, batch)
    for h in handles:
        h.remove()
    return captured


def minimum_bytes(module: nn.Module, inputs: tuple, output, elem: int) -> int:
    """Inputs + weights read once, output written once; floats at the compute
    dtype's element size `elem`, integer inputs (tokens) at their own."""
    def size(t: torch.Tensor) -> int:
        return t.numel() * (elem if t.is_floating_point() else t.element_size())

    tensors = [t for t in tree_leaves((inputs, output)) if isinstance(t, torch.Tensor)]
    return sum(size(t) for t in tensors) + elem * sum(p.numel() for p in module.parameters())


def component_row(module, inputs, flops: float, peaks: dict, amp_dtype, device, reps: int) -> dict:
    """Time one component alone, count its bytes, and place it under the roof."""
    elem = torch.tensor([], dtype=amp_dtype or torch.float32).element_size()

    def run():
        with autocast(device, amp_dtype):
            return module(*inputs)

    with torch.no_grad():
        seconds = statistics.median(timed_runs(run, device, reps, warmup=3))
        with ByteCounter() as counter:
            output = run()
    min_bytes = minimum_bytes(module, inputs, output, elem)
    achieved = flops / seconds / 1e12
    eager_intensity = flops / counter.bytes
    attainable = min(peaks["peak_tflops"], eager_intensity * peaks["bandwidth_tbs"])
    return {"component": module.profile_name, "flops": flops, "time_ms": 1e3 * seconds,
            "achieved_tflops": achieved, "min_bytes": min_bytes, "eager_bytes": counter.bytes,
            "eager_ops": counter.ops, "min_intensity": flops / min_bytes, "eager_intensity": eager_intensity,
            "attainable_tflops": attainable, "fraction_of_attainable": achieved / attainable,
            "bound": "memory-bound" if eager_intensity < peaks["ridge_flops_per_byte"] else "compute-bound"}


def roofline_rows(model, cfg, batch, peaks: dict, amp_dtype, device) -> List[dict]:
    """One row per component: embedder, the nine Alg modules of block 0, head."""
    components = evoformer_components(model)
    inputs = capture_component_inputs(model, components, batch, amp_dtype, device)
    B, S, N = batch["msa_tokens"].shape
    per_module = tof.analytic_flops(cfg, B, N, S)
    per_block = {k: v / cfg.n_evoformer_blocks for k, v in per_module.items()}
    per_block.update({k: per_module[k] for k in ("Alg3_InputEmbedder", "DistanceHead")})
    reps = 20 if device.type == "cuda" else 5
    return [component_row(c, inputs[c.profile_name], per_block[c.profile_name], peaks, amp_dtype, device, reps)
            for c in components]


# =============================================================================
# 7. Reports
# =============================================================================


def gflop(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{x / 1e9:.4f}"


def percent(x: Optional[float], of: Optional[float]) -> str:
    return "n/a" if x is None or not of else f"{100 * x / of:.3f}%"


def summary_lines(r: dict) -> List[str]:
    """The human-readable report: counters side by side, per module, speed."""
    c = r["config"]
    lines = [f"TinyOpenFold FLOP analysis | {r['device_name']} | precision {r['precision']}",
             f"config: B={r['batch_size']} N_res={r['n_res']} N_seq={r['n_seq']} c_m={c['msa_dim']} "
             f"c_z={c['pair_dim']} blocks={c['n_evoformer_blocks']}", "",
             f"{'FLOPs (GFLOP)':<26} {'analytic':>12} {'FlopCounter':>12} {'DeepSpeed':>12}",
             f"{'forward':<26} {gflop(r['analytic_forward']):>12} {gflop(r['torch_counter_forward']):>12} "
             f"{gflop(r['deepspeed_forward']):>12}",
             f"{'training step':<26} {gflop(r['analytic_train_step']):>12} "
             f"{gflop(r['torch_counter_train_step']):>12} {'fwd only':>12}",
             f"{'agreement with analytic':<26} {'':>12} "
             f"{percent(r['torch_counter_forward'], r['analytic_forward']):>12} "
             f"{percent(r['deepspeed_forward'], r['analytic_forward']):>12}",
             f"{'  (training step)':<26} {'':>12} "
             f"{percent(r['torch_counter_train_step'], r['analytic_train_step']):>12}", ""]
    if r["deepspeed_per_step_forward"]:
        steps = r["deepspeed_per_step_forward"]
        same = "identical" if len(set(steps)) == 1 else "NOT identical"
        lines += [f"DeepSpeed per-step forward over {len(steps)} profiled steps: {same} ({steps[0]:,} FLOPs)", ""]
    lines += per_module_lines(r)
    if r.get("counter_overhead_ms"):
        base = r["counter_overhead_ms"]["plain"]
        lines += ["", "One no-grad forward under each counter (median of 5): " + ", ".join(
            f"{name} {ms:.1f} ms (x{ms / base:.1f})" for name, ms in r["counter_overhead_ms"].items())]
    mfu = f"{100 * r['mfu']:.2f}%" if r["mfu"] is not None else "n/a (unknown device; use --peak-tflops)"
    peak = f"{r['peak_tflops']:.1f} TFLOP/s ({r['peak_source']})" if r["peak_tflops"] else "n/a"
    lines += ["", f"Training step: {r['step_time_ms_mean']:.2f} +- {r['step_time_ms_std']:.2f} ms over "
                  f"{r['steps']} steps | {r['samples_per_sec']:.1f} samples/s",
              f"Achieved: {r['achieved_tflops']:.4f} TFLOP/s (analytic training FLOPs / step time) | "
              f"peak {peak} | MFU: {mfu}"]
    if r["roofline"]:
        lines += ["", *roofline_lines(r["roofline"], r["roofline_peaks"])]
    return lines


def per_module_lines(r: dict) -> List[str]:
    analytic, torch_rows = r["analytic_forward_per_module"], r["torch_counter_forward_per_module"]
    ds_rows = r["deepspeed_forward_per_module"] or {}
    ln_rows = r["deepspeed_layernorm_flops_per_module"] or {}
    lines = [f"{'module (forward, GFLOP)':<38} {'analytic':>10} {'% total':>8} {'FlopCounter':>11} "
             f"{'DeepSpeed':>10} {'DS LayerNorm':>12} {'DS - analytic - LN':>18}"]
    for key in [*analytic, OTHER]:
        ds = ds_rows.get(key)
        resid = None if ds is None else ds - analytic.get(key, 0.0) - ln_rows.get(key, 0.0)
        lines.append(f"{key:<38} {gflop(analytic.get(key, 0.0)):>10} "
                     f"{percent(analytic.get(key, 0.0), r['analytic_forward']):>8} "
                     f"{gflop(torch_rows.get(key, 0.0)):>11} {gflop(ds):>10} {gflop(ln_rows.get(key)):>12} "
                     f"{'n/a' if resid is None else f'{resid:,.0f} FLOP':>18}")
    if ds_rows:
        lines.append("DS LayerNorm: DeepSpeed's 5 FLOPs per LayerNorm element, which the matmul-only counters leave "
                     "out; the last column is what remains (its einsum counts are rounded to 4 digits).")
    return lines


def roofline_lines(rows: List[dict], peaks: dict) -> List[str]:
    lines = [f"Roofline (block 0, forward, each module timed alone): peak {peaks['peak_tflops']:.2f} TFLOP/s "
             f"[{peaks['peak_tflops_source']}], bandwidth {peaks['bandwidth_tbs']:.3f} TB/s "
             f"[{peaks['bandwidth_source']}], ridge {peaks['ridge_flops_per_byte']:.1f} FLOP/B",
             f"{'component':<38} {'GFLOP':>8} {'ms':>8} {'TFLOP/s':>8} {'AI min':>7} {'AI eager':>8} "
             f"{'attain.':>8} {'% att.':>7}  bound"]
    for x in rows:
        lines.append(f"{x['component']:<38} {x['flops'] / 1e9:>8.4f} {x['time_ms']:>8.3f} {x['achieved_tflops']:>8.4f} "
                     f"{x['min_intensity']:>7.1f} {x['eager_intensity']:>8.2f} {x['attainable_tflops']:>8.3f} "
                     f"{100 * x['fraction_of_attainable']:>6.1f}%  {x['bound']}")
    lines.append("AI = arithmetic intensity, FLOP per byte: 'min' if inputs, weights and output moved once, "
                 "'eager' as the eager aten ops move them.")
    return lines


def write_roofline_files(rows: List[dict], peaks: dict, out_dir: str, title: str) -> List[str]:
    """roofline.json, roofline.csv and (with matplotlib) roofline.png; returns the file names."""
    tof.atomic_save({"peaks": peaks, "rows": rows}, os.path.join(out_dir, "roofline.json"))
    with open(os.path.join(out_dir, "roofline.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    names = ["roofline.json", "roofline.csv"]
    if plot_roofline(rows, peaks, os.path.join(out_dir, "roofline.png"), title):
        names.append("roofline.png")
    return names


def plot_roofline(rows: List[dict], peaks: dict, path: str, title: str) -> bool:
    """Log-log roofline: the roof, each module at its eager intensity (filled)
    and at its minimum-bytes intensity (hollow), both at its achieved TFLOP/s."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        print(f"Note: roofline.png skipped, matplotlib unavailable ({exc}); pip install matplotlib")
        return False
    peak, bw, ridge = peaks["peak_tflops"], peaks["bandwidth_tbs"], peaks["ridge_flops_per_byte"]
    xs = [r["eager_intensity"] for r in rows] + [r["min_intensity"] for r in rows]
    x_lo, x_hi = min(min(xs), ridge) / 4, max(max(xs), ridge) * 4
    fig, ax = plt.subplots(figsize=(11, 6))
    ax.plot([x_lo, ridge, x_hi], [x_lo * bw, peak, peak], color="black", lw=2,
            label=f"roof: {bw:.3g} TB/s, {peak:.3g} TFLOP/s")
    for i, r in enumerate(rows):
        color, y = plt.cm.tab20(i % 20), r["achieved_tflops"]
        # A dotted line joins a module's two markers: the gap is what fusion could save.
        ax.plot([r["eager_intensity"], r["min_intensity"]], [y, y], color=color, ls=":", lw=1)
        ax.scatter(r["eager_intensity"], y, color=color, zorder=3, label=r["component"])
        ax.scatter(r["min_intensity"], y, facecolors="none", edgecolors=color, zorder=3)
        ax.annotate(r["component"].split("_")[0], (r["eager_intensity"], y), textcoords="offset points",
                    xytext=(-6, 6 if i % 2 else -12), ha="right", fontsize=7, color=color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP / byte)")
    ax.set_ylabel("TFLOP/s")
    ax.set_title(title, fontsize=10)
    ax.scatter([], [], color="gray", label="filled: eager bytes (measured)")
    ax.scatter([], [], facecolors="none", edgecolors="gray", label="hollow: minimum bytes (fused ideal)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


# =============================================================================
# 8. Aggregating per-GPU reports
# =============================================================================

CONCURRENCY_NOTE = ("These GPUs ran independent copies concurrently: this measures per-GPU variance, "
                    "not scaling. For scaling use run.sh.")


def read_report(folder: str) -> dict:
    path = os.path.join(folder, "flops_report.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise tof.UsageError(f"--aggregate {folder}: cannot read {path} ({exc})") from None


def aggregate(folders: Sequence[str]) -> dict:
    """System totals and the spread of MFU over per-GPU reports.

    TFLOP/s and samples/s add up (the GPUs ran at the same time); MFU is a
    per-GPU ratio, so it gets a mean and a population standard deviation,
    or None if any GPU's peak is unknown.
    """
    reports = [read_report(f) for f in folders]
    mfus = [r.get("mfu") for r in reports]
    known = None not in mfus
    return {"n_gpus": len(reports),
            "total_achieved_tflops": sum(r["achieved_tflops"] for r in reports),
            "total_samples_per_sec": sum(r["samples_per_sec"] for r in reports),
            "mfu_mean": statistics.fmean(mfus) if known else None,
            "mfu_std": statistics.pstdev(mfus) if known else None,
            "note": CONCURRENCY_NOTE,
            "per_gpu": [{"dir": f, "device": r.get("device"), "device_name": r.get("device_name"),
                         "achieved_tflops": r["achieved_tflops"], "samples_per_sec": r["samples_per_sec"],
                         "step_time_ms_mean": r.get("step_time_ms_mean"), "mfu": r.get("mfu")}
                        for f, r in zip(folders, reports)]}


def run_aggregate(args) -> int:
    tof.check_writable_dir(args.output_dir, "--output-dir")
    result = aggregate(args.aggregate)
    tof.atomic_save(result, os.path.join(args.output_dir, "aggregate.json"))

    def pct(x):
        return "n/a" if x is None else f"{100 * x:.2f}%"

    print(f"{'dir':<40} {'device':<36} {'TFLOP/s':>9} {'samples/s':>10} {'MFU':>8}")
    for g in result["per_gpu"]:
        print(f"{g['dir']:<40} {str(g['device_name']):<36} {g['achieved_tflops']:>9.3f} "
              f"{g['samples_per_sec']:>10.1f} {pct(g['mfu']):>8}")
    print(f"{result['n_gpus']} GPUs | total {result['total_achieved_tflops']:.3f} TFLOP/s | total "
          f"{result['total_samples_per_sec']:.1f} samples/s | MFU mean {pct(result['mfu_mean'])}, "
          f"std {pct(result['mfu_std'])}")
    print(CONCURRENCY_NOTE)
    print(f"Aggregate written to {os.path.join(args.output_dir, 'aggregate.json')}")
    return 0


# =============================================================================
# Main: one device, steps a-g
# =============================================================================


def analyse(args) -> dict:
    device = tof.select_device(args.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)  # DeepSpeed's timers synchronise the current device
    cfg, tc = model_config(args)
    tof.check_writable_dir(args.output_dir, "--output-dir")
    amp_dtype, scaler = tof.amp_settings(tc, device)
    precision = tof.compute_precision(amp_dtype, device)
    peak = tof.peak_tflops(device, precision, args.peak_tflops)

    # a. Model and one synthetic batch.
    torch.manual_seed(DATA_SEED)
    model = tof.TinyOpenFold(cfg).to(device).eval()
    batch = synthetic_batch(cfg, tc.batch_size, device)
    B, S, N = batch["msa_tokens"].shape
    log(args, f"{tof.device_name(device)} | {precision} | B={B} N_res={N} N_seq={S} "
              f"blocks={cfg.n_evoformer_blocks} | {tof.count_parameters(model):,} parameters")

    # b, c. Analytic and FlopCounterMode (counts do not depend on the dtype: fp32 here).
    report = analytic_counts(cfg, B, N, S)
    keys = list(report["analytic_forward_per_module"])
    wrapped = ModelWithLoss(model)
    log(args, "Counting with FlopCounterMode (forward, then forward + backward)...")
    report["torch_counter_forward"], report["torch_counter_forward_per_module"] = \
        torch_counter_forward(wrapped, batch, keys)
    report["torch_counter_train_step"] = tof.torch_counter_train_flops(model, batch)

    # d. DeepSpeed.
    profiler_cls, reason = load_deepspeed_profiler()
    report["deepspeed_unavailable_reason"] = reason
    if profiler_cls is None:
        print(f"DeepSpeed FLOPS profiler unavailable ({reason}); pip install deepspeed", flush=True)
        report.update(DEEPSPEED_NULLS)
    else:
        log(args, f"Profiling {args.steps} forwards with the DeepSpeed FLOPS profiler...")
        report.update(deepspeed_forward(profiler_cls, wrapped, batch, args.steps, keys,
                                        os.path.join(args.output_dir, "deepspeed_profile.txt")))

    log(args, "Timing one forward under each counter (overhead)...")
    report["counter_overhead_ms"] = counter_overheads(model, batch, profiler_cls, device)

    # e. Timed training steps.
    log(args, f"Timing {args.warmup_steps} warm-up + {args.steps} training steps...")
    times = time_training_steps(model, batch, args.warmup_steps, args.steps, amp_dtype, scaler, device)
    report.update(throughput(times, B, report["analytic_train_step"], peak))

    # f. Roofline.
    report["roofline"] = report["roofline_peaks"] = None
    if args.roofline or args.intensity:
        log(args, "Per-component roofline (block 0)...")
        peaks = roofline_peaks(device, precision, amp_dtype or torch.float32, args.peak_tflops, args.measure_peaks)
        report["roofline_peaks"] = peaks
        report["roofline"] = roofline_rows(model, cfg, batch, peaks, amp_dtype, device)

    report.update({
        "config": dataclasses.asdict(cfg), "batch_size": B, "n_res": N, "n_seq": S,
        "device": str(device), "device_name": tof.device_name(device), "precision": precision,
        "steps": args.steps, "warmup_steps": args.warmup_steps, "peak_tflops": peak,
        "peak_source": ("--peak-tflops" if args.peak_tflops else "table") if peak else None,
        "counter_notes": COUNTER_NOTES, "system_info": tof.system_info(device)})
    return report


def write_reports(report: dict, args) -> None:
    """g. flops_report.json / .txt, and the roofline files."""
    out = args.output_dir
    files = ["flops_report.json", "flops_report.txt"]
    if report["deepspeed_forward"] is not None:
        files.append("deepspeed_profile.txt")
    if report["roofline"]:
        title = f"TinyOpenFold block 0 roofline | {report['device_name']} | {report['precision']}"
        files += write_roofline_files(report["roofline"], report["roofline_peaks"], out, title)
    report["files"] = files
    text = "\n".join(summary_lines(report))
    log(args, "\n" + text)
    with open(os.path.join(out, "flops_report.txt"), "w") as f:
        f.write(text + "\n")
    tof.atomic_save(report, os.path.join(out, "flops_report.json"))
    log(args, f"\nReports written to {out}: {', '.join(files)}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.aggregate:
            return run_aggregate(args)
        write_reports(analyse(args), args)
        return 0
    except tof.UsageError as exc:
        print(f"flops_analysis.py: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
