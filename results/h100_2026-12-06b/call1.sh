#!/bin/bash
# Twenty-second session (2026-12-06), call 1: the new transition kernels (--triton-kernels,
# Alg. 9/15) on an H100. The GPU tests of the hand-written kernels, then the module alone
# (transition_bench.py): compiled PyTorch code against the kernels at several tiles.
set -u
D=$OUT/c1; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 300 python3 -m pytest -q -x tests/test_triton_kernels.py > $D/tests.txt 2>&1
echo "tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
timeout 240 python3 results/h100_2026-12-06b/transition_bench.py $D/transition_bench.json > $D/bench.txt 2>&1
echo "bench rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cat $D/summary.txt $D/gpu.txt; tail -5 $D/tests.txt; grep -v Warn $D/bench.txt | tail -45
