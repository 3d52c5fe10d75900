"""``python -m figures.all``: draw every theorem beside its evidence, from a verify report.

Usage::

    python -m figures.all [--out DIR] [--from REPORT_DIR] [--profile quick|full] [--update-index]

With ``--from`` it draws from an existing ``python -m verify.all`` output folder; without it, from the
committed reference results ``results/full`` (the full profile), or, given ``--profile`` or when those are
absent, it first runs ``verify.all`` with that profile into ``DIR/verify``. Each figure is written as ``DIR/NAME.png`` and
the vector ``DIR/NAME.pdf``, the data it plotted as ``DIR/data/NAME.json``, ``DIR/INDEX.md`` lists
every figure with its caption, what it shows and which checks produced its data, and ``DIR/report.html``
is one self-contained page: each theorem, its checks and its figures (:mod:`figures.report_html`). The
repository's own ``figures/INDEX.md`` is rewritten only with ``--update-index`` (paths in it relative to the repository,
never a machine's). A figure whose data is missing is skipped with a one-line warning and listed as
missing; the others are still drawn. Exit 0 when every figure was drawn, 1 when some were skipped, 2 on
bad usage (including a ``report.json`` that is not a verify report).
"""
from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from verify.cli import ArgumentParser as _Parser, UsageError, usage_failure
from verify.registry import declarations

from figures.report_html import render
from figures.source import MissingData, Report
from figures.spec import FigureSpec

PROFILES = ("quick", "full")
DEFAULT_OUT = "out/figures"
INDEX_IN_TREE = Path(__file__).with_name("INDEX.md")
REPO_ROOT = INDEX_IN_TREE.parents[1]
DEFAULT_REPORT = REPO_ROOT / "results" / "full"  # the reference run (python -m verify.all --profile full)


def parse_args(argv):
    p = _Parser(prog="python -m figures.all", description=__doc__.split("\n")[0])
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"folder for NAME.png, NAME.pdf, data/ and INDEX.md (default: {DEFAULT_OUT})")
    p.add_argument("--from", dest="source", default=None, metavar="REPORT_DIR",
                   help=f"an existing verify.all output folder (default: the committed reference results "
                        f"{DEFAULT_REPORT.relative_to(REPO_ROOT)} if present and no --profile is given, else run "
                        f"verify.all first, into OUT/verify)")
    p.add_argument("--profile", default=None,
                   help="quick or full: verify profile and Monte Carlo sizes (default: the report's, else quick)")
    p.add_argument("--update-index", action="store_true",
                   help="also rewrite the repository's figures/INDEX.md (for a commit; default: only OUT/INDEX.md)")
    args = p.parse_args(argv)
    if args.profile is not None and args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}; known: {', '.join(PROFILES)}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out}: is a file, not a folder")
    if args.source is not None:
        check_report(Path(args.source))
    return args


def check_report(folder: Path) -> None:
    """Raise UsageError (one line) unless ``folder/report.json`` is a readable verify report.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); _ = (d / "report.json").write_text('{"checks": [')
        >>> check_report(d)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bounds.cli.UsageError: --from ...: report.json is not valid JSON (Expecting value at line 1, column 13)...
    """
    report = folder / "report.json"
    if not report.is_file():
        if not folder.is_dir():
            raise UsageError(f"--from {folder}: no such folder")
        raise UsageError(f"--from {folder}: no report.json there (run python -m verify.all --out {folder})")
    try:
        blob = json.loads(report.read_text())
    except UnicodeDecodeError:
        raise UsageError(f"--from {folder}: report.json is not text (not a verify report)") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--from {folder}: report.json is not valid JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}); rerun python -m verify.all --out {folder}") from None
    except OSError as exc:
        raise UsageError(f"--from {folder}: cannot read report.json ({exc.strerror or exc})") from None
    checks = blob.get("checks") if isinstance(blob, dict) else None
    if not isinstance(checks, list) or not all(isinstance(c, dict) and "name" in c for c in checks):
        raise UsageError(f"--from {folder}: report.json is not a verify report (no list of named checks)")


