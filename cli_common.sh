# shellcheck shell=bash
# Helpers shared by run.sh, quick_scaling_test.sh and run_deepspeed_flops.sh.
# Source it after setting PROG (the script's name, for messages) and, for
# describe, UNIT ("gpu" or "cpu"); for shape_option, an array SHAPE_ARGS.

die() {  # one line on stderr, exit 2
    echo "$PROG: error: $*" >&2
    exit 2
}

positive_int() {  # positive_int FLAG VALUE (at most 9 digits: bash's arithmetic must not wrap)
    [[ "$2" =~ ^[1-9][0-9]{0,8}$ ]] || die "$1: expected a positive integer below 10^9, got '$2'"
}

shape_option() {  # shape_option FLAG VALUE: check a model-shape flag, append it to the caller's SHAPE_ARGS
    case "$1" in
        --preset) [[ "$2" =~ ^(tiny|small|medium|long)$ ]] ||
                      die "--preset: expected tiny, small, medium or long, got '$2'" ;;
        *) positive_int "$1" "$2" ;;
    esac
    SHAPE_ARGS+=("$1" "$2")
}

parse_counts() {  # parse_counts FLAG "1 2" EXAMPLE -> the sorted distinct counts, one a line
    local flag="$1" list="${2//,/ }" example="$3" n
    local -a items
    read -r -a items <<< "$list"
    [[ ${#items[@]} -gt 0 ]] || die "$flag: expected a list of counts like \"$example\", got '$2'"
    for n in "${items[@]}"; do positive_int "$flag" "$n"; done
    printf '%s\n' "${items[@]}" | sort -n -u
}

describe() {  # describe N -> "1 GPU", "2 GPUs", "1 CPU process", "2 CPU processes"
    local word=GPU
    [[ $UNIT == gpu ]] || word="CPU process"
    if [[ $1 -eq 1 ]]; then echo "1 $word"; elif [[ $UNIT == gpu ]]; then echo "$1 ${word}s"; else echo "$1 ${word}es"; fi
}
