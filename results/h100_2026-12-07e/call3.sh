#!/bin/bash
# Thirty-third session, prepared, not run: --weight-grad-stream with SideStreamProduct's bias
# gradients on the second stream too (wgsbias: SIDE_BIAS_GRADS), against the same without, at small,
# and at medium the fastest path without the flag, with it, and with it and wgsbias; one sweep with the
# peer ping. Beside the sweep's compiling, the flag's eager GPU tests (same bits, the
# products on the second stream; the bias gradients there too). CALL3_ROWS replaces the rows (less device time).
set -u; D=$OUT/c3; mkdir -p $D/sweep; export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s); C=flex+fused+triton+compile+graphs+flat+castonce
(cd tests && timeout 120 python3 -m pytest -q -x test_weight_grad_stream.py -k "gpu_side" > $D/gpu_tests.txt 2>&1; echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt) &
SWEEP_TOP=40 SWEEP_GRACE_S=30 timeout ${CALL3_LIMIT:-420} python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep ${CALL3_DEADLINE:-340} \
    ${CALL3_ROWS:-s_Cw=small:$C+wgstream s_Cwb=small:$C+wgstream:wgsbias m_C=medium:$C m_Cw=medium:$C+wgstream m_Cwb=medium:$C+wgstream:wgsbias} > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt; wait
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
cat summary.txt gpu.txt; tail -n 2 gpu_tests.txt; grep -v Warn sweep_table.txt | tail -n 6
