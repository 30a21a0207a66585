"""PostgreSQL's failures surface as one typed StoreError and lose nothing (the SQLite ones:
tests/test_store_failures.py): a constraint only COMMIT detects, a statement error, the server cutting a worker's
connection in the middle of a transaction, and a writer that waits too long for the lock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from agent.errors import StoreError
from agent.store import Store
from agent.store.postgres import PostgresDatabase
from tests.audit_helpers import event


@pytest.fixture
def url(postgres: Any) -> str:
    return str(postgres.new_schema())


@pytest.fixture
def db(url: str) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(url, timeout_s=1.0)
    yield database
    database.close()


def _rows(db: PostgresDatabase, query: str) -> list[tuple[Any, ...]]:
    with db.reading() as conn:
        return [tuple(r) for r in conn.execute(query).fetchall()]


def test_a_constraint_only_commit_detects_is_a_store_error_and_nothing_of_the_transaction_stays(
    db: PostgresDatabase,
) -> None:
    with db.transaction() as conn:
        conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
        conn.execute("INSERT INTO parent VALUES (1)")
        conn.execute("INSERT INTO child VALUES (1)")
    with pytest.raises(StoreError, match="write failed"), db.transaction() as conn:
        conn.execute("INSERT INTO parent VALUES (2)")
        conn.execute("INSERT INTO child VALUES (99)")  # no parent 99: detected only at COMMIT
    assert _rows(db, "SELECT id FROM parent ORDER BY id") == [(1,)]
    assert _rows(db, "SELECT parent_id FROM child") == [(1,)]


def test_a_statement_error_inside_a_transaction_is_typed_and_other_errors_pass_through(db: PostgresDatabase) -> None:
    with db.transaction() as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError, match="write failed"), db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (?)", (1,))
        conn.execute("INSERT INTO t VALUES (?)", (1,))  # duplicate key
    marker = f"boom-{uuid.uuid4()}"
    with pytest.raises(KeyError, match=marker), db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (?)", (2,))
        raise KeyError(marker)
    assert _rows(db, "SELECT COUNT(*) FROM t") == [(0,)]


def test_a_connection_cut_mid_transaction_is_a_store_error_and_the_store_carries_on(url: str) -> None:
    store = Store.connect(url, pool_min=1, pool_max=1)
    store.audit.append(event(0))
    with psycopg.connect(url, autocommit=True) as admin, pytest.raises(StoreError), store.transaction():
        store.audit.append(event(1))
        with store._db.reading() as conn:
            (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # as a restart or a network cut would
        store.audit.append(event(2))
    report = store.audit.verify()  # the pool replaced the dead connection; the cut transaction left nothing
    assert (report.ok, report.rows) == (True, 1)
    store.audit.append(event(3))
    assert store.audit.verify().rows == 2
    store.close()


def test_a_writer_waiting_past_the_timeout_gets_database_busy_and_writes_nothing(url: str) -> None:
    store = Store.connect(url, timeout_s=0.5)
    with psycopg.connect(url) as other:  # another worker stuck inside its write transaction
        other.execute("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE")
        with pytest.raises(StoreError, match="busy"):
            store.audit.append(event(1))
        other.rollback()
    assert store.audit.verify().rows == 0
    store.audit.append(event(2))  # once the other is done, writing works again
    assert store.audit.verify().rows == 1
    store.close()
