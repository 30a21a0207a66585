"""Provenance in the agent: checked once when an image is attached (on its original bytes), kept in the graph's
state by sha256, put to ``decide()`` by the gate for every call, liveness nonces spent right after the decision,
the decision rows carrying the summary, enrollment doing the same, and answers saying what was checked.

Photos are package photos signed at test time by the real C2PA library (tests/provenance_fixtures.py); the face
engine is the fake (these tests are about the decisions, the state and the answers, not about faces).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent.capture import issue_nonce
from agent.errors import PolicyDenied, ProvenanceUnavailable
from agent.policy import Policy
from agent.policy.catalogue import policy_with
from agent.sdk import AgentReply, FaceAgent, ImageInput
from agent.settings import Settings
from tests.fakes import FakeFaceEngine
from tests.provenance_fixtures import CAPTURE_SIGNER, ProvenanceKit
from tools.provenance import ProvenanceReport

SIGNER = f"{CAPTURE_SIGNER[0]} ({CAPTURE_SIGNER[1]})"
TRUSTED = f"signed by {SIGNER}, a trusted signer; unmodified since signing"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def liveness_policy() -> Policy:
    """The shipped catalogue with access control asking a liveness attestation (no shipped purpose does)."""
    return policy_with({"access_control": {"require_liveness": "always"}})


@pytest.fixture
def kit(provenance_kit: ProvenanceKit) -> ProvenanceKit:
    return provenance_kit


def make_agent(tmp: Path, kit: ProvenanceKit, *, anchors: bool = True, policy: Policy | None = None) -> FaceAgent:
    settings = Settings(
        home=tmp, reasoner="offline", actor="tester", trust_anchors=kit.anchors if anchors else None,
        provenance_remote_manifests=False, provenance_ocsp=False,
    )  # fmt: skip
    engine = FakeFaceEngine(settings)
    agent = FaceAgent(settings, engine=engine, policy=policy)  # SQLite checkpoints, as people run it
    agent.grant_consent("obama", capabilities=["face_verification", "enrollment"], purposes=["access_control"],
                        notice="v1 door notice")  # fmt: skip
    return agent


def person(agent: FaceAgent, data: bytes, who: str = "obama") -> bytes:
    """Tell the fake engine whose face these bytes show."""
    agent.engine.people[_sha(data)] = who  # type: ignore[attr-defined]
    return data


@pytest.fixture
def door(tmp_path: Path, kit: ProvenanceKit) -> Iterator[FaceAgent]:
    agent = make_agent(tmp_path, kit)
    agent.enroll("obama", person(agent, kit.signed("created", "obama.jpg")), purpose="access_control")
    try:
        yield agent
    finally:
        agent.close()


def verify(agent: FaceAgent, probe: bytes | np.ndarray, thread: str | None = None) -> AgentReply:
    return agent.ask("Verify img1 against enrolled obama.", purpose="access_control",
                     images=[ImageInput(source=probe, subject=None)], thread_id=thread)  # fmt: skip


def decision_row(agent: FaceAgent, reply: AgentReply) -> dict[str, object]:
    audit_id = reply.decisions[0].audit_id
    [row] = [r for r in agent.audit_entries(reply.thread_id) if r.audit_id == audit_id]
    return row.summary


def test_a_trusted_capture_is_verified_and_the_answer_says_what_was_checked(
    door: FaceAgent, kit: ProvenanceKit
) -> None:
    probe = person(door, kit.signed("created", "obama2.jpg"))
    reply = verify(door, probe)
    [decision] = reply.decisions
    assert (decision.outcome, decision.rule_id) == ("allow", "highrisk.obligations")
    [outcome] = reply.tool_outcomes
    assert outcome.status == "ok"
    [note] = outcome.provenance
    assert (note.handle, note.state, note.liveness) == ("img1", "trusted", None)
    assert TRUSTED in note.statement
    assert f"Provenance of img1 (probe): {TRUSTED}" in reply.answer
    assert "authentic" not in reply.answer.lower() and "is live" not in reply.answer.lower()
    summary = decision_row(door, reply)
    assert summary["provenance"] == {"img1": {"state": "trusted", "signer": SIGNER,
                                               "digital_source_type": "digitalCapture",
                                               "actions": ["c2pa.created"]}}  # fmt: skip
    # kept in the state by sha256, as the typed report (no pixels: the report has none)
    state = door.runner.values(reply.thread_id)
    report = state["provenance"][_sha(probe)]
    assert isinstance(report, ProvenanceReport) and report.state == "trusted"


@pytest.mark.parametrize(
    ("variant", "rule_id", "state"),
    [
        ("tampered", "provenance.tampered", "invalid"),
        ("generated", "provenance.synthetic_or_composite", "trusted"),
        ("composited", "provenance.synthetic_or_composite", "trusted"),
        ("stripped", "provenance.trusted_capture_required", "absent"),
        ("untrusted", "provenance.trusted_capture_required", "untrusted"),
        ("unsigned", "provenance.trusted_capture_required", "absent"),
    ],
)
def test_what_policy_refuses_never_reaches_the_engine(
    door: FaceAgent, kit: ProvenanceKit, variant: str, rule_id: str, state: str
) -> None:
    made = {
        "tampered": lambda: kit.tampered("obama2.jpg"),
        "generated": lambda: kit.signed("generated", "obama2.jpg"),
        "composited": lambda: kit.signed("composited", "obama2.jpg"),
        "stripped": lambda: kit.stripped("obama2.jpg"),
        "untrusted": lambda: kit.untrusted("created", "obama2.jpg"),
        "unsigned": lambda: kit.unsigned("obama2.jpg"),
    }[variant]()
    probe = person(door, made)
    before = door.engine.ran("verify_against_template")  # type: ignore[attr-defined]
    reply = verify(door, probe)
    [decision] = reply.decisions
    assert (decision.outcome, decision.rule_id) == ("deny", rule_id)
    assert door.engine.ran("verify_against_template") == before  # type: ignore[attr-defined]
    assert rule_id in reply.answer
    assert decision_row(door, reply)["provenance"]["img1"]["state"] == state  # type: ignore[index]


def test_an_array_has_no_original_bytes_and_is_not_checked(door: FaceAgent, kit: ProvenanceKit) -> None:
    pixels = np.full((48, 48, 3), 120, dtype=np.uint8)
    reply = verify(door, pixels)
    [decision] = reply.decisions
    assert (decision.outcome, decision.rule_id) == ("deny", "provenance.trusted_capture_required")
    assert "not checked" in decision.reason
    report = next(iter(door.runner.values(reply.thread_id)["provenance"].values()))
    assert report.state == "not_checked"


def test_without_trust_anchors_nothing_requires_a_capture_and_answers_still_say_what_was_seen(
    tmp_path: Path, kit: ProvenanceKit
) -> None:
    with make_agent(tmp_path, kit, anchors=False) as agent:
        agent.enroll("obama", person(agent, kit.unsigned("obama.jpg")), purpose="access_control")
        reply = verify(agent, person(agent, kit.untrusted("created", "obama2.jpg")))
        assert reply.decisions[0].outcome == "allow"
        assert reply.tool_outcomes[0].provenance[0].state == "untrusted"
        assert "a signer not among the configured trust anchors" in reply.answer
        # an unsigned photo: what was checked is that there is no manifest
        reply = verify(agent, person(agent, kit.unsigned("obama3.jpg")))
        assert "Provenance of img1 (probe): no C2PA provenance manifest." in reply.answer
        # and a tampered one is refused whatever the anchors
        reply = verify(agent, person(agent, kit.tampered("obama3.jpg")))
        assert reply.decisions[0].rule_id == "provenance.tampered"


def test_liveness_nonce_is_spent_by_the_call_that_uses_it_and_a_replay_is_refused(
    tmp_path: Path, kit: ProvenanceKit
) -> None:
    with make_agent(tmp_path, kit, policy=liveness_policy()) as agent:
        agent.enroll("obama", person(agent, kit.signed("created", "obama.jpg")), purpose="access_control")
        issued = issue_nonce(agent.store, agent.policy, purpose="access_control", actor="door-app", ttl_seconds=120)
        capture = person(agent, kit.live(issued.nonce, "obama2.jpg"))
        reply = verify(agent, capture)
        [decision] = reply.decisions
        assert (decision.outcome, decision.rule_id) == ("allow", "highrisk.obligations")
        assert [o.value for o in decision.obligations if o.kind == "spend_liveness_nonce"] == [issued.nonce]
        assert agent.store.nonces.get(issued.nonce).spent_at is not None  # type: ignore[union-attr]
        [note] = reply.tool_outcomes[0].provenance
        assert note.liveness == f"liveness asserted by {SIGNER} (facegate-test-liveness 1)"
        assert note.liveness in reply.answer and "the person is live" not in reply.answer
        assert decision_row(agent, reply)["provenance"]["img1"]["nonce"] == "fresh"  # type: ignore[index]

        again = verify(agent, capture)  # the same capture presented again: a replay
        assert (again.decisions[0].outcome, again.decisions[0].rule_id) == ("deny", "liveness.nonce_replayed")
        # a trusted capture without an assertion does not pass either
        plain = verify(agent, person(agent, kit.signed("created", "obama3.jpg")))
        assert plain.decisions[0].rule_id == "liveness.attestation_required"


def test_a_call_paused_for_consent_keeps_its_nonce_until_the_allow(tmp_path: Path, kit: ProvenanceKit) -> None:
    """needs_consent spends nothing: the capture is still fresh while the person is asked, and the allow that
    follows their consent spends it."""
    from agent.sdk import ConsentAnswer, ConsentRequest

    with make_agent(tmp_path, kit, policy=liveness_policy()) as agent:
        issued = issue_nonce(agent.store, agent.policy, purpose="access_control", actor="door-app", ttl_seconds=120)
        seen: list[object] = []

        def ask_alice(request: ConsentRequest) -> ConsentAnswer:
            seen.append(agent.store.nonces.get(issued.nonce).spent_at)  # type: ignore[union-attr]
            return ConsentAnswer(granted=True, notice="alice was told at the door")

        images = [
            ImageInput(source=person(agent, kit.live(issued.nonce, "obama2.jpg"), "alice"), subject="alice"),
            ImageInput(source=person(agent, kit.signed("created", "obama3.jpg"), "alice"), subject="alice"),
        ]
        reply = agent.ask("Compare img1 and img2.", purpose="access_control", images=images, human_present=True,
                          consent_handler=ask_alice)  # fmt: skip
        assert [(d.outcome, d.rule_id) for d in reply.decisions] == [
            ("needs_consent", "consent.missing"), ("allow", "highrisk.obligations"),
        ]  # fmt: skip
        assert seen == [None]  # not spent while the person was asked
        assert agent.store.nonces.get(issued.nonce).spent_at is not None  # type: ignore[union-attr]
        notes = {n.handle: n for n in reply.tool_outcomes[0].provenance}
        assert notes["img1"].liveness is not None and notes["img2"].liveness is None


def test_enrollment_checks_the_photo_and_refuses_a_tampered_one(tmp_path: Path, kit: ProvenanceKit) -> None:
    with make_agent(tmp_path, kit) as agent:
        with pytest.raises(PolicyDenied) as info:
            agent.enroll("obama", person(agent, kit.tampered("obama.jpg")), purpose="access_control")
        assert info.value.rule_id == "provenance.tampered"
        with pytest.raises(PolicyDenied) as info:
            agent.enroll("obama", person(agent, kit.unsigned("obama.jpg")), purpose="access_control")
        assert info.value.rule_id == "provenance.trusted_capture_required"
        result = agent.enroll("obama", person(agent, kit.signed("created", "obama.jpg")), purpose="access_control")
        assert result.provenance is not None and result.provenance.state == "trusted"
        rows = agent.store.audit.query(kind="decision", subject="obama")
        assert [r.rule_id for r in rows] == [
            "provenance.tampered", "provenance.trusted_capture_required", "highrisk.obligations",
        ]  # fmt: skip
        assert rows[-1].summary["provenance"]["enrollment_image"]["state"] == "trusted"


def test_a_purpose_that_needs_the_check_refuses_at_attach_when_the_extra_is_missing(
    door: FaceAgent, kit: ProvenanceKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tools.provenance.checker as checker

    monkeypatch.setattr(checker, "c2pa_installed", lambda: False)
    with pytest.raises(ProvenanceUnavailable):
        verify(door, person(door, kit.signed("created", "obama2.jpg")))
    # a purpose that does not depend on it goes on, and says the check did not run
    door.grant_consent("eileen", capabilities=["expression_analysis"], purposes=["ux_research"], notice="v1 ux")
    reply = door.ask("Analyse the facial expression in img1.", purpose="ux_research",
                     images=[ImageInput(source=person(door, kit.unsigned("astronaut.png"), "eileen"),
                                        subject="eileen")])  # fmt: skip
    assert reply.tool_outcomes[0].status == "ok"
    assert "provenance not checked (the C2PA reader is not installed" in reply.answer


def test_checkpoints_hold_the_reports_as_typed_models_for_another_agent(tmp_path: Path, kit: ProvenanceKit) -> None:
    with make_agent(tmp_path, kit) as agent:
        agent.enroll("obama", person(agent, kit.signed("created", "obama.jpg")), purpose="access_control")
        probe = person(agent, kit.signed("created", "obama2.jpg"))
        reply = verify(agent, probe, thread="door-1")
        assert reply.decisions[0].outcome == "allow"
    with make_agent(tmp_path, kit) as again:
        report = again.runner.values("door-1")["provenance"][_sha(probe)]
        assert isinstance(report, ProvenanceReport)
        assert report.state == "trusted" and report.signer is not None
