"""Sweep option "bf16w" (results/h200_2026-12-02/inductor_sweep.py): a working bf16
copy of every nn.Linear parameter, refreshed once a step, as separate graph inputs.

Why: under bf16 autocast each nn.Linear weight and bias is cast to bf16 inside the
compiled forward, one small Inductor kernel each, and its gradient is cast back to
float32 in backward, one more each: 185 cast-only kernels, 224 us of a 5.21 ms
default-size step on the H200 (results/h200_2026-12-03d, cast_kernels.py).
--flat-weights (removed, results/h200_2026-12-03d call 12) cast them as one block but
split that block INSIDE the compiled graph, and Inductor turned the split's backward
into 48 small copies and more: the step ran more kernels, not fewer.

Here the split happens OUTSIDE the compiled graph: FlatAdamW's buffer holds the
nn.Linear parameters first (packed, each aligned to 8 elements), a bf16 leaf `w16`
mirrors that front region, refreshed by one copy kernel before each forward, and
w16.split() hands the compiled forward one bf16 tensor per parameter
(torch.func.functional_call). Autocast leaves a bf16 weight alone, so the forward has
no casts; backward returns bf16 gradients, eager autograd's split backward
concatenates them into w16.grad (a few launches), and gather_gradients casts that once
into the float32 buffer's gradient. Values: autocast's cast of a weight is the same
rounding as the copy's, and its gradient is the bf16 product's gradient cast to float32
either way, so loss and gradients are the same bits in eager mode without chunking
(check() below). Refused with --chunk-size (each chunk's gradient would be summed
in bf16, not float32).

    PYTHONPATH=. python results/h200_2026-12-04b/bf16_weights.py          # the CPU checks
    PYTHONPATH=. python results/h200_2026-12-04b/bf16_weights.py cuda     # the same on a GPU
"""
import dataclasses
import sys

import torch
import torch.nn as nn

import tiny_openfold_v1 as t


def linear_parameter_ids(model: nn.Module) -> set:
    return {id(p) for m in model.modules() if isinstance(m, nn.Linear) for p in m.parameters(recurse=False)}


class FrontFlatAdamW(t.FlatAdamW):
    """FlatAdamW over (nn.Linear parameters, then the rest), each aligned to 8 elements
    (16 bytes of bf16, so Inductor sees the bf16 views aligned, and no gap pieces for
    sizes that are multiples of 8); .w16 is the bf16 mirror of the front region."""

    ALIGN = 8

    def __init__(self, model: nn.Module, dtype: torch.dtype, **kwargs):
        linear = linear_parameter_ids(model)
        params = list(model.parameters())
        front = [p for p in params if id(p) in linear]
        super().__init__(front + [p for p in params if id(p) not in linear], **kwargs)
        names = {id(p): name for name, p in model.named_parameters()}
        self.n_front = len(front)
        self.boundary = self.slices[self.n_front].start if self.n_front < len(self.views) else self.flat.numel()
        # the split of w16: (name or None for a gap, shape, length), in buffer order
        self.pieces = []
        for i in range(self.n_front):
            p, where = self.views[i], self.slices[i]
            self.pieces.append((names[id(p)], p.shape, p.numel()))
            end = self.slices[i + 1].start if i + 1 < len(self.views) else self.flat.numel()
            if end > where.stop:
                self.pieces.append((None, None, end - where.stop))
        self.w16 = torch.zeros(self.boundary, dtype=dtype, device=self.flat.device, requires_grad=True)

    def weights(self) -> dict:
        """{name: bf16 view} of every nn.Linear parameter, from this step's weights."""
        with torch.no_grad():
            self.w16.copy_(self.flat[:self.boundary])  # ONE cast for all of them
        self.w16.grad = None
        pieces = self.w16.split([n for _, _, n in self.pieces])  # eager: its backward is one cat
        return {name: piece.view(shape) for (name, shape, _), piece in zip(self.pieces, pieces) if name is not None}

    def gather_gradients(self) -> None:
        front = (self.w16.grad if self.w16.grad is not None else torch.zeros_like(self.w16)).float()
        rest = []
        for p, gap in zip(self.views[self.n_front:], self.gaps[self.n_front:]):
            rest.append((p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1))
            if gap.numel():
                rest.append(gap)
        self.flat.grad = torch.cat([front] + rest)


class Inner(nn.Module):
    """TrainingObjective's forward with the nn.Linear parameters passed in (compiled)."""

    def __init__(self, objective: t.TrainingObjective):
        super().__init__()
        self.objective = objective

    def forward(self, batch, weights):
        o = self.objective
        pair_features = t.relative_position_features(batch["residue_index"], o.pair_input_dim)
        inputs = (batch["msa_tokens"], pair_features, batch["msa_mask"], batch["residue_mask"])
        with torch.autocast(o.device_type, dtype=o.amp_dtype, enabled=o.amp_dtype is not None):
            out = torch.func.functional_call(o.model, weights, inputs, strict=False)
        return t.distance_loss(out["distances"], batch["distances"], batch["residue_mask"])


class Bf16Objective(nn.Module):
    """objective(batch): the weights split eagerly, then the (compiled) Inner."""

    def __init__(self, inner, optimizer: FrontFlatAdamW):
        super().__init__()
        self.inner, self.optimizer = inner, optimizer

    def forward(self, batch):
        return self.inner(batch, self.optimizer.weights())


