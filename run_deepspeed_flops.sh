#!/usr/bin/env bash
# FLOP counts (analytic, FlopCounterMode, DeepSpeed), TFLOP/s, MFU and a
# per-module roofline for TinyOpenFold, on one GPU, several GPUs, or the CPU.
# Every run writes into one output directory; see --help.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python}"
PROG="run_deepspeed_flops.sh"

usage() {
    cat <<EOF
Usage: $PROG [options]

Runs flops_analysis.py: the forward FLOPs counted three ways (analytic,
PyTorch's FlopCounterMode, DeepSpeed's FLOPS profiler), timed training steps
with achieved TFLOP/s and MFU, and optionally a per-module roofline.

Where it runs (default: GPU 0 if a GPU is visible, else the CPU):
  --device N          one GPU, index N
  --multi-gpu         every visible GPU, one independent process each, then
                      an aggregate report (per-GPU variance, not scaling)
  --devices "0,1,2"   these GPUs, as --multi-gpu
  --cpu               the CPU, even if a GPU is visible

What it measures:
  --roofline          per-module roofline table, roofline.csv/.json/.png
  --intensity         arithmetic-intensity table (the same table as --roofline)
  --all               --roofline and --intensity, plus a short profiled
                      training run of tiny_openfold_v1.py (TensorBoard trace,
                      per-module time tables) in OUTPUT_DIR/training
  --measure-peaks     measure peak FLOP/s and bandwidth instead of the table
                      (for --roofline, --intensity or --all; alone it does nothing)
  --use-amp           bf16 autocast
  --steps N           timed training steps (flops_analysis.py default: 10)

Model shape (default: the preset's):
  --preset NAME       tiny, small, medium or long (default: small)
  --batch-size N      --seq-len N      --num-blocks N      --num-seqs N

Output:
  --output-dir DIR    default: ./deepspeed_flops_<timestamp>
  -h, --help          this help

Layout: DIR/gpuN/ (or DIR/cpu/) holds flops_report.json/.txt,
deepspeed_profile.txt and the roofline files; multi-GPU runs add DIR/gpuN.log
per GPU and DIR/aggregate.json. Set PYTHON to choose the interpreter.
EOF
}

# shellcheck source=cli_common.sh
source "$HERE/cli_common.sh"

# ---------------------------------------------------------------- arguments
DEVICE=""
DEVICES=""
MULTI_GPU=0
FORCE_CPU=0
RUN_ALL=0
OUTPUT_DIR=""
SHAPE_ARGS=()   # the model-shape flags, passed to both Python scripts
ANALYSIS_ARGS=()  # flags for flops_analysis.py only

while [[ $# -gt 0 ]]; do
    opt="$1"
    case "$opt" in
        -h|--help) usage; exit 0 ;;
        --multi-gpu) MULTI_GPU=1; shift; continue ;;
        --cpu) FORCE_CPU=1; shift; continue ;;
        --all) RUN_ALL=1; shift; continue ;;
        --roofline|--intensity|--measure-peaks|--use-amp) ANALYSIS_ARGS+=("$opt"); shift; continue ;;
        --device|--devices|--batch-size|--seq-len|--num-blocks|--num-seqs|--steps|--preset|--output-dir)
            [[ $# -ge 2 ]] || die "$opt: missing value"
            value="$2"
            shift 2 ;;
        *) die "unknown option '$opt' (see --help)" ;;
    esac
    case "$opt" in
        --device) [[ "$value" =~ ^[0-9]+$ ]] || die "--device: expected a GPU index, got '$value'"; DEVICE="$value" ;;
        --devices) [[ "$value" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--devices: expected a list like \"0,1,2\", got '$value'"
                   DEVICES="$value" ;;
        --preset|--batch-size|--seq-len|--num-blocks|--num-seqs) shape_option "$opt" "$value" ;;
        --steps) positive_int "$opt" "$value"; ANALYSIS_ARGS+=("$opt" "$value") ;;
        --output-dir) [[ -n "$value" ]] || die "--output-dir: empty path"; OUTPUT_DIR="$value" ;;
    esac
done

