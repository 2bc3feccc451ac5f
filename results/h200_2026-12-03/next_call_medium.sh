#!/bin/bash
# Prepared for the next device session, NOT yet run: the medium size in one process, as a
# user runs it. Every medium row in the README was timed by the sweep, with other
# processes on the GPU (results/h200_2026-12-03). --benchmark itself, the reference and the
# fastest path, then the fastest path's kernel time in a process of its own; about 5 minutes.
set -u
D=$OUT/medium; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=uuid,driver_version --format=csv,noheader > $D/gpu.txt
T=flex+fused+triton+compile+graphs+flat
timeout 330 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets medium \
    --benchmark-paths reference,$T --profile-dir $D/bench > $D/benchmark_medium.txt 2>&1
cp $D/bench/benchmark.json $D/benchmark_medium.json
timeout 200 python3 results/h200_2026-12-01/profile_kernels.py medium 128 $T 5 > $D/kernels_medium.txt 2>&1
cd $D && tar czf $OUT/medium.tar.gz *.txt *.json 2>/dev/null
tail -4 benchmark_medium.txt; head -12 kernels_medium.txt
