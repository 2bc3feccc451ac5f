#!/bin/bash
# Twenty-fourth session (2026-12-06): the GPU tests not yet run at the current code, one
# after another (no pytest-xdist on the device): call11_tests.txt is `pytest --collect-only
# -q tests -k gpu` less the 18 that call 8 ran and the operator tests that call 9 runs.
set -u
D=$OUT/c11; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
mapfile -t TESTS < results/h100_2026-12-06c/call11_tests.txt  # node ids hold spaces
T0=$(date +%s)
timeout ${CALL11_LIMIT:-540} python3 -m pytest -q -rf "${TESTS[@]}" > $D/tests_gpu.txt 2>&1
echo "tests rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cat $D/summary.txt $D/gpu.txt; grep -v Warn $D/tests_gpu.txt | tail -n 25
