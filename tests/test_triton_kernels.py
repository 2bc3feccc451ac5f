"""--triton-kernels: the hand-written Triton kernels compute the reference function.

On a machine without a GPU the kernels run in Triton's interpreter
(TRITON_INTERPRET=1, set before tiny_openfold_kernels is first imported), in
float64, against the PyTorch code of the same lines: the gating alone (values,
the gradients of P and of the bias, tiles that straddle proteins, channel and
row counts that no block size divides) and the whole model (outputs and every
parameter's gradient). With a GPU those CPU tests are skipped (the kernels are
then compiled, not interpreted) and the GPU tests below compare the compiled
kernels in float32 and bf16, and the compiled and graphed training step.
Without the triton package everything here is skipped.
"""

from __future__ import annotations

import copy
import importlib
import os
import sys

import pytest
import torch

import tiny_openfold_v1 as tof
import test_fast_paths as fast
from test_fast_paths import ARGS, CFG, MODEL, REFERENCE, assert_same_function, counted, gpu, run

try:
    import triton  # noqa: F401
    HAVE_TRITON = True
except ImportError:  # pragma: no cover - a torch without Triton and no `pip install triton`
    HAVE_TRITON = False

on_cpu = pytest.mark.skipif(torch.cuda.is_available() or not HAVE_TRITON,
                            reason="needs triton; with a GPU the kernels are compiled and the GPU tests cover them")


@pytest.fixture
def kernels(monkeypatch):
    """tiny_openfold_kernels, interpreted on the CPU (conftest.py sets TRITON_INTERPRET=1
    without a GPU); the script's kernel path on for CPU tensors."""
    assert os.environ.get("TRITON_INTERPRET") == "1"
    monkeypatch.setattr(tof, "TRITON_ON_CPU", True)
    return importlib.import_module("tiny_openfold_kernels")


def count_calls(monkeypatch, kernels, *names: str) -> dict:
    """Count the calls of these functions of tiny_openfold_kernels: {name: calls}."""
    calls = dict.fromkeys(names, 0)
    for name in names:
        monkeypatch.setattr(kernels, name, counted(calls, name, getattr(kernels, name)))
    return calls


def pytorch_gating(p, bias, mask):
    """Lines 2-3 of Alg. 11/12 written with PyTorch operators, from the same P = W z^T."""
    c = p.shape[0] // 4
    q = (p + bias.to(p.dtype)[:, None]).unflatten(1, mask.shape).movedim(0, -3)  # [*, 4c, N, N]
    a_g, a_p, b_g, b_p = q.split(c, dim=-3)
    m = mask.unsqueeze(-3).to(p.dtype)
    return torch.sigmoid(a_g) * a_p * m, torch.sigmoid(b_g) * b_p * m


