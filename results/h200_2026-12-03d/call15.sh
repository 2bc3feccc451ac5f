#!/bin/bash
# Thirteenth session (2026-12-03): the outer-product-mean kernels (branch opm-kernel) at small,
# T (which now includes them through --triton-kernels) against T without them (noopm), then
# the GPU tests of the kernels (first). Short: the session's last device minutes.
set -u
D=$OUT/p15; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
timeout 45 python3 -m pytest -q -rs -p no:cacheprovider tests/test_triton_kernels.py -k "gpu_opm" > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
tar czf $OUT/p15a.tar.gz -C $D gpu_tests.txt summary.txt commit.txt gpu.txt
SWEEP_TOP=25 SWEEP_GRACE_S=15 timeout 110 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 85 \
    s_T=small:$T s_noopm=small:$T:noopm > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; tar czf $OUT/p15.tar.gz *.txt
cat summary.txt; grep -v Warn sweep_table.txt | tail -3; tail -2 gpu_tests.txt
