"""The scheduler's SQLite database: schema, format checks, append-only triggers and the writer lock.

One file holds the realised periods (``events``), every optimization result (``schedules``) and
a small append-only ``meta`` table (e.g. the parameters of a replay). The file is marked with an
``application_id`` and a schema ``user_version``, so a foreign SQLite file, a file of another
schema version, or a file that is not SQLite at all is refused with a clear error instead of
being written into.

Guarantees
----------
- Append-only: the stores only ever ``INSERT``; triggers make SQLite itself reject any
  ``UPDATE`` or ``DELETE`` on the data tables, and any ``INSERT`` (``OR REPLACE`` included)
  over a recorded key, whatever connection issues it.
- Tamper-evident: the events form a hash chain (:mod:`pvbess.scheduler.events`), checked
  whenever a manager starts on the file.
- One writer: opening a file for writing takes an exclusive, non-blocking ``flock`` on the
  database file itself for the life of the :class:`Database` (no lock file beside it). The operating system releases it when
  the process dies (even on SIGKILL), so a killed writer never leaves a stale lock; a second
  writer (another process, or another :class:`Database` in the same process) is refused with
  :class:`DatabaseLockedError`. Readers (``read_only=True``) take no lock.
- Durability: WAL journal, one transaction per write, or per group of writes
  (:meth:`Database.transaction`: a period's event and its re-plan); a killed process loses at
  most the write or group in progress, never a committed one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

try:  # POSIX; on other systems the lock is refused loudly, see _acquire_lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: ``PRAGMA application_id`` of a pvbess scheduler database ("PVBS").
APPLICATION_ID = 0x50564253
#: ``PRAGMA user_version``: the schema version this code reads and writes.
SCHEMA_VERSION = 3  # 2: columns named as in the variables table; 3: events hash-chained

MEMORY = ":memory:"

#: ``PRAGMA page_size`` of a new database file [bytes] (a file keeps the size it was made with).
PAGE_SIZE = 2048

_SCHEMA = """
CREATE TABLE events (
    ts_ns INTEGER PRIMARY KEY,          -- period start, UTC nanoseconds
    tz TEXT NOT NULL,                   -- IANA zone of the local clock
    day TEXT NOT NULL,                  -- local date, ISO
    period INTEGER NOT NULL,            -- index of the period within its day
    dt_h REAL NOT NULL,
    soe_start_kwh REAL NOT NULL,
    soe_end_kwh REAL NOT NULL,
    pv_kwh REAL NOT NULL,
    load_kwh REAL NOT NULL,
    grid_import_kwh REAL NOT NULL,
    grid_export_kwh REAL NOT NULL,
    bess_charge_kwh REAL NOT NULL,
    bess_discharge_kwh REAL NOT NULL,
    pv_curtailed_kwh REAL NOT NULL,
    buy_price REAL NOT NULL,
    sell_price REAL NOT NULL,
    wear_cost REAL NOT NULL,
    seq INTEGER NOT NULL UNIQUE,        -- 1, 2, ... in recording order
    hash BLOB NOT NULL,                 -- sha256(previous event's hash + this event's bytes)
    UNIQUE (day, period)
);
CREATE TABLE schedules (
    id INTEGER PRIMARY KEY,             -- 1, 2, ...: max + 1, never reused (append-only)
    created_ns INTEGER NOT NULL,        -- when the optimization ran, UTC nanoseconds
    tz TEXT NOT NULL,
    day TEXT NOT NULL,                  -- local date the plan is for, ISO
    start_period INTEGER NOT NULL,      -- first period the plan covers
    day_periods INTEGER NOT NULL,       -- periods in the whole day (24, 96, ...)
    dt_h REAL NOT NULL,
    scenario TEXT NOT NULL CHECK (scenario IN ('tomorrow', 'hourly', 'restart')),
    method TEXT NOT NULL,
    objective REAL NOT NULL,
    columns TEXT NOT NULL,              -- JSON list: names of the plan's float columns
    data BLOB NOT NULL,                 -- float64 little-endian, shape (columns, periods)
    labels TEXT NOT NULL,               -- JSON list: the plan's per-period action labels
    summary TEXT NOT NULL,              -- JSON object: the optimizer's scalars
    history_seq INTEGER NOT NULL        -- events recorded when the plan was made
);
CREATE INDEX schedules_by_day ON schedules (day, id);
CREATE INDEX schedules_by_time ON schedules (created_ns, id);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


