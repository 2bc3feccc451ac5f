#!/bin/bash
# Device call 1: --flat-optimizer against the fused AdamW over every tensor, in one run;
# its GPU tests and those of compiled flex with chunks or checkpoints; which operators
# launch the step's aten (non-Triton, non-GEMM) kernels.
set -u
D=$OUT/call1; mkdir -p $D
export PYTHONPATH=.
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $D/gpu.txt
git rev-parse HEAD > $D/commit.txt 2>/dev/null
SWEEP_TOP=60 SWEEP_GRACE_S=30 timeout 300 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 230 \
    s_flex=small:flex+fused+compile+graphs s_flex_flat=small:flex+fused+compile+graphs+flat \
    m_flex=medium:flex+fused+compile+graphs m_flex_flat=medium:flex+fused+compile+graphs+flat \
    > $D/sweep_table.txt 2>&1
echo "sweep rc=$?" >> $D/rc.txt
(timeout 200 python3 results/h200_2026-12-02d/kernel_sources.py medium flex+fused+compile > $D/sources_medium.txt 2>&1;
 echo "sources rc=$?" >> $D/rc.txt) &
timeout 220 python3 -m pytest -q -rA tests/test_fast_paths.py -k "gpu and (flat or (compiled_and_graphed and flex))" \
    > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
wait
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; find . -name '*.json' -o -name '*.txt' | tar czf $OUT/call1.tar.gz -T -
cat rc.txt; cat sweep_table.txt | tail -6; grep -E "passed|failed|PASSED|FAILED" gpu_tests.txt | tail -12; head -30 sources_medium.txt | cut -c1-250
