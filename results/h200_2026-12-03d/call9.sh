#!/bin/bash
# Twelfth session, 2026-12-03: --peer-ping (after the graph capture another process opens
# a CUDA context on the GPU and exits) in --benchmark at small and medium, to compare with
# call 8's one-process table without it; then 300 training steps of the fastest path with
# it (does a training run keep the fast state?) and the flag's GPU test.
set -u
D=$OUT/p9; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
timeout 220 python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small,medium \
    --benchmark-paths flex+fused+triton+compile+graphs+flat --profile-dir $D/bench > $D/bench.txt 2>&1
echo "benchmark rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
F="--use-amp --attention flex --fuse-projections --triton-kernels --compile --cuda-graphs --flat-optimizer"
for p in "" "--peer-ping"; do
    timeout 110 python3 tiny_openfold_v1.py $F $p --num-steps 400 --log-every 100 --eval-every 0 \
        --profile-dir $D/train$p > $D/train$p.txt 2>&1
    echo "train $p rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
done
timeout 60 python3 -m pytest -q -rs -p no:cacheprovider tests/test_fast_paths.py -k peer_ping > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cp $D/bench/benchmark.md $D/bench/benchmark.json $D/ 2>/dev/null
cd $D && tar czf $OUT/p9.tar.gz *.txt *.md *.json
cat summary.txt; cat benchmark.md; grep -i "samples/sec" train*.txt | tail -12
