#!/bin/bash
# Device call 3 of 2026-12-03c: the README's small-size table from one --benchmark
# command at one commit, one process: the reference and the fast paths in one run,
# so every speedup is a ratio of one run. Then the fastest path again in a process of
# its own with programmatic dependent launch (TORCHINDUCTOR_ENABLE_PDL=1).
set -u
D=$OUT/c3; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
PATHS=reference,sdpa,sdpa+compile,sdpa+compile+graphs,flex+fused+compile+graphs+flat,flex+fused+triton+compile+graphs+flat
timeout 420 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets small \
    --benchmark-paths $PATHS --profile-dir $D/small > $D/small.txt 2>&1
echo "small rc=$? wall_s=$(( $(date +%s) - T0 ))" >> $D/summary.txt
cp $D/small/benchmark.json $D/small.json 2>/dev/null
T1=$(date +%s); LEFT=$(( 570 - (T1 - T0) ))
if [ $LEFT -gt 60 ]; then
    TORCHINDUCTOR_ENABLE_PDL=1 timeout $LEFT python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets small \
        --benchmark-paths flex+fused+triton+compile+graphs+flat --profile-dir $D/small_pdl > $D/small_pdl.txt 2>&1
    echo "small_pdl rc=$? wall_s=$(( $(date +%s) - T1 ))" >> $D/summary.txt
    cp $D/small_pdl/benchmark.json $D/small_pdl.json 2>/dev/null
fi
cat $D/summary.txt; grep -E "^(preset|small) " $D/small.txt $D/small_pdl.txt
cd $D && tar czf $OUT/c3.tar.gz *.txt *.json 2>/dev/null
