#!/bin/bash
# Device call 4: --compile's optimizer step compiled (clip_and_step, foreach AdamW) against
# the fused AdamW kernel, small and medium, with the reference in the same run; the GPU tests.
set -u
D=$OUT/call4; mkdir -p $D
export PYTHONPATH=.
SWEEP_GRACE_S=40 timeout 340 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 250 \
    s_ref=small:reference s_step=small:sdpa+fused+compile+graphs s_fusedadam=small:sdpa+fused+compile+graphs:fusedadam \
    m_ref=medium:reference m_step=medium:sdpa+fused+compile+graphs m_fusedadam=medium:sdpa+fused+compile+graphs:fusedadam \
    > $D/sweep_table.txt 2>&1
echo "sweep rc=$?" >> $D/rc.txt
timeout 180 python3 -m pytest -q -rA tests/test_fast_paths.py -k gpu > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
cd $D && cat sweep/*.log > sweep_logs.txt; find . -name '*.json' -o -name '*.txt' | tar czf $OUT/call4.tar.gz -T -
cat rc.txt; tail -7 sweep_table.txt; tail -2 gpu_tests.txt
