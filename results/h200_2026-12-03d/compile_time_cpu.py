"""Compile time of the sdpa+fused+compile+flat step on the CPU, without (0) or with (1)
--flat-weights (flatw): PRESET 0|1, bf16 autocast, batch 1; prints the first step's
time (compilation) and the second's. Run with TORCHINDUCTOR_FORCE_DISABLE_CACHES=1."""
import torch, sys, time, dataclasses
sys.path.insert(0, '.')  # run from the repository root
import tiny_openfold_v1 as t
cfg = t.config_from_preset(sys.argv[1])
dev = torch.device("cpu")
flatw = sys.argv[2] == "1"
path = "sdpa+fused+compile+flat" + ("+flatw" if flatw else "")
tc = dataclasses.replace(t.TrainConfig(use_amp=True, batch_size=1), **t.parse_benchmark_path(path))
t0 = time.time()
step, batches = t.benchmark_step(cfg, tc, dev)
step(batches[0])
t1 = time.time()
step(batches[1])
print(flatw, "first step (compile)", round(t1 - t0, 1), "s; second", round(time.time() - t1, 2), flush=True)
