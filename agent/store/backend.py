"""What the store asks of a database, whichever one it is: the SQL dialect, transactions, reads and migrations.

The store's queries are written once, with ``?`` placeholders and the SQL that SQLite and PostgreSQL share
(``INSERT ... ON CONFLICT``, ``LIMIT ?``, text columns for times and JSON, a bytes column for vectors). What
differs is named here, in :class:`Dialect`, and nowhere else: how a write transaction takes the writers' lock,
how the audit head row is locked for an append, and how a JSON list column is searched. The backends
(:mod:`agent.store.db` for SQLite, :mod:`agent.store.postgres`) give the store a :class:`Connection` whose
``execute`` takes that SQL as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.clock import iso, utcnow
from agent.errors import MigrationError

__all__ = ["POSTGRES", "SQLITE", "Backend", "Connection", "Cursor", "Dialect", "apply_migrations"]


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses (sqlite3's and psycopg's both fit)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection inside a store transaction or read: ``execute(sql with ? placeholders, params)``."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...


@dataclass(frozen=True)
class Dialect:
    """The SQL that differs between the backends.

    Attributes:
        name: ``"sqlite"`` or ``"postgres"``.
        lock_head: appended to the append's ``SELECT ... FROM audit_head``: PostgreSQL locks the head row
            (``FOR UPDATE``) so that no other writer reads the same head until this transaction ends; SQLite
            already holds the database's one write lock (``BEGIN IMMEDIATE``).
        subject_in_list: a condition true when the ``audit_log.subjects`` JSON list holds the ``?`` parameter.
    """

    name: str
    lock_head: str
    subject_in_list: str


SQLITE = Dialect(
    name="sqlite",
    lock_head="",
    subject_in_list="EXISTS (SELECT 1 FROM json_each(audit_log.subjects) WHERE value = ?)",
)
POSTGRES = Dialect(
    name="postgres",
    lock_head=" FOR UPDATE",
    # containment on the jsonb form (a GIN index on that expression serves it): exact members, not substrings
    subject_in_list="(audit_log.subjects::jsonb) @> jsonb_build_array(?::text)",
)


class Backend(Protocol):
    """One database under the store (:class:`agent.store.db.Database` or
    :class:`agent.store.postgres.PostgresDatabase`).

    Write transactions are serialised, as SQLite's ``BEGIN IMMEDIATE`` does: the reads that decide a write
    (is this consent still live? is this nonce unspent?) see the last committed state and nobody else's
    half-done one. Nested ``transaction()`` calls in one thread join the outer transaction, and ``reading()``
    inside a transaction reads through it (it sees the transaction's own writes).
    """

    dialect: Dialect
    location: str  # for messages: the file, or the URL without its password
    path: Path | None  # the SQLite file; None for a server

    def transaction(self) -> AbstractContextManager[Connection]: ...

    def reading(self) -> AbstractContextManager[Connection]: ...

    def snapshot(self) -> AbstractContextManager[Connection]:
        """A read-only transaction: every statement in it sees the same committed state."""
        ...

    def migrate(self, *, target: int | None = None) -> list[int]: ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...


Migrations = Sequence[tuple[int, Sequence[str]]]


def apply_migrations(
    conn: Connection, migrations: Migrations, *, location: str, target: int | None = None
) -> list[int]:
    """Apply the missing numbered migrations up to ``target`` (default: all) in order, inside the caller's
    transaction; returns the numbers applied now.

    Raises:
        MigrationError: the database has a version this facegate does not know (a newer facegate wrote it).
    """
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {int(row[0]) for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    known = {n for n, _ in migrations}
    if done - known:
        raise MigrationError(
            f"database {location} has schema version {max(done)}, newer than facegate knows ({max(known)})"
        )
    applied: list[int] = []
    for number, statements in migrations:
        if number in done or (target is not None and number > target):
            continue
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (number, iso(utcnow())))
        applied.append(number)
    return applied
