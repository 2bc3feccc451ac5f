"""The fast paths compute the same function as the reference path.

Each path (TinyOpenFold.configure: --attention sdpa or flex, --chunk-size,
--checkpoint-blocks) is compared with the reference on the same weights and
inputs: forward outputs at real positions and the gradient of every parameter.
float64 and randomised weights (AF2's initialisation zeroes every residual
branch's last layer, which would make most comparisons 0 == 0); odd sizes, a
padded protein, a masked MSA entry and chunk sizes that do not divide N.

The GPU tests at the end (skipped without CUDA/ROCm) repeat the comparison in
bf16 autocast and check torch.compile and the CUDA-graph step.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import functools
import json
import shutil

import pytest
import torch

import tiny_openfold_v1 as tof

torch.set_num_threads(1)
# --fuse-projections acts on GPUs only; compare its code on the CPU too.
tof.FUSE_PROJECTIONS_ON_CPU = True

B, S, N = 2, 5, 13  # N = 13: prime, so no chunk size below divides it
CFG = tof.TinyOpenFoldConfig(msa_dim=12, pair_dim=16, n_heads_msa=3, n_heads_pair=2, msa_intermediate_dim=20,
                             pair_intermediate_dim=24, outer_product_dim=5, triangle_mult_dim=9,
                             n_evoformer_blocks=2, max_seq_len=N, n_seqs=S)


def randomised(cfg=CFG, seed=0, dtype=torch.float64) -> tof.TinyOpenFold:
    torch.manual_seed(seed)
    model = tof.TinyOpenFold(cfg).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    return model


def inputs(device="cpu", dtype=torch.float64, n=N, s=S, b=B, cfg=CFG):
    g = torch.Generator().manual_seed(1)
    msa = torch.randint(0, 21, (b, s, n), generator=g)
    residue_mask = torch.ones(b, n)
    residue_mask[-1, n - 4:] = 0  # the last protein is 4 residues shorter: padding
    msa_mask = torch.ones(b, s, n)
    msa_mask[0, 3, 4] = 0  # one masked MSA entry
    feats = tof.relative_position_features(torch.arange(n).expand(b, n), cfg.pair_input_dim).to(dtype)
    return [t.to(device) for t in (msa, feats, msa_mask, residue_mask)]


def run(model, args, **paths):
    """Forward + backward of a loss that reads every output at real positions."""
    model = copy.deepcopy(model).configure(**paths)
    model.zero_grad(set_to_none=True)
    out = model(*args)
    residue_mask = args[3]
    pair = (residue_mask[:, :, None] * residue_mask[:, None, :])[..., None]
    real = {"distances": out["distances"] * pair, "pair": out["pair"] * pair,
            "msa": out["msa"] * residue_mask[:, None, :, None]}
    loss = sum((t.float().sin() if t.dtype != torch.float64 else t.sin()).sum() for t in real.values())
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return {k: v.detach() for k, v in real.items()}, grads


def assert_same_function(ref, other, tol):
    (out_a, grad_a), (out_b, grad_b) = ref, other
    for key in out_a:
        scale = out_a[key].abs().max().item()
        err = (out_a[key] - out_b[key]).abs().max().item()
        assert err <= tol * max(scale, 1.0), f"{key}: max error {err:.3g} (scale {scale:.3g})"
    # Gradients are compared against the largest gradient of the model: a few are
    # exactly zero in theory (e.g. a LayerNorm bias feeding a bias-free softmax
    # logit, which the softmax cancels) and only rounding noise in practice.
    scale = max(g.abs().max().item() for g in grad_a.values())
    for name in grad_a:
        err = (grad_a[name] - grad_b[name]).abs().max().item()
        assert err <= tol * scale, f"grad {name}: max error {err:.3g} (largest gradient {scale:.3g})"


MODEL = randomised()
ARGS = inputs()
REFERENCE = run(MODEL, ARGS)


@pytest.mark.parametrize("paths", [
    dict(attention="sdpa"),
    dict(chunk_size=4),
    dict(chunk_size=1),
    dict(checkpoint_blocks=True),
    dict(attention="sdpa", chunk_size=3, checkpoint_blocks=True),
    dict(fuse_projections=True),
    dict(attention="sdpa", fuse_projections=True, chunk_size=3, checkpoint_blocks=True),
], ids=lambda p: "+".join(f"{k}={v}" for k, v in p.items()))
def test_fast_path_computes_the_reference_function(paths):
    assert_same_function(REFERENCE, run(MODEL, ARGS, **paths), 1e-9)


def counted(calls: dict, name: str, fn):
    """fn, counting its calls in calls[name]."""
    def wrapper(*args, **kwargs):
        calls[name] += 1
        return fn(*args, **kwargs)
    return wrapper


@pytest.fixture
def flex_on_cpu(monkeypatch):
    """Let FlexAttention's eager (reference) code run backward on the CPU.

    torch refuses it with one device check in front of code that computes it (the
    script refuses --attention flex on a CPU for the same reason). With the check
    off, the gradients below match the reference to 1e-9 in float64, so the test
    does compare the flex path's score_mod (the shared bias of each row, the key
    mask) with the reference formula. Under torch.utils.checkpoint (--chunk-size,
    --checkpoint-blocks) this eager CPU code returns a wrong bias gradient (torch
    2.13.0: a 3-row probe differed by 1.58), so those paths are compared forward
    here and with gradients on the GPU, where FlexAttention runs compiled."""
    import torch.nn.attention.flex_attention as flex_module
    monkeypatch.setattr(flex_module, "_validate_device", lambda *tensors: None)


@pytest.mark.parametrize("paths", [dict(attention="flex"), dict(attention="flex", fuse_projections=True)],
                         ids=lambda p: "+".join(f"{k}={v}" for k, v in p.items()))
def test_flex_computes_the_reference_function(flex_on_cpu, paths):
    assert_same_function(REFERENCE, run(MODEL, ARGS, **paths), 1e-9)


@pytest.mark.parametrize("paths", [dict(chunk_size=3), dict(checkpoint_blocks=True)],
                         ids=["chunk_size=3", "checkpoint_blocks"])
def test_flex_chunked_or_checkpointed_forward_matches_the_reference(flex_on_cpu, monkeypatch, paths):
    """With autograd on, so that the chunks or blocks really run under checkpoint
    (forward only: on the CPU, eager FlexAttention's bias gradient under checkpoint is
    not trusted; the GPU test test_gpu_flex_bias_gradient_survives_checkpoint checks it).
    Both at once take two minutes in eager CPU FlexAttention; each alone, seconds."""
    calls = {"checkpoint": 0}
    monkeypatch.setattr(tof, "checkpoint", counted(calls, "checkpoint", tof.checkpoint))
    model = copy.deepcopy(MODEL)
    with torch.no_grad():
        ref = model(*ARGS)
    out = model.configure(attention="flex", **paths)(*ARGS)
    out = {k: v.detach() for k, v in out.items()}
    assert calls["checkpoint"] >= CFG.n_evoformer_blocks
    pair = (ARGS[3][:, :, None] * ARGS[3][:, None, :])[..., None]
    for key, m in (("distances", pair), ("pair", pair), ("msa", ARGS[3][:, None, :, None])):
        assert torch.allclose(ref[key] * m, out[key] * m, atol=1e-10), key


def test_flex_sends_all_four_attentions_to_flex_attention(flex_on_cpu, monkeypatch):
    """Alg. 7, 8, 13 and 14 call FlexAttention (Alg. 8 with the key mask as its only
    score_mod): 4 per block, none SDPA."""
    calls = {"flex": 0, "sdpa": 0}
    monkeypatch.setattr(tof, "flex_attention", counted(calls, "flex", tof.flex_attention))
    monkeypatch.setattr(tof.F, "scaled_dot_product_attention",
                        counted(calls, "sdpa", tof.F.scaled_dot_product_attention))
    with torch.no_grad():
        copy.deepcopy(MODEL).configure(attention="flex")(*ARGS)
    assert calls == {"flex": 4 * CFG.n_evoformer_blocks, "sdpa": 0}


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_flex_column_attention_computes_the_reference_function(flex_on_cpu, chunk_size):
    """Alg. 8 alone on the flex path (no bias; padded sequences masked), whole and in
    chunks of 3 columns, against the reference: outputs and every gradient, float64."""
    torch.manual_seed(3)
    module = tof.MSAColumnAttention(CFG).double()
    module.attention.chunk_size = chunk_size
    for p in module.parameters():  # no branch the identity (linear_o starts at zero)
        torch.nn.init.normal_(p, std=0.3)
    m = torch.randn(2, 5, 7, CFG.msa_dim, dtype=torch.float64, requires_grad=True)
    mask = (torch.rand(2, 5, 7) > 0.3).double()
    mask[:, 0] = 1  # every column keeps one real sequence
    results = []
    for attention in ("reference", "flex"):
        module.attention.attention = attention
        out = module(m, mask)
        weights = torch.randn_like(out, generator=torch.Generator().manual_seed(1))
        grads = torch.autograd.grad((out * weights * mask[..., None]).sum(), [m, *module.parameters()])
        results.append((out * mask[..., None], *grads))
    for ref, flex in zip(*results):
        assert torch.allclose(ref, flex, atol=1e-10), (ref - flex).abs().max()


def test_flex_kernel_options_are_asked_with_each_attentions_key_count(flex_on_cpu, monkeypatch):
    """Rows attend over N residues (Alg. 7, 13, 14) or S sequences (Alg. 8): the options
    must be chosen by that count, not by the head width."""
    seen = []
    monkeypatch.setattr(tof, "flex_kernel_options", lambda q, n_keys: seen.append(n_keys))
    msa_tokens = ARGS[0]
    with torch.no_grad():
        copy.deepcopy(MODEL).configure(attention="flex")(*ARGS)
    S, N = msa_tokens.shape[1], msa_tokens.shape[2]
    assert S != N and sorted(set(seen)) == sorted({S, N})
    assert seen.count(S) == CFG.n_evoformer_blocks and seen.count(N) == 3 * CFG.n_evoformer_blocks


class _FakeCudaTensor:
    is_cuda = True


def test_flex_kernel_options_shorten_the_backward_pipeline_only_for_short_rows(monkeypatch):
    """One pipeline stage and 64-wide tiles in the backward for K <= 128 keys on NVIDIA
    (measured there); the shared-memory-safe stages otherwise; nothing on the CPU."""
    monkeypatch.setattr(torch.version, "hip", None)
    short = tof.flex_kernel_options(_FakeCudaTensor(), tof.FLEX_SHORT_KEYS)
    assert short["bwd_num_stages"] == 1 and short["bwd_BLOCK_M1"] == 64 and short["fwd_num_stages"] == 2
    assert tof.flex_kernel_options(_FakeCudaTensor(), tof.FLEX_SHORT_KEYS + 1) == tof.FLEX_KERNEL_OPTIONS
    assert tof.flex_kernel_options(torch.zeros(1), 64) is None
    monkeypatch.setattr(torch.version, "hip", "6.2")
    assert tof.flex_kernel_options(_FakeCudaTensor(), 64) == tof.FLEX_KERNEL_OPTIONS


def test_flex_is_refused_where_it_cannot_run():
    """No backward on a CPU; DataParallel's threads around a torch.compile'd kernel are
    refused for --compile too. A GPU in one process or under torchrun is fine."""
    with pytest.raises(tof.UsageError, match="--attention flex"):
        tof.check_fast_paths(tof.TrainConfig(attention="flex"), torch.device("cpu"), "none", None)
    with pytest.raises(tof.UsageError, match="--attention flex.*DataParallel"):
        tof.check_fast_paths(tof.TrainConfig(attention="flex"), torch.device("cuda"), "dp", None)
    for mode in ("none", "ddp"):
        tof.check_fast_paths(tof.TrainConfig(attention="flex"), torch.device("cuda"), mode, None)


def test_paths_really_differ_in_how_they_compute():
    """The switches reach every module: sdpa calls the fused kernel, chunking
    slices, checkpointing recomputes (so the tests above compare two codes)."""
    calls = {"sdpa": 0, "checkpoint": 0}
    real_sdpa, real_ckpt = tof.F.scaled_dot_product_attention, tof.checkpoint
    tof.F.scaled_dot_product_attention = counted(calls, "sdpa", real_sdpa)
    tof.checkpoint = counted(calls, "checkpoint", real_ckpt)
    try:
        run(MODEL, ARGS, attention="sdpa")
        assert calls == {"sdpa": 4 * CFG.n_evoformer_blocks, "checkpoint": 0}
        calls.update(sdpa=0)
        modules, chunks = {}, collections.Counter()  # by id: the module each checkpointed chunk is of

        def chunk_spy(fn, *args, **kwargs):
            modules[id(fn.__self__)] = fn.__self__
            chunks[id(fn.__self__)] += 1
            return real_ckpt(fn, *args, **kwargs)

        tof.checkpoint = chunk_spy
        run(MODEL, ARGS, chunk_size=4)
        # 9 chunked sub-modules per block (Alg. 7-15: 4 attentions, 2 transitions,
        # the OPM and 2 triangle multiplications), more than one chunk each.
        assert len(chunks) == 9 * CFG.n_evoformer_blocks and min(chunks.values()) > 1 and calls["sdpa"] == 0
        assert collections.Counter(type(m).__name__ for m in modules.values()) == {
            "GatedAttention": 4 * CFG.n_evoformer_blocks, "MSATransition": CFG.n_evoformer_blocks,
            "PairTransition": CFG.n_evoformer_blocks,
            "OuterProductMean": CFG.n_evoformer_blocks, "TriangleMultiplicationOutgoing": CFG.n_evoformer_blocks,
            "TriangleMultiplicationIncoming": CFG.n_evoformer_blocks}
        tof.checkpoint = counted(calls, "checkpoint", real_ckpt)
        run(MODEL, ARGS, checkpoint_blocks=True)
        assert calls["checkpoint"] == CFG.n_evoformer_blocks
    finally:
        tof.F.scaled_dot_product_attention, tof.checkpoint = real_sdpa, real_ckpt


def matrix_products(monkeypatch, **paths) -> int:
    """How many F.linear and torch.matmul calls one forward + backward of MODEL makes on these paths."""
    calls = [0]

    def spy(real):
        def counted(*a, **k):
            calls[0] += 1
            return real(*a, **k)
        return counted

    with monkeypatch.context() as patch:
        patch.setattr(tof.F, "linear", spy(tof.F.linear))
        patch.setattr(tof.torch, "matmul", spy(tof.torch.matmul))
        run(MODEL, ARGS, **paths)
    return calls[0]


def test_fused_projections_make_fewer_matrix_products(monkeypatch):
    """--fuse-projections: per block, each attention's q/k/v/gate (4 -> 1), each
    triangle multiplication's a_g/a_p/b_g/b_p (4 -> 1, channels first) and the
    OPM's a/b (2 -> 1) become one matrix product each: 4 x 3 + 2 x 3 + 1 = 19 fewer."""
    saved = matrix_products(monkeypatch) - matrix_products(monkeypatch, fuse_projections=True)
    assert saved == 19 * CFG.n_evoformer_blocks


