#!/bin/bash
# Twenty-fourth session (2026-12-06), prepared, not run: where the 0.9 ms of call 10's and
# call 12's medium step without ln_linear (m_new) went, outside its kernels. The same
# sweep as call 12's medium pair with Chrome traces of the profiled steps (SWEEP_TRACE=1):
# m_off (nolnlin: the default before b188f7a) and m_on (the default now). Open both
# traces in Perfetto and compare the GPU's idle gaps; trace_gaps.py lists them. About 200 s.
set -u
D=$OUT/c14; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TRACE=1 SWEEP_TOP=25 SWEEP_GRACE_S=30 timeout 280 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 200 \
    m_off=medium:$C:nolnlin m_on=medium:$C > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
for t in $D/sweep/*.trace.json; do python3 results/h100_2026-12-06c/trace_gaps.py $t 5 20; done > $D/gaps.txt 2>&1
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c14.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 4; cat gaps.txt
