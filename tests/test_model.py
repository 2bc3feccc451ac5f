"""Tests of the TinyOpenFold model (tiny_openfold_v1.py, sections 1-5 and the loss).

What is checked, against Jumper et al. 2021, Suppl. Alg. 3-15 (and
/work/shared/docs/evoformer_reference.md):
  * shapes of every module with odd, distinct sizes;
  * every module against a naive reference written here with loops and plain
    sums straight from the supplement's formulas. The references reuse the
    modules' own Linear / Embedding parameters and LayerNorm affine weights,
    but none of their attention, masking or contraction code;
  * invariances (ending node = starting node on z^T, incoming = outgoing on z^T
    with a and b swapped, MSA row permutation equivariance, symmetric distances);
  * masks (padding residues or MSA rows changes nothing real, fully masked rows
    give no NaN, the loss ignores padded pairs);
  * gradient flow, AF2 initialisation, parameter count, relative positions and
    config validation.

AF2 initialisation zeroes the last layer of every residual branch, so a fresh
module outputs 0 and most comparisons would be 0 == 0: every comparison below
randomises all weights first (randomise()) and runs in float64.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch
import torch.nn as nn

import tiny_openfold_v1 as tof

# The test machine has 2 cores, often shared: oversubscribed intra-op threads
# make these small ops ~50x slower. One thread keeps the file fast.
torch.set_num_threads(1)

# Odd, distinct sizes: B 2, N_seq 5, N_res 7, c_m 12 (3 heads of 4), c_z 22
# (2 heads of 11), OPM c 6, triangle-multiplication c 9, transitions 26 / 30.
# LayerNorm eps 4e-3 (not the default) so the references can see it is honoured.
B, S, N = 2, 5, 7
CFG_FIELDS = dict(msa_dim=12, pair_dim=22, n_heads_msa=3, n_heads_pair=2, msa_intermediate_dim=26,
                  pair_intermediate_dim=30, outer_product_dim=6, triangle_mult_dim=9,
                  n_evoformer_blocks=2, max_seq_len=N, n_seqs=S, eps=4e-3)
OPM_EPS = 1e-3  # Alg. 10: added to the mask count

# Tolerances (float64 everywhere).
EXACT = 1e-10
# Sensitive reductions upcast to at least float32 and keep float64, so float64
# paths match the float64 references exactly (test_float64_inputs_are_not_downcast).


def make_cfg(**overrides) -> tof.TinyOpenFoldConfig:
    return tof.TinyOpenFoldConfig(**{**CFG_FIELDS, **overrides})


CFG = make_cfg()


def close(actual, expected, tol):
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)


def randomise(module: nn.Module, seed: int = 0, std: float = 0.2) -> nn.Module:
    """Every parameter ~ N(0, std) from a fixed generator; LayerNorm weights ~ N(1, std)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_((torch.randn(p.shape, generator=g, dtype=torch.float64) * std).to(p.dtype))
        for mod in module.modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.add_(1.0)
    return module


def build(cls, cfg=CFG, seed=0) -> nn.Module:
    """A module in float64 with randomised weights."""
    return randomise(cls(cfg).double(), seed)


def randn(*shape, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


def random_mask(*shape, seed=0, p_real=0.7):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < p_real).double()


def random_msa_mask(seed=0):
    """[B, S, N] with zeros, but at least one real key for every row and column query."""
    mask = random_mask(B, S, N, seed=seed)
    mask[:, :, 0] = 1  # every MSA row has a real residue (row attention keys)
    mask[:, 0, :] = 1  # every column has a real row (column attention keys)
    return mask


def random_pair_mask(seed=0):
    """[B, N, N], asymmetric, with a real key for every starting- and ending-node query."""
    mask = random_mask(B, N, N, seed=seed)
    mask[:, :, 0] = 1
    mask[:, 0, :] = 1
    return mask


def random_tokens(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 21, shape, generator=g)


# =============================================================================
# Naive references (Suppl. Alg. 3-15), loops and plain sums
# =============================================================================


