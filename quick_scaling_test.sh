#!/usr/bin/env bash
# Quick weak-scaling check of TinyOpenFold: 1, 2, 4 and 8 GPUs (those the
# machine has) with DistributedDataParallel, one run each, then a table of
# throughput, speedup and efficiency. See --help; run.sh is the full study.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python}"
PROG="quick_scaling_test.sh"
COUNT_SNIPPET='import torch; print(torch.cuda.device_count())'

usage() {
    cat <<EOF
Usage: $PROG [options]

Trains tiny_openfold_v1.py with 1, 2, 4 and 8 GPUs (DDP through
torch.distributed.run, one process per GPU; counts above the visible GPUs are
skipped), a constant batch per GPU, and prints:

  GPUs | Throughput (samples/s) | Speedup | Efficiency

Throughput is global samples/s over the timed steps (3 warm-up steps are
excluded), read from each run's performance_summary.json. Speedup is relative
to the 1-GPU run (or the smallest count that ran, base), efficiency = speedup / (N / base).

Options:
  --steps N            training steps per run (default: 50)
  --batch-per-gpu N    samples per GPU per step; global batch = N x GPUs
                       (default: 8)
  --output-dir DIR     default: ./scaling_quick_<YYYYmmdd_HHMMSS>
  --cpu-procs "1 2"    run the study with these numbers of CPU processes
                       (gloo backend) instead of GPUs, e.g. on a machine
                       without GPUs or in CI; OMP_NUM_THREADS defaults to 1
                       per process so every count gets a core per process
  --preset NAME        tiny, small, medium or long (default: the script's, small)
  --seq-len N  --num-seqs N  --num-blocks N
                       model-shape pass-throughs to tiny_openfold_v1.py
  -h, --help           this help

Layout of DIR: gpusN.log and gpusN/ (performance_summary.json, checkpoints)
per count, cpusN.log and cpusN/ with --cpu-procs; runs.tsv (the manifest),
summary.txt, summary.csv and runs.csv from scaling_report.py.
Set PYTHON to choose the interpreter. Exit status: 0 if every run succeeded,
1 if one failed (the table still shows the others), 2 on bad input or no GPU,
130 on Ctrl-C.
EOF
}

# shellcheck source=cli_common.sh
source "$HERE/cli_common.sh"

# ---------------------------------------------------------------- arguments
STEPS=50
BATCH_PER_GPU=8
OUTPUT_DIR=""
CPU_PROCS=""
SHAPE_ARGS=()

while [[ $# -gt 0 ]]; do
    opt="$1"
    case "$opt" in
        -h|--help) usage; exit 0 ;;
        --steps|--batch-per-gpu|--output-dir|--cpu-procs|--preset|--seq-len|--num-seqs|--num-blocks)
            [[ $# -ge 2 ]] || die "$opt: missing value"
            value="$2"
            shift 2 ;;
        *) die "unknown option '$opt' (see --help)" ;;
    esac
    case "$opt" in
        --steps) positive_int "$opt" "$value"; STEPS="$value" ;;
        --batch-per-gpu) positive_int "$opt" "$value"; BATCH_PER_GPU="$value" ;;
        --output-dir) [[ -n "$value" ]] || die "--output-dir: empty path"; OUTPUT_DIR="$value" ;;
        --cpu-procs) CPU_PROCS="$value"; parse_counts "$opt" "$value" "1 2" >/dev/null ;;
        --preset|--seq-len|--num-seqs|--num-blocks) shape_option "$opt" "$value" ;;
    esac
done

command -v "$PY" >/dev/null 2>&1 || die "PYTHON=$PY: no such interpreter"
[[ -f "$HERE/tiny_openfold_v1.py" ]] || die "$HERE/tiny_openfold_v1.py not found"

# ---------------------------------------------------- what runs, and where
COUNTS=()
DEVICE_ARGS=()
if [[ -n "$CPU_PROCS" ]]; then
    UNIT=cpu
    PREFIX=cpus
    mapfile -t COUNTS < <(parse_counts --cpu-procs "$CPU_PROCS" "1 2")
    DEVICE_ARGS=(--device cpu)
    # torch.distributed.run sets 1 thread per process only for 2+ processes;
    # the same for every count keeps the comparison fair.
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
else
    UNIT=gpu
    PREFIX=gpus
    N_GPU="$("$PY" -c "$COUNT_SNIPPET" 2>/dev/null)" ||
        die "could not import torch with $PY (set PYTHON to the right interpreter)"
    [[ "$N_GPU" =~ ^[0-9]+$ ]] || die "could not count the GPUs with $PY (got '$N_GPU')"
    [[ "$N_GPU" -gt 0 ]] || die "no GPU visible; use --cpu-procs \"1 2\" to run the study with CPU processes"
    for n in 1 2 4 8; do
        if [[ $n -gt $N_GPU ]]; then
            echo "skipping $n GPUs: only $N_GPU visible"
        else
            COUNTS+=("$n")
        fi
    done
fi

OUTPUT_DIR="${OUTPUT_DIR:-./scaling_quick_$(date +%Y%m%d_%H%M%S)}"
mkdir -p "$OUTPUT_DIR" 2>/dev/null || die "--output-dir $OUTPUT_DIR: cannot create it"
MANIFEST="$OUTPUT_DIR/runs.tsv"
printf 'count\trun\tglobal_batch\texit_status\tsummary\tlog\n' > "$MANIFEST"

trap 'echo "$PROG: interrupted" >&2; exit 130' INT

# ------------------------------------------------------------------ the runs
FAILED=0
for n in "${COUNTS[@]}"; do
    name="$PREFIX$n"
    log="$OUTPUT_DIR/$name.log"
    batch=$((BATCH_PER_GPU * n))
    rm -f "$OUTPUT_DIR/$name/performance_summary.json"  # never read a stale one
    cmd=("$PY" -m torch.distributed.run --standalone --nproc-per-node "$n"
         "$HERE/tiny_openfold_v1.py" --parallel ddp "${DEVICE_ARGS[@]}" --batch-size "$batch"
         --num-steps "$STEPS" --eval-samples 8 --profile-dir "$OUTPUT_DIR/$name"
         --checkpoint-dir "$OUTPUT_DIR/$name/checkpoints" "${SHAPE_ARGS[@]}")
    echo "$(describe "$n"): global batch $batch, $STEPS steps; log $log"
    { printf '# command:'; printf ' %q' "${cmd[@]}"; printf '\n'; } > "$log"
    start=$SECONDS
    if "${cmd[@]}" >> "$log" 2>&1; then rc=0; else rc=$?; fi
    printf '%s\t1\t%s\t%s\t%s\t%s\n' "$n" "$batch" "$rc" "$name/performance_summary.json" "$name.log" >> "$MANIFEST"
    if [[ $rc -ne 0 ]]; then
        echo "$PROG: $(describe "$n") FAILED (exit status $rc); see $log" >&2
        FAILED=1
    else
        echo "  done in $((SECONDS - start)) s"
    fi
done

echo
report_rc=0
"$PY" "$HERE/scaling_report.py" "$MANIFEST" --format brief --unit "$UNIT" --scaling weak --no-plot \
    --output-dir "$OUTPUT_DIR" --title "Quick scaling test: $BATCH_PER_GPU samples per ${UNIT^^} process, $STEPS steps" ||
    report_rc=$?
echo
echo "All results in $OUTPUT_DIR"
[[ $report_rc -eq 0 ]] || exit "$report_rc"  # 1: every run failed (scaling_report.py says why)
[[ $FAILED -eq 0 ]] || exit 1
