"""Hand-written Triton kernels of TinyOpenFold V1 (the --triton-kernels path).

tiny_openfold_v1.py imports this file only when --triton-kernels is on, so the
script runs without Triton (a CPU-only PyTorch has none). The kernels run on
CUDA and ROCm GPUs; with TRITON_INTERPRET=1 set before Triton is imported,
Triton's interpreter runs them on the CPU (how tests/test_triton_kernels.py
checks them against the PyTorch code in float64).

Four operations have kernels: the triangle multiplications' gated projections
(below), the outer-product mean's forward, the transitions, and a LayerNorm and the
projection after it (at the end of the file; the script uses it on the MSA side,
up to 64 channels: LN_LINEAR_KERNELS, LN_LINEAR_KERNEL_WIDTH).

The triangle multiplications' gated projections (Suppl. Alg. 11/12, line 2):

    a = sigmoid(z W_ag^T + b_ag) * (z W_ap^T + b_ap) * mask,   b likewise.

The script computes the four products as one GEMM, P = W z^T: [4c, pairs] with
pairs = B N N, whose row blocks are a_g, a_p, b_g, b_p (c rows each), so each
channel's values over all pairs are contiguous. What follows the GEMM is
elementwise, and torch.compile's code for it made three passes over P's size
per call on an H200 (results/h200_2026-12-02e): a bias add in the forward; in
the backward a reduction that evaluated all four branches of a concatenation,
at 2.6x its memory time, and a copy into the GEMM's layout. Here:

    gating_forward:  reads P, the biases and the mask once; writes a and b,
                     [*, c, N, N] each (the layout the triangle product reads).
    gating_backward: reads da, db, P, the biases and the mask once; writes dP in
                     P's own [4c, pairs] layout (the input of the weight-gradient
                     GEMM), and per program each channel's sum of dP over the
                     program's pairs, [programs, 4c] (partial_sums), which the
                     caller adds up into the bias gradient (no atomics: the same
                     sum every run).

Each program owns BLOCK_C channels x BLOCK_R pairs of both a and b. Arithmetic
is float32 (float64 for float64 inputs); results are stored in P's dtype.
Offsets into P, a and b are 64-bit (4c x pairs reaches 2^31 at B = 2, N = 2,048,
c = 128); pair indices, and so the mask's offsets, are 32-bit: pairs < 2^31.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_C, BLOCK_R = 16, 256  # channels x pairs per program (pairs are contiguous in P and in a, b)

# The backward kernels write per-program sums (for the bias and LayerNorm-parameter
# gradients), which the caller adds up over the programs with partial.sum(0). Stored
# channels first, [K, programs], that sum reads contiguous memory: ATen's reduction
# along the inner axis. Programs first, [programs, K], it reduces along the outer axis,
# which took 6.6-8.3 us a call on an H100 (results/h100_2026-12-06b, call 3).
PARTIALS_CHANNELS_FIRST = True


def partial_sums(programs: int, k: int, like: torch.Tensor) -> torch.Tensor:
    """An uninitialised [programs, k] buffer for per-program sums, float32 (float64 for
    float64 `like`), laid out as PARTIALS_CHANNELS_FIRST says; kernels index it by its
    strides."""
    dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
    if PARTIALS_CHANNELS_FIRST:
        return torch.empty(k, programs, device=like.device, dtype=dtype).t()
    return torch.empty(programs, k, device=like.device, dtype=dtype)


@triton.jit
def _tile(mask_ptr, c, pairs, plane, BLOCK_C: tl.constexpr, BLOCK_R: tl.constexpr, COMPUTE: tl.constexpr):
    """This program's BLOCK_C channels x BLOCK_R pairs: channel and pair indices (64-bit,
    [BLOCK_C, 1] and [1, BLOCK_R]), which of them exist, the pair mask [1, BLOCK_R], and
    each element's offset in a, b and their gradients, [*, c, N, N]."""
    offs_r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)  # pairs (P's columns)
    offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)  # channels
    in_r, in_c = offs_r < pairs, offs_c < c
    inside = in_c[:, None] & in_r[None, :]
    ch, r = offs_c.to(tl.int64)[:, None], offs_r.to(tl.int64)[None, :]
    pair_mask = tl.load(mask_ptr + offs_r, mask=in_r, other=0).to(COMPUTE)[None, :]
    protein = offs_r // plane  # [BLOCK_R]: one division per pair, not per element
    out = ((protein.to(tl.int64) * c)[None, :] + ch) * plane + (offs_r - protein * plane).to(tl.int64)[None, :]
    return ch, r, offs_c, in_c, inside, pair_mask, out


