#!/bin/bash
# Device call 6 of 2026-12-03c: --pdl (programmatic dependent launch, the flag made in
# this session) against the same path without it, in ONE --benchmark process at the
# small size, the path without it also last (order check); then the GPU test that --pdl
# trains like the compiled step and emits gdc_wait.
set -u
D=$OUT/c6; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
timeout 300 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets small \
    --benchmark-paths $T,$T+pdl,$T --profile-dir $D/small > $D/small.txt 2>&1
echo "small rc=$? wall_s=$(( $(date +%s) - T0 ))" >> $D/summary.txt
cp $D/small/benchmark.json $D/small.json 2>/dev/null
T1=$(date +%s); LEFT=$(( 420 - (T1 - T0) ))
if [ $LEFT -gt 40 ]; then
    timeout $LEFT python3 -m pytest -q -rs tests/test_fast_paths.py -k "gpu_pdl" > $D/pytest.txt 2>&1
    echo "pytest rc=$? wall_s=$(( $(date +%s) - T1 ))" >> $D/summary.txt
fi
cat $D/summary.txt; grep -E "^(preset|small) " $D/small.txt; tail -3 $D/pytest.txt
cd $D && tar czf $OUT/c6.tar.gz *.txt *.json 2>/dev/null
