"""--max-autotune: --compile with Inductor's max_autotune.

On the CPU: the Inductor settings that --compile passes (alone and with
--weight-grad-stream), that both compile scopes receive them, the refusals and the
benchmark part. On a GPU: the fastest path at the tiny preset trains like itself
without the flag (other kernels, so the same losses to rounding, not the same bits).
"""
from __future__ import annotations

import pytest
import torch

import tiny_openfold_v1 as tof
from test_cast_once import CFG, fastest_path_with_and_without, gpu


@pytest.mark.parametrize("fields,expected", [
    (dict(), None),
    (dict(weight_grad_stream=True), dict(allow_buffer_reuse=False, inplace_buffers=False)),
    (dict(max_autotune=True), dict(max_autotune=True, max_autotune_gemm=True)),
    (dict(max_autotune=True, weight_grad_stream=True),
     dict(allow_buffer_reuse=False, inplace_buffers=False, max_autotune=True, max_autotune_gemm=True)),
], ids=["default", "wgstream", "autotune", "both"])
def test_compile_options(fields, expected):
    assert tof.compile_options(tof.TrainConfig(compile=True, **fields)) == expected


@pytest.mark.parametrize("scope", ["step", "block"])
def test_both_compile_scopes_receive_the_settings(scope, monkeypatch):
    seen = []
    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: seen.append(kwargs) or model)
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kwargs: seen.append(kwargs))
    tc = tof.TrainConfig(compile=True, compile_scope=scope, max_autotune=True)
    model = tof.TinyOpenFold(CFG)
    tof.make_objective(model, CFG, tc, None, torch.device("cpu"), None)
    assert len(seen) == (CFG.n_evoformer_blocks if scope == "block" else 1)
    assert all(kwargs["options"] == dict(max_autotune=True, max_autotune_gemm=True) for kwargs in seen)


@pytest.mark.parametrize("fields,device,message", [
    (dict(), "cuda", "add --compile"),
    (dict(compile=True), "cpu", "needs a CUDA or ROCm GPU"),
], ids=["no-compile", "cpu"])
def test_max_autotune_is_refused_where_it_cannot_run(fields, device, message):
    tc = tof.TrainConfig(max_autotune=True, **fields)
    with pytest.raises(tof.UsageError, match=message):
        tof.check_fast_paths(tc, torch.device(device), "none", None)


def test_max_autotune_is_a_benchmark_part():
    fields = tof.parse_benchmark_path("flex+fused+compile+graphs+autotune")
    assert fields["max_autotune"] is True and fields["compile"] is True
    assert tof.parse_benchmark_path("flex+fused+compile+graphs")["max_autotune"] is False


@gpu
def test_gpu_fastest_path_trains_like_itself_without_the_flag():
    """flex+fused+triton+compile+graphs+flat+castonce+wgstream at the tiny preset, 6
    replayed steps each from the same weights and batches, with and without
    --max-autotune: every replay moves the weights, and the losses agree to rounding
    (FlexAttention's bias gradient adds with atomics: not the same bits even run to run)."""
    runs = fastest_path_with_and_without("max_autotune")
    for step, _ in runs.values():
        assert step.capture_stream is not None and step.capture_stream.priority < 0  # --weight-grad-stream
    assert runs[True][1] == pytest.approx(runs[False][1], rel=2e-2), runs


def test_the_first_step_says_why_it_is_slow():
    """Compiling, autotuning and capture happen in the first step; the log says so before it."""
    assert tof.first_step_note(tof.TrainConfig()) is None
    assert "compiles" in tof.first_step_note(tof.TrainConfig(compile=True))
    note = tof.first_step_note(tof.TrainConfig(compile=True, max_autotune=True, cuda_graphs=True))
    assert "compiles" in note and "--max-autotune" in note and "CUDA graph" in note