#: The key(s) of each append-only table: an INSERT that meets an existing key is refused by a
#: trigger (``INSERT OR REPLACE`` / ``REPLACE INTO`` would otherwise delete the old row without
#: firing any DELETE trigger).
_KEYS = {
    "events": ("ts_ns", "seq", "day, period"),
    "schedules": ("id",),
    "meta": ("key",),
}


def _append_only_triggers(table: str, keys: tuple[str, ...]) -> str:
    triggers = [
        f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'pvbess: table {table} is append-only ({verb} refused)');"
        " END;\n"
        for verb in ("UPDATE", "DELETE")
    ]
    taken = " OR ".join(
        "(" + " AND ".join(f"{c} = NEW.{c}" for c in key.split(", ")) + ")" for key in keys)
    triggers.append(
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {taken}) "
        f"BEGIN SELECT RAISE(ABORT, 'pvbess: table {table} is append-only (an INSERT over a "
        "recorded row refused)'); END;\n")
    return "".join(triggers)


_TRIGGERS = "".join(_append_only_triggers(t, keys) for t, keys in _KEYS.items())


class DatabaseError(RuntimeError):
    """The file is not a usable pvbess scheduler database (corrupted, foreign, other version)."""


class DatabaseLockedError(RuntimeError):
    """Another writer holds the database; two managers may not write the same file."""


class ReadOnlyError(RuntimeError):
    """A write was attempted through a database opened with ``read_only=True``."""


def _is_memory(path: str | os.PathLike[str]) -> bool:
    return str(path) == MEMORY


