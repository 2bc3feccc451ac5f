#!/usr/bin/env bash
# Multi-GPU scaling study of TinyOpenFold: trains tiny_openfold_v1.py with
# each GPU (or CPU process) count, several runs each, and writes the settings,
# one log per run, a summary table (mean ± std), CSVs and a plot into one
# output directory. See --help; quick_scaling_test.sh is the 2-minute version.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python}"
PROG="run.sh"
COUNT_SNIPPET='import torch; print(torch.cuda.device_count())'
INFO_SNIPPET='
import torch
n = torch.cuda.device_count() if torch.cuda.is_available() else 0
print("torch:", torch.__version__, "| CUDA:", torch.version.cuda, "| HIP:", getattr(torch.version, "hip", None))
print("visible GPUs:", n)
for i in range(n):
    print(f"  GPU {i}: {torch.cuda.get_device_name(i)}")
'
EVAL_SAMPLES=8  # held-out proteins per run: evaluation is not what is measured

usage() {
    cat <<EOF
Usage: $PROG [options]

Scaling study: trains tiny_openfold_v1.py with each GPU count, --runs times,
and summarises throughput (global samples/s over the timed steps; 3 warm-up
steps excluded), speedup and efficiency from each run's
performance_summary.json.

What runs:
  --gpus "1 2 4 8"     GPU counts (default: "1 2 4 8"); counts above the
                       visible GPUs are skipped with a message
  --cpu-procs "1 2"    CPU process counts instead (gloo backend, torchrun),
                       e.g. without GPUs or in CI; OMP_NUM_THREADS defaults
                       to 1 per process so each count gets a core per process
  --launcher L         torchrun (default): DDP, one process per GPU, through
                       \$PYTHON -m torch.distributed.run --standalone;
                       dp: one process with DataParallel (--parallel dp) over
                       the first N visible GPUs: the first N entries of
                       CUDA_VISIBLE_DEVICES (else HIP_VISIBLE_DEVICES, else
                       0..N-1). dp needs GPUs: not with --cpu-procs
  --runs R             runs per count (default: 1); the loops are runs
                       outer, counts inner, so slow drift spreads over counts
  --steps N            training steps per run (default: 50)

Batch:
  --scaling weak       (default) a constant batch per GPU: global batch =
                       --batch-per-gpu x N
  --scaling strong     a fixed global batch, --global-batch (default:
                       --batch-per-gpu x the smallest count), split over N;
                       it must divide by every count
  --batch-per-gpu B    samples per GPU per step (default: 8)
  --global-batch B     the global batch for --scaling strong

Training flags:
  --amp                mixed precision (--use-amp)
  --profile            PyTorch profiler (--enable-pytorch-profiler); its
                       traces land in each run's folder
  --preset NAME        tiny, small, medium or long (default: the script's, small)
  --seq-len N  --num-seqs N  --num-blocks N
                       model-shape pass-throughs

Output:
  --output-dir DIR     default: ./scaling_results_<YYYYmmdd_HHMMSS>
  -h, --help           this help

DIR holds config.txt (settings, command, date, host, git commit, torch
version, GPU names, and every run's command), one log per run named
gpuN_batchB_runR.log (cpuN_batchB_runR.log with --cpu-procs; N = GPUs or
processes, B = GLOBAL batch, R = run from 1) and its folder gpuN_batchB_runR/
(performance_summary.json, checkpoints, profiler traces), runs.tsv (the
manifest), and from scaling_report.py: summary.txt (mean ± sample std over
runs of throughput, speedup, efficiency, step time, TFLOP/s, MFU),
summary.csv (one row per count), runs.csv (one row per run) and scaling.png.
Speedup = throughput_N / throughput of the smallest count that ran (normally
1), efficiency = speedup / (N / smallest count).

A failed run is reported with its log; the others go on and the summary is
written; the exit status is then 1. Exit status 2: bad input, no GPU.
130: Ctrl-C. Set PYTHON to choose the interpreter.
EOF
}

# shellcheck source=cli_common.sh
source "$HERE/cli_common.sh"

quote() {  # quote ARGS... -> one line, shell-quoted
    local out
    printf -v out ' %q' "$@"
    echo "${out# }"
}

# ---------------------------------------------------------------- arguments
ORIGINAL_ARGS=("$@")
GPUS="1 2 4 8"
GPUS_GIVEN=0
CPU_PROCS=""
LAUNCHER=torchrun
RUNS=1
STEPS=50
SCALING=weak
BATCH_PER_GPU=8
GLOBAL_BATCH=""
OUTPUT_DIR=""
TRAIN_ARGS=()  # --use-amp, --enable-pytorch-profiler
SHAPE_ARGS=()

while [[ $# -gt 0 ]]; do
    opt="$1"
    case "$opt" in
        -h|--help) usage; exit 0 ;;
        --amp) TRAIN_ARGS+=(--use-amp); shift; continue ;;
        --profile) TRAIN_ARGS+=(--enable-pytorch-profiler); shift; continue ;;
        --gpus|--cpu-procs|--launcher|--runs|--steps|--scaling|--batch-per-gpu|--global-batch|--output-dir|\
        --preset|--seq-len|--num-seqs|--num-blocks)
            [[ $# -ge 2 ]] || die "$opt: missing value"
            value="$2"
            shift 2 ;;
        *) die "unknown option '$opt' (see --help)" ;;
    esac
    case "$opt" in
        --gpus) parse_counts "$opt" "$value" "1 2 4 8" >/dev/null; GPUS="$value"; GPUS_GIVEN=1 ;;
        --cpu-procs) parse_counts "$opt" "$value" "1 2 4 8" >/dev/null; CPU_PROCS="$value" ;;
        --launcher) [[ "$value" =~ ^(torchrun|dp)$ ]] || die "--launcher: expected torchrun or dp, got '$value'"
                    LAUNCHER="$value" ;;
        --scaling) [[ "$value" =~ ^(weak|strong)$ ]] || die "--scaling: expected weak or strong, got '$value'"
                   SCALING="$value" ;;
        --runs) positive_int "$opt" "$value"; RUNS="$value" ;;
        --steps) positive_int "$opt" "$value"; STEPS="$value" ;;
        --batch-per-gpu) positive_int "$opt" "$value"; BATCH_PER_GPU="$value" ;;
        --global-batch) positive_int "$opt" "$value"; GLOBAL_BATCH="$value" ;;
        --output-dir) [[ -n "$value" ]] || die "--output-dir: empty path"; OUTPUT_DIR="$value" ;;
        --preset|--seq-len|--num-seqs|--num-blocks) shape_option "$opt" "$value" ;;
    esac
