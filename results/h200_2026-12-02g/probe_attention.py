"""Where the attentions' time goes, module by module, and what the shared bias's
gradient costs in FlexAttention's backward.

    PYTHONPATH=. python3 results/h200_2026-12-02g/probe_attention.py [PRESET ...]
    PYTHONPATH=. python3 results/h200_2026-12-02g/probe_attention.py tune [PRESET ...]

For each preset (default: small medium) and each attention module of one Evoformer
block (Alg. 7 MSA row attention with pair bias, Alg. 8 MSA column attention,
Alg. 13 triangle attention), on the flex+fused path under bf16 autocast: the module
alone, compiled (torch.compile, forward and backward), profiled for ITERS calls of
forward+backward; prints GPU kernel time per call and the top kernels.

Alg. 7 and 13 run three versions of GatedAttention._flex:
  shared  the script's code: one float32 bias [L, H, Q, K] read by every row; the
          generated backward adds each row's bias gradient into it (atomic adds,
          R rows onto each element);
  nograd  the same with the bias detached: no bias gradient at all (a lower bound,
          not a correct step);
  rows    flex_rows below: the bias (and the key-mask bias) materialised per row,
          [L R, H, Q, K] float32, so every row adds into its own gradient and
          autograd sums the rows afterwards (no two programs add into one address).

"tune": the FlexAttention kernels' tile settings, for Alg. 7 and 13 on the script's
code: "default" (the script's choice: at 0b21cb6, call 2, FLEX_KERNEL_OPTIONS for every
call; since then flex_kernel_options()), "tma" (FLEX_KERNEL_OPTIONS with USE_TMA, the
Hopper tensor-memory accelerator for the loads) and "autotune" (Inductor's max_autotune:
its list of flex configurations benchmarked at compile time, no options of ours; the
chosen ones are in the AUTOTUNE tables it prints to stderr). Prints the flex forward and
backward kernels' time per call beside the module's. For Alg. 8 (no bias; the script
sends it to SDPA, which picks cuDNN on the H200): "sdpa" (the script's code), "efficient"
(SDPA held to its memory-efficient kernel), "flex" (FlexAttention with the key mask as
its only score_mod, fused_by_flex below) and "math" (the reference attention, einsum and
softmax, left to Inductor).
"""
import fcntl, functools, importlib.util, os, sys

import torch

import tiny_openfold_v1 as t

ITERS = int(os.environ.get("PROBE_ITERS", 10))


def flex_rows(q, k, v, biases, key_mask):
    """GatedAttention._flex with the bias materialised per row (see the docstring)."""
    *lead, R, H, Q, c = q.shape
    K = k.shape[-2]
    bias = functools.reduce(torch.add, [t.at_least_fp32(b) for b in biases])  # [*, 1, H, Q, K]
    mask_bias = t.mask_to_bias(t.at_least_fp32(key_mask))[..., None, None, :]  # [*, R, 1, 1, K]
    rows = (bias + mask_bias).reshape(-1, H, Q, K)  # [L R, H, Q, K]

    def add_bias(score, b, h, q_idx, k_idx):
        return score + rows[b, h, q_idx, k_idx]

    o = t.flex_kernel(q)(q.reshape(-1, H, Q, c), k.reshape(-1, H, K, c), v.reshape(-1, H, K, c),
                         score_mod=add_bias, kernel_options=t.flex_kernel_options(q, K))
    return o.view(*lead, R, H, Q, c)


SHARED = t.GatedAttention._flex
SCRIPT_OPTIONS = t.flex_kernel_options
FUSED = t.GatedAttention._fused


def fused_by_flex(q, k, v, biases, key_mask):
    """GatedAttention._fused for Alg. 8 (no biases) by FlexAttention: the key-mask bias
    is the score_mod's only term."""
    assert not biases
    *lead, R, H, Q, c = q.shape
    K = k.shape[-2]
    mask_bias = t.mask_to_bias(t.at_least_fp32(key_mask)).reshape(-1, K)  # [L R, K]

    def add_mask(score, b, h, q_idx, k_idx):
        return score + mask_bias[b, k_idx]

    o = t.flex_kernel(q)(q.reshape(-1, H, Q, c), k.reshape(-1, H, K, c), v.reshape(-1, H, K, c),
                         score_mod=add_mask, kernel_options=t.flex_kernel_options(q, K))
    return o.view(*lead, R, H, Q, c)


def fused_efficient(q, k, v, biases, key_mask):
    """GatedAttention._fused with SDPA held to its memory-efficient kernel."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
        return FUSED(q, k, v, biases, key_mask)


def flex_nograd(q, k, v, biases, key_mask):
    return SHARED(q, k, v, [b.detach() for b in biases], key_mask)


VARIANTS = {"shared": SHARED, "nograd": flex_nograd, "rows": flex_rows}


def load_profile_kernels():
    """profile_kernels.py (kernel_table, profile_steps), by the sweep's own loader."""
    spec = importlib.util.spec_from_file_location(
        "inductor_sweep", os.path.join(os.path.dirname(__file__), "..", "h200_2026-12-02", "inductor_sweep.py"))
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    return sweep.load_profile_kernels()


