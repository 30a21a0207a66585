"""Who is in the photo: a face tool analyses only faces consent covers (issue 9 item 4), through the whole agent.

A group photo labelled with one consenting person is analysed only on the face her enrolled template singles out
(exactly one face matching it, with her consent to face verification for the purpose); otherwise the call is
refused at run time under ``bystanders.not_singled_out``, saying how many faces were seen, and the audit rows
count faces seen and analysed. The fake engine's group photos (``engine.crowd``) behave as the real engine's do
(tests/test_bystanders_engine.py runs the real one on real photos).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.policy import Policy
from agent.policy.bystanders import reference_problem
from agent.policy.catalogue import policy_with
from agent.sdk import AgentReply, FaceAgent, ImageInput
from agent.settings import Settings
from tests.fakes import FakeFaceEngine, ScriptedReasoner, call, say
from tests.policy_cases import NOW, POLICY, consent

RULE = "bystanders.not_singled_out"


def group_policy() -> Policy:
    """The shipped catalogue plus a purpose that allows expression analysis and templates together (no shipped
    purpose does, so in the shipped one an expression never has a template to single a face out by)."""
    caps = ["face_verification", "enrollment", "llm_image_sharing", "expression_analysis"]
    return policy_with({"fitting_room": {"copy_of": "personalised_service", "allowed_capabilities": caps}})


@pytest.fixture
def engine(tmp_path: Path) -> FakeFaceEngine:
    return FakeFaceEngine(Settings(home=tmp_path, reasoner="offline", actor="tester"))


@pytest.fixture
def agent(engine: FakeFaceEngine) -> Iterator[FaceAgent]:
    agent = FaceAgent.for_eval(engine.settings, engine=engine, policy=group_policy())  # type: ignore[arg-type]
    try:
        yield agent
    finally:
        agent.close()


def grant(agent: FaceAgent, subject: str, caps: list[str], purpose: str) -> None:
    agent.grant_consent(subject, capabilities=caps, purposes=[purpose], notice=f"{subject} was told")


def rows(agent: FaceAgent, reply: AgentReply, kind: str) -> list[dict[str, object]]:
    return [r.summary | {"rule_id": r.rule_id, "outcome": r.outcome}
            for r in agent.audit_entries(reply.thread_id) if r.kind == kind]  # fmt: skip


def test_a_group_photo_is_not_analysed_under_one_persons_consent(agent: FaceAgent, engine: FakeFaceEngine) -> None:
    grant(agent, "eileen", ["expression_analysis"], "ux_research")
    group = engine.crowd("eileen", "stranger_1", "stranger_2")
    reply = agent.ask("Analyse the facial expression in img1.", purpose="ux_research",
                      images=[ImageInput(source=group, subject="eileen")])  # fmt: skip
    assert [(d.outcome, d.rule_id) for d in reply.decisions] == [("allow", "consent.active"), ("deny", RULE)]
    [outcome] = reply.tool_outcomes
    assert outcome.status == "denied" and outcome.result is None and outcome.error_code == "faces_not_covered"
    assert "img1 shows 3 faces" in reply.answer and RULE in reply.answer
    assert "no enrolled face template" in outcome.error or "face verification" in (outcome.error or "")
    assert engine.ran("analyze_expression") == 0  # refused before any face was classified
    [run] = rows(agent, reply, "tool_run")
    assert (run["outcome"], run["faces_seen"], run["faces_analysed"]) == ("error:faces_not_covered", 3, 0)
    refusal = rows(agent, reply, "decision")[-1]
    assert (refusal["outcome"], refusal["rule_id"], refusal["faces_seen"]) == ("deny", RULE, 3)
    assert len(outcome.audit_ids) == 3  # the allow, the run that looked, the refusal


def test_the_labelled_persons_template_singles_out_their_face_and_only_it_is_analysed(
    agent: FaceAgent, engine: FakeFaceEngine
) -> None:
    grant(agent, "eileen", ["expression_analysis", "face_verification", "enrollment"], "fitting_room")
    agent.enroll("eileen", engine.photo("eileen"), purpose="fitting_room")
    group = engine.crowd("stranger_1", "eileen", "stranger_2")
    reply = agent.ask("Analyse the facial expression in img1.", purpose="fitting_room",
                      images=[ImageInput(source=group, subject="eileen")])  # fmt: skip
    [outcome] = reply.tool_outcomes
    assert outcome.status == "ok", outcome.error
    result = outcome.result
    assert result is not None and result.kind == "expression"
    assert len(result.faces) == 1 and result.faces_seen == 3 and result.singled_out
    assert result.faces[0].box.x == 40  # the second face: eileen's, not the largest
    assert "img1 (eileen) shows 3 faces; only the face singled out" in reply.answer
    [run] = rows(agent, reply, "tool_run")
    assert (run["faces_seen"], run["faces_analysed"], run["singled_out"]) == (3, 1, True)


def test_a_probe_with_several_faces_is_compared_only_through_the_claimed_persons_face(
    agent: FaceAgent, engine: FakeFaceEngine
) -> None:
    grant(agent, "obama", ["face_verification", "enrollment"], "access_control")
    agent.enroll("obama", engine.photo("obama"), purpose="access_control")

    def verify(*people: str) -> AgentReply:
        return agent.ask("Verify img1 against enrolled obama.", purpose="access_control",
                         images=[ImageInput(source=engine.crowd(*people))])  # fmt: skip

    reply = verify("biden", "obama")
    [outcome] = reply.tool_outcomes
    assert outcome.status == "ok" and outcome.result is not None and outcome.result.kind == "verification"
    assert outcome.result.verified and outcome.result.faces_in_a == 2 and outcome.result.singled_out_a
    assert "img1 (probe) shows 2 faces; only the face singled out" in reply.answer
    assert rows(agent, reply, "tool_run")[0]["faces_seen"] == 2

    nobody = verify("biden", "eileen")
    assert nobody.decisions[-1].rule_id == RULE
    assert "img1 shows 2 faces" in nobody.answer
    assert "none of the faces matches obama's enrolled template" in nobody.answer
    assert nobody.tool_outcomes[0].result is None

    twice = verify("obama", "obama", "biden")  # two faces match: neither can be told to be the claimant's
    assert twice.decisions[-1].rule_id == RULE and "2 of the faces match" in twice.answer


def test_verify_faces_singles_out_by_the_labelled_persons_template_or_refuses(
    agent: FaceAgent, engine: FakeFaceEngine
) -> None:
    scripted = ScriptedReasoner()
    agent.deps.reasoner = scripted
    grant(agent, "alice", ["face_verification", "enrollment"], "personalised_service")
    images = [ImageInput(source=engine.crowd("stranger", "alice"), subject="alice"),
              ImageInput(source=engine.photo("alice"), subject="alice")]  # fmt: skip
    scripted.enqueue(call("verify_faces", image_a="img1", image_b="img2"), say("done"))
    refused = agent.ask("compare", purpose="personalised_service", images=images, thread_id="t1")
    assert refused.decisions[-1].rule_id == RULE
    assert "no enrolled face template" in (refused.tool_outcomes[0].error or "")

    agent.enroll("alice", engine.photo("alice"), purpose="personalised_service")
    scripted.enqueue(call("verify_faces", image_a="img1", image_b="img2"), say("done"))
    reply = agent.ask("compare", purpose="personalised_service", images=images, thread_id="t2")
    result = reply.tool_outcomes[0].result
    assert result is not None and result.kind == "verification"
    assert result.verified and result.singled_out_a and not result.singled_out_b
    assert (result.faces_in_a, result.faces_in_b) == (2, 1)
    [run] = rows(agent, reply, "tool_run")
    assert (run["faces_seen"], run["faces_analysed"], run["singled_out"]) == (3, 2, ["a"])


def test_a_template_of_another_purpose_does_not_single_anyone_out(agent: FaceAgent, engine: FakeFaceEngine) -> None:
    grant(agent, "alice", ["face_verification", "enrollment"], "access_control")
    agent.enroll("alice", engine.photo("alice"), purpose="access_control")
    grant(agent, "alice", ["face_verification"], "personalised_service")  # no enrollment consent for it
    scripted = ScriptedReasoner(call("verify_faces", image_a="img1", image_b="img2"), say("done"))
    agent.deps.reasoner = scripted
    images = [ImageInput(source=engine.crowd("alice", "bob"), subject="alice"),
              ImageInput(source=engine.photo("alice"), subject="alice")]  # fmt: skip
    reply = agent.ask("compare", purpose="personalised_service", images=images)
    assert reply.decisions[-1].rule_id == RULE
    assert "enrolled for another purpose (access_control)" in (reply.tool_outcomes[0].error or "")


def test_a_group_photo_is_never_shared_with_the_assistant(agent: FaceAgent, engine: FakeFaceEngine) -> None:
    grant(agent, "eileen", ["llm_image_sharing", "expression_analysis"], "ux_research")
    agent.deps.reasoner = ScriptedReasoner(call("share_image_with_assistant", image="img1"), say("ok"))
    reply = agent.ask("look at it", purpose="ux_research",
                      images=[ImageInput(source=engine.crowd("eileen", "x"), subject="eileen")])  # fmt: skip
    assert [(d.outcome, d.rule_id) for d in reply.decisions] == [("allow", "consent.active"), ("deny", RULE)]
    assert agent.runner.values(reply.thread_id).get("shared") == []
    assert "img1 shows 2 faces: sharing it would show the assistant" in (reply.tool_outcomes[0].error or "")


def test_one_face_is_analysed_as_before(agent: FaceAgent, engine: FakeFaceEngine) -> None:
    grant(agent, "eileen", ["expression_analysis"], "ux_research")
    reply = agent.ask("Analyse the facial expression in img1.", purpose="ux_research",
                      images=[ImageInput(source=engine.photo("eileen"), subject="eileen")])  # fmt: skip
    result = reply.tool_outcomes[0].result
    assert result is not None and result.kind == "expression" and not result.singled_out
    assert result.faces_seen is None and "shows" not in reply.answer
    [run] = rows(agent, reply, "tool_run")
    assert (run["faces_seen"], run["faces_analysed"]) == (1, 1)


@pytest.mark.parametrize(
    ("caps", "template_purpose", "purpose", "problem"),
    [
        (["face_verification", "enrollment"], "access_control", "access_control", None),
        (["face_verification"], None, "access_control", "no enrolled face template"),
        (["enrollment"], "access_control", "access_control", "no active consent to face verification"),
        (["face_verification"], "mfa", "access_control", "enrolled for another purpose (mfa)"),
        (["expression_analysis"], None, "ux_research", "does not allow face verification"),
        (["face_verification", "enrollment"], "", "access_control", None),  # enrollment consent for it: serves
        (["face_verification"], "", "access_control", "another purpose (no recorded purpose)"),
    ],
)
def test_reference_problem_table(caps: list[str], template_purpose: str | None, purpose: str,
                                 problem: str | None) -> None:  # fmt: skip
    found = reference_problem(
        "alice", template_purpose=template_purpose, consents=[consent("alice", caps, [purpose])],
        purpose=POLICY.purposes[purpose], now=NOW,
    )  # fmt: skip
    assert (found is None) if problem is None else (found is not None and problem in found)
