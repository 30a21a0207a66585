"""Governed answers through the graph (issue 9 items 1, 2, 3): whatever a reasoner writes, with tool calls or as
its answer, the person reads only grounded results, no sensitive inference and no inner-state claim; each
intervention is audited under its rule id with counts, never the text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.graph.messages import ToolCall
from agent.policy.grounding import CitedClaim, StructuredAnswer
from agent.reasoners.base import ReasonerStep
from agent.sdk import FaceAgent, ImageInput
from agent.settings import Settings
from tests.fakes import FakeFaceEngine, ScriptedReasoner, call, say

UNGROUNDED = "answer.ungrounded_claim"
INNER = "answer.inner_state_claim"
SENSITIVE = "inference.sensitive_prohibited"


@pytest.fixture
def scripted() -> ScriptedReasoner:
    return ScriptedReasoner()


@pytest.fixture
def engine(tmp_path: Path) -> FakeFaceEngine:
    return FakeFaceEngine(Settings(home=tmp_path, reasoner="offline"))


@pytest.fixture
def agent(tmp_path: Path, engine: FakeFaceEngine, scripted: ScriptedReasoner) -> Iterator[FaceAgent]:
    settings = Settings(home=tmp_path, reasoner="offline", actor="tester")
    with FaceAgent(settings, engine=engine, reasoner=scripted, checkpointer="memory") as a:
        yield a


def _consent(agent: FaceAgent, subject: str, caps: list[str], purposes: list[str]) -> None:
    agent.grant_consent(subject, capabilities=caps, purposes=purposes, notice="told", evidence_method="form")


def _verify_pair(
    agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner, answer: ReasonerStep, same: bool = False
) -> object:
    """alice and bob (or alice twice) compared under mfa; the reasoner then answers ``answer``."""
    _consent(agent, "alice", ["face_verification"], ["mfa"])
    _consent(agent, "bob", ["face_verification"], ["mfa"])
    scripted.enqueue(call("verify_faces", call_id="c1", image_a="img1", image_b="img2"), answer)
    other = (
        ImageInput(source=engine.photo("alice", 1), subject="alice")
        if same
        else ImageInput(source=engine.photo("bob"), subject="bob")
    )
    return agent.ask(
        "compare", purpose="mfa", images=[ImageInput(source=engine.photo("alice"), subject="alice"), other]
    )


def _guard_rows(agent: FaceAgent, thread: str, rule: str) -> list:
    return [r for r in agent.audit_entries(thread) if r.rule_id == rule and r.summary.get("tool") == "(answer)"]


# --- item 1: grounded answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "Verified: img1 and img2 are the same person, access granted.",
        "It's a match. Access granted.",
        "The distance is 0.012, well under the threshold of 0.060.",
        "They are the same person.",
        "Zugang gewährt: dieselbe Person.",
        "Accès accordé, c'est la même personne.",
        "Acceso concedido: es la misma persona.",
    ],
)
def test_a_result_the_check_did_not_give_never_reaches_the_person(
    agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner, hostile: str
) -> None:
    reply = _verify_pair(agent, engine, scripted, say(hostile))
    (o,) = reply.tool_outcomes  # type: ignore[attr-defined]
    assert o.result.verified is False
    answer = reply.answer  # type: ignore[attr-defined]
    assert hostile not in answer and "No match" in answer and f"{o.result.distance:.3f}" in answer
    (row,) = _guard_rows(agent, reply.thread_id, UNGROUNDED)  # type: ignore[attr-defined]
    assert row.summary["contradicted"] + row.summary["ungrounded"] >= 1 and row.summary["facts"] == ["c1"]
    assert hostile not in json.dumps(row.summary) and "granted" not in json.dumps(row.summary).lower()
    assert [d.rule_id for d in reply.decisions] == ["highrisk.obligations", UNGROUNDED]  # type: ignore[attr-defined]


def test_a_grounded_answer_in_the_models_own_words_passes(
    agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner
) -> None:
    reply = _verify_pair(agent, engine, scripted, say("Not the same person: the check did not match."))
    assert reply.answer.startswith("Not the same person")  # type: ignore[attr-defined]
    assert not _guard_rows(agent, reply.thread_id, UNGROUNDED)  # type: ignore[attr-defined]


def test_an_expression_nobody_estimated_is_not_stated(
    agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner
) -> None:
    reply = _verify_pair(agent, engine, scripted, say("No match. By the way, img2 looks happy (97%)."), same=False)
    assert "97%" not in reply.answer and "looks happy" not in reply.answer  # type: ignore[attr-defined]
    (row,) = _guard_rows(agent, reply.thread_id, UNGROUNDED)  # type: ignore[attr-defined]
    assert row.summary["kinds"] == ["expression"]


def test_a_claim_made_with_the_tool_call_is_checked_too(
    agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner
) -> None:
    """Interim text sent with a tool call reaches the person (events, transcript): it may not pre-empt the result."""
    _consent(agent, "alice", ["face_verification"], ["mfa"])
    _consent(agent, "bob", ["face_verification"], ["mfa"])
    early = ReasonerStep(
        text="Verified, access granted! Running the check now.",
        tool_calls=[ToolCall(id="c1", name="verify_faces", args={"image_a": "img1", "image_b": "img2"})],
    )
    scripted.enqueue(early, say("Done."))
    images = [
        ImageInput(source=engine.photo("alice"), subject="alice"),
        ImageInput(source=engine.photo("bob"), subject="bob"),
    ]
    events = list(agent.stream("compare", purpose="mfa", images=images))
    said = " ".join(t.text or "" for t in agent.transcript(events[0].thread_id) if t.role == "assistant")
    assert "access granted" not in said.lower()
    assert [r.summary["facts"] for r in _guard_rows(agent, events[0].thread_id, UNGROUNDED)] == [[]]


def test_explaining_the_last_result_is_grounded_in_that_result(tmp_path: Path, engine: FakeFaceEngine) -> None:
    """The offline reasoner restates the previous turn's outcome: those are the facts, so nothing is flagged."""
    from agent.reasoners.offline import OfflineReasoner

    settings = Settings(home=tmp_path / "h", reasoner="offline", actor="tester")
    with FaceAgent(settings, engine=engine, reasoner=OfflineReasoner(), checkpointer="memory") as agent:
        _consent(agent, "alice", ["face_verification"], ["mfa"])
        images = [
            ImageInput(source=engine.photo("alice"), subject="alice"),
            ImageInput(source=engine.photo("alice", 1), subject="alice"),
        ]
        first = agent.ask("compare img1 and img2", purpose="mfa", images=images)
        assert first.tool_outcomes[0].result.verified is True  # type: ignore[union-attr]
        again = agent.ask("explain the last result", purpose="mfa", thread_id=first.thread_id)
        assert "Match" in again.answer and not again.decisions
        assert not _guard_rows(agent, first.thread_id, UNGROUNDED)


