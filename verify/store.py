"""What a run keeps on disk so that a kill loses nothing it had finished: the core's one home for storage.

- :func:`write_atomic` / :func:`atomic_path`: a file is written beside its name and renamed over it, so a
  reader (or a rerun after a kill) sees the old file or the new one, never half of one. Reports, data files,
  summaries, saved training state and exports all go through them.
- :class:`PointStore`: measured points, one JSON line each, keyed by everything the measurement depends on
  (an experiment's resumable unit inside a run).
- :func:`read_checks` / :func:`write_checks`: an experiment's finished checks under the key of its code and
  settings (``verify.all``'s unit: a rerun skips an experiment whose key is unchanged).

Trials of sweeps and of the real-LM runs, which several processes share and claim, are kept in SQLite
(:mod:`verify.sweeps.store`, whose exports use :func:`atomic_path`). Why three granularities: docs/design.md.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = write_atomic(Path(tempfile.mkdtemp()) / "a" / "b.txt", "done")
    >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
    ('done', ['b.txt'])
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path`` to write; on success rename it over ``path``, else remove it.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "x.json"
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("{}")
        >>> target.read_text()
        '{}'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")   # the pid: two processes never share one
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text or bytes) to ``path`` atomically (see :func:`atomic_path`); return the path."""
    with atomic_path(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data)
    return Path(path)


class PointStore:
    """Points already measured, one JSON line each under ``DIR/points/NAME.jsonl``, keyed by what was measured.

    An interrupted experiment loses no finished point; a rerun at another confidence level (another
    selection of experiments) recomputes only its checks. The key must name everything the measurement
    depends on (settings of the point, seed, model, a hash of the engine and weights).

    Example:
        >>> import tempfile
        >>> store = PointStore(tempfile.mkdtemp(), "demo")
        >>> calls = []
        >>> store.get({"n": 3}, lambda: calls.append(1) or {"n": 3, "successes": 1})["successes"]
        1
        >>> store = PointStore(store.path.parent.parent, "demo")
        >>> store.get({"n": 3}, lambda: calls.append(1) or {})["successes"], len(calls)
        (1, 1)
    """

    def __init__(self, out_dir, name: str):
        self.path = Path(out_dir) / "points" / f"{name}.jsonl"
        self.points = {}
        self._read()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _read(self) -> None:
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    blob = json.loads(line)
                    self.points[blob["key"]] = blob["record"]
                except (ValueError, KeyError):
                    continue  # a line cut by an interruption

    def get(self, key: dict, measure) -> dict:
        k = json.dumps(key, sort_keys=True, default=str)
        if k not in self.points:
            self._read()  # another process (a run of one experiment) may have measured it meanwhile
        if k not in self.points:
            self.points[k] = measure()
            with self.path.open("a") as f:
                f.write(json.dumps({"key": k, "record": self.points[k]}, default=float) + "\n")
        return self.points[k]


def checks_path(out_dir: str | Path, experiment: str) -> Path:
    """Where ``verify.all`` keeps an experiment's finished checks: ``DIR/checks/NAME.json``."""
    return Path(out_dir) / "checks" / f"{experiment}.json"


def read_checks(path: str | Path, key) -> tuple[list[dict], float | None] | None:
    """The checks (as JSON dicts) and seconds saved at ``path`` under ``key``; None if absent, unreadable or
    saved under another key.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "checks" / "demo.json"
        >>> _ = write_checks(path, {"code": "a"}, 1.5, [{"name": "x"}])
        >>> read_checks(path, {"code": "a"}), read_checks(path, {"code": "b"})
        (([{'name': 'x'}], 1.5), None)
    """
    try:
        blob = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(blob, dict) or blob.get("key") != key or not isinstance(blob.get("checks"), list):
        return None
    return blob["checks"], blob.get("seconds")


def write_checks(path: str | Path, key, seconds, checks: list[dict]) -> Path:
    """Save an experiment's checks (JSON dicts) under ``key`` (atomic)."""
    return write_atomic(path, json.dumps({"key": key, "seconds": seconds, "checks": checks}, default=str))