def portable(path: str | Path) -> str:
    """A path as the committed index may show it: relative to the repository, else only its last part.

    Example:
        >>> portable(REPO_ROOT / "out" / "figures"), portable("/home/someone/runs/verify")
        ('out/figures', 'verify')
    """
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return resolved.name


def modules() -> tuple[str, ...]:
    """Every figure module (one that declares ``FIGURE = FigureSpec(...)``), in drawing order (its ``order``,
    then its name), found the way experiments are (:func:`verify.registry.declarations`: read, not imported).

    Example:
        >>> modules()[:2]
        ('figures.fig1_plane', 'figures.fig2_accessibility')
    """
    found = declarations(Path(__file__).parent, __package__ or "figures", "FIGURE")
    default = FigureSpec.__dataclass_fields__["order"].default
    return tuple(d["module"] for d in sorted(found, key=lambda d: (d.get("order", default), d["name"])))


def specs() -> list[FigureSpec]:
    """Every figure's spec, in drawing order (imports each figure module).

    Example:
        >>> [s.name for s in specs()][:2]
        ['fig1_plane', 'fig2_accessibility']
    """
    return [importlib.import_module(m).FIGURE for m in modules()]


def draw_one(spec: FigureSpec, report: Report, out: Path) -> tuple[list[Path], dict]:
    """Draw one figure into ``out``; return its files and the series it plotted (MissingData if it cannot)."""
    from figures.style import save

    fig, series = spec.draw(report)
    paths = save(fig, out, spec.name)
    (out / "data").mkdir(parents=True, exist_ok=True)
    (out / "data" / f"{spec.name}.json").write_text(json.dumps(series, indent=1, default=float))
    if spec.extra is not None:
        paths += spec.extra(series, out)
    return paths, series