def gating_case(c, batch, n, dtype=torch.float64, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(4 * c, batch * n * n, generator=g, dtype=torch.float64).to(device, dtype).requires_grad_()
    bias = torch.randn(4 * c, generator=g).to(device, torch.float64 if dtype == torch.float64 else torch.float32)
    mask = (torch.rand(batch, n, n, generator=g) > 0.25).float().to(device)
    grads = [torch.randn(batch, c, n, n, generator=g, dtype=torch.float64).to(device, dtype) for _ in range(2)]
    return p, bias.requires_grad_(), mask, grads


def compare_gating(p, bias, mask, grads, tol):
    """The kernel's a, b and the gradients of p and bias against PyTorch's, relative to each one's scale."""
    out = torch.ops.tinyopenfold.triangle_gating(p, bias, mask)
    ref = pytorch_gating(p, bias, mask)
    loss = lambda pair: sum((t.double() * g.double()).sum() for t, g in zip(pair, grads))  # noqa: E731
    got = torch.autograd.grad(loss(out), (p, bias))
    want = torch.autograd.grad(loss(ref), (p, bias))
    for name, x, y in (("a", out[0], ref[0]), ("b", out[1], ref[1]), ("dP", got[0], want[0]),
                       ("dbias", got[1], want[1])):
        assert x.shape == y.shape and x.dtype == y.dtype, name
        err = (x.double() - y.double()).abs().max().item()
        assert err <= tol * max(y.double().abs().max().item(), 1e-30), f"{name}: max error {err:.3g}"
    assert out[0].is_contiguous() and out[1].is_contiguous() and got[0].is_contiguous()


@on_cpu
@pytest.mark.parametrize("c, batch, n", [(9, 2, 13), (20, 3, 19), (16, 1, 16)],
                         ids=["odd", "two-channel-blocks-straddling-tiles", "one-tile"])
def test_gating_kernels_match_pytorch(kernels, c, batch, n):
    """float64: 2 x 13 x 13 pairs fit one row block; 3 x 19 x 19 = 1,083 pairs make 5
    row blocks whose tiles cross from one protein to the next, and 20 channels two
    channel blocks, the second partly outside; the bias gradient adds 5 partial sums."""
    compare_gating(*gating_case(c, batch, n), tol=1e-12)


@on_cpu
def test_gating_handles_a_missing_gradient_and_a_transposed_p(kernels):
    """A loss that reads only a (b's gradient is None, so zeros), and a p that is the
    transpose of a [pairs, 4c] tensor: the kernel reads it in order and still writes
    dP contiguous, so the gradient reaches the right elements."""
    p, bias, mask, grads = gating_case(9, 2, 13)
    a, _ = torch.ops.tinyopenfold.triangle_gating(p, bias, mask)
    got = torch.autograd.grad((a * grads[0]).sum(), (p, bias))
    want = torch.autograd.grad((pytorch_gating(p, bias, mask)[0] * grads[0]).sum(), (p, bias))
    for x, y in zip(got, want):
        assert torch.allclose(x, y, atol=1e-12)
    q = p.detach().t().contiguous().requires_grad_()  # [pairs, 4c]
    compare_gating(q.t(), bias, mask, grads, tol=1e-12)


@on_cpu
def test_gating_refuses_a_mask_that_is_not_one_value_per_pair(kernels):
    """The kernel reads the mask pair by pair; a broadcast mask is the caller's to expand."""
    p, bias, mask, _ = gating_case(9, 2, 13)
    with pytest.raises(RuntimeError, match="mask one value per pair"):
        torch.ops.tinyopenfold.triangle_gating(p, bias, mask[:1])


@on_cpu
def test_gating_operator_passes_torch_opcheck(kernels):
    """Schema, fake (meta) implementation and autograd registration agree with the kernel."""
    p, bias, mask, _ = gating_case(9, 2, 13)
    torch.library.opcheck(torch.ops.tinyopenfold.triangle_gating.default, (p, bias, mask))


def opm_case(lead, s, i, j, c, d, dtype=torch.float64, device="cpu", seed=0):
    """a [*, S, I, C], b [*, S, J, D] with masked entries zero, inv [*, I, J] as Alg. 10 makes
    it (1 / (eps + count), count from the MSA mask), and a gradient for the output."""
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(*lead, s, max(i, j), generator=g) > 0.2).double()
    a = torch.randn(*lead, s, i, c, generator=g, dtype=torch.float64) * mask[..., :i, None]
    b = torch.randn(*lead, s, j, d, generator=g, dtype=torch.float64) * mask[..., :j, None]
    inv = 1 / (1e-3 + torch.einsum("...si,...sj->...ij", mask[..., :i], mask[..., :j]))
    grad = torch.randn(*lead, i, j, c * d, generator=g, dtype=torch.float64)
    to = lambda t, dt: t.to(device, dt)  # noqa: E731
    inv_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    return (to(a, dtype).requires_grad_(), to(b, dtype).requires_grad_(), to(inv, inv_dtype), to(grad, dtype))


def compare_opm(a, b, inv, grad, tol):
    """The kernel's mean and the operator's gradients of a and b against the einsum of Alg. 10 line 3."""
    out = torch.ops.tinyopenfold.outer_product_mean(a, b, inv)
    ref = (torch.einsum("...sic,...sjd->...ijcd", a.double(), b.double()) * inv.double()[..., None, None]).flatten(-2)
    got = torch.autograd.grad((out.double() * grad.double()).sum(), (a, b))
    want = torch.autograd.grad((ref * grad.double()).sum(), (a, b))
    for name, x, y in (("mean", out, ref), ("da", got[0], want[0]), ("db", got[1], want[1])):
        assert x.shape == y.shape, name
        err = (x.double() - y.double()).abs().max().item()
        assert err <= tol * max(y.double().abs().max().item(), 1e-30), f"{name}: max error {err:.3g}"
    assert out.dtype == a.dtype and out.is_contiguous()


@on_cpu
@pytest.mark.parametrize("lead, s, i, j, c, d", [((2,), 5, 7, 6, 8, 8), ((), 70, 9, 3, 5, 3), ((2, 1), 17, 3, 11, 16, 4)],
                         ids=["one-tile", "odd-widths-two-row-steps", "two-lead-dims"])
def test_opm_operator_matches_the_einsum(kernels, lead, s, i, j, c, d):
    """float64: widths that are not powers of 2 (padded and masked inside a tile), I and J
    that no tile divides, S = 70 over two steps of the sum, and one or two leading axes."""
    compare_opm(*opm_case(lead, s, i, j, c, d), tol=1e-12)


@on_cpu
def test_opm_operator_passes_torch_opcheck(kernels):
    a, b, inv, _ = opm_case((2,), 5, 7, 6, 5, 5)
    torch.library.opcheck(torch.ops.tinyopenfold.outer_product_mean.default, (a, b, inv))


