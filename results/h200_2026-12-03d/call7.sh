#!/bin/bash
# Prepared in the eleventh session, run in the twelfth (2026-12-03, call7/; about 4 minutes): the
# pad-narrow (or main with results/h200_2026-12-03d/pad_narrow.patch applied) pads fused
# projections to a multiple of 8 outputs and routes the pair-bias projections of Alg. 7,
# 13 and 14 (H = 4) through project(), so under --fuse-projections they run 8 wide on
# aligned cuBLAS kernels instead of 4 wide on "align2" ones (36 calls a step at small,
# 5.5-8.6 us each: results/h200_2026-12-03b call 5, results/h200_2026-12-03c call 7's
# s_sep log). nopad = the same code without the padding. Keep the change if its kernel
# time is below nopad's at both sizes; then run the GPU tests of the fused paths.
set -u
D=$OUT/p7; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=30 SWEEP_GRACE_S=40 timeout 330 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 270 \
    s_pad=small:$T s_nopad=small:$T:nopad m_pad=medium:$T m_nopad=medium:$T:nopad \
    > $D/sweep_table.txt 2>&1
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cd - > /dev/null
timeout 240 python3 -m pytest -q -rs -p no:cacheprovider tests/test_fast_paths.py \
    -k "gpu_bf16_fast_path" > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$?" >> $D/gpu_tests.txt
cd $D && tar czf $OUT/p7.tar.gz *.txt
grep -v Warn sweep_table.txt | tail -5; tail -3 gpu_tests.txt
