#!/bin/bash
# Prepared for the next device session, NOT yet run: separate "a second process on the
# GPU" from "the machine" (results/h200_2026-12-03/README.md). All on one machine, in one
# call (about 6 minutes with a cold Inductor cache):
#   a) the sweep with the fastest small path alone (one process);
#   b) the sweep with it twice (two processes, as call 5);
#   c) --benchmark with the same path, alone;
#   d) --benchmark with the same path beside a process that only holds a CUDA context.
# If d) matches b), an idle context on the GPU changes how the replayed graph runs.
set -u
D=$OUT/next; mkdir -p $D/a $D/b
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
Q="nvidia-smi --query-gpu=uuid,driver_version,clocks.sm,power.draw,temperature.gpu --format=csv,noheader"
$Q > $D/gpu.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=4 SWEEP_GRACE_S=20 timeout 200 python3 results/h200_2026-12-02/inductor_sweep.py $D/a 150 s=small:$T > $D/a_table.txt 2>&1
SWEEP_TOP=4 SWEEP_GRACE_S=20 timeout 150 python3 results/h200_2026-12-02/inductor_sweep.py $D/b 100 s1=small:$T s2=small:$T > $D/b_table.txt 2>&1
timeout 100 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets small --benchmark-paths $T \
    --profile-dir $D/c > $D/c_benchmark.txt 2>&1
python3 -c "import torch, time; torch.zeros(1, device='cuda'); time.sleep(150)" &
IDLE=$!
sleep 5
timeout 100 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets small --benchmark-paths $T \
    --profile-dir $D/d > $D/d_benchmark.txt 2>&1
kill $IDLE
$Q >> $D/gpu.txt
cd $D && cat a/*.log b/*.log > sweep_logs.txt 2>/dev/null
tar czf $OUT/next.tar.gz *.txt 2>/dev/null
tail -2 a_table.txt; tail -2 b_table.txt; tail -2 c_benchmark.txt; tail -2 d_benchmark.txt
