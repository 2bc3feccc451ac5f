#!/bin/bash
# Prepared in the twenty-eighth session (2026-12-07), not run: Inductor's max_autotune at the
# default size again, now that inductor_sweep.py pings before timing. In the twenty-first
# session (../h100_2026-12-06, call 1) it cut the small step's kernel time by 0.16 ms (5.18
# against 5.34 ms) but its process left 0.39 ms between kernels: its compile took 331 s
# against 72 s, so its graph was captured last, the slow replay mode of call 3 here. If
# the ping closes that gap, the autotuned step is about 0.15 ms shorter (3 %). Setup takes
# about 330 s (autotuning), so this is one call of its own: about 420 s.
set -u
D=$OUT/c17; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=40 SWEEP_GRACE_S=40 timeout ${CALL17_LIMIT:-520} python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 440 \
    s_C=small:$C s_Cat=small:$C:autotune > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c17.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 3
