"""The graph: its shape, the policy gate in front of the tools, consent pauses, checkpoints and obligations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import PolicyDenied
from agent.graph.messages import ConsentStatusResult
from agent.graph.nodes.tools import make_tools_node
from agent.sdk import ConsentAnswer, FaceAgent, ImageInput
from agent.settings import Settings
from agent.store import Store
from tests.fakes import FakeFaceEngine, ScriptedReasoner, call, say
from tools.errors import UserError
from tools.results import VerificationResult

MERMAID = """---
config:
  flowchart:
    curve: linear
---
graph TD;
	__start__([<p>__start__</p>]):::first
	reason(reason)
	policy(policy)
	consent(consent)
	tools(tools)
	__end__([<p>__end__</p>]):::last
	__start__ --> reason;
	consent --> policy;
	policy -.-> consent;
	policy -.-> reason;
	policy -.-> tools;
	reason -.-> __end__;
	reason -.-> policy;
	tools -.-> policy;
	tools -.-> reason;
	policy -.-> policy;
	classDef default fill:#f2f0ff,line-height:1.2
	classDef first fill-opacity:0
	classDef last fill:#bfb6fc
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, reasoner="offline", actor="tester")


@pytest.fixture
def engine(settings: Settings) -> FakeFaceEngine:
    return FakeFaceEngine(settings)


@pytest.fixture
def scripted() -> ScriptedReasoner:
    return ScriptedReasoner()


@pytest.fixture
def agent(settings: Settings, engine: FakeFaceEngine, scripted: ScriptedReasoner) -> Iterator[FaceAgent]:
    with FaceAgent(settings, engine=engine, reasoner=scripted, checkpointer="memory") as a:
        yield a


def consent(agent: FaceAgent, subject: str, caps: list[str], purposes: list[str]) -> None:
    agent.grant_consent(subject, capabilities=caps, purposes=purposes, notice="told", evidence_method="form")


def test_graph_drawing_snapshot_has_no_edge_from_reason_to_tools(agent: FaceAgent) -> None:
    drawing = agent.graph.get_graph().draw_mermaid()
    assert drawing == MERMAID
    edges = [line.strip() for line in drawing.splitlines() if "--" in line]
    assert not any(e.startswith("reason") and e.rstrip(";").endswith("tools") for e in edges)
    assert all(e.rstrip(";").endswith("tools") is False or e.startswith("policy") for e in edges)


def test_tools_node_refuses_a_call_without_an_allow_decision(agent: FaceAgent) -> None:
    from agent.graph.messages import DecisionRecord, ToolCall
    from agent.graph.state import AgentState

    node = make_tools_node(agent.deps)
    state: AgentState = {"purpose": "mfa", "pending": [ToolCall(id="c1", name="consent_status", args={"subject": "x"})],
                         "allowed": {"other": DecisionRecord(outcome="allow", rule_id="r", reason="", policy_hash="p",
                                                             call_id="other")},
                         "images": []}  # fmt: skip
    with pytest.raises(PolicyDenied) as info:
        node(state, {})
    assert info.value.rule_id == "graph.no_allow_decision"


