"""``python -m verify.mutants``: break the code on purpose, one bug at a time, and list the checks that turn red.

Usage::

    python -m verify.mutants [--profile quick|full] [--only NAME ...] [--out DIR] [--list]

Each mutant of :data:`MUTANTS` is a deliberate bug written as source edits (file, exact old text, new text).
For each one the harness copies ``bounds/`` and ``verify/`` into a scratch folder, applies the edits there
(an edit whose old text is not found exactly once is an error: the mutant no longer matches the code) and
runs ``python -m verify.all --profile P --only E ... --fresh`` in that copy on the experiments the bug
affects. The checks that fail in that run are the ones that caught the bug; the harness assumes the same
experiments pass unmutated (``python -m verify.all`` on the same profile, as CI runs it). It prints one
row per mutant and a markdown table, writes ``DIR/mutants.json`` (default ``out/mutants``) and exits 1 if
some mutant turned no check red, or fewer than its ``min_red``; 2 on bad usage.

Example (the cheap mutants, about a minute on one core)::

    python -m verify.mutants --profile quick --only meanfield_vocab_div3 --only lipschitz_upper_x01
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from verify.cli import ArgumentParser, UsageError, entry_point

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("bounds", "verify")


@dataclass(frozen=True)
class Mutant:
    """One deliberate bug: ``edits`` are (path relative to the repository, old text, new text) applied to a
    scratch copy; ``experiments`` are run on it; at least ``min_red`` checks must turn red."""

    name: str
    description: str
    experiments: tuple[str, ...]
    edits: tuple[tuple[str, str, str], ...]
    min_red: int = 1
    reds: list = field(default_factory=list, compare=False)


MUTANTS: tuple[Mutant, ...] = (
    Mutant("t1_grid_halved", "bounds.log2_prompts_grid returns half its value",
           ("precision", "dataset", "enumeration"),
           (("bounds/t1.py",
             "return d * m * math.log2(levels)\n", "return d * m * math.log2(levels) / 2\n"),),
           min_red=2),
    Mutant("quantizer_q_plus_1", "the quantizer puts Q+1 levels in [-r, r]",
           ("precision", "dataset", "enumeration"),
           (("verify/engine.py", "    step = 2.0 * radius / (levels - 1)\n", "    step = 2.0 * radius / levels\n"),
            ("verify/engine.py", ".clamp(0, levels - 1) * step - radius", ".clamp(0, levels) * step - radius"))),
    Mutant("box_projection_dropped", "fp32 prompts are no longer projected into [-r, r] after each step",
           ("precision", "dataset"),
           (("verify/engine.py", "    return p_new if config.radius is None else p_new.clamp(-config.radius, config.radius)\n",
             "    return p_new\n"),)),
    Mutant("meanfield_vocab_div3", "bounds.log2_meanfield_vocab divided by 3", ("t2_vocab",),
           (("bounds/t2.py", "    return value + math.log2(vocab) if last_token else value\n",
             "    return (value + math.log2(vocab) if last_token else value) / 3\n"),),
           min_red=2),
    Mutant("lipschitz_upper_x01", "the analytic Lipschitz bound of t2_vocab times 0.1", ("t2_vocab",),
           (("verify/experiments/t2_vocab.py",
             '    l_tv, l_1 = min(final["tv"], closed["tv"]), min(final["q1"], closed["q1"])\n',
             '    l_tv, l_1 = 0.1 * min(final["tv"], closed["tv"]), 0.1 * min(final["q1"], closed["q1"])\n'),)),
    Mutant("nope_positional_leak", "a positional signal in the NoPE models (contexts, t2_vocab)",
           ("contexts", "t2_vocab"),
           (("verify/model.py", "            x = x + self.pos_table[:T].to(x.dtype)\n        return x\n",
             "            x = x + self.pos_table[:T].to(x.dtype)\n"
             "        x = x + 1e-2 * (torch.arange(T, device=x.device, dtype=x.dtype)[:, None]\n"
             "                        * torch.arange(x.shape[-1], device=x.device, dtype=x.dtype))  # not constant\n"
             "        return x\n"),
            ("verify/experiments/t2_vocab.py", "        return self.phi(self.emb[tokens] + a).mean(1)\n",
             "        pos = 1e-2 * torch.arange(tokens.shape[1], dtype=a.dtype)[None, :, None]\n"
             "        return self.phi(self.emb[tokens] + a + pos).mean(1)\n"))),
    Mutant("optimizer_step_noop", "the prompt optimizer's AdamW step leaves the prompt unchanged",
           ("enumeration",),
           (("verify/engine.py",
             "    p_new = p_new - config.lr * (m1 / c1) / ((m2 / c2).sqrt() + config.eps)\n",
             "    p_new = p.clone()\n"),)),
)
BY_NAME = {m.name: m for m in MUTANTS}


def scratch_copy(mutant: Mutant, dest: Path) -> None:
    """Copy ``bounds/`` and ``verify/`` to ``dest`` and apply the mutant's edits (ValueError if an old text is
    not found exactly once: the mutant is stale).

    Example:
        >>> import tempfile; d = Path(tempfile.mkdtemp())
        >>> scratch_copy(BY_NAME["lipschitz_upper_x01"], d)
        >>> "0.1 * min(final" in (d / "verify/experiments/t2_vocab.py").read_text()
        True
    """
    for top in COPIED:
        shutil.copytree(ROOT / top, dest / top, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    for rel, old, new in mutant.edits:
        path = dest / rel
        text = path.read_text()
        if text.count(old) != 1:
            raise ValueError(f"mutant {mutant.name}: the text to edit occurs {text.count(old)} times in {rel}, not once")
        path.write_text(text.replace(old, new))


def run_mutant(mutant: Mutant, profile: str, log=print) -> dict:
    """Run the mutant's experiments on a mutated scratch copy; return {name, red: [check names], ...}."""
    started = time.time()
    with tempfile.TemporaryDirectory(prefix=f"mutant_{mutant.name}_") as tmp:
        tmp = Path(tmp)
        scratch_copy(mutant, tmp)
        cmd = [sys.executable, "-m", "verify.all", "--profile", profile, "--out", str(tmp / "out"), "--fresh"]
        for e in mutant.experiments:
            cmd += ["--only", e]
        env = dict(os.environ, PYTHONPATH=str(tmp))
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        report = tmp / "out" / "report.json"
        if not report.exists():
            tail = (proc.stderr or proc.stdout)[-400:]
            return dict(name=mutant.name, description=mutant.description, experiments=list(mutant.experiments),
                        red=[], total=0, rc=proc.returncode, error=tail, seconds=round(time.time() - started, 1))
        checks = json.loads(report.read_text())["checks"]
        errors = sorted(p.stem for p in (tmp / "out" / "errors").glob("*.txt")) if (tmp / "out" / "errors").exists() else []
    red = [c["name"] for c in checks if not c["passed"]]
    return dict(name=mutant.name, description=mutant.description, experiments=list(mutant.experiments), red=red,
                total=len(checks), rc=proc.returncode, crashed_experiments=errors, min_red=mutant.min_red,
                seconds=round(time.time() - started, 1))


