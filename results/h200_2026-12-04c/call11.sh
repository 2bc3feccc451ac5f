#!/bin/bash
# Sixteenth session (2026-12-04): call10 of results/h200_2026-12-04b again, after the gradient
# copies changed (FrontPieces, copy_into: gradients copied into FlatAdamW's gradient buffer by
# multi-tensor kernels, no torch.cat). T against T+castonce at small and medium in one sweep, then
# the GPU tests of tests/test_cast_once.py. Keep --cast-once only if the kernel time drops.
set -u
D=$OUT/c11; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=40 SWEEP_GRACE_S=60 timeout 360 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 270 \
    s_T=small:$T s_cast=small:$T+castonce m_T=medium:$T m_cast=medium:$T+castonce > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null; cd - > /dev/null
LEFT=$(( 560 - ($(date +%s) - T0) ))
timeout $LEFT python3 -m pytest -q -rs -p no:cacheprovider --durations=0 tests/test_cast_once.py -k gpu \
    > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && tar czf $OUT/c11.tar.gz *.txt *.json 2>/dev/null
cat summary.txt; grep -v Warn sweep_table.txt | tail -5; grep -E "passed|failed" gpu_tests.txt | tail -2
grep -h "^== \|_to_copy_[0-9]*$\|CatArray\|multi_tensor\|elementwise_kernel" sweep_logs.txt | cut -c1-110
