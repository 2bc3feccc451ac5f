#!/usr/bin/env python3
"""Scaling tables and plots from the performance_summary.json files of a study.

quick_scaling_test.sh and run.sh run tiny_openfold_v1.py once per GPU (or CPU
process) count and run, and list every run in a manifest, a tab-separated file
with this header and one row per run:

    count  run  global_batch  exit_status  summary  log

`summary` and `log` are paths relative to the manifest's folder. This script
reads each run's summary (never its log), and prints a table; with
--output-dir it also writes:

    summary.txt  the printed table, with the definitions below
    summary.csv  one row per count: mean and std of throughput, speedup,
                 efficiency, step time, TFLOP/s and MFU
    runs.csv     one row per run
    scaling.png  throughput, speedup and efficiency against the count
                 (skipped, with a one-line note, if matplotlib is missing)

Definitions:
  throughput  performance_summary.avg_training_speed: GLOBAL samples/s over
              the timed steps (warm-up steps excluded)
  base        the smallest count with a successful run, normally 1
  speedup     throughput_N / mean throughput_base
  efficiency  speedup / (N / base); with base 1 this is speedup / N
  mean, std   over the successful runs of a count; std is the SAMPLE standard
              deviation (n - 1 in the denominator), left empty for one run.
              A run's speedup divides its throughput by the base's MEAN
              throughput, so the speedup's std is std(throughput_N) / mean
              throughput_base.

A run counts as failed if its exit status is not 0, its summary is missing or
unreadable, its status is not "completed", or it had no timed steps; failed
runs are listed with their logs and never stop the report.

Exit status: 0 when the report was written and at least one run succeeded
(some may have failed), 1 when it was written but every run failed (nothing
to compare: e.g. too few steps, so none was timed), 2 on bad input (a missing
or malformed manifest, bad options).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import sys
from dataclasses import dataclass, field
from typing import Optional

MANIFEST_COLUMNS = ["count", "run", "global_batch", "exit_status", "summary", "log"]
UNIT_LABELS = {"gpu": "GPUs", "cpu": "CPU processes"}
UNIT_WORDS = {"gpu": ("GPU", "GPUs"), "cpu": ("CPU process", "CPU processes")}


class UsageError(Exception):
    """Bad input: reported as one line on stderr, exit status 2."""


@dataclass
class Run:
    """One training run: what the manifest says plus what its summary says."""

    count: int
    run: int
    global_batch: Optional[int]
    exit_status: int
    summary_path: str
    log: str  # as written in the manifest (relative to it)
    error: Optional[str] = None  # why the run failed; None if it succeeded
    throughput: Optional[float] = None
    step_time_ms: Optional[float] = None
    tflops: Optional[float] = None
    mfu: Optional[float] = None
    peak_memory_mb: Optional[float] = None
    parallel: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Row:
    """The runs of one count, aggregated."""

    count: int
    runs: list
    global_batch: Optional[int] = None
    stats: dict = field(default_factory=dict)  # name -> (mean, std) or None

    @property
    def ok_runs(self) -> list:
        return [r for r in self.runs if r.ok]


# ----------------------------------------------------------------- reading

def read_manifest(path: str) -> list[Run]:
    """Parse the manifest; paths in it are relative to its folder."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f, delimiter="\t"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from None
    if not rows or rows[0] != MANIFEST_COLUMNS:
        raise UsageError(f"{path}: not a manifest (expected the header {' '.join(MANIFEST_COLUMNS)})")
    base = os.path.dirname(os.path.abspath(path))
    runs = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(MANIFEST_COLUMNS):
            raise UsageError(f"{path}:{lineno}: expected {len(MANIFEST_COLUMNS)} tab-separated fields, got {len(row)}")
        try:
            count, run, exit_status = int(row[0]), int(row[1]), int(row[3])
            batch = int(row[2]) if row[2] else None
        except ValueError:
            raise UsageError(f"{path}:{lineno}: count, run, global_batch and exit_status must be integers") from None
        if count < 1:
            raise UsageError(f"{path}:{lineno}: count must be positive, got {count}")
        runs.append(Run(count, run, batch, exit_status, os.path.join(base, row[4]), row[5]))
    if not runs:
        raise UsageError(f"{path}: the manifest lists no runs")
    return runs


