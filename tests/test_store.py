"""verify.store: atomic writes leave the old file or the new one; points and checks survive a cut run."""
from __future__ import annotations

import json

import pytest

from verify.store import PointStore, atomic_path, checks_path, read_checks, write_atomic, write_checks


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = write_atomic(tmp_path / "report.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    assert write_atomic(path, b"\x00new").read_bytes() == b"\x00new"


def test_points_survive_a_line_cut_by_an_interruption(tmp_path):
    store = PointStore(tmp_path, "demo")
    store.get({"n": 1}, lambda: {"successes": 3})
    with store.path.open("a") as f:
        f.write('{"key": "{\\"n\\": 2}", "rec')            # the kill came mid-line
    calls = []
    again = PointStore(tmp_path, "demo")
    assert again.get({"n": 1}, lambda: calls.append(1)) == {"successes": 3} and calls == []
    assert again.get({"n": 2}, lambda: calls.append(1) or {"successes": 0}) == {"successes": 0} and calls == [1]


def test_checks_are_read_back_only_under_their_key(tmp_path):
    path = checks_path(tmp_path, "meanfield")
    assert path == tmp_path / "checks" / "meanfield.json" and read_checks(path, {"code": "a"}) is None
    write_checks(path, {"code": "a", "settings": [1, 2]}, 2.5, [{"name": "x", "passed": True}])
    assert read_checks(path, {"code": "a", "settings": [1, 2]}) == ([{"name": "x", "passed": True}], 2.5)
    assert read_checks(path, {"code": "b", "settings": [1, 2]}) is None
    path.write_text(json.dumps({"key": {"code": "a"}}))        # no checks in it: not a cache entry
    assert read_checks(path, {"code": "a"}) is None
    path.write_text("{not json")
    assert read_checks(path, {"code": "a"}) is None