chosen=$(( MULTI_GPU + FORCE_CPU + (${#DEVICE} > 0) + (${#DEVICES} > 0) ))
[[ $chosen -le 1 ]] || die "choose one of --device, --devices, --multi-gpu and --cpu"
if [[ $RUN_ALL -eq 1 ]]; then
    ANALYSIS_ARGS+=(--roofline --intensity)
fi
OUTPUT_DIR="${OUTPUT_DIR:-./deepspeed_flops_$(date +%Y%m%d_%H%M%S)}"
command -v "$PY" >/dev/null 2>&1 || die "PYTHON=$PY: no such interpreter"
"$PY" -c 'import torch' 2>/dev/null || die "could not import torch with $PY (set PYTHON to the right interpreter)"

# ------------------------------------------------------------- which devices
gpu_count() {
    "$PY" -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)' 2>/dev/null
}

TARGETS=()  # "cpu" or GPU indices
check_gpu() {  # check_gpu FLAG INDEX: die unless GPU INDEX exists
    if [[ "$2" -ge "$N_GPU" ]]; then
        if [[ "$N_GPU" -eq 0 ]]; then die "$1 $2: no GPU is visible (use --cpu)"; fi
        die "$1 $2: no such GPU ($N_GPU visible: 0..$((N_GPU - 1)))"
    fi
}

if [[ $FORCE_CPU -eq 1 ]]; then
    TARGETS=(cpu)
else
    N_GPU="$(gpu_count)" || die "could not ask torch with $PY how many GPUs are visible"
    if [[ $MULTI_GPU -eq 1 ]]; then
        [[ $N_GPU -gt 0 ]] || die "--multi-gpu: no GPU is visible (use --cpu)"
        for ((i = 0; i < N_GPU; i++)); do TARGETS+=("$i"); done
    elif [[ -n "$DEVICES" ]]; then
        IFS=',' read -r -a TARGETS <<< "$DEVICES"
        for t in "${TARGETS[@]}"; do check_gpu "--devices: GPU" "$t"; done
    elif [[ -n "$DEVICE" ]]; then
        check_gpu --device "$DEVICE"
        TARGETS=("$DEVICE")
    elif [[ $N_GPU -gt 0 ]]; then
        TARGETS=(0)
    else
        echo "No GPU visible: running on the CPU."
        TARGETS=(cpu)
    fi
fi

# created only now, so that a refused device or interpreter leaves no empty folder behind
mkdir -p "$OUTPUT_DIR" 2>/dev/null || die "--output-dir $OUTPUT_DIR: cannot create it"

target_dir() {  # target_dir cpu|N -> the per-device output directory
    if [[ "$1" == cpu ]]; then echo "$OUTPUT_DIR/cpu"; else echo "$OUTPUT_DIR/gpu$1"; fi
}

analyse() {  # analyse cpu|N [extra flags...]
    local target="$1"
    shift
    "$PY" "$HERE/flops_analysis.py" --device "$target" --output-dir "$(target_dir "$target")" \
        "${SHAPE_ARGS[@]}" "${ANALYSIS_ARGS[@]}" "$@"
}

# ------------------------------------------------------------------ the runs
if [[ $MULTI_GPU -eq 0 && -z "$DEVICES" ]]; then
    analyse "${TARGETS[0]}"
else
    echo "Launching ${#TARGETS[@]} independent analyses concurrently (GPUs ${TARGETS[*]}); logs in $OUTPUT_DIR/gpuN.log"
    PIDS=()
    for t in "${TARGETS[@]}"; do
        analyse "$t" > "$OUTPUT_DIR/gpu$t.log" 2>&1 &
        PIDS+=("$!")
    done
    FAILED=0
    for i in "${!TARGETS[@]}"; do
        if ! wait "${PIDS[$i]}"; then
            echo "$PROG: GPU ${TARGETS[$i]} failed; see $OUTPUT_DIR/gpu${TARGETS[$i]}.log" >&2
            FAILED=1
        fi
    done
    [[ $FAILED -eq 0 ]] || exit 1
    DIRS=()
    for t in "${TARGETS[@]}"; do DIRS+=("$(target_dir "$t")"); done
    "$PY" "$HERE/flops_analysis.py" --aggregate "${DIRS[@]}" --output-dir "$OUTPUT_DIR"
fi

if [[ $RUN_ALL -eq 1 ]]; then
    TRAIN_DEVICE="${TARGETS[0]}"
    AMP=()
    for a in "${ANALYSIS_ARGS[@]}"; do
        if [[ "$a" == --use-amp ]]; then AMP=(--use-amp); fi
    done
    # On a CPU the PyTorch profiler keeps every warm-up and recorded step's events in memory,
    # 2-3 GB a step at the default size (2026-12-07, 2-core CPU): there 1 + 2 steps, not 3 + 5.
    PROFILED=(--num-steps 12 --warmup-steps 3 --profile-steps 5)
    [[ $TRAIN_DEVICE != cpu ]] || PROFILED=(--num-steps 8 --warmup-steps 1 --profile-steps 2)
    echo "Profiled training run of tiny_openfold_v1.py on ${TRAIN_DEVICE} (output in $OUTPUT_DIR/training)..."
    rc=0
    "$PY" "$HERE/tiny_openfold_v1.py" --enable-all-profiling --profile-dir "$OUTPUT_DIR/training" \
        --checkpoint-dir "$OUTPUT_DIR/training/checkpoints" "${PROFILED[@]}" --eval-samples 16 \
        --device "$TRAIN_DEVICE" "${SHAPE_ARGS[@]}" "${AMP[@]}" || rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "$PROG: the profiled training run failed (exit status $rc$([[ $rc -ne 137 ]] || echo ': killed, most likely out of memory')); the FLOP and roofline reports above are in $OUTPUT_DIR. The profiler holds its events in memory: try a smaller --preset (tiny)." >&2
        exit 1
    fi
fi

echo "All results in $OUTPUT_DIR"
