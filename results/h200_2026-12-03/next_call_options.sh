#!/bin/bash
# Prepared for the next device session, NOT yet run: Inductor settings that cut launches
# (results/h200_2026-12-03: a single process idles 0.34 us between the replayed graph's
# 1,395 kernels at small). One sweep, all paths compiled at once and each timed alone
# while the others wait (the multi-process condition, the same for every row, so compare
# rows of this sweep with each other only); about 6 minutes with a cold cache.
set -u
D=$OUT/options; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=uuid,driver_version --format=csv,noheader > $D/gpu.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=20 SWEEP_GRACE_S=60 timeout 500 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 330 \
    s_base=small:$T s_aggr=small:$T:aggr s_nosplit=small:$T:nosplit s_big=small:$T:bigfuse \
    m_base=medium:$T m_aggr=medium:$T:aggr m_nosplit=medium:$T:nosplit > $D/sweep_table.txt 2>&1
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/options.tar.gz *.txt *.json 2>/dev/null
tail -9 sweep_table.txt
