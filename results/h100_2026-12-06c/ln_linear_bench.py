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
helpers and per-tile loop this uses) does for the transitions. The kernel path is timed
at each tile of TILES; also the largest relative difference from the PyTorch path.
"""
import os, sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "h100_2026-12-06b"))
from transition_bench import save, tile_row  # noqa: E402

import tiny_openfold_kernels as K  # noqa: E402
import tiny_openfold_v1 as t  # noqa: E402

# name: (input's leading shape, C, N)
SHAPES = {"msa-attention-small": ((4, 16, 64), 64, 256), "pair-bias-small": ((4, 64, 64), 128, 4),
          "tri-attention-small": ((4, 64, 64), 128, 512),
          "opm-small": ((4, 16, 64), 64, 64), "msa-attention-medium": ((2, 32, 128), 128, 512),
          "opm-medium": ((2, 32, 128), 128, 64)}
TILES = [(64, 64, 4, 3), (32, 64, 4, 3), (64, 32, 4, 3), (128, 64, 8, 2), (32, 128, 4, 2)]


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

        def set_tile(tile):
            K.LN_LINEAR_TILES = {16: tile}  # one tile at every width, forward and backward

        row = tile_row(name, lambda v: t.project(v, [layer], True, norm=norm, kernels=True)[0], x,
                       [*norm.parameters(), *layer.parameters()], g,
                       lambda on: setattr(t, "LN_LINEAR_KERNELS", on), set_tile, TILES)
        rows.append(dict(row, rows=x.numel() // c, c=c, n=n))
        save(out_path, rows)


if __name__ == "__main__":
    main(sys.argv[1])
