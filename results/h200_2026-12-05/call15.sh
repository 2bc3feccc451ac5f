#!/bin/bash
# Seventeenth session (2026-12-05), on the H100 that call 13 got: what call 13's time limits cut
# off. The GPU tests of FlatAdamW against fused AdamW (fixed gradients, with and without graph
# capture), then the medium rows of the benchmark (reference, T, T+castonce in one process),
# then the two compiled GPU tests call 13 did not reach.
set -u
D=$OUT/c15; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 150 python3 -m pytest -q -rs -p no:cacheprovider --durations=0 tests/test_fast_paths.py \
    -k "gpu and flat_optimizer_updates" > $D/gpu_tests_flat.txt 2>&1
echo "flat gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
T=flex+fused+triton+compile+graphs+flat
timeout 360 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets medium \
    --benchmark-paths reference,$T,$T+castonce --profile-dir $D/bench > $D/bench.txt 2>&1
echo "benchmark rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cp $D/bench/benchmark.md $D/bench/benchmark.json $D/ 2>/dev/null
LEFT=$(( 575 - ($(date +%s) - T0) ))
if [ $LEFT -gt 20 ]; then
  timeout $LEFT python3 -m pytest -q -rs -p no:cacheprovider --durations=0 tests/test_fast_paths.py \
      -k "gpu and compiled_and_graphed and (chunk_size or checkpoint_blocks)" > $D/gpu_tests_compiled.txt 2>&1
  echo "compiled gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
fi
cat summary.txt 2>/dev/null; cd $D; cat summary.txt gpu.txt; cat benchmark.md; grep -E "passed|failed|FAIL" gpu_tests_*.txt | tail -6
