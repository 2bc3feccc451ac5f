"""CPU A/B of one triangle-multiplication module: COMMIT's code against the working tree.

    python results/cpu_2026-12-02/ab_trimult_module.py COMMIT CLASS

CLASS is TriangleMultiplicationOutgoing or TriangleMultiplicationIncoming. Eager
fp32 forward + backward of the module alone on random z, at the tiny (B 8) and
small (B 2) presets: 5 timed calls after one untimed, 7 alternating repeats.
Prints the median milliseconds a call.
"""
import os, statistics, subprocess, sys, time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ab_reference_layout import load  # noqa: E402  (two versions of the script as two modules)

torch.set_num_threads(2)

commit, cls = sys.argv[1], sys.argv[2]
mods = {commit: load(subprocess.check_output(["git", "show", f"{commit}:tiny_openfold_v1.py"], text=True), "old"),
        "working tree": load(open("tiny_openfold_v1.py").read(), "new")}
for preset, batch in [("tiny", 8), ("small", 2)]:
    times = {k: [] for k in mods}
    for _ in range(7):
        for key, t in mods.items():
            cfg = t.config_from_preset(preset)
            torch.manual_seed(0)
            module = getattr(t, cls)(cfg)
            n = cfg.max_seq_len
            z = torch.randn(batch, n, n, cfg.pair_dim, requires_grad=True)
            pair_mask = torch.ones(batch, n, n)
            module(z, pair_mask).sum().backward()
            start = time.perf_counter()
            for _ in range(5):
                module(z, pair_mask).sum().backward()
            times[key].append((time.perf_counter() - start) / 5)
    old, new = (statistics.median(v) for v in times.values())
    print(f"{cls} {preset} (B {batch}): {commit} {old * 1e3:.2f} ms, working tree {new * 1e3:.2f} ms "
          f"({old / new:.3f}x)")
