#!/bin/bash
# Twenty-second session (2026-12-06), call 3: call 1b again on the code after its findings
# (tiles chosen by width, the kernels only up to 128 channels, GPU tests against float64).
# (1) The transition kernels' GPU tests; (2) inductor_sweep.py: the fastest path with and
# without them (notrans), small and medium, compiled side by side, timed alone (20 steps,
# CUDA events), kernels by kind; (3) the compiled and graphed --triton-kernels steps.
set -u
D=$OUT/c3; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 100 python3 -m pytest -q tests/test_triton_kernels.py -k "gpu_transition" > $D/tests_transition.txt 2>&1
echo "transition tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=25 SWEEP_GRACE_S=40 timeout 310 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 220 \
    s_old=small:$C:notrans s_new=small:$C m_old=medium:$C:notrans m_new=medium:$C > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
timeout 130 python3 -m pytest -q -x tests/test_triton_kernels.py -k "compiled_and_graphed or bf16_triton" > $D/tests_steps.txt 2>&1
echo "step tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c3.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; tail -3 tests_transition.txt tests_steps.txt; grep -v Warn sweep_table.txt | tail -6
grep -h -A10 "^== " sweep_logs.txt | cut -c1-120
