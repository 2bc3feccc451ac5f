#!/bin/bash
# Eighteenth session (2026-12-05), call 2: --batch-streams at medium (B 2: two parts of one
# protein), the reference and the fastest path with 1 and 2 streams, one process.
set -u
D=$OUT/c2; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
P=flex+fused+triton+compile+graphs+flat+castonce
T0=$(date +%s)
timeout 580 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets medium \
    --benchmark-paths reference,$P,$P+streams2 --profile-dir $D/medium > $D/medium.txt 2>&1
echo "medium rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cp $D/medium/benchmark.md $D/medium/benchmark.json $D/ 2>/dev/null
cat $D/gpu.txt $D/summary.txt; grep -v -i warn $D/medium.txt | tail -6
