"""Read what ``python -m verify.all`` wrote: ``report.json`` (the checks) and ``data/NAME.json`` (figure data).

A figure asks for the data it needs with :meth:`Report.data` or :meth:`Report.check`; when it is not
there, :class:`MissingData` says which file or key is missing, and ``figures.all`` skips that one figure.
Readers shared by several figures live here too: :func:`cramming_curves` and :func:`control_points`
(``data/cramming.json``), :func:`zoo_geometry` (``data/geometry.json``).

Example:
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "report.json").write_text(json.dumps({"checks": [{"name": "a", "passed": True}]}))
    >>> r = Report(d)
    >>> r.check("a")["passed"]
    True
    >>> try:
    ...     r.data("cramming")
    ... except MissingData as e:
    ...     print(e)
    no data/cramming.json in the report
"""
from __future__ import annotations

import json
import math
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"  # a real quick run, for examples


class MissingData(LookupError):
    """The report lacks a file or key a figure needs; the message is one line naming it."""


class Report:
    """A verify output folder: ``report.json`` plus ``data/*.json``.

    ``Report(None)`` is an empty report (every lookup raises :class:`MissingData`): only figures drawn from
    the bounds alone (published presets) still work from it.
    """

    def __init__(self, folder: str | Path | None, profile: str = "quick"):
        self.folder = None if folder is None else Path(folder)
        self.profile = profile
        self._data: dict[str, dict] = {}
        self.checks: dict[str, dict] = {}
        if self.folder is not None and (self.folder / "report.json").is_file():
            blob = json.loads((self.folder / "report.json").read_text())
            self.checks = {c["name"]: c for c in blob.get("checks", [])}
            self.profile = blob.get("profile", profile)

    def has(self, name: str) -> bool:
        """Whether ``data/NAME.json`` exists."""
        return self.folder is not None and (self.folder / "data" / f"{name}.json").is_file()

    def data(self, name: str) -> dict:
        """The dict an experiment saved with ``write_data(out, NAME, ...)``; MissingData if absent."""
        if name not in self._data:
            if not self.has(name):
                raise MissingData(f"no data/{name}.json in the report")
            try:
                self._data[name] = json.loads((self.folder / "data" / f"{name}.json").read_text())
            except json.JSONDecodeError as exc:
                raise MissingData(f"data/{name}.json is not valid JSON ({exc.msg})") from None
        return self._data[name]

    def check(self, name: str) -> dict:
        """One check of report.json as a dict (name, claim, passed, vacuous, bound, empirical, ratio, params)."""
        if name not in self.checks:
            raise MissingData(f"no check {name!r} in report.json")
        return self.checks[name]

    def checks_starting(self, prefix: str) -> list[dict]:
        """Every check whose name starts with ``prefix`` (in report order)."""
        return [c for n, c in self.checks.items() if n.startswith(prefix)]


def need(blob: dict, *keys: str, where: str = "data"):
    """``blob[k1][k2]...`` or MissingData naming the path.

    Example:
        >>> need({"a": {"b": 3}}, "a", "b")
        3
        >>> try:
        ...     need({"a": {}}, "a", "b", where="cramming")
        ... except MissingData as e:
        ...     print(e)
        cramming has no key a.b
    """
    cur = blob
    for i, k in enumerate(keys):
        if not isinstance(cur, dict) or k not in cur:
            raise MissingData(f"{where} has no key {'.'.join(keys[: i + 1])}")
        cur = cur[k]
    return cur


def points_of(entry: dict) -> list[tuple[int, int, int]]:
    """(n, successes, trials) of a per-m entry, whether stored as records or as [n, s, t] triples.

    Example:
        >>> points_of({"points": [{"n": 5, "successes": 1, "trials": 2}, [3, 2, 2]]})
        [(3, 2, 2), (5, 1, 2)]
    """
    out = []
    for p in entry.get("points", []):
        if isinstance(p, dict):
            out.append((int(p["n"]), int(p["successes"]), int(p["trials"])))
        else:
            out.append((int(p[0]), int(p[1]), int(p[2])))
    return sorted(out)


def cramming_curves(report: Report) -> list[dict]:
    """One dict per kind of target from data/cramming.json, normalised for the figures.

    Keys: model, targets, alphabet_size, log2_alphabet, m (list), n50, n50_interval (per m: bootstrap
    [lo, hi] over targets, or None), points (per m: [[n, s, t]]), sigmoid (per m: {x0, k} or None),
    slope/intercept/r2 (None without a fit), slope_interval (bootstrap, or None), curvature (the
    experiment's dict: half slopes, their ratio and difference, quadratic term, each with its interval; or
    None), log2_prompts and n50_bound (per m, T1's float form).

    Example:
        >>> [c["targets"] for c in cramming_curves(Report(FIXTURE))]
        ['natural', 'random']
    """
    data = report.data("cramming")
    model = need(data, "model", where="data/cramming.json")
    kinds = need(data, "kinds", where="data/cramming.json")
    bounds = data.get("bounds", {})
    a = int(model["alphabet_size"])
    curves = []
    for kind in ("natural", "random"):
        if kind not in kinds:
            continue
        per_m = need(kinds, kind, "per_m", where="data/cramming.json")
        ms = sorted(int(m) for m in per_m)
        entries = [per_m[str(m)] if str(m) in per_m else per_m[m] for m in ms]
        fit = kinds[kind].get("fit") or {}
        bnd = [bounds.get(str(m), bounds.get(m, {})) for m in ms]
        curves.append({
            "model": model.get("name", "natural"), "targets": kind, "alphabet_size": a, "log2_alphabet": math.log2(a),
            "m": ms, "n50": [float(e["n50"]) if e.get("n50") is not None else float("nan") for e in entries],
            "points": [[list(p) for p in points_of(e)] for e in entries],
            "sigmoid": [({"x0": e["fit"]["x0"], "k": e["fit"]["k"]} if e.get("fit") else None) for e in entries],
            "n50_interval": [list(e["n50_interval"]) if e.get("n50_interval") else None for e in entries],
            "slope": fit.get("slope"), "intercept": fit.get("intercept"), "r2": fit.get("r2"),
            "slope_interval": list(kinds[kind]["slope_interval"]) if kinds[kind].get("slope_interval") else None,
            "curvature": kinds[kind].get("curvature"),
            "log2_prompts": [b.get("log2_npr") for b in bnd], "n50_bound": [b.get("n50_bound_random") for b in bnd],
            "bound_form": "T1 float form, fp32 prompts in [-r, r]",
        })
    if not curves:
        raise MissingData("data/cramming.json has no target kinds")
    return curves


def control_points(report: Report) -> list[list[int]]:
    """(n, successes, trials) of the random-init control model at m = 1, [] if not measured.

    Example:
        >>> pts = control_points(Report(FIXTURE))
        >>> all(len(p) == 3 and 0 <= p[1] <= p[2] for p in pts)
        True
    """
    ctrl = report.data("cramming").get("control") or {}
    return [list(p) for p in points_of(ctrl)]


def zoo_geometry(report: Report) -> dict:
    """``data/geometry.json`` (``verify.experiments.geometry``): the zoo models' measured support and cells.

    Example:
        >>> list(zoo_geometry(Report(FIXTURE))["models"])
        ['natural', 'witness', 'random']
    """
    data = report.data("geometry")
    if not need(data, "models", where="data/geometry.json"):
        raise MissingData("data/geometry.json measured no zoo model (" + "; ".join(data.get("missing", [])) + ")")
    return data
