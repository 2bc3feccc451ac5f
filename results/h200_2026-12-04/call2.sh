#!/bin/bash
# Fourteenth session (2026-12-04), call 2: opm_bench.py again (constant masks, CUDA-graph
# timing), then the five GPU tests of tests/test_triton_kernels.py that call 14 of
# results/h200_2026-12-03d did not reach (and the one bf16 path test it did).
set -u
D=$OUT/c2; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 200 python3 results/h200_2026-12-04/opm_bench.py $D/opm_bench.json > $D/opm_bench.txt 2>&1
echo "opm_bench rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
timeout 330 python3 -m pytest -q -rs -p no:cacheprovider --durations=0 tests/test_triton_kernels.py \
    -k "test_gpu_bf16 or compiled_and_graphed or offsets" > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && tar czf $OUT/c2.tar.gz *.txt *.json
cat summary.txt; grep -v Warn opm_bench.txt | tail -8; grep -E "passed|failed|error" gpu_tests.txt | tail -3
