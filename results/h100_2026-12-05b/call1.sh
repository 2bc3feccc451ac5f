#!/bin/bash
# Eighteenth session (2026-12-05), call 1: streams_probe.py at small (1, 2 and 4 parts) and
# medium (1 and 2 parts) on the fastest path.
set -u
D=$OUT/c1; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
P=flex+fused+triton+compile+graphs+flat+castonce
T0=$(date +%s)
timeout 330 python3 results/h100_2026-12-05b/streams_probe.py small $P 1,2,4 240 > $D/small.txt 2>&1
echo "small rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
timeout $(( 575 - ($(date +%s) - T0) )) python3 results/h100_2026-12-05b/streams_probe.py medium $P 1,2 > $D/medium.txt 2>&1
echo "medium rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cat $D/gpu.txt $D/summary.txt; grep -v -i warn $D/small.txt | tail -6; grep -v -i warn $D/medium.txt | tail -5