def probe(preset, name, variant, device, options=None, autotune=False, fused=FUSED, attention="flex"):
    cfg = t.config_from_preset(preset)
    B, S, N = t.PRESETS[preset]["batch_size"], cfg.n_seqs, cfg.max_seq_len
    torch.manual_seed(0)
    m = torch.randn(B, S, N, cfg.msa_dim, device=device, requires_grad=True)
    z = torch.randn(B, N, N, cfg.pair_dim, device=device, requires_grad=True)
    msa_mask = torch.ones(B, S, N, device=device)
    pair_mask = torch.ones(B, N, N, device=device)
    if name == "alg7_msa_row":
        module, inputs = t.MSARowAttentionWithPairBias(cfg), (m, z, msa_mask)
    elif name == "alg8_msa_column":
        module, inputs = t.MSAColumnAttention(cfg), (m, msa_mask)
    else:
        module, inputs = t.TriangleAttentionStartingNode(cfg), (z, pair_mask)
    module = module.to(device)
    for p in module.parameters():  # no branch the identity (linear_o starts at zero)
        torch.nn.init.normal_(p, std=0.05)
    for mod in module.modules():
        if isinstance(mod, t.GatedAttention):
            mod.attention, mod.fuse_projections = attention, True
    t.GatedAttention._flex = staticmethod(VARIANTS[variant])
    t.GatedAttention._fused = staticmethod(fused)
    t.flex_kernel_options = SCRIPT_OPTIONS if options is None else (lambda q, n_keys: options if q.is_cuda else None)
    torch._dynamo.reset()
    compiled = torch.compile(module, options={"max_autotune": True} if autotune else None)
    grad = None

    def call():
        nonlocal grad
        with torch.autocast(device.type, torch.bfloat16):
            out = compiled(*inputs)
        if grad is None:
            grad = torch.randn_like(out, dtype=torch.float32)
        (out.float() * grad).sum().backward()

    for _ in range(3):
        call()
    torch.cuda.synchronize()
    pk = load_profile_kernels()
    lock = open(os.environ.get("PROBE_LOCK", os.devnull), "w")  # PROBE_LOCK: one process profiles at a time
    fcntl.flock(lock, fcntl.LOCK_EX)
    call()
    torch.cuda.synchronize()
    prof = pk.profile_steps(lambda _: call(), None, ITERS)
    lock.close()
    ms, count = pk.kernel_table(prof, ITERS, f"{preset} {name} {variant}", top=8)
    flex = [sum(e.device_time_total for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA
                and "flex_attention" in e.name and ("backward" in e.name) == backward) / ITERS
            for backward in (False, True)]
    return ms, count, flex


def main(presets):
    device = torch.device("cuda")
    rows = []
    for preset in presets:
        for name in ("alg7_msa_row", "alg8_msa_column", "alg13_triangle"):
            for variant in (("shared", "nograd", "rows") if name != "alg8_msa_column" else ("shared",)):
                try:
                    ms, count, _ = probe(preset, name, variant, device)
                    rows.append((preset, name, variant, f"{1e3 * ms:.1f}", f"{count:.0f}"))
                except Exception as e:  # one failing variant must not hide the others
                    print(f"{preset} {name} {variant}: failed: {type(e).__name__}: {str(e)[:300]}")
                    rows.append((preset, name, variant, "failed", "-"))
    print("\npreset  module            variant  kernel us/call  kernels/call")
    for r in rows:
        print(f"{r[0]:<7} {r[1]:<17} {r[2]:<8} {r[3]:>14} {r[4]:>13}")


SETTINGS = {"default": dict(), "tma": dict(options=dict(t.FLEX_KERNEL_OPTIONS, USE_TMA=True)),
            "autotune": dict(options={}, autotune=True)}
ALG8_SETTINGS = {"sdpa": dict(), "efficient": dict(fused=fused_efficient), "flex": dict(fused=fused_by_flex),
                 "math": dict(attention="reference")}


def tune(presets):
    device = torch.device("cuda")
    rows = []
    for preset in presets:
        for name in ("alg7_msa_row", "alg13_triangle", "alg8_msa_column"):
            for setting, kwargs in (ALG8_SETTINGS if name == "alg8_msa_column" else SETTINGS).items():
                print(f"#### {preset} {name} {setting}", file=sys.stderr, flush=True)
                try:
                    ms, _, (fwd, bwd) = probe(preset, name, "shared", device, **kwargs)
                    rows.append((preset, name, setting, f"{1e3 * ms:.1f}", f"{fwd:.1f}", f"{bwd:.1f}"))
                except Exception as e:
                    print(f"{preset} {name} {setting}: failed: {type(e).__name__}: {str(e)[:300]}")
                    rows.append((preset, name, setting, "failed", "-", "-"))
    print("\npreset  module            setting   kernel us/call  flex fwd us  flex bwd us")
    for r in rows:
        print(f"{r[0]:<7} {r[1]:<17} {r[2]:<9} {r[3]:>14} {r[4]:>12} {r[5]:>12}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["tune"]:
        tune(sys.argv[2:] or ["small", "medium"])
    else:
        main(sys.argv[1:] or ["small", "medium"])
