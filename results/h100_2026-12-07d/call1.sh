#!/bin/bash
# Thirty-first session (2026-12-07): --weight-grad-stream at medium, where it lost 0.33 ms
# (../h100_2026-12-07c: the kernels side by side slowed each other). Two ways to keep the
# overlap and lose less, as inductor_sweep.py options: wgsprio (the graph captured on a
# high-priority stream, so the critical path's kernels are dispatched first) and
# wgsrows8192 (the second stream only for the MSA side's products at medium). Then the
# flag's GPU tests, whose graphed test changed after its last GPU run.
set -u
D=$OUT/c1; mkdir -p $D/sweep
export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_GRACE_S=40 timeout ${CALL1_LIMIT:-330} python3 results/h200_2026-12-02/inductor_sweep.py $D/sweep 270 \
    s_C=small:$C s_Cw=small:$C+wgstream s_Cwp=small:$C+wgstream:wgsprio \
    m_C=medium:$C m_Cw=medium:$C+wgstream m_Cwp=medium:$C+wgstream:wgsprio \
    m_Cwr=medium:$C+wgstream:wgsrows8192 m_Cwrp=medium:$C+wgstream:wgsrows8192+wgsprio > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd tests && PYTHONPATH=.. timeout 200 python3 -m pytest -q -x test_weight_grad_stream.py -k gpu -p no:logging > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt; cd ..
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null
tar czf $OUT/c1.tar.gz *.txt *.json 2>/dev/null
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 9; tail -n 3 gpu_tests.txt