def _number(value) -> Optional[float]:
    """A finite float, or None for null/missing/non-numeric values."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def load_summary(run: Run) -> None:
    """Fill in `run` from its performance_summary.json, or set run.error."""
    if run.exit_status != 0:
        run.error = f"exit status {run.exit_status}"
        if run.exit_status == 130:
            run.error += " (interrupted)"
        return
    try:
        with open(run.summary_path) as f:
            data = json.load(f)
    except FileNotFoundError:
        run.error = "no performance_summary.json"
        return
    except (OSError, ValueError) as exc:
        run.error = f"unreadable performance_summary.json ({exc})"
        return
    if not isinstance(data, dict):
        run.error = "performance_summary.json is not a JSON object"
        return
    perf = data.get("performance_summary") or {}
    flops = data.get("flops") or {}
    run.throughput = _number(perf.get("avg_training_speed"))
    run.step_time_ms = _number(perf.get("avg_batch_time_ms"))
    run.peak_memory_mb = _number(perf.get("peak_memory_mb"))
    run.tflops = _number(flops.get("achieved_tflops"))
    run.mfu = _number(flops.get("mfu"))
    run.parallel = data.get("parallel") or {}
    batch = (data.get("train_config") or {}).get("batch_size")
    if isinstance(batch, int) and not isinstance(batch, bool):
        if run.global_batch is not None and batch != run.global_batch:
            run.warnings.append(f"summary says batch {batch}, the script asked for {run.global_batch}")
        run.global_batch = batch
    world = run.parallel.get("world_size")
    if run.parallel.get("mode") == "ddp" and isinstance(world, int) and world != run.count:
        run.warnings.append(f"DDP world size {world}, expected {run.count}")
    status = data.get("status")
    if status != "completed":
        run.error = f"status {status!r}"
    elif run.throughput is None or run.throughput <= 0:
        run.error = "no timed steps (the number of steps must exceed the warm-up steps)"


# --------------------------------------------------------------- computing

def mean_std(values: list) -> Optional[tuple]:
    """(mean, sample std) of the non-None values; std is None for fewer than 2."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else None
    return statistics.fmean(values), std


def aggregate(runs: list[Run]) -> tuple[list[Row], Optional[int]]:
    """Group the runs by count and compute the statistics.

    Returns the rows sorted by count and the base count (the smallest count
    with a successful run; None if every run failed).
    """
    rows = {}
    for run in runs:
        rows.setdefault(run.count, Row(run.count, [])).runs.append(run)
    rows = [rows[c] for c in sorted(rows)]
    for row in rows:
        batches = {r.global_batch for r in row.runs if r.global_batch is not None}
        row.global_batch = min(batches) if batches else None
        ok = row.ok_runs
        for name in ("throughput", "step_time_ms", "tflops", "mfu", "peak_memory_mb"):
            row.stats[name] = mean_std([getattr(r, name) for r in ok])
    base_row = next((row for row in rows if row.ok_runs), None)
    if base_row is None:
        return rows, None
    base_thr = base_row.stats["throughput"][0]
    for row in rows:
        ratio = row.count / base_row.count
        speedups = [r.throughput / base_thr for r in row.ok_runs]
        row.stats["speedup"] = mean_std(speedups)
        row.stats["efficiency"] = mean_std([s / ratio for s in speedups])
    return rows, base_row.count


# ----------------------------------------------------------------- writing

def _fmt(stat: Optional[tuple], spec: str, scale: float = 1.0, suffix: str = "", with_std: bool = True) -> str:
    if stat is None:
        return "n/a"
    mean, std = stat
    text = f"{mean * scale:{spec}}{suffix}"
    if with_std and std is not None:
        text += f" ± {std * scale:{spec}}{suffix}"
    return text


def peak_max(row: Row) -> Optional[float]:
    """The highest peak memory of a count's successful runs (MB), or None."""
    peaks = [r.peak_memory_mb for r in row.ok_runs if r.peak_memory_mb is not None]
    return max(peaks) if peaks else None


def _failure_text(row: Row) -> str:
    failed = [r for r in row.runs if not r.ok]
    return "; ".join(f"run {r.run} FAILED ({r.error}; see {r.log})" for r in failed)