def transition_case(lead, c, hidden, dtype=torch.float64, device="cpu", seed=0, scale=0.3):
    """A Transition (Alg. 9/15) whose parameters are all random (the PyTorch init zeroes the
    last layer), an input [*lead, c] and a gradient for its output."""
    torch.manual_seed(seed)
    module = tof.Transition(c, hidden, 1e-5).to(device, torch.float64)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, scale)
        module.layer_norm.weight.add_(1.0)
    x = (torch.randn(*lead, c, dtype=torch.float64) * 2 + 0.5).to(device)
    grad = torch.randn(*lead, c, dtype=torch.float64).to(device)
    return module.to(dtype), x.to(dtype).requires_grad_(), grad


def transition_path(module, x, grad, kernels_on, autocast=False):
    """(out, dx, and each parameter's gradient) of Transition._mlp on one path: the kernels
    (kernels_on) or the PyTorch code, optionally under bf16 autocast."""
    module.triton_kernels = kernels_on
    try:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            out = module._mlp(x)
        return (out, *torch.autograd.grad((out.double() * grad).sum(), (x, *module.parameters())))
    finally:
        module.triton_kernels = False


def compare_transition(module, x, grad, tol, grad_tol=None, autocast=False):
    """Transition._mlp through the kernels against its PyTorch code (the same module):
    the output and the gradients of x and of every parameter, each relative to its scale."""
    want = transition_path(module, x, grad, False, autocast)
    got = transition_path(module, x, grad, True, autocast)
    assert got[0].shape == want[0].shape and got[0].dtype == want[0].dtype
    names = ["out", "dx"] + [n for n, _ in module.named_parameters()]
    for name, a, b in zip(names, got, want):
        assert a.dtype == b.dtype, name
        err = (a.double() - b.double()).abs().max().item()
        limit = (tol if name == "out" else grad_tol or tol) * max(b.double().abs().max().item(), 1e-30)
        assert err <= limit, f"{name}: max error {err:.3g} (limit {limit:.3g})"


@on_cpu
@pytest.mark.parametrize("lead, c, hidden", [((2, 35), 24, 40), ((64,), 16, 64), ((3, 50), 64, 256)],
                         ids=["odd-widths-two-row-blocks", "one-tile", "msa-preset-widths"])
def test_transition_kernels_match_pytorch(kernels, lead, c, hidden):
    """float64: C = 24 padded to 32 inside a tile, H = 40 in a full and a masked step of 64,
    70 rows in a full and a partial block; 150 rows at the MSA transition's widths."""
    compare_transition(*transition_case(lead, c, hidden), tol=1e-12)


