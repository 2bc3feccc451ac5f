#!/bin/bash
# Prepared in the fifteenth session (2026-12-04) for the next device session, NOT yet run
# (about 6 minutes). T against T+bf16w at small and medium (results/h200_2026-12-04b/
# bf16_weights.py: the nn.Linear parameters as one bf16 copy a step, split outside the
# compiled graph, so the forward has no per-weight casts and backward no per-gradient casts
# back; on the CPU, 930 -> 591 Inductor kernels at tiny), then bf16_weights.py's checks on
# the GPU (eager bf16 loss and gradients against the plain flat path).
# Productise (a flag, tests, docs) only if the kernel time drops at both sizes.
set -u
D=$OUT/c10; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=40 SWEEP_GRACE_S=60 timeout 360 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 270 \
    s_T=small:$T s_bf16w=small:$T:bf16w m_T=medium:$T m_bf16w=medium:$T:bf16w > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null; cd - > /dev/null
timeout 150 python3 results/h200_2026-12-04b/bf16_weights.py cuda > $D/check_cuda.txt 2>&1
echo "check rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && tar czf $OUT/c10.tar.gz *.txt *.json 2>/dev/null
cat summary.txt; grep -v Warn sweep_table.txt | tail -5; tail -4 check_cuda.txt
grep -h "^== \|_to_copy_[0-9]*$\|CatArray" sweep_logs.txt | cut -c1-110
