#!/bin/bash
# Prepared in the twenty-fourth session (2026-12-06): the README's small and medium
# Results tables at main's code (ln_linear on the MSA side in the triton rows), the same two
# --benchmark commands as call5.sh of ../h100_2026-12-06b. Run after call13.sh has passed.
# CALL15_PARTS="medium" (or "small") runs one of them. The medium limit was 240 s until the
# twenty-seventh session, whose run stopped at it before the fourth row (a cold Inductor
# cache; ../h100_2026-12-07): now 360 s for medium and 400 s for small, so one part a call.
set -u
D=$OUT/c15; mkdir -p $D
git rev-parse HEAD > $D/commit.txt 2>/dev/null; git status --short >> $D/commit.txt
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader > $D/gpu.txt
T0=$(date +%s)
for part in ${CALL15_PARTS:-small medium}; do
  if [ $part = small ]; then
    limit=400 paths=reference,sdpa,sdpa+compile,sdpa+compile+graphs,flex+fused+compile+graphs+flat,flex+fused+triton+compile+graphs+flat,flex+fused+triton+compile+graphs+flat+castonce
  else
    limit=360 paths=reference,sdpa,sdpa+compile+graphs,flex+fused+triton+compile+graphs+flat+castonce
  fi
  timeout $limit python3 tiny_openfold_v1.py --benchmark --use-amp --peer-ping --benchmark-presets $part \
      --benchmark-paths $paths --profile-dir $D/$part > $D/$part.log 2>&1
  echo "$part rc=$? at $(( $(date +%s) - T0 )) s; $(date -u +%FT%TZ)" >> $D/summary.txt
done
cd $D && tar czf $OUT/c15${CALL15_PARTS:+_${CALL15_PARTS// /_}}.tar.gz summary.txt commit.txt gpu.txt */benchmark.* 2>/dev/null
cat summary.txt gpu.txt; tail -n 9 */benchmark.md 2>/dev/null
