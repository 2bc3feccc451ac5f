"""CPU A/B of --fuse-projections against the reference, in one process.

    PYTHONPATH=. python results/cpu_2026-12-01/ab_cpu.py PRESET ROUNDS

Both models (same weights) train on the same fixed batch through
tiny_openfold_v1.train_step (forward, loss, backward, clipping, AdamW); their
steps alternate, so machine noise falls on both alike. Prints the median ms of
each and their ratio. The flag is inert on CPU (FUSE_PROJECTIONS_ON_CPU); this
script switches the fused code on to measure it.
"""
import copy, sys, time
import numpy as np
import torch
import tiny_openfold_v1 as t

t.FUSE_PROJECTIONS_ON_CPU = True
preset, rounds = sys.argv[1], int(sys.argv[2])
cfg = t.config_from_preset(preset)
tc = t.TrainConfig(batch_size=t.PRESETS[preset]["batch_size"])
device = torch.device("cpu")
batch = t.benchmark_batch(cfg, tc.batch_size, device, 0)
torch.manual_seed(0)
base = t.TinyOpenFold(cfg)
runs = {}
for name, fused in (("reference", False), ("fused", True)):
    model = copy.deepcopy(base).configure(fuse_projections=fused)
    optimizer = t.make_optimizer(model, tc, device)
    objective = t.make_objective(model, cfg, tc, None, device)
    runs[name] = (objective, model, optimizer, [])
for r in range(rounds + 2):  # the first two rounds are warm-up
    for name, (objective, model, optimizer, times) in runs.items():
        start = time.perf_counter()
        t.train_step(objective, model, optimizer, None, tc.grad_clip, batch)
        if r >= 2:
            times.append(1e3 * (time.perf_counter() - start))
med = {name: float(np.median(v[3])) for name, v in runs.items()}
print(f"{preset}: reference {med['reference']:.1f} ms, fused {med['fused']:.1f} ms, "
      f"reference / fused = {med['reference'] / med['fused']:.2f}x (median of {rounds} alternating steps each, "
      f"torch {torch.__version__}, {torch.get_num_threads()} threads)")
