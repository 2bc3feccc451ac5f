#!/bin/bash
# Prepared in the thirty-second session, not run: --max-autotune at medium, where call 5's
# autotuning ran past one call. Two calls on one machine kept warm (launch the second at
# once: a machine is held only 30 s after a call):
#   bash results/h100_2026-12-07d/call7.sh fill   # the autotuned path alone fills Inductor's cache
#   bash results/h100_2026-12-07d/call7.sh time   # the --benchmark table, autotuning read from the cache
# The first writes what it timed too, if it finishes; the second is the table to cite.
set -u
STAGE=${1:?fill or time}
D=$OUT/c7_$STAGE; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
if [ "$STAGE" = fill ]; then PATHS=$C+autotune; STEPS=5; else PATHS=reference,$C,$C+autotune,$C+wgstream+autotune; STEPS=20; fi
timeout ${CALL7_LIMIT:-570} python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets medium \
    --benchmark-paths $PATHS --benchmark-steps $STEPS --profile-dir $D/medium > $D/medium.log 2>&1
echo "$STAGE rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && grep -c "^AUTOTUNE" medium.log >> summary.txt
cat summary.txt gpu.txt; tail -n 6 medium/benchmark.md 2>/dev/null || tail -n 5 medium.log