def caught(row: dict) -> bool:
    """A mutant is caught when at least ``min_red`` of its checks failed."""
    return len(row["red"]) >= row.get("min_red", 1)


def table(rows: list[dict]) -> str:
    """Markdown table: bug, experiments run, red checks (count and names), caught."""
    out = ["| deliberate bug | experiments | red / checks | checks that turned red | caught |", "|---|---|---|---|---|"]
    for r in rows:
        names = ", ".join(f"`{n}`" for n in r["red"]) or (r.get("error") and "run failed: " + r["error"].splitlines()[-1]) or "none"
        out.append(f"| {r['description']} (`{r['name']}`) | {', '.join(r['experiments'])} | {len(r['red'])}/{r['total']} "
                   f"| {names} | {'yes' if caught(r) else 'NO'} |")
    return "\n".join(out)


def _commit() -> str:
    """The checkout's commit, with "+changes" when the work tree differs from it ("unknown" outside git)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *COPIED], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return sha + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@entry_point("verify.mutants")
def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m verify.mutants", description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="quick", choices=("quick", "full"))
    p.add_argument("--only", action="append", default=None, metavar="NAME", help="one mutant (repeatable)")
    p.add_argument("--out", default="out/mutants")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = p.parse_args(argv)
    if args.list:
        for m in MUTANTS:
            print(f"{m.name}: {m.description} [{', '.join(m.experiments)}]")
        return 0
    unknown = [n for n in args.only or () if n not in BY_NAME]
    if unknown:
        raise UsageError(f"unknown mutant {unknown[0]!r}; known: {', '.join(BY_NAME)}")
    chosen = [BY_NAME[n] for n in args.only] if args.only else list(MUTANTS)
    started, rows = time.time(), []
    for m in chosen:
        row = run_mutant(m, args.profile)
        rows.append(row)
        print(f"{m.name}: {len(row['red'])} red of {row['total']} ({row['seconds']}s): {', '.join(row['red']) or 'none'}",
              file=sys.stderr, flush=True)
    import torch
    meta = dict(command="python -m verify.mutants " + " ".join(argv if argv is not None else sys.argv[1:]),
                profile=args.profile, commit=_commit(), python=platform.python_version(), torch=torch.__version__,
                machine=f"{platform.machine()} {platform.node()} {os.cpu_count()} cpus",
                measured_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                wall_seconds=round(time.time() - started, 1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mutants.json").write_text(json.dumps(dict(meta, mutants=rows), indent=1))
    md = table(rows)
    (out / "mutants.md").write_text("# Mutants\n\n" + "\n".join(f"- {k}: {v}" for k, v in meta.items()) + "\n\n" + md + "\n")
    print(md)
    return 0 if all(caught(r) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
