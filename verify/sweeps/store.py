"""The results store: every cramming trial in one embedded SQLite file, committed as soon as it is known.

A sweep over (model, m, n, seed, target) can take GPU-hours; a node may die at any moment. So each
finished trial is written in its own transaction (SQLite's journal makes it all-or-nothing even under
``kill -9``), trials are keyed by a hash of everything that determines their result (:func:`trial_key`),
and a rerun of the same sweep asks :meth:`Store.done_keys` and skips what is there. Rows are only ever
inserted, never replaced: a key already stored keeps its first result (``INSERT OR IGNORE``).

Concurrent sweeps on one file split the grid: before computing a trial a sweep claims it
(:meth:`Store.claim`: a row in table ``claims`` with the claimant's id and an expiry, taken in one
``BEGIN IMMEDIATE`` transaction, so two claimants can never both get a key). A live sweep renews its
leases (:meth:`Store.renew`); storing a trial drops its claim; the claims of a sweep that died expire and
another sweep takes the trials over (at once if the claimant was a process on this host that is gone).

Opening refuses, with a one-line :class:`StoreError`, a file that is not SQLite (corrupt, truncated, a
text file), and a SQLite database that is not ours (no ``meta`` table with our format tag), so a typo in
``--db`` can never damage someone else's data.

Columns of table ``trials`` (also the columns of :meth:`Store.export_csv`): ``key, model, kind, m, n,
target, seed, max_steps, steps, success, accuracy, ce_bits, reason, losses, seconds, versions, spec,
created_utc``; ``losses``, ``versions`` and ``spec`` hold JSON text.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "r.sqlite")
    >>> store = Store(path)
    >>> spec = {"model": "tiny", "kind": "random", "m": 1, "n": 2, "target": 0, "seed": 0, "max_steps": 10}
    >>> store.put({**spec, "key": trial_key(spec), "success": True, "steps": 3, "ce_bits": 0.5})
    True
    >>> store.put({**spec, "key": trial_key(spec), "success": False, "steps": 9, "ce_bits": 9.0})  # kept
    False
    >>> [(r["success"], r["steps"]) for r in store.rows()]
    [(True, 3)]
    >>> store.close()
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from verify.store import atomic_path

FORMAT = "prompt-memory-limits/results/v1"
DEFAULT_DB = "out/results.sqlite"
DB_ENV = "PML_RESULTS_DB"  # environment variable that overrides the default path
SQLITE_MAGIC = b"SQLite format 3\x00"

# Fields that define a trial (its key) and the columns of the trials table, in export order.
KEY_FIELDS = ("model", "kind", "m", "n", "target", "seed", "max_steps")
COLUMNS = ("key", "model", "kind", "m", "n", "target", "seed", "max_steps", "steps", "success", "accuracy",
           "ce_bits", "reason", "losses", "seconds", "versions", "spec", "created_utc")
JSON_COLUMNS = ("losses", "versions", "spec")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL, kind TEXT, m INTEGER NOT NULL, n INTEGER NOT NULL, target INTEGER NOT NULL,
    seed INTEGER NOT NULL, max_steps INTEGER, steps INTEGER, success INTEGER NOT NULL, accuracy REAL,
    ce_bits REAL, reason TEXT, losses TEXT, seconds REAL, versions TEXT, spec TEXT, created_utc TEXT
);
CREATE INDEX IF NOT EXISTS trials_point ON trials (model, kind, m, n);
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, claimant TEXT NOT NULL, expires REAL NOT NULL);
"""
_CLAIMS_SCHEMA = "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, claimant TEXT NOT NULL, expires REAL NOT NULL)"


# What two runs of the same trial must agree on exactly (decisions and counts), and the float columns that
# may differ in their last bits when batch shape, thread count or machine differ (reduction order).
EXACT_FIELDS = ("key", "model", "kind", "m", "n", "target", "seed", "max_steps", "steps", "success", "accuracy",
                "reason", "spec")
