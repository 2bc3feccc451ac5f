#!/bin/bash
# Thirteenth session (2026-12-03): every GPU test (test_gpu_*) on the code after --flat-weights
# was removed (FlatAdamW back to the parameters in model order), with their durations.
set -u
D=$OUT/p14; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 520 python3 -m pytest -q -rs -p no:cacheprovider --durations=0 tests -k "test_gpu" > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && tar czf $OUT/p14.tar.gz *.txt
cat summary.txt; grep -E "passed|failed|error" gpu_tests.txt | tail -5
