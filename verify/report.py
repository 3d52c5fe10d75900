"""Checks and reports: one measured number against one bound, compared at high precision.

Every check of ``python -m verify.all`` is a :class:`Check` of one of four kinds (:data:`KINDS`):

- ``bound``: a theorem's inequality on measured data; it can fail only if the premises or the code are wrong;
- ``premise``: an assumption of a theorem verified numerically (error against a tolerance);
- ``phenomenon``: predicted or explained by the theory, not forced by it (a threshold we chose);
- ``instrument``: the measurement can see something (the optimizer finds planted prompts).

``bound`` and ``premise`` checks name the result they test by its key in ``bounds.all_results()``.
A check holds a claim ("measured <= bound", or ">=" for lower claims), both numbers, and its **room**
(stored as ``ratio``), oriented the same way for every check: **room >= 1 iff the claim holds**, room =
bound/measured for upper claims and measured/bound for lower ones (for a premise: tolerance/error).
A ``bound`` check with room above :data:`WEAK_ROOM` is *weak*: the measurement is far from the bound, so
the pass says little (stored as ``vacuous``, the report's older name). Premises are never weak (a tiny
error is the strongest result there is), nor are phenomena and instruments (their thresholds are
requirements chosen here). A statistical check compares a confidence bound (its level in
``confidence``) and may carry its point estimate (``params["estimate"]``).

Comparisons are done with mpmath at ``bounds.evaluate.DEFAULT_DPS`` significant digits (the precision of ``bounds``), so
bounds given as log2 of astronomically large counts are compared without overflow or rounding surprises.

Example:
    >>> c = compare("demo", "bits stored <= T1 bound", bound=64, empirical=40, unit="bits", kind="bound",
    ...             theorem="t1_grid")
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

from bounds.evaluate import DEFAULT_DPS
from bounds.precision import is_mpf
from verify.stats import clopper_pearson_lower, clopper_pearson_upper  # noqa: F401  (re-exported for old callers)
from verify.store import write_atomic

KINDS = ("bound", "premise", "phenomenon", "instrument")
WEAK_ROOM = 10          # a bound check passing with more than 10x room is weak evidence
VACUOUS_RATIO = 1000    # checks that declare no kind yet: the old rule
LEGEND = {
    "bound": "a theorem's inequality on measured data (fails only if a premise or the code is wrong)",
    "premise": "an assumption of a theorem verified numerically (error against a tolerance; never weak)",
    "phenomenon": "predicted or explained by the theory, not forced by it (a threshold chosen here)",
    "instrument": "the measurement can see something (else a pass of the other checks would mean little)",
}


@dataclass
class Check:
    """One verdict of ``verify.all``; ``bound``/``empirical`` are floats in the unit named in ``params``."""

    name: str
    claim: str
    passed: bool
    vacuous: bool                    # "weak": see the module docstring (judged per kind)
    bound: float | None
    empirical: float | None
    ratio: float | None              # room: >= 1 iff the claim holds (see the module docstring)
    params: dict = field(default_factory=dict)
    kind: str | None = None          # one of KINDS
    theorem: str | None = None       # key of bounds.all_results(); required for kind bound and premise
    confidence: float | None = None  # confidence level of a statistical check (None if exact)
    source: dict | None = None       # None: measured in this run; else where it was read (committed_source)

    def to_json(self) -> dict:
        return asdict(self)


SOURCE_KEYS = ("file", "commit", "measured_utc", "machine", "confidence")


def committed_source(path: str | Path, *, measured_utc: str | None, machine: str | None,
                     confidence: float | None, commit: str | None = None) -> dict:
    """The ``source`` record of checks read back from a committed result file instead of measured now.

    ``file`` is ``path`` relative to the repository (``results/...``); ``commit`` the commit the
    measurement ran at when the file records it, else the last commit that touched the file (``git log``),
    else None (not in a git checkout); ``measured_utc``, ``machine`` and ``confidence`` (the level its
    statistical checks were measured at, or None) come from the file.

    Example:
        >>> src = committed_source("results/x.json", measured_utc="2026-01-01T00:00:00Z", machine="2 CPUs",
        ...                        confidence=0.999, commit="abc")
        >>> sorted(src) == sorted(SOURCE_KEYS), src["file"], src["commit"]
        (True, 'results/x.json', 'abc')
    """
    import subprocess

    root = Path(__file__).resolve().parents[1]
    path = Path(path)
    try:
        rel = str(path.resolve().relative_to(root))
    except ValueError:
        rel = str(path)
    if commit is None:
        try:
            got = subprocess.run(["git", "log", "-1", "--format=%H", "--", rel], cwd=root, capture_output=True,
                                 text=True, timeout=30)
            commit = got.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            commit = None
    return {"file": rel, "commit": commit, "measured_utc": measured_utc, "machine": machine,
            "confidence": confidence}


def with_source(checks: list["Check"], source: dict | None) -> list["Check"]:
    """Mark every check of ``checks`` as read from ``source`` (see :func:`committed_source`); returns them."""
    for c in checks:
        c.source = None if source is None else dict(source)
    return checks


def mpf(x) -> mpmath.mpf:
    """``x`` as an mpmath number; a float through its shortest decimal repr (0.1 stays 0.1, not 0.1000000000000000055),
    an mpf of any context (a bound's, `bounds.precision.MP`) as it is.

    Example:
        >>> with mpmath.workdps(30):
        ...     print(mpf(0.1), mpf(3), mpf("1e400") > mpf(1e300))
        0.1 3.0 True
    """
    return x if is_mpf(x) else mpmath.mpf(str(x) if isinstance(x, float) else x)


def _to_float(x: mpmath.mpf) -> float:
    """Float for the report; +-inf is written only when the number truly exceeds the float range."""
    if not mpmath.isfinite(x):
        return float(x)
    return float(x) if abs(x) < mpmath.mpf("1e308") else math.copysign(math.inf, float(mpmath.sign(x)))


def check_kind(name: str, kind: str | None, theorem: str | None) -> None:
    """Raise ValueError unless ``kind`` is one of KINDS and a bound/premise names a key of bounds.all_results().

    Example:
        >>> check_kind("x", "premise", "log2_meanfield")
        >>> check_kind("x", "bound", None)
        Traceback (most recent call last):
        ...
        ValueError: x: a bound check must name the result it tests (theorem=<key of bounds.all_results()>)
    """
    if kind is None:
        return  # an experiment not converted yet (reported under "kind not declared")
    if kind not in KINDS:
        raise ValueError(f"{name}: kind must be one of {', '.join(KINDS)} (got {kind!r})")
    if theorem is None and kind in ("bound", "premise"):
        raise ValueError(f"{name}: a {kind} check must name the result it tests (theorem=<key of bounds.all_results()>)")
    if theorem is not None:
        from bounds import all_results

        if theorem not in all_results():
            raise ValueError(f"{name}: unknown theorem {theorem!r}; known: {', '.join(sorted(all_results()))}")


def is_weak(kind: str | None, room: float | None) -> bool:
    """Weak evidence, judged per kind: a bound with room > WEAK_ROOM (the measurement is far from the
    bound). Never a premise (a tiny error is the strongest result), a phenomenon or an instrument (their
    thresholds are requirements chosen here: a large room is a clear pass, not a loose theorem).

    Example:
        >>> is_weak("bound", 119.0), is_weak("premise", 1e4), is_weak("phenomenon", float("inf"))
        (True, False, False)
    """
    if room is None:
        return False
    if kind == "bound":
        return room > WEAK_ROOM
    if kind in KINDS:
        return False
    return room > VACUOUS_RATIO


def compare(name: str, claim: str, bound, empirical, *, direction: str = "upper", unit: str = "",
            params: dict | None = None, digits: int = DEFAULT_DPS, kind: str | None = None,
            theorem: str | None = None, confidence: float | None = None, estimate=None) -> Check:
    """Compare ``empirical`` with ``bound`` at ``digits`` digits and return a :class:`Check`.

    ``direction="upper"``: the claim is empirical <= bound, room = bound/empirical.
    ``direction="lower"``: the claim is empirical >= bound, room = empirical/bound.
    Both numbers must be non-negative (compare logs of counts, bits, tokens, errors...). A zero
    denominator gives room inf. ``confidence``: the level of the confidence bound given as ``empirical``
    (a statistical check); ``estimate``: its point estimate, recorded beside it.

    Example:
        >>> compare("r2", "R^2 of n50 on m >= 0.95", bound=0.95, empirical=0.99, direction="lower",
        ...         kind="phenomenon").passed
        True
    """
    if direction not in ("upper", "lower"):
        raise ValueError("direction must be 'upper' or 'lower'")
    check_kind(name, kind, theorem)
    with mpmath.workdps(digits):
        b, e = mpf(bound), mpf(empirical)
        if b < 0 or e < 0:
            raise ValueError(f"{name}: compare non-negative quantities (got bound={b}, empirical={e})")
        num, den = (b, e) if direction == "upper" else (e, b)
        ratio = mpmath.inf if den == 0 else num / den
        passed = bool(e <= b) if direction == "upper" else bool(e >= b)
        p = dict(params or {})
        p.setdefault("unit", unit)
        p.setdefault("direction", direction)
        p["bound_exact"] = mpmath.nstr(b, 20)
        p["empirical_exact"] = mpmath.nstr(e, 20)
        if estimate is not None:
            p["estimate"] = _to_float(mpf(estimate))
        room = _to_float(ratio)
        return Check(name, claim, passed, is_weak(kind, room), _to_float(b), _to_float(e), room, p,
                     kind=kind, theorem=theorem, confidence=confidence)


def failed(name: str, claim: str, reason: str, params: dict | None = None, *, kind: str | None = None,
           theorem: str | None = None) -> Check:
    """A check that could not be evaluated (crash, NaN loss, missing model): it fails with its reason.

    Example:
        >>> failed("x", "y", "loss became NaN").passed
        False
    """
    p = dict(params or {})
    p["error"] = reason
    return Check(name, claim, False, False, None, None, None, p, kind=kind, theorem=theorem)


def environment() -> dict:
    """Versions and machine facts recorded with every report.

    Example:
        >>> sorted(environment())[:3]
        ['cuda', 'mpmath', 'numpy']
    """
    import numpy
    import scipy
    import sympy
    import torch

    return {
        "python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
        "numpy": numpy.__version__, "scipy": scipy.__version__, "sympy": sympy.__version__,
        "mpmath": mpmath.__version__, "cuda": torch.cuda.is_available(), "threads": torch.get_num_threads(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "inf"
    return f"{x:.4g}"


def verdict(check: Check) -> str:
    """FAIL, pass (weak) or pass.

    Example:
        >>> verdict(compare("x", "c", bound=1000, empirical=1, kind="bound", theorem="t1_grid"))
        'pass (weak)'
    """
    if not check.passed:
        return "FAIL"
    return "pass (weak)" if check.vacuous else "pass"


def _measured(c: Check) -> str:
    """The measured side; for a statistical check, the confidence bound with the point estimate beside it."""
    text = _fmt(c.empirical)
    if c.confidence is not None:
        est = c.params.get("estimate")
        text += f" ({_fmt(est)}; {100 * c.confidence:.6g}% bound)" if est is not None else \
            f" ({100 * c.confidence:.6g}% bound)"
    return text


def _exact(c: Check, side: str) -> str:
    """A number beyond the float range is shown from its exact digits (``params[side + "_exact"]``)."""
    x = getattr(c, side)
    if x is not None and math.isinf(x) and f"{side}_exact" in c.params:
        return str(mpmath.nstr(mpmath.mpf(c.params[f"{side}_exact"]), 4))
    return _fmt(x)


def _row(c: Check) -> str:
    claim = c.claim + (f" ({c.params['error']})" if "error" in c.params else "")
    if c.source:
        claim += f" [read from {c.source['file']}]"
    room = c.ratio
    if room is not None and math.isinf(room) and c.bound is not None and c.empirical:
        with mpmath.workdps(DEFAULT_DPS):  # room of a bound beyond the float range, from the exact digits
            b, e = mpmath.mpf(c.params.get("bound_exact", c.bound)), mpmath.mpf(c.params.get("empirical_exact", c.empirical))
            r = b / e if c.params.get("direction", "upper") == "upper" else e / b
            return (f"| {c.name} | {claim} | {_exact(c, 'bound')} | {_measured(c)} | {mpmath.nstr(r, 4)} | "
                    f"{verdict(c)} |")
    return f"| {c.name} | {claim} | {_exact(c, 'bound')} | {_measured(c)} | {_fmt(room)} | {verdict(c)} |"


HEADER = ["| check | claim | bound or threshold | measured | room | verdict |", "|---|---|---|---|---|---|"]


def markdown_table(checks: list[Check]) -> str:
    """One table of checks (check, claim, bound, measured, room, verdict) in Markdown.

    Example:
        >>> print(markdown_table([compare("x", "1 <= 2", bound=2, empirical=1, kind="phenomenon")]).splitlines()[-1])
        | x | 1 <= 2 | 2 | 1 | 2 | pass |
    """
    return "\n".join(HEADER + [_row(c) for c in checks])


def grouped_markdown(checks: list[Check]) -> str:
    """Checks grouped by theorem (in order of first appearance; checks of no theorem last), then by kind.

    Example:
        >>> cs = [compare("a", "c", bound=2, empirical=1, kind="phenomenon"),
        ...       compare("b", "c", bound=2, empirical=1, kind="bound", theorem="t1_grid")]
        >>> [l for l in grouped_markdown(cs).splitlines() if l.startswith("#")]
        ['## t1_grid: T1 (exact grid form)', '### bound', '## no theorem', '### phenomenon']
    """
    from bounds import all_results

    results = all_results()
    theorems = list(dict.fromkeys(c.theorem for c in checks if c.theorem is not None))
    out = []
    for theorem in theorems + [None]:
        group = [c for c in checks if c.theorem == theorem]
        if not group:
            continue
        title = f"{theorem}: {results[theorem].name}" if theorem in results else (theorem or "no theorem")
        out.append(f"## {title}")
        for kind in KINDS + (None,):
            rows = [c for c in group if c.kind == kind]
            if rows:
                out += [f"### {kind or 'kind not declared'}", "", markdown_table(rows), ""]
    return "\n".join(out)


def provenance_markdown(checks: list[Check]) -> str:
    """Which checks were measured in this run and which were read from committed files (with their source).

    Empty when every check was measured in this run.

    Example:
        >>> c = compare("x", "c", bound=2, empirical=1, kind="phenomenon")
        >>> provenance_markdown([c])
        ''
        >>> c.source = {"file": "results/r.json", "commit": "abc", "measured_utc": "t", "machine": "m",
        ...             "confidence": None}
        >>> print(provenance_markdown([c]).splitlines()[0])
        0 checks measured in this run; 1 read back from committed files (not measured now):
    """
    read = [c for c in checks if c.source]
    if not read:
        return ""
    lines = [f"{len(checks) - len(read)} checks measured in this run; {len(read)} read back from committed files "
             "(not measured now):", "", "| file | commit | measured (UTC) | machine | confidence | checks |",
             "|---|---|---|---|---|---|"]
    groups: dict = {}
    for c in read:
        key = tuple(str(c.source.get(k)) for k in SOURCE_KEYS)
        groups.setdefault(key, []).append(c.name)
    for (file, commit, utc, mach, conf), names in groups.items():
        lines.append(f"| {file} | {commit[:12] if commit != 'None' else '-'} | {utc} | {mach} | {conf} | "
                     f"{', '.join(names)} |")
    return "\n".join(lines) + "\n\n"


TIGHT_ROOM = 1.5  # a bound check with room <= 1.5 at its point estimate catches an error of the bound above 1.5x


def point_room(c: Check) -> float | None:
    """The room of a bound check at its point estimate (statistical checks) or at its measurement (exact).

    Example:
        >>> point_room(compare("x", "c", bound=16, empirical=12, estimate=15, kind="bound", theorem="t1_grid",
        ...                    confidence=0.99))
        1.0666666666666667
    """
    est = (c.params or {}).get("estimate")
    if est is None or c.bound is None:
        return c.ratio
    if (c.params or {}).get("direction") == "lower":
        return math.inf if c.bound == 0 else est / c.bound
    return math.inf if est == 0 else c.bound / est


def tightness(checks: list[Check]) -> list[dict]:
    """Per theorem key with bound checks: the tightest one (smallest room at its point estimate), its room,
    and, when that room is above :data:`TIGHT_ROOM`, what limits it (the check's ``limited_by`` param, or
    "not stated"). A bound check can only catch an error of the bound larger than its room.

    Example:
        >>> cs = [compare("a", "c", bound=10, empirical=2, kind="bound", theorem="t1_grid",
        ...               params={"limited_by": "the optimizer"}),
        ...       compare("b", "c", bound=10, empirical=8, kind="bound", theorem="t1_grid")]
        >>> [(r["theorem"], r["check"], r["point_room"], r["limited_by"]) for r in tightness(cs)]
        [('t1_grid', 'b', 1.25, None)]
    """
    best: dict = {}
    for c in checks:
        if c.kind != "bound" or c.theorem is None or point_room(c) is None:
            continue
        if c.theorem not in best or point_room(c) < point_room(best[c.theorem]):
            best[c.theorem] = c
    rows = []
    for key, c in best.items():
        room = point_room(c)
        rows.append({"theorem": key, "check": c.name, "point_room": room, "room": c.ratio,
                     "bound_checks": sum(x.kind == "bound" and x.theorem == key for x in checks),
                     "limited_by": None if room <= TIGHT_ROOM else (c.params or {}).get("limited_by", "not stated")})
    return rows


def tightness_markdown(checks: list[Check]) -> str:
    """The :func:`tightness` table for report.md (empty without bound checks)."""
    rows = tightness(checks)
    if not rows:
        return ""
    lines = [f"## Tightness per theorem\n\nThe tightest bound check of each theorem key; room at the point "
             f"estimate. A room above {TIGHT_ROOM} says what limits it.\n",
             "| theorem | bound checks | tightest | room (point) | room (confidence bound) | limited by |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['theorem']} | {r['bound_checks']} | {r['check']} | {_fmt(r['point_room'])} | "
                     f"{_fmt(r['room'])} | {r['limited_by'] or '-'} |")
    return "\n".join(lines) + "\n\n"


def legend() -> str:
    """What the kinds and the columns mean (printed at the top of report.md)."""
    kinds = "\n".join(f"- **{k}**: {v}" for k, v in LEGEND.items())
    return (f"{kinds}\n\n**room** is oriented the same way in every row: room >= 1 iff the claim holds; "
            "room = bound/measured for upper claims (measured <= bound), measured/bound for lower claims "
            "(measured >= bound); for a premise, tolerance/error. **weak**: a bound check with room > "
            f"{WEAK_ROOM} (the measured value is far from the bound, so the pass says little); premises, "
            "phenomena and instruments are never weak (their thresholds are requirements). A statistical "
            "check compares a one-sided confidence bound at the stated level (its point estimate beside it).")


def write_report(out_dir: str | Path, checks: list[Check], extra: dict | None = None) -> Path:
    """Write ``report.json`` and ``report.md`` atomically (a crash mid-write never leaves half a file).

    ``extra`` is merged into report.json (``statistics`` among it is summarized at the top of report.md).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"checks": [c.to_json() for c in checks], "environment": environment(), "tightness": tightness(checks)}
    payload.update(extra or {})
    write_atomic(out / "report.json", json.dumps(payload, indent=2, default=str))
    n_fail = sum(not c.passed for c in checks)
    n_weak = sum(c.vacuous for c in checks)
    stats = (extra or {}).get("statistics")
    fwe = "" if not stats else (
        f" Statistical checks: {stats['checks']}, each at confidence {stats['per_check_confidence']:.6g} "
        f"({stats['method']}; a correct implementation fails this run by chance with probability at most "
        f"{stats['family_wise_error']:g}).")
    md = (f"# Verification report\n\n{len(checks)} checks, {n_fail} failed, {n_weak} weak.{fwe}\n\n"
          f"{provenance_markdown(checks)}{legend()}\n\n{tightness_markdown(checks)}{grouped_markdown(checks)}\n")
    write_atomic(out / "report.md", md)
    return out / "report.json"


def write_data(out_dir: str | Path, name: str, data: dict) -> Path:
    """Save the data a figure needs as ``DIR/data/NAME.json`` (atomic)."""
    return write_atomic(Path(out_dir) / "data" / f"{name}.json", json.dumps(data, indent=1, default=float))
