"""The results store: resume keys, no overwrite, exports, and refusal of corrupt or foreign files."""
from __future__ import annotations

import csv
import hashlib
import json
import sqlite3

import pytest

from verify.sweeps.store import FORMAT, Store, StoreError, differences, new_claimant, trial_key


def _result(target: int, success: bool = True, steps: int = 5) -> dict:
    spec = {"model": "tiny", "kind": "random", "m": 1, "n": 3, "target": target, "seed": 0, "max_steps": 50}
    return {**spec, "key": trial_key(spec), "success": success, "steps": steps, "ce_bits": 1.25 * target,
            "accuracy": 0.5, "reason": "reproduced", "losses": {"ce_bits_best": 1.0}, "seconds": 0.1,
            "versions": {"torch": "x"}, "spec": spec}


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_put_is_insert_only_and_survives_reopen(tmp_path):
    db = tmp_path / "r.sqlite"
    with Store(db) as s:
        assert s.put(_result(0)) and s.put(_result(1, success=False))
        assert not s.put(_result(0, success=False, steps=99))  # already stored: first result kept
    with Store(db) as s:
        rows = s.rows()
        assert [(r["target"], r["success"], r["steps"]) for r in rows] == [(0, True, 5), (1, False, 5)]
        assert s.done_keys() == {_result(0)["key"], _result(1)["key"]}
        assert rows[0]["losses"] == {"ce_bits_best": 1.0} and rows[0]["spec"]["n"] == 3
        assert s.rows(target=1)[0]["success"] is False


def test_key_depends_on_settings_not_on_chunk():
    spec = {"model": "tiny", "m": 1, "n": 2, "target": 0, "seed": 0, "lr": 0.03}
    assert trial_key(spec) == trial_key({**spec, "chunk": 4})
    assert trial_key(spec) != trial_key({**spec, "lr": 0.01})
    assert trial_key(spec) != trial_key({**spec, "seed": 1})


def test_export_csv_and_json_round_trip(tmp_path):
    with Store(tmp_path / "r.sqlite") as s:
        s.put_many([_result(t, success=t % 2 == 0) for t in range(3)])
        rows = s.rows()
        csv_rows = list(csv.DictReader(open(s.export_csv(tmp_path / "out" / "r.csv"))))
        blob = json.loads(s.export_json(tmp_path / "out" / "r.json").read_text())
    assert blob["format"] == FORMAT and blob["trials"] == json.loads(json.dumps(rows))
    assert [r["key"] for r in csv_rows] == [r["key"] for r in rows]
    assert [int(r["success"]) for r in csv_rows] == [1, 0, 1]
    assert [float(r["ce_bits"]) for r in csv_rows] == [r["ce_bits"] for r in rows]
    assert json.loads(csv_rows[0]["versions"]) == {"torch": "x"}


@pytest.mark.parametrize("content", [b"this is not a database\n" * 100, b"\x00\xff" * 3000])
def test_corrupt_file_is_refused_and_untouched(tmp_path, content):
    db = tmp_path / "bad.sqlite"
    db.write_bytes(content)
    before = _digest(db)
    with pytest.raises(StoreError, match="not a SQLite database"):
        Store(db)
    assert _digest(db) == before


def test_truncated_database_is_refused_and_untouched(tmp_path):
    db = tmp_path / "r.sqlite"
    with Store(db) as s:
        s.put_many([_result(t) for t in range(200)])
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    before = _digest(db)
    with pytest.raises(StoreError):
        Store(db)
    assert _digest(db) == before


def test_foreign_sqlite_database_is_refused_and_untouched(tmp_path):
    db = tmp_path / "other.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    con.execute("INSERT INTO customers VALUES (1, 'Ada')")
    con.commit()
    con.close()
    before = _digest(db)
    with pytest.raises(StoreError, match="something else"):
        Store(db)
    assert _digest(db) == before
    # Same tables, wrong format tag: still refused.
    db2 = tmp_path / "other2.sqlite"
    with Store(db2) as s:
        s.put(_result(0))
    con = sqlite3.connect(db2)
    con.execute("UPDATE meta SET value='someone-else/v9' WHERE name='format'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a results database"):
        Store(db2)


def test_readonly_open_of_missing_file_fails(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "none.sqlite", readonly=True)
    assert not (tmp_path / "none.sqlite").exists()


def test_missing_columns_are_rejected(tmp_path):
    with Store(tmp_path / "r.sqlite") as s:
        with pytest.raises(ValueError, match="lacks"):
            s.put({"key": "k", "model": "tiny"})
        assert s.count() == 0


def test_claims_are_exclusive_expire_and_drop_when_stored(tmp_path):
    with Store(tmp_path / "r.sqlite") as s:
        k0, k1, k2 = (_result(t)["key"] for t in range(3))
        assert s.claim([k0, k1], claimant="far:1:a", lease=60, now=100)
        assert not s.claim([k1, k2], claimant="far:2:b", lease=60, now=110)  # k1 is held: nothing claimed
        assert set(s.claims()) == {k0, k1}
        assert s.claim([k1, k2], claimant="far:2:b", lease=60, now=161)  # a's lease ran out: taken over
        assert s.claims()[k1][0] == "far:2:b"
        s.put(_result(0))
        assert k0 not in s.claims()  # storing a trial drops its claim
        assert not s.claim([k0], claimant="far:3:c", lease=60)  # and a stored trial is never claimed
        s.release(claimant="far:2:b")
        assert s.claims() == {}


def test_claims_of_a_dead_process_on_this_host_are_taken_over_at_once(tmp_path):
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = new_claimant().rsplit(":", 2)[0] + f":{int(gone.stdout)}:x"
    with Store(tmp_path / "r.sqlite") as s:
        assert s.claim(["live"], claimant=new_claimant(), lease=3600)  # this process: alive, so it holds
        assert not s.claim(["live"], claimant="elsewhere:1:y", lease=60)
        assert s.claim(["k"], claimant=dead, lease=3600)
        assert s.claim(["k"], claimant="elsewhere:1:y", lease=60)  # its process is gone: no wait for expiry


def test_differences_compare_decisions_exactly_and_floats_within_tolerance():
    a = _result(1)
    assert differences([a], [{**a, "ce_bits": a["ce_bits"] * (1 + 1e-6)}]) == []
    assert differences([a], [{**a, "ce_bits": a["ce_bits"] * (1 + 1e-3)}]) != []
    assert differences([a], [{**a, "success": False}]) != [] and differences([a], []) != []


@pytest.mark.parametrize("name", ["csv", "json"])
def test_export_to_a_folder_is_refused_and_leaves_no_tmp(tmp_path, name):
    folder = tmp_path / "exports"
    folder.mkdir()
    with Store(tmp_path / "r.sqlite") as s:
        s.put(_result(0))
        with pytest.raises(StoreError, match="is a folder"):
            getattr(s, f"export_{name}")(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exports", "r.sqlite"]