_LAST_OPTIMIZER = []


def make_optimizer(model, tc, device):
    kwargs = dict(lr=tc.learning_rate, weight_decay=tc.weight_decay)
    if device.type == "cuda":
        kwargs["fused"] = True
    if tc.cuda_graphs:
        kwargs.update(capturable=True, lr=torch.tensor(tc.learning_rate, device=device))
    optimizer = FrontFlatAdamW(model, torch.bfloat16, **kwargs)
    _LAST_OPTIMIZER[:] = [optimizer]
    return optimizer


def make_objective(model, cfg, tc, amp_dtype, device):
    if tc.chunk_size is not None or not tc.flat_optimizer or amp_dtype != torch.bfloat16:
        sys.exit("bf16w: needs --flat-optimizer, bf16 autocast and no --chunk-size")
    inner = Inner(t.TrainingObjective(model, cfg, amp_dtype, device.type))
    if tc.compile:
        inner = torch.compile(inner, dynamic=False)
    return Bf16Objective(inner, _LAST_OPTIMIZER[0])


def install():
    """Make t.benchmark_step build this path (the sweep's worker calls it)."""
    t.make_optimizer = make_optimizer
    t.make_objective = make_objective


def check(preset="tiny", paths="fused+flat", compile=False, device="cpu", exact=True):
    """Loss and float32 gradient of one bf16-autocast step: bf16w against the plain flat
    path, from the same weights and batch; they must be the same bits in eager mode
    (exact; not with --triton-kernels, whose gating kernel reads the fused bias in float32
    on the plain path and in bf16 here, as autocast's F.linear would)."""
    cfg = t.config_from_preset(preset)
    tc = dataclasses.replace(t.TrainConfig(use_amp=True), batch_size=2, **t.parse_benchmark_path(paths))
    tc = dataclasses.replace(tc, compile=compile)
    device = torch.device(device)
    amp_dtype = torch.bfloat16
    batch = t.benchmark_batch(cfg, tc.batch_size, device, 0)
    results = []
    for variant in ("plain", "bf16w"):
        torch.manual_seed(0)
        model = t.TinyOpenFold(cfg).to(device).configure(**tc.model_paths())
        with torch.no_grad():  # no branch the identity: randomise every parameter
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        if variant == "plain":
            optimizer = t.make_optimizer(model, tc, device)
            objective = t.make_objective(model, cfg, tc, amp_dtype, device)
        else:
            optimizer = make_optimizer(model, tc, device)
            objective = make_objective(model, cfg, tc, amp_dtype, device)
        optimizer.zero_grad(set_to_none=True)
        loss = objective(batch)
        loss.backward()
        optimizer.gather_gradients()
        by_name = {}
        names = {id(p): n for n, p in model.named_parameters()}
        for p, where in zip(optimizer.views, optimizer.slices):
            by_name[names[id(p)]] = optimizer.flat.grad[where].clone()
        results.append((loss.detach(), by_name))
    (l0, g0), (l1, g1) = results
    worst = max((g0[k] - g1[k]).abs().max().item() for k in g0)
    print(f"{device.type} {preset} {paths} compile={compile}: loss {l0.item():.6f} vs {l1.item():.6f}, "
          f"largest gradient difference {worst:.3g} over {len(g0)} parameters")
    # eager: the same bits; compiled: Inductor may skip a bf16 rounding of a gradient
    # on the way to float32 in one path and not the other
    return not exact or (l0.item() == l1.item() and worst <= (1e-6 if compile else 0.0))


def kernel_counts(preset="tiny", paths="fused+flat"):
    """Inductor's generated kernels (forward and backward) for plain and bf16w (CPU)."""
    import torch._inductor.metrics as metrics
    cfg = t.config_from_preset(preset)
    tc = dataclasses.replace(t.TrainConfig(use_amp=True), batch_size=2, **dict(t.parse_benchmark_path(paths), compile=True))
    device = torch.device("cpu")
    batch = t.benchmark_batch(cfg, tc.batch_size, device, 0)
    counts = {}
    for variant in ("plain", "bf16w"):
        torch._dynamo.reset()
        metrics.reset()
        torch.manual_seed(0)
        model = t.TinyOpenFold(cfg).to(device).configure(**tc.model_paths())
        build = (t.make_optimizer, t.make_objective) if variant == "plain" else (make_optimizer, make_objective)
        optimizer = build[0](model, tc, device)
        objective = build[1](model, cfg, tc, torch.bfloat16, device)
        objective(batch).backward()
        counts[variant] = metrics.generated_kernel_count
    print(f"{preset} {paths}: Inductor kernels (CPU), plain {counts['plain']}, bf16w {counts['bf16w']}")
    return counts


if __name__ == "__main__":
    if sys.argv[1:] == ["cuda"]:
        ok = all([check("small", "fused+flat", device="cuda"), check("small", "flex+fused+flat", device="cuda"),
                  check("small", "flex+fused+triton+flat", device="cuda", exact=False)])
    else:
        ok = all([check("tiny", "fused+flat"), check("tiny", "flat"), check("tiny", "fused+flat", True)])
        kernel_counts()
    print("same bits in eager, within 1e-6 compiled" if ok else "DIFFERENT")
    sys.exit(0 if ok else 1)
