#!/bin/bash
# Twentieth session (2026-12-05), call 2, on the H100 of call 1: where the time of the fastest
# path goes on the card. inductor_sweep.py compiles small and medium side by side, then
# times each alone (20 steps, CUDA events) and profiles 5 more steps: kernels and kernel time a
# step, by kind, and the 40 longest kernels (the H200's table: results/h200_2026-12-04c, call 11).
set -u
D=$OUT/c2; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=40 SWEEP_GRACE_S=60 timeout 500 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 360 \
    s_cast=small:$C m_cast=medium:$C > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c2.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -4
grep -h -A10 "^== " sweep_logs.txt | cut -c1-120
