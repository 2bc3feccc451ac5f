#!/bin/bash
# Device call 2: the GPU tests of --flat-optimizer (the fused-adamw variant fixed), and
# the generated source of the slowest Triton kernels of the medium flat step.
set -u
D=$OUT/call2; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null
(TORCHINDUCTOR_CACHE_DIR=/tmp/ic_medium timeout 400 python3 results/h200_2026-12-02e/kernel_code.py medium \
    flex+fused+compile+flat $D/kernels cat_mul_sigmoid_backward cat_permute_unsqueeze \
    clone_native_layer_norm_backward_permute "fused__unsafe_view_clone_permute_[0-9]+$" triton_red_fused_sum_ \
    add_mul_native_layer_norm_backward_sigmoid_sigmoid_backward flex_attention_backward \
    > $D/kernel_code.txt 2>&1; echo "kernel_code rc=$?" >> $D/rc.txt) &
timeout 200 python3 -m pytest -q -rA tests/test_fast_paths.py -k "gpu and flat_optimizer_updates" > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
wait
cd $D && tar czf $OUT/call2.tar.gz *.txt kernels
cat rc.txt; tail -3 kernel_code.txt; ls kernels | head -40; grep -E "passed|failed|PASSED|FAILED|Error" gpu_tests.txt | tail -6
