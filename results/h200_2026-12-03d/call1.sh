#!/bin/bash
# Device call 1 of 2026-12-03d: clock_probe.py at small (default compile threads, then
# 2 compile threads as the sweep uses), then at medium, with nvidia-smi sampling the
# clocks every 100 ms throughout.
set -u
D=$OUT/p1; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version,clocks.max.sm,clocks.max.mem,clocks.applications.graphics,power.limit --format=csv > $D/gpu.txt
nvidia-smi -q -d PERFORMANCE,CLOCK >> $D/gpu.txt 2>&1
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu,pstate \
    --format=csv -lms 100 > $D/smi.csv 2>&1 &
SMI=$!
T0=$(date +%s)
timeout 200 python3 results/h200_2026-12-03d/clock_probe.py small > $D/probe_small.txt 2>&1
echo "small rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
TORCHINDUCTOR_COMPILE_THREADS=2 timeout 150 python3 results/h200_2026-12-03d/clock_probe.py small > $D/probe_small_ct2.txt 2>&1
echo "small ct2 rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
LEFT=$(( 560 - ($(date +%s) - T0) ))
timeout $LEFT python3 results/h200_2026-12-03d/clock_probe.py medium > $D/probe_medium.txt 2>&1
echo "medium rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
kill $SMI
cd $D && tar czf $OUT/p1.tar.gz *.txt *.csv
cat summary.txt; grep -v Warning probe_small.txt | tail -16; grep -v Warning probe_small_ct2.txt | tail -6; tail -6 probe_medium.txt
