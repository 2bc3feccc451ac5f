#!/bin/bash
# Twentieth session (2026-12-05), call 4, on the H100 of call 3: each component of the fastest
# path's model code (flex+fused+triton) compiled alone, forward + backward, bf16, timed by its
# kernels, against a roofline of this card's measured matmul rate and copy bandwidth
# (results/h200_2026-12-02b/components.py; the H200's table of the sdpa+fused path is there).
set -u
D=$OUT/c4; mkdir -p $D
export PYTHONPATH=.:results/h200_2026-12-02b
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 300 python3 results/h200_2026-12-02b/components.py $D/comp_medium medium flex+fused+triton > $D/components_medium.txt 2>&1
echo "medium rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
timeout 200 python3 results/h200_2026-12-02b/components.py $D/comp_small small flex+fused+triton > $D/components_small.txt 2>&1
echo "small rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cp $D/comp_medium/components.json $D/components_medium.json 2>/dev/null
cp $D/comp_small/components.json $D/components_small.json 2>/dev/null
cd $D && tar czf $OUT/c4.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; tail -16 components_medium.txt; tail -16 components_small.txt
