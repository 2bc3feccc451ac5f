#!/bin/bash
# Device call 2 of 2026-12-03b (as run; graph_gap.py then called os.sched_getcpu, which Python lacks, so the probe failed): is the replayed graph's idle time between kernels set by
# where the process runs (NUMA node of its CPU, against the GPU's)? The topology; the
# graph_gap.py probe 6 times unpinned and 3 times pinned to each NUMA node; then the
# fastest small path's --benchmark pinned to each node (or, on one node, twice unpinned).
set -u
D=$OUT/c1; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
{ nvidia-smi --query-gpu=uuid,pci.bus_id,driver_version --format=csv,noheader; nvidia-smi topo -m; lscpu; numactl -H; } > $D/topology.txt 2>&1
P=results/h200_2026-12-03b/graph_gap.py
for i in 1 2 3 4 5 6; do python3 $P >> $D/probe.jsonl 2>>$D/probe_err.txt; done
NODES=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | sed 's/.*node//')
for n in $NODES; do
    CPUS=$(cat /sys/devices/system/node/node$n/cpulist)
    for i in 1 2 3; do taskset -c $CPUS python3 $P >> $D/probe.jsonl 2>>$D/probe_err.txt; done
done
cat $D/probe.jsonl
T=flex+fused+triton+compile+graphs+flat
set -- $NODES
if [ $# -gt 1 ]; then RUNS="$(cat /sys/devices/system/node/node$1/cpulist) $(cat /sys/devices/system/node/node$2/cpulist)"; else RUNS="all all"; fi
i=0
for cpus in $RUNS; do
    i=$((i+1)); PIN=""; [ $cpus != all ] && PIN="taskset -c $cpus"
    echo "run $i: cpus $cpus" >> $D/bench.txt
    timeout 160 $PIN python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets small \
        --benchmark-paths $T --profile-dir $D/b$i >> $D/bench.txt 2>&1
    python3 $P >> $D/bench.txt 2>&1
done
grep -E "^run|^small|us_per" $D/bench.txt
cd $D && tar czf $OUT/c1.tar.gz *.txt *.jsonl 2>/dev/null
