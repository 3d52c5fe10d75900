"""T1 checks shared by the experiments that measure accessible fractions (cramming, precision, dataset).

- :func:`point_record`: the record of one measured point (counts, fraction, its one-sided lower confidence
  bound, cross-entropy with an upper confidence bound of its mean), what the figures read;
- :func:`count_check`: T1's count form over measured points, ``n*log2|A| + log2 f_lower <= log2 Npr``;
- :func:`soft_check`: T1's soft form, mean cross-entropy >= ``n*log2|A| - log2 Npr``.

Every number is compared at the precision of ``bounds`` (``bounds.evaluate.DEFAULT_DPS``).

Example (20/20 successes at 8 letters of a 26-letter alphabet, bound 40 bits):
    >>> pts = [{"n": 8, "successes": 20, "trials": 20}]
    >>> c = count_check("demo", "claim", pts, log2_npr=40, log2_alphabet=4.7)
    >>> c.passed, 37 < c.empirical < 38
    (True, True)
"""
from __future__ import annotations

import math

import mpmath
import numpy as np

from bounds.evaluate import DEFAULT_DPS
from verify.report import Check, compare, failed, mpf
from verify.stats import clopper_pearson_lower, mean_upper_bound

CONFIDENCE = 0.95  # one-sided level of f_lower and of the cross-entropy bound unless a caller gives its own


def point_record(n: int, result, *, confidence: float = CONFIDENCE) -> dict:
    """The figures' record of one measured (m, n): counts, fraction, confidence bound, cross-entropy.

    Example:
        >>> import torch
        >>> from types import SimpleNamespace
        >>> r = SimpleNamespace(success=torch.tensor([True, False]), ce_bits=torch.tensor([1.0, 3.0]),
        ...                     accuracy=torch.tensor([1.0, 0.5]), reason=["reproduced", "patience"])
        >>> rec = point_record(5, r); rec["successes"], rec["f"], rec["mean_ce_bits"]
        (1, 0.5, 2.0)
    """
    s, t = int(result.success.sum()), len(result.success)
    ce = result.ce_bits.double().numpy()
    finite = ce[np.isfinite(ce)]
    nan_failures = sum(1 for r in result.reason if r.startswith("loss became"))
    return {"n": n, "successes": s, "trials": t, "f": s / t, "f_lower": clopper_pearson_lower(s, t, confidence),
            "mean_ce_bits": float(finite.mean()) if finite.size else float("nan"),
            "ce_ucb_bits": mean_upper_bound(finite, confidence) if finite.size else float("nan"),
            "accuracy": float(result.accuracy.mean()), "nan_failures": nan_failures}


def count_check(name: str, claim: str, points: list[dict], log2_npr, log2_alphabet, params: dict | None = None, *,
                confidence: float = CONFIDENCE, **compare_args) -> Check:
    """T1 count check over measured points: ``n*log2|A| + log2 f_lower <= log2 Npr`` at the tightest point.

    Points with no success give no information (f_lower = 0) and are skipped; if none is left, the
    empirical side is 0 bits (the check then holds vacuously). ``confidence`` is the level of f_lower and
    is recorded on the check (a statistical check); ``compare_args`` (kind, theorem) go to :func:`compare`.

    Example:
        >>> count_check("x", "c", [{"n": 10, "successes": 10, "trials": 10}], 8, 1.0).passed
        False
    """
    best, best_pt = mpmath.mpf(0), None
    with mpmath.workdps(DEFAULT_DPS):
        for p in points:
            if p["successes"] == 0:
                continue
            f_lower = clopper_pearson_lower(p["successes"], p["trials"], confidence)
            bits = p["n"] * mpf(log2_alphabet) + mpmath.log(mpf(f_lower), 2)
            if best_pt is None or bits > best:
                best, best_pt = bits, p
        best = max(best, mpmath.mpf(0))
    prm = dict(params or {})
    prm["tightest_point"] = None if best_pt is None else {k: best_pt[k] for k in ("n", "successes", "trials")}
    prm["points"] = [{k: p[k] for k in ("n", "successes", "trials")} for p in points]
    return compare(name, claim, bound=mpf(log2_npr), empirical=best, unit="bits", params=prm, confidence=confidence,
                   **compare_args)


def soft_check(name: str, claim: str, points: list[dict], log2_npr, log2_alphabet, params: dict | None = None,
               **compare_args) -> Check:
    """Soft T1: mean cross-entropy (upper confidence bound) >= ``n*log2|A| - log2 Npr``, at the tightest point.

    A negative floor is replaced by 0 (the claim then holds trivially; the ratio is inf and the check is
    marked vacuous).

    Example:
        >>> soft_check("x", "c", [{"n": 6, "ce_ucb_bits": 2.0, "mean_ce_bits": 1.5}], 16, 4.0).passed
        False
    """
    best = None
    with mpmath.workdps(DEFAULT_DPS):
        for p in points:
            if not math.isfinite(p.get("ce_ucb_bits", float("nan"))):
                continue
            floor = max(mpmath.mpf(0), p["n"] * mpf(log2_alphabet) - mpf(log2_npr))
            emp = mpf(p["ce_ucb_bits"])
            ratio = mpmath.inf if floor == 0 else emp / floor
            if best is None or ratio < best[0]:
                best = (ratio, floor, emp, p)
    if best is None:
        return failed(name, claim, "no finite cross-entropy measured", params)
    prm = dict(params or {})
    prm.update({"n": best[3]["n"], "mean_ce_bits": best[3]["mean_ce_bits"]})
    return compare(name, claim, bound=best[1], empirical=best[2], direction="lower", unit="bits", params=prm,
                   **compare_args)
