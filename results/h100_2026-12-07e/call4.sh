#!/bin/bash
# Thirty-fourth session: calls 2 and 3 at the default size in one call, since machines came
# rarely (seven tries from 18:34 to 19:05 UTC got none; device time is short). One sweep with
# the peer ping, each row in its own process: the fastest path (with --weight-grad-stream)
# without and with wgsbias (SIDE_BIAS_GRADS), and with --max-autotune alone, with coordinate
# descent (coord) and with programmatic dependent launch (pdl). Beside the compiling, the
# flag's eager GPU tests. Call 3's medium rows are left out. CALL4_ROWS replaces the rows.
set -u; D=$OUT/c4; mkdir -p $D/sweep; export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s); C=flex+fused+triton+compile+graphs+flat+castonce+wgstream
(cd tests && timeout 120 python3 -m pytest -q -x test_weight_grad_stream.py -k "gpu_side" > $D/gpu_tests.txt 2>&1; echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt) &
SWEEP_TOP=40 SWEEP_GRACE_S=40 timeout ${CALL4_LIMIT:-540} python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep ${CALL4_DEADLINE:-440} \
    ${CALL4_ROWS:-s_Cw=small:$C s_Cwb=small:$C:wgsbias s_Cwa=small:$C:autotune s_Cwac=small:$C:autotune+coord \
    s_Cwap=small:$C:autotune+pdl} > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt; wait
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
cat summary.txt gpu.txt; tail -n 2 gpu_tests.txt; grep -v Warn sweep_table.txt | tail -n 7
cd $OUT && tar czf c4.tgz c4 && rm -rf c4  # one file back (the device returns at most 8)
