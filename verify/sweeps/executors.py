"""Where sweep tasks run: a local process pool (default) or a Ray cluster, behind one small interface.

Both executors take a picklable top-level function and an iterable of tasks and yield ``(task, result)``
pairs as tasks finish (in completion order, not submission order). They pull tasks lazily, only as many
as they can run at once, so the sweep claims a task in the store only when a worker is about to take it. The caller (:mod:`verify.sweeps.sweep`) writes each
result to the store as it arrives, so the executor never needs to survive a crash itself.

- :class:`LocalExecutor`: ``workers`` processes (default: the number of usable cores), each with
  ``torch.set_num_threads(threads)`` where ``threads = max(1, cores // workers)``, so that workers do not
  oversubscribe the cores. ``workers=1`` runs the tasks in this process (no pool), with the same thread
  setting restored afterwards. Processes are started with ``spawn`` (forking a process that already
  runs torch's thread pools can deadlock). A worker ends when the sweep does, even under ``kill -9``:
  the kernel kills it when its parent dies (Linux ``PR_SET_PDEATHSIG``), and a thread in it that watches
  the parent's pid does the same elsewhere; with the workers gone, multiprocessing's resource tracker
  sees its pipe close and exits too.
- :class:`RayExecutor`: each task is a Ray task with ``num_cpus=1`` and one torch thread. ``address=None``
  starts a private local Ray instance (``num_cpus`` = workers); ``address="HOST:PORT"`` or ``"auto"``
  joins a running cluster. A private instance never outlives the sweep: a watchdog process
  (:mod:`verify.sweeps.watchdog`) kills every process of it once the sweep ends or dies. Ray is an optional extra (``pip install ray``); without it, asking for it
  raises :class:`ExecutorError`.

Tasks must be deterministic given their own content for the two executors to store identical results:
every worker runs with one torch thread per task, whatever the executor.

Example:
    >>> with LocalExecutor(workers=1) as ex:
    ...     sorted(r for _, r in ex.map_unordered(abs, [-2, 1, -3]))
    [1, 2, 3]
"""
from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable, Iterator

from verify.sweeps.watchdog import TOKEN_ENV

REPO_ROOT = Path(__file__).resolve().parents[2]


class ExecutorError(RuntimeError):
    """An executor cannot be started (Ray missing, cluster unreachable); CLIs print it and exit 2."""


def usable_cores() -> int:
    """CPU cores this process may use (the affinity mask where the OS has one).

    Example:
        >>> usable_cores() >= 1
        True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def set_threads(threads: int) -> None:
    """Limit torch (and the BLAS/OpenMP pools it starts) to ``threads`` threads in this process.

    Example:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> set_threads(1); torch.get_num_threads()
        1
        >>> set_threads(before)
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


def worker_threads(_task=None) -> int:
    """The torch thread count of the process that runs it (lets tests and users check a worker's setting).

    Example:
        >>> with LocalExecutor(workers=1, threads=1) as ex:
        ...     [r for _, r in ex.map_unordered(worker_threads, [0])]
        [1]
    """
    import torch

    return torch.get_num_threads()


def die_with_parent(parent: int, *, pdeathsig: bool = True) -> None:
    """End this process when process ``parent`` is gone (a pool worker must not outlive a killed sweep).

    On Linux the kernel sends SIGKILL when the parent dies (``PR_SET_PDEATHSIG``); a daemon thread that
    polls the parent's pid covers other systems, and the case where the parent died before this ran.
    Pool workers call it first thing (tests/test_executors.py kills a sweep and looks for survivors).

    Example (a child that calls it outlives nothing: it is gone once its parent is):
        >>> import subprocess, sys
        >>> code = "from verify.sweeps.executors import die_with_parent; import os; die_with_parent(os.getppid()); print('ok')"
        >>> subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT).stdout.strip()
        'ok'
    """
    if pdeathsig and sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _init_worker(threads: int, path: list[str], parent: int, pdeathsig: bool) -> None:
    die_with_parent(parent, pdeathsig=pdeathsig)
    for p in reversed(path):
        if p not in sys.path:
            sys.path.insert(0, p)
    set_threads(threads)


