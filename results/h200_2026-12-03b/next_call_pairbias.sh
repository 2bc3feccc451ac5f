#!/bin/bash
# Prepared for the next device session, NOT yet run (about 6 minutes): the pair-bias
# projections of Alg. 7, 13 and 14 as sums over c_z under compile, two forms, against
# the width-4 matrix products (results/h200_2026-12-03b/README.md, call 5: the first
# form saved 68 kernels and 0.29 ms of GEMMs but its reduction kernel cost 0.40 ms).
# Also cuBLASLt for every product (blaslt) and no bf16 reductions in bf16 GEMMs
# (nobf16red): do they change the 81 (small) and 161 (medium) split-K reduce kernels?
# And Inductor's multi_kernel (each reduction persistent or looped, chosen by timing).
# Compare kernel ms and kernel counts (step times of sweep processes can differ by
# 0.5 ms for no reason found, call 1). If pbheads beats base in kernel time at both
# sizes, build it into --fuse-projections with a test, and time it with --benchmark.
set -u
D=$OUT/pb; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=uuid --format=csv,noheader > $D/gpu.txt
# First, alone on the GPU: graph_gap.py (fixed since call 2; two graphs a process) six
# times, each its own process: does a graph of 1,400 tiny kernels also idle between them
# in some processes and not in others (the 0.5 ms of call 1)? About 30 s.
for i in 1 2 3 4 5 6; do python3 results/h200_2026-12-03b/graph_gap.py >> $D/graph_gap.jsonl 2>> $D/graph_gap_err.txt; done
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=30 SWEEP_GRACE_S=40 timeout 330 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 270 \
    s_base=small:$T s_heads=small:$T:pbheads s_reduce=small:$T:pbreduce s_lt=small:$T:blaslt \
    s_nored=small:$T:nobf16red s_mk=small:$T:multikernel \
    m_base=medium:$T m_heads=medium:$T:pbheads m_lt=medium:$T:blaslt \
    > $D/sweep_table.txt 2>&1
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null
tar czf $OUT/pb.tar.gz *.txt *.jsonl 2>/dev/null
tail -10 sweep_table.txt; cut -c1-60 graph_gap.jsonl
