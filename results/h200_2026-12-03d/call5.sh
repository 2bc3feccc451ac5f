#!/bin/bash
# Device call 5 of 2026-12-03d (run as one command line; reformatted here): the helper
# works on the GPU for 8 s from 2 s before the probe starts, so it overlaps the probe's
# CUDA initialisation (4.4 s after its start) and not its compilation or graph capture.
D=$OUT/p5; mkdir -p $D; export PYTHONPATH=.
python3 -c "
import time, torch
x = torch.randn(2048, 2048, device='cuda'); t0 = time.time(); n = 0
while time.time() - t0 < 8:
    for _ in range(50):
        y = x @ x
    torch.cuda.synchronize(); n += 50
print('helper: matmuls for 8 s after the probe started', n, flush=True)
" > $D/helper.txt 2>&1 &
sleep 2
# (the command line also ran `python3 -X importtime -c pass` here, a no-op left from editing)
timeout 150 python3 -c "
import time; t0=time.time()
import runpy, sys, os
sys.argv=['clock_probe.py','small']
import torch; torch.cuda.init(); torch.zeros(1,device='cuda'); print('probe: CUDA context made %.1f s after start' % (time.time()-t0), flush=True)
runpy.run_path('results/h200_2026-12-03d/clock_probe.py', run_name='__main__')
" > $D/probe_small.txt 2>&1
wait
