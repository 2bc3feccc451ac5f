#!/bin/bash
# Device call 4 of 2026-12-03b (as run, one command line): the medium size in one process,
# --benchmark itself with the reference and the fastest path. Every earlier medium row of
# the fastest path was a sweep row (results/h200_2026-12-03/README.md).
D=$OUT/medium; mkdir -p $D; export PYTHONPATH=.; nvidia-smi --query-gpu=uuid --format=csv,noheader > $D/gpu.txt; git rev-parse HEAD > $D/commit.txt; timeout 380 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets medium --benchmark-paths reference,flex+fused+triton+compile+graphs+flat --profile-dir $D/bench > $D/benchmark_medium.txt 2>&1; cp $D/bench/benchmark.json $D/benchmark_medium.json; tail -5 $D/benchmark_medium.txt
