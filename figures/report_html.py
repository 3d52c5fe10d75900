"""``report.html``: one self-contained page per verify report, a section per theorem with its checks and figures.

:func:`render` builds the page from a verify output folder (``report.json``), the figures ``figures.all``
drew from it and the results of :func:`bounds.all_results` (statement, assumptions, source). Everything is
inline: figures as PNG ``data:`` URIs, formulas as MathML, the room bars as SVG, one ``<style>``; the page
loads nothing from outside and has no script. Layout:

- a header: profile, seed, commit, versions, machine, when measured, checks passed, the error budget;
- failures first (a list linking to each failing row), then one section per theorem key in the order of
  ``docs/theory.md``, each with its statement, its checks grouped by kind (failures first in each table),
  the room drawn on one logarithmic scale for the whole page, and the figures declaring it
  (``FigureSpec.theorems``) or drawn from its checks, with the series each figure plotted shown as data
  (a figure is embedded once, in its first section, and linked from the others);
- a last section for checks that test no theorem key (phenomena, instruments).

Example:
    >>> from figures.source import FIXTURE
    >>> page = render(FIXTURE, [])
    >>> page.startswith("<!DOCTYPE html>") and 'id="t1_grid"' in page and "<script" not in page
    True
"""
from __future__ import annotations

import base64
import html
import json
import math
import subprocess
from pathlib import Path

