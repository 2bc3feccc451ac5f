"""The gated projections of Alg. 11/12 alone, forward + backward, on the GPU:
the --triton-kernels operator against the same lines in PyTorch (eager, and
torch.compile'd as the fused path runs them), at the small and medium presets'
shapes, bf16. Prints ms per call and the bandwidth over the fewest bytes
(forward: read P [4c, rows], write a and b; backward: read da, db and P, write dP).

    PYTHONPATH=. python3 results/h200_2026-12-02f/probe_gating.py
"""
import json, sys

import torch
import triton.testing

import tiny_openfold_v1 as t


def pytorch_gating(p, bias, mask):
    """project_channels_first's bias add and the module's gating, as the fused path writes them."""
    c = p.shape[0] // 4
    out = p.unflatten(-1, mask.shape).movedim(0, -3) + bias.to(p.dtype)[:, None, None]
    a_g, a_p, b_g, b_p = out.split(c, dim=-3)
    m = mask.unsqueeze(-3).to(torch.float32)
    return (torch.sigmoid(a_g) * a_p * m).to(p.dtype), (torch.sigmoid(b_g) * b_p * m).to(p.dtype)


def step(fn, p, bias, mask, grads):
    a, b = fn(p, bias, mask)
    torch.autograd.backward((a, b), grads)


rows_out = []
compiled = torch.compile(pytorch_gating)
for name, c, batch, n in (("small", 128, 4, 64), ("medium", 256, 2, 128)):
    g = torch.Generator(device="cuda").manual_seed(0)
    p = torch.randn(4 * c, batch * n * n, device="cuda", generator=g).bfloat16().requires_grad_()
    bias = torch.randn(4 * c, device="cuda", generator=g).requires_grad_()
    mask = torch.ones(batch, n, n, device="cuda")
    grads = [torch.randn(batch, c, n, n, device="cuda", generator=g).bfloat16() for _ in range(2)]
    nbytes = 2 * (4 * c * batch * n * n) * 2 + 2 * (2 * c * batch * n * n) * 2 + 4 * c * batch * n * n * 2  # fwd+bwd
    # check: the operator against PyTorch, both directions
    a1, b1 = torch.ops.tinyopenfold.triangle_gating(p, bias, mask)
    a2, b2 = pytorch_gating(p, bias, mask)
    err = max((a1.float() - a2.float()).abs().max().item(), (b1.float() - b2.float()).abs().max().item())
    for label, fn in (("triton", torch.ops.tinyopenfold.triangle_gating), ("compiled", compiled),
                      ("eager", pytorch_gating)):
        for _ in range(3):
            step(fn, p, bias, mask, grads)
        p.grad = bias.grad = None
        ms = triton.testing.do_bench(lambda: step(fn, p, bias, mask, grads), warmup=50, rep=300,
                                     grad_to_none=[p, bias], return_mode="median")
        row = dict(preset=name, impl=label, ms=ms, GB_per_s=nbytes / ms / 1e6, fewest_MB=nbytes / 1e6,
                   forward_max_abs_err_vs_pytorch=err)
        rows_out.append(row)
        print(f"{name:7s} {label:9s} {ms * 1e3:8.1f} us  {row['GB_per_s']:7.0f} GB/s over {nbytes / 1e6:.0f} MB"
              f"  (forward max |triton - pytorch| {err:.3g})", flush=True)
json.dump(rows_out, open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout, indent=1)
