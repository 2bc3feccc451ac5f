"""flops_analysis.py and run_deepspeed_flops.sh: the three FLOP counters agree
where they should, DeepSpeed's differences are the ones we explain, the
roofline is consistent, and bad input or a missing DeepSpeed fails gracefully.
CPU only, small shapes."""

import csv
import json
import os
import subprocess
import sys

import pytest
import torch

import flops_analysis as fa
import tiny_openfold_v1 as tof

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "flops_analysis.py")
SHELL = os.path.join(ROOT, "run_deepspeed_flops.sh")
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
# The fixture's run: tiny preset, one block, so the roofline rows add up to the forward.
SHAPE = ["--preset", "tiny", "--batch-size", "2", "--seq-len", "12", "--num-seqs", "3", "--num-blocks", "1"]


def run_script(args, tmp_path, **kw):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=ENV,
                          cwd=tmp_path, timeout=240, **kw)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One full CLI run on the CPU with the roofline: (report dict, output dir, completed process)."""
    out = tmp_path_factory.mktemp("flops")
    r = run_script([*SHAPE, "--device", "cpu", "--steps", "3", "--warmup-steps", "1", "--roofline",
                    "--output-dir", str(out)], out)
    assert r.returncode == 0, r.stderr
    return json.loads((out / "flops_report.json").read_text()), out, r


# --- analytic vs FlopCounterMode -------------------------------------------------

CONFIGS = [
    ("tiny", tof.config_from_preset("tiny", max_seq_len=16, n_seqs=4), 2),
    ("odd", tof.TinyOpenFoldConfig(msa_dim=24, pair_dim=40, n_heads_msa=3, n_heads_pair=5, max_seq_len=19,
                                   n_seqs=7, outer_product_dim=6, triangle_mult_dim=9, msa_intermediate_dim=50,
                                   pair_intermediate_dim=70, n_evoformer_blocks=2), 3),
    ("one-block", tof.config_from_preset("tiny", max_seq_len=9, n_seqs=5, n_evoformer_blocks=1), 1),
]


@pytest.mark.parametrize("name,cfg,B", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_analytic_equals_flop_counter_forward_per_module_and_train_step(name, cfg, B):
    torch.manual_seed(0)
    model = tof.TinyOpenFold(cfg).eval()
    batch = fa.synthetic_batch(cfg, B, torch.device("cpu"))
    counts = fa.analytic_counts(cfg, B, cfg.max_seq_len, cfg.n_seqs)
    keys = list(counts["analytic_forward_per_module"])
    total, per_module = fa.torch_counter_forward(fa.ModelWithLoss(model), batch, keys)
    assert total == pytest.approx(counts["analytic_forward"], rel=0.01)
    for key, analytic in counts["analytic_forward_per_module"].items():
        assert per_module[key] == pytest.approx(analytic, rel=1e-9), key  # each module exactly
    assert per_module[fa.OTHER] == 0  # no matrix product outside the Alg modules
    assert sum(per_module.values()) == total
    train = tof.torch_counter_train_flops(model, batch)
    assert train == pytest.approx(counts["analytic_train_step"], rel=0.01)
    assert 2.9 < train / total < 3.0  # backward ~2x forward, less the gradients nobody needs


# --- the report ------------------------------------------------------------------

REPORT_KEYS = {
    "config", "device", "device_name", "precision", "analytic_forward", "analytic_train_step",
    "analytic_forward_per_module", "torch_counter_forward", "torch_counter_train_step",
    "torch_counter_forward_per_module", "deepspeed_forward", "deepspeed_macs", "deepspeed_per_step_forward",
    "deepspeed_forward_per_module", "step_time_ms_mean", "step_time_ms_std", "samples_per_sec",
    "achieved_tflops", "peak_tflops", "peak_source", "mfu", "roofline", "counter_notes",
}


def test_report_has_the_keys_and_consistent_numbers(cli_run):
    report, out, r = cli_run
    assert REPORT_KEYS <= set(report)
    assert report["device"] == "cpu" and report["precision"] == "fp32"
    assert report["config"]["n_evoformer_blocks"] == 1 and report["batch_size"] == 2
    cfg = tof.TinyOpenFoldConfig(**report["config"])
    assert report["analytic_forward"] == pytest.approx(sum(tof.analytic_flops(cfg, 2).values()))
    assert report["torch_counter_forward"] == pytest.approx(report["analytic_forward"], rel=0.01)
    assert report["torch_counter_train_step"] == pytest.approx(report["analytic_train_step"], rel=0.01)
    # achieved TFLOP/s is the analytic training step over the mean step time
    assert report["achieved_tflops"] == pytest.approx(
        report["analytic_train_step"] / (report["step_time_ms_mean"] / 1e3) / 1e12, rel=1e-9)
    assert report["samples_per_sec"] == pytest.approx(2 / (report["step_time_ms_mean"] / 1e3), rel=1e-9)
    # the CPU has no datasheet peak: no MFU
    assert report["mfu"] is None and report["peak_tflops"] is None
    assert "MFU: n/a" in r.stdout
    text = (out / "flops_report.txt").read_text()
    assert "FlopCounter" in text and "Alg11_TriangleMultiplicationOutgoing" in text
    overhead = report["counter_overhead_ms"]
    assert set(overhead) == {"plain", "flop_counter_mode", "torch_profiler", "deepspeed_flops_profiler"}
    assert all(ms > 0 for ms in overhead.values())
    assert "under each counter" in text


def test_peak_override_gives_an_mfu(tmp_path, capsys):
    out = tmp_path / "o"
    rc = fa.main([*SHAPE, "--device", "cpu", "--steps", "2", "--warmup-steps", "0", "--peak-tflops", "0.5",
                  "--quiet", "--output-dir", str(out)])
    assert rc == 0
    report = json.loads((out / "flops_report.json").read_text())
    assert report["peak_tflops"] == 0.5 and report["peak_source"] == "--peak-tflops"
    assert report["mfu"] == pytest.approx(report["achieved_tflops"] / 0.5)
    assert report["roofline"] is None
    assert capsys.readouterr().out == ""  # --quiet


# --- DeepSpeed ---------------------------------------------------------------------


def test_deepspeed_count_is_per_step_and_explained_by_layernorm(cli_run):
    """DeepSpeed = analytic matmul FLOPs + 5 FLOPs per LayerNorm element, module by
    module, up to its einsum rounding (numpy.einsum_path's summary has 4 significant
    digits: < 1e-3 relative). torch.softmax/sigmoid/relu and * + are not counted.
    In total DeepSpeed is 0.4-0.7 % above analytic on these shapes; we allow 0-2 %."""
    pytest.importorskip("deepspeed")
    report, out, _ = cli_run
    steps = report["deepspeed_per_step_forward"]
    assert len(steps) == 3 and len(set(steps)) == 1  # a fresh profile per step: no accumulation
    assert report["deepspeed_forward"] == steps[0]
    ratio = report["deepspeed_forward"] / report["analytic_forward"]
    assert 1.0 < ratio < 1.02
    ds, ln = report["deepspeed_forward_per_module"], report["deepspeed_layernorm_flops_per_module"]
    for key, analytic in report["analytic_forward_per_module"].items():
        assert abs(ds[key] - analytic - ln[key]) <= 1e-3 * analytic, key
    assert ln["Alg11_TriangleMultiplicationOutgoing"] > 0 and ln["Alg3_InputEmbedder"] == 0
    assert sum(ds.values()) == pytest.approx(report["deepspeed_forward"])
    assert report["deepspeed_macs"] > 0
    assert "DeepSpeed Flops Profiler" in (out / "deepspeed_profile.txt").read_text()


def test_runs_without_deepspeed(tmp_path):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); sys.modules['deepspeed'] = None; "
            "import flops_analysis; sys.exit(flops_analysis.main(sys.argv[2:]))")
    r = subprocess.run([sys.executable, "-c", code, ROOT, *SHAPE, "--device", "cpu", "--steps", "1",
                        "--warmup-steps", "0", "--output-dir", str(tmp_path)],
                       capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=240)
    assert r.returncode == 0, r.stderr
    assert "DeepSpeed FLOPS profiler unavailable (" in r.stdout and "pip install deepspeed" in r.stdout
    report = json.loads((tmp_path / "flops_report.json").read_text())
    for key in ("deepspeed_forward", "deepspeed_macs", "deepspeed_per_step_forward", "deepspeed_forward_per_module"):
        assert report[key] is None, key
    assert report["torch_counter_forward"] == pytest.approx(report["analytic_forward"], rel=0.01)
    assert not (tmp_path / "deepspeed_profile.txt").exists()


# --- roofline ------------------------------------------------------------------------


def test_roofline_rows_files_and_classification(cli_run):
    report, out, _ = cli_run
    rows, peaks = report["roofline"], report["roofline_peaks"]
    expected = ["Alg3_InputEmbedder", *[f"Alg{i}_" for i in range(7, 16)], "DistanceHead"]
    assert len(rows) == len(expected)
    for row, prefix in zip(rows, expected):
        assert row["component"].startswith(prefix)
    # one block: the components add up to the whole forward
    assert sum(r["flops"] for r in rows) == pytest.approx(report["analytic_forward"])
    assert peaks["peak_tflops_source"].startswith("measured") and peaks["bandwidth_source"].startswith("measured")
    for row in rows:
        assert row["min_intensity"] > 0 and row["eager_intensity"] > 0 and row["time_ms"] > 0
        assert row["eager_bytes"] >= row["min_bytes"]  # fp32: eager mode moves at least the minimum
        assert row["bound"] in {"memory-bound", "compute-bound"}
        assert row["bound"] == ("memory-bound" if row["eager_intensity"] < peaks["ridge_flops_per_byte"]
                                else "compute-bound")
        assert row["attainable_tflops"] == pytest.approx(
            min(peaks["peak_tflops"], row["eager_intensity"] * peaks["bandwidth_tbs"]))
    with open(out / "roofline.csv") as f:
        csv_rows = list(csv.DictReader(f))
    assert [r["component"] for r in csv_rows] == [r["component"] for r in rows]
    assert float(csv_rows[0]["eager_intensity"]) == pytest.approx(rows[0]["eager_intensity"])
    assert json.loads((out / "roofline.json").read_text())["rows"] == rows
    pytest.importorskip("matplotlib")
    assert (out / "roofline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_byte_counter_counts_reads_and_writes_not_views():
    a, b = torch.randn(64, 32), torch.randn(32, 16)
    with fa.ByteCounter() as counter:
        a.t().contiguous().t()  # transposes are views; contiguous() copies: read + write 64x32
        a @ b
    assert counter.bytes == 4 * (2 * 64 * 32 + (64 * 32 + 32 * 16 + 64 * 16))
    row = torch.randn(1, 16).expand(64, 16)
    assert fa.footprint(row) == 16 * 4  # a broadcast operand is read once


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("args,flag", [(["--batch-size", "0"], "--batch-size"), (["--device", "7"], "--device")])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, flag):
    r = run_script([*args, "--preset", "tiny", "--output-dir", str(tmp_path)], tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0] and "Traceback" not in r.stderr


# --- aggregate mode ------------------------------------------------------------------------


def fake_report(folder, tflops, samples, mfu):
    folder.mkdir()
    (folder / "flops_report.json").write_text(json.dumps(
        {"device": "cuda:0", "device_name": "fake", "achieved_tflops": tflops, "samples_per_sec": samples,
         "step_time_ms_mean": 10.0, "mfu": mfu}))
    return str(folder)


def test_aggregate_sums_throughput_and_spreads_mfu(tmp_path):
    dirs = [fake_report(tmp_path / "gpu0", 1.0, 10.0, 0.1), fake_report(tmp_path / "gpu1", 3.0, 30.0, 0.3)]
    r = run_script(["--aggregate", *dirs, "--output-dir", str(tmp_path)], tmp_path)
    assert r.returncode == 0, r.stderr
    agg = json.loads((tmp_path / "aggregate.json").read_text())
    assert agg["n_gpus"] == 2
    assert agg["total_achieved_tflops"] == pytest.approx(4.0)
    assert agg["total_samples_per_sec"] == pytest.approx(40.0)
    assert agg["mfu_mean"] == pytest.approx(0.2) and agg["mfu_std"] == pytest.approx(0.1)  # population std
    assert "this measures per-GPU variance, not scaling. For scaling use run.sh." in r.stdout
    unknown = fa.aggregate([*dirs, fake_report(tmp_path / "gpu2", 2.0, 20.0, None)])
    assert unknown["mfu_mean"] is None and unknown["total_achieved_tflops"] == pytest.approx(6.0)


# --- run_deepspeed_flops.sh --------------------------------------------------------------------


def run_shell(args, tmp_path, python=sys.executable):
    return subprocess.run([SHELL, *args], capture_output=True, text=True, env=dict(ENV, PYTHON=python),
                          cwd=tmp_path, timeout=240)


def test_shell_help_and_unknown_option(tmp_path):
    r = run_shell(["--help"], tmp_path)
    assert r.returncode == 0
    for flag in ("--device", "--multi-gpu", "--devices", "--all", "--roofline", "--intensity", "--batch-size",
                 "--seq-len", "--num-blocks", "--num-seqs", "--output-dir", "--steps", "--use-amp",
                 "--measure-peaks", "--preset", "--cpu"):
        assert flag in r.stdout, flag
    for args, words in ((["--bogus"], "--bogus"), (["--seq-len", "abc"], "--seq-len")):
        r = run_shell(args, tmp_path)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr


def test_shell_refusals_are_one_line_and_leave_no_folder(tmp_path):
    """An interpreter without torch (its traceback is not shown) and a GPU that is not
    there: one line, exit 2, and no empty default output folder left behind."""
    no_torch = tmp_path / "notorch"
    no_torch.write_text("#!/bin/sh\necho 'Traceback (most recent call last):' >&2\n"
                        "echo \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n")
    no_gpu = tmp_path / "nogpu"
    no_gpu.write_text(f'#!/bin/sh\nif [ "$1" = -c ]; then echo 0; exit 0; fi\nexec "{sys.executable}" "$@"\n')
    for fake in (no_torch, no_gpu):
        fake.chmod(0o755)
    for args, python, words in ((["--cpu"], no_torch, "could not import torch"),
                                (["--device", "0"], no_gpu, "--device 0: no GPU is visible")):
        r = run_shell(args, tmp_path, python=str(python))
        assert r.returncode == 2, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr and "Traceback" not in r.stderr
    assert not list(tmp_path.glob("deepspeed_flops_*"))


def test_shell_cpu_run_writes_the_reports(tmp_path):
    r = run_shell(["--cpu", "--preset", "tiny", "--batch-size", "1", "--seq-len", "16", "--num-seqs", "4",
                   "--num-blocks", "1", "--steps", "2", "--roofline", "--output-dir", "tmp"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "tmp" / "cpu"
    report = json.loads((out / "flops_report.json").read_text())
    assert (report["batch_size"], report["n_res"], report["n_seq"]) == (1, 16, 4)
    assert len(report["roofline"]) == 11
    assert list(csv.DictReader(open(out / "roofline.csv")))[0]["component"] == "Alg3_InputEmbedder"
    if "roofline.png" in report["files"]:
        assert (out / "roofline.png").read_bytes()[:4] == b"\x89PNG"


def test_shell_multi_gpu_launches_one_process_per_gpu_and_aggregates(tmp_path):
    """The multi-GPU plumbing, with an interpreter that pretends two GPUs exist
    and runs each 'GPU' on the CPU."""
    shim = tmp_path / "shim.py"
    shim.write_text("import os, runpy, sys\n"
                    "argv = sys.argv[1:]\n"
                    "if '--device' in argv: argv[argv.index('--device') + 1] = 'cpu'\n"
                    "sys.path.insert(0, os.path.dirname(argv[0])); sys.argv = argv\n"
                    "runpy.run_path(argv[0], run_name='__main__')\n")
    fake = tmp_path / "fakepython"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = -c ]; then echo 2; exit 0; fi\nexec "{sys.executable}" "{shim}" "$@"\n')
    fake.chmod(0o755)
    r = run_shell(["--multi-gpu", "--preset", "tiny", "--batch-size", "1", "--seq-len", "8", "--num-seqs", "2",
                   "--num-blocks", "1", "--steps", "1", "--output-dir", "multi"], tmp_path, python=str(fake))
    assert r.returncode == 0, r.stderr
    agg = json.loads((tmp_path / "multi" / "aggregate.json").read_text())
    assert agg["n_gpus"] == 2
    per_gpu = [json.loads((tmp_path / "multi" / f"gpu{i}" / "flops_report.json").read_text()) for i in (0, 1)]
    assert agg["total_achieved_tflops"] == pytest.approx(sum(p["achieved_tflops"] for p in per_gpu))
    assert (tmp_path / "multi" / "gpu1.log").read_text().count("Reports written") == 1
    assert "not scaling" in r.stdout
    r = run_shell(["--devices", "0,5"], tmp_path, python=str(fake))
    assert r.returncode == 2 and "--devices" in r.stderr and "5" in r.stderr
