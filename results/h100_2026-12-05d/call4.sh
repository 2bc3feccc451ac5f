#!/bin/bash
# Twentieth session (2026-12-05), call 4, on an H100: (1) each component of the fastest path's
# model code (flex+fused+triton) at medium, compiled alone, forward + backward, bf16, timed by its
# kernels, against a roofline of this card's measured matmul rate and copy bandwidth
# (results/h200_2026-12-02b/components.py; the H200's table of the sdpa+fused path is there);
# (2) the medium preset's paths against the reference in one --benchmark process, as far as
# the call's time allows (the benchmark writes its JSON after every row).
set -u
D=$OUT/c4; mkdir -p $D
export PYTHONPATH=.:results/h200_2026-12-02b
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 220 python3 results/h200_2026-12-02b/components.py $D/comp_medium medium flex+fused+triton > $D/components_medium.txt 2>&1
echo "components medium rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cp $D/comp_medium/components.json $D/components_medium.json 2>/dev/null
LEFT=$(( 560 - ($(date +%s) - T0) ))
timeout $LEFT python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets medium \
    --benchmark-paths reference,sdpa,sdpa+compile+graphs,flex+fused+triton+compile+graphs+flat+castonce \
    --profile-dir $D/medium > $D/medium.txt 2>&1
echo "medium benchmark rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cp $D/medium/benchmark.json $D/medium/benchmark.md $D/ 2>/dev/null
cd $D && tar czf $OUT/c4.tar.gz *.txt *.json *.md 2>/dev/null
cat summary.txt gpu.txt; tail -16 components_medium.txt; cat benchmark.md 2>/dev/null || tail -8 medium.txt
