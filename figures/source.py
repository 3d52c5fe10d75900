"""Read what ``python -m verify.all`` wrote: ``report.json`` (the checks) and ``data/NAME.json`` (figure data).

A figure asks for the data it needs with :meth:`Report.data` or :meth:`Report.check`; when it is not
there, :class:`MissingData` says which file or key is missing, and ``figures.all`` skips that one figure.

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
from pathlib import Path


class MissingData(LookupError):
    """The report lacks a file or key a figure needs; the message is one line naming it."""


class Report:
    """A verify output folder: ``report.json`` plus ``data/*.json``.

    ``Report(None)`` is an empty report (every lookup raises :class:`MissingData`): figures that can compute
    their data from the model zoo still work from it.
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
