#!/bin/bash
# Twenty-first session (2026-12-06), prepared in the seventeenth as results/h200_2026-12-05/call17.sh: Inductor's max_autotune on the fastest path at
# small, alone, with time to finish compiling (call 14 killed it after 6 minutes beside three
# other compiles). Two processes, without and with it: the sweep compiles them side by side, then
# times each alone once both are ready (or the deadline has passed). Medium is left out: its
# compile would not fit one call.
set -u
D=$OUT/c1; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=40 SWEEP_GRACE_S=30 timeout 560 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 500 \
    s_C=small:$C s_Cat=small:$C:autotune > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c1.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -3
grep -h -A7 "^== " sweep_logs.txt | cut -c1-120
