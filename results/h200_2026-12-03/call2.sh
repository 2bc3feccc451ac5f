#!/bin/bash
# Device call 2: where the 0.47 ms between the fast path's kernels (5.34 ms) and its step
# (5.81 ms) in call 1 goes: windows after the first, the host's enqueue time, and the
# sweep's TORCHINDUCTOR_COMPILE_THREADS=2; then the compiled/graphed GPU tests, given time.
set -u
D=$OUT/call2; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
timeout 100 python3 results/h200_2026-12-03/bench_gap.py > $D/gap_alone.txt 2>&1
echo "gap_alone rc=$?" >> $D/rc.txt
TORCHINDUCTOR_COMPILE_THREADS=2 timeout 200 python3 results/h200_2026-12-03/bench_gap.py > $D/gap_threads2.txt 2>&1
echo "gap_threads2 rc=$?" >> $D/rc.txt
timeout 270 python3 -m pytest -q -rA -p no:cacheprovider tests/test_fast_paths.py -k "gpu and compiled" > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
cd $D && tar czf $OUT/call2.tar.gz *.txt 2>/dev/null
cat rc.txt; tail -1 gap_alone.txt; tail -1 gap_threads2.txt; grep -E "passed|failed|PASSED|FAILED|Error" gpu_tests.txt | tail -12