def test_a_claim_about_an_old_result_cannot_ground_a_new_one(
    agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner
) -> None:
    first = _verify_pair(agent, engine, scripted, say("No match."))
    scripted.enqueue(say("Verified: same person, access granted."))  # a turn that ran nothing
    again = agent.ask("so?", purpose="mfa", thread_id=first.thread_id)  # type: ignore[attr-defined]
    assert "access granted" not in again.answer.lower() and "No match" in again.answer
    assert again.decisions[-1].rule_id == UNGROUNDED


def test_a_result_with_no_check_at_all_is_not_stated(agent: FaceAgent, scripted: ScriptedReasoner) -> None:
    scripted.enqueue(say("I checked: img1 is alice, distance 0.021."))
    reply = agent.ask("is that alice?", purpose="mfa")
    assert "0.021" not in reply.answer and "No face check" in reply.answer
    assert [d.rule_id for d in reply.decisions] == [UNGROUNDED]


def test_structured_claims_are_checked_against_the_call_they_cite(
    agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner
) -> None:
    lie = StructuredAnswer(
        text="The two images match.", claims=[CitedClaim(call_id="c1", kind="verdict", verified=True)]
    )
    reply = _verify_pair(agent, engine, scripted, ReasonerStep(text=lie.text, structured=lie))
    assert "No match" in reply.answer  # type: ignore[attr-defined]
    (row,) = _guard_rows(agent, reply.thread_id, UNGROUNDED)  # type: ignore[attr-defined]
    assert row.summary["structured"] is True and row.summary["contradicted"] >= 1


# --- item 3: inner-state claims -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostile", "rewritten"),
    [
        ("She is really happy.", "expression looks happy"),
        ("He is not lying.", "cannot"),
        ("She feels anxious about the test.", "expression looks anxious"),
        ("Sie ist wirklich glücklich.", "Gesichtsausdruck wirkt"),
        ("Elle est contente.", "expression semble"),
        ("Está nerviosa.", "expresión parece"),
    ],
)
def test_inner_state_claims_are_rewritten_to_appearance(
    agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner, hostile: str, rewritten: str
) -> None:
    _consent(agent, "eileen", ["expression_analysis"], ["ux_research"])
    scripted.enqueue(call("analyze_expression", image="img1"), say(hostile))
    reply = agent.ask(
        "how does she look?",
        purpose="ux_research",
        images=[ImageInput(source=engine.photo("eileen"), subject="eileen")],
    )
    assert hostile not in reply.answer and rewritten in reply.answer
    (row,) = _guard_rows(agent, reply.thread_id, INNER)
    assert row.summary["claims"] >= 1 and hostile not in json.dumps(row.summary)


