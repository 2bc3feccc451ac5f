#!/bin/bash
# Device call 4: the GPU tests of the flex path (call 3's did not run: its lock file
# did not exist yet), then --benchmark itself at small: the reference and the fastest path.
set -u
D=$OUT/call4; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
timeout 230 python3 -m pytest -q -rA -p no:cacheprovider tests/test_fast_paths.py -k "gpu and (flex or bf16 or compiled)" > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
timeout 250 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets small \
    --benchmark-paths reference,flex+fused+triton+compile+graphs+flat --profile-dir $D/bench > $D/benchmark_small.txt 2>&1
echo "benchmark rc=$?" >> $D/rc.txt
cp $D/bench/benchmark.json $D/benchmark_small.json
cd $D && tar czf $OUT/call4.tar.gz *.txt *.json 2>/dev/null
cat rc.txt; grep -E "passed|failed|PASSED|FAILED|Error" gpu_tests.txt | tail -16; tail -6 benchmark_small.txt