done

if [[ -n "$CPU_PROCS" ]]; then
    [[ $GPUS_GIVEN -eq 0 ]] || die "choose one of --gpus and --cpu-procs"
    [[ $LAUNCHER == torchrun ]] || die "--launcher dp needs GPUs (DataParallel); not with --cpu-procs"
    UNIT=cpu
    mapfile -t COUNTS < <(parse_counts --cpu-procs "$CPU_PROCS" "1 2 4 8")
else
    UNIT=gpu
    mapfile -t COUNTS < <(parse_counts --gpus "$GPUS" "1 2 4 8")
fi
if [[ $SCALING == weak ]]; then
    [[ -z "$GLOBAL_BATCH" ]] || die "--global-batch is for --scaling strong (weak scaling uses --batch-per-gpu)"
else
    GLOBAL_BATCH="${GLOBAL_BATCH:-$((BATCH_PER_GPU * COUNTS[0]))}"
    for n in "${COUNTS[@]}"; do
        [[ $((GLOBAL_BATCH % n)) -eq 0 ]] ||
            die "--scaling strong: the global batch $GLOBAL_BATCH does not divide by $n (choose --global-batch)"
    done
fi
command -v "$PY" >/dev/null 2>&1 || die "PYTHON=$PY: no such interpreter"
[[ -f "$HERE/tiny_openfold_v1.py" ]] || die "$HERE/tiny_openfold_v1.py not found"

