#!/bin/bash
# Prepared in the twenty-fourth session (2026-12-06), not run: the README's small and medium
# Results tables at main's code (ln_linear on the MSA side in the triton rows), the same two
# --benchmark commands as call5.sh of ../h100_2026-12-06b. Run after call13.sh has passed. About 570 s.
set -u
D=$OUT/c15; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 330 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small \
    --benchmark-paths reference,sdpa,sdpa+compile,sdpa+compile+graphs,flex+fused+compile+graphs+flat,flex+fused+triton+compile+graphs+flat,flex+fused+triton+compile+graphs+flat+castonce \
    --profile-dir $D/small > $D/small.log 2>&1
echo "small rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
timeout 240 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets medium \
    --benchmark-paths reference,sdpa,sdpa+compile+graphs,flex+fused+triton+compile+graphs+flat+castonce \
    --profile-dir $D/medium > $D/medium.log 2>&1
echo "medium rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && tar czf $OUT/c15.tar.gz summary.txt commit.txt gpu.txt small/benchmark.* medium/benchmark.* 2>/dev/null
cat summary.txt gpu.txt; tail -9 small/benchmark.md medium/benchmark.md 2>/dev/null
