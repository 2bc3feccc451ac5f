#!/bin/bash
# Prepared in the fourteenth session (2026-12-04) for the next device session, NOT yet run
# (about 7 minutes). cuBLAS's split-K: a step runs 93 splitKreduce kernels at small (0.17 ms)
# and 186 at medium (0.40 ms; call 3), the finishing sums of weight-gradient products with
# long K (all pairs). With 16 KiB workspaces (ws16k) split-K has no room for its partial sums;
# whether cuBLAS's other choices are faster is what this measures: T against T+ws16k at small
# and medium. If it wins at both, the script could set the two variables before its first
# product (documented, opt-in), after the GPU tests pass with them. Also T against noopm again:
# after call 3, the OPM operator's backward was rewritten to copy the gradient once, not twice
# (call 3's T ran a 31.4 us copy a block at small where noopm ran 17.8 us); if T's margin over
# noopm does not grow, revert that commit.
set -u
D=$OUT/c8; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=40 SWEEP_GRACE_S=60 timeout 360 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 280 \
    s_T=small:$T s_ws=small:$T:ws16k s_noopm=small:$T:noopm \
    m_T=medium:$T m_ws=medium:$T:ws16k m_noopm=medium:$T:noopm > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; tar czf $OUT/c8.tar.gz *.txt
cat summary.txt; grep -v Warn sweep_table.txt | tail -7; grep -h "splitKreduce\|^gemm" sweep_logs.txt | cut -c1-100
