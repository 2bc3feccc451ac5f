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
    # 1 skipped + 2 warm-up + 3 recorded steps, and the 2 after them that the profiler still
    # slows, are left out of the timing: 2 timed steps remain.
    assert summary["performance_summary"]["timed_steps"] == 10 - 6 - tof.PROFILER_AFTERMATH_STEPS == 2
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


# --- memory analysis -----------------------------------------------------------


def test_saved_activations_are_charged_to_the_right_module():
    """Alg. 15 keeps exactly: its input z and the LayerNorm output (c_z each), the ReLU
    output (4 c_z) and the LayerNorm mean and 1/std (1 each): B N^2 (6 c_z + 2) floats
    per block. A wrong module stack or double counting would change this number."""
    import torch
    cfg = tof.config_from_preset("tiny", max_seq_len=12, n_seqs=3)
    torch.manual_seed(0)
    model = tof.TinyOpenFold(cfg)
    ds = tof.SyntheticProteinDataset(2, 12, 3, 0)
    batch = tof.collate_proteins([ds[0], ds[1]])
    import gc
    gc.collect()
    alive_before = sum(1 for o in gc.get_objects() if torch.is_tensor(o))
    charged, live_graph = tof.saved_activations_by_module(model, batch, None)
    gc.collect()  # the measured graph must be freed, not kept alive by a reference cycle
    assert sum(1 for o in gc.get_objects() if torch.is_tensor(o)) == alive_before
    B, N, cz, L = 2, 12, cfg.pair_dim, cfg.n_evoformer_blocks
    assert charged["Alg15_PairTransition"] == L * B * N * N * (6 * cz + 2) * 4
    assert live_graph is None  # CPU: no allocator to ask
    assert set(charged) >= set(ALGORITHMS) - {"Alg6_EvoformerBlock"}
    # The pair stack's share grows with N (its activations are N^2, the MSA stack's N).
    share = {}
    for n in (8, 24):
        cfg = tof.config_from_preset("tiny", max_seq_len=n, n_seqs=3)
        model = tof.TinyOpenFold(cfg)
        ds = tof.SyntheticProteinDataset(1, n, 3, 0)
        charged, _ = tof.saved_activations_by_module(model, tof.collate_proteins([ds[0]]), None)
        share[n] = sum(v for k, v in charged.items() if k.startswith(tof.PAIR_TRACK)) / sum(charged.values())
    assert share[24] > share[8]


def test_memory_profiling_writes_per_phase_readings_and_a_budget(tmp_path):
    r = run(tmp_path, "--enable-memory-profiling", "--dropout", "0.1")
    assert r.returncode == 0, r.stderr
    assert "Memory budget" in r.stdout and "Activation memory saved for backward" in r.stdout
    assert "Alg15_PairTransition" in (tmp_path / "prof" / "memory_breakdown.txt").read_text()
    summary = json.loads((tmp_path / "prof" / "performance_summary.json").read_text())
    memory = summary["memory"]
    assert len(memory["per_step"]) == 10
    for row in memory["per_step"]:
        for phase in ("data", "forward", "backward", "optimizer"):
            assert row[phase]["allocated_mb"] > 0 and row[phase]["peak_mb"] >= row[phase]["allocated_mb"] - 1e-6
            assert row[phase]["reserved_mb"] is None  # CPU: no allocator pool
    budget = memory["budget"]
    n_params = summary["parameters"]
    assert budget["parameters_mb"] == pytest.approx(n_params * 4 / 2 ** 20)
    assert budget["gradients_mb"] == pytest.approx(budget["parameters_mb"])
    # AdamW keeps two moments per parameter (plus one step counter per tensor).
    assert budget["optimizer_state_mb"] == pytest.approx(2 * budget["parameters_mb"], rel=0.01)
    assert budget["activations_mb"] > 0
    assert budget["sum_mb"] == pytest.approx(sum(budget[k] for k in ("parameters_mb", "gradients_mb",
                                                                      "optimizer_state_mb", "activations_mb")))
    assert budget["peak_mb"] >= budget["sum_mb"]
    assert memory["growth"]["last_step"] == 9
    names = {row["module"] for row in memory["activations_by_module"]}
    assert "Alg11_TriangleMultiplicationOutgoing" in names
    assert sum(row["percent"] for row in memory["activations_by_module"]) == pytest.approx(100)
    assert memory["snapshot"] is None  # the allocator snapshot is CUDA/ROCm only


def test_memory_growth_is_fitted_after_the_profiler(tmp_path):
    """With the PyTorch profiler on, the steps it records (and the ones it still slows)
    are left out of the growth fit: on a CPU its buffers are part of the process's memory."""
    memprof = tof.MemoryProfile(tof.torch.device("cpu"), str(tmp_path), 1)
    profiler_buffers = [0, 0, 300, 600, 900, 900, 900, 900, 900, 900]  # MB, steps 0-9
    memprof.per_step = [{"step": i, "optimizer": {"allocated_mb": 100.0 + mb}}
                        for i, mb in enumerate(profiler_buffers)]
    assert memprof.growth()["slope_mb_per_100_steps"] > 5000  # the profiler read as a leak
    memprof.first_steady_step = 5
    growth = memprof.growth()
    assert growth["first_step"] == 6 and growth["last_step"] == 9
    assert growth["growth_mb"] == 0 and growth["slope_mb_per_100_steps"] == pytest.approx(0, abs=1e-9)


def test_memory_profiling_does_not_change_training(tmp_path):
    """The activation measurement runs a training-mode forward on a forked RNG:
    with dropout on, the losses are the same with and without it."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = run(tmp_path / "a", "--dropout", "0.2")
    measured = run(tmp_path / "b", "--dropout", "0.2", "--enable-memory-profiling")
    assert plain.returncode == 0 and measured.returncode == 0, plain.stderr + measured.stderr
    losses = [json.loads((tmp_path / d / "prof" / "performance_summary.json").read_text())["loss_history"]
              for d in ("a", "b")]
    assert losses[0] == losses[1]


def test_emit_nvtx_is_a_quiet_no_op_on_cpu(tmp_path):
    r = run(tmp_path, "--emit-nvtx")
    assert r.returncode == 0, r.stderr
    assert "--emit-nvtx needs a CUDA or ROCm device" in r.stdout
    assert "Traceback" not in r.stderr


def test_module_time_rows_merge_the_cpu_range_and_its_gpu_annotation():
    """On a GPU each range appears twice in key_averages(): one row per module,
    with host time, kernel time and the GPU span side by side."""
    import types
    import torch
    cpu, cuda = torch.autograd.DeviceType.CPU, torch.autograd.DeviceType.CUDA

    def event(key, device_type, cpu_us, device_us, count=4):
        return types.SimpleNamespace(key=key, device_type=device_type, count=count, cpu_time_total=cpu_us,
                                     device_time_total=device_us)

    rows = tof.module_time_rows([
        event("Alg7_MSARowAttentionWithPairBias", cpu, 3000.0, 200.0),
        event("Alg7_MSARowAttentionWithPairBias", cuda, 0.0, 2800.0),
        event("Alg15_PairTransition", cpu, 500.0, 450.0),
        event("aten::mm", cpu, 9000.0, 900.0),
    ])
    assert [r["name"] for r in rows] == ["Alg7_MSARowAttentionWithPairBias", "Alg15_PairTransition"]
    assert rows[0] == {"name": "Alg7_MSARowAttentionWithPairBias", "calls": 4, "cpu_total_ms": 3.0,
                       "kernel_ms": 0.2, "gpu_span_ms": 2.8}
    assert rows[1]["gpu_span_ms"] is None