KIND_ORDER = ("bound", "premise", "phenomenon", "instrument")
KIND_MEANING = {
    "bound": "an empirical number against a bound of the theory (room >= 1 iff it holds)",
    "premise": "an assumption a bound relies on, tested on the model",
    "phenomenon": "a behaviour the theory explains, not implied by a bound",
    "instrument": "the measuring tool itself agrees with an independent one",
}
BAR_W, BAR_H = 180, 14

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 1.5rem;color:#1b1b1b}
h1{font-size:1.6rem;margin:.2rem 0 .6rem}h2{font-size:1.3rem;border-top:2px solid #444;padding-top:.8rem;margin-top:2rem}
h3{font-size:1.05rem;margin:1.2rem 0 .3rem}code{font-size:.92em}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;margin:.4rem 0 1rem}dl.meta dt{font-weight:600}
dl.meta dd{margin:0}
table{border-collapse:collapse;width:100%;margin:.3rem 0 1rem;font-size:.86rem}
caption{text-align:left;font-style:italic;padding:.2rem 0}
th,td{border-bottom:1px solid #ccc;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#f1f1f1}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.fail td{background:#fde2e2}.verdict{font-weight:700;white-space:nowrap}.v-fail{color:#a00000}
.v-pass{color:#145a14}.v-weak{color:#7a5a00}
.banner{padding:.6rem .9rem;border-radius:4px;margin:.6rem 0;font-weight:600}
.banner.bad{background:#a00000;color:#fff}.banner.good{background:#e3f2e3;color:#145a14}
.read{font-size:.8rem;color:#5a3d8a}.claim{color:#444;font-size:.8rem}
figure{margin:1rem 0;break-inside:avoid}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.88rem;color:#333}.statement{background:#f7f7f9;padding:.5rem .8rem;border-left:4px solid #557}
details{margin:.3rem 0 1rem}summary{cursor:pointer}pre{white-space:pre-wrap;font-size:.78rem}
nav ol{columns:2;font-size:.9rem}.none{color:#666;font-style:italic}
@media print{body{max-width:none;font-size:11pt}h2{break-before:page}tr{break-inside:avoid}nav{display:none}}
"""


def esc(x) -> str:
    """HTML-escape anything (``None`` as an empty string).

    Example:
        >>> esc("a < b & c")
        'a &lt; b &amp; c'
    """
    return "" if x is None else html.escape(str(x), quote=True)


def number(x) -> str:
    """A measured value or bound as text: 4 significant digits, infinities and missing values spelled out.

    Example:
        >>> number(1234567.0), number(float("inf")), number(None), number(True)
        ('1.235e+06', '∞', '—', 'True')
    """
    if x is None:
        return "—"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return format(x, ".4g")


def verdict(check: dict) -> tuple[str, str]:
    """(word, css class) of a check's verdict, in verify.report's words ("weak": passed with much room).

    Example:
        >>> verdict({"passed": False}), verdict({"passed": True, "vacuous": True})
        (('FAIL', 'v-fail'), ('pass (weak)', 'v-weak'))
    """
    if not check.get("passed"):
        return "FAIL", "v-fail"
    return ("pass (weak)", "v-weak") if check.get("vacuous") else ("pass", "v-pass")


def room_scale(checks) -> tuple[float, float]:
    """The page's shared log10 range of room: every finite positive room fits, and room 1 is inside.

    Example:
        >>> room_scale([{"ratio": 0.5}, {"ratio": 1e3}, {"ratio": float("inf")}, {"ratio": None}])
        (-1.0, 3.5)
    """
    logs = [math.log10(r) for r in (c.get("ratio") for c in checks)
            if isinstance(r, (int, float)) and not isinstance(r, bool) and 0 < r < math.inf]
    lo, hi = min(logs + [0.0]), max(logs + [0.0])
    return math.floor(max(lo, -12) * 2 - 1) / 2, math.ceil(min(hi, 30) * 2 + 1) / 2


def room_bar(ratio, scale: tuple[float, float]) -> str:
    """An inline SVG: room on the page's log scale, a tick at room 1, the bar from 1 to the room.

    Example:
        >>> 'aria-label="room 10 (log scale)"' in room_bar(10.0, (-1.0, 2.0))
        True
    """
    lo, hi = scale
    if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or math.isnan(ratio):
        return '<span class="none">no room</span>'

    def x(v):
        return BAR_W * (min(max(v, lo), hi) - lo) / (hi - lo)
    v = math.log10(ratio) if 0 < ratio < math.inf else (hi if ratio > 0 else lo)
    x0, x1 = x(0.0), x(v)
    colour = "#2e7d32" if ratio >= 1 else "#c62828"
    arrow = (f'<polygon points="{BAR_W - 6},2 {BAR_W},{BAR_H / 2} {BAR_W - 6},{BAR_H - 2}" fill="{colour}"/>'
             if ratio == math.inf or v > hi else "")
    return (f'<svg width="{BAR_W}" height="{BAR_H}" viewBox="0 0 {BAR_W} {BAR_H}" role="img" '
            f'aria-label="room {number(ratio)} (log scale)"><rect x="0" y="{BAR_H / 2 - 0.5}" width="{BAR_W}" '
            f'height="1" fill="#bbb"/><rect x="{min(x0, x1):.1f}" y="3" width="{max(abs(x1 - x0), 1.5):.1f}" '
            f'height="{BAR_H - 6}" fill="{colour}"/>{arrow}<rect x="{x0 - 0.75:.1f}" y="0" width="1.5" '
            f'height="{BAR_H}" fill="#000"/></svg>')


def read_from(check: dict) -> str:
    """Where a check's numbers came from: this run, or the committed file it was read from (with its provenance)."""
    src = check.get("source")
    if not src:
        return "measured in this run"
    bits = [f"read from {src.get('file')}"]
    if src.get("commit"):
        bits.append(f"commit {str(src['commit'])[:10]}")
    for key in ("measured_utc", "machine"):
        if src.get(key):
            bits.append(str(src[key]))
    if src.get("confidence") is not None:
        bits.append(f"confidence {number(src['confidence'])}")
    return "; ".join(bits)


def check_table(checks: list[dict], kind: str, scale) -> str:
    """One table of checks of one kind, failures first."""
    rows = []
    for c in sorted(checks, key=lambda c: (bool(c.get("passed")), c["name"])):
        word, cls = verdict(c)
        conf = c.get("confidence")
        where = read_from(c)
        rows.append(
            f'<tr id="check-{esc(c["name"])}" class="{"fail" if cls == "v-fail" else "ok"}" '
            f'data-check="{esc(c["name"])}" data-verdict="{esc(word)}" data-room="{esc(number(c.get("ratio")))}">'
            f'<td><code>{esc(c["name"])}</code><div class="claim">{esc(c.get("claim"))}</div></td>'
            f'<td class="verdict {cls}">{esc(word)}</td><td class="num">{esc(number(c.get("empirical")))}</td>'
            f'<td class="num">{esc(number(c.get("bound")))}</td><td class="num">{esc(number(c.get("ratio")))}</td>'
            f'<td>{room_bar(c.get("ratio"), scale)}</td>'
            f'<td class="num">{esc("exact" if conf is None else format(conf, ".7g"))}</td>'
            f'<td class="{"read" if c.get("source") else ""}">{esc(where)}</td></tr>')
    return (f'<table><caption>{esc(kind)} checks: {esc(KIND_MEANING.get(kind, ""))}</caption><thead><tr>'
            '<th scope="col">check (claim)</th><th scope="col">verdict</th><th scope="col">measured</th>'
            '<th scope="col">bound</th><th scope="col">room</th>'
            f'<th scope="col">room, log scale 10<sup>{number(scale[0])}</sup> to 10<sup>{number(scale[1])}</sup></th>'
            '<th scope="col">confidence</th><th scope="col">numbers from</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def checks_by_kind(checks: list[dict], scale) -> str:
    """The tables of ``checks``, one per kind in :data:`KIND_ORDER` (unknown kinds last)."""
    kinds = sorted({c.get("kind") or "unknown" for c in checks},
                   key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k))
    parts = []
    for kind in kinds:
        mine = [c for c in checks if (c.get("kind") or "unknown") == kind]
        failed = sum(1 for c in mine if not c.get("passed"))
        parts.append(f"<h3>{esc(kind.capitalize())} ({len(mine)}{f', {failed} failed' if failed else ''})</h3>"
                     + check_table(mine, kind, scale))
    return "".join(parts)


def figure_block(spec, paths, series) -> str:
    """A figure embedded as a PNG data URI, with alt text, its caption and the data it plotted."""
    png = next((p for p in paths if Path(p).suffix == ".png"), None)
    if png is None:
        return ""
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    alt = f"{spec.title}. {spec.shows}" if spec.shows else spec.title
    plotted = json.dumps(series, indent=1, default=float)
    if len(plotted) > 20000:
        plotted = plotted[:20000] + f"\n... ({len(plotted) - 20000} more characters in data/{spec.name}.json)"
    return (f'<figure id="figure-{esc(spec.name)}" data-figure="{esc(spec.name)}"><img src="data:image/png;base64,'
            f'{data}" alt="{esc(alt)}"><figcaption><strong>{esc(spec.title)}</strong> ({esc(spec.name)}). '
            f'{esc(spec.caption)} <em>Data from: {esc(spec.provenance())}.</em></figcaption></figure>'
            f'<details><summary>Data plotted in {esc(spec.name)} (data, not a check)</summary>'
            f'<pre>{esc(plotted)}</pre></details>')


def statement(key: str, result) -> str:
    """A result's statement: what it means, its formula (MathML), source and assumptions."""
    import sympy as sp

    try:
        formula = sp.mathml(result.expr, printer="presentation")
        formula = f'<math display="block" aria-label="{esc(sp.sstr(result.expr))}">{formula}</math>'
    except Exception:  # a printer gap must not lose the statement: fall back to text
        formula = f"<pre>{esc(sp.sstr(result.expr))}</pre>"
    items = "".join(f"<li>{esc(a)}</li>" for a in result.assumptions)
    return (f'<div class="statement"><p>{esc(result.meaning)}</p>{formula}<p><strong>Source:</strong> '
            f'{esc(result.source)}</p><p><strong>Assumptions:</strong></p><ul>{items}</ul></div>')


def git_commit(folder: Path) -> str:
    """The last commit touching ``folder/report.json`` (short hash and date), or why there is none."""
    try:
        got = subprocess.run(["git", "log", "-1", "--format=%h (%cI)", "--", "report.json"], cwd=folder,
                             capture_output=True, text=True, timeout=30)
        return got.stdout.strip() or "not committed (a fresh run)"
    except (OSError, subprocess.SubprocessError):
        return "not recorded (no git)"


def header(blob: dict, folder: Path) -> str:
    """The page's header: what was measured, where, when, and how many checks passed."""
    checks = blob.get("checks", [])
    env, stats = blob.get("environment", {}), blob.get("statistics", {})
    failed = [c for c in checks if not c.get("passed")]
    read = sum(1 for c in checks if c.get("source"))
    versions = ", ".join(f"{k} {env[k]}" for k in ("python", "torch", "numpy", "scipy", "sympy", "mpmath") if k in env)
    budget = (f"family-wise error {number(stats.get('family_wise_error'))} ({esc(stats.get('method'))}) over "
              f"{stats.get('checks')} statistical checks, each at confidence {stats.get('per_check_confidence', float('nan')):.7g}"
              if stats else "not recorded")
    meta = [("Profile", blob.get("profile")), ("Seed", blob.get("seed")), ("Commit", git_commit(folder)),
            ("Versions", versions), ("Machine", f"{env.get('platform', '?')}; {env.get('threads', '?')} torch "
                                                f"thread(s); CUDA {env.get('cuda', '?')}"),
            ("Measured", env.get("time_utc")), ("Checks", f"{len(checks) - len(failed)} of {len(checks)} passed"
                                                          f"{f'; {read} read from committed files' if read else ''}"),
            ("Error budget", budget), ("Experiments", ", ".join(blob.get("experiments", [])))]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in meta)
    banner = (f'<p class="banner bad" role="alert">{len(failed)} check(s) FAILED: listed first below.</p>' if failed
              else f'<p class="banner good">All {len(checks)} checks passed.</p>')
    return f'<header><h1>prompt-memory-limits: the theory beside its evidence</h1><dl class="meta">{dl}</dl>{banner}</header>'


def render(folder: str | Path, drawn: list, results: dict | None = None) -> str:
    """The whole page for the verify output ``folder``; ``drawn``: ``(spec, paths, series)`` of each drawn figure.

    ``results``: the theorem registry (default :func:`bounds.all_results`, whose order is ``docs/theory.md``'s).
    """
    from bounds import all_results
    from figures.all import matching_checks

    folder = Path(folder)
    blob = json.loads((folder / "report.json").read_text())
    results = all_results() if results is None else results
    checks = blob.get("checks", [])
    by_name = {c["name"]: c for c in checks}
    scale = room_scale(checks)
    failed = [c for c in checks if not c.get("passed")]
    body = [header(blob, folder)]
    if failed:
        body.append('<section id="failures"><h2>Failures</h2><ul>' + "".join(
            f'<li><a href="#check-{esc(c["name"])}"><code>{esc(c["name"])}</code></a> '
            f'({esc(c.get("kind"))}, {esc(c.get("theorem") or "no theorem")}): {esc(c.get("claim"))}; room '
            f'{esc(number(c.get("ratio")))}</li>' for c in failed) + "</ul></section>")
    orphans = [c for c in checks if c.get("theorem") not in results]
    toc = "".join(f'<li><a href="#{esc(k)}">{esc(r.name)}</a> ({sum(1 for c in checks if c.get("theorem") == k)} '
                  f'checks)</li>' for k, r in results.items())
    body.append(f'<nav aria-label="Theorems"><h2>Theorems</h2><ol>{toc}<li><a href="#other">Checks without a '
                f'theorem key</a> ({len(orphans)})</li></ol></nav>')
    embedded = {}
    for key in results:  # the order of docs/theory.md; failures are listed above and first in each table
        result = results[key]
        mine = [c for c in checks if c.get("theorem") == key]
        figs = [(s, p, d) for s, p, d in drawn
                if key in getattr(s, "theorems", ()) or any(c.get("theorem") == key for c in matching_checks(s, by_name))]
        part = [f'<section id="{esc(key)}" aria-labelledby="h-{esc(key)}"><h2 id="h-{esc(key)}">{esc(result.name)} '
                f'(<code>{esc(key)}</code>)</h2>', statement(key, result)]
        part.append(checks_by_kind(mine, scale) if mine
                    else '<p class="none">No check in this report tests this result directly.</p>')
        for f in figs:  # each figure embedded once, in its first section; later ones link to it
            if f[0].name in embedded:
                part.append(f'<p>Figure <a href="#figure-{esc(f[0].name)}">{esc(f[0].title)}</a> (above, in section '
                            f'{esc(embedded[f[0].name])}) also shows this result.</p>')
            else:
                embedded[f[0].name] = key
                part.append(figure_block(*f))
        body.append("".join(part) + "</section>")
    other_figs = [(s, p, d) for s, p, d in drawn if not getattr(s, "theorems", ())
                  and not any(c.get("theorem") in results for c in matching_checks(s, by_name))]
    body.append('<section id="other" aria-labelledby="h-other"><h2 id="h-other">Checks without a theorem key</h2>'
                '<p>Phenomena the theory explains and instruments checking the measuring tools; they test no '
                'bound directly.</p>' + (checks_by_kind(orphans, scale) if orphans else '<p class="none">None.</p>')
                + "".join(figure_block(*f) for f in other_figs) + "</section>")
    title = f"prompt-memory-limits report ({blob.get('profile', '?')} profile)"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{esc(title)}</title><style>{CSS}</style>'
            f'</head><body>{"".join(body)}</body></html>\n')
