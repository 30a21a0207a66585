"""Subject rights: export (everything held, templates only as hashes unless asked) and erasure, on SQLite and on
PostgreSQL (whose conversations are in LangGraph's PostgresSaver tables of the same database)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from agent.consent import grant_consent
from agent.policy import load_policy
from agent.settings import Settings
from agent.store import AuditEvent, Store
from agent.subjects import erase_subject, export_subject
from tests.policy_cases import NOW
from tools.errors import NotFoundError

POLICY = load_policy()


@pytest.fixture
def store(open_store: Callable[..., Store]):  # type: ignore[no-untyped-def]
    s = open_store()
    record = grant_consent(
        s,
        POLICY,
        subject_id="alice",
        capabilities=["face_verification", "enrollment"],
        purposes=["access_control"],
        notice="v1",
        evidence_method="m",
        recorded_by="op",
        term_days=30,
        actor="op",
        now=NOW,
    )
    s.save_template(
        "alice",
        model="Dlib",
        detector="dlib",
        vector=[0.375] * 128,
        image_sha256="e" * 64,
        expires_at=NOW + timedelta(days=30),
        purpose="access_control",
        consent_id=record.id,
        now=NOW,
    )
    yield s
    s.close()


def test_export_holds_everything_but_vectors_by_default(store: Store) -> None:
    data = export_subject(store, "alice", actor="dpo", now=NOW)
    text = json.dumps(data)
    assert data["subject"]["id"] == "alice" and len(data["consents"]) == 1
    assert data["consents"][0]["status"] == "active" and data["consents"][0]["notice"] == "v1"
    [template] = data["templates"]
    assert len(template["template_sha256"]) == 64 and "vector" not in template and "0.375" not in text
    assert [row["kind"] for row in data["audit"]] == ["consent_grant", "enrollment"]
    assert store.audit.query(kind="subject_export")[0].subjects == ["alice"]
    full = export_subject(store, "alice", actor="alice", include_templates=True, now=NOW)
    assert full["templates"][0]["vector"] == [0.375] * 128


def test_erase_runs_cleaners_and_keeps_a_tombstone(store: Store) -> None:
    cleaned: list[str] = []

    def cleaner(subject: str) -> int:
        cleaned.append(subject)
        return 3

    result = erase_subject(store, "alice", actor="dpo", cleaners=[cleaner], now=NOW)
    assert cleaned == ["alice"]
    assert (result["templates_deleted"], result["consents_revoked"], result["cached_items_deleted"]) == (1, 1, 3)
    after = export_subject(store, "alice", actor="dpo", now=NOW)
    assert after["subject"]["erased_at"] is not None and after["templates"] == []
    assert after["consents"][0]["status"] == "revoked"
    assert store.audit.verify().ok


def test_failing_cleaner_leaves_the_store_untouched(store: Store) -> None:
    def broken(subject: str) -> int:
        raise OSError("vault offline")

    with pytest.raises(OSError):
        erase_subject(store, "alice", actor="dpo", cleaners=[broken], now=NOW)
    assert len(store.templates_for("alice")) == 1


def test_unknown_subject(store: Store) -> None:
    with pytest.raises(NotFoundError):
        export_subject(store, "nobody", actor="dpo")
    with pytest.raises(NotFoundError):
        erase_subject(store, "nobody", actor="dpo")


def _converse(settings, subject: str) -> str:  # type: ignore[no-untyped-def]
    """One conversation about ``subject`` through the SDK (the settings' checkpoints); returns its thread id."""
    from agent.sdk import FaceAgent, ImageInput
    from tests.fakes import FakeFaceEngine, ScriptedReasoner, call, say

    engine = FakeFaceEngine(settings)
    reasoner = ScriptedReasoner(call("consent_status", subject=subject), say(f"about {subject}"))
    with FaceAgent(settings, engine=engine, reasoner=reasoner) as agent:
        image = ImageInput(source=engine.photo(subject), subject=subject)
        return agent.ask(f"what about {subject}?", purpose="mfa", images=[image]).thread_id


def _threads(settings: Settings | Path) -> set[str]:
    """Every thread id in the checkpoint tables (and pending writes): the settings' database, or a SQLite file."""
    if isinstance(settings, Settings) and settings.database_url is not None:
        import psycopg

        with psycopg.connect(settings.database_url.get_secret_value()) as pg:
            rows = pg.execute(
                "SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM checkpoint_writes "
                "UNION SELECT thread_id FROM checkpoint_blobs"
            ).fetchall()
        return {r[0] for r in rows}
    import sqlite3

    conn = sqlite3.connect(settings.resolved_checkpoint_path if isinstance(settings, Settings) else settings)
    try:
        rows = conn.execute("SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM writes").fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def test_erasure_deletes_the_subjects_conversations_from_the_checkpoints(db_settings: Settings, tmp_path: Path) -> None:
    from agent.subjects import erase_subject_everywhere, subject_threads

    settings = db_settings.model_copy(update={"reasoner": "offline", "actor": "tester"})
    carol_1, carol_2, bob = _converse(settings, "carol"), _converse(settings, "carol"), _converse(settings, "bob")
    checkpoints = settings.resolved_checkpoint_path
    assert _threads(settings) == {carol_1, carol_2, bob}
    with Store.from_settings(settings) as store:
        grant_consent(
            store, POLICY, subject_id="carol", capabilities=["face_verification"], purposes=["mfa"], notice="v1",
            evidence_method="m", recorded_by="op", term_days=30, actor="op",
        )  # fmt: skip
        listed = export_subject(store, "carol", actor="dpo")["conversations"]
        assert [t["thread_id"] for t in listed] == [carol_1, carol_2]
        assert all(t["first_at"] <= t["last_at"] and t["audit_rows"] >= 1 for t in listed)
        result = erase_subject_everywhere(store, settings, "carol", actor="dpo")
        assert result["threads_deleted"] == 2 and result["consents_revoked"] == 1
        [row] = store.audit.query(kind="erasure")
        assert row.summary["threads_deleted"] == 2 and carol_1 not in str(row.summary)
        assert store.audit.verify().ok
        # bob's conversation stays; carol's are gone, also from the SQLite file's free pages
        assert _threads(settings) == {bob}
        if settings.database_url is None:
            files = [checkpoints, *(p for p in tmp_path.glob("threads.db-*") if p.is_file())]
            raw = b"".join(p.read_bytes() for p in files)
            assert carol_1.encode() not in raw and carol_2.encode() not in raw
        # erasing again is harmless: nothing left to delete
        assert erase_subject_everywhere(store, settings, "carol", actor="dpo")["threads_deleted"] == 0
        assert subject_threads(store, "carol")  # the audit log still knows (ids and times only)


def test_erasure_without_a_checkpoint_file_creates_none(store: Store, tmp_path: Path) -> None:
    from agent.settings import Settings
    from agent.subjects import erase_subject_everywhere

    settings = Settings(home=tmp_path / "elsewhere", reasoner="offline")
    result = erase_subject_everywhere(store, settings, "alice", actor="dpo", now=NOW)
    assert result["threads_deleted"] == 0 and not settings.resolved_checkpoint_path.exists()


def test_erasure_uses_the_callers_checkpointer(store: Store, tmp_path: Path) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from agent.settings import Settings
    from agent.subjects import erase_subject_everywhere

    saver = InMemorySaver()
    saver.put(
        {"configurable": {"thread_id": "t-alice", "checkpoint_ns": ""}},
        {"v": 1, "id": "1", "ts": NOW.isoformat(), "channel_values": {}, "channel_versions": {}, "versions_seen": {}},
        {},
        {},
    )
    store.audit.append(AuditEvent(kind="decision", actor="t", session_id="t-alice", subjects=["alice"]))
    result = erase_subject_everywhere(
        store, Settings(home=tmp_path, reasoner="offline"), "alice", actor="dpo", now=NOW, checkpointer=saver
    )
    assert result["threads_deleted"] == 1
    assert saver.get_tuple({"configurable": {"thread_id": "t-alice"}}) is None


def test_a_session_row_naming_a_subject_finds_the_thread(store: Store) -> None:
    """The SDK's "session" row lists the subjects attached to a turn: a subject who was only attached (no
    decision or tool run named them) still has that conversation found, exported and erased."""
    from agent.subjects import subject_threads

    assert subject_threads(store, "alice") == []
    store.audit.append(
        AuditEvent(
            kind="session", actor="sdk", session_id="t-attached", subjects=["alice", "bob"],
            input_hashes=["f" * 64], ts=NOW,
        )
    )  # fmt: skip
    store.audit.append(AuditEvent(kind="session", actor="sdk", session_id="t-other", subjects=["bob"], ts=NOW))
    assert subject_threads(store, "alice") == [
        {"thread_id": "t-attached", "first_at": NOW.isoformat(timespec="microseconds"),
         "last_at": NOW.isoformat(timespec="microseconds"), "audit_rows": 1}
    ]  # fmt: skip
    assert [t["thread_id"] for t in subject_threads(store, "bob")] == ["t-attached", "t-other"]
    assert [t["thread_id"] for t in export_subject(store, "alice", actor="dpo", now=NOW)["conversations"]] == [
        "t-attached"
    ]


def test_export_after_a_return_keeps_the_erasure(store: Store) -> None:
    later = NOW + timedelta(days=1)
    erase_subject(store, "alice", actor="dpo", now=NOW)
    erased = export_subject(store, "alice", actor="dpo", now=NOW)["subject"]
    assert erased["status"] == "erased" and erased["reregistered_at"] is None
    grant_consent(
        store, POLICY, subject_id="alice", capabilities=["face_verification"], purposes=["access_control"],
        notice="v2", evidence_method="m", recorded_by="op", term_days=30, actor="op", now=later,
    )  # fmt: skip
    back = export_subject(store, "alice", actor="dpo", now=later)["subject"]
    assert back["status"] == "active"
    assert back["erased_at"] == erased["erased_at"] == NOW.isoformat(timespec="microseconds")
    assert back["reregistered_at"] == later.isoformat(timespec="microseconds")
    assert back["erasures"] == erased["erasures"] and len(back["erasures"]) == 1


def test_blank_evidence_through_the_service_is_invalid_consent(open_store: Callable[..., Store]) -> None:
    from agent.errors import InvalidConsent

    with open_store() as s:
        for method, by in ((" ", " "), ("m", "  "), ("\t", "op")):
            with pytest.raises(InvalidConsent, match="missing evidence"):
                grant_consent(
                    s, POLICY, subject_id="b1", capabilities=["face_verification"], purposes=["access_control"],
                    notice="n", evidence_method=method, recorded_by=by, term_days=30, actor="op", now=NOW,
                )  # fmt: skip
        assert s.list_subjects() == [] and s.audit.head()[0] == 0


def test_conversations_are_listed_from_the_settings_database(db_settings: Settings) -> None:
    """`facegate threads` and `chat -c` read the settings' checkpointer: the SQLite file, or PostgreSQL."""
    from agent.threads import get_thread, latest_thread, list_threads

    settings = db_settings.model_copy(update={"reasoner": "offline", "actor": "tester"})
    assert list_threads(settings) == [] and latest_thread(settings) is None  # nothing saved yet: nothing created
    first, second = _converse(settings, "carol"), _converse(settings, "bob")
    assert [t.thread_id for t in list_threads(settings)] == [second, first]
    found = get_thread(settings, first)
    assert found is not None and (found.purpose, found.turns) == ("mfa", 1)
    assert get_thread(settings, "no-such-thread") is None
