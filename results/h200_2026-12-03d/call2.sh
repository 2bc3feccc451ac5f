#!/bin/bash
# Device call 2 of 2026-12-03d: two sweep processes of the fastest path at small (fresh
# Inductor cache, compiling at once, as in the sweeps whose processes ran fast), then
# clock_probe.py in a third process that loads the kernels those compiled (warm cache);
# each writes a Chrome trace of 5 profiled steps, to compare the gaps between kernels.
set -u
D=$OUT/p2; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T=flex+fused+triton+compile+graphs+flat
T0=$(date +%s)
SWEEP_TRACE=1 SWEEP_GRACE_S=30 timeout 260 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 200 \
    s1=small:$T s2=small:$T > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
PROBE_TRACE=$D/probe.trace.json timeout 150 python3 results/h200_2026-12-03d/clock_probe.py small > $D/probe_small.txt 2>&1
echo "probe rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.trace.json . 2>/dev/null
tar czf $OUT/p2.tar.gz *.txt *.json
cat summary.txt sweep_table.txt | grep -v Warn; grep -v Warn probe_small.txt | grep -v "^ " | head -20
