"""--weight-grad-stream: the nn.Linear weight gradients on a second CUDA stream.

On the CPU (SIDE_WEIGHT_GRADS_ON_CPU runs SideStreamProduct there, without streams):
in float64 the outputs and every gradient equal the plain path's exactly, fused and
not, and every nn.Linear's weight gradient goes through the operator; under bf16
autocast with --cast-once one step gives the same bits; compiled (Inductor's C++
backend) the backward returns the operator's outputs untouched and reuses no buffer;
the refusals. On a GPU: the same bits in eager mode with the products on the second
stream, and the fastest path trains like itself without the flag.
"""
from __future__ import annotations

import collections
import glob
import os

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import tiny_openfold_v1 as tof
from test_cast_once import CFG, gpu, graphed_steps, one_step, setup

tof.FUSE_PROJECTIONS_ON_CPU = True  # as in test_fast_paths.py: --fuse-projections acts on the CPU too


@pytest.fixture
def side_on_cpu(monkeypatch):
    """SideStreamProduct on the CPU; check_fast_paths, which refuses the flag there, off."""
    monkeypatch.setattr(tof, "SIDE_WEIGHT_GRADS_ON_CPU", True)
    monkeypatch.setattr(tof, "check_fast_paths", lambda *args, **kwargs: None)


class CountOps(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls[func] += 1
        return func(*args, **(kwargs or {}))


def float64_step(fused: bool, side: bool):
    """Outputs and {name: gradient} of a float64 forward + backward with randomised
    weights, masked MSA rows and odd N; and the operators it called."""
    torch.manual_seed(0)
    model = tof.TinyOpenFold(CFG).double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)  # AF2's zero-initialised layers too: no branch the identity
    model.configure(fuse_projections=fused, weight_grad_stream=side)
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 21, (2, CFG.n_seqs, 9), generator=g)
    pair = torch.randn(2, 9, 9, CFG.pair_input_dim, generator=g, dtype=torch.float64)
    msa_mask = (torch.rand(2, CFG.n_seqs, 9, generator=g) > 0.2).double()
    with CountOps() as ops:
        out = model(tokens, pair, msa_mask)
        (out["distances"].square().sum() + out["msa"].sum() + out["pair"].square().sum()).backward()
    return out, {n: p.grad for n, p in model.named_parameters()}, ops.calls, model


@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
def test_float64_outputs_and_gradients_are_the_reference_exactly(side_on_cpu, fused):
    out, grads, _, _ = float64_step(fused, side=False)
    out1, grads1, calls, model = float64_step(fused, side=True)
    for key in out:
        assert torch.equal(out[key], out1[key]), key
    assert grads.keys() == grads1.keys()
    for name in grads:
        assert torch.equal(grads[name], grads1[name]), name
    assert sum(bool(g.abs().sum()) for g in grads.values()) > 0.9 * len(grads)  # gradients, not zeros
    n_linear = sum(isinstance(m, tof.nn.Linear) for m in model.modules())
    weight_grads = calls[torch.ops.tinyopenfold.weight_grad.default]
    if fused:  # the projections of one input share one product, so one weight gradient
        assert 0 < weight_grads < n_linear
    else:  # one per nn.Linear: every layer goes through the operator
        assert weight_grads == n_linear


def test_without_the_flag_nothing_goes_through_the_operator(side_on_cpu):
    *_, calls, _ = float64_step(fused=True, side=False)
    assert calls[torch.ops.tinyopenfold.weight_grad.default] == 0


def test_cast_once_step_gives_the_same_bits(side_on_cpu):
    """bf16 autocast, --flat-optimizer --cast-once, eager: the loss and the float32
    gradients of the second of two steps, with and without the flag."""
    paths = dict(attention="sdpa", fuse_projections=True)
    loss, grads = one_step(True, **paths)
    loss1, grads1 = one_step(True, weight_grad_stream=True, **paths)
    assert torch.equal(loss, loss1)
    for name in grads:
        assert torch.equal(grads[name], grads1[name]), name


