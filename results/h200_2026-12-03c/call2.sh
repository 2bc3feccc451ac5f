#!/bin/bash
# Device call 2 of 2026-12-03c: --benchmark of the fastest small path, one process at a
# time, on this session's card (the eighth session timed every one-process run at
# 5.80-5.85 ms on other cards; call 1 here timed all nine sweep processes with step time
# equal to kernel time). Default settings and programmatic dependent launch
# (TORCHINDUCTOR_ENABLE_PDL=1) alternating, twice each; then medium, default and PDL.
set -u
D=$OUT/c2; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
T=flex+fused+triton+compile+graphs+flat
bench() {  # name preset timeout [env...]
    name=$1 preset=$2 limit=$3; shift 3
    start=$(date +%s)
    if [ $(( start - T0 + limit )) -gt 575 ]; then echo "$name skipped: no time left" >> $D/summary.txt; return; fi
    env "$@" timeout $limit python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets $preset \
        --benchmark-paths $T --profile-dir $D/$name > $D/$name.txt 2>&1
    echo "$name rc=$? wall_s=$(( $(date +%s) - start )) $(grep -E "^$preset " $D/$name.txt | tail -1)" >> $D/summary.txt
    cp $D/$name/benchmark.json $D/$name.json 2>/dev/null
}
bench s_default1 small 150
bench s_pdl1 small 150 TORCHINDUCTOR_ENABLE_PDL=1
bench s_default2 small 120
bench s_pdl2 small 120 TORCHINDUCTOR_ENABLE_PDL=1
python3 results/h200_2026-12-03b/graph_gap.py >> $D/graph_gap.jsonl 2>&1
bench m_default medium 170
bench m_pdl medium 170 TORCHINDUCTOR_ENABLE_PDL=1
cat $D/summary.txt
cd $D && tar czf $OUT/c2.tar.gz *.txt *.json *.jsonl 2>/dev/null
