#!/bin/bash
# Device call 3 of 2026-12-03d: is a process fast when another process works on the GPU
# while it compiles and captures its graph, as in a sweep? A helper process multiplies
# matrices on the GPU until clock_probe.py's setup is over, then stays alive, idle (as a
# sweep's other processes wait for the lock), until the probe ends.
set -u
D=$OUT/p3; mkdir -p $D
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
python3 -c "
import os, time, torch
x = torch.randn(2048, 2048, device='cuda'); n = 0
while not os.path.exists('$D/ready'):
    for _ in range(50):
        y = x @ x
    torch.cuda.synchronize(); n += 50
print('helper: matmuls during setup', n, flush=True)
while not os.path.exists('$D/done'):
    time.sleep(0.5)
" > $D/helper.txt 2>&1 &
PROBE_READY=$D/ready PROBE_TRACE=$D/probe.trace.json timeout 240 python3 results/h200_2026-12-03d/clock_probe.py small > $D/probe_small.txt 2>&1
echo "probe rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
touch $D/done; wait
cd $D && gzip -f probe.trace.json && tar czf $OUT/p3.tar.gz *.txt *.gz
cat summary.txt helper.txt; grep -v Warn probe_small.txt | grep -v "^ " | head -18
