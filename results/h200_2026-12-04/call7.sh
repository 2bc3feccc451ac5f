#!/bin/bash
# Prepared in the fourteenth session (2026-12-04) for the next device session, NOT yet run
# (about 7 minutes). FlexAttention's forward tiles at short rows: the triangle attentions'
# forward kernel takes 49.4 us a call at medium (16 a step; call 3), with torch 2.11's sm90
# default for bf16 at head width 64 (128 x 128 tiles, 4 warps). A sweep of T against T with
# 64 x 64 tiles (fwd64) at small and medium, and at medium 64-row tiles (fwdm64), 8 warps
# (fwdw8) and TMA loads (fwdtma). Keep an option (in FLEX_SHORT_ROW_OPTIONS) only if it
# lowers the kernel time at both sizes, or at medium with small unchanged.
set -u
D=$OUT/c7; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
SWEEP_TOP=40 SWEEP_GRACE_S=60 timeout 420 python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 330 \
    s_T=small:$T s_fwd64=small:$T:fwd64 m_T=medium:$T m_fwd64=medium:$T:fwd64 \
    m_fwdm64=medium:$T:fwdm64 m_fwdw8=medium:$T:fwdw8 m_fwdtma=medium:$T:fwdtma > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; tar czf $OUT/c7.tar.gz *.txt
cat summary.txt; grep -v Warn sweep_table.txt | tail -8; grep -h "flex_attention" sweep_logs.txt | head -20
# Added in the fifteenth session (2026-12-04): the LayerNorm-and-permute reduction kernel
# triton_red_fused__to_copy_native_layer_norm_permute_view_38 took 40.3 us a call in one
# medium process and 16.0 us in the others (calls 3, 6 and 8). Keep its source and the config
# autotuning chose (the .best_config files beside it) to see why.
for f in $(grep -rl "def triton_red_fused__to_copy_native_layer_norm_permute_view_38" /tmp/torchinductor_* --include=*.py 2>/dev/null | head -4); do
  echo "== $f"; head -c 5000 "$f"; echo; for b in "${f%.py}".best_config $(dirname "$f")/*.best_config; do [ -f "$b" ] && { echo "-- $b"; cat "$b"; echo; }; done
done > $D/ln38.txt 2>&1
cd $D && tar czf $OUT/c7.tar.gz *.txt; wc -c ln38.txt