def _call_with_threads(fn: Callable, task, threads: int):
    set_threads(threads)
    return fn(task)


class LocalExecutor:
    """Run tasks in ``workers`` local processes (``workers=1``: in this process)."""

    name = "local"

    def __init__(self, workers: int | None = None, threads: int | None = None):
        cores = usable_cores()
        self.workers = max(1, int(workers) if workers else cores)
        self.threads = max(1, int(threads) if threads else cores // self.workers)
        self._pool = None

    def describe(self) -> str:
        """One line for the progress output.

        Example:
            >>> LocalExecutor(workers=1, threads=1).describe()
            'local: 1 worker x 1 torch thread (in-process)'
        """
        where = " (in-process)" if self.workers == 1 else ""
        return (f"local: {self.workers} worker{'s' * (self.workers > 1)} x {self.threads} torch "
                f"thread{'s' * (self.threads > 1)}{where}")

    def map_unordered(self, fn: Callable, tasks: Iterable) -> Iterator[tuple]:
        """Yield ``(task, fn(task))`` as each task finishes; at most ``workers`` tasks are taken at a time."""
        if self.workers == 1:
            import torch

            before = torch.get_num_threads()
            try:
                for task in tasks:
                    torch.set_num_threads(self.threads)  # this process's env stays as it was
                    yield task, fn(task)
            finally:
                torch.set_num_threads(before)
            return
        import concurrent.futures as cf
        import multiprocessing as mp

        if self._pool is None:
            # PR_SET_PDEATHSIG fires when the *thread* that started the worker ends: only safe from the main
            # thread (workers are started by submit, in this thread); elsewhere the pid watch alone is used.
            main = threading.current_thread() is threading.main_thread()
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=mp.get_context("spawn"),
                initializer=_init_worker, initargs=(self.threads, [str(REPO_ROOT)] + sys.path, os.getpid(), main))
        pending = iter(tasks)
        futures: dict = {}
        try:
            while True:
                for task in itertools.islice(pending, self.workers - len(futures)):
                    futures[self._pool.submit(fn, task)] = task
                if not futures:
                    return
                finished, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    yield futures.pop(fut), fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_address(address: str, timeout: float = 3.0) -> None:
    """Raise :class:`ExecutorError` unless something accepts TCP connections at ``HOST:PORT``.

    ``ray.init`` can wait a long time on a dead address; this fails fast with one line instead.
    ``"auto"`` and ``ray://`` client addresses are left to Ray (after their own host check for ray://).

    Example:
        >>> check_address("127.0.0.1:1")
        Traceback (most recent call last):
        ...
        verify.sweeps.executors.ExecutorError: cannot reach a Ray cluster at 127.0.0.1:1 (connection refused)
    """
    if address == "auto":
        return
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise ExecutorError(f"Ray address {address!r} is not HOST:PORT (or 'auto')")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except ConnectionRefusedError:
        raise ExecutorError(f"cannot reach a Ray cluster at {address} (connection refused)") from None
    except (socket.timeout, TimeoutError):
        raise ExecutorError(f"cannot reach a Ray cluster at {address} (no answer in {timeout:g} s)") from None
    except OSError as exc:
        raise ExecutorError(f"cannot reach a Ray cluster at {address} ({exc.strerror or exc})") from None


def ray_available() -> bool:
    """True if the optional ``ray`` package can be imported.

    Example:
        >>> isinstance(ray_available(), bool)
        True
    """
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _start_watchdog(token: str) -> subprocess.Popen:
    """Start :mod:`verify.sweeps.watchdog` for ``token`` in its own session, unmarked itself."""
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return subprocess.Popen([sys.executable, "-m", "verify.sweeps.watchdog", token], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, env=env, start_new_session=True, cwd=str(REPO_ROOT))


