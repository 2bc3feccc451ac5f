#!/bin/bash
# Prepared in the thirty-seventh session, not run: the GPU tests of --fold-layer-norms (the bf16
# fold with flex, fused projections and the Triton kernels against the reference; the fastest
# path's six graphed steps at the tiny preset with and without the flag). Up to 7 minutes on a
# fresh machine (each graphed path compiles twice).
set -u; D=$OUT/c6; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
(cd tests && timeout ${CALL6_LIMIT:-420} python3 -m pytest -q -rs test_fold_layer_norms.py -k gpu > $D/gpu_tests.txt 2>&1)
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cat $D/summary.txt $D/gpu.txt; tail -n 5 $D/gpu_tests.txt
