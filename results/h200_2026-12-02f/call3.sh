#!/bin/bash
# Device call 3 (fifth session of 2026-12-02): every GPU test of tests/test_triton_kernels.py
# after the review fixes (with the new one of offsets past 2^31); the time to generate a
# sample on this machine's cores after the 2x faster generator; and the 300-step run of the
# fastest path with the default data workers again.
set -u
D=$OUT/call3; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
timeout 200 python3 -m pytest -q -rA -p no:cacheprovider tests/test_triton_kernels.py -k gpu > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
python3 - > $D/sample_time.txt 2>&1 <<'PY'
import time, tiny_openfold_v1 as t
for name, n, s in (("small", 64, 16), ("medium", 128, 32)):
    ds = t.SyntheticProteinDataset(1000, n, s, seed=0)
    ds[0]
    start = time.perf_counter(); k = 60 if name == "small" else 20
    for i in range(1, k + 1):
        ds[i]
    print(f"{name}: {1e3 * (time.perf_counter() - start) / k:.1f} ms a sample on one core ({k} samples)")
PY
F="--use-amp --attention flex --fuse-projections --triton-kernels --compile --cuda-graphs --flat-optimizer"
timeout 200 python3 tiny_openfold_v1.py --num-steps 300 $F --profile-dir $D/fast --checkpoint-dir /tmp/ck_fast \
    > $D/train_fast_default_workers.log 2>&1
echo "train rc=$?" >> $D/rc.txt
cp $D/fast/performance_summary.json $D/fast_summary.json 2>/dev/null
cat $D/rc.txt $D/sample_time.txt; grep -E "passed|failed|PASSED|FAILED|Error" $D/gpu_tests.txt | tail -14
grep -E "Step +(100|200|290)|Average training|held-out|Data workers|workers" $D/train_fast_default_workers.log | tail -6
