"""Which SDPA kernel runs for the triangle-attention shape, and why others are refused."""
import warnings, torch, torch.nn.functional as F
from torch.profiler import profile, ProfilerActivity
warnings.simplefilter("always")
dev, dt = "cuda", torch.bfloat16
def case(name, R, H, Q, d, mask_kind, grad_mask):
    q, k, v = (torch.randn(R, H, Q, d, device=dev, dtype=dt, requires_grad=True) for _ in range(3))
    if mask_kind == "full":
        m = torch.randn(R, H, Q, Q, device=dev, dtype=dt)
    elif mask_kind == "bcast":
        m = torch.randn(1, H, Q, Q, device=dev, dtype=dt).expand(R, H, Q, Q)
    else:
        m = torch.randn(R, 1, 1, Q, device=dev, dtype=dt).expand(R, 1, Q, Q)
    if grad_mask:
        m = m.detach().requires_grad_() if mask_kind == "full" else m
        if mask_kind != "full":
            base = torch.randn(1 if mask_kind == "bcast" else R, H if mask_kind == "bcast" else 1, Q if mask_kind == "bcast" else 1, Q, device=dev, dtype=dt, requires_grad=True)
            m = base.expand(R, H if mask_kind == "bcast" else 1, Q, Q)
    try:
        p = torch.backends.cuda.SDPAParams(q, k, v, m, 0.0, False, False)
        with warnings.catch_warnings(record=True) as w:
            ok = {n: f(p, True) for n, f in (("cudnn", torch.backends.cuda.can_use_cudnn_attention),
                                             ("efficient", torch.backends.cuda.can_use_efficient_attention),
                                             ("flash", torch.backends.cuda.can_use_flash_attention))}
        reasons = sorted({str(x.message)[:140] for x in w})
    except Exception as e:
        ok, reasons = f"params error {e}", []
    for _ in range(2):
        F.scaled_dot_product_attention(q, k, v, attn_mask=m).sum().backward()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        F.scaled_dot_product_attention(q, k, v, attn_mask=m).sum().backward()
        torch.cuda.synchronize()
    ka = sorted(prof.key_averages(), key=lambda e: -e.self_device_time_total)[:3]
    total = sum(e.self_device_time_total for e in prof.key_averages()) / 1e3
    print(f"{name:<36} {total:7.2f} ms  ok={ok}  top={[e.key[:40] for e in ka]}")
    for r in reasons:
        print("     ", r)
for R, Q in ((64, 64), (512, 512)):
    for kind, g in (("full", True), ("full", False), ("bcast", True), ("keymask", False)):
        case(f"R={R} Q=K={Q} d=32 {kind} grad={g}", R, 4, Q, 32, kind, g)
