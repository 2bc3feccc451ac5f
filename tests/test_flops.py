"""The analytic FLOP count (tiny_openfold_v1.analytic_flops) against PyTorch's
own counter, torch.utils.flop_counter.FlopCounterMode, module by module."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import tiny_openfold_v1 as tof

# Block attribute of each algorithm, to sum FlopCounterMode's per-module counts.
ATTR = {
    "Alg7_MSARowAttentionWithPairBias": "msa_row_attention",
    "Alg8_MSAColumnAttention": "msa_column_attention",
    "Alg9_MSATransition": "msa_transition",
    "Alg10_OuterProductMean": "outer_product_mean",
    "Alg11_TriangleMultiplicationOutgoing": "triangle_mult_outgoing",
    "Alg12_TriangleMultiplicationIncoming": "triangle_mult_incoming",
    "Alg13_TriangleAttentionStartingNode": "triangle_attention_starting",
    "Alg14_TriangleAttentionEndingNode": "triangle_attention_ending",
    "Alg15_PairTransition": "pair_transition",
    "Alg3_InputEmbedder": "input_embedder",
    "DistanceHead": "distance_head",
}

CONFIGS = [
    ("default", tof.TinyOpenFoldConfig(), 4),
    ("tiny", tof.config_from_preset("tiny"), 3),
    ("odd", tof.TinyOpenFoldConfig(msa_dim=24, pair_dim=40, n_heads_msa=3, n_heads_pair=5, max_seq_len=19,
                                   n_seqs=7, outer_product_dim=6, triangle_mult_dim=9, msa_intermediate_dim=50,
                                   pair_intermediate_dim=70, n_evoformer_blocks=2), 2),
]


def _inputs(cfg, B):
    N, S = cfg.max_seq_len, cfg.n_seqs
    msa = torch.randint(0, 20, (B, S, N))
    return msa, tof.relative_position_features(torch.arange(N).expand(B, N))


@pytest.mark.parametrize("name,cfg,B", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_forward_flops_match_flop_counter_per_module(name, cfg, B):
    model = tof.TinyOpenFold(cfg)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*_inputs(cfg, B))
    counts = {mod: sum(ops.values()) for mod, ops in counter.get_flop_counts().items()}
    analytic = tof.analytic_flops(cfg, B)
    assert set(analytic) == set(ATTR)
    for key, attr in ATTR.items():
        if key in ("Alg3_InputEmbedder", "DistanceHead"):
            measured = counts.get(f"TinyOpenFold.{attr}", 0)
        else:
            measured = sum(counts.get(f"TinyOpenFold.evoformer.{b}.{attr}", 0) for b in range(cfg.n_evoformer_blocks))
        assert analytic[key] == pytest.approx(measured, rel=1e-9), key
    assert sum(analytic.values()) == pytest.approx(counter.get_total_flops(), rel=1e-9)


@pytest.mark.parametrize("name,cfg,B", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_train_step_flops_match_flop_counter(name, cfg, B):
    """Forward + backward: 3x the forward, less the parts with no backward (the outer
    product mean's mask count, the input features' gradient), exactly."""
    model = tof.TinyOpenFold(cfg)
    msa, feats = _inputs(cfg, B)
    with FlopCounterMode(display=False) as counter:
        out = model(msa, feats)
        tof.distance_loss(out["distances"], torch.rand(B, cfg.max_seq_len, cfg.max_seq_len) * 20,
                          torch.ones(B, cfg.max_seq_len)).backward()
    assert tof.analytic_train_flops(cfg, B) == pytest.approx(counter.get_total_flops(), rel=1e-9)


def test_default_size_costs_about_93_and_280_gflop():
    cfg = tof.TinyOpenFoldConfig()
    assert sum(tof.analytic_flops(cfg, 4).values()) / 1e9 == pytest.approx(93.56, abs=0.01)
    assert tof.analytic_train_flops(cfg, 4) / 1e9 == pytest.approx(280.4, abs=0.1)


def test_cubic_terms_overtake_as_n_grows():
    """At N = 64 the O(N^3) triangle terms are under 10 % (evoformer_reference.md);
    their share grows with N and passes half between N = 512 and N = 1024."""
    cfg = tof.TinyOpenFoldConfig()

    def cubic_share(n):
        f = tof.analytic_flops(cfg, 1, n_res=n)
        cubic = 2 * 2 * n ** 3 * cfg.triangle_mult_dim + 2 * 4 * n ** 3 * cfg.pair_dim
        return cfg.n_evoformer_blocks * cubic / sum(f.values())

    shares = [cubic_share(n) for n in (64, 128, 256, 512, 1024, 2048)]
    assert shares == sorted(shares)
    assert shares[0] < 0.10
    assert shares[3] < 0.5 < shares[4]
