#!/bin/bash
# Device call 2: the triangle-multiplication probe with TriangleProduct (a6030d3) against
# einsum, and small/medium sweeps of the fused path with and without it, plus the reference.
set -u
D=$OUT/call2; mkdir -p $D
export PYTHONPATH=.
git log -1 --format=%h > $D/commit.txt 2>/dev/null || true
timeout 150 python3 results/h200_2026-12-02b/probe_trimul.py $D/probe cur einsum unf > $D/probe.txt 2>&1
echo "probe rc=$?" >> $D/rc.txt
SWEEP_GRACE_S=60 timeout 400 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 230 \
    s_ref=small:reference s_step=small:sdpa+fused+compile+graphs s_einsum=small:sdpa+fused+compile+graphs:einsum \
    m_ref=medium:reference m_step=medium:sdpa+fused+compile+graphs m_einsum=medium:sdpa+fused+compile+graphs:einsum \
    > $D/sweep_table.txt 2>&1
echo "sweep rc=$?" >> $D/rc.txt
cd $D && cat sweep/*.log > sweep_logs.txt; find . -name '*.json' -o -name '*.txt' -o -name '*.log' | tar czf $OUT/call2.tar.gz -T -
tail -12 $D/sweep_table.txt
