#!/bin/bash
# Fifteenth session (2026-12-04), the session's last device time (about 220 s): the sweep
# at small of T against T+bf16w (results/h200_2026-12-04b/bf16_weights.py: the nn.Linear
# parameters as one bf16 copy a step, split outside the compiled graph, so the forward has
# no per-weight casts and backward no per-gradient casts back). Two processes only.
set -u
D=$OUT/c10; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=40 SWEEP_GRACE_S=15 timeout 150 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 110 \
    s_T=small:$T s_bf16w=small:$T:bf16w > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
cat summary.txt; grep -v Warn sweep_table.txt | tail -3; grep -h '"final_loss"' *.json | grep -o '"name": "[a-z_0-9]*"\|"final_loss": [0-9.]*'
