#!/usr/bin/env python3
"""TinyOpenFold V1: AlphaFold 2's Evoformer in one readable PyTorch script.

Read this file top to bottom. It builds, trains and measures the Evoformer of

    Jumper et al. 2021, "Highly accurate protein structure prediction with
    AlphaFold", Nature 596, 583-589, Supplementary Information (Suppl.).

Every module below is one algorithm of the supplement and cites its number:
input embedding (Alg. 3, 4), the Evoformer block (Alg. 6) and its nine
sub-modules (Alg. 7-15), plus a distance head. The model trains on synthetic
proteins whose MSAs carry co-evolution, so the loss can fall below what the
sequence separation alone predicts only by reading the MSA: AlphaFold's lesson.

Launch lines (copy and paste):

    # CPU, about 5 minutes on 2 cores (results/cpu_2026-12-06): a tiny model learns contacts from the MSA
    python tiny_openfold_v1.py --preset tiny --num-seqs 16 --num-steps 600

    # The default ("small") configuration on a GPU
    python tiny_openfold_v1.py --batch-size 4 --num-steps 200

    # Several GPUs: one process each (DistributedDataParallel); global batch 16
    torchrun --standalone --nproc-per-node 2 tiny_openfold_v1.py --batch-size 16

    # Profile: trace, per-module time and memory tables (see FLOPS_ANALYSIS.md)
    python tiny_openfold_v1.py --enable-all-profiling --num-steps 30

    # The fast paths (same function; README "Performance"), and their benchmark
    # (add --peer-ping for shorter gaps between graph kernels: see peer_ping below)
    # (fastest at the default size: add --cast-once --weight-grad-stream --max-autotune --pdl,
    # where --pdl needs NVIDIA Hopper or newer and --max-autotune's autotuning takes minutes
    # the first time on a machine; at the medium size add only --cast-once)
    python tiny_openfold_v1.py --use-amp --attention flex --fuse-projections --triton-kernels \
        --compile --cuda-graphs --flat-optimizer
    python tiny_openfold_v1.py --benchmark --use-amp

    # Long proteins (N = 1,024): fused attention, block checkpointing and chunking
    python tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets long \
        --benchmark-seq-lens 1024 --benchmark-paths sdpa+fused+ckpt+chunk128

    # Check the environment
    python tiny_openfold_v1.py --validate-setup

Sections:
    1. Configuration             6. Synthetic proteins with co-evolution
    2. Primitives                7. Metrics and the separation-only baseline
    3. MSA stack (Alg. 7-10)     8. Training loop, timing, checkpoints
    4. Pair stack (Alg. 11-15)   9. Benchmark of the fast paths
    5. Block, embedder, model   10. Environment validation
                                11. Command line

Notation: m is the MSA representation [*, N_seq, N_res, c_m], z the pair
representation [*, N_res, N_res, c_z]; s indexes MSA rows, i, j, k residues,
h heads.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import gc
import json
import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.distributed as dist
import torch.nn.functional as F
from torch.profiler import record_function
from torch.utils.checkpoint import checkpoint

try:  # --attention flex (FlexAttention, torch 2.5 and later)
    from torch.nn.attention.flex_attention import flex_attention
except ImportError:  # pragma: no cover - older torch
    flex_attention = None

CHECKPOINT_FORMAT = "tinyopenfold-v1-checkpoint-1"


class UsageError(Exception):
    """Bad input from the user: main() prints the message on one line and exits 2."""


# =============================================================================
# 1. Configuration
# =============================================================================


@dataclass
class TinyOpenFoldConfig:
    """All sizes of the model. Defaults are the "small" preset.

    AF2's own sizes (Suppl. 1.6) are c_m = 256, c_z = 128, 48 blocks, 8 MSA heads
    of 32 and 4 pair heads of 32; TinyOpenFold shrinks them to train in minutes.
    """

    vocab_size: int = 21  # 20 amino acids + unknown/gap; tokens 0..20
    msa_dim: int = 64  # c_m, channels of the MSA representation
    pair_dim: int = 128  # c_z, channels of the pair representation
    n_evoformer_blocks: int = 4  # Evoformer blocks (AF2: 48)
    n_heads_msa: int = 4  # heads of MSA row/column attention; head width c_m / heads
    n_heads_pair: int = 4  # heads of triangle attention; head width c_z / heads
    msa_intermediate_dim: int = 256  # hidden width of MSATransition (4 c_m, Alg. 9)
    pair_intermediate_dim: int = 512  # hidden width of PairTransition (4 c_z, Alg. 15)
    outer_product_dim: int = 32  # c of OuterProductMean (Alg. 10; AF2 uses 32)
    triangle_mult_dim: Optional[int] = None  # c of Alg. 11/12; None -> c_z (AF2: 128 = c_z)
    max_seq_len: int = 64  # N_res of the training proteins (longest when lengths vary)
    n_seqs: int = 16  # N_seq, MSA depth (first row = target sequence)
    pair_input_dim: int = 65  # relative-position one-hot bins: 2 * 32 + 1 (Alg. 4)
    dropout: float = 0.0  # row/column-wise dropout on residual branches (AF2: 0.15 MSA, 0.25 pair)
    eps: float = 1e-5  # LayerNorm epsilon
    opm_eps: float = 1e-3  # added to the mask count in OuterProductMean (Alg. 10)

    def __post_init__(self) -> None:
        if self.triangle_mult_dim is None:
            self.triangle_mult_dim = self.pair_dim
        self.validate()

    def validate(self) -> None:
        """Raise UsageError naming the first field that cannot build a model."""
        positive = [
            "vocab_size", "msa_dim", "pair_dim", "n_evoformer_blocks", "n_heads_msa",
            "n_heads_pair", "msa_intermediate_dim", "pair_intermediate_dim",
            "outer_product_dim", "triangle_mult_dim", "max_seq_len", "n_seqs",
            "pair_input_dim",
        ]
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UsageError(f"config {name} must be a positive integer, got {value!r}")
        if self.vocab_size < 21:
            raise UsageError(f"config vocab_size must be >= 21 (20 amino acids + unknown), got {self.vocab_size}")
        if self.msa_dim % self.n_heads_msa:
            raise UsageError(
                f"msa_dim ({self.msa_dim}) must be divisible by n_heads_msa ({self.n_heads_msa})")
        if self.pair_dim % self.n_heads_pair:
            raise UsageError(
                f"pair_dim ({self.pair_dim}) must be divisible by n_heads_pair ({self.n_heads_pair})")
        if self.pair_input_dim % 2 == 0:
            raise UsageError(
                f"pair_input_dim must be odd (2 * max_offset + 1 relative-position bins), got {self.pair_input_dim}")
        if not 0.0 <= self.dropout < 1.0:
            raise UsageError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.eps <= 0 or self.opm_eps <= 0:
            raise UsageError("eps and opm_eps must be positive")


# Named presets: the seed's three scaling configurations, plus "long" for long
# proteins (the README's long-protein sweep passes --benchmark-seq-lens 512,1024,2048).
# "batch_size" is the preset's default batch; every other key is a TinyOpenFoldConfig field.
PRESETS: Dict[str, Dict[str, int]] = {
    "tiny": dict(msa_dim=32, pair_dim=64, n_evoformer_blocks=2, max_seq_len=32, n_seqs=8,
                 msa_intermediate_dim=128, pair_intermediate_dim=256, batch_size=8),
    "small": dict(msa_dim=64, pair_dim=128, n_evoformer_blocks=4, max_seq_len=64, n_seqs=16,
                  msa_intermediate_dim=256, pair_intermediate_dim=512, batch_size=4),
    "medium": dict(msa_dim=128, pair_dim=256, n_evoformer_blocks=8, max_seq_len=128, n_seqs=32,
                   msa_intermediate_dim=512, pair_intermediate_dim=1024, batch_size=2),
    "long": dict(msa_dim=64, pair_dim=128, n_evoformer_blocks=4, max_seq_len=512, n_seqs=128,
                 msa_intermediate_dim=256, pair_intermediate_dim=512, batch_size=1),
}


def config_from_preset(name: str, **overrides) -> TinyOpenFoldConfig:
    """Build a config from a named preset, then apply field overrides."""
    if name not in PRESETS:
        raise UsageError(f"--preset: unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    fields = {k: v for k, v in PRESETS[name].items() if k != "batch_size"}
    fields.update(overrides)
    return TinyOpenFoldConfig(**fields)


# =============================================================================
# 2. Primitives: initialisation, masks, dropout, gated multi-head attention
# =============================================================================

# A large negative *finite* logit for masked keys: a row whose keys are all
# masked then gets a uniform softmax instead of NaN (AlphaFold 2's code uses 1e9 too).
MASK_LOGIT = -1e9
ATTENTION_IMPLEMENTATIONS = ("reference", "sdpa", "flex")
COMPILE_SCOPES = ("step", "block")  # --compile-scope (see make_objective)


class Linear(nn.Linear):
    """nn.Linear whose product goes through linear_product(), so that
    --weight-grad-stream reaches every layer. Same parameters, same state_dict."""

    side_weight_grads = False  # set by TinyOpenFold.configure(weight_grad_stream=)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear_product(x, self.weight, self.bias, self.side_weight_grads)


def linear(c_in: int, c_out: int, bias: bool = True, init: str = "default") -> nn.Linear:
    """nn.Linear (the Linear above) with AF2's initialisation (Suppl. 1.11.4).

    init="default": LeCun normal, std = 1 / sqrt(fan_in), bias 0. Two simplifications:
                    a plain normal where AF2 truncates it, and LeCun also for the
                    transitions' first layer, which AF2 initialises with He's
                    std sqrt(2 / fan_in) since a ReLU follows it.
    init="final":   all zeros, for the last layer of a residual branch, so a
                    fresh Evoformer block is the identity.
    init="gating":  weight 0 and bias 1, so a fresh sigmoid gate is ~0.73 open.
    """
    layer = Linear(c_in, c_out, bias=bias)
    with torch.no_grad():
        if init == "default":
            nn.init.normal_(layer.weight, std=1.0 / math.sqrt(c_in))
        elif init in ("final", "gating"):
            nn.init.zeros_(layer.weight)
        else:
            raise ValueError(f"unknown init {init!r}")
        if bias:
            nn.init.constant_(layer.bias, 1.0 if init == "gating" else 0.0)
    return layer


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """Upcast half precision to float32 for a sensitive reduction; keep float64."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def products_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype matrix products on x run in: autocast's where it is on, else x's own
    (what the hand-written kernels cast their inputs to, as F.linear or einsum would)."""
    return torch.get_autocast_dtype(x.device.type) if torch.is_autocast_enabled(x.device.type) else x.dtype


def mask_to_bias(mask: torch.Tensor) -> torch.Tensor:
    """[*, K] mask of 1 (real) / 0 (padding) -> additive logit bias 0 / -1e9."""
    return (1.0 - mask) * MASK_LOGIT


# --fuse-projections acts on GPUs only. On a 2-core CPU the separate products were
# faster (0.86x fused at the small size; results/cpu_2026-12-01), so there the
# flag changes nothing. The tests set this to True to compare the fused code on CPU.
FUSE_PROJECTIONS_ON_CPU = False


def fusing(x: torch.Tensor, fused: bool) -> bool:
    """Whether --fuse-projections acts on x: on a GPU, and on a CPU only if
    FUSE_PROJECTIONS_ON_CPU (the tests)."""
    return fused and (x.device.type != "cpu" or FUSE_PROJECTIONS_ON_CPU)


def project(x: torch.Tensor, layers: Sequence[nn.Linear], fused: bool, norm: Optional[nn.LayerNorm] = None,
            kernels: bool = False) -> tuple:
    """The outputs of several nn.Linear layers that read the same x (or norm(x)).

    fused=False: one matrix product per layer (the reference path).
    fused=True (--fuse-projections): the weights are concatenated along their
    output axis and applied as ONE matrix product, then split. Same function,
    same parameters (a checkpoint loads on either path); one GEMM of width
    sum(c_out) instead of several narrow ones, which on a GPU means fewer
    launches and more arithmetic per byte of x read. The concatenation is
    recomputed every call (a copy of the weights, tiny next to x), so autograd
    hands each layer its own gradient slice.

    A total width that is not a multiple of 8 gets zero rows up to the next one
    (the pair biases of Alg. 7, 13 and 14: H = 4 -> 8), which are computed and
    dropped: then each output row starts on a 16-byte boundary in bf16, as
    cuBLAS's fast kernels need; a 4-wide product and its two gradient products
    otherwise run on slow unaligned ones (results/h200_2026-12-03b, call 5).

    norm: a LayerNorm applied to x first. With fused projections and kernels
    (--triton-kernels), where ln_linear_acts_on(), the LayerNorm and the one product
    run as torch.ops.tinyopenfold.ln_linear: y = norm(x) is not stored.
    """
    widths = [layer.out_features for layer in layers]
    side = getattr(layers[0], "side_weight_grads", False)  # --weight-grad-stream (False for a plain nn.Linear)
    if ln_linear_acts_on(fused, kernels, x, norm):
        weight, bias = concatenated_weights(layers)
        dtype = products_dtype(x)  # as F.linear would cast them under autocast
        out = torch.ops.tinyopenfold.ln_linear(x.reshape(-1, x.shape[-1]), norm.weight, norm.bias, weight.to(dtype),
                                               None if bias is None else bias.to(dtype), norm.eps,
                                               weight_grads_on_side(x, side))
        return out.view(*x.shape[:-1], -1).split(widths, dim=-1)
    if norm is not None:
        x = norm(x)
    if not fusing(x, fused):
        return tuple(layer(x) for layer in layers)
    weight, bias = concatenated_weights(layers)
    pad = -sum(widths) % 8
    if pad:
        weight = torch.cat([weight, weight.new_zeros(pad, weight.shape[1])])
        bias = None if bias is None else torch.cat([bias, bias.new_zeros(pad)])
    return linear_product(x, weight, bias, side).split(widths + [pad], dim=-1)[:len(layers)]


def project_channels_first(x: torch.Tensor, layers: Sequence[nn.Linear], fused: bool) -> tuple:
    """As project(), for x [*, I, J, c_in], but each output as [*, c_out, I, J]:
    the layout in which the triangle multiplications run their per-channel
    matrix products. Unfused, layer(x) with its channel axis moved (a view).
    Fused, ONE product W @ x^T that writes the channels-first layout itself:
    cuBLAS reads the transposed x for free, where an elementwise kernel that
    transposes (the gating, or its gradient) reads or writes across strides.
    """
    if not fusing(x, fused):
        return tuple(layer(x).movedim(-1, -3) for layer in layers)
    weight, bias = concatenated_weights(layers)
    # One 2-D product over all of x's rows (batch included), so that its weight
    # gradient in backward is also one GEMM, not one per protein plus a sum.
    side = getattr(layers[0], "side_weight_grads", False)  # as in project()
    out = channels_first_product(weight, x.reshape(-1, x.shape[-1]), side)  # [sum c_out, * I J]
    out = out.unflatten(-1, x.shape[:-1]).movedim(0, -3)  # [*, sum c_out, I, J]
    if bias is not None:
        out = out + bias.to(out.dtype)[:, None, None]  # in the product's dtype, as F.linear under autocast
    return out.split([layer.out_features for layer in layers], dim=-3)


def concatenated_weights(layers: Sequence[nn.Linear]) -> tuple:
    """The weights [sum c_out, c_in] and biases (zeros where a layer has none, or
    None if no layer has one) of layers, concatenated along the output axis."""
    weight = torch.cat([layer.weight for layer in layers])
    if all(layer.bias is None for layer in layers):
        return weight, None
    return weight, torch.cat([layer.bias if layer.bias is not None else layer.weight.new_zeros(layer.out_features)
                              for layer in layers])


# --- A LayerNorm folded into the products after it (--fold-layer-norms) --------
#
# The pair-side LayerNorms (Alg. 7's LayerNorm(z), Alg. 11/12's two, Alg. 13/14's,
# Alg. 15's) feed only matrix products, so their weight gamma and bias beta can move
# into the products' weights and biases:
#
#     (xhat * gamma + beta) W^T + b  =  xhat (W diag gamma)^T + (b + W beta)
#
# with xhat the normalised x. Same function, other work in backward: the gradients
# of gamma and beta are no longer sums over every pair row beside the LayerNorm's
# input gradient (which Inductor computes in several passes, the largest piece of its
# kernels in the fastest default-size step: README, Against the targets) but come out
# of the products' weight gradients, which are computed anyway: dgamma = sum_o
# dW' * W, dbeta = W^T db', of the weight's size. The MSA side keeps its LayerNorms
# (there the fold gained nothing in isolation: results/h100_2026-12-08, call 2), and
# so does a pair transition that runs --triton-kernels' transition kernel, which
# computes its LayerNorm inside. The folded weights are rebuilt at every call (per
# chunk under --chunk-size, and again when a checkpoint recomputes), a few small
# weight-sized kernels each time.


def layer_norm_without_affine(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    """xhat: x normalised over its last axis as norm does, without its weight and bias."""
    return F.layer_norm(x, norm.normalized_shape, None, None, norm.eps)


class FoldedLinear:
    """nn.Linear `layer` reading norm(x), as a product that reads xhat: weight
    W diag(gamma), bias b + W beta (W beta alone where layer has none). It has what
    project(), project_channels_first() and concatenated_weights() read of an nn.Linear.

    The folded weight is computed in at least float32 (under --cast-once W is the bf16
    copy), so autocast rounds W gamma once; without autocast it is cast back to W's
    dtype (a bf16 model stays bf16). Its weight gradient stays on the main
    stream even with --weight-grad-stream: the fold's backward (dW' diag gamma, the sums
    for dgamma and dbeta) reads it right away, where the second stream's products may
    be read only after join_weight_grads()."""

    side_weight_grads = False

    def __init__(self, layer: nn.Linear, norm: nn.LayerNorm):
        self.out_features = layer.out_features
        device = layer.weight.device.type
        with torch.autocast(device, enabled=False):  # W beta in float32, not bf16
            w = at_least_fp32(layer.weight)
            weight = w * norm.weight  # [c_out, c_in] * [c_in]
            bias = torch.mv(w, norm.bias.to(w.dtype))  # W beta [c_out]
            if layer.bias is not None:
                bias = layer.bias + bias
        if not torch.is_autocast_enabled(device):
            weight, bias = weight.to(layer.weight.dtype), bias.to(layer.weight.dtype)
        self.weight, self.bias = weight, bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


def normalise_for(norm: nn.LayerNorm, x: torch.Tensor, layers: Sequence[nn.Linear], fold: bool) -> tuple:
    """(norm(x), layers), the input of products that read LayerNorm(x) and the products;
    fold (--fold-layer-norms): (xhat, the layers as FoldedLinear), the same function."""
    if not fold:
        return norm(x), tuple(layers)
    return layer_norm_without_affine(norm, x), tuple(FoldedLinear(layer, norm) for layer in layers)


# --- Weight gradients on a second CUDA stream (--weight-grad-stream) -----------
#
# In backward a product y = x W^T + b gives two products: dx = dy W, which the
# rest of backward waits for, and dW = dy^T x, which only the optimizer reads. The
# dW products are long-K GEMMs (K = every pair of every protein: 16,384 rows at the
# default size) that cuBLAS splits into partial products plus a reduction kernel,
# while the kernels on the critical path around them are short and leave most of
# the GPU idle. With the flag each dW runs on a second stream, forked from the
# main one where dy is ready, and joined back (join_weight_grads) before anything
# reads a weight gradient: in CastOnce's FrontPieces.backward, where --cast-once
# collects them, and again before the optimizer.
#
# Why the flag needs --cast-once: without it every weight is cast to bf16 in the
# step and its gradient cast back to float32 on the main stream right after its
# product, before any join could run. And under --compile Inductor may give dy's
# or x's memory to a later kernel while the second stream still reads it (the
# caching allocator's record_stream guards its own frees, not Inductor's reuse of
# its buffers), so the step then compiles with buffer reuse off (make_objective).

_WEIGHT_GRAD_STREAMS: Dict[torch.device, "torch.cuda.Stream"] = {}
_WEIGHT_GRADS_PENDING: set = set()  # devices whose second stream has work not yet joined
SIDE_WEIGHT_GRADS_ON_CPU = False  # the tests set this to run SideStreamProduct on a CPU (no streams there)


def _weight_grad(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """g @ x [N, K] for g [N, M] and x [M, K]: a weight gradient (g = dy^T, or dy
    channels first). On a GPU launched on the device's second stream: read it only
    after join_weight_grads()."""
    if not g.is_cuda:
        return g @ x
    main = torch.cuda.current_stream(g.device)
    side = _WEIGHT_GRAD_STREAMS.get(g.device)
    if side is None:
        side = _WEIGHT_GRAD_STREAMS[g.device] = torch.cuda.Stream(g.device)
    out = g.new_empty((g.shape[0], x.shape[1]))  # allocated on the main stream, which frees it after the join
    side.wait_stream(main)  # g and x are written
    with torch.cuda.stream(side):
        torch.mm(g, x, out=out)
    for t in (g, x, out):
        t.record_stream(side)  # the allocator hands their memory to main-stream work only after side's
    _WEIGHT_GRADS_PENDING.add(g.device)
    return out


def _weight_grad_fake(g, x):
    return g.new_empty((g.shape[0], x.shape[1]))


def weight_grad_product(g: torch.Tensor, x: torch.Tensor, side: bool) -> torch.Tensor:
    """g @ x, on the second stream if side: the weight gradients computed inside the
    hand-written kernels' backward operators (transition, ln_linear)."""
    return _weight_grad(g, x) if side else g @ x


if not hasattr(torch.ops.tinyopenfold, "weight_grad"):  # once per process, as register_operator below
    torch.library.custom_op("tinyopenfold::weight_grad", _weight_grad, mutates_args=()).register_fake(
        _weight_grad_fake)


def join_weight_grads() -> None:
    """Make each GPU's current stream wait for the weight gradients launched on its
    second stream (nothing to do when none are pending)."""
    for device in list(_WEIGHT_GRADS_PENDING):
        torch.cuda.current_stream(device).wait_stream(_WEIGHT_GRAD_STREAMS[device])
    _WEIGHT_GRADS_PENDING.clear()


class SideStreamProduct(torch.autograd.Function):
    """y = x W^T + b (x [*, K], W [N, K]), or channels_first: y = W x^T [N, M] (x [M, K],
    no bias). Backward is autograd's own (the same products, in the same layouts)
    except that dW goes through torch.ops.tinyopenfold.weight_grad: the second stream."""

    @staticmethod
    def forward(ctx, x, weight, bias, channels_first: bool):
        ctx.save_for_backward(x, weight)
        ctx.channels_first, ctx.has_bias = channels_first, bias is not None
        return torch.matmul(weight, x.t()) if channels_first else F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        if ctx.channels_first:  # dy [N, M]
            dx = dy.t() @ weight if ctx.needs_input_grad[0] else None
            return dx, torch.ops.tinyopenfold.weight_grad(dy, x), None, None
        dy2 = dy.reshape(-1, dy.shape[-1])  # [M, N]
        dx = dy @ weight if ctx.needs_input_grad[0] else None
        dw = torch.ops.tinyopenfold.weight_grad(dy2.t(), x.reshape(-1, x.shape[-1]))
        return dx, dw, dy2.sum(0) if ctx.has_bias else None, None


def weight_grads_on_side(x: torch.Tensor, enabled: bool) -> bool:
    """Whether a product of x takes SideStreamProduct: the flag, autograd on, and a GPU
    (a CPU only if SIDE_WEIGHT_GRADS_ON_CPU, the tests)."""
    return enabled and torch.is_grad_enabled() and (x.is_cuda or SIDE_WEIGHT_GRADS_ON_CPU)


def linear_product(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], side: bool) -> torch.Tensor:
    """F.linear(x, weight, bias); side (--weight-grad-stream): the same product with its
    weight gradient on the second stream, the inputs cast to autocast's dtype here, as
    F.linear would cast them."""
    if not weight_grads_on_side(x, side):
        return F.linear(x, weight, bias)
    dtype = products_dtype(x)
    return SideStreamProduct.apply(x.to(dtype), weight.to(dtype), None if bias is None else bias.to(dtype), False)


def channels_first_product(weight: torch.Tensor, x: torch.Tensor, side: bool) -> torch.Tensor:
    """weight @ x^T [N, M] for weight [N, K] and x [M, K]; side as in linear_product."""
    if not weight_grads_on_side(x, side):
        return torch.matmul(weight, x.t())
    dtype = products_dtype(x)
    return SideStreamProduct.apply(x.to(dtype), weight.to(dtype), None, True)


def traced(forward):
    """Run forward inside a profiler range named self.profile_name (e.g.
    "Alg11_TriangleMultiplicationOutgoing"), so PyTorch-profiler traces and
    TensorBoard show each Evoformer module under its algorithm's name."""

    @functools.wraps(forward)
    def wrapper(self, *args, **kwargs):
        if torch.compiler.is_compiling():  # compiled code has no Python ranges; its fused kernels show instead
            return forward(self, *args, **kwargs)
        with record_function(self.profile_name):
            return forward(self, *args, **kwargs)

    return wrapper


def chunked(fn, chunk_size: Optional[int], pieces, shared=(), out_dim: int = -3) -> torch.Tensor:
    """fn(*slices, *shared) computed chunk_size rows at a time (the --chunk-size path).

    pieces: (tensor, dim) pairs sliced together along their own dim (all of one
    length); shared: passed whole to every chunk; the chunk results are joined
    along out_dim. Rows must be independent, so every module below chunks along
    an axis it treats as a batch axis and the result is the unchunked one.
    With autograd on, each chunk runs under torch.utils.checkpoint: backward
    keeps only the chunk's inputs and recomputes its intermediates, so the
    activation memory of the module is that of one chunk (at the price of
    computing the chunked part twice). chunk_size None: fn on the whole tensors.
    """
    length = pieces[0][0].shape[pieces[0][1]]
    if chunk_size is None or length <= chunk_size:
        return fn(*(t for t, _ in pieces), *shared)
    outputs = []
    for start in range(0, length, chunk_size):
        part = [t.narrow(dim, start, min(chunk_size, length - start)) for t, dim in pieces]
        if torch.is_grad_enabled():
            outputs.append(checkpoint(fn, *part, *shared, use_reentrant=False))
        else:
            outputs.append(fn(*part, *shared))
    return torch.cat(outputs, dim=out_dim)


class SharedDropout(nn.Module):
    """Dropout whose mask is shared along one axis (Suppl. 1.11.6).

    DropoutRowwise on m [*, N_seq, N_res, c] or z [*, N_res, N_res, c] draws one
    mask [*, 1, N_res, c] for all rows (shared along dim -3): a dropped entry (j, c)
    is dropped in every row. DropoutColumnwise draws one mask [*, N_res, 1, c] for
    all columns (shared along dim -2). This is AF2's code (per_row orientation:
    broadcast over the first, row axis) and OpenFold's.
    """

    def __init__(self, p: float, shared_dim: int):
        super().__init__()
        self.p = p
        self.shared_dim = shared_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        shape = list(x.shape)
        shape[self.shared_dim] = 1
        keep = torch.bernoulli(x.new_full(shape, 1.0 - self.p))
        return x * keep / (1.0 - self.p)


