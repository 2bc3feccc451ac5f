"""A LayerNorm and the fused projection after it, alone: compiled PyTorch code against
torch.ops.tinyopenfold.ln_linear (LN_LINEAR_KERNELS), tile by tile.

    PYTHONPATH=. python results/h100_2026-12-06c/ln_linear_bench.py OUT.json

For each place the operator would run at the small and medium presets (Alg. 7's
LayerNorm(m) -> q/k/v/g and LayerNorm(z) -> pair bias, Alg. 10's LayerNorm(m) -> a/b,
Alg. 13's LayerNorm(z) -> q/k/v/g and -> pair bias; medium's pair sites are wider than
LN_LINEAR_KERNEL_WIDTH),
under bf16 autocast: forward + backward (the gradients of x and of every parameter) of
project(x, [layer], fused=True, norm=norm, kernels=True), compiled, captured in one CUDA
graph and replayed 100 times between CUDA events, as transition_bench.py (whose timing
and kernel-count helpers this uses) does for the transitions. The kernel path is timed
at each tile of TILES; also the largest relative difference from the PyTorch path.
"""
import json, os, sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "h100_2026-12-06b"))
from transition_bench import kernels, timed  # noqa: E402

import tiny_openfold_kernels as K  # noqa: E402
import tiny_openfold_v1 as t  # noqa: E402

# name: (input's leading shape, C, N)
SHAPES = {"msa-attention-small": ((4, 16, 64), 64, 256), "pair-bias-small": ((4, 64, 64), 128, 4),
          "tri-attention-small": ((4, 64, 64), 128, 512),
          "opm-small": ((4, 16, 64), 64, 64), "msa-attention-medium": ((2, 32, 128), 128, 512),
          "opm-medium": ((2, 32, 128), 128, 64)}
TILES = [(64, 64, 4, 3), (32, 64, 4, 3), (64, 32, 4, 3), (128, 64, 8, 2), (32, 128, 4, 2)]


def graphed(norm, layer, x, g):
    """A CUDA graph of compiled forward + backward of the projection, and its outputs."""
    params = [*norm.parameters(), *layer.parameters()]
    fn = torch.compile(lambda v: t.project(v, [layer], True, norm=norm, kernels=True)[0], dynamic=False)

    def once():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = fn(x)
        return (out, *torch.autograd.grad(out, (x, *params), g))

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            once()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        results = once()
    return graph, results


def main(out_path):
    rows = []
    for name, (lead, c, n) in SHAPES.items():
        torch.manual_seed(0)
        norm, layer = torch.nn.LayerNorm(c).cuda(), torch.nn.Linear(c, n, bias=not name.startswith("pair")).cuda()
        with torch.no_grad():
            for p in (*norm.parameters(), *layer.parameters()):
                p.normal_(0.0, 0.05)
            norm.weight.add_(1.0)
        x = torch.randn(*lead, c, device="cuda", requires_grad=True)
        g = torch.randn(*lead, n, device="cuda", dtype=torch.bfloat16)
        t.LN_LINEAR_KERNELS = False
        torch._dynamo.reset()
        graph, want = graphed(norm, layer, x, g)
        ref_us = timed(graph)
        row = dict(shape=name, rows=x.numel() // c, c=c, n=n, pytorch_us=round(ref_us, 1),
                   pytorch_kernels=kernels(graph), tiles={})
        del graph
        print(f"{name}: pytorch compiled {ref_us:.1f} us, {row['pytorch_kernels']:.0f} kernels", flush=True)
        t.LN_LINEAR_KERNELS = True
        for tile in TILES:
            K.LN_LINEAR_TILES = {16: tile}  # one tile at every width, forward and backward
            torch._dynamo.reset()
            try:
                graph, got = graphed(norm, layer, x, g)
            except Exception as exc:  # a tile that does not fit (shared memory, registers)
                row["tiles"][str(tile)] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                print(f"  {tile}: {row['tiles'][str(tile)]}", flush=True)
                continue
            us = timed(graph)
            errs = [((a.double() - b.double()).abs().max() / b.double().abs().max()).item() for a, b in zip(got, want)]
            row["tiles"][str(tile)] = dict(us=round(us, 1), kernels=kernels(graph), max_rel_err=max(errs),
                                           out_rel_err=errs[0])
            print(f"  {tile}: {us:.1f} us ({ref_us / us:.2f}x), {row['tiles'][str(tile)]['kernels']:.0f} kernels, "
                  f"max rel err {max(errs):.2e} (out {errs[0]:.2e})", flush=True)
            del graph
        rows.append(row)
        with open(out_path, "w") as f:
            json.dump(dict(device=torch.cuda.get_device_name(), torch=torch.__version__, rows=rows), f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
