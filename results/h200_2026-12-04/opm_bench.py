"""The outer-product mean (Suppl. Alg. 10, lines 3-4) as Triton kernels: tile and split
variants timed against the einsum path, eager and compiled, at the small and medium
presets' shapes (fourteenth session, 2026-12-04).

Call 16 (results/h200_2026-12-03d) measured opm_kernel.patch's kernels in the model:
the backward kernels took 80 us (small) and 153 us (medium) a call, about twice the
compiled einsum path's whole outer-product mean for the pair of them. This script searches their tiles, a split of
the summed residues over programs (float32 partials added by torch) and, for db, the
gradient read in its own layout and transposed in registers (TRANS), each checked
against the float64 einsum before it is timed. Call 1 timed with triton.testing.do_bench
(host-timed: launch overhead included); since call 2, do_bench_cudagraph (the call
replayed in a CUDA graph: device time), and a negative time means capture failed and
the call was host-timed. Call 2 also drops the channel masks where widths are powers
of 2 (a mask that varies along the contiguous axis keeps Triton from vector accesses).

    python3 results/h200_2026-12-04/opm_bench.py [OUT.json]        (a GPU)
    TRITON_INTERPRET=1 python3 results/h200_2026-12-04/opm_bench.py --check   (CPU, float64)
"""

import itertools
import json
import sys

import torch
import triton
import triton.language as tl


@triton.jit
def opm_fwd(a_ptr, b_ptr, inv_ptr, o_ptr, S, I, J, C: tl.constexpr, D: tl.constexpr, CP: tl.constexpr,
            DP: tl.constexpr, BLOCK_I: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_S: tl.constexpr):
    """o[l, i, j, c, d] = inv[l, i, j] sum_s a[l, s, i, c] b[l, s, j, d] (tiles of (i, c) x (j, d))."""
    bt = tl.program_id(2).to(tl.int64)
    m = tl.arange(0, BLOCK_I * CP)
    n = tl.arange(0, BLOCK_J * DP)
    i = tl.program_id(0) * BLOCK_I + m // CP
    j = tl.program_id(1) * BLOCK_J + n // DP
    c, d = m % CP, n % DP
    rows, cols = i < I, j < J
    if C != CP:  # padded channels: a mask that varies along the contiguous axis (no vector accesses)
        rows = rows & (c < C)
    if D != DP:
        cols = cols & (d < D)
    ks = tl.arange(0, BLOCK_S)
    acc = tl.zeros((BLOCK_I * CP, BLOCK_J * DP), dtype=tl.float64 if o_ptr.dtype.element_ty == tl.float64
                   else tl.float32)
    for s0 in range(0, S, BLOCK_S):
        s = s0 + ks
        a_t = tl.load(a_ptr + ((bt * S + s[None, :]) * I + i[:, None]) * C + c[:, None],
                      mask=(s[None, :] < S) & rows[:, None], other=0)
        b_t = tl.load(b_ptr + ((bt * S + s[:, None]) * J + j[None, :]) * D + d[None, :],
                      mask=(s[:, None] < S) & cols[None, :], other=0)
        acc += tl.dot(a_t, b_t, out_dtype=acc.dtype)
    inside = rows[:, None] & cols[None, :]
    inv = tl.load(inv_ptr + (bt * I + i[:, None]) * J + j[None, :], mask=inside, other=0)
    out = ((bt * I + i[:, None]) * J + j[None, :]) * (C * D) + c[:, None] * D + d[None, :]
    tl.store(o_ptr + out, (acc * inv).to(o_ptr.dtype.element_ty), mask=inside)


