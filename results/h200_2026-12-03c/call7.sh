#!/bin/bash
# Prepared for the next device session, NOT yet run (about 7 minutes). Run it on the
# code of the branch tri-bias-fused (or main with tri_bias_fused.patch applied: `git am
# results/h200_2026-12-03c/tri_bias_fused.patch`). That change joins each triangle
# attention's pair-bias projection (Alg. 13/14: LN(z) -> H = 4, no bias) to the q/k/v/gate
# product under --fuse-projections, padded with zero rows to a width that is a multiple
# of 8 (516 -> 520 at small). Before it, each of the 8 projections a step at small took
# three cuBLAS calls on slow "align2" cutlass kernels (5.5-8.6 us each; results/
# h200_2026-12-03b, call 5). Compare kernel ms and kernel counts of the sweep (step times
# of sweep processes can differ by 0.5 ms for no reason found): base (the change),
# sepbias (the code before it), nopad (the change without the padding). If base has less
# kernel time than sepbias at both sizes, merge the branch; if nopad beats base, drop the
# padding. Then the GPU tests of the fused paths (bf16 against the reference; compiled
# and graphed steps against eager).
set -u
D=$OUT/tb; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=30 SWEEP_GRACE_S=40 timeout 330 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 270 \
    s_base=small:$T s_sep=small:$T:sepbias s_nopad=small:$T:nopad \
    m_base=medium:$T m_sep=medium:$T:sepbias \
    > $D/sweep_table.txt 2>&1
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cd - > /dev/null
timeout 200 python3 -m pytest -q -rs -p no:cacheprovider tests/test_fast_paths.py \
    -k "gpu_bf16_fast_path or gpu_compiled_and_graphed" > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$?" >> $D/gpu_tests.txt
cd $D && tar czf $OUT/tb.tar.gz *.txt 2>/dev/null
tail -7 sweep_table.txt; tail -3 gpu_tests.txt
