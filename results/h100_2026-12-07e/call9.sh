#!/bin/bash
# Prepared in the thirty-fourth session, not run: --pdl at the medium size, with and
# without --weight-grad-stream (at small it gained 0.27-0.30 ms with the second stream and
# nothing without it), and at small on top of --max-autotune. One sweep with the peer ping,
# each row in its own process. About 450 s with the autotuning rows; CALL9_ROWS replaces the rows.
set -u; D=$OUT/c9; mkdir -p $D/sweep; export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s); C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=40 SWEEP_GRACE_S=40 timeout ${CALL9_LIMIT:-540} python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep \
    ${CALL9_DEADLINE:-440} ${CALL9_ROWS:-m_C=medium:$C m_Cp=medium:$C+pdl m_Cw=medium:$C+wgstream \
    m_Cwp=medium:$C+wgstream+pdl s_Cwa=small:$C+wgstream+autotune s_Cwap=small:$C+wgstream+autotune+pdl} \
    > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null; rm -rf sweep
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 8
cd $OUT && tar czf c9.tgz c9 && rm -rf c9  # one file back
