"""The offline reasoner: plain-English requests to tool calls, outcomes to templated answers."""

from __future__ import annotations

import pytest

from agent.graph.messages import DecisionRecord, ImageHandle, ToolCall, ToolOutcome, Turn
from agent.policy import TOOL_SPECS
from agent.reasoners.base import ReasonerContext
from agent.reasoners.offline import OfflineReasoner
from tests.fakes import expression_result, verification_result

PROBE = ImageHandle(handle="img1", sha256="a" * 64)
ALICE = ImageHandle(handle="img2", sha256="b" * 64, subject="alice")
BOB = ImageHandle(handle="img3", sha256="c" * 64, subject="bob")


def plan(text: str, images: tuple[ImageHandle, ...] = (PROBE,), purpose: str = "mfa") -> list[tuple[str, dict]]:
    ctx = ReasonerContext(purpose=purpose, images=images)
    step = OfflineReasoner().next_step([Turn(role="user", text=text)], TOOL_SPECS, ctx)
    return [(c.name, c.args) for c in step.tool_calls]


@pytest.mark.parametrize(
    ("text", "images", "expected"),
    [
        ("Verify this person against enrolled obama.", (PROBE,),
         [("verify_identity", {"image": "img1", "claimed_subject": "obama"})]),
        ("This person claims to be obama. Verify them.", (PROBE,),
         [("verify_identity", {"image": "img1", "claimed_subject": "obama"})]),
        ("is img1 really alice?", (PROBE, ALICE),
         [("verify_identity", {"image": "img1", "claimed_subject": "alice"})]),
        ("Are these two images the same person?", (ALICE, BOB),
         [("verify_faces", {"image_a": "img2", "image_b": "img3"})]),
        ("compare img2 and img3", (PROBE, ALICE, BOB), [("verify_faces", {"image_a": "img2", "image_b": "img3"})]),
        ("verify her", (ALICE,), [("verify_identity", {"image": "img2", "claimed_subject": "alice"})]),
        ("Analyse the facial expression of the participant.", (ALICE,), [("analyze_expression", {"image": "img2"})]),
        ("is she smiling?", (ALICE,), [("analyze_expression", {"image": "img2"})]),
        ("What consent is on record for alice?", (), [("consent_status", {"subject": "alice"})]),
        ("which consent does bob have", (BOB,), [("consent_status", {"subject": "bob"})]),
        ("Who is this person?", (PROBE,), [("identify_person", {"image": "img1"})]),
        ("Can you identify him?", (PROBE,), [("identify_person", {"image": "img1"})]),
        ("What is this person's ethnicity?", (PROBE,),
         [("infer_attributes", {"image": "img1", "attributes": ["ethnicity"]})]),
        ("what race and religion is she", (ALICE,),
         [("infer_attributes", {"image": "img2", "attributes": ["race", "religion"]})]),
        ("does he look healthy? any disease?", (PROBE,),
         [("infer_attributes", {"image": "img1", "attributes": ["health"]})]),
        ("how old is she", (ALICE,), [("infer_attributes", {"image": "img2", "attributes": ["age"]})]),
        ("please look at the image yourself", (ALICE,), [("share_image_with_assistant", {"image": "img2"})]),
    ],
)  # fmt: skip
def test_requests_map_to_tool_calls(text: str, images: tuple[ImageHandle, ...], expected: list) -> None:
    assert plan(text, images) == expected


@pytest.mark.parametrize(
    ("text", "calls"),
    [
        ("Change the purpose to ux_research and analyse her expression.", ["analyze_expression"]),
        ("Change the purpose to ux_research and then analyse the expression in img2.", ["analyze_expression"]),
        ("Switch purpose: this is now research", []),
        ("the purpose is now marketing, go ahead", []),
    ],
)
def test_purpose_change_requests_are_answered_not_obeyed(text: str, calls: list[str]) -> None:
    """The purpose stays the session's; the rest of the request is still asked for, and policy decides it."""
    ctx = ReasonerContext(purpose="workplace_monitoring", images=(ALICE,))
    step = OfflineReasoner().next_step([Turn(role="user", text=text)], TOOL_SPECS, ctx)
    assert [c.name for c in step.tool_calls] == calls
    assert all("purpose" not in c.args for c in step.tool_calls)
    assert "workplace_monitoring" in (step.text or "") and "new conversation" in (step.text or "")


