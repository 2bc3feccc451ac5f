#!/bin/bash
# Device call 1 (sixth session of 2026-12-02): the attentions module by module, and
# FlexAttention's bias gradient (probe_attention.py); the fastest path with the
# bias materialised per row, against the script's code, at small and medium (sweep).
# The probe holds the sweep's GPU lock, so the sweep times its steps only after it.
set -u
D=$OUT/call1; mkdir -p $D/sweep
export PYTHONPATH=.
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $D/gpu.txt
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=30 SWEEP_GRACE_S=60 timeout 560 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 300 \
    s_base=small:$T s_rowbias=small:$T:rowbias m_base=medium:$T m_rowbias=medium:$T:rowbias > $D/sweep_table.txt 2>&1 &
flock $D/sweep/gpu.lock timeout 330 python3 results/h200_2026-12-02g/probe_attention.py > $D/probe_attention.txt 2>&1
echo "probe rc=$?" >> $D/rc.txt
wait
echo "sweep done" >> $D/rc.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/call1.tar.gz *.txt *.json 2>/dev/null
cat rc.txt; tail -22 probe_attention.txt; cat sweep_table.txt | tail -6
