#!/bin/bash
# Twelfth session, 2026-12-03: the README's one-process tables with the pair-bias padding
# (ba3ab65) at small and medium, then clock_probe.py's ping and pinglate variants: does a
# process that only creates a CUDA context and exits give this process the fast state?
set -u
D=$OUT/p8; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 330 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets small,medium \
    --benchmark-paths reference,flex+fused+triton+compile+graphs+flat --profile-dir $D/bench > $D/bench.txt 2>&1
echo "benchmark rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
for v in ping pinglate; do
    PROBE_HELPER=$v PROBE_ROUNDS=3 timeout 100 python3 results/h200_2026-12-03d/clock_probe.py small > $D/probe_$v.txt 2>&1
    echo "$v rc=$? at $(( $(date +%s) - T0 )) s: $(grep 'median of round' $D/probe_$v.txt)" >> $D/summary.txt
done
cp $D/bench/benchmark.md $D/bench/benchmark.json $D/ 2>/dev/null
cd $D && tar czf $OUT/p8.tar.gz *.txt *.md *.json
cat summary.txt; cat benchmark.md
