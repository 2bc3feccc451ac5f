"""Where a step's GPU sits idle: the gaps between its kernels in a Chrome trace.

    python3 results/h100_2026-12-06c/trace_gaps.py TRACE.json [MIN_GAP_US] [TOP]

Reads the GPU events of a torch.profiler Chrome trace (kernels, memcpy, memset; the
trace may be gzipped),
merges those that overlap, and prints the total busy and idle time between the
first and the last one, the idle time in gaps of at least MIN_GAP_US (default 5)
microseconds, and the TOP (default 15) longest gaps with the kernels on either side and
the host's CUDA runtime calls (cudaGraphLaunch, cudaStreamSynchronize, cudaFree, ...)
that overlap each gap: a gap the host left, or one it waited through.
Written to find call 10's and call 12's 0.9 ms a medium step outside the kernels.
"""
import gzip
import json
import sys

GPU_CATS = {"kernel", "gpu_memcpy", "gpu_memset"}


def spans(events, cats):
    return sorted((e["ts"], e["ts"] + e.get("dur", 0), e["name"]) for e in events
                  if e.get("ph") == "X" and e.get("cat") in cats)


def load(path):
    """The trace's events; a gzipped trace (.json.gz) is read as it is."""
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        return json.load(f)["traceEvents"]


def idle_gaps(events):
    """(gaps, busy, end) of time-sorted GPU spans: each gap (length, the event before,
    the event after, its start), the busy time with overlapping events merged, and the
    end of the last event."""
    gaps, busy, end, last = [], 0.0, events[0][0], events[0][2]
    for start, stop, name in events:
        if start > end:
            gaps.append((start - end, last, name, end))
        busy += max(0.0, stop - max(start, end))
        if stop > end:
            end, last = stop, name
    return gaps, busy, end


def runtime_calls(runtime, start, stop):
    """The names of the runtime calls overlapping [start, stop], with their overlap in us."""
    seen = {}
    for a, b, name in runtime:
        if a < stop and b > start:
            seen[name] = seen.get(name, 0.0) + min(b, stop) - max(a, start)
    return ", ".join(f"{n} {t:.0f}" for n, t in sorted(seen.items(), key=lambda kv: -kv[1])[:4]) or "none"


def main():
    path = sys.argv[1]
    min_gap = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    trace = load(path)
    events, runtime = spans(trace, GPU_CATS), spans(trace, {"cuda_runtime", "cuda_driver"})
    if not events:
        sys.exit(f"{path}: no GPU events")
    gaps, busy, end = idle_gaps(events)
    span = end - events[0][0]
    idle = sum(g[0] for g in gaps)
    big = [g for g in gaps if g[0] >= min_gap]
    print(f"{path}: {len(events)} GPU events over {span / 1e3:.3f} ms: busy {busy / 1e3:.3f} ms, "
          f"idle {idle / 1e3:.3f} ms in {len(gaps)} gaps, {sum(g[0] for g in big) / 1e3:.3f} ms "
          f"in {len(big)} gaps of {min_gap:g} us or more")
    for gap, before, after, begin in sorted(big, reverse=True)[:top]:
        host = runtime_calls(runtime, begin, begin + gap)
        print(f"  {gap:9.1f} us  after {before[:70]}\n{'':15}before {after[:70]}\n{'':15}host: {host}")


if __name__ == "__main__":
    main()
