#!/bin/bash
# Prepared in the thirty-fourth session, not run: the GPU tests of --pdl (and of
# --weight-grad-stream), then the README's first default-size table with today's default
# path list, whose last row is the fastest path with +pdl, in one --benchmark process.
set -u; D=$OUT/c8; mkdir -p $D; export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
(cd tests && timeout 150 python3 -m pytest -q -rs test_pdl.py test_weight_grad_stream.py -k gpu > $D/gpu_tests.txt 2>&1)
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt
timeout ${CALL8_LIMIT:-400} python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small \
    --profile-dir $D/small > $D/small.log 2>&1
echo "small rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cat $D/summary.txt $D/gpu.txt; tail -n 2 $D/gpu_tests.txt; tail -n 10 $D/small/benchmark.md 2>/dev/null || tail -n 5 $D/small.log
cd $OUT && tar czf c8.tgz c8 && rm -rf c8  # one file back
