#!/bin/bash
# Device call 5: the 2026-12-02g sweep timed the fastest small path at 5.24 ms with five
# other sweep processes alive on the GPU (waiting for the lock); call 3's sweep, one
# process, timed 5.81. Two processes of the same path here: does another process's
# idle CUDA context change the time?
set -u
D=$OUT/call5; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=4 SWEEP_GRACE_S=20 timeout 230 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 170 \
    s1=small:$T s2=small:$T > $D/sweep_table.txt 2>&1
echo "sweep rc=$?" >> $D/rc.txt
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv > $D/gpu.txt
cd $D && cat sweep/*.log > sweep_log.txt 2>/dev/null
tar czf $OUT/call5.tar.gz *.txt 2>/dev/null
cat rc.txt; tail -3 sweep_table.txt