FLOAT_FIELDS = ("ce_bits",)
FLOAT_REL_TOL = 1e-4  # observed: 1 float32 ulp (8e-8 relative) between a chunk of 2 and of 1 on one CPU


def differences(rows_a: list[dict], rows_b: list[dict], *, rel_tol: float = FLOAT_REL_TOL) -> list[str]:
    """How two runs' trials disagree: decisions and counts exactly, cross-entropies within ``rel_tol``.

    Bit-identical floats are only reproducible on one machine with one batch shape, so a comparison
    across chunks, executors or machines is done this way. Returns one line per difference (empty: same).

    Example:
        >>> a = {"key": "k", "success": True, "steps": 3, "ce_bits": 11.898545265}
        >>> differences([a], [{**a, "ce_bits": 11.898546219}])
        []
        >>> differences([a], [{**a, "steps": 4}])
        ['trial k: steps 3 != 4']
    """
    out = []
    by_key = {r["key"]: r for r in rows_b}
    if len(by_key) != len(rows_b) or {r["key"] for r in rows_a} != set(by_key) or len(rows_a) != len(rows_b):
        return [f"different trials: {len(rows_a)} vs {len(rows_b)} rows, "
                f"{len({r['key'] for r in rows_a} ^ set(by_key))} keys in only one"]
    for a in rows_a:
        b = by_key[a["key"]]
        for f in EXACT_FIELDS:
            if a.get(f) != b.get(f):
                out.append(f"trial {a['key']}: {f} {a.get(f)!r} != {b.get(f)!r}")
        for f in FLOAT_FIELDS:
            x, y = a.get(f), b.get(f)
            if (x is None) != (y is None) or (x is not None and abs(x - y) > rel_tol * max(abs(x), abs(y), 1e-6)):
                out.append(f"trial {a['key']}: {f} {x!r} and {y!r} differ by more than {rel_tol:g} relative")
    return out


class StoreError(ValueError):
    """The database file is corrupt, foreign or unwritable (CLIs print the message and exit 2)."""


def default_path() -> Path:
    """Where results go unless ``--db`` says otherwise: ``$PML_RESULTS_DB`` or ``out/results.sqlite``.

    Example:
        >>> default_path().name
        'results.sqlite'
    """
    return Path(os.environ.get(DB_ENV) or DEFAULT_DB)


def trial_key(spec: dict) -> str:
    """Stable 20-hex-digit key of a trial: a hash of the fields that determine its result.

    Everything in ``spec`` counts (so a change of learning rate or of the model file makes a new trial),
    except execution details that must not change the result (the key ``"chunk"``, timing, versions).

    Example:
        >>> trial_key({"model": "tiny", "m": 1}) == trial_key({"m": 1, "model": "tiny", "chunk": 8})
        True
    """
    canonical = {k: v for k, v in spec.items() if k not in ("chunk", "key")}
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _check_file(path: Path) -> None:
    """Refuse, before SQLite touches it, a file that is not a SQLite database (an empty file is fine)."""
    if path.is_dir():
        raise StoreError(f"results database {path} is a directory")
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"cannot read results database {path}: {exc.strerror or exc}") from None
    if head != SQLITE_MAGIC:
        raise StoreError(f"{path} is not a SQLite database (corrupt or foreign file); refusing to touch it")


