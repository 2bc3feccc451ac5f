#!/bin/bash
# Twenty-ninth session (2026-12-07): --weight-grad-stream, the nn.Linear weight gradients on a
# second CUDA stream. One sweep (inductor_sweep.py, with its peer ping) of the fastest path
# without (C) and with (Cw) the flag at both sizes (Cwk: not inside the kernels' operators), a trace of the small pair to see the
# overlap, then the GPU tests of the flag.
set -u
D=$OUT/c1; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TRACE=1 SWEEP_GRACE_S=40 timeout ${CALL1_LIMIT:-330} python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 260 \
    s_C=small:$C s_Cw=small:$C+wgstream s_Cwk=small:$C+wgstream:wgsnok m_C=medium:$C m_Cw=medium:$C+wgstream > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd tests && timeout 200 python3 -m pytest -q -x test_weight_grad_stream.py -k gpu > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt; cd ..
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c1.tar.gz *.txt *.json sweep/s_*.trace.json 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 5; tail -n 3 gpu_tests.txt
