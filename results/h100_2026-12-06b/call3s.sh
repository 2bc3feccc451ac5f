#!/bin/bash
# Twenty-second session (2026-12-06), call 3s: call3.sh cut to fit the device time left. The
# transition kernels' GPU tests as they are now, and the small step with and without the
# kernels (notrans) at the retuned tiles: inductor_sweep.py, one process each, compiled side
# by side, timed alone (20 steps, CUDA events), kernels by kind.
set -u
D=$OUT/c3s; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 90 python3 -m pytest -q tests/test_triton_kernels.py -k "gpu_transition" > $D/tests_transition.txt 2>&1
echo "transition tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=25 SWEEP_GRACE_S=30 timeout 200 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 140 \
    s_old=small:$C:notrans s_new=small:$C > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c3s.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; tail -3 tests_transition.txt; grep -v Warn sweep_table.txt | tail -3
grep -h -A10 "^== " sweep_logs.txt | cut -c1-120; grep -h transition sweep_logs.txt | head -4