def matching_checks(spec: FigureSpec, checks: dict) -> list[dict]:
    """The report's checks named by the spec (exact names, or prefixes written with a trailing _).

    Example:
        >>> s = FigureSpec("f", "F", "c", "T1", checks=("copying_", "contexts_vs_t2"))
        >>> [c["name"] for c in matching_checks(s, {"copying_a": {"name": "copying_a"}, "x": {"name": "x"}})]
        ['copying_a']
    """
    return [c for name, c in checks.items()
            if any(name == k or (k.endswith("_") and name.startswith(k)) for k in spec.checks)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a bare | would end the Markdown table cell


def _check_line(c: dict) -> str:
    # verify.report's words: "weak" (stored as "vacuous"), "room" (stored as "ratio", >= 1 iff the claim holds)
    verdict = "FAIL" if not c.get("passed") else ("pass (weak)" if c.get("vacuous") else "pass")
    ratio = c.get("ratio")
    kind = f" ({c['kind']}{', ' + c['theorem'] if c.get('theorem') else ''})" if c.get("kind") else ""
    return f"`{c['name']}`{kind} {verdict}" + (f", room {ratio:.3g}" if isinstance(ratio, (int, float)) else "")


def index_markdown(results: list[tuple[FigureSpec, str, list[Path]]], source: str, out: str = DEFAULT_OUT,
                   checks: dict | None = None) -> str:
    """INDEX.md: one section per figure (file, caption, what it shows, provenance), missing ones marked.

    Example:
        >>> s = FigureSpec("f", "F", "Cap.", "T1", data=("x",))
        >>> "MISSING" in index_markdown([(s, "no data/x.json in the report", [])], "r")
        True
    """
    drawn = sum(1 for _, status, _ in results if _drawn(status))
    lines = ["# Figures", "",
             f"Generated by `python -m figures.all` from the verify report in `{source}`: {drawn} of {len(results)} "
             f"figures drawn into `{out}/`. Each is a PNG and a vector PDF; the data each one plotted is in "
             f"`{out}/data/NAME.json`. Regenerate with `python -m figures.all` (from the committed `results/full`; "
             f"`--from DIR` draws another verify output, `--profile quick` runs verify first; `--update-index` also "
             f"rewrites `figures/INDEX.md`). Checks: name (kind, theorem), verdict (\"weak\": a bound passed with "
             f"much room), room (>= 1 iff the claim holds).", "",
             "| figure | shows | status |", "|---|---|---|"]
    for spec, status, _ in results:
        label = "drawn" if status == "ok" else ("drawn, " + status) if _drawn(status) else "MISSING"
        lines.append(f"| [{spec.name}](#{spec.name}) | {_cell(spec.shows)} | {_cell(label)} |")
    for spec, status, paths in results:
        lines += ["", f"## {spec.name}", "", f"**{spec.title}**", ""]
        if _drawn(status):
            lines.append("Files: " + ", ".join(f"`{p.name}`" for p in paths))
            if status != "ok":
                lines += ["", f"Partly drawn ({status})."]
        else:
            lines.append(f"MISSING: {status}")
        lines += ["", f"Caption: {spec.caption}", "", f"Shows: {spec.shows}", "",
                  f"Data from: {spec.provenance()}"]
        found = matching_checks(spec, checks or {})
        if found:
            lines += ["", "Checks behind it: " + "; ".join(_check_line(c) for c in found)]
    return "\n".join(lines) + "\n"


def _drawn(status: str) -> bool:
    return status == "ok" or status.startswith("partial")


def run_verify(out: Path, profile: str) -> Path:
    """Run ``verify.all`` with ``profile`` into ``out/verify`` and return that folder (its exit code is only logged)."""
    from verify import all as verify_all

    folder = out / "verify"
    code = verify_all.main(["--profile", profile, "--out", str(folder)])
    # exit 1 (some check failed) still leaves a full report to draw; anything else left none
    print(f"figures: verify.all --profile {profile} finished with exit code {code}", file=sys.stderr)
    return folder if (folder / "report.json").is_file() else None


def main(argv=None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        return usage_failure("figures.all", exc)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"figures.all: error: --out {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if args.source:
        source = Path(args.source)
    elif args.profile is None and (DEFAULT_REPORT / "report.json").is_file():
        source = DEFAULT_REPORT  # figures read committed results; they measure only when asked to
    else:
        source = run_verify(out, args.profile or "quick")
    if source is None:
        print(f"figures.all: error: verify.all wrote no report into {out / 'verify'}", file=sys.stderr)
        return 1
    report = Report(source)
    report.profile = args.profile or report.profile  # an explicit --profile wins over the report's
    results, drawn = [], []
    for spec in specs():
        t0 = time.time()
        try:
            paths, series = draw_one(spec, report, out)
            drawn.append((spec, paths, series))
            partial = series.get("missing") if isinstance(series, dict) else None
            results.append((spec, "ok" if not partial else "partial: " + "; ".join(partial), paths))
            note = f" partial: {'; '.join(partial)}" if partial else ""
            print(f"figures: {spec.name} ({time.time() - t0:.1f}s){note}", file=sys.stderr, flush=True)
        except MissingData as exc:
            results.append((spec, str(exc), []))
            print(f"figures: warning: skipped {spec.name}: {exc}", file=sys.stderr, flush=True)
        except Exception as exc:  # one broken figure must not hide the others
            (out / "errors").mkdir(exist_ok=True)
            (out / "errors" / f"{spec.name}.txt").write_text(traceback.format_exc())
            reason = f"error {type(exc).__name__}: {exc}".splitlines()[0]
            results.append((spec, reason, []))
            print(f"figures: warning: skipped {spec.name}: {reason}", file=sys.stderr, flush=True)
    index = index_markdown(results, str(source), str(args.out), report.checks)
    (out / "INDEX.md").write_text(index)
    if args.update_index:
        INDEX_IN_TREE.write_text(index_markdown(results, portable(source), portable(out), report.checks))
        print(f"figures: updated {portable(INDEX_IN_TREE)}", file=sys.stderr)
    page = out / "report.html"
    page.write_text(render(source, drawn))
    missing = [s.name for s, status, _ in results if not _drawn(status)]
    print(f"figures: {len(results) - len(missing)} drawn, {len(missing)} missing"
          + (f" ({', '.join(missing)})" if missing else "") + f"; index: {out / 'INDEX.md'}; page: {page}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
