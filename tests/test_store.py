"""The consent registry and templates: migrations, grant/revoke semantics, templates, sweeps, erasure.

Tests that take the ``store`` fixture (tests/db_fixtures.py) run on SQLite and on PostgreSQL; the SQLite-only
ones (WAL, file modes, migrating a file written by hand) open a file themselves."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from agent.errors import ConsentRequired, InvalidConsent, MigrationError
from agent.policy import Capability, Evidence, decide, load_policy
from agent.store import MIGRATIONS, ConsentGrant, Store
from agent.store.db import iso
from tests.db_fixtures import counts, sql
from tests.policy_cases import NOW, img, request
from tools.errors import NotFoundError

FV, ENR, EXPR = Capability.FACE_VERIFICATION, Capability.ENROLLMENT, Capability.EXPRESSION_ANALYSIS
EV = Evidence(method="signed_form", recorded_by="op")
POLICY = load_policy()


def grant(subject: str = "alice", caps=(FV, ENR), purposes=("access_control",), **kw) -> ConsentGrant:  # type: ignore[no-untyped-def]
    data = {"notice": "v1", "evidence": EV, "term_days": 30, **kw}
    return ConsentGrant(subject_id=subject, capabilities=frozenset(caps), purposes=frozenset(purposes), **data)


def test_migrations_are_numbered_idempotent_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    Store.open(path).close()
    store = Store.open(path)
    assert store.schema_version() == max(n for n, _ in MIGRATIONS)
    store.close()
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == [
        n for n, _ in MIGRATIONS
    ]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'later')")
    conn.commit()
    conn.close()
    with pytest.raises(MigrationError):
        Store.open(path)


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({"notice": None}, "notice"),
        ({"notice": "  "}, "notice"),
        ({"evidence": None}, "evidence"),
        ({"term_days": None}, "term"),
        ({"purposes": frozenset()}, "purpose"),
        ({"capabilities": frozenset()}, "capability"),
    ],
)
def test_incomplete_grant_is_refused_and_writes_nothing(store: Store, changes: dict, missing: str) -> None:  # type: ignore[type-arg]
    g = grant().model_copy(update=changes)
    with pytest.raises(InvalidConsent, match=missing):
        store.grant_consent(g, actor="op", now=NOW)
    assert counts(store) == {"subjects": 0, "consents": 0, "templates": 0, "audit_log": 0}


def test_unconsentable_capability_and_past_term_are_refused(store: Store) -> None:
    with pytest.raises(InvalidConsent, match="identification"):
        store.grant_consent(grant(caps=(FV, Capability.IDENTIFICATION)), actor="op", now=NOW)
    with pytest.raises(InvalidConsent, match="ended"):
        store.grant_consent(grant(term_days=None, expires_at=NOW - timedelta(days=1)), actor="op", now=NOW)
    assert counts(store)["consents"] == 0


def test_grant_round_trip_and_audit(store: Store) -> None:
    record = store.grant_consent(grant(retention_days=10), actor="op", now=NOW)
    [back] = store.consents_for("alice")
    assert back == record
    assert back.active_at(NOW) and back.expires_at == NOW + timedelta(days=30)
    [entry] = store.audit.query(subject="alice")
    assert entry.kind == "consent_grant" and entry.summary["consent_id"] == record.id and entry.ts == NOW


def test_revocation_takes_effect_inside_a_running_conversation(store: Store) -> None:
    store.grant_consent(grant(caps=(FV,), purposes=("customer_service",)), actor="op", now=NOW)
    req = request("verify_faces", "face_verification", "customer_service", [img("alice"), img("alice", "b")])
    assert decide(req, store.consents_for("alice"), POLICY, NOW).outcome == "allow"
    later = NOW + timedelta(seconds=1)
    store.revoke_consent("alice", actor="alice", now=later)
    decision = decide(req, store.consents_for("alice"), POLICY, later)
    assert (decision.outcome, decision.rule_id) == ("deny", "consent.revoked")


def test_revoke_one_capability_keeps_the_others(store: Store) -> None:
    original = store.grant_consent(grant(), actor="op", now=NOW)
    [revoked] = store.revoke_consent("alice", actor="op", capability=ENR, now=NOW + timedelta(hours=1))
    assert revoked.id == original.id and revoked.revoked_at == NOW + timedelta(hours=1)
    live = [c for c in store.consents_for("alice") if c.active_at(NOW + timedelta(hours=2))]
    assert [c.capabilities for c in live] == [frozenset({FV})]
    assert live[0].expires_at == original.expires_at and live[0].notice == original.notice


def test_revoke_errors(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.revoke_consent("nobody", actor="op", now=NOW)
    record = store.grant_consent(grant(), actor="op", now=NOW)
    with pytest.raises(NotFoundError):
        store.revoke_consent("alice", actor="op", capability=EXPR, now=NOW)
    with pytest.raises(NotFoundError):
        store.revoke_consent("alice", actor="op", consent_id="c_nope", now=NOW)
    store.revoke_consent("alice", actor="op", consent_id=record.id, now=NOW)
    with pytest.raises(NotFoundError):
        store.revoke_consent("alice", actor="op", now=NOW)


def _template(store: Store, consent_id: str | None, *, days: int = 90, purpose: str = "access_control") -> str:
    return store.save_template(
        "alice",
        model="Dlib",
        detector="dlib",
        vector=[0.25, -0.5, 0.125] * 43,
        image_sha256="f" * 64,
        expires_at=NOW + timedelta(days=days),
        purpose=purpose,
        consent_id=consent_id,
        now=NOW,
    )


def test_template_round_trip_is_float32(store: Store) -> None:
    record = store.grant_consent(grant(), actor="op", now=NOW)
    tid = _template(store, record.id)
    t = store.get_template("alice", model="Dlib", detector="dlib", now=NOW)
    assert t is not None and t.id == tid and t.dim == 129 and t.vector[:3] == (0.25, -0.5, 0.125)
    assert "vector" not in repr(t) and "vector" not in t.model_dump()
    assert store.has_template("alice", model="Dlib", detector="dlib", now=NOW)
    assert not store.has_template("alice", model="Dlib", detector="opencv", now=NOW)
    _template(store, record.id)  # replaces, one per model+detector
    assert len(store.templates_for("alice")) == 1
    # past its retention a template is never used, even before the sweep deletes it
    later = NOW + timedelta(days=90)
    assert store.get_template("alice", model="Dlib", detector="dlib", now=later) is None
    assert not store.has_template("alice", model="Dlib", detector="dlib", now=later)


def test_revoking_enrollment_deletes_templates_but_verification_revocation_does_not(store: Store) -> None:
    record = store.grant_consent(grant(), actor="op", now=NOW)
    _template(store, record.id)
    store.revoke_consent("alice", actor="op", capability=FV, now=NOW)
    assert store.has_template("alice", model="Dlib", detector="dlib", now=NOW)
    store.revoke_consent("alice", actor="op", capability=ENR, now=NOW)
    assert not store.has_template("alice", model="Dlib", detector="dlib", now=NOW)
    [entry] = store.audit.query(kind="consent_revoke", limit=1)
    assert entry.summary["templates_deleted"] == 1


def test_save_template_rechecks_consent_in_the_transaction(store: Store) -> None:
    record = store.grant_consent(grant(), actor="op", now=NOW)
    store.revoke_consent("alice", actor="op", now=NOW)
    before = counts(store)
    with pytest.raises(ConsentRequired):
        _template(store, record.id)
    assert counts(store) == before
    with pytest.raises(NotFoundError):
        store.save_template("ghost", model="m", detector="d", vector=[1.0], image_sha256="0", expires_at=NOW)


def test_retention_sweep(store: Store) -> None:
    record = store.grant_consent(grant(), actor="op", now=NOW)
    _template(store, record.id, days=5)
    assert store.sweep_retention(actor="cron", now=NOW + timedelta(days=4)).templates_deleted == 0
    report = store.sweep_retention(actor="cron", now=NOW + timedelta(days=5))
    assert (report.templates_deleted, report.subjects) == (1, ["alice"])
    # consent running out also ends retention
    _template(store, record.id, days=90)
    assert store.sweep_retention(actor="cron", now=NOW + timedelta(days=31)).templates_deleted == 1
    assert [e.kind for e in store.audit.query(kind="retention_sweep")] == ["retention_sweep"] * 3


def test_erasure_leaves_tombstone_and_no_biometrics(store: Store) -> None:
    record = store.grant_consent(grant(), actor="op", now=NOW)
    _template(store, record.id)
    result = store.erase_subject("alice", actor="dpo", now=NOW + timedelta(days=1))
    assert result["templates_deleted"] == 1 and result["consents_revoked"] == 1
    info = store.get_subject("alice")
    assert info is not None and info.erased_at == NOW + timedelta(days=1)
    assert store.templates_for("alice") == []
    assert all(c.revoked_at is not None for c in store.consents_for("alice"))
    raw = " ".join(body for (body,) in sql(store, "SELECT body FROM audit_log"))
    assert "0.25" not in raw and "-0.5" not in raw  # no vector values anywhere in the log
    assert info.erased and info.reregistered_at is None
    # the person may come back; the erasure stays on record
    store.grant_consent(grant(), actor="op", now=NOW + timedelta(days=2))
    info = store.get_subject("alice")
    assert info is not None and info.erased_at == NOW + timedelta(days=1)
    assert info.reregistered_at == NOW + timedelta(days=2) and not info.erased
    [back] = store.audit.query(kind="consent_grant")[-1:]
    assert back.summary["reregistered_after_erasure_at"] == iso(NOW + timedelta(days=1))
    # a further consent is no new re-registration; a second erasure is again an erasure
    store.grant_consent(grant(), actor="op", now=NOW + timedelta(days=3))
    info = store.get_subject("alice")
    assert info is not None and info.reregistered_at == NOW + timedelta(days=2)
    assert "reregistered_after_erasure_at" not in store.audit.query(kind="consent_grant")[-1].summary
    store.erase_subject("alice", actor="dpo", now=NOW + timedelta(days=4))
    info = store.get_subject("alice")
    assert info is not None and info.erased and info.erased_at == NOW + timedelta(days=4)


def test_migration_3_adds_reregistered_at_to_an_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    for number, statements in MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (number,))
    conn.execute("INSERT INTO subjects (id, created_at, erased_at) VALUES ('bob', ?, ?)", (iso(NOW), iso(NOW)))
    conn.commit()
    conn.close()
    store = Store.open(path)
    assert store.schema_version() == max(n for n, _ in MIGRATIONS)  # 3 and every later one
    info = store.get_subject("bob")
    assert info is not None and info.erased and info.reregistered_at is None
    store.close()


@pytest.mark.parametrize(
    "changes",
    [
        {"notice": " \t"},
        {"evidence": Evidence.model_construct(method=" ", recorded_by="op")},
        {"evidence": Evidence.model_construct(method="signed_form", recorded_by="  ")},
    ],
)
def test_blank_notice_or_evidence_is_no_consent(store: Store, changes: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidConsent, match=r"notice|evidence"):
        store.grant_consent(grant().model_copy(update=changes), actor="op", now=NOW)
    assert counts(store)["consents"] == 0


@pytest.mark.parametrize(("method", "by"), [(" ", "op"), ("signed_form", " "), ("", "op"), ("\n", "\t")])
def test_evidence_must_hold_text(method: str, by: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"whitespace|at least 1"):
        Evidence(method=method, recorded_by=by)
    assert Evidence(method=" signed_form ", recorded_by=" op ") == Evidence(method="signed_form", recorded_by="op")


def test_a_blank_evidence_row_written_before_the_fix_is_not_consent(store: Store) -> None:
    record = store.grant_consent(grant(caps=(FV,), purposes=("customer_service",)), actor="op", now=NOW)
    sql(store, "UPDATE consents SET evidence = ? WHERE id = ?", ('{"method": " ", "recorded_by": " "}', record.id))
    [back] = store.consents_for("alice")
    assert back.evidence is not None and back.evidence.method == " "  # shown as recorded
    assert back.missing_elements() == ["evidence"] and not back.active_at(NOW + timedelta(seconds=1))
    req = request("verify_faces", "face_verification", "customer_service", [img("alice"), img("alice", "b")])
    assert decide(req, [back], POLICY, NOW + timedelta(seconds=1)).outcome != "allow"


def test_expiry_is_bounded_by_max_days_and_must_follow_the_grant(store: Store) -> None:
    from datetime import UTC, datetime

    from agent.store.models import MAX_DAYS

    for expires in (datetime(9999, 12, 31, tzinfo=UTC), NOW + timedelta(days=MAX_DAYS, seconds=1)):
        with pytest.raises(InvalidConsent, match=f"longer than {MAX_DAYS} days"):
            store.grant_consent(grant(term_days=None, expires_at=expires), actor="op", now=NOW)
    with pytest.raises(InvalidConsent, match="after the grant time"):
        store.grant_consent(grant(term_days=None, expires_at=NOW), actor="op", now=NOW)
    assert counts(store)["consents"] == 0
    longest = store.grant_consent(grant(term_days=None, expires_at=NOW + timedelta(days=MAX_DAYS)), actor="op", now=NOW)
    assert longest.expires_at == NOW + timedelta(days=MAX_DAYS)
    assert store.grant_consent(grant(term_days=MAX_DAYS), actor="op", now=NOW).expires_at == longest.expires_at


def test_open_without_create_refuses_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "facegate.db"
    with pytest.raises(NotFoundError, match=r"no facegate database at .*nowhere.*\(wrong --home\?\)"):
        Store.open(missing, create=False)
    assert not missing.parent.exists()
    Store.open(missing).close()
    Store.open(missing, create=False).close()


def test_error_inside_a_transaction_rolls_everything_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.grant_consent(grant(), actor="op", now=NOW)
        raise RuntimeError("boom")
    assert counts(store) == {"subjects": 0, "consents": 0, "templates": 0, "audit_log": 0}
    assert store.audit.verify().ok


def test_database_and_the_folders_it_creates_are_private_whatever_the_umask(tmp_path: Path) -> None:
    import os
    import stat

    def mode(p: Path) -> int:
        return stat.S_IMODE(p.stat().st_mode)

    tmp_path.chmod(0o755)  # an existing folder: not ours to change
    old = os.umask(0)
    try:
        home = tmp_path / "home" / "nested"
        store = Store.open(home / "facegate.db")
        store.grant_consent(grant(), actor="op", now=NOW)
        db = home / "facegate.db"
        files = [db, db.with_name("facegate.db-wal"), db.with_name("facegate.db-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert (mode(home), mode(home.parent), mode(tmp_path)) == (0o700, 0o700, 0o755)
        store.close()
        # a database created world-readable before this fix is tightened when opened
        db.chmod(0o644)
        Store.open(db).close()
        assert mode(db) == 0o600
    finally:
        os.umask(old)


def test_template_purpose_is_what_the_template_was_enrolled_for(store: Store) -> None:
    record = store.grant_consent(grant(purposes=("access_control", "mfa")), actor="op", now=NOW)
    assert store.template_purpose("alice", model="Dlib", detector="dlib", now=NOW) is None
    _template(store, record.id, purpose="mfa")
    assert store.template_purpose("alice", model="Dlib", detector="dlib", now=NOW) == "mfa"
    assert store.template_purpose("alice", model="Dlib", detector="opencv", now=NOW) is None
    assert store.template_purpose("alice", model="Dlib", detector="dlib", now=NOW + timedelta(days=90)) is None
    store.save_template(
        "alice", model="Dlib", detector="dlib", vector=[0.5] * 128, image_sha256="a" * 64,
        expires_at=NOW + timedelta(days=5), now=NOW,
    )  # fmt: skip
    assert store.template_purpose("alice", model="Dlib", detector="dlib", now=NOW) == ""


def test_several_store_calls_in_one_transaction_see_their_own_writes_and_commit_together(store: Store) -> None:
    with store.transaction():
        record = store.grant_consent(grant(), actor="op", now=NOW)
        assert [c.id for c in store.consents_for("alice")] == [record.id]  # read through the open transaction
        _template(store, record.id)
        store.revoke_consent("alice", actor="op", capability=ENR, now=NOW + timedelta(minutes=1))
        assert not store.has_template("alice", model="Dlib", detector="dlib", now=NOW)
    assert [e.kind for e in store.audit.query()] == ["consent_grant", "enrollment", "consent_revoke"]
    assert counts(store) == {"subjects": 1, "consents": 2, "templates": 0, "audit_log": 3}
    assert store.audit.verify().ok


def test_threads_of_one_process_share_a_store_safely(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.audit_helpers import event

    def work(k: int) -> None:
        for i in range(15):
            with store.transaction():  # each thread its own transaction (PostgreSQL: its own pooled connection)
                store.audit.append(event(i, subject=f"t{k}"))
                assert store.audit.query(subject=f"t{k}", limit=1)[0].summary == {"i": i}

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    report = store.audit.verify()
    assert (report.ok, report.rows) == (True, 60)
