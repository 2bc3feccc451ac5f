#!/bin/bash
# Device call 1 (2026-12-02, third session): the biased attentions alone under three
# kernels (probe_attention.py), then the 150-step loss-curve pair at the current code.
set -u
D=$OUT/call1; mkdir -p $D
git log -1 --format=%h > $D/commit.txt 2>/dev/null
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $D/gpu.txt
timeout 200 python3 results/h200_2026-12-02c/probe_attention.py $D/probe_attention.json > $D/probe_attention.txt 2>&1
echo "probe rc=$?" >> $D/rc.txt
timeout 330 python3 tiny_openfold_v1.py --use-amp --num-steps 150 --log-every 25 --eval-samples 32 --num-workers 4 \
    --profile-dir $D/lc_ref > $D/loss_curve_reference.log 2>&1 &
timeout 330 python3 tiny_openfold_v1.py --use-amp --num-steps 150 --log-every 25 --eval-samples 32 --num-workers 4 \
    --attention sdpa --fuse-projections --compile --cuda-graphs --profile-dir $D/lc_fast > $D/loss_curve_fused.log 2>&1 &
wait
echo "loss curves done" >> $D/rc.txt
cd $D && find . -name '*.json' -o -name '*.txt' -o -name '*.log' | grep -v tfevents | tar czf $OUT/call1.tar.gz -T -
cat rc.txt; cat probe_attention.txt | grep -v Warning | tail -20; tail -3 loss_curve_*.log