class Database:
    """An open scheduler database (a file path or ``":memory:"``).

    Parameters
    ----------
    path : str or path-like
        The SQLite file (created when missing) or ``":memory:"`` (private to this object).
    read_only : bool
        Open without the writer lock; every write raises :class:`ReadOnlyError`.

    Raises
    ------
    DatabaseError
        The file is not SQLite, is corrupted, belongs to another application or has another
        schema version.
    DatabaseLockedError
        Another writer has the file open (``read_only=False`` only).
    """

    def __init__(self, path: str | os.PathLike[str] = MEMORY, *, read_only: bool = False) -> None:
        self.path = MEMORY if _is_memory(path) else str(Path(path).resolve())
        self.read_only = bool(read_only)
        self._lock_fd: int | None = None
        #: ``(seq, hash)`` of the last recorded event, kept by the writer (it alone appends:
        #: the file lock) so that recording a period is one INSERT; None: read it again
        self.event_head: tuple[int, bytes] | None = None
        if self.read_only and self.path == MEMORY:
            raise ValueError("a ':memory:' database cannot be opened read-only (it would be empty)")
        if self.read_only and not Path(self.path).is_file():
            raise DatabaseError(f"{self.path}: no such scheduler database")
        if self.path != MEMORY:
            self._check_permissions()
        if not self.read_only and self.path != MEMORY:
            self._acquire_lock()
        try:
            self.conn = self._connect()
            self._check_or_create()
        except BaseException:
            self.close()
            raise

    # -- opening ------------------------------------------------------------------------
    def _check_permissions(self) -> None:
        # before SQLite touches anything: a writer on a file or folder it may not write fails
        # deep inside SQLite otherwise, after leaving journal files that outlive a chmod
        path = Path(self.path)
        if path.exists() and not os.access(path, os.R_OK if self.read_only else
                                           os.R_OK | os.W_OK):
            need = "read" if self.read_only else "read and write"
            raise DatabaseError(
                f"{self.path}: permission denied (this process may not {need} the file)"
                + ("" if self.read_only else "; open it with read_only=True to read it"))
        if not self.read_only and not os.access(path.parent, os.W_OK | os.X_OK):
            raise DatabaseError(
                f"{self.path}: permission denied on its folder {path.parent} (a writer needs "
                "to create the database's journal beside it); open it with read_only=True to "
                "read it")

    def _acquire_lock(self) -> None:
        # flock on the database file itself: no lock file beside it, and independent of the
        # POSIX (fcntl) locks SQLite takes on the same file
        if fcntl is None:  # pragma: no cover - Windows
            raise DatabaseLockedError(
                f"{self.path}: file locking needs fcntl (POSIX); use ':memory:' on this system")
        try:  # SQLite takes an empty file
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DatabaseError(f"{self.path}: cannot open for writing ({exc.strerror})") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DatabaseLockedError(
                f"{self.path}: another manager is writing this database (it is locked); open "
                "it with read_only=True to read, or stop the other writer") from None
        self._lock_fd = fd

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            uri = Path(self.path).as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        else:
            conn = sqlite3.connect(self.path, isolation_level=None)
        return conn

    def _check_or_create(self) -> None:
        try:
            app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            n_objects = self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"{self.path}: not a pvbess scheduler database (SQLite: {exc})") from exc
        if app_id == 0 and n_objects == 0 and not self.read_only:
            self._create()
            return
        if app_id != APPLICATION_ID:
            raise DatabaseError(
                f"{self.path}: not a pvbess scheduler database (a foreign SQLite file: "
                f"application_id {app_id:#x}, expected {APPLICATION_ID:#x}); refusing to touch it")
        if version != SCHEMA_VERSION:
            raise DatabaseError(
                f"{self.path}: scheduler database schema version {version}, this pvbess reads "
                f"version {SCHEMA_VERSION}")
        try:
            check = self.conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"{self.path}: corrupted scheduler database (SQLite: {exc})") from exc
        if check != [("ok",)]:
            detail = "; ".join(str(row[0]) for row in check[:3])
            raise DatabaseError(f"{self.path}: corrupted scheduler database ({detail})")
        if not self.read_only:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")

    def _create(self) -> None:
        # a period commits a few small rows into about eight pages (two tables, their
        # indexes): 2 KiB pages write half the WAL bytes of the default 4 KiB
        self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        if self.path != MEMORY:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        script = (
            "BEGIN EXCLUSIVE;\n" + _SCHEMA + _TRIGGERS
            + f"PRAGMA application_id = {APPLICATION_ID};\n"
            + f"PRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
        )
        self.conn.executescript(script)

    # -- use ----------------------------------------------------------------------------
    def check_writable(self) -> None:
        """Raise :class:`ReadOnlyError` when this database was opened read-only."""
        if self.read_only:
            raise ReadOnlyError(f"{self.path}: opened read_only=True; writes are refused")

    @contextlib.contextmanager
    def transaction(self):
        """One commit for the writes inside (a period's event and its re-plan): each statement
        is atomic on its own, and what was written is committed even when a later step raises
        (a period that happened stays recorded when its re-plan fails). A process killed inside
        loses the whole group; a restart recovers the period from the controller's records.
        Nested: the outermost commits."""
        self.check_writable()
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error:
                self.event_head = None  # the kept chain head may not have been committed
                raise

    def close(self) -> None:
        """Close the connection and release the writer lock (idempotent)."""
        conn = getattr(self, "conn", None)
        if conn is not None:
            if not self.read_only and self.path != MEMORY:
                # at rest the file is a plain rollback-journal database: a later reader then
                # leaves no -wal/-shm side files (the next writer switches back to WAL)
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA journal_mode=DELETE")
            conn.close()
            self.conn = None  # type: ignore[assignment]
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten Database must not keep the lock
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "writer"
        return f"Database({self.path!r}, {mode})"

    # -- meta (append-only key/value) ---------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """The value stored under ``key``, or None."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def meta_items(self, prefix: str) -> dict[str, str]:
        """Every key starting with ``prefix`` and its value."""
        rows = self.conn.execute("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?",
                                 (len(prefix), prefix))
        return dict(rows.fetchall())

    def put_meta(self, key: str, value: str) -> bool:
        """Store ``key`` once. The same value again is a no-op (False); another value raises."""
        self.check_writable()
        old = self.get_meta(key)
        if old is not None:
            if old != value:
                raise ValueError(f"{self.path}: meta {key!r} is already {old!r}; "
                                 f"refusing to change it to {value!r} (append-only)")
            return False
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
        return True


def open_database(db: Database | str | os.PathLike[str], *, read_only: bool = False) -> Database:
    """A :class:`Database` from a path, ``":memory:"`` or an already open one (returned as is)."""
    if isinstance(db, Database):
        if db.conn is None:
            raise ValueError(f"{db!r} is closed")
        return db
    return Database(db, read_only=read_only)
