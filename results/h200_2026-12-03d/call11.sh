#!/bin/bash
# Twelfth session, 2026-12-03, with the session's last ~4 minutes of device time:
# --flat-weights (the nn.Linear weights cast to bf16 as one block, backward writing
# FlatAdamW's buffer) against the same path without it, small only, one sweep (the two
# processes compile side by side, then time alone): kernels a step and kernel time.
set -u
D=$OUT/p11; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=40 SWEEP_GRACE_S=25 timeout 170 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 110 \
    s_T=small:$T s_flatw=small:$T+flatw > $D/sweep_table.txt 2>&1
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; tar czf $OUT/p11.tar.gz *.txt
grep -v Warn sweep_table.txt | tail -4
