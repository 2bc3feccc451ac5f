"""CPU A/B of the reference path: an older tiny_openfold_v1.py against the working tree.

    python results/cpu_2026-12-02/ab_reference_layout.py COMMIT [REPEATS]

Loads `git show COMMIT:tiny_openfold_v1.py` and the current file as two modules,
and alternates them (same process, same weights seed, same inputs): one eager
forward + backward of the default path (fp32, no flags) per preset, 2 timed
steps after one untimed, REPEATS times each. Prints the median seconds a step.
Written for the channels-first triangle multiplication (2026-12-02), which
changes the reference code of Alg. 11/12.
"""
import importlib.util, statistics, subprocess, sys, tempfile, time

import torch

torch.set_num_threads(2)


def load(source: str, name: str):
    path = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    path.write(source)
    path.close()
    spec = importlib.util.spec_from_file_location(name, path.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    commit, repeats = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    mods = {commit: load(subprocess.check_output(["git", "show", f"{commit}:tiny_openfold_v1.py"], text=True), "old"),
            "working tree": load(open("tiny_openfold_v1.py").read(), "new")}
    for preset, batch in [("tiny", 8), ("small", 2)]:
        times = {k: [] for k in mods}
        for _ in range(repeats):
            for key, t in mods.items():
                cfg = t.config_from_preset(preset)
                torch.manual_seed(0)
                model = t.TinyOpenFold(cfg)
                msa = torch.randint(0, 20, (batch, cfg.n_seqs, cfg.max_seq_len))
                feats = t.relative_position_features(torch.arange(cfg.max_seq_len).expand(batch, -1), cfg.pair_input_dim)
                masks = torch.ones(batch, cfg.n_seqs, cfg.max_seq_len), torch.ones(batch, cfg.max_seq_len)
                for i in range(3):
                    if i == 1:
                        start = time.perf_counter()
                    model(msa, feats, *masks)["distances"].sum().backward()
                times[key].append((time.perf_counter() - start) / 2)
        old, new = (statistics.median(v) for v in times.values())
        print(f"{preset} (B {batch}): {commit} {old * 1e3:.1f} ms, working tree {new * 1e3:.1f} ms "
              f"({old / new:.3f}x), medians of {repeats}")
