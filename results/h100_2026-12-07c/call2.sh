#!/bin/bash
# Twenty-ninth session (2026-12-07): the README's small Results table with the
# --weight-grad-stream row (one --benchmark process, as call15.sh of ../h100_2026-12-06c),
# then the flag's GPU tests again (call 1's "it trains" check was wrong: the losses of the
# six steps rise with and without the flag).
set -u
D=$OUT/c2; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
C=flex+fused+triton+compile+graphs+flat+castonce
paths=reference,sdpa,sdpa+compile,sdpa+compile+graphs,flex+fused+compile+graphs+flat,flex+fused+triton+compile+graphs+flat,$C,$C+wgstream
timeout ${CALL2_LIMIT:-400} python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets small \
    --benchmark-paths $paths --profile-dir $D/small > $D/small.log 2>&1
echo "small rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cd tests && PYTHONPATH=.. timeout 170 python3 -m pytest -q -x test_weight_grad_stream.py -k gpu > $D/gpu_tests.txt 2>&1
echo "gpu tests rc=$? at $(( $(date +%s) - T0 )) s" >> $D/summary.txt; cd ..
cd $D && tar czf $OUT/c2.tar.gz *.txt small/benchmark.* 2>/dev/null
cat summary.txt gpu.txt; tail -n 10 small/benchmark.md; tail -n 2 gpu_tests.txt
