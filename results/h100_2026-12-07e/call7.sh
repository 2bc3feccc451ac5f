#!/bin/bash
# Thirty-fourth session: the GPU tests of --pdl (tests/test_pdl.py) and of --weight-grad-stream
# after SIDE_BIAS_GRADS was removed, at the code that adds the flag.
set -u; D=$OUT/c7; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
cd tests && timeout ${CALL7_LIMIT:-170} python3 -m pytest -q -rs test_pdl.py test_weight_grad_stream.py -k "gpu" > $D/gpu_tests.txt 2>&1
echo "rc=$? $(date -u +%FT%TZ)" >> $D/gpu_tests.txt; cat $D/gpu.txt; tail -n 8 $D/gpu_tests.txt
