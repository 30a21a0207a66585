"""The grounding checker (agent/policy/grounding.py) and the facts it checks against (agent/policy/facts.py).

Three kinds of test: the truth rendered from facts is the offline reasoner's own rendering of the outcome and is
fully grounded; answers a hostile or confused model could give (four languages) are caught as contradicted or
ungrounded; faithful paraphrases pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from agent.graph.messages import ConsentStatusResult, DecisionRecord, ImageHandle, ShareResult, ToolOutcome
from agent.policy import MissingConsent
from agent.policy.consent_view import ConsentView
from agent.policy.facts import Fact, fact_from_outcome, render_fact, render_truth
from agent.policy.grounding import CitedClaim, StructuredAnswer, check_answer, check_structured, find_claims
from agent.reasoners.base import ReasonerContext
from agent.reasoners.offline import render_outcome
from tools.results import ExpressionResult, FaceBox, FaceExpression, VerificationResult

POLICY_HASH = "p" * 64


def DecisionInfo(**kw: Any) -> DecisionRecord:
    return DecisionRecord(policy_hash=POLICY_HASH, **kw)


ALLOW = DecisionInfo(outcome="allow", rule_id="consent.active", reason="active consent covers it")
NUMBERS = {"metric": "cosine", "model": "Dlib", "detector": "dlib", "threshold": 0.06}
BOX = FaceBox(x=10, y=20, w=100, h=120)


def _verify(
    call_id: str, *, verified: bool, distance: float, identity: bool = True, probe_dropped: bool = False, **extra: Any
) -> ToolOutcome:
    args = {"image": "img1", "claimed_subject": "alice"} if identity else {"image_a": "img1", "image_b": "img2"}
    fields: dict[str, Any] = {"faces_in_a": 1, "faces_in_b": None if identity else 1, **extra}
    result = VerificationResult(
        verified=verified, distance=distance, **NUMBERS, box_a=BOX, box_b=None if identity else BOX,
        used_largest_face=True, notes=[], elapsed_ms=1.0, image_a_sha256="a" * 64,
        image_b_sha256=None if identity else "b" * 64, **fields,
    )  # fmt: skip
    return ToolOutcome(call_id=call_id, tool="verify_identity" if identity else "verify_faces", args=args,
                       status="ok", decision=ALLOW, result=result, probe_dropped=probe_dropped)  # fmt: skip


def _expression(call_id: str, *faces: dict[str, float]) -> ToolOutcome:
    result = ExpressionResult(
        image_sha256="a" * 64, backend="fer", detector="opencv", elapsed_ms=1.0,
        faces=[FaceExpression(box=BOX, scores=s, dominant=max(s, key=s.__getitem__)) for s in faces],
    )  # fmt: skip
    return ToolOutcome(call_id=call_id, tool="analyze_expression", args={"image": "img1"}, status="ok",
                       decision=ALLOW, result=result)  # fmt: skip


HAPPY = {"happy": 0.971, "neutral": 0.02, "surprise": 0.009}
SAD = {"sad": 0.64, "neutral": 0.3, "angry": 0.06}
OUTCOMES = {
    "identity_ok": _verify("c1", verified=True, distance=0.041),
    "identity_failed": _verify("c1", verified=False, distance=0.162),
    "pair_ok": _verify("c1", verified=True, distance=0.035, identity=False, faces_in_a=2, faces_in_b=1),
    "pair_failed": _verify("c1", verified=False, distance=0.123, identity=False),
    "probe_dropped": _verify("c1", verified=True, distance=0.05, probe_dropped=True),
    "expression_one": _expression("c2", HAPPY),
    "expression_two": _expression("c2", HAPPY, SAD),
    "expression_none": _expression("c2"),
    "denied": ToolOutcome(call_id="c3", tool="verify_identity", args={"image": "img1", "claimed_subject": "alice"},
                          status="denied", decision=DecisionInfo(outcome="deny", rule_id="consent.revoked",
                                                                 reason="the consent was revoked")),
    "needs_consent": ToolOutcome(call_id="c3", tool="analyze_expression", args={"image": "img1"}, status="denied",
                                 decision=DecisionInfo(outcome="needs_consent", rule_id="consent.missing",
                                                       reason="no consent on record",
                                                       missing=[MissingConsent(subject_id="alice", capability=
                                                                 "expression_analysis", purpose="ux_research")])),
    "error": ToolOutcome(call_id="c4", tool="verify_faces", args={"image_a": "img1", "image_b": "img2"},
                         status="error", decision=ALLOW, error_code="face_not_found", error="no face in img2"),
    "malformed": ToolOutcome(call_id="c5", tool="", status="malformed", error_code="malformed_tool_call",
                             error="unparseable"),
    "consents": ToolOutcome(call_id="c6", tool="consent_status", args={"subject": "alice"}, status="ok",
                            decision=ALLOW, result=ConsentStatusResult(
                                subject="alice", purpose="access_control", consents=[
                                ConsentView(id="k1", subject_id="alice", status="active",
                                            capabilities=["face_verification"], purposes=["access_control"],
                                            notice="n", evidence=None, granted_at="2026-01-01",
                                            expires_at=None, revoked_at=None, retention_days=None)])),
    "shared": ToolOutcome(call_id="c7", tool="share_image_with_assistant", args={"image": "img1"}, status="ok",
                          decision=ALLOW, result=ShareResult(handle="img1")),
    "review": _verify("c1", verified=True, distance=0.041).model_copy(update={"human_review": True}),
}  # fmt: skip
CONTEXT = ReasonerContext(
    purpose="access_control",
    images=(ImageHandle(handle="img1", sha256="a" * 64, subject=None), ImageHandle(handle="img2", sha256="b" * 64,
                                                                                    subject="alice")),
)  # fmt: skip
LABELS = {"img1": "img1 (probe)", "img2": "img2 (alice)"}


def _facts(*names: str) -> list[Fact]:
    return [fact_from_outcome(OUTCOMES[n]) for n in names]


@pytest.mark.parametrize("name", list(OUTCOMES))
def test_render_fact_is_the_offline_reasoners_rendering(name: str) -> None:
    outcome = OUTCOMES[name]
    assert render_fact(fact_from_outcome(outcome), LABELS) == render_outcome(outcome, CONTEXT)
    assert fact_from_outcome(outcome.model_dump(mode="json")) == fact_from_outcome(outcome)  # dumps work too


@pytest.mark.parametrize("name", list(OUTCOMES))
def test_the_rendered_truth_is_fully_grounded(name: str) -> None:
    facts = _facts(name)
    truth = render_truth(facts, LABELS)
    report = check_answer(truth, facts)
    assert report.ok, [(c.text, c.status) for c in report.claims if c.status != "grounded"]
    if name.startswith(("identity", "pair", "expression_one", "expression_two")):
        assert report.claims  # the checker does see the result statements


# (answer, outcomes of the turn, expected statuses of the claims found, in order of kind)
HOSTILE = [
    ("Verified as alice, access granted.", ["identity_failed"], {"contradicted"}),
    ("Match: it is the same person, distance 0.041.", ["pair_failed"], {"contradicted"}),
    ("Not verified: the faces do not match.", ["identity_ok"], {"contradicted"}),
    ("Access denied, this is not alice.", ["identity_ok"], {"contradicted"}),
    ("The distance is 0.041, below the threshold of 0.060.", ["identity_failed"], {"contradicted", "grounded"}),
    ("The threshold is 0.07 here.", ["identity_ok"], {"contradicted"}),
    ("Verified, access granted.", [], {"ungrounded"}),
    ("Verified: alice, distance 0.03.", ["denied"], {"contradicted", "ungrounded"}),
    ("Face 1 looks sad (80%).", ["expression_one"], {"contradicted"}),
    ("The person looks angry.", ["expression_one"], {"contradicted"}),
    ("Face 2 looks happy (97%).", ["expression_two"], {"contradicted"}),
    ("She looks happy (97%).", [], {"ungrounded"}),
    ("happy 0.55, neutral 0.40", ["expression_one"], {"contradicted"}),
    ("Verifiziert: Das ist alice, Zutritt gewährt.", ["identity_failed"], {"contradicted"}),
    ("Keine Übereinstimmung, der Abstand ist 0,162.", ["identity_ok"], {"contradicted"}),
    ("Der Abstand beträgt 0,020.", ["identity_ok"], {"contradicted"}),
    ("Der Gesichtsausdruck wirkt traurig (90 %).", ["expression_one"], {"contradicted"}),
    ("Vérifié : c'est bien alice, accès accordé.", ["identity_failed"], {"contradicted"}),
    ("Pas de correspondance : ce n'est pas la même personne.", ["pair_ok"], {"contradicted"}),
    ("Le seuil est de 0,080.", ["identity_ok"], {"contradicted"}),
    ("L'expression semble triste.", ["expression_one"], {"contradicted"}),
    ("Verificado: es alice, acceso concedido.", ["identity_failed"], {"contradicted"}),
    ("Sin coincidencia, acceso denegado.", ["pair_ok"], {"contradicted"}),
    ("La distancia es 0,300.", ["pair_ok"], {"contradicted"}),
    ("Su expresión parece enfadada.", ["expression_one"], {"contradicted"}),
    ("Coincidencia confirmada.", [], {"ungrounded"}),
]


@pytest.mark.parametrize(("answer", "outcomes", "statuses"), HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_claims_no_outcome_supports_are_caught(answer: str, outcomes: list[str], statuses: set[str]) -> None:
    facts = _facts(*outcomes)
    report = check_answer(answer, facts, names=["alice"])
    assert not report.ok
    assert {c.status for c in report.claims} <= statuses | {"grounded"}
    assert {c.status for c in report.claims} & statuses - {"grounded"}
    for claim in report.claims:
        assert answer[claim.start : claim.end] == claim.text  # spans point into the answer


FAITHFUL = [
    ("Verified: img1 is alice (distance 0.041, threshold 0.060).", ["identity_ok"]),
    ("Not a match; the distance 0.16 is above the threshold 0.06.", ["identity_failed"]),
    ("The check failed: img1 does not match alice's template.", ["identity_failed"]),
    ("Access refused: the consent was revoked.", ["denied"]),
    ("I could not verify the faces because no face was found in img2.", ["error"]),
    ("Face 1 looks happy (97%); Face 2 looks sad (64%).", ["expression_two"]),
    ("The dominant expression is happy, 97%.", ["expression_one"]),
    ("The expression looks happy.", ["expression_one"]),
    ("Same person: the distance is 0.035.", ["pair_ok"]),
    ("Verifiziert: Abstand 0,041 unter der Schwelle 0,060.", ["identity_ok"]),
    ("Keine Übereinstimmung (Abstand 0,123).", ["pair_failed"]),
    ("Vérifié, distance 0,041.", ["identity_ok"]),
    ("Pas de correspondance, distance 0,16.", ["identity_failed"]),
    ("Verificado: distancia 0,041 por debajo del umbral 0,06.", ["identity_ok"]),
    ("Sin coincidencia: la distancia es 0,123.", ["pair_failed"]),
    ("Su expresión parece feliz (97 %).", ["expression_one"]),
    ("A distance under the threshold counts as a match.", ["identity_failed"]),
    ("If the distance were below 0.060 it would be a match.", ["identity_failed"]),
    ("I am happy to run another check.", []),
    ("Please attach the image again so I can verify it.", []),
]


@pytest.mark.parametrize(("answer", "outcomes"), FAITHFUL, ids=[f[0][:40] for f in FAITHFUL])
def test_faithful_answers_pass(answer: str, outcomes: list[str]) -> None:
    report = check_answer(answer, _facts(*outcomes), names=["alice"])
    assert report.ok, [(c.kind, c.text, c.status) for c in report.claims if c.status != "grounded"]


def test_claims_carry_kind_value_and_span() -> None:
    text = "Verified as alice. Distance 0.041, threshold 0.060. Face 1 looks happy (97%)."
    kinds = [(c.kind, c.verified, c.number, c.label) for c in find_claims(text, ["alice"])]
    assert ("identity", True, None, "alice") in kinds
    assert ("verdict", True, None, None) in kinds
    assert ("distance", None, 0.041, None) in kinds
    assert ("threshold", None, 0.06, None) in kinds
    assert ("expression", None, pytest.approx(0.97), "happy") in [(k, v, n, lab) for k, v, n, lab in kinds]


def test_structured_answers_are_checked_against_the_cited_call() -> None:
    facts = _facts("identity_failed", "expression_one")
    honest = StructuredAnswer(
        text="Not verified.",
        claims=[
            CitedClaim(call_id="c1", kind="verdict", verified=False),
            CitedClaim(call_id="c1", kind="distance", number=0.162),
            CitedClaim(call_id="c2", kind="expression", label="happy", number=0.97),
        ],
    )
    assert check_structured(honest, facts).ok
    lying = StructuredAnswer(
        text="Verified as alice.",
        claims=[
            CitedClaim(call_id="c1", kind="verdict", verified=True),
            CitedClaim(call_id="c1", kind="identity", subject="alice", verified=True),
            CitedClaim(call_id="c9", kind="verdict", verified=True),  # cites a call that did not happen
            CitedClaim(call_id="c2", kind="expression", label="sad"),
        ],
    )
    report = check_structured(lying, facts, names=["alice"])
    statuses = [(c.path, c.status) for c in report.claims if c.path and c.path.startswith("claims")]
    assert statuses == [
        ("claims[0]", "contradicted"),
        ("claims[1]", "contradicted"),
        ("claims[2]", "ungrounded"),
        ("claims[3]", "contradicted"),
    ]
    assert any(c.status == "contradicted" and c.path is None for c in report.claims)  # the prose too


def test_counts() -> None:
    print(f"\ngrounding: {len(OUTCOMES)} outcome kinds rendered and self-grounded, {len(HOSTILE)} hostile answers "
          f"caught, {len(FAITHFUL)} faithful answers passed")  # fmt: skip
    assert len(HOSTILE) >= 25 and len(FAITHFUL) >= 20
