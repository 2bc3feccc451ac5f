#!/bin/bash
# Prepared in the twenty-third session (2026-12-06), not run: the whole step with the
# LayerNorm + projection operator (lnlin) and without, small and medium, after call9.sh
# has chosen LN_LINEAR_TILES. inductor_sweep.py: one process per run, compiled side by
# side, timed alone (20 steps, CUDA events), kernels by kind; then the compiled and
# graphed --triton-kernels steps. About 280 s.
set -u
D=$OUT/c10; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=25 SWEEP_GRACE_S=30 timeout 300 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 220 \
    s_new=small:$C s_lnlin=small:$C:lnlin m_new=medium:$C m_lnlin=medium:$C:lnlin > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c10.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 6
grep -h -A12 "^== " sweep_logs.txt | cut -c1-110
grep -h "ln_linear\|reduce_kernel" sweep_logs.txt | cut -c1-90
