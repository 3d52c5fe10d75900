"""Tests of ``report.html`` (figures.report_html), parsed with a real HTML parser (html.parser).

One run of ``python -m figures.all`` on the committed results (``results/full``, the default source) writes
the page; the tests read every check of its ``report.json`` and every figure spec back from the parsed page.
"""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bounds import all_results
from figures import all as figures_all
from figures import report_html

FULL = Path(__file__).resolve().parents[1] / "results" / "full"


class Page(HTMLParser):
    """Collects what the tests look at: rows of checks, images, links, headings, scripts, section ids."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self.urls, self.tags, self.sections, self.figures = {}, [], [], [], [], []
        self.headings = []
        self._heading = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "tr" and "data-check" in a:
            self.rows[a["data-check"]] = a
        if tag == "img":
            self.images.append(a)
        if tag == "figure":
            self.figures.append(a.get("data-figure"))
        if tag == "section":
            self.sections.append(a.get("id"))
        for key in ("src", "href", "data", "action", "poster"):
            if key in a:
                self.urls.append(a[key])
        if tag in ("h1", "h2", "h3"):
            self._heading = [tag, ""]

    def handle_data(self, data):
        if self._heading is not None:
            self._heading[1] += data

    def handle_endtag(self, tag):
        if self._heading is not None and tag == self._heading[0]:
            self.headings.append(tuple(self._heading))
            self._heading = None


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    assert figures_all.main(["--out", str(out)]) == 0  # from the committed results/full
    parsed = Page()
    text = (out / "report.html").read_text()
    parsed.feed(text)
    return parsed, text


def test_every_check_appears_with_its_verdict_and_room(page):
    parsed, _ = page
    checks = json.loads((FULL / "report.json").read_text())["checks"]
    assert len(parsed.rows) == len(checks)
    for c in checks:
        row = parsed.rows[c["name"]]
        assert row["data-verdict"] == report_html.verdict(c)[0]
        assert row["data-room"] == report_html.number(c.get("ratio"))
        assert ("fail" in row["class"]) == (not c["passed"])


def test_every_figure_is_embedded_with_alt_text(page):
    parsed, _ = page
    assert sorted(parsed.figures) == sorted(s.name for s in figures_all.specs())
    assert len(parsed.images) == len(parsed.figures)
    for img in parsed.images:
        assert img["src"].startswith("data:image/png;base64,") and len(img["src"]) > 1000
        assert img.get("alt", "").strip()


def test_nothing_is_fetched_from_outside(page):
    parsed, text = page
    assert "script" not in parsed.tags and "link" not in parsed.tags and "iframe" not in parsed.tags
    assert all(u.startswith(("data:", "#")) for u in parsed.urls), [u[:40] for u in parsed.urls if u[:5] != "data:"]
    assert "url(" not in text and "@import" not in text


def test_one_section_per_theorem_in_the_order_of_the_theory(page):
    parsed, _ = page
    keys = [s for s in parsed.sections if s in all_results()]
    assert keys == list(all_results())
    assert parsed.headings[0][0] == "h1" and sum(1 for h in parsed.headings if h[0] == "h2") >= len(keys)


def test_failures_come_first_and_read_back_checks_say_their_file(tmp_path):
    report = json.loads((FULL / "report.json").read_text())
    report["checks"][5]["passed"] = False
    report["checks"][7]["source"] = {"file": "results/real_cramming/real_cramming.json", "commit": "abc1234",
                                     "measured_utc": "2026-12-01T00:00:00Z", "machine": "2 CPUs",
                                     "confidence": 0.999}
    (tmp_path / "report.json").write_text(json.dumps(report))
    text = report_html.render(tmp_path, [])
    failed = report["checks"][5]["name"]
    assert 'role="alert"' in text and text.index('id="failures"') < text.index('id="t1_ball"')
    assert text.index(f'href="#check-{failed}"') < text.index(f'id="check-{failed}"')
    assert "read from results/real_cramming/real_cramming.json; commit abc1234" in text


def test_room_scale_is_shared_and_logarithmic():
    scale = report_html.room_scale([{"ratio": 1e-2}, {"ratio": 1e4}])
    assert scale == (-2.5, 4.5)
    narrow, wide = report_html.room_bar(1.5, scale), report_html.room_bar(1e4, scale)
    width = [float(b.split('width="')[3].split('"')[0]) for b in (narrow, wide)]
    assert width[0] < width[1] / 10  # a weak check (much room) draws a long bar, a tight one a short bar
    assert "#c62828" in report_html.room_bar(0.5, scale)  # a failed bound: red, left of room 1
