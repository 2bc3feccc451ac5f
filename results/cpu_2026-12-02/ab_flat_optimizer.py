"""--flat-optimizer on the CPU: the optimizer's part of a step (clipping and AdamW,
optimizer_update) with and without it, alternating in one process.

    PYTHONPATH=. python results/cpu_2026-12-02/ab_flat_optimizer.py PRESET REPEATS

Two copies of the same model (same seed), the same random gradients on both; each
repeat times one optimizer_update of each, in alternating order (the gradients
are put back before every update: FlatAdamW's views share their .grad with nothing). Prints the medians.
"""
import statistics, sys, time

import torch

import tiny_openfold_v1 as t


def main(preset, repeats):
    cfg = t.config_from_preset(preset)
    optimizers, gradients = {}, None
    for flat in (False, True):
        torch.manual_seed(0)
        model = t.TinyOpenFold(cfg)
        tc = t.TrainConfig(flat_optimizer=flat)
        optimizers[flat] = (model, t.make_optimizer(model, tc, torch.device("cpu")))
        if gradients is None:
            gradients = [torch.randn_like(p) for p in model.parameters()]
    times = {False: [], True: []}
    for repeat in range(int(repeats)):
        for flat in ((False, True) if repeat % 2 else (True, False)):  # either one first, in turn
            model, optimizer = optimizers[flat]
            for p, g in zip(model.parameters(), gradients):
                p.grad = g.clone()
            begin = time.perf_counter()
            t.optimizer_update(optimizer, None, 1.0)
            times[flat].append((time.perf_counter() - begin) * 1e3)
    reference, flat = statistics.median(times[False]), statistics.median(times[True])
    n = sum(p.numel() for p in optimizers[False][0].parameters())
    print(f"{preset} ({n:,} parameters): AdamW {reference:.2f} ms, --flat-optimizer {flat:.2f} ms "
          f"({reference / flat:.2f}x), medians of {repeats}, torch {torch.__version__}")


if __name__ == "__main__":
    main(*sys.argv[1:])
