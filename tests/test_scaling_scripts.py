"""quick_scaling_test.sh, run.sh and scaling_report.py.

Most tests drive the scripts with a fake interpreter (PYTHON=fake): it stands
in for `python -m torch.distributed.run ... tiny_openfold_v1.py` and
`python tiny_openfold_v1.py` (checking the flags it gets), and writes a
performance_summary.json whose throughput depends on the process count and on
how many runs of that count came before:

    throughput(N, k) = 100 * N * EFFICIENCY[N] + 10 * k     (k = 0, 1, ...)

so the speedup, efficiency and standard deviations the scripts report can be
checked against numbers computed here. Everything else (`-c` snippets,
scaling_report.py) goes to the real interpreter. FAKE_GPUS pretends to have
that many GPUs; FAKE_FAIL="2,4" makes those counts exit 1.

The last test runs the real tiny_openfold_v1.py with two gloo CPU processes;
it is skipped until the script has --parallel (DDP).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

import scaling_report

ROOT = Path(__file__).resolve().parent.parent
RUN_SH = ROOT / "run.sh"
QUICK_SH = ROOT / "quick_scaling_test.sh"
REPORT = ROOT / "scaling_report.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}

EFFICIENCY = {1: 1.0, 2: 0.9, 3: 0.85, 4: 0.8, 8: 0.7}


def fake_throughput(n: int, k: int) -> float:
    return 100.0 * n * EFFICIENCY[n] + 10.0 * k


FAKE = r'''#!{python}
import argparse, json, os, sys

REAL = {python!r}
argv = sys.argv[1:]
if argv[:2] == ["-c", "import torch; print(torch.cuda.device_count())"] and "FAKE_GPUS" in os.environ:
    print(os.environ["FAKE_GPUS"])
    sys.exit(0)
script = next((i for i, a in enumerate(argv) if a.endswith("tiny_openfold_v1.py")), None)
if script is None:  # -c snippets, scaling_report.py
    os.execv(REAL, [REAL, *argv])
launcher_args, train_args = argv[:script], argv[script + 1:]
if launcher_args:
    assert launcher_args[:2] == ["-m", "torch.distributed.run"], launcher_args
    assert "--standalone" in launcher_args, launcher_args
    world = int(launcher_args[launcher_args.index("--nproc-per-node") + 1])
    mode = "ddp"
else:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", os.environ.get("HIP_VISIBLE_DEVICES"))
    world = len(visible.split(","))
    mode = "dp"
p = argparse.ArgumentParser()
for flag in ("--parallel", "--device", "--profile-dir", "--checkpoint-dir", "--preset"):
    p.add_argument(flag)
for flag in ("--batch-size", "--num-steps", "--eval-samples", "--seq-len", "--num-seqs", "--num-blocks"):
    p.add_argument(flag, type=int)
p.add_argument("--use-amp", action="store_true")
p.add_argument("--enable-pytorch-profiler", action="store_true")
a = p.parse_args(train_args)  # an unknown flag exits 2, as the real script does
assert a.parallel == mode, (a.parallel, mode)
assert a.batch_size % world == 0, (a.batch_size, world)
print("fake training:", world, mode, a.batch_size, flush=True)
if str(world) in os.environ.get("FAKE_FAIL", "").split(","):
    print("fake: simulated failure", file=sys.stderr)
    sys.exit(1)
state = os.path.join(os.environ["FAKE_STATE"], f"calls_{{world}}")
k = int(open(state).read()) if os.path.exists(state) else 0
open(state, "w").write(str(k + 1))
thr = 100.0 * world * {eff}[world] + 10.0 * k
summary = {{
    "status": "completed",
    "parallel": {{"mode": mode, "world_size": world if mode == "ddp" else 1,
                 "backend": ("gloo" if a.device == "cpu" else "nccl") if mode == "ddp" else None}},
    "train_config": {{"batch_size": a.batch_size, "num_steps": a.num_steps}},
    "performance_summary": {{"avg_training_speed": thr, "avg_batch_time_ms": 1000.0 * a.batch_size / thr,
                            "peak_memory_mb": 100.0 * world}},
    "flops": {{"achieved_tflops": thr / 1000.0, "mfu": thr / 1e5}},
    "system_info": {{}},
    "fake": {{"argv": argv, "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
             "HIP_VISIBLE_DEVICES": os.environ.get("HIP_VISIBLE_DEVICES"),
             "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}},
}}
os.makedirs(a.profile_dir, exist_ok=True)
with open(os.path.join(a.profile_dir, "performance_summary.json"), "w") as f:
    json.dump(summary, f)
print("Summary written", flush=True)
'''


@pytest.fixture
def fake(tmp_path):
    """(path of the fake interpreter, its environment without FAKE_GPUS/FAKE_FAIL)."""
    path = tmp_path / "fakepython"
    path.write_text(FAKE.format(python=sys.executable, eff=EFFICIENCY))
    path.chmod(0o755)
    state = tmp_path / "fake_state"
    state.mkdir()
    env = {k: v for k, v in ENV.items() if k not in ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "OMP_NUM_THREADS")}
    env.update(PYTHON=str(path), FAKE_STATE=str(state))
    return path, env


def run(script, args, cwd, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([str(script), *map(str, args)], cwd=cwd, env=env or ENV, capture_output=True, text=True,
                          timeout=timeout)


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(text: str):
    return float(text) if text != "" else None


def fake_json(folder: Path) -> dict:
    return json.loads((folder / "performance_summary.json").read_text())


# ---------------------------------------------------------------- CLI basics

HELP_OPTIONS = {
    RUN_SH: ["--gpus", "--batch-per-gpu", "--steps", "--runs", "--amp", "--profile", "--output-dir", "--launcher",
             "--scaling", "--global-batch", "--cpu-procs", "--preset", "--seq-len", "--num-seqs", "--num-blocks",
             "--help"],
    QUICK_SH: ["--steps", "--batch-per-gpu", "--output-dir", "--cpu-procs", "--preset", "--seq-len", "--num-seqs",
               "--num-blocks", "--help"],
}


@pytest.mark.parametrize("script", [RUN_SH, QUICK_SH], ids=lambda p: p.name)
def test_help_lists_the_options(script, tmp_path):
    for flag in ("--help", "-h"):
        r = run(script, [flag], tmp_path)
        assert r.returncode == 0 and not r.stderr
        for option in HELP_OPTIONS[script]:
            assert re.search(rf"(^|\s){re.escape(option)}\b", r.stdout), f"{option} missing from {script.name} --help"


BAD_INPUT = [
    (RUN_SH, ["--bogus"], "unknown option '--bogus'"),
    (QUICK_SH, ["--bogus"], "unknown option '--bogus'"),
    (RUN_SH, ["--runs", "0"], "--runs"),
    (RUN_SH, ["--steps"], "--steps: missing value"),
    (RUN_SH, ["--gpus", "1 x"], "--gpus"),
    (RUN_SH, ["--launcher", "mpi"], "--launcher"),
    (RUN_SH, ["--launcher", "dp", "--cpu-procs", "1 2"], "dp needs GPUs"),
    (RUN_SH, ["--gpus", "1 2", "--cpu-procs", "1 2"], "--gpus and --cpu-procs"),
    (RUN_SH, ["--cpu-procs", "1 2", "--global-batch", "16"], "--scaling strong"),
    (RUN_SH, ["--cpu-procs", "1 2", "--scaling", "strong", "--global-batch", "3"], "does not divide by 2"),
    (QUICK_SH, ["--batch-per-gpu", "-1"], "--batch-per-gpu"),
    (QUICK_SH, ["--preset", "huge"], "--preset"),
    (QUICK_SH, ["--cpu-procs", ""], "--cpu-procs"),
    (RUN_SH, ["--batch-per-gpu", "99999999999999999999"], "--batch-per-gpu: expected a positive integer below 10^9"),
    (RUN_SH, ["--cpu-procs", "1 99999999999999999999"], "--cpu-procs: expected a positive integer below 10^9"),
]


@pytest.mark.parametrize("script,args,text", BAD_INPUT, ids=lambda x: x.name if isinstance(x, Path) else None)
def test_bad_input_is_one_line_and_exit_2(script, args, text, tmp_path):
    r = run(script, args, tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], r.stderr
    assert not list(tmp_path.iterdir()), "bad input must not create an output directory"


@pytest.mark.parametrize("script", [RUN_SH, QUICK_SH], ids=lambda p: p.name)
def test_no_gpu_suggests_cpu_procs(script, tmp_path, fake):
    _, env = fake
    r = run(script, [], tmp_path, env={**env, "FAKE_GPUS": "0"})
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "--cpu-procs" in r.stderr, r.stderr


def test_shellcheck_clean():
    shellcheck = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    # -x follows `source cli_common.sh`, so the shared helpers are checked in context too.
    r = subprocess.run([shellcheck, "-x", str(RUN_SH), str(QUICK_SH), str(RUN_SH.parent / "run_deepspeed_flops.sh"),
                        str(RUN_SH.parent / "cli_common.sh")], capture_output=True, text=True, cwd=RUN_SH.parent)
    assert r.returncode == 0, r.stdout


# ----------------------------------------------------------- run.sh, faked

def expected_rows(counts, runs, batch_of):
    """What summary.csv must hold, from the fake's formula (base = smallest count)."""
    rows = {}
    for n in counts:
        thr = [fake_throughput(n, k) for k in range(runs)]
        steps = [1000.0 * batch_of(n) / t for t in thr]
        rows[n] = {"thr": thr, "step": steps}
    base = counts[0]
    base_mean = statistics.fmean(rows[base]["thr"])
    for n, row in rows.items():
        row["speedup"] = [t / base_mean for t in row["thr"]]
        row["efficiency"] = [s / (n / base) for s in row["speedup"]]
        row["mfu"] = [t / 1e5 for t in row["thr"]]
    return rows


