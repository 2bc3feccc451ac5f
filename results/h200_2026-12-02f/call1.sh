#!/bin/bash
# Device call 1 (fifth session of 2026-12-02): --triton-kernels. The gating alone
# (probe_gating.py), then the fastest path with and without it at small and medium
# in one sweep, then the GPU tests of tests/test_triton_kernels.py.
set -u
D=$OUT/call1; mkdir -p $D
export PYTHONPATH=.
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $D/gpu.txt
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
timeout 150 python3 results/h200_2026-12-02f/probe_gating.py $D/probe_gating.json > $D/probe_gating.txt 2>&1
echo "probe rc=$?" >> $D/rc.txt
P=flex+fused+compile+graphs+flat
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=30 SWEEP_GRACE_S=40 timeout 330 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 230 \
    s_flat=small:$P s_triton=small:$T m_flat=medium:$P m_triton=medium:$T > $D/sweep_table.txt 2>&1
echo "sweep rc=$?" >> $D/rc.txt
timeout 140 python3 -m pytest -q -rA -p no:cacheprovider tests/test_triton_kernels.py -k gpu > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/call1.tar.gz *.txt *.json 2>/dev/null
cat rc.txt probe_gating.txt; tail -8 sweep_table.txt; grep -E "passed|failed|PASSED|FAILED|Error" gpu_tests.txt | tail -14
