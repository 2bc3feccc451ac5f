#!/bin/bash
# Fourteenth session (2026-12-04), call 1: opm_bench.py (the outer-product-mean kernels'
# tiles, splits and TRANS against the einsum path, eager and compiled; small and medium shapes).
set -u
D=$OUT/c1; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 480 python3 results/h200_2026-12-04/opm_bench.py $D/opm_bench.json > $D/opm_bench.txt 2>&1
echo "opm_bench rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && tar czf $OUT/c1.tar.gz *.txt *.json
cat summary.txt; grep -v Warn opm_bench.txt | tail -12
