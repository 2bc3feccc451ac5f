#!/bin/bash
# Sixteenth session (2026-12-04): the README's benchmark in one process, with the reference
# row and the fastest path with and without --cast-once (after call 11 kept it), --peer-ping.
set -u
D=$OUT/c12; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
timeout 540 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small,medium \
    --benchmark-paths reference,$T,$T+castonce --profile-dir $D/bench > $D/bench.txt 2>&1
echo "benchmark rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cp $D/bench/benchmark.md $D/bench/benchmark.json $D/ 2>/dev/null
cd $D && tar czf $OUT/c12.tar.gz *.txt *.md *.json
cat summary.txt; cat benchmark.md; tail -5 bench.txt
