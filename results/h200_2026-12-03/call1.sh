#!/bin/bash
# Device call 1: the compiled/graphed GPU test with 2 MSA heads (never run on a GPU);
# then the --benchmark/sweep gap at small: the CLI alone (cold Inductor cache), the same
# steps in bench_gap.py alone and after the reference path (warm cache: the same kernels).
set -u
D=$OUT/call1; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $D/gpu.txt
T=flex+fused+triton+compile+graphs+flat
timeout 170 python3 -m pytest -q -rA -p no:cacheprovider tests/test_fast_paths.py -k "gpu and compiled" > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
timeout 160 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets small \
    --benchmark-paths $T --profile-dir $D/bench > $D/cli_alone.txt 2>&1
echo "cli_alone rc=$?" >> $D/rc.txt
timeout 90 python3 results/h200_2026-12-03/bench_gap.py > $D/gap_alone.txt 2>&1
echo "gap_alone rc=$?" >> $D/rc.txt
timeout 120 python3 results/h200_2026-12-03/bench_gap.py --reference-first > $D/gap_ref.txt 2>&1
echo "gap_ref rc=$?" >> $D/rc.txt
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv >> $D/gpu.txt
cd $D && tar czf $OUT/call1.tar.gz *.txt 2>/dev/null
cat rc.txt; grep -E "passed|failed|PASSED|FAILED|Error" gpu_tests.txt | tail -12; tail -4 cli_alone.txt; tail -1 gap_alone.txt; tail -1 gap_ref.txt