class RayExecutor:
    """Run tasks as Ray tasks (one CPU and one torch thread each) on a local or remote Ray cluster."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            import ray
        except ImportError:
            raise ExecutorError("the Ray executor needs the optional 'ray' package: pip install 'ray>=2.9'") from None
        self._ray = ray
        self.address = address
        self.workers = max(1, int(workers) if workers else usable_cores())
        self._owns_runtime = False
        self._watchdog = None
        if address is not None:
            check_address(address)
        if not ray.is_initialized():
            kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
            saved = dict(os.environ)
            if address is None:
                # A private local instance: its workers inherit this environment, so put the repo on their
                # path and pin their BLAS/OpenMP pools to one thread (no runtime_env: prestarted workers).
                kwargs["num_cpus"] = self.workers
                token = uuid.uuid4().hex
                self._watchdog = _start_watchdog(token)
                os.environ[TOKEN_ENV] = token  # every process of the instance inherits it: the watchdog's mark
                os.environ["PYTHONPATH"] = os.pathsep.join(
                    [str(REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
                for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
                    os.environ[var] = "1"
            else:
                # A remote cluster: ship this repository (small, code and zoo weights) as the working dir.
                kwargs["address"] = address
                kwargs["runtime_env"] = {"working_dir": str(REPO_ROOT),
                                         "excludes": [".venv", ".venv-ci", ".git", "out", ".real_bundle", "*.sqlite"],
                                         "env_vars": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}}
            try:
                ray.init(**kwargs)
            except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
                self._stop_watchdog()
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ExecutorError(f"cannot start Ray ({'address ' + address if address else 'local'}): {msg}") from None
            finally:
                os.environ.clear()
                os.environ.update(saved)
            self._owns_runtime = True
        self._remote = ray.remote(num_cpus=1, max_retries=2)(_call_with_threads)

    def describe(self) -> str:
        cpus = int(self._ray.cluster_resources().get("CPU", 0))
        return f"ray: {'local instance' if self.address is None else self.address}, {cpus} CPUs, 1 torch thread per task"

    def map_unordered(self, fn: Callable, tasks: Iterable) -> Iterator[tuple]:
        """Yield ``(task, fn(task))`` as each Ray task finishes; a task error is re-raised here.

        At most as many tasks as the cluster has CPUs (at least ``workers``) are taken at a time."""
        ray = self._ray
        slots = max(self.workers, int(ray.cluster_resources().get("CPU", 0)))
        tasks = iter(tasks)
        pending: dict = {}
        try:
            while True:
                for task in itertools.islice(tasks, slots - len(pending)):
                    pending[self._remote.remote(fn, task, 1)] = task
                if not pending:
                    return
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    task = pending.pop(ref)
                    yield task, ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._owns_runtime and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns_runtime = False
        self._stop_watchdog()

    def _stop_watchdog(self) -> None:
        """Let the watchdog kill what ``ray.shutdown`` left (agents that ignore SIGTERM) and wait for it."""
        if self._watchdog is not None:
            self._watchdog.stdin.close()
            try:
                self._watchdog.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
            self._watchdog = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


EXECUTORS = ("local", "ray")


def make_executor(name: str, *, address: str | None = None, workers: int | None = None,
                  threads: int | None = None):
    """Build the executor called ``name`` ('local' or 'ray'); raise :class:`ExecutorError` if it cannot start.

    Example:
        >>> make_executor("local", workers=1).describe().startswith("local")
        True
        >>> make_executor("slurm")
        Traceback (most recent call last):
        ...
        verify.sweeps.executors.ExecutorError: unknown executor 'slurm'; known: local, ray
    """
    if name == "local":
        if address is not None:
            raise ExecutorError("--address is for the Ray executor (add --executor ray)")
        return LocalExecutor(workers=workers, threads=threads)
    if name == "ray":
        return RayExecutor(address=address, workers=workers)
    raise ExecutorError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
