#!/bin/bash
# Device call 3: the GPU tests at the current code, the long-protein rows (N = 512,
# 1,024, 2,048) and the per-component table of the fused path at medium and small.
set -u
D=$OUT/call3; mkdir -p $D
export PYTHONPATH=.
git log -1 --format=%h > $D/commit.txt 2>/dev/null || true
timeout 180 python3 -m pytest -q -rA tests/test_fast_paths.py -k gpu > $D/gpu_tests.txt 2>&1
echo "tests rc=$?" >> $D/rc.txt
timeout 75 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets long --benchmark-seq-lens 512,1024 \
    --benchmark-paths reference,sdpa,sdpa+fused+ckpt+chunk128 --benchmark-steps 2 --warmup-steps 1 \
    --profile-dir $D/long512 > $D/long_512_1024.txt 2>&1
echo "long512 rc=$?" >> $D/rc.txt
timeout 75 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets long --benchmark-seq-lens 2048 \
    --benchmark-paths sdpa+fused+ckpt+chunk64 --benchmark-steps 1 --warmup-steps 1 \
    --profile-dir $D/long2048 > $D/long_2048.txt 2>&1
echo "long2048 rc=$?" >> $D/rc.txt
timeout 140 python3 results/h200_2026-12-02b/components.py $D/comp_medium medium sdpa+fused > $D/components_medium.txt 2>&1
echo "comp medium rc=$?" >> $D/rc.txt
timeout 90 python3 results/h200_2026-12-02b/components.py $D/comp_small small sdpa+fused > $D/components_small.txt 2>&1
echo "comp small rc=$?" >> $D/rc.txt
cd $D && find . -name '*.json' -o -name '*.txt' -o -name '*.log' | tar czf $OUT/call3.tar.gz -T -
cat rc.txt; tail -3 gpu_tests.txt; cat components_medium.txt | tail -16
