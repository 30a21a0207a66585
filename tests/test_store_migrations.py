"""Migrations on both backends (numbered, ordered, idempotent, an upgrade from the previous schema with data in
it), and what only PostgreSQL has: the database itself refuses edits to the audit chain, a typed error for a
server that is not there, a URL whose password never reaches a message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from agent.errors import MigrationError, NotFoundError, StoreError
from agent.policy import Capability, Evidence
from agent.settings import Settings
from agent.store import MIGRATIONS, ConsentGrant, Store
from agent.store.backend import Backend
from agent.store.postgres_migrations import POSTGRES_MIGRATIONS
from tests.audit_helpers import event
from tests.db_fixtures import sql
from tests.policy_cases import NOW

LATEST = max(n for n, _ in MIGRATIONS)


def _grant(subject: str) -> ConsentGrant:
    return ConsentGrant(
        subject_id=subject,
        capabilities=frozenset({Capability.FACE_VERIFICATION, Capability.ENROLLMENT}),
        purposes=frozenset({"access_control"}),
        notice="v1",
        evidence=Evidence(method="signed_form", recorded_by="op"),
        term_days=30,
    )


def _open_at(settings: Settings, version: int) -> Store:
    """The test's database migrated up to ``version`` only: what an older facegate left behind."""
    backend: Backend
    if settings.database_url is None:
        from agent.store.db import Database

        backend = Database(settings.resolved_db_path, migrate_to=version)
    else:
        from agent.store.postgres import PostgresDatabase

        backend = PostgresDatabase(settings.database_url.get_secret_value(), migrate_to=version)
    return Store(backend)


def test_both_backends_have_the_same_numbered_steps() -> None:
    assert [n for n, _ in POSTGRES_MIGRATIONS] == [n for n, _ in MIGRATIONS] == list(range(1, LATEST + 1))


def test_migrations_are_recorded_in_order_and_run_once(open_store: Callable[..., Store]) -> None:
    open_store().close()
    store = open_store()  # a second process opening the same database applies nothing
    assert store.schema_version() == LATEST
    assert [r[0] for r in sql(store, "SELECT version FROM schema_migrations ORDER BY version")] == list(
        range(1, LATEST + 1)
    )
    assert store._db.migrate() == []
    sql(store, "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'later')")
    store.close()
    with pytest.raises(MigrationError, match="newer than facegate knows"):
        open_store()


def test_upgrade_from_the_previous_schema_keeps_the_data_and_the_chain(db_settings: Settings) -> None:
    old = _open_at(db_settings, LATEST - 1)
    assert old.schema_version() == LATEST - 1
    record = old.grant_consent(_grant("alice"), actor="op", now=NOW)
    old.audit.append_many(event(i) for i in range(5))
    nonce = old.nonces.issue(purpose="access_control", ttl_seconds=600, actor="desk", now=NOW)
    # a template as an older facegate stored it (no recipe column before migration 5)
    sql(
        old,
        "INSERT INTO templates (id, subject_id, model, detector, dim, vector, template_sha256, image_sha256, purpose, "
        "consent_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ("t_old", "alice", "Dlib", "dlib", 2, b"\x00\x00\x80?\x00\x00\x00@", "a" * 64, "b" * 64, "access_control",
         record.id, "2026-01-01T00:00:00+00:00", "2099-01-01T00:00:00+00:00"),
    )  # fmt: skip
    before = old.audit.verify()
    assert before.ok and before.rows == 7
    old.close()

    store = Store.from_settings(db_settings)  # what the new facegate does on start
    assert store.schema_version() == LATEST
    assert store.consents_for("alice") == [record]
    [template] = store.templates_for("alice", with_vectors=True)
    assert template.vector == (1.0, 2.0) and template.recipe.detect_max_side is None  # "unrecorded" recipe
    assert store.nonces.status(nonce.nonce, purpose="access_control", now=NOW) == "fresh"
    after = store.audit.verify()
    assert (after.ok, after.rows, after.head_hash) == (True, 7, before.head_hash)
    store.revoke_consent("alice", actor="op", now=NOW + timedelta(minutes=1))  # and it keeps working
    assert store.audit.verify().ok
    store.close()


def test_open_without_create_refuses_a_database_without_facegate(db_settings: Settings) -> None:
    with pytest.raises(NotFoundError):
        Store.from_settings(db_settings, create=False)
    Store.from_settings(db_settings).close()
    Store.from_settings(db_settings, create=False).close()


# --- PostgreSQL only ------------------------------------------------------------------------------------------


@pytest.fixture
def pg_store(postgres: Any) -> Any:
    store = Store.connect(postgres.new_schema())
    store.audit.append_many(event(i) for i in range(3))
    yield store
    store.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 3",
        "TRUNCATE audit_log",
        "DELETE FROM audit_head",
        "TRUNCATE audit_head CASCADE",
        "UPDATE audit_head SET count = 1, last_hash = (SELECT row_hash FROM audit_log WHERE seq = 1)",
        # a forged row that copies a real one: does not extend the head
        "INSERT INTO audit_log SELECT 4, ts, kind, actor, session_id, subjects, body, row_hash, row_hash "
        "FROM audit_log WHERE seq = 3",
    ],
)
def test_postgres_itself_refuses_to_edit_the_chain(pg_store: Store, statement: str) -> None:
    with pytest.raises(StoreError, match=r"append-only|does not extend|only moves"):
        sql(pg_store, statement)
    report = pg_store.audit.verify()
    assert (report.ok, report.rows) == (True, 3)


def test_postgres_refuses_a_row_whose_hash_is_not_its_body_s(pg_store: Store) -> None:
    count, head = pg_store.audit.head()
    with pytest.raises(StoreError, match="does not extend"):
        sql(
            pg_store,
            "INSERT INTO audit_log (seq, ts, kind, actor, session_id, subjects, body, prev_hash, row_hash) "
            "VALUES (?, 'now', 'decision', 'x', NULL, '[]', '{}', ?, ?)",
            (count + 1, head, "f" * 64),
        )
    assert pg_store.audit.verify().ok


def test_an_unreachable_server_is_a_typed_error_without_the_password() -> None:
    url = "postgresql://facegate:s3cret-pw@127.0.0.1:1/facegate"
    with pytest.raises(StoreError) as info:
        Store.connect(url, timeout_s=1)
    assert "s3cret-pw" not in str(info.value) and "127.0.0.1:1" in str(info.value)
    assert "s3cret-pw" not in repr(Settings(database_url=url))  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "ok"), [("postgresql://u@h/db", True), ("postgres://h/db", True),
                                           ("", True), ("sqlite:///x.db", False), ("/tmp/x.db", False)])  # fmt: skip
def test_database_url_setting(value: str, ok: bool) -> None:
    from pydantic import ValidationError

    if ok:
        settings = Settings(database_url=value)  # type: ignore[arg-type]
        assert settings.database_backend == ("postgres" if value else "sqlite")
    else:
        with pytest.raises(ValidationError, match="postgresql://"):
            Settings(database_url=value)  # type: ignore[arg-type]
