#!/bin/bash
# Device call 5: eager --attention flex past 8 shapes (call 4 failed there: the GPU test
# process had compiled FlexAttention for more than torch's 8 shapes), its GPU tests, and a
# user's eager flex run with proteins of varying length and chunks.
set -u
D=$OUT/call5; mkdir -p $D
export PYTHONPATH=.
(timeout 200 python3 tiny_openfold_v1.py --preset tiny --use-amp --attention flex --min-seq-len 20 \
    --chunk-size 16 --num-steps 40 --log-every 10 --checkpoint-dir /tmp/ckpt --profile-dir /tmp/prof \
    > $D/train_eager_flex.log 2>&1; echo "train rc=$?" >> $D/rc.txt) &
timeout 220 python3 -m pytest -v -rA -p no:logging tests/test_fast_paths.py \
    -k "more_than_eight or survives_checkpoint or (bf16 and flex)" > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
wait
cd $D && tar czf $OUT/call5.tar.gz *.txt *.log
cat rc.txt; grep -E "^(PASSED|FAILED|ERROR)|passed|failed" gpu_tests.txt | tail -12; tail -6 train_eager_flex.log