def test_fused_narrow_projections_are_padded_to_eight_outputs(monkeypatch):
    """--fuse-projections: the pair-bias projections of Alg. 7, 13 and 14 (H = 3 and 2
    heads here) and the OPM's a/b (2 x 5) run as products of a width that is a multiple
    of 8 (zero rows, dropped after), which cuBLAS needs for its aligned kernels.
    (That the outputs and gradients stay the reference's: test_fast_path_computes_the_reference_function.)"""
    widths = []

    def spy(x, weight, bias=None):
        widths.append(weight.shape[0])
        return real(x, weight, bias)

    real = tof.F.linear
    with monkeypatch.context() as patch:
        patch.setattr(tof.F, "linear", spy)
        run(MODEL, ARGS)
        unfused, widths[:] = list(widths), []
        run(MODEL, ARGS, fuse_projections=True)
    narrow = {CFG.n_heads_msa, CFG.n_heads_pair, CFG.outer_product_dim}
    assert sum(w in narrow for w in unfused) == (1 + 2 + 2) * CFG.n_evoformer_blocks  # 3 biases, OPM a and b
    assert not any(w in narrow for w in widths)
    assert widths.count(8) == 3 * CFG.n_evoformer_blocks  # the pair biases, padded
    assert widths.count(-(-2 * CFG.outer_product_dim // 8) * 8) >= CFG.n_evoformer_blocks  # OPM a/b: 10 -> 16


def test_fused_projections_change_nothing_on_cpu_by_default(monkeypatch):
    """On a CPU the separate products measured faster, so the flag is inert there."""
    monkeypatch.setattr(tof, "FUSE_PROJECTIONS_ON_CPU", False)
    assert matrix_products(monkeypatch, fuse_projections=True) == matrix_products(monkeypatch)


@pytest.mark.parametrize("outgoing", [True, False], ids=["outgoing", "incoming"])
def test_triangle_product_matches_einsum_and_keeps_gradient_layouts(outgoing):
    """TriangleProduct (the fused path's line 4 of Alg. 11/12): the einsum's values and
    gradients (gradcheck, also on a chunk's narrowed view), and gradients that come
    back in a's and b's own contiguous layout, which is why it exists."""
    g = torch.Generator().manual_seed(3)
    a, b = (torch.randn(2, 3, 7, 7, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    spec = "...cik,...cjk->...ijc" if outgoing else "...cki,...ckj->...ijc"
    ref = torch.einsum(spec, a, b)
    assert torch.allclose(tof.triangle_product(a, b, outgoing).movedim(-3, -1), ref, atol=1e-12)
    assert torch.autograd.gradcheck(lambda x, y: tof.triangle_product(x, y, outgoing), (a, b))
    rows = (a.narrow(-2, 2, 3) if outgoing else a.narrow(-1, 2, 3)).detach().requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: tof.triangle_product(x, y, outgoing), (rows, b))
    ga, gb = torch.autograd.grad(tof.triangle_product(a, b, outgoing).sin().sum(), (a, b))
    ra, rb = torch.autograd.grad(ref.sin().sum(), (a, b))
    assert torch.allclose(ga, ra, atol=1e-12) and torch.allclose(gb, rb, atol=1e-12)
    assert ga.is_contiguous() and gb.is_contiguous()


def test_triangle_product_under_bf16_autocast_on_cpu():
    """Under autocast the inputs are cast as einsum's would be: bf16 out, and a
    backward (run outside autocast) on the same bf16 tensors."""
    g = torch.Generator().manual_seed(4)
    a, b = (torch.randn(2, 3, 8, 8, generator=g, requires_grad=True) for _ in range(2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = tof.triangle_product(a, b, True)
        ref = torch.einsum("...cik,...cjk->...cij", a, b)
    assert x.dtype == ref.dtype == torch.bfloat16
    assert torch.equal(x, ref)
    ga, = torch.autograd.grad(x.float().sum(), a)
    ra, = torch.autograd.grad(ref.float().sum(), a)
    assert ga.dtype == torch.float32 and torch.allclose(ga, ra, rtol=2e-2, atol=2e-2)


def test_checkpointed_blocks_replay_the_same_dropout():
    """Recomputation in backward must draw the same dropout masks as the forward."""
    cfg = tof.TinyOpenFoldConfig(**{**{f.name: getattr(CFG, f.name) for f in CFG.__dataclass_fields__.values()},
                                    "dropout": 0.25})
    model = randomised(cfg).train()
    torch.manual_seed(7)
    ref = run(model, ARGS)
    torch.manual_seed(7)
    assert_same_function(ref, run(model, ARGS, checkpoint_blocks=True, chunk_size=5), 1e-9)


def test_unchunked_no_grad_forward_matches_chunked_no_grad_forward():
    """Under no_grad (evaluation) chunks are computed directly, without checkpoint."""
    model = copy.deepcopy(MODEL)
    with torch.no_grad():
        ref = model(*ARGS)["distances"]
        out = model.configure(attention="sdpa", chunk_size=2)(*ARGS)["distances"]
    pair = (ARGS[3][:, :, None] * ARGS[3][:, None, :])[..., None]
    assert torch.allclose(ref * pair, out * pair, atol=1e-10)


def test_bf16_autocast_sdpa_tracks_reference_on_cpu(monkeypatch):
    """bf16 autocast: the reference takes its softmax of float32 logits; the sdpa path
    hands SDPA its bias (summed in float32) in q's dtype, as SDPA requires, and the
    kernel accumulates the softmax in float32. The two agree to bf16 precision,
    outputs and gradients."""
    model = randomised(dtype=torch.float32)
    args = inputs(dtype=torch.float32)
    dtypes = {"softmax": set(), "sdpa_mask": set()}
    real_softmax, real_sdpa = torch.softmax, tof.F.scaled_dot_product_attention

    def softmax(x, *a, **k):
        dtypes["softmax"].add(x.dtype)
        return real_softmax(x, *a, **k)

    def sdpa(q, k, v, attn_mask=None, **kw):
        dtypes["sdpa_mask"].add(attn_mask.dtype)
        return real_sdpa(q, k, v, attn_mask=attn_mask, **kw)

    monkeypatch.setattr(tof.torch, "softmax", softmax)
    monkeypatch.setattr(tof.F, "scaled_dot_product_attention", sdpa)
    results = []
    for paths in ({}, dict(attention="sdpa", chunk_size=4)):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            results.append(run(model, args, **paths))
    assert dtypes == {"softmax": {torch.float32}, "sdpa_mask": {torch.bfloat16}}
    (ref, grad_ref), (fast, grad_fast) = results
    for key in ref:
        scale = ref[key].abs().max().item()
        assert (ref[key] - fast[key]).abs().max().item() <= 0.05 * scale, key
    scale = max(g.abs().max().item() for g in grad_ref.values())
    for name in grad_ref:
        assert (grad_ref[name] - grad_fast[name]).abs().max().item() <= BF16_GRAD_TOL * scale, name


def test_configure_rejects_bad_values(monkeypatch):
    with pytest.raises(tof.UsageError, match="--attention"):
        copy.deepcopy(MODEL).configure(attention="flash")
    monkeypatch.setattr(tof, "flex_attention", None)  # a torch without FlexAttention
    with pytest.raises(tof.UsageError, match="--attention flex: needs a torch with FlexAttention"):
        copy.deepcopy(MODEL).configure(attention="flex")
    with pytest.raises(tof.UsageError, match="--chunk-size"):
        copy.deepcopy(MODEL).configure(chunk_size=0)


# --------------------------------------------------------------------------
# GPU: the same comparisons in bf16, torch.compile and the CUDA-graph step.
# --------------------------------------------------------------------------

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA or ROCm GPU")

# bf16 keeps 8 bits of mantissa: outputs agree to about 1 %, gradients (summed
# over many rounding errors) to a few %, measured against the largest value.
BF16_OUT_TOL, BF16_GRAD_TOL = 0.02, 0.05


@gpu
@pytest.mark.parametrize("paths", [dict(attention="sdpa"), dict(attention="sdpa", chunk_size=16),
                                   dict(attention="sdpa", checkpoint_blocks=True),
                                   dict(attention="sdpa", fuse_projections=True),
                                   dict(attention="flex"), dict(attention="flex", chunk_size=16),
                                   dict(attention="flex", checkpoint_blocks=True),
                                   dict(attention="flex", fuse_projections=True)],
                         ids=lambda p: "+".join(f"{k}={v}" for k, v in p.items()))
def test_gpu_bf16_fast_path_tracks_the_reference(paths):
    cfg = tof.config_from_preset("small")
    model = randomised(cfg, dtype=torch.float32).cuda()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.3)  # keep the activations of a random 4-block model in range
    args = inputs("cuda", torch.float32, n=64, s=16, b=2, cfg=cfg)
    results = []
    for p in ({}, paths):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            results.append(run(model, args, **p))
    (out_a, grad_a), (out_b, grad_b) = results
    for key in out_a:
        scale = out_a[key].abs().max().item()
        assert (out_a[key] - out_b[key]).abs().max().item() <= BF16_OUT_TOL * scale, key
    scale = max(g.abs().max().item() for g in grad_a.values())
    for name in grad_a:
        assert (grad_a[name] - grad_b[name]).abs().max().item() <= BF16_GRAD_TOL * scale, name


def _step_setup(device, paths, cfg, amp=False):
    tc = tof.TrainConfig(batch_size=2, use_amp=amp, **paths)
    amp_dtype, _ = tof.amp_settings(tc, torch.device(device))
    torch.manual_seed(0)
    model = tof.TinyOpenFold(cfg).to(device).configure(**tc.model_paths())
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # leave AF2's zero-initialised layers: all of them learn
    optimizer = tof.make_optimizer(model, tc, torch.device(device))
    objective = tof.make_objective(model, cfg, tc, amp_dtype, torch.device(device))
    ds = tof.SyntheticProteinDataset(6, cfg.max_seq_len, cfg.n_seqs, seed=3, min_seq_len=cfg.max_seq_len - 3)
    batches = [{k: v.to(device) for k, v in tof.collate_proteins([ds[2 * i], ds[2 * i + 1]],
                                                                 pad_to=cfg.max_seq_len).items()}
               for i in range(3)]
    return tc, model, optimizer, objective, batches


def _eager_steps(tc, model, optimizer, objective, batches):
    losses = [tof.train_step(objective, model, optimizer, None, tc.grad_clip, batch).item() for batch in batches]
    return losses, [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("scope,paths", [("step", {}), ("block", {}),
                                         ("step", dict(fuse_projections=True, checkpoint_blocks=True))],
                         ids=["step", "block", "step+fused+checkpointed"])
def test_compile_on_cpu_trains_like_eager(scope, paths):
    """torch.compile (inductor's C++ backend on CPU), of the whole forward + loss or
    block by block, and with the fused projections and checkpointed blocks,
    computes the same losses and weights as eager over three steps.
    Small blocks keep compilation short. Weights agree to a tenth of one AdamW
    step (lr): where a gradient is near AdamW's eps, rounding moves its update by
    a fraction of lr (seen: 1.2e-5 with lr 2e-3, one LayerNorm bias element, torch 2.13.0 CPU),
    while a wrong gradient moves weights by about lr a step."""
    cfg = tof.TinyOpenFoldConfig(msa_dim=8, pair_dim=8, n_heads_msa=2, n_heads_pair=2, msa_intermediate_dim=16,
                                 pair_intermediate_dim=16, outer_product_dim=4, n_evoformer_blocks=2,
                                 max_seq_len=9, n_seqs=3)
    setup = _step_setup("cpu", dict(attention="sdpa", **paths), cfg)
    lr = setup[0].learning_rate
    eager = _eager_steps(*setup)
    compiled = _eager_steps(*_step_setup("cpu", dict(attention="sdpa", compile=True, compile_scope=scope, **paths),
                                         cfg))
    assert compiled[0] == pytest.approx(eager[0], rel=1e-4)
    for a, b in zip(eager[1], compiled[1]):
        assert torch.allclose(a, b, rtol=1e-4, atol=0.1 * lr)


@gpu
@pytest.mark.parametrize("paths", [dict(compile=True), dict(cuda_graphs=True),
                                   dict(attention="sdpa", compile=True, cuda_graphs=True),
                                   dict(attention="sdpa", fuse_projections=True, compile=True, cuda_graphs=True),
                                   dict(attention="flex", fuse_projections=True, compile=True, cuda_graphs=True),
                                   dict(attention="flex", fuse_projections=True, compile=True, cuda_graphs=True,
                                        flat_optimizer=True),
                                   dict(attention="flex", compile=True, chunk_size=8),
                                   dict(attention="flex", compile=True, checkpoint_blocks=True)],
                         ids=lambda p: "+".join(f"{k}={v}" for k, v in p.items()))
def test_gpu_compiled_and_graphed_steps_train_like_eager(paths):
    """fp32, the same optimizer settings (fused, capturable): the first step's loss
    and clipped gradients match the eager loop's, and so do the next two losses.
    (Weights after AdamW are not compared: Adam's first update is +-lr for any
    non-zero gradient, so rounding noise in a near-zero gradient flips it.)
    The flex paths use 2 MSA heads (width 16, FlexAttention's least), so that Alg. 7
    and 8 run FlexAttention too; the tiny preset's 8-wide heads would take SDPA."""
    cfg = tof.config_from_preset("tiny", **({"n_heads_msa": 2} if paths.get("attention") == "flex" else {}))
    torch.backends.cuda.matmul.allow_tf32 = False
    eager_paths = dict(paths, compile=False)  # keeps cuda_graphs' optimizer (capturable) for the eager run
    results = []
    for p in (eager_paths, paths):
        tc, model, optimizer, objective, batches = _step_setup("cuda", p, cfg)
        graphed = p.get("cuda_graphs") and p is paths
        step = tof.CudaGraphStep(objective, model, optimizer, tc.grad_clip, batches[0]) if graphed else None
        losses, grads = [], None
        for batch in batches:
            if step is not None:
                losses.append(step(batch).item())
            else:
                losses.append(tof.train_step(objective, model, optimizer, None, tc.grad_clip, batch).item())
            if grads is None:
                grads = [q.grad.detach().clone() for q in model.parameters()]
        results.append((losses, grads))
    (eager_losses, eager_grads), (losses, grads) = results
    assert losses == pytest.approx(eager_losses, rel=1e-4)
    scale = max(g.abs().max().item() for g in eager_grads)
    for a, b in zip(eager_grads, grads):
        assert (a - b).abs().max().item() <= 1e-4 * scale


@gpu
@pytest.mark.parametrize("graphs", [False, True], ids=["fused-adamw", "graphed"])
def test_gpu_flat_optimizer_updates_like_fused_adamw(graphs):
    """On the GPU (fused AdamW kernel; with graphs also capturable, lr a tensor), fp32:
    given the same gradients, three steps with --flat-optimizer leave the weights of
    three steps without it. The objective is linear in the weights, sum(w * g) with
    fixed random g, so every step's gradients are g exactly. A real model's backward
    need not be bitwise reproducible on a GPU, and AdamW's first steps would turn a
    last-bit difference in a near-zero gradient into a whole step of lr either way."""
    cfg = tof.config_from_preset("tiny")
    weights = []
    for flat in (False, True):
        # compile: the fast loop, for which make_optimizer picks the fused kernel on both
        # paths (the objective below is this test's own, never compiled)
        tc, model, optimizer, _, batches = _step_setup(
            "cuda", dict(attention="sdpa", compile=not graphs, cuda_graphs=graphs, flat_optimizer=flat), cfg)
        assert isinstance(optimizer, tof.FlatAdamW) == flat and optimizer.defaults["fused"]
        params = list(model.parameters())
        generator = torch.Generator().manual_seed(1)
        fixed = [torch.randn(p.shape, generator=generator).cuda() for p in params]
        initial = [p.detach().clone() for p in params]

        def objective(batch):
            return sum((p * g).sum() for p, g in zip(params, fixed))

        step = (tof.CudaGraphStep(objective, model, optimizer, tc.grad_clip, batches[0]) if graphs else
                functools.partial(tof.train_step, objective, model, optimizer, None, tc.grad_clip))
        for batch in batches:
            step(batch)
        weights.append([p.detach().clone() for p in params])
        assert min((w - w0).abs().min().item() for w, w0 in zip(weights[-1], initial)) > 0  # every weight moved
    for a, b in zip(*weights):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_flex_and_the_fast_loop_pad_batches_to_one_length():
    """Compiled code compiles per input shape: the fast loop pads its training batches,
    and --attention flex (a compiled FlexAttention even in eager runs) pads its training
    and held-out batches, to --seq-len; the reference path pads each to its longest."""
    cfg = tof.config_from_preset("tiny", max_seq_len=20)
    for fields, train, held_out in ((dict(), None, None), (dict(compile=True), 20, None),
                                    (dict(attention="flex"), 20, 20), (dict(attention="sdpa"), None, None)):
        tc = tof.TrainConfig(min_seq_len=12, eval_samples=5, batch_size=2, **fields)
        assert tof.pad_length(cfg, tc, training=True) == train
        assert tof.pad_length(cfg, tc, training=False) == held_out
        lengths = {b["msa_tokens"].shape[-1] for b in tof.heldout_batches(cfg, tc)}
        assert (lengths == {20}) if held_out else (len(lengths) > 1)


@gpu
def test_gpu_eager_flex_takes_more_than_eight_shapes():
    """Eager --attention flex compiles FlexAttention once per shape; past torch's 8 the
    uncompiled fallback failed on torch 2.11, so compiled_flex_attention raises the limit."""
    torch._dynamo.reset()
    attention = tof.GatedAttention(32, 2, 32).cuda()
    attention.attention = "flex"
    for n in range(17, 29):  # 12 lengths, 12 shapes
        x = torch.randn(1, 3, n, 32, device="cuda", requires_grad=True)
        bias = torch.randn(1, 1, 2, n, n, device="cuda", requires_grad=True)
        out = attention(x, [bias], torch.ones(1, 3, n, device="cuda"))
        out.sum().backward()
        assert torch.isfinite(bias.grad).all()


@gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_gpu_flex_bias_gradient_survives_checkpoint(dtype):
    """The flex path's bias gradient is accumulated inside FlexAttention's backward
    kernel. Under torch.utils.checkpoint (--chunk-size, --checkpoint-blocks) that
    backward runs after a recomputation; the gradients must not change (eager CPU
    FlexAttention gets the bias gradient wrong there, see flex_on_cpu)."""
    attention = tof.GatedAttention(32, 2, 32).cuda()  # head width 16: FlexAttention's smallest
    torch.manual_seed(0)
    x = torch.randn(2, 5, 24, 32, device="cuda", requires_grad=True)  # [B, R, Q, c_in]
    bias = torch.randn(2, 1, 2, 24, 24, device="cuda", requires_grad=True)
    key_mask = (torch.rand(2, 5, 24, device="cuda") > 0.2).float()
    attention.attention = "flex"
    grads = []
    for wrapped in (False, True):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            out = (tof.checkpoint(attention, x, [bias], key_mask, use_reentrant=False) if wrapped
                   else attention(x, [bias], key_mask))
        grads.append(torch.autograd.grad(out.float().sin().sum(), (x, bias)))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * a.abs().max().item())


def test_block_scope_compiles_one_graph_for_all_blocks():
    """--compile-scope block: the blocks share one compiled graph (dynamo counts one
    unique graph for three blocks), which is why its compile time does not grow
    with the number of blocks."""
    from torch._dynamo.utils import counters
    cfg = tof.config_from_preset("tiny", n_evoformer_blocks=3)
    tc = tof.TrainConfig(compile=True, compile_scope="block")
    model = tof.TinyOpenFold(cfg)
    objective = tof.make_objective(model, cfg, tc, None, torch.device("cpu"))
    torch._dynamo.reset()
    counters.clear()
    ds = tof.SyntheticProteinDataset(2, cfg.max_seq_len, cfg.n_seqs, seed=0)
    with torch.no_grad():  # the graph count is all this test reads: skip the backward's compilation
        objective(tof.collate_proteins([ds[0], ds[1]]))
    assert counters["stats"]["unique_graphs"] == 1
    assert counters["frames"]["ok"] == 1
    # ... and that graph is a block's: the objective (embedder, head, loss) is not compiled.
    assert not isinstance(objective, torch._dynamo.eval_frame.OptimizedModule)
    assert all(block._compiled_call_impl is not None for block in model.evoformer)


def test_sdpa_mask_has_a_contiguous_key_axis():
    """PyTorch's fused CUDA kernels (memory-efficient, cuDNN) take an additive mask only
    if its last (key) axis has stride 1; otherwise SDPA silently falls back to its math
    path, which stores the logits. On the H100 a permuted pair bias did exactly that
    (all 16 attentions of the long preset ran the math path, 484 vs 296 ms per step)."""
    strides = []
    real = tof.F.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None, **kwargs):
        strides.append(attn_mask.stride(-1))
        return real(q, k, v, attn_mask=attn_mask, **kwargs)

    tof.F.scaled_dot_product_attention = spy
    try:
        run(MODEL, ARGS, attention="sdpa")
    finally:
        tof.F.scaled_dot_product_attention = real
    assert strides and all(s == 1 for s in strides), strides


@pytest.mark.parametrize("paths", [dict(), dict(attention="sdpa"),
                                   dict(attention="sdpa", chunk_size=8, checkpoint_blocks=True),
                                   dict(attention="sdpa", fuse_projections=True)],
                         ids=lambda p: "+".join(f"{k}={v}" for k, v in p.items()) or "reference")
def test_compiled_forward_and_loss_have_no_graph_breaks(paths):
    """--compile traces the forward and loss as one graph (dynamo's explain only
    traces, so this is quick): no Python-side break splits the step."""
    cfg = tof.config_from_preset("tiny")
    model = tof.TinyOpenFold(cfg).configure(**paths)
    objective = tof.TrainingObjective(model, cfg, None, "cpu")
    ds = tof.SyntheticProteinDataset(2, cfg.max_seq_len, cfg.n_seqs, seed=0)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(objective)(tof.collate_proteins([ds[0], ds[1]]))
    assert explained.graph_break_count == 0, explained.break_reasons


def test_optimizer_state_loads_across_implementations():
    """A checkpoint's AdamW state loads into another implementation (here the
    default into one with a tensor learning rate, as --cuda-graphs builds it) and
    this run's options win: moments are taken, lr stays a tensor."""
    model = tof.TinyOpenFold(tof.config_from_preset("tiny"))
    plain = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(*inputs(dtype=torch.float32, cfg=model.config, n=32, s=8))["distances"].sum().backward()
    plain.step()
    other = torch.optim.AdamW(model.parameters(), lr=torch.tensor(5e-4))
    tof.load_optimizer_state(other, plain.state_dict())
    assert torch.is_tensor(other.param_groups[0]["lr"]) and float(other.param_groups[0]["lr"]) == pytest.approx(5e-4)
    p = next(model.parameters())
    assert torch.equal(other.state[p]["exp_avg"], plain.state[p]["exp_avg"])
    assert float(other.state[p]["step"]) == 1.0


def _adamw_steps(model, flat, steps=3, **kwargs):
    """`steps` AdamW updates through optimizer_update (gather, clip, step) with a
    clip that bites; the weights and the per-parameter optimizer state after them."""
    optimizer = (tof.FlatAdamW if flat else torch.optim.AdamW)(model.parameters(), lr=1e-2, **kwargs)
    args = inputs(cfg=model.config)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        model(*args)["distances"].square().mean().backward()
        tof.optimizer_update(optimizer, None, grad_clip=0.05)
    return [p.detach().clone() for p in model.parameters()], optimizer.state_dict()


def test_flat_optimizer_updates_like_adamw():
    """--flat-optimizer: clipping and AdamW (with weight decay) over one flat buffer
    give the weights, moments and step counts of torch.optim.AdamW over the
    parameters, in float64 to rounding; its state_dict has AdamW's layout."""
    (w_ref, s_ref), (w_flat, s_flat) = (_adamw_steps(randomised(), flat, weight_decay=0.1) for flat in (False, True))
    for a, b in zip(w_ref, w_flat):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    assert max((a - b).abs().max().item() for a, b in zip(w_ref, randomised().parameters())) > 1e-3  # it trained
    assert s_ref["param_groups"][0].keys() == s_flat["param_groups"][0].keys()
    assert s_ref["param_groups"][0]["params"] == s_flat["param_groups"][0]["params"]
    assert s_ref["state"].keys() == s_flat["state"].keys()
    for i, state in s_ref["state"].items():
        for key, value in state.items():
            assert s_flat["state"][i][key].shape == value.shape, (i, key)
            torch.testing.assert_close(s_flat["state"][i][key], value, rtol=1e-12, atol=1e-18)


def test_flat_optimizer_shares_storage_with_the_model_and_keeps_it_aligned():
    model = randomised()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = tof.FlatAdamW(model.parameters(), lr=1e-3)
    flat = optimizer.flat
    for p, b in zip(model.parameters(), before):
        assert torch.equal(p, b)  # the values moved into the buffer unchanged
        assert p.untyped_storage().data_ptr() == flat.untyped_storage().data_ptr()
        assert p.storage_offset() % tof.FlatAdamW.ALIGN == 0
    with torch.no_grad():
        flat.add_(1.0)  # what AdamW's in-place update does: the model sees it
    assert all(torch.equal(p, b + 1.0) for p, b in zip(model.parameters(), before))
    model.zero_grad(set_to_none=True)
    model(*ARGS)["distances"].sum().backward()
    optimizer.gather_gradients()
    for p, where in zip(model.parameters(), optimizer.slices):
        assert torch.equal(flat.grad[where], p.grad.reshape(-1))
    gaps = torch.ones_like(flat, dtype=torch.bool)
    for where in optimizer.slices:
        gaps[where] = False
    assert gaps.any() and not flat.grad[gaps].any()  # the padding between parameters holds zeros
    optimizer.zero_grad()
    assert flat.grad is None and all(p.grad is None for p in model.parameters())


def test_copy_into_casts_zeroes_and_takes_any_strides():
    """FlatAdamW's and CastOnce's gradient copies: equal strides go through one
    torch._foreach_copy_ per source dtype, the others one by one, None gives zeros."""
    dests = [torch.full((2, 3), 7.0), torch.full((3, 2), 7.0), torch.full((4,), 7.0), torch.full((5,), 7.0)]
    sources = [torch.randn(2, 3).bfloat16(), torch.randn(2, 3).t(), None, torch.randn(5)]
    tof.copy_into(dests, sources)
    assert torch.equal(dests[0], sources[0].float())
    assert torch.equal(dests[1], sources[1])
    assert not dests[2].any()
    assert torch.equal(dests[3], sources[3])


@pytest.mark.parametrize("direction", ["flat to reference", "reference to flat"])
def test_optimizer_state_moves_between_flat_and_reference(direction):
    """A checkpoint of either optimizer resumes on the other, and the next steps are
    those of an uninterrupted run."""
    first_flat = direction == "flat to reference"
    model = randomised()
    _, state = _adamw_steps(model, first_flat, steps=2)
    resumed = (torch.optim.AdamW if first_flat else tof.FlatAdamW)(model.parameters(), lr=1e-2)
    tof.load_optimizer_state(resumed, state)
    args = inputs(cfg=model.config)
    for _ in range(2):
        resumed.zero_grad(set_to_none=True)
        model(*args)["distances"].square().mean().backward()
        tof.optimizer_update(resumed, None, grad_clip=0.05)
    uninterrupted, _ = _adamw_steps(randomised(), flat=False, steps=4)
    for a, b in zip(uninterrupted, model.parameters()):
        torch.testing.assert_close(b.detach(), a, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="this model has"):
        smaller = randomised(dataclasses.replace(CFG, n_evoformer_blocks=1))
        tof.FlatAdamW(smaller.parameters(), lr=1e-2).load_state_dict(state)


def test_flat_optimizer_is_refused_with_data_parallel():
    with pytest.raises(tof.UsageError, match="--flat-optimizer: not with DataParallel"):
        tof.check_fast_paths(tof.TrainConfig(flat_optimizer=True), torch.device("cuda"), "dp", None)
    tof.check_fast_paths(tof.TrainConfig(flat_optimizer=True), torch.device("cpu"), "ddp", None)


def test_flat_optimizer_trains_like_the_reference_and_resumes_on_it(tmp_path, monkeypatch):
    """train() end to end: 6 steps of --compile --flat-optimizer have the losses of 6
    reference steps, and the checkpoint the flat run wrote at step 3 resumes on the
    reference optimizer into the reference run's last 3 steps."""
    cfg = tof.TinyOpenFoldConfig(msa_dim=8, pair_dim=8, n_heads_msa=2, n_heads_pair=2, msa_intermediate_dim=16,
                                 pair_intermediate_dim=16, outer_product_dim=4, n_evoformer_blocks=1,
                                 max_seq_len=10, n_seqs=3)

    def run_train(name, **fields):
        tc = tof.TrainConfig(batch_size=2, num_steps=6, lr_warmup_steps=2, eval_samples=4, warmup_steps=1,
                             log_every=1, profile_dir=str(tmp_path / name / "p"),
                             checkpoint_dir=str(tmp_path / name / "c"), device="cpu", quiet=True, **fields)
        return tof.train(cfg, tc)

    saved = tof.save_checkpoint

    def keep_step_3(path, step, *args, **kwargs):
        saved(path, step, *args, **kwargs)
        if step == 3:
            shutil.copy(path, tmp_path / "step3.pt")

    ref = run_train("reference")
    monkeypatch.setattr(tof, "save_checkpoint", keep_step_3)
    flat = run_train("flat", attention="sdpa", compile=True, flat_optimizer=True, save_every=3)
    monkeypatch.undo()
    assert flat["loss_history"] == pytest.approx(ref["loss_history"], rel=1e-4)
    resumed = run_train("resumed", resume=str(tmp_path / "step3.pt"))
    assert resumed["loss_history"] == pytest.approx(ref["loss_history"][3:], rel=1e-4)


def test_fast_training_loop_matches_the_reference_loop(tmp_path):
    """train() with --compile runs the fast loop (no synchronisation inside a step,
    losses read at log steps, windowed timing, padded batches of varying length);
    it records every step's loss, equal to the reference loop's, and the
    per-phase times it cannot measure are absent, not made up."""
    cfg = tof.TinyOpenFoldConfig(msa_dim=8, pair_dim=8, n_heads_msa=2, n_heads_pair=2, msa_intermediate_dim=16,
                                 pair_intermediate_dim=16, outer_product_dim=4, n_evoformer_blocks=1,
                                 max_seq_len=10, n_seqs=3)
    summaries = []
    for name, paths in (("reference", {}), ("fast", dict(attention="sdpa", compile=True))):
        tc = tof.TrainConfig(batch_size=2, num_steps=7, lr_warmup_steps=2, eval_samples=4, warmup_steps=2,
                             log_every=3, min_seq_len=7, profile_dir=str(tmp_path / name / "p"),
                             checkpoint_dir=str(tmp_path / name / "c"), device="cpu", quiet=True, **paths)
        summaries.append(tof.train(cfg, tc))
    ref, fast = summaries
    assert fast["status"] == "completed" and len(fast["loss_history"]) == 7
    assert fast["loss_history"] == pytest.approx(ref["loss_history"], rel=1e-4)
    perf = fast["performance_summary"]
    assert perf["timed_steps"] == 5 and perf["avg_training_speed"] > 0
    assert perf["avg_forward_time_ms"] is None and ref["performance_summary"]["avg_forward_time_ms"] > 0


def test_benchmark_path_parts_set_the_run_fields():
    fields = tof.parse_benchmark_path("sdpa+fused+compile-block+graphs")
    assert fields == dict(attention="sdpa", compile=True, compile_scope="block", cuda_graphs=True,
                          checkpoint_blocks=False, chunk_size=None, fuse_projections=True, flat_optimizer=False,
                          cast_once=False, triton_kernels=False, weight_grad_stream=False, max_autotune=False,
                          pdl=False, fold_layer_norms=False)
    assert tof.parse_benchmark_path("castonce+wgstream")["weight_grad_stream"] is True
    assert tof.parse_benchmark_path("compile+autotune")["max_autotune"] is True
    assert tof.parse_benchmark_path("ckpt+chunk64")["chunk_size"] == 64
    assert tof.parse_benchmark_path("sdpa+graphs+flat")["flat_optimizer"] is True
    assert tof.parse_benchmark_path("flex+fused+compile")["attention"] == "flex"
    with pytest.raises(tof.UsageError, match="--benchmark-paths"):
        tof.parse_benchmark_path("sdpa+compile-model")


def test_benchmark_json_keeps_the_rows_measured_before_a_failure(tmp_path, monkeypatch):
    """benchmark.json (and benchmark.md) is rewritten after every row: a run that dies on its second path
    (here an error; on the H200 a time limit) leaves the first row on disk."""
    real = tof.benchmark_path
    done = []

    def first_then_fail(*args, **kwargs):
        if done:
            raise RuntimeError("killed")
        done.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tof, "benchmark_path", first_then_fail)
    with pytest.raises(RuntimeError, match="killed"):
        tof.main(["--benchmark", "--device", "cpu", "--benchmark-presets", "tiny", "--seq-len", "8",
                  "--benchmark-seq-lens", "8", "--benchmark-paths", "reference,sdpa", "--benchmark-steps", "1",
                  "--warmup-steps", "1", "--num-seqs", "2", "--batch-size", "2", "--profile-dir", str(tmp_path)])
    rows = json.loads((tmp_path / "benchmark.json").read_text())["rows"]
    assert [r["path"] for r in rows] == ["reference"] and rows[0]["status"] == "ok"
    table = [line for line in (tmp_path / "benchmark.md").read_text().splitlines() if line.startswith("| tiny")]
    assert len(table) == 1 and "| reference |" in table[0] and table[0].endswith("| ok |")


# --------------------------------------------------------------------------
# --peer-ping: a helper process, not a computation; it must never stop a run.
# --------------------------------------------------------------------------

def test_peer_ping_failure_is_reported_not_fatal(monkeypatch, capsys):
    monkeypatch.setattr(tof, "PEER_PING", "raise SystemExit(3)")
    tof.peer_ping(torch.device("cuda", 0))  # the helper fails at once, so no GPU is needed
    assert "--peer-ping: the helper process failed (exit status 3)" in capsys.readouterr().out
    monkeypatch.setattr(tof, "PEER_PING", "import sys; sys.exit('no CUDA GPU here')")
    tof.peer_ping(torch.device("cuda", 0))
    assert "--peer-ping: the helper process failed (no CUDA GPU here)" in capsys.readouterr().out  # the reason


def test_peer_ping_leaves_the_benchmark_rows_without_graphs_alone(tmp_path):
    """--benchmark --peer-ping: the rows without --cuda-graphs run as they would without it."""
    tof.main(["--benchmark", "--peer-ping", "--device", "cpu", "--benchmark-presets", "tiny", "--seq-len", "8",
              "--benchmark-seq-lens", "8", "--benchmark-paths", "reference", "--benchmark-steps", "1",
              "--warmup-steps", "1", "--num-seqs", "2", "--batch-size", "2", "--profile-dir", str(tmp_path)])
    rows = json.loads((tmp_path / "benchmark.json").read_text())["rows"]
    assert [(r["path"], r["status"]) for r in rows] == [("reference", "ok")]


@gpu
def test_gpu_peer_ping_runs_a_product_in_another_process(monkeypatch, capsys):
    results = []
    real_run = tof.subprocess.run

    def spy(*args, **kwargs):
        results.append(real_run(*args, **kwargs))
        return results[-1]
    monkeypatch.setattr(tof.subprocess, "run", spy)
    tof.peer_ping(torch.device("cuda"))
    assert capsys.readouterr().out == ""
    assert [r.returncode for r in results] == [0]
    total, *uuid = results[0].stdout.split()
    assert total == "512.0"  # ones(8, 8) @ ones(8, 8) sums to 8 * 8 * 8
    own = getattr(torch.cuda.get_device_properties(torch.cuda.current_device()), "uuid", "")
    assert uuid == ([str(own)] if str(own) else [])  # the helper ran on this process's GPU