@triton.jit
def opm_bwd(g_ptr, x_ptr, inv_ptr, dy_ptr, S, I, J, KPER, L,
            C: tl.constexpr, D: tl.constexpr, CP: tl.constexpr, DP: tl.constexpr,
            BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_S: tl.constexpr,
            GRAD_A: tl.constexpr, TRANS: tl.constexpr, NSPLIT: tl.constexpr):
    """GRAD_A: da[s, i, c] = sum_(j, d) g[i, j, c, d] inv[i, j] b[s, j, d]; else
    db[s, j, d] = sum_(i, c) g[i, j, c, d] inv[i, j] a[s, i, c]. Program (r block,
    s block x split, l) sums residues k in [split KPER, (split + 1) KPER); with NSPLIT > 1
    dy is a float32 [NSPLIT, L, S, R, RW] of partial sums. TRANS (db only): the gradient
    tile is read as [(i, c), (j, d)], g's own order, and transposed for tl.dot."""
    bt = tl.program_id(2).to(tl.int64)
    split = tl.program_id(1) % NSPLIT
    sblk = tl.program_id(1) // NSPLIT
    RW: tl.constexpr = C if GRAD_A else D
    RWP: tl.constexpr = CP if GRAD_A else DP
    KW: tl.constexpr = D if GRAD_A else C
    KWP: tl.constexpr = DP if GRAD_A else CP
    R = I if GRAD_A else J
    K = J if GRAD_A else I
    m = tl.arange(0, BLOCK_R * RWP)
    r = tl.program_id(0) * BLOCK_R + m // RWP
    rc = m % RWP
    rows = r < R
    if RW != RWP:  # as in opm_fwd: channel masks only where widths are padded
        rows = rows & (rc < RW)
    s = sblk * BLOCK_S + tl.arange(0, BLOCK_S)
    kk = tl.arange(0, BLOCK_K * KWP)
    acc = tl.zeros((BLOCK_R * RWP, BLOCK_S), dtype=tl.float64 if x_ptr.dtype.element_ty == tl.float64
                   else tl.float32)
    k_end = tl.minimum((split + 1) * KPER, K)
    for k0 in range(split * KPER, k_end, BLOCK_K):
        k = k0 + kk // KWP
        kc = kk % KWP
        ks = k < k_end
        if KW != KWP:
            ks = ks & (kc < KW)
        x_t = tl.load(x_ptr + ((bt * S + s[None, :]) * K + k[:, None]) * KW + kc[:, None],
                      mask=(s[None, :] < S) & ks[:, None], other=0)  # [(k, kc), s]
        if GRAD_A:
            ii, jj, cc, dd = r[:, None], k[None, :], rc[:, None], kc[None, :]
            inside = rows[:, None] & ks[None, :]
        elif TRANS:
            ii, jj, cc, dd = k[:, None], r[None, :], kc[:, None], rc[None, :]  # [(i, c), (j, d)]
            inside = ks[:, None] & rows[None, :]
        else:
            ii, jj, cc, dd = k[None, :], r[:, None], kc[None, :], rc[:, None]
            inside = rows[:, None] & ks[None, :]
        g_t = tl.load(g_ptr + ((bt * I + ii) * J + jj) * (C * D) + cc * D + dd, mask=inside, other=0)
        inv = tl.load(inv_ptr + (bt * I + ii) * J + jj, mask=inside, other=0)
        g_t = (g_t.to(inv.dtype) * inv).to(x_ptr.dtype.element_ty)
        if TRANS and not GRAD_A:
            g_t = tl.trans(g_t)
        acc += tl.dot(g_t, x_t, out_dtype=acc.dtype)
    out = ((bt * S + s[None, :]) * R + r[:, None]) * RW + rc[:, None]
    if NSPLIT > 1:
        out += split.to(tl.int64) * L * S * R * RW
    tl.store(dy_ptr + out, acc.to(dy_ptr.dtype.element_ty), mask=rows[:, None] & (s[None, :] < S))


def block_s(S):
    return min(max(triton.next_power_of_2(S), 16), 64)


