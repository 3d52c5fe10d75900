"""Compare two verify reports check by check: same measured values within a float tolerance?

    python scripts/compare_reports.py OLD/report.json NEW/report.json [--rtol 1e-9] [--json]

Prints, for the checks present in both reports, those whose measured value (``empirical``) or verdict
changed, then the checks only in one of them, and a summary line. Exit 0 when every shared check has the
same verdict and a measured value equal within ``--rtol`` (relative) or 1e-12 (absolute), 1 otherwise,
2 on a missing or unreadable file. The bound side may legitimately change (a sharper constant); it is
listed, not judged.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # the repository, so that a plain python finds bounds

from bounds.cli import ArgumentParser, UsageError, entry_point  # noqa: E402


def _load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
        return {c["name"]: c for c in report["checks"]}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None


def _same(a, b, rtol: float) -> bool:
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= max(1e-12, rtol * max(abs(a), abs(b)))


def compare(old: dict, new: dict, rtol: float) -> dict:
    """Differences between two ``{name: check}`` maps (see the module docstring).

    Example:
        >>> a = {"x": {"empirical": 1.0, "bound": 2.0, "passed": True}}
        >>> b = {"x": {"empirical": 1.0 + 1e-12, "bound": 1.5, "passed": True}}
        >>> d = compare(a, b, 1e-9)
        >>> d["measured_changed"], d["bound_changed"]
        ([], ['x'])
    """
    shared = [n for n in old if n in new]
    measured = [n for n in shared if not _same(old[n].get("empirical"), new[n].get("empirical"), rtol)]
    verdict = [n for n in shared if old[n].get("passed") != new[n].get("passed")]
    bound = [n for n in shared if not _same(old[n].get("bound"), new[n].get("bound"), rtol)]
    return {
        "shared": len(shared),
        "measured_changed": measured,
        "verdict_changed": verdict,
        "bound_changed": bound,
        "only_old": sorted(set(old) - set(new)),
        "only_new": sorted(set(new) - set(old)),
    }


@entry_point("compare_reports")
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python scripts/compare_reports.py", description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rtol", type=float, default=1e-9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    old, new = _load(args.old), _load(args.new)
    diff = compare(old, new, args.rtol)
    if args.json:
        print(json.dumps(diff, indent=1))
    else:
        for name in diff["measured_changed"]:
            print(f"measured  {name}: {old[name].get('empirical')} -> {new[name].get('empirical')}")
        for name in diff["verdict_changed"]:
            print(f"verdict   {name}: {old[name].get('passed')} -> {new[name].get('passed')}")
        for name in diff["bound_changed"]:
            print(f"bound     {name}: {old[name].get('bound')} -> {new[name].get('bound')}")
        for name in diff["only_old"]:
            print(f"removed   {name}")
        for name in diff["only_new"]:
            print(f"added     {name}")
        print(f"{diff['shared']} shared checks: {len(diff['measured_changed'])} measured values changed, "
              f"{len(diff['verdict_changed'])} verdicts changed, {len(diff['bound_changed'])} bounds changed; "
              f"{len(diff['only_old'])} removed, {len(diff['only_new'])} added")
    return 1 if diff["measured_changed"] or diff["verdict_changed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