@triton.jit
def _gated(p_ptr, bias_ptr, ch, r, offs_c, in_c, inside, row0, c, pairs, COMPUTE: tl.constexpr):
    """gate and value [BLOCK_C, BLOCK_R] of the side whose rows of P start at row0
    (0: a_g, a_p; 2c: b_g, b_p), biases added (rounded to P's dtype first, as the
    PyTorch path adds them in the product's dtype)."""
    bias_g = tl.load(bias_ptr + row0 + offs_c, mask=in_c, other=0).to(p_ptr.dtype.element_ty).to(COMPUTE)
    bias_v = tl.load(bias_ptr + row0 + c + offs_c, mask=in_c, other=0).to(p_ptr.dtype.element_ty).to(COMPUTE)
    gate = tl.load(p_ptr + (row0 + ch) * pairs + r, mask=inside, other=0).to(COMPUTE) + bias_g[:, None]
    value = tl.load(p_ptr + (row0 + c + ch) * pairs + r, mask=inside, other=0).to(COMPUTE) + bias_v[:, None]
    return gate, value


@triton.jit
def _forward_kernel(p_ptr, bias_ptr, mask_ptr, a_ptr, b_ptr, c, pairs, plane,
                    BLOCK_C: tl.constexpr, BLOCK_R: tl.constexpr, COMPUTE: tl.constexpr):
    ch, r, offs_c, in_c, inside, pair_mask, out = _tile(mask_ptr, c, pairs, plane, BLOCK_C, BLOCK_R, COMPUTE)
    gate, value = _gated(p_ptr, bias_ptr, ch, r, offs_c, in_c, inside, 0, c, pairs, COMPUTE)
    tl.store(a_ptr + out, (value / (1 + tl.exp(-gate)) * pair_mask).to(a_ptr.dtype.element_ty), mask=inside)
    gate, value = _gated(p_ptr, bias_ptr, ch, r, offs_c, in_c, inside, 2 * c, c, pairs, COMPUTE)
    tl.store(b_ptr + out, (value / (1 + tl.exp(-gate)) * pair_mask).to(b_ptr.dtype.element_ty), mask=inside)


@triton.jit
def _backward_side(d_ptr, p_ptr, bias_ptr, dp_ptr, partial_ptr, ch, r, out, offs_c, in_c, inside, pair_mask,
                   row0, c, pairs, stride_k, COMPUTE: tl.constexpr):
    """One side (a or b) of the backward: its rows of dP, and each channel's sum of them over the pairs."""
    gate, value = _gated(p_ptr, bias_ptr, ch, r, offs_c, in_c, inside, row0, c, pairs, COMPUTE)
    d_out = tl.load(d_ptr + out, mask=inside, other=0).to(COMPUTE) * pair_mask
    s = 1 / (1 + tl.exp(-gate))
    d_gate = d_out * value * s * (1 - s)  # d(s v m)/dg = v m s (1 - s)
    d_value = d_out * s  # d(s v m)/dv = s m
    tl.store(dp_ptr + (row0 + ch) * pairs + r, d_gate.to(dp_ptr.dtype.element_ty), mask=inside)
    tl.store(dp_ptr + (row0 + c + ch) * pairs + r, d_value.to(dp_ptr.dtype.element_ty), mask=inside)
    tl.store(partial_ptr + (row0 + offs_c) * stride_k, tl.sum(d_gate, axis=1), mask=in_c)
    tl.store(partial_ptr + (row0 + c + offs_c) * stride_k, tl.sum(d_value, axis=1), mask=in_c)