def forward(a, b, inv, cfg):
    L, S, I, C = a.shape
    J, D = b.shape[2], b.shape[3]
    o = a.new_empty(L, I, J, C * D)
    bi, bj, warps, stages = cfg
    opm_fwd[(triton.cdiv(I, bi), triton.cdiv(J, bj), L)](
        a, b, inv, o, S, I, J, C=C, D=D, CP=triton.next_power_of_2(C), DP=triton.next_power_of_2(D),
        BLOCK_I=bi, BLOCK_J=bj, BLOCK_S=block_s(S), num_warps=warps, num_stages=stages)
    return o


def grad_one(g, a, b, inv, grad_a, cfg):
    """da (grad_a) or db; cfg = (BLOCK_R, BLOCK_K, NSPLIT, TRANS, num_warps, num_stages)."""
    br, bk, nsplit, trans, warps, stages = cfg
    L, S, I, C = a.shape
    J, D = b.shape[2], b.shape[3]
    R, RW, K, x = (I, C, J, b) if grad_a else (J, D, I, a)
    kper = triton.cdiv(triton.cdiv(K, nsplit), bk) * bk
    nsplit = triton.cdiv(K, kper)
    bs = block_s(S)
    dy = (a.new_empty(L, S, R, RW) if nsplit == 1 else
          torch.empty(nsplit, L, S, R, RW, device=a.device, dtype=torch.float32 if a.dtype != torch.float64
                      else torch.float64))
    grid = (triton.cdiv(R, br), triton.cdiv(S, bs) * nsplit, L)
    opm_bwd[grid](g, x, inv, dy, S, I, J, kper, L, C=C, D=D, CP=triton.next_power_of_2(C),
                  DP=triton.next_power_of_2(D), BLOCK_R=br, BLOCK_K=bk, BLOCK_S=bs, GRAD_A=grad_a,
                  TRANS=trans, NSPLIT=nsplit, num_warps=warps, num_stages=stages)
    return dy if nsplit == 1 else dy.sum(0).to(a.dtype)


def einsum_path(a, b, inv):
    """The script's einsum path (OuterProductMean._mean before linear_out)."""
    outer = torch.einsum("...sic,...sjd->...ijcd", a, b)
    return (outer.float() * inv[..., None, None]).to(a.dtype).flatten(-2)


def case(L, S, I, J, C, D, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(L, S, max(I, J), generator=g) > 0.2).double()
    a = torch.randn(L, S, I, C, generator=g, dtype=torch.float64) * mask[..., :I, None]
    b = torch.randn(L, S, J, D, generator=g, dtype=torch.float64) * mask[..., :J, None]
    inv = 1 / (1e-3 + torch.einsum("lsi,lsj->lij", mask[..., :I], mask[..., :J]))
    grad = torch.randn(L, I, J, C * D, generator=g, dtype=torch.float64)
    inv_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    return a.to(device, dtype), b.to(device, dtype), inv.to(device, inv_dtype), grad.to(device, dtype)


def reference(a, b, inv, grad):
    a64, b64 = a.double().requires_grad_(), b.double().requires_grad_()
    out = (torch.einsum("lsic,lsjd->lijcd", a64, b64) * inv.double()[..., None, None]).flatten(-2)
    da, db = torch.autograd.grad((out * grad.double()).sum(), (a64, b64))
    return out, da, db


def close(x, y, tol):
    return (x.double() - y).abs().max().item() <= tol * max(y.abs().max().item(), 1e-30)


FWD = [(bi, bj, w, st) for bi, bj in ((1, 2), (2, 2), (2, 4), (4, 2), (4, 4)) for w in (4, 8) for st in (3,)]
BWD = [(br, bk, ns, tr, w, st) for br in (2, 4) for bk in (1, 2, 4) for ns in (1, 4) for tr in (False, True)
       for w in (4, 8) for st in (3,)]


