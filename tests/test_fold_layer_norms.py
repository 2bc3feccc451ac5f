"""--fold-layer-norms: the pair-side LayerNorms' weight and bias folded into the products after them.

(xhat * gamma + beta) W^T + b = xhat (W diag gamma)^T + (b + W beta). On the CPU in
float64 the whole model computes the reference function (outputs and every parameter's
gradient, gamma and beta included) alone and with the other paths, also with
--weight-grad-stream's operator, which then gets no folded product; the switch reaches
the eight pair-side LayerNorms of each block and no other; a FoldedLinear is the
product after the LayerNorm, with and without a bias; a bf16 model without autocast
stays bf16; under bf16 autocast with --cast-once the folded weights are float32 and
one step trains like the unfolded path to bf16 rounding; compiled on the CPU it trains
like eager. On a GPU: the bf16 fast path with the fold tracks the reference, and the
fastest path trains like itself without it.
"""
from __future__ import annotations

import pytest
import torch

import tiny_openfold_v1 as tof
import test_fast_paths as fast
from test_cast_once import fastest_path_with_and_without, one_step, setup
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


def test_fold_reaches_the_eight_pair_side_layer_norms_of_each_block(monkeypatch):
    """Forward: Alg. 7's LayerNorm(z), the two of each triangle multiplication, the one
    of each triangle attention and the pair transition's (its PyTorch code: no Triton
    kernels on the CPU) run without weight and bias; the MSA side's keep theirs."""
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
    assert calls == {"without": 8 * CFG.n_evoformer_blocks, "with": affine_all - 8 * CFG.n_evoformer_blocks}


def folded(weight: torch.Tensor, depth: int = 4) -> bool:
    """Whether autograd made weight from a product W * gamma (a FoldedLinear's weight, or
    a concatenation or padding of such weights), looking depth steps back."""
    todo = [weight.grad_fn]
    for _ in range(depth):
        if any(node is not None and type(node).__name__.startswith("MulBackward") for node in todo):
            return True
        todo = [f for node in todo if node is not None for f, _ in node.next_functions]
    return False


def test_fold_keeps_its_products_off_the_second_stream(monkeypatch):
    """--weight-grad-stream's operator run on the CPU (as in test_weight_grad_stream.py):
    the same function, and no folded weight reaches SideStreamProduct (its gradient
    would be read before the join), also through fused projections; the other products
    still go through it."""
    monkeypatch.setattr(tof, "SIDE_WEIGHT_GRADS_ON_CPU", True)
    weights = []
    apply = tof.SideStreamProduct.apply
    monkeypatch.setattr(tof.SideStreamProduct, "apply", lambda x, w, *rest: weights.append(w) or apply(x, w, *rest))
    for paths in (dict(), dict(fuse_projections=True, attention="sdpa", chunk_size=3)):
        weights.clear()
        assert_same_function(REFERENCE, run(MODEL, ARGS, fold_layer_norms=True, weight_grad_stream=True, **paths),
                             1e-9)
        assert len(weights) > 10 and not any(folded(w) for w in weights)
    assert folded(tof.FoldedLinear(MODEL.evoformer[0].pair_transition.linear_1,
                                   MODEL.evoformer[0].pair_transition.layer_norm).weight)


def test_a_bf16_model_without_autocast_stays_bf16():
    model = tof.TinyOpenFold(CFG).bfloat16()
    msa, feats, msa_mask, residue_mask = ARGS
    outs = [model.configure(fold_layer_norms=fold)(msa, feats.bfloat16(), msa_mask, residue_mask)["pair"]
            for fold in (False, True)]
    assert outs[1].dtype == torch.bfloat16
    torch.testing.assert_close(outs[1].float(), outs[0].float(), rtol=0.05, atol=0.05)


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


def test_fold_with_cast_once_trains_like_without_it(monkeypatch):
    """bf16 autocast, --flat-optimizer and --cast-once, the second of two steps: the fold
    multiplies the bf16 copy of W by gamma in float32 (the folded weights are float32,
    for autocast to round once), so the same loss and gradients to bf16 rounding, not
    bit for bit as --cast-once alone is."""
    paths = dict(attention="sdpa", fuse_projections=True)
    dtypes = set()
    init = tof.FoldedLinear.__init__

    def spy(self, layer, norm):
        init(self, layer, norm)
        dtypes.add((layer.weight.dtype, self.weight.dtype, self.bias.dtype))
    monkeypatch.setattr(tof.FoldedLinear, "__init__", spy)
    _, _, objective, batch = setup(True, fold_layer_norms=True, **paths)
    objective(batch)
    assert dtypes == {(torch.bfloat16, torch.float32, torch.float32)}
    monkeypatch.setattr(tof.FoldedLinear, "__init__", init)
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


@gpu
def test_gpu_fastest_path_trains_like_itself_without_the_fold():
    """flex+fused+triton+compile+graphs+flat+castonce+wgstream at the tiny preset, 6
    replayed steps each from the same weights and batches, with and without the fold:
    every replay moves the weights, and the losses agree to rounding."""
    runs = fastest_path_with_and_without("fold_layer_norms")
    assert runs[True][1] == pytest.approx(runs[False][1], rel=2e-2), runs


def test_fold_compiled_on_cpu_trains_like_eager():
    """torch.compile (Inductor's C++ backend) with the fold and fused projections: the
    same losses and weights as eager over three steps (test_fast_paths' comparison)."""
    fast.test_compile_on_cpu_trains_like_eager("step", dict(fuse_projections=True, fold_layer_norms=True))
