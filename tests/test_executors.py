"""Executors: thread limits in local workers, and local vs Ray giving the same stored results.

Stores filled by different processes are compared with :func:`verify.sweeps.store.differences`
(decisions and counts exactly, cross-entropies within a relative 1e-4), not bit for bit.
"""
from __future__ import annotations

import socket
import time

import pytest

from verify.sweeps.executors import ExecutorError, worker_threads, LocalExecutor, RayExecutor, check_address, make_executor, ray_available
from verify.sweeps.store import Store, differences
from verify.sweeps.sweep import SweepConfig, run_sweep

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
