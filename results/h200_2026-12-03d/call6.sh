#!/bin/bash
# Prepared in the eleventh session, run in the twelfth (2026-12-03, call6/; about 7 minutes):
# which part of the setup takes the fast state of calls 3 and 4? clock_probe.py at small,
# one process per variant, 3 rounds each: another process works on the GPU only while
# this one compiles (compile), only from its graph capture to its first replays
# (capture), only during its first replays (upload); this process's own side-stream work
# during its first replays (selfbusy); a second capture in the same process (recapture);
# no helper at all (alone, the control); and alone
# with CUDA_MODULE_LOADING=EAGER (eagerload; PyTorch's default is LAZY).
# If selfbusy is fast, CudaGraphStep could take the state by itself: measure that as a
# --benchmark path before making it the default.
set -u
D=$OUT/p6; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
for v in compile capture upload selfbusy recapture alone eagerload; do
    H=$v; [ $v = alone ] || [ $v = eagerload ] && H=
    L=LAZY; [ $v = eagerload ] && L=EAGER  # eagerload: CUDA loads every module at start, not on first use
    CUDA_MODULE_LOADING=$L PROBE_HELPER=$H PROBE_ROUNDS=3 timeout 200 \
        python3 results/h200_2026-12-03d/clock_probe.py small > $D/probe_$v.txt 2>&1
    echo "$v rc=$? at $(( $(date +%s) - T0 )) s: $(grep 'median of round' $D/probe_$v.txt)" >> $D/summary.txt
done
cd $D && tar czf $OUT/p6.tar.gz *.txt
cat summary.txt
