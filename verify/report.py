"""Checks and reports: one measured number against one bound, compared at high precision.

Every check of ``python -m verify.all`` is a :class:`Check`. It holds a claim ("empirical <= bound", or
">=" for requirements such as "n50 at m = 1 is at least 8"), both numbers, and the ratio that says how
tight the claim is. The ratio is oriented so that **ratio >= 1 means the claim holds**: bound/empirical
for upper bounds, empirical/bound for lower bounds. A check whose ratio exceeds :data:`VACUOUS_RATIO`
passes with so much room that it is weak evidence, and the report says so.

Comparisons are done with mpmath at :data:`DIGITS` significant digits, so bounds given as log2 of
astronomically large counts are compared without overflow or rounding surprises.

Example:
    >>> c = compare("demo", "bits stored <= T1 bound", bound=64, empirical=40, unit="bits")
    >>> c.passed, round(c.ratio, 2), c.vacuous
    (True, 1.6, False)
"""
from __future__ import annotations

import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mpmath

DIGITS = 50
VACUOUS_RATIO = 1000
KINDS = ("bound", "premise", "phenomenon", "instrument")


@dataclass
class Check:
    """One verdict of ``verify.all``; ``bound``/``empirical`` are floats in the unit named in ``params``."""

    name: str
    claim: str
    passed: bool
    vacuous: bool
    bound: float | None
    empirical: float | None
    ratio: float | None
    params: dict = field(default_factory=dict)
    kind: str | None = None          # one of KINDS
    theorem: str | None = None       # key of bounds.all_results(); required for kind bound and premise
    confidence: float | None = None  # confidence level of a statistical check (None if exact)

    def to_json(self) -> dict:
        return asdict(self)


def _mpf(x) -> mpmath.mpf:
    return x if isinstance(x, mpmath.mpf) else mpmath.mpf(str(x) if isinstance(x, float) else x)


def _to_float(x: mpmath.mpf) -> float:
    """Float for the report; +-inf is written only when the number truly exceeds the float range."""
    if not mpmath.isfinite(x):
        return float(x)
    return float(x) if abs(x) < mpmath.mpf("1e308") else math.copysign(math.inf, float(mpmath.sign(x)))


def compare(name: str, claim: str, bound, empirical, *, direction: str = "upper", unit: str = "",
            params: dict | None = None, digits: int = DIGITS, vacuous_ratio: float = VACUOUS_RATIO,
            kind: str | None = None, theorem: str | None = None, confidence: float | None = None) -> Check:
    """Compare ``empirical`` with ``bound`` at ``digits`` digits and return a :class:`Check`.

    ``direction="upper"``: the claim is empirical <= bound, ratio = bound/empirical.
    ``direction="lower"``: the claim is empirical >= bound, ratio = empirical/bound.
    Both numbers must be non-negative (compare logs of counts, bits, tokens, errors...). A zero
    denominator gives ratio inf (the claim holds trivially and the check is vacuous).

    Example:
        >>> compare("r2", "R^2 of n50 on m >= 0.95", bound=0.95, empirical=0.99, direction="lower").passed
        True
    """
    if direction not in ("upper", "lower"):
        raise ValueError("direction must be 'upper' or 'lower'")
    with mpmath.workdps(digits):
        b, e = _mpf(bound), _mpf(empirical)
        if b < 0 or e < 0:
            raise ValueError(f"{name}: compare non-negative quantities (got bound={b}, empirical={e})")
        num, den = (b, e) if direction == "upper" else (e, b)
        ratio = mpmath.inf if den == 0 else num / den
        passed = bool(e <= b) if direction == "upper" else bool(e >= b)
        vacuous = bool(ratio > vacuous_ratio)
        p = dict(params or {})
        p.setdefault("unit", unit)
        p.setdefault("direction", direction)
        p["bound_exact"] = mpmath.nstr(b, 20)
        p["empirical_exact"] = mpmath.nstr(e, 20)
        return Check(name, claim, passed, vacuous, _to_float(b), _to_float(e), _to_float(ratio), p,
                     kind=kind, theorem=theorem, confidence=confidence)


def failed(name: str, claim: str, reason: str, params: dict | None = None) -> Check:
    """A check that could not be evaluated (crash, NaN loss, missing model): it fails with its reason.

    Example:
        >>> failed("x", "y", "loss became NaN").passed
        False
    """
    p = dict(params or {})
    p["error"] = reason
    return Check(name, claim, False, False, None, None, None, p)


def clopper_pearson_lower(successes: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided lower confidence bound on a binomial proportion (exact, Clopper-Pearson).

    Example:
        >>> round(clopper_pearson_lower(10, 10), 4)
        0.7411
        >>> clopper_pearson_lower(0, 10)
        0.0
    """
    from scipy.stats import beta

    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, trials > 0 (got {successes}/{trials})")
    if successes == 0:
        return 0.0
    return float(beta.ppf(1 - confidence, successes, trials - successes + 1))


def clopper_pearson_upper(successes: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound on a binomial proportion.

    Example:
        >>> clopper_pearson_upper(10, 10)
        1.0
    """
    from scipy.stats import beta

    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, trials > 0 (got {successes}/{trials})")
    if successes == trials:
        return 1.0
    return float(beta.ppf(confidence, successes + 1, trials - successes))


def environment() -> dict:
    """Versions and machine facts recorded with every report."""
    import numpy
    import sympy
    import torch

    return {
        "python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
        "numpy": numpy.__version__, "sympy": sympy.__version__, "mpmath": mpmath.__version__,
        "cuda": torch.cuda.is_available(), "threads": torch.get_num_threads(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "inf"
    return f"{x:.4g}"


def verdict(check: Check) -> str:
    if not check.passed:
        return "FAIL"
    return "pass (vacuous)" if check.vacuous else "pass"


def markdown_table(checks: list[Check]) -> str:
    """The summary table (check, claim, bound, empirical, ratio, verdict) in Markdown."""
    rows = ["| check | claim | bound | empirical | ratio | verdict |", "|---|---|---|---|---|---|"]
    for c in checks:
        claim = c.claim + (f" ({c.params['error']})" if "error" in c.params else "")
        rows.append(f"| {c.name} | {claim} | {_fmt(c.bound)} | {_fmt(c.empirical)} | {_fmt(c.ratio)} | {verdict(c)} |")
    return "\n".join(rows)


def write_report(out_dir: str | Path, checks: list[Check], extra: dict | None = None) -> Path:
    """Write ``report.json`` and ``report.md`` atomically (a crash mid-write never leaves half a file)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"checks": [c.to_json() for c in checks], "environment": environment()}
    payload.update(extra or {})
    tmp = out / "report.json.tmp"
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    tmp.replace(out / "report.json")
    n_fail = sum(not c.passed for c in checks)
    n_vac = sum(c.vacuous for c in checks)
    md = (f"# Verification report\n\n{len(checks)} checks, {n_fail} failed, {n_vac} vacuous "
          f"(ratio > {VACUOUS_RATIO}).\n\n{markdown_table(checks)}\n")
    tmp = out / "report.md.tmp"
    tmp.write_text(md)
    tmp.replace(out / "report.md")
    return out / "report.json"


def write_data(out_dir: str | Path, name: str, data: dict) -> Path:
    """Save the data a figure needs as ``DIR/data/NAME.json`` (atomic)."""
    path = Path(out_dir) / "data" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    tmp.replace(path)
    return path