class GatedAttention(nn.Module):
    """Gated multi-head attention shared by Alg. 7, 8, 13 and 14.

    For queries and keys along the same axis of x [*, Q, c_in]:
        q, k, v = LinearNoBias(x)                   per head, width c
        a       = softmax_k(q . k / sqrt(c) + sum(biases) + mask bias)
        o       = sigmoid(Linear(x)) * sum_k a v    the gate of Alg. 7 lines 4 and 6
        out     = Linear(concat_h o)                zero-initialised
    The softmax runs in float32 even under autocast, as in AF2.

    Three implementations of the same function (TinyOpenFold.configure picks one):
    "reference" writes the logits out as above; "sdpa" hands q, k, v and one
    additive mask (the biases plus the key-mask bias) to PyTorch's fused
    scaled_dot_product_attention, whose memory-efficient kernel never stores the
    [*, H, Q, K] logits and still returns the gradient of the bias; "flex" sends
    each attention to FlexAttention, whose generated kernel adds the key mask and,
    for Alg. 7, 13 and 14, reads the shared bias itself and sums its gradient over
    the rows. On a GPU, heads narrower than FLEX_MIN_HEAD_WIDTH, which
    FlexAttention's generated kernel does not take, use SDPA instead.
    """

    attention = "reference"  # or "sdpa" or "flex"
    chunk_size: Optional[int] = None  # rows (dim -3 of x) per chunk; None: all at once
    fuse_projections = False  # q, k, v and gate as one GEMM (see project())
    triton_kernels = False  # with fuse_projections, a LayerNorm before it joined to that GEMM (project(norm=))

    def __init__(self, c_in: int, n_heads: int, c_hidden_total: int):
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = c_hidden_total // n_heads
        self.linear_q = linear(c_in, c_hidden_total, bias=False)
        self.linear_k = linear(c_in, c_hidden_total, bias=False)
        self.linear_v = linear(c_in, c_hidden_total, bias=False)
        self.linear_g = linear(c_in, c_hidden_total, init="gating")
        self.linear_o = linear(c_hidden_total, c_in, init="final")

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        # [*, Q, H * c] -> [*, H, Q, c]
        return t.view(*t.shape[:-1], self.n_heads, self.head_dim).transpose(-2, -3)

    def forward(self, x: torch.Tensor, biases: Sequence[torch.Tensor], key_mask: torch.Tensor,
                norm: Optional[nn.LayerNorm] = None, projections: Optional[Sequence] = None) -> torch.Tensor:
        """x [*, R, Q, c_in]: R independent rows, each attending along its own axis
        (queries and keys are the same Q = K positions); key_mask [*, R, K]; each
        bias is shared by the rows and broadcasts to [*, 1, H, Q, K]. norm: the
        caller's LayerNorm, applied to x first (inside, so that project() may join
        it to the q/k/v/g product). projections: the q/k/v/g products to use instead
        of linear_q, linear_k, linear_v, linear_g (FoldedLinear, --fold-layer-norms)."""
        projections = projections or (self.linear_q, self.linear_k, self.linear_v, self.linear_g)
        return chunked(self._attend, self.chunk_size, [(x, -3), (key_mask, -2)],
                       shared=(norm, tuple(projections), *biases))

    def _attend(self, x: torch.Tensor, key_mask: torch.Tensor, norm: Optional[nn.LayerNorm],
                projections: tuple, *biases: torch.Tensor) -> torch.Tensor:
        q, k, v, g = project(x, projections, self.fuse_projections, norm=norm, kernels=self.triton_kernels)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)  # [*, H, Q or K, c]
        if self.attention == "flex" and (q.device.type == "cpu" or self.head_dim >= FLEX_MIN_HEAD_WIDTH):
            o = self._flex(q, k, v, biases, key_mask)
        elif self.attention in ("sdpa", "flex"):
            o = self._fused(q, k, v, biases, key_mask)
        else:
            logits = at_least_fp32(torch.einsum("...hqc,...hkc->...hqk", q / math.sqrt(self.head_dim), k))
            for bias in biases:  # logits [*, H, Q, K]
                logits = logits + at_least_fp32(bias)
            logits = logits + mask_to_bias(key_mask.to(logits.dtype))[..., None, None, :]
            a = torch.softmax(logits, dim=-1).to(v.dtype)
            o = torch.einsum("...hqk,...hkc->...hqc", a, v)  # [*, H, Q, c]
        o = o.transpose(-2, -3).reshape(*x.shape[:-1], -1)  # [*, Q, H * c]
        o = torch.sigmoid(g) * o
        return self.linear_o(o)

    @staticmethod
    def _fused(q, k, v, biases, key_mask) -> torch.Tensor:
        """softmax(q k^T / sqrt(c) + sum(biases) + mask bias) v by F.scaled_dot_product_attention.

        The additive mask is summed in float32, like the reference logits, then
        cast to the dtype of q (bf16 under autocast; the kernel accumulates the
        softmax in float32). It is materialised for the rows of this chunk:
        [rows, H, Q, K], as many numbers as the logits of the triangle attentions.
        (A single mask broadcast over the rows with stride 0 would avoid that, but
        on the H200 eager SDPA then took its math path for the triangle
        attentions, which stores float32 logits; see the README's Performance.)
        """
        *lead, R, H, Q, c = q.shape  # R rows, each its own attention
        K = k.shape[-2]
        # The fused kernels need the mask's key axis contiguous (stride 1); a transposed
        # key mask or a permuted bias would send SDPA to its slow, logit-storing math path.
        bias = mask_to_bias(at_least_fp32(key_mask).contiguous())[..., None, None, :]  # [*, R, 1, 1, K]
        for b in biases:
            bias = bias + at_least_fp32(b).contiguous()  # -> [*, R, H, Q, K], key axis contiguous
        bias = bias.to(q.dtype).expand(*lead, R, bias.shape[-3], Q, K)
        o = F.scaled_dot_product_attention(q.reshape(-1, H, Q, c), k.reshape(-1, H, K, c), v.reshape(-1, H, K, c),
                                           attn_mask=bias.reshape(-1, *bias.shape[-3:]))
        return o.view(*lead, R, H, Q, c)

    @staticmethod
    def _flex(q, k, v, biases, key_mask) -> torch.Tensor:
        """The same softmax(q k^T / sqrt(c) + sum(biases) + mask bias) v by FlexAttention.

        FlexAttention runs one generated kernel whose score_mod adds, to each logit
        of row r, the shared bias [*, H, Q, K] (one copy for all R rows, float32)
        and the row's key-mask bias. Nothing of size [R, H, Q, K] is ever stored:
        not the logits, not the mask, and not the bias gradient, which the backward
        kernel accumulates over the rows into one float32 [*, H, Q, K] buffer.
        (sdpa materialises the mask as [R, H, Q, K] bf16 and autograd then sums its
        gradient over R.) Alg. 8 has no bias: its score_mod adds the key mask only.
        """
        *lead, R, H, Q, c = q.shape
        K = k.shape[-2]
        mask_bias = mask_to_bias(at_least_fp32(key_mask)).reshape(-1, K)  # [L * R, K], L = prod(lead)

        def add_mask(score, b, h, q_idx, k_idx):  # b indexes the L * R rows
            return score + mask_bias[b, k_idx]

        score_mod = add_mask
        if biases:
            bias = functools.reduce(torch.add, [at_least_fp32(b) for b in biases])  # [*, 1, H, Q, K]
            # Contiguous, key axis last: the kernel reads a tile of bias[b, h] per block of
            # queries and adds a tile of gradient into it. The triangle bias arrives as a
            # permuted view ([*, j, k, H] memory); left so, both became strided accesses and
            # the medium step took 3 ms longer than with SDPA (results/h200_2026-12-02c).
            bias = bias.expand(*lead, 1, H, Q, K).reshape(-1, H, Q, K).contiguous()  # [L, H, Q, K]

            def add_biases(score, b, h, q_idx, k_idx):
                return score + bias[b // R, h, q_idx, k_idx] + mask_bias[b, k_idx]

            score_mod = add_biases
        o = flex_kernel(q)(q.reshape(-1, H, Q, c), k.reshape(-1, H, K, c), v.reshape(-1, H, K, c),
                           score_mod=score_mod, kernel_options=flex_kernel_options(q, K))
        return o.view(*lead, R, H, Q, c)


# FlexAttention's default tiles for head width 64 asked the H200 for 241 KB of shared
# memory (it has 227 KB) and failed to compile; two pipeline stages fit, and were also
# the faster setting at width 32 (results/h200_2026-12-02c). Not measured on ROCm.
FLEX_KERNEL_OPTIONS = {"fwd_num_stages": 2, "bwd_num_stages": 2}
# Short rows (K <= 128 keys, the small and medium presets): the backward's loops run over
# one or two tiles of 64, so software pipelining has nothing to overlap. Inductor's
# autotuning on the H200 (Alg. 7 and 13, small and medium: four cases) chose one stage and
# 4 warps every time, with 64-wide tiles best or within 4 % of best; its picks took 22-42 %
# less backward time alone. Alg. 8 takes the same options; the whole step, with them, was
# 1.065x (small) and 1.042x (medium) faster (results/h200_2026-12-02g). NVIDIA only: not
# measured on ROCm.
FLEX_SHORT_KEYS = 128
FLEX_SHORT_ROW_OPTIONS = {**FLEX_KERNEL_OPTIONS, "bwd_num_stages": 1, "bwd_num_warps": 4,
                          "bwd_BLOCK_M1": 64, "bwd_BLOCK_N1": 64, "bwd_BLOCK_M2": 64, "bwd_BLOCK_N2": 64}
FLEX_MIN_HEAD_WIDTH = 16  # torch 2.11 on the H200: "embedding dimension ... must be at least 16"


def flex_kernel_options(q: torch.Tensor, n_keys: int) -> Optional[dict]:
    """FlexAttention's kernel_options for queries q and n_keys keys (None on the CPU)."""
    if not q.is_cuda:
        return None
    if n_keys <= FLEX_SHORT_KEYS and torch.version.hip is None:
        return FLEX_SHORT_ROW_OPTIONS
    return FLEX_KERNEL_OPTIONS


def flex_kernel(q: torch.Tensor):
    """flex_attention as it should be called for q. Inside torch.compile (--compile)
    the call is traced into the model's graph and lowered to the generated kernel.
    Eagerly on a GPU, FlexAttention would run its unfused reference code, so the call
    goes through a compiled wrapper of its own (PyTorch's advice). On the CPU (the
    tests) it runs eagerly: the compiled CPU kernel has no backward."""
    if q.device.type == "cpu" or torch.compiler.is_compiling():
        return flex_attention
    return compiled_flex_attention()


# The compiled flex_attention of eager runs compiles once per input shape, and torch
# stops at 8 shapes (torch._dynamo.config.recompile_limit): past them it runs the call
# uncompiled, which on torch 2.11 fails ("Detected that you are using FX to symbolically
# trace a dynamo-optimized function"). Eval batches, chunk remainders and the single-sequence
# control can make more than 8; train() also pads flex batches to one length (pad_length).
FLEX_RECOMPILE_LIMIT = 64


@functools.cache
def compiled_flex_attention():
    """One torch.compile'd flex_attention for the process, made at its first use."""
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, FLEX_RECOMPILE_LIMIT)
    return torch.compile(flex_attention, dynamic=False)


# --triton-kernels runs the transitions through its kernels up to this width. On an H100
# (bf16, results/h100_2026-12-06b) the kernels beat the compiled PyTorch code at 64 and
# 128 channels (1.38x and 1.16x, forward + backward) but not at 256 (0.84x at best).
TRANSITION_KERNEL_WIDTH = 128


class Transition(nn.Module):
    """LayerNorm, Linear(c -> n c), ReLU, Linear(n c -> c): Alg. 9 and Alg. 15.

    Per element, so --chunk-size may cut it into row chunks (dim -3) freely.
    """

    chunk_size: Optional[int] = None
    triton_kernels = False  # the whole MLP as one kernel each way (torch.ops.tinyopenfold.transition), on a GPU
    fold_layer_norms = False  # the LayerNorm's weight and bias folded into linear_1 (FoldedLinear; PyTorch code only)

    def __init__(self, c: int, c_hidden: int, eps: float):
        super().__init__()
        self.layer_norm = nn.LayerNorm(c, eps=eps)
        self.linear_1 = linear(c, c_hidden)
        self.linear_2 = linear(c_hidden, c, init="final")

    @traced
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return chunked(self._mlp, self.chunk_size, [(x, -3)])

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:
        if triton_acts_on(self.triton_kernels, x) and x.shape[-1] <= TRANSITION_KERNEL_WIDTH:
            return self._mlp_kernels(x)
        x, (linear_1,) = normalise_for(self.layer_norm, x, (self.linear_1,), self.fold_layer_norms)
        return self.linear_2(torch.relu(linear_1(x)))

    def _mlp_kernels(self, x: torch.Tensor) -> torch.Tensor:
        """The same function through the hand-written kernels (--triton-kernels). The
        weights and biases are cast to autocast's dtype here, as F.linear would cast
        them; the LayerNorm's statistics and affine map stay in x's precision."""
        ln, l1, l2 = self.layer_norm, self.linear_1, self.linear_2
        dtype = products_dtype(x)
        save_h = torch.is_grad_enabled() and any(t.requires_grad for t in (x, *self.parameters()))
        out, _ = torch.ops.tinyopenfold.transition(
            x.reshape(-1, x.shape[-1]), ln.weight, ln.bias, l1.weight.to(dtype), l1.bias.to(dtype),
            l2.weight.to(dtype), l2.bias.to(dtype), ln.eps, save_h, weight_grads_on_side(x, l1.side_weight_grads))
        return out.view(x.shape)  # [*, C] in the products' dtype, as linear_2 returns it


# =============================================================================
# 3. MSA stack (Alg. 7-10)
# =============================================================================


class MSARowAttentionWithPairBias(nn.Module):
    """Jumper et al. 2021, Suppl. Alg. 7 "MSARowAttentionWithPairBias".

    Each MSA row attends over residues; the pair representation, layer-normed,
    gives one bias b_ij^h per head that all rows share. This is how the pair
    stack steers the MSA stack.
    """

    profile_name = "Alg7_MSARowAttentionWithPairBias"
    fold_layer_norms = False  # LayerNorm(z)'s weight and bias folded into linear_b (FoldedLinear)

    def __init__(self, cfg: TinyOpenFoldConfig):
        super().__init__()
        self.layer_norm_m = nn.LayerNorm(cfg.msa_dim, eps=cfg.eps)
        self.layer_norm_z = nn.LayerNorm(cfg.pair_dim, eps=cfg.eps)
        self.linear_b = linear(cfg.pair_dim, cfg.n_heads_msa, bias=False)
        self.attention = GatedAttention(cfg.msa_dim, cfg.n_heads_msa, cfg.msa_dim)

    @traced
    def forward(self, m: torch.Tensor, z: torch.Tensor, msa_mask: torch.Tensor) -> torch.Tensor:
        """m [*, N_seq, N_res, c_m], z [*, N_res, N_res, c_z], msa_mask [*, N_seq, N_res]."""
        z, layers = normalise_for(self.layer_norm_z, z, (self.linear_b,), self.fold_layer_norms)
        b, = project(z, layers, self.attention.fuse_projections)  # [*, N_res, N_res, H]
        b = b.permute(*range(b.dim() - 3), -1, -3, -2).unsqueeze(-4)  # [*, 1, H, N_res, N_res]
        return self.attention(m, [b], msa_mask, norm=self.layer_norm_m)  # attends over LayerNorm(m)


class MSAColumnAttention(nn.Module):
    """Jumper et al. 2021, Suppl. Alg. 8 "MSAColumnAttention".

    Gated attention over the sequences of each residue column, without pair
    bias. Implemented as row attention on the transposed MSA.
    """

    profile_name = "Alg8_MSAColumnAttention"

    def __init__(self, cfg: TinyOpenFoldConfig):
        super().__init__()
        self.layer_norm_m = nn.LayerNorm(cfg.msa_dim, eps=cfg.eps)
        self.attention = GatedAttention(cfg.msa_dim, cfg.n_heads_msa, cfg.msa_dim)

    @traced
    def forward(self, m: torch.Tensor, msa_mask: torch.Tensor) -> torch.Tensor:
        m_t = self.layer_norm_m(m.transpose(-2, -3))  # [*, N_res, N_seq, c_m]
        out = self.attention(m_t, [], msa_mask.transpose(-1, -2))
        return out.transpose(-2, -3)  # [*, N_seq, N_res, c_m]


class MSATransition(Transition):
    """Jumper et al. 2021, Suppl. Alg. 9 "MSATransition": a per-element 2-layer MLP."""

    profile_name = "Alg9_MSATransition"

    def __init__(self, cfg: TinyOpenFoldConfig):
        super().__init__(cfg.msa_dim, cfg.msa_intermediate_dim, cfg.eps)


class OuterProductMean(nn.Module):
    """Jumper et al. 2021, Suppl. Alg. 10 "OuterProductMean".

    The only path from the MSA to the pair representation. Two separate
    projections a, b of width c; for every residue pair the outer product
    a_si (x) b_sj is averaged over the MSA rows s that are real at both i and j:

        o_ij = sum_s mask_si mask_sj a_si (x) b_sj / (eps + sum_s mask_si mask_sj)

    then flattened (c * c) and projected to c_z. The mean of a (x) b over rows is
    where co-variation between columns i and j becomes visible to the model.
    The eps (1e-3) follows AF2; it only matters when no row is real. This is the
    supplement's order (the mean, then the output Linear); AF2's and OpenFold's code
    divide after the output Linear, so that its bias is divided by the count too.
    """

    profile_name = "Alg10_OuterProductMean"

    chunk_size: Optional[int] = None  # residues i per chunk of the [*, i, j, c, c] outer products
    fuse_projections = False  # a and b as one GEMM (see project())
    triton_kernels = False  # on a GPU: line 3 (product, division by the count) as a hand-written forward kernel, and
    # with fuse_projections lines 1-2 (LayerNorm(m) -> a, b) as ln_linear (see project())

    def __init__(self, cfg: TinyOpenFoldConfig):
        super().__init__()
        c = cfg.outer_product_dim
        self.eps = cfg.opm_eps
        self.layer_norm = nn.LayerNorm(cfg.msa_dim, eps=cfg.eps)
        self.linear_a = linear(cfg.msa_dim, c)
        self.linear_b = linear(cfg.msa_dim, c)
        self.linear_out = linear(c * c, cfg.pair_dim, init="final")

    @traced
    def forward(self, m: torch.Tensor, msa_mask: torch.Tensor) -> torch.Tensor:
        """m [*, N_seq, N_res, c_m], msa_mask [*, N_seq, N_res] -> [*, N_res, N_res, c_z]."""
        mask = msa_mask.unsqueeze(-1).to(m.dtype)  # [*, N_seq, N_res, 1]
        a, b = project(m, (self.linear_a, self.linear_b), self.fuse_projections, norm=self.layer_norm,
                       kernels=self.triton_kernels)  # from LayerNorm(m)
        a, b = a * mask, b * mask  # [*, N_seq, N_res, c] each
        return chunked(self._mean, self.chunk_size, [(a, -2), (msa_mask, -1)], shared=(b, msa_mask))

    def _mean(self, a, mask_i, b, mask_j) -> torch.Tensor:
        """Rows i of a, mask_i against all residues j of b, mask_j -> [*, i, j, c_z]."""
        # The division is kept in float32: the count can be ~1e3 and the sum large.
        count = torch.einsum("...si,...sj->...ij", at_least_fp32(mask_i.to(a.dtype)),
                             at_least_fp32(mask_j.to(a.dtype)))  # [*, N_res, N_res]
        if triton_acts_on(self.triton_kernels, a):
            dtype = products_dtype(a)  # a and b as the einsum below would take them
            inv = 1 / (self.eps + at_least_fp32(count))
            mean = torch.ops.tinyopenfold.outer_product_mean(a.to(dtype), b.to(dtype), inv)
            return self.linear_out(mean)  # [*, i, j, c_z]
        outer = torch.einsum("...sic,...sjd->...ijcd", a, b)  # [*, N_res, N_res, c, c]
        mean = at_least_fp32(outer) / (self.eps + count)[..., None, None]
        mean = mean.to(a.dtype).flatten(-2)  # [*, N_res, N_res, c * c]
        return self.linear_out(mean)


# =============================================================================
# 4. Pair stack (Alg. 11-15)
# =============================================================================


class TriangleProduct(torch.autograd.Function):
    """x[..., c, i, j] = sum_k a[..., c, i, k] b[..., c, j, k] (outgoing, a @ b^T) or
    sum_k a[..., c, k, i] b[..., c, k, j] (incoming, a^T @ b): line 4 of Alg. 11/12,
    channels first, with a backward written out (the --fuse-projections path).

    Through einsum, autograd returned one of the two gradients transposed (for
    a [c, i, k] tensor, a [c, k, i] layout), since a matrix product's backward
    is itself a product that may come out as the transpose. The next kernel,
    the gating backward that also sums the bias gradients, then read it across
    strides: 150-200 us, 16 of them a step, on the H200 at the medium size.
    Here each gradient is one matrix product that writes its tensor's own
    [c, rows, cols] layout (the GEMM reads the transposed operands at no cost),
    and that kernel took 96-122 us (results/h200_2026-12-02b).
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, outgoing: bool) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        ctx.outgoing = outgoing
        return a @ b.transpose(-1, -2) if outgoing else a.transpose(-1, -2) @ b

    @staticmethod
    def backward(ctx, dx: torch.Tensor):
        a, b = ctx.saved_tensors
        if ctx.outgoing:  # x = a b^T: da = dx b, db = dx^T a
            return dx @ b, dx.transpose(-1, -2) @ a, None
        return b @ dx.transpose(-1, -2), a @ dx, None  # x = a^T b: da = b dx^T, db = a dx


def triangle_product(a: torch.Tensor, b: torch.Tensor, outgoing: bool) -> torch.Tensor:
    """TriangleProduct on a, b [*, c, N, N] -> [*, c, N, N]. Under autocast the
    inputs are cast here, as autocast would cast einsum's: the backward runs
    outside autocast and must see the same half-precision tensors."""
    if torch.is_autocast_enabled(a.device.type):
        dtype = torch.get_autocast_dtype(a.device.type)
        a, b = a.to(dtype), b.to(dtype)
    return TriangleProduct.apply(a, b, outgoing)


# --- Hand-written Triton kernels (--triton-kernels, GPU) ----------------------
#
# Alg. 11/12 line 2, the gated projections of a triangle multiplication:
#     a = sigmoid(z W_ag^T + b_ag) * (z W_ap^T + b_ap) * mask,  b likewise.
# The four products are ONE matrix product P = W z^T, [4c, pairs] with pairs =
# B N N (as project_channels_first() fuses them). What follows the product is
# elementwise, and torch.compile's generated code for it made three passes
# over P's size per call on the H200: a bias add in the forward; in the
# backward a reduction that evaluated all four branches of a concatenation,
# at 2.6x its memory time, and a layout copy (results/h200_2026-12-02e).
# Written by hand:
#   forward:  one kernel reads P, the biases and the mask; writes a and b,
#             [*, c, N, N] each (the layout TriangleProduct reads);
#   backward: one kernel reads da, db, P, the biases and the mask; writes dP in
#             P's own [4c, pairs] layout (the input of the weight-gradient GEMM)
#             and, per program, each channel's sum of dP over its pairs, which
#             torch adds up into the bias gradient (no atomics: reproducible).
# Each element of P is read once in each direction. The kernels compute in
# float32 (float64 for float64 inputs) and store in P's dtype. There is no
# double backward (torch says so if asked), and --chunk-size does not chunk
# this part: P, a and b are whole, as on the other paths.

TRITON_ON_CPU = False  # the tests set this (with TRITON_INTERPRET=1) to run the kernels on the CPU


def triton_acts_on(enabled: bool, x: torch.Tensor) -> bool:
    """Whether a module's --triton-kernels flag (enabled) acts on x: on a GPU, and on a CPU
    only if TRITON_ON_CPU (the tests)."""
    return enabled and (x.device.type != "cpu" or TRITON_ON_CPU)


def triton_kernels_available() -> Optional[str]:
    """None if --triton-kernels can run here, else why not (one line)."""
    try:
        import tiny_openfold_kernels  # noqa: F401  (beside this script; imports triton)
    except ImportError as exc:
        return f"needs {exc.name or 'triton'} (Triton ships with PyTorch's CUDA and ROCm builds)"
    except Exception as exc:  # a broken Triton install fails in other ways
        return f"could not load Triton ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    if not torch.cuda.is_available() and not TRITON_ON_CPU:
        return "needs a CUDA or ROCm GPU"
    return None


def _gating_out_shape(p: torch.Tensor, mask: torch.Tensor) -> tuple:
    """[*, c, N, N] for p [4c, pairs] and mask [*, N, N], which must hold one value per pair."""
    torch._check(mask.numel() == p.shape[1] and p.shape[0] % 4 == 0,
                 lambda: f"triangle_gating: p {tuple(p.shape)} needs [4c, pairs] and mask one value per pair "
                         f"(got {tuple(mask.shape)}; expand a broadcast mask first)")
    return (*mask.shape[:-2], p.shape[0] // 4, *mask.shape[-2:])


def _triangle_gating(p: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(a, b), each [*, c, N, N] in p's dtype, from p = W z^T [4c, pairs] (row blocks
    a_g, a_p, b_g, b_p), bias [4c] (every projection has one) and mask [*, N, N]:
    line 2 of Alg. 11/12. A custom operator, so torch.compile calls the kernel
    as it is."""
    import tiny_openfold_kernels
    a = p.new_empty(_gating_out_shape(p, mask))
    b = torch.empty_like(a)
    with torch.cuda.device(p.device) if p.is_cuda else contextlib.nullcontext():
        tiny_openfold_kernels.gating_forward(p.contiguous(), bias.contiguous(), mask.contiguous(), a, b)
    return a, b


def _triangle_gating_fake(p, bias, mask):
    a = p.new_empty(_gating_out_shape(p, mask))
    return a, torch.empty_like(a)


