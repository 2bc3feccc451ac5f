#!/bin/bash
# Twenty-fourth session (2026-12-06): LN_LINEAR_KERNELS on by default, on the MSA side
# only (after calls 10 and 12): the whole-model --triton-kernels GPU tests, bf16 eager
# against the reference and compiled/graphed against eager, now with ln_linear inside.
set -u
D=$OUT/c13; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout ${CALL13_LIMIT:-230} python3 -m pytest -q -rf tests/test_triton_kernels.py \
    -k "gpu_bf16_triton_path or gpu_compiled_and_graphed_triton" > $D/tests_steps.txt 2>&1
echo "tests rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cat $D/summary.txt $D/gpu.txt; grep -v Warn $D/tests_steps.txt | tail -n 15
