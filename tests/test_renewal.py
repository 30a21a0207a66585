"""Issue 9 item 7: a claimed-identity verification whose consent expired is consent.expired with needs-consent,
so a person who is present can renew it; when the template lapsed with the consent, the answer says the person
must be enrolled again, and once they are, the check runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.reasoners.offline import OfflineReasoner
from agent.sdk import ConsentAnswer, ConsentRequest, FaceAgent, ImageInput
from agent.settings import Settings
from tests.fakes import FakeFaceEngine

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(tmp_path: Path) -> FakeFaceEngine:
    return FakeFaceEngine(Settings(home=tmp_path))


@pytest.fixture
def agent(tmp_path: Path, engine: FakeFaceEngine, clock: Clock) -> Iterator[FaceAgent]:
    settings = Settings(home=tmp_path, reasoner="offline", actor="door-operator")
    with FaceAgent(settings, engine=engine, reasoner=OfflineReasoner(), checkpointer="memory", clock=clock) as a:
        yield a


def _grant(agent: FaceAgent, clock: Clock, caps: list[str], days: int) -> None:
    from agent import consent

    consent.grant_consent(agent.store, agent.policy, subject_id="alice", capabilities=caps, purposes=["access_control"],
                          notice="v1 door notice", evidence_method="signed form", recorded_by="reception",
                          term_days=days, actor="reception", now=clock())  # fmt: skip


def _renew(asked: list[ConsentRequest]) -> object:
    def handler(request: ConsentRequest) -> ConsentAnswer:
        asked.append(request)
        return ConsentAnswer(granted=True, notice="renewed at the door", term_days=90)

    return handler


def test_an_expired_consent_is_renewed_by_the_person_present_and_the_check_runs(
    agent: FaceAgent, engine: FakeFaceEngine, clock: Clock
) -> None:
    _grant(agent, clock, ["enrollment"], 365)
    _grant(agent, clock, ["face_verification"], 30)
    agent.enroll("alice", engine.photo("alice"), purpose="access_control")
    clock.now = START + timedelta(days=31)  # verification consent ran out; the template is still usable
    probe = [ImageInput(source=engine.photo("alice", 1))]

    unattended = agent.ask("verify img1 against enrolled alice", purpose="access_control", images=probe)
    (d,) = unattended.decisions
    assert (d.outcome, d.rule_id) == ("needs_consent", "consent.expired") and engine.ran("verify_against_template") == 0
    assert "can renew it" in unattended.answer

    asked: list[ConsentRequest] = []
    reply = agent.ask("verify img1 against enrolled alice", purpose="access_control", human_present=True,
                      consent_handler=_renew(asked), images=[ImageInput(source=engine.photo("alice", 2))])  # fmt: skip
    assert [[m.capability.value for m in r.missing] for r in asked] == [["face_verification"]]
    assert [d.rule_id for d in reply.decisions] == ["consent.expired", "highrisk.obligations"]
    assert reply.tool_outcomes[-1].status == "ok" and engine.ran("verify_against_template") == 1


def test_when_the_template_lapsed_too_the_answer_says_to_enrol_again(
    agent: FaceAgent, engine: FakeFaceEngine, clock: Clock
) -> None:
    _grant(agent, clock, ["face_verification", "enrollment"], 30)
    agent.enroll("alice", engine.photo("alice"), purpose="access_control")
    clock.now = START + timedelta(days=31)  # the consent and the template it carried both ran out
    asked: list[ConsentRequest] = []
    reply = agent.ask("She says she is alice. Verify her at the door as usual.", purpose="access_control",
                      images=[ImageInput(source=engine.photo("alice", 1))], human_present=True,
                      consent_handler=_renew(asked))  # fmt: skip
    # renewal asks for both: verifying, and enrolling (the template must be made again)
    assert sorted(m.capability.value for m in asked[0].missing) == ["enrollment", "face_verification"]
    assert [d.rule_id for d in reply.decisions] == ["consent.expired", "probe.requires_claimed_enrolled_identity"]
    assert "facegate enroll alice PHOTO --purpose access_control" in reply.answer
    assert engine.ran("verify_against_template") == 0
    # the renewed consent covers a new enrollment, after which the check runs
    agent.enroll("alice", engine.photo("alice", 3), purpose="access_control")
    again = agent.ask("verify img1 against enrolled alice", purpose="access_control",
                      images=[ImageInput(source=engine.photo("alice", 4))])  # fmt: skip
    assert [d.rule_id for d in again.decisions] == ["highrisk.obligations"] and again.tool_outcomes[-1].status == "ok"


def test_a_revoked_consent_stays_a_refusal(agent: FaceAgent, engine: FakeFaceEngine, clock: Clock) -> None:
    _grant(agent, clock, ["face_verification", "enrollment"], 365)
    agent.enroll("alice", engine.photo("alice"), purpose="access_control")
    agent.revoke_consent("alice")
    reply = agent.ask("verify img1 against enrolled alice", purpose="access_control", human_present=True,
                      consent_handler=_renew([]), images=[ImageInput(source=engine.photo("alice", 1))])  # fmt: skip
    assert [(d.outcome, d.rule_id) for d in reply.decisions] == [("deny", "consent.revoked")]