def _triangle_gating_backward(da: torch.Tensor, db: torch.Tensor, p: torch.Tensor, bias: torch.Tensor,
                             mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(dp [4c, pairs] in p's dtype, dbias [4c] in bias's dtype) of triangle_gating."""
    import tiny_openfold_kernels
    _gating_out_shape(p, mask)
    dp = p.new_empty(p.shape)  # contiguous, whatever p's strides: the kernel writes [4c, pairs] in order
    with torch.cuda.device(p.device) if p.is_cuda else contextlib.nullcontext():
        partial = tiny_openfold_kernels.gating_backward(da.to(p.dtype).contiguous(), db.to(p.dtype).contiguous(),
                                                        p.contiguous(), bias.contiguous(), mask.contiguous(), dp)
    return dp, partial.sum(0).to(bias.dtype)  # the bias gradient: the programs' per-channel sums, added up


def _triangle_gating_backward_fake(da, db, p, bias, mask):
    _gating_out_shape(p, mask)
    return p.new_empty(p.shape), torch.empty_like(bias)


def _triangle_gating_setup(ctx, inputs, output):
    p, bias, mask = inputs
    ctx.save_for_backward(p, bias, mask)


def _triangle_gating_grad(ctx, da, db):
    p, bias, mask = ctx.saved_tensors
    da, db = (g if g is not None else torch.zeros(_gating_out_shape(p, mask), dtype=p.dtype, device=p.device)
              for g in (da, db))
    dp, dbias = torch.ops.tinyopenfold.triangle_gating_backward(da, db, p, bias, mask)
    return dp, dbias, None


def register_operator(name: str, impl, fake, grad, setup, backward=None, backward_fake=None) -> None:
    """torch.ops.tinyopenfold.<name> (impl; fake for shapes under torch.compile; grad
    and setup for autograd) and, where given, the operator <name>_backward that grad
    calls, so that torch.compile sees the backward as one operator too. Once per
    process: a second import of this file (as __main__ and by name) reuses the first's."""
    if hasattr(torch.ops.tinyopenfold, name):
        return
    op = torch.library.custom_op(f"tinyopenfold::{name}", impl, mutates_args=())
    op.register_fake(fake)
    op.register_autograd(grad, setup_context=setup)
    if backward is not None:
        torch.library.custom_op(f"tinyopenfold::{name}_backward", backward, mutates_args=()).register_fake(
            backward_fake)


register_operator("triangle_gating", _triangle_gating, _triangle_gating_fake, _triangle_gating_grad,
                  _triangle_gating_setup, _triangle_gating_backward, _triangle_gating_backward_fake)


# Alg. 10 line 3, the outer-product mean o_ij = sum_s a_si (x) b_sj / (eps + count_ij):
# a matrix product with rows (i, c) and columns (j, d), which a GEMM writes as
# [i, c, j, d]; the einsum path then copies it into the [i, j, (c d)] layout of
# linear_out's input, with the division and the cast. The forward kernel stores the
# product's tiles straight into that layout, scaled by 1 / (eps + count) on the way
# (tiny_openfold_kernels.opm_forward). The backward is the einsum path's own: the
# gradient scaled and contracted with b and a (hand-written backward kernels lost
# to it on an H200; see the kernels file).

def _opm_shapes(a: torch.Tensor, b: torch.Tensor, inv: torch.Tensor) -> tuple:
    """(L, S, I, C, J, D) for a [*, S, I, C], b [*, S, J, D] and inv [*, I, J]."""
    *lead, S, I, C = a.shape
    J, D = b.shape[-2:]
    torch._check(tuple(b.shape[:-2]) == (*lead, S) and tuple(inv.shape) == (*lead, I, J),
                 lambda: f"outer_product_mean: a {tuple(a.shape)}, b {tuple(b.shape)}, inv {tuple(inv.shape)}")
    return math.prod(lead), S, I, C, J, D


def _outer_product_mean(a: torch.Tensor, b: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
    """[*, I, J, C * D] in a's dtype from a [*, S, I, C], b [*, S, J, D] (same dtype)
    and inv [*, I, J] = 1 / (eps + count) (float32, or float64 for float64 a)."""
    import tiny_openfold_kernels
    L, S, I, C, J, D = _opm_shapes(a, b, inv)
    o = a.new_empty(*a.shape[:-3], I, J, C * D)
    with torch.cuda.device(a.device) if a.is_cuda else contextlib.nullcontext():
        tiny_openfold_kernels.opm_forward(a.reshape(L, S, I, C).contiguous(), b.reshape(L, S, J, D).contiguous(),
                                          inv.reshape(L, I, J).contiguous(), o)
    return o


def _outer_product_mean_fake(a, b, inv):
    _, _, I, C, J, D = _opm_shapes(a, b, inv)
    return a.new_empty(*a.shape[:-3], I, J, C * D)


def _outer_product_mean_setup(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _outer_product_mean_grad(ctx, g):
    """As autograd differentiates the einsum path: the gradient times 1 / (eps + count)
    in inv's precision, cast back, then one matrix product for each input. Both
    products read the gradient as one [(i c), (j d)] matrix, one the transpose of the
    other, so it is copied into that layout once (two einsums made two copies)."""
    a, b, inv = ctx.saved_tensors
    *lead, S, I, C = a.shape
    J, D = b.shape[-2:]
    g = (g.unflatten(-1, (C, D)).to(inv.dtype) * inv[..., None, None]).to(a.dtype)  # [*, I, J, C, D]
    g = g.transpose(-3, -2).reshape(*lead, I * C, J * D)  # [*, (i c), (j d)]
    da = b.reshape(*lead, S, J * D) @ g.transpose(-1, -2)  # [*, S, (i c)]
    db = a.reshape(*lead, S, I * C) @ g  # [*, S, (j d)]
    return da.view(a.shape), db.view(b.shape), None


register_operator("outer_product_mean", _outer_product_mean, _outer_product_mean_fake, _outer_product_mean_grad,
                  _outer_product_mean_setup)


# Alg. 9 and 15, the transitions: LayerNorm, Linear(C -> H), ReLU, Linear(H -> C) as
# one forward kernel per block of rows and one backward kernel plus the two weight
# gradients' GEMMs (tiny_openfold_kernels.transition_forward / _backward). The
# operator takes the weights already in the products' dtype (autocast's, as F.linear
# would cast them), so the cast and its gradient stay ordinary autograd.

def _transition_shapes(x: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor) -> Tuple[int, int, int]:
    """(M, C, H) for x [M, C], w1 [H, C], w2 [C, H]."""
    M, C = x.shape
    H = w1.shape[0]
    torch._check(tuple(w1.shape) == (H, C) and tuple(w2.shape) == (C, H) and w1.dtype == w2.dtype,
                 lambda: f"transition: x {tuple(x.shape)}, w1 {tuple(w1.shape)} {w1.dtype}, "
                         f"w2 {tuple(w2.shape)} {w2.dtype} (need [M, C], [H, C], [C, H] of one dtype)")
    return M, C, H


def _transition(x: torch.Tensor, ln_weight: torch.Tensor, ln_bias: torch.Tensor, w1: torch.Tensor,
                b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor, eps: float,
                save_h: bool, side_weight_grads: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """(out [M, C], h [M, H]) in w1's dtype: out = relu(LayerNorm(x) w1^T + b1) w2^T + b2 and
    its hidden activations h, which backward reads (an empty [0, H] when not save_h).
    side_weight_grads (--weight-grad-stream): backward's two weight gradients on the
    second stream (_weight_grad)."""
    import tiny_openfold_kernels
    M, C, H = _transition_shapes(x, w1, w2)
    out = x.new_empty((M, C), dtype=w1.dtype)
    h = x.new_empty((M if save_h else 0, H), dtype=w1.dtype)
    with torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext():
        tiny_openfold_kernels.transition_forward(
            x.contiguous(), ln_weight.contiguous(), ln_bias.contiguous(), w1.contiguous(),
            b1.to(w1.dtype).contiguous(), w2.contiguous(), b2.to(w1.dtype).contiguous(), eps, out,
            h if save_h else None)
    return out, h


def _transition_fake(x, ln_weight, ln_bias, w1, b1, w2, b2, eps, save_h, side_weight_grads=False):
    M, C, H = _transition_shapes(x, w1, w2)
    return x.new_empty((M, C), dtype=w1.dtype), x.new_empty((M if save_h else 0, H), dtype=w1.dtype)


def _transition_backward(dout: torch.Tensor, x: torch.Tensor, ln_weight: torch.Tensor, ln_bias: torch.Tensor,
                         w1: torch.Tensor, w2: torch.Tensor, h: torch.Tensor, eps: float,
                         side_weight_grads: bool = False) -> List[torch.Tensor]:
    """[dx, dw1, dw2, sums]: dx in x's dtype, dw1 = dh^T y and dw2 = dout^T h as cuBLAS products
    in w1's dtype, and sums [H + 3C] (float32; float64 for float64), the gradients of b1,
    the LayerNorm's weight and bias, and b2, one after another (_transition_grad splits them)."""
    import tiny_openfold_kernels
    M, C, H = _transition_shapes(x, w1, w2)
    x, dout = x.contiguous(), dout.to(w1.dtype).contiguous()
    dx, y, dh = torch.empty_like(x), x.new_empty((M, C), dtype=w1.dtype), torch.empty_like(h)
    with torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext():
        partial = tiny_openfold_kernels.transition_backward(
            dout, x, ln_weight.contiguous(), ln_bias.contiguous(), w1.contiguous(), w2.contiguous(),
            h.contiguous(), eps, dx, y, dh)
    return [dx, weight_grad_product(dh.t(), y, side_weight_grads), weight_grad_product(dout.t(), h, side_weight_grads),
            partial.sum(0)]  # the programs' partial sums, added up


def _transition_backward_fake(dout, x, ln_weight, ln_bias, w1, w2, h, eps, side_weight_grads=False):
    M, C, H = _transition_shapes(x, w1, w2)
    sums_dtype = torch.float64 if w1.dtype == torch.float64 else torch.float32
    return [torch.empty_like(x), torch.empty_like(w1), torch.empty_like(w2), x.new_empty(H + 3 * C, dtype=sums_dtype)]


def _transition_setup(ctx, inputs, output):
    x, ln_weight, ln_bias, w1, b1, w2, b2, eps, save_h, side = inputs
    ctx.save_for_backward(x, ln_weight, ln_bias, w1, w2, output[1])
    ctx.eps, ctx.save_h, ctx.b_dtypes, ctx.side = eps, save_h, (b1.dtype, b2.dtype), side


def _transition_grad(ctx, dout, dh_unused):
    x, ln_weight, ln_bias, w1, w2, h = ctx.saved_tensors
    torch._check(ctx.save_h, lambda: "transition: backward needs save_h=True in the forward call")
    dx, dw1, dw2, sums = torch.ops.tinyopenfold.transition_backward(dout, x, ln_weight, ln_bias, w1, w2, h, ctx.eps,
                                                                     ctx.side)
    C, H = x.shape[1], w1.shape[0]
    d_b1, d_ln_weight, d_ln_bias, d_b2 = sums.split((H, C, C, C))
    # each bias gradient rounded to the products' dtype, as F.linear's would be
    return (dx, d_ln_weight.to(ln_weight.dtype), d_ln_bias.to(ln_bias.dtype), dw1,
            d_b1.to(w1.dtype).to(ctx.b_dtypes[0]), dw2, d_b2.to(w1.dtype).to(ctx.b_dtypes[1]), None, None, None)


register_operator("transition", _transition, _transition_fake, _transition_grad, _transition_setup,
                  _transition_backward, _transition_backward_fake)


# A LayerNorm and the projection that reads it (project(x, ..., norm=) with fused
# projections): one forward kernel per block of rows and one backward kernel plus the
# weight gradient's GEMM (tiny_openfold_kernels.ln_linear_*). It runs on the MSA side,
# where the model passes norm=: Alg. 7's LayerNorm(m) -> q/k/v/g and Alg. 10's
# LayerNorm(m) -> a/b, up to LN_LINEAR_KERNEL_WIDTH input channels. The pair side
# (Alg. 7's LayerNorm(z) -> pair bias; Alg. 13/14's LayerNorm(z) -> pair bias and
# -> q/k/v/g, where the kernel would run the LayerNorm twice) keeps the compiled PyTorch code: with
# it there too the small step was 0.05 ms slower, and on the MSA side only 0.07 ms
# faster (H100, results/h100_2026-12-06c calls 10, 12). At 128 channels (the medium
# MSA) it gained nothing on any H100 and cost 0.42-0.47 ms a step on one
# (results/h100_2026-12-07b), so the width is 64: the default size's MSA.
# LN_LINEAR_KERNELS = False: the PyTorch code everywhere.
LN_LINEAR_KERNELS = True
LN_LINEAR_KERNEL_WIDTH = 64


def ln_linear_acts_on(fused: bool, kernels: bool, x: torch.Tensor, norm: Optional[nn.LayerNorm]) -> bool:
    """Whether project(x, ..., norm=norm) runs torch.ops.tinyopenfold.ln_linear: a
    LayerNorm with its weight and bias (the operator takes both), fused projections and
    --triton-kernels acting on x, x contiguous, at most LN_LINEAR_KERNEL_WIDTH channels,
    and LN_LINEAR_KERNELS on."""
    return (LN_LINEAR_KERNELS and norm is not None and norm.weight is not None and norm.bias is not None
            and fusing(x, fused) and triton_acts_on(kernels, x) and x.is_contiguous()
            and x.shape[-1] <= LN_LINEAR_KERNEL_WIDTH)


def _ln_linear_shapes(x: torch.Tensor, weight: torch.Tensor) -> Tuple[int, int, int]:
    """(M, C, N) for x [M, C] and weight [N, C]."""
    (M, C), N = x.shape, weight.shape[0]
    torch._check(tuple(weight.shape) == (N, C),
                 lambda: f"ln_linear: x {tuple(x.shape)}, weight {tuple(weight.shape)} (need [M, C], [N, C])")
    return M, C, N


def _ln_linear(x: torch.Tensor, ln_weight: torch.Tensor, ln_bias: torch.Tensor, weight: torch.Tensor,
               bias: Optional[torch.Tensor], eps: float, side_weight_grads: bool = False) -> torch.Tensor:
    """LayerNorm(x) weight^T + bias, [M, N] in weight's dtype (side_weight_grads: backward's
    weight gradient on the second stream, as in _transition)."""
    import tiny_openfold_kernels
    M, C, N = _ln_linear_shapes(x, weight)
    out = x.new_empty((M, N), dtype=weight.dtype)
    with torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext():
        tiny_openfold_kernels.ln_linear_forward(
            x.contiguous(), ln_weight.contiguous(), ln_bias.contiguous(), weight.contiguous(),
            None if bias is None else bias.to(weight.dtype).contiguous(), eps, out)
    return out


def _ln_linear_fake(x, ln_weight, ln_bias, weight, bias, eps, side_weight_grads=False):
    M, C, N = _ln_linear_shapes(x, weight)
    return x.new_empty((M, N), dtype=weight.dtype)


def _ln_linear_backward(dout: torch.Tensor, x: torch.Tensor, ln_weight: torch.Tensor, ln_bias: torch.Tensor,
                        weight: torch.Tensor, eps: float, side_weight_grads: bool = False) -> List[torch.Tensor]:
    """[dx, dweight, sums]: dx in x's dtype, dweight = dout^T y (cuBLAS) in weight's dtype,
    and sums [N + 2C] (float32; float64 for float64): the gradients of the bias and of
    the LayerNorm's weight and bias, one after another."""
    import tiny_openfold_kernels
    M, C, N = _ln_linear_shapes(x, weight)
    x, dout = x.contiguous(), dout.to(weight.dtype).contiguous()
    dx, y = torch.empty_like(x), x.new_empty((M, C), dtype=weight.dtype)
    with torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext():
        partial = tiny_openfold_kernels.ln_linear_backward(
            dout, x, ln_weight.contiguous(), ln_bias.contiguous(), weight.contiguous(), eps, dx, y)
    return [dx, weight_grad_product(dout.t(), y, side_weight_grads), partial.sum(0)]


def _ln_linear_backward_fake(dout, x, ln_weight, ln_bias, weight, eps, side_weight_grads=False):
    M, C, N = _ln_linear_shapes(x, weight)
    sums_dtype = torch.float64 if weight.dtype == torch.float64 else torch.float32
    return [torch.empty_like(x), torch.empty_like(weight), x.new_empty(N + 2 * C, dtype=sums_dtype)]


def _ln_linear_setup(ctx, inputs, output):
    x, ln_weight, ln_bias, weight, bias, eps, side = inputs
    ctx.save_for_backward(x, ln_weight, ln_bias, weight)
    ctx.eps, ctx.bias_dtype, ctx.side = eps, None if bias is None else bias.dtype, side


def _ln_linear_grad(ctx, dout):
    x, ln_weight, ln_bias, weight = ctx.saved_tensors
    dx, dweight, sums = torch.ops.tinyopenfold.ln_linear_backward(dout, x, ln_weight, ln_bias, weight, ctx.eps,
                                                                  ctx.side)
    d_bias, d_ln_weight, d_ln_bias = sums.split((weight.shape[0], x.shape[1], x.shape[1]))
    # the bias gradient rounded to the product's dtype, as F.linear's would be
    d_bias = None if ctx.bias_dtype is None else d_bias.to(weight.dtype).to(ctx.bias_dtype)
    return dx, d_ln_weight.to(ln_weight.dtype), d_ln_bias.to(ln_bias.dtype), dweight, d_bias, None, None


register_operator("ln_linear", _ln_linear, _ln_linear_fake, _ln_linear_grad, _ln_linear_setup,
                  _ln_linear_backward, _ln_linear_backward_fake)


class TriangleMultiplicationOutgoing(nn.Module):
    """Jumper et al. 2021, Suppl. Alg. 11 "TriangleMultiplicationOutgoing".

    Edge ij is updated from the two edges leaving i and j towards every third
    residue k: sum_k a_ik * b_jk. Gated projections a, b (zeroed at masked
    pairs), a LayerNorm on the product and an output gate g_ij.
    """

    profile_name = "Alg11_TriangleMultiplicationOutgoing"

    outgoing = True
    chunk_size: Optional[int] = None  # output rows i per chunk
    fuse_projections = False  # a_g, a_p, b_g, b_p as one GEMM (project_channels_first()); TriangleProduct
    triton_kernels = False  # that GEMM, then the gating as one hand-written kernel (triangle_gating); TriangleProduct
    fold_layer_norms = False  # both LayerNorms' weights and biases folded into the products after them (FoldedLinear)

    def __init__(self, cfg: TinyOpenFoldConfig):
        super().__init__()
        c = cfg.triangle_mult_dim
        self.layer_norm_in = nn.LayerNorm(cfg.pair_dim, eps=cfg.eps)
        self.linear_a_g = linear(cfg.pair_dim, c, init="gating")
        self.linear_a_p = linear(cfg.pair_dim, c)
        self.linear_b_g = linear(cfg.pair_dim, c, init="gating")
        self.linear_b_p = linear(cfg.pair_dim, c)
        self.linear_g = linear(cfg.pair_dim, cfg.pair_dim, init="gating")
        self.layer_norm_out = nn.LayerNorm(c, eps=cfg.eps)
        self.linear_z = linear(c, cfg.pair_dim, init="final")

    @traced
    def forward(self, z: torch.Tensor, pair_mask: torch.Tensor) -> torch.Tensor:
        """z [*, N_res, N_res, c_z], pair_mask [*, N_res, N_res]."""
        z, (*projections, linear_g) = normalise_for(
            self.layer_norm_in, z, (self.linear_a_g, self.linear_a_p, self.linear_b_g, self.linear_b_p, self.linear_g),
            self.fold_layer_norms)  # line 1
        # a and b are kept channels first, [*, c, N_res, N_res]: for each channel the
        # update is a plain matrix product over k (line 4), which is what a GPU runs.
        if triton_acts_on(self.triton_kernels, z):  # line 2 as P = W z^T, then one kernel (triangle_gating)
            weight, bias = concatenated_weights(projections)
            p = channels_first_product(weight, z.reshape(-1, z.shape[-1]),
                                       linear_g.side_weight_grads)  # [4c, * N_res N_res]
            mask = pair_mask.expand(z.shape[:-1])  # one value per pair, as the kernel reads it
            a, b = torch.ops.tinyopenfold.triangle_gating(p, bias, mask)  # [*, c, N_res, N_res] each
        else:
            mask = pair_mask.unsqueeze(-3).to(z.dtype)  # [*, 1, N_res, N_res]
            a_g, a_p, b_g, b_p = project_channels_first(z, projections, self.fuse_projections)
            a = torch.sigmoid(a_g) * a_p * mask  # [*, c, N_res, N_res]
            b = torch.sigmoid(b_g) * b_p * mask  # [*, c, N_res, N_res]
        g = linear_g(z)  # gate logits [*, N_res, N_res, c_z]
        # Output row i needs row i of a (outgoing: a_ik) or its column (incoming: a_ki), and all of b.
        return chunked(self._combine, self.chunk_size, [(a, -2 if self.outgoing else -1), (g, -3)], shared=(b,))

    def _combine(self, a: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Rows i of a (channels first) and of the gate logits g [*, i, N_res, c_z] -> rows i of the update."""
        if fusing(a, self.fuse_projections) or triton_acts_on(self.triton_kernels, a):  # the same products; a backward that keeps layouts
            x = triangle_product(a, b, self.outgoing).movedim(-3, -1)  # [*, i, N_res, c]
        elif self.outgoing:
            x = torch.einsum("...cik,...cjk->...ijc", a, b)  # Alg. 11 line 4: sum_k a_ik * b_jk
        else:
            x = torch.einsum("...cki,...ckj->...ijc", a, b)  # Alg. 12 line 4: sum_k a_ki * b_kj
        x, (linear_z,) = normalise_for(self.layer_norm_out, x, (self.linear_z,), self.fold_layer_norms)
        return torch.sigmoid(g) * linear_z(x)


class TriangleMultiplicationIncoming(TriangleMultiplicationOutgoing):
    """Jumper et al. 2021, Suppl. Alg. 12 "TriangleMultiplicationIncoming".

    As Alg. 11 but with the edges arriving at i and j: sum_k a_ki * b_kj.
    """

    profile_name = "Alg12_TriangleMultiplicationIncoming"

    outgoing = False


class TriangleAttentionStartingNode(nn.Module):
    """Jumper et al. 2021, Suppl. Alg. 13 "TriangleAttentionStartingNode".

    Edge ij attends to all edges ik that start at the same node i, biased by the
    third edge of the triangle, jk:

        a_ijk = softmax_k(q_ij . k_ik / sqrt(c) + b_jk),  o_ij = g_ij * sum_k a_ijk v_ik

    Without b_jk this would be plain axial attention; the bias is what makes it
    a triangle update.
    """

    profile_name = "Alg13_TriangleAttentionStartingNode"
    fold_layer_norms = False  # the LayerNorm's weight and bias folded into linear_b and q/k/v/g (FoldedLinear)

    def __init__(self, cfg: TinyOpenFoldConfig):
        super().__init__()
        self.layer_norm = nn.LayerNorm(cfg.pair_dim, eps=cfg.eps)
        self.linear_b = linear(cfg.pair_dim, cfg.n_heads_pair, bias=False)
        self.attention = GatedAttention(cfg.pair_dim, cfg.n_heads_pair, cfg.pair_dim)

    @traced
    def forward(self, z: torch.Tensor, pair_mask: torch.Tensor) -> torch.Tensor:
        return self._attend(z, pair_mask)

    def _attend(self, z: torch.Tensor, pair_mask: torch.Tensor) -> torch.Tensor:
        """z [*, N_res(i), N_res(j), c_z], pair_mask [*, N_res, N_res]."""
        att = self.attention
        z, (linear_b, *projections) = normalise_for(
            self.layer_norm, z, (self.linear_b, att.linear_q, att.linear_k, att.linear_v, att.linear_g),
            self.fold_layer_norms)
        b, = project(z, (linear_b,), att.fuse_projections)  # [*, N_res(j), N_res(k), H]
        b = b.permute(*range(b.dim() - 3), -1, -3, -2).unsqueeze(-4)  # [*, 1, H, j, k]
        # Batch over i; queries j, keys k; key (i, k) is real if pair_mask[i, k].
        return att(z, [b], pair_mask, projections=projections)


class TriangleAttentionEndingNode(TriangleAttentionStartingNode):
    """Jumper et al. 2021, Suppl. Alg. 14 "TriangleAttentionEndingNode".

    a_ijk = softmax_k(q_ij . k_kj / sqrt(c) + b_ki), o_ij = g_ij * sum_k a_ijk v_kj:
    exactly Alg. 13 applied to the transposed pair representation (i <-> j) and
    transposed back.
    """

    profile_name = "Alg14_TriangleAttentionEndingNode"

    @traced
    def forward(self, z: torch.Tensor, pair_mask: torch.Tensor) -> torch.Tensor:
        out = self._attend(z.transpose(-2, -3), pair_mask.transpose(-1, -2))
        return out.transpose(-2, -3)


class PairTransition(Transition):
    """Jumper et al. 2021, Suppl. Alg. 15 "PairTransition": a per-pair 2-layer MLP."""

    profile_name = "Alg15_PairTransition"

    def __init__(self, cfg: TinyOpenFoldConfig):
        super().__init__(cfg.pair_dim, cfg.pair_intermediate_dim, cfg.eps)


# =============================================================================
# 5. Evoformer block, input embedder, distance head, model
# =============================================================================


class EvoformerBlock(nn.Module):
    """Jumper et al. 2021, Suppl. Alg. 6 "EvoformerStack", one block (lines 2-10).

    Each sub-module starts with its own LayerNorm (pre-LN) and is added to the
    residual stream; forward() is the algorithm, line by line.
    """

    profile_name = "Alg6_EvoformerBlock"

    def __init__(self, cfg: TinyOpenFoldConfig):
        super().__init__()
        self.msa_row_attention = MSARowAttentionWithPairBias(cfg)
        self.msa_column_attention = MSAColumnAttention(cfg)
        self.msa_transition = MSATransition(cfg)
        self.outer_product_mean = OuterProductMean(cfg)
        self.triangle_mult_outgoing = TriangleMultiplicationOutgoing(cfg)
        self.triangle_mult_incoming = TriangleMultiplicationIncoming(cfg)
        self.triangle_attention_starting = TriangleAttentionStartingNode(cfg)
        self.triangle_attention_ending = TriangleAttentionEndingNode(cfg)
        self.pair_transition = PairTransition(cfg)
        self.dropout_msa_row = SharedDropout(cfg.dropout, shared_dim=-3)  # one mask for all rows
        self.dropout_pair_row = SharedDropout(cfg.dropout, shared_dim=-3)
        self.dropout_pair_col = SharedDropout(cfg.dropout, shared_dim=-2)  # one mask for all columns

    @traced
    def forward(self, m, z, msa_mask, pair_mask):
        m = m + self.dropout_msa_row(self.msa_row_attention(m, z, msa_mask))  # line 2
        m = m + self.msa_column_attention(m, msa_mask)  # line 3
        m = m + self.msa_transition(m)  # line 4
        z = z + self.outer_product_mean(m, msa_mask)  # line 5
        z = z + self.dropout_pair_row(self.triangle_mult_outgoing(z, pair_mask))  # line 6
        z = z + self.dropout_pair_row(self.triangle_mult_incoming(z, pair_mask))  # line 7
        z = z + self.dropout_pair_row(self.triangle_attention_starting(z, pair_mask))  # line 8
        z = z + self.dropout_pair_col(self.triangle_attention_ending(z, pair_mask))  # line 9
        z = z + self.pair_transition(z)  # line 10
        return m, z


def relative_position_features(residue_index: torch.Tensor, n_bins: int = 65) -> torch.Tensor:
    """Jumper et al. 2021, Suppl. Alg. 4 "relpos": one-hot of clipped offsets.

    residue_index [*, N_res] (integers) -> [*, N_res, N_res, n_bins] float32 with
    d_ij = clip(r_i - r_j, -v, v) + v and v = (n_bins - 1) // 2 (32 for 65 bins).
    """
    v = (n_bins - 1) // 2
    d = residue_index[..., :, None] - residue_index[..., None, :]
    d = torch.clamp(d, -v, v) + v
    return F.one_hot(d.long(), n_bins).float()


class InputEmbedder(nn.Module):
    """Jumper et al. 2021, Suppl. Alg. 3 "InputEmbedder" (with Alg. 4 relpos).

    m_si = E_msa[msa_si] + E_target_m[t_i]
    z_ij = E_left[t_i] + E_right[t_j] + Linear(relpos_ij)
    t is the target sequence (the first MSA row). AF2 applies Linear layers (with
    bias) to one-hot features; an nn.Embedding is the same family of functions (a row
    per token, which can absorb the bias), but it starts at nn.Embedding's N(0, 1),
    not at AF2's LeCun std 1/sqrt(fan_in) (1/sqrt(22) for the target features; see
    linear()).
    """

    profile_name = "Alg3_InputEmbedder"

    def __init__(self, cfg: TinyOpenFoldConfig):
        super().__init__()
        self.msa_embedding = nn.Embedding(cfg.vocab_size, cfg.msa_dim)
        self.target_to_msa = nn.Embedding(cfg.vocab_size, cfg.msa_dim)
        self.target_left = nn.Embedding(cfg.vocab_size, cfg.pair_dim)
        self.target_right = nn.Embedding(cfg.vocab_size, cfg.pair_dim)
        self.relpos = linear(cfg.pair_input_dim, cfg.pair_dim)

    @traced
    def forward(self, msa_tokens: torch.Tensor, pair_features: torch.Tensor):
        target = msa_tokens[:, 0]  # [B, N_res]
        m = self.msa_embedding(msa_tokens) + self.target_to_msa(target).unsqueeze(1)  # [B, N_seq, N_res, c_m]
        z = self.target_left(target)[:, :, None] + self.target_right(target)[:, None, :]  # [B, N_res, N_res, c_z]
        z = z + self.relpos(pair_features)
        return m, z


class DistanceHead(nn.Module):
    """Predicts the C-alpha distance d_ij (angstrom) of every residue pair.

    A simplification of AF2's distogram head (Suppl. 1.9.8), as in the seed:
    one regressed distance per pair instead of 64 bins. Its logits are symmetrised,
    (l_ij + l_ji) / 2 (AF2 adds l_ij + l_ji to its distogram logits, the same up to a
    factor of 2), and a softplus keeps distances non-negative.
    """

    profile_name = "DistanceHead"

    def __init__(self, cfg: TinyOpenFoldConfig, initial_distance: float = 12.0):
        super().__init__()
        self.linear = linear(cfg.pair_dim, 1)
        with torch.no_grad():  # start near a typical distance: softplus^-1(12 A)
            self.linear.bias.fill_(math.log(math.expm1(initial_distance)))

    @traced
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        logits = at_least_fp32(self.linear(z))  # [B, N_res, N_res, 1]
        logits = 0.5 * (logits + logits.transpose(1, 2))
        return F.softplus(logits)


class TinyOpenFold(nn.Module):
    """Input embedder -> N Evoformer blocks -> distance head.

    forward(msa_tokens [B, N_seq, N_res] int64,
            pair_features [B, N_res, N_res, pair_input_dim] float,
            msa_mask [B, N_seq, N_res] (1 real, 0 padding) = None,
            residue_mask [B, N_res] = None)
      -> {"distances": [B, N_res, N_res, 1], "msa": m, "pair": z}

    configure() switches between implementations of the same function (the
    fast paths); none changes a parameter, so a checkpoint trained on one path
    loads on any other.
    """

    checkpoint_blocks = False

    def __init__(self, config: TinyOpenFoldConfig):
        super().__init__()
        self.config = config
        self.input_embedder = InputEmbedder(config)
        self.evoformer = nn.ModuleList(EvoformerBlock(config) for _ in range(config.n_evoformer_blocks))
        self.distance_head = DistanceHead(config)

    def configure(self, attention: str = "reference", chunk_size: Optional[int] = None,
                  checkpoint_blocks: bool = False, fuse_projections: bool = False,
                  triton_kernels: bool = False, weight_grad_stream: bool = False,
                  fold_layer_norms: bool = False) -> "TinyOpenFold":
        """attention: "reference" (einsum, softmax, einsum) or "sdpa" (fused kernel) in
        all four attentions (Alg. 7, 8, 13, 14), or "flex" (FlexAttention in all
        four; on a GPU, heads narrower than FLEX_MIN_HEAD_WIDTH use SDPA).
        chunk_size: rows per chunk of the attentions, transitions, outer-product mean
        and triangle multiplications (see chunked()). checkpoint_blocks: keep only each
        block's inputs for backward and recompute the block (torch.utils.checkpoint).
        fuse_projections: projections that read the same input (q/k/v/gate of each
        attention, a_g/a_p/b_g/b_p of each triangle multiplication, a/b of the OPM)
        as one matrix product each (see project(), project_channels_first()).
        triton_kernels: hand-written Triton kernels where there is one: the gated
        projections of the triangle multiplications (triangle_gating), the
        outer-product mean's product and division (outer_product_mean, forward),
        the transitions, Alg. 9 and 15 (transition, forward and backward), and, with
        fuse_projections too, the MSA side's LayerNorm and the projection after it,
        Alg. 7 and 10, up to 64 channels (ln_linear, forward and backward).
        weight_grad_stream: on a GPU, the weight gradients of the nn.Linear products
        on a second CUDA stream (SideStreamProduct; the run joins them before its
        optimizer reads them). fold_layer_norms: the pair-side LayerNorms' weights and
        biases folded into the products that read them (FoldedLinear), whose weight
        gradients then stay on the main stream (Alg. 7, 11-14, and 15 where its PyTorch
        code runs)."""
        if attention not in ATTENTION_IMPLEMENTATIONS:
            raise UsageError(f"--attention: expected one of {', '.join(ATTENTION_IMPLEMENTATIONS)}, got {attention!r}")
        if attention == "flex" and flex_attention is None:
            raise UsageError(f"--attention flex: needs a torch with FlexAttention (tested: 2.11, 2.13); "
                             f"this is torch {torch.__version__}")
        unavailable = triton_kernels_available() if triton_kernels else None
        if unavailable:
            raise UsageError(f"--triton-kernels: {unavailable}; leave the flag out")
        if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
            raise UsageError(f"--chunk-size: must be a positive integer, got {chunk_size!r}")
        self.checkpoint_blocks = checkpoint_blocks
        for module in self.modules():
            if isinstance(module, (GatedAttention, Transition, OuterProductMean, TriangleMultiplicationOutgoing)):
                module.chunk_size = chunk_size
            if isinstance(module, GatedAttention):
                module.attention = attention
            if isinstance(module, (GatedAttention, OuterProductMean, TriangleMultiplicationOutgoing)):
                module.fuse_projections = bool(fuse_projections)
            if isinstance(module, (TriangleMultiplicationOutgoing, OuterProductMean, Transition, GatedAttention)):
                module.triton_kernels = bool(triton_kernels)
            if isinstance(module, Linear):
                module.side_weight_grads = bool(weight_grad_stream)
            if isinstance(module, (MSARowAttentionWithPairBias, TriangleMultiplicationOutgoing,
                                   TriangleAttentionStartingNode, PairTransition)):
                module.fold_layer_norms = bool(fold_layer_norms)
        return self

    def forward(self, msa_tokens, pair_features, msa_mask=None, residue_mask=None):
        B, S, N = msa_tokens.shape
        if residue_mask is None:
            residue_mask = msa_mask[:, 0] if msa_mask is not None else msa_tokens.new_ones(B, N)
        residue_mask = residue_mask.float()
        if msa_mask is None:
            msa_mask = residue_mask[:, None, :].expand(B, S, N)
        msa_mask = msa_mask.float() * residue_mask[:, None, :]  # padding residues are never real
        pair_mask = residue_mask[:, :, None] * residue_mask[:, None, :]  # [B, N_res, N_res]

        m, z = self.input_embedder(msa_tokens, pair_features)
        for block in self.evoformer:
            if self.checkpoint_blocks and torch.is_grad_enabled():
                # Keep m, z for backward; recompute the block's activations there (same RNG for dropout).
                m, z = checkpoint(block, m, z, msa_mask, pair_mask, use_reentrant=False)
            else:
                m, z = block(m, z, msa_mask, pair_mask)
        return {"distances": self.distance_head(z), "msa": m, "pair": z}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def analytic_flops(cfg: TinyOpenFoldConfig, batch_size: int, n_res: Optional[int] = None,
                   n_seq: Optional[int] = None) -> Dict[str, float]:
    """Forward FLOPs of each module (summed over blocks), multiply-add = 2.

    Counts the matrix products (linear layers, attention logits and weighted
    sums, the outer product, the triangle contractions), which is what
    torch.utils.flop_counter.FlopCounterMode counts; elementwise work (softmax,
    sigmoid, LayerNorm) is left out. B batch, S N_seq, N N_res:

      Alg. 7  q,k,v,g,out 5 * 2BSN c_m^2 + pair bias 2BN^2 c_z H_m + logits and AV 2 * 2BSN^2 c_m
      Alg. 8  q,k,v,g,out 5 * 2BSN c_m^2 + logits and AV 2 * 2BNS^2 c_m
      Alg. 9  2 * 2BSN c_m c_hidden
      Alg. 10 a,b 2 * 2BSN c_m c + outer 2BN^2 S c^2 + mask count 2BN^2 S + out 2BN^2 c^2 c_z
      Alg. 11/12 a,b 4 * 2BN^2 c_z c + gate 2BN^2 c_z^2 + sum_k 2BN^3 c + out 2BN^2 c c_z   (O(N^3))
      Alg. 13/14 q,k,v,g,out 5 * 2BN^2 c_z^2 + bias 2BN^2 c_z H_z + logits and AV 2 * 2BN^3 c_z  (O(N^3))
      Alg. 15 2 * 2BN^2 c_z c_hidden
    plus the relative-position embedding 2BN^2 * 65 c_z and the head 2BN^2 c_z.
    A training step costs 3x the forward matrix work (the backward computes
    the gradient of each product's two operands), less the operand gradients
    nobody needs: relpos features and masks; see analytic_train_flops.
    """
    B, N, S = batch_size, n_res or cfg.max_seq_len, n_seq or cfg.n_seqs
    cm, cz, c_opm, c_mul = cfg.msa_dim, cfg.pair_dim, cfg.outer_product_dim, cfg.triangle_mult_dim
    L = cfg.n_evoformer_blocks
    per_block = {
        "Alg7_MSARowAttentionWithPairBias": 10 * B * S * N * cm ** 2 + 2 * B * N ** 2 * cz * cfg.n_heads_msa
        + 4 * B * S * N ** 2 * cm,
        "Alg8_MSAColumnAttention": 10 * B * S * N * cm ** 2 + 4 * B * N * S ** 2 * cm,
        "Alg9_MSATransition": 4 * B * S * N * cm * cfg.msa_intermediate_dim,
        "Alg10_OuterProductMean": 4 * B * S * N * cm * c_opm + 2 * B * N ** 2 * S * c_opm ** 2
        + 2 * B * N ** 2 * S + 2 * B * N ** 2 * c_opm ** 2 * cz,
        "Alg11_TriangleMultiplicationOutgoing": 10 * B * N ** 2 * cz * c_mul + 2 * B * N ** 2 * cz ** 2
        + 2 * B * N ** 3 * c_mul,
        "Alg13_TriangleAttentionStartingNode": 10 * B * N ** 2 * cz ** 2 + 2 * B * N ** 2 * cz * cfg.n_heads_pair
        + 4 * B * N ** 3 * cz,
        "Alg15_PairTransition": 4 * B * N ** 2 * cz * cfg.pair_intermediate_dim,
    }
    per_block["Alg12_TriangleMultiplicationIncoming"] = per_block["Alg11_TriangleMultiplicationOutgoing"]
    per_block["Alg14_TriangleAttentionEndingNode"] = per_block["Alg13_TriangleAttentionStartingNode"]
    flops = {"Alg3_InputEmbedder": 2.0 * B * N ** 2 * cfg.pair_input_dim * cz}
    flops.update({k: float(L * v) for k, v in sorted(per_block.items(), key=lambda kv: int(kv[0][3:5].rstrip("_")))})
    flops["DistanceHead"] = 2.0 * B * N ** 2 * cz
    return flops


def analytic_train_flops(cfg: TinyOpenFoldConfig, batch_size: int, n_res: Optional[int] = None,
                         n_seq: Optional[int] = None) -> float:
    """Forward + backward FLOPs of one training step (the optimizer's are negligible)."""
    fwd = analytic_flops(cfg, batch_size, n_res, n_seq)
    B, N, S = batch_size, n_res or cfg.max_seq_len, n_seq or cfg.n_seqs
    no_grad = 2.0 * B * N ** 2 * S * cfg.n_evoformer_blocks  # the OPM mask count: forward only
    no_input_grad = fwd["Alg3_InputEmbedder"]  # relpos features are data: weight gradient only
    return 3 * sum(fwd.values()) - 2 * no_grad - no_input_grad


# =============================================================================
# 6. Synthetic proteins with co-evolution
# =============================================================================
#
# Each sample is drawn in three steps, all seeded by (seed, sample index):
#   1. a C-alpha trace: a random walk of 3.8 A steps with C-alpha bond angles
#      of 85-150 degrees, confined to a sphere sized like a globular domain
#      (R_g ~ 2.2 N^0.38 A), with no two non-bonded atoms closer than 4 A;
#   2. a Potts model on its sequence: each column allows 6 residues (random
#      fields), and a sparse set of contacting pairs is coupled "lock and key"
#      (residue a at i favours residue perm_ij(a) at j);
#   3. an MSA: the target is sampled from the Potts model, then rows evolve
#      from it along a two-level tree by Gibbs resampling, so mutations at one
#      end of a coupled contact are compensated at the other.
# A single sequence reveals nothing about which pairs touch (every allowed
# residue pair is equally likely a priori). The MSA reveals it twice: by
# co-variation across rows, and by conservation, since coupled sites mutate
# less (a change must be compensated), as contacting residues do in real
# proteins. The evaluation's controls separate the two (Section 7).

N_AMINO = 20  # tokens 0..19; token 20 is "unknown" and pads shorter proteins
PAD_TOKEN = 20
CA_STEP = 3.8  # angstrom between consecutive C-alpha atoms
CLASH_DISTANCE = 4.0  # minimum non-bonded C-alpha distance
CONTACT_CUTOFF = 8.0  # C-alpha contact threshold
DISTANCE_CLIP = 22.0  # targets are clipped here: beyond it, "far" is all that matters


def sample_ca_trace(n: int, rng: np.random.Generator, n_candidates: int = 48, max_tries: int = 20) -> np.ndarray:
    """A compact, clash-free C-alpha trace of n residues, [n, 3] in angstrom.

    The walk starts at a uniformly random point of the confining sphere (not
    its centre: a chain end pinned to the core would let position alone predict
    contacts). Each step draws n_candidates directions at bond angles 85-150
    degrees and takes the first that stays inside the sphere without a clash.
    Candidates are checked for clashes in order, only until one passes: the
    same choice as checking all of them, for a fraction of the arithmetic (the
    data loader's workers spend most of a sample here and in the MSA).
    """
    radius = math.sqrt(5.0 / 3.0) * 2.2 * n ** 0.38 + 1.0
    cos_lo, cos_hi = math.cos(math.radians(95)), math.cos(math.radians(30))
    for _ in range(max_tries):
        x = np.zeros((n, 3))
        x[0] = _random_unit(rng, 1)[0] * radius * rng.random() ** (1 / 3)
        ok = True
        for t in range(1, n):
            dirs = _random_unit(rng, n_candidates)
            if t >= 2:  # turn angle 30-95 deg from the previous bond = bond angle 150-85 deg
                prev = (x[t - 1] - x[t - 2]) / CA_STEP
                cos_turn = rng.uniform(cos_lo, cos_hi, n_candidates)
                perp = dirs - (dirs @ prev)[:, None] * prev
                perp /= _norms(perp)[:, None] + 1e-12
                dirs = cos_turn[:, None] * prev + np.sqrt(1 - cos_turn ** 2)[:, None] * perp
            cand = x[t - 1] + CA_STEP * dirs  # [K, 3]
            chosen = next((k for k in np.flatnonzero(_norms(cand) <= radius)
                           if t < 2 or _norms(cand[k] - x[: t - 1]).min() >= CLASH_DISTANCE), None)
            if chosen is None:
                ok = False
                break
            x[t] = cand[chosen]
        if ok:
            return x
    raise RuntimeError(f"could not build a clash-free chain of {n} residues")


def _norms(v: np.ndarray) -> np.ndarray:
    """Euclidean norms of the rows of v [..., 3]: np.linalg.norm(v, axis=-1)'s own
    arithmetic (same bits), without its per-call checks."""
    return np.sqrt(np.add.reduce(v * v, axis=-1))


def _random_unit(rng: np.random.Generator, k: int) -> np.ndarray:
    v = rng.normal(size=(k, 3))
    return v / _norms(v)[:, None]


def distance_matrix(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)


@dataclass
class PottsModel:
    """P(x) ~ exp(sum_i h_i(x_i) + sum_(i,j) J_ij(x_i, x_j)) on a sparse set of
    contacting pairs, each residue with at most P coupled partners.

    Column i allows A residues (tokens allowed[i]); sequences are sampled as
    local indices 0..A-1 into those and mapped to tokens at the end. Sites and
    pairs are grouped ("coloured") so that each group can be redrawn at once.
    """

    allowed: np.ndarray  # [N, A] the residue tokens each column allows
    fields: np.ndarray  # [N, A] h_i over the allowed residues
    partner: np.ndarray  # [N, P] coupled partner of each slot, -1 for none
    couplings: np.ndarray  # [N, P, A, A] J(a at i, b at partner); zeros for empty slots
    pairs: np.ndarray  # [n_pairs, 2] coupled residue pairs (i < j), all in contact
    site_groups: List[np.ndarray]  # no two sites of a group are coupled
    pair_groups: List[np.ndarray]  # no pair of a group touches another's sites or their partners


def make_potts_model(dist: np.ndarray, rng: np.random.Generator, n_allowed: int = 6, coupling: float = 4.0,
                     max_partners: int = 2, min_separation: int = 4) -> PottsModel:
    """Random fields (n_allowed residues per column) and "lock-and-key"
    couplings on a random subset of the contacts with |i - j| >= min_separation:
    J_ij(a, b) = coupling if b = perm_ij(a), a random pairing of the residues the
    two columns allow. No residue is special a priori, so one sequence says
    nothing about which pairs touch."""
    n, A, P = len(dist), n_allowed, max_partners
    allowed = np.argsort(rng.random((n, N_AMINO)), axis=1)[:, :A]  # [N, A]
    fields = rng.normal(0.0, 1.0, (n, A))
    partner = np.full((n, P), -1, dtype=np.int64)
    couplings = np.zeros((n, P, A, A))
    degree = np.zeros(n, dtype=np.int64)
    pairs = []
    ii, jj = np.nonzero(np.triu(dist < CONTACT_CUTOFF, k=min_separation))
    for idx in rng.permutation(len(ii)):
        i, j = ii[idx], jj[idx]
        if degree[i] >= P or degree[j] >= P:
            continue
        J = np.zeros((A, A))
        J[np.arange(A), rng.permutation(A)] = coupling  # lock a -> key perm(a)
        partner[i, degree[i]], couplings[i, degree[i]] = j, J
        partner[j, degree[j]], couplings[j, degree[j]] = i, J.T
        degree[i] += 1
        degree[j] += 1
        pairs.append((i, j))
    pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return PottsModel(allowed, fields, partner, couplings, pairs,
                      _group_sites(partner), _group_pairs(pairs, partner))


def _group_sites(partner: np.ndarray) -> List[np.ndarray]:
    """Greedy colouring: a site joins the first group holding none of its partners."""
    colour = np.full(len(partner), -1)
    for i in range(len(partner)):
        taken = {colour[k] for k in partner[i] if k >= 0}
        c = 0
        while c in taken:  # the smallest colour none of its partners has
            c += 1
        colour[i] = c
    return [np.flatnonzero(colour == c) for c in range(colour.max() + 1)]


def _group_pairs(pairs: np.ndarray, partner: np.ndarray) -> List[np.ndarray]:
    """Greedy grouping of pairs whose joint redraws do not depend on each other:
    a pair's sites may not be, or be partners of, another pair's sites."""
    groups: List[list] = []
    sites: List[set] = []  # sites of each group's pairs
    reach: List[set] = []  # those sites and their partners
    for e, (i, j) in enumerate(pairs):
        own = {int(i), int(j)}
        near = own | {int(k) for k in partner[[i, j]].ravel() if k >= 0}
        for g in range(len(groups)):
            if not (own & reach[g]) and not (near & sites[g]):
                groups[g].append(e)
                sites[g] |= own
                reach[g] |= near
                break
        else:
            groups.append([e])
            sites.append(set(own))
            reach.append(set(near))
    return [np.array(g, dtype=np.int64) for g in groups]


def _slot_table(potts: PottsModel, sites: np.ndarray) -> tuple:
    """What _gather_terms needs for sites' partner slots, looked up once per group:
    partner indices [m, P] (empty slots point at site 0, whose J there is 0), the
    couplings J_t [m, P, b, a] and the index grids of the gather."""
    partner = potts.partner[sites]
    m, P = partner.shape
    return (partner.clip(min=0), potts.couplings[sites].transpose(0, 1, 3, 2),
            np.arange(m)[None, :, None], np.arange(P)[None, None, :])


def _gather_terms(table: tuple, seqs: np.ndarray) -> np.ndarray:
    """[R, m, P, A]: J(a at site, current residue of each partner slot)."""
    partner, J_t, m_index, p_index = table
    return J_t[m_index, p_index, seqs[:, partner]]


def _gumbel_argmax(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A sample from softmax(logits) along the last axis."""
    return np.argmax(logits + rng.gumbel(size=logits.shape), axis=-1)


def gibbs_sweeps(potts: PottsModel, seqs: np.ndarray, n_sweeps: int, rate: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """Evolve rows seqs [R, N] (local residue indices). Each sweep, row r
    redraws, with probability rate[r] each:
      - every site from its Potts conditional. A lone change at one end of a
        coupled contact breaks a lock, so coupled sites change rarely
        (conservation);
      - every coupled pair jointly from its conditional: a double mutation
        that keeps the lock (compensation, the co-variation the MSA records).
    Groups of independent sites (pairs) are redrawn in one vectorised step;
    what does not change between sweeps (slots, couplings, fields) is looked up
    once, before them."""
    seqs = seqs.copy()
    R, P = seqs.shape[0], potts.partner.shape[1]
    rows_hit = lambda m: rng.random((R, m)) < rate[:, None]  # noqa: E731
    site_groups = [(sites, potts.fields[sites][None], _slot_table(potts, sites)) for sites in potts.site_groups]
    pair_groups = []
    for group in potts.pair_groups:
        i, j = potts.pairs[group, 0], potts.pairs[group, 1]
        slot_i = (potts.partner[i] == j[:, None]).argmax(axis=1)  # where j sits among i's partners
        slot_j = (potts.partner[j] == i[:, None]).argmax(axis=1)
        pair_groups.append((i, j, _slot_table(potts, i), _slot_table(potts, j),
                            (np.arange(P) != slot_i[:, None])[None, :, :, None],  # i's other partners
                            (np.arange(P) != slot_j[:, None])[None, :, :, None],
                            potts.fields[i][None, :, :, None] + potts.fields[j][None, :, None, :]
                            + potts.couplings[i, slot_i][None]))  # [1, q, A, A]: the pair's own terms
    for _ in range(n_sweeps):
        for sites, fields, table in site_groups:
            logits = fields + _gather_terms(table, seqs).sum(axis=2)  # [R, m, A]
            new = _gumbel_argmax(logits, rng)
            seqs[:, sites] = np.where(rows_hit(len(sites)), new, seqs[:, sites])
        for i, j, table_i, table_j, others_of_i, others_of_j, own in pair_groups:
            others_i = (_gather_terms(table_i, seqs) * others_of_i).sum(2)
            others_j = (_gather_terms(table_j, seqs) * others_of_j).sum(2)
            joint = own + others_i[..., :, None] + others_j[..., None, :]  # [R, q, A, A]
            A = joint.shape[-1]
            flat = _gumbel_argmax(joint.reshape(R, len(i), A * A), rng)
            hit = rows_hit(len(i))
            seqs[:, i] = np.where(hit, flat // A, seqs[:, i])
            seqs[:, j] = np.where(hit, flat % A, seqs[:, j])
    return seqs


def sample_msa(potts: PottsModel, n_seqs: int, rng: np.random.Generator, n_clades: int = 4,
               rate_range=(0.2, 0.6), sweeps: int = 3, target_sweeps: int = 10) -> np.ndarray:
    """[n_seqs, N] int64 MSA of residue tokens on a two-level tree: row 0, the
    target, is a Potts sample (Gibbs from a random start); clade ancestors
    evolve from it, and leaves from their ancestor, each at its own rate."""
    n = potts.fields.shape[0]
    target = gibbs_sweeps(potts, _gumbel_argmax(potts.fields, rng)[None], target_sweeps, np.ones(1), rng)
    rows = target
    if n_seqs > 1:
        k = min(n_clades, n_seqs - 1)
        ancestors = gibbs_sweeps(potts, np.repeat(target, k, axis=0), sweeps, rng.uniform(*rate_range, k), rng)
        leaves = ancestors[rng.integers(0, k, n_seqs - 1)]
        leaves = gibbs_sweeps(potts, leaves, sweeps, rng.uniform(*rate_range, n_seqs - 1), rng)
        rows = np.concatenate([target, leaves])
    return potts.allowed[np.arange(n)[None, :], rows].astype(np.int64)  # local index -> token


def make_sample(seq_len: int, n_seqs: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """One synthetic protein: MSA [S, N], C-alpha distances [N, N], residue index [N]."""
    coords = sample_ca_trace(seq_len, rng)
    dist = distance_matrix(coords)
    msa = sample_msa(make_potts_model(dist, rng), n_seqs, rng)
    return {"msa": msa, "distances": dist.astype(np.float32), "residue_index": np.arange(seq_len)}


class SyntheticProteinDataset(torch.utils.data.Dataset):
    """Sample idx is generated on demand from the seed (seed, idx): nothing is
    stored, any worker can make any sample, and a resumed run sees exactly the
    samples an uninterrupted one would have.
    """

    def __init__(self, size: int, seq_len: int, n_seqs: int, seed: int, min_seq_len: Optional[int] = None):
        self.size = size
        self.seq_len = seq_len
        self.min_seq_len = min_seq_len or seq_len
        self.n_seqs = n_seqs
        self.seed = seed

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, idx: int) -> Dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, idx])
        n = int(rng.integers(self.min_seq_len, self.seq_len + 1))
        return make_sample(n, self.n_seqs, rng)


def collate_proteins(samples: List[Dict[str, np.ndarray]], pad_to: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Pad a list of samples to the longest (or to pad_to residues, so every batch
    has one shape: what compiled code wants, see pad_length); masks mark real
    residues (1) and padding (0)."""
    B = len(samples)
    S = samples[0]["msa"].shape[0]
    N = max([s["msa"].shape[1] for s in samples] + [pad_to or 0])
    msa = torch.full((B, S, N), PAD_TOKEN, dtype=torch.long)
    dist = torch.zeros(B, N, N)
    residue_mask = torch.zeros(B, N)
    residue_index = torch.zeros(B, N, dtype=torch.long)
    for b, s in enumerate(samples):
        n = s["msa"].shape[1]
        msa[b, :, :n] = torch.from_numpy(s["msa"])
        dist[b, :n, :n] = torch.from_numpy(s["distances"])
        residue_mask[b, :n] = 1
        residue_index[b, :n] = torch.from_numpy(s["residue_index"])
        residue_index[b, n:] = torch.arange(n, N)
    msa_mask = residue_mask[:, None, :].expand(B, S, N).contiguous()
    return {"msa_tokens": msa, "distances": dist, "residue_mask": residue_mask,
            "msa_mask": msa_mask, "residue_index": residue_index}


def apc_contact_scores(msa: np.ndarray) -> np.ndarray:
    """Covariance coupling scores with average product correction, [N, N].

    C_ij(a, b) = f_ij(a, b) - f_i(a) f_j(b); s_ij = ||C_ij||_F;
    APC: s_ij - s_i. s_.j / s_.. . A classic, model-free contact predictor: if
    it finds contacts, the MSA carries the signal.
    """
    S, n = msa.shape
    onehot = np.eye(N_AMINO + 1)[msa].reshape(S, n * (N_AMINO + 1))
    f = onehot.mean(0)
    cov = (onehot.T @ onehot) / S - np.outer(f, f)
    cov = cov.reshape(n, N_AMINO + 1, n, N_AMINO + 1)
    s = np.sqrt((cov ** 2).sum(axis=(1, 3)))
    np.fill_diagonal(s, 0.0)
    mean_row = s.sum(1) / (n - 1)
    return s - np.outer(mean_row, mean_row) / (s.sum() / (n * (n - 1)))


def top_l5_precision(scores: np.ndarray, dist: np.ndarray, min_separation: int = 12) -> float:
    """Fraction of the top L/5 scored pairs with |i-j| >= min_separation that are contacts."""
    n = len(dist)
    ii, jj = np.triu_indices(n, k=min_separation)
    if len(ii) == 0:
        return float("nan")
    k = max(1, n // 5)
    top = np.argsort(-scores[ii, jj], kind="stable")[:k]
    return float((dist[ii[top], jj[top]] < CONTACT_CUTOFF).mean())


# =============================================================================
# 7. Metrics and the separation-only baseline
# =============================================================================


def pair_loss_mask(residue_mask: torch.Tensor) -> torch.Tensor:
    """[B, N, N]: real residue pairs i != j (the diagonal is 0 A by definition)."""
    N = residue_mask.shape[-1]
    off_diag = 1.0 - torch.eye(N, device=residue_mask.device)
    return residue_mask[:, :, None] * residue_mask[:, None, :] * off_diag


def distance_loss(pred: torch.Tensor, true: torch.Tensor, residue_mask: torch.Tensor) -> torch.Tensor:
    """Masked mean squared error (A^2) against distances clipped at 22 A, in float32."""
    mask = pair_loss_mask(residue_mask)
    err = (pred.squeeze(-1).float() - true.clamp(max=DISTANCE_CLIP)) ** 2
    return (err * mask).sum() / mask.sum().clamp(min=1.0)


class SeparationBaseline:
    """The best predictor that sees only |i - j|: the mean clipped distance at
    each separation, estimated on structures of the training distribution.
    Its MSE is what a model that ignores the MSA converges to.
    """

    def __init__(self, seq_len: int, seed: int, n_structures: int = 256, min_seq_len: Optional[int] = None):
        sums = np.zeros(seq_len)
        counts = np.zeros(seq_len)
        lo = min_seq_len or seq_len
        for idx in range(n_structures):
            rng = np.random.default_rng([seed, idx])
            n = int(rng.integers(lo, seq_len + 1))
            d = np.minimum(distance_matrix(sample_ca_trace(n, rng)), DISTANCE_CLIP)
            sep = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
            np.add.at(sums, sep, d)
            np.add.at(counts, sep, 1)
        self.profile = torch.tensor(sums / np.maximum(counts, 1), dtype=torch.float32)

    def predict(self, residue_index: torch.Tensor) -> torch.Tensor:
        sep = (residue_index[:, :, None] - residue_index[:, None, :]).abs().clamp(max=len(self.profile) - 1)
        return self.profile.to(residue_index.device)[sep].unsqueeze(-1)


def contact_precision(pred: torch.Tensor, true: torch.Tensor, residue_mask: torch.Tensor) -> List[float]:
    """Per-sample top-L/5 long-range (|i-j| >= 12) contact precision; score = -distance."""
    out = []
    for b in range(pred.shape[0]):
        n = int(residue_mask[b].sum())
        p = pred[b, :n, :n, 0].float().cpu().numpy()
        t = true[b, :n, :n].float().cpu().numpy()
        value = top_l5_precision(-p, t)
        if not math.isnan(value):
            out.append(value)
    return out


def contact_density(true: torch.Tensor, residue_mask: torch.Tensor, min_separation: int = 12) -> float:
    """Fraction of long-range pairs in contact: the precision of a random guess."""
    hits = total = 0
    for b in range(true.shape[0]):
        n = int(residue_mask[b].sum())
        ii, jj = np.triu_indices(n, k=min_separation)
        d = true[b, :n, :n].cpu().numpy()[ii, jj]
        hits += int((d < CONTACT_CUTOFF).sum())
        total += len(ii)
    return hits / max(total, 1)


def shuffle_msa_columns(msa_tokens: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Control: permute rows 2..S independently within every column. Keeps each
    column's residue frequencies (conservation), destroys co-variation."""
    B, S, N = msa_tokens.shape
    out = msa_tokens.clone()
    if S > 2:
        perm = torch.argsort(torch.rand(B, S - 1, N, generator=generator), dim=1) + 1
        out[:, 1:] = torch.gather(msa_tokens, 1, perm.to(msa_tokens.device))
    return out


@torch.no_grad()
def evaluate(model: nn.Module, batches: List[Dict[str, torch.Tensor]], device: torch.device,
             baseline: SeparationBaseline, amp_dtype: Optional[torch.dtype] = None,
             controls: bool = False) -> Dict[str, float]:
    """Held-out metrics. With controls=True also the single-sequence and
    column-shuffled MSA controls, which show the model reads co-variation."""
    was_training = model.training
    model.eval()
    variants = {"": lambda t: t}
    if controls:
        g = torch.Generator().manual_seed(0)
        variants["single_seq_"] = lambda t: t[:, :1]
        variants["shuffled_msa_"] = lambda t: shuffle_msa_columns(t, g)
    sums: Dict[str, float] = {}
    n_pairs = 0.0
    precisions: Dict[str, List[float]] = {k: [] for k in variants}
    base_sq = 0.0
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        mask = pair_loss_mask(batch["residue_mask"])
        true = batch["distances"].clamp(max=DISTANCE_CLIP)
        pair_features = relative_position_features(batch["residue_index"], model_config(model).pair_input_dim)
        for prefix, transform in variants.items():
            msa = transform(batch["msa_tokens"])
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                pred = model(msa, pair_features, batch["msa_mask"][:, : msa.shape[1]], batch["residue_mask"])["distances"]
            err = pred.squeeze(-1).float() - true
            sums[prefix + "sq"] = sums.get(prefix + "sq", 0.0) + float((err ** 2 * mask).sum())
            sums[prefix + "abs"] = sums.get(prefix + "abs", 0.0) + float((err.abs() * mask).sum())
            precisions[prefix] += contact_precision(pred, batch["distances"], batch["residue_mask"])
        base = baseline.predict(batch["residue_index"]).squeeze(-1)
        base_sq += float(((base - true) ** 2 * mask).sum())
        n_pairs += float(mask.sum())
        precisions.setdefault("baseline_", []).extend(
            contact_precision(base.unsqueeze(-1), batch["distances"], batch["residue_mask"]))
    def mean(values: List[float]) -> float:  # NaN, without numpy's warning, when N_res < 13 leaves no pair
        return float(np.mean(values)) if values else float("nan")

    metrics = {
        "eval_loss": sums["sq"] / n_pairs,
        "distance_mae": sums["abs"] / n_pairs,
        "contact_precision_top_l5": mean(precisions[""]),
        "baseline_loss": base_sq / n_pairs,
        "baseline_contact_precision_top_l5": mean(precisions["baseline_"]),
        "contact_density": float(np.mean([contact_density(b["distances"], b["residue_mask"]) for b in batches])),
    }
    metrics["loss_ratio_to_baseline"] = metrics["eval_loss"] / metrics["baseline_loss"]
    for prefix in variants:
        if prefix:
            metrics[prefix + "loss"] = sums[prefix + "sq"] / n_pairs
            metrics[prefix + "contact_precision_top_l5"] = mean(precisions[prefix])
    model.train(was_training)
    return metrics


def model_config(model: nn.Module) -> TinyOpenFoldConfig:
    return (model.module if isinstance(model, nn.DataParallel) else model).config


def forward_batch(model: nn.Module, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Run the model on a collated batch, building the relpos features from its residue index."""
    feats = relative_position_features(batch["residue_index"], model_config(model).pair_input_dim)
    return model(batch["msa_tokens"], feats, batch["msa_mask"], batch["residue_mask"])


# =============================================================================
# 8. Training loop, timing, checkpoints
# =============================================================================


@dataclass
class TrainConfig:
    """Everything about a run that is not the model's shape."""

    batch_size: int = 4
    num_steps: int = 50
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    lr_warmup_steps: int = 50  # linear learning-rate warm-up, then cosine decay to 10 %
    use_amp: bool = False
    amp_dtype: str = "bf16"  # "bf16" (no scaler needed) or "fp16" (with GradScaler)
    seed: int = 0
    min_seq_len: Optional[int] = None  # < max_seq_len: variable-length proteins, padded and masked
    eval_every: int = 0  # 0: evaluate at the end only
    eval_samples: int = 64
    eval_seed: int = 1_000_003  # the held-out set is fixed by its own seed
    log_every: int = 10
    warmup_steps: int = 3  # steps left out of the timing averages
    profile_dir: str = "./profiles"
    checkpoint_dir: str = "./checkpoints"
    save_every: int = 0  # 0: save at the end (and on Ctrl-C / failure) only
    resume: Optional[str] = None
    num_workers: int = 0
    device: Optional[str] = None  # None: auto; "cpu"; or a CUDA/ROCm index
    data_parallel: bool = True  # --no-data-parallel: False
    parallel: str = "auto"  # "auto", "dp" (DataParallel), "ddp" (DistributedDataParallel, torchrun), "none"
    grad_accum_steps: int = 1  # micro-batches per optimizer step
    quiet: bool = False
    pytorch_profiler: bool = False  # torch.profiler traces of steps [1 + warmup, 1 + warmup + profile_steps)
    profile_steps: int = 5
    memory_profiling: bool = False  # per-phase memory, snapshot, activations by module, memory budget
    emit_nvtx: bool = False  # NVTX (CUDA) / ROCTX (ROCm) ranges for nsys / rocprof
    peak_tflops: Optional[float] = None  # overrides the peak-FLOP/s table for MFU
    # Fast paths (issue: each computes the reference function; see tests/test_fast_paths.py)
    # "sdpa": fused scaled_dot_product_attention in Alg. 7, 8, 13, 14; "flex": FlexAttention in all four
    attention: str = "reference"
    chunk_size: Optional[int] = None  # rows per chunk of attentions, transitions, OPM, triangle mult.
    checkpoint_blocks: bool = False  # recompute each Evoformer block in backward
    fuse_projections: bool = False  # projections of one input as one GEMM (q/k/v/gate, triangle mult., OPM)
    compile: bool = False  # torch.compile the forward + loss (and so its backward)
    compile_scope: str = "step"  # "step": forward + loss as one graph; "block": one graph shared by the blocks
    cuda_graphs: bool = False  # capture the whole step (forward to AdamW) once, replay it
    flat_optimizer: bool = False  # clipping and AdamW over one flat buffer of all parameters (FlatAdamW)
    cast_once: bool = False  # nn.Linear parameters cast to the autocast dtype once a step (CastOnce), not per use
    triton_kernels: bool = False  # hand-written Triton kernels (triangle gating, OPM forward, transitions)
    peer_ping: bool = False  # after the graph capture, another process opens a CUDA context on this GPU and exits
    weight_grad_stream: bool = False  # weight gradients on a second CUDA stream (SideStreamProduct); needs cast_once
    max_autotune: bool = False  # --compile with Inductor's max_autotune: each product timed against Triton templates
    pdl: bool = False  # --compile's Triton kernels with programmatic dependent launch (NVIDIA Hopper and newer)
    fold_layer_norms: bool = False  # pair-side LayerNorms' weight and bias folded into the products after them

    def model_paths(self) -> dict:
        """The keyword arguments of TinyOpenFold.configure for this run's paths."""
        return dict(attention=self.attention, chunk_size=self.chunk_size, checkpoint_blocks=self.checkpoint_blocks,
                    fuse_projections=self.fuse_projections, triton_kernels=self.triton_kernels,
                    weight_grad_stream=self.weight_grad_stream, fold_layer_norms=self.fold_layer_norms)

    @property
    def fast_loop(self) -> bool:
        """Compiled or graphed steps run without host synchronisation: losses are read
        and checked, and time is measured, at log steps only."""
        return self.compile or self.cuda_graphs


def select_device(requested: Optional[str]) -> torch.device:
    """CPU, or CUDA / ROCm (both use torch.cuda). Indices are logical: with
    CUDA_VISIBLE_DEVICES=2,3, --device 0 is physical GPU 2."""
    n_gpu = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if requested is None:
        return torch.device("cuda", 0) if n_gpu else torch.device("cpu")
    if requested == "cpu":
        return torch.device("cpu")
    if not (requested == "cuda" or requested.isdigit()):
        raise UsageError(f"--device: expected 'cpu', 'cuda' or a GPU index, got {requested!r}")
    index = 0 if requested == "cuda" else int(requested)
    if index >= n_gpu:
        raise UsageError(f"--device {requested}: no such GPU (this machine has {n_gpu} visible CUDA/ROCm devices; "
                         f"valid: {', '.join(map(str, range(n_gpu))) or 'none, use --device cpu'})")
    return torch.device("cuda", index)


def amp_settings(tc: TrainConfig, device: torch.device):
    """(autocast dtype or None, GradScaler or None). bf16 needs no scaler; fp16 does."""
    if not tc.use_amp:
        return None, None
    if tc.amp_dtype == "bf16":
        if device.type != "cuda" or torch.cuda.is_bf16_supported():
            return torch.bfloat16, None
        print("Note: this GPU has no bf16 support; --use-amp falls back to fp16 with a GradScaler.")
    if device.type != "cuda":
        raise UsageError("--amp-dtype fp16 needs a GPU; on CPU use --amp-dtype bf16")
    return torch.float16, torch.amp.GradScaler("cuda")


class TrainingObjective(nn.Module):
    """Forward and loss of one batch: the part of a step that --compile compiles
    (its backward is compiled with it) and that every training path shares."""

    def __init__(self, model: nn.Module, cfg: TinyOpenFoldConfig, amp_dtype: Optional[torch.dtype],
                 device_type: str):
        super().__init__()
        self.model, self.pair_input_dim = model, cfg.pair_input_dim
        self.amp_dtype, self.device_type = amp_dtype, device_type

    def forward(self, batch: Dict[str, torch.Tensor], weights: Optional[Dict[str, torch.Tensor]] = None
                ) -> torch.Tensor:
        """weights (--cast-once): {name: tensor} used in place of those parameters."""
        pair_features = relative_position_features(batch["residue_index"], self.pair_input_dim)
        inputs = (batch["msa_tokens"], pair_features, batch["msa_mask"], batch["residue_mask"])
        with torch.autocast(self.device_type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            if weights is None:
                out = self.model(*inputs)
            else:
                out = torch.func.functional_call(self.model, weights, inputs, strict=False)
        return distance_loss(out["distances"], batch["distances"], batch["residue_mask"])  # float32


class CastOnceObjective(nn.Module):
    """--cast-once: objective(batch, weights) with this step's cast weights, which are
    split from their one cast copy here, outside the compiled objective (see CastOnce)."""

    def __init__(self, objective: nn.Module, cast: "CastOnce"):
        super().__init__()
        self.objective, self.cast = objective, cast

    def forward(self, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.objective(batch, self.cast.weights())


def compile_options(tc: "TrainConfig") -> Optional[dict]:
    """Inductor settings of --compile (None: its defaults).

    --weight-grad-stream: no buffer reuse, as the second stream may still read a
    buffer that the compiled code treats as dead.
    --max-autotune: Inductor's max_autotune. At compile time every matrix product
    (and convolution) is timed as cuBLAS and as Triton GEMM templates, which can take
    the elementwise work after the product into the same kernel; the fastest is kept.
    Same function, other kernels; setup takes minutes (results are cached on disk).
    --pdl: programmatic dependent launch (NVIDIA compute capability 9.0+). Each Triton
    kernel that Inductor generates may start while the kernel before it in its stream
    still runs: it waits (gdc_wait) before its first load of what that kernel wrote,
    and lets the next one start (gdc_launch_dependents) after its own loads. Same arithmetic,
    same kernels; what shrinks is the gap between one kernel's end and the next's
    start. Inductor's matrix-product and FlexAttention templates, cuBLAS and the
    hand-written kernels launch as before. Set for this compile only (and so its
    backward), whatever TORCHINDUCTOR_ENABLE_PDL says for the rest of the process."""
    options = {}
    if tc.weight_grad_stream:
        options.update(allow_buffer_reuse=False, inplace_buffers=False)
    if tc.max_autotune:
        options.update(max_autotune=True, max_autotune_gemm=True)
    if tc.pdl:
        options["triton.enable_pdl"] = True
    return options or None


def make_objective(model: nn.Module, cfg: TinyOpenFoldConfig, tc: TrainConfig, amp_dtype, device,
                   optimizer: Optional[torch.optim.Optimizer] = None) -> nn.Module:
    """Forward + loss; under --compile, compiled as a whole (--compile-scope step) or
    block by block (--compile-scope block). Fixed shapes either way: batches are
    padded to --seq-len, so one graph serves every step and nothing recompiles.
    --cast-once also needs the run's optimizer (a FlatAdamW with the nn.Linear
    parameters in front)."""
    objective = TrainingObjective(model, cfg, amp_dtype, device.type)
    options = compile_options(tc)
    if tc.compile and tc.compile_scope == "block":
        # Regional compilation: every Evoformer block runs the same code, and dynamo
        # treats the parameters as graph inputs, so all blocks share ONE compiled graph
        # and compile time no longer grows with the block count. Embedder, head and
        # loss stay eager. (getattr: the model may be wrapped in DDP.)
        for block in getattr(model, "module", model).evoformer:
            block.compile(dynamic=False, options=options)
    elif tc.compile:
        objective = torch.compile(objective, dynamic=False, options=options)
    if tc.cast_once:  # the weights are split outside the compiled objective
        if not isinstance(optimizer, FlatAdamW) or amp_dtype is None:
            raise ValueError("--cast-once: make_objective needs --flat-optimizer's FlatAdamW and autocast")
        objective = CastOnceObjective(objective, CastOnce(model, optimizer, amp_dtype))
    return objective


class FlatAdamW(torch.optim.AdamW):
    """--flat-optimizer: the same AdamW, over one flat buffer instead of every tensor.

    torch's fused (and foreach) AdamW and the clipping's norm launch one kernel per
    group of a few dozen tensors, and a block of those kernels walks one 64k-element
    chunk of one tensor. The small preset has 380 parameter tensors, the medium 752:
    on an H200 that was 11 launches and 0.4 ms a step at small, 21 and 0.8 ms at
    medium (results/h200_2026-12-02c), for work one pass over memory does in tens of
    microseconds. With this class the optimizer is 4 launches and 0.06 ms a step at
    small, 0.23 ms at medium (results/h200_2026-12-02e), plus the gradients' copies
    into the buffer, 0.09 and 0.20 ms (results/h200_2026-12-04c).
    Here every parameter becomes a view into one float32 buffer (each
    starting on an ALIGN-element boundary, so the kernels that read a weight see it
    aligned), that buffer is the optimizer's only parameter, and gather_gradients()
    copies the gradients into their places in a gradient buffer of the same layout
    (a few multi-tensor copy kernels) before clipping.
    The arithmetic is AdamW's, element by element, so the update is the same.

    state_dict() and load_state_dict() speak the per-parameter layout of
    torch.optim.AdamW(model.parameters()), so checkpoints move between paths.
    Build it after the model is on its device: .to() would replace the views.

    front (--cast-once): one flag per parameter; the flagged ones go first in the
    buffer, each on a FRONT_ALIGN boundary, and end at self.boundary. Where a
    parameter sits in the buffer is this class's business only.
    """

    ALIGN = 64  # elements: 256 bytes of float32
    FRONT_ALIGN = 8  # elements: 16 bytes of bf16, the alignment Inductor assumes of its inputs

    def __init__(self, params, front: Sequence[bool] = (), **kwargs):
        self.views = list(params)
        front = list(front) or [False] * len(self.views)
        self.order = [i for i, f in enumerate(front) if f] + [i for i, f in enumerate(front) if not f]
        starts, end = {}, 0
        for i in self.order:
            align = self.FRONT_ALIGN if front[i] else self.ALIGN
            starts[i] = -(-end // align) * align
            end = starts[i] + self.views[i].numel()
        total = -(-end // self.ALIGN) * self.ALIGN
        flat = self.views[0].new_zeros(total)
        self.slices = [slice(starts[i], starts[i] + p.numel()) for i, p in enumerate(self.views)]
        self.n_front = sum(front)  # self.order[:n_front] are the flagged parameters
        self.boundary = starts[self.order[self.n_front]] if self.n_front < len(self.views) else total
        with torch.no_grad():
            for p, where in zip(self.views, self.slices):
                flat[where].copy_(p.reshape(-1))
                p.data = flat[where].view_as(p)  # the module keeps its Parameter; its storage is now flat's
        # The gradient buffer: each parameter's gradient is copied into its own view every
        # step; the gaps between the views are never written and stay zero.
        self.grad_buffer = flat.new_zeros(total)
        self.grad_views = [self.grad_buffer[where].view_as(p) for p, where in zip(self.views, self.slices)]
        self.flat = nn.Parameter(flat)
        self.cast_once: Optional["CastOnce"] = None  # set by CastOnce: it holds the front's gradient
        super().__init__([self.flat], **kwargs)

    def gather_gradients(self) -> None:
        """flat.grad = the parameters' gradients, end to end (zeros where one has none).
        Under --cast-once backward has already put the front's gradients in place."""
        first = self.n_front if self.cast_once is not None and self.cast_once.stored else 0
        copy_into([self.grad_views[i] for i in self.order[first:]], [self.views[i].grad for i in self.order[first:]])
        self.flat.grad = self.grad_buffer

    def zero_grad(self, set_to_none: bool = True) -> None:
        super().zero_grad(set_to_none)
        if self.cast_once is not None:
            self.cast_once.stored = False
        for p in self.views:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def state_dict(self) -> dict:
        own = super().state_dict()
        flat_state = own["state"].get(0, {})
        state = {i: {key: value[where].view_as(p).clone() if torch.is_tensor(value) and value.dim() else
                     (value.clone() if torch.is_tensor(value) else value) for key, value in flat_state.items()}
                 for i, (p, where) in enumerate(zip(self.views, self.slices))} if flat_state else {}
        return {"state": state, "param_groups": [dict(own["param_groups"][0], params=list(range(len(self.views))))]}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.views):
            raise ValueError(f"optimizer state of {sum(len(g['params']) for g in groups)} parameters in "
                             f"{len(groups)} groups; this model has {len(self.views)} in one group")
        ids, per_param = groups[0]["params"], state_dict["state"]
        flat_state = {}
        for key, value in (per_param[ids[0]].items() if per_param else ()):
            if torch.is_tensor(value) and value.dim():
                value = torch.zeros_like(self.flat.detach())
                for i, where in zip(ids, self.slices):
                    value[where] = per_param[i][key].reshape(-1).to(value)
            flat_state[key] = value  # "step": one count for all (every parameter is stepped every step)
        super().load_state_dict({"state": {0: flat_state} if flat_state else {},
                                 "param_groups": [dict(groups[0], params=[0])]})


class CastOnce:
    """--cast-once: every nn.Linear parameter cast to the autocast dtype once a step.

    Under autocast each nn.Linear weight and bias is cast to bf16 where it is used:
    after a compile one small kernel each, and in backward one more each to bring its
    gradient back to float32 (185 cast-only kernels, 224 us of a 5.21 ms default-size
    step on the H200; results/h200_2026-12-03d). Here FlatAdamW keeps those parameters
    together at the front of its buffer, and before each forward:

        copy   = flat[:boundary].to(bf16)     ONE cast kernel
        pieces = FrontPieces(copy)            views, outside the compiled objective

    and the objective runs the model on the pieces (torch.func.functional_call).
    Autocast leaves a bf16 weight alone, so the forward has no casts (except, with
    --fold-layer-norms, of the folded weights, which are made in float32). Backward gives
    the pieces bf16 gradients, and FrontPieces' backward copies them, cast to
    float32, straight into their places in FlatAdamW's gradient buffer (multi-tensor
    copy kernels; a split's own backward, one torch.cat into a bf16 copy, took
    0.26 ms at the default size: results/h200_2026-12-04c). The pieces are made
    eagerly on purpose: inside the compiled graph their backward became many small
    copies (the removed --flat-weights, results/h200_2026-12-03d call 12).

    Same function: the copy is the same rounding of the same float32 numbers as
    autocast's casts, and each gradient is the bf16 product's gradient cast to
    float32 either way (the same bits in eager mode, tests/test_cast_once.py). A
    parameter used more than once in a step would have its gradients summed in bf16,
    not float32, so chunking, gradient accumulation and block checkpointing (which
    recomputes blocks after functional_call has restored the model's own parameters)
    are refused; so are DataParallel and DDP, whose hooks watch the parameters
    themselves.
    """

    def __init__(self, model: nn.Module, optimizer: FlatAdamW, dtype: torch.dtype):
        names = {id(p): name for name, p in model.named_parameters()}
        front = optimizer.order[:optimizer.n_front]
        self.names = [names[id(optimizer.views[i])] for i in front]
        self.shapes = [optimizer.views[i].shape for i in front]
        self.starts = [optimizer.slices[i].start for i in front]
        self.grad_views = [optimizer.grad_views[i] for i in front]
        self.flat, self.boundary = optimizer.flat, optimizer.boundary
        # requires_grad only so that autograd runs FrontPieces.backward; the copy itself gets no gradient
        self.copy = torch.zeros(self.boundary, dtype=dtype, device=self.flat.device, requires_grad=True)
        self.stored = False  # whether backward has put this step's front gradients in place
        optimizer.cast_once = self

    def weights(self) -> Dict[str, torch.Tensor]:
        """{parameter name: its view of this step's cast copy}."""
        with torch.no_grad():
            self.copy.copy_(self.flat[:self.boundary])
        return dict(zip(self.names, FrontPieces.apply(self.copy, self)))

    def store_gradients(self, grads: Sequence[Optional[torch.Tensor]]) -> None:
        copy_into(self.grad_views, grads)
        self.stored = True


class FrontPieces(torch.autograd.Function):
    """CastOnce's pieces: forward, a view of the cast copy per parameter; backward,
    their gradients stored in FlatAdamW's gradient buffer (not passed on to the copy)."""

    @staticmethod
    def forward(ctx, copy: torch.Tensor, cast: CastOnce) -> Tuple[torch.Tensor, ...]:
        ctx.cast = cast
        ctx.set_materialize_grads(False)  # a piece without a gradient arrives as None, not as zeros
        return tuple(copy[start:start + shape.numel()].view(shape) for start, shape in zip(cast.starts, cast.shapes))

    @staticmethod
    def backward(ctx, *grads):
        join_weight_grads()  # --weight-grad-stream: the gradients below may still be in the making
        ctx.cast.store_gradients(grads)
        return None, None


def copy_into(dests: Sequence[torch.Tensor], sources: Sequence[Optional[torch.Tensor]]) -> None:
    """dests[i].copy_(sources[i]) (zeros where a source is None), casting as needed.
    torch._foreach_copy_ copies many tensors per kernel, given pairs of equal strides;
    the other pairs are copied one by one."""
    with torch.no_grad():
        pairs = [(d, s) for d, s in zip(dests, sources) if s is not None and d.stride() == s.stride()]
        for d, s in zip(dests, sources):
            if s is None:
                d.zero_()
            elif d.stride() != s.stride():
                d.copy_(s)
        for dtype in {s.dtype for _, s in pairs}:  # _foreach_copy_ takes sources of one dtype
            group = [(d, s) for d, s in pairs if s.dtype == dtype]
            torch._foreach_copy_([d for d, _ in group], [s for _, s in group])


def linear_parameter_flags(model: nn.Module) -> List[bool]:
    """For each of model.parameters(): whether it belongs to an nn.Linear (CastOnce's front)."""
    linear = {id(p) for m in model.modules() if isinstance(m, nn.Linear) for p in m.parameters(recurse=False)}
    return [id(p) in linear for p in model.parameters()]


def optimizer_parameters(optimizer: torch.optim.Optimizer) -> List[torch.Tensor]:
    """The tensors the optimizer updates (model.parameters(), or FlatAdamW's buffer)."""
    return [p for group in optimizer.param_groups for p in group["params"]]


def make_optimizer(model: nn.Module, tc: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW. On a GPU the fast loop and --flat-optimizer use the fused kernel (one
    launch per few dozen tensors, one in all for FlatAdamW's single buffer);
    --cuda-graphs also needs capturable=True and the learning rate as a device
    tensor, so the schedule can change it between replays."""
    kwargs = dict(lr=tc.learning_rate, weight_decay=tc.weight_decay)
    if device.type == "cuda" and (tc.fast_loop or tc.flat_optimizer):
        kwargs["fused"] = True
    if tc.cuda_graphs:
        kwargs.update(capturable=True, lr=torch.tensor(tc.learning_rate, device=device))
    if tc.flat_optimizer:
        return FlatAdamW(model.parameters(), front=linear_parameter_flags(model) if tc.cast_once else (), **kwargs)
    return torch.optim.AdamW(model.parameters(), **kwargs)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load moments and step counts from a checkpoint written by any path, but keep
    this run's implementation (fused, capturable, a tensor learning rate)."""
    options = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, own in zip(optimizer.param_groups, options):
        group.update(own)
        on_device = group.get("capturable") or group.get("fused")  # these keep the step count on the device
        for p in group["params"]:
            st = optimizer.state.get(p, {})
            if "step" in st:
                st["step"] = st["step"].to(device=p.device if on_device else "cpu", dtype=torch.float32)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        if torch.is_tensor(group["lr"]):
            group["lr"].fill_(lr)  # a kernel, no host synchronisation; the captured graph reads it
        else:
            group["lr"] = lr


def optimizer_update(optimizer: torch.optim.Optimizer, scaler, grad_clip: float) -> None:
    """Gradient clipping and the AdamW step (GradScaler's unscale/step with fp16)."""
    join_weight_grads()  # --weight-grad-stream (already joined under --cast-once; nothing pending then)
    if isinstance(optimizer, FlatAdamW):
        optimizer.gather_gradients()
    if scaler is not None:
        scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(optimizer_parameters(optimizer), grad_clip)  # on the device: no .item()
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()


def train_step(objective: nn.Module, model: nn.Module, optimizer: torch.optim.Optimizer, scaler,
               grad_clip: float, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
    """One whole training step (no micro-batches, no phase timing): forward and loss,
    backward, clipping, AdamW. Returns the loss on the device (no synchronisation).
    train() runs the same work inline, split into the phases it times."""
    optimizer.zero_grad(set_to_none=True)
    loss = objective(batch)
    (scaler.scale(loss) if scaler is not None else loss).backward()
    optimizer_update(optimizer, scaler, grad_clip)
    return loss.detach()


def check_fast_paths(tc: TrainConfig, device: torch.device, mode: str, amp_dtype) -> None:
    """Refuse combinations a fast path cannot run, naming the flags."""
    if tc.cuda_graphs:
        if device.type != "cuda":
            raise UsageError("--cuda-graphs: needs a CUDA or ROCm GPU (on CPU, --compile is the fast path)")
        if mode != "none":
            raise UsageError("--cuda-graphs: one process on one GPU only; use --parallel none (not DataParallel, "
                             "not torchrun)")
        if tc.grad_accum_steps > 1:
            raise UsageError("--cuda-graphs: captures one whole step; use --grad-accum-steps 1")
        if amp_dtype == torch.float16:
            raise UsageError("--cuda-graphs: not with --amp-dtype fp16 (the GradScaler checks gradients on the "
                             "host); use --amp-dtype bf16")
        if tc.memory_profiling:
            raise UsageError("--cuda-graphs: a replayed graph has no phases to measure; profile memory without "
                             "--cuda-graphs (--compile is fine)")
    elif tc.peer_ping:
        raise UsageError("--peer-ping: applies to --cuda-graphs (the launch gaps it shortens were measured "
                         "between graph kernels); add --cuda-graphs")
    if tc.attention == "flex" and device.type != "cuda":
        raise UsageError("--attention flex: needs a CUDA or ROCm GPU (FlexAttention has no backward on the CPU); "
                         "use --attention sdpa or reference")
    if tc.attention == "flex" and mode == "dp":
        raise UsageError("--attention flex: not with DataParallel (FlexAttention runs through torch.compile, as "
                         "--compile does); launch with torchrun (DDP) or use --parallel none")
    if tc.triton_kernels and device.type != "cuda":
        raise UsageError("--triton-kernels: needs a CUDA or ROCm GPU (Triton kernels); leave the flag out on a CPU")
    if tc.triton_kernels and mode == "dp":
        raise UsageError("--triton-kernels: not with DataParallel (its replica threads would compile and launch "
                         "the kernels concurrently, untested); launch with torchrun (DDP) or use --parallel none")
    if tc.compile and mode == "dp":
        raise UsageError("--compile: not with DataParallel; launch with torchrun (DDP) or use --parallel none")
    if tc.flat_optimizer and mode == "dp":
        raise UsageError("--flat-optimizer: not with DataParallel (its replicas copy the parameters every step); "
                         "launch with torchrun (DDP) or use --parallel none")
    if tc.cast_once:
        if not tc.flat_optimizer:
            raise UsageError("--cast-once: casts the front of --flat-optimizer's buffer; add --flat-optimizer")
        if amp_dtype is None:
            raise UsageError("--cast-once: casts to the autocast dtype; add --use-amp")
        if tc.chunk_size is not None or tc.checkpoint_blocks or tc.grad_accum_steps > 1:
            raise UsageError("--cast-once: not with --chunk-size, --checkpoint-blocks or --grad-accum-steps above 1 "
                             "(a weight used twice would sum its gradients in bf16); leave those out")
        if tc.compile and tc.compile_scope != "step":
            raise UsageError("--cast-once: with --compile only --compile-scope step")
        if mode != "none":
            raise UsageError("--cast-once: one process on one device (DataParallel and DDP watch the parameters "
                             "themselves); use --parallel none")
    if tc.weight_grad_stream:
        if device.type != "cuda":
            raise UsageError("--weight-grad-stream: needs a CUDA or ROCm GPU (a second stream); leave it out on a CPU")
        if not tc.cast_once:
            raise UsageError("--weight-grad-stream: joins the gradients where --cast-once collects them; add "
                             "--cast-once (with --flat-optimizer and --use-amp)")
    if tc.max_autotune:
        if not tc.compile:
            raise UsageError("--max-autotune: tunes what --compile compiles; add --compile")
        if device.type != "cuda":
            raise UsageError("--max-autotune: needs a CUDA or ROCm GPU (measured only there); leave it out on a CPU")
    if tc.pdl:
        if not tc.compile:
            raise UsageError("--pdl: acts on the kernels --compile generates; add --compile")
        if not pdl_supported(device):
            raise UsageError(f"--pdl: needs an NVIDIA GPU of compute capability 9.0 or newer (Hopper, Blackwell); "
                             f"this run's device is {device_name(device)}; leave the flag out")


def pdl_supported(device: torch.device) -> bool:
    """Programmatic dependent launch: CUDA (not ROCm) on compute capability 9.0 or newer."""
    return (device.type == "cuda" and torch.version.hip is None
            and torch.cuda.get_device_capability(device)[0] >= 9)


PEER_PING = ("import sys, torch; torch.cuda.set_device(int(sys.argv[1])); "
             "x = torch.ones(8, 8, device='cuda'); "
             "print(float((x @ x).sum()), getattr(torch.cuda.get_device_properties(x.device), 'uuid', ''))")


def peer_ping(device: torch.device) -> None:
    """--peer-ping: start a second Python process that opens a CUDA context on this
    process's GPU, runs one tiny product and exits (once per captured graph).

    Why: on the H200 we were lent (driver 580, torch 2.11), a process alone on the card
    replays its CUDA graph with about 0.45 us between consecutive kernels; after another
    process has opened a context on the card, even one that has exited again, the gap is
    about 0.1 us, and the default-size step runs 5.15 instead of 5.65 ms with the same
    kernels (results/h200_2026-12-03d, call 8). The driver's reason is not known to us, so this is
    an opt-in flag; it changes no computation. A failing ping is reported, not fatal."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    try:  # the child inherits CUDA_VISIBLE_DEVICES, so the same logical index is the same GPU
        subprocess.run([sys.executable, "-c", PEER_PING, str(index)], check=True, capture_output=True,
                       text=True, timeout=60)
    except subprocess.CalledProcessError as exc:
        last = (exc.stderr or "").strip().splitlines()[-1:] or [f"exit status {exc.returncode}"]
        print(f"--peer-ping: the helper process failed ({last[0]}); continuing without it", flush=True)
    except (OSError, subprocess.SubprocessError) as exc:  # could not start, or timed out
        print(f"--peer-ping: the helper process failed ({exc}); continuing without it", flush=True)


class CudaGraphStep:
    """--cuda-graphs: the whole training step (forward, loss, backward, gradient
    clipping, AdamW) captured once with torch.cuda.graph and replayed, so a step
    costs one launch instead of thousands of small ones (the default size is
    bound by launches, not arithmetic).

    A graph replays fixed kernels on fixed addresses, so: batches are copied
    into static input tensors; gradients and optimizer state live in the
    graph's memory pool; the learning rate is a device tensor. Capture needs a
    few warm-up steps first (on a side stream, as PyTorch's CUDA-graph notes
    say); they would change the weights, so the weights and the optimizer state
    from before them are copied back in place afterwards.

    With --weight-grad-stream the graph is captured on a stream of higher priority
    than the weight gradients' stream (priority 0, the lowest). PyTorch (2.10 and
    later) instantiates graphs with cudaGraphInstantiateFlagUseNodePriority, so
    each kernel keeps the priority of the stream it was captured on: when SMs free
    up, the critical path's kernels start before the weight gradients' (0.03-0.11
    ms a step faster on an H100, results/h100_2026-12-07d).
    """

    def __init__(self, objective: nn.Module, model: nn.Module, optimizer: torch.optim.Optimizer,
                 grad_clip: float, batch: Dict[str, torch.Tensor], warmup: int = 3):
        self.objective, self.model, self.optimizer, self.grad_clip = objective, model, optimizer, grad_clip
        self.static = {k: v.clone() for k, v in batch.items()}
        params, updated = list(model.parameters()), optimizer_parameters(optimizer)  # the same, or FlatAdamW's buffer
        saved_params = [p.detach().clone() for p in params]
        saved_state = {p: {k: v.clone() if torch.is_tensor(v) else v for k, v in optimizer.state[p].items()}
                       for p in updated if p in optimizer.state}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                optimizer.zero_grad(set_to_none=True)
                self._step()
        torch.cuda.current_stream().wait_stream(side)
        optimizer.zero_grad(set_to_none=True)  # backward allocates the gradients inside the graph's pool
        self.graph = torch.cuda.CUDAGraph()
        side_streams = any(getattr(m, "side_weight_grads", False) for m in model.modules())
        self.capture_stream = torch.cuda.Stream(priority=-1) if side_streams else None  # None: torch's default
        with torch.cuda.graph(self.graph, stream=self.capture_stream):
            self.loss = self._step()
        with torch.no_grad():  # undo the warm-up steps, in place: the graph holds these addresses
            for p, saved in zip(params, saved_params):
                p.copy_(saved)
            for p in updated:
                for key, value in optimizer.state[p].items():
                    if not torch.is_tensor(value):
                        continue
                    if p in saved_state:  # a resumed run: the checkpoint's moments and step
                        value.copy_(saved_state[p][key])
                    else:  # a fresh run: AdamW's initial state is all zeros
                        value.zero_()

    def _step(self) -> torch.Tensor:
        loss = self.objective(self.static)
        loss.backward()
        optimizer_update(self.optimizer, None, self.grad_clip)
        return loss.detach()

    def __call__(self, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        """One training step on batch; returns its loss (a device tensor)."""
        for key, value in batch.items():
            self.static[key].copy_(value, non_blocking=True)
        self.graph.replay()
        return self.loss.clone()  # the next replay overwrites self.loss


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def memory_mb(device: torch.device) -> float:
    """Current memory: the caching allocator's live bytes on GPU, resident set on CPU."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2 ** 20
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError):
        return float("nan")


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory: the allocator's peak on GPU, the process's peak RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2 ** 20 if sys.platform == "darwin" else rss / 2 ** 10


def learning_rate_at(step: int, tc: TrainConfig) -> float:
    """Linear warm-up to the peak, then cosine decay to 10 % of it at the last step."""
    if step < tc.lr_warmup_steps:
        return tc.learning_rate * (step + 1) / tc.lr_warmup_steps
    progress = (step - tc.lr_warmup_steps) / max(1, tc.num_steps - tc.lr_warmup_steps)
    return tc.learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


def atomic_save(obj, path: str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: a
    reader sees the old file or the new one, never half of one."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp_", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # the mode open() would give it; mkstemp's file is private (0600)
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(f.fileno(), 0o666 & ~umask)
            if isinstance(obj, (dict, list)) and path.endswith(".json"):
                f.write(json.dumps(obj, indent=2).encode())
            elif isinstance(obj, str):  # text, as it is
                f.write(obj.encode())
            else:
                torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def checkpoint_file(path: str) -> str:
    """--resume's path as a file: a folder means its checkpoint.pt."""
    return os.path.join(path, "checkpoint.pt") if os.path.isdir(path) else path


def keep_earlier_checkpoint(checkpoint_dir: str, resume: Optional[str]) -> Optional[str]:
    """A run that does not resume checkpoint_dir/checkpoint.pt would overwrite it at its
    first save. Move it to checkpoint.prev.pt instead (one earlier run is kept; an older
    checkpoint.prev.pt is replaced). Returns the new path, or None if there was nothing to keep."""
    path = os.path.join(checkpoint_dir, "checkpoint.pt")
    resume = checkpoint_file(resume) if resume else None
    if not os.path.exists(path) or (resume and os.path.exists(resume) and os.path.samefile(resume, path)):
        return None
    kept = os.path.join(checkpoint_dir, "checkpoint.prev.pt")
    os.replace(path, kept)
    return kept


def save_checkpoint(path: str, step: int, model: nn.Module, optimizer, scaler, tc: TrainConfig) -> None:
    core = model.module if isinstance(model, nn.DataParallel) else model
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    atomic_save({
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "config": dataclasses.asdict(core.config),
        "train": {k: getattr(tc, k) for k in ("batch_size", "num_steps", "learning_rate", "seed", "min_seq_len")},
        "model": core.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng,
    }, path)


def load_checkpoint(path: str) -> dict:
    """Read and check a checkpoint; any problem is a UsageError naming --resume."""
    path = checkpoint_file(path)
    if not os.path.isfile(path):
        raise UsageError(f"--resume: no checkpoint file at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, corrupt, or not a torch file at all
        raise UsageError(f"--resume: {path} is not a readable checkpoint ({type(exc).__name__}: "
                         f"{(str(exc).splitlines() or [repr(exc)])[0][:120]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(f"--resume: {path} is not a TinyOpenFold V1 checkpoint")
    return ckpt


class InterruptFlag:
    """First Ctrl-C: finish the current step, save, exit. Second: stop at once."""

    def __init__(self):
        self.set = False
        self._previous = None

    def __enter__(self):
        if hasattr(signal, "SIGINT"):
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # not the main thread
                self._previous = None
        return self

    def _handler(self, signum, frame):
        if self.set:
            raise KeyboardInterrupt
        self.set = True
        print("\nInterrupt received: finishing this step, then saving a checkpoint "
              "(press Ctrl-C again to stop at once).", flush=True)

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


class TrainingFailed(Exception):
    """A failure mid-run, already explained to the user; main() exits 1."""


def _ignore_sigint_in_worker(_worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; the main process decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def make_loader(dataset, tc: TrainConfig, device: torch.device, start_step: int = 0, rank: int = 0,
                world_size: int = 1, pad_to: Optional[int] = None):
    """Batches of the training stream from step start_step on, generated in
    background worker processes (--num-workers) so data making overlaps with
    the GPU step. Step s's global batch is samples [s B, (s + 1) B); with
    several processes, rank r takes its r-th slice of it, so together they
    train on exactly the batch one process would (the gradient-equivalence test)."""
    local = tc.batch_size // world_size
    sampler = [range(s * tc.batch_size + rank * local, s * tc.batch_size + (rank + 1) * local)
               for s in range(start_step, tc.num_steps)]
    # The loader draws its workers' base seed from this generator, not from the
    # global torch RNG, so a resumed run's dropout stream is not shifted.
    kwargs = {"generator": torch.Generator().manual_seed(tc.seed + start_step)}
    if tc.num_workers > 0:
        kwargs.update(worker_init_fn=_ignore_sigint_in_worker, prefetch_factor=4)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler,
                                       collate_fn=functools.partial(collate_proteins, pad_to=pad_to),
                                       num_workers=tc.num_workers, pin_memory=device.type == "cuda", **kwargs)


def pad_length(cfg: TinyOpenFoldConfig, tc: TrainConfig, training: bool) -> Optional[int]:
    """The residue count batches are padded to (None: each batch to its longest protein).
    Compiled code compiles once per input shape: the fast loop's step (--compile,
    --cuda-graphs) and --attention flex's FlexAttention, which is compiled also when
    the model is not. One length keeps that to one compilation per shape of the model."""
    return cfg.max_seq_len if tc.attention == "flex" or (training and tc.fast_loop) else None


def heldout_batches(cfg: TinyOpenFoldConfig, tc: TrainConfig) -> List[Dict[str, torch.Tensor]]:
    ds = SyntheticProteinDataset(tc.eval_samples, cfg.max_seq_len, cfg.n_seqs, tc.eval_seed, tc.min_seq_len)
    bs = max(1, min(tc.batch_size, 16))
    return [collate_proteins([ds[i] for i in range(s, min(s + bs, len(ds)))], pad_to=pad_length(cfg, tc, False))
            for s in range(0, len(ds), bs)]


def log(tc: TrainConfig, *args) -> None:
    if not tc.quiet:
        print(*args, flush=True)


def first_step_note(tc: TrainConfig) -> Optional[str]:
    """A line saying why the first step is slow, so that minutes of silence are expected."""
    work = []
    if tc.compile:
        work.append("compiles forward and backward, which takes minutes (Inductor's cache on disk shortens "
                    "later runs)")
    if tc.max_autotune:
        work.append("times each matrix product's kernels (--max-autotune), 3 to 5 minutes more at the default "
                    "size on an H100 with an empty cache")
    if tc.cuda_graphs:
        work.append("captures the whole step as a CUDA graph")
    return f"   The first step {'; '.join(work)}." if work else None


def print_model_configuration(model: nn.Module, cfg: TinyOpenFoldConfig, tc: TrainConfig, device) -> None:
    n = count_parameters(model)
    log(tc, "Model Configuration:")
    log(tc, f"   MSA dimension: {cfg.msa_dim}")
    log(tc, f"   Pair dimension: {cfg.pair_dim}")
    log(tc, f"   Evoformer blocks: {cfg.n_evoformer_blocks}")
    log(tc, f"   Heads (MSA / pair): {cfg.n_heads_msa} / {cfg.n_heads_pair}")
    lengths = f"{tc.min_seq_len}-{cfg.max_seq_len}" if tc.min_seq_len and tc.min_seq_len < cfg.max_seq_len \
        else str(cfg.max_seq_len)
    log(tc, f"   Residues x MSA depth: {lengths} x {cfg.n_seqs}")
    log(tc, f"   Total parameters: {n:,}")
    log(tc, f"   Model size: {n * 4 / 1e6:.1f} MB (FP32)")
    amp = f"autocast {tc.amp_dtype}" if tc.use_amp else "fp32"
    log(tc, f"   Device: {device_name(device)} | precision: {amp} | batch size: {tc.batch_size}")
    settings = compiler_settings()
    if settings:
        log(tc, f"   Environment: {settings}")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        kind = "ROCm" if getattr(torch.version, "hip", None) else "CUDA"
        return f"{torch.cuda.get_device_name(device)} ({kind} {device.index})"
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def system_info(device: torch.device) -> dict:
    info = {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
        "platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "device": device_name(device), "cuda": torch.version.cuda, "hip": getattr(torch.version, "hip", None),
        "gpu_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": code_revision(),
        "environment": run_environment(),
    }
    if device.type == "cuda":
        info.update(gpu_identity(torch.cuda.get_device_properties(device)))
    return info


def source_revision(folder: Optional[str] = None) -> Optional[str]:
    """The git commit of this script's checkout (or of folder), short, with "+changes"
    when tracked files differ from it; None outside a git checkout (or without git).
    Recorded with every result, so a number can be traced to the code that made it."""
    here = folder or os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+changes" if changed else commit or None


@functools.lru_cache(maxsize=None)
def code_revision() -> Optional[str]:
    """source_revision() of this script's checkout when first asked; main() asks as a
    run starts. The code a process runs is what it loaded then, so a file edited
    during a long run must not relabel its results (they are written after every
    benchmark row, and the training summary at the end)."""
    return source_revision()


# Environment variables that change what a run computes or how fast: Inductor and
# Triton settings (TORCHINDUCTOR_ENABLE_PDL=1 makes other kernels), the BLAS choice,
# the allocator, device visibility, threads, NCCL. A command line alone does not say whether they were set.
ENVIRONMENT_PREFIXES = ("TORCHINDUCTOR_", "TORCH_", "PYTORCH_", "TRITON_", "CUDA_", "HIP_", "ROCR_", "HSA_",
                        "NCCL_", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run_environment() -> dict:
    """The set variables of ENVIRONMENT_PREFIXES, sorted by name (the benchmark JSON
    and the run summary record them next to the command)."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENVIRONMENT_PREFIXES)}


# Inductor variables that change where or how fast it compiles, not what it makes
# (torch sets the cache directory itself once Inductor is imported).
COMPILE_ONLY_VARIABLES = ("TORCHINDUCTOR_CACHE_DIR", "TORCHINDUCTOR_COMPILE_THREADS", "TORCHINDUCTOR_FX_GRAPH_CACHE",
                          "TORCHINDUCTOR_AUTOGRAD_CACHE")


def compiler_settings() -> str:
    """The Inductor and BLAS variables of the environment as "NAME=value ...", or "":
    they change the compiled kernels or the GEMMs, so the training log and the
    benchmark table print them next to the numbers."""
    return " ".join(f"{k}={v}" for k, v in run_environment().items()
                    if k.startswith(("TORCHINDUCTOR_", "TORCH_BLAS")) and k not in COMPILE_ONLY_VARIABLES)


def gpu_identity(props) -> dict:
    """Memory and UUID of a GPU (torch.cuda.get_device_properties). The UUID tells
    whether two runs had the same physical card: one path has timed 10 % apart
    in runs whose cards could not be told apart (results/h200_2026-12-03)."""
    uuid = getattr(props, "uuid", None)  # absent on some builds
    return {"gpu_memory_gb": round(props.total_memory / 1e9, 1), "gpu_uuid": str(uuid) if uuid is not None else None}


def check_writable_dir(path: str, flag: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {path}: not a writable directory ({exc.strerror or exc})") from None


# Dense peak TFLOP/s by precision, from the vendors' datasheets (no sparsity).
# An MI250X shows up as two devices (GCDs): the figures are per GCD.
PEAK_TFLOPS = {
    "H100 SXM": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4},
    "H100 PCIe": {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0},
    "H200": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4},
    "A100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0},
    "MI250X GCD": {"fp32": 47.9, "tf32": None, "bf16": 191.5, "fp16": 191.5},
    "MI300X": {"fp32": 163.4, "tf32": 653.7, "bf16": 1307.4, "fp16": 1307.4},
    "MI325X": {"fp32": 163.4, "tf32": 653.7, "bf16": 1307.4, "fp16": 1307.4},
}


def peak_table_key(device_name: str) -> Optional[str]:
    """Map a torch device name to a PEAK_TFLOPS row, or None if unknown."""
    name = device_name.upper()
    if "H100" in name:
        return "H100 PCIe" if "PCIE" in name else "H100 SXM" if ("SXM" in name or "HBM3" in name) else None
    for key, token in (("H200", "H200"), ("A100", "A100"), ("MI250X GCD", "MI250X"),
                       ("MI300X", "MI300X"), ("MI325X", "MI325X")):
        if token in name:
            return key
    return None


def compute_precision(amp_dtype: Optional[torch.dtype], device: torch.device) -> str:
    """The precision the matrix products run in: bf16/fp16 under autocast, tf32 if enabled, else fp32."""
    if amp_dtype is not None:
        return "bf16" if amp_dtype == torch.bfloat16 else "fp16"
    if device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32:
        return "tf32"
    return "fp32"


def peak_tflops(device: torch.device, precision: str, override: Optional[float]) -> Optional[float]:
    if override:
        return override
    if device.type != "cuda":
        return None
    key = peak_table_key(torch.cuda.get_device_name(device))
    return PEAK_TFLOPS[key][precision] if key else None


def torch_counter_train_flops(model: nn.Module, batch: Dict[str, torch.Tensor]) -> int:
    """FlopCounterMode's count of one forward + backward on a real batch (eval
    mode, so no dropout draws touch the RNG; gradients are discarded)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with FlopCounterMode(display=False) as counter:
        out = forward_batch(model, batch)
        distance_loss(out["distances"], batch["distances"], batch["residue_mask"]).backward()
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return counter.get_total_flops()


# After the recorded steps the profiler still slows the next ones down (on the 2-core CPU at
# --preset tiny, 2026-12-07: 1.50 and 0.75 s against 0.45 s a step), so the timing also
# leaves these out.
PROFILER_AFTERMATH_STEPS = 2


def make_profiler(tc: TrainConfig, device: torch.device):
    """torch.profiler over steps: 1 skipped, --warmup-steps warm-up, --profile-steps recorded,
    written by tensorboard_trace_handler (TensorBoard's profiler plugin, Perfetto, chrome://tracing)."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)  # CUPTI on NVIDIA, roctracer on ROCm
    return torch.profiler.profile(
        activities=activities,
        schedule=torch.profiler.schedule(wait=1, warmup=tc.warmup_steps, active=tc.profile_steps, repeat=1),
        on_trace_ready=torch.profiler.tensorboard_trace_handler(tc.profile_dir),
        record_shapes=True, profile_memory=True, with_flops=True)


def module_time_rows(events) -> List[dict]:
    """One row per algorithm range, from the profiler's key averages.

    On a GPU each record_function range shows up twice: as a CPU event (host time
    inside the range; its device time is the sum of the kernels it launched) and
    as a GPU user annotation (the span on the GPU from its first kernel's start to
    its last kernel's end). Kernel time far below the span means the GPU sat idle
    waiting for launches: the module is launch-bound, not compute- or memory-bound.
    """
    rows: Dict[str, dict] = {}
    for e in events:
        if not e.key.startswith(("Alg", "DistanceHead")):
            continue
        row = rows.setdefault(e.key, {"name": e.key, "calls": 0, "cpu_total_ms": 0.0, "kernel_ms": 0.0,
                                      "gpu_span_ms": None})
        if e.device_type == torch.autograd.DeviceType.CPU:
            row["calls"] = e.count
            row["cpu_total_ms"] = e.cpu_time_total / 1e3
            row["kernel_ms"] = e.device_time_total / 1e3
        else:  # the GPU-side annotation of the same range
            row["gpu_span_ms"] = e.device_time_total / 1e3
    return sorted(rows.values(), key=lambda r: -max(r["cpu_total_ms"], r["gpu_span_ms"] or 0.0))


def write_profile_tables(prof, tc: TrainConfig, device: torch.device) -> None:
    """Save the top operators and the per-module table (text + JSON) from the recorded steps."""
    events = prof.key_averages()
    sort = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    table = events.table(sort_by=sort, row_limit=30)
    rows = []
    for e in events:
        rows.append({
            "name": e.key, "calls": e.count, "device_type": str(e.device_type).rsplit(".", 1)[-1],
            "cpu_time_total_us": e.cpu_time_total, "self_cpu_time_total_us": e.self_cpu_time_total,
            "device_time_total_us": e.device_time_total, "self_device_time_total_us": e.self_device_time_total,
            "flops": e.flops,
        })
    modules = module_time_rows(events)
    lines = [f"{'module':<40} {'calls':>6} {'CPU total ms':>13} {'kernel ms':>10} {'GPU span ms':>12}"]
    lines += [f"{r['name']:<40} {r['calls']:>6} {r['cpu_total_ms']:>13.2f} {r['kernel_ms']:>10.2f} "
              f"{'-' if r['gpu_span_ms'] is None else format(r['gpu_span_ms'], '.2f'):>12}" for r in modules]
    lines.append("(CPU total: host time in the range; kernel: GPU kernels it launched; GPU span: first kernel "
                 "start to last kernel end. kernel << span: launch-bound)")
    module_table = "\n".join(lines)
    with open(os.path.join(tc.profile_dir, "profile_top_ops.txt"), "w") as f:
        f.write(table + "\n\nPer-module (record_function ranges, forward, totals over the recorded steps):\n"
                + module_table + "\n")
    atomic_save({"top_ops": sorted(rows, key=lambda r: -r["self_cpu_time_total_us"])[:50], "modules": modules},
                os.path.join(tc.profile_dir, "profile_tables.json"))
    log(tc, "Per-module time over the profiled steps (forward ranges; backward ops appear under their own names):")
    log(tc, module_table)
    log(tc, f"Traces and tables written to {tc.profile_dir} (tensorboard --logdir {tc.profile_dir}, or open the "
            f"*.pt.trace.json in https://ui.perfetto.dev)")


# --- Memory analysis (--enable-memory-profiling) -----------------------------
#
# Four questions, four instruments:
#   how much, when?     allocated / reserved / peak after each phase of each step
#                       (the caching allocator on GPU; the process's resident set on CPU)
#   what is in it?      a CUDA memory snapshot (allocations with stack traces) for
#                       https://pytorch.org/memory_viz
#   which module?       bytes autograd saves for backward, charged per module with
#                       saved-tensor hooks
#   does it add up?     parameters + gradients + optimizer state + activations,
#                       each measured, against the allocator's peak


MB = 2 ** 20
MEMORY_PHASES = ("data", "forward", "backward", "optimizer")


def memory_reading(device: torch.device) -> dict:
    """{allocated, reserved, peak} in MB. GPU: the allocator's live bytes, the pool it
    holds from the driver, and the peak since the step began. CPU: the resident set,
    no pool (None), and the process's peak resident set."""
    if device.type == "cuda":
        return {"allocated_mb": torch.cuda.memory_allocated(device) / MB,
                "reserved_mb": torch.cuda.memory_reserved(device) / MB,
                "peak_mb": torch.cuda.max_memory_allocated(device) / MB}
    rss = memory_mb(device)  # the kernel updates the peak lazily: it is at least the current reading
    return {"allocated_mb": rss, "reserved_mb": None, "peak_mb": max(rss, peak_memory_mb(device))}


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if torch.is_tensor(t))


def saved_activations_by_module(model: nn.Module, batch: Dict[str, torch.Tensor], amp_dtype) -> tuple:
    """Bytes saved for backward by one training forward (and the loss), per module.

    A saved-tensor pack hook sees every tensor an op keeps for its backward. It is
    charged to the innermost running module that has a profile_name (forward
    pre-/post-hooks keep the stack), each storage once (a view saved twice costs
    nothing more) and parameters not at all (they are counted as parameters).
    Runs in training mode under the training autocast, on a forked RNG so the
    training run draws the same dropout masks with or without this measurement.

    Returns ({module: bytes}, the allocator's growth while the graph is alive in
    bytes, or None on CPU): two independent counts of the same activations.
    """
    device = batch["msa_tokens"].device
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = set()
    charged: Dict[str, int] = {}
    stack = ["TinyOpenFold (masks, embeddings) and loss"]
    handles = []
    for module in model.modules():
        name = getattr(module, "profile_name", None)
        if name is not None:
            if isinstance(module, EvoformerBlock):
                name += " (residual adds, dropout masks)"
            handles.append(module.register_forward_pre_hook(lambda mod, args, name=name: stack.append(name)))
            handles.append(module.register_forward_hook(lambda mod, args, out: stack.pop() and None))

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key not in params and key not in seen:
            seen.add(key)
            charged[stack[-1]] = charged.get(stack[-1], 0) + storage.nbytes()
        # Keep a detached alias, not t itself: an op that saves its own output (sigmoid,
        # softmax) would otherwise make a cycle t -> grad_fn -> t that outlives this function.
        return t.detach()

    was_training = model.training
    model.train()
    cuda = device.type == "cuda"
    synchronize(device)
    before = torch.cuda.memory_allocated(device) if cuda else 0
    try:
        with torch.random.fork_rng(devices=[device.index or 0] if cuda else []), \
                torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                out = forward_batch(model, batch)
            loss = distance_loss(out["distances"], batch["distances"], batch["residue_mask"])
            synchronize(device)
            live_graph = torch.cuda.memory_allocated(device) - before if cuda else None
            del out, loss
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return charged, live_graph


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    return sum(tensor_bytes(state.values()) for state in optimizer.state.values())


class MemoryProfile:
    """Collects --enable-memory-profiling's readings during train() and reports them."""

    def __init__(self, device: torch.device, profile_dir: str, replicas: int = 1):
        self.device = device
        self.profile_dir = profile_dir
        self.replicas = replicas  # > 1 under DataParallel: readings are GPU 0's
        self.per_step: List[dict] = []
        self.run_peak_mb = 0.0
        self.activations: Dict[str, int] = {}
        self.activations_allocator_mb: Optional[float] = None
        self.snapshot_path: Optional[str] = None
        self._current: dict = {}
        # With --enable-pytorch-profiler: the first step after the profiler's (its buffers grow the
        # process's memory while it records), from which growth() fits; set by train()
        self.first_steady_step = 0

    # --- before training: the per-module activation breakdown
    def measure_activations(self, model: nn.Module, batch: Dict[str, torch.Tensor], amp_dtype) -> None:
        self.activations, live_graph = saved_activations_by_module(model, batch, amp_dtype)
        self.activations_allocator_mb = live_graph / MB if live_graph is not None else None

    # --- what happens each step
    def start_recording_snapshot(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.memory._record_memory_history(max_entries=200_000)

    def stop_recording_snapshot(self) -> None:
        if self.device.type == "cuda" and self.snapshot_path is None:
            self.snapshot_path = os.path.join(self.profile_dir, "memory_snapshot.pickle")
            torch.cuda.memory._dump_snapshot(self.snapshot_path)
            torch.cuda.memory._record_memory_history(enabled=None)

    def begin_step(self, step: int) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)  # "peak" below is the peak within this step
        self._current = {"step": step}

    def phase(self, name: str) -> None:
        reading = memory_reading(self.device)
        self._current[name] = reading
        self.run_peak_mb = max(self.run_peak_mb, reading["peak_mb"])

    def end_step(self) -> None:
        self.per_step.append(self._current)

    # --- the report
    def growth(self) -> Optional[dict]:
        """Allocated memory after the optimizer phase, first step vs last, and the fitted slope."""
        after = [(r["step"], r["optimizer"]["allocated_mb"]) for r in self.per_step
                 if "optimizer" in r and r["step"] >= self.first_steady_step]
        if len(after) < 3:  # two readings' difference, times 100 steps, would be noise
            return None
        steps, mb = zip(*after)
        slope = float(np.polyfit(steps, mb, 1)[0]) if len(set(steps)) > 1 else 0.0
        # Step 0 allocates the optimizer state: growth is measured from step 1 when there is one.
        first = after[1] if len(after) > 2 else after[0]
        return {"first_step": first[0], "first_mb": first[1], "last_step": after[-1][0], "last_mb": after[-1][1],
                "growth_mb": after[-1][1] - first[1], "slope_mb_per_100_steps": 100 * slope}

    def budget(self, model: nn.Module, optimizer) -> dict:
        params = {id(p): p for p in list(model.parameters()) + optimizer_parameters(optimizer)}  # + FlatAdamW's
        grads = [p.grad for p in params.values() if p.grad is not None]
        parts = {
            "parameters_mb": tensor_bytes(model.parameters()) / MB,
            "gradients_mb": tensor_bytes(grads) / MB,
            "optimizer_state_mb": optimizer_state_bytes(optimizer) / MB,
            "activations_mb": sum(self.activations.values()) / MB,
        }
        parts["sum_mb"] = sum(parts.values())
        parts["peak_mb"] = self.run_peak_mb
        parts["peak_source"] = ("torch.cuda.max_memory_allocated (training steps)" if self.device.type == "cuda"
                                else "process peak RSS (includes Python, PyTorch's libraries and the data)")
        parts["remainder_mb"] = parts["peak_mb"] - parts["sum_mb"]
        parts["activations_allocator_delta_mb"] = self.activations_allocator_mb
        return parts

    def report(self, model: nn.Module, optimizer, tc: TrainConfig) -> dict:
        total = sum(self.activations.values()) or 1
        rows = [{"module": k, "saved_mb": v / MB, "percent": 100 * v / total}
                for k, v in sorted(self.activations.items(), key=lambda kv: -kv[1])]
        pair = sum(v for k, v in self.activations.items() if k.startswith(PAIR_TRACK))
        budget = self.budget(model, optimizer)
        lines = [f"Activation memory saved for backward, by module (one training forward, batch {tc.batch_size}):",
                 f"{'module':<52} {'MB':>10} {'%':>6}"]
        lines += [f"{r['module']:<52} {r['saved_mb']:>10.2f} {r['percent']:>6.1f}" for r in rows]
        lines.append(f"{'total':<52} {total / MB:>10.2f} {100.0:>6.1f}   (pair-stack modules Alg11-15: "
                     f"{100 * pair / total:.1f} %)")
        lines += ["", "Memory budget (MB, each part measured):"]
        for key in ("parameters_mb", "gradients_mb", "optimizer_state_mb", "activations_mb", "sum_mb", "peak_mb",
                    "remainder_mb"):
            lines.append(f"   {key[:-3].replace('_', ' '):<20} {budget[key]:>10.1f}")
        lines.append(f"   (peak: {budget['peak_source']}; remainder: temporaries freed inside forward and backward, "
                     f"the batch, workspaces, allocator rounding)")
        if self.first_steady_step and self.device.type != "cuda":
            lines.append("   (the PyTorch profiler ran in this process: on a CPU its buffers are part of the peak and "
                         "the remainder; for a clean budget, profile memory without --enable-pytorch-profiler)")
        if budget["activations_allocator_delta_mb"] is not None:
            lines.append(f"   allocator's own count of the live graph after forward: "
                         f"{budget['activations_allocator_delta_mb']:.1f} MB")
        growth = self.growth()
        if growth:
            lines.append(f"   growth: {growth['first_mb']:.1f} MB after step {growth['first_step']} -> "
                         f"{growth['last_mb']:.1f} MB after step {growth['last_step']} "
                         f"({growth['slope_mb_per_100_steps']:+.2f} MB per 100 steps)")
        if self.replicas > 1:
            lines.append(f"   DataParallel over {self.replicas} GPUs: the readings and the peak are GPU 0's, which holds "
                         f"about 1/{self.replicas} of the activations above (measured on the whole batch) plus the "
                         f"gathered outputs; use --device 0 for a one-GPU budget")
        if self.snapshot_path:
            lines.append(f"   memory snapshot: {self.snapshot_path} (drag into https://pytorch.org/memory_viz)")
        elif self.device.type != "cuda":
            lines.append("   memory snapshot: CUDA/ROCm only (the allocator's history); none on CPU")
        text = "\n".join(lines)
        with open(os.path.join(self.profile_dir, "memory_breakdown.txt"), "w") as f:
            f.write(text + "\n")
        log(tc, text)
        return {"source": "torch.cuda caching allocator" if self.device.type == "cuda" else "process RSS",
                "phases": list(MEMORY_PHASES), "data_parallel_replicas": self.replicas, "per_step": self.per_step, "peak_mb": self.run_peak_mb,
                "growth": growth, "budget": budget, "activations_by_module": rows,
                "pair_stack_activation_fraction": pair / total, "snapshot": self.snapshot_path}


PAIR_TRACK = ("Alg11", "Alg12", "Alg13", "Alg14", "Alg15")


def nvtx_ranges(tc: TrainConfig, device: torch.device):
    """--emit-nvtx: every op and record_function range (Alg3 ... Alg15, forward,
    backward, optimizer) becomes an NVTX range on CUDA or a ROCTX range on ROCm, for
    `nsys profile -t cuda,nvtx` or rocprof. A no-op with a note where there is none."""
    if not tc.emit_nvtx:
        return contextlib.nullcontext()
    if device.type != "cuda":
        log(tc, "Note: --emit-nvtx needs a CUDA or ROCm device; this run has no NVTX ranges.")
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(torch.autograd.profiler.emit_nvtx())
    except (RuntimeError, AssertionError) as exc:
        log(tc, f"Note: --emit-nvtx is unavailable in this PyTorch build ({exc}); continuing without ranges.")
    return stack


def make_summary_writer(tc: TrainConfig):
    """A TensorBoard SummaryWriter in --profile-dir, or None (with a note) without tensorboard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        log(tc, f"Note: TensorBoard logging is off ({exc}); pip install tensorboard to enable it.")
        return None
    return SummaryWriter(log_dir=tc.profile_dir)


@torch.no_grad()
def distance_map_image(model: nn.Module, batch: Dict[str, torch.Tensor], device: torch.device) -> torch.Tensor:
    """[3, N, 2N] image: predicted (left) and true (right) distances of the first
    held-out protein, 0 A white to 22 A black, so TensorBoard shows contacts forming."""
    was_training = model.training
    model.eval()
    n = int(batch["residue_mask"][0].sum())
    b = {k: v[:1].to(device) for k, v in batch.items()}
    pred = forward_batch(model, b)["distances"][0, :n, :n, 0].float().cpu()
    true = b["distances"][0, :n, :n].float().cpu()
    model.train(was_training)
    both = torch.cat([pred, true], dim=1).clamp(max=DISTANCE_CLIP) / DISTANCE_CLIP
    scale = max(1, 256 // n)  # nearest-neighbour upscaling, so small proteins are visible
    both = both.repeat_interleave(scale, dim=0).repeat_interleave(scale, dim=1)
    return (1.0 - both).unsqueeze(0).expand(3, -1, -1)


# --- Parallelism: one device, DataParallel, or DistributedDataParallel -------
#
# DataParallel (the seed's mode): one process scatters each batch over the
# visible GPUs, runs a replica per GPU in threads and gathers the outputs and
# gradients on GPU 0. DistributedDataParallel: one process per GPU (torchrun
# starts them), each with its slice of the batch; backward all-reduces the
# gradients bucket by bucket while it is still computing. DDP is the one that
# scales; DataParallel is kept to show why.


@dataclass
class ParallelContext:
    mode: str  # "none", "dp" or "ddp"
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1  # processes (DDP)
    backend: Optional[str] = None  # "nccl" (NCCL on NVIDIA, RCCL on ROCm) or "gloo" (CPU)
    device: Optional[torch.device] = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return all(k in os.environ for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))


def parallel_mode(tc: TrainConfig, device: torch.device) -> str:
    """--parallel auto: DDP under torchrun; DataParallel over every visible GPU
    when there are several (and neither --device nor --no-data-parallel); else none."""
    torchrun = launched_by_torchrun()
    if tc.parallel == "auto":
        if torchrun:
            return "ddp"
        n_gpu = torch.cuda.device_count() if device.type == "cuda" else 0
        return "dp" if n_gpu > 1 and tc.data_parallel and tc.device is None else "none"
    if tc.parallel == "ddp" and not torchrun:
        raise UsageError("--parallel ddp: start the processes with torchrun, e.g. "
                         "torchrun --nproc-per-node 2 tiny_openfold_v1.py --parallel ddp ...")
    if tc.parallel != "ddp" and torchrun and int(os.environ["WORLD_SIZE"]) > 1:
        raise UsageError(f"--parallel {tc.parallel}: under torchrun use --parallel ddp or auto "
                         f"(otherwise every process would train its own model)")
    if tc.parallel == "dp" and device.type != "cuda":
        raise UsageError("--parallel dp: DataParallel needs CUDA/ROCm GPUs; on CPU use torchrun with --parallel ddp")
    return tc.parallel


def start_distributed(tc: TrainConfig) -> ParallelContext:
    """Join the process group torchrun set up (RANK, LOCAL_RANK, WORLD_SIZE,
    MASTER_ADDR/PORT). Each process drives GPU LOCAL_RANK (NCCL/RCCL), or the
    CPU with gloo under --device cpu or without GPUs."""
    rank, local_rank, world = (int(os.environ[k]) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
    if tc.device not in (None, "cpu", "cuda"):
        raise UsageError(f"--device {tc.device}: under torchrun each process uses GPU LOCAL_RANK; "
                         f"leave --device out, or use --device cpu")
    if tc.batch_size % world:
        raise UsageError(f"--batch-size {tc.batch_size}: the global batch must divide evenly over the "
                         f"{world} processes (try {world * max(1, tc.batch_size // world)})")
    if tc.device != "cpu" and torch.cuda.is_available():
        if local_rank >= torch.cuda.device_count():
            raise UsageError(f"--nproc-per-node: process {local_rank} has no GPU "
                             f"({torch.cuda.device_count()} visible on this node)")
        device, backend = torch.device("cuda", local_rank), "nccl"
        torch.cuda.set_device(device)
    else:
        device, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend, rank=rank, world_size=world, timeout=timedelta(minutes=10))
    return ParallelContext("ddp", rank, local_rank, world, backend, device)


def split_batch(batch: Dict[str, torch.Tensor], parts: int) -> List[Dict[str, torch.Tensor]]:
    """--grad-accum-steps: the batch as `parts` equal micro-batches."""
    chunks = {k: v.chunk(parts) for k, v in batch.items()}
    return [{k: chunks[k][i] for k in batch} for i in range(parts)]


def train(cfg: TinyOpenFoldConfig, tc: TrainConfig) -> dict:
    """Train, evaluate and write performance_summary.json. Returns the summary."""
    device = select_device(tc.device) if not launched_by_torchrun() else torch.device("cpu")
    par = ParallelContext(parallel_mode(tc, device))
    if par.mode == "ddp":
        par = start_distributed(tc)
        device = par.device
        tc = dataclasses.replace(tc, quiet=tc.quiet or not par.is_main)  # one rank talks
    local_batch = tc.batch_size // par.world_size
    if local_batch % tc.grad_accum_steps:
        raise UsageError(f"--grad-accum-steps {tc.grad_accum_steps}: must divide the per-process batch "
                         f"({local_batch})")
    amp_dtype, scaler = amp_settings(tc, device)
    check_writable_dir(tc.profile_dir, "--profile-dir")
    check_writable_dir(tc.checkpoint_dir, "--checkpoint-dir")
    ckpt = load_checkpoint(tc.resume) if tc.resume else None
    if ckpt is not None and ckpt["config"] != dataclasses.asdict(cfg):
        diff = [k for k, v in ckpt["config"].items() if dataclasses.asdict(cfg).get(k) != v]
        raise UsageError(f"--resume: the checkpoint's model differs from these flags in {', '.join(diff)}; "
                         f"use the flags of the original run")

    check_fast_paths(tc, device, par.mode, amp_dtype)
    torch.manual_seed(tc.seed)
    model = TinyOpenFold(cfg).to(device)
    model.configure(**tc.model_paths())
    optimizer = make_optimizer(model, tc, device)
    start_step = 0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        load_optimizer_state(optimizer, ckpt["optimizer"])
        if scaler is not None and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if "cuda" in ckpt["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        start_step = int(ckpt["step"])
        changed = [k for k, v in ckpt.get("train", {}).items()
                   if k in ("batch_size", "seed", "min_seq_len") and getattr(tc, k) != v]
        if changed:
            print(f"Note: --resume with a different {', '.join(changed)} than the original run: "
                  f"training continues, but not as the uninterrupted run would have.")
        if start_step >= tc.num_steps:
            raise UsageError(f"--resume: the checkpoint is at step {start_step}; "
                             f"--num-steps {tc.num_steps} leaves nothing to do")
    if par.rank > 0:  # other dropout masks on other ranks; rank 0 keeps the one-process stream
        torch.manual_seed(tc.seed + 1_000_003 * par.rank + start_step)
    train_model: nn.Module = model
    n_gpu = torch.cuda.device_count() if device.type == "cuda" else 0
    if par.mode == "dp":
        train_model = nn.DataParallel(model)  # one process drives every visible GPU (the seed's mode)
    elif par.mode == "ddp":
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[par.local_rank] if device.type == "cuda" else None)
    n_devices = par.world_size if par.mode == "ddp" else (n_gpu if par.mode == "dp" else 1)
    objective = make_objective(train_model, cfg, tc, amp_dtype, device, optimizer)
    graph_step: Optional[CudaGraphStep] = None

    precision = compute_precision(amp_dtype, device)
    peak = peak_tflops(device, precision, tc.peak_tflops)
    print_model_configuration(model, cfg, tc, device)
    if par.mode != "none":
        log(tc, f"   Parallel: {'DistributedDataParallel' if par.mode == 'ddp' else 'DataParallel'} over "
                f"{n_devices} {'processes' if par.mode == 'ddp' else 'GPUs'}"
                f"{f' ({par.backend})' if par.backend else ''}, global batch {tc.batch_size}"
                f"{f', {local_batch} per process' if par.mode == 'ddp' else ''}"
                f"{f', {tc.grad_accum_steps} micro-batches per step' if tc.grad_accum_steps > 1 else ''}")
    log(tc, f"   FLOPs per training step (analytic): {analytic_train_flops(cfg, tc.batch_size) / 1e9:.1f} GFLOP | "
            f"peak for MFU: {f'{peak:.1f} TFLOP/s ({precision})' if peak else f'n/a (unknown device, {precision})'}")
    if ckpt is not None:
        log(tc, f"Resumed from {tc.resume} at step {start_step}")
    log(tc, "Preparing held-out set and separation-only baseline...")
    eval_batches = heldout_batches(cfg, tc)
    baseline = SeparationBaseline(cfg.max_seq_len, seed=tc.eval_seed + 1, min_seq_len=tc.min_seq_len)

    dataset = SyntheticProteinDataset(tc.num_steps * tc.batch_size, cfg.max_seq_len, cfg.n_seqs,
                                      tc.seed, tc.min_seq_len)
    ckpt_path = os.path.join(tc.checkpoint_dir, "checkpoint.pt")
    if par.is_main and (kept := keep_earlier_checkpoint(tc.checkpoint_dir, tc.resume)):
        print(f"Note: {ckpt_path} held an earlier run, which this one does not resume; it is kept as {kept} "
              f"(continue it with --resume {kept}).")
    counter_flops = None
    replicas = n_gpu if isinstance(train_model, nn.DataParallel) else 1
    memprof = MemoryProfile(device, tc.profile_dir, replicas) if tc.memory_profiling else None
    profiling = tc.pytorch_profiler and par.is_main  # rank 0 traces; the others just train
    if profiling or memprof is not None:  # measured on the first training batch (this process's share)
        first = collate_proteins([dataset[i] for i in range(start_step * tc.batch_size,
                                                              start_step * tc.batch_size + local_batch)],
                                 pad_to=pad_length(cfg, tc, training=True))
        first = {k: v.to(device) for k, v in first.items()}
        if profiling:
            counter_flops = torch_counter_train_flops(model, first) * par.world_size
        if memprof is not None:
            memprof.measure_activations(model, first, amp_dtype)
        del first
    profiled_until = 1 + tc.warmup_steps + tc.profile_steps if tc.pytorch_profiler else 0  # relative steps, all ranks
    # compile/capture, warm-up and profiled steps are never timed, nor the steps the profiler still slows
    first_timed = max(tc.warmup_steps, profiled_until + PROFILER_AFTERMATH_STEPS if profiled_until else 0,
                      1 if tc.fast_loop else 0)
    if memprof is not None and profiled_until:
        memprof.first_steady_step = start_step + first_timed  # the first step after the profiler's aftermath
    if profiled_until and par.is_main and device.type == "cpu":
        print(f"Note: on a CPU the profiler keeps the events of its {tc.warmup_steps + tc.profile_steps} warm-up "
              f"and recorded steps in memory, 2-3 GB a step at the default size (0.5-0.8 GB at --preset tiny); "
              f"fewer: --warmup-steps, --profile-steps.")
    if profiled_until and par.is_main and tc.num_steps - start_step <= profiled_until:
        print(f"Note: the profiler records {tc.profile_steps} steps after 1 skipped and {tc.warmup_steps} warm-up "
              f"steps; this run ends before them, so it writes no trace. Use --num-steps > "
              f"{start_step + profiled_until}.")
    flops_timed = 0.0
    times = {k: [] for k in ("batch", "data", "forward", "backward", "optimizer")}
    samples_timed = 0
    losses: List[float] = []
    eval_history: List[dict] = []
    step = start_step
    status = "completed"
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def run_eval(label: str, controls: bool = False) -> Optional[dict]:
        """Held-out metrics, on rank 0 with the unwrapped model; the other ranks wait."""
        if not par.is_main:
            dist.barrier()
            return None
        metrics = evaluate(model if par.mode == "ddp" else train_model, eval_batches, device, baseline,
                           amp_dtype, controls)
        metrics["step"] = step
        eval_history.append(metrics)
        if writer is not None:
            for key, value in metrics.items():
                if key != "step":
                    writer.add_scalar(f"eval/{key}", value, step)
            writer.add_image("eval/distance_map_predicted_vs_true", distance_map_image(model, eval_batches[0], device),
                             step)
        log(tc, f"Eval  {label:>9} | loss {metrics['eval_loss']:.3f} (separation-only baseline "
                f"{metrics['baseline_loss']:.3f}, ratio {metrics['loss_ratio_to_baseline']:.3f}) | "
                f"MAE {metrics['distance_mae']:.2f} A | P@L/5 {metrics['contact_precision_top_l5']:.3f} "
                f"(density {metrics['contact_density']:.3f})")
        if par.mode == "ddp":
            dist.barrier()
        return metrics

    writer = make_summary_writer(tc) if par.is_main else None

    def log_step_line(at: int, loss_value: float, lr: float, seconds: float, bsz: float, step_flops: float) -> None:
        tflops = step_flops / seconds / 1e12
        mem = memory_mb(device)
        if writer is not None:
            for key, value in (("loss", loss_value), ("learning_rate", lr), ("samples_per_sec", bsz / seconds),
                               ("memory_mb", mem), ("tflops", tflops)):
                writer.add_scalar(f"train/{key}", value, at)
        mfu = f"{100 * tflops / (peak * n_devices):5.1f}%" if peak else "n/a"
        log(tc, f"Step {at:>4}/{tc.num_steps} | Loss: {loss_value:8.4f} | "
                f"Speed: {bsz / seconds:7.1f} samples/sec | Memory: {mem:8.1f} MB | "
                f"Time: {seconds * 1e3:7.1f}ms | LR: {lr:.2e} | TFLOP/s: {tflops:6.2f} | MFU: {mfu}")

    log(tc, f"Training for {tc.num_steps} steps (first {tc.warmup_steps} left out of timing)...")
    if note := first_step_note(tc):
        log(tc, note)
    train_model.train()
    updating = False
    prof = make_profiler(tc, device) if profiling else None
    if prof is not None:
        prof.start()
    if memprof is not None:
        memprof.start_recording_snapshot()  # the first steps: optimizer state appears, then steady state
    with InterruptFlag() as interrupted, nvtx_ranges(tc, device):
        try:
            t_end = time.perf_counter()
            # The fast loop (--compile / --cuda-graphs) synchronises only at "sync points" (warm-up end,
            # log steps, eval/save steps, the last step): losses are read and checked there, and the
            # steps since the previous sync point share that window's wall time.
            window = {"start": t_end, "steps": 0, "samples": 0, "flops": 0.0}
            pending: List[torch.Tensor] = []  # fast loop: losses still on the device
            for batch in make_loader(dataset, tc, device, start_step, par.rank, par.world_size,
                                     pad_to=pad_length(cfg, tc, training=True)):
                t0 = t_end  # the step's wall time includes waiting for its data
                rel = step - start_step
                if memprof is not None:
                    memprof.begin_step(step)
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                if not tc.fast_loop:
                    synchronize(device)
                t1 = time.perf_counter()
                if memprof is not None:
                    memprof.phase("data")
                lr = learning_rate_at(step, tc)
                set_learning_rate(optimizer, lr)
                t_forward = t_backward = 0.0
                if tc.cuda_graphs:
                    if graph_step is None:  # capture on the first batch (a warm-up step, not timed)
                        graph_step = CudaGraphStep(objective, model, optimizer, tc.grad_clip, batch)
                        if tc.peer_ping:
                            peer_ping(device)
                    with record_function("cuda_graph_step"):
                        loss_sum = graph_step(batch)
                else:
                    optimizer.zero_grad(set_to_none=True)
                    loss_sum = torch.zeros((), device=device)
                    micro_batches = split_batch(batch, tc.grad_accum_steps)
                    for i, micro in enumerate(micro_batches):
                        # DDP all-reduces gradients in backward; accumulate locally until the last micro-batch.
                        last = i == len(micro_batches) - 1
                        sync = train_model.no_sync() if par.mode == "ddp" and not last else contextlib.nullcontext()
                        with sync:
                            ta = time.perf_counter()
                            with record_function("forward"):
                                loss = objective(micro) / len(micro_batches)  # the step's gradient is the batch mean
                            if not tc.fast_loop:
                                synchronize(device)
                            tb = time.perf_counter()
                            if memprof is not None:
                                memprof.phase("forward")
                            with record_function("backward"):
                                if scaler is not None:
                                    scaler.scale(loss).backward()
                                else:
                                    loss.backward()
                            if not tc.fast_loop:
                                synchronize(device)
                            t_forward += tb - ta
                            t_backward += time.perf_counter() - tb
                        loss_sum += loss.detach()
                        del loss
                if memprof is not None:
                    memprof.phase("backward")
                loss_value = None
                if tc.fast_loop and par.mode != "ddp":
                    stop_requested = interrupted.set  # read on the host: no synchronisation
                    pending.append(loss_sum)
                else:
                    # One small all-reduce per step: every rank sees the global loss and any Ctrl-C,
                    # so all of them stop (or fail on a NaN) at the same step instead of hanging.
                    agreed = torch.stack([loss_sum.float(), torch.tensor(float(interrupted.set), device=device)])
                    if par.mode == "ddp":
                        dist.all_reduce(agreed)
                        agreed[0] /= par.world_size
                    loss_value, stop_requested = agreed[0].item(), agreed[1].item() > 0
                    if not math.isfinite(loss_value):
                        optimizer.zero_grad(set_to_none=True)  # parameters are still those before this step
                        if par.is_main:
                            save_checkpoint(ckpt_path, step, model, optimizer, scaler, tc)
                        raise TrainingFailed(
                            f"Loss became {loss_value} at step {step}; the state before this step is saved in "
                            f"{ckpt_path}. Try a lower --learning-rate, or run without --use-amp.")
                t3 = time.perf_counter()
                if not tc.cuda_graphs:
                    updating = True  # parameters and optimizer state are mid-update until step() returns
                    with record_function("optimizer"):
                        optimizer_update(optimizer, scaler, tc.grad_clip)
                    updating = False
                if not tc.fast_loop:
                    synchronize(device)
                t_end = time.perf_counter()
                if memprof is not None:
                    memprof.phase("optimizer")
                    memprof.end_step()
                    if rel == 2:
                        memprof.stop_recording_snapshot()
                        t_end = time.perf_counter()  # writing the snapshot is not training time
                local_bsz, _, n_res = batch["msa_tokens"].shape
                bsz = local_bsz * par.world_size  # the global batch of this step
                step_flops = analytic_train_flops(cfg, bsz, n_res=n_res)
                timed = rel >= first_timed  # warm-up and profiled steps are not timed
                if timed:
                    samples_timed += bsz
                    flops_timed += step_flops
                window["steps"] += 1
                window["samples"] += bsz
                window["flops"] += step_flops
                is_log_step = step % tc.log_every == 0 or step == tc.num_steps - 1
                step += 1
                eval_due = bool(tc.eval_every and step % tc.eval_every == 0 and step < tc.num_steps)
                save_due = bool(tc.save_every and step % tc.save_every == 0 and par.is_main)
                if loss_value is not None:  # the reference loop: every step is measured and checked
                    losses.append(loss_value)
                    if timed:
                        for key, value in zip(times, (t_end - t0, t1 - t0, t_forward, t_backward, t_end - t3)):
                            times[key].append(value)
                    if is_log_step:
                        log_step_line(step - 1, loss_value, lr, t_end - t0, bsz, step_flops)
                    window.update(start=t_end, steps=0, samples=0, flops=0.0)
                elif (is_log_step or stop_requested or eval_due or save_due or rel + 1 == first_timed
                      or step == tc.num_steps):  # a sync point of the fast loop
                    synchronize(device)
                    t_end = time.perf_counter()
                    values = torch.stack(pending).float().tolist()
                    pending.clear()
                    bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
                    if bad:
                        first_bad = step - len(values) + bad[0]
                        raise TrainingFailed(
                            f"Loss became {values[bad[0]]} at step {first_bad} (the fast loop reads losses every "
                            f"--log-every steps, so the weights are already past it and are not saved; the last "
                            f"checkpoint in {tc.checkpoint_dir}, if any, is kept). Try a lower --learning-rate, "
                            f"--save-every, or run without --use-amp.")
                    losses.extend(values)
                    elapsed = t_end - window["start"]
                    if timed:
                        times["batch"].extend([elapsed / window["steps"]] * window["steps"])
                    if is_log_step:
                        log_step_line(step - 1, values[-1], lr, elapsed / window["steps"],
                                      window["samples"] / window["steps"], window["flops"] / window["steps"])
                    window.update(steps=0, samples=0, flops=0.0)
                if prof is not None:
                    prof.step()  # may write a trace: not the next step's time
                if eval_due:
                    run_eval(f"step {step}")  # evaluation is not training time
                if save_due:
                    save_checkpoint(ckpt_path, step, model, optimizer, scaler, tc)
                if window["steps"] == 0:
                    t_end = window["start"] = time.perf_counter()
                if stop_requested:
                    status = "interrupted"
                    break
        except KeyboardInterrupt:
            status = "interrupted"
        except torch.cuda.OutOfMemoryError:
            optimizer.zero_grad(set_to_none=True)
            if par.is_main:
                save_checkpoint(ckpt_path, step, model, optimizer, scaler, tc)
            raise TrainingFailed(
                f"Out of GPU memory at step {step} (peak {peak_memory_mb(device):.0f} MB). State saved in "
                f"{ckpt_path}. Try a smaller --batch-size, --seq-len or --num-seqs, or --use-amp.") from None

    if memprof is not None:
        memprof.stop_recording_snapshot()
    if prof is not None:
        prof.stop()
        if step - start_step >= profiled_until:
            write_profile_tables(prof, tc, device)
        else:
            log(tc, f"Profiler: the run ended before the recorded steps; use --num-steps > {profiled_until}")
    if updating:  # a second Ctrl-C landed inside optimizer.step(): this state is half-updated
        print(f"Stopped inside the optimizer update of step {step}; not saving that state. "
              f"The last checkpoint in {tc.checkpoint_dir} (if any) is kept.", file=sys.stderr)
        raise KeyboardInterrupt
    if par.is_main:
        save_checkpoint(ckpt_path, step, model, optimizer, scaler, tc)
    if status == "interrupted":
        log(tc, f"Interrupted at step {step}: state saved in {ckpt_path}. "
                f"Continue with the same flags plus --resume {ckpt_path}")
    else:
        log(tc, f"Checkpoint saved: {ckpt_path}")
    memory = memprof.report(model, optimizer, tc) if memprof is not None else None
    log(tc, f"Final evaluation: {tc.eval_samples} held-out proteins, with the single-sequence and "
            f"column-shuffled controls{' (Ctrl-C skips it; the state is saved)' if status == 'interrupted' else ''}...")
    final_metrics = run_eval("final", controls=True)
    wall = float(np.sum(times["batch"])) if times["batch"] else 0.0
    if par.mode == "ddp":  # the global rate: all samples over the slowest rank's wall time
        slowest = torch.tensor([wall], dtype=torch.float64, device=device)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
        wall = slowest.item()
    if not par.is_main:
        dist.barrier()  # wait for rank 0's summary: the ranks then tear gloo/NCCL down together
        return {"status": status, "step": step, "rank": par.rank}
    log(tc, f"Controls   | single sequence: loss {final_metrics['single_seq_loss']:.3f}, "
            f"P@L/5 {final_metrics['single_seq_contact_precision_top_l5']:.3f} | column-shuffled MSA: loss "
            f"{final_metrics['shuffled_msa_loss']:.3f}, P@L/5 {final_metrics['shuffled_msa_contact_precision_top_l5']:.3f}"
            f" | separation-only P@L/5 {final_metrics['baseline_contact_precision_top_l5']:.3f}")

    def avg_ms(key):
        return 1e3 * float(np.mean(times[key])) if times[key] else None

    perf = {
        "total_samples": (step - start_step) * tc.batch_size,
        "timed_steps": len(times["batch"]),
        "timed_samples": samples_timed,
        "avg_training_speed": samples_timed / wall if wall > 0 else None,
        "avg_batch_time_ms": avg_ms("batch"),
        "avg_data_time_ms": avg_ms("data"),
        "avg_forward_time_ms": avg_ms("forward"),
        "avg_backward_time_ms": avg_ms("backward"),
        "avg_optimizer_time_ms": avg_ms("optimizer"),
        "final_loss": losses[-1] if losses else None,
        "peak_memory_mb": max(peak_memory_mb(device), memprof.run_peak_mb if memprof else 0.0),
        "peak_memory_source": "torch.cuda.max_memory_allocated" if device.type == "cuda" else "process peak RSS",
    }
    achieved = flops_timed / wall / 1e12 if wall > 0 else None
    per_module = analytic_flops(cfg, tc.batch_size)
    flops = {
        "analytic_forward": sum(per_module.values()),
        "analytic_forward_per_module": per_module,
        "analytic_train_step": analytic_train_flops(cfg, tc.batch_size),
        "torch_counter_train_step": counter_flops,
        "achieved_tflops": achieved,
        "precision": precision,
        "peak_tflops": peak,
        "mfu": achieved / (peak * n_devices) if (achieved is not None and peak) else None,  # per device
    }
    log(tc, "Performance Summary:")
    log(tc, f"   Total samples processed: {perf['total_samples']}")
    if perf["avg_training_speed"] is not None:
        log(tc, f"   Average training speed: {perf['avg_training_speed']:.1f} samples/sec "
                f"(over {perf['timed_steps']} steps; {first_timed} warm-up/profiled steps excluded)")
        for key in ("batch", "data", "forward", "backward", "optimizer"):
            if times[key]:
                log(tc, f"   Average {key} time: {avg_ms(key):.1f} ms")
        if tc.fast_loop:
            log(tc, "   (--compile / --cuda-graphs: no synchronisation inside a step, so no per-phase times)")
        mfu_text = f"{100 * flops['mfu']:.2f}%" if flops["mfu"] is not None else "n/a"
        log(tc, f"   Achieved: {achieved:.3f} TFLOP/s (analytic FLOPs / wall time) | MFU: {mfu_text}")
    else:
        log(tc, f"   (no timed steps: --num-steps must exceed {first_timed}, "
                f"the warm-up{' and profiled' if profiled_until else ''} steps)")
    if losses:
        log(tc, f"   Final loss: {losses[-1]:.4f}")
    log(tc, f"   Peak memory usage: {perf['peak_memory_mb']:.1f} MB ({perf['peak_memory_source']})")
    summary = {
        "status": status,
        "step": step,
        "config": dataclasses.asdict(cfg),
        "train_config": dataclasses.asdict(tc),
        "parameters": count_parameters(model),
        "performance_summary": perf,
        "flops": flops,
        "memory": memory,
        "metrics": final_metrics,
        "eval_history": eval_history,
        "loss_history": losses,
        "parallel": {"mode": par.mode, "world_size": par.world_size, "backend": par.backend,
                     "devices": n_devices, "grad_accum_steps": tc.grad_accum_steps,
                     "per_process_batch": local_batch},
        "system_info": system_info(device),
    }
    if writer is not None:
        writer.close()
    path = os.path.join(tc.profile_dir, "performance_summary.json")
    atomic_save(summary, path)
    log(tc, f"Summary written to {path}")
    if par.mode == "ddp":
        # A rank that exits while a peer still works can abort in gloo's teardown
        # ("terminate called without an active exception", seen about 1 run in 20 on CPU).
        dist.barrier()
    return summary


# =============================================================================
# 9. Benchmark: every fast path against the reference, in one table
# =============================================================================

# --benchmark-paths: each path is a "+"-joined list of these parts.
BENCHMARK_PARTS = (", ".join(ATTENTION_IMPLEMENTATIONS)
                   + ", fused, triton, compile, compile-block, graphs, flat, castonce, wgstream, autotune, pdl, "
                   "foldln, ckpt, chunk<N>")


def parse_benchmark_path(text: str) -> dict:
    """"sdpa+compile+graphs" -> the TrainConfig fields of that path."""
    switches = {"compile": "compile", "graphs": "cuda_graphs", "ckpt": "checkpoint_blocks", "fused": "fuse_projections",
                "flat": "flat_optimizer", "castonce": "cast_once", "triton": "triton_kernels",
                "wgstream": "weight_grad_stream", "autotune": "max_autotune", "pdl": "pdl",
                "foldln": "fold_layer_norms"}
    fields = dict(attention="reference", compile_scope="step", chunk_size=None,
                  **{field: False for field in switches.values()})  # every switch off unless its part is named
    for part in text.split("+"):
        if part == "reference":  # the default; names the reference row
            continue
        if part in ATTENTION_IMPLEMENTATIONS:
            fields["attention"] = part
        elif part == "compile-block":
            fields.update(compile=True, compile_scope="block")
        elif part in switches:
            fields[switches[part]] = True
        elif part.startswith("chunk") and part[5:].isdigit() and int(part[5:]) > 0:
            fields["chunk_size"] = int(part[5:])
        else:
            raise UsageError(f"--benchmark-paths: unknown part {part!r} in {text!r}; join parts of "
                             f"{BENCHMARK_PARTS} with '+', e.g. sdpa+compile+graphs")
    return fields


def benchmark_batch(cfg: TinyOpenFoldConfig, batch_size: int, device: torch.device, seed: int):
    """Inputs of the training shapes: random MSA tokens and the distances of a
    random-walk chain. A step's cost does not depend on the values, and
    generating real proteins of 2,048 residues would take longer than the run."""
    g = torch.Generator().manual_seed(seed)
    B, S, N = batch_size, cfg.n_seqs, cfg.max_seq_len
    coords = torch.cumsum(torch.randn(B, N, 3, generator=g), dim=1) * 2.2
    batch = {"msa_tokens": torch.randint(0, 20, (B, S, N), generator=g), "distances": torch.cdist(coords, coords),
             "residue_mask": torch.ones(B, N), "msa_mask": torch.ones(B, S, N),
             "residue_index": torch.arange(N).expand(B, N).clone()}
    return {k: v.to(device) for k, v in batch.items()}


def benchmark_step(cfg: TinyOpenFoldConfig, tc: TrainConfig, device: torch.device) -> tuple:
    """(step, batches) of one benchmark path: step(batch) runs one whole training step
    (forward, loss, backward, clipping, AdamW) as that path runs it; batches are two
    fixed random batches. Also what the kernel-profile script in results/ times."""
    amp_dtype, scaler = amp_settings(tc, device)
    check_fast_paths(tc, device, "none", amp_dtype)
    torch.manual_seed(tc.seed)
    model = TinyOpenFold(cfg).to(device).configure(**tc.model_paths())
    optimizer = make_optimizer(model, tc, device)
    objective = make_objective(model, cfg, tc, amp_dtype, device, optimizer)
    batches = [benchmark_batch(cfg, tc.batch_size, device, seed) for seed in range(2)]
    step = (CudaGraphStep(objective, model, optimizer, tc.grad_clip, batches[0]) if tc.cuda_graphs
            else functools.partial(train_step, objective, model, optimizer, scaler, tc.grad_clip))
    if tc.peer_ping:  # check_fast_paths has made sure there is a graph
        peer_ping(device)
    return step, batches


def benchmark_path(cfg: TinyOpenFoldConfig, tc: TrainConfig, device: torch.device, steps: int, warmup: int) -> dict:
    """Time `steps` training steps (forward, loss, backward, clipping, AdamW) of one path
    after `warmup` untimed ones (compilation and graph capture happen there). setup_s:
    the seconds before the timed steps (building, compiling, capturing, warming up)."""
    start = time.perf_counter()
    step, batches = benchmark_step(cfg, tc, device)
    built = time.perf_counter()
    result = time_steps(step, batches, tc.batch_size, device, steps, warmup)
    result["setup_s"] = built - start + result["warmup_s"]
    return result


def time_steps(step, batches, batch_size: int, device: torch.device, steps: int, warmup: int) -> dict:
    """ms/step (median of CUDA-event or clock times), samples/s (samples over the
    synchronised wall time) and last loss of `steps` calls of step(batch) after
    `warmup` untimed ones (warmup_s: their seconds)."""
    start = time.perf_counter()
    for i in range(warmup):
        step(batches[i % 2])
    synchronize(device)
    warmup_s = time.perf_counter() - start
    cuda = device.type == "cuda"
    marks = [torch.cuda.Event(enable_timing=True) for _ in range(steps + 1)] if cuda else []
    ticks = []
    start = time.perf_counter()
    for i in range(steps):
        marks[i].record() if cuda else ticks.append(time.perf_counter())
        loss = step(batches[i % 2])
    marks[-1].record() if cuda else ticks.append(time.perf_counter())
    synchronize(device)
    wall = time.perf_counter() - start
    per_step = ([marks[i].elapsed_time(marks[i + 1]) for i in range(steps)] if cuda
                else [1e3 * (b - a) for a, b in zip(ticks, ticks[1:])])
    return {"ms_per_step": float(np.median(per_step)), "ms_per_step_mean": 1e3 * wall / steps,
            "samples_per_sec": batch_size * steps / wall, "final_loss": float(loss), "warmup_s": warmup_s}


def _cell(value: Optional[float], spec: str, unit: str = "") -> str:
    """A table cell: the number, or "n/a" (no peak known, no reference row, a failed path)."""
    return f"{value:{spec}}{unit}" if value is not None else "n/a"


# The benchmark table's columns: (heading, console width; negative: left-aligned).
BENCHMARK_COLUMNS = (("preset", -7), ("B", 2), ("S", 4), ("N", 5), ("path", -24), ("ms/step", 9),
                     ("samples/s", 10), ("TFLOP/s", 8), ("MFU", 6), ("peak MB", 9), ("speedup", 8), ("status", 0))


def benchmark_cells(row: dict) -> List[str]:
    """One benchmark row as the table's cells, in BENCHMARK_COLUMNS order (console and Markdown)."""
    mfu = 100 * row["mfu"] if row.get("mfu") else None
    return [row["preset"], str(row["batch_size"]), str(row["n_seqs"]), str(row["n_res"]), row["path"],
            _cell(row.get("ms_per_step"), ".2f"), _cell(row.get("samples_per_sec"), ".1f"),
            _cell(row.get("achieved_tflops"), ".2f"), _cell(mfu, ".1f", "%"), _cell(row.get("peak_memory_mb"), ".0f"),
            _cell(row.get("speedup_vs_reference"), ".2f", "x"), row["status"]]


def console_line(cells: Sequence[str], path_width: int) -> str:
    """Cells padded to BENCHMARK_COLUMNS' widths (the path column as wide as the longest path)."""
    widths = [path_width if name == "path" else width for name, width in BENCHMARK_COLUMNS]
    *numbers, status = [c.ljust(-w) if w < 0 else c.rjust(w) for c, w in zip(cells, widths)]
    return " ".join(numbers) + "  " + status


def benchmark_timing(steps: int, warmup: int) -> str:
    """What the benchmark's ms/step and samples/s are (the console's header and benchmark.md's)."""
    return (f"ms/step is the median of {steps} steps after {warmup} warm-up steps (forward, backward, AdamW), "
            f"samples/s their samples over their wall time")


def benchmark_markdown(result: dict) -> str:
    """benchmark.md: the table as Markdown, headed by what made it (command, device,
    torch, precision, date, commit), so it can be pasted into a document as it is."""
    info = result["system_info"]
    peak = (f"MFU against {result['peak_tflops']:.1f} TFLOP/s" if result["peak_tflops"]
            else "no MFU (no peak FLOP/s known for this device; --peak-tflops sets one)")
    if any(row.get("peak_memory_source", "").startswith("process peak RSS") for row in result["rows"]):
        peak += "; peak MB is the process's peak RSS so far, which only rises from row to row"
    lines = [f"`python {result['command']}`", "",
             f"{info['device']}, torch {info['torch']}, {result['precision']}, {info['date']}, "
             f"commit {info.get('git_commit') or 'unknown'}: "
             f"{benchmark_timing(result['steps'], result['warmup_steps'])}; {peak}.", "",
             "| " + " | ".join(name for name, _ in BENCHMARK_COLUMNS) + " |",
             "|" + "|".join("---" if width < 0 or name == "status" else "--:" for name, width in BENCHMARK_COLUMNS)
             + "|"]
    for row in result["rows"]:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in benchmark_cells(row)) + " |")
    return "\n".join(lines) + "\n"


def write_benchmark_results(tc: TrainConfig, precision: str, peak, args, device, rows) -> None:
    """benchmark.json and benchmark.md with the rows measured so far (rewritten after
    every row, atomically, so a run that is stopped keeps what it measured)."""
    result = {"command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]), "precision": precision,
              "peak_tflops": peak, "steps": args.benchmark_steps, "warmup_steps": max(1, tc.warmup_steps),
              "system_info": system_info(device), "rows": rows}
    atomic_save(result, os.path.join(tc.profile_dir, "benchmark.json"))
    atomic_save(benchmark_markdown(result), os.path.join(tc.profile_dir, "benchmark.md"))


class ProgressLine:
    """A line on the terminal (stderr) while a row is measured, erased before its result
    is printed: a compiled row can take minutes to set up. Nothing when stderr is a file
    or a pipe, so logs hold only the table."""

    def __init__(self, text: str):
        # cut to the terminal's width: a wrapped line could not be erased with a carriage return
        text = text[:shutil.get_terminal_size().columns - 1]
        self.width = len(text) if sys.stderr.isatty() else 0
        if self.width:
            print(text, end="\r", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self.width:
            print(" " * self.width, end="\r", file=sys.stderr, flush=True)


def run_benchmark(args, tc: TrainConfig) -> int:
    """--benchmark: one row per (preset, N, path); prints the table, writes benchmark.json."""
    device = select_device(tc.device)
    presets = [p for p in args.benchmark_presets.split(",") if p]
    paths = [p for p in args.benchmark_paths.split(",") if p]
    if not presets or not paths:
        raise UsageError(f"--benchmark-{'presets' if not presets else 'paths'}: expected a comma-separated "
                         f"list, e.g. {'small,medium' if not presets else 'reference,sdpa+compile+graphs'}")
    for name in presets:
        if name not in PRESETS:
            raise UsageError(f"--benchmark-presets: unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    for path in paths:
        parse_benchmark_path(path)  # all errors before the first measurement
    seq_lens: List[Optional[int]] = [None]
    if args.benchmark_seq_lens:
        seq_lens = [n for n in args.benchmark_seq_lens.split(",") if n]
        if not seq_lens or not all(n.isdigit() and int(n) >= 4 for n in seq_lens):
            raise UsageError(f"--benchmark-seq-lens: expected comma-separated residue counts >= 4, "
                             f"e.g. 512,1024, got {args.benchmark_seq_lens!r}")
        seq_lens = [int(n) for n in seq_lens]
    check_writable_dir(tc.profile_dir, "--profile-dir")
    defaults = build_parser()
    ignored = [flag for flag, key in (("--preset", "preset"), ("--num-steps", "num_steps"))
               if getattr(args, key) != defaults.get_default(key)]
    if ignored:
        print(f"Note: --benchmark does not read {' or '.join(ignored)}; it times --benchmark-presets "
              f"({args.benchmark_presets}) for --benchmark-steps ({args.benchmark_steps}).")
    precision = compute_precision(amp_settings(tc, device)[0], device)
    peak = peak_tflops(device, precision, tc.peak_tflops)
    rows = []
    wide = -max([24] + [len(p) for p in paths])  # the path column, left-aligned
    header = console_line([name for name, _ in BENCHMARK_COLUMNS], wide)
    print(f"Benchmark on {device_name(device)}, {precision}, torch {torch.__version__}: "
          f"{benchmark_timing(args.benchmark_steps, max(1, tc.warmup_steps))}")
    settings = compiler_settings()
    if settings:
        print(f"Environment: {settings}")
    print(header)
    print("-" * len(header))
    for name in presets:
        for n in seq_lens:
            cfg = config_from_preset(name, **({"max_seq_len": n} if n else {}),
                                     **({"n_seqs": args.num_seqs} if args.num_seqs else {}))
            batch_size = args.batch_size or PRESETS[name]["batch_size"]
            flops = analytic_train_flops(cfg, batch_size)
            reference_ms, group = None, []
            for path in paths:
                fields = parse_benchmark_path(path)
                # --peer-ping acts on the graphed rows only (the others keep their row)
                run_tc = dataclasses.replace(tc, batch_size=batch_size, **fields,
                                             peer_ping=tc.peer_ping and fields["cuda_graphs"])
                row = {"preset": name, "batch_size": batch_size, "n_seqs": cfg.n_seqs, "n_res": cfg.max_seq_len,
                       "path": path, "precision": precision, "analytic_train_flops": flops, "status": "ok"}
                torch._dynamo.reset()
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats(device)
                busy = ProgressLine(f"{name} {path}: setting up (building, compiling, capturing, warming up), "
                                     f"then {args.benchmark_steps} timed steps ...")
                try:
                    row.update(benchmark_path(cfg, run_tc, device, args.benchmark_steps, max(1, tc.warmup_steps)))
                except torch.cuda.OutOfMemoryError:
                    row["status"] = "out of memory"
                except UsageError as exc:
                    row["status"] = f"skipped: {exc}"
                finally:
                    busy.clear()
                # a skipped path allocated nothing: the peak now would be an earlier row's
                peak_mb = None if row["status"].startswith("skipped") else peak_memory_mb(device)
                row["peak_memory_mb"] = peak_mb
                row["peak_memory_source"] = ("torch.cuda.max_memory_allocated" if device.type == "cuda"
                                             else "process peak RSS (whole run)")
                late = []  # rows of this preset and N measured before the reference
                if row["status"] == "ok":
                    row["achieved_tflops"] = flops / row["ms_per_step"] * 1e3 / 1e12
                    row["mfu"] = row["achieved_tflops"] / peak if peak else None
                    if path == "reference" and reference_ms is None:
                        reference_ms = row["ms_per_step"]
                        late = [r for r in group if r["status"] == "ok"]
                        for r in late:
                            r["speedup_vs_reference"] = reference_ms / r["ms_per_step"]
                    row["speedup_vs_reference"] = reference_ms / row["ms_per_step"] if reference_ms else None
                rows.append(row)
                group.append(row)
                write_benchmark_results(tc, precision, peak, args, device, rows)  # survives a later kill
                print(console_line(benchmark_cells(row), wide), flush=True)
                if late:  # their lines above say n/a; benchmark.json and .md have the ratio
                    print("  speedup of the rows above the reference: "
                          + ", ".join(f"{r['path']} {r['speedup_vs_reference']:.2f}x" for r in late), flush=True)
    setup = [r["setup_s"] for r in rows if "setup_s" in r]
    if setup:
        print(f"Setup before the timed steps (building, compiling, capturing, warming up): {sum(setup):.0f} s in all, "
              f"at most {max(setup):.0f} s a row (setup_s in benchmark.json)")
    print(f"Benchmark written to {os.path.join(tc.profile_dir, 'benchmark.json')} (and the table as "
          f"Markdown to benchmark.md)")
    if not any(r["status"] == "ok" for r in rows):
        print("tiny_openfold_v1.py: no row was measured (each row's status above says why)", file=sys.stderr)
        return 1
    return 0


# =============================================================================
# 10. Environment validation
# =============================================================================


def validate_setup() -> int:
    """Run a tiny model for a few steps on every available device type."""
    print(f"Python {platform.python_version()}, PyTorch {torch.__version__}, NumPy {np.__version__}")
    devices = ["cpu"]
    if torch.cuda.is_available():
        kind = "ROCm/HIP " + torch.version.hip if getattr(torch.version, "hip", None) else f"CUDA {torch.version.cuda}"
        print(f"GPU runtime: {kind}, {torch.cuda.device_count()} device(s): "
              + ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())))
        devices.append("cuda")
    else:
        print("No CUDA/ROCm GPU visible: validating on CPU only.")
    print(f"Triton kernels (--triton-kernels): {triton_kernels_available() or 'available'}")
    cfg = config_from_preset("tiny", max_seq_len=16, n_seqs=4)
    problems = []
    for dev in devices:
        device = torch.device(dev)
        try:
            torch.manual_seed(0)
            model = TinyOpenFold(cfg).to(device)
            for p in model.parameters():  # randomise, so every branch (zero-init or not) gets a gradient
                p.data.normal_(0, 0.05)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
            batch = collate_proteins([SyntheticProteinDataset(4, 16, 4, seed=0)[i] for i in range(2)])
            batch = {k: v.to(device) for k, v in batch.items()}
            for _ in range(3):
                out = forward_batch(model, batch)
                loss = distance_loss(out["distances"], batch["distances"], batch["residue_mask"])
                opt.zero_grad()
                loss.backward()
                bad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
                if not torch.isfinite(loss) or bad:
                    raise RuntimeError(f"non-finite loss or gradients ({', '.join(bad[:3])})")
                opt.step()
            print(f"  {dev}: 3 training steps OK (loss {loss.item():.3f}, all gradients finite)")
        except Exception as exc:
            problems.append(f"{dev}: {type(exc).__name__}: {exc}")
            print(f"  {dev}: FAILED: {type(exc).__name__}: {exc}")
    if problems:
        print("Validation failed: " + "; ".join(problems))
        return 1
    print("Validation successful! Environment ready.")
    return 0


# =============================================================================
# 11. Command line
# =============================================================================


class _DefaultsFormatter(argparse.HelpFormatter):
    """Append "(default: X)" to a flag's help unless X is None or already said."""

    def _get_help_string(self, action):
        text = action.help or ""
        if all(action.default is not x for x in (None, argparse.SUPPRESS, False)) and "default" not in text:
            text += " (default: %(default)s)"
        return text


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _checked(cast, ok, what: str):
    """An argparse type: cast the text, then require ok(value); errors say `what`."""

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    return parse


_positive_int = _checked(int, lambda v: v > 0, "a positive integer")
_non_negative_int = _checked(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _checked(float, lambda v: v > 0 and math.isfinite(v), "a positive number")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(
        prog="tiny_openfold_v1.py",
        description="TinyOpenFold V1: train AlphaFold 2's Evoformer on synthetic proteins with co-evolution.",
        formatter_class=_DefaultsFormatter)
    g = p.add_argument_group("model (defaults: the --preset's values)")
    g.add_argument("--preset", default="small", help=f"named configuration: {', '.join(PRESETS)}")
    g.add_argument("--msa-dim", type=_positive_int, help="c_m, MSA channels")
    g.add_argument("--pair-dim", type=_positive_int, help="c_z, pair channels")
    g.add_argument("--num-blocks", type=_positive_int, help="Evoformer blocks")
    g.add_argument("--num-seqs", type=_positive_int, help="MSA depth N_seq")
    g.add_argument("--seq-len", type=_positive_int, help="residues N_res (the longest, with --min-seq-len)")
    g.add_argument("--min-seq-len", type=_positive_int,
                   help="draw lengths uniformly in [min, seq-len]; batches are padded and masked")
    g.add_argument("--dropout", type=_checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)"), default=0.0,
                   help="row/column-wise dropout rate on residual branches, one rate for both stacks "
                        "(AF2: 0.15 on the MSA side, 0.25 on the pair side)")
    g = p.add_argument_group("training")
    g.add_argument("--num-steps", type=_positive_int, default=50, help="training steps")
    g.add_argument("--batch-size", type=_positive_int, help="samples per step (default: the preset's)")
    g.add_argument("--learning-rate", type=_positive_float, default=2e-3, help="peak AdamW learning rate")
    g.add_argument("--lr-warmup", type=_non_negative_int, help="learning-rate warm-up steps (default: 10%% of steps, at most 100)")
    g.add_argument("--grad-clip", type=_positive_float, default=1.0, help="gradient-norm clipping")
    g.add_argument("--use-amp", action="store_true", help="mixed precision (autocast); see --amp-dtype")
    g.add_argument("--amp-dtype", choices=["bf16", "fp16"], default="bf16",
                   help="autocast dtype for --use-amp; fp16 adds a GradScaler")
    g.add_argument("--seed", type=_non_negative_int, default=0, help="seed of weights and training data")
    g.add_argument("--eval-every", type=_non_negative_int, default=0,
                   help="evaluate on the held-out set every N steps (0: at the end only)")
    g.add_argument("--eval-samples", type=_positive_int, default=64, help="held-out proteins")
    g.add_argument("--log-every", type=_positive_int, default=10, help="print a Step line every N steps")
    g.add_argument("--num-workers", type=_non_negative_int,
                   help="data-generating worker processes (default: 0 on CPU; with a GPU one per core less one, "
                        "at most 16)")
    g = p.add_argument_group("device")
    g.add_argument("--device", help="'cpu', 'cuda', or a GPU index (CUDA/ROCm); default: GPU 0 if present")
    g.add_argument("--no-data-parallel", action="store_true",
                   help="use one GPU even if several are visible (default: DataParallel over all)")
    g.add_argument("--parallel", choices=["auto", "dp", "ddp", "none"], default="auto",
                   help="auto: DistributedDataParallel under torchrun, else DataParallel over several visible "
                        "GPUs, else one device; dp: DataParallel; ddp: DDP (launch with torchrun); none: one device")
    g.add_argument("--grad-accum-steps", type=_positive_int, default=1,
                   help="micro-batches per optimizer step (the per-process batch must divide by it)")
    g.add_argument("--validate-setup", action="store_true", help="check the environment and exit")
    g = p.add_argument_group("checkpoints")
    g.add_argument("--checkpoint-dir", default="./checkpoints", help="where checkpoint.pt is written")
    g.add_argument("--save-every", type=_non_negative_int, default=0,
                   help="save every N steps (0: at the end, on Ctrl-C and on failure only)")
    g.add_argument("--resume", help="checkpoint file (or its directory) to continue from")
    g = p.add_argument_group("profiling")
    g.add_argument("--enable-pytorch-profiler", action="store_true",
                   help="torch.profiler traces (TensorBoard / Perfetto) and per-module time tables in --profile-dir")
    g.add_argument("--enable-memory-profiling", action="store_true",
                   help="per-phase memory each step, activation memory by module, memory budget, and on GPU a "
                        "snapshot for pytorch.org/memory_viz, in --profile-dir")
    g.add_argument("--enable-all-profiling", action="store_true", help="both options above")
    g.add_argument("--emit-nvtx", action="store_true",
                   help="NVTX (CUDA) / ROCTX (ROCm) ranges for nsys or rocprof; not with --enable-pytorch-profiler")
    g.add_argument("--profile-dir", default="./profiles", help="output directory for performance_summary.json")
    g.add_argument("--warmup-steps", type=_non_negative_int, default=3,
                   help="steps left out of timing averages (and the profiler's warm-up)")
    g.add_argument("--profile-steps", type=_positive_int, default=5, help="steps the profiler records")
    g.add_argument("--peak-tflops", type=_positive_float,
                   help="peak TFLOP/s of this device for the precision used, for MFU (default: from a table)")
    g = p.add_argument_group("fast paths (each computes the reference function; see README 'Performance')")
    g.add_argument("--attention", choices=ATTENTION_IMPLEMENTATIONS, default="reference",
                   help="reference: einsum, float32 softmax, einsum; sdpa: fused scaled_dot_product_attention "
                        "with the pair/triangle bias and key mask as one additive mask (no stored logits); "
                        "flex (GPU): FlexAttention in all four, reading the shared bias and the key mask in the "
                        "kernel (nothing of size rows x heads x N x N stored; heads narrower than 16 use SDPA)")
    g.add_argument("--compile", action="store_true",
                   help="torch.compile the forward + loss (and so the backward); fused AdamW on GPU")
    g.add_argument("--compile-scope", choices=COMPILE_SCOPES, default="step",
                   help="step: compile forward + loss as one graph; block: compile one Evoformer block and reuse it "
                        "for all (compile time independent of the block count; embedder, head and loss eager)")
    g.add_argument("--cuda-graphs", action="store_true",
                   help="capture the whole training step once as a CUDA graph and replay it (one GPU, bf16 or fp32)")
    g.add_argument("--flat-optimizer", action="store_true",
                   help="the same AdamW and clipping over one flat buffer that holds every parameter, so the update "
                        "is a few large kernels instead of a launch per few dozen of the model's hundreds of tensors")
    g.add_argument("--cast-once", action="store_true",
                   help="with --flat-optimizer and --use-amp: cast every nn.Linear weight and bias to the autocast "
                        "dtype once a step, as one block, instead of once per use in forward and once more per "
                        "gradient in backward (same function; not with --chunk-size, --checkpoint-blocks, "
                        "--grad-accum-steps or several processes)")
    g.add_argument("--triton-kernels", action="store_true",
                   help="hand-written Triton kernels (GPU): the gated projections of the triangle multiplications "
                        "(Alg. 11/12 line 2) as one matrix product and one kernel each way, which reads that "
                        "product once and also sums the bias gradient; the outer-product mean's product and "
                        "division (Alg. 10 line 3) as one forward kernel that writes linear_out's layout; "
                        "the transitions up to 128 channels (Alg. 9, 15: LayerNorm, both products, ReLU) as one "
                        "kernel each way; with --fuse-projections, the MSA-side LayerNorm and the projection "
                        "after it (Alg. 7's q/k/v/g, Alg. 10's a/b) up to 64 channels as one kernel each way")
    g.add_argument("--weight-grad-stream", action="store_true",
                   help="with --cast-once (GPU): each nn.Linear weight gradient in backward on a second CUDA stream, "
                        "overlapping the rest of backward; joined before the optimizer (same products)")
    g.add_argument("--max-autotune", action="store_true",
                   help="with --compile (GPU): Inductor's max_autotune, each matrix product timed at compile time "
                        "as cuBLAS and as Triton templates that can fuse the work after it, the fastest kept "
                        "(same function; minutes of setup, cached on disk)")
    g.add_argument("--pdl", action="store_true",
                   help="with --compile (NVIDIA GPU of compute capability 9.0+): programmatic dependent launch, "
                        "each Triton kernel --compile generates starts while the one before it finishes and waits "
                        "only where it reads (same kernels and arithmetic)")
    g.add_argument("--peer-ping", action="store_true",
                   help="with --cuda-graphs: after the capture, let a second process open and close a CUDA context "
                        "on the same GPU; on our H200 this cut the gaps between graph kernels (5.65 -> 5.15 ms a "
                        "step at small), for reasons in the driver, and the process keeps that state (in --benchmark "
                        "also for the rows after the first graphed one); no change to the computation")
    g.add_argument("--checkpoint-blocks", action="store_true",
                   help="activation checkpointing: keep each Evoformer block's inputs, recompute it in backward")
    g.add_argument("--fuse-projections", action="store_true",
                   help="projections that read the same input as one matrix product each (q/k/v/gate of every "
                        "attention, the four gated projections of each triangle multiplication, a/b of the "
                        "outer-product mean); "
                        "GPU only, on CPU it changes nothing")
    g.add_argument("--fold-layer-norms", action="store_true",
                   help="the pair-side LayerNorms (Alg. 7, 11-15) without weight and bias, which are folded into the "
                        "products that read them (W diag(gamma), b + W beta): same function, no per-channel sums "
                        "over all pair rows in backward; those products keep their weight gradients off "
                        "--weight-grad-stream's second stream")
    g.add_argument("--chunk-size", type=_positive_int,
                   help="compute attentions, transitions, outer-product mean and triangle multiplications "
                        "this many rows at a time, each chunk recomputed in backward (long proteins)")
    g = p.add_argument_group("benchmark (--use-amp, --batch-size, --num-seqs, --device, --warmup-steps and "
                             "--profile-dir apply)")
    g.add_argument("--benchmark", action="store_true",
                   help="time training steps of each preset and path, print one table, write "
                        "<profile-dir>/benchmark.json, and exit")
    g.add_argument("--benchmark-presets", default="small,medium", help="comma-separated presets")
    g.add_argument("--benchmark-paths", default="reference,sdpa,sdpa+compile,sdpa+compile+graphs,"
                                                "flex+fused+triton+compile+graphs+flat,"
                                                "flex+fused+triton+compile+graphs+flat+castonce,"
                                                "flex+fused+triton+compile+graphs+flat+castonce+wgstream,"
                                                "flex+fused+triton+compile+graphs+flat+castonce+wgstream+pdl",
                   help=f"comma-separated paths, each '+'-joined parts of: {BENCHMARK_PARTS}. The speedup "
                        "column is against the 'reference' path of the same preset and N, wherever it is listed "
                        "(the first one, if listed twice: the second then shows the run-to-run noise)")
    g.add_argument("--benchmark-seq-lens", help="comma-separated N_res to sweep (default: each preset's)")
    g.add_argument("--benchmark-steps", type=_positive_int, default=20, help="timed steps per path")
    return p


def default_num_workers(device_is_gpu: bool) -> int:
    """--num-workers when not given: none on a CPU (the cores train); on a GPU, the
    cores this process's share of the machine has (torchrun's LOCAL_WORLD_SIZE
    processes split them), less one for the training loop, at most 16. On the H200
    machine (16 cores) the fastest path trained 121.4 samples/s with 4 workers and
    529.6 with 15 (this default there), a small-preset sample then taking 34.9 ms of
    one core; with today's generator (23.6 ms) 552.8. --benchmark, without data,
    gives 705.2 (results/h200_2026-12-02f)."""
    if not device_is_gpu:
        return 0
    local = os.environ.get("LOCAL_WORLD_SIZE", "1")
    local = max(1, int(local)) if local.isdigit() else 1
    return min(16, max(1, (os.cpu_count() or 2) // local - 1))


def configs_from_args(args) -> tuple:
    """Map parsed flags to (TinyOpenFoldConfig, TrainConfig), by keyword."""
    if args.preset not in PRESETS:
        raise UsageError(f"--preset: unknown preset {args.preset!r}; choose from {', '.join(PRESETS)}")
    preset = PRESETS[args.preset]
    overrides = {}
    for flag, fieldname in (("msa_dim", "msa_dim"), ("pair_dim", "pair_dim"), ("num_blocks", "n_evoformer_blocks"),
                            ("num_seqs", "n_seqs"), ("seq_len", "max_seq_len")):
        if getattr(args, flag) is not None:
            overrides[fieldname] = getattr(args, flag)
    # Transition widths follow the channels (4x, as AF2) unless the preset's fit.
    if args.msa_dim is not None:
        overrides["msa_intermediate_dim"] = 4 * args.msa_dim
    if args.pair_dim is not None:
        overrides["pair_intermediate_dim"] = 4 * args.pair_dim
    try:
        cfg = config_from_preset(args.preset, dropout=args.dropout, **overrides)
    except UsageError as exc:
        flag_of = {"msa_dim": "--msa-dim", "pair_dim": "--pair-dim"}
        msg = str(exc)
        for key, flag in flag_of.items():
            msg = msg.replace(f"{key} (", f"{flag} (", 1)
        raise UsageError(msg) from None
    if args.min_seq_len is not None and args.min_seq_len > cfg.max_seq_len:
        raise UsageError(f"--min-seq-len ({args.min_seq_len}) must be <= --seq-len ({cfg.max_seq_len})")
    if cfg.max_seq_len < 4:
        raise UsageError(f"--seq-len: need at least 4 residues, got {cfg.max_seq_len}")
    if args.min_seq_len is not None and args.min_seq_len < 4:
        raise UsageError(f"--min-seq-len: need at least 4 residues, got {args.min_seq_len}")
    device_is_gpu = args.device != "cpu" and torch.cuda.is_available()
    num_workers = args.num_workers if args.num_workers is not None else default_num_workers(device_is_gpu)
    lr_warmup = args.lr_warmup if args.lr_warmup is not None else min(100, args.num_steps // 10)
    tc = TrainConfig(
        batch_size=args.batch_size or preset["batch_size"], num_steps=args.num_steps,
        learning_rate=args.learning_rate, grad_clip=args.grad_clip, lr_warmup_steps=lr_warmup,
        use_amp=args.use_amp, amp_dtype=args.amp_dtype, seed=args.seed, min_seq_len=args.min_seq_len,
        eval_every=args.eval_every, eval_samples=args.eval_samples, log_every=args.log_every,
        warmup_steps=args.warmup_steps, profile_dir=args.profile_dir, checkpoint_dir=args.checkpoint_dir,
        save_every=args.save_every, resume=args.resume, num_workers=num_workers, device=args.device,
        data_parallel=not args.no_data_parallel, parallel=args.parallel, grad_accum_steps=args.grad_accum_steps,
        pytorch_profiler=args.enable_pytorch_profiler or args.enable_all_profiling,
        profile_steps=args.profile_steps, peak_tflops=args.peak_tflops,
        memory_profiling=args.enable_memory_profiling or args.enable_all_profiling, emit_nvtx=args.emit_nvtx,
        attention=args.attention, chunk_size=args.chunk_size, checkpoint_blocks=args.checkpoint_blocks,
        fuse_projections=args.fuse_projections, compile=args.compile, compile_scope=args.compile_scope,
        cuda_graphs=args.cuda_graphs, flat_optimizer=args.flat_optimizer, cast_once=args.cast_once,
        weight_grad_stream=args.weight_grad_stream, max_autotune=args.max_autotune, pdl=args.pdl,
        triton_kernels=args.triton_kernels, fold_layer_norms=args.fold_layer_norms,
        peer_ping=args.peer_ping)
    if tc.compile_scope != "step" and not tc.compile:
        raise UsageError(f"--compile-scope {tc.compile_scope}: applies to --compile; add --compile")
    if args.no_data_parallel and args.parallel in ("dp", "ddp"):
        raise UsageError(f"--no-data-parallel contradicts --parallel {args.parallel}; use one of them")
    if tc.emit_nvtx and tc.pytorch_profiler:
        raise UsageError("--emit-nvtx: use it without --enable-pytorch-profiler / --enable-all-profiling "
                         "(both drive the autograd profiler); run it under nsys or rocprof instead")
    return cfg, tc


def report_once(message: str) -> None:
    """Print an error that every torchrun rank finds alike from rank 0 alone. The other
    ranks wait a moment before they exit: torchrun stops all processes as soon as one
    fails, and could otherwise stop rank 0 before it has printed."""
    if os.environ.get("RANK", "0") == "0":
        print(message, file=sys.stderr, flush=True)
    else:
        time.sleep(3.0)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.validate_setup:
            return validate_setup()
        cfg, tc = configs_from_args(args)
        code_revision()  # the checkout as the run starts (see there)
        if args.benchmark:
            return run_benchmark(args, tc)
        summary = train(cfg, tc)
        return 130 if summary["status"] == "interrupted" else 0
    except UsageError as exc:
        report_once(f"tiny_openfold_v1.py: error: {exc}")
        return 2
    except TrainingFailed as exc:
        report_once(f"tiny_openfold_v1.py: {exc}")
        return 1
    except KeyboardInterrupt:
        print("\nStopped by Ctrl-C; checkpoints already written are kept.", file=sys.stderr)
        return 130
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
