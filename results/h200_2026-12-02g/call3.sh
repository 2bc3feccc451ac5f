#!/bin/bash
# Device call 3: the flex path's new settings (Alg. 8 through FlexAttention; one pipeline
# stage and 64-wide tiles in the backward for rows of <= 128 keys) against the old ones
# in one sweep; the flex GPU tests; the long preset at N = 1,024 and 2,048.
set -u
D=$OUT/call3; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=30 SWEEP_GRACE_S=60 timeout 400 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 230 \
    s_new=small:$T s_old=small:$T:stages2+alg8sdpa s_alg8=small:$T:stages2 \
    m_new=medium:$T m_old=medium:$T:stages2+alg8sdpa m_alg8=medium:$T:stages2 > $D/sweep_table.txt 2>&1 &
sleep 1
flock $D/sweep/gpu.lock timeout 200 python3 -m pytest -q -rA -p no:cacheprovider tests/test_fast_paths.py -k "gpu and (flex or bf16 or compiled)" > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
wait
echo "sweep done" >> $D/rc.txt
timeout 200 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets long --benchmark-seq-lens 1024,2048 \
    --benchmark-paths flex+fused+triton+ckpt+chunk128 --benchmark-steps 2 --warmup-steps 1 \
    --profile-dir $D/long > $D/long.txt 2>&1; cp $D/long/benchmark.json $D/long_benchmark.json
echo "long rc=$?" >> $D/rc.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/call3.tar.gz *.txt *.json 2>/dev/null
cat rc.txt; tail -8 sweep_table.txt; grep -E "passed|failed|PASSED|FAILED|Error" gpu_tests.txt | tail -14; tail -6 long.txt
