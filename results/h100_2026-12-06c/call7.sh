#!/bin/bash
# Twenty-third session (2026-12-06), call 7: the backward kernels' per-program sums stored
# channels first (PARTIALS_CHANNELS_FIRST), so that their sum over the programs reads
# contiguous memory, against the old layout (rowpartials); and at medium the sums that
# Inductor's mix-order LayerNorm backward ends with (96 aten reduce_kernel calls, 0.8 ms a
# step in call 3 of results/h100_2026-12-06b) with a split of 32 rows, and without
# mix-order reductions. (1) the GPU tests of the gating and transition operators;
# (2) inductor_sweep.py, one process per run, compiled side by side, timed alone;
# (3) the compiled and graphed --triton-kernels steps against eager.
set -u
D=$OUT/c7; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 120 python3 -m pytest -q tests/test_triton_kernels.py -k "gpu_transition or gpu_gating_kernels" > $D/tests_ops.txt 2>&1
echo "operator tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=25 SWEEP_GRACE_S=30 timeout 300 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 230 \
    s_new=small:$C s_rowp=small:$C:rowpartials m_new=medium:$C m_rowp=medium:$C:rowpartials \
    m_mix32=medium:$C:mix32 m_nomix=medium:$C:nomix > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
timeout 100 python3 -m pytest -q -x tests/test_triton_kernels.py -k "compiled_and_graphed" > $D/tests_steps.txt 2>&1
echo "step tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c7.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; tail -n 3 tests_ops.txt; tail -n 3 tests_steps.txt; grep -v Warn sweep_table.txt | tail -n 8
grep -h -A12 "^== " sweep_logs.txt | cut -c1-110
grep -h "reduce_kernel\|_backward_kernel\|_transition_backward" sweep_logs.txt | cut -c1-80
