"""T1's count form as a check over measured points: ``n*log2|A| + log2 f_lower <= log2 Npr``.

An experiment that measures accessible fractions f at several lengths (``dataset``: N labellings through
one prompt) checks that no measured point stores more than T1 allows; the points themselves are recorded
by :mod:`verify.measure`. Every number is compared at the precision of ``bounds``
(``bounds.evaluate.DEFAULT_DPS``).

Example (20/20 successes at 8 letters of a 26-letter alphabet, bound 40 bits):
    >>> pts = [{"n": 8, "successes": 20, "trials": 20}]
    >>> c = count_check("demo", "claim", pts, log2_npr=40, log2_alphabet=4.7, confidence=0.95)
    >>> c.passed, 37 < c.empirical < 38
    (True, True)
"""
from __future__ import annotations

import mpmath

from bounds.evaluate import DEFAULT_DPS
from verify.report import Check, compare, mpf
from verify.stats import clopper_pearson_lower


def count_check(name: str, claim: str, points: list[dict], log2_npr, log2_alphabet, params: dict | None = None, *,
                confidence: float, **compare_args) -> Check:
    """T1 count check over measured points: ``n*log2|A| + log2 f_lower <= log2 Npr`` at the tightest point.

    Points with no success give no information (f_lower = 0) and are skipped; if none is left, the
    empirical side is 0 bits (the check then holds vacuously). ``confidence`` is the level of f_lower and
    is recorded on the check (a statistical check); ``compare_args`` (kind, theorem) go to :func:`compare`.

    Example:
        >>> count_check("x", "c", [{"n": 10, "successes": 10, "trials": 10}], 8, 1.0, confidence=0.95).passed
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
