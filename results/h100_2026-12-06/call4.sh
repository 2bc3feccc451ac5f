#!/bin/bash
# Twenty-first session (2026-12-06): FLOPS_ANALYSIS.md's H100 reports at main's code (the ones
# there are from 2026-11-25, results/h100_2026-11-25). The same three commands, one after another.
set -u
D=$OUT/c4; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
{ nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader; python3 -m pip list 2>/dev/null | grep -iE '^(torch|deepspeed) '; } > $D/gpu.txt
T0=$(date +%s)
step() {  # name, limit in seconds, then the command
    local name=$1 limit=$2; shift 2
    timeout $limit "$@" --output-dir /tmp/dsf_$name > /tmp/dsf_$name.log 2>&1
    echo "$name rc=$? at $(( $(date +%s) - T0 )) s: $*" >> $D/summary.txt
}
step small_fp32_all 220 ./run_deepspeed_flops.sh --all --device 0
step small_bf16 120 ./run_deepspeed_flops.sh --use-amp --roofline --device 0
step medium_bf16 150 ./run_deepspeed_flops.sh --preset medium --use-amp --roofline --measure-peaks --device 0
cd /tmp && tar czf $D/dsf.tar.gz --exclude='*.pt' --exclude='*.pt.trace.json*' --exclude='*.tfevents*' dsf_* 2>/dev/null
ls -la $D; cat $D/summary.txt $D/gpu.txt; tail -5 /tmp/dsf_*.log
