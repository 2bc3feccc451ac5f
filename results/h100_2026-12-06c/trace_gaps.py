"""Where a step's GPU sits idle: the gaps between its kernels in a Chrome trace.

    python3 results/h100_2026-12-06c/trace_gaps.py TRACE.json [MIN_GAP_US] [TOP]

Reads the GPU events of a torch.profiler Chrome trace (kernels, memcpy, memset),
merges those that overlap, and prints the total busy and idle time between the
first and the last one, the idle time in gaps of at least MIN_GAP_US (default 5)
microseconds, and the TOP (default 15) longest gaps with the kernels on either side.
Written to find call 10's and call 12's 0.9 ms a medium step outside the kernels.
"""
import json
import sys

GPU_CATS = {"kernel", "gpu_memcpy", "gpu_memset"}


def gpu_events(path):
    with open(path) as f:
        events = json.load(f)["traceEvents"]
    return sorted((e["ts"], e["ts"] + e.get("dur", 0), e["name"]) for e in events
                  if e.get("ph") == "X" and e.get("cat") in GPU_CATS)


def main():
    path = sys.argv[1]
    min_gap = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    events = gpu_events(path)
    if not events:
        sys.exit(f"{path}: no GPU events")
    gaps, busy, end, last = [], 0.0, events[0][0], events[0][2]
    for start, stop, name in events:
        if start > end:
            gaps.append((start - end, last, name))
        busy += max(0.0, stop - max(start, end))
        if stop > end:
            end, last = stop, name
    span = end - events[0][0]
    idle = sum(g for g, _, _ in gaps)
    big = [g for g in gaps if g[0] >= min_gap]
    print(f"{path}: {len(events)} GPU events over {span / 1e3:.3f} ms: busy {busy / 1e3:.3f} ms, "
          f"idle {idle / 1e3:.3f} ms in {len(gaps)} gaps, {sum(g for g, _, _ in big) / 1e3:.3f} ms "
          f"in {len(big)} gaps of {min_gap:g} us or more")
    for gap, before, after in sorted(big, reverse=True)[:top]:
        print(f"  {gap:9.1f} us  after {before[:70]}\n{'':15}before {after[:70]}")


if __name__ == "__main__":
    main()
