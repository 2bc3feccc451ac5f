"""--batch-streams K: the batch as K parts, side by side on CUDA streams, one step.

On the CPU the parts run one after the other through the same code, so the tests
there check the arithmetic: the loss divided by the whole batch's pair count, each
part's gradients in its own buffer, the buffers added into FlatAdamW's (in float64
where the path allows, against the one-part --cast-once path); and the refusals. On
a GPU: the parts on their streams in eager mode give the one-stream gradients to
bf16 rounding, and the fastest path, compiled and graphed, trains like itself with
one stream.
"""
from __future__ import annotations

import pytest
import torch

import tiny_openfold_v1 as tof

CFG = tof.TinyOpenFoldConfig(msa_dim=8, pair_dim=8, n_heads_msa=2, n_heads_pair=2, msa_intermediate_dim=16,
                             pair_intermediate_dim=16, outer_product_dim=4, n_evoformer_blocks=2,
                             max_seq_len=9, n_seqs=3)

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA or ROCm GPU")


def float64_setup(parts: int):
    """(optimizer, objective) on a float64 model: CastOnce's 'cast' is then a float64
    copy, exact, so one part and several compute the same numbers up to the order of
    summation (and the loss's float32: distance_loss computes in float32)."""
    torch.manual_seed(0)
    model = tof.TinyOpenFold(CFG).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # no branch the identity
    optimizer = tof.FlatAdamW(model.parameters(), front=tof.linear_parameter_flags(model), lr=1e-3)
    objective = tof.TrainingObjective(model, CFG, None, "cpu")
    cast = tof.CastOnce(model, optimizer, torch.float64)
    objective = tof.BatchStreamsObjective(objective, cast, parts) if parts > 1 else tof.CastOnceObjective(objective,
                                                                                                        cast)
    return optimizer, objective


def padded_batch():
    """Four proteins, two of them padded to different lengths: each part has its own
    pair count, so a part that divided by its own count would be wrong."""
    batch = tof.benchmark_batch(CFG, 4, torch.device("cpu"), 0)
    batch["residue_mask"][0, 6:] = 0
    batch["residue_mask"][3, 4:] = 0
    batch["msa_mask"][1, 2, 5] = 0
    return batch


def two_steps(parts: int, monkeypatch):
    """Loss and flat gradient of the second of two steps (the first step's update and
    the clearing of its gradients are part of what is compared)."""
    real = tof.relative_position_features
    monkeypatch.setattr(tof, "relative_position_features", lambda *a: real(*a).double())
    optimizer, objective = float64_setup(parts)
    batch = padded_batch()
    for _ in range(2):
        optimizer.zero_grad(set_to_none=True)
        loss = objective(batch)
        loss.backward()
        optimizer.gather_gradients()
        grad = optimizer.flat.grad.clone()
        optimizer.step()
    return loss.detach(), grad


@pytest.mark.parametrize("parts", [2, 4])
def test_parts_give_the_whole_batch_loss_and_gradients(parts, monkeypatch):
    loss, grad = two_steps(1, monkeypatch)
    loss_k, grad_k = two_steps(parts, monkeypatch)
    assert grad.dtype == torch.float64 and loss.item() > 0
    torch.testing.assert_close(loss_k, loss, rtol=1e-6, atol=0)
    assert (grad != 0).double().mean() > 0.5  # gradients, not zeros
    torch.testing.assert_close(grad_k, grad, rtol=1e-5, atol=1e-6 * grad.abs().max().item())


def test_each_part_divides_by_the_whole_batch_pair_count(monkeypatch):
    """The check above can fail: the mean of the parts' own means differs here."""
    real = tof.relative_position_features
    monkeypatch.setattr(tof, "relative_position_features", lambda *a: real(*a).double())
    _, objective = float64_setup(1)
    batch = padded_batch()
    whole = objective(batch).item()
    halves = tof.split_batch(batch, 2)
    mean_of_means = sum(objective(half).item() for half in halves) / 2
    assert abs(mean_of_means - whole) > 1e-3 * whole


