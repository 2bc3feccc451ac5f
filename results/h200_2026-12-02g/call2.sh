#!/bin/bash
# Device call 2: FlexAttention's tile settings for Alg. 7 and 13 (the script's, with
# TMA, autotuned) and four ways to run Alg. 8, each module alone (probe_attention.py
# tune); small and medium in two processes that profile one at a time.
set -u
D=$OUT/call2; mkdir -p $D
export PYTHONPATH=. PROBE_LOCK=/tmp/probe.lock
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
timeout 540 python3 results/h200_2026-12-02g/probe_attention.py tune small > $D/tune_small.txt 2> $D/tune_small_err.txt &
timeout 540 python3 results/h200_2026-12-02g/probe_attention.py tune medium > $D/tune_medium.txt 2> $D/tune_medium_err.txt
echo "medium rc=$?" >> $D/rc.txt
wait
cd $D && tar czf $OUT/call2.tar.gz *.txt
cat rc.txt; tail -12 tune_small.txt; tail -12 tune_medium.txt
