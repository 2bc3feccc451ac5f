#!/bin/bash
# Device call 4 of 2026-12-03c: the README's medium-size and long-protein tables from
# one --benchmark command each, at one commit, one process each: the reference and the
# fast paths in one run.
set -u
D=$OUT/c4; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 330 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets medium \
    --benchmark-paths reference,sdpa+compile+graphs,flex+fused+triton+compile+graphs+flat \
    --profile-dir $D/medium > $D/medium.txt 2>&1
echo "medium rc=$? wall_s=$(( $(date +%s) - T0 ))" >> $D/summary.txt
cp $D/medium/benchmark.json $D/medium.json 2>/dev/null
T1=$(date +%s); LEFT=$(( 575 - (T1 - T0) ))
timeout $LEFT python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets long \
    --benchmark-seq-lens 512,1024,2048 --benchmark-paths reference,flex+fused+triton+ckpt+chunk128 \
    --benchmark-steps 2 --warmup-steps 1 --profile-dir $D/long > $D/long.txt 2>&1
echo "long rc=$? wall_s=$(( $(date +%s) - T1 ))" >> $D/summary.txt
cp $D/long/benchmark.json $D/long.json 2>/dev/null
cat $D/summary.txt; grep -E "^(medium|long) " $D/medium.txt $D/long.txt
cd $D && tar czf $OUT/c4.tar.gz *.txt *.json 2>/dev/null