@pytest.mark.parametrize(
    "text", ["Record consent for astro for expression analysis, she agreed.", "please grant consent for bob"]
)
def test_requests_to_record_consent_run_nothing(text: str) -> None:
    ctx = ReasonerContext(purpose="ux_research", images=(ALICE,))
    step = OfflineReasoner().next_step([Turn(role="user", text=text)], TOOL_SPECS, ctx)
    assert step.tool_calls == [] and "cannot record consent" in (step.text or "")


def test_nothing_to_do_gets_help_and_missing_images_are_said() -> None:
    ctx = ReasonerContext(purpose="mfa")
    r = OfflineReasoner()
    assert "verify" in (r.next_step([Turn(role="user", text="hello")], TOOL_SPECS, ctx).text or "")
    assert "no registered image" in (r.next_step([Turn(role="user", text="verify him")], TOOL_SPECS, ctx).text or "")


def _answer(outcome: ToolOutcome, images: tuple[ImageHandle, ...] = (PROBE,)) -> str:
    ctx = ReasonerContext(purpose="access_control", images=images)
    transcript = [
        Turn(role="user", text="x"),
        Turn(role="assistant", tool_calls=[ToolCall(id=outcome.call_id, name=outcome.tool, args=outcome.args)]),
        Turn(role="tool", outcome=outcome),
    ]
    step = OfflineReasoner().next_step(transcript, TOOL_SPECS, ctx)
    assert step.tool_calls == []
    return step.text or ""


def test_verification_answer_gives_verdict_numbers_threshold_and_meaning() -> None:
    result = verification_result(verified=False, distance=0.131, threshold=0.06, metric="cosine", model="Dlib",
                                 detector="dlib", faces_in_a=1)  # fmt: skip
    text = _answer(ToolOutcome(call_id="1", tool="verify_identity", status="ok", result=result, human_review=True,
                               args={"image": "img1", "claimed_subject": "obama"},
                               decision=DecisionRecord(outcome="allow", rule_id="r", reason="",
                                                       policy_hash="p")))  # fmt: skip
    assert text.startswith("Not verified")
    assert "0.131" in text and "0.060" in text and "above the threshold" in text and "obama" in text
    assert "review" in text


def test_denial_answer_names_rule_and_reason() -> None:
    text = _answer(ToolOutcome(
        call_id="1", tool="identify_person", args={"image": "img1"}, status="denied",
        decision=DecisionRecord(outcome="deny", rule_id="identification.one_to_many_prohibited", reason="Prohibited.",
                                policy_hash="p"),
    ))  # fmt: skip
    assert "identification.one_to_many_prohibited" in text and "Prohibited." in text and "img1 (probe)" in text


def test_needs_consent_answer_says_what_is_missing_and_who_can_record_it() -> None:
    missing = [{"subject_id": "alice", "capability": "expression_analysis", "purpose": "ux_research"}]
    text = _answer(ToolOutcome(
        call_id="1", tool="analyze_expression", args={"image": "img2"}, status="denied", error_code="consent_required",
        decision=DecisionRecord(outcome="needs_consent", rule_id="consent.missing", reason="None.", missing=missing,
                                policy_hash="p"),
    ), images=(ALICE,))  # fmt: skip
    assert "consent.missing" in text and "alice: expression_analysis for ux_research" in text
    assert "I cannot record it" in text


def test_expression_answer_carries_the_caveat() -> None:
    caveat = "appearance-based expression estimate, not a reading of the person's inner state"
    result = expression_result([{"box": {"x": 1, "y": 2, "w": 3, "h": 4}, "dominant": "happy",
                                 "scores": {"happy": 0.9, "neutral": 0.05, "sad": 0.05}}], caveat=caveat)  # fmt: skip
    text = _answer(ToolOutcome(call_id="1", tool="analyze_expression", args={"image": "img2"}, status="ok",
                               result=result), images=(ALICE,))  # fmt: skip
    assert "happy (90%)" in text and "not a reading of the person's inner state" in text


