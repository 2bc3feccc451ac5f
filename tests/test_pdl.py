"""--pdl: --compile's Triton kernels with programmatic dependent launch.

On the CPU: the Inductor setting that --compile passes (alone and with the other
flags' settings), that both compile scopes receive it and that nothing process-wide
changes, the benchmark part, and the refusals (no --compile; a CPU, ROCm or an NVIDIA
GPU below compute capability 9.0, faked). On an NVIDIA Hopper GPU: the generated code
waits on its producer (gdc_wait) only with the flag, and the fastest path at the tiny
preset trains like itself without it (the same kernels launched earlier: FlexAttention's
atomics aside, the same sums, so the losses agree to rounding).
"""
from __future__ import annotations

import pytest
import torch

import tiny_openfold_v1 as tof
from test_cast_once import CFG, fastest_path_with_and_without
from test_fast_paths import _step_setup

hopper = pytest.mark.skipif(not (torch.cuda.is_available() and tof.pdl_supported(torch.device("cuda", 0))),
                            reason="needs an NVIDIA GPU of compute capability 9.0 or newer")


@pytest.mark.parametrize("fields,expected", [
    (dict(pdl=True), {"triton.enable_pdl": True}),
    (dict(pdl=True, weight_grad_stream=True, max_autotune=True),
     {"allow_buffer_reuse": False, "inplace_buffers": False, "max_autotune": True, "max_autotune_gemm": True,
      "triton.enable_pdl": True}),
    (dict(weight_grad_stream=True), dict(allow_buffer_reuse=False, inplace_buffers=False)),
], ids=["pdl", "pdl-wgstream-autotune", "without"])
def test_compile_options(fields, expected):
    assert tof.compile_options(tof.TrainConfig(compile=True, **fields)) == expected


@pytest.mark.parametrize("scope", ["step", "block"])
def test_both_compile_scopes_receive_it_and_nothing_global_changes(scope, monkeypatch):
    """The setting travels in the options of the model's own torch.compile (the whole
    step, or each block), so it holds for this model's forward and backward and for
    no other compile in the process."""
    before = torch._inductor.config.triton.enable_pdl
    seen = []
    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: seen.append(kwargs) or model)
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kwargs: seen.append(kwargs))
    tc = tof.TrainConfig(compile=True, compile_scope=scope, pdl=True)
    tof.make_objective(tof.TinyOpenFold(CFG), CFG, tc, None, torch.device("cpu"), None)
    assert len(seen) == (CFG.n_evoformer_blocks if scope == "block" else 1)
    assert all(kwargs["options"] == {"triton.enable_pdl": True} for kwargs in seen)
    assert torch._inductor.config.triton.enable_pdl is before


def test_pdl_is_a_benchmark_part_and_in_the_default_paths():
    fields = tof.parse_benchmark_path("flex+fused+compile+graphs+pdl")
    assert fields["pdl"] is True and fields["compile"] is True
    assert tof.parse_benchmark_path("flex+fused+compile+graphs")["pdl"] is False
    defaults = tof.build_parser().parse_args(["--benchmark"]).benchmark_paths.split(",")
    assert defaults[-1] == defaults[-2] + "+pdl"  # the fastest path, with and without


@pytest.mark.parametrize("hip,capability,supported", [
    (None, (9, 0), True), (None, (10, 0), True), (None, (8, 0), False), ("6.2", (9, 4), False),
], ids=["hopper", "blackwell", "ampere", "rocm"])
def test_pdl_needs_nvidia_compute_capability_9(monkeypatch, hip, capability, supported):
    monkeypatch.setattr(torch.version, "hip", hip)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "a GPU")
    cuda = torch.device("cuda", 0)
    assert tof.pdl_supported(cuda) is supported
    tc = tof.TrainConfig(compile=True, pdl=True)
    if supported:
        tof.check_fast_paths(tc, cuda, "none", None)
    else:
        with pytest.raises(tof.UsageError, match="^--pdl: needs an NVIDIA GPU of compute capability 9.0"):
            tof.check_fast_paths(tc, cuda, "none", None)


@pytest.mark.parametrize("fields,device,message", [
    (dict(), "cuda", "^--pdl: .*add --compile$"),
    (dict(compile=True), "cpu", "^--pdl: needs an NVIDIA GPU .*this run's device is .*; leave the flag out$"),
], ids=["no-compile", "cpu"])
def test_pdl_is_refused_where_it_cannot_act(fields, device, message):
    assert tof.pdl_supported(torch.device("cpu")) is False
    with pytest.raises(tof.UsageError, match=message):
        tof.check_fast_paths(tof.TrainConfig(pdl=True, **fields), torch.device(device), "none", None)


@hopper
def test_gpu_generated_code_waits_on_its_producer_only_with_the_flag(tmp_path, monkeypatch):
    """sdpa + compile, fp32, tiny model: the code Inductor generates for the step
    (forward and backward; a fresh cache, so it is generated here) holds gdc_wait with
    the flag and not without it, and the loss and gradients are the same to rounding."""
    from torch._inductor.utils import run_and_get_code
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    results = []
    for pdl in (False, True):
        torch._dynamo.reset()
        tc, model, _, objective, batches = _step_setup("cuda", dict(compile=True, attention="sdpa", pdl=pdl), CFG)
        tof.check_fast_paths(tc, torch.device("cuda"), "none", None)

        def step():
            loss = objective(batches[0])
            loss.backward()
            return loss

        with torch._functorch.config.patch(enable_autograd_cache=False):
            loss, codes = run_and_get_code(step)
        assert len(codes) >= 2  # forward and backward
        assert any("gdc_wait" in code for code in codes) == pdl
        results.append((loss.item(), [p.grad.clone() for p in model.parameters()]))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert loss_b == pytest.approx(loss_a, rel=1e-5)
    scale = max(g.abs().max().item() for g in grads_a)
    assert all((a - b).abs().max().item() <= 1e-5 * scale for a, b in zip(grads_a, grads_b))


@hopper
def test_gpu_fastest_path_trains_like_itself_without_the_flag():
    """flex+fused+triton+compile+graphs+flat+castonce+wgstream at the tiny preset, 6
    replayed steps each from the same weights and batches, with and without --pdl:
    every replay moves the weights, and the losses agree to rounding."""
    runs = fastest_path_with_and_without("pdl")
    assert runs[True][1] == pytest.approx(runs[False][1], rel=2e-2), runs
