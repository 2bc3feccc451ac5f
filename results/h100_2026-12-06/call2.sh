#!/bin/bash
# Twenty-first session (2026-12-06): the README's Configurations table at main's code. Each
# preset trains with the table's own command, fp32 and then bf16 autocast, one run at a time,
# on the reference path (the default); per run the log and performance_summary.json.
set -u
D=$OUT/c2; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version,memory.total --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
run() {  # name, then the flags
    local name=$1; shift
    mkdir -p $D/$name
    timeout 150 python3 tiny_openfold_v1.py "$@" --checkpoint-dir /tmp/ck_$name --profile-dir /tmp/prof_$name \
        > $D/$name/log.txt 2>&1
    echo "$name rc=$? at $(( $(date +%s) - T0 )) s: $*" >> $D/summary.txt
    cp /tmp/prof_$name/performance_summary.json $D/$name/ 2>/dev/null
    grep -E "Average|Peak memory|Eval      final" $D/$name/log.txt | sed "s/^/$name: /"
}
run small_fp32 --preset small --batch-size 4 --num-steps 120 --warmup-steps 20
run small_bf16 --preset small --batch-size 4 --num-steps 120 --warmup-steps 20 --use-amp
run tiny_fp32 --preset tiny --num-steps 120 --warmup-steps 20
run tiny_bf16 --preset tiny --num-steps 120 --warmup-steps 20 --use-amp
run medium_fp32 --preset medium --num-steps 40 --warmup-steps 10 --eval-samples 16
run medium_bf16 --preset medium --num-steps 40 --warmup-steps 10 --eval-samples 16 --use-amp
cat $D/summary.txt $D/gpu.txt