def test_appearance_wording_is_left_alone(agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner) -> None:
    _consent(agent, "eileen", ["expression_analysis"], ["ux_research"])
    scripted.enqueue(call("analyze_expression", image="img1"), say("Her expression looks happy (90%)."))
    reply = agent.ask(
        "how does she look?",
        purpose="ux_research",
        images=[ImageInput(source=engine.photo("eileen"), subject="eileen")],
    )
    assert reply.answer.startswith("Her expression looks happy (90%).") and not _guard_rows(
        agent, reply.thread_id, INNER
    )


# --- item 2 and the order of the guards ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "She appears to be in her 30s, white, female.",
        "Demographic guess: South Asian.",
        "Er ist vermutlich Muslim.",
        "Elle semble être d'origine maghrébine.",
        "Parece asiática.",
    ],
)
def test_sensitive_inferences_never_reach_the_person(
    agent: FaceAgent, scripted: ScriptedReasoner, hostile: str
) -> None:
    scripted.enqueue(say(hostile))
    reply = agent.ask("describe her", purpose="mfa")
    assert hostile not in reply.answer and SENSITIVE in reply.answer
    assert reply.decisions[0].rule_id == SENSITIVE


def test_sensitive_values_in_structured_claims_are_caught(agent: FaceAgent, scripted: ScriptedReasoner) -> None:
    answer = StructuredAnswer(
        text="Here is what I found.", claims=[CitedClaim(call_id="c1", kind="expression", label="South Asian")]
    )
    scripted.enqueue(ReasonerStep(text=answer.text, structured=answer))
    reply = agent.ask("describe", purpose="mfa")
    assert reply.decisions[0].rule_id == SENSITIVE


def test_a_subject_named_like_a_trait_is_a_name(
    agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner
) -> None:
    _consent(agent, "christian", ["face_verification", "enrollment"], ["mfa"])
    agent.enroll("christian", engine.photo("christian"), purpose="mfa")
    scripted.enqueue(
        call("verify_identity", call_id="c1", image="img1", claimed_subject="christian"),
        say("Verified: the probe matches christian."),
    )
    reply = agent.ask(
        "verify img1 against enrolled christian",
        purpose="mfa",
        images=[ImageInput(source=engine.photo("christian", 1))],
    )
    assert reply.answer.startswith("Verified: the probe matches christian.")
    assert [d.rule_id for d in reply.decisions] == ["highrisk.obligations"]


def test_guards_run_in_order_and_the_refusals_are_still_named(
    agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner
) -> None:
    from agent.graph.guards import default_answer_guards

    assert [g.name for g in default_answer_guards()] == [
        "sensitive_inference",
        "inner_state",
        "grounding",
        "policy_notes",
    ]
    scripted.enqueue(call("identify_person", image="img1"), say("It's a match, and she is really happy."))
    reply = agent.ask("who?", purpose="mfa", images=[ImageInput(source=engine.photo("x"), subject="x")])
    assert "identification.one_to_many_prohibited" in reply.answer and "really happy" not in reply.answer
    assert [d.rule_id for d in reply.decisions] == ["identification.one_to_many_prohibited", INNER, UNGROUNDED]


def test_a_rewritten_inner_state_claim_is_grounded_like_any_other(
    agent: FaceAgent, engine: FakeFaceEngine, scripted: ScriptedReasoner
) -> None:
    """ "She is really sad" becomes "her expression looks sad": the analysis said happy, so that goes too."""
    _consent(agent, "eileen", ["expression_analysis"], ["ux_research"])
    scripted.enqueue(call("analyze_expression", image="img1"), say("She is really sad."))
    reply = agent.ask("how does she look?", purpose="ux_research",
                      images=[ImageInput(source=engine.photo("eileen"), subject="eileen")])  # fmt: skip
    assert "sad" not in reply.answer.split("next most likely")[0] and "looks happy (90%)" in reply.answer
    assert [d.rule_id for d in reply.decisions] == ["consent.active", INNER, UNGROUNDED]
