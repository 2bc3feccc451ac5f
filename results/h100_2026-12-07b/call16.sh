#!/bin/bash
# Twenty-eighth session (2026-12-07): call14.sh's two medium sweeps (m_off without ln_linear,
# m_on with it) again, now that inductor_sweep.py runs --peer-ping's helper before timing
# each process. If call14's 0.8 ms between m_off's step and its kernels was the replay
# mode (gaps of about 0.4 us between kernels, against 0.1 us in m_on), both steps now sit
# within about 0.15 ms of their kernel time. gap_histogram.py compares the two traces.
set -u
D=$OUT/c16; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TRACE=1 SWEEP_GRACE_S=30 timeout ${CALL16_LIMIT:-220} python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 170 \
    m_off=medium:$C:nolnlin m_on=medium:$C > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
python3 results/h100_2026-12-07b/gap_histogram.py $D/sweep/m_off.trace.json $D/sweep/m_on.trace.json 12 > $D/gaps.txt 2>&1
cd $D && cp sweep/*.json . 2>/dev/null; rm -f *.trace.json
tar czf $OUT/c16.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 3; cat gaps.txt
