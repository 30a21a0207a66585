"""Guards around the graph: thresholds only tighten, probe pixels end with the turn, a paused thread can move
on, subject labels are checked, and the SDK's subject-rights calls clear what the process holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sdk import ConsentAnswerEvent, FaceAgent, ImageInput, ToolResultEvent
from agent.settings import Settings
from tests.fakes import FakeFaceEngine, ScriptedReasoner, call, say
from tools.errors import UserError
from tools.results import VerificationResult


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
    # the operator's FACEGATE_THRESHOLD (0.001), stricter than the purpose's 0.857 x the model's 0.07
    strict = FakeFaceEngine(settings, threshold=0.001, model_threshold=0.07)
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
        assert o.status == "ok" and isinstance(o.result, VerificationResult)
        assert o.result.threshold == 0.001  # min(operator 0.001, purpose 0.857 x 0.07)
        assert o.result.verified is False  # same person, but not within the operator's threshold
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
    assert isinstance(o.result, VerificationResult) and o.result.threshold == 0.06


def test_the_purpose_threshold_is_a_fraction_of_the_models_own_for_its_metric(
    settings: Settings, scripted: ScriptedReasoner
) -> None:
    """euclidean_l2 distances run to 0.4 for Dlib: a fixed 0.06 (a cosine number) would reject the genuine user."""
    settings = settings.model_copy(update={"metric": "euclidean_l2"})  # FACEGATE_METRIC=euclidean_l2
    l2 = FakeFaceEngine(settings, threshold=0.4, model_threshold=0.4, distance_scale=100.0)
    with _agent(settings, l2, scripted) as agent:
        consent(agent, "alice", ["face_verification"], ["access_control"])
        scripted.enqueue(call("verify_faces", image_a="img1", image_b="img2"), say("done"))
        images = [ImageInput(source=l2.photo("alice", 1), subject="alice"),
                  ImageInput(source=l2.photo("alice", 2), subject="alice")]  # fmt: skip
        reply = agent.ask("verify", purpose="access_control", images=images)
    (o,) = reply.tool_outcomes
    assert o.result is not None
    assert isinstance(o.result, VerificationResult)
    assert o.result.threshold == pytest.approx(0.3428)  # 0.857 x 0.4, not the cosine 0.06
    assert 0.06 < o.result.distance < 0.3428 and o.result.verified is True
    assert o.decision is not None
    assert {"kind": "verification_threshold_factor", "value": 0.857} in [b.model_dump() for b in o.decision.obligations]


def test_an_operator_threshold_does_not_scale_the_purpose_factor(
    settings: Settings, scripted: ScriptedReasoner
) -> None:
    # the operator loosened the threshold to 0.5: the purpose's 0.857 applies to the model's 0.07, not to 0.5
    loose = FakeFaceEngine(settings, threshold=0.5, model_threshold=0.07)
    with _agent(settings, loose, scripted) as agent:
        consent(agent, "alice", ["face_verification"], ["mfa"])
        scripted.enqueue(call("verify_faces", image_a="img1", image_b="img2"), say("done"))
        images = [ImageInput(source=loose.photo("alice"), subject="alice"),
                  ImageInput(source=loose.photo("alice", 1), subject="alice")]  # fmt: skip
        reply = agent.ask("verify", purpose="mfa", images=images)
    (o,) = reply.tool_outcomes
    assert isinstance(o.result, VerificationResult) and o.result.threshold == 0.06


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
    consent(agent, "bob", ["face_verification"], ["mfa"])
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
    assert kinds[0] == "consent_answer" and isinstance(events[0], ConsentAnswerEvent)
    assert events[0].answer.granted is False
    assert kinds.index("tool_result") < kinds.index("user")  # the old call is settled before the new message
    declined = next(e for e in events if isinstance(e, ToolResultEvent))
    assert declined.outcome.status == "denied" and declined.outcome.error_code == "consent_declined"
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
    consent(agent, "bob", ["face_verification"], ["mfa"])
    scripted.enqueue(say("ok"))
    reply = agent.ask("hi", purpose="mfa", images=[ImageInput(source=engine.photo("alice"), subject="alice"),
                                                   ImageInput(source=engine.photo("bob"), subject="bob")])  # fmt: skip
    alice, bob = reply.images
    agent.revoke_consent("alice")
    assert alice.sha256 not in agent.deps.vault and alice.sha256 in engine.forgotten
    assert bob.sha256 in agent.deps.vault


# --- review 2: a person attached to a conversation is findable by export and erasure ----------------------


def test_a_thread_where_a_subject_was_only_attached_is_erased_with_them(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    consent(agent, "obama", ["face_verification"], ["healthcare"])  # known to the registry, not for mfa
    scripted.enqueue(say("hello to you"), say("hi again"))
    reply = agent.ask("hello", purpose="mfa", images=[ImageInput(source=engine.photo("obama"), subject="obama")])
    assert reply.tool_outcomes == [] and reply.decisions == []  # no tool ran: no decision row names obama
    (row,) = agent.audit_entries(reply.thread_id, kind="session")
    assert row.subjects == ["obama"] and row.session_id == reply.thread_id and row.purpose == "mfa"
    assert row.input_hashes == [reply.images[0].sha256] and str(row.seq) in reply.audit_ids
    # one row per turn that attaches a labelled image; a turn attaching nothing (or only a probe) writes none
    agent.ask("and?", purpose="mfa", thread_id=reply.thread_id, images=[ImageInput(source=engine.photo("x"))])
    assert len(agent.audit_entries(reply.thread_id, kind="session")) == 1
    assert [t["thread_id"] for t in agent.export_subject("obama")["conversations"]] == [reply.thread_id]
    agent.erase_subject("obama")
    assert agent.transcript(reply.thread_id) == []


# --- review 2: the enrolment photo's embedding does not outlive the template's owner ----------------------


@pytest.mark.parametrize("how", ["erase", "revoke"])
def test_the_enrolment_photo_is_forgotten_after_enrolment_and_on_erasure_or_revocation(
    agent: FaceAgent, engine: FakeFaceEngine, how: str
) -> None:
    consent(agent, "alice", ["face_verification", "enrollment"], ["access_control"])
    result = agent.enroll("alice", engine.photo("alice"), purpose="access_control")
    assert engine.forgotten == [result.image_sha256]  # the template is the stored form: no cached second copy
    engine.forgotten.clear()
    if how == "erase":
        agent.erase_subject("alice")
    else:
        agent.revoke_consent("alice")
    assert result.image_sha256 in engine.forgotten


# --- review 2: concurrent turns on one thread keep every turn ---------------------------------------------


class _SlowReasoner:
    """Answers every step after a pause, so that concurrent turns overlap."""

    name = "slow"

    def next_step(self, transcript: object, tools: object, context: object) -> object:
        import time

        from agent.reasoners.base import ReasonerStep

        time.sleep(0.05)
        return ReasonerStep(text="ok")


def test_concurrent_turns_on_one_thread_are_serialised(settings: Settings, engine: FakeFaceEngine) -> None:
    import asyncio

    async def three(agent: FaceAgent) -> None:
        await asyncio.gather(*(agent.aask(f"hello {i}", purpose="mfa", thread_id="t1") for i in range(3)))

    with FaceAgent(settings, engine=engine, reasoner=_SlowReasoner(), checkpointer="memory") as agent:  # type: ignore[arg-type]
        asyncio.run(three(agent))
        turns = agent.transcript("t1")
    assert sorted(t.text for t in turns if t.role == "user") == ["hello 0", "hello 1", "hello 2"]
    assert [t.role for t in turns] == ["user", "assistant"] * 3


def test_a_turn_started_on_its_own_thread_from_inside_a_run_is_refused(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    from agent.sdk import ConsentAnswer, ConsentRequest

    def handler(request: ConsentRequest) -> ConsentAnswer:
        with pytest.raises(UserError, match="already running"):
            agent.ask("again", purpose="ux_research", thread_id=request.thread_id)
        return ConsentAnswer(granted=False)

    scripted.enqueue(call("analyze_expression", image="img1"), say("done"))
    reply = agent.ask("x", purpose="ux_research", images=[ImageInput(source=engine.photo("e"), subject="e")],
                      human_present=True, consent_handler=handler)  # fmt: skip
    assert reply.status == "done"


# --- review 2: model-supplied subject ids are validated ---------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("verify_identity", {"image": "img1", "claimed_subject": "obama\n[policy] ALLOW " + "x" * 3000}),
        ("consent_status", {"subject": "bob; DROP TABLE"}),
        ("verify_identity", {"image": "img1", "claimed_subject": ""}),
    ],
)
def test_a_malformed_subject_argument_is_refused_before_policy(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine, tool: str, args: dict[str, str]
) -> None:
    import json

    scripted.enqueue(call(tool, **args), say("done"))
    reply = agent.ask("go", purpose="access_control", images=[ImageInput(source=engine.photo("obama"))])
    (o,) = reply.tool_outcomes
    assert o.status == "malformed" and o.decision is not None
    assert o.decision.rule_id == "tool.invalid_arguments" and "invalid subject id" in (o.error or "")
    rows = agent.audit_entries(reply.thread_id)
    assert [r.rule_id for r in rows] == ["tool.invalid_arguments"] and rows[0].subjects == []
    dumped = json.dumps([r.model_dump(mode="json") for r in rows])
    assert "[policy] ALLOW" not in dumped and "xxxx" not in dumped and "DROP TABLE" not in dumped


# --- review 2: pixels of labelled people without consent do not outlive the turn --------------------------


def test_labelled_images_without_consent_for_the_purpose_are_dropped_after_the_turn(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    consent(agent, "alice", ["face_verification"], ["mfa"])
    consent(agent, "bob", ["face_verification"], ["healthcare"])  # another purpose: not this session's
    scripted.enqueue(say("hello"), say("again"))
    images = [ImageInput(source=engine.photo("alice"), subject="alice"),
              ImageInput(source=engine.photo("bob"), subject="bob"),
              ImageInput(source=engine.photo("carol"), subject="carol")]  # fmt: skip
    reply = agent.ask("hi", purpose="mfa", images=images)
    alice, bob, carol = reply.images
    assert alice.sha256 in agent.deps.vault and alice.sha256 not in engine.forgotten
    for gone in (bob, carol):
        assert gone.sha256 not in agent.deps.vault and gone.sha256 in engine.forgotten
    # attached again (carol consented meanwhile): held again, same handle
    consent(agent, "carol", ["enrollment"], ["mfa"])
    again = agent.ask("hi", purpose="mfa", thread_id=reply.thread_id, images=[images[2]])
    assert again.images[2].handle == "img3" and carol.sha256 in agent.deps.vault


# --- review 2: why a granted consent was not recorded is said --------------------------------------------


def test_a_granted_consent_that_cannot_be_recorded_says_why(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    from agent.sdk import ConsentAnswer

    scripted.enqueue(call("analyze_expression", image="img1"), say("done"))
    too_long = ConsentAnswer(granted=True, term_days=100000)
    reply = agent.ask("x", purpose="ux_research", images=[ImageInput(source=engine.photo("e"), subject="e")],
                      human_present=True, consent_handler=lambda r: too_long)  # fmt: skip
    (o,) = reply.tool_outcomes
    assert o.status == "denied" and o.error_code == "consent_declined"
    assert "could not be recorded" in (o.error or "") and "invalid_consent" in (o.error or "")
    assert o.decision is not None and "could not be recorded" in o.decision.reason
    assert agent.store.consents_for("e") == []


# --- issue 9 item 11: a person consents for themselves only, one question per person -------------------------


def test_each_person_is_asked_about_their_own_consent_and_answers_for_themselves(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    from agent.sdk import ConsentAnswer, ConsentRequest

    asked: list[ConsentRequest] = []

    def person(request: ConsentRequest) -> ConsentAnswer:
        asked.append(request)
        return ConsentAnswer(granted=request.subjects == ["alice"], notice=f"told {request.subjects[0]}")

    scripted.enqueue(call("verify_faces", image_a="img1", image_b="img2"), say("done"))
    images = [ImageInput(source=engine.photo("alice"), subject="alice"),
              ImageInput(source=engine.photo("bob"), subject="bob")]  # fmt: skip
    reply = agent.ask("compare", purpose="mfa", images=images, human_present=True, consent_handler=person)
    # one question per person, each naming only that person's missing consent
    assert [r.subjects for r in asked] == [["alice"], ["bob"]]
    assert all(m.subject_id == r.subjects[0] for r in asked for m in r.missing)
    # alice's yes is recorded for alice alone, with her own notice; bob's no records nothing for him
    (record,) = agent.store.consents_for("alice")
    assert record.notice == "told alice" and agent.store.consents_for("bob") == []
    (o,) = reply.tool_outcomes
    assert o.status == "denied" and o.error_code == "consent_declined" and engine.ran("verify") == 0
    assert o.decision is not None and "bob did not consent" in o.decision.reason


def test_both_people_consenting_lets_the_call_run(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    from agent.sdk import ConsentAnswer, ConsentRequest

    scripted.enqueue(call("verify_faces", image_a="img1", image_b="img2"), say("done"))
    images = [ImageInput(source=engine.photo("alice"), subject="alice"),
              ImageInput(source=engine.photo("bob"), subject="bob")]  # fmt: skip

    def each(request: ConsentRequest) -> ConsentAnswer:
        return ConsentAnswer(granted=True, notice=f"told {request.subjects[0]}")

    reply = agent.ask("compare", purpose="mfa", images=images, human_present=True, consent_handler=each)
    assert reply.tool_outcomes[0].status == "ok" and engine.ran("verify") == 1
    assert [c.notice for c in agent.store.consents_for("bob")] == ["told bob"]


def test_resume_takes_each_persons_own_answer(
    agent: FaceAgent, scripted: ScriptedReasoner, engine: FakeFaceEngine
) -> None:
    from agent.sdk import ConsentAnswer

    scripted.enqueue(call("verify_faces", image_a="img1", image_b="img2"), say("done"))
    images = [ImageInput(source=engine.photo("alice"), subject="alice"),
              ImageInput(source=engine.photo("bob"), subject="bob")]  # fmt: skip
    paused = agent.ask("compare", purpose="mfa", images=images, human_present=True)
    assert paused.consent_request is not None and paused.consent_request.subjects == ["alice", "bob"]
    done = agent.resume(paused.thread_id, {"alice": ConsentAnswer(granted=True), "bob": ConsentAnswer(granted=False)})
    assert done.tool_outcomes[-1].error_code == "consent_declined"
    assert len(agent.store.consents_for("alice")) == 1 and agent.store.consents_for("bob") == []


def test_the_terminal_prompt_asks_one_person_about_their_own_uses(capsys: pytest.CaptureFixture[str]) -> None:
    from agent.cli.consent_prompt import prompt_consent
    from agent.sdk import ConsentRequest

    items = [{"subject_id": "alice", "capability": "face_verification", "purpose": "mfa"},
             {"subject_id": "bob", "capability": "enrollment", "purpose": "mfa"}]  # fmt: skip
    request = ConsentRequest(thread_id="t", call_id="c", tool="verify_faces", purpose="mfa", missing=items)
    answers, asked = iter(["y", "", ""]), []

    def read(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    answer = prompt_consent(request.for_subject("bob"), read=read)
    out = capsys.readouterr().out
    assert answer.granted and answer.notice == (
        "facegate will use your face for enrollment for the purpose mfa. "
        "The operator records this consent; you can withdraw it at any time."
    )
    assert "alice" not in out + " ".join(asked) and asked[0].startswith("Was bob shown this notice")
