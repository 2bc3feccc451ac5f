#!/bin/bash
# Twenty-first session (2026-12-06): the README's "Learning contacts from co-evolution" runs at
# main's code (the table there was measured on 2026-11-25 at ce9c7bc). Reference path, fp32.
set -u
D=$OUT/c3; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
run() {
    local name=$1; shift
    timeout 280 python3 tiny_openfold_v1.py "$@" --checkpoint-dir /tmp/ck_$name --profile-dir /tmp/prof_$name > $D/$name.log 2>&1
    echo "$name rc=$? at $(( $(date +%s) - T0 )) s: $*" >> $D/summary.txt
    cp /tmp/prof_$name/performance_summary.json $D/$name.json 2>/dev/null
    grep -E "^Eval|^Controls" $D/$name.log | sed "s/^/$name: /"
}
run s16 --preset tiny --num-seqs 16 --num-steps 1500 --eval-every 250 --log-every 250
run s8 --preset tiny --num-steps 1000 --eval-every 250
cat $D/summary.txt $D/gpu.txt
