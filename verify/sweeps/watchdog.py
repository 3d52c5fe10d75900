"""``python -m verify.sweeps.watchdog TOKEN``: end what a sweep started once the sweep is gone.

A private local Ray instance is a dozen processes (GCS, raylet, dashboard and runtime-env agents,
workers); when the sweep that started it is killed with ``kill -9`` no shutdown code runs, and some of them
ignore SIGTERM. So before starting Ray the sweep starts this watchdog, in its own session (a Ctrl-C or a
kill of the sweep's process group does not reach it). The sweep puts ``PML_SWEEP_TOKEN=TOKEN`` in the
environment of the processes Ray starts (GCS, raylet, dashboard); Ray does not pass it on to everything
they start, so while the sweep lives the watchdog notes every descendant of a marked process (pid and
start time: the agents lose their parent when the raylet dies, and the workers start their own process
groups). Nothing else the sweep started is touched. When its stdin reaches end of file (the sweep closed
it, or died) or its parent changes, the watchdog sends SIGKILL to every noted process still running, their
descendants and every marked process, until none is left for a second, and exits.

Example:
    >>> marked({os.getpid()}, "no-such-token")
    []
    >>> os.getpid() in descendants({os.getppid()})
    True
"""
from __future__ import annotations

import os
import select
import signal
import sys
import time

TOKEN_ENV = "PML_SWEEP_TOKEN"


def _processes() -> dict[int, tuple[int, str]]:
    """Every process: pid -> (parent pid, start time in clock ticks); start times tell reused pids apart."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":  # a zombie is dead already
            table[int(entry)] = (int(fields[1]), fields[19])
    return table


def descendants(roots: set[int], table: dict | None = None) -> dict[int, str]:
    """Every live descendant of the processes ``roots``: pid -> start time.

    Example:
        >>> descendants({-1})
        {}
    """
    table = _processes() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = {}, list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found[child] = table[child][1]
                stack.append(child)
    return found


def marked(exclude: set[int], token: str) -> list[int]:
    """Pids of live processes (not in ``exclude``) whose environment has ``PML_SWEEP_TOKEN=token``."""
    needle = f"{TOKEN_ENV}={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in exclude:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def watch(parent: int, token: str, *, every: float = 0.5) -> dict[int, str]:
    """Note the marked processes and their descendants until stdin is closed or ``parent`` is gone.
    (Run by :func:`main` in its own process; tests/test_executors.py kills a Ray sweep to test it.)"""
    me = os.getpid()
    known: dict[int, str] = {}
    while True:
        table = _processes()
        roots = {p for p in marked({me}, token) if p in table}
        known.update({p: table[p][1] for p in roots})
        known.update(descendants(roots, table))
        ready, _, _ = select.select([sys.stdin], [], [], every)
        if (ready and not os.read(sys.stdin.fileno(), 4096)) or os.getppid() != parent:
            return known


def sweep_up(known: dict[int, str], token: str, *, settle: float = 1.0, limit: float = 20.0) -> int:
    """SIGKILL the noted processes, their descendants and the marked ones until none is left for ``settle``
    seconds (or ``limit`` passed); return how many signals were sent."""
    me, killed, quiet_since, started = os.getpid(), 0, time.time(), time.time()
    while time.time() - quiet_since < settle and time.time() - started < limit:
        table = _processes()
        alive = {p for p, t in known.items() if p in table and table[p][1] == t}
        targets = (alive | set(descendants(alive, table)) | set(marked({me}, token))) - {me}
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        known.update({p: table[p][1] for p in targets if p in table})
        if targets:
            quiet_since = time.time()
        time.sleep(0.1)
    return killed


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0]:
        print("usage: python -m verify.sweeps.watchdog TOKEN  (started by the sweep; not for direct use)",
              file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # outlive a Ctrl-C of the sweep, to clean up after it
    sweep_up(watch(os.getppid(), args[0]), args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
