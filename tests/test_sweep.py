"""verify.sweeps.sweep: deterministic trials, resume after SIGKILL, dry run, exports, one-line errors.

Results computed with a different batch shape (chunk) or in another process are compared with
:func:`verify.sweeps.store.differences`: decisions and counts (success, steps, accuracy, reason) exactly,
cross-entropies within a relative 1e-4 (``FLOAT_REL_TOL``); bit-identical floats hold only for one batch
shape on one machine.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from verify.sweeps.executors import LocalExecutor
from verify.sweeps.store import Store, differences
from verify.sweeps.sweep import SweepConfig, main, plan, run_sweep, trial

REPO = Path(__file__).resolve().parent.parent
# A small grid with a mix of quick successes (n = 1) and full-length failures (n = 3) on the tiny model.
GRID = ["--models", "tiny", "--m", "1", "2", "--n", "1", "3", "--targets", "4", "--steps", "120"]
CONFIG = SweepConfig(models=["tiny"], m=[1, 2], n=[1, 3], targets=4, steps=120)
VALUE_FIELDS = ("key", "model", "kind", "m", "n", "target", "seed", "max_steps", "steps", "success",
                "accuracy", "ce_bits", "reason", "losses", "spec")


def _values(db: Path) -> list[tuple]:
    with Store(db, readonly=True) as s:
        return [tuple(str(r[f]) for f in VALUE_FIELDS) for r in s.rows()]


def _rows(db: Path) -> list[dict]:
    with Store(db, readonly=True) as s:
        return s.rows()


def _count(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    env.pop("PML_RESULTS_DB", None)
    return env


@pytest.fixture(scope="module")
def reference_db(tmp_path_factory):
    """The uninterrupted run of the grid (in-process, one torch thread, like every worker)."""
    db = tmp_path_factory.mktemp("ref") / "ref.sqlite"
    with Store(db) as store, LocalExecutor(workers=1, threads=1) as ex:
        summary = run_sweep(CONFIG, store, ex, log=lambda msg: None)
    assert summary == {"planned": 16, "skipped": 0, "ran": 16, "by_others": 0}
    return db


def test_trial_is_deterministic_and_reproduces_first_token():
    spec = {"model": "tiny", "kind": "random", "m": 1, "n": 1, "seed": 0, "target": 0, "max_steps": 60,
            "lr": 0.03, "patience": None, "device": "cpu"}
    a, b = trial(spec), trial(spec)
    assert (a["success"], a["steps"], a["ce_bits"]) == (b["success"], b["steps"], b["ce_bits"])
    assert a["success"] and a["reason"] == "reproduced"


def test_reference_grid_has_successes_and_failures(reference_db):
    rows = Store(reference_db, readonly=True).rows()
    assert len(rows) == 16 and len({r["key"] for r in rows}) == 16
    by_n = {n: [r["success"] for r in rows if r["n"] == n] for n in (1, 3)}
    assert any(by_n[1]) and not all(by_n[3])  # the grid exercises both outcomes


def test_rerun_resumes_and_skips_everything(reference_db, tmp_path):
    db = tmp_path / "copy.sqlite"
    db.write_bytes(reference_db.read_bytes())
    with Store(db) as store, LocalExecutor(workers=1, threads=1) as ex:
        summary = run_sweep(CONFIG, store, ex, log=lambda msg: None)
    assert summary == {"planned": 16, "skipped": 16, "ran": 0, "by_others": 0}
    assert _values(db) == _values(reference_db)  # nothing recomputed: the very same stored values


def test_partial_chunks_are_recomputed_whole_and_only_missing_trials_stored(reference_db, tmp_path):
    db = tmp_path / "partial.sqlite"
    db.write_bytes(reference_db.read_bytes())
    con = sqlite3.connect(db)
    con.execute("DELETE FROM trials WHERE (m = 1 AND n = 3 AND target IN (1, 2)) OR (m = 2 AND target = 0 AND n = 1)")
    con.commit()
    con.close()
    with Store(db) as store, LocalExecutor(workers=1, threads=1) as ex:
        summary = run_sweep(CONFIG, store, ex, chunk=2, log=lambda msg: None)
    assert summary == {"planned": 16, "skipped": 13, "ran": 3, "by_others": 0}
    # batched chunks reproduce the one-target-per-task decisions exactly, cross-entropies within 1e-4
    assert differences(_rows(db), _rows(reference_db)) == []


def test_sigkill_mid_run_then_resume_equals_uninterrupted_run(reference_db, tmp_path):
    db = tmp_path / "killed.sqlite"
    cmd = [sys.executable, "-m", "verify.sweeps.sweep", *GRID, "--db", str(db), "--workers", "1", "--threads", "1"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 60
    try:
        while _count(db) < 6 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        stored_at_kill = _count(db)
        os.killpg(proc.pid, signal.SIGKILL)  # the whole process group this test started
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    assert 0 < stored_at_kill < 16
    resumed = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "already stored" in resumed.stderr and "eta" in resumed.stderr
    values = _values(db)
    assert len(values) == len({v[0] for v in values}) == 16  # no duplicates, nothing lost
    assert differences(_rows(db), _rows(reference_db)) == []  # same keys, same decisions, same CE within 1e-4


def test_dry_run_prints_grid_and_size_and_writes_nothing(tmp_path, capsys):
    db = tmp_path / "never.sqlite"
    assert main([*GRID, "--db", str(db), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "size: 16 trials" in out and "m=[1, 2]" in out and "does not exist yet" in out
    assert not db.exists()


def test_dry_run_counts_stored_trials(reference_db, capsys):
    assert main([*GRID, "--db", str(reference_db), "--dry-run"]) == 0
    assert "16 of these trials stored, 0 to run" in capsys.readouterr().out


def test_export_subcommand(reference_db, tmp_path, capsys):
    csv_path, json_path = tmp_path / "r.csv", tmp_path / "r.json"
    assert main(["export", "--db", str(reference_db), "--csv", str(csv_path), "--json", str(json_path)]) == 0
    assert len(csv_path.read_text().strip().splitlines()) == 17
    assert '"trials"' in json_path.read_text()


def test_plan_order_and_size():
    specs = plan(CONFIG)
    assert len(specs) == CONFIG.size == 16
    assert [s["target"] for s in specs[:5]] == [0, 1, 2, 3, 0]


@pytest.mark.parametrize("args, message", [
    (["--models", "nope"], "unknown model"),
    (["--m", "0"], "--m 0: every m must be an integer >= 1"),
    (["--n", "4", "-2"], "--n 4 -2: every n must be an integer >= 1"),
    (["--kind", "poetry"], "unknown target kind"),
    (["--models", "tiny", "--kind", "natural"], "no natural text"),
    (["--executor", "slurm"], "unknown executor"),
    (["--workers", "0"], "--workers must be >= 1"),
    (["--targets", "x"], "invalid int value"),
    (["export", "--db", "/nonexistent/r.sqlite", "--csv", "/tmp/x.csv"], "does not exist"),
    (["--patience", "-5"], "--patience must be >= 1"),
    (["--lease", "0"], "--lease must be > 0"),
])
def test_bad_usage_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    if "--db" not in args:
        args = [*args, "--db", str(tmp_path / "r.sqlite")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_corrupt_database_exit_2_and_untouched(tmp_path, capsys):
    db = tmp_path / "corrupt.sqlite"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    before = db.read_bytes()
    assert main([*GRID, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("verify.sweeps: error:") and err.count("\n") == 1
    assert db.read_bytes() == before


def test_model_dir_without_weights_exit_2(tmp_path, capsys):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text('{"model_type": "llama"}')
    assert main(["--models", f"hf:{model_dir}", "--db", str(tmp_path / "r.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "no weights" in err and err.count("\n") == 1
    assert not (tmp_path / "r.sqlite").exists()


def test_unreachable_ray_address_exit_2(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tmp_path / "r.sqlite"
    with Store(db) as store:  # something already stored must stay as it is
        store.put({"key": "k0", "model": "tiny", "m": 1, "n": 1, "target": 0, "seed": 0, "success": True})
    before = db.read_bytes()
    assert main([*GRID, "--db", str(db), "--executor", "ray", "--address", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("cannot reach a Ray cluster" in err or "needs the optional 'ray'" in err)
    assert db.read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["--gguf", "/nonexistent/model.gguf"], "GGUF file not found"),
    (["--m", "0"], "every m must be >= 1"),
    (["--kinds", "poetry"], "invalid choice: 'poetry'"),
    (["--budget-minutes", "0"], "--budget-minutes must be > 0"),
])
def test_real_cramming_bad_usage_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    from verify.experiments.real_cramming import main as real_main

    assert real_main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_repeated_grid_values_are_one_point_in_plan_dry_run_and_run(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    args = ["--m", "1", "1", "--n", "1", "--targets", "2", "--steps", "20", "--db", str(db), "--workers", "1"]
    assert main([*args, "--dry-run"]) == 0
    assert "size: 2 trials" in capsys.readouterr().out
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 trials run here" in out and "point model=tiny kind=random m=1 n=1:" in out
    assert len(plan(SweepConfig(m=[1, 1, 2], n=[3, 3], targets=2))) == 4


def test_export_path_that_is_a_folder_fails_before_the_sweep_runs(tmp_path, capsys):
    folder = tmp_path / "exports"
    folder.mkdir()
    db = tmp_path / "r.sqlite"
    assert main([*GRID, "--db", str(db), "--export-csv", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and err.count("\n") == 1
    assert not db.exists()  # nothing ran, nothing was created
    with Store(db) as s:
        s.put({"key": "k", "model": "tiny", "m": 1, "n": 1, "target": 0, "seed": 0, "success": True})
    assert main(["export", "--db", str(db), "--csv", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exports", "r.sqlite"]  # no exports.tmp left


@pytest.fixture
def read_only_db(tmp_path):
    """A results database nobody may write, root included (chattr +i when running as root)."""
    db = tmp_path / "ro.sqlite"
    with Store(db) as s:
        s.put({"key": "k", "model": "tiny", "m": 1, "n": 1, "target": 0, "seed": 0, "success": True})
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
            pytest.skip("running as root on a file system without chattr +i: cannot make a file read-only")
    else:
        db.chmod(0o444)
    try:
        yield db
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(db)], capture_output=True)


def test_read_only_database_is_found_before_the_first_trial(read_only_db, capsys):
    before = read_only_db.read_bytes()
    t0 = time.time()
    assert main([*GRID, "--db", str(read_only_db), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot write to" in err and err.count("\n") == 1 and "Traceback" not in err
    assert "trials" not in err and time.time() - t0 < 10  # refused at open, no trial ran
    assert read_only_db.read_bytes() == before


def _sweep_summary(out: str) -> int:
    import re

    found = re.search(r"sweep: (\d+) trials run here, (\d+) by another sweep", out)
    assert found, out
    return int(found.group(1))


def test_two_sweeps_on_one_store_run_each_trial_once(tmp_path):
    db = tmp_path / "shared.sqlite"
    grid = ["--models", "tiny", "--m", "1", "2", "--n", "1", "3", "--targets", "8", "--steps", "80"]
    cmd = [sys.executable, "-m", "verify.sweeps", *grid, "--db", str(db), "--workers", "1", "--threads", "1"]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    ran = [_sweep_summary(out) for out, _ in outs]
    assert sum(ran) == 32, ran  # together they computed every trial exactly once
    assert min(ran) > 0, ran  # and they split the grid
    with Store(db, readonly=True) as s:
        assert s.count() == 32 and s.claims() == {}


def test_claims_of_a_dead_sweep_are_taken_over_after_they_expire(tmp_path):
    from verify.sweeps.sweep import make_tasks, task_specs

    db = tmp_path / "r.sqlite"
    cfg = SweepConfig(models=["tiny"], m=[1], n=[1], targets=3, steps=20)
    with Store(db) as store:
        keys = [s["key"] for s in task_specs(make_tasks(plan(cfg))[1])]
        assert store.claim(keys, claimant="another-host:1:a", lease=1.5)  # a sweep elsewhere that then died
        t0 = time.time()
        with LocalExecutor(workers=1, threads=1) as ex:
            summary = run_sweep(cfg, store, ex, log=lambda msg: None, poll=0.1)
        assert summary == {"planned": 3, "skipped": 0, "ran": 3, "by_others": 0}
        assert time.time() - t0 >= 1.0 and store.count() == 3 and store.claims() == {}
