"""What every figure module declares: a :class:`FigureSpec` (name, caption, provenance, draw function).

``draw(report)`` returns ``(matplotlib figure, series)`` where ``series`` is a JSON-able dict of exactly
the arrays it plotted, so tests compare data, not pixels. ``extra(series, out_dir)`` may write more files
(Table 1 writes Markdown and LaTeX) and returns their paths.

Example:
    >>> spec = FigureSpec("demo", "Demo", "A caption.", "T1", checks=("t1_",), data=("cramming",),
    ...                   draw=lambda report: (None, {}))
    >>> spec.provenance()
    'data/cramming.json; checks t1_*'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class FigureSpec:
    """One figure of ``python -m figures.all``; see the module docstring."""

    name: str  # file stem: NAME.png, NAME.pdf
    title: str
    caption: str = ""
    shows: str = ""  # the theorem or result it illustrates
    order: int = 1000  # drawing order (the papers' figures first); a literal, read without importing the module
    theorems: tuple[str, ...] = ()  # keys of bounds.all_results() it illustrates (its section of report.html)
    checks: tuple[str, ...] = ()  # check names (or prefixes, written with a trailing _) that produced its data
    data: tuple[str, ...] = ()  # data/NAME.json files it reads
    draw: Callable = field(default=None, repr=False)
    extra: Callable | None = field(default=None, repr=False)
    computed: str = ""  # what it computes itself from the data or the bounds, if anything (never a measurement)

    def provenance(self) -> str:
        """One line: which data files and checks the figure draws on."""
        parts = []
        if self.data:
            parts.append("; ".join(f"data/{d}.json" for d in self.data))
        if self.checks:
            parts.append("checks " + ", ".join(c + "*" if c.endswith("_") else c for c in self.checks))
        if self.computed:
            parts.append(self.computed)
        return "; ".join(parts)