def _table(header: list[str], body: list[list[str]], failures: dict) -> list[str]:
    """Right-aligned columns separated by ' | '; `failures` maps a body row
    index to text that replaces every cell after the first."""
    widths = [len(h) for h in header]
    for i, cells in enumerate(body):
        if i in failures:
            widths[0] = max(widths[0], len(cells[0]))
            continue
        widths = [max(w, len(c)) for w, c in zip(widths, cells)]
    lines = [" | ".join(h.rjust(w) if j else h.ljust(w) for j, (h, w) in enumerate(zip(header, widths))).rstrip()]
    lines.append("-" * len(lines[0]))
    for i, cells in enumerate(body):
        if i in failures:
            lines.append(f"{cells[0].rjust(widths[0])} | {failures[i]}")
        else:
            lines.append(" | ".join(c.rjust(w) for c, w in zip(cells, widths)))
    return lines


def brief_table(rows: list[Row], unit: str) -> list[str]:
    """GPUs | Throughput (samples/s) | Speedup | Efficiency (means only)."""
    header = [UNIT_LABELS[unit], "Throughput (samples/s)", "Speedup", "Efficiency"]
    body, failures = [], {}
    for i, row in enumerate(rows):
        s = row.stats
        body.append([str(row.count), _fmt(s["throughput"], ".1f", with_std=False),
                     _fmt(s.get("speedup"), ".2f", suffix="x", with_std=False),
                     _fmt(s.get("efficiency"), ".1f", 100, "%", with_std=False)])
        if not row.ok_runs:
            failures[i] = _failure_text(row)
    return _table(header, body, failures)


def full_table(rows: list[Row], unit: str) -> list[str]:
    """Mean ± std of every measure, the number of successful runs, the batch."""
    header = [UNIT_LABELS[unit], "Runs ok", "Global batch", "Throughput (samples/s)", "Speedup", "Efficiency",
              "Step time (ms)", "TFLOP/s", "MFU", "Peak memory (MB, max)"]
    body, failures = [], {}
    for i, row in enumerate(rows):
        s, peak = row.stats, peak_max(row)
        body.append([str(row.count), f"{len(row.ok_runs)}/{len(row.runs)}",
                     str(row.global_batch) if row.global_batch is not None else "?",
                     _fmt(s["throughput"], ".1f"), _fmt(s.get("speedup"), ".2f", suffix="x"),
                     _fmt(s.get("efficiency"), ".1f", 100, "%"), _fmt(s["step_time_ms"], ".1f"),
                     _fmt(s["tflops"], ".3f"), _fmt(s["mfu"], ".2f", 100, "%"),
                     _fmt(None if peak is None else (peak, None), ".0f")])
        if not row.ok_runs:
            failures[i] = _failure_text(row)
    return _table(header, body, failures)


def notes(rows: list[Row], base: Optional[int], unit: str, scaling: Optional[str], full: bool) -> list[str]:
    """The definitions and the failures, as lines under the table."""
    one, many = UNIT_WORDS[unit]
    out = []
    if base is None:
        out.append("Every run failed: no throughput to compare.")
    elif base == 1:
        out.append(f"Speedup = throughput / throughput with 1 {one}; efficiency = speedup / N (ideal: 1.00x per "
                   f"{one}, 100%).")
    else:
        out.append(f"Normalised by {base} {many} (the smallest count that ran): speedup = throughput / "
                   f"throughput with {base} {many}, efficiency = speedup / (N / {base}).")
    if scaling == "weak":
        out.append(f"Weak scaling: a constant batch per {one}, so the global batch grows with N.")
    elif scaling == "strong":
        out.append(f"Strong scaling: a fixed global batch, split over the {many}.")
    if full:
        out.append("Mean ± sample standard deviation (n - 1) over the successful runs (no ± with one run); "
                   "a run's speedup divides its throughput by the base's mean throughput.")
    for row in rows:
        for run in row.runs:
            if not run.ok and row.ok_runs:  # rows with no success already show it in the table
                out.append(f"{row.count} {many if row.count > 1 else one}, run {run.run}: FAILED ({run.error}); "
                           f"see {run.log}")
            for warning in run.warnings:
                out.append(f"Warning: {row.count} {many if row.count > 1 else one}, run {run.run}: {warning}")
    return out


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_summary_csv(rows: list[Row], path: str) -> None:
    names = ["throughput", "speedup", "efficiency", "step_time_ms", "tflops", "mfu"]
    header = ["count", "global_batch", "runs", "runs_ok", "runs_failed"]
    for name in names:
        header += [f"{name}_mean", f"{name}_std"]
    header.append("peak_memory_mb_max")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            cells = [row.count, row.global_batch, len(row.runs), len(row.ok_runs), len(row.runs) - len(row.ok_runs)]
            for name in names:
                stat = row.stats.get(name)
                cells += [stat[0], stat[1]] if stat else [None, None]
            cells.append(peak_max(row))
            w.writerow([_csv_value(c) for c in cells])


