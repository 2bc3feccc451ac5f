#!/bin/bash
# Twenty-fourth session (2026-12-06): after call 10, the LayerNorm + projection operator
# only where its input has at most 64 channels (lnlin64: at small, Alg. 7's LayerNorm(m)
# and Alg. 10's, where ln_linear_bench.py measured it 1.24x and 1.47x alone), and the
# medium pair again, since call 10's m_new step was 0.9 ms above its kernel time.
set -u
D=$OUT/c12; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=25 SWEEP_GRACE_S=30 timeout 280 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 220 \
    s_new=small:$C s_lnlin64=small:$C:lnlin64 m_new=medium:$C m_lnlin=medium:$C:lnlin > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c12.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 6
grep -h -A10 "^== " sweep_logs.txt | cut -c1-110
