#!/bin/bash
# Prepared in the thirty-fifth session (no machine was lent), not run: ln_fold.py, the
# LayerNorm affine folded into the product after it, against the model's form, at the
# default and medium sizes' LayerNorm -> product shapes, and the form without gamma and beta
# (the floor of a fold done outside the compiled graph). About 5 minutes (21 compiles).
set -u; D=$OUT/c1; mkdir -p $D; export PYTHONPATH=.
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
python3 results/h100_2026-12-07f/ln_fold.py check > $D/check.txt 2>&1
timeout ${CALL1_LIMIT:-500} python3 results/h100_2026-12-07f/ln_fold.py > $D/ln_fold.jsonl 2> $D/ln_fold.err
echo "ln_fold rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
cat $D/summary.txt $D/gpu.txt $D/check.txt $D/ln_fold.jsonl; tail -n 5 $D/ln_fold.err
cd $OUT && tar czf c1.tgz c1 && rm -rf c1  # one file back