@triton.jit
def _backward_kernel(da_ptr, db_ptr, p_ptr, bias_ptr, mask_ptr, dp_ptr, partial_ptr, stride_p, stride_k, c, pairs,
                     plane, BLOCK_C: tl.constexpr, BLOCK_R: tl.constexpr, COMPUTE: tl.constexpr):
    ch, r, offs_c, in_c, inside, pair_mask, out = _tile(mask_ptr, c, pairs, plane, BLOCK_C, BLOCK_R, COMPUTE)
    partial_ptr += tl.program_id(0).to(tl.int64) * stride_p  # this block of pairs' per-channel sums
    _backward_side(da_ptr, p_ptr, bias_ptr, dp_ptr, partial_ptr, ch, r, out, offs_c, in_c, inside, pair_mask,
                   0, c, pairs, stride_k, COMPUTE)
    _backward_side(db_ptr, p_ptr, bias_ptr, dp_ptr, partial_ptr, ch, r, out, offs_c, in_c, inside, pair_mask,
                   2 * c, c, pairs, stride_k, COMPUTE)


def _launch(p: torch.Tensor, mask: torch.Tensor) -> tuple:
    """Grid and the arguments both kernels share."""
    c, pairs = p.shape[0] // 4, p.shape[1]
    grid = (triton.cdiv(pairs, BLOCK_R), triton.cdiv(c, BLOCK_C))
    compute = tl.float64 if p.dtype == torch.float64 else tl.float32
    return grid, dict(c=c, pairs=pairs, plane=mask.shape[-1] * mask.shape[-2], BLOCK_C=BLOCK_C, BLOCK_R=BLOCK_R,
                      COMPUTE=compute)


def gating_forward(p: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor, a: torch.Tensor,
                   b: torch.Tensor) -> None:
    """Write a and b [*, c, N, N] from p [4c, pairs], bias [4c] and mask [*, N, N] (all contiguous)."""
    grid, args = _launch(p, mask)
    _forward_kernel[grid](p, bias, mask, a, b, **args)


def gating_backward(da: torch.Tensor, db: torch.Tensor, p: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor,
                    dp: torch.Tensor) -> torch.Tensor:
    """Write dp [4c, pairs]; return each channel's sum of dp over each block of BLOCK_R
    pairs, [blocks, 4c] (a view; see partial_sums) in float32 (float64 for float64 p):
    their sum over the blocks is the bias gradient."""
    grid, args = _launch(p, mask)
    partial = partial_sums(grid[0], p.shape[0], p)
    _backward_kernel[grid](da, db, p, bias, mask, dp, partial, *partial.stride(), **args)
    return partial


# --- The outer-product mean (Suppl. Alg. 10, line 3) --------------------------
#
#     o[i, j, c, d] = inv[i, j] sum_s a[s, i, c] b[s, j, d],   inv = 1 / (eps + count)
#
# As a matrix product this is A^T B with rows (i, c) and columns (j, d), so a GEMM
# writes it as [i, c, j, d], and the einsum path then copies it into the
# [i, j, (c d)] layout that linear_out reads, with the division and the cast. This
# kernel stores the product's tiles straight into [i, j, c, d], scaled by inv on
# the way: one pass over the output instead of a write, a read and a write. It
# accumulates in float32 (float64 for float64 inputs) with tl.dot. A tile holds
# whole channel axes: BLOCK_I residues x CP channels (C padded to a power of 2,
# the padding masked), at least 64 rows; S, I and J may be any length.
#
# Only the forward is a kernel. Hand-written backward kernels (the gradient read
# straight from [i, j, c, d]) took about three times the compiled einsum's whole
# backward on an H200 at the best tiles tried (results/h200_2026-12-04), so the
# backward stays the einsum's: one scaled copy into [i, c, j, d] and two GEMMs.