def write_runs_csv(rows: list[Row], path: str) -> None:
    header = ["count", "run", "global_batch", "exit_status", "ok", "error", "throughput", "step_time_ms", "tflops",
              "mfu", "peak_memory_mb", "parallel_mode", "world_size", "backend", "log"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            for r in sorted(row.runs, key=lambda r: r.run):
                w.writerow([_csv_value(c) for c in (
                    r.count, r.run, r.global_batch, r.exit_status, int(r.ok), r.error or "", r.throughput,
                    r.step_time_ms, r.tflops, r.mfu, r.peak_memory_mb, r.parallel.get("mode"),
                    r.parallel.get("world_size"), r.parallel.get("backend"), r.log)])


def plot(rows: list[Row], base: Optional[int], unit: str, title: str, path: str) -> str:
    """Write scaling.png; returns a one-line note of what happened."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return f"matplotlib is not installed: {os.path.basename(path)} skipped (pip install matplotlib)"
    good = [row for row in rows if row.ok_runs]
    if base is None or not good:
        return f"no successful run: {os.path.basename(path)} skipped"
    xs = [row.count for row in good]

    def series(name, scale=1.0):
        means = [row.stats[name][0] * scale for row in good]
        stds = [(row.stats[name][1] or 0.0) * scale for row in good]
        return means, stds

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    label = UNIT_LABELS[unit]
    panels = [("throughput", 1.0, "Throughput (samples/s)", None),
              ("speedup", 1.0, f"Speedup vs {base} {label if base > 1 else UNIT_WORDS[unit][0]}",
               [x / base for x in xs]),
              ("efficiency", 100.0, "Efficiency (%)", [100.0] * len(xs))]
    for ax, (name, scale, ylabel, ideal) in zip(axes, panels):
        means, stds = series(name, scale)
        ax.errorbar(xs, means, yerr=stds, marker="o", capsize=4, label="measured")
        if ideal is not None:
            ax.plot(xs, ideal, "--", color="gray", label="ideal")
            ax.legend()
        ax.set_xlabel(label)
        ax.set_ylabel(ylabel)
        ax.set_xticks(xs)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(bottom=0)
    axes[2].set_ylim(bottom=0)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return f"plot written to {path}"


# -------------------------------------------------------------------- main

class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line on stderr, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_args(argv):
    p = Parser(prog="scaling_report.py", description=__doc__.split("\n\n")[0],
               epilog="See the module docstring for the manifest format and the definitions.")
    p.add_argument("manifest", help="the runs' manifest (TSV written by run.sh / quick_scaling_test.sh)")
    p.add_argument("--output-dir", help="write summary.txt, summary.csv, runs.csv and scaling.png here")
    p.add_argument("--unit", choices=sorted(UNIT_LABELS), default="gpu", help="what a count counts (default: gpu)")
    p.add_argument("--format", choices=["full", "brief"], default="full",
                   help="full: mean ± std of every measure; brief: count, throughput, speedup, efficiency")
    p.add_argument("--scaling", choices=["weak", "strong"], help="say which in the notes")
    p.add_argument("--title", default="TinyOpenFold scaling", help="title of the table and the plot")
    p.add_argument("--no-plot", action="store_true", help="do not write scaling.png")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        runs = read_manifest(args.manifest)
        if args.output_dir:
            os.makedirs(args.output_dir, exist_ok=True)
    except UsageError as exc:
        print(f"scaling_report.py: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"scaling_report.py: error: --output-dir {args.output_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for run in runs:
        load_summary(run)
    rows, base = aggregate(runs)
    full = args.format == "full"
    table = full_table(rows, args.unit) if full else brief_table(rows, args.unit)
    text = [args.title, "", *table, "", *notes(rows, base, args.unit, args.scaling, full)]
    print("\n".join(text))
    if args.output_dir:
        with open(os.path.join(args.output_dir, "summary.txt"), "w") as f:
            f.write("\n".join(text) + "\n")
        write_summary_csv(rows, os.path.join(args.output_dir, "summary.csv"))
        write_runs_csv(rows, os.path.join(args.output_dir, "runs.csv"))
        if not args.no_plot:
            print(plot(rows, base, args.unit, args.title, os.path.join(args.output_dir, "scaling.png")))
    return 1 if base is None else 0


if __name__ == "__main__":
    sys.exit(main())
