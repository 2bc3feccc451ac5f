"""The synthetic-data section of tiny_openfold_v1.py at 3ca7c44, the commit before the
generator was made faster (cfedfa1): for ab_data.py's timing of both in one process."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import torch


N_AMINO = 20  # tokens 0..19; token 20 is "unknown" and pads shorter proteins
PAD_TOKEN = 20
CA_STEP = 3.8  # angstrom between consecutive C-alpha atoms
CLASH_DISTANCE = 4.0  # minimum non-bonded C-alpha distance
CONTACT_CUTOFF = 8.0  # C-alpha contact threshold
DISTANCE_CLIP = 22.0  # targets are clipped here: beyond it, "far" is all that matters


def sample_ca_trace(n: int, rng: np.random.Generator, n_candidates: int = 48, max_tries: int = 20) -> np.ndarray:
    """A compact, clash-free C-alpha trace of n residues, [n, 3] in angstrom.

    The walk starts at a uniformly random point of the confining sphere (not
    its centre: a chain end pinned to the core would let position alone predict
    contacts). Each step tries n_candidates directions at bond angles 85-150
    degrees and takes the first that stays inside the sphere without a clash.
    """
    radius = math.sqrt(5.0 / 3.0) * 2.2 * n ** 0.38 + 1.0
    for _ in range(max_tries):
        x = np.zeros((n, 3))
        x[0] = _random_unit(rng, 1)[0] * radius * rng.random() ** (1 / 3)
        ok = True
        for t in range(1, n):
            dirs = _random_unit(rng, n_candidates)
            if t >= 2:  # turn angle 30-95 deg from the previous bond = bond angle 150-85 deg
                prev = (x[t - 1] - x[t - 2]) / CA_STEP
                cos_turn = rng.uniform(math.cos(math.radians(95)), math.cos(math.radians(30)), n_candidates)
                perp = dirs - (dirs @ prev)[:, None] * prev
                perp /= np.linalg.norm(perp, axis=1, keepdims=True) + 1e-12
                dirs = cos_turn[:, None] * prev + np.sqrt(1 - cos_turn ** 2)[:, None] * perp
            cand = x[t - 1] + CA_STEP * dirs  # [K, 3]
            inside = np.linalg.norm(cand, axis=1) <= radius
            if t >= 2:
                d = np.linalg.norm(cand[:, None, :] - x[None, : t - 1], axis=-1).min(axis=1)
                inside &= d >= CLASH_DISTANCE
            good = np.flatnonzero(inside)
            if len(good) == 0:
                ok = False
                break
            x[t] = cand[good[0]]
        if ok:
            return x
    raise RuntimeError(f"could not build a clash-free chain of {n} residues")


def _random_unit(rng: np.random.Generator, k: int) -> np.ndarray:
    v = rng.normal(size=(k, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def distance_matrix(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)


@dataclass
class PottsModel:
    """P(x) ~ exp(sum_i h_i(x_i) + sum_(i,j) J_ij(x_i, x_j)) on a sparse set of
    contacting pairs, each residue with at most P coupled partners.

    Column i allows A residues (tokens allowed[i]); sequences are sampled as
    local indices 0..A-1 into those and mapped to tokens at the end. Sites and
    pairs are grouped ("coloured") so that each group can be redrawn at once.
    """

    allowed: np.ndarray  # [N, A] the residue tokens each column allows
    fields: np.ndarray  # [N, A] h_i over the allowed residues
    partner: np.ndarray  # [N, P] coupled partner of each slot, -1 for none
    couplings: np.ndarray  # [N, P, A, A] J(a at i, b at partner); zeros for empty slots
    pairs: np.ndarray  # [n_pairs, 2] coupled residue pairs (i < j), all in contact
    site_groups: List[np.ndarray]  # no two sites of a group are coupled
    pair_groups: List[np.ndarray]  # no pair of a group touches another's sites or their partners


def make_potts_model(dist: np.ndarray, rng: np.random.Generator, n_allowed: int = 6, coupling: float = 4.0,
                     max_partners: int = 2, min_separation: int = 4) -> PottsModel:
    """Random fields (n_allowed residues per column) and "lock-and-key"
    couplings on a random subset of the contacts with |i - j| >= min_separation:
    J_ij(a, b) = coupling if b = perm_ij(a), a random pairing of the residues the
    two columns allow. No residue is special a priori, so one sequence says
    nothing about which pairs touch."""
    n, A, P = len(dist), n_allowed, max_partners
    allowed = np.argsort(rng.random((n, N_AMINO)), axis=1)[:, :A]  # [N, A]
    fields = rng.normal(0.0, 1.0, (n, A))
    partner = np.full((n, P), -1, dtype=np.int64)
    couplings = np.zeros((n, P, A, A))
    degree = np.zeros(n, dtype=np.int64)
    pairs = []
    ii, jj = np.nonzero(np.triu(dist < CONTACT_CUTOFF, k=min_separation))
    for idx in rng.permutation(len(ii)):
        i, j = ii[idx], jj[idx]
        if degree[i] >= P or degree[j] >= P:
            continue
        J = np.zeros((A, A))
        J[np.arange(A), rng.permutation(A)] = coupling  # lock a -> key perm(a)
        partner[i, degree[i]], couplings[i, degree[i]] = j, J
        partner[j, degree[j]], couplings[j, degree[j]] = i, J.T
        degree[i] += 1
        degree[j] += 1
        pairs.append((i, j))
    pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return PottsModel(allowed, fields, partner, couplings, pairs,
                      _group_sites(partner), _group_pairs(pairs, partner))


def _group_sites(partner: np.ndarray) -> List[np.ndarray]:
    """Greedy colouring: a site joins the first group holding none of its partners."""
    colour = np.full(len(partner), -1)
    for i in range(len(partner)):
        taken = {colour[k] for k in partner[i] if k >= 0}
        colour[i] = min(c for c in range(len(partner) + 1) if c not in taken)
    return [np.flatnonzero(colour == c) for c in range(colour.max() + 1)]


def _group_pairs(pairs: np.ndarray, partner: np.ndarray) -> List[np.ndarray]:
    """Greedy grouping of pairs whose joint redraws do not depend on each other:
    a pair's sites may not be, or be partners of, another pair's sites."""
    groups: List[list] = []
    sites: List[set] = []  # sites of each group's pairs
    reach: List[set] = []  # those sites and their partners
    for e, (i, j) in enumerate(pairs):
        own = {int(i), int(j)}
        near = own | {int(k) for k in partner[[i, j]].ravel() if k >= 0}
        for g in range(len(groups)):
            if not (own & reach[g]) and not (near & sites[g]):
                groups[g].append(e)
                sites[g] |= own
                reach[g] |= near
                break
        else:
            groups.append([e])
            sites.append(set(own))
            reach.append(set(near))
    return [np.array(g, dtype=np.int64) for g in groups]


def _partner_terms(potts: PottsModel, seqs: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """[R, m, P, A]: J(a at site, current residue of each partner slot)."""
    held = seqs[:, potts.partner[sites].clip(min=0)]  # [R, m, P]; empty slots have J = 0
    J_t = potts.couplings[sites].transpose(0, 1, 3, 2)  # [m, P, b, a]
    m, P = potts.partner[sites].shape
    return J_t[np.arange(m)[None, :, None], np.arange(P)[None, None, :], held]


def _gumbel_argmax(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A sample from softmax(logits) along the last axis."""
    return np.argmax(logits + rng.gumbel(size=logits.shape), axis=-1)


