"""T2 with a finite vocabulary, checked on a model where its premise holds exactly.

Model (:class:`VocabModel`): one non-causal attention layer without positional information, float64:
token embeddings ``e_v`` ~ N(0, 1) in R^d (|V| = N tokens), one head with scores
``s_uv = (e_u Wq).(e_v Wk)/sqrt(d)``, values ``z_v = e_v Wv`` (output projection folded in), a residual and a
position-wise MLP ``phi(y) = y + tanh(y M1) M2``; the **output** of a context is the mean over positions of
``phi(e_{x_i} + a_i)``, a vector in R^d. Without positions and without a mask it is a function F(w) of the
context's token frequencies w (its empirical measure), which :meth:`VocabModel.measure_output` evaluates
directly (keys of token u weighted by w_u); checked against the model run on the sequences themselves.

Two contexts are *distinguishable at eps_out* if their outputs are more than eps_out apart (l_2). Measured, for
every length n = 1..n_max: the model run on the contexts themselves (:meth:`VocabModel.sequence_output`),
up to ``n_orders`` (all lengths in the quick profile, 64 of 192 for N = 3 in the full one, where longer
lengths use F(w), checked equal to the model on sequences by the instrument), every multiset in three orders (:func:`orders`: sorted, reversed, a seeded random permutation), and a greedy
eps_out-packing of the outputs of all three orders together, of the contexts of length exactly n
(``per_length``) and of all lengths <= n (``cumulative``). Both are sets of pairwise distinguishable contexts,
so they are at most the largest such set. Without positions the three orders have one output, so the counts
are those of the multisets; a positional leak raises them, and the per-length packing at ``EPS_FINE`` (1e-9)
then exceeds the number of multisets C(n+N-1, N-1), which no model seeing only mu_X can do.

Bound (``bounds.log2_meanfield_vocab``, docs/t2_finite_vocabulary.md): if F is L-Lipschitz from (mu, W_q)
to the output, every set of contexts of any lengths distinguishable at eps_out has at most Bw_V elements,
evaluated at eps_in = eps_out/(2L) and with 2r replaced by D, the diameter of the embeddings. The constant
e/4 of the net (c_N = floor(N/2) ceil(N/2)/N) is the one of ``bounds``.

Lipschitz constant, certified (:func:`lipschitz_upper`). On the simplex W_1 is the transport norm, whose unit
ball is the convex hull of (1_v - 1_u)/|e_u - e_v|, so exactly L_1 = sup_w max_{u,v} |d_uv F(w)|/|e_u - e_v|
(and L_TV the same without the division), d_uv the derivative along 1_v - 1_u; W_q >= W_1 gives L_q <= L_1.
With p_vt = w_t E_vt/Z_v, E_vt = exp(s_vt), Z_v = sum_t w_t E_vt, r_vt = E_vt/Z_v, a_v = sum_t p_vt z_t,
h_v = phi(e_v + a_v):

    dF[delta] = sum_v delta_v h_v + sum_v w_v Da_v[delta] J_phi(y_v),  Da_v[delta] = sum_t delta_t r_vt (z_t - a_v),
    D^2 a_v[delta, delta'] = -rho_v[delta'] Da_v[delta] - rho_v[delta] Da_v[delta'],  rho_v[delta] = sum_t delta_t r_vt,

so |D^2 F[delta, delta']| <= M |delta|_1 |delta'|_1 with M = 2 Lip(phi) R diam Z + c_J R^2 (diam Z)^2
+ Lip(phi) R^2 diam Z, R >= max E_vt/Z_v (Z_v is linear in w: bounded below on an l_1 ball, and by
min_t E_vt everywhere), Lip(phi) = sup |I + M1 diag(tanh') M2| (exact: a vertex of the box,
:func:`mlp_lipschitz`) and c_J = |M1| |M2| max|tanh''| max_k |M1[:, k]| (:func:`curvature_bound`). Every w is
within l_1 distance 2 c_N/K of a point g of the grid (1/K) Z^N, where |d_uv F| <= |d_uv F(g)| + 2 (2 c_N/K) M;
the grid is refined where this exceeds the largest derivative found by more than ``LIPSCHITZ_TOL`` (2%), and
the smaller of the result and the closed form of :func:`lipschitz_closed_form` is taken. In the quick profile
(N = 3, seed 0) the analytic L_1 = 1.871 is 1.020 times the empirical L_1 = 1.834 (it was 18.1, 9.9 times,
with products of crude norms), L_TV 4.272 against 4.219. The empirical lower estimate
(:func:`lipschitz_lower`) is the largest ratio |F(w) - F(w')|/distance over small single moves (exact W_1)
at random points and at the argmax the cover found, vertex pairs and random pairs with exact W_q (LP).

What limits the bound's room. With the analytic L within 2% of the empirical one, the tightest room of the
bound checks in the quick profile is 1.486 (q = 1, eps_out = 0.025: 3269 contexts, 11.67 bits, against
17.35 bits; 1.56 at eps_out = 0.05); at the empirical L itself it would be 1.481 (``room_at_lower_L`` in each
check's params). No valid L is below the empirical one, so no analytic bound can do better than that: what
remains is the gap between a greedy eps_out-packing of the contexts of lengths <= n_max and the W_q-net of
radius eps_out/(2L) that the bound counts (covering against packing, the ceil in K, and C(K + N - 1, N - 1)
against its closed form). For q = 2 the bound still uses L_1 (W_2 >= W_1); the empirical L_2 is 1.34 times
smaller there, so the q = 2 rooms are about twice the q = 1 ones.

Checks (per model ``V{N}_s{seed}``): invariance under duplication and permutation (premise) and the
mean-field evaluation (instrument); ``t2_vocab_lipschitz_q{1,2}``: the empirical L below the analytic L
(premise); ``t2_vocab_lipschitz_gap``: the analytic L_1 over the empirical L_1, at least 1, the ratio reported
(instrument); ``t2_vocab_multiset_bound``: the per-length packing at 1e-9 of the three orders at most the
multisets (bound: a positional leak turns it red); ``t2_vocab_bound_q{q}_eps{eps_out}``: log2 of the cumulative
count below log2 Bw_V at L_up for q = 1, 2 and every eps_out (bound). The bound at the empirical L is
reported beside it (it is not a bound: the empirical L is only a lower estimate), so is [HMDO]'s support-net
form.

Figure data (``data/t2_vocab.json``): ``runs`` (one per seed and vocabulary size: ``vocab``, ``d``, ``seed``,
``diameter``, ``d_min``, ``radius``, ``lipschitz`` {``tv``, ``q1``, ``q2``: {``upper``, ``lower``}},
``lipschitz_gap`` {``tv``, ``q1``, ``q2``}, ``curves`` {eps_out: {``n``, ``per_length``, ``cumulative``,
``multisets``}}, ``fine`` {``n``, ``count``, ``multisets``, ``eps``}, ``bounds`` {eps_out: {q: {``log2_upper_L``,
``log2_empirical_L``, ``log2_log2_support_net``, ``eps_in``}}}).

Example (two tokens, lengths 1..3: contexts of length n give at most n + 1 different outputs):
    >>> model = VocabModel.seeded(vocab=2, d=4, seed=0)
    >>> [len(multiset_counts(2, n)) for n in (1, 2, 3)]
    [2, 3, 4]
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
import torch

from bounds import DEFAULT_DPS, log2_log2_meanfield, log2_meanfield_vocab, log2_vocab_net_size
from verify.packing import cell_representatives, extend_packing, orders, scan_packing
from verify.registry import Experiment
from verify.report import Check, compare, write_data
from verify.rng import generator

THEOREM = "log2_meanfield_vocab"
TOLERANCE = 1e-12
EPS_FINE = 1e-9           # the per-length multiset check: outputs more than 1e-9 apart
QS = (1, 2)
TANH_CURVATURE = 4 / (3 * math.sqrt(3))   # max |tanh''|
LIPSCHITZ_TOL = 0.02      # the cover is refined until its bound is within 2% of the largest derivative seen
ROOM_LIMIT = ("no valid L is below the empirical L_low, so room_at_lower_L is the least room any analytic "
              "bound can give; what remains is the gap between a greedy eps_out-packing of the contexts "
              "of lengths <= n_max and the W_q-net of radius eps_out/(2L) that the bound counts")


@dataclass(frozen=True)
class Settings:
    vocabs: tuple[int, ...]        # vocabulary sizes |V| of the models
    seeds: int                     # models per vocabulary size (seeds ctx.seed, ctx.seed + 1, ...)
    d: int                         # width
    n_max: dict                    # |V| -> longest context length enumerated
    n_orders: dict                 # |V| -> lengths up to this run on the sequences in three orders (beyond: F(w))
    eps_out: tuple[float, ...]     # output precisions (l_2)
    lipschitz_points: int          # base frequency vectors for the empirical Lipschitz estimate
    ot_pairs: int                  # random pairs whose W_q is computed exactly (linear programming)
    invariance_batch: int          # random sequences for the invariance checks


EXPERIMENT = Experiment(
    name="t2_vocab", order=22, results=(THEOREM,), profiles=("quick", "full"),
    settings={
        "quick": Settings(vocabs=(3,), seeds=1, d=4, n_max={3: 64}, n_orders={3: 64}, eps_out=(0.2, 0.1, 0.05, 0.025),
                          lipschitz_points=200,
                          ot_pairs=150, invariance_batch=8),
        "full": Settings(vocabs=(3, 4), seeds=3, d=4, n_max={3: 192, 4: 48}, n_orders={3: 64, 4: 48},
                         eps_out=(0.2, 0.1, 0.05),
                         lipschitz_points=2000, ot_pairs=1500, invariance_batch=32),
    },
    seconds={"quick": 11, "full": 273},
    statistical_checks={"quick": 0, "full": 0})


# ----------------------------------------------------------------------------------------- the model
class VocabModel:
    """One non-causal NoPE attention layer with residual and MLP, mean-pooled (see the module doc)."""

    def __init__(self, emb, wq, wk, wv, m1, m2):
        self.emb, self.wq, self.wk, self.wv, self.m1, self.m2 = emb, wq, wk, wv, m1, m2
        self.scores = (emb @ wq) @ (emb @ wk).T / math.sqrt(emb.shape[1])   # s_uv, fixed: one layer
        self.values = emb @ wv                                               # z_v

    @classmethod
    def seeded(cls, vocab: int, d: int, seed: int) -> "VocabModel":
        """Weights ~ N(0, 1/fan_in) (embeddings N(0, 1)), float64, from one seed.

        Example:
            >>> VocabModel.seeded(3, 4, 0).emb.shape
            torch.Size([3, 4])
        """
        g = generator(seed, "t2_vocab", vocab)
        w = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64) / math.sqrt(shape[0])
        emb = torch.randn(vocab, d, generator=g, dtype=torch.float64)
        return cls(emb, w(d, d), w(d, d), w(d, d), w(d, 4 * d), w(4 * d, d))

    def phi(self, y: torch.Tensor) -> torch.Tensor:
        """The position-wise MLP with its residual, phi(y) = y + tanh(y M1) M2.

        Example:
            >>> m = VocabModel.seeded(3, 4, 0)
            >>> bool((m.phi(torch.zeros(1, 4, dtype=torch.float64)) == 0).all())
            True
        """
        return y + torch.tanh(y @ self.m1) @ self.m2

    @torch.no_grad()
    def sequence_output(self, tokens: torch.Tensor) -> torch.Tensor:
        """Output for token sequences (batch, n): real attention over the n positions, then the mean.

        Example:
            >>> m = VocabModel.seeded(3, 4, 0)
            >>> m.sequence_output(torch.tensor([[0, 1, 2]])).shape
            torch.Size([1, 4])
        """
        batch, n = tokens.shape
        s = torch.gather(self.scores[tokens], 2, tokens[:, None, :].expand(batch, n, n))   # s_{x_i x_j}
        a = torch.softmax(s, dim=-1) @ self.values[tokens]                    # (batch, n, d)
        return self.phi(self.emb[tokens] + a).mean(1)

    @torch.no_grad()
    def measure_output(self, weights: torch.Tensor) -> torch.Tensor:
        """Output as a function of the token frequencies w (batch, N): F(w) = sum_v w_v phi(e_v + a_v(w)).

        Example:
            >>> m = VocabModel.seeded(3, 4, 0)
            >>> w = torch.tensor([[1/3, 2/3, 0.0]], dtype=torch.float64)
            >>> bool((m.measure_output(w) - m.sequence_output(torch.tensor([[0, 1, 1]]))).abs().max() < 1e-12)
            True
        """
        with torch.no_grad():
            logw = torch.log(weights)                                          # -inf where w_u = 0: no key
            p = torch.softmax(self.scores[None] + logw[:, None, :], dim=-1)    # (batch, N, N): query v, key u
            h = self.phi(self.emb[None] + p @ self.values)                     # (batch, N, d)
            return (weights[:, :, None] * h).sum(1)


def pairwise(x: torch.Tensor) -> torch.Tensor:
    """The matrix of l_2 distances between the rows of x.

    Example:
        >>> pairwise(torch.tensor([[0.0, 0.0], [3.0, 4.0]])).tolist()
        [[0.0, 5.0], [5.0, 0.0]]
    """
    return torch.cdist(x, x)


def mlp_lipschitz(m1: torch.Tensor, m2: torch.Tensor, chunk: int = 1 << 14) -> float:
    """sup_y |J phi(y)|_2 for phi(y) = y + tanh(y M1) M2, exactly: J = I + M1 diag(t) M2 with t = tanh' in
    [0, 1]^k, and the spectral norm is convex in t, so its sup over the box is at one of the 2^k vertices.

    Example:
        >>> round(mlp_lipschitz(torch.eye(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64)), 12)
        2.0
    """
    k, d = m1.shape[1], m1.shape[0]
    if k > 24:
        raise ValueError("mlp_lipschitz enumerates 2^k vertices: keep the MLP width <= 24")
    eye, best = torch.eye(d, dtype=m1.dtype), 0.0
    for start in range(0, 2 ** k, chunk):
        idx = torch.arange(start, min(2 ** k, start + chunk))
        t = ((idx[:, None] >> torch.arange(k)) & 1).to(m1.dtype)             # vertices of [0, 1]^k
        jac = eye + (m1[None] * t[:, None, :]) @ m2[None]
        best = max(best, float(torch.linalg.matrix_norm(jac, 2).max()))
    return best


def lipschitz_closed_form(model: VocabModel) -> dict:
    """Closed-form (cruder) upper bounds on the Lipschitz constants of F: L_TV = Lip(phi) (D + diam Z +
    2 A diam Z) and L_q <= L_TV/d_min (module doc); :func:`lipschitz_upper` takes the smaller of it and its cover.

    Example:
        >>> up = lipschitz_closed_form(VocabModel.seeded(3, 4, 0))
        >>> up["q1"] == up["q2"] and up["tv"] > 0
        True
    """
    dist = pairwise(model.emb)
    diameter = float(dist.max())
    d_min = float(dist[~torch.eye(len(dist), dtype=torch.bool)].min())
    diam_z = float(pairwise(model.values).max())
    top, self_score = model.scores.max(1).values, model.scores.diagonal()
    spread = (top - model.scores.min(1).values).tolist()        # S_v
    ceiling = (top - self_score).tolist()                        # w_v E_vt/Z_v <= E_vt/E_vv
    lip_phi = mlp_lipschitz(model.m1, model.m2)
    weight = attention_weight(spread, ceiling)
    tv = lip_phi * (diameter + diam_z + 2 * weight * diam_z)
    return dict(tv=tv, q1=tv / d_min, q2=tv / d_min, lip_phi=lip_phi, spread=max(spread), attention_weight=weight,
                diam_values=diam_z, diameter=diameter, d_min=d_min)


def attention_weight(spread, ceiling) -> float:
    """max over the simplex of sum_v min(w_v exp(S_v), exp(C_v)), by the fractional knapsack (rates exp(S_v)).

    It bounds sum_v w_v max_t E_vt/Z_v: Z_v >= min_u E_vu gives exp(S_v), Z_v >= w_v E_vv gives exp(C_v)/w_v.

    Example:
        >>> round(attention_weight([0.0, 0.0], [0.0, 0.0]), 12)   # uniform attention: sum_v w_v = 1
        1.0
    """
    total, mass = 0.0, 1.0
    for s, c in sorted(zip(spread, ceiling), reverse=True):
        take = min(mass, math.exp(min(c, s) - s))                 # w_v up to exp(C_v)/exp(S_v)
        total, mass = total + take * math.exp(s), mass - take
    return total


def rounding_constant(vocab: int) -> float:
    """c_N = floor(N/2) ceil(N/2) / N: largest-remainder rounding to the grid (1/K) Z^N moves TV <= c_N/K.

    Example:
        >>> rounding_constant(3), rounding_constant(4)
        (0.6666666666666666, 1.0)
    """
    return (vocab // 2) * ((vocab + 1) // 2) / vocab


def directional_derivatives(model: VocabModel, w: torch.Tensor) -> torch.Tensor:
    """DF(w)[1_t] for every token t, shape (batch, N, d), from the closed form of the module doc
    (``dF[delta] = sum_v delta_v h_v + sum_v w_v Da_v[delta] J_phi(y_v)``, ``Da_v[delta] = sum_t delta_t
    r_vt (z_t - a_v)``); the derivative along ``1_v - 1_u`` is the difference of two rows.

    Example (against a finite difference of the model):
        >>> m = VocabModel.seeded(3, 4, 0)
        >>> w = torch.tensor([[0.2, 0.5, 0.3]], dtype=torch.float64)
        >>> d = directional_derivatives(m, w)
        >>> step = torch.tensor([[-1e-6, 1e-6, 0.0]], dtype=torch.float64)
        >>> fd = (m.measure_output(w + step) - m.measure_output(w - step)) / 2e-6
        >>> bool(((d[:, 1] - d[:, 0]) - fd).abs().max() < 1e-8)
        True
    """
    e = torch.exp(model.scores)                                            # E_vt: query v, key t
    r = e[None] / (w @ e.T)[:, :, None]                                    # r_vt = E_vt / Z_v
    a = (w[:, None, :] * r) @ model.values                                 # a_v (batch, N, d)
    y = model.emb[None] + a
    slope = 1 - torch.tanh(y @ model.m1) ** 2                              # tanh' at y_v M1
    jac = torch.eye(y.shape[-1], dtype=w.dtype) + torch.einsum("ik,bvk,kj->bvij", model.m1, slope, model.m2)
    da = r[..., None] * (model.values[None, None] - a[:, :, None, :])      # Da_v[1_t] (batch, v, t, d)
    return model.phi(y) + (w[:, :, None, None] * torch.einsum("bvtd,bvde->bvte", da, jac)).sum(1)


def curvature_constants(model: VocabModel) -> dict:
    """The weight-only constants of :func:`curvature_bound`: Lip(phi) (exact, :func:`mlp_lipschitz`), the
    diameter of the values, and c_J = |M1| |M2| max|tanh''| max_k |M1[:, k]|, which bounds
    |D J_phi(y)[u]| <= c_J |u| (max |tanh''| = 4/(3 sqrt 3)).

    Example:
        >>> c = curvature_constants(VocabModel.seeded(3, 4, 0))
        >>> c["lip_phi"] >= 1 and c["c_j"] > 0
        True
    """
    m1, m2 = model.m1, model.m2
    c_j = float(torch.linalg.matrix_norm(m1, 2) * torch.linalg.matrix_norm(m2, 2)) * TANH_CURVATURE * \
        float(m1.norm(dim=0).max())
    return dict(lip_phi=mlp_lipschitz(m1, m2), diam_values=float(pairwise(model.values).max()), c_j=c_j)


def curvature_bound(model: VocabModel, w: torch.Tensor, rho: float, const: dict) -> torch.Tensor:
    """M(w, rho) >= |D^2 F(w')[delta, delta']| / (|delta|_1 |delta'|_1) for every w' of the simplex within l_1
    distance rho of w (one value per row of w); the derivation is in the module doc:
    M = 2 Lip(phi) R diam Z + c_J R^2 (diam Z)^2 + Lip(phi) R^2 diam Z with R >= max_{v,t} E_vt / Z_v(w').

    Example:
        >>> m = VocabModel.seeded(3, 4, 0)
        >>> c = curvature_constants(m)
        >>> w = torch.tensor([[1/3, 1/3, 1/3]], dtype=torch.float64)
        >>> bool(curvature_bound(m, w, 0.0, c) <= curvature_bound(m, w, 0.1, c))
        True
    """
    e = torch.exp(model.scores)
    top, low = e.max(1).values, e.min(1).values
    z_low = torch.maximum(w @ e.T - (top - low)[None] * rho / 2, low[None])   # Z_v >= min_t E_vt always
    r = (top[None] / z_low).max(1).values
    lip, dz = const["lip_phi"], const["diam_values"]
    return 2 * lip * r * dz + const["c_j"] * r ** 2 * dz ** 2 + lip * r ** 2 * dz


def cover_offsets(vocab: int, radius: int) -> torch.Tensor:
    """Integer vectors j with sum 0 and |j|_1 <= radius (the refinement of one grid point).

    Example:
        >>> cover_offsets(2, 2).tolist()
        [[-1, 1], [0, 0], [1, -1]]
    """
    rows = [j for j in itertools.product(range(-radius, radius + 1), repeat=vocab)
            if sum(j) == 0 and sum(map(abs, j)) <= radius]
    return torch.tensor(rows, dtype=torch.long)


def lipschitz_upper(model: VocabModel, *, coarse: int = 24, refine: int = 2, levels: int = 16,
                    tol: float = LIPSCHITZ_TOL, cap: int = 1 << 20, chunk: int = 1 << 14) -> dict:
    """Certified upper bounds on the Lipschitz constants of F in TV and in W_q (q >= 1), from the exact
    dual norms (module doc): L_TV = sup_w max_{u,v} |d_uv F(w)| and L_1 = sup_w max_{u,v} |d_uv F(w)| /
    |e_u - e_v|, with d_uv the derivative along 1_v - 1_u; L_q <= L_1 since W_q >= W_1.

    The sup is bounded on a cover of the simplex: every w is within l_1 distance rho = 2 c_N/K of a point g
    of the grid (1/K) Z^N (largest-remainder rounding), and |d_uv F(w)| <= |d_uv F(g)| + 2 rho M(g, rho)
    (:func:`curvature_bound`). Points whose bound exceeds (1 + tol) times the largest derivative seen are
    refined (K -> refine K, their l_1 balls covered by the finer grid points within rho + 2 c_N/(refine K)),
    up to ``levels`` times; when more than ``cap`` finer points would be needed only the points with the
    largest bounds are refined. The result is the largest bound of the final cover (every ball of the cover
    keeps the bound it was given, so any choice of refinement gives a valid bound).

    Example:
        >>> up = lipschitz_upper(VocabModel.seeded(3, 4, 0))
        >>> up["q1"] == up["q2"] and 1 <= up["q1"] / up["seen_q1"] <= 1 + LIPSCHITZ_TOL + 1e-9
        True
    """
    n = model.emb.shape[0]
    dist = pairwise(model.emb)
    pairs = list(itertools.combinations(range(n), 2))
    d_pair = torch.tensor([float(dist[u, v]) for u, v in pairs], dtype=torch.float64)
    const = curvature_constants(model)
    c_n = rounding_constant(n)
    offsets = cover_offsets(n, int(math.floor(2 * c_n * (refine + 1) + 1e-9)))
    K, pts = coarse, multiset_counts(n, coarse)
    seen = dict(tv=0.0, q1=0.0)
    where = {}
    final = dict(tv=0.0, q1=0.0)
    evaluated, level = 0, 0
    while True:
        rho = 2 * c_n / K
        g_all, m_all = [], []
        for i in range(0, len(pts), chunk):
            w = pts[i:i + chunk].double() / K
            der = directional_derivatives(model, w)
            g_all.append(torch.stack([(der[:, v] - der[:, u]).norm(dim=1) for u, v in pairs], 1))
            m_all.append(curvature_bound(model, w, rho, const))
        g, m2 = torch.cat(g_all), torch.cat(m_all)
        evaluated += len(pts)
        bound = g + (2 * rho * m2 * (1 + 1e-9) + 1e-12)[:, None]              # sup of |d_uv F| on the ball
        for key, scale in (("tv", torch.ones_like(d_pair)), ("q1", d_pair)):
            ratio = g / scale
            k = int(ratio.max(1).values.argmax())
            if float(ratio[k].max()) > seen[key]:
                seen[key] = float(ratio[k].max())
                where[key] = (pts[k].double() / K, pairs[int(ratio[k].argmax())])
        up_tv, up_q1 = bound.max(1).values, (bound / d_pair).max(1).values
        excess = torch.maximum(up_tv / seen["tv"], up_q1 / seen["q1"])
        open_ = excess > 1 + tol
        room = cap // len(offsets)                           # the next level holds at most cap points:
        if int(open_.sum()) > room:                          # the least excessive points stay as they are
            open_ &= excess >= torch.topk(excess, room).values[-1] if room else torch.zeros_like(open_)
        last = level == levels
        keep = torch.ones_like(open_) if last else ~open_
        if keep.any():
            final["tv"], final["q1"] = max(final["tv"], float(up_tv[keep].max())), max(final["q1"], float(up_q1[keep].max()))
        if last or not open_.any():
            break
        finer = (pts[open_] * refine)[:, None, :] + offsets[None]
        finer = finer.reshape(-1, n)
        pts, K, level = torch.unique(finer[(finer >= 0).all(1)], dim=0), K * refine, level + 1
    closed = lipschitz_closed_form(model)
    l_tv, l_1 = min(final["tv"], closed["tv"]), min(final["q1"], closed["q1"])
    return dict(tv=l_tv, q1=l_1, q2=l_1, cover_tv=final["tv"], cover_q1=final["q1"], closed_form_tv=closed["tv"],
                closed_form_q1=closed["q1"], seen_tv=seen["tv"], seen_q1=seen["q1"],
                argmax={k: (v[0].tolist(), v[1]) for k, v in where.items()}, levels=level, finest_grid=K,
                points_evaluated=evaluated, diameter=float(dist.max()),
                d_min=float(dist[~torch.eye(n, dtype=torch.bool)].min()), **const)


def wasserstein(w1: np.ndarray, w2: np.ndarray, cost: np.ndarray, q: int) -> float:
    """Exact W_q between two measures on the same finite support (cost = distance matrix), by LP.

    Example:
        >>> c = np.array([[0.0, 2.0], [2.0, 0.0]])
        >>> round(wasserstein(np.array([1.0, 0.0]), np.array([0.5, 0.5]), c, 2), 12)   # sqrt(0.5 * 4)
        1.414213562373
    """
    from scipy.optimize import linprog

    n = len(w1)
    a_eq = np.zeros((2 * n, n * n))
    for i in range(n):
        a_eq[i, i * n:(i + 1) * n] = 1        # row sums: w1
        a_eq[n + i, i::n] = 1                 # column sums: w2
    res = linprog((cost ** q).ravel(), A_eq=a_eq[:-1], b_eq=np.concatenate([w1, w2])[:-1], bounds=(0, None),
                  method="highs")
    if not res.success:
        raise RuntimeError(f"optimal transport LP failed: {res.message}")
    return max(float(res.fun), 0.0) ** (1.0 / q)


def lipschitz_lower(model: VocabModel, *, points: int, ot_pairs: int, seed: int, at=None) -> dict:
    """Empirical lower estimates of the Lipschitz constants: the largest |F(w) - F(w')| / distance over
    small single moves (mass t from token u to v at random w, and at the frequency vectors ``at``, e.g.
    where :func:`lipschitz_upper` found its largest derivative: TV = t, W_1 = t |e_u - e_v| exactly), the
    vertex pairs (W_q = |e_u - e_v| for every q) and random pairs with exact W_q (LP). Every ratio is
    one of two actual outputs of the model (:meth:`VocabModel.measure_output`), so each is at most L.

    Example:
        >>> low = lipschitz_lower(VocabModel.seeded(3, 4, 0), points=20, ot_pairs=5, seed=0)
        >>> low["q1"] >= low["q2"] > 0
        True
    """
    g = torch.Generator().manual_seed(seed)
    n = model.emb.shape[0]
    dist = pairwise(model.emb)
    # base points from the interior (small logits) to near the faces and vertices (large logits)
    scale = torch.tensor([0.3, 1.0, 3.0, 8.0], dtype=torch.float64)[torch.arange(points) % 4]
    base = torch.softmax(scale[:, None] * torch.randn(points, n, generator=g, dtype=torch.float64), dim=1)
    if at is not None:                         # each point and a nudge inside (so every move has room)
        at = torch.as_tensor(at, dtype=torch.float64).reshape(-1, n)
        base_moves = torch.cat([at, (1 - 1e-5) * at + 1e-5 / n])
    moves = base if at is None else torch.cat([base, base_moves])
    best = dict(tv=0.0, q1=0.0, q2=0.0)
    t = 1e-6
    for u, v in itertools.permutations(range(n), 2):
        room = moves[:, u] >= t
        w0 = moves[room]
        w1 = w0.clone()
        w1[:, u] -= t
        w1[:, v] += t
        df = (model.measure_output(w1) - model.measure_output(w0)).norm(dim=1)
        best["tv"] = max(best["tv"], float(df.max()) / t)
        best["q1"] = max(best["q1"], float(df.max()) / (t * float(dist[u, v])))
    vertices = model.measure_output(torch.eye(n, dtype=torch.float64))
    for u, v in itertools.combinations(range(n), 2):
        ratio = float((vertices[u] - vertices[v]).norm()) / float(dist[u, v])
        best["q1"], best["q2"] = max(best["q1"], ratio), max(best["q2"], ratio)
        best["tv"] = max(best["tv"], float((vertices[u] - vertices[v]).norm()))
    cost = dist.numpy()
    a, b = base[:ot_pairs], base[torch.randperm(points, generator=g)[:ot_pairs]]
    fa, fb = model.measure_output(a), model.measure_output(b)
    for i in range(min(ot_pairs, points)):
        df = float((fa[i] - fb[i]).norm())
        wa, wb = a[i].numpy(), b[i].numpy()
        tv = 0.5 * float(np.abs(wa - wb).sum())
        if tv < 1e-9:
            continue
        best["tv"] = max(best["tv"], df / tv)
        for q in QS:
            best[f"q{q}"] = max(best[f"q{q}"], df / wasserstein(wa, wb, cost, q))
    return best


# ----------------------------------------------------------------------------------------- counting
def multiset_counts(vocab: int, n: int) -> torch.Tensor:
    """Token counts of every multiset of size n over `vocab` tokens, shape (C(n+N-1, N-1), N).

    Example:
        >>> multiset_counts(2, 2).tolist()
        [[0, 2], [1, 1], [2, 0]]
    """
    rows = []
    for bars in itertools.combinations(range(n + vocab - 1), vocab - 1):
        edges = (-1,) + bars + (n + vocab - 1,)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(vocab)])
    return torch.tensor(rows, dtype=torch.long)


def sequences(counts: torch.Tensor) -> torch.Tensor:
    """The sorted token sequence of each row of token counts (all rows of one length n), shape (batch, n).

    Example:
        >>> sequences(torch.tensor([[2, 0, 1], [0, 3, 0]])).tolist()
        [[0, 0, 2], [1, 1, 1]]
    """
    idx = torch.arange(counts.shape[1])
    return torch.stack([torch.repeat_interleave(idx, row) for row in counts])


@torch.no_grad()
def order_outputs(model: VocabModel, counts: torch.Tensor, seed: int, budget: int = 1 << 22) -> torch.Tensor:
    """The model run on the contexts themselves: :meth:`VocabModel.sequence_output` of every multiset of
    ``counts`` in the three :func:`orders` (chunks of at most ``budget`` attention scores), shape (3 * batch, d).

    Example:
        >>> m = VocabModel.seeded(3, 4, 0)
        >>> order_outputs(m, multiset_counts(3, 2), seed=0).shape
        torch.Size([18, 4])
    """
    tokens = orders(sequences(counts), seed)
    step = max(1, budget // tokens.shape[1] ** 2)
    return torch.cat([model.sequence_output(tokens[i:i + step]) for i in range(0, len(tokens), step)])


def sampled_lengths(n_max: int) -> list[int]:
    """Lengths whose per-length packing is measured: 1..16, then about 10% apart, and n_max.

    Example:
        >>> sampled_lengths(30)
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 24, 26, 28, 30]
    """
    out, n = [], 1
    while n < n_max:
        out.append(n)
        n = n + 1 if n < 16 else max(n + 1, int(n * 1.1))
    return out + [n_max]


def count_curves(model: VocabModel, n_max: int, eps_list, seed: int = 0, eps_fine: float = EPS_FINE,
                 n_orders: int | None = None) -> dict:
    """Per length and cumulative greedy packings at every eps_out (see the module doc), of the outputs of
    the model run on every multiset in three orders (:func:`order_outputs`) for the lengths up to
    ``n_orders`` (default: all), of F(w) (:meth:`VocabModel.measure_output`, one output per multiset) for
    longer ones (the attention over n positions costs n^2); under ``"fine"``, for the lengths run in three
    orders, the packing at ``eps_fine`` of each length's outputs (``count``) beside the number of multisets.

    Greedy packings depend on the order of the points, so the cumulative count at n is the largest packing
    found among contexts of lengths <= n: the incremental one (lengths in order), every per-length one
    measured so far, and at n_max one over the union of all lengths in scanline order. Each is a set of
    distinguishable contexts. Per-length packings are measured at :func:`sampled_lengths` only.

    Example:
        >>> curves = count_curves(VocabModel.seeded(2, 4, 0), 4, [1e-9])
        >>> curves[1e-9]["per_length"], curves[1e-9]["multisets"], curves["fine"]["count"]
        ([2, 3, 4, 5], [2, 3, 4, 5], [2, 3, 4, 5])
    """
    vocab = model.emb.shape[0]
    sampled = set(sampled_lengths(n_max))
    out = {eps: dict(n=[], per_length=[], cumulative=[], multisets=[]) for eps in eps_list}
    centers = {eps: torch.zeros(0, model.emb.shape[1], dtype=torch.float64) for eps in eps_list}
    union = {eps: [] for eps in eps_list}          # one output per eps/4 cell of each length
    best = {eps: 0 for eps in eps_list}             # largest packing found so far
    fine = dict(n=[], count=[], multisets=[], eps=eps_fine)
    for n in range(1, n_max + 1):
        counts = multiset_counts(vocab, n)
        if n_orders is not None and n > n_orders:
            y = model.measure_output(counts.double() / n)
        else:
            y = order_outputs(model, counts, seed + n)
            fine["n"].append(n)
            fine["count"].append(scan_packing(y, eps_fine))
            fine["multisets"].append(len(counts))
        for eps in eps_list:
            centers[eps] = extend_packing(centers[eps], y, eps)
            union[eps].append(cell_representatives(y, eps))
            best[eps] = max(best[eps], len(centers[eps]))
            if n == n_max:
                best[eps] = max(best[eps], scan_packing(torch.cat(union[eps]), eps))
            if n in sampled:
                per = scan_packing(y, eps)
                best[eps] = max(best[eps], per)
                curve = out[eps]
                curve["n"].append(n)
                curve["per_length"].append(per)
                curve["cumulative"].append(best[eps])
                curve["multisets"].append(len(counts))
    out["fine"] = fine
    return out


# ----------------------------------------------------------------------------------------- checks
def _invariance(model: VocabModel, batch: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    vocab = model.emb.shape[0]
    tokens = torch.randint(vocab, (batch, 11), generator=g)
    single = model.sequence_output(tokens)
    doubled = model.sequence_output(torch.cat([tokens, tokens], 1))
    permuted = model.sequence_output(tokens[:, torch.randperm(11, generator=g)])
    counts = torch.nn.functional.one_hot(tokens, vocab).sum(1).double()
    measure = model.measure_output(counts / 11)
    return dict(duplication=float((doubled - single).abs().max()), permutation=float((permuted - single).abs().max()),
                measure=float((measure - single).abs().max()))


def _one_model(ctx, s: Settings, vocab: int, seed: int, checks: list) -> dict:
    model = VocabModel.seeded(vocab, s.d, seed)
    tag = f"V{vocab}_s{seed}"
    params = dict(vocab=vocab, d=s.d, seed=seed)
    inv = _invariance(model, s.invariance_batch, seed)
    for key, claim in (("duplication", "F([X, X]) = F(X) (duplication invariance)"),
                       ("permutation", "F(X_pi) = F(X) (permutation invariance)")):
        checks.append(compare(f"t2_vocab_{key}_{tag}", f"{claim}, max |difference| <= {TOLERANCE}", TOLERANCE,
                              inv[key], unit="abs error", params=params, kind="premise", theorem=THEOREM))
    checks.append(compare(f"t2_vocab_meanfield_eval_{tag}",
                          f"the frequency-weighted evaluation F(w) equals the model on the sequences (<= {TOLERANCE})",
                          TOLERANCE, inv["measure"], unit="abs error", params=params, kind="instrument"))
    up = lipschitz_upper(model)
    low = lipschitz_lower(model, points=s.lipschitz_points, ot_pairs=s.ot_pairs, seed=seed,
                          at=[w for w, _ in up["argmax"].values()])
    up_params = {k: v for k, v in up.items() if k != "argmax"}
    for q in QS:
        checks.append(compare(f"t2_vocab_lipschitz_q{q}_{tag}",
                              f"empirical Lipschitz constant (mu, W_{q}) -> output <= the analytic bound "
                              f"(certified sup of the derivative's dual norm{', W_2 >= W_1' if q > 1 else ''})",
                              up[f"q{q}"], low[f"q{q}"], unit="output per W_q", kind="premise", theorem=THEOREM,
                              params=dict(params, lower_tv=low["tv"], upper_tv=up["tv"], **up_params)))
    gaps = {k: up[k] / low[k] for k in ("tv", "q1", "q2")}
    checks.append(compare(f"t2_vocab_lipschitz_gap_{tag}",
                          "analytic L_1 over the empirical L_1 >= 1 (the ratio is the slack the analytic bound "
                          "adds to the bound checks: q (N - 1) log2 of it, in bits)",
                          1, gaps["q1"], direction="lower", unit="L_up/L_low", kind="instrument",
                          params=dict(params, gap_tv=gaps["tv"], gap_q1=gaps["q1"], gap_q2=gaps["q2"],
                                      upper_q1=up["q1"], lower_q1=low["q1"], cover_levels=up["levels"],
                                      closed_form_q1=up["closed_form_q1"])))
    ctx.log(f"t2_vocab {tag}: L_TV in [{low['tv']:.4g}, {up['tv']:.4g}], L_1 in [{low['q1']:.4g}, {up['q1']:.4g}], "
            f"L_2 in [{low['q2']:.4g}, {up['q2']:.4g}]")
    curves = count_curves(model, s.n_max[vocab], s.eps_out, seed=seed, n_orders=s.n_orders[vocab])
    fine = curves.pop("fine")
    worst = max(Fraction(c, m) for c, m in zip(fine["count"], fine["multisets"]))
    checks.append(compare(f"t2_vocab_multiset_bound_{tag}",
                          f"contexts of length n run in three orders (as sorted, reversed, permuted) give at most "
                          f"C(n+N-1, N-1) outputs more than {EPS_FINE} apart, for n = 1..{fine['n'][-1]} "
                          f"(max ratio count/multisets)", 1, float(worst), unit="count/multisets", kind="bound",
                          theorem=THEOREM, params=dict(params, max_ratio=str(worst), eps=EPS_FINE,
                                                       counts_at_n_max=fine["count"][-1],
                                                       multisets_at_n_max=fine["multisets"][-1])))
    radius = float(model.emb.norm(dim=1).max())
    bounds_data = {}
    for eps in s.eps_out:
        count = curves[eps]["cumulative"][-1]
        bounds_data[str(eps)] = {}
        for q in QS:
            with mpmath.workdps(DEFAULT_DPS):
                eps_in = mpmath.mpf(eps) / (2 * mpmath.mpf(up[f"q{q}"]))
                eps_emp = mpmath.mpf(eps) / (2 * mpmath.mpf(low[f"q{q}"]))
                half_d = mpmath.mpf(up["diameter"]) / 2      # only the diameter enters: 2r -> D
                bound = log2_meanfield_vocab(vocab, half_d, eps_in, q)
                at_emp = log2_meanfield_vocab(vocab, half_d, eps_emp, q)
                net = log2_vocab_net_size(vocab, half_d, eps_in, q)
                support = log2_log2_meanfield(s.d, mpmath.mpf(radius), eps_in, q)
            row = dict(eps_in=float(eps_in), log2_upper_L=float(bound), log2_empirical_L=float(at_emp),
                       log2_net_size=float(net), log2_log2_support_net=float(support))
            bounds_data[str(eps)][str(q)] = row
            checks.append(compare(
                f"t2_vocab_bound_q{q}_eps{eps}_{tag}",
                f"log2(contexts of lengths <= {s.n_max[vocab]} distinguishable at eps_out {eps}) <= log2 Bw_V "
                f"at eps_in = eps_out/(2 L_up), q = {q}",
                bound, math.log2(count), unit="bits", kind="bound", theorem=THEOREM,
                params=dict(params, eps_out=eps, q=q, count=count, lipschitz_upper=up[f"q{q}"],
                            lipschitz_lower=low[f"q{q}"], diameter=up["diameter"], radius=radius,
                            room_at_lower_L=float(at_emp) / math.log2(count), limit=ROOM_LIMIT, **row)))
    return dict(vocab=vocab, d=s.d, seed=seed, diameter=up["diameter"], d_min=up["d_min"], radius=radius,
                lipschitz={k: dict(upper=up[k], lower=low[k]) for k in ("tv", "q1", "q2")},
                lipschitz_gap=gaps, invariance=inv, curves={str(e): c for e, c in curves.items()}, fine=fine,
                bounds=bounds_data)


def run(ctx) -> list[Check]:
    """The checks of the module doc (one thread: ``EXPERIMENT.threads``; the models are tiny)."""
    s = ctx.settings
    checks, runs = [], []
    for vocab in s.vocabs:
        for k in range(s.seeds):
            runs.append(_one_model(ctx, s, vocab, ctx.seed + k, checks))
    write_data(ctx.out, "t2_vocab", dict(runs=runs, eps_out=list(s.eps_out), qs=list(QS)))
    return checks