def ref_layer_norm(x, ln: nn.LayerNorm, eps=CFG.eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * ln.weight + ln.bias


def ref_linear(x, lin: nn.Linear):
    y = x @ lin.weight.T
    return y if lin.bias is None else y + lin.bias


def attend(q, keys, values, bias, key_real):
    """One query of one head: softmax over the *real* keys k of q.k_k / sqrt(c) + bias_k,
    then sum_k a_k v_k. q [c], keys/values [K, c], bias/key_real [K]."""
    c = q.shape[-1]
    real = [k for k in range(keys.shape[0]) if key_real[k] > 0]
    if not real:  # only padding queries have no real key; their outputs are never compared
        return torch.zeros_like(values[0])
    logits = torch.stack([torch.dot(q, keys[k]) / math.sqrt(c) + bias[k] for k in real])
    w = torch.exp(logits - logits.max())
    w = w / w.sum()
    return sum(w[n] * values[k] for n, k in enumerate(real))


def gate_and_project(att, x, o):
    """o_* = sigmoid(Linear(x)) * o, then the output Linear (Alg. 7 lines 5-7)."""
    return ref_linear(torch.sigmoid(ref_linear(x, att.linear_g)) * o, att.linear_o)


def head_slice(h, c):
    return slice(h * c, (h + 1) * c)


def ref_msa_row_attention(mod, m, z, msa_mask):
    """Alg. 7: a_sij^h = softmax_j(q_si.k_sj / sqrt(c) + b_ij^h), b from LN(z), shared by all rows s."""
    att = mod.attention
    H, c = att.n_heads, att.head_dim
    m = ref_layer_norm(m, mod.layer_norm_m)
    bias = ref_linear(ref_layer_norm(z, mod.layer_norm_z), mod.linear_b)  # [B, i, j, H]
    q, k, v = (ref_linear(m, lin) for lin in (att.linear_q, att.linear_k, att.linear_v))
    o = torch.zeros_like(q)
    for b, s, i, h in itertools.product(range(m.shape[0]), range(m.shape[1]), range(m.shape[2]), range(H)):
        hs = head_slice(h, c)
        o[b, s, i, hs] = attend(q[b, s, i, hs], k[b, s, :, hs], v[b, s, :, hs], bias[b, i, :, h], msa_mask[b, s])
    return gate_and_project(att, m, o)


def ref_msa_column_attention(mod, m, msa_mask):
    """Alg. 8: for each residue i, a_sti^h = softmax_t(q_si.k_ti / sqrt(c)), no pair bias."""
    att = mod.attention
    H, c = att.n_heads, att.head_dim
    m = ref_layer_norm(m, mod.layer_norm_m)
    q, k, v = (ref_linear(m, lin) for lin in (att.linear_q, att.linear_k, att.linear_v))
    o = torch.zeros_like(q)
    n_seq = m.shape[1]
    for b, s, i, h in itertools.product(range(m.shape[0]), range(n_seq), range(m.shape[2]), range(H)):
        hs = head_slice(h, c)
        o[b, s, i, hs] = attend(q[b, s, i, hs], k[b, :, i, hs], v[b, :, i, hs], torch.zeros(n_seq),
                                msa_mask[b, :, i])
    return gate_and_project(att, m, o)


def ref_transition(mod, x):
    """Alg. 9 / 15: Linear(ReLU(Linear(LN(x))))."""
    return ref_linear(torch.relu(ref_linear(ref_layer_norm(x, mod.layer_norm), mod.linear_1)), mod.linear_2)


def ref_outer_product_mean(mod, m, msa_mask):
    """Alg. 10 with masks: o_ij = sum_s w_sij a_si (x) b_sj / (1e-3 + sum_s w_sij), w = mask_si mask_sj."""
    m = ref_layer_norm(m, mod.layer_norm)
    a = ref_linear(m, mod.linear_a)  # [B, S, N, c]
    b = ref_linear(m, mod.linear_b)
    n_batch, n_seq, n_res, c = a.shape
    num = torch.zeros(n_batch, n_res, n_res, c, c, dtype=m.dtype)
    count = torch.zeros(n_batch, n_res, n_res, dtype=m.dtype)
    for s in range(n_seq):
        w = msa_mask[:, s, :, None] * msa_mask[:, s, None, :]  # [B, i, j]
        num += w[..., None, None] * a[:, s, :, None, :, None] * b[:, s, None, :, None, :]
        count += w
    o = num / (OPM_EPS + count)[..., None, None]
    return ref_linear(o.reshape(n_batch, n_res, n_res, c * c), mod.linear_out)


def ref_triangle_multiplication(mod, z, pair_mask, outgoing: bool):
    """Alg. 11 (outgoing): x_ij = sum_k a_ik b_jk;  Alg. 12 (incoming): x_ij = sum_k a_ki b_kj.
    a, b = sigmoid(Linear(z)) * Linear(z) * pair_mask; out = g_ij * Linear(LN(x_ij))."""
    z = ref_layer_norm(z, mod.layer_norm_in)
    mask = pair_mask[..., None]
    a = torch.sigmoid(ref_linear(z, mod.linear_a_g)) * ref_linear(z, mod.linear_a_p) * mask
    b = torch.sigmoid(ref_linear(z, mod.linear_b_g)) * ref_linear(z, mod.linear_b_p) * mask
    n_res = z.shape[1]
    x = torch.zeros(z.shape[0], n_res, n_res, a.shape[-1], dtype=z.dtype)
    for i, j, k in itertools.product(range(n_res), repeat=3):
        if outgoing:
            x[:, i, j] += a[:, i, k] * b[:, j, k]
        else:
            x[:, i, j] += a[:, k, i] * b[:, k, j]
    g = torch.sigmoid(ref_linear(z, mod.linear_g))
    return g * ref_linear(ref_layer_norm(x, mod.layer_norm_out), mod.linear_z)


def ref_triangle_attention(mod, z, pair_mask, starting: bool):
    """Alg. 13 (starting): a_ijk = softmax_k(q_ij.k_ik / sqrt(c) + b_jk), o_ij = sum_k a_ijk v_ik.
    Alg. 14 (ending):   a_ijk = softmax_k(q_ij.k_kj / sqrt(c) + b_ki), o_ij = sum_k a_ijk v_kj."""
    att = mod.attention
    H, c = att.n_heads, att.head_dim
    z = ref_layer_norm(z, mod.layer_norm)
    bias = ref_linear(z, mod.linear_b)  # [B, N, N, H]
    q, k, v = (ref_linear(z, lin) for lin in (att.linear_q, att.linear_k, att.linear_v))
    o = torch.zeros_like(q)
    n_res = z.shape[1]
    for b, i, j, h in itertools.product(range(z.shape[0]), range(n_res), range(n_res), range(H)):
        hs = head_slice(h, c)
        if starting:  # keys/values on edges ik, bias from the third edge jk, key ik real?
            o[b, i, j, hs] = attend(q[b, i, j, hs], k[b, i, :, hs], v[b, i, :, hs], bias[b, j, :, h],
                                    pair_mask[b, i, :])
        else:  # keys/values on edges kj, bias from the third edge ki, key kj real?
            o[b, i, j, hs] = attend(q[b, i, j, hs], k[b, :, j, hs], v[b, :, j, hs], bias[b, :, i, h],
                                    pair_mask[b, :, j])
    return gate_and_project(att, z, o)


def ref_relpos_bin(r_i: int, r_j: int, v: int = 32) -> int:
    return min(max(r_i - r_j, -v), v) + v


def ref_input_embedder(mod, msa_tokens, residue_index):
    """Alg. 3 + 4: m_si = E_msa[msa_si] + E_t[t_i]; z_ij = E_l[t_i] + E_r[t_j] + W onehot(d_ij) + b."""
    n_batch, n_seq, n_res = msa_tokens.shape
    m = torch.zeros(n_batch, n_seq, n_res, mod.msa_embedding.weight.shape[1], dtype=torch.float64)
    z = torch.zeros(n_batch, n_res, n_res, mod.target_left.weight.shape[1], dtype=torch.float64)
    for b in range(n_batch):
        t = msa_tokens[b, 0]
        for s, i in itertools.product(range(n_seq), range(n_res)):
            m[b, s, i] = mod.msa_embedding.weight[msa_tokens[b, s, i]] + mod.target_to_msa.weight[t[i]]
        for i, j in itertools.product(range(n_res), repeat=2):
            d = ref_relpos_bin(int(residue_index[b, i]), int(residue_index[b, j]))
            z[b, i, j] = (mod.target_left.weight[t[i]] + mod.target_right.weight[t[j]]
                          + mod.relpos.weight[:, d] + mod.relpos.bias)
    return m, z


def ref_distance_head(mod, z):
    """d_ij = softplus((l_ij + l_ji) / 2), l = Linear(z) (one regressed distance per pair)."""
    n_res = z.shape[1]
    out = torch.zeros(z.shape[0], n_res, n_res, 1, dtype=z.dtype)
    for i, j in itertools.product(range(n_res), repeat=2):
        logit = 0.5 * (ref_linear(z[:, i, j], mod.linear) + ref_linear(z[:, j, i], mod.linear))
        out[:, i, j] = torch.log1p(torch.exp(logit))
    return out


def ref_evoformer_block(blk, m, z, msa_mask, pair_mask):
    """Alg. 6 lines 2-10, each line a residual add of the reference module."""
    m = m + ref_msa_row_attention(blk.msa_row_attention, m, z, msa_mask)
    m = m + ref_msa_column_attention(blk.msa_column_attention, m, msa_mask)
    m = m + ref_transition(blk.msa_transition, m)
    z = z + ref_outer_product_mean(blk.outer_product_mean, m, msa_mask)
    z = z + ref_triangle_multiplication(blk.triangle_mult_outgoing, z, pair_mask, outgoing=True)
    z = z + ref_triangle_multiplication(blk.triangle_mult_incoming, z, pair_mask, outgoing=False)
    z = z + ref_triangle_attention(blk.triangle_attention_starting, z, pair_mask, starting=True)
    z = z + ref_triangle_attention(blk.triangle_attention_ending, z, pair_mask, starting=False)
    z = z + ref_transition(blk.pair_transition, z)
    return m, z


# =============================================================================
# Shapes
# =============================================================================


def _shape_cases():
    cfg = CFG
    cm, cz = cfg.msa_dim, cfg.pair_dim
    m = torch.randn(B, S, N, cm)
    z = torch.randn(B, N, N, cz)
    msa_mask = torch.ones(B, S, N)
    pair_mask = torch.ones(B, N, N)
    return {
        "MSARowAttentionWithPairBias": (tof.MSARowAttentionWithPairBias, (m, z, msa_mask), (B, S, N, cm)),
        "MSAColumnAttention": (tof.MSAColumnAttention, (m, msa_mask), (B, S, N, cm)),
        "MSATransition": (tof.MSATransition, (m,), (B, S, N, cm)),
        "OuterProductMean": (tof.OuterProductMean, (m, msa_mask), (B, N, N, cz)),
        "TriangleMultiplicationOutgoing": (tof.TriangleMultiplicationOutgoing, (z, pair_mask), (B, N, N, cz)),
        "TriangleMultiplicationIncoming": (tof.TriangleMultiplicationIncoming, (z, pair_mask), (B, N, N, cz)),
        "TriangleAttentionStartingNode": (tof.TriangleAttentionStartingNode, (z, pair_mask), (B, N, N, cz)),
        "TriangleAttentionEndingNode": (tof.TriangleAttentionEndingNode, (z, pair_mask), (B, N, N, cz)),
        "PairTransition": (tof.PairTransition, (z,), (B, N, N, cz)),
        "DistanceHead": (tof.DistanceHead, (z,), (B, N, N, 1)),
    }


@pytest.mark.parametrize("name", list(_shape_cases()))
def test_module_output_shape(name):
    cls, inputs, shape = _shape_cases()[name]
    torch.manual_seed(0)
    out = randomise(cls(CFG))(*inputs)
    assert out.shape == shape
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_evoformer_block_input_embedder_and_model_shapes():
    cm, cz = CFG.msa_dim, CFG.pair_dim
    m, z = torch.randn(B, S, N, cm), torch.randn(B, N, N, cz)
    m2, z2 = tof.EvoformerBlock(CFG)(m, z, torch.ones(B, S, N), torch.ones(B, N, N))
    assert m2.shape == (B, S, N, cm) and z2.shape == (B, N, N, cz)

    tokens = random_tokens(B, S, N)
    feats = tof.relative_position_features(torch.arange(N).expand(B, N), CFG.pair_input_dim)
    m3, z3 = tof.InputEmbedder(CFG)(tokens, feats)
    assert m3.shape == (B, S, N, cm) and z3.shape == (B, N, N, cz)

    out = tof.TinyOpenFold(CFG)(tokens, feats)
    assert set(out) == {"distances", "msa", "pair"}
    assert out["distances"].shape == (B, N, N, 1)
    assert out["msa"].shape == (B, S, N, cm)
    assert out["pair"].shape == (B, N, N, cz)
    # A different N_seq / N_res than the config's also works (the config only sizes data).
    tokens = random_tokens(1, 3, 9)
    out = tof.TinyOpenFold(CFG)(tokens, tof.relative_position_features(torch.arange(9)[None]))
    assert out["distances"].shape == (1, 9, 9, 1) and out["msa"].shape == (1, 3, 9, cm)


# =============================================================================
# Modules against the naive references (float64)
# =============================================================================


@torch.no_grad()
def test_msa_row_attention_with_pair_bias_matches_reference():
    mod = build(tof.MSARowAttentionWithPairBias)
    m, z, mask = randn(B, S, N, CFG.msa_dim, seed=1), randn(B, N, N, CFG.pair_dim, seed=2), random_msa_mask(3)
    close(mod(m, z, mask), ref_msa_row_attention(mod, m, z, mask), EXACT)


@torch.no_grad()
def test_msa_row_attention_pair_bias_is_shared_by_rows():
    """Identical MSA rows get identical outputs: the bias b_ij does not depend on s."""
    mod = build(tof.MSARowAttentionWithPairBias)
    row = randn(B, 1, N, CFG.msa_dim, seed=1)
    out = mod(row.expand(B, S, N, CFG.msa_dim), randn(B, N, N, CFG.pair_dim, seed=2), torch.ones(B, S, N))
    for s in range(1, S):
        close(out[:, s], out[:, 0], EXACT)
    # ...and the bias does reach the output: another z changes it.
    out2 = mod(row.expand(B, S, N, CFG.msa_dim), randn(B, N, N, CFG.pair_dim, seed=3), torch.ones(B, S, N))
    assert (out2 - out).abs().max() > 1e-3


@torch.no_grad()
def test_msa_column_attention_matches_reference():
    mod = build(tof.MSAColumnAttention)
    m, mask = randn(B, S, N, CFG.msa_dim, seed=4), random_msa_mask(5)
    close(mod(m, mask), ref_msa_column_attention(mod, m, mask), EXACT)


@torch.no_grad()
def test_msa_transition_matches_reference():
    mod = build(tof.MSATransition)
    assert mod.linear_1.out_features == CFG.msa_intermediate_dim
    m = randn(B, S, N, CFG.msa_dim, seed=6)
    close(mod(m), ref_transition(mod, m), EXACT)


@torch.no_grad()
def test_pair_transition_matches_reference():
    mod = build(tof.PairTransition)
    assert mod.linear_1.out_features == CFG.pair_intermediate_dim
    z = randn(B, N, N, CFG.pair_dim, seed=7)
    close(mod(z), ref_transition(mod, z), EXACT)


@torch.no_grad()
def test_outer_product_mean_matches_reference():
    mod = build(tof.OuterProductMean)
    m, mask = randn(B, S, N, CFG.msa_dim, seed=8), random_msa_mask(9)
    mask[0, :, 3] = 0  # a column with no real row: only the 1e-3 keeps the mean finite
    out = mod(m, mask)
    close(out, ref_outer_product_mean(mod, m, mask), EXACT)
    # o_ij != o_ji^T in general (a and b are different projections), so z_ij != z_ji.
    assert (out - out.transpose(1, 2)).abs().max() > 1e-3


@torch.no_grad()
def test_outer_product_mean_uses_eps_on_the_count():
    """With one real row the mean is a (x) b / (1 + 1e-3), not a (x) b: the eps sits on the count."""
    mod = build(tof.OuterProductMean)
    with torch.no_grad():
        mod.linear_out.bias.zero_()
    m = randn(1, 1, 3, CFG.msa_dim, seed=10)
    full = mod(m, torch.ones(1, 1, 3))
    a = ref_linear(ref_layer_norm(m, mod.layer_norm), mod.linear_a)[0, 0]
    b = ref_linear(ref_layer_norm(m, mod.layer_norm), mod.linear_b)[0, 0]
    o = (a[:, None, :, None] * b[None, :, None, :]).reshape(3, 3, -1) / (1.0 + OPM_EPS)
    close(full[0], ref_linear(o, mod.linear_out), EXACT)


@pytest.mark.parametrize("cls,outgoing", [(tof.TriangleMultiplicationOutgoing, True),
                                          (tof.TriangleMultiplicationIncoming, False)])
@torch.no_grad()
def test_triangle_multiplication_matches_reference(cls, outgoing):
    mod = build(cls)
    z, mask = randn(B, N, N, CFG.pair_dim, seed=11), random_pair_mask(12)
    close(mod(z, mask), ref_triangle_multiplication(mod, z, mask, outgoing), EXACT)
    # The other direction is a different function (guards against the reference being vacuous).
    other = ref_triangle_multiplication(mod, z, mask, not outgoing)
    assert (mod(z, mask) - other).abs().max() > 1e-3


@pytest.mark.parametrize("cls,starting", [(tof.TriangleAttentionStartingNode, True),
                                          (tof.TriangleAttentionEndingNode, False)])
@torch.no_grad()
def test_triangle_attention_matches_reference(cls, starting):
    mod = build(cls)
    z, mask = randn(B, N, N, CFG.pair_dim, seed=13), random_pair_mask(14)
    out = mod(z, mask)
    close(out, ref_triangle_attention(mod, z, mask, starting), EXACT)
    assert (out - ref_triangle_attention(mod, z, mask, not starting)).abs().max() > 1e-3


@torch.no_grad()
def test_triangle_attention_bias_comes_from_the_third_edge():
    """Zeroing the triangle bias projection changes the output: it is not plain axial attention."""
    mod = build(tof.TriangleAttentionStartingNode)
    z, mask = randn(B, N, N, CFG.pair_dim, seed=15), torch.ones(B, N, N)
    out = mod(z, mask)
    mod.linear_b.weight.zero_()
    assert (mod(z, mask) - out).abs().max() > 1e-3


@torch.no_grad()
def test_input_embedder_matches_reference():
    mod = build(tof.InputEmbedder)
    tokens = random_tokens(B, S, N, seed=16)
    # Gaps larger than 32 exercise the clipping of Alg. 4.
    residue_index = torch.tensor([[0, 1, 2, 40, 41, 90, 91], [5, 6, 7, 8, 9, 10, 11]])
    m, z = mod(tokens, tof.relative_position_features(residue_index, CFG.pair_input_dim).double())
    m_ref, z_ref = ref_input_embedder(mod, tokens, residue_index)
    close(m, m_ref, EXACT)
    close(z, z_ref, EXACT)


@torch.no_grad()
def test_distance_head_matches_reference():
    mod = build(tof.DistanceHead)
    z = randn(B, N, N, CFG.pair_dim, seed=17)
    close(mod(z).double(), ref_distance_head(mod, z), EXACT)


def test_distance_head_starts_near_12_angstrom():
    mod = tof.DistanceHead(CFG)
    with torch.no_grad():
        mod.linear.weight.zero_()
    close(mod(torch.randn(1, 3, 3, CFG.pair_dim)), torch.full((1, 3, 3, 1), 12.0), 1e-5)


@torch.no_grad()
def test_evoformer_block_matches_algorithm_6():
    blk = build(tof.EvoformerBlock, seed=18)
    m, z = randn(B, S, N, CFG.msa_dim, seed=19), randn(B, N, N, CFG.pair_dim, seed=20)
    msa_mask = random_msa_mask(21)
    residue_mask = torch.ones(B, N)
    residue_mask[1, -2:] = 0
    msa_mask = msa_mask * residue_mask[:, None, :]
    pair_mask = residue_mask[:, :, None] * residue_mask[:, None, :]
    m_out, z_out = blk(m, z, msa_mask, pair_mask)
    m_ref, z_ref = ref_evoformer_block(blk, m, z, msa_mask, pair_mask)
    r = residue_mask.bool()
    for b in range(B):  # padding entries are free; compare the real ones
        close(m_out[b][:, r[b]], m_ref[b][:, r[b]], EXACT)
        close(z_out[b][r[b]][:, r[b]], z_ref[b][r[b]][:, r[b]], EXACT)


@torch.no_grad()
def test_full_model_matches_reference():
    model = build(tof.TinyOpenFold, seed=22)
    tokens = random_tokens(B, S, N, seed=23)
    residue_index = torch.arange(N).expand(B, N)
    msa_mask = random_msa_mask(24)
    residue_mask = torch.ones(B, N)
    residue_mask[1, -3:] = 0
    out = model(tokens, tof.relative_position_features(residue_index).double(), msa_mask, residue_mask)

    # The model's mask semantics: padding residues are never real MSA entries.
    msa_mask_eff = msa_mask * residue_mask[:, None, :]
    pair_mask = residue_mask[:, :, None] * residue_mask[:, None, :]
    m, z = ref_input_embedder(model.input_embedder, tokens, residue_index)
    for blk in model.evoformer:
        m, z = ref_evoformer_block(blk, m, z, msa_mask_eff, pair_mask)
    real = residue_mask.bool()
    for b in range(B):  # compare the real part only (the reference needs real keys)
        r = real[b]
        close(out["msa"][b][:, r], m[b][:, r], EXACT)
        close(out["pair"][b][r][:, r], z[b][r][:, r], EXACT)
        close(out["distances"][b][r][:, r].double(), ref_distance_head(model.distance_head, z)[b][r][:, r],
              EXACT)


@torch.no_grad()
def test_float64_inputs_are_not_downcast():
    att = build(tof.MSAColumnAttention)
    m, mask = randn(B, S, N, CFG.msa_dim, seed=4), random_msa_mask(5)
    close(att(m, mask), ref_msa_column_attention(att, m, mask), EXACT)
    opm = build(tof.OuterProductMean)
    close(opm(m, mask), ref_outer_product_mean(opm, m, mask), EXACT)
    head = build(tof.DistanceHead)
    assert head(randn(1, 3, 3, CFG.pair_dim)).dtype == torch.float64


# =============================================================================
# Invariances
# =============================================================================


@torch.no_grad()
def test_ending_node_is_starting_node_on_transposed_pair():
    start = build(tof.TriangleAttentionStartingNode, seed=30)
    end = tof.TriangleAttentionEndingNode(CFG).double()
    end.load_state_dict(start.state_dict())
    z, mask = randn(B, N, N, CFG.pair_dim, seed=31), random_pair_mask(32)
    expected = start(z.transpose(1, 2), mask.transpose(1, 2)).transpose(1, 2)
    close(end(z, mask), expected, EXACT)
    assert (end(z, mask) - start(z, mask)).abs().max() > 1e-3


@torch.no_grad()
def test_incoming_is_outgoing_on_transposed_pair_with_a_b_swapped():
    """Incoming x_ij = sum_k a_ki b_kj. Outgoing on z^T gives sum_k a_ki b_kj at ij too, but its
    gate reads z_ji; transposing back gives the right gate with sum_k b_ki a_kj, so a and b swap."""
    inc = build(tof.TriangleMultiplicationIncoming, seed=33)
    out_mod = tof.TriangleMultiplicationOutgoing(CFG).double()
    state = inc.state_dict()
    swapped = {}
    for key, value in state.items():
        if key.startswith("linear_a_"):
            key = "linear_b_" + key[len("linear_a_"):]
        elif key.startswith("linear_b_"):
            key = "linear_a_" + key[len("linear_b_"):]
        swapped[key] = value
    out_mod.load_state_dict(swapped)
    z, mask = randn(B, N, N, CFG.pair_dim, seed=34), random_pair_mask(35)
    expected = out_mod(z.transpose(1, 2), mask.transpose(1, 2)).transpose(1, 2)
    close(inc(z, mask), expected, EXACT)


def _model_inputs(seed, n_batch=B, n_seq=S, n_res=N):
    tokens = random_tokens(n_batch, n_seq, n_res, seed=seed)
    feats = tof.relative_position_features(torch.arange(n_res).expand(n_batch, n_res)).double()
    return tokens, feats


@torch.no_grad()
def test_msa_row_permutation_equivariance():
    model = build(tof.TinyOpenFold, seed=40)
    tokens, feats = _model_inputs(41)
    msa_mask = random_msa_mask(42)
    residue_mask = torch.ones(B, N)
    residue_mask[0, -1] = 0
    out = model(tokens, feats, msa_mask, residue_mask)
    perm = torch.tensor([0, 3, 1, 4, 2])  # row 0 (the target) stays first
    out_p = model(tokens[:, perm], feats, msa_mask[:, perm], residue_mask)
    close(out_p["msa"], out["msa"][:, perm], EXACT)
    close(out_p["pair"], out["pair"], EXACT)
    close(out_p["distances"], out["distances"], EXACT)
    # Row 0 is special (the target enters the embedder): moving it changes the pair.
    swap = torch.tensor([1, 0, 2, 3, 4])
    assert (model(tokens[:, swap], feats, msa_mask[:, swap], residue_mask)["pair"] - out["pair"]).abs().max() > 1e-3


@torch.no_grad()
def test_distances_symmetric_and_non_negative():
    model = build(tof.TinyOpenFold, seed=43)
    tokens, feats = _model_inputs(44)
    out = model(tokens, feats)
    d = out["distances"]
    assert torch.equal(d, d.transpose(1, 2))
    assert (d >= 0).all()
    # The pair representation itself is not symmetric, so the symmetry comes from the head.
    assert (out["pair"] - out["pair"].transpose(1, 2)).abs().max() > 1e-3


# =============================================================================
# Masks
# =============================================================================


MASK_ATOL = 1e-9


@torch.no_grad()
def test_padding_residues_changes_nothing_real():
    model = build(tof.TinyOpenFold, seed=50)
    n_pad = 4
    tokens, feats = _model_inputs(51)
    msa_mask = random_msa_mask(52)
    out = model(tokens, feats, msa_mask, torch.ones(B, N))

    tokens_p = torch.cat([tokens, random_tokens(B, S, n_pad, seed=53)], dim=2)
    feats_p = tof.relative_position_features(torch.arange(N + n_pad).expand(B, N + n_pad)).double()
    msa_mask_p = torch.cat([msa_mask, torch.ones(B, S, n_pad)], dim=2)  # ignored: residue_mask wins
    residue_mask_p = torch.cat([torch.ones(B, N), torch.zeros(B, n_pad)], dim=1)
    out_p = model(tokens_p, feats_p, msa_mask_p, residue_mask_p)

    close(out_p["distances"][:, :N, :N], out["distances"], MASK_ATOL)
    close(out_p["pair"][:, :N, :N], out["pair"], MASK_ATOL)
    close(out_p["msa"][:, :, :N], out["msa"], MASK_ATOL)
    for value in out_p.values():
        assert torch.isfinite(value).all()


@torch.no_grad()
def test_padding_msa_rows_changes_nothing_real():
    model = build(tof.TinyOpenFold, seed=54)
    n_pad = 3
    tokens, feats = _model_inputs(55)
    msa_mask = random_msa_mask(56)
    out = model(tokens, feats, msa_mask, torch.ones(B, N))

    tokens_p = torch.cat([tokens, random_tokens(B, n_pad, N, seed=57)], dim=1)
    msa_mask_p = torch.cat([msa_mask, torch.zeros(B, n_pad, N)], dim=1)
    out_p = model(tokens_p, feats, msa_mask_p, torch.ones(B, N))

    close(out_p["distances"], out["distances"], MASK_ATOL)
    close(out_p["pair"], out["pair"], MASK_ATOL)
    close(out_p["msa"][:, :S], out["msa"], MASK_ATOL)
    assert torch.isfinite(out_p["msa"]).all()


def test_fully_masked_rows_give_no_nan():
    """An entire MSA row masked, and a sample with a single real residue: finite outputs,
    finite loss and finite gradients."""
    model = build(tof.TinyOpenFold, seed=58)
    tokens, feats = _model_inputs(59)
    msa_mask = torch.ones(B, S, N, dtype=torch.float64)
    msa_mask[0, 2] = 0  # a whole MSA row of sample 0
    residue_mask = torch.ones(B, N, dtype=torch.float64)
    residue_mask[1, 1:] = 0  # sample 1 has one real residue
    out = model(tokens, feats, msa_mask, residue_mask)
    for value in out.values():
        assert torch.isfinite(value).all()
    loss = tof.distance_loss(out["distances"], torch.rand(B, N, N) * 20, residue_mask)
    assert torch.isfinite(loss)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name


def test_single_real_residue_batch_gives_zero_loss_not_nan():
    pred = torch.rand(1, 4, 4, 1)
    mask = torch.tensor([[1.0, 0, 0, 0]])
    loss = tof.distance_loss(pred, torch.rand(1, 4, 4), mask)
    assert torch.isfinite(loss) and loss == 0


def test_distance_loss_ignores_padded_pairs_and_diagonal():
    g = torch.Generator().manual_seed(60)
    pred = torch.rand(B, N, N, 1, generator=g) * 30
    true = torch.rand(B, N, N, generator=g) * 30  # some above the 22 A clip
    residue_mask = torch.ones(B, N)
    residue_mask[0, -2:] = 0
    residue_mask[1, -4:] = 0
    loss = tof.distance_loss(pred, true, residue_mask)

    total, count = 0.0, 0
    for b in range(B):
        n = int(residue_mask[b].sum())
        for i, j in itertools.product(range(n), repeat=2):
            if i != j:
                total += (float(pred[b, i, j, 0]) - min(float(true[b, i, j]), 22.0)) ** 2
                count += 1
    assert loss.item() == pytest.approx(total / count, rel=1e-5)

    # Garbage at padded pairs and on the diagonal changes nothing.
    pred2, true2 = pred.clone(), true.clone()
    pad = residue_mask[:, :, None] * residue_mask[:, None, :] == 0
    pred2[pad] = 1e4
    true2[pad] = -7.0
    idx = torch.arange(N)
    pred2[:, idx, idx] = 99.0
    assert tof.distance_loss(pred2, true2, residue_mask).item() == pytest.approx(loss.item(), rel=1e-6)


# =============================================================================
# Gradient flow and initialisation
# =============================================================================


def test_every_parameter_gets_a_finite_nonzero_gradient():
    model = build(tof.TinyOpenFold, seed=61)
    tokens, feats = _model_inputs(62)
    msa_mask = random_msa_mask(63)
    residue_mask = torch.ones(B, N)
    residue_mask[1, -2:] = 0
    out = model(tokens, feats, msa_mask, residue_mask)
    loss = tof.distance_loss(out["distances"], torch.rand(B, N, N, generator=torch.Generator().manual_seed(64)) * 20,
                             residue_mask)
    loss.backward()
    names = [name for name, _ in model.named_parameters()]
    assert len(names) > 100
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient"
        assert p.grad.abs().max() > 0, f"{name}: zero gradient"


def _modules_of(model, cls):
    return [m for m in model.modules() if isinstance(m, cls)]


def test_fresh_evoformer_block_is_identity():
    torch.manual_seed(0)
    model = tof.TinyOpenFold(CFG)
    m, z = torch.randn(B, S, N, CFG.msa_dim), torch.randn(B, N, N, CFG.pair_dim)
    msa_mask = random_msa_mask(65).float()
    pair_mask = torch.ones(B, N, N)
    for blk in model.evoformer:
        m2, z2 = blk(m, z, msa_mask, pair_mask)
        assert torch.equal(m2, m) and torch.equal(z2, z)
    # And each residual branch alone outputs exactly zero.
    blk = model.evoformer[0]
    assert not blk.msa_row_attention(m, z, msa_mask).any()
    assert not blk.outer_product_mean(m, msa_mask).any()
    assert not blk.triangle_mult_outgoing(z, pair_mask).any()
    assert not blk.triangle_attention_ending(z, pair_mask).any()
    assert not blk.pair_transition(z).any()


def test_af2_initialisation():
    torch.manual_seed(0)
    model = tof.TinyOpenFold(tof.TinyOpenFoldConfig())  # the default ("small") config
    gates, finals = [], []
    for att in _modules_of(model, tof.GatedAttention):
        gates.append(att.linear_g)
        finals.append(att.linear_o)
        for lin in (att.linear_q, att.linear_k, att.linear_v):
            assert lin.bias is None
    for tm in _modules_of(model, tof.TriangleMultiplicationOutgoing):  # incoming included
        gates += [tm.linear_a_g, tm.linear_b_g, tm.linear_g]
        finals.append(tm.linear_z)
    for tr in _modules_of(model, tof.Transition):
        finals.append(tr.linear_2)
    for opm in _modules_of(model, tof.OuterProductMean):
        finals.append(opm.linear_out)
    n_blocks = model.config.n_evoformer_blocks
    assert len(gates) == n_blocks * (4 + 2 * 3)  # 4 attentions, 2 triangle multiplications
    assert len(finals) == n_blocks * (4 + 2 + 2 + 1)
    for lin in gates:
        assert not lin.weight.any() and torch.equal(lin.bias, torch.ones_like(lin.bias))
    for lin in finals:
        assert not lin.weight.any() and not lin.bias.any()
    for ln in _modules_of(model, nn.LayerNorm):
        assert torch.equal(ln.weight, torch.ones_like(ln.weight)) and not ln.bias.any()
        assert ln.eps == model.config.eps
    # LeCun normal for ordinary layers: std 1 / sqrt(fan_in), bias 0.
    lin = model.evoformer[0].pair_transition.linear_1  # 128 -> 512: 65,536 samples
    assert lin.weight.std().item() == pytest.approx(1 / math.sqrt(128), rel=0.03)
    assert not lin.bias.any()


# =============================================================================
# Parameter count, from the supplement's structure
# =============================================================================


def n_layer_norm(c):
    return 2 * c


def n_linear(c_in, c_out, bias=True):
    return c_in * c_out + (c_out if bias else 0)


def n_gated_attention(c):
    """q, k, v LinearNoBias (H heads x c/H = c), gate Linear with bias, output Linear with bias."""
    return 3 * n_linear(c, c, bias=False) + n_linear(c, c) + n_linear(c, c)


def n_msa_row_attention(cfg):
    return (n_layer_norm(cfg.msa_dim) + n_layer_norm(cfg.pair_dim)
            + n_linear(cfg.pair_dim, cfg.n_heads_msa, bias=False) + n_gated_attention(cfg.msa_dim))


def n_msa_column_attention(cfg):
    return n_layer_norm(cfg.msa_dim) + n_gated_attention(cfg.msa_dim)


def n_transition(c, c_hidden):
    return n_layer_norm(c) + n_linear(c, c_hidden) + n_linear(c_hidden, c)


def n_outer_product_mean(cfg):
    c = cfg.outer_product_dim
    return n_layer_norm(cfg.msa_dim) + 2 * n_linear(cfg.msa_dim, c) + n_linear(c * c, cfg.pair_dim)


def n_triangle_multiplication(cfg):
    c, cz = cfg.triangle_mult_dim, cfg.pair_dim
    return (n_layer_norm(cz) + 4 * n_linear(cz, c) + n_linear(cz, cz)
            + n_layer_norm(c) + n_linear(c, cz))


def n_triangle_attention(cfg):
    return (n_layer_norm(cfg.pair_dim) + n_linear(cfg.pair_dim, cfg.n_heads_pair, bias=False)
            + n_gated_attention(cfg.pair_dim))


def n_evoformer_block(cfg):
    return (n_msa_row_attention(cfg) + n_msa_column_attention(cfg)
            + n_transition(cfg.msa_dim, cfg.msa_intermediate_dim) + n_outer_product_mean(cfg)
            + 2 * n_triangle_multiplication(cfg) + 2 * n_triangle_attention(cfg)
            + n_transition(cfg.pair_dim, cfg.pair_intermediate_dim))


def n_input_embedder(cfg):
    v = cfg.vocab_size
    return 2 * v * cfg.msa_dim + 2 * v * cfg.pair_dim + n_linear(cfg.pair_input_dim, cfg.pair_dim)


def n_model(cfg):
    return n_input_embedder(cfg) + cfg.n_evoformer_blocks * n_evoformer_block(cfg) + n_linear(cfg.pair_dim, 1)


@pytest.mark.parametrize("cls,formula", [
    (tof.MSARowAttentionWithPairBias, n_msa_row_attention),
    (tof.MSAColumnAttention, n_msa_column_attention),
    (tof.MSATransition, lambda c: n_transition(c.msa_dim, c.msa_intermediate_dim)),
    (tof.OuterProductMean, n_outer_product_mean),
    (tof.TriangleMultiplicationOutgoing, n_triangle_multiplication),
    (tof.TriangleMultiplicationIncoming, n_triangle_multiplication),
    (tof.TriangleAttentionStartingNode, n_triangle_attention),
    (tof.TriangleAttentionEndingNode, n_triangle_attention),
    (tof.PairTransition, lambda c: n_transition(c.pair_dim, c.pair_intermediate_dim)),
    (tof.EvoformerBlock, n_evoformer_block),
    (tof.InputEmbedder, n_input_embedder),
    (tof.DistanceHead, lambda c: n_linear(c.pair_dim, 1)),
])
def test_module_parameter_count(cls, formula):
    assert tof.count_parameters(cls(CFG)) == formula(CFG)


@pytest.mark.parametrize("preset", ["tiny", "small", "medium", "odd"])
def test_model_parameter_count(preset):
    cfg = CFG if preset == "odd" else tof.config_from_preset(preset)
    assert tof.count_parameters(tof.TinyOpenFold(cfg)) == n_model(cfg)


def test_parameter_count_known_values():
    # Hand-checkable values of the formula (so the formula itself cannot drift unnoticed).
    assert n_model(tof.config_from_preset("tiny")) == 433_729
    assert n_model(tof.TinyOpenFoldConfig()) == 2_848_513
    # The seed README printed 2,641,728 for the default config; that is not this model.
    assert tof.count_parameters(tof.TinyOpenFold(tof.TinyOpenFoldConfig())) != 2_641_728


# =============================================================================
# Relative position features (Alg. 4)
# =============================================================================


def test_relative_position_features_clip_and_one_hot():
    r = torch.tensor([[0, 1, 5, 37, 38, 100]])
    f = tof.relative_position_features(r)
    assert f.shape == (1, 6, 6, 65)
    assert f.dtype == torch.float32
    assert torch.equal(f.sum(-1), torch.ones(1, 6, 6))
    assert set(f.unique().tolist()) == {0.0, 1.0}
    bins = f.argmax(-1)[0]
    for i, j in itertools.product(range(6), repeat=2):
        assert bins[i, j] == ref_relpos_bin(int(r[0, i]), int(r[0, j])), (i, j)
    assert bins[0, 0] == 32  # offset 0 is the middle bin
    assert bins[0, 1] == 31  # r_i - r_j = -1
    assert bins[1, 0] == 33
    assert bins[0, 3] == 0  # -37 clips to -32
    assert bins[5, 0] == 64  # +100 clips to +32
    assert bins[3, 5] == 0 and bins[4, 1] == 64  # -62 and +37
    assert bins[2, 3] == 0 and bins[3, 2] == 64  # exactly -32 / +32 are the edge bins


def test_relative_position_features_batch_and_bins():
    r = torch.stack([torch.arange(9), torch.arange(9) * 3])
    f = tof.relative_position_features(r, n_bins=9)  # clip at +-4
    assert f.shape == (2, 9, 9, 9)
    assert f[1].argmax(-1)[0, 1] == 1  # 0 - 3 = -3 -> bin 1
    assert f[1].argmax(-1)[0, 2] == 0  # -6 clips to -4
    assert f[0].argmax(-1)[8, 0] == 8


# =============================================================================
# Config validation and presets
# =============================================================================


def test_msa_dim_not_divisible_by_heads_raises():
    with pytest.raises(tof.UsageError, match="msa_dim"):
        tof.TinyOpenFoldConfig(msa_dim=30, n_heads_msa=4)
    with pytest.raises(tof.UsageError, match="pair_dim"):
        tof.TinyOpenFoldConfig(pair_dim=30, n_heads_pair=4)


@pytest.mark.parametrize("name", ["msa_dim", "pair_dim", "n_evoformer_blocks", "n_heads_msa", "n_heads_pair",
                                  "msa_intermediate_dim", "pair_intermediate_dim", "outer_product_dim",
                                  "triangle_mult_dim", "max_seq_len", "n_seqs", "vocab_size"])
@pytest.mark.parametrize("value", [0, -4])
def test_non_positive_sizes_raise(name, value):
    with pytest.raises(tof.UsageError, match=name):
        tof.TinyOpenFoldConfig(**{name: value})


@pytest.mark.parametrize("fields", [dict(pair_input_dim=64), dict(dropout=1.0), dict(dropout=-0.1),
                                    dict(vocab_size=20), dict(eps=0.0), dict(opm_eps=-1e-3),
                                    dict(msa_dim=2.5)])
def test_other_bad_configs_raise(fields):
    with pytest.raises(tof.UsageError):
        tof.TinyOpenFoldConfig(**fields)


def test_unknown_preset_raises():
    with pytest.raises(tof.UsageError, match="huge"):
        tof.config_from_preset("huge")


@pytest.mark.parametrize("name", ["tiny", "small", "medium"])
def test_presets_build(name):
    cfg = tof.config_from_preset(name)
    preset = tof.PRESETS[name]
    for key, value in preset.items():
        if key != "batch_size":
            assert getattr(cfg, key) == value
    assert cfg.triangle_mult_dim == cfg.pair_dim  # None -> c_z, as AF2
    assert cfg.msa_dim % cfg.n_heads_msa == 0 and cfg.pair_dim % cfg.n_heads_pair == 0
    if name != "medium":  # building "medium" only costs time; its count is checked above
        assert isinstance(tof.TinyOpenFold(cfg), nn.Module)
    assert tof.config_from_preset(name, n_seqs=3).n_seqs == 3


def test_default_config_is_small_preset():
    assert dataclasses.asdict(tof.TinyOpenFoldConfig()) == dataclasses.asdict(tof.config_from_preset("small"))


@pytest.mark.parametrize("shared_dim", [-3, -2], ids=["rowwise", "columnwise"])
def test_shared_dropout_shares_its_mask_along_one_axis_and_keeps_the_mean(shared_dim):
    """Suppl. 1.11.6: DropoutRowwise (one mask for all rows, shared along dim -3) and
    DropoutColumnwise (one for all columns, dim -2) zero a fraction p of a residual
    update's entries, in that shared pattern, and scale the rest by 1 / (1 - p); in eval
    mode they do nothing."""
    p = 0.25
    drop = tof.SharedDropout(p, shared_dim)
    x = torch.rand(4, 40, 30, 8, dtype=torch.float64) + 0.5
    torch.manual_seed(0)
    out = drop.train()(x)
    kept = out / x  # the mask times 1 / (1 - p)
    scaled = torch.full_like(kept, 1 / (1 - p))
    dropped_or_scaled = torch.isclose(kept, torch.zeros_like(kept)) | torch.isclose(kept, scaled)
    assert dropped_or_scaled.all()
    assert torch.allclose(kept, kept.narrow(shared_dim, 0, 1).expand_as(kept))  # one mask along shared_dim
    other = -3 if shared_dim == -2 else -2
    assert not torch.allclose(kept, kept.narrow(other, 0, 1).expand_as(kept))  # and not along the other axis
    dropped = (kept.narrow(shared_dim, 0, 1) < 0.5).double().mean().item()  # over 4 x 30 x 8 or 4 x 40 x 8 draws
    assert dropped == pytest.approx(p, abs=0.06)
    assert torch.equal(drop.eval()(x), x)


def test_evoformer_block_uses_rowwise_dropout_except_after_the_ending_node_attention():
    """Alg. 6: row-wise dropout after Alg. 7 and 11-13, column-wise after Alg. 14. As in AF2's
    code (per_row: the mask broadcast over the first, row axis) and OpenFold's DropoutRowwise,
    a row-wise mask is shared by all rows (dim -3), a column-wise one by all columns (dim -2)."""
    block = tof.EvoformerBlock(dataclasses.replace(CFG, dropout=0.25))
    assert (block.dropout_msa_row.shared_dim, block.dropout_pair_row.shared_dim,
            block.dropout_pair_col.shared_dim) == (-3, -3, -2)
    assert block.dropout_msa_row.p == block.dropout_pair_row.p == block.dropout_pair_col.p == 0.25
