"""Executors: thread limits in local workers, and local vs Ray giving the same stored results.

Stores filled by different processes are compared with :func:`verify.sweeps.store.differences`
(decisions and counts exactly, cross-entropies within a relative 1e-4), not bit for bit.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from verify.sweeps.executors import ExecutorError, worker_threads, LocalExecutor, RayExecutor, check_address, make_executor, ray_available
from verify.sweeps.store import Store, differences
from verify.sweeps.sweep import SweepConfig, run_sweep

REPO = Path(__file__).resolve().parent.parent
CONFIG = SweepConfig(models=["tiny"], m=[1, 2], n=[1, 2], targets=2, steps=60)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stored(db) -> list[dict]:
    with Store(db, readonly=True) as s:
        return s.rows()


@pytest.fixture(scope="module")
def pool():
    """A pool of 2 spawned worker processes, 1 torch thread each (started once: spawning costs seconds)."""
    with LocalExecutor(workers=2, threads=1) as ex:
        yield ex


@pytest.fixture(scope="module")
def local_pool_db(tmp_path_factory, pool):
    """The small sweep through the pool."""
    db = tmp_path_factory.mktemp("local") / "local.sqlite"
    with Store(db) as store:
        assert run_sweep(CONFIG, store, pool, log=lambda m: None)["ran"] == CONFIG.size
    return db


def test_local_workers_are_limited_to_their_threads(pool):
    assert "2 workers x 1 torch thread" in pool.describe()
    assert [r for _, r in pool.map_unordered(worker_threads, range(4))] == [1, 1, 1, 1]


def test_default_local_executor_does_not_oversubscribe():
    from verify.sweeps.executors import usable_cores

    ex = LocalExecutor()
    assert ex.workers == usable_cores() and ex.workers * ex.threads <= usable_cores()


def test_pool_and_in_process_store_the_same_results(local_pool_db, tmp_path):
    db = tmp_path / "inproc.sqlite"
    with Store(db) as store, LocalExecutor(workers=1, threads=1) as ex:
        run_sweep(CONFIG, store, ex, log=lambda m: None)
    assert differences(_stored(db), _stored(local_pool_db)) == []


def test_unreachable_address_fails_fast_with_one_line():
    port = _closed_port()
    t0 = time.time()
    with pytest.raises(ExecutorError, match="cannot reach a Ray cluster"):
        check_address(f"127.0.0.1:{port}")
    with pytest.raises(ExecutorError, match="not HOST:PORT"):
        check_address("localhost")
    assert time.time() - t0 < 10


def test_address_needs_ray_executor():
    with pytest.raises(ExecutorError, match="--address is for the Ray executor"):
        make_executor("local", address="127.0.0.1:6379")


@pytest.mark.skipif(not ray_available(), reason="Ray is an optional extra: pip install 'ray>=2.9' to test it")
def test_ray_unreachable_address_raises_executor_error():
    with pytest.raises(ExecutorError, match="cannot reach a Ray cluster"):
        RayExecutor(address=f"127.0.0.1:{_closed_port()}")


@pytest.mark.skipif(not ray_available(), reason="Ray is an optional extra: pip install 'ray>=2.9' to test it")
def test_ray_and_local_store_the_same_results(local_pool_db, tmp_path):
    db = tmp_path / "ray.sqlite"
    with Store(db) as store, RayExecutor(workers=2) as ex:  # a private local Ray instance, 2 CPUs
        assert "ray: local instance" in ex.describe()
        summary = run_sweep(CONFIG, store, ex, log=lambda m: None)
        assert [r for _, r in ex.map_unordered(worker_threads, range(2))] == [1, 1]
    assert summary["ran"] == CONFIG.size
    assert differences(_stored(db), _stored(local_pool_db)) == []


# ----------------------------------------------------------------------------- no orphans after kill -9
def _survivors(pgid: int, mark: str) -> list[str]:
    """Live (non-zombie) processes in process group ``pgid`` or carrying ``mark`` in their environment."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            state, _, group = stat.rsplit(")", 1)[1].split()[:3]
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read().split(b"\0")
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")[:120]
        except OSError:
            continue
        if state != "Z" and (int(group) == pgid or mark.encode() in env):
            found.append(f"{entry} {cmd}")
    return found


def _kill_sweep_and_list_survivors(tmp_path, extra: list[str], *, started: float = 120) -> list[str]:
    """Start a sweep in its own process group, SIGKILL its main process once it stored trials, and return
    whatever of its group (or its descendants, marked through the environment) is still alive 10 s later."""
    mark = f"PML_TEST_MARK={uuid.uuid4().hex}"
    db = tmp_path / "r.sqlite"
    cmd = [sys.executable, "-m", "verify.sweeps", "--models", "tiny", "--m", "1", "2", "--n", "3", "4",
           "--targets", "40", "--steps", "300", "--db", str(db), *extra]
    env = dict(os.environ, PYTHONPATH=str(REPO), **dict([mark.split("=")]))
    env.pop("PML_RESULTS_DB", None)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + started
        while proc.poll() is None and time.time() < deadline and not _stored_any(db):
            time.sleep(0.1)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        assert _stored_any(db), "the sweep stored nothing in time"
        os.kill(proc.pid, signal.SIGKILL)  # the main process only: its workers must follow by themselves
        proc.wait(timeout=10)
        deadline = time.time() + 10
        while _survivors(proc.pid, mark) and time.time() < deadline:
            time.sleep(0.2)
        return _survivors(proc.pid, mark)
    finally:
        for line in _survivors(proc.pid, mark):  # never leave anything behind, even when the test fails
            try:
                os.kill(int(line.split()[0]), signal.SIGKILL)
            except OSError:
                pass


def _stored_any(db) -> bool:
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM trials").fetchone()[0] > 0
        finally:
            con.close()
    except sqlite3.Error:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find survivors")
def test_sigkill_of_a_local_sweep_leaves_no_worker_or_resource_tracker(tmp_path):
    assert _kill_sweep_and_list_survivors(tmp_path, ["--workers", "2", "--threads", "1"]) == []


@pytest.mark.skipif(not ray_available() or not sys.platform.startswith("linux"),
                    reason="Ray is an optional extra (pip install 'ray>=2.9'); reads /proc")
def test_sigkill_of_a_ray_sweep_leaves_no_ray_process(tmp_path):
    assert _kill_sweep_and_list_survivors(tmp_path, ["--executor", "ray", "--workers", "2"]) == []