@on_cpu
def test_per_program_sums_in_either_layout(kernels, monkeypatch):
    """The backward kernels index their per-program sums by the buffer's strides: the
    tests above run the default (channels first); programs first must give the same
    gradients, and each buffer's [programs, K] view must hold the same sums."""
    bufs = {}
    for first in (True, False):
        monkeypatch.setattr(kernels, "PARTIALS_CHANNELS_FIRST", first)
        compare_gating(*gating_case(20, 3, 19), tol=1e-12)
        compare_transition(*transition_case((2, 35), 24, 40), tol=1e-12)
        p, bias, mask = gating_case(20, 3, 19)[:3]
        dp = torch.empty_like(p, requires_grad=False)
        da = torch.randn(3, 20, 19, 19, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        bufs[first] = kernels.gating_backward(da, da.flip(0).contiguous(), p.detach(), bias.detach(), mask, dp)
    assert bufs[True].stride() == (1, bufs[True].shape[0]) and bufs[False].is_contiguous()
    torch.testing.assert_close(bufs[True], bufs[False], rtol=0, atol=0)


@on_cpu
def test_transition_reads_a_strided_input_and_skips_h_without_grad(kernels):
    """x as --chunk-size hands it over (a narrowed, non-contiguous view), and under no_grad
    the forward stores no hidden activations and returns the same output."""
    module, x, grad = transition_case((4, 6, 5), 24, 40)
    compare_transition(module, x[:, 1:4], grad[:, 1:4], tol=1e-12)
    ln, l1, l2 = module.layer_norm, module.linear_1, module.linear_2
    args = (x.detach().reshape(-1, 24), ln.weight, ln.bias, l1.weight, l1.bias, l2.weight, l2.bias, ln.eps)
    with torch.no_grad():
        out, h = torch.ops.tinyopenfold.transition(*args, False)
        want = module._mlp(x).reshape(-1, 24)
    assert h.shape == (0, 40) and torch.allclose(out, want, atol=1e-12, rtol=0)


@on_cpu
def test_transition_operator_passes_torch_opcheck(kernels):
    module, x, _ = transition_case((2, 35), 24, 40)
    ln, l1, l2 = module.layer_norm, module.linear_1, module.linear_2
    torch.library.opcheck(torch.ops.tinyopenfold.transition.default,
                          (x.reshape(-1, 24), ln.weight, ln.bias, l1.weight, l1.bias, l2.weight, l2.bias, ln.eps, True))


def ln_linear_case(lead, c, n, bias=True, dtype=torch.float64, device="cpu", seed=0):
    """A LayerNorm and a Linear(c -> n) with random parameters, an input [*lead, c] and a
    gradient for the output."""
    torch.manual_seed(seed)
    norm, layer = torch.nn.LayerNorm(c), torch.nn.Linear(c, n, bias=bias)
    with torch.no_grad():
        for p in (*norm.parameters(), *layer.parameters()):
            p.normal_(0.0, 0.3)
        norm.weight.add_(1.0)
    x = (torch.randn(*lead, c, dtype=torch.float64) * 2 + 0.5)
    grad = torch.randn(*lead, n, dtype=torch.float64)
    return (norm.to(device, dtype), layer.to(device, dtype), x.to(device, dtype).requires_grad_(),
            grad.to(device))


def ln_linear_path(norm, layer, x, grad, kernels_on, autocast=False):
    """(out, dx, and the gradients of the LayerNorm's and the layer's parameters) of
    project(x, [layer], fused=True, norm=norm) on one path. The operator is tested at
    any width here: its width limit (LN_LINEAR_KERNEL_WIDTH) is raised to x's."""
    monkey = pytest.MonkeyPatch()
    monkey.setattr(tof, "LN_LINEAR_KERNELS", kernels_on)
    monkey.setattr(tof, "LN_LINEAR_KERNEL_WIDTH", max(tof.LN_LINEAR_KERNEL_WIDTH, x.shape[-1]))
    try:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            out, = tof.project(x, [layer], True, norm=norm, kernels=True)
        params = (*norm.parameters(), *layer.parameters())
        return (out, *torch.autograd.grad((out.double() * grad).sum(), (x, *params)))
    finally:
        monkey.undo()


@on_cpu
@pytest.mark.parametrize("lead, c, n, bias", [((2, 35), 24, 40, True), ((64,), 16, 8, False),
                                              ((3, 50), 64, 256, True)],
                         ids=["odd-widths-partial-row-block", "narrow-no-bias", "msa-attention-widths"])
def test_ln_linear_kernels_match_pytorch(kernels, monkeypatch, lead, c, n, bias):
    """float64, whose tiles are 32 rows x 32 outputs: C = 24 padded to 32, N = 40 in a
    full and a masked step, 70 rows in two full blocks and a partial one; N = 8 (the
    pair-bias projection's padded width) in one masked step, no bias; the MSA
    attentions' q/k/v/g widths. The same project() call through the operator and
    through LayerNorm + F.linear, everything compared."""
    norm, layer, x, grad = ln_linear_case(lead, c, n, bias)
    calls = count_calls(monkeypatch, kernels, "ln_linear_forward", "ln_linear_backward")
    got = ln_linear_path(norm, layer, x, grad, True)
    assert calls == {"ln_linear_forward": 1, "ln_linear_backward": 1}
    want = ln_linear_path(norm, layer, x, grad, False)
    assert calls == {"ln_linear_forward": 1, "ln_linear_backward": 1}  # the PyTorch path ran no kernel
    names = ["out", "dx", "ln.weight", "ln.bias", "weight"] + (["bias"] if bias else [])
    for name, a, b in zip(names, got, want, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype, name
        err = (a - b).abs().max().item()
        assert err <= 1e-12 * b.abs().max().item(), f"{name}: max error {err:.3g}"


@on_cpu
def test_ln_linear_leaves_a_layer_norm_without_parameters_to_pytorch(kernels, monkeypatch):
    """The operator takes the LayerNorm's weight and bias: a LayerNorm without them
    (elementwise_affine=False, or bias=False) runs the PyTorch code instead."""
    calls = count_calls(monkeypatch, kernels, "ln_linear_forward")
    monkeypatch.setattr(tof, "LN_LINEAR_KERNELS", True)
    _, layer, x, _ = ln_linear_case((2, 35), 24, 40)
    for norm in (torch.nn.LayerNorm(24, elementwise_affine=False), torch.nn.LayerNorm(24, bias=False)):
        norm = norm.double()
        out, = tof.project(x, [layer], True, norm=norm, kernels=True)
        torch.testing.assert_close(out, torch.nn.functional.linear(norm(x), layer.weight, layer.bias))
    assert calls["ln_linear_forward"] == 0
    out, = tof.project(x, [layer], True, norm=torch.nn.LayerNorm(24).double(), kernels=True)
    assert calls["ln_linear_forward"] == 1  # with both parameters the operator runs


@on_cpu
def test_ln_linear_stops_at_its_width(kernels, monkeypatch):
    """Inputs wider than LN_LINEAR_KERNEL_WIDTH keep the PyTorch code (at 128 channels
    the operator was no faster in the medium step on an H100, and on one card slower);
    at the width it runs. The default width is 64, the default size's MSA."""
    assert tof.LN_LINEAR_KERNEL_WIDTH == 64
    calls = count_calls(monkeypatch, kernels, "ln_linear_forward")
    monkeypatch.setattr(tof, "LN_LINEAR_KERNELS", True)
    norm, layer, x, _ = ln_linear_case((2, 35), 24, 40)
    monkeypatch.setattr(tof, "LN_LINEAR_KERNEL_WIDTH", 16)
    out, = tof.project(x, [layer], True, norm=norm, kernels=True)
    torch.testing.assert_close(out, torch.nn.functional.linear(norm(x), layer.weight, layer.bias))
    assert calls["ln_linear_forward"] == 0
    monkeypatch.setattr(tof, "LN_LINEAR_KERNEL_WIDTH", 24)
    tof.project(x, [layer], True, norm=norm, kernels=True)
    assert calls["ln_linear_forward"] == 1


@on_cpu
def test_ln_linear_operator_passes_torch_opcheck(kernels):
    norm, layer, x, _ = ln_linear_case((2, 35), 24, 40)
    for bias in (layer.bias, None):
        torch.library.opcheck(torch.ops.tinyopenfold.ln_linear.default,
                              (x.reshape(-1, 24), norm.weight, norm.bias, layer.weight, bias, norm.eps))


@on_cpu
@pytest.mark.parametrize("paths", [dict(triton_kernels=True, fuse_projections=True, attention="sdpa"),
                                   dict(triton_kernels=True, fuse_projections=True, chunk_size=3,
                                        checkpoint_blocks=True)],
                         ids=lambda p: "+".join(f"{k}={v}" for k, v in p.items()))
def test_ln_linear_path_computes_the_reference_function(kernels, monkeypatch, paths):
    """With LN_LINEAR_KERNELS on (the default), the whole model in float64 against the
    reference. The operator runs where an MSA-side LayerNorm feeds a fused product of
    contiguous rows: Alg. 7's LayerNorm(m) -> q/k/v/g and Alg. 10's LayerNorm(m) -> a/b,
    so 2 a block each way unchunked. Chunks of attention rows (narrowed views of a batch
    of 2) are not contiguous and keep the PyTorch code, but Alg. 10 projects before it
    chunks and still runs it: once a block backward, twice forward (the checkpointed
    block's forward runs again in the backward)."""
    monkeypatch.setattr(tof, "LN_LINEAR_KERNELS", True)
    calls = count_calls(monkeypatch, kernels, "ln_linear_forward", "ln_linear_backward")
    assert_same_function(REFERENCE, run(MODEL, ARGS, **paths), 1e-9)
    blocks = CFG.n_evoformer_blocks
    if paths.get("chunk_size"):
        assert calls == {"ln_linear_forward": 2 * blocks, "ln_linear_backward": blocks}
    else:
        assert calls == {"ln_linear_forward": 2 * blocks, "ln_linear_backward": 2 * blocks}


@on_cpu
@pytest.mark.parametrize("checkpoint_blocks", [False, True], ids=["chunked", "chunked+checkpointed"])
def test_ln_linear_runs_in_the_chunks_of_one_protein(kernels, monkeypatch, checkpoint_blocks):
    """Batch 1 (the padded protein of test_fast_paths' inputs): a chunk of Alg. 7's MSA
    rows is then contiguous, so the operator runs in each chunk too. Each way, per
    block: Alg. 7 once a chunk and Alg. 10 once, backward; forward, each chunk again
    when its checkpoint recomputes it, and the whole block again under
    checkpoint_blocks."""
    monkeypatch.setattr(tof, "LN_LINEAR_KERNELS", True)
    args = [a[-1:] for a in ARGS]
    reference = run(MODEL, args)
    calls = count_calls(monkeypatch, kernels, "ln_linear_forward", "ln_linear_backward")
    paths = dict(triton_kernels=True, fuse_projections=True, chunk_size=3, checkpoint_blocks=checkpoint_blocks)
    assert_same_function(reference, run(MODEL, args, **paths), 1e-9)
    blocks, chunks, recomputed = CFG.n_evoformer_blocks, -(-args[0].shape[1] // 3), 1 + checkpoint_blocks
    assert chunks == 2
    assert calls == {"ln_linear_forward": blocks * (chunks * (recomputed + 1) + recomputed),
                     "ln_linear_backward": blocks * (chunks + 1)}


@on_cpu
@pytest.mark.parametrize("paths", [dict(triton_kernels=True),
                                   dict(triton_kernels=True, fuse_projections=True, attention="sdpa"),
                                   dict(triton_kernels=True, fuse_projections=True, attention="sdpa",
                                        fold_layer_norms=True),
                                   dict(triton_kernels=True, chunk_size=3, checkpoint_blocks=True)],
                         ids=lambda p: "+".join(f"{k}={v}" for k, v in p.items()))
def test_triton_path_computes_the_reference_function(kernels, monkeypatch, paths):
    """The whole model in float64: outputs and every parameter's gradient, with
    padding and a masked MSA entry (test_fast_paths' inputs); the kernels ran, once
    each way per triangle multiplication (2 per block), and forward per outer-product
    mean (1 per block, or one per chunk of rows)."""
    calls = count_calls(monkeypatch, kernels, "gating_forward", "gating_backward", "opm_forward",
                        "transition_forward", "transition_backward")
    assert_same_function(REFERENCE, run(MODEL, ARGS, **paths), 1e-9)
    recomputed = 2 if paths.get("checkpoint_blocks") else 1  # block checkpointing runs the forward again

    def chunks(length):  # rows per chunk of --chunk-size
        return -(-length // paths["chunk_size"]) if paths.get("chunk_size") else 1

    def runs(length):  # forward calls of a chunked module: a chunk is checkpointed too (chunked())
        return chunks(length) * (recomputed + (chunks(length) > 1))

    B, S, N = ARGS[0].shape  # the OPM chunks residues i, the transitions MSA rows (Alg. 9) and residues i (Alg. 15)
    blocks = CFG.n_evoformer_blocks
    # A block's recomputation stops once it has what backward needs (torch.utils.checkpoint's
    # early stop): the last chunk of its last module, the pair transition, is left to that
    # chunk's own checkpoint, so it runs once less.
    early_stop = blocks if paths.get("checkpoint_blocks") and chunks(N) > 1 else 0
    assert calls == {"gating_forward": 2 * blocks * recomputed, "gating_backward": 2 * blocks,
                     "opm_forward": blocks * runs(N),
                     "transition_forward": blocks * (runs(S) + runs(N)) - early_stop,
                     "transition_backward": blocks * (chunks(S) + chunks(N))}


@on_cpu
@pytest.mark.parametrize("ln_linear", [False, True], ids=["no-ln-linear", "ln-linear"])
def test_triton_path_compiles_without_graph_breaks(kernels, monkeypatch, ln_linear):
    """torch.compile sees the kernels as one custom operator each way (dynamo only traces
    here), with fused projections; ln_linear too, exactly when LN_LINEAR_KERNELS is on."""
    monkeypatch.setattr(tof, "LN_LINEAR_KERNELS", ln_linear)
    cfg = tof.config_from_preset("tiny")
    model = tof.TinyOpenFold(cfg).configure(triton_kernels=True, fuse_projections=True)
    objective = tof.TrainingObjective(model, cfg, None, "cpu")
    ds = tof.SyntheticProteinDataset(2, cfg.max_seq_len, cfg.n_seqs, seed=0)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(objective)(tof.collate_proteins([ds[0], ds[1]]))
    assert explained.graph_break_count == 0, explained.break_reasons
    code = "".join(graph.code for graph in explained.graphs)
    assert "triangle_gating" in code and ("ln_linear" in code) == ln_linear


def test_triton_kernels_are_refused_where_they_cannot_run(monkeypatch):
    """A CPU (no Triton target; the flag would do nothing), DataParallel (threads; not
    tested), or no Triton to import (a CPU-only torch without `pip install triton`):
    one line naming the flag. One GPU and DDP are fine."""
    with pytest.raises(tof.UsageError, match="--triton-kernels: needs a CUDA or ROCm GPU"):
        tof.check_fast_paths(tof.TrainConfig(triton_kernels=True), torch.device("cpu"), "none", None)
    with pytest.raises(tof.UsageError, match="--triton-kernels: not with DataParallel"):
        tof.check_fast_paths(tof.TrainConfig(triton_kernels=True), torch.device("cuda"), "dp", None)
    for mode in ("none", "ddp"):
        tof.check_fast_paths(tof.TrainConfig(triton_kernels=True), torch.device("cuda"), mode, None)
    monkeypatch.setitem(sys.modules, "triton", None)  # `import triton` now fails as if it were not installed
    monkeypatch.delitem(sys.modules, "tiny_openfold_kernels", raising=False)
    assert tof.triton_kernels_available().startswith("needs triton")
    with pytest.raises(tof.UsageError, match="--triton-kernels: needs triton"):
        copy.deepcopy(MODEL).configure(triton_kernels=True)


def test_triton_kernels_change_nothing_on_cpu_tensors_by_default(monkeypatch):
    """Outside the tests (TRITON_ON_CPU), CPU tensors take the PyTorch code even where the
    flag reaches a model (on a machine with a GPU, a model left on the CPU)."""
    assert not tof.TRITON_ON_CPU
    monkeypatch.setattr(tof, "triton_kernels_available", lambda: None)
    assert_same_function(REFERENCE, run(MODEL, ARGS, triton_kernels=True), 1e-12)


def test_triton_is_a_benchmark_path_part():
    assert tof.parse_benchmark_path("flex+fused+triton+compile+graphs+flat")["triton_kernels"] is True
    assert tof.parse_benchmark_path("sdpa")["triton_kernels"] is False


# --------------------------------------------------------------------------
# GPU: the compiled kernels.
# --------------------------------------------------------------------------

@gpu
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)], ids=["fp32", "bf16"])
@pytest.mark.parametrize("c, batch, n", [(128, 4, 64), (20, 3, 37)], ids=["small-preset", "odd"])
def test_gpu_gating_kernels_match_pytorch(dtype, tol, c, batch, n):
    """The compiled kernels (16-byte accesses where N^2 allows, masked tails where not) against PyTorch."""
    compare_gating(*gating_case(c, batch, n, dtype=dtype, device="cuda"), tol=tol)


@gpu
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)], ids=["fp32", "bf16"])
@pytest.mark.parametrize("lead, s, i, j, c, d", [((4,), 16, 64, 64, 32, 32), ((3,), 37, 19, 21, 5, 7)],
                         ids=["small-preset", "odd"])
