#!/bin/bash
# Seventeenth session (2026-12-05): call12 of results/h200_2026-12-04c again (its output files
# were lost with the sixteenth session's machine): the README's benchmark in one process, with
# the reference row and the fastest path with and without --cast-once, --peer-ping. Then the GPU
# tests of tests/test_fast_paths.py that use FlatAdamW (its gradient gather changed from torch.cat
# to copies into a persistent buffer), then the rest of its GPU tests while time is left.
set -u
D=$OUT/c13; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
timeout 330 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small,medium \
    --benchmark-paths reference,$T,$T+castonce --profile-dir $D/bench > $D/bench.txt 2>&1
echo "benchmark rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cp $D/bench/benchmark.md $D/bench/benchmark.json $D/ 2>/dev/null
LEFT=$(( 570 - ($(date +%s) - T0) ))
timeout $LEFT python3 -m pytest -q -rs -p no:cacheprovider --durations=0 tests/test_fast_paths.py \
    -k "gpu and (flat_optimizer or compiled_and_graphed)" > $D/gpu_tests_flat.txt 2>&1
echo "flat gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
LEFT=$(( 570 - ($(date +%s) - T0) ))
timeout $LEFT python3 -m pytest -q -rs -p no:cacheprovider --durations=0 tests/test_fast_paths.py \
    -k "gpu and not flat_optimizer and not compiled_and_graphed" > $D/gpu_tests_rest.txt 2>&1
echo "other gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && tar czf $OUT/c13.tar.gz *.txt *.md *.json 2>/dev/null
cat summary.txt gpu.txt; cat benchmark.md; tail -3 bench.txt; grep -E "passed|failed|FAIL" gpu_tests_*.txt | tail -6
