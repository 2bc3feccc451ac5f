#!/bin/bash
# Thirty-first session: Inductor's max_autotune at the default size on the fastest path
# (with --weight-grad-stream), with and without wgsprio, in one sweep with the peer ping
# (call17.sh of ../h100_2026-12-07b, which did the same without wgstream, was never run).
# Run as one line on the machine that call 1 had left warm; this file is that line.
set -u; D=$OUT/c2; mkdir -p $D/sweep; export PYTHONPATH=.; git rev-parse HEAD > $D/commit.txt 2>/dev/null; nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt; T0=$(date +%s); C=flex+fused+triton+compile+graphs+flat+castonce+wgstream; SWEEP_TOP=40 SWEEP_GRACE_S=40 timeout 540 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 460 s_Cw=small:$C s_Cwa=small:$C:autotune s_Cwap=small:$C:autotune+wgsprio > $D/sweep_table.txt 2>&1; echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt; cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null; tar czf $OUT/c2.tar.gz *.txt *.json 2>/dev/null; cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 4
