#!/bin/bash
# Fourteenth session (2026-12-04), call 4, on main with the OPM forward kernel (6c034fb):
# (1) the long-protein path at N = 2,048 (the met memory target, now through that kernel
# per chunk of rows), (2) --benchmark --peer-ping of the fastest path at small and medium.
set -u
D=$OUT/c4; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 140 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets long \
    --benchmark-seq-lens 2048 --benchmark-paths flex+fused+triton+ckpt+chunk128 \
    --benchmark-steps 2 --warmup-steps 1 --profile-dir $D/long > $D/long.txt 2>&1
echo "long rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cp $D/long/benchmark.md $D/long.md 2>/dev/null; cp $D/long/benchmark.json $D/long.json 2>/dev/null
LEFT=$(( 430 - ($(date +%s) - T0) ))
timeout $LEFT python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small,medium \
    --benchmark-paths flex+fused+triton+compile+graphs+flat --profile-dir $D/bench > $D/bench.txt 2>&1
echo "benchmark rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cp $D/bench/benchmark.md $D/bench.md 2>/dev/null; cp $D/bench/benchmark.json $D/bench.json 2>/dev/null
cd $D && tar czf $OUT/c4.tar.gz *.txt *.md *.json 2>/dev/null
cat summary.txt; cat long.md bench.md 2>/dev/null
