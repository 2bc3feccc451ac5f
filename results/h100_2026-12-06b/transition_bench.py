"""The transition (Alg. 9/15) alone: PyTorch code compiled against the hand-written kernels.

    PYTHONPATH=. python results/h100_2026-12-06b/transition_bench.py OUT.json

For each shape of the small and medium presets (pair and MSA transitions), under bf16
autocast: forward + backward (the gradients of x and of every parameter, by
torch.autograd.grad) of Transition._mlp, compiled (torch.compile, as --compile
compiles it) with and without --triton-kernels, captured in one CUDA graph and replayed
100 times between CUDA events (GPU time only: no launch overhead, as in the graphed
training step). The kernel path is timed for each tile choice of TILES, the
forward and the backward kernel set alike. Also the largest difference from the
PyTorch path (relative to the largest value) of the output and of the gradients, and
the kernels a replay runs (profiler).
"""
import json, sys

import torch
from torch.profiler import ProfilerActivity, profile

import tiny_openfold_kernels as K
import tiny_openfold_v1 as t

SHAPES = {"pair-small": ((4, 64, 64), 128, 512), "msa-small": ((4, 16, 64), 64, 256),
          "pair-medium": ((2, 128, 128), 256, 1024), "msa-medium": ((2, 32, 128), 128, 512)}
TILES = [(64, 64, 4, 3), (64, 64, 8, 2), (64, 64, 4, 2), (128, 64, 8, 2), (64, 32, 4, 3), (32, 64, 4, 3), (64, 128, 8, 2)]


def graphed(fn, x, params, g):
    """A CUDA graph of forward + backward of fn(x) (compiled here) under bf16 autocast,
    and its outputs: fn(x) and the gradients of x and of params for the output gradient g."""
    fn = torch.compile(fn, dynamic=False)

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


def timed(graph, reps=100):
    for _ in range(10):
        graph.replay()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        graph.replay()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps * 1000  # us


def kernels(graph):
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            graph.replay()
        torch.cuda.synchronize()
    names = [e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    return len(names) / 5


def tile_row(name, fn, x, params, g, use_kernels, set_tile, tiles):
    """One shape: fn timed with use_kernels(False), then with use_kernels(True) at each
    tile (set_tile(tile) picks it); returns the row for the JSON file and prints it."""
    use_kernels(False)
    torch._dynamo.reset()
    graph, want = graphed(fn, x, params, g)
    ref_us = timed(graph)
    row = dict(shape=name, pytorch_us=round(ref_us, 1), pytorch_kernels=kernels(graph), tiles={})
    del graph
    print(f"{name}: pytorch compiled {ref_us:.1f} us, {row['pytorch_kernels']:.0f} kernels", flush=True)
    use_kernels(True)
    for tile in tiles:
        set_tile(tile)
        torch._dynamo.reset()
        try:
            graph, got = graphed(fn, x, params, g)
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
    return row


def save(out_path, rows):
    with open(out_path, "w") as f:
        json.dump(dict(device=torch.cuda.get_device_name(), torch=torch.__version__, rows=rows), f, indent=1)


def main(out_path):
    rows = []
    for name, (lead, c, hidden) in SHAPES.items():
        torch.manual_seed(0)
        module = t.Transition(c, hidden, 1e-5).cuda()
        with torch.no_grad():
            for p in module.parameters():
                p.normal_(0.0, 0.05)
            module.layer_norm.weight.add_(1.0)
        x = torch.randn(*lead, c, device="cuda", requires_grad=True)
        g = torch.randn(*lead, c, device="cuda")

        def set_tile(tile):
            K.TRANSITION_TILES = {16: tile}  # one tile at every width, forward and backward

        row = tile_row(name, module._mlp, x, list(module.parameters()), g,
                       lambda on: setattr(module, "triton_kernels", on), set_tile, TILES)
        rows.append(dict(row, rows=x.numel() // c, c=c, hidden=hidden))
        save(out_path, rows)


if __name__ == "__main__":
    main(sys.argv[1])
