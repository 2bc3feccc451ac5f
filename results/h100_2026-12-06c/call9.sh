#!/bin/bash
# Prepared in the twenty-third session (2026-12-06), not run: the LayerNorm + projection
# operator (torch.ops.tinyopenfold.ln_linear, off by default: LN_LINEAR_KERNELS) on a GPU.
# (1) its GPU tests and the other --triton-kernels operator tests; (2) ln_linear_bench.py:
# the operator alone at each site's shape and tile against the compiled PyTorch code.
# About 300 s. Then call10.sh: the whole step with and without it.
set -u
D=$OUT/c9; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 150 python3 -m pytest -q tests/test_triton_kernels.py -k "gpu_ln_linear or gpu_transition or gpu_gating_kernels" > $D/tests_ops.txt 2>&1
echo "operator tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
timeout 330 python3 results/h100_2026-12-06c/ln_linear_bench.py $D/ln_linear_bench.json > $D/ln_linear_bench.txt 2>&1
echo "bench rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cat $D/summary.txt $D/gpu.txt; tail -n 3 $D/tests_ops.txt; grep -v Warn $D/ln_linear_bench.txt | tail -n 40
