#!/bin/bash
# Fourteenth session (2026-12-04), call 5 (typed as one command line on the warm machine;
# kept here as the record): the Triton GPU tests that run the OPM forward kernel, on 6c034fb.
mkdir -p $OUT/c5 && export PYTHONPATH=. && nvidia-smi --query-gpu=name,uuid --format=csv,noheader > $OUT/c5/gpu.txt && timeout 200 python3 -m pytest -q -rs -p no:cacheprovider --durations=0 tests/test_triton_kernels.py -k "test_gpu_bf16 or compiled_and_graphed or gpu_opm" > $OUT/c5/gpu_tests.txt 2>&1; echo "rc=$?" >> $OUT/c5/gpu_tests.txt; tail -15 $OUT/c5/gpu_tests.txt
