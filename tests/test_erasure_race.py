"""Erasure wins (issue 9 item 8): after ``subject erase`` returns, no write from any process brings the person's
data back: not a checkpoint of a turn in flight, not a consent answered to a question asked before the erasure,
not a template of an enrollment decided before it.

The race itself runs in two real processes (tests/erasure_race.py); the rest are the same writes made in one
process, step by step, so that each ordering is tested on purpose.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.clock import utcnow
from agent.errors import ConsentRequired, ErasedDuringTurn
from agent.sdk import ConsentAnswer, ConsentRequest, FaceAgent, ImageInput
from agent.settings import Settings
from agent.store import Store
from tests.erasure_race import leftover, race
from tests.fakes import FakeFaceEngine


def test_two_processes_an_erasure_racing_a_turn_never_leaves_the_thread(tmp_path: Path) -> None:
    result = race(tmp_path, 40, seed=1)
    assert result.leaks == 0, result
    assert result.refused + result.finished == 40
    assert result.refused > 0  # the erasure caught turns in flight (the race was run, not avoided)


class Hooked(FakeFaceEngine):
    """A fake engine that runs ``hook`` inside the tool: another process's erasure, mid-turn."""

    hook = None

    def verify(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = super().verify(*args, **kwargs)
        if self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return result


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, reasoner="offline", actor="tester")


@pytest.fixture
def engine(settings: Settings) -> Hooked:
    return Hooked(settings)


@pytest.fixture
def agent(settings: Settings, engine: Hooked) -> Iterator[FaceAgent]:
    with FaceAgent(settings, engine=engine) as agent:  # SQLite checkpoints, as in production
        yield agent


@pytest.fixture
def elsewhere(settings: Settings) -> Iterator[FaceAgent]:
    """Another agent on the same home: its own connections, as another process would have."""
    with FaceAgent(settings, engine=FakeFaceEngine(settings)) as other:
        yield other


def photos(engine: FakeFaceEngine, who: str = "alice") -> list[ImageInput]:
    return [ImageInput(source=engine.photo(who), subject=who), ImageInput(source=engine.photo(who, 1), subject=who)]


def grant(agent: FaceAgent, who: str = "alice") -> None:
    agent.grant_consent(who, capabilities=["face_verification"], purposes=["mfa"], notice=f"{who} was told")


def test_a_turn_that_ends_after_the_erasure_keeps_nothing(
    agent: FaceAgent, engine: Hooked, elsewhere: FaceAgent, settings: Settings
) -> None:
    grant(agent)
    agent.ask("Compare img1 and img2.", purpose="mfa", images=photos(engine), thread_id="t1")  # a thread on record
    engine.hook = lambda: elsewhere.erase_subject("alice")
    with pytest.raises(ErasedDuringTurn) as info:
        agent.ask("Compare img1 and img2 again.", purpose="mfa", images=photos(engine), thread_id="t1")
    assert info.value.details["subjects"] == ["alice"] and info.value.exit_code == 6
    assert leftover(settings.resolved_checkpoint_path, "t1") == 0
    assert agent.transcript("t1") == []


def test_a_turn_that_starts_after_the_erasure_is_kept(
    agent: FaceAgent, engine: Hooked, elsewhere: FaceAgent, settings: Settings
) -> None:
    grant(agent)
    agent.ask("Compare img1 and img2.", purpose="mfa", images=photos(engine), thread_id="old")
    elsewhere.erase_subject("alice")
    grant(agent)  # alice comes back: a new consent registers her again
    reply = agent.ask("Compare img1 and img2.", purpose="mfa", images=photos(engine), thread_id="new")
    assert reply.decisions[0].outcome == "allow"
    assert leftover(settings.resolved_checkpoint_path, "new") > 0
    # the erased conversation's id, used again: it starts from nothing (what it held went with the erasure)
    again = agent.ask("Compare img1 and img2.", purpose="mfa", images=photos(engine), thread_id="old")
    assert again.decisions[0].outcome == "allow"
    assert [t.role for t in agent.transcript("old")].count("user") == 1


