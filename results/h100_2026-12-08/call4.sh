#!/bin/bash
# Thirty-seventh session: where the fastest default-size step (with --max-autotune and --pdl)
# spends its time. One sweep with the peer ping and traces (SWEEP_TRACE=1), each row its own
# process: the fastest path with --pdl, with --max-autotune and --pdl, and the latter with
# Inductor's coordinate-descent tuning (coord) on top. CALL4_ROWS replaces the rows.
set -u; D=$OUT/c4; mkdir -p $D/sweep; export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s); C=flex+fused+triton+compile+graphs+flat+castonce+wgstream
SWEEP_TRACE=1 SWEEP_TOP=40 SWEEP_GRACE_S=40 timeout ${CALL4_LIMIT:-560} python3 results/h200_2026-12-02/inductor_sweep.py \
    $D/sweep ${CALL4_DEADLINE:-470} ${CALL4_ROWS:-s_Cwp=small:$C+pdl s_Cwap=small:$C+autotune+pdl \
    s_Cwapc=small:$C+autotune+pdl:coord} > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; gzip sweep/*.trace.json; cp sweep/*.json sweep/*.trace.json.gz . 2>/dev/null; rm -rf sweep
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 5
cd $OUT && tar czf c4.tgz c4 && rm -rf c4  # one file back
