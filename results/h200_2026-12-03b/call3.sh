#!/bin/bash
# Prepared for the next device session, NOT yet run: Inductor settings that cut launches,
# or the time between them, at small (results/h200_2026-12-03: a single process idles
# 0.34 us between the replayed graph's 1,395 kernels). Earlier sessions measured pdl
# (programmatic dependent launch) in multi-process sweeps, where the step took no longer
# than its kernels, so there was no gap for it to hide; here each setting runs in a sweep
# of its own, one process on the GPU, one after another (about 100 s each, cold cache).
set -u
D=$OUT/options; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=uuid,driver_version --format=csv,noheader > $D/gpu.txt
T=flex+fused+triton+compile+graphs+flat
for opt in base pdl nosplit aggr; do
    spec=small:$T; [ $opt != base ] && spec=small:$T:$opt
    mkdir -p $D/$opt
    SWEEP_TOP=12 SWEEP_GRACE_S=20 timeout 140 python3 results/h200_2026-12-02/inductor_sweep.py $D/$opt 110 \
        s_$opt=$spec > $D/${opt}_table.txt 2>&1
    tail -1 $D/${opt}_table.txt
done
nvidia-smi --query-gpu=uuid --format=csv,noheader >> $D/gpu.txt
cd $D && cat */*.log > sweep_logs.txt 2>/dev/null; cp */*.json . 2>/dev/null
tar czf $OUT/options.tar.gz *.txt *.json 2>/dev/null
