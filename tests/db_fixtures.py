"""The store's tests on both backends from one parametrised fixture.

``backend`` is ``"sqlite"`` or ``"postgres"``; ``open_store()`` opens (again and again, like a fresh process
would) the one database of this test: a SQLite file in ``tmp_path``, or a schema of its own in the session's
throwaway PostgreSQL cluster (:mod:`tests.pg_cluster`), started on first use and stopped at the end of the run.
``FACEGATE_TEST_DATABASE_URL`` points the tests at a server of your own instead (a schema per test in it).

PostgreSQL tests skip, with the reason, only where PostgreSQL cannot be had; under CI (``CI`` set) that is a
failure instead, so that they cannot silently stop running there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from agent.settings import Settings
from agent.store import Store


class PgServer(Protocol):
    def new_schema(self) -> str: ...


class ExternalServer:
    """A server the developer runs (``FACEGATE_TEST_DATABASE_URL``)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def new_schema(self) -> str:
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """The session's PostgreSQL: a throwaway cluster (stopped and deleted at the end) or the developer's own."""
    pytest.importorskip("psycopg", reason="needs the optional extra: pip install 'facegate[postgres]'")
    external = os.environ.get("FACEGATE_TEST_DATABASE_URL")
    if external:
        yield ExternalServer(external)
        return
    from tests.pg_cluster import ClusterUnavailable, start

    try:
        cluster = start()
    except ClusterUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests must run in CI: {exc}")
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings whose store is this test's database (SQLite in ``tmp_path``, or a fresh PostgreSQL schema)."""
    if backend == "sqlite":
        return Settings(home=tmp_path, database_url=None)
    server: PgServer = request.getfixturevalue("postgres")
    return Settings(home=tmp_path, database_url=server.new_schema())  # type: ignore[arg-type]


@pytest.fixture
def target(db_settings: Settings) -> str:
    """This test's database as a child process is told of it: a SQLite file's path or a PostgreSQL URL
    (``tests.audit_helpers.open_target`` opens either)."""
    if db_settings.database_url is not None:
        return db_settings.database_url.get_secret_value()
    return str(db_settings.resolved_db_path)


@pytest.fixture
def open_store(db_settings: Settings) -> Callable[..., Store]:
    """Opens this test's database (as many times as asked: each is what another process would open)."""

    def opener(**kw: Any) -> Store:
        return Store.from_settings(db_settings, **kw)

    return opener


@pytest.fixture
def store(open_store: Callable[..., Store]) -> Iterator[Store]:
    s = open_store()
    yield s
    s.close()


def sql(store: Store, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run ``statement`` (``?`` placeholders) on the store's own database, whichever backend, in a transaction
    of its own: what a test looks at, or breaks, behind the store's back."""
    with store._db.transaction() as conn:
        cursor = conn.execute(statement, params)
        return [tuple(r) for r in cursor.fetchall()] if getattr(cursor, "description", None) else []


def counts(store: Store) -> dict[str, int]:
    tables = ("subjects", "consents", "templates", "audit_log")
    return {t: sql(store, f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}
