"""--cast-once: the nn.Linear parameters cast to the autocast dtype once a step.

On the CPU under bf16 autocast: one training step gives the plain --flat-optimizer
path's loss and gradients bit for bit in eager mode (with and without fused
projections), without the per-parameter casts; compiled, it matches to rounding and
Inductor generates fewer kernels; the buffer layout, the optimizer state and the
refusals. On a GPU: the same bits in eager mode, and the fastest path (flex, fused,
Triton kernels, compiled and graphed) trains like itself without the flag.
"""
from __future__ import annotations

import torch
import torch._inductor.metrics as inductor_metrics
import pytest

import tiny_openfold_v1 as tof

tof.FUSE_PROJECTIONS_ON_CPU = True  # as in test_fast_paths.py: --fuse-projections acts on the CPU too

CFG = tof.TinyOpenFoldConfig(msa_dim=8, pair_dim=8, n_heads_msa=2, n_heads_pair=2, msa_intermediate_dim=16,
                             pair_intermediate_dim=16, outer_product_dim=4, n_evoformer_blocks=2,
                             max_seq_len=9, n_seqs=3)


gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA or ROCm GPU")


def setup(cast_once: bool, device="cpu", cfg=CFG, **paths):
    """(model, optimizer, objective, batch) of one bf16-autocast --flat-optimizer run."""
    tc = tof.TrainConfig(batch_size=2, use_amp=True, flat_optimizer=True, cast_once=cast_once, **paths)
    device = torch.device(device)
    amp_dtype, _ = tof.amp_settings(tc, device)
    assert amp_dtype == torch.bfloat16
    tof.check_fast_paths(tc, device, "none", amp_dtype)
    torch.manual_seed(0)
    model = tof.TinyOpenFold(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # AF2's zero-initialised layers too: no branch the identity
    model = model.to(device).configure(**tc.model_paths())  # as benchmark_step: on the device, then the paths
    optimizer = tof.make_optimizer(model, tc, device)
    objective = tof.make_objective(model, cfg, tc, amp_dtype, device, optimizer)
    batch = tof.benchmark_batch(cfg, 2, device, 0)
    return model, optimizer, objective, batch


def graphed_steps(cfg, steps: int, **fields):
    """Replay `steps` CUDA-graph training steps of a setup(True, "cuda", cfg, **fields)
    run, alternating two batches. Returns (the CudaGraphStep, the losses, and for
    each replay whether it changed the weights)."""
    torch._dynamo.reset()
    model, optimizer, objective, batch = setup(True, "cuda", cfg, **fields)
    batches = [batch, tof.benchmark_batch(cfg, 2, torch.device("cuda"), 1)]
    step = tof.CudaGraphStep(objective, model, optimizer, 1.0, batches[0])
    losses, moved = [], []
    for i in range(steps):
        before = [p.detach().clone() for p in model.parameters()]
        losses.append(step(batches[i % 2]).item())
        moved.append(any(not torch.equal(b, p) for b, p in zip(before, model.parameters())))
    return step, losses, moved


FASTEST_TINY = dict(attention="flex", fuse_projections=True, triton_kernels=True, compile=True, cuda_graphs=True,
                   weight_grad_stream=True)  # the default size's fastest path, for the tiny preset's GPU tests


def fastest_path_with_and_without(flag: str):
    """{False: (step, losses), True: (step, losses)}: 6 replayed steps (graphed_steps)
    of FASTEST_TINY at the tiny preset with the TrainConfig field `flag` off and on, from
    the same weights and batches; every replay must move the weights (the losses alone
    cannot show it: batches can repeat a loss)."""
    runs = {}
    for on in (False, True):
        step, losses, moved = graphed_steps(tof.config_from_preset("tiny"), 6, **FASTEST_TINY, **{flag: on})
        assert all(moved), (flag, on, moved)
        runs[on] = step, losses
    return runs


def one_step(cast_once: bool, device="cpu", after_a_step=True, **paths):
    """The loss and {parameter name: its float32 gradient in flat.grad} of one step;
    after_a_step: of the second of two training steps (so the first step's update and
    the clearing of its gradient are part of what is compared)."""
    model, optimizer, objective, batch = setup(cast_once, device, **paths)
    if after_a_step:
        tof.train_step(objective, model, optimizer, None, 1.0, batch)
    optimizer.zero_grad(set_to_none=True)
    loss = objective(batch)
    loss.backward()
    optimizer.gather_gradients()
    names = [name for name, _ in model.named_parameters()]
    return loss.detach(), {n: optimizer.flat.grad[where].clone() for n, where in zip(names, optimizer.slices)}


class CountCasts(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts aten._to_copy calls (dtype casts), forward and backward."""

    def __init__(self):
        super().__init__()
        self.casts = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._to_copy.default:
            self.casts += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("paths", [dict(), dict(attention="sdpa", fuse_projections=True)], ids=["reference", "fused"])
def test_cast_once_gives_the_same_loss_and_gradients_bit_for_bit(paths):
    loss, grads = one_step(False, **paths)
    loss1, grads1 = one_step(True, **paths)
    assert torch.equal(loss, loss1)
    assert grads.keys() == grads1.keys()
    for name in grads:
        assert torch.equal(grads[name], grads1[name]), name
    assert sum(bool(g.any()) for g in grads.values()) > 0.9 * len(grads)  # gradients, not zeros


def test_cast_once_drops_the_per_parameter_casts():
    """Forward and backward without a cast for each nn.Linear weight and bias: the
    plain path makes at least two per parameter (forward, and the gradient back)."""
    counts = {}
    for cast_once in (False, True):
        model, optimizer, objective, batch = setup(cast_once)
        with CountCasts() as mode:
            objective(batch).backward()
        counts[cast_once] = mode.casts
    n_linear = sum(tof.linear_parameter_flags(model))
    assert n_linear > 50
    assert counts[True] <= counts[False] - 2 * n_linear + 2, counts  # + the copy kernel and its cast


def test_cast_once_compiled_matches_and_generates_fewer_kernels():
    """Compiled (Inductor's C++ backend): the loss and gradients of the plain compiled
    path to bf16 rounding (Inductor may skip a bf16 rounding that autocast implies, e.g.
    of a weight it folds into a small product or of a gradient on its way to float32,
    in one path and not the other; seen: 1.4e-5 of the loss with fused projections),
    from fewer generated kernels. The first step, from the same
    weights: after an AdamW update, rounding-sized gradient differences near zero can
    move a weight by up to the learning rate."""
    results, kernels = {}, {}
    for cast_once in (False, True):
        torch._dynamo.reset()
        inductor_metrics.reset()
        results[cast_once] = one_step(cast_once, after_a_step=False, attention="sdpa", fuse_projections=True,
                                      compile=True)
        kernels[cast_once] = inductor_metrics.generated_kernel_count
    (loss, grads), (loss1, grads1) = results[False], results[True]
    torch.testing.assert_close(loss1, loss, rtol=1e-3, atol=0)  # bf16 rounds to 4e-3
    scale = max(g.abs().max().item() for g in grads.values())
    for name in grads:
        assert (grads[name] - grads1[name]).abs().max().item() <= 1e-2 * scale, name  # a bf16 ulp or two
    assert kernels[True] < kernels[False], kernels


def test_cast_once_layout_and_optimizer_state():
    """The nn.Linear parameters sit first in the buffer on 8-element boundaries, the
    others on 64; after the same step the optimizer state (AdamW's per-parameter
    layout, what checkpoints hold) equals the plain flat path's."""
    states = {}
    for cast_once in (False, True):
        model, optimizer, objective, batch = setup(cast_once)
        optimizer.zero_grad(set_to_none=True)
        objective(batch).backward()
        tof.optimizer_update(optimizer, None, grad_clip=0.05)
        states[cast_once] = optimizer.state_dict()
        if cast_once:
            flags = tof.linear_parameter_flags(model)
            starts = [where.start for where in optimizer.slices]
            assert max(s for s, f in zip(starts, flags) if f) < optimizer.boundary
            assert min(s for s, f in zip(starts, flags) if not f) == optimizer.boundary
            assert all(s % (8 if f else 64) == 0 for s, f in zip(starts, flags))
            assert optimizer.cast_once.copy.dtype == torch.bfloat16
            assert optimizer.cast_once.copy.numel() == optimizer.boundary
    assert states[True]["state"].keys() == states[False]["state"].keys()
    for i, state in states[False]["state"].items():
        for key, value in state.items():
            assert torch.equal(states[True]["state"][i][key], value), (i, key)


@pytest.mark.parametrize("fields,mode,message", [
    (dict(use_amp=True), "none", "add --flat-optimizer"),
    (dict(flat_optimizer=True), "none", "add --use-amp"),
    (dict(use_amp=True, flat_optimizer=True, chunk_size=4), "none", "--chunk-size"),
    (dict(use_amp=True, flat_optimizer=True, checkpoint_blocks=True), "none", "--checkpoint-blocks"),
    (dict(use_amp=True, flat_optimizer=True, grad_accum_steps=2), "none", "--grad-accum-steps"),
    (dict(use_amp=True, flat_optimizer=True, compile=True, compile_scope="block"), "none", "--compile-scope step"),
    (dict(use_amp=True, flat_optimizer=True), "ddp", "one process"),
], ids=["no-flat", "no-amp", "chunks", "checkpoints", "accumulation", "block-scope", "ddp"])
def test_cast_once_is_refused_where_it_cannot_run(fields, mode, message):
    tc = tof.TrainConfig(cast_once=True, **fields)
    amp_dtype, _ = tof.amp_settings(tc, torch.device("cpu"))
    with pytest.raises(tof.UsageError, match=message):
        tof.check_fast_paths(tc, torch.device("cpu"), mode, amp_dtype)


def test_cast_once_is_a_benchmark_part():
    assert tof.parse_benchmark_path("sdpa+fused+flat+castonce")["cast_once"] is True


@gpu
def test_gpu_cast_once_gives_the_same_bits_in_eager_mode():
    loss, grads = one_step(False, "cuda", attention="sdpa", fuse_projections=True)
    loss1, grads1 = one_step(True, "cuda", attention="sdpa", fuse_projections=True)
    assert torch.equal(loss, loss1)
    for name in grads:
        assert torch.equal(grads[name], grads1[name]), name


@gpu
def test_gpu_cast_once_trains_like_the_fastest_path_without_it():
    """flex+fused+triton+compile+graphs+flat at the small preset, 4 replayed steps
    each from the same weights and batches: the flag changes the losses by rounding
    only. (--triton-kernels' gating kernel reads the fused bias in float32 without the
    flag and in bf16 with it, as autocast's F.linear would, so not the same bits.)"""
    cfg = tof.config_from_preset("small")
    paths = dict(attention="flex", fuse_projections=True, triton_kernels=True, compile=True, cuda_graphs=True)
    losses = {}
    for cast_once in (False, True):
        torch._dynamo.reset()
        model, optimizer, objective, batch = setup(cast_once, "cuda", cfg, **paths)
        batches = [batch, tof.benchmark_batch(cfg, 2, torch.device("cuda"), 1)]
        step = tof.CudaGraphStep(objective, model, optimizer, 1.0, batches[0])
        losses[cast_once] = [step(batches[i % 2]).item() for i in range(4)]
    assert losses[True] == pytest.approx(losses[False], rel=2e-2), losses
