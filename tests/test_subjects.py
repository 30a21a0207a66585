"""Subject rights: export (everything held, templates only as hashes unless asked) and erasure."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from agent.consent import grant_consent
from agent.policy import load_policy
from agent.store import Store
from agent.subjects import erase_subject, export_subject
from tests.policy_cases import NOW
from tools.errors import NotFoundError

POLICY = load_policy()


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store.open(tmp_path / "facegate.db")
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
