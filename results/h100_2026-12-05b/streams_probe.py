"""Probe (eighteenth session, 2026-12-05): would a step split into batch parts that run
side by side on CUDA streams beat one step on the whole batch?

For a preset and a path, and for each part count k in PARTS: build k independent copies
of the path's graphed training step (benchmark_step, batch B/k each), then time with CUDA
events, as graph replays only (no input copies):
  one   - one part's graph alone
  seq   - the k graphs one after another on one stream
  par   - the k graphs on k streams, forked from and joined back to the main stream
k = 1 is the path as --benchmark times it. If par at k = 2 is well below k = 1, one
graph holding both halves of a batch (gradients summed) would be worth building.

Usage: PYTHONPATH=. python streams_probe.py PRESET PATH [PARTS=1,2,4] [DEADLINE_S]
"""
import dataclasses
import sys
import time

import torch

import tiny_openfold_v1 as t


def timed(fn, n: int = 100, warm: int = 10) -> float:
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(n):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / n


def main() -> None:
    preset, path = sys.argv[1], sys.argv[2]
    parts = [int(k) for k in (sys.argv[3] if len(sys.argv) > 3 else "1,2,4").split(",")]
    deadline = time.time() + (float(sys.argv[4]) if len(sys.argv) > 4 else 1e9)
    args = t.build_parser().parse_args(["--preset", preset, "--use-amp", "--peer-ping"])
    cfg, tc = t.configs_from_args(args)[:2]
    device = t.select_device(tc.device)
    batch = t.PRESETS[preset]["batch_size"]
    print(f"{torch.cuda.get_device_name()} torch {torch.__version__}; {preset} B {batch}; {path}", flush=True)
    main_stream = torch.cuda.current_stream()
    for k in parts:
        if batch % k or time.time() > deadline:
            continue
        torch._dynamo.reset()
        t0 = time.time()
        run_tc = dataclasses.replace(tc, batch_size=batch // k, **t.parse_benchmark_path(path))
        steps = [t.benchmark_step(cfg, run_tc, device)[0] for _ in range(k)]
        streams = [torch.cuda.Stream() for _ in range(k)]

        def seq():
            for s in steps:
                s.graph.replay()

        def par():
            for st in streams:
                st.wait_stream(main_stream)
            for s, st in zip(steps, streams):
                with torch.cuda.stream(st):
                    s.graph.replay()
            for st in streams:
                main_stream.wait_stream(st)

        one = timed(steps[0].graph.replay)
        row = f"k {k}: B {batch // k} a part; one {one:.3f} ms, seq {timed(seq):.3f} ms, par {timed(par):.3f} ms"
        print(f"{row}  (built in {time.time() - t0:.0f} s)", flush=True)
        steps.clear()
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
