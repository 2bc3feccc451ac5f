#!/bin/bash
# Twentieth session (2026-12-05), call 1, on an H100 (the card), the code of main at the
# commit it records: every GPU test (`pytest tests -k gpu`, in 6 xdist workers: the tests check
# results, not times), and beside them a 150-step bf16 training run of the reference path and one
# of the fastest path (flex+fused+triton+compile+graphs+flat+castonce), to compare loss curves.
# Nothing in this call is timed for a table: the processes share the card.
set -u
D=$OUT/c1; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version,memory.total --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
COMMON="--use-amp --num-steps 150 --log-every 25 --eval-samples 32 --num-workers 3"
timeout 500 python3 tiny_openfold_v1.py $COMMON --profile-dir $D/lc_ref > $D/loss_curve_reference.log 2>&1 &
timeout 500 python3 tiny_openfold_v1.py $COMMON --attention flex --fuse-projections --triton-kernels \
    --compile --cuda-graphs --flat-optimizer --cast-once --profile-dir $D/lc_fast > $D/loss_curve_fast.log 2>&1 &
timeout 540 python3 -m pytest -q -rs -p no:cacheprovider -n 6 --durations=0 tests -k gpu > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
wait
echo "loss curves done at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && find . -name '*.json' -o -name '*.txt' -o -name '*.log' | grep -v tfevents | tar czf $OUT/c1.tar.gz -T -
cat summary.txt gpu.txt; grep -E "passed|failed|FAILED|ERROR" gpu_tests.txt | tail -15
tail -4 loss_curve_reference.log loss_curve_fast.log