def test_gpu_opm_operator_matches_the_einsum(dtype, tol, lead, s, i, j, c, d):
    compare_opm(*opm_case(lead, s, i, j, c, d, dtype=dtype, device="cuda"), tol=tol)


def transition_errors(module, x, grad, truth, kernels_on, autocast):
    """Each of the output's and the gradients' norm of the error against truth (float64),
    relative to truth's norm, for one path of Transition._mlp."""
    got = transition_path(module, x, grad, kernels_on, autocast)
    return [((a.double() - t).norm() / t.norm()).item() for a, t in zip(got, truth)]


@gpu
@pytest.mark.parametrize("dtype, autocast, floor", [(torch.float32, False, 1e-4), (torch.float32, True, 1e-3)],
                         ids=["fp32", "bf16-autocast"])
@pytest.mark.parametrize("lead, c, hidden", [((4, 64, 64), 128, 512), ((4, 16, 64), 64, 256),
                                             ((2, 128, 128), 256, 1024), ((3, 37, 37), 20, 52)],
                         ids=["pair-small", "msa-small", "pair-medium", "odd"])
def test_gpu_transition_kernels_are_as_accurate_as_pytorch(dtype, autocast, floor, lead, c, hidden):
    """The compiled kernels (the operator called directly, at every width) in float32 and
    under bf16 autocast, and the module's PyTorch code in the same precision, each against
    the float64 PyTorch code: the kernels' relative error (norm) at most twice PyTorch's
    plus a floor. Norms, not maxima: where a pre-activation lies within rounding of zero
    the two paths may take different sides of the ReLU, which moves a few gradient values
    of that row by a lot (0.2 of 57 in float32 at the pair-small shape) and is not a bug."""
    module, x, grad = transition_case(lead, c, hidden, dtype=dtype, device="cuda")
    monkey = pytest.MonkeyPatch()
    monkey.setattr(tof, "TRANSITION_KERNEL_WIDTH", 1 << 30)  # the kernels at 256 channels too
    try:
        m64 = copy.deepcopy(module).double()
        x64 = x.detach().double().requires_grad_()
        out64 = m64._mlp(x64)
        truth = (out64, *torch.autograd.grad((out64 * grad).sum(), (x64, *m64.parameters())))
        pytorch = transition_errors(module, x, grad, truth, False, autocast)
        kernels = transition_errors(module, x, grad, truth, True, autocast)
    finally:
        monkey.undo()
    names = ["out", "dx"] + [n for n, _ in module.named_parameters()]
    for name, k, p in zip(names, kernels, pytorch):
        assert k <= 2 * p + floor, f"{name}: relative error {k:.3g}, PyTorch's {p:.3g}"


