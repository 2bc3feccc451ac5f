#!/bin/bash
# Eighteenth session (2026-12-05), call 1: --batch-streams at small on the fastest path
# (the reference, then 1, 2 and 4 streams, one process), then the GPU tests of tests/test_batch_streams.py.
set -u
D=$OUT/c1; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
P=flex+fused+triton+compile+graphs+flat+castonce
T0=$(date +%s)
timeout 400 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small \
    --benchmark-paths reference,$P,$P+streams2,$P+streams4 --profile-dir $D/small > $D/small.txt 2>&1
echo "small rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cp $D/small/benchmark.md $D/small/benchmark.json $D/ 2>/dev/null
timeout $(( 585 - ($(date +%s) - T0) )) python3 -m pytest -q -x tests/test_batch_streams.py -k gpu > $D/tests.txt 2>&1
echo "tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cat $D/gpu.txt $D/summary.txt; grep -v -i warn $D/small.txt | tail -7; tail -15 $D/tests.txt
