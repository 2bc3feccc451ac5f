#!/bin/bash
# Fifteenth session (2026-12-04): main at bab4802 (the OPM operator's backward with one
# gradient copy, 5458217), one process: the README's benchmark with the reference row, so
# the speedups come from one run, then the GPU tests of tests/test_triton_kernels.py (the
# operator's backward has not run on a GPU since 5458217).
set -u
D=$OUT/c9; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 300 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small,medium \
    --benchmark-paths reference,flex+fused+triton+compile+graphs+flat --profile-dir $D/bench > $D/bench.txt 2>&1
echo "benchmark rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cp $D/bench/benchmark.md $D/bench/benchmark.json $D/ 2>/dev/null
LEFT=$(( 490 - ($(date +%s) - T0) ))
timeout $LEFT python3 -m pytest -q -rs -p no:cacheprovider --durations=0 tests/test_triton_kernels.py -k gpu \
    > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && tar czf $OUT/c9.tar.gz *.txt *.md *.json
cat summary.txt; cat benchmark.md; grep -E "passed|failed|error" gpu_tests.txt | tail -3
