#!/bin/bash
# Seventeenth session (2026-12-05): Inductor's max_autotune (Triton GEMM templates with fused
# epilogues, benchmarked against cuBLAS) on the fastest path with --cast-once, at small and
# medium, against the same path without it, in one sweep. Last measured in the first session
# with --compile-scope block only (3 % at small, slower at medium, five times the compile time).
set -u
D=$OUT/c14; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=40 SWEEP_GRACE_S=60 timeout 420 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 300 \
    s_C=small:$C s_Cat=small:$C:autotune m_C=medium:$C m_Cat=medium:$C:autotune > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c14.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -5
grep -h -A7 "^== " sweep_logs.txt | cut -c1-120
