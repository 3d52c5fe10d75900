"""Render a report.html with headless Chromium to PNG screenshots; fail on a blank page.

Usage::

    python scripts/render_report.py [PAGE] [--out DIR] [--section KEY] [--browser PATH]

PAGE defaults to ``out/figures/report.html`` (written by ``python -m figures.all``). It writes
``DIR/first_screen.png`` (the page as it opens, 1280x900) and ``DIR/section_KEY.png`` (the theorem section KEY
alone, default ``t1_grid``), then checks each picture: a page that failed to render
(all one colour, or almost no dark pixels, i.e. no text) exits 1. Needs Chromium (Debian: ``apt-get install
chromium``) and numpy with matplotlib (to read the PNG); not run in CI. Exit 2 on bad input.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # the repository, so that a plain python finds bounds

from bounds.cli import ArgumentParser, UsageError, entry_point  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def screenshot(browser: str, url: str, png: Path, size=(1280, 900)) -> None:
    """One headless Chromium screenshot of ``url`` into ``png`` (no network needed: the page is self-contained)."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000",
               f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", url]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def blank_reason(png: Path) -> str | None:
    """Why the picture looks blank (one colour, or under 0.5% dark pixels: no text drawn), else None."""
    import matplotlib.image as mpimg
    import numpy as np

    img = mpimg.imread(png)[..., :3]
    if float(np.ptp(img)) < 0.05:
        return "one colour everywhere"
    dark = float((img.mean(axis=2) < 0.5).mean())
    return f"only {dark:.2%} dark pixels (no text)" if dark < 0.005 else None


@entry_point("render_report")
def main(argv=None) -> int:
    p = ArgumentParser(prog="python scripts/render_report.py", description=__doc__.split("\n")[0])
    p.add_argument("page", nargs="?", default="out/figures/report.html")
    p.add_argument("--out", default="out/screenshots")
    p.add_argument("--section", default="t1_grid", help="theorem key of the section to capture (default: t1_grid)")
    p.add_argument("--browser", default=None, help="browser executable (default: the first Chromium on PATH)")
    args = p.parse_args(argv)
    page = Path(args.page).resolve()
    if not page.is_file():
        raise UsageError(f"{args.page}: no such file (run python -m figures.all first)")
    if f'id="{args.section}"' not in page.read_text(errors="replace"):
        raise UsageError(f"--section {args.section}: no such section in {args.page}")
    browser = args.browser or next((b for b in BROWSERS if shutil.which(b)), None)
    if browser is None or not shutil.which(browser):
        raise UsageError("no Chromium found (apt-get install chromium, or --browser PATH)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # headless --screenshot ignores #fragments: the section shot is of a copy showing only that section
    only = page.with_name(f".{page.stem}_{args.section}.html")
    hide = f"<style>header,nav,section:not(#{args.section}){{display:none}}</style></head>"
    only.write_text(page.read_text().replace("</head>", hide, 1))
    shots = {out / "first_screen.png": page.as_uri(), out / f"section_{args.section}.png": only.as_uri()}
    bad = 0
    for png, url in shots.items():
        screenshot(browser, url, png)
        reason = blank_reason(png) if png.is_file() else "no screenshot written"
        print(f"{png}: {'BLANK: ' + reason if reason else 'ok'}")
        bad += reason is not None
    only.unlink()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
