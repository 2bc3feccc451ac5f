#!/bin/bash
# Device call 4: every GPU test of tests/test_fast_paths.py at the session's final code,
# and a user's run of the script on the fastest path with --flat-optimizer (default
# preset, 300 steps), at the same time.
set -u
D=$OUT/call4; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null
(timeout 300 python3 tiny_openfold_v1.py --use-amp --attention flex --fuse-projections --compile --cuda-graphs \
    --flat-optimizer --num-steps 300 --log-every 50 --checkpoint-dir /tmp/ckpt --profile-dir /tmp/prof \
    > $D/train_flat.log 2>&1; echo "train rc=$?" >> $D/rc.txt; cp /tmp/prof/performance_summary.json $D/ 2>/dev/null) &
timeout 430 python3 -m pytest -v -rA -p no:logging tests/test_fast_paths.py -k gpu > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
wait
cd $D && tar czf $OUT/call4.tar.gz *.txt *.log *.json 2>/dev/null
cat rc.txt; grep -E "^(PASSED|FAILED|ERROR)|passed|failed" gpu_tests.txt | tail -25; tail -15 train_flat.log
