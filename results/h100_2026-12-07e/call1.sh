#!/bin/bash
# Thirty-third session (2026-12-07): the README's first default-size Results table again,
# at today's code (the capture priority of --weight-grad-stream included), in one
# --benchmark process with the default path list. --max-autotune's table (../h100_2026-12-07d,
# call 4) ran at 94fe4bd, whose step is today's: only a log line changed since.
set -u
D=$OUT/c1; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout ${CALL1_LIMIT:-560} python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small \
    --profile-dir $D/small > $D/small.log 2>&1
echo "small rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat summary.txt gpu.txt; tail -n 10 small/benchmark.md