def gibbs_sweeps(potts: PottsModel, seqs: np.ndarray, n_sweeps: int, rate: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """Evolve rows seqs [R, N] (local residue indices). Each sweep, row r
    redraws, with probability rate[r] each:
      - every site from its Potts conditional. A lone change at one end of a
        coupled contact breaks a lock, so coupled sites change rarely
        (conservation);
      - every coupled pair jointly from its conditional: a double mutation
        that keeps the lock (compensation, the co-variation the MSA records).
    Groups of independent sites (pairs) are redrawn in one vectorised step."""
    seqs = seqs.copy()
    R = seqs.shape[0]
    rows_hit = lambda m: rng.random((R, m)) < rate[:, None]  # noqa: E731
    for _ in range(n_sweeps):
        for sites in potts.site_groups:
            logits = potts.fields[sites][None] + _partner_terms(potts, seqs, sites).sum(axis=2)  # [R, m, A]
            new = _gumbel_argmax(logits, rng)
            seqs[:, sites] = np.where(rows_hit(len(sites)), new, seqs[:, sites])
        for group in potts.pair_groups:
            i, j = potts.pairs[group, 0], potts.pairs[group, 1]
            slot_i = (potts.partner[i] == j[:, None]).argmax(axis=1)  # where j sits among i's partners
            slot_j = (potts.partner[j] == i[:, None]).argmax(axis=1)
            P = potts.partner.shape[1]
            others_i = (_partner_terms(potts, seqs, i) * (np.arange(P) != slot_i[:, None])[None, :, :, None]).sum(2)
            others_j = (_partner_terms(potts, seqs, j) * (np.arange(P) != slot_j[:, None])[None, :, :, None]).sum(2)
            joint = (potts.fields[i][None, :, :, None] + potts.fields[j][None, :, None, :]
                     + potts.couplings[i, slot_i][None] + others_i[..., :, None] + others_j[..., None, :])  # [R, q, A, A]
            A = joint.shape[-1]
            flat = _gumbel_argmax(joint.reshape(R, len(group), A * A), rng)
            hit = rows_hit(len(group))
            seqs[:, i] = np.where(hit, flat // A, seqs[:, i])
            seqs[:, j] = np.where(hit, flat % A, seqs[:, j])
    return seqs


def sample_msa(potts: PottsModel, n_seqs: int, rng: np.random.Generator, n_clades: int = 4,
               rate_range=(0.2, 0.6), sweeps: int = 3, target_sweeps: int = 10) -> np.ndarray:
    """[n_seqs, N] int64 MSA of residue tokens on a two-level tree: row 0, the
    target, is a Potts sample (Gibbs from a random start); clade ancestors
    evolve from it, and leaves from their ancestor, each at its own rate."""
    n = potts.fields.shape[0]
    target = gibbs_sweeps(potts, _gumbel_argmax(potts.fields, rng)[None], target_sweeps, np.ones(1), rng)
    rows = target
    if n_seqs > 1:
        k = min(n_clades, n_seqs - 1)
        ancestors = gibbs_sweeps(potts, np.repeat(target, k, axis=0), sweeps, rng.uniform(*rate_range, k), rng)
        leaves = ancestors[rng.integers(0, k, n_seqs - 1)]
        leaves = gibbs_sweeps(potts, leaves, sweeps, rng.uniform(*rate_range, n_seqs - 1), rng)
        rows = np.concatenate([target, leaves])
    return potts.allowed[np.arange(n)[None, :], rows].astype(np.int64)  # local index -> token


def make_sample(seq_len: int, n_seqs: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """One synthetic protein: MSA [S, N], C-alpha distances [N, N], residue index [N]."""
    coords = sample_ca_trace(seq_len, rng)
    dist = distance_matrix(coords)
    msa = sample_msa(make_potts_model(dist, rng), n_seqs, rng)
    return {"msa": msa, "distances": dist.astype(np.float32), "residue_index": np.arange(seq_len)}


class SyntheticProteinDataset(torch.utils.data.Dataset):
    """Sample idx is generated on demand from the seed (seed, idx): nothing is
    stored, any worker can make any sample, and a resumed run sees exactly the
    samples an uninterrupted one would have.
    """

    def __init__(self, size: int, seq_len: int, n_seqs: int, seed: int, min_seq_len: Optional[int] = None):
        self.size = size
        self.seq_len = seq_len
        self.min_seq_len = min_seq_len or seq_len
        self.n_seqs = n_seqs
        self.seed = seed

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, idx: int) -> Dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, idx])
        n = int(rng.integers(self.min_seq_len, self.seq_len + 1))
        return make_sample(n, self.n_seqs, rng)