@triton.jit
def _opm_forward_kernel(a_ptr, b_ptr, inv_ptr, o_ptr, S, I, J,
                        C: tl.constexpr, D: tl.constexpr, CP: tl.constexpr, DP: tl.constexpr,
                        BLOCK_I: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_S: tl.constexpr,
                        PRECISION: tl.constexpr):
    bt = tl.program_id(2).to(tl.int64)
    m = tl.arange(0, BLOCK_I * CP)  # rows (i, c)
    n = tl.arange(0, BLOCK_J * DP)  # columns (j, d)
    i = tl.program_id(0) * BLOCK_I + m // CP
    j = tl.program_id(1) * BLOCK_J + n // DP
    c, d = m % CP, n % DP
    rows, cols = i < I, j < J
    if C != CP:  # channel masks only where a width is padded: a mask that varies along
        rows = rows & (c < C)  # the contiguous axis keeps Triton from vector accesses
    if D != DP:
        cols = cols & (d < D)
    ks = tl.arange(0, BLOCK_S)
    acc = tl.zeros((BLOCK_I * CP, BLOCK_J * DP), dtype=tl.float64 if o_ptr.dtype.element_ty == tl.float64
                   else tl.float32)
    for s0 in range(0, S, BLOCK_S):
        s = s0 + ks
        a_t = tl.load(a_ptr + ((bt * S + s[None, :]) * I + i[:, None]) * C + c[:, None],
                      mask=(s[None, :] < S) & rows[:, None], other=0)  # [(i, c), s]
        b_t = tl.load(b_ptr + ((bt * S + s[:, None]) * J + j[None, :]) * D + d[None, :],
                      mask=(s[:, None] < S) & cols[None, :], other=0)  # [s, (j, d)]
        acc += tl.dot(a_t, b_t, input_precision=PRECISION, out_dtype=acc.dtype)
    inside = rows[:, None] & cols[None, :]
    inv = tl.load(inv_ptr + (bt * I + i[:, None]) * J + j[None, :], mask=inside, other=0)
    out = ((bt * I + i[:, None]) * J + j[None, :]) * (C * D) + c[:, None] * D + d[None, :]
    tl.store(o_ptr + out, (acc * inv).to(o_ptr.dtype.element_ty), mask=inside)