@gpu
@pytest.mark.parametrize("dtype, autocast, floor", [(torch.float32, False, 1e-4), (torch.float32, True, 1e-3)],
                         ids=["fp32", "bf16-autocast"])
@pytest.mark.parametrize("lead, c, n, bias", [((4, 16, 64), 64, 256, True), ((4, 64, 64), 128, 4, False),
                                              ((4, 64, 64), 128, 512, True), ((4, 16, 64), 64, 64, True),
                                              ((3, 37, 37), 20, 52, True)],
                         ids=["msa-attention-small", "pair-bias-small", "tri-attention-small", "opm-small", "odd"])
def test_gpu_ln_linear_kernels_are_as_accurate_as_pytorch(monkeypatch, dtype, autocast, floor, lead, c, n, bias):
    """The compiled kernels and the PyTorch code, each in the same precision, against the
    float64 PyTorch code: the kernels' relative error (norm) at most twice PyTorch's plus
    a floor, for the output and every gradient. The kernels ran once each way, on the
    kernel path only."""
    kernels = importlib.import_module("tiny_openfold_kernels")
    calls = count_calls(monkeypatch, kernels, "ln_linear_forward", "ln_linear_backward")
    norm, layer, x, grad = ln_linear_case(lead, c, n, bias, dtype=dtype, device="cuda")
    n64, l64 = copy.deepcopy(norm).double(), copy.deepcopy(layer).double()
    x64 = x.detach().double().requires_grad_()
    truth = ln_linear_path(n64, l64, x64, grad, False)
    errors = {}
    for kernels_on in (False, True):
        got = ln_linear_path(norm, layer, x, grad, kernels_on, autocast)
        errors[kernels_on] = [((a.double() - t).norm() / t.norm()).item() for a, t in zip(got, truth)]
        assert calls == {"ln_linear_forward": int(kernels_on), "ln_linear_backward": int(kernels_on)}
    for name, k, p in zip(["out", "dx", "ln.weight", "ln.bias", "weight", "bias"], errors[True], errors[False]):
        assert k <= 2 * p + floor, f"{name}: relative error {k:.3g}, PyTorch's {p:.3g}"


