#!/bin/bash
# Prepared in the twelfth session (2026-12-03) for the next device session, NOT yet run
# (about 9 minutes): --flat-weights measured. (1) A sweep of T against T+flatw at small
# and medium (kernels a step, kernel time; the processes compile side by side, so all
# are in the fast state of calls 3-9); (2) the GPU tests of the flat paths;
# (3) one --benchmark process with --peer-ping of both paths at small (the ratio
# measured in one run). Keep --flat-weights' numbers in the README only if (1) shows
# less kernel time than T at both sizes and (2) passes.
set -u
D=$OUT/p12; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=40 SWEEP_GRACE_S=60 timeout 330 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 240 \
    s_T=small:$T s_flatw=small:$T+flatw m_T=medium:$T m_flatw=medium:$T+flatw > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
timeout 100 python3 -m pytest -q -rs -p no:cacheprovider tests/test_fast_paths.py -k "flat" > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
timeout 120 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small \
    --benchmark-paths $T,$T+flatw --profile-dir $D/bench > $D/bench.txt 2>&1
echo "benchmark rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cp $D/bench/benchmark.md $D/bench/benchmark.json $D/ 2>/dev/null
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; tar czf $OUT/p12.tar.gz *.txt *.md *.json
cat summary.txt; grep -v Warn sweep_table.txt | tail -5; tail -2 gpu_tests.txt; cat benchmark.md