def opm_forward(a: torch.Tensor, b: torch.Tensor, inv: torch.Tensor, o: torch.Tensor) -> None:
    """o [L, I, J, C * D] from a [L, S, I, C], b [L, S, J, D], inv [L, I, J] (all contiguous).
    Tiles of 64 x 64 (2 x 2 residues at C = D = 32) and 4 warps: the fastest of the
    tiles tried on an H200 at both presets (results/h200_2026-12-04, call 2)."""
    L, S, I, C = a.shape
    J, D = b.shape[2], b.shape[3]
    cp, dp = triton.next_power_of_2(C), triton.next_power_of_2(D)
    bi, bj = max(1, 64 // cp), max(1, 64 // dp)
    grid = (triton.cdiv(I, bi), triton.cdiv(J, bj), L)
    _opm_forward_kernel[grid](a, b, inv, o, S, I, J, C=C, D=D, CP=cp, DP=dp, BLOCK_I=bi, BLOCK_J=bj,
                              BLOCK_S=min(max(triton.next_power_of_2(S), 16), 64),
                              PRECISION="ieee" if a.dtype in (torch.float32, torch.float64) else "tf32",
                              num_warps=4)


# --- The transitions (Suppl. Alg. 9 and 15) ------------------------------------
#
#     h = relu(LayerNorm(x) W1^T + b1),   out = h W2^T + b2,   x [rows, C], h [rows, H]
#
# Compiled, this is a LayerNorm kernel, two cuBLAS GEMMs with elementwise kernels
# between and after them, and about twice as many kernels backward. Here one
# program owns BLOCK_M rows for the whole module:
#
#   transition_forward:  the LayerNorm in registers, then for each block of BLOCK_H
#                        hidden channels h = relu(y W1^T + b1) (stored: the weight
#                        gradient of W2 and the ReLU's mask need it) and
#                        out += h W2^T; out + b2 is stored once.
#   transition_backward: recomputes the LayerNorm; for each hidden block
#                        dh = dout W2 masked by h > 0 (stored, for W1's gradient),
#                        dy += dh W1; then the LayerNorm backward writes dx. It also
#                        stores y = LayerNorm(x) for W1's gradient and per program
#                        the sums of dh, dy * xhat, dy and dout over its rows (the
#                        gradients of b1, the LayerNorm's weight and bias, and b2,
#                        added up by the caller: no atomics, the same sum every run).
#                        The two weight gradients, sums over all rows, are cuBLAS's.
#
# The products take y and h in the weights' dtype (bf16 under autocast), as
# F.linear takes them there, and accumulate in float32 (float64 for float64), as do
# the LayerNorm statistics. Biases are rounded to the weights' dtype, and h,
# dh and dy to it too, where the PyTorch path rounds them. C is padded to a power of
# 2 (masked), H is read BLOCK_H at a time (masked at its end); offsets are 64-bit.

@triton.jit
def _transition_rows(x_ptr, lnw_ptr, lnb_ptr, M, eps, C: tl.constexpr, CP: tl.constexpr, BLOCK_M: tl.constexpr,
                     COMPUTE: tl.constexpr):
    """This program's rows: their offsets [BLOCK_M, CP] (64-bit), which exist, and the
    LayerNorm's xhat, 1 / std, y = xhat * weight + bias (in COMPUTE) and the weight."""
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.arange(0, CP)
    in_r, in_c = rows < M, cols < C
    inside = in_r[:, None] & in_c[None, :]
    offs = rows.to(tl.int64)[:, None] * C + cols[None, :]
    x = tl.load(x_ptr + offs, mask=inside, other=0).to(COMPUTE)
    mean = tl.sum(x, axis=1) / C
    xc = tl.where(inside, x - mean[:, None], 0)
    rstd = 1 / tl.sqrt(tl.sum(xc * xc, axis=1) / C + eps)
    xhat = xc * rstd[:, None]
    weight = tl.load(lnw_ptr + cols, mask=in_c, other=0).to(COMPUTE)
    y = xhat * weight[None, :] + tl.load(lnb_ptr + cols, mask=in_c, other=0).to(COMPUTE)[None, :]
    return rows, cols, in_r, in_c, inside, offs, xhat, rstd, weight, y


@triton.jit
def _transition_forward_kernel(x_ptr, lnw_ptr, lnb_ptr, w1_ptr, b1_ptr, w2_ptr, b2_ptr, out_ptr, h_ptr, M, H, eps,
                               C: tl.constexpr, CP: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_H: tl.constexpr,
                               COMPUTE: tl.constexpr, PRECISION: tl.constexpr, SAVE_H: tl.constexpr):
    rows, cols, in_r, in_c, inside, offs, xhat, rstd, weight, y = _transition_rows(
        x_ptr, lnw_ptr, lnb_ptr, M, eps, C, CP, BLOCK_M, COMPUTE)
    dtype = w1_ptr.dtype.element_ty
    y = y.to(dtype)
    acc = tl.zeros((BLOCK_M, CP), dtype=COMPUTE)
    for h0 in range(0, H, BLOCK_H):
        hs = h0 + tl.arange(0, BLOCK_H)
        in_h = hs < H
        w1t = tl.load(w1_ptr + hs.to(tl.int64)[None, :] * C + cols[:, None],
                      mask=in_c[:, None] & in_h[None, :], other=0)  # [CP, BLOCK_H] = W1[h, c]^T
        b1 = tl.load(b1_ptr + hs, mask=in_h, other=0).to(COMPUTE)
        h = tl.maximum(tl.dot(y, w1t, input_precision=PRECISION, out_dtype=COMPUTE) + b1[None, :], 0).to(dtype)
        if SAVE_H:
            tl.store(h_ptr + rows.to(tl.int64)[:, None] * H + hs[None, :], h, mask=in_r[:, None] & in_h[None, :])
        w2t = tl.load(w2_ptr + cols[None, :] * H + hs.to(tl.int64)[:, None],
                      mask=in_h[:, None] & in_c[None, :], other=0)  # [BLOCK_H, CP] = W2[c, h]^T
        acc += tl.dot(h, w2t, input_precision=PRECISION, out_dtype=COMPUTE)
    b2 = tl.load(b2_ptr + cols, mask=in_c, other=0).to(COMPUTE)
    tl.store(out_ptr + offs, (acc + b2[None, :]).to(out_ptr.dtype.element_ty), mask=inside)


@triton.jit
def _layer_norm_backward(dy, dtype, xhat, rstd, weight, dx_ptr, offs, inside, partial_ptr, cols, in_c, stride_k,
                         C: tl.constexpr):
    """From dy [BLOCK_M, CP] (the gradient of y = LayerNorm(x), accumulated in COMPUTE)
    write dx and, at partial_ptr, the program's sums of dy * xhat and dy (C each: the
    gradients of the LayerNorm's weight and bias). dy is first rounded to dtype, the
    products' dtype, as F.linear's input gradient is.
    dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy * weight."""
    dy = dy.to(dtype).to(weight.dtype)
    g = dy * weight[None, :]
    dx = rstd[:, None] * (g - (tl.sum(g, axis=1) / C)[:, None] - xhat * (tl.sum(g * xhat, axis=1) / C)[:, None])
    tl.store(dx_ptr + offs, dx.to(dx_ptr.dtype.element_ty), mask=inside)
    tl.store(partial_ptr + cols * stride_k, tl.sum(dy * xhat, axis=0), mask=in_c)
    tl.store(partial_ptr + (C + cols) * stride_k, tl.sum(dy, axis=0), mask=in_c)


@triton.jit
def _transition_backward_kernel(dout_ptr, x_ptr, lnw_ptr, lnb_ptr, w1_ptr, w2_ptr, h_ptr,
                                dx_ptr, y_ptr, dh_ptr, partial_ptr, stride_p, stride_k, M, H, eps,
                                C: tl.constexpr, CP: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_H: tl.constexpr,
                                COMPUTE: tl.constexpr, PRECISION: tl.constexpr):
    rows, cols, in_r, in_c, inside, offs, xhat, rstd, weight, y = _transition_rows(
        x_ptr, lnw_ptr, lnb_ptr, M, eps, C, CP, BLOCK_M, COMPUTE)
    dtype = w1_ptr.dtype.element_ty
    tl.store(y_ptr + offs, y.to(dtype), mask=inside)
    dout = tl.load(dout_ptr + offs, mask=inside, other=0).to(dtype)
    partial_ptr += tl.program_id(0).to(tl.int64) * stride_p  # [dh sums (H), dgamma, dbeta, dout sums (C each)]
    dy = tl.zeros((BLOCK_M, CP), dtype=COMPUTE)
    for h0 in range(0, H, BLOCK_H):
        hs = h0 + tl.arange(0, BLOCK_H)
        in_h = hs < H
        w2 = tl.load(w2_ptr + cols[:, None] * H + hs.to(tl.int64)[None, :],
                     mask=in_c[:, None] & in_h[None, :], other=0)  # [CP, BLOCK_H] = W2[c, h]
        h_offs = rows.to(tl.int64)[:, None] * H + hs[None, :]
        h_in = in_r[:, None] & in_h[None, :]
        h = tl.load(h_ptr + h_offs, mask=h_in, other=0)
        dh = tl.dot(dout, w2, input_precision=PRECISION, out_dtype=COMPUTE).to(dtype)
        dh = tl.where(h > 0, dh, 0)  # the ReLU's backward
        tl.store(dh_ptr + h_offs, dh, mask=h_in)
        tl.store(partial_ptr + hs * stride_k, tl.sum(dh.to(COMPUTE), axis=0), mask=in_h)
        w1 = tl.load(w1_ptr + hs.to(tl.int64)[:, None] * C + cols[None, :],
                     mask=in_h[:, None] & in_c[None, :], other=0)  # [BLOCK_H, CP] = W1[h, c]
        dy += tl.dot(dh, w1, input_precision=PRECISION, out_dtype=COMPUTE)
    _layer_norm_backward(dy, dtype, xhat, rstd, weight, dx_ptr, offs, inside,
                         partial_ptr + H * stride_k, cols, in_c, stride_k, C)
    tl.store(partial_ptr + (H + 2 * C + cols) * stride_k, tl.sum(dout.to(COMPUTE), axis=0), mask=in_c)


# (rows per program, hidden channels per step, warps, pipeline stages), forward and
# backward alike, by the padded width CP; widths not listed take the entry of the
# nearest smaller one. The fastest of seven tiles for forward + backward at each width on an
# H100, bf16 (results/h100_2026-12-06b, transition_bench.py): C = 64 (MSA, small),
# 128 (pair, small; MSA, medium) and 256 (pair, medium; slower than the compiled
# PyTorch code at every tile, so the script keeps that code there). float32 tiles
# need twice the shared memory: at most 64 x 32, one stage fewer (one at CP = 256).
TRANSITION_TILES = {16: (32, 64, 4, 3), 128: (64, 32, 4, 3), 256: (128, 64, 8, 2)}


def _row_block_launch(x: torch.Tensor, w: torch.Tensor, tiles: dict, step_name: str) -> tuple:
    """Grid and meta-parameters of kernels whose programs own blocks of x's rows (the
    transitions', ln_linear's): the tile of `tiles` for x's padded width, with its
    channel step passed as step_name."""
    M, C = x.shape
    cp = max(triton.next_power_of_2(C), 16)
    block_m, block_n, warps, stages = tiles[max(k for k in tiles if k <= cp)]
    if w.element_size() > 2:  # float32: tiles of twice the bytes in the same shared memory
        block_m, block_n, stages = min(block_m, 64), min(block_n, 32), 1 if cp >= 256 else max(1, stages - 1)
    return (triton.cdiv(M, block_m),), {
        "C": C, "CP": cp, "BLOCK_M": block_m, step_name: block_n, "num_warps": warps, "num_stages": stages,
        "COMPUTE": tl.float64 if w.dtype == torch.float64 else tl.float32,
        "PRECISION": "ieee" if w.dtype in (torch.float32, torch.float64) else "tf32"}


def _transition_launch(x: torch.Tensor, w1: torch.Tensor) -> tuple:
    """Grid and meta-parameters of the transition kernels."""
    return _row_block_launch(x, w1, TRANSITION_TILES, "BLOCK_H")


def transition_forward(x, ln_weight, ln_bias, w1, b1, w2, b2, eps: float, out, h) -> None:
    """out [M, C] and h [M, H] (h None: not stored) from x [M, C], the LayerNorm's
    weight and bias [C], w1 [H, C], b1 [H], w2 [C, H], b2 [C] (all contiguous; w1, b1,
    w2, b2, out and h of one dtype)."""
    grid, args = _transition_launch(x, w1)
    _transition_forward_kernel[grid](x, ln_weight, ln_bias, w1, b1, w2, b2, out, out if h is None else h,
                                     x.shape[0], w1.shape[0], eps, SAVE_H=h is not None, **args)


def transition_backward(dout, x, ln_weight, ln_bias, w1, w2, h, eps: float, dx, y, dh) -> torch.Tensor:
    """Write dx [M, C], y = LayerNorm(x) [M, C] and dh [M, H] (the gradient of h W2^T's
    input, ReLU applied); return per-program sums [programs, H + 3C] (a view; see
    partial_sums) in float32 (float64 for float64): of dh, dy * xhat, dy and dout over
    each program's rows."""
    grid, args = _transition_launch(x, w1)
    H, C = w1.shape
    partial = partial_sums(grid[0], H + 3 * C, w1)
    _transition_backward_kernel[grid](dout, x, ln_weight, ln_bias, w1, w2, h, dx, y, dh, partial,
                                      *partial.stride(), x.shape[0], H, eps, **args)
    return partial


# --- A LayerNorm and the projection after it (Alg. 7, 10) ----------------------
#
#     out = LayerNorm(x) W^T + b,   x [rows, C], W [N, C], out [rows, N]
#
# Compiled, this is a LayerNorm kernel that writes y = LayerNorm(x), a cuBLAS GEMM
# that reads y back, and backward a GEMM for dy, a LayerNorm-backward kernel and
# the sums for its weight and bias. Here, as in the transitions:
#
#   ln_linear_forward:  the LayerNorm in registers, then out for each block of
#                       BLOCK_N output channels, bias added; y is not stored.
#   ln_linear_backward: recomputes the LayerNorm, stores y (for W's gradient, a
#                       cuBLAS GEMM over all rows), dy = dout W block by block,
#                       the LayerNorm backward into dx, and per program the sums
#                       of dout (b's gradient), dy * xhat and dy.
#
# Precision as in the transitions: y and the product in the weights' dtype,
# accumulation and statistics in float32 (float64 for float64).

@triton.jit
def _ln_linear_forward_kernel(x_ptr, lnw_ptr, lnb_ptr, w_ptr, b_ptr, out_ptr, M, N, eps,
                              C: tl.constexpr, CP: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                              COMPUTE: tl.constexpr, PRECISION: tl.constexpr, HAS_BIAS: tl.constexpr):
    rows, cols, in_r, in_c, inside, offs, xhat, rstd, weight, y = _transition_rows(
        x_ptr, lnw_ptr, lnb_ptr, M, eps, C, CP, BLOCK_M, COMPUTE)
    y = y.to(w_ptr.dtype.element_ty)
    for n0 in range(0, N, BLOCK_N):
        ns = n0 + tl.arange(0, BLOCK_N)
        in_n = ns < N
        wt = tl.load(w_ptr + ns.to(tl.int64)[None, :] * C + cols[:, None],
                     mask=in_c[:, None] & in_n[None, :], other=0)  # [CP, BLOCK_N] = W[n, c]^T
        acc = tl.dot(y, wt, input_precision=PRECISION, out_dtype=COMPUTE)
        if HAS_BIAS:
            acc += tl.load(b_ptr + ns, mask=in_n, other=0).to(COMPUTE)[None, :]
        tl.store(out_ptr + rows.to(tl.int64)[:, None] * N + ns[None, :], acc.to(out_ptr.dtype.element_ty),
                 mask=in_r[:, None] & in_n[None, :])


@triton.jit
def _ln_linear_backward_kernel(dout_ptr, x_ptr, lnw_ptr, lnb_ptr, w_ptr, dx_ptr, y_ptr, partial_ptr,
                               stride_p, stride_k, M, N, eps,
                               C: tl.constexpr, CP: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                               COMPUTE: tl.constexpr, PRECISION: tl.constexpr):
    rows, cols, in_r, in_c, inside, offs, xhat, rstd, weight, y = _transition_rows(
        x_ptr, lnw_ptr, lnb_ptr, M, eps, C, CP, BLOCK_M, COMPUTE)
    dtype = w_ptr.dtype.element_ty
    tl.store(y_ptr + offs, y.to(dtype), mask=inside)
    partial_ptr += tl.program_id(0).to(tl.int64) * stride_p  # [dout sums (N), dgamma, dbeta (C each)]
    dy = tl.zeros((BLOCK_M, CP), dtype=COMPUTE)
    for n0 in range(0, N, BLOCK_N):
        ns = n0 + tl.arange(0, BLOCK_N)
        in_n = ns < N
        d = tl.load(dout_ptr + rows.to(tl.int64)[:, None] * N + ns[None, :], mask=in_r[:, None] & in_n[None, :],
                    other=0)  # [BLOCK_M, BLOCK_N]
        tl.store(partial_ptr + ns * stride_k, tl.sum(d.to(COMPUTE), axis=0), mask=in_n)
        w = tl.load(w_ptr + ns.to(tl.int64)[:, None] * C + cols[None, :],
                    mask=in_n[:, None] & in_c[None, :], other=0)  # [BLOCK_N, CP] = W[n, c]
        dy += tl.dot(d, w, input_precision=PRECISION, out_dtype=COMPUTE)
    _layer_norm_backward(dy, dtype, xhat, rstd, weight, dx_ptr, offs, inside,
                         partial_ptr + N * stride_k, cols, in_c, stride_k, C)


# (rows per program, output channels per step, warps, pipeline stages) by the padded
# width CP, as TRANSITION_TILES. The best of five tiles for forward + backward at six
# places of the small and medium presets on an H100, bf16, or within 1.4 us of it
# (results/h100_2026-12-06c call 9, ln_linear_bench.py): C = 64 and C = 128.
LN_LINEAR_TILES = {16: (32, 64, 4, 3), 128: (64, 64, 4, 3)}


def _ln_linear_launch(x: torch.Tensor, w: torch.Tensor) -> tuple:
    """Grid and meta-parameters of the LayerNorm + Linear kernels."""
    return _row_block_launch(x, w, LN_LINEAR_TILES, "BLOCK_N")


def ln_linear_forward(x, ln_weight, ln_bias, w, b, eps: float, out) -> None:
    """out [M, N] = LayerNorm(x) w^T + b from x [M, C], the LayerNorm's weight and bias
    [C], w [N, C] and b [N] or None (all contiguous; w, b and out of one dtype)."""
    grid, args = _ln_linear_launch(x, w)
    _ln_linear_forward_kernel[grid](x, ln_weight, ln_bias, w, w if b is None else b, out, x.shape[0], w.shape[0],
                                    eps, HAS_BIAS=b is not None, **args)


def ln_linear_backward(dout, x, ln_weight, ln_bias, w, eps: float, dx, y) -> torch.Tensor:
    """Write dx [M, C] and y = LayerNorm(x) [M, C] (w's dtype); return per-program sums
    [programs, N + 2C] (a view; see partial_sums) of dout, dy * xhat and dy."""
    grid, args = _ln_linear_launch(x, w)
    N, C = w.shape
    partial = partial_sums(grid[0], N + 2 * C, w)
    _ln_linear_backward_kernel[grid](dout, x, ln_weight, ln_bias, w, dx, y, partial, *partial.stride(),
                                     x.shape[0], N, eps, **args)
    return partial