@on_cpu
def test_transition_kernels_stop_at_their_width(kernels, monkeypatch):
    """Wider transitions than TRANSITION_KERNEL_WIDTH keep the PyTorch code (the kernels were
    slower there on an H100); at the width they run."""
    calls = count_calls(monkeypatch, kernels, "transition_forward")
    module, x, _ = transition_case((2, 5), 24, 40)
    module.triton_kernels = True
    monkeypatch.setattr(tof, "TRANSITION_KERNEL_WIDTH", 16)
    module._mlp(x)
    assert calls["transition_forward"] == 0
    monkeypatch.setattr(tof, "TRANSITION_KERNEL_WIDTH", 24)
    module._mlp(x)
    assert calls["transition_forward"] == 1


@gpu
@pytest.mark.parametrize("paths", [dict(triton_kernels=True),
                                   dict(attention="flex", fuse_projections=True, triton_kernels=True),
                                   dict(attention="sdpa", triton_kernels=True, chunk_size=16,
                                        checkpoint_blocks=True)],
                         ids=lambda p: "+".join(f"{k}={v}" for k, v in p.items()))
def test_gpu_bf16_triton_path_tracks_the_reference(paths):
    fast.test_gpu_bf16_fast_path_tracks_the_reference(paths)


@gpu
@pytest.mark.parametrize("paths", [dict(triton_kernels=True, compile=True),
                                   dict(attention="flex", fuse_projections=True, triton_kernels=True, compile=True,
                                        cuda_graphs=True, flat_optimizer=True)],
                         ids=lambda p: "+".join(f"{k}={v}" for k, v in p.items()))
