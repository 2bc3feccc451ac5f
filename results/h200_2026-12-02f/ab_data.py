"""Time to generate one synthetic sample on one core, the generator before the
speed-up (data_before_speedup.py: the data section at the commit before it) against
the current one, alternating, in one process. Also checks that both give the same bytes.

    PYTHONPATH=. python3 results/h200_2026-12-02f/ab_data.py
"""
import importlib.util, os, statistics, sys, time

import numpy as np

import tiny_openfold_v1 as new

spec = importlib.util.spec_from_file_location("before", os.path.join(os.path.dirname(__file__),
                                                                    "data_before_speedup.py"))
old = importlib.util.module_from_spec(spec)
sys.modules["before"] = old  # dataclasses look their module up
spec.loader.exec_module(old)

for name, n, s, k in (("small", 64, 16, 30), ("medium", 128, 32, 8)):
    times = {"before": [], "now": []}
    for rnd in range(4):
        for label, module in (("before", old), ("now", new)) if rnd % 2 == 0 else (("now", new), ("before", old)):
            ds = module.SyntheticProteinDataset(1000, n, s, seed=rnd)
            start = time.perf_counter()
            for i in range(k):
                ds[i]
            times[label].append(1e3 * (time.perf_counter() - start) / k)
    same = all(np.array_equal(old.SyntheticProteinDataset(10, n, s, seed=9)[i][key],
                              new.SyntheticProteinDataset(10, n, s, seed=9)[i][key])
               for i in range(3) for key in ("msa", "distances"))
    b, w = statistics.median(times["before"]), statistics.median(times["now"])
    print(f"{name}: before {b:.1f} ms, now {w:.1f} ms a sample ({b / w:.2f}x; rounds "
          f"{[round(x, 1) for x in times['before']]} / {[round(x, 1) for x in times['now']]}); same samples: {same}")
