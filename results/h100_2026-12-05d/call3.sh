#!/bin/bash
# Twentieth session (2026-12-05), call 3, on an H100 (the card): the speedup of each path
# over the reference at the default size, one --benchmark process (the default path list, plus
# the fastest path without --triton-kernels), with --peer-ping as in the README's first table.
set -u
D=$OUT/c3; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
F=flex+fused+triton+compile+graphs+flat
PATHS=reference,sdpa,sdpa+compile,sdpa+compile+graphs,flex+fused+compile+graphs+flat,$F,$F+castonce
timeout 550 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small \
    --benchmark-paths $PATHS --profile-dir $D/small > $D/small.txt 2>&1
echo "small rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cp $D/small/benchmark.json $D/small/benchmark.md $D/ 2>/dev/null
cd $D && tar czf $OUT/c3.tar.gz *.txt *.json *.md 2>/dev/null
cat summary.txt gpu.txt; cat benchmark.md 2>/dev/null || tail -20 small.txt