def check_stat(row: dict, name: str, values: list):
    assert math.isclose(num(row[f"{name}_mean"]), statistics.fmean(values), rel_tol=1e-9), (name, row)
    if len(values) > 1:
        assert math.isclose(num(row[f"{name}_std"]), statistics.stdev(values), rel_tol=1e-9), (name, row)
    else:
        assert row[f"{name}_std"] == ""


def test_run_sh_cpu_procs_two_runs(tmp_path, fake):
    _, env = fake
    out = tmp_path / "study"
    r = run(RUN_SH, ["--cpu-procs", "1 2", "--runs", "2", "--steps", "7", "--output-dir", out,
                     "--preset", "tiny", "--num-blocks", "1"], tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr

    names = [f"cpu{n}_batch{8 * n}_run{k}" for k in (1, 2) for n in (1, 2)]
    for name in names:
        assert (out / f"{name}.log").read_text().startswith("# command:")
        assert "fake training" in (out / f"{name}.log").read_text()
        summary = fake_json(out / name)
        argv = summary["fake"]["argv"]
        n = int(name[3])
        assert argv[:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(n)]
        train = " ".join(argv[6:])
        for flags in ("--parallel ddp", "--device cpu", f"--batch-size {8 * n}", "--num-steps 7",
                      "--eval-samples 8", "--preset tiny", "--num-blocks 1", f"--profile-dir {out}/{name}"):
            assert flags in train, (flags, train)
        assert summary["fake"]["OMP_NUM_THREADS"] == "1"  # set by the script for CPU processes

    config = (out / "config.txt").read_text()
    for text in ("command:", "--cpu-procs", "date:", "host:", "torch:", "scaling: weak", "runs per count: 2",
                 *names):
        assert text in config, text

    exp = expected_rows([1, 2], 2, lambda n: 8 * n)
    rows = read_csv(out / "summary.csv")
    assert [int(row["count"]) for row in rows] == [1, 2]
    for row in rows:
        n = int(row["count"])
        assert (int(row["global_batch"]), int(row["runs_ok"]), int(row["runs_failed"])) == (8 * n, 2, 0)
        check_stat(row, "throughput", exp[n]["thr"])
        check_stat(row, "speedup", exp[n]["speedup"])
        check_stat(row, "efficiency", exp[n]["efficiency"])
        check_stat(row, "step_time_ms", exp[n]["step"])
        check_stat(row, "mfu", exp[n]["mfu"])
    # the numbers themselves, once: 185/105 and its half
    assert math.isclose(num(rows[1]["speedup_mean"]), 185 / 105) and math.isclose(num(rows[1]["efficiency_mean"]),
                                                                                 185 / 210)
    assert math.isclose(num(rows[0]["throughput_std"]), math.sqrt(50))  # sample std of 100, 110

    per_run = read_csv(out / "runs.csv")
    assert len(per_run) == 4 and all(row["ok"] == "1" and row["backend"] == "gloo" for row in per_run)

    text = (out / "summary.txt").read_text()
    assert "CPU processes" in text and "185.0 ± 7.1" in text and "1.76x ± 0.07x" in text and "88.1% ± 3.4%" in text
    assert "sample standard deviation" in text
    assert "185.0 ± 7.1" in r.stdout
    png = (out / "scaling.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_run_sh_failed_run_is_reported_and_the_rest_summarised(tmp_path, fake):
    _, env = fake
    out = tmp_path / "study"
    r = run(RUN_SH, ["--cpu-procs", "1,2,4", "--output-dir", out], tmp_path, env={**env, "FAKE_FAIL": "2"})
    assert r.returncode == 1, r.stdout + r.stderr
    failed_log = out / "cpu2_batch16_run1.log"
    assert "FAILED" in r.stderr and str(failed_log) in r.stderr and "simulated failure" in r.stderr
    assert "simulated failure" in failed_log.read_text()
    rows = {int(row["count"]): row for row in read_csv(out / "summary.csv")}
    assert sorted(rows) == [1, 2, 4]
    assert rows[2]["runs_ok"] == "0" and rows[2]["throughput_mean"] == ""
    assert math.isclose(num(rows[4]["throughput_mean"]), 320.0)
    assert math.isclose(num(rows[4]["speedup_mean"]), 3.2) and math.isclose(num(rows[4]["efficiency_mean"]), 0.8)
    text = (out / "summary.txt").read_text()
    assert re.search(r"\n\s*2 \| run 1 FAILED \(exit status 1; see cpu2_batch16_run1.log\)", text), text
    assert (out / "scaling.png").exists()


def test_run_sh_strong_scaling_keeps_the_global_batch(tmp_path, fake):
    _, env = fake
    out = tmp_path / "study"
    r = run(RUN_SH, ["--cpu-procs", "1 2", "--scaling", "strong", "--global-batch", "16", "--output-dir", out],
            tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    for n in (1, 2):
        argv = fake_json(out / f"cpu{n}_batch16_run1")["fake"]["argv"]
        assert "--batch-size 16" in " ".join(argv)
    rows = read_csv(out / "summary.csv")
    assert [row["global_batch"] for row in rows] == ["16", "16"]
    assert "Strong scaling" in (out / "summary.txt").read_text()


@pytest.mark.parametrize("var", ["CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"])
def test_run_sh_dp_launcher_takes_the_first_visible_devices(tmp_path, fake, var):
    _, env = fake
    out = tmp_path / "study"
    r = run(RUN_SH, ["--launcher", "dp", "--gpus", "1 2 8", "--amp", "--profile", "--output-dir", out], tmp_path,
            env={**env, "FAKE_GPUS": "4", var: "3,5,7,9"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipping 8 GPUs: only 4 visible" in r.stdout
    assert not (out / "gpu8_batch64_run1.log").exists()
    for n, visible in ((1, "3"), (2, "3,5")):
        fake_run = fake_json(out / f"gpu{n}_batch{8 * n}_run1")["fake"]
        assert fake_run[var] == visible
        assert fake_run["argv"][0].endswith("tiny_openfold_v1.py")  # one process, no torchrun
        train = " ".join(fake_run["argv"])
        assert "--parallel dp" in train and "--use-amp" in train and "--enable-pytorch-profiler" in train
        assert "--device" not in train
    rows = read_csv(out / "summary.csv")
    assert [row["count"] for row in rows] == ["1", "2"]
    assert math.isclose(num(rows[1]["efficiency_mean"]), 0.9)


def test_run_sh_torchrun_gpus(tmp_path, fake):
    _, env = fake
    out = tmp_path / "study"
    r = run(RUN_SH, ["--gpus", "2 4", "--batch-per-gpu", "4", "--output-dir", out], tmp_path,
            env={**env, "FAKE_GPUS": "2"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipping 4 GPUs: only 2 visible" in r.stdout
    argv = fake_json(out / "gpu2_batch8_run1")["fake"]["argv"]
    assert argv[:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    assert "--device" not in argv
    rows = read_csv(out / "summary.csv")
    assert len(rows) == 1 and rows[0]["count"] == "2" and math.isclose(num(rows[0]["speedup_mean"]), 1.0)
    assert "Normalised by 2 GPUs" in (out / "summary.txt").read_text()


# -------------------------------------------------- quick_scaling_test.sh

def table_rows(stdout: str, label: str) -> dict:
    """{count: [cells...]} from the printed table whose header starts with label."""
    lines = stdout.splitlines()
    header = f"{label} | Throughput (samples/s) | Speedup | Efficiency"
    assert header in lines, stdout
    rows = {}
    for line in lines[lines.index(header) + 2:]:
        if not line.strip():
            break
        cells = [c.strip() for c in line.split("|")]
        rows[int(cells[0])] = cells[1:]
    return rows


def test_quick_gpus_prints_the_table_and_skips_missing_gpus(tmp_path, fake):
    _, env = fake
    out = tmp_path / "quick"
    r = run(QUICK_SH, ["--output-dir", out], tmp_path, env={**env, "FAKE_GPUS": "2"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipping 4 GPUs: only 2 visible" in r.stdout and "skipping 8 GPUs: only 2 visible" in r.stdout
    assert table_rows(r.stdout, "GPUs") == {1: ["100.0", "1.00x", "100.0%"], 2: ["180.0", "1.80x", "90.0%"]}
    for n in (1, 2):
        assert (out / f"gpus{n}.log").exists()
        argv = fake_json(out / f"gpus{n}")["fake"]["argv"]
        assert argv[:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(n)]
        assert f"--batch-size {8 * n} --num-steps 50" in " ".join(argv)


def test_quick_cpu_procs_with_shapes_and_a_failure(tmp_path, fake):
    _, env = fake
    out = tmp_path / "quick"
    r = run(QUICK_SH, ["--cpu-procs", "1 2 4", "--steps", "5", "--batch-per-gpu", "2", "--preset", "tiny",
                       "--seq-len", "12", "--num-seqs", "4", "--num-blocks", "1", "--output-dir", out],
            tmp_path, env={**env, "FAKE_FAIL": "2"})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED" in r.stderr and str(out / "cpus2.log") in r.stderr
    rows = table_rows(r.stdout, "CPU processes")
    assert rows[1] == ["100.0", "1.00x", "100.0%"] and rows[4] == ["320.0", "3.20x", "80.0%"]
    assert "FAILED" in rows[2][0] and "cpus2.log" in rows[2][0]
    argv = " ".join(fake_json(out / "cpus4")["fake"]["argv"])
    for flags in ("--device cpu", "--batch-size 8", "--num-steps 5", "--preset tiny", "--seq-len 12",
                  "--num-seqs 4", "--num-blocks 1"):
        assert flags in argv


# ------------------------------------------------- scaling_report.py, unit

def write_summary(folder: Path, thr, *, status="completed", batch=8, world=None, ms=None, mfu=None,
                  peak=50.0) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"status": status, "train_config": {"batch_size": batch},
            "performance_summary": {"avg_training_speed": thr, "avg_batch_time_ms": ms, "peak_memory_mb": peak},
            "flops": {"achieved_tflops": None, "mfu": mfu}, "system_info": {}}
    if world is not None:
        data["parallel"] = {"mode": "ddp", "world_size": world, "backend": "gloo"}
    (folder / "performance_summary.json").write_text(json.dumps(data))
    return f"{folder.name}/performance_summary.json"


def write_manifest(folder: Path, rows) -> Path:
    """rows: (count, run, batch, exit_status, summary, log)."""
    path = folder / "runs.tsv"
    lines = ["count\trun\tglobal_batch\texit_status\tsummary\tlog"]
    lines += ["\t".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_report_mean_sample_std_speedup_and_failures(tmp_path, capsys):
    rows = []
    for k, thr in enumerate([10.0, 12.0, 14.0], start=1):
        rows.append((1, k, 8, 0, write_summary(tmp_path / f"a{k}", thr, ms=800 / thr, mfu=0.1, peak=40.0 + k),
                     f"a{k}.log"))
    for k, thr in enumerate([18.0, 20.0, 22.0], start=1):
        rows.append((2, k, 16, 0, write_summary(tmp_path / f"b{k}", thr, batch=16, world=2), f"b{k}.log"))
    rows += [(4, 1, 32, 0, "c1/performance_summary.json", "c1.log"),  # exit 0 but no summary
             (4, 2, 32, 0, write_summary(tmp_path / "c2", 30.0, status="interrupted"), "c2.log"),
             (4, 3, 32, 0, write_summary(tmp_path / "c3", None), "c3.log"),
             (4, 4, 32, 1, "c4/performance_summary.json", "c4.log")]
    manifest = write_manifest(tmp_path, rows)
    out = tmp_path / "report"
    assert scaling_report.main([str(manifest), "--output-dir", str(out), "--no-plot"]) == 0
    printed = capsys.readouterr().out

    summary = {int(r["count"]): r for r in read_csv(out / "summary.csv")}
    one, two, four = summary[1], summary[2], summary[4]
    assert num(one["throughput_mean"]) == 12.0 and math.isclose(num(one["throughput_std"]), 2.0)  # sample std
    assert math.isclose(num(one["speedup_std"]), 2.0 / 12.0)
    assert math.isclose(num(one["step_time_ms_mean"]), statistics.fmean([80.0, 800 / 12, 800 / 14]))
    assert math.isclose(num(one["mfu_mean"]), 0.1) and one["mfu_std"] == "0.0"
    assert math.isclose(num(two["speedup_mean"]), 20.0 / 12.0)
    assert math.isclose(num(two["efficiency_mean"]), 20.0 / 24.0)
    assert math.isclose(num(two["efficiency_std"]), 2.0 / 24.0)
    assert two["mfu_mean"] == "" and two["global_batch"] == "16"
    assert (four["runs"], four["runs_ok"], four["runs_failed"], four["throughput_mean"]) == ("4", "0", "4", "")

    errors = {int(r["run"]): r["error"] for r in read_csv(out / "runs.csv") if r["count"] == "4"}
    assert errors[1] == "no performance_summary.json"
    assert errors[2] == "status 'interrupted'"
    assert errors[3].startswith("no timed steps")
    assert errors[4] == "exit status 1"
    assert "1.67x ± 0.17x" in printed and "see c1.log" in printed and "see c4.log" in printed
    # peak memory: the highest run's, in the table as in summary.csv (not the mean, 42)
    first = next(line for line in printed.splitlines() if line.strip().startswith("1 |"))
    assert "Peak memory (MB, max)" in printed and first.split("|")[-1].strip() == "43", first
    assert num(one["peak_memory_mb_max"]) == 43.0
    assert (out / "summary.txt").read_text().strip() == printed.strip()
    assert not (out / "scaling.png").exists()


def test_report_exits_1_when_every_run_failed(tmp_path, capsys):
    """Nothing to compare (here: too few steps, so no run was timed): the report is still
    written, and the exit status, which run.sh and quick_scaling_test.sh pass on, is 1."""
    manifest = write_manifest(tmp_path, [(1, 1, 8, 0, write_summary(tmp_path / "a", None), "a.log"),
                                         (2, 1, 16, 0, write_summary(tmp_path / "b", None), "b.log")])
    assert scaling_report.main([str(manifest), "--output-dir", str(tmp_path / "r"), "--no-plot"]) == 1
    assert "Every run failed" in capsys.readouterr().out
    assert (tmp_path / "r" / "summary.csv").exists()


def test_report_normalises_by_the_smallest_count_that_ran(tmp_path, capsys):
    manifest = write_manifest(tmp_path, [
        (1, 1, 8, 1, "x/performance_summary.json", "x.log"),
        (2, 1, 16, 0, write_summary(tmp_path / "y", 40.0), "y.log"),
        (8, 1, 64, 0, write_summary(tmp_path / "z", 120.0), "z.log")])
    assert scaling_report.main([str(manifest), "--format", "brief", "--unit", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "Normalised by 2 CPU processes" in printed
    rows = table_rows(printed, "CPU processes")
    assert rows[2] == ["40.0", "1.00x", "100.0%"]
    assert rows[8] == ["120.0", "3.00x", "75.0%"]  # speedup 3 over a 4x larger count
    assert rows[1][0] == "run 1 FAILED (exit status 1; see x.log)"


def test_report_warns_on_a_wrong_world_size_and_plot_needs_matplotlib(tmp_path, capsys, monkeypatch):
    manifest = write_manifest(tmp_path, [(2, 1, 16, 0, write_summary(tmp_path / "y", 40.0, batch=12, world=1),
                                          "y.log")])
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert scaling_report.main([str(manifest), "--output-dir", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "DDP world size 1, expected 2" in printed
    assert "summary says batch 12, the script asked for 16" in printed
    assert "matplotlib is not installed: scaling.png skipped" in printed
    assert read_csv(tmp_path / "out" / "summary.csv")[0]["global_batch"] == "12"


@pytest.mark.parametrize("content,text", [
    (None, "cannot read the manifest"),
    ("count\trun\n1\t1\n", "not a manifest"),
    ("count\trun\tglobal_batch\texit_status\tsummary\tlog\n1\tone\t8\t0\ts\tl\n", "must be integers"),
    ("count\trun\tglobal_batch\texit_status\tsummary\tlog\n", "lists no runs"),
])
def test_report_bad_manifest_is_one_line_and_exit_2(tmp_path, content, text):
    manifest = tmp_path / "runs.tsv"
    if content is not None:
        manifest.write_text(content)
    r = subprocess.run([sys.executable, str(REPORT), str(manifest)], capture_output=True, text=True, env=ENV)
    assert r.returncode == 2 and not r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], r.stderr


def test_report_bad_option_is_one_line_and_exit_2(tmp_path):
    r = subprocess.run([sys.executable, str(REPORT), "m.tsv", "--unit", "tpu"], capture_output=True, text=True,
                       env=ENV)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--unit" in r.stderr


# ------------------------------------------------ the real script, on CPU

def has_parallel_flag() -> bool:
    r = subprocess.run([sys.executable, str(ROOT / "tiny_openfold_v1.py"), "--help"], capture_output=True,
                       text=True, env=ENV, timeout=120)
    return "--parallel" in r.stdout


@pytest.mark.skipif(not has_parallel_flag(), reason="tiny_openfold_v1.py has no --parallel (DDP) yet")
def test_real_run_sh_two_gloo_processes(tmp_path):
    out = tmp_path / "study"
    r = run(RUN_SH, ["--cpu-procs", "1 2", "--steps", "6", "--preset", "tiny", "--seq-len", "12", "--num-seqs", "4",
                     "--num-blocks", "1", "--output-dir", out], tmp_path, env={**ENV, "PYTHON": sys.executable},
            timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr + "".join(p.read_text() for p in out.glob("*.log"))
    rows = read_csv(out / "summary.csv")
    assert [row["count"] for row in rows] == ["1", "2"]
    assert all(num(row["throughput_mean"]) > 0 and row["runs_ok"] == "1" for row in rows)
    per_run = {row["count"]: row for row in read_csv(out / "runs.csv")}
    for n in ("1", "2"):
        assert (per_run[n]["parallel_mode"], per_run[n]["world_size"], per_run[n]["backend"]) == ("ddp", n, "gloo")
        assert int(per_run[n]["global_batch"]) == 8 * int(n)
    assert (out / "cpu2_batch16_run1.log").exists() and (out / "scaling.png").exists()
