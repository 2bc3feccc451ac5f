#!/bin/bash
# Thirty-third session: two Inductor settings on top of --max-autotune at the default size,
# on the fastest path (with --weight-grad-stream), each in its own process of one sweep with
# the peer ping: coordinate-descent tuning of the Triton kernels' configs (`coord`; last
# measured on the H200 before the peer ping, 5.82 against 5.89 ms in a sweep that was not
# timed alone) and programmatic dependent launch (`pdl`).
set -u; D=$OUT/c2; mkdir -p $D/sweep; export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s); C=flex+fused+triton+compile+graphs+flat+castonce+wgstream
SWEEP_TOP=40 SWEEP_GRACE_S=40 timeout ${CALL2_LIMIT:-470} python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 400 \
    s_Cwa=small:$C:autotune s_Cwac=small:$C:autotune+coord s_Cwap=small:$C:autotune+pdl > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 5
