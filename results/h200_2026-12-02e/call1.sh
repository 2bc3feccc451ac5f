#!/bin/bash
# Device call 1 (fourth session of 2026-12-02): --flat-optimizer against the fused AdamW
# over every tensor, and Inductor's mix-order LayerNorm-backward reductions (split 16,
# 64, 128, off) and programmatic dependent launch on the flat path, in one run; then
# the GPU tests of --flat-optimizer.
set -u
D=$OUT/call1; mkdir -p $D
export PYTHONPATH=.
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $D/gpu.txt
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
P=flex+fused+compile+graphs
SWEEP_TOP=40 SWEEP_GRACE_S=40 timeout 380 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 250 \
    s_noflat=small:$P s_flat=small:$P+flat s_mix64=small:$P+flat:mix64 s_mix128=small:$P+flat:mix128 \
    s_nomix=small:$P+flat:nomix s_pdl=small:$P+flat:pdl \
    m_noflat=medium:$P m_flat=medium:$P+flat m_mix128=medium:$P+flat:mix128 m_nomix=medium:$P+flat:nomix \
    > $D/sweep_table.txt 2>&1
echo "sweep rc=$?" >> $D/rc.txt
timeout 170 python3 -m pytest -q -rA tests/test_fast_paths.py -k "gpu and flat" > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/call1.tar.gz *.txt *.json 2>/dev/null
cat rc.txt; cat sweep_table.txt | tail -12; grep -E "passed|failed|PASSED|FAILED|Error" gpu_tests.txt | tail -12
