#!/bin/bash
# Device call 2: small and medium, the reference, the sdpa fast path and the same path with
# --attention flex, in one run (each timed alone); then the GPU tests of the flex path.
set -u
D=$OUT/call2; mkdir -p $D
export PYTHONPATH=.
SWEEP_GRACE_S=40 timeout 330 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 240 \
    s_ref=small:reference s_sdpa=small:sdpa+fused+compile+graphs s_flex=small:flex+fused+compile+graphs \
    m_ref=medium:reference m_sdpa=medium:sdpa+fused+compile+graphs m_flex=medium:flex+fused+compile+graphs \
    > $D/sweep_table.txt 2>&1
echo "sweep rc=$?" >> $D/rc.txt
timeout 220 python3 -m pytest -q -rA tests/test_fast_paths.py -k "gpu and flex" > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; find . -name '*.json' -o -name '*.txt' | tar czf $OUT/call2.tar.gz -T -
cat rc.txt; tail -8 sweep_table.txt; grep -E "passed|failed|PASSED|FAILED|Error" gpu_tests.txt | tail -15
