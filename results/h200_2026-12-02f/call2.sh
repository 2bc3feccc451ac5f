#!/bin/bash
# Device call 2 (fifth session of 2026-12-02): the script as a user runs it. 300 steps
# of the default (small) configuration on the reference path and on the fastest path
# (--triton-kernels among its flags), the latter with 4 data workers and with the
# default (one per core less one, at most 16); then the long preset at N = 1,024 and
# 2,048 with and without --triton-kernels (chunked and checkpointed flex path).
set -u
D=$OUT/call2; mkdir -p $D
export PYTHONPATH=. TORCHINDUCTOR_CACHE_DIR=/tmp/inductor_cache
nproc > $D/cores.txt
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
F="--use-amp --attention flex --fuse-projections --triton-kernels --compile --cuda-graphs --flat-optimizer"
run() {  # name, timeout, flags...
    local name=$1 limit=$2; shift 2
    timeout $limit python3 tiny_openfold_v1.py --num-steps 300 --profile-dir $D/$name --checkpoint-dir /tmp/ck_$name \
        "$@" > $D/train_$name.log 2>&1
    echo "$name rc=$?" >> $D/rc.txt
}
run reference 150 --use-amp
run fast_workers4 200 $F --num-workers 4
run fast_default_workers 150 $F
timeout 170 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets long --benchmark-seq-lens 1024,2048 \
    --benchmark-paths flex+fused+ckpt+chunk128,flex+fused+triton+ckpt+chunk128 --benchmark-steps 2 --warmup-steps 1 \
    --profile-dir $D/long > $D/long.txt 2>&1
echo "long rc=$?" >> $D/rc.txt
cd $D && tar czf $OUT/call2.tar.gz *.txt *.log */*.json 2>/dev/null
cat rc.txt cores.txt; for f in train_*.log; do echo "== $f"; grep -E "Step +(50|150|290)|held-out|samples/s|Training speed|workers" $f | tail -8; done; cat long.txt | tail -7
