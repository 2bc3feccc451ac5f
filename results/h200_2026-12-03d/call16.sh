#!/bin/bash
# Prepared in the thirteenth session (2026-12-03) for the next device session, NOT yet run
# (about 9 minutes). Applies opm_kernel.patch (the outer-product-mean kernels under
# --triton-kernels, branch opm-kernel) to the device's copy, then (1) the GPU tests of
# tests/test_triton_kernels.py, (2) a sweep of T (with the kernels) against T without
# them (noopm) at small and medium; all four compile side by side. Land the patch on
# main only if (1) passes and (2) shows less kernel time at both sizes.
set -u
D=$OUT/p16; mkdir -p $D/sweep
export PYTHONPATH=.
git apply results/h200_2026-12-03d/opm_kernel.patch || { echo "patch does not apply"; exit 1; }
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 150 python3 -m pytest -q -rs -p no:cacheprovider tests/test_triton_kernels.py -k "gpu" > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=40 SWEEP_GRACE_S=60 timeout 380 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 300 \
    s_T=small:$T s_noopm=small:$T:noopm m_T=medium:$T m_noopm=medium:$T:noopm > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; tar czf $OUT/p16.tar.gz *.txt
cat summary.txt; grep -v Warn sweep_table.txt | tail -5; tail -2 gpu_tests.txt
