"""The generated source of chosen Inductor kernels of a compiled training step, and
the wrapper lines that launch them (with their sizes).

    TORCHINDUCTOR_CACHE_DIR=DIR PYTHONPATH=. python3 results/h200_2026-12-02e/kernel_code.py \
        PRESET PATH OUTDIR PATTERN [PATTERN ...]

Builds the step with --benchmark's own benchmark_step, runs two steps (compiling it),
then reads every wrapper module Inductor wrote under DIR (an empty cache directory,
so only this step's code is there): for each Triton kernel whose name matches a
PATTERN (a regular expression), OUTDIR/<kernel>.py gets its source and OUTDIR/launches.txt
the lines around each launch of it. SWEEP_DEVICE=cpu: a smoke test (no Triton there).
"""
import dataclasses, glob, os, re, sys

import torch

import tiny_openfold_v1 as t

KERNEL = re.compile(r"^(\w+) = async_compile\.triton\('(\w+)', '''(.*?)'''", re.S | re.M)


def main(preset, path, outdir, *patterns):
    os.makedirs(outdir, exist_ok=True)
    device = torch.device(os.environ.get("SWEEP_DEVICE", "cuda"))
    cfg = t.config_from_preset(preset)
    tc = dataclasses.replace(t.TrainConfig(use_amp=True), batch_size=t.PRESETS[preset]["batch_size"],
                             **t.parse_benchmark_path(path))
    step, batches = t.benchmark_step(cfg, tc, device)
    for i in range(2):
        step(batches[i % 2])
    t.synchronize(device)
    wanted = [re.compile(p) for p in patterns]
    cache = os.environ["TORCHINDUCTOR_CACHE_DIR"]
    with open(os.path.join(outdir, "launches.txt"), "w") as launches:
        for module in sorted(glob.glob(os.path.join(cache, "**", "*.py"), recursive=True)):
            text = open(module).read()
            if "def call(" not in text:
                continue
            lines = text.splitlines()
            for match in KERNEL.finditer(text):
                variable, name, source = match.groups()
                if not any(w.search(name) for w in wanted):
                    continue
                before = text[:match.start()].splitlines()
                comments = []  # Inductor's metadata above the kernel: its source nodes and original aten ops
                while before and before[-1].startswith("#"):
                    comments.insert(0, before.pop())
                with open(os.path.join(outdir, f"{name}.py"), "w") as f:
                    f.write(f"# from {os.path.relpath(module, cache)}\n" + "\n".join(comments) + f"\n{source}")
                for i, line in enumerate(lines):
                    if f"{variable}.run(" in line:
                        launches.write(f"== {name} ({os.path.relpath(module, cache)}, line {i + 1})\n")
                        launches.write("\n".join(lines[max(0, i - 14):i + 1]) + "\n\n")
    print(f"{len(os.listdir(outdir)) - 1} kernel sources in {outdir}")


if __name__ == "__main__":
    main(*sys.argv[1:])
