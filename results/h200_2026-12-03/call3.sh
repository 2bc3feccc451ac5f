#!/bin/bash
# Device call 3: does the sweep still time the fastest small path at kernel speed on this
# machine today (it did at 5.24 ms on 2026-12-02g)? The same step in bench_gap.py after it
# (warm Inductor cache), with a step timed alone; then the one compiled GPU test that
# ran out of time in calls 1 and 2, with a stack dump if it hangs.
set -u
D=$OUT/call3; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=8 SWEEP_GRACE_S=30 timeout 200 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 150 s=small:$T > $D/sweep_table.txt 2>&1
echo "sweep rc=$?" >> $D/rc.txt
timeout 80 python3 results/h200_2026-12-03/bench_gap.py > $D/gap_alone.txt 2>&1
echo "gap_alone rc=$?" >> $D/rc.txt
timeout 200 python3 -m pytest -q -rA -p no:cacheprovider -o faulthandler_timeout=150 --durations=0 \
    "tests/test_fast_paths.py::test_gpu_compiled_and_graphed_steps_train_like_eager[attention=flex+compile=True+chunk_size=8]" > $D/gpu_test_chunk.txt 2>&1
echo "test rc=$?" >> $D/rc.txt
cd $D && cat sweep/*.log > sweep_log.txt 2>/dev/null
tar czf $OUT/call3.tar.gz *.txt 2>/dev/null
cat rc.txt; tail -3 sweep_table.txt; tail -1 gap_alone.txt; tail -5 gpu_test_chunk.txt
