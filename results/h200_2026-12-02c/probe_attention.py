"""Probe: the biased attentions of the Evoformer alone, forward + backward, three kernels.

    python3 results/h200_2026-12-02c/probe_attention.py [OUT.json]

For the shapes of the triangle attentions (Alg. 13/14) and the MSA row attention with
pair bias (Alg. 7) at the small and medium presets, bf16 q/k/v, a float32 bias shared by
the rows ([L, H, Q, K], needs its gradient) and a per-row key mask:

  sdpa  what --attention sdpa does today: the bias plus the mask bias materialised as
        [rows, H, Q, K] bf16, F.scaled_dot_product_attention (memory-efficient kernel)
  flex  torch.nn.attention.flex_attention with score_mod = score + bias[b // R] + mask,
        the bias gradient accumulated inside its backward kernel
  cudnn the same, with SDPA restricted to its cuDNN backend
  math  the reference formula (logits, float32 softmax, product), left to Inductor

Each variant is torch.compile'd as a whole (bias preparation included; cudnn runs
eagerly, as Dynamo refused it) and timed two ways: wall time with CUDA events over 50
calls after 10 warm-up calls (at these sizes mostly launch overhead), and GPU kernel
time per call from torch.profiler (../h200_2026-12-01/profile_kernels.py), which is
what the call costs inside a CUDA-graphed step. flex2 is flex with num_stages 2 (the
default configuration for head width 64 asked for more shared memory than the H200 has).
Prints one line per shape and variant with the largest difference of each output and
gradient from the float64 reference, relative to its largest magnitude.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import flex_attention

import tiny_openfold_v1 as t  # PYTHONPATH=. (the repository root)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "h200_2026-12-01"))
import profile_kernels as pk  # noqa: E402  kernel_table, profile_steps

MASK_LOGIT = t.MASK_LOGIT
dev = "cuda"

# name: (L lead batch, R rows, H heads, Q = K positions, c head width)
SHAPES = {
    "small_tri_att": (4, 64, 4, 64, 32),
    "small_msa_row": (4, 16, 4, 64, 16),
    "medium_tri_att": (2, 128, 4, 128, 64),
    "medium_msa_row": (2, 32, 4, 128, 32),
}


def reference(q, k, v, bias, key_mask):
    L, R = bias.shape[0], q.shape[0] // bias.shape[0]
    logits = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1])
    logits = logits.view(L, R, *logits.shape[1:]) + bias[:, None].float()
    logits = logits + ((1.0 - key_mask) * MASK_LOGIT).view(L, R, 1, 1, -1)
    a = torch.softmax(logits, dim=-1).view(L * R, *logits.shape[2:])
    return (a.to(v.dtype) @ v)


def sdpa(q, k, v, bias, key_mask):
    L, R = bias.shape[0], q.shape[0] // bias.shape[0]
    m = ((1.0 - key_mask) * MASK_LOGIT).view(L, R, 1, 1, -1)
    full = (m + bias[:, None]).to(q.dtype).reshape(L * R, *bias.shape[1:])
    return F.scaled_dot_product_attention(q, k, v, attn_mask=full)


def cudnn(q, k, v, bias, key_mask):
    with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
        return sdpa(q, k, v, bias, key_mask)


def flex(q, k, v, bias, key_mask, kernel_options=None):
    R = q.shape[0] // bias.shape[0]
    mask_bias = (1.0 - key_mask) * MASK_LOGIT  # [L * R, K]

    def score_mod(score, b, h, qi, ki):
        return score + bias[b // R, h, qi, ki] + mask_bias[b, ki]
    return flex_attention(q, k, v, score_mod=score_mod, kernel_options=kernel_options)


def flex2(q, k, v, bias, key_mask):
    return flex(q, k, v, bias, key_mask, kernel_options=t.FLEX_KERNEL_OPTIONS)


def time_variant(fn, inputs, iters=50, warmup=10):
    q, k, v, bias, key_mask = inputs
    grad = torch.randn_like(q)
    def step():
        out = fn(q, k, v, bias, key_mask)
        return torch.autograd.grad(out, (q, k, v, bias), grad)
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        step()
    end.record()
    torch.cuda.synchronize()
    wall_ms = start.elapsed_time(end) / iters
    kernel_ms, kernels = pk.kernel_table(pk.profile_steps(lambda _b: step(), None, 10), 10, "call", top=3)
    return wall_ms, kernel_ms, kernels


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else None
    rows = []
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    for name, (L, R, H, Q, c) in SHAPES.items():
        g = torch.Generator(device=dev).manual_seed(0)
        q, k, v = [torch.randn(L * R, H, Q, c, device=dev, generator=g).to(torch.bfloat16).requires_grad_()
                   for _ in range(3)]
        bias = torch.randn(L, H, Q, Q, device=dev, generator=g).requires_grad_()
        key_mask = (torch.rand(L * R, Q, device=dev, generator=g) > 0.1).float()
        inputs = (q, k, v, bias, key_mask)
        grad = torch.randn(q.shape, device=dev, generator=g).to(torch.bfloat16)
        q64, k64, v64, b64 = [t.detach().double().requires_grad_() for t in (q, k, v, bias)]
        want_out = reference(q64, k64, v64, b64, key_mask.double())
        want = [want_out] + list(torch.autograd.grad(want_out, (q64, k64, v64, b64), grad.double()))
        flops = 4 * L * R * H * Q * Q * c * 3.5  # forward 2 products, backward 5
        torch._dynamo.reset()
        for vname, fn in (("sdpa", sdpa), ("cudnn", cudnn), ("flex", flex), ("flex2", flex2), ("math", reference)):
            cfn = fn if vname == "cudnn" else torch.compile(fn, dynamic=False)
            t0 = time.time()
            try:
                out = cfn(*inputs)
                got = [out] + list(torch.autograd.grad(out, (q, k, v, bias), grad))
                errs = [((a.double() - b).abs().max() / b.abs().max()).item() for a, b in zip(got, want)]
                ms, kernel_ms, kernels = time_variant(cfn, inputs)
                row = dict(shape=name, variant=vname, wall_ms=ms, kernel_ms=kernel_ms, kernels=kernels,
                           tflops=flops / kernel_ms / 1e9,
                           rel_err=dict(zip(("out", "dq", "dk", "dv", "dbias"), errs)),
                           compile_s=time.time() - t0, peak_mb=torch.cuda.max_memory_allocated() / 2**20)
                print(f"{name:16s} {vname:5s} wall {ms:6.3f} ms, kernels {kernel_ms:6.3f} ms ({kernels:.0f}) "
                      f"{row['tflops']:6.1f} TFLOP/s  "
                      + " ".join(f"{k_}={e:.1e}" for k_, e in row["rel_err"].items()), flush=True)
            except Exception as exc:  # a variant that fails is a row too
                row = dict(shape=name, variant=vname, error=f"{type(exc).__name__}: {str(exc)[:300]}")
                print(f"{name:16s} {vname:5s} FAILED {row['error']}", flush=True)
            rows.append(row)
            torch.cuda.reset_peak_memory_stats()
    if out_path:
        with open(out_path, "w") as f:
            json.dump(dict(device=torch.cuda.get_device_name(), torch=torch.__version__, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
