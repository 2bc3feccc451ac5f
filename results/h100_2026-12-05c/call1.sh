#!/bin/bash
# Nineteenth session (2026-12-05), call 1 (call16.sh of results/h200_2026-12-05, prepared in the seventeenth session), on an H100 (the card): the long-protein
# target as the issue words it, on 80 GB. Peak memory and step time at N = 512, 1,024 and 2,048,
# the reference against the memory path, in one process (the reference is expected to run out of
# memory above about 600 residues; --benchmark reports that as the row's status and goes on).
set -u
D=$OUT/c1; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version,memory.total --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 420 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets long \
    --benchmark-seq-lens 512,1024,2048 --benchmark-paths reference,flex+fused+triton+ckpt+chunk128 \
    --benchmark-steps 2 --warmup-steps 1 --profile-dir $D/long > $D/long.txt 2>&1
echo "long rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cp $D/long/benchmark.md $D/long/benchmark.json $D/ 2>/dev/null
cd $D && tar czf $OUT/c1.tar.gz *.txt *.md *.json 2>/dev/null
cat summary.txt gpu.txt; cat benchmark.md 2>/dev/null; tail -5 long.txt
