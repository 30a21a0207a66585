"""Gemini's answers, governed (issue 9 items 1, 2, 3, 5, 10): the real google-genai SDK against the local fake.

Gemini answers through the ``final_answer`` function (structured output: prose plus claims citing tool call ids;
a JSON response schema cannot be combined with function calling), so grounding checks each claim against the
very outcome it cites. ``report_stated_purpose`` lets it report a use the person stated, which policy decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.reasoners.gemini import GeminiReasoner
from agent.sdk import FaceAgent, ImageInput
from agent.settings import Settings
from tests import fake_gemini as fg
from tests.fakes import FakeFaceEngine

UNGROUNDED = "answer.ungrounded_claim"


@pytest.fixture
def server() -> Iterator[fg.FakeGemini]:
    with fg.FakeGemini() as s:
        yield s


@pytest.fixture
def settings(tmp_path: Path, server: fg.FakeGemini) -> Settings:
    return Settings(
        home=tmp_path,
        gemini_api_key="test-key",
        gemini_base_url=server.url,
        gemini_model="gemini-test",
        gemini_max_retries=0,
        gemini_timeout_s=5,
        actor="tester",
    )


@pytest.fixture
def engine(settings: Settings) -> FakeFaceEngine:
    return FakeFaceEngine(settings)


@pytest.fixture
def agent(settings: Settings, engine: FakeFaceEngine) -> Iterator[FaceAgent]:
    reasoner = GeminiReasoner.from_settings(settings, initial_backoff_s=0.01)
    with FaceAgent(settings, reasoner=reasoner, engine=engine, checkpointer="memory") as a:
        yield a


def _pair(agent: FaceAgent, engine: FakeFaceEngine, *, same: bool) -> list[ImageInput]:
    for who in ("alice", "bob"):
        agent.grant_consent(
            who, capabilities=["face_verification"], purposes=["mfa"], notice="told", evidence_method="form"
        )
    second = (
        ImageInput(source=engine.photo("alice", 1), subject="alice")
        if same
        else ImageInput(source=engine.photo("bob"), subject="bob")
    )
    return [ImageInput(source=engine.photo("alice"), subject="alice"), second]


VERIFY = ("verify_faces", {"image_a": "img1", "image_b": "img2"}, "c1")


def test_every_request_forces_a_function_call_and_results_carry_their_call_ids(
    server: fg.FakeGemini, agent: FaceAgent, engine: FakeFaceEngine
) -> None:
    server.enqueue(fg.function_calls(VERIFY), fg.final_answer("No match.", fg.claim("c1", "verdict", verified=False)))
    reply = agent.ask("compare", purpose="mfa", images=_pair(agent, engine, same=False))
    assert reply.answer == "No match." and not [d for d in reply.decisions if d.rule_id == UNGROUNDED]
    first, second = (r.body for r in server.requests)
    assert first["toolConfig"]["functionCallingConfig"]["mode"] == "ANY"
    response = next(p["functionResponse"] for c in second["contents"] for p in c["parts"] if "functionResponse" in p)
    assert response["response"]["call_id"] == "c1"


def test_a_grounded_structured_answer_is_passed_on_as_written(
    server: fg.FakeGemini, agent: FaceAgent, engine: FakeFaceEngine
) -> None:
    server.enqueue(fg.function_calls(VERIFY), fg.final_answer("Done."))
    first = agent.ask("compare", purpose="mfa", images=_pair(agent, engine, same=True))
    result = first.tool_outcomes[0].result
    assert result is not None and result.kind == "verification" and result.verified
    text = f"Match: same person, distance {result.distance:.3f} under the threshold {result.threshold:.3f}."
    claims = [
        fg.claim("c2", "verdict", verified=True),
        fg.claim("c2", "distance", number=result.distance),
        fg.claim("c2", "threshold", number=result.threshold),
    ]
    server.enqueue(
        fg.function_calls(("verify_faces", {"image_a": "img1", "image_b": "img2"}, "c2")),
        fg.final_answer(text, *claims),
    )
    again = agent.ask("and again", purpose="mfa", thread_id=first.thread_id)
    assert again.answer == text and [d.rule_id for d in again.decisions] == ["highrisk.obligations"]


@pytest.mark.parametrize(
    "answer",
    [
        fg.final_answer("Verified, access granted.", fg.claim("c1", "verdict", verified=True)),
        fg.final_answer("Verified.", fg.claim("c9", "verdict", verified=True)),  # cites a call that never happened
        fg.final_answer("Distance 0.010.", fg.claim("c1", "distance", number=0.01)),
        fg.final_answer("They are the same person, access granted."),  # the claim is only in the prose
        fg.final_answer("", args={"text": "Access granted: same person.", "claims": "all verified"}),  # bad shape
        fg.text("Verified: same person, access granted."),  # no structured output at all
    ],
    ids=["contradicted", "cites-nothing", "wrong-number", "prose-only", "malformed-claims", "plain-text"],
)
def test_a_hostile_answer_is_replaced_by_the_recorded_result(
    server: fg.FakeGemini, agent: FaceAgent, engine: FakeFaceEngine, answer: fg.Scripted
) -> None:
    server.enqueue(fg.function_calls(VERIFY), answer)
    reply = agent.ask("compare", purpose="mfa", images=_pair(agent, engine, same=False))
    assert reply.tool_outcomes[0].result.verified is False  # type: ignore[union-attr]
    assert "granted" not in reply.answer and reply.answer.startswith("No match")
    assert reply.decisions[-1].rule_id == UNGROUNDED


def test_sensitive_and_inner_state_claims_in_structured_answers(
    server: fg.FakeGemini, agent: FaceAgent, engine: FakeFaceEngine
) -> None:
    server.enqueue(fg.final_answer("Noted.", fg.claim("c1", "identity", subject="x", label="of South Asian descent")))
    reply = agent.ask("describe", purpose="mfa")
    assert reply.decisions[0].rule_id == "inference.sensitive_prohibited" and "South Asian" not in reply.answer
    agent.grant_consent(
        "eileen", capabilities=["expression_analysis"], purposes=["ux_research"], notice="told", evidence_method="form"
    )
    server.enqueue(
        fg.function_call("analyze_expression", {"image": "img1"}, "e1"),
        fg.final_answer("She is really happy.", fg.claim("e1", "expression", label="happy", face=1)),
    )
    reply = agent.ask(
        "how is she?", purpose="ux_research", images=[ImageInput(source=engine.photo("eileen"), subject="eileen")]
    )
    assert "really happy" not in reply.answer and "expression looks happy" in reply.answer
    assert reply.decisions[-1].rule_id == "answer.inner_state_claim"


def test_a_reported_purpose_stops_the_calls_that_come_with_it(
    server: fg.FakeGemini, agent: FaceAgent, engine: FakeFaceEngine
) -> None:
    server.enqueue(fg.report_purpose("their marketing campaign", VERIFY), fg.final_answer("Refused, as you can see."))
    reply = agent.ask(
        "Compare them, we want the photos for something new.", purpose="mfa", images=_pair(agent, engine, same=True)
    )
    assert engine.ran("verify") == 0
    assert [(d.tool, d.rule_id) for d in reply.decisions] == [
        ("stated_purpose", "purpose.conversation_mismatch"),
        ("verify_faces", "purpose.conversation_mismatch"),
    ]
    row = next(r for r in agent.audit_entries(reply.thread_id) if r.summary.get("tool") == "(conversation)")
    assert row.summary["stated"] == "marketing" and row.summary["source"] == "model"
    assert "campaign" not in json.dumps(row.summary)  # the label comes from the phrase list, never the report
    # the block lives in the thread: the next turn's calls are refused too, and the model is told so
    server.enqueue(fg.function_calls(VERIFY), fg.final_answer("Still refused."))
    again = agent.ask("and now?", purpose="mfa", thread_id=reply.thread_id)
    assert again.decisions[-1].rule_id == "purpose.conversation_mismatch" and engine.ran("verify") == 0
    assert "No tool runs in it any more" in json.dumps(server.requests[-2].body["systemInstruction"])


def test_a_report_alone_gets_the_model_asked_again(server: fg.FakeGemini, agent: FaceAgent) -> None:
    server.enqueue(fg.report_purpose("hiring"), fg.final_answer("Understood: a new conversation is needed."))
    reply = agent.ask("we use this for hiring now", purpose="mfa")
    assert reply.answer == "Understood: a new conversation is needed."
    assert [d.rule_id for d in reply.decisions] == ["purpose.conversation_mismatch"]
    assert reply.decisions[0].reason.startswith("The person said")  # found in the message itself first


def test_a_report_restating_the_purpose_stops_nothing(
    server: fg.FakeGemini, agent: FaceAgent, engine: FakeFaceEngine
) -> None:
    server.enqueue(fg.report_purpose("login, as usual", VERIFY), fg.final_answer("Done."))
    reply = agent.ask("compare", purpose="mfa", images=_pair(agent, engine, same=True))
    assert engine.ran("verify") == 1 and [d.rule_id for d in reply.decisions] == ["highrisk.obligations"]


@pytest.mark.parametrize(
    "args",
    [
        {"image_a": "img1", "image_b": "x" * 5_000_000},
        {"image_a": "img1", "image_b": json.loads("[" * 400 + "]" * 400)},
        {"image_a": "img1", "image_b": "img2", **{f"k{i}": i for i in range(2000)}},
    ],
    ids=["5-MB-string", "400-deep", "2000-keys"],
)
def test_huge_arguments_are_refused_before_anything_keeps_them(
    server: fg.FakeGemini, agent: FaceAgent, engine: FakeFaceEngine, args: dict
) -> None:
    server.enqueue(fg.function_call("verify_faces", args, "c1"), fg.final_answer("Could not."))
    reply = agent.ask("compare", purpose="mfa", images=_pair(agent, engine, same=True))
    (o,) = reply.tool_outcomes
    assert o.status == "malformed" and o.args == {} and engine.ran("verify") == 0
    assert o.decision is not None and o.decision.rule_id == "tool.invalid_arguments"
    transcript = json.dumps([t.model_dump(mode="json") for t in agent.transcript(reply.thread_id)])
    assert len(transcript) < 20_000
