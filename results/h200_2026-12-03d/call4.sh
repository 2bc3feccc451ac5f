#!/bin/bash
# Device call 4 of 2026-12-03d (run as this exact sed of call3.sh): the helper works on
# the GPU until clock_probe.py's setup is over, then exits (no second process while the
# probe is timed). Outputs went to $OUT/p4.
sed -e 's#^while not os.path.exists(.$D/done.):#while False:#' -e 's#D=$OUT/p3#D=$OUT/p4#' \
    results/h200_2026-12-03d/call3.sh > /tmp/c4.sh && bash /tmp/c4.sh