class Store:
    """An open results database. Use :meth:`put` for each finished trial; :meth:`done_keys` to resume.

    Example:
        >>> import tempfile, os
        >>> s = Store(os.path.join(tempfile.mkdtemp(), "x.sqlite"))
        >>> s.count(), s.done_keys()
        (0, set())
    """

    def __init__(self, path: str | Path | None = None, *, readonly: bool = False):
        self.path = Path(path) if path is not None else default_path()
        _check_file(self.path)
        if readonly and not self.path.exists():
            raise StoreError(f"results database {self.path} does not exist")
        if not readonly:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create folder for {self.path}: {exc.strerror or exc}") from None
        try:
            uri = f"file:{self.path.resolve()}?mode={'ro' if readonly else 'rwc'}"
            self._db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._open(readonly)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable results database ({exc})") from None

    def _open(self, readonly: bool) -> None:
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables:
            if "meta" not in tables or "trials" not in tables:
                raise StoreError(f"{self.path} is a SQLite database of something else (tables: "
                                 f"{', '.join(sorted(tables))}); refusing to write into it")
            row = self._db.execute("SELECT value FROM meta WHERE name='format'").fetchone()
            if row is None or row[0] != FORMAT:
                found = None if row is None else row[0]
                raise StoreError(f"{self.path} is not a results database of this project (format {found!r})")
            check = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"{self.path} is corrupt (sqlite quick_check: {check})")
            if not readonly:
                self._write_test()
        elif readonly:
            raise StoreError(f"{self.path} is an empty database, not a results database")
        else:
            self._db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('created_utc', ?)", (_utc(),))
            self._db.execute("COMMIT")

    def _write_test(self) -> None:
        """Fail now, not after the first trial, if the file cannot be written (read-only file or folder)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(_CLAIMS_SCHEMA)  # databases written before claims existed get the table
            self._db.execute("UPDATE meta SET value = value WHERE name = 'format'")  # a real write
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreError(f"cannot write to {self.path}: {exc}") from None

    # ------------------------------------------------------------------ claims
    def claim(self, keys: list[str], *, claimant: str, lease: float, now: float | None = None) -> bool:
        """Claim every key of ``keys`` for ``claimant`` until ``now + lease`` seconds, or none of them.

        Returns False (claiming nothing) if any key is stored already or held by another claimant whose
        lease has not expired; expired claims of others are taken over, and so are those of a claimant on
        this host whose process is gone (see :func:`new_claimant`). All in one transaction.

        Example:
            >>> import tempfile, os
            >>> s = Store(os.path.join(tempfile.mkdtemp(), "c.sqlite"))
            >>> s.claim(["a", "b"], claimant="A", lease=60, now=0), s.claim(["b", "c"], claimant="B", lease=60, now=1)
            (True, False)
            >>> s.claim(["b", "c"], claimant="B", lease=60, now=61)  # A's lease ran out: B takes b over
            True
        """
        now = time.time() if now is None else now
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for k in keys:
                    if self._db.execute("SELECT 1 FROM trials WHERE key = ?", (k,)).fetchone():
                        return False
                    held = self._db.execute("SELECT claimant, expires FROM claims WHERE key = ?", (k,)).fetchone()
                    if held is not None and held[0] != claimant and held[1] > now and _alive(held[0]):
                        return False
                self._db.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)",
                                     [(k, claimant, now + lease) for k in keys])
                return True
            finally:
                self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreError(f"cannot write to {self.path}: {exc}") from None

    def renew(self, *, claimant: str, lease: float) -> int:
        """Push every claim of ``claimant`` to expire ``lease`` seconds from now; return how many it holds.

        Example:
            >>> import tempfile, os
            >>> s = Store(os.path.join(tempfile.mkdtemp(), "c.sqlite"))
            >>> s.claim(["a", "b"], claimant="A", lease=1), s.renew(claimant="A", lease=60)
            (True, 2)
            >>> s.release(claimant="A"); s.claims()
            {}
        """
        try:
            return self._db.execute("UPDATE claims SET expires = ? WHERE claimant = ?",
                                    (time.time() + lease, claimant)).rowcount
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from None

    def release(self, *, claimant: str) -> None:
        """Drop every claim of ``claimant`` (a sweep that stops hands its unfinished trials back at once)."""
        try:
            self._db.execute("DELETE FROM claims WHERE claimant = ?", (claimant,))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from None

    def claims(self) -> dict[str, tuple[str, float]]:
        """Every current claim: key -> (claimant, expiry time)."""
        return {r[0]: (r[1], r[2]) for r in self._db.execute("SELECT key, claimant, expires FROM claims")}

    # ------------------------------------------------------------------ writing
    def put(self, result: dict) -> bool:
        """Insert one trial and commit; return False (and change nothing) if its key is already stored.

        ``result`` needs ``key`` (see :func:`trial_key`), ``model``, ``m``, ``n``, ``target``, ``seed``
        and ``success``; the other columns are optional.
        """
        return self.put_many([result]) == 1

    def put_many(self, results: list[dict]) -> int:
        """Insert several trials in one transaction (all or none survive a crash); return how many were new.

        Example:
            >>> import tempfile, os
            >>> s = Store(os.path.join(tempfile.mkdtemp(), "x.sqlite"))
            >>> rows = [{"key": str(i), "model": "t", "m": 1, "n": 1, "target": i, "seed": 0, "success": 1}
            ...         for i in range(3)]
            >>> s.put_many(rows), s.put_many(rows), s.count()
            (3, 0, 3)
        """
        values = [self._row_values(r) for r in results]
        try:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._db.total_changes
            self._db.executemany(
                f"INSERT OR IGNORE INTO trials ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                values)
            inserted = self._db.total_changes - before
            self._db.executemany("DELETE FROM claims WHERE key = ?", [(v[0],) for v in values])
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreError(f"cannot write to {self.path}: {exc}") from None
        return inserted

    @staticmethod
    def _row_values(r: dict) -> tuple:
        missing = [k for k in ("key", "model", "m", "n", "target", "seed", "success") if k not in r]
        if missing:
            raise ValueError(f"trial result lacks {', '.join(missing)}")
        row = {c: r.get(c) for c in COLUMNS}
        row["success"] = int(bool(r["success"]))
        row["created_utc"] = r.get("created_utc") or _utc()
        for c in JSON_COLUMNS:
            if row[c] is not None and not isinstance(row[c], str):
                row[c] = json.dumps(row[c], sort_keys=True, default=str)
        return tuple(row[c] for c in COLUMNS)

    # ------------------------------------------------------------------ reading
    def done_keys(self) -> set[str]:
        """Keys of every stored trial (what a resumed sweep skips).

        Example:
            >>> import tempfile, os
            >>> s = Store(os.path.join(tempfile.mkdtemp(), "x.sqlite"))
            >>> _ = s.put({"key": "k1", "model": "t", "m": 1, "n": 1, "target": 0, "seed": 0, "success": 0})
            >>> s.done_keys(), s.count(), s.rows(m=1)[0]["success"]
            ({'k1'}, 1, False)
        """
        return {r[0] for r in self._db.execute("SELECT key FROM trials")}

    def count(self) -> int:
        """Number of stored trials."""
        return self._db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]

    def rows(self, **where) -> list[dict]:
        """Stored trials as dicts (JSON columns decoded, ``success`` a bool), ordered by their grid position.

        Keyword arguments filter on equal columns, e.g. ``rows(model="tiny", m=1)``.
        """
        bad = [k for k in where if k not in COLUMNS]
        if bad:
            raise ValueError(f"unknown column {bad[0]!r}")
        clause = " AND ".join(f"{k} = ?" for k in where)
        sql = (f"SELECT {', '.join(COLUMNS)} FROM trials" + (f" WHERE {clause}" if clause else "")
               + " ORDER BY model, kind, m, n, seed, target, key")
        out = []
        for r in self._db.execute(sql, tuple(where.values())):
            d = dict(zip(COLUMNS, r))
            d["success"] = bool(d["success"])
            for c in JSON_COLUMNS:
                if d[c] is not None:
                    d[c] = json.loads(d[c])
            out.append(d)
        return out

    # ------------------------------------------------------------------ export
    def export_json(self, path: str | Path) -> Path:
        """Write every trial to a JSON file ``{"format", "trials": [...]}`` (atomic); return its path."""
        path = check_export_path(path)
        with _atomic(path) as tmp:
            tmp.write_text(json.dumps({"format": FORMAT, "trials": self.rows()}, indent=1, default=str))
        return path

    def export_csv(self, path: str | Path) -> Path:
        """Write every trial to a CSV file, one row per trial, JSON columns as JSON text (atomic).

        Example:
            >>> import tempfile, os
            >>> d = tempfile.mkdtemp()
            >>> s = Store(os.path.join(d, "x.sqlite"))
            >>> _ = s.put({"key": "k", "model": "t", "m": 1, "n": 2, "target": 0, "seed": 0, "success": True})
            >>> print(open(s.export_csv(os.path.join(d, "x.csv"))).readline().split(",")[:5])
            ['key', 'model', 'kind', 'm', 'n']
        """
        path = check_export_path(path)
        with _atomic(path) as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for r in self.rows():
                writer.writerow([json.dumps(r[c], sort_keys=True, default=str) if c in JSON_COLUMNS and r[c] is not None
                                 else (int(r[c]) if c == "success" else r[c]) for c in COLUMNS])
        return path

    def close(self) -> None:
        """Close the connection (every trial is already committed)."""
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def new_claimant() -> str:
    """A claimant id for this process: ``host:pid:random`` (the host and pid let a rerun on the same host
    take over a killed sweep's claims at once instead of waiting for them to expire).

    Example:
        >>> new_claimant().count(":") >= 2
        True
    """
    return f"{platform.node()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(claimant: str) -> bool:
    """False only for a claimant of this host whose process no longer exists; other hosts count as alive."""
    host, _, pid = claimant.rpartition(":")[0].rpartition(":")
    if host != platform.node() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class LeaseKeeper:
    """A daemon thread that renews ``claimant``'s claims every ``lease / 3`` seconds on its own connection.

    Renewal runs beside the work (a batched task can take longer than a lease), so only a claimant that is
    gone stops renewing. Use as a context manager; leaving it stops the thread.

    Example:
        >>> import tempfile, os
        >>> s = Store(os.path.join(tempfile.mkdtemp(), "k.sqlite"))
        >>> s.claim(["a"], claimant="A", lease=0.3)
        True
        >>> with LeaseKeeper(s.path, claimant="A", lease=0.3):
        ...     time.sleep(0.5)
        ...     s.claim(["a"], claimant="B", lease=1)   # still A's: renewed while A lives
        False
    """

    def __init__(self, path: str | Path, *, claimant: str, lease: float):
        self.path, self.claimant, self.lease = Path(path), claimant, float(lease)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def _run(self) -> None:
        con = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        try:
            while not self._stop.wait(self.lease / 3):
                try:
                    con.execute("UPDATE claims SET expires = ? WHERE claimant = ?",
                                (time.time() + self.lease, self.claimant))
                except sqlite3.OperationalError:
                    pass  # busy for 30 s: try again next period, the lease has two more thirds to run
        finally:
            con.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def check_export_path(path: str | Path) -> Path:
    """Raise :class:`StoreError` (one line) unless a file can be written at ``path``; create its folder.

    Called before a sweep starts for ``--export-csv``/``--export-json``, so a bad path fails at once.

    Example:
        >>> import tempfile
        >>> check_export_path(tempfile.mkdtemp())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        verify.sweeps.store.StoreError: cannot export to ...: it is a folder; give a file name
    """
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"cannot export to {path}: it is a folder; give a file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise StoreError(f"cannot export to {path}: {parent} is a file, not a folder")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot export to {path}: {exc.strerror or exc}") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise StoreError(f"cannot export to {path}: not writable")
    return path


@contextmanager
def _atomic(path: Path):
    """verify.store.atomic_path, with a failure to write reported as a StoreError."""
    try:
        with atomic_path(path) as tmp:
            yield tmp
    except OSError as err:
        raise StoreError(f"cannot export to {path}: {err.strerror or err}") from None


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