def test_a_consent_answered_after_the_erasure_does_not_bring_the_person_back(
    agent: FaceAgent, engine: Hooked, elsewhere: FaceAgent
) -> None:
    grant(agent, "bob")  # bob is on record (for another use), alice is asked at the door

    def ask_alice(request: ConsentRequest) -> ConsentAnswer:
        elsewhere.erase_subject("alice")  # she asked to be erased while the operator was asking her
        return ConsentAnswer(granted=True, notice="alice was told at the door")

    agent.grant_consent("alice", capabilities=["face_verification"], purposes=["access_control"], notice="v1")
    with pytest.raises(ErasedDuringTurn):
        agent.ask("Compare img1 and img2.", purpose="mfa", images=photos(engine), human_present=True,
                  consent_handler=ask_alice, thread_id="door")  # fmt: skip
    subject = agent.store.get_subject("alice")
    assert subject is not None and subject.erased
    assert all(not c.active_at(agent.deps.clock()) for c in agent.store.consents_for("alice"))
    answers = [r for r in agent.store.audit.query(kind="consent_grant", subject="alice")]
    assert len(answers) == 1  # only the one given before the erasure
    # a consent given now (not an answer to the old question) registers her again
    grant(agent)
    assert not agent.store.get_subject("alice").erased  # type: ignore[union-attr]


def test_store_writes_for_an_erased_person_are_refused_until_they_return(tmp_path: Path) -> None:
    from agent.consent import grant_consent
    from agent.policy import load_policy

    policy = load_policy()
    with Store.open(tmp_path / "facegate.db") as store:

        def consent(**kw: object) -> None:
            grant_consent(store, policy, subject_id="alice", capabilities=["face_verification", "enrollment"],
                          purposes=["mfa"], notice="v1", evidence_method="form", recorded_by="op", term_days=30,
                          actor="op", **kw)  # type: ignore[arg-type]  # fmt: skip

        consent()
        asked = store.audit.head()[0]  # a question asked now
        nonce = store.nonces.issue(purpose="mfa", ttl_seconds=60, actor="door", subject_id="alice")
        erased = store.erase_subject("alice", actor="dpo")
        assert erased["nonces_deleted"] == 1 and store.nonces.get(nonce.nonce) is None
        with pytest.raises(ConsentRequired, match="was erased"):
            store.save_template("alice", model="Dlib", detector="dlib", vector=[0.1] * 128, image_sha256="a" * 64,
                                expires_at=tomorrow())  # fmt: skip
        with pytest.raises(ErasedDuringTurn):
            consent(asked_at_seq=asked)
        consent()  # a new consent, not an answer to an old question
        store.save_template("alice", model="Dlib", detector="dlib", vector=[0.1] * 128, image_sha256="a" * 64,
                            expires_at=tomorrow())  # fmt: skip


def tomorrow() -> datetime:
    return utcnow() + timedelta(days=1)


def test_migration_6_backfills_the_erasure_sequence(tmp_path: Path) -> None:
    path = tmp_path / "facegate.db"
    with Store.open(path) as store:
        from agent.consent import grant_consent
        from agent.policy import load_policy

        grant_consent(store, load_policy(), subject_id="alice", capabilities=["face_verification"],
                      purposes=["mfa"], notice="v1", evidence_method="form", recorded_by="op", term_days=30,
                      actor="op")  # fmt: skip
        seq = store.erase_subject("alice", actor="dpo")["audit_seq"]
    with sqlite3.connect(path) as conn:  # back to schema 5, as a database erased before this release
        conn.execute("ALTER TABLE subjects DROP COLUMN erased_seq")
        conn.execute("DELETE FROM schema_migrations WHERE version = 6")
    with Store.open(path) as store:
        assert store.schema_version() == 6
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT erased_seq FROM subjects WHERE id = 'alice'").fetchone() == (seq,)