def test_every_gradient_goes_through_the_part_buffers(monkeypatch):
    """No parameter is used directly (autograd would then sum its gradients one
    by one): after backward the model's own parameters have no .grad, each part has
    stored once, and a part that did not store is an error, not a stale gradient."""
    real = tof.relative_position_features
    monkeypatch.setattr(tof, "relative_position_features", lambda *a: real(*a).double())
    optimizer, objective = float64_setup(2)
    objective(padded_batch()).backward()
    assert all(p.grad is None for p in optimizer.views)
    assert optimizer.cast_once.parts_stored == 2
    optimizer.gather_gradients()
    optimizer.cast_once.parts_stored = 1
    with pytest.raises(RuntimeError, match="1 of 2 parts"):
        optimizer.gather_gradients()
    optimizer.zero_grad()
    assert optimizer.cast_once.parts_stored == 0


@pytest.mark.parametrize("fields,device,message", [
    (dict(use_amp=True, flat_optimizer=True), "cpu", "add --cast-once"),
    (dict(use_amp=True, flat_optimizer=True, cast_once=True), "cpu", "needs a CUDA or ROCm GPU"),
    (dict(use_amp=True, flat_optimizer=True, cast_once=True, batch_size=3), "cuda", "must divide --batch-size 3"),
], ids=["no-cast-once", "cpu", "not-dividing"])
def test_batch_streams_is_refused_where_it_cannot_run(fields, device, message):
    tc = tof.TrainConfig(batch_streams=2, **fields)
    amp_dtype = torch.bfloat16
    with pytest.raises(tof.UsageError, match=message):
        tof.check_fast_paths(tc, torch.device(device), "none", amp_dtype)


def test_batch_streams_is_a_benchmark_part():
    fields = tof.parse_benchmark_path("flex+fused+flat+castonce+streams2")
    assert fields["batch_streams"] == 2 and fields["cast_once"] is True
    assert tof.parse_benchmark_path("flex")["batch_streams"] == 1
    with pytest.raises(tof.UsageError, match="--benchmark-paths"):
        tof.parse_benchmark_path("flex+streams0")


def gpu_setup(parts: int, cfg, **paths):
    tc = tof.TrainConfig(batch_size=4, use_amp=True, flat_optimizer=True, cast_once=True, batch_streams=parts,
                         **paths)
    device = torch.device("cuda")
    amp_dtype, _ = tof.amp_settings(tc, device)
    tof.check_fast_paths(tc, device, "none", amp_dtype)
    torch.manual_seed(0)
    model = tof.TinyOpenFold(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model = model.to(device).configure(**tc.model_paths())
    optimizer = tof.make_optimizer(model, tc, device)
    objective = tof.make_objective(model, cfg, tc, amp_dtype, device, optimizer)
    batches = [tof.benchmark_batch(cfg, 4, device, seed) for seed in range(2)]
    batches[0]["residue_mask"][1, cfg.max_seq_len - 3:] = 0
    return model, optimizer, objective, batches


@gpu
def test_gpu_parts_on_streams_give_the_one_stream_gradients():
    """Eager bf16 on two and four streams: the loss and every gradient of one step
    against one stream, to bf16 rounding (a weight's gradient is now the float32 sum
    of its parts' bf16 products instead of one bf16 product)."""
    results = {}
    for parts in (1, 2, 4):
        _, optimizer, objective, batches = gpu_setup(parts, CFG, attention="sdpa", fuse_projections=True)
        optimizer.zero_grad(set_to_none=True)
        loss = objective(batches[0])
        loss.backward()
        optimizer.gather_gradients()
        torch.cuda.synchronize()
        results[parts] = (loss.detach(), optimizer.flat.grad.clone())
    loss, grad = results[1]
    scale = grad.abs().max().item()
    for parts in (2, 4):
        torch.testing.assert_close(results[parts][0], loss, rtol=1e-2, atol=0)
        assert (results[parts][1] - grad).abs().max().item() <= 2e-2 * scale, parts


@gpu
def test_gpu_batch_streams_trains_like_one_stream_on_the_fastest_path():
    """flex+fused+triton+compile+graphs+flat+castonce at the small preset, 4 replayed
    steps each from the same weights and batches: two streams change the losses by
    rounding only."""
    cfg = tof.config_from_preset("small")
    paths = dict(attention="flex", fuse_projections=True, triton_kernels=True, compile=True, cuda_graphs=True)
    losses = {}
    for parts in (1, 2):
        torch._dynamo.reset()
        model, optimizer, objective, batches = gpu_setup(parts, cfg, **paths)
        step = tof.CudaGraphStep(objective, model, optimizer, 1.0, batches[0])
        losses[parts] = [step(batches[i % 2]).item() for i in range(4)]
    assert losses[2] == pytest.approx(losses[1], rel=2e-2), losses
