"""One SQLite connection with WAL, a busy timeout, foreign keys, numbered migrations and re-entrant
``BEGIN IMMEDIATE`` transactions (concurrent writers in several processes queue instead of forking state).

The embedded backend (:class:`agent.store.backend.Backend`); :mod:`agent.store.postgres` is the other one."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.clock import iso, parse_iso, utcnow
from agent.errors import MigrationError, StoreError
from agent.store.backend import SQLITE, apply_migrations
from agent.store.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000

__all__ = ["BUSY_TIMEOUT_MS", "Database", "iso", "make_private_dir", "make_private_file", "parse_iso", "utcnow"]


def make_private_dir(path: Path) -> list[Path]:
    """Create ``path`` and any missing parents as 0700 (owner only); returns the folders created.

    Folders that already exist are left as they are (they may be shared on purpose). The mode is set with
    chmod after creation, so a permissive umask cannot widen it.
    """
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for folder in reversed(missing):
        folder.chmod(0o700)
    return list(reversed(missing))


def make_private_file(path: Path) -> None:
    """Create ``path`` (empty) as 0600 when missing; tighten an existing one to 0600.

    For SQLite databases that hold biometric data: facegate.db (face templates) and the conversation
    checkpoints. SQLite gives the ``-wal``/``-shm`` files the main file's mode; existing ones are tightened too.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists() and (p.stat().st_mode & 0o077):
            with contextlib.suppress(PermissionError):  # someone else's file, shared on purpose: theirs
                p.chmod(0o600)


def _set_wal(conn: sqlite3.Connection) -> str:
    """``PRAGMA journal_mode=WAL``, retried while another process holds the lock: when two processes open a new
    file at once, SQLite can answer "database is locked" at once instead of waiting for its busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Database:
    """A connection plus the lock and transaction discipline every store operation uses (SQLite).

    Args:
        path: the database file (created owner-only, with its folder, when missing).
        migrate_to: apply migrations up to this number only (upgrade tests build an older schema this way).
    """

    dialect = SQLITE

    def __init__(self, path: Path, *, migrate_to: int | None = None) -> None:
        self.path: Path | None = path
        self.location = str(path)
        try:
            make_private_dir(path.parent)
            make_private_file(path)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves; sqlite3's implicit BEGIN is DEFERRED,
            # which lets two writers read the same chain head and then fail or fork.
            self.conn = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            mode = _set_wal(self.conn)
            if str(mode).lower() != "wal":
                raise StoreError(f"cannot put {path} in WAL mode (got {mode})", path=str(path))
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=FULL")
            make_private_file(path)  # the -wal/-shm files exist now
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc}", path=str(path)) from exc
        self._lock = threading.RLock()
        self._depth = 0
        self.migrate(target=migrate_to)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolls back on any error. Nested use joins the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"database busy or unavailable: {exc}") from exc
            self._depth = 1
            try:
                yield self.conn
            except sqlite3.Error as exc:
                self._depth = 0
                self._rollback()
                raise StoreError(f"database write failed: {exc}", path=str(self.path)) from exc
            except BaseException:
                self._depth = 0
                self._rollback()
                raise
            self._depth = 0
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"commit failed: {exc}", path=str(self.path)) from exc

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already done so.

        Some failures (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, an interrupted statement) make SQLite roll the
        whole transaction back itself; a ROLLBACK after that raises "no transaction is active", which would
        replace the typed error the caller should see with a bare sqlite3 traceback. A ROLLBACK that fails for
        another reason leaves SQLite's own recovery (the journal) to restore the last committed state when the
        connection next writes or reopens, so it is not worth masking the original error for either.
        """
        if not self.conn.in_transaction:
            return
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self.conn

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent view even while other processes append (inside a write
        transaction, that transaction is the view)."""
        with self._lock:
            if self._depth:
                yield self.conn
                return
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                self.conn.execute("COMMIT")

    def migrate(self, *, target: int | None = None) -> list[int]:
        """Apply missing migrations (up to ``target``) in order; idempotent. Returns the numbers applied now."""
        try:
            with self.transaction() as conn:
                return apply_migrations(conn, MIGRATIONS, location=self.location, target=target)
        except sqlite3.Error as exc:
            raise MigrationError(f"migrating {self.path} failed: {exc}") from exc

    def schema_version(self) -> int:
        with self.reading() as conn:
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)
