#!/bin/bash
# Thirty-second session: --max-autotune at medium, with the peer ping (never measured there on
# an H100; on an H200 without the ping it made medium slower). One sweep: the fastest medium
# path without and with autotune, and with autotune plus --weight-grad-stream (its graph is
# captured on the high-priority stream since 0d451df), since autotuned products may change
# how the two streams share the card.
set -u
D=$OUT/c5; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=40 SWEEP_GRACE_S=60 timeout ${CALL5_LIMIT:-570} python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 440 \
    m_C=medium:$C m_Ca=medium:$C:autotune m_Cwa=medium:$C+wgstream:autotune > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c5.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 4
