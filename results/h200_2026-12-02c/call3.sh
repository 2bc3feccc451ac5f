#!/bin/bash
# Device call 3: the flex path with a contiguous bias (after call 2 found it strided), against
# the sdpa path in one run; the GPU tests of the flex path; long proteins at N = 1,024.
set -u
D=$OUT/call3; mkdir -p $D
export PYTHONPATH=.
SWEEP_GRACE_S=30 timeout 260 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 200 \
    s_sdpa=small:sdpa+fused+compile+graphs s_flex=small:flex+fused+compile+graphs \
    m_sdpa=medium:sdpa+fused+compile+graphs m_flex=medium:flex+fused+compile+graphs \
    > $D/sweep_table.txt 2>&1
echo "sweep rc=$?" >> $D/rc.txt
timeout 120 python3 -m pytest -q -rA tests/test_fast_paths.py -k "gpu and flex" > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
timeout 170 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets long --benchmark-seq-lens 1024 \
    --benchmark-paths sdpa+fused+ckpt+chunk128,flex+fused+ckpt+chunk128,flex --benchmark-steps 2 --warmup-steps 1 \
    --profile-dir $D/long > $D/long_1024.txt 2>&1
echo "long rc=$?" >> $D/rc.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; find . -name '*.json' -o -name '*.txt' | tar czf $OUT/call3.tar.gz -T -
cat rc.txt; tail -5 sweep_table.txt; grep -E "passed|failed|PASSED|FAILED" gpu_tests.txt | tail -10; grep -v Warn long_1024.txt | tail -6