def check():
    """CPU interpreter, float64: every variant's kind (splits, TRANS, odd sizes) against the einsum."""
    for shape in ((2, 5, 7, 6, 8, 8), (1, 70, 9, 3, 5, 3), (2, 17, 3, 11, 16, 4)):
        a, b, inv, grad = case(*shape, torch.float64, "cpu")
        out, da, db = reference(a, b, inv, grad)
        for cfg in ((1, 1, 2, 2), (2, 1, 4, 3)):
            assert close(forward(a, b, inv, cfg), out, 1e-12), (shape, cfg)
        for cfg in ((1, 1, 1, False, 4, 3), (2, 1, 3, True, 4, 3), (1, 2, 2, False, 4, 3), (2, 2, 8, True, 4, 3)):
            assert close(grad_one(grad, a, b, inv, True, cfg), da, 1e-12), ("da", shape, cfg)
            assert close(grad_one(grad, a, b, inv, False, cfg), db, 1e-12), ("db", shape, cfg)
    print("check passed")


def bench(out_path):
    from triton.testing import do_bench as do_bench_host, do_bench_cudagraph

    def do_bench(fn):
        """Device time: the function replayed as a CUDA graph (no launch overhead), else host-timed."""
        try:
            return do_bench_cudagraph(fn)
        except Exception:
            torch.cuda.synchronize()
            return -do_bench_host(fn)  # negative: timed from the host, launches included
    results = {"torch": torch.__version__, "triton": triton.__version__, "gpu": torch.cuda.get_device_name()}
    for preset, shape in (("small", (4, 16, 64, 64, 32, 32)), ("medium", (2, 32, 128, 128, 32, 32))):
        a, b, inv, grad = case(*shape, torch.bfloat16, "cuda")
        out, da, db = reference(a, b, inv, grad)
        row = results[preset] = {"shape": shape}
        row["clone_g_ms"] = do_bench(lambda: grad.clone())
        eager = lambda: einsum_path(a, b, inv)  # noqa: E731
        row["einsum_fwd_ms"] = do_bench(eager)
        compiled = torch.compile(einsum_path)
        ar, br_ = a.clone().requires_grad_(), b.clone().requires_grad_()

        def fwd_bwd(fn):
            return lambda: torch.autograd.grad(fn(ar, br_, inv), (ar, br_), grad)
        row["einsum_fwd_bwd_ms"] = do_bench(fwd_bwd(einsum_path))
        row["compiled_fwd_ms"] = do_bench(lambda: compiled(a, b, inv))
        row["compiled_fwd_bwd_ms"] = do_bench(fwd_bwd(compiled))
        fwd_times = {}
        for cfg in FWD:
            try:
                ok = close(forward(a, b, inv, cfg), out, 2e-2)
                fwd_times[str(cfg)] = do_bench(lambda: forward(a, b, inv, cfg)) if ok else "wrong"
            except Exception as e:  # a tile too large for shared memory
                fwd_times[str(cfg)] = f"error {type(e).__name__}"
        row["fwd"] = fwd_times
        for name, grad_a, want in (("da", True, da), ("db", False, db)):
            times = {}
            for cfg in BWD:
                if grad_a and cfg[3]:
                    continue
                try:
                    ok = close(grad_one(grad, a, b, inv, grad_a, cfg), want, 2e-2)
                    times[str(cfg)] = do_bench(lambda: grad_one(grad, a, b, inv, grad_a, cfg)) if ok else "wrong"
                except Exception as e:
                    times[str(cfg)] = f"error {type(e).__name__}"
            row[name] = times
        for key in ("fwd", "da", "db"):
            timed = {k: abs(v) for k, v in row[key].items() if isinstance(v, float)}
            best = sorted(timed, key=timed.get)[:3]
            print(preset, key, "best:", [(k, round(timed[k] * 1e3, 1)) for k in best], "us;",
                  len(row[key]) - len(timed), "not timed", flush=True)
        print(preset, {k: round(v * 1e3, 1) for k, v in row.items() if k.endswith("_ms")}, "us", flush=True)
        with open(out_path, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    if "--check" in sys.argv:
        check()
    else:
        bench(sys.argv[1] if len(sys.argv) > 1 else "opm_bench.json")