def test_compiled_backward_returns_the_weight_gradients_untouched(side_on_cpu, tmp_path, monkeypatch):
    """Compiled with the flag (Inductor's C++ backend), the backward's code calls the
    operator, reuses no buffer, and hands each result on only as the graph's output (a
    kernel that read it on the main stream before the join would race the second
    stream); the step matches the uncompiled one to bf16 rounding."""
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    torch._dynamo.reset()
    paths = dict(attention="sdpa", fuse_projections=True, weight_grad_stream=True)
    loss, grads = one_step(True, after_a_step=False, compile=True, **paths)
    loss_eager, grads_eager = one_step(True, after_a_step=False, **paths)
    torch.testing.assert_close(loss, loss_eager, rtol=1e-3, atol=0)
    scale = max(g.abs().max().item() for g in grads_eager.values())
    for name in grads:
        assert (grads[name] - grads_eager[name]).abs().max().item() <= 1e-2 * scale, name
    codes = [open(f).read() for f in glob.glob(os.path.join(tmp_path, "**", "*.py"), recursive=True)]
    backward = [c for c in codes if "tinyopenfold.weight_grad.default(" in c]
    assert len(backward) == 1
    lines = backward[0].splitlines()
    assert not any("# reuse" in line for line in lines)
    results = [line.split("=")[0].strip() for line in lines if "tinyopenfold.weight_grad.default(" in line]
    assert len(results) > 10
    for buf in results:  # buf = op(...); bufN = buf; assert_size_stride(bufN, ...); del buf; ... return (.., bufN ..)
        aliases = {buf} | {line.split("=")[0].strip() for line in lines if line.strip().endswith(f"= {buf}")}
        users = [line for line in lines if any(f"{a}," in line or f"{a})" in line for a in aliases)
                 and "assert_size_stride" not in line and "assert_alignment" not in line
                 and "tinyopenfold.weight_grad" not in line
                 and not line.strip().startswith(("del ", "#"))]
        assert all(line.strip().startswith("return") for line in users), (buf, users)


@pytest.mark.parametrize("fields,device,message", [
    (dict(use_amp=True, flat_optimizer=True, cast_once=True), "cpu", "needs a CUDA or ROCm GPU"),
    (dict(use_amp=True, flat_optimizer=True), "cuda", "add --cast-once"),
], ids=["cpu", "no-cast-once"])
def test_weight_grad_stream_is_refused_where_it_cannot_run(fields, device, message):
    tc = tof.TrainConfig(weight_grad_stream=True, **fields)
    amp_dtype, _ = tof.amp_settings(tc, torch.device("cpu"))
    with pytest.raises(tof.UsageError, match=message):
        tof.check_fast_paths(tc, torch.device(device), "none", amp_dtype)


def test_weight_grad_stream_is_a_benchmark_part():
    assert tof.parse_benchmark_path("flex+fused+flat+castonce+wgstream")["weight_grad_stream"] is True


def test_join_without_pending_work_does_nothing():
    tof.join_weight_grads()  # no GPU needed: nothing pending


@gpu
@pytest.mark.parametrize("kernels", [False, True], ids=["pytorch", "triton-kernels"])
def test_gpu_side_stream_gives_the_same_bits_in_eager_mode(kernels):
    """The products really run on the second stream, and the step is the same bits
    (with --triton-kernels also the weight gradients inside the transition and
    ln_linear operators)."""
    paths = dict(attention="sdpa", fuse_projections=True, triton_kernels=kernels)
    loss, grads = one_step(True, "cuda", **paths)
    tof._WEIGHT_GRADS_PENDING.clear()
    loss1, grads1 = one_step(True, "cuda", weight_grad_stream=True, **paths)
    assert torch.device("cuda", 0) in tof._WEIGHT_GRAD_STREAMS or torch.device("cuda") in tof._WEIGHT_GRAD_STREAMS
    assert not tof._WEIGHT_GRADS_PENDING  # joined
    assert torch.equal(loss, loss1)
    for name in grads:
        assert torch.equal(grads[name], grads1[name]), name


@gpu
def test_gpu_fastest_path_trains_like_itself_without_the_flag():
    """flex+fused+triton+compile+graphs+flat+castonce at the small preset, 6 replayed
    steps each from the same weights and batches: the flag changes the losses by
    rounding only (FlexAttention's bias gradient adds with atomics: not the same bits
    even run to run)."""
    cfg = tof.config_from_preset("small")
    paths = dict(attention="flex", fuse_projections=True, triton_kernels=True, compile=True, cuda_graphs=True)
    losses = {}
    for side in (False, True):
        step, losses[side], moved = graphed_steps(cfg, 6, weight_grad_stream=side, **paths)
        assert (step.capture_stream is not None) == side  # --weight-grad-stream: captured at a higher priority
        # every replay updated the weights; the losses alone cannot show it: on an H100
        # (results/h100_2026-12-07c, call2) steps 3 and 5 gave batch 1 the same loss
        assert all(moved), moved
    assert losses[True] == pytest.approx(losses[False], rel=2e-2), losses
