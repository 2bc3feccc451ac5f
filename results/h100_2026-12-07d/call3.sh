#!/bin/bash
# Thirty-first session: the GPU tests of the new --max-autotune flag and of --weight-grad-stream,
# whose graph is now captured on a high-priority stream (CudaGraphStep.capture_stream).
set -u
D=$OUT/c3; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
cd tests
PYTHONPATH=.. timeout ${CALL2_A:-230} python3 -m pytest -q test_max_autotune.py -k gpu -p no:logging > $D/gpu_tests_autotune.txt 2>&1
echo "autotune gpu test rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
PYTHONPATH=.. timeout ${CALL2_B:-140} python3 -m pytest -q test_weight_grad_stream.py -k gpu -p no:logging > $D/gpu_tests_wgstream.txt 2>&1
echo "wgstream gpu tests rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat summary.txt gpu.txt; tail -n 2 gpu_tests_autotune.txt gpu_tests_wgstream.txt