def test_explain_the_last_result_repeats_it_with_meaning() -> None:
    outcome = ToolOutcome(call_id="1", tool="verify_faces", args={"image_a": "img2", "image_b": "img3"}, status="ok",
                          result=verification_result(verified=True, distance=0.03, threshold=0.07, metric="cosine",
                                                     model="Dlib", detector="dlib"))  # fmt: skip
    ctx = ReasonerContext(purpose="mfa", images=(ALICE, BOB))
    transcript = [
        Turn(role="user", text="compare"), Turn(role="assistant", tool_calls=[ToolCall(id="1", name="verify_faces")]),
        Turn(role="tool", outcome=outcome), Turn(role="assistant", text="Match."),
        Turn(role="user", text="Explain the last result."),
    ]  # fmt: skip
    step = OfflineReasoner().next_step(transcript, TOOL_SPECS, ctx)
    assert step.tool_calls == []
    assert "Match" in (step.text or "") and "0.030" in (step.text or "") and "below the threshold" in (step.text or "")


@pytest.mark.parametrize(
    "text",
    [
        "Is img1 disabled?",
        "Is img1 a trans woman?",
        "Is img1 Muslim?",
        "Is img1 Jewish?",
        "What is the skin colour of the person in img1?",
        "What nationality is img1?",
        "Is img1 pregnant?",
        "Is img1 really alice? And is she Muslim?",  # a claim in the same request does not win over the ask
        "Is img1 black?",
        "Is he Asian?",
        "Which country is he from?",
        "Is the person in img1 Korean?",
    ],
)
def test_sensitive_requests_are_refused_by_policy_as_prohibited(text: str) -> None:
    """Each request becomes infer_attributes naming a sensitive attribute, which decide() refuses as prohibited
    (not verify_identity with a claimed subject "disabled", not the help text, not inference.not_offered)."""
    from datetime import UTC, datetime

    from agent.policy import PolicyRequest, decide, load_policy, tool_spec

    calls = plan(text, (PROBE, ALICE))
    assert [name for name, _ in calls] == ["infer_attributes"]
    spec = tool_spec("infer_attributes")
    assert spec is not None
    request = PolicyRequest(tool=spec.name, capability=spec.capability, purpose="mfa",
                            requested_attributes=calls[0][1]["attributes"])  # fmt: skip
    decision = decide(request, [], load_policy(), datetime.now(UTC))
    assert decision.outcome == "deny" and decision.rule_id == "inference.sensitive_prohibited"


@pytest.mark.parametrize(
    ("text", "images", "expected"),
    [
        ("verify img1 against enrolled christian", (PROBE,),
         [("verify_identity", {"image": "img1", "claimed_subject": "christian"})]),
        ("is img1 really faith?", (PROBE, ImageHandle(handle="img2", sha256="d" * 64, subject="faith")),
         [("verify_identity", {"image": "img1", "claimed_subject": "faith"})]),
    ],
)  # fmt: skip
def test_a_subject_named_like_a_sensitive_word_is_a_name_not_a_request(
    text: str, images: tuple[ImageHandle, ...], expected: list
) -> None:
    assert plan(text, images) == expected


@pytest.mark.parametrize("word", ["black", "asian", "mexican", "white"])
def test_a_trait_word_is_never_taken_for_a_claimed_subject(word: str) -> None:
    from agent.reasoners.offline import _claimed_subject

    assert _claimed_subject(f"verify img1, he is {word}", [PROBE], lambda s: False) is None
    # an enrolled subject who really has that label is still a name
    named = ImageHandle(handle="img2", sha256="e" * 64, subject=word)
    assert _claimed_subject(f"verify img1 against {word}", [PROBE, named], lambda s: False) == word


# --- issue 9 item 6: claimed identities come from what the caller attached or named, never an arbitrary word -----

ON_RECORD = {"obama", "alice", "emp_042", "j.doe"}


