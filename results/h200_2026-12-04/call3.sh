#!/bin/bash
# Fourteenth session (2026-12-04), call 3, on branch opm-forward: the outer-product mean's
# forward as one Triton kernel under --triton-kernels (backward: the einsum path's). (1) its
# GPU tests, (2) a sweep of T (with it) against T without it (noopm) at small and medium.
set -u
D=$OUT/c3; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 60 python3 -m pytest -q -rs -p no:cacheprovider tests/test_triton_kernels.py -k "gpu_opm" > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=40 SWEEP_GRACE_S=60 timeout 390 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 300 \
    s_T=small:$T s_noopm=small:$T:noopm m_T=medium:$T m_noopm=medium:$T:noopm > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; tar czf $OUT/c3.tar.gz *.txt
cat summary.txt; grep -v Warn sweep_table.txt | tail -5; tail -2 gpu_tests.txt
