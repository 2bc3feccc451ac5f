"""Command-line tests of tiny_openfold_v1.py, run as a subprocess.

Every run uses a tmp_path as working directory and passes --profile-dir and
--checkpoint-dir inside it, so nothing is written into the repository.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import io
import json
import math
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import tiny_openfold_v1 as tof

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tiny_openfold_v1.py"

# The test machine has 2 cores and is often shared: intra-op threads that
# oversubscribe the CPU make the tiny runs ~50x slower. One thread per run.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}

SEED_FLAGS = ["--msa-dim", "--pair-dim", "--num-blocks", "--num-seqs", "--seq-len", "--num-steps", "--batch-size",
              "--learning-rate", "--use-amp", "--device", "--no-data-parallel", "--validate-setup",
              "--enable-pytorch-profiler", "--enable-memory-profiling", "--enable-all-profiling", "--profile-dir",
              "--warmup-steps", "--profile-steps", "--seed", "--preset", "--eval-every", "--checkpoint-dir",
              "--save-every", "--resume"]


def run_script(args, cwd, timeout=300, extra_env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=cwd, env={**ENV, **(extra_env or {})},
                          capture_output=True, text=True, timeout=timeout)


def dirs(tmp: Path):
    return ["--profile-dir", tmp / "profiles", "--checkpoint-dir", tmp / "checkpoints"]


def test_help_lists_every_seed_flag(tmp_path):
    r = run_script(["--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    for flag in SEED_FLAGS + ["--min-seq-len", "--eval-samples"]:
        assert re.search(rf"(^|[\s,]){re.escape(flag)}\b", r.stdout), f"{flag} missing from --help"
    assert not r.stderr.strip()


def test_readme_flag_table_matches_the_parser():
    """The README's flag table (rows starting "| `--") names every option of the
    parser but --help, and no option the parser does not have: a flag added or
    removed in the script without its row fails here."""
    table = set()
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("| `--"):
            table.update(re.findall(r"--[a-z0-9][a-z0-9-]*", line.split("|")[1]))
    options = {o for action in tof.build_parser()._actions for o in action.option_strings if o.startswith("--")}
    assert table, "no flag table found in README.md"
    assert sorted(options - table - {"--help"}) == [], "flags without a README row"
    assert sorted(table - options) == [], "README rows for flags the script does not have"


# -----------------------------------------------------------------------------
# Bad input: exit status 2, exactly one non-empty stderr line naming the flag,
# no traceback. The cases run concurrently (each is a fresh interpreter).
# -----------------------------------------------------------------------------

# (case id, flags that replace the defaults below, text the error must contain)
BAD_INPUT_CASES = [
    ("batch-size-0", ["--batch-size", "0"], "--batch-size"),
    ("batch-size-negative", ["--batch-size", "-3"], "--batch-size"),
    ("seq-len-0", ["--seq-len", "0"], "--seq-len"),
    ("num-steps-abc", ["--num-steps", "abc"], "--num-steps"),
    ("msa-dim-not-divisible", ["--msa-dim", "30"], "--msa-dim"),
    ("preset-huge", ["--preset", "huge"], "--preset"),
    ("device-7", ["--device", "7"], "--device"),
    ("device-banana", ["--device", "banana"], "--device"),
    pytest.param("device-cuda-without-gpu", ["--device", "cuda"], "--device cuda: no such GPU",
                 marks=pytest.mark.skipif(tof.torch.cuda.is_available(), reason="this machine has a GPU")),
    ("dropout-text", ["--dropout", "abc"], "--dropout: expected a number in [0, 1)"),
    ("dropout-one", ["--dropout", "1"], "--dropout: must be a number in [0, 1)"),
    ("resume-missing", ["--resume", "/nonexistent/ckpt.pt"], "--resume"),
    ("resume-garbage", ["--resume", "{tmp}/garbage.pt"], "--resume"),
    ("resume-empty", ["--resume", "{tmp}/empty.pt"], "--resume"),
    ("profile-dir-under-file", ["--profile-dir", "{tmp}/file.txt/sub"], "--profile-dir"),
    ("learning-rate-negative", ["--learning-rate", "-1"], "--learning-rate"),
    ("min-seq-len-above-seq-len", ["--min-seq-len", "50", "--seq-len", "32"], "--min-seq-len"),
    ("amp-fp16-on-cpu", ["--use-amp", "--amp-dtype", "fp16", "--device", "cpu"], "--amp-dtype"),
    ("amp-dtype-unknown", ["--amp-dtype", "fp8"], "--amp-dtype"),
    ("peak-tflops-negative", ["--peak-tflops", "-1"], "--peak-tflops"),
    ("nvtx-with-torch-profiler", ["--emit-nvtx", "--enable-all-profiling"], "--emit-nvtx"),
    ("attention-unknown", ["--attention", "flash"], "--attention"),
    ("compile-scope-unknown", ["--compile-scope", "model"], "--compile-scope"),
    ("compile-scope-without-compile", ["--compile-scope", "block"], "--compile-scope"),
    ("chunk-size-0", ["--chunk-size", "0"], "--chunk-size"),
    ("cuda-graphs-on-cpu", ["--cuda-graphs"], "--cuda-graphs"),
    ("flex-on-cpu", ["--attention", "flex"], "--attention"),
    ("triton-kernels-on-cpu", ["--triton-kernels"], "--triton-kernels"),
    ("cuda-graphs-with-grad-accum", ["--cuda-graphs", "--grad-accum-steps", "2"], "--cuda-graphs"),
    ("peer-ping-without-cuda-graphs", ["--peer-ping"], "--peer-ping"),
    ("cast-once-without-flat-optimizer", ["--cast-once", "--use-amp"], "--cast-once"),
    ("cast-once-without-amp", ["--cast-once", "--flat-optimizer"], "--cast-once"),
    ("cast-once-with-chunk-size", ["--cast-once", "--flat-optimizer", "--use-amp", "--chunk-size", "4"],
     "--cast-once"),
    ("weight-grad-stream-on-cpu", ["--weight-grad-stream"], "--weight-grad-stream"),
    ("max-autotune-without-compile", ["--max-autotune"], "--max-autotune"),
    ("max-autotune-on-cpu", ["--max-autotune", "--compile"], "--max-autotune"),
    ("pdl-without-compile", ["--pdl"], "--pdl"),
    ("pdl-on-cpu", ["--pdl", "--compile"], "--pdl"),
    ("benchmark-steps-0", ["--benchmark", "--benchmark-steps", "0"], "--benchmark-steps"),
    ("benchmark-preset-unknown", ["--benchmark", "--benchmark-presets", "small,huge"], "--benchmark-presets"),
    ("benchmark-presets-empty", ["--benchmark", "--benchmark-presets", ","], "--benchmark-presets"),
    ("benchmark-path-unknown", ["--benchmark", "--benchmark-paths", "sdpa+flash"], "--benchmark-paths"),
    ("benchmark-paths-empty", ["--benchmark", "--benchmark-paths", ""], "--benchmark-paths"),
    ("benchmark-seq-lens-text", ["--benchmark", "--benchmark-seq-lens", "64,x"], "--benchmark-seq-lens"),
]


def _values(case):
    """(case id, flags, names) of a plain tuple or of a pytest.param."""
    return case.values if hasattr(case, "values") else case


def _bad_input_args(case_flags, tmp: Path):
    flags = [f.format(tmp=tmp) for f in case_flags]
    defaults = {"--preset": "tiny", "--num-steps": "2", "--seq-len": "8", "--num-seqs": "2",
                "--batch-size": "2", "--eval-samples": "2", "--device": "cpu",
                "--profile-dir": str(tmp / "profiles"), "--checkpoint-dir": str(tmp / "checkpoints")}
    given = set(flags[::2])
    args = list(flags)
    for flag, value in defaults.items():
        if flag not in given:
            args += [flag, value]
    return args


@pytest.fixture(scope="module")
def bad_input_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad_input")
    (tmp / "garbage.pt").write_bytes(bytes(range(256)) * 16)
    (tmp / "empty.pt").write_bytes(b"")
    (tmp / "file.txt").write_text("a regular file, not a directory\n")
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {case: pool.submit(run_script, _bad_input_args(flags, tmp), tmp, 120)
                   for case, flags, _ in map(_values, BAD_INPUT_CASES)}
        results = {case: future.result() for case, future in futures.items()}
    results["_tmp"] = tmp
    return results


@pytest.mark.parametrize("case,flags,names", BAD_INPUT_CASES, ids=[_values(c)[0] for c in BAD_INPUT_CASES])
def test_bad_input_is_one_line_exit_2(bad_input_results, case, flags, names):
    r = bad_input_results[case]
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2, f"exit {r.returncode}\nstdout:\n{r.stdout[-2000:]}\nstderr:\n{r.stderr[-3000:]}"
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert len(lines) == 1, r.stderr
    assert names in lines[0], lines[0]
    assert "Training for" not in r.stdout  # it failed before training


def test_bad_input_leaves_no_outputs(bad_input_results):
    # The failing runs stopped before writing anything (their cwd and output dirs are a tmp dir).
    tmp = bad_input_results["_tmp"]
    assert not (tmp / "file.txt" / "sub").exists()
    assert not (tmp / "profiles" / "performance_summary.json").exists()


def test_negative_seed_is_rejected(tmp_path):
    """Seeds are non-negative (numpy's generators refuse negative ones)."""
    r = run_script(["--preset", "tiny", "--seed", "-1", "--num-steps", "1", "--seq-len", "8", "--num-seqs", "2",
                    "--batch-size", "2", "--eval-samples", "2", "--warmup-steps", "0", *dirs(tmp_path)], tmp_path)
    assert "Traceback" not in r.stderr
    assert r.returncode == 2
    assert r.stderr.strip() == "tiny_openfold_v1.py: error: argument --seed: must be an integer >= 0, got -1"


# -----------------------------------------------------------------------------
# Runs that must succeed
# -----------------------------------------------------------------------------


def test_validate_setup(tmp_path):
    r = run_script(["--validate-setup"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Validation successful! Environment ready." in r.stdout


def _finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _load_summary(tmp: Path) -> dict:
    path = tmp / "profiles" / "performance_summary.json"
    assert path.is_file()
    return json.loads(path.read_text())


def test_short_training_run(tmp_path):
    r = run_script(["--preset", "tiny", "--num-steps", "6", "--seq-len", "16", "--num-seqs", "4",
                    "--batch-size", "2", "--eval-samples", "4", "--warmup-steps", "1", *dirs(tmp_path)], tmp_path)
    out = r.stdout
    assert r.returncode == 0, out[-3000:] + r.stderr[-3000:]
    assert "Traceback" not in r.stderr

    cfg = tof.config_from_preset("tiny", max_seq_len=16, n_seqs=4)
    n_params = tof.count_parameters(tof.TinyOpenFold(cfg))
    assert "Model Configuration:" in out
    match = re.search(r"Total parameters: ([\d,]+)", out)
    assert match, out
    assert int(match.group(1).replace(",", "")) == n_params
    assert re.search(r"^Step\s+0/6 \| Loss:\s+\d+\.\d+", out, re.M), out
    assert re.search(r"^Step\s+5/6 \| Loss:\s+\d+\.\d+", out, re.M), out  # the last step is always logged
    assert "Performance Summary:" in out
    assert (tmp_path / "checkpoints" / "checkpoint.pt").is_file()

    summary = _load_summary(tmp_path)
    assert summary["config"] == dataclasses.asdict(cfg)
    assert summary["parameters"] == n_params
    perf = summary["performance_summary"]
    assert perf["total_samples"] == 12
    for key in ("avg_training_speed", "avg_batch_time_ms", "avg_forward_time_ms", "avg_backward_time_ms",
                "avg_optimizer_time_ms", "final_loss", "peak_memory_mb"):
        assert _finite(perf[key]) and perf[key] > 0, (key, perf[key])
    # Throughput is total timed samples over total timed time (5 steps after 1 warm-up).
    assert perf["avg_training_speed"] == pytest.approx(
        perf["timed_samples"] / (perf["timed_steps"] * perf["avg_batch_time_ms"] / 1e3), rel=1e-6)
    assert perf["timed_steps"] == 5 and perf["timed_samples"] == 10
    assert perf["avg_forward_time_ms"] < perf["avg_batch_time_ms"]
    metrics = summary["metrics"]
    for key in ("eval_loss", "baseline_loss", "distance_mae"):
        assert _finite(metrics[key]) and metrics[key] > 0, (key, metrics[key])
    for key in ("contact_precision_top_l5", "contact_density"):
        assert _finite(metrics[key]) and 0 <= metrics[key] <= 1, (key, metrics[key])
    info = summary["system_info"]
    assert isinstance(info, dict) and info["torch"] and info["python"]
    assert len(summary["loss_history"]) == 6 and all(_finite(x) for x in summary["loss_history"])
    assert summary["loss_history"][-1] == pytest.approx(perf["final_loss"])


def test_gpu_identity_records_memory_and_uuid():
    """system_info's GPU fields, from device properties (faked: CI has no GPU); the UUID
    is what tells two runs' cards apart, and a build without it records None."""
    props = types.SimpleNamespace(total_memory=150_754_820_096, uuid="GPU-5e1f0c2a")
    assert tof.gpu_identity(props) == {"gpu_memory_gb": 150.8, "gpu_uuid": "GPU-5e1f0c2a"}
    assert tof.gpu_identity(types.SimpleNamespace(total_memory=0)) == {"gpu_memory_gb": 0.0, "gpu_uuid": None}


def test_system_info_records_the_environment_that_changes_a_run(monkeypatch):
    """Variables such as TORCHINDUCTOR_ENABLE_PDL change the measured step without
    showing in the command: system_info records them, and only variables of that kind."""
    monkeypatch.setenv("TORCHINDUCTOR_ENABLE_PDL", "1")
    monkeypatch.setenv("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
    monkeypatch.setenv("TINYOPENFOLD_UNRELATED_TOKEN", "not recorded")
    env = tof.system_info(tof.torch.device("cpu"))["environment"]
    assert env["TORCHINDUCTOR_ENABLE_PDL"] == "1"
    assert env["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"
    assert "TINYOPENFOLD_UNRELATED_TOKEN" not in env and "PATH" not in env
    assert list(env) == sorted(env)
    monkeypatch.setenv("TORCH_BLAS_PREFER_CUBLASLT", "1")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/tmp/cache")  # where, not what: recorded, not printed
    assert tof.compiler_settings() == "TORCHINDUCTOR_ENABLE_PDL=1 TORCH_BLAS_PREFER_CUBLASLT=1"
    assert tof.system_info(tof.torch.device("cpu"))["environment"]["TORCHINDUCTOR_CACHE_DIR"] == "/tmp/cache"
    for name in list(tof.os.environ):
        if name.startswith(("TORCHINDUCTOR_", "TORCH_BLAS")):
            monkeypatch.delenv(name)
    assert tof.compiler_settings() == ""


def test_variable_length_run(tmp_path):
    r = run_script(["--preset", "tiny", "--num-steps", "3", "--min-seq-len", "10", "--seq-len", "16",
                    "--num-seqs", "4", "--batch-size", "2", "--eval-samples", "4", "--warmup-steps", "1",
                    "--enable-pytorch-profiler", "--enable-memory-profiling", *dirs(tmp_path)], tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Residues x MSA depth: 10-16 x 4" in r.stdout
    summary = _load_summary(tmp_path)
    assert summary["train_config"]["min_seq_len"] == 10
    assert summary["performance_summary"]["total_samples"] == 6
    assert _finite(summary["metrics"]["eval_loss"])


def test_all_profiling_flag_run(tmp_path):
    r = run_script(["--preset", "tiny", "--num-steps", "3", "--seq-len", "12", "--num-seqs", "3",
                    "--batch-size", "2", "--eval-samples", "2", "--enable-all-profiling", "--warmup-steps", "1",
                    "--profile-steps", "2", *dirs(tmp_path)], tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Performance Summary:" in r.stdout
    assert _load_summary(tmp_path)["performance_summary"]["total_samples"] == 6


def test_fused_projection_run_on_cpu(tmp_path):
    """--fuse-projections with --attention sdpa trains from the command line and is recorded;
    an Inductor setting of the environment is logged with the configuration and recorded."""
    r = run_script(["--preset", "tiny", "--seq-len", "12", "--num-seqs", "3", "--batch-size", "2", "--num-steps", "3",
                    "--eval-samples", "2", "--warmup-steps", "1", "--attention", "sdpa", "--fuse-projections",
                    "--device", "cpu", *dirs(tmp_path)], tmp_path, extra_env={"TORCHINDUCTOR_ENABLE_PDL": "0"})
    assert r.returncode == 0, r.stderr
    assert "   Environment: TORCHINDUCTOR_ENABLE_PDL=0" in r.stdout.splitlines()
    summary = _load_summary(tmp_path)
    assert summary["system_info"]["environment"]["TORCHINDUCTOR_ENABLE_PDL"] == "0"
    assert summary["train_config"]["fuse_projections"] is True
    assert _finite(summary["performance_summary"]["final_loss"])


def test_bf16_autocast_run_on_cpu(tmp_path):
    """--use-amp takes bf16 autocast on CPU too; the loss stays float32 and finite."""
    r = run_script(["--preset", "tiny", "--seq-len", "12", "--num-seqs", "3", "--batch-size", "2", "--num-steps", "3",
                    "--eval-samples", "2", "--warmup-steps", "1", "--use-amp", "--device", "cpu", *dirs(tmp_path)],
                   tmp_path)
    assert r.returncode == 0, r.stderr
    assert "precision: autocast bf16" in r.stdout
    summary = _load_summary(tmp_path)
    assert _finite(summary["performance_summary"]["final_loss"])
    assert summary["train_config"]["use_amp"] is True


def test_benchmark_speedup_of_rows_measured_before_the_reference(tmp_path):
    """A path listed before the reference (an A/B that alternates the order) gets its
    speedup once the reference is measured: in benchmark.json and .md, and on one
    console line after the reference's (its own line, printed earlier, says n/a). A
    second reference row is timed against the first (an A/A ratio)."""
    r = run_script(["--benchmark", "--device", "cpu", "--benchmark-presets", "tiny", "--seq-len", "8",
                    "--benchmark-paths", "sdpa,reference,reference", "--benchmark-seq-lens", "8",
                    "--benchmark-steps", "2", "--warmup-steps", "1", "--num-seqs", "2", "--batch-size", "2",
                    "--profile-dir", tmp_path / "p"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    fast, ref, again = json.loads((tmp_path / "p" / "benchmark.json").read_text())["rows"]
    assert (fast["path"], ref["path"]) == ("sdpa", "reference") and ref["speedup_vs_reference"] == 1.0
    assert fast["speedup_vs_reference"] == pytest.approx(ref["ms_per_step"] / fast["ms_per_step"])
    assert again["speedup_vs_reference"] == pytest.approx(ref["ms_per_step"] / again["ms_per_step"])
    lines = r.stdout.splitlines()
    table = [line for line in lines if line.startswith("tiny ")]
    assert table[0].split()[-2] == "n/a" and table[1].split()[-2] == "1.00x"
    assert lines[lines.index(table[1]) + 1] == (f"  speedup of the rows above the reference: "
                                                f"sdpa {fast['speedup_vs_reference']:.2f}x")
    markdown = (tmp_path / "p" / "benchmark.md").read_text()
    assert f"| {fast['speedup_vs_reference']:.2f}x |" in markdown


def test_benchmark_prints_a_table_and_writes_json(tmp_path):
    """--benchmark on CPU: one row per path, the reference row is the speedup's base,
    a GPU-only path is reported as skipped, and benchmark.json holds the same rows.
    An Inductor setting from the environment is printed above the table and recorded."""
    r = run_script(["--benchmark", "--device", "cpu", "--benchmark-presets", "tiny", "--seq-len", "8",
                    "--benchmark-paths", "reference,sdpa+fused+chunk4,graphs,triton", "--benchmark-seq-lens", "8",
                    "--benchmark-steps", "2", "--warmup-steps", "1", "--num-seqs", "2", "--batch-size", "2",
                    "--profile-dir", tmp_path / "p"], tmp_path, extra_env={"TORCHINDUCTOR_ENABLE_PDL": "0"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Environment: TORCHINDUCTOR_ENABLE_PDL=0" in r.stdout.splitlines()
    result = json.loads((tmp_path / "p" / "benchmark.json").read_text())
    assert result["system_info"]["environment"]["TORCHINDUCTOR_ENABLE_PDL"] == "0"
    rows = result["rows"]
    assert [row["path"] for row in rows] == ["reference", "sdpa+fused+chunk4", "graphs", "triton"]
    ref, fast, graphs, triton = rows
    assert ref["status"] == fast["status"] == "ok" and ref["n_res"] == 8 and ref["batch_size"] == 2
    assert ref["speedup_vs_reference"] == 1.0
    assert fast["speedup_vs_reference"] == pytest.approx(ref["ms_per_step"] / fast["ms_per_step"])
    assert ref["samples_per_sec"] > 0 and math.isfinite(fast["final_loss"])
    # setup_s: building the model, then the untimed warm-up step (warmup_s)
    assert ref["setup_s"] > ref["warmup_s"] > 0 and "setup_s" not in graphs
    setup_line = [line for line in r.stdout.splitlines() if line.startswith("Setup before the timed steps")]
    assert setup_line == [f"Setup before the timed steps (building, compiling, capturing, warming up): "
                          f"{ref['setup_s'] + fast['setup_s']:.0f} s in all, at most "
                          f"{max(ref['setup_s'], fast['setup_s']):.0f} s a row (setup_s in benchmark.json)"]
    assert "setting up" not in r.stderr  # the progress line is for terminals only
    assert graphs["status"].startswith("skipped: --cuda-graphs")
    assert triton["status"].startswith("skipped: --triton-kernels")
    assert graphs["peak_memory_mb"] is None and ref["peak_memory_mb"] > 0  # nothing ran: no peak of its own
    table = [line for line in r.stdout.splitlines() if line.startswith("tiny ")]
    assert len(table) == 4 and "n/a" in table[2] and table[0].split()[-2] == "1.00x"
    # benchmark.md: what made the table, then the same rows as the console's, as Markdown
    markdown = (tmp_path / "p" / "benchmark.md").read_text().splitlines()
    assert markdown[0] == f"`python {result['command']}`" and "--benchmark-paths" in markdown[0]
    assert result["system_info"]["git_commit"] == tof.source_revision()  # None only outside a git checkout
    assert f"commit {result['system_info']['git_commit'] or 'unknown'}:" in markdown[2]
    assert result["system_info"]["date"] in markdown[2] and "no MFU" in markdown[2]
    assert "peak MB is the process's peak RSS so far" in markdown[2]  # CPU rows: not per row
    md_rows = [line for line in markdown if line.startswith("| tiny |")]
    assert len(md_rows) == 4 and markdown[4].startswith("| preset | B | S | N | path | ms/step |")
    for console, md in zip(table, md_rows):
        cells = [c.strip() for c in md.strip("|").split("|")]
        assert " ".join(cells[:-1]).split() == console.split()[:11] and console.endswith(cells[-1])


def test_benchmark_progress_line_is_erased_on_a_terminal(monkeypatch):
    """On a terminal the row being set up is named on stderr and blanked out before the
    row's result; written to a file or a pipe, nothing."""
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(tof.shutil, "get_terminal_size", lambda: os.terminal_size((20, 24)))
    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(tof.sys, "stderr", stream)
        line = tof.ProgressLine("tiny reference: setting up ...")
        line.clear()
        text = "tiny reference: set"  # one column short of the terminal's 20: it cannot wrap
        assert stream.getvalue() == (text + "\r" + " " * len(text) + "\r" if shown else "")


def test_benchmark_that_measures_nothing_says_so(tmp_path):
    """Every row skipped (a GPU path on the CPU): exit 1 and a line on stderr; and a note that
    --preset and --num-steps are not what --benchmark reads."""
    r = run_script(["--benchmark", "--device", "cpu", "--benchmark-presets", "tiny", "--benchmark-paths", "graphs",
                    "--preset", "tiny", "--num-steps", "7", "--profile-dir", tmp_path / "p"], tmp_path)
    assert r.returncode == 1, r.stderr[-2000:]
    assert r.stderr.strip().splitlines() == ["tiny_openfold_v1.py: no row was measured (each row's status above "
                                             "says why)"]
    assert "Note: --benchmark does not read --preset or --num-steps" in r.stdout
    assert "skipped: --cuda-graphs" in r.stdout


def test_default_num_workers_share_the_cores(monkeypatch):
    """No workers on a CPU; on a GPU one per core of this process's share, less one, at most 16."""
    monkeypatch.setattr(tof.os, "cpu_count", lambda: 16)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert tof.default_num_workers(False) == 0
    assert tof.default_num_workers(True) == 15
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun, 4 processes on this node
    assert tof.default_num_workers(True) == 3
    monkeypatch.setattr(tof.os, "cpu_count", lambda: 128)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert tof.default_num_workers(True) == 16
    monkeypatch.setattr(tof.os, "cpu_count", lambda: 2)
    assert tof.default_num_workers(True) == 1
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "four")  # not torchrun's: ignored
    monkeypatch.setattr(tof.os, "cpu_count", lambda: 16)
    assert tof.default_num_workers(True) == 15


def test_source_revision_names_the_commit_and_uncommitted_changes(tmp_path):
    """system_info's git_commit: the short commit of the checkout, "+changes" once a
    tracked file differs from it, None outside a git checkout."""
    assert tof.source_revision(str(tmp_path)) is None
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "-q"], check=True)
    (tmp_path / "a.txt").write_text("one\n")
    subprocess.run(git + ["add", "a.txt"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "one"], check=True)
    commit = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    (tmp_path / "untracked.txt").write_text("not part of the code\n")
    assert tof.source_revision(str(tmp_path)) == commit
    (tmp_path / "a.txt").write_text("two\n")
    assert tof.source_revision(str(tmp_path)) == commit + "+changes"


def test_code_revision_is_the_checkout_as_the_run_started(monkeypatch):
    """Results name the commit of the code the process loaded: asked once, at the start,
    not again when a later row or the final summary is written."""
    answers = iter(["abc1234", "abc1234+changes"])
    monkeypatch.setattr(tof, "source_revision", lambda folder=None: next(answers))
    tof.code_revision.cache_clear()
    try:
        assert tof.code_revision() == "abc1234"
        assert tof.system_info(tof.torch.device("cpu"))["git_commit"] == "abc1234"
    finally:
        tof.code_revision.cache_clear()
