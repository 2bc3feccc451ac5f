#!/bin/bash
# Device call 5 of 2026-12-03b: the pair-bias projections of Alg. 7, 13 and 14 as a
# reduction under --fuse-projections inside compile (pair_bias(), new here) against
# the width-4 matrix products they replace (the sweep's bgemm option), at small.
# Two sweep processes; compare kernel time and kernel counts (step times of two
# sweep processes can differ by 0.5 ms for no reason found, call 1).
set -u
D=$OUT/c5; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=uuid --format=csv,noheader > $D/gpu.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=30 SWEEP_GRACE_S=30 timeout 225 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 180 \
    s_new=small:$T s_bgemm=small:$T:bgemm > $D/sweep_table.txt 2>&1
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null
tar czf $OUT/c5.tar.gz *.txt 2>/dev/null
cat sweep_table.txt | tail -3