def test_gpu_compiled_and_graphed_triton_steps_train_like_eager(paths):
    fast.test_gpu_compiled_and_graphed_steps_train_like_eager(paths)


@gpu
@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.get_device_properties(0).total_memory < 100e9,
                    reason="needs a GPU of 100 GB or more")
def test_gpu_gating_offsets_past_2_to_the_31():
    """B = 2, N = 2,048, c = 128: P has 4.3e9 elements, so its offsets pass 2^31 (32-bit
    offsets would wrap). Each protein is checked against PyTorch in float32 (on P's bf16
    values, the bias rounded to bf16 as the kernel rounds it); about 80 GB at the peak."""
    c, batch, n = 128, 2, 2048
    plane = n * n
    g = torch.Generator(device="cuda").manual_seed(0)
    p = torch.randn(4 * c, batch * plane, device="cuda", dtype=torch.bfloat16, generator=g)
    assert p.numel() > 2 ** 31
    bias = torch.randn(4 * c, device="cuda", generator=g)
    mask = (torch.rand(batch, n, n, device="cuda", generator=g) > 0.25).float()
    a, b = torch.ops.tinyopenfold.triangle_gating(p, bias, mask)
    da, db = torch.randn_like(a), torch.randn_like(b)
    dp, dbias = torch.ops.tinyopenfold.triangle_gating_backward(da, db, p, bias, mask)
    want_dbias = torch.zeros(4 * c, device="cuda", dtype=torch.float64)
    for k in range(batch):
        pairs = slice(k * plane, (k + 1) * plane)
        pk = p[:, pairs].float().requires_grad_()
        bias_k = bias.to(torch.bfloat16).float().requires_grad_()
        ra, rb = pytorch_gating(pk, bias_k, mask[k:k + 1])
        torch.autograd.backward((ra, rb), (da[k:k + 1].float(), db[k:k + 1].float()))
        for name, got, want in (("a", a[k:k + 1], ra), ("b", b[k:k + 1], rb), ("dP", dp[:, pairs], pk.grad)):
            err = (got.float() - want).abs().max().item()
            assert err <= 2e-2 * want.abs().max().item(), f"protein {k}, {name}: max error {err:.3g}"
        want_dbias += bias_k.grad.double()
        del pk, ra, rb, bias_k
    assert (dbias.double() - want_dbias).abs().max().item() <= 2e-2 * want_dbias.abs().max().item()
