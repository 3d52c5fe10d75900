"""``python -m verify.seeds``: run ``verify.all`` over many seeds and report which checks fail at which seeds.

Usage::

    python -m verify.seeds [--profile quick] [--seeds 0-19] [--only NAME|KEY ...] [--out DIR]

A correct implementation must pass at every seed: statistical checks share a family-wise error budget of
1e-3 per run (:mod:`verify.stats`), and phenomena that depend on the sample must hold across seeds. This
runs ``python -m verify.all --seed S --out DIR/seed-S`` for each seed (one after the other; each run
resumes what it had finished, so an interrupted sweep loses nothing), then writes ``DIR/seeds.json``
(per seed: exit code, seconds, failed checks; per check: the seeds where it failed) and prints a summary.
Exit code: 0 iff every seed passed, 1 if any failed, 2 on bad usage.

Example:
    >>> parse_seeds("0-3,7")
    [0, 1, 2, 3, 7]
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from verify.cli import ArgumentParser as _Parser, UsageError, usage_failure
from verify.store import write_atomic


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"A-B"`` ranges and single numbers separated by commas (sorted, unique).

    Example:
        >>> parse_seeds("5,1-2,2")
        [1, 2, 5]
    """
    seeds = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            a, b = int(lo), int(hi) if hi else int(lo)
            if a < 0 or b < a:
                raise ValueError
            seeds.update(range(a, b + 1))
    except ValueError:
        raise UsageError(f"--seeds {text!r}: give ranges like 0-19 or lists like 0,3,5 (non-negative)") from None
    return sorted(seeds)


def run_seed(seed: int, *, profile: str, only: list[str], out: Path) -> dict:
    """One ``verify.all`` run; returns its exit code, wall time and failed checks."""
    argv = [sys.executable, "-m", "verify.all", "--profile", profile, "--seed", str(seed), "--out", str(out)]
    for o in only:
        argv += ["--only", o]
    t0 = time.time()
    proc = subprocess.run(argv, capture_output=True, text=True)
    row = {"seed": seed, "returncode": proc.returncode, "seconds": round(time.time() - t0, 1), "failed": []}
    report = out / "report.json"
    if proc.returncode == 2 or not report.exists():
        row["error"] = (proc.stderr.strip().splitlines() or ["no report"])[-1]
        return row
    checks = json.loads(report.read_text())["checks"]
    row["checks"] = len(checks)
    row["failed"] = [c["name"] for c in checks if not c["passed"]]
    return row


def main(argv=None) -> int:
    p = _Parser(prog="python -m verify.seeds",
                description="Run verify.all over many seeds and report which checks fail at which seeds "
                            "(the theory the checks test: docs/theory.md).")
    p.add_argument("--profile", default="quick", help="profile of every run (default quick)")
    p.add_argument("--seeds", default="0-19", help="seeds, e.g. 0-19 or 0,3,5 (default 0-19)")
    p.add_argument("--only", action="append", default=[], metavar="NAME|KEY",
                   help="experiments or result keys, as for verify.all (repeatable; default: all of the profile)")
    p.add_argument("--out", default="out/seeds", help="one folder per seed under it, and seeds.json (default out/seeds)")
    try:
        args = p.parse_args(sys.argv[1:] if argv is None else argv)
        seeds = parse_seeds(args.seeds)
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {args.out} exists and is not a folder")
    except UsageError as exc:
        return usage_failure("verify.seeds", exc)
    out.mkdir(parents=True, exist_ok=True)
    rows, started = [], time.time()
    for seed in seeds:
        row = run_seed(seed, profile=args.profile, only=args.only, out=out / f"seed-{seed}")
        if "error" in row and row["returncode"] == 2:
            return usage_failure("verify.seeds", row['error'])
        rows.append(row)
        status = "pass" if row["returncode"] == 0 else f"FAIL {', '.join(row['failed']) or row.get('error', '')}"
        print(f"seed {seed:>3}: {status} ({row['seconds']:.0f}s)", flush=True)
    by_check: dict[str, list[int]] = {}
    for row in rows:
        for name in row["failed"]:
            by_check.setdefault(name, []).append(row["seed"])
    summary = {"profile": args.profile, "only": args.only, "seeds": seeds, "runs": rows,
               "failed_checks": by_check, "seeds_failed": sum(r["returncode"] != 0 for r in rows),
               "total_seconds": round(time.time() - started, 1)}
    write_atomic(out / "seeds.json", json.dumps(summary, indent=1))
    print(f"verify.seeds: {len(seeds) - summary['seeds_failed']}/{len(seeds)} seeds passed in "
          f"{summary['total_seconds']:.0f}s" + "".join(f"\n  {n}: failed at seeds {s}" for n, s in by_check.items()))
    return 1 if summary["seeds_failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
