#!/bin/bash
# Thirteenth session (2026-12-03): the attentions written out (the reference path's logits,
# fused by Inductor) inside the fastest path, against FlexAttention, at small and medium.
# T = flex+fused+triton+compile+graphs+flat; mat = the same with every attention written out
# (path fused+triton+compile+graphs+flat); mattri = T with only the triangle attentions
# written out (sweep option). Six processes compile side by side, then time one at a time.
set -u
D=$OUT/p13; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
M=fused+triton+compile+graphs+flat
SWEEP_TOP=40 SWEEP_GRACE_S=90 timeout 500 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 330 \
    s_T=small:$T s_mat=small:$M s_mattri=small:$T:mattri \
    m_T=medium:$T m_mat=medium:$M m_mattri=medium:$T:mattri > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; tar czf $OUT/p13.tar.gz *.txt
cat summary.txt; grep -v Warn sweep_table.txt | tail -7
