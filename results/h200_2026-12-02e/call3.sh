#!/bin/bash
# Device call 3: on the flat path, the fused a/b projections of Alg. 11/12 as one product
# per protein (sweep option bmm) and Inductor's coordinate-descent tuning of its
# kernels' block sizes (coord), against the flat path, in one run.
set -u
D=$OUT/call3; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null
P=flex+fused+compile+graphs+flat
SWEEP_TOP=25 SWEEP_GRACE_S=60 timeout 420 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 250 \
    s_flat=small:$P s_bmm=small:$P:bmm s_coord=small:$P:coord s_bmm_coord=small:$P:bmm+coord \
    m_flat=medium:$P m_bmm=medium:$P:bmm m_coord=medium:$P:coord \
    > $D/sweep_table.txt 2>&1
echo "sweep rc=$?" >> $D/rc.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/call3.tar.gz *.txt *.json 2>/dev/null
cat rc.txt; tail -9 sweep_table.txt
