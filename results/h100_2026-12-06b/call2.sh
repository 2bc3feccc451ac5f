#!/bin/bash
# Twenty-second session (2026-12-06), call 2: the transition kernels in the whole training step.
# (1) inductor_sweep.py: the fastest path with and without them (notrans), small and medium, one
# process each, compiled side by side, timed alone (20 steps, CUDA events), kernels by kind.
# (2) --benchmark with --peer-ping, small and medium: the README's headline rows.
set -u
D=$OUT/c2; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=25 SWEEP_GRACE_S=40 timeout 330 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 240 \
    s_old=small:$C:notrans s_new=small:$C m_old=medium:$C:notrans m_new=medium:$C > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
timeout 240 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small,medium \
    --benchmark-paths reference,$C --profile-dir $D/bench > $D/bench.log 2>&1
echo "benchmark rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null; cp bench/benchmark.* . 2>/dev/null
tar czf $OUT/c2.tar.gz *.txt *.json *.md *.log 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -6; cat benchmark.md 2>/dev/null | tail -8
grep -h -A12 "^== " sweep_logs.txt | cut -c1-120
