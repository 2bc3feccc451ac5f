"""A LayerNorm's affine folded into the product after it: is its backward cheaper?

    python3 results/h100_2026-12-07f/ln_fold.py [check]

Every LayerNorm of the Evoformer feeds only matrix products, so

    (xhat * gamma + beta) W^T + b  =  xhat (W diag(gamma))^T + (b + W beta)

with xhat the normalised x. On the left (the model's code) the gradients of gamma and
beta are sums over all rows, which the compiled backward computes beside the
LayerNorm's input gradient (Inductor's "mix-order" reductions, and passes that finish
their partial sums). On the right they come from the weight gradient of the folded
product, dW' = dy^T xhat, a GEMM that exists anyway: dgamma = sum_o dW' * W,
dbeta = W^T db', and dW = dW' * gamma, all of the weight's size. In a trace of the
fastest default-size step (../h100_2026-12-07e, call 6), 167 kernels a step had a
LayerNorm backward among their fused operations: 1.15 ms of kernel time, 0.75 ms of
it with no other kernel running.

On a GPU this times, for LayerNorm -> product shapes of the default (small) and medium
sizes, the compiled forward and backward of both forms (and of no_affine, the floor of a
fold done outside the compiled graph) in bf16 autocast, each replayed
as a CUDA graph (CUDA events over 200 replays after warm-up, the forms alternated),
and counts their kernels (torch.profiler over 20 replays). One JSON line per shape.
`check` (any device, float64, no compile) compares both forms' outputs and gradients.
"""
import json
import sys

import torch
import torch.nn.functional as F

# (name, rows, channels in, channels out): where Inductor compiles a LayerNorm before a
# product (rows = B N N on the pair side, B S N on the MSA side)
SHAPES = [("small pair, Alg. 11/12 a,b,g", 16384, 128, 640), ("small pair, Alg. 11/12 out", 16384, 128, 128),
          ("small pair, Alg. 7 bias", 16384, 128, 8), ("small MSA, Alg. 8 q,k,v,g", 4096, 64, 256),
          ("medium pair, Alg. 11/12 a,b,g", 32768, 256, 1280), ("medium pair, Alg. 13/14 bias", 32768, 256, 8),
          ("medium MSA, Alg. 8 q,k,v,g", 8192, 128, 512)]


def affine(x, gamma, beta, w, b):
    """The model's form: LayerNorm with its affine, then the product."""
    return F.linear(F.layer_norm(x, x.shape[-1:], gamma, beta, 1e-5), w, b)


def folded(x, gamma, beta, w, b):
    """The same function with gamma and beta folded into the product's weight and bias."""
    return F.linear(F.layer_norm(x, x.shape[-1:], None, None, 1e-5), w * gamma, b + w @ beta)


def no_affine(x, gamma, beta, w, b):
    """Not the same function: the LayerNorm without gamma and beta, and the weights as
    they are. Its time is the floor of a fold whose weight-side work (W diag gamma,
    b + W beta and their backward) runs outside the compiled graph, once a step for all
    LayerNorms (as --cast-once's front pieces could do it); gamma and beta get no gradient."""
    return F.linear(F.layer_norm(x, x.shape[-1:], None, None, 1e-5), w, b)


def inputs(rows, c_in, c_out, device, dtype):
    g = torch.Generator().manual_seed(0)
    make = lambda *shape, scale=1.0, shift=0.0: (torch.randn(*shape, generator=g, dtype=torch.float64) * scale
                                                 + shift).to(device, dtype).requires_grad_()
    return [make(rows, c_in, scale=2.0, shift=0.5), make(c_in, scale=0.3, shift=1.0), make(c_in, scale=0.3),
            make(c_out, c_in, scale=c_in ** -0.5), make(c_out, scale=0.1)]


def check() -> None:
    for name, rows, c_in, c_out in SHAPES[:4]:
        args = inputs(rows // 64, c_in, c_out, "cpu", torch.float64)
        dy = torch.randn(rows // 64, c_out, dtype=torch.float64)
        outs = [form(*args) for form in (affine, folded)]
        grads = [torch.autograd.grad(out, args, dy) for out in outs]
        err = max([(outs[0] - outs[1]).abs().max().item()]
                  + [(a - b).abs().max().item() / b.abs().max().item() for a, b in zip(*grads)])
        print(f"{name}: largest relative difference {err:.1e}")
        assert err < 1e-12, name


def graphed(form, args, dy):
    """A CUDA graph of the compiled form's forward and backward (gradients of all inputs)."""
    fn = torch.compile(form, dynamic=False)

    wrt = [args[0], args[3], args[4]] if form is no_affine else args  # no_affine: gamma, beta unused

    def step():
        with torch.autocast("cuda", torch.bfloat16):
            out = fn(*args)
        return torch.autograd.grad(out, wrt, dy)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph


def time_us(graph, replays=200):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(10):
        graph.replay()
    start.record()
    for _ in range(replays):
        graph.replay()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) * 1000 / replays


def kernels(graph, replays=20):
    """(kernels, kernel us) per replay."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(replays):
            graph.replay()
        torch.cuda.synchronize()
    events = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    return len(events) / replays, sum(e.device_time_total for e in events) / replays


if __name__ == "__main__":
    if sys.argv[1:] == ["check"]:
        check()
        sys.exit()
    for name, rows, c_in, c_out in SHAPES:
        args = inputs(rows, c_in, c_out, "cuda", torch.float32)
        dy = torch.randn(rows, c_out, device="cuda", dtype=torch.bfloat16)
        graphs = {form.__name__: graphed(form, args, dy) for form in (affine, folded, no_affine)}
        times = {k: [] for k in graphs}
        for _ in range(3):
            for k, g in graphs.items():
                times[k].append(time_us(g))
        row = dict(shape=name, rows=rows, c_in=c_in, c_out=c_out)
        for k, g in graphs.items():
            n, us = kernels(g)
            row[k] = dict(us=round(min(times[k]), 2), us_all=[round(t, 2) for t in times[k]], kernels=n,
                          kernel_us=round(us, 2))
        print(json.dumps(row), flush=True)
