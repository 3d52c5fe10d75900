"""Degradation with context length on trained copying models (T2, trained; Jelassi et al. 2024's setting).

The committed model ``verify/weights/copy_rotary.pt`` (regenerate with ``python -m verify.training.copy
--positional rotary --out verify/weights/copy_rotary.pt``; 2 layers, width 64, 4 heads, rotary positions)
was trained to copy uniformly random strings over 26 letters of length 1..20 in the format
``[BOS] s [SEP] s``. Here it is only evaluated (seeded fresh strings; 64 per length in the quick profile,
512 in the full one), at every length 1..3x the longest training length (1..60):

- **exact-copy accuracy** acc(n): the fraction of strings whose whole second copy is right. Greedy decoding
  and teacher-forced argmax agree up to the first error, so "every teacher-forced argmax right" is exactly
  "greedy copy is exact", and one forward pass suffices;
- a decreasing **sigmoid fit** acc(n) ~ 1/(1 + exp(k (n - n0))): ``n0`` is the **copy threshold**;
- the **fraction copied** (mean correct prefix / n) and its exponential decay rate past n0;
- the **information reproduced** I(n) = E[correct prefix length] * log2(26) bits: the chars reproduced
  before the first error, with no credit for chance matches after it. It rises with n up to the threshold
  and does not grow past it. Here it does not plateau but collapses (94 bits at n = 20, under 7 bits from
  n = 40 on): at lengths it never saw, this rotary model already fails on the first characters, because
  the offset between a character and its copy is one it was never trained on.

Beside it, T2's bound: a context of any length can be told apart in at most log2 Bw bits, with
log2 log2 Bw = d log2(1 + 2r/eps) + log2 log2(e + e (2r/eps)^q) (``bounds.log2_log2_meanfield``), taking d =
64, r = the largest |coordinate| of the token embeddings, eps = fp32's 2^-23, q = 1. Honest caveats, also in
the check params: (1) the bound is astronomically loose here (log2 log2 Bw ~ 1455, i.e. about 2^1455 bits,
against ~10^2 bits measured); (2) T2's mean-field premise does not hold for this model (rotary positions and
a causal mask both carry order, see :mod:`verify.experiments.meanfield`); a model that *did* satisfy it could not copy at
all (it sees only the multiset of letters, so "ab" and "ba" look the same: its exact-copy accuracy is at most
C(n+25, 25)/26^n, :func:`order_blind_ceiling`, 0.012 at n = 5). The cliff measured here is therefore
evidence of degradation with length, not a test of T2's mechanism.

A second committed model, ``verify/weights/copy_nope.pt`` (``--positional none``, otherwise the same
script, seed and 2500 steps; not converged: final training loss 0.31), is the scheme closest to T2's
premise. It is evaluated the same way: its copy threshold is about 11, and it copies length-5 strings
exactly (nearly all of them) where an order-blind copier is right 1.2% of the time: the causal mask
alone carries the order (check ``copying_nope_beats_order_blind``).

Checks, each statistical at ``ctx.confidence`` (the strings are a random sample, so every verdict is
stated as a confidence bound and joins the family-wise budget):

- ``copying_in_training_range`` (**instrument**): the rotary model copies inside its training range:
  exact-copy accuracy on ``instrument_samples`` fresh strings of the longest training length, one-sided
  Clopper-Pearson lower bound >= 0.9;
- ``copying_degrades`` and ``copying_nope_degrades`` (**phenomena**): at the longest evaluated length
  (3x training) the Clopper-Pearson upper bound of the exact-copy accuracy is <= 1/2, so the copy threshold
  (where accuracy crosses 1/2) lies inside the evaluated range;
- ``copying_bits_bounded`` (**phenomenon**): the information reproduced past 2x the training length stays
  below what is reproduced at the longest training length: the largest Hoeffding upper bound of I(n) over
  n >= 2x training <= the Hoeffding lower bound of I at the longest training length (the correct prefix of
  a length-n string lies in [0, n]; the check's level is split over the bounds it compares);
- ``copying_nope_beats_order_blind`` (**phenomenon**, ``log2_meanfield``): below.

Data, not checks: the sigmoid fit (threshold n0, slope, R^2) and the decay rate of the fraction copied are
descriptions of the curves, with no confidence statement at these sample sizes. T2's log2 Bw is reported
beside the measurements as data (``t2`` in the figure data), not as a check: its premise does not hold for
either model, so the comparison could not fail for a reason.

Figure data (``data/copying.json``): ``lengths``, ``exact_accuracy``, ``char_accuracy``, ``mean_prefix``,
``fraction_copied``, ``bits_reproduced`` (lists over lengths), ``sigmoid`` (n0, k, r2), ``decay`` (rate per
char, r2, fitted range), ``max_train_len``, ``samples_per_length``, ``t2`` (log2_log2_bound, radius, eps,
d, q), ``peak_bits``, ``order_blind_ceiling`` (list over lengths), and ``nope``: the NoPE model's
``exact_accuracy``, ``char_accuracy``, ``mean_prefix``, ``fraction_copied``, ``bits_reproduced``,
``sigmoid``, ``t2``, ``peak_bits``.

Example (the sigmoid fit on an exact step, 1000 strings per length):
    >>> fit = fit_sigmoid(list(range(1, 41)), [1000] * 20 + [0] * 20, 1000)
    >>> 19.5 < fit.x0 < 21.5 and fit.r2(list(range(1, 41)), [1.0] * 20 + [0.0] * 20) > 0.99
    True
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import torch

from bounds import DEFAULT_DPS, log2_log2_meanfield
from verify.fit import fit_linear, fit_sigmoid
from verify.measure import leading_matches
from verify.model import ModelFileError, Transformer
from verify.registry import Experiment
from verify.report import Check, compare, failed, write_data
from verify.rng import generator
from verify.stats import clopper_pearson_lower, clopper_pearson_upper, hoeffding_bound
from verify.tasks import copy_batch

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "copy_rotary.pt"
WEIGHTS_NOPE = Path(__file__).resolve().parents[1] / "weights" / "copy_nope.pt"
LOG2_26 = math.log2(26)
FP32_EPS = mpmath.mpf(2) ** -23
IN_RANGE_ACCURACY = 0.9   # the instrument: the model copies strings of its longest training length
THEOREM = "log2_meanfield"


@dataclass(frozen=True)
class Settings:
    samples: int               # fresh strings per evaluated length
    instrument_samples: int    # fresh strings at the longest training length for the instrument check


EXPERIMENT = Experiment(
    name="copying", order=70, results=(THEOREM,), models=("copy_rotary", "copy_nope"), profiles=("quick", "full"),
    # quick: 256 strings per length is the fewest at which copying_bits_bounded's Hoeffding bounds separate
    settings={"quick": Settings(samples=256, instrument_samples=256),
              "full": Settings(samples=512, instrument_samples=1024)},
    seconds={"quick": 16, "full": 70},
    statistical_checks={"quick": 5, "full": 5})


@torch.no_grad()
def evaluate_copy(model: Transformer, length: int, samples: int, generator: torch.Generator) -> dict:
    """Exact-copy accuracy, per-char accuracy and mean correct prefix at one string length.

    Example:
        >>> from verify.model import ModelConfig
        >>> m = Transformer(ModelConfig(vocab_size=29, d_model=8, n_layer=1, n_head=2, positional="rotary"))
        >>> evaluate_copy(m, 3, 4, torch.Generator().manual_seed(0))["exact"] <= 1.0
        True
    """
    tokens, mask = copy_batch(torch.full((samples,), length), generator)
    pred = model(tokens[:, :-1]).argmax(-1)
    copy = slice(length + 1, 2 * length + 1)  # the n predictions of the second copy
    got, want = pred[:, copy], tokens[:, 1:][:, copy]
    right = got == want
    prefix = leading_matches(got, want).double()
    return dict(exact=right.all(1).double().mean().item(), char=right.double().mean().item(),
                prefix=prefix.mean().item(), exact_count=int(right.all(1).sum()))


def order_blind_ceiling(n: int, letters: int = 26) -> Fraction:
    """Best exact-copy accuracy of any copier that sees only the multiset of letters of a uniform random
    string of length n: C(n + letters - 1, letters - 1) / letters^n (exact).

    A string whose letters occur with counts c_1..c_k is one of n!/prod(c_i!) arrangements of its multiset,
    so an order-blind copier is right with probability at most prod(c_i!)/n!; summed over the strings of one
    multiset this is 1, so the expectation over uniform strings is (number of multisets)/letters^n.

    Example:
        >>> order_blind_ceiling(2, letters=2)  # "aa", "bb" always right; "ab"/"ba" half the time
        Fraction(3, 4)
    """
    return Fraction(math.comb(n + letters - 1, letters - 1), letters ** n)


def curves(model: Transformer, lengths, samples: int, generator: torch.Generator) -> dict:
    """Exact-copy accuracy, per-char accuracy, mean prefix, fraction copied and bits at every length.

    Example:
        >>> from verify.model import ModelConfig
        >>> m = Transformer(ModelConfig(vocab_size=29, d_model=8, n_layer=1, n_head=2, positional="rotary"))
        >>> sorted(curves(m, [1, 2], 4, torch.Generator().manual_seed(0)))[:3]
        ['bits_reproduced', 'char_accuracy', 'exact_accuracy']
    """
    rows = [evaluate_copy(model, n, samples, generator) for n in lengths]
    prefix = [r["prefix"] for r in rows]
    return dict(exact_accuracy=[r["exact"] for r in rows], exact_counts=[r["exact_count"] for r in rows],
                char_accuracy=[r["char"] for r in rows],
                mean_prefix=prefix, fraction_copied=[p / n for p, n in zip(prefix, lengths)],
                bits_reproduced=[p * LOG2_26 for p in prefix])


def degrades(*, model_name: str, exact_at_max: int, samples: int, max_len: int, confidence: float,
             params: dict) -> Check:
    """Phenomenon: exact-copy accuracy at the longest evaluated length, Clopper-Pearson upper bound <= 1/2.

    Example:
        >>> degrades(model_name="m", exact_at_max=3, samples=256, max_len=60, confidence=0.999, params={}).passed
        True
    """
    upper = clopper_pearson_upper(exact_at_max, samples, confidence)
    name = "copying_degrades" if model_name == "rotary" else f"copying_{model_name}_degrades"
    return compare(name, f"{model_name} model: exact-copy accuracy at length {max_len} (3x training), "
                   f"{100 * confidence:.6g}% upper confidence bound <= 1/2 (the copy threshold lies inside the "
                   "evaluated range: copying degrades)", 0.5, upper, unit="accuracy", kind="phenomenon",
                   confidence=confidence, estimate=exact_at_max / samples,
                   params=dict(params, exact_copies=exact_at_max, strings=samples, length=max_len))


def bits_bounded(bits: list[float], lengths: list[int], max_train: int, samples: int, confidence: float,
                 params: dict) -> Check:
    """Phenomenon: the largest Hoeffding upper bound of I(n) over n >= 2x training <= the Hoeffding lower
    bound of I(max_train), the level split over every bound compared (I(n) = mean prefix * log2 26, the
    prefix of one string in [0, n]).

    Example:
        >>> lengths = list(range(1, 61)); bits = [n * LOG2_26 if n <= 20 else 0.0 for n in lengths]
        >>> c = bits_bounded(bits, lengths, 20, 512, 0.999, {}); c.passed, round(c.bound, 1), round(c.empirical, 1)
        (True, 84.7, 27.9)
    """
    tail = [(n, b) for n, b in zip(lengths, bits) if n >= 2 * max_train]
    level = 1 - (1 - confidence) / (len(tail) + 1)
    at_train = hoeffding_bound(bits[max_train - 1], samples, width=max_train * LOG2_26, confidence=level,
                               side="lower")
    uppers = [hoeffding_bound(b, samples, width=n * LOG2_26, confidence=level) for n, b in tail]
    worst = max(range(len(tail)), key=uppers.__getitem__)
    return compare("copying_bits_bounded",
                   f"information reproduced at every length >= {2 * max_train} (2x training), Hoeffding upper "
                   f"bound, <= its lower bound at the longest training length ({max_train}): it does not grow "
                   "with context length", max(at_train, 0.0), uppers[worst], unit="bits", kind="phenomenon",
                   confidence=confidence, estimate=max(b for _, b in tail),
                   params=dict(params, bits_at_train_len=bits[max_train - 1], max_bits_past_2x=max(b for _, b in tail),
                               worst_length=tail[worst][0], per_bound_confidence=level, strings=samples))


def _t2(model: Transformer) -> dict:
    radius = float(model.tok_emb.weight.abs().max())
    with mpmath.workdps(DEFAULT_DPS):
        loglog = log2_log2_meanfield(model.d, mpmath.mpf(radius), FP32_EPS, 1)
    return dict(log2_log2_bound=float(loglog), radius=radius, eps="2^-23", d=model.d, q=1)


def _load(path: Path) -> Transformer:
    return Transformer.load(path).freeze()


def run(ctx) -> list[Check]:
    """Evaluate the committed copying models at lengths 1..3x their training length and compare with T2."""
    try:
        model = _load(WEIGHTS)
        nope = _load(WEIGHTS_NOPE)
    except ModelFileError as exc:
        return [failed("copying", "copying models load", str(exc), kind="instrument")]
    s = ctx.settings
    max_train = int(model.cfg.facts.get("max_train_len", 20))
    samples = s.samples
    max_len = 3 * max_train
    lengths = list(range(1, max_len + 1))
    data = curves(model, lengths, samples, generator(ctx.seed, "copying", "rotary"))
    exact, fraction, bits = data["exact_accuracy"], data["fraction_copied"], data["bits_reproduced"]
    exact_counts = data["exact_counts"]
    fit = fit_sigmoid(lengths, np.round(np.asarray(exact) * samples), samples)
    n0, k, r2 = fit.x0, fit.k, fit.r2(lengths, exact)
    ctx.log(f"copying: rotary threshold n0 = {n0:.2f} (k = {k:.2f}, R^2 = {r2:.3f}), peak {max(bits):.1f} bits")

    # exponential decay of the fraction copied past the threshold: log(fraction) linear in n
    past = [(n, f) for n, f in zip(lengths, fraction) if n > n0 + 1 and f > 0]
    decay = fit_linear([p[0] for p in past], np.log([p[1] for p in past]))
    rate, decay_r2 = decay.slope, decay.r2

    peak_bits = max(bits)
    n_peak = lengths[bits.index(peak_bits)]
    g_in = generator(ctx.seed, "copying", "in_range")
    in_range = int(round(evaluate_copy(model, max_train, s.instrument_samples, g_in)["exact"] * s.instrument_samples))
    t2 = _t2(model)
    common = dict(max_train_len=max_train, samples_per_length=samples, threshold=n0, sigmoid_k=k, sigmoid_r2=r2)
    checks = [
        compare("copying_in_training_range",
                f"the model copies: exact-copy accuracy at the longest training length ({max_train}), "
                f"{100 * ctx.confidence:.6g}% lower confidence bound >= {IN_RANGE_ACCURACY}",
                IN_RANGE_ACCURACY, clopper_pearson_lower(in_range, s.instrument_samples, ctx.confidence),
                direction="lower", unit="accuracy", kind="instrument", confidence=ctx.confidence,
                estimate=in_range / s.instrument_samples,
                params=dict(common, exact_copies=in_range, strings=s.instrument_samples)),
        degrades(model_name="rotary", exact_at_max=exact_counts[-1], samples=samples, max_len=max_len,
                 confidence=ctx.confidence, params=common),
        bits_bounded(bits, lengths, max_train, samples, ctx.confidence,
                     params=dict(common, peak_bits=peak_bits, peak_at=n_peak)),
    ]

    # the NoPE model: the positional scheme closest to T2's premise, yet its causal mask carries order
    data_nope = curves(nope, lengths, samples, generator(ctx.seed, "copying", "nope"))
    fit_nope = fit_sigmoid(lengths, np.round(np.asarray(data_nope["exact_accuracy"]) * samples), samples)
    n0_nope, k_nope, r2_nope = fit_nope.x0, fit_nope.k, fit_nope.r2(lengths, data_nope["exact_accuracy"])
    bits_nope = data_nope["bits_reproduced"]
    t2_nope = _t2(nope)
    probe = 5
    hits = int(round(data_nope["exact_accuracy"][probe - 1] * samples))
    ceiling = order_blind_ceiling(probe)
    ctx.log(f"copying: NoPE threshold n0 = {n0_nope:.2f}, peak {max(bits_nope):.1f} bits, "
            f"exact copies at n={probe}: {hits}/{samples} (order-blind ceiling {float(ceiling):.4f})")
    nope_common = dict(threshold=n0_nope, sigmoid_k=k_nope, sigmoid_r2=r2_nope, samples_per_length=samples,
                       final_train_loss=nope.cfg.facts.get("final_loss"))
    checks += [
        degrades(model_name="nope", exact_at_max=data_nope["exact_counts"][-1], samples=samples, max_len=max_len,
                 confidence=ctx.confidence, params=nope_common),
        compare("copying_nope_beats_order_blind",
                f"a causal NoPE model copies length-{probe} strings better than any order-blind (mean-field) "
                f"copier can: {100 * ctx.confidence:.6g}% lower confidence bound on accuracy >= C(n+25, 25)/26^n",
                float(ceiling), clopper_pearson_lower(hits, samples, ctx.confidence), direction="lower",
                unit="accuracy", kind="phenomenon", theorem=THEOREM, confidence=ctx.confidence,
                estimate=hits / samples,
                params=dict(nope_common, n=probe, exact_copies=hits, ceiling=str(ceiling))),
    ]
    write_data(ctx.out, "copying", dict(lengths=lengths, **data, sigmoid=dict(n0=n0, k=k, r2=r2),
                                        decay=dict(rate_per_char=float(rate), r2=decay_r2,
                                                   fitted_from=int(past[0][0]), fitted_to=int(past[-1][0])),
                                        max_train_len=max_train, samples_per_length=samples, t2=t2,
                                        peak_bits=peak_bits,
                                        order_blind_ceiling=[float(order_blind_ceiling(n)) for n in lengths],
                                        nope=dict(**data_nope, sigmoid=dict(n0=n0_nope, k=k_nope, r2=r2_nope),
                                                  t2=t2_nope, peak_bits=max(bits_nope))))
    return checks

