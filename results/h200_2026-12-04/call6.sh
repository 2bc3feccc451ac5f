#!/bin/bash
# Prepared in the fourteenth session (2026-12-04) for the next device session, NOT yet run
# (about 9 minutes). Applies flex_bias_copies.patch (FlexAttention reads G = 8 copies of each
# shared bias, so the backward's atomic adds of the bias gradient contend R / G ways, not R),
# then (1) a sweep of T with the copies (G = 8) against copies1 (the bias itself, main's
# code) and copies32, at small and medium; (2) the flex GPU tests of tests/test_fast_paths.py.
# Land the patch only if (1) shows less kernel time at both sizes for some G and (2) passes;
# set FLEX_BIAS_COPIES to the best G first.
set -u
D=$OUT/c6; mkdir -p $D/sweep
export PYTHONPATH=.
git apply results/h200_2026-12-04/flex_bias_copies.patch || { echo "patch does not apply"; exit 1; }
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=40 SWEEP_GRACE_S=60 timeout 400 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 310 \
    s_T=small:$T s_c1=small:$T:copies1 s_c32=small:$T:copies32 \
    m_T=medium:$T m_c1=medium:$T:copies1 m_c32=medium:$T:copies32 > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; tar czf $OUT/c6.tar.gz *.txt; cd - > /dev/null
LEFT=$(( 560 - ($(date +%s) - T0) ))
timeout $LEFT python3 -m pytest -q -rs -p no:cacheprovider --durations=0 tests/test_fast_paths.py \
    -k "test_gpu and flex" > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && tar czf $OUT/c6.tar.gz *.txt
cat summary.txt; grep -v Warn sweep_table.txt | tail -7; grep -E "passed|failed|error" gpu_tests.txt | tail -3