def test_calls_are_decided_one_at_a_time_and_each_decision_is_audited(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    consent(agent, "alice", ["face_verification"], ["mfa"])
    from agent.graph.messages import ToolCall
    from agent.reasoners.base import ReasonerStep

    scripted.enqueue(
        ReasonerStep(tool_calls=[
            ToolCall(id="a", name="identify_person", args={"image": "img1"}),
            ToolCall(id="b", name="verify_faces", args={"image_a": "img1", "image_b": "img2"}),
            ToolCall(id="c", name="infer_attributes", args={"image": "img1", "attributes": ["religion"]}),
        ]),
        say("done"),
    )  # fmt: skip
    images = [ImageInput(source=engine.photo("alice"), subject="alice"),
              ImageInput(source=engine.photo("alice", 2), subject="alice")]  # fmt: skip
    reply = agent.ask("go", purpose="mfa", images=images)
    assert [(d.call_id, d.outcome) for d in reply.decisions] == [("a", "deny"), ("b", "allow"), ("c", "deny")]
    assert [o.status for o in reply.tool_outcomes] == ["denied", "ok", "denied"]
    assert engine.ran("verify") == 1
    rows = agent.audit_entries(reply.thread_id)
    # the session row: alice's images were attached to this thread (her export and erasure find it)
    assert [r.kind for r in rows] == ["session", "decision", "decision", "tool_run", "decision"]
    assert rows[0].subjects == ["alice"] and rows[0].session_id == reply.thread_id
    assert [r.rule_id for r in rows if r.kind == "decision"] == [d.rule_id for d in reply.decisions]
    assert set(reply.audit_ids) == {str(r.seq) for r in rows}
    # The reasoner saw every outcome, the denials with their rule ids.
    transcript, _ = scripted.seen[-1]
    denied = [t.outcome for t in transcript if t.role == "tool" and t.outcome.status == "denied"]
    assert {o.decision.rule_id for o in denied} == {
        "identification.one_to_many_prohibited",
        "inference.sensitive_prohibited",
    }


def test_needs_consent_is_a_denial_when_nobody_is_present(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    scripted.enqueue(call("analyze_expression", image="img1"), say("refused"))
    reply = agent.ask("x", purpose="ux_research", images=[ImageInput(source=engine.photo("e"), subject="eileen")])
    assert reply.status == "done"
    (o,) = reply.tool_outcomes
    assert o.status == "denied" and o.error_code == "consent_required"
    assert o.decision and [m.model_dump(mode="json") for m in o.decision.missing] == [
        {"subject_id": "eileen", "capability": "expression_analysis", "purpose": "ux_research"}
    ]
    assert engine.ran("analyze_expression") == 0


def test_needs_consent_pauses_and_resumes_after_the_person_consents(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    scripted.enqueue(call("analyze_expression", image="img1"), say("she smiles"))
    img = [ImageInput(source=engine.photo("e"), subject="eileen")]
    paused = agent.ask("x", purpose="ux_research", images=img, human_present=True)
    assert paused.status == "awaiting_consent" and paused.consent_request is not None
    assert paused.consent_request.missing[0].subject_id == "eileen"
    assert engine.ran("analyze_expression") == 0
    done = agent.resume(paused.thread_id, ConsentAnswer(granted=True, notice="told on camera"))
    assert done.status == "done" and done.answer == "she smiles"
    assert [d.outcome for d in done.decisions] == ["allow"]
    assert engine.ran("analyze_expression") == 1
    (record,) = agent.store.consents_for("eileen")
    assert record.notice == "told on camera" and record.evidence is not None
    kinds = [r.kind for r in agent.audit_entries(paused.thread_id)]
    assert kinds == ["session", "decision", "decision", "tool_run"]


def test_a_declined_consent_is_a_denial(agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine) -> None:
    scripted.enqueue(call("analyze_expression", image="img1"), say("ok"))
    asked = []
    reply = agent.ask(
        "x", purpose="ux_research", images=[ImageInput(source=engine.photo("e"), subject="eileen")],
        human_present=True, consent_handler=lambda req: asked.append(req) or ConsentAnswer(granted=False),
    )  # fmt: skip
    assert len(asked) == 1
    (o,) = reply.tool_outcomes
    assert o.status == "denied" and o.error_code == "consent_declined"
    assert agent.store.consents_for("eileen") == []
    assert engine.ran("analyze_expression") == 0


def test_revocation_from_another_connection_applies_to_the_next_call(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine, settings: Settings
) -> None:
    consent(agent, "alice", ["face_verification"], ["mfa"])
    images = [ImageInput(source=engine.photo("alice"), subject="alice"),
              ImageInput(source=engine.photo("alice", 1), subject="alice")]  # fmt: skip
    scripted.enqueue(call("verify_faces", image_a="img1", image_b="img2"), say("match"))
    first = agent.ask("compare", purpose="mfa", images=images)
    assert first.decisions[0].outcome == "allow"
    other = Store.open(settings.resolved_db_path)  # e.g. `facegate consent revoke` in another process
    other.revoke_consent("alice", actor="alice")
    other.close()
    scripted.enqueue(call("verify_faces", image_a="img1", image_b="img2"), say("refused"))
    second = agent.ask("again", purpose="mfa", thread_id=first.thread_id)
    assert second.decisions[0].outcome == "deny" and second.decisions[0].rule_id == "consent.revoked"
    assert engine.ran("verify") == 1


def test_do_not_retain_probe_drops_the_probe_after_use(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    consent(agent, "obama", ["face_verification", "enrollment"], ["access_control"])
    agent.enroll("obama", engine.photo("obama"), purpose="access_control")
    probe = engine.photo("obama", 3)
    scripted.enqueue(call("verify_identity", image="img1", claimed_subject="obama"), say("ok"))
    reply = agent.ask("verify", purpose="access_control", images=[ImageInput(source=probe)])
    (o,) = reply.tool_outcomes
    assert o.status == "ok" and isinstance(o.result, VerificationResult) and o.result.verified is True
    assert o.result.threshold == 0.06  # the purpose's stricter threshold (an obligation)
    assert o.human_review is True
    sha = reply.images[0].sha256
    assert sha not in agent.deps.vault and sha in engine.forgotten


def test_checkpoints_hold_handles_not_pixels_and_threads_resume(
    settings: Settings, engine: FakeFaceEngine, tmp_path: Path
) -> None:
    photo = engine.photo("alice")
    reasoner = ScriptedReasoner(call("consent_status", subject="alice"), say("first"), say("second"))
    with FaceAgent(settings, engine=engine, reasoner=reasoner) as agent:  # SQLite checkpointer
        reply = agent.ask("hi", purpose="mfa", images=[ImageInput(source=photo, subject="alice")])
    thread = reply.thread_id
    assert reply.images[0].model_dump() == {"handle": "img1", "sha256": reply.images[0].sha256, "subject": "alice"}
    blob = b"".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
        for row in sqlite3.connect(settings.resolved_checkpoint_path).execute("SELECT * FROM checkpoints")
        for v in row
    )
    assert photo[:64] not in blob and photo[-64:] not in blob
    with FaceAgent(settings, engine=engine, reasoner=reasoner) as again:
        assert again.thread_purpose(thread) == "mfa"
        second = again.ask("and now?", purpose="mfa", thread_id=thread)
        assert second.answer == "second"
        assert [t.role for t in again.transcript(thread)][:2] == ["user", "assistant"]
        assert second.images == reply.images
        with pytest.raises(UserError):
            again.ask("other purpose", purpose="ux_research", thread_id=thread)


def test_stream_yields_events_in_order(agent: FaceAgent, scripted: ScriptedReasoner) -> None:
    scripted.enqueue(call("consent_status", subject="bob"), say("nothing on record"))
    kinds = [e.kind for e in agent.stream("consent for bob?", purpose="mfa")]
    assert kinds == ["user", "tool_calls", "decision", "tool_result", "answer"]


def test_async_twins(agent: FaceAgent, scripted: ScriptedReasoner) -> None:
    import asyncio

    scripted.enqueue(call("consent_status", subject="bob"), say("one"), say("two"))

    async def run() -> tuple[list[str], str]:
        kinds = [e.kind async for e in agent.astream("x", purpose="mfa", thread_id="t1")]
        reply = await agent.aask("y", purpose="mfa", thread_id="t1")
        return kinds, reply.answer

    kinds, answer = asyncio.run(run())
    assert kinds[-1] == "answer" and "decision" in kinds
    assert answer == "two"


def test_unknown_purpose_is_refused_before_anything_runs(agent: FaceAgent) -> None:
    from agent.errors import UnknownPurpose

    with pytest.raises(UnknownPurpose):
        agent.ask("x", purpose="mass_surveillance")


def test_a_paused_thread_resumes_in_another_process_without_the_pixels(
    settings: Settings, engine: FakeFaceEngine
) -> None:
    """Checkpoints hold handles only: after a restart the run resumes, and the tool says the image must be
    attached again instead of running on pixels it no longer has."""
    reasoner = ScriptedReasoner(call("analyze_expression", image="img1"), say("could not run"))
    img = [ImageInput(source=engine.photo("e"), subject="eileen")]
    with FaceAgent(settings, engine=engine, reasoner=reasoner, human_present=True) as first:
        paused = first.ask("x", purpose="ux_research", images=img)
    assert paused.status == "awaiting_consent"
    with FaceAgent(settings, engine=engine, reasoner=reasoner) as second:
        done = second.resume(paused.thread_id, ConsentAnswer(granted=True))
    assert [d.outcome for d in done.decisions] == ["allow"]
    (o,) = done.tool_outcomes
    assert o.status == "error" and o.error_code == "not_found"
    assert engine.ran("analyze_expression") == 0


def test_a_consent_that_cannot_be_recorded_resumes_as_declined(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    scripted.enqueue(call("analyze_expression", image="img1"), say("refused"))
    bad = ConsentAnswer(granted=True, notice="   ")  # blank notice: not consent
    reply = agent.ask(
        "x",
        purpose="ux_research",
        images=[ImageInput(source=engine.photo("e"), subject="eileen")],
        human_present=True,
        consent_handler=lambda req: bad,
    )
    assert reply.status == "done"
    (o,) = reply.tool_outcomes
    assert o.status == "denied" and o.error_code == "consent_declined"
    assert agent.store.consents_for("eileen") == []


def test_consent_lookup_shows_only_the_session_purposes_coverage(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    consent(agent, "alice", ["face_verification"], ["mfa"])
    consent(agent, "alice", ["expression_analysis"], ["ux_research"])
    for purpose, covered in [("public_surveillance", []), ("mfa", ["face_verification"]),
                             ("ux_research", ["expression_analysis"])]:  # fmt: skip
        scripted.enqueue(call("consent_status", subject="alice"), say("ok"))
        images = [ImageInput(source=engine.photo("alice"), subject="alice")]
        reply = agent.ask("what consent is on record for alice?", purpose=purpose, images=images)
        result = reply.tool_outcomes[0].result
        assert isinstance(result, ConsentStatusResult) and result.purpose == purpose
        assert result.covered == covered and set(result.covered).isdisjoint(result.missing)


def test_consent_lookup_discloses_coverage_only_and_only_of_people_pictured(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    """Issue 9 item 11: the model learns yes/no per capability for the people pictured here; never a notice,
    evidence, record id, date, another purpose's record, or anything about someone not pictured."""
    agent.grant_consent("alice", capabilities=["face_verification"], purposes=["mfa"], notice="SECRET-NOTICE-TEXT",
                        evidence_method="signed form REF-4711")  # fmt: skip
    consent(agent, "bob", ["face_verification"], ["mfa"])
    scripted.enqueue(call("consent_status", subject="alice"), call("consent_status", subject="bob"), say("ok"))
    reply = agent.ask("consent?", purpose="mfa", images=[ImageInput(source=engine.photo("alice"), subject="alice")])
    alice, bob = reply.tool_outcomes
    assert alice.status == "ok" and isinstance(alice.result, ConsentStatusResult)
    assert alice.result.model_dump() == {
        "kind": "consent_status", "subject": "alice", "purpose": "mfa", "covered": ["face_verification"],
        "missing": ["enrollment", "expression_analysis", "llm_image_sharing"],
    }  # fmt: skip
    assert bob.status == "denied" and bob.decision is not None
    assert bob.decision.rule_id == "consent_lookup.not_pictured" and bob.result is None
    seen = str(scripted.seen[-1][0])  # everything the reasoner was shown
    for secret in ("SECRET-NOTICE-TEXT", "REF-4711", agent.store.consents_for("alice")[0].id):
        assert secret not in seen and secret not in reply.answer


def test_conversation_database_is_owner_only(
    tmp_path: Path, engine: FakeFaceEngine, scripted: ScriptedReasoner
) -> None:
    import os
    import stat

    old = os.umask(0)
    try:
        settings = Settings(home=tmp_path / "new-home", reasoner="offline", actor="tester")
        with FaceAgent(settings, engine=engine, reasoner=scripted) as fa:
            scripted.enqueue(say("hello"))
            fa.ask("hi", purpose="mfa")
    finally:
        os.umask(old)
    for path in (settings.resolved_checkpoint_path, settings.resolved_db_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(settings.home.stat().st_mode) == 0o700