# ------------------------------------------------------- devices and counts
RUN_COUNTS=()
VIS_VAR=""    # --launcher dp: the variable that limits the visible GPUs
VIS_LIST=()   # and the entries it lists now
if [[ $UNIT == cpu ]]; then
    RUN_COUNTS=("${COUNTS[@]}")
    PREFIX=cpu
    DEVICE_ARGS=(--device cpu)
    # torch.distributed.run sets 1 thread per process only for 2+ processes;
    # the same for every count keeps the comparison fair.
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
else
    PREFIX=gpu
    DEVICE_ARGS=()
    N_GPU="$("$PY" -c "$COUNT_SNIPPET" 2>/dev/null)" ||
        die "could not import torch with $PY (set PYTHON to the right interpreter)"
    [[ "$N_GPU" =~ ^[0-9]+$ ]] || die "could not count the GPUs with $PY (got '$N_GPU')"
    [[ "$N_GPU" -gt 0 ]] || die "no GPU visible; use --cpu-procs \"1 2\" to run the study with CPU processes"
    for n in "${COUNTS[@]}"; do
        if [[ $n -gt $N_GPU ]]; then
            echo "skipping $n GPUs: only $N_GPU visible"
        else
            RUN_COUNTS+=("$n")
        fi
    done
    [[ ${#RUN_COUNTS[@]} -gt 0 ]] || die "no GPU count to run: only $N_GPU visible"
    if [[ $LAUNCHER == dp ]]; then
        if [[ -n "${CUDA_VISIBLE_DEVICES+set}" ]]; then
            VIS_VAR=CUDA_VISIBLE_DEVICES
        elif [[ -n "${HIP_VISIBLE_DEVICES+set}" ]]; then
            VIS_VAR=HIP_VISIBLE_DEVICES
        else
            VIS_VAR=CUDA_VISIBLE_DEVICES
        fi
        if [[ -n "${!VIS_VAR+set}" ]]; then
            IFS=',' read -r -a VIS_LIST <<< "${!VIS_VAR}"
        else
            for ((i = 0; i < N_GPU; i++)); do VIS_LIST+=("$i"); done
        fi
    fi
fi

OUTPUT_DIR="${OUTPUT_DIR:-./scaling_results_$(date +%Y%m%d_%H%M%S)}"
mkdir -p "$OUTPUT_DIR" 2>/dev/null || die "--output-dir $OUTPUT_DIR: cannot create it"
MANIFEST="$OUTPUT_DIR/runs.tsv"
CONFIG="$OUTPUT_DIR/config.txt"

batch_for() {  # batch_for N -> the global batch of a run with N GPUs/processes
    if [[ $SCALING == weak ]]; then echo $((BATCH_PER_GPU * $1)); else echo "$GLOBAL_BATCH"; fi
}

visible_for() {  # visible_for N -> the first N entries of VIS_LIST, comma-separated
    local IFS=,
    echo "${VIS_LIST[*]:0:$1}"
}

# --------------------------------------------------------------- config.txt
{
    echo "TinyOpenFold scaling study ($PROG)"
    echo "date: $(date '+%Y-%m-%d %H:%M:%S %z')"
    echo "host: $(uname -n)"
    echo "directory: $(pwd)"
    echo "command: $(quote "$0" "${ORIGINAL_ARGS[@]}")"
    if commit="$(git -C "$HERE" rev-parse HEAD 2>/dev/null)"; then
        if [[ -n "$(git -C "$HERE" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
            commit+=" (with uncommitted changes)"
        fi
        echo "git commit: $commit"
    fi
    echo "python: $PY ($(command -v "$PY"))"
    "$PY" -c "$INFO_SNIPPET" 2>/dev/null || echo "torch: unknown (could not import torch with $PY)"
    for var in CUDA_VISIBLE_DEVICES HIP_VISIBLE_DEVICES OMP_NUM_THREADS; do
        echo "$var: ${!var-<unset>}"
    done
    echo
    echo "settings:"
    if [[ $UNIT == cpu ]]; then
        echo "  CPU process counts: ${COUNTS[*]} (gloo backend; --device cpu)"
    else
        echo "  GPU counts: ${COUNTS[*]} (run: ${RUN_COUNTS[*]}; visible: $N_GPU)"
    fi
    if [[ $LAUNCHER == torchrun ]]; then
        echo "  launcher: torchrun ($PY -m torch.distributed.run --standalone; --parallel ddp)"
    else
        echo "  launcher: dp (one process, --parallel dp; $VIS_VAR = the first N of: $(visible_for "${#VIS_LIST[@]}"))"
    fi
    if [[ $SCALING == weak ]]; then
        echo "  scaling: weak ($BATCH_PER_GPU samples per $(describe 1 | cut -d" " -f2-), global batch = $BATCH_PER_GPU x N)"
    else
        echo "  scaling: strong (global batch $GLOBAL_BATCH, split over N)"
    fi
    echo "  runs per count: $RUNS"
    echo "  steps: $STEPS (the script's warm-up steps, default 3, are not timed)"
    echo "  eval samples: $EVAL_SAMPLES"
    echo "  training flags: ${TRAIN_ARGS[*]:-none}"
    echo "  shape flags: ${SHAPE_ARGS[*]:-none, the preset defaults}"
    echo
    echo "runs (one command each, in order):"
} > "$CONFIG"

printf 'count\trun\tglobal_batch\texit_status\tsummary\tlog\n' > "$MANIFEST"
trap 'echo "$PROG: interrupted" >&2; exit 130' INT

# ------------------------------------------------------------------ the runs
FAILED=()
for ((r = 1; r <= RUNS; r++)); do
    for n in "${RUN_COUNTS[@]}"; do
        batch="$(batch_for "$n")"
        name="${PREFIX}${n}_batch${batch}_run${r}"
        log="$OUTPUT_DIR/$name.log"
        rm -f "$OUTPUT_DIR/$name/performance_summary.json"  # never read a stale one
        cmd=()
        if [[ $LAUNCHER == torchrun ]]; then
            cmd+=("$PY" -m torch.distributed.run --standalone --nproc-per-node "$n"
                  "$HERE/tiny_openfold_v1.py" --parallel ddp)
        else
            cmd+=(env "$VIS_VAR=$(visible_for "$n")" "$PY" "$HERE/tiny_openfold_v1.py" --parallel dp)
        fi
        cmd+=("${DEVICE_ARGS[@]}" --batch-size "$batch" --num-steps "$STEPS" --eval-samples "$EVAL_SAMPLES"
              --profile-dir "$OUTPUT_DIR/$name" --checkpoint-dir "$OUTPUT_DIR/$name/checkpoints"
              "${TRAIN_ARGS[@]}" "${SHAPE_ARGS[@]}")
        echo "  $name: $(quote "${cmd[@]}")" >> "$CONFIG"
        echo "[run $r/$RUNS] $(describe "$n"), global batch $batch: log $log"
        echo "# command: $(quote "${cmd[@]}")" > "$log"
        start=$SECONDS
        if "${cmd[@]}" >> "$log" 2>&1; then rc=0; else rc=$?; fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$r" "$batch" "$rc" "$name/performance_summary.json" "$name.log" \
            >> "$MANIFEST"
        if [[ $rc -eq 0 ]]; then
            echo "  done in $((SECONDS - start)) s"
        else
            echo "$PROG: run $r with $(describe "$n") FAILED (exit status $rc); see $log; its last lines:" >&2
            tail -n 3 "$log" | sed 's/^/    /' >&2
            FAILED+=("$name")
        fi
    done
done

# ------------------------------------------------------------------- report
echo
report_rc=0
title="TinyOpenFold $SCALING scaling, $LAUNCHER launcher, $STEPS steps, $RUNS run(s) per count"
[[ $UNIT == gpu ]] || title="TinyOpenFold $SCALING scaling, CPU processes (gloo), $STEPS steps, $RUNS run(s) per count"
"$PY" "$HERE/scaling_report.py" "$MANIFEST" --format full --unit "$UNIT" --scaling "$SCALING" \
    --output-dir "$OUTPUT_DIR" --title "$title" || report_rc=$?
echo
echo "All results in $OUTPUT_DIR"
if [[ ${#FAILED[@]} -gt 0 ]]; then
    echo "$PROG: ${#FAILED[@]} run(s) failed: ${FAILED[*]} (logs in $OUTPUT_DIR)" >&2
fi
[[ $report_rc -eq 0 ]] || exit "$report_rc"  # 1: every run failed (scaling_report.py says why)
[[ ${#FAILED[@]} -eq 0 ]] || exit 1
