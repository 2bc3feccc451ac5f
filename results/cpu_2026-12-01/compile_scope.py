"""Compile time of --compile-scope step against block, on the CPU.

    PYTHONPATH=. python results/cpu_2026-12-01/compile_scope.py PRESET {step,block}

One forward + backward (batch 2) of the preset's model, compiled as a whole or
block by block, then one more; prints both times. Run each scope in its own
process, so that neither finds the other's compiled code in memory.
"""
import sys, time
import torch
import tiny_openfold_v1 as t

preset, scope = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
cfg = t.config_from_preset(preset)
batch = t.benchmark_batch(cfg, 2, torch.device("cpu"), 0)
model = t.TinyOpenFold(cfg)
objective = t.make_objective(model, cfg, t.TrainConfig(compile=True, compile_scope=scope), None, torch.device("cpu"))
times = []
for _ in range(2):
    start = time.perf_counter()
    objective(batch).backward()
    times.append(time.perf_counter() - start)
print(f"{preset} --compile-scope {scope}: first forward + backward (compiles) {times[0]:.1f} s, "
      f"second {times[1]:.2f} s (torch {torch.__version__}, {torch.get_num_threads()} threads)")
