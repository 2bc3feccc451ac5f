#!/bin/bash
# Prepared in the thirty-seventh session, not run (its device time ran out): the pair-side
# LayerNorms' weight and bias folded into the products after them. One sweep with the peer
# ping, each row its own process: the fastest default-size path (with --pdl) and the fastest
# medium path, each as it is, with --fold-layer-norms (foldln: the same function), and with
# the sweep's noaffine option (those LayerNorms without gamma and beta: not the same function,
# the floor of a fold with no cost of its own). About 6 minutes; call6.sh runs the fold's GPU tests;
# CALL5_ROWS replaces the rows.
set -u; D=$OUT/c5; mkdir -p $D/sweep; export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s); C=flex+fused+triton+compile+graphs+flat+castonce
SWEEP_TOP=40 SWEEP_GRACE_S=40 timeout ${CALL5_LIMIT:-440} python3 results/h200_2026-12-02/inductor_sweep.py \
    $D/sweep ${CALL5_DEADLINE:-340} ${CALL5_ROWS:-s_Cwp=small:$C+wgstream+pdl s_Cwpf=small:$C+wgstream+pdl+foldln \
    s_Cwpn=small:$C+wgstream+pdl:noaffine m_C=medium:$C m_Cf=medium:$C+foldln m_Cn=medium:$C:noaffine} > $D/sweep_table.txt 2>&1
echo "sweep rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd $D && cat sweep/*.log > sweep_logs.txt 2>/dev/null; cp sweep/*.json . 2>/dev/null; rm -rf sweep
cat summary.txt gpu.txt; grep -v Warn sweep_table.txt | tail -n 7
cd $OUT && tar czf c5.tgz c5 && rm -rf c5  # one file back
