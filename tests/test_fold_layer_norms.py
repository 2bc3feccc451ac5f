"""--fold-layer-norms: the pair-side LayerNorms' weight and bias folded into the products after them.

(xhat * gamma + beta) W^T + b = xhat (W diag gamma)^T + (b + W beta). On the CPU in
float64 the whole model computes the reference function (outputs and every parameter's
gradient, gamma and beta included) alone and with the other paths; the switch reaches
the seven pair-side LayerNorms of each block and no other; a FoldedLinear is the
product after the LayerNorm, with and without a bias, and keeps its weight gradient on
the main stream; under bf16 autocast with --cast-once it trains like the unfolded path
to bf16 rounding. On a GPU: the bf16 fast path with the fold tracks the reference.
"""
from __future__ import annotations

import pytest
import torch

import tiny_openfold_v1 as tof
import test_fast_paths as fast
from test_cast_once import one_step
from test_fast_paths import ARGS, CFG, MODEL, REFERENCE, assert_same_function, flex_on_cpu, run  # noqa: F401

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA or ROCm GPU")


@pytest.mark.parametrize("paths", [dict(), dict(fuse_projections=True),
                                   dict(attention="sdpa", fuse_projections=True, chunk_size=3,
                                        checkpoint_blocks=True),
                                   dict(chunk_size=1)],
                         ids=lambda p: "+".join(f"{k}={v}" for k, v in p.items()) or "alone")
def test_fold_computes_the_reference_function(paths):
    assert_same_function(REFERENCE, run(MODEL, ARGS, fold_layer_norms=True, **paths), 1e-9)


def test_fold_with_flex_computes_the_reference_function(flex_on_cpu):
    assert_same_function(REFERENCE, run(MODEL, ARGS, attention="flex", fuse_projections=True,
                                        fold_layer_norms=True), 1e-9)


def test_fold_reaches_the_seven_pair_side_layer_norms_of_each_block(monkeypatch):
    """Forward: Alg. 7's LayerNorm(z), the two of each triangle multiplication and the
    one of each triangle attention run without weight and bias; the MSA side's, the
    transitions' and the outer-product mean's keep theirs."""
    calls = {"without": 0, "with": 0}
    layer_norm = tof.F.layer_norm

    def spy(x, shape, weight=None, bias=None, eps=1e-5):
        calls["with" if weight is not None else "without"] += 1
        return layer_norm(x, shape, weight, bias, eps)

    monkeypatch.setattr(tof.F, "layer_norm", spy)
    run(MODEL, ARGS)
    affine_all = calls["with"]
    assert calls["without"] == 0 and affine_all == 12 * CFG.n_evoformer_blocks
    calls.update(without=0, **{"with": 0})
    run(MODEL, ARGS, fold_layer_norms=True)
    assert calls == {"without": 7 * CFG.n_evoformer_blocks, "with": affine_all - 7 * CFG.n_evoformer_blocks}


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_folded_linear_is_the_product_after_the_layer_norm(bias):
    torch.manual_seed(0)
    norm = torch.nn.LayerNorm(6, dtype=torch.float64)
    layer = tof.linear(6, 5, bias=bias).double()
    with torch.no_grad():
        for p in (*norm.parameters(), *layer.parameters()):
            p.normal_(0.0, 0.7)
    layer.side_weight_grads = True  # --weight-grad-stream's setting is not inherited (see FoldedLinear)
    x = torch.randn(4, 3, 6, dtype=torch.float64)
    folded = tof.FoldedLinear(layer, norm)
    assert folded.side_weight_grads is False and folded.out_features == 5 and folded.bias is not None
    expected = layer(norm(x))
    got = folded(tof.layer_norm_without_affine(norm, x))
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    params = [*norm.parameters(), *layer.parameters()]
    dy = torch.randn_like(expected)
    for a, b in zip(torch.autograd.grad(expected, params, dy), torch.autograd.grad(got, params, dy)):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)


def test_fold_with_cast_once_trains_like_without_it():
    """bf16 autocast, --flat-optimizer and --cast-once, the second of two steps: the fold
    multiplies the bf16 copy of W by gamma and rounds again, so the same loss and
    gradients to bf16 rounding, not bit for bit as --cast-once alone is."""
    paths = dict(attention="sdpa", fuse_projections=True)
    loss, grads = one_step(True, **paths)
    loss1, grads1 = one_step(True, fold_layer_norms=True, **paths)
    torch.testing.assert_close(loss1, loss, rtol=2e-2, atol=0)
    scale = max(g.abs().max().item() for g in grads.values())
    for name in grads:
        assert (grads[name] - grads1[name]).abs().max().item() <= 0.05 * scale, name


def test_fold_is_a_benchmark_part_and_a_flag():
    assert tof.parse_benchmark_path("sdpa+fused+foldln")["fold_layer_norms"] is True
    assert tof.parse_benchmark_path("sdpa+fused")["fold_layer_norms"] is False
    assert tof.TrainConfig(fold_layer_norms=True).model_paths()["fold_layer_norms"] is True


@gpu
@pytest.mark.parametrize("paths", [dict(attention="flex", fuse_projections=True, fold_layer_norms=True),
                                   dict(attention="flex", fuse_projections=True, triton_kernels=True,
                                        fold_layer_norms=True)],
                         ids=lambda p: "+".join(f"{k}={v}" for k, v in p.items()))
def test_gpu_bf16_fold_tracks_the_reference(paths):
    fast.test_gpu_bf16_fast_path_tracks_the_reference(paths)
