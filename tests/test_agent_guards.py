"""Guards around the graph: thresholds only tighten, probe pixels end with the turn, a paused thread can move
on, subject labels are checked, and the SDK's subject-rights calls clear what the process holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sdk import FaceAgent, ImageInput
from agent.settings import Settings
from tests.fakes import FakeFaceEngine, ScriptedReasoner, call, say
from tools.errors import UserError


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, reasoner="offline", actor="tester")


@pytest.fixture
def scripted() -> ScriptedReasoner:
    return ScriptedReasoner()


def _agent(settings: Settings, engine: FakeFaceEngine, scripted: ScriptedReasoner) -> FaceAgent:
    return FaceAgent(settings, engine=engine, reasoner=scripted, checkpointer="memory")


@pytest.fixture
def engine(settings: Settings) -> FakeFaceEngine:
    return FakeFaceEngine(settings)


@pytest.fixture
def agent(settings: Settings, engine: FakeFaceEngine, scripted: ScriptedReasoner) -> Iterator[FaceAgent]:
    with _agent(settings, engine, scripted) as a:
        yield a


def consent(agent: FaceAgent, subject: str, caps: list[str], purposes: list[str]) -> None:
    agent.grant_consent(subject, capabilities=caps, purposes=purposes, notice="told", evidence_method="form")


# --- finding: a purpose's threshold may only tighten the operator's ---------------------------------------


@pytest.mark.parametrize("tool", ["verify_faces", "verify_identity"])
def test_a_stricter_operator_threshold_is_not_loosened_by_the_purpose(
    settings: Settings, scripted: ScriptedReasoner, tool: str
) -> None:
    strict = FakeFaceEngine(settings, threshold=0.001)  # the operator's FACEGATE_THRESHOLD, stricter than 0.06
    with _agent(settings, strict, scripted) as agent:
        consent(agent, "alice", ["face_verification", "enrollment"], ["access_control"])
        if tool == "verify_identity":
            agent.enroll("alice", strict.photo("alice"), purpose="access_control")
            scripted.enqueue(call(tool, image="img1", claimed_subject="alice"), say("done"))
            images = [ImageInput(source=strict.photo("alice", 2))]
        else:
            scripted.enqueue(call(tool, image_a="img1", image_b="img2"), say("done"))
            images = [ImageInput(source=strict.photo("alice", 1), subject="alice"),
                      ImageInput(source=strict.photo("alice", 2), subject="alice")]  # fmt: skip
        reply = agent.ask("verify", purpose="access_control", images=images)
        (o,) = reply.tool_outcomes
        assert o.status == "ok" and o.result is not None
        assert o.result["threshold"] == 0.001  # min(operator 0.001, purpose 0.06)
        assert o.result["verified"] is False  # same person, but not within the operator's threshold
        run = [r for r in agent.audit_entries(reply.thread_id) if r.kind == "tool_run"][-1]
        assert run.summary["threshold"] == 0.001


def test_a_looser_operator_threshold_is_tightened_by_the_purpose(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    engine.threshold = 0.5
    consent(agent, "alice", ["face_verification"], ["mfa"])
    scripted.enqueue(call("verify_faces", image_a="img1", image_b="img2"), say("done"))
    images = [ImageInput(source=engine.photo("alice"), subject="alice"),
              ImageInput(source=engine.photo("bob"), subject="alice")]  # fmt: skip
    reply = agent.ask("verify", purpose="mfa", images=images)
    (o,) = reply.tool_outcomes
    assert o.result is not None and o.result["threshold"] == 0.06


# --- finding: probe pixels do not outlive the turn --------------------------------------------------------


def test_probe_pixels_are_dropped_after_a_denied_verification(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    scripted.enqueue(call("verify_identity", image="img1", claimed_subject="alice"), say("refused"))
    reply = agent.ask("verify", purpose="access_control", images=[ImageInput(source=engine.photo("alice"))])
    assert reply.decisions[0].outcome != "allow"
    sha = reply.images[0].sha256
    assert sha not in agent.deps.vault and sha in engine.forgotten


def test_probe_pixels_are_dropped_after_a_turn_that_ran_nothing_but_labelled_images_stay(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    scripted.enqueue(say("hello"))
    reply = agent.ask("hi", purpose="mfa", images=[ImageInput(source=engine.photo("x")),
                                                   ImageInput(source=engine.photo("bob"), subject="bob")])  # fmt: skip
    probe, bob = reply.images
    assert probe.subject is None and probe.sha256 not in agent.deps.vault and probe.sha256 in engine.forgotten
    assert bob.sha256 in agent.deps.vault and bob.sha256 not in engine.forgotten


def test_probe_pixels_stay_while_the_run_waits_for_consent(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    from agent.sdk import ConsentAnswer

    scripted.enqueue(call("analyze_expression", image="img1"), say("done"))
    images = [ImageInput(source=engine.photo("eileen"), subject="eileen"), ImageInput(source=engine.photo("x"))]
    paused = agent.ask("how does she look?", purpose="ux_research", images=images, human_present=True)
    assert paused.status == "awaiting_consent"
    probe = paused.images[1]
    assert probe.sha256 in agent.deps.vault
    done = agent.resume(paused.thread_id, ConsentAnswer(granted=False))
    assert done.status == "done"
    assert probe.sha256 not in agent.deps.vault and probe.sha256 in engine.forgotten


# --- finding: a thread paused for consent is not stuck ---------------------------------------------------


def test_a_new_message_on_a_paused_thread_declines_the_pending_question(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    scripted.enqueue(call("analyze_expression", image="img1"), say("could not"), say("hello again"))
    img = [ImageInput(source=engine.photo("e"), subject="eileen")]
    paused = agent.ask("x", purpose="ux_research", images=img, human_present=True)
    assert paused.status == "awaiting_consent"
    events = list(agent.stream("never mind", purpose="ux_research", thread_id=paused.thread_id))
    kinds = [e.kind for e in events]
    assert kinds[0] == "consent_answer" and events[0].data["granted"] is False
    assert kinds.index("tool_result") < kinds.index("user")  # the old call is settled before the new message
    declined = next(e for e in events if e.kind == "tool_result")
    assert declined.data["status"] == "denied" and declined.data["error_code"] == "consent_declined"
    reply = agent.ask("and now?", purpose="ux_research", thread_id=paused.thread_id)  # usable again
    assert reply.status == "done"
    rows = agent.audit_entries(paused.thread_id)
    assert any(r.kind == "decision" and r.summary.get("note") == "consent declined" for r in rows)
    assert engine.ran("analyze_expression") == 0
    assert agent.store.consents_for("eileen") == []


# --- finding: subject labels are checked -----------------------------------------------------------------


@pytest.mark.parametrize("label", ["ev\x1b[31mil\nx", "", " alice", "a" * 200, "bob\r\nINJECTED"])
def test_bad_subject_labels_are_a_one_line_user_error(agent: FaceAgent, engine: FakeFaceEngine, label: str) -> None:
    with pytest.raises(UserError) as info:
        agent.ask("hi", purpose="mfa", images=[ImageInput(source=engine.photo("x"), subject=label)])
    message = str(info.value.message)
    assert "\n" not in message and "\r" not in message and "\x1b" not in message
    assert len(agent.deps.vault) == 0 and agent.store.audit.query() == []


# --- finding: subject rights through the SDK -------------------------------------------------------------


def test_erase_subject_clears_the_process_and_the_conversations(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    consent(agent, "alice", ["face_verification"], ["mfa"])
    scripted.enqueue(call("consent_status", subject="alice"), say("on file"))
    reply = agent.ask("consent?", purpose="mfa", images=[ImageInput(source=engine.photo("alice"), subject="alice")])
    sha = reply.images[0].sha256
    assert sha in agent.deps.vault
    exported = agent.export_subject("alice")
    assert exported["subject"]["id"] == "alice" and exported["consents"]
    result = agent.erase_subject("alice")
    assert result["subject"] == "alice" and result["cached_items_deleted"] == 1
    assert sha not in agent.deps.vault and sha in engine.forgotten
    assert agent.transcript(reply.thread_id) == []  # the conversation went with them
    assert [r.kind for r in agent.audit_entries(kind="erasure")] == ["erasure"]


def test_revoking_through_the_sdk_forgets_the_subjects_images(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    consent(agent, "alice", ["face_verification"], ["mfa"])
    scripted.enqueue(say("ok"))
    reply = agent.ask("hi", purpose="mfa", images=[ImageInput(source=engine.photo("alice"), subject="alice"),
                                                   ImageInput(source=engine.photo("bob"), subject="bob")])  # fmt: skip
    alice, bob = reply.images
    agent.revoke_consent("alice")
    assert alice.sha256 not in agent.deps.vault and alice.sha256 in engine.forgotten
    assert bob.sha256 in agent.deps.vault
