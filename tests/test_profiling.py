"""Profiling: traces that other tools open, algorithm-named ranges, FLOPs and MFU."""

import glob
import json
import os
import subprocess
import sys

import pytest

import tiny_openfold_v1 as tof

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tiny_openfold_v1.py")
ALGORITHMS = ["Alg3_InputEmbedder", "Alg6_EvoformerBlock", "Alg7_MSARowAttentionWithPairBias",
              "Alg8_MSAColumnAttention", "Alg9_MSATransition", "Alg10_OuterProductMean",
              "Alg11_TriangleMultiplicationOutgoing", "Alg12_TriangleMultiplicationIncoming",
              "Alg13_TriangleAttentionStartingNode", "Alg14_TriangleAttentionEndingNode", "Alg15_PairTransition",
              "DistanceHead"]


def run(tmp_path, *extra):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = [sys.executable, SCRIPT, "--preset", "tiny", "--seq-len", "12", "--num-seqs", "3", "--batch-size", "2",
            "--num-steps", "10", "--warmup-steps", "2", "--profile-steps", "3", "--eval-samples", "2",
            "--device", "cpu", "--profile-dir", str(tmp_path / "prof"), "--checkpoint-dir", str(tmp_path / "ck"),
            *extra]
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


def test_pytorch_profiler_writes_a_trace_with_the_algorithm_ranges(tmp_path):
    r = run(tmp_path, "--enable-pytorch-profiler")
    assert r.returncode == 0, r.stderr
    traces = glob.glob(str(tmp_path / "prof" / "*.pt.trace.json"))
    assert len(traces) == 1
    with open(traces[0]) as f:
        trace = json.load(f)  # Chrome trace format: what TensorBoard and Perfetto read
    names = {e.get("name") for e in trace["traceEvents"]}
    for alg in ALGORITHMS:
        assert alg in names, alg
    assert {"forward", "backward", "optimizer"} <= names
    tables = json.loads((tmp_path / "prof" / "profile_tables.json").read_text())
    assert {m["name"] for m in tables["modules"]} >= set(ALGORITHMS) - {"Alg6_EvoformerBlock"}
    assert "Alg11_TriangleMultiplicationOutgoing" in (tmp_path / "prof" / "profile_top_ops.txt").read_text()
    summary = json.loads((tmp_path / "prof" / "performance_summary.json").read_text())
    # 1 skipped + 2 warm-up + 3 recorded steps are left out of the timing: 4 timed steps remain.
    assert summary["performance_summary"]["timed_steps"] == 4
    flops = summary["flops"]
    for key in ("analytic_forward", "analytic_train_step", "torch_counter_train_step", "achieved_tflops", "mfu"):
        assert key in flops
    assert flops["torch_counter_train_step"] == pytest.approx(flops["analytic_train_step"], rel=0.01)
    assert flops["achieved_tflops"] > 0
    assert flops["mfu"] is None and flops["peak_tflops"] is None  # CPU: no peak in the table
    assert "MFU: n/a" in r.stdout


def test_peak_override_gives_an_mfu(tmp_path):
    r = run(tmp_path, "--peak-tflops", "0.5")
    assert r.returncode == 0, r.stderr
    flops = json.loads((tmp_path / "prof" / "performance_summary.json").read_text())["flops"]
    assert flops["mfu"] == pytest.approx(flops["achieved_tflops"] / 0.5)
    assert "MFU: n/a" not in r.stdout


@pytest.mark.parametrize("name,key", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA H100 PCIe", "H100 PCIe"), ("NVIDIA H200", "H200"),
    ("NVIDIA A100-SXM4-80GB", "A100"), ("AMD Instinct MI250X", "MI250X GCD"), ("AMD Instinct MI300X", "MI300X"),
    ("AMD Instinct MI325X", "MI325X"), ("AMD Instinct MI300A", None), ("NVIDIA GeForce RTX 4090", None),
])
def test_peak_table_lookup(name, key):
    assert tof.peak_table_key(name) == key
    if key:
        assert tof.PEAK_TFLOPS[key]["bf16"] > tof.PEAK_TFLOPS[key]["fp32"]


def test_unknown_device_has_no_mfu():
    import torch
    assert tof.peak_tflops(torch.device("cpu"), "fp32", None) is None
    assert tof.peak_tflops(torch.device("cpu"), "fp32", 12.5) == 12.5


def test_tensorboard_scalars_and_distance_map_images(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    r = run(tmp_path, "--eval-every", "5")
    assert r.returncode == 0, r.stderr
    events = EventAccumulator(str(tmp_path / "prof"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    for tag in ("train/loss", "train/learning_rate", "train/samples_per_sec", "train/memory_mb", "train/tflops",
                "eval/eval_loss", "eval/baseline_loss", "eval/contact_precision_top_l5"):
        assert tag in scalars, tag
    assert [e.step for e in events.Scalars("eval/eval_loss")] == [5, 10]  # step 5, then the final evaluation
    images = events.Images("eval/distance_map_predicted_vs_true")
    assert len(images) == 2 and images[0].width == 2 * images[0].height  # predicted | true, side by side