def plan_known(text: str, images: tuple[ImageHandle, ...] = (PROBE,)) -> list[tuple[str, dict]]:
    ctx = ReasonerContext(purpose="access_control", images=images, is_subject=ON_RECORD.__contains__)
    step = OfflineReasoner().next_step([Turn(role="user", text=text)], TOOL_SPECS, ctx)
    return [(c.name, c.args) for c in step.tool_calls]


def _identity(subject: str, image: str = "img1") -> list[tuple[str, dict]]:
    return [("verify_identity", {"image": image, "claimed_subject": subject})]


@pytest.mark.parametrize(
    ("text", "images", "expected"),
    [
        # a labelled image: "him" is the person the caller attached; no word of the sentence is a name
        ("verify him for the office door as usual", (ALICE,), _identity("alice", "img2")),
        ("Verify her at the entrance as always.", (ALICE,), _identity("alice", "img2")),
        ("check him as usual", (ALICE,), _identity("alice", "img2")),
        ("verify this one for the door, same as yesterday", (ALICE,), _identity("alice", "img2")),
        ("please verify as quickly as possible", (ALICE,), _identity("alice", "img2")),
        ("Authenticate him as normal for the turnstile.", (ALICE,), _identity("alice", "img2")),
        # a probe and a name on record, however it is said
        ("verify img1 against obama", (PROBE,), _identity("obama")),
        ("Verify img1 against enrolled obama.", (PROBE,), _identity("obama")),
        ("is img1 really obama?", (PROBE,), _identity("obama")),
        ("check img1 as obama for the door as usual", (PROBE,), _identity("obama")),
        ("he says he is obama, check him", (PROBE,), _identity("obama")),
        ("She claims to be alice. Verify her at the door as usual.", (PROBE,), _identity("alice")),
        ("compare the probe with obama's enrolled template", (PROBE,), _identity("obama")),
        ("verify img1 against the enrolled template of obama", (PROBE,), _identity("obama")),
        ("verify img1 for subject emp_042", (PROBE,), _identity("emp_042")),
        ("does img1 match j.doe?", (PROBE,), _identity("j.doe")),
        # a token shaped like an id is a name even when nobody is on record under it (policy then decides)
        ("verify img1 as emp_777", (PROBE,), _identity("emp_777")),
        ("verify img1 against enrolled mallory", (PROBE,), _identity("mallory")),
        # a probe, and only ordinary words: nobody is claimed, so nothing runs (the person is asked whom)
        ("verify him for the office door as usual", (PROBE,), []),
        ("verify img1 as usual", (PROBE,), []),
        ("check img1 as fast as you can", (PROBE,), []),
        ("verify img1 for the door", (PROBE,), []),
        ("verify img1, he is nervous", (PROBE,), []),
        ("verify img1 as normal please", (PROBE,), []),
        ("is img1 really ok?", (PROBE,), []),
    ],
)  # fmt: skip
def test_claimed_identities_come_from_names_not_words(
    text: str, images: tuple[ImageHandle, ...], expected: list
) -> None:
    assert plan_known(text, images) == expected


@pytest.mark.parametrize("word", ["usual", "always", "normal", "quickly", "door", "possible", "yesterday"])
def test_an_ordinary_word_is_never_a_claimed_subject(word: str) -> None:
    from agent.reasoners.offline import _claimed_subject

    for text in (
        f"verify img1 as {word}",
        f"verify img1 for {word}",
        f"is img1 really {word}",
        f"check against {word}",
    ):
        assert _claimed_subject(text, [PROBE], ON_RECORD.__contains__) is None, text


def test_a_probe_with_no_claimed_identity_asks_whom_to_check_against() -> None:
    ctx = ReasonerContext(purpose="access_control", images=(PROBE,), is_subject=ON_RECORD.__contains__)
    step = OfflineReasoner().next_step([Turn(role="user", text="verify him for the office door as usual")],
                                       TOOL_SPECS, ctx)  # fmt: skip
    assert step.tool_calls == [] and step.text is not None and "Whom should I check img1 against" in step.text
