"""The real chain: photos signed at test time -> the real C2PA reader -> nonce look-ups in a real store -> the
real ``decide()`` -> nonces spent atomically. The wiring the agent and enrollment use (agent.capture)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from agent.capture import attach_provenance, issue_nonce, settle_liveness
from agent.policy import ENROLL_TOOL, Capability, Decision, ImageRef, Policy, PolicyRequest, decide
from agent.store import Store
from agent.store.db import utcnow
from tests.policy_cases import POLICY, consent
from tests.policy_provenance_cases import LIVE
from tests.provenance_fixtures import ProvenanceKit
from tools.provenance import ProvenanceChecker, liveness_statement, provenance_statement

FV, ENR, EXPR = Capability.FACE_VERIFICATION, Capability.ENROLLMENT, Capability.EXPRESSION_ANALYSIS
CONSENTS = [
    consent("alice", ["face_verification", "enrollment"], ["access_control", "customer_service"]),
    consent("alice", ["expression_analysis"], ["ux_research"]),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "facegate.db") as s:
        yield s


@pytest.fixture
def checker(provenance_kit: ProvenanceKit, tmp_path: Path) -> ProvenanceChecker:
    return provenance_kit.checker(tmp_path)


class Door:
    """What the wiring does for one verify_identity call: check, attach, decide, settle."""

    def __init__(self, store: Store, checker: ProvenanceChecker, policy: Policy = POLICY) -> None:
        self.store, self.checker, self.policy = store, checker, policy

    def request(self, data: bytes, *, purpose: str = "access_control", tool: str = "verify_identity") -> PolicyRequest:
        report = self.checker.check(data, required=True)
        image = ImageRef(
            handle="probe", sha256=report.image_sha256, subject_id=None if tool != ENROLL_TOOL else "alice"
        )
        images = attach_provenance(
            [image], {report.image_sha256: report}, self.store, purpose=purpose, claimed_subject="alice"
        )
        capability = {"verify_identity": FV, ENROLL_TOOL: ENR, "analyze_expression": EXPR}[tool]
        if tool == "analyze_expression":
            images = [images[0].model_copy(update={"subject_id": "alice"})]
        return PolicyRequest(
            tool=tool,
            capability=capability,
            purpose=purpose,
            images=images,
            claimed_subject="alice" if tool == "verify_identity" else None,
            subject="alice" if tool == ENROLL_TOOL else None,
            claimed_subject_enrolled=tool == "verify_identity",
            trust_anchors_configured=self.checker.anchors_configured,
            session_id="s-door",
            actor="door-7",
        )

    def decide(self, request: PolicyRequest) -> Decision:
        return decide(request, CONSENTS, self.policy, utcnow())

    def present(self, data: bytes, **kw: str) -> Decision:
        request = self.request(data, **kw)
        _, decision = settle_liveness(self.store, request, self.decide(request), consents=CONSENTS, policy=self.policy)
        return decision


@pytest.mark.parametrize(
    ("fixture", "tool", "purpose", "rule_id"),
    [
        ("created", "verify_identity", "access_control", "highrisk.obligations"),
        ("edited", "verify_identity", "access_control", "highrisk.obligations"),
        ("generated", "verify_identity", "access_control", "provenance.synthetic_or_composite"),
        ("composited", "verify_identity", "access_control", "provenance.synthetic_or_composite"),
        ("generated", ENROLL_TOOL, "customer_service", "provenance.synthetic_or_composite"),
        ("tampered", "verify_identity", "customer_service", "provenance.tampered"),
        ("tampered", "analyze_expression", "ux_research", "provenance.tampered"),
        ("generated", "analyze_expression", "ux_research", "consent.active"),
        ("stripped", "verify_identity", "access_control", "provenance.trusted_capture_required"),
        ("unsigned", "verify_identity", "access_control", "provenance.trusted_capture_required"),
        ("untrusted", "verify_identity", "access_control", "provenance.trusted_capture_required"),
        ("untrusted", "verify_identity", "customer_service", "consent.active"),
        ("stripped", ENROLL_TOOL, "access_control", "provenance.trusted_capture_required"),
        ("created", ENROLL_TOOL, "access_control", "highrisk.obligations"),
    ],
)
def test_signed_photos_through_the_real_policy(
    store: Store,
    checker: ProvenanceChecker,
    provenance_kit: ProvenanceKit,
    fixture: str,
    tool: str,
    purpose: str,
    rule_id: str,
) -> None:
    data = {
        "tampered": provenance_kit.tampered,
        "stripped": provenance_kit.stripped,
        "unsigned": provenance_kit.unsigned,
        "untrusted": provenance_kit.untrusted,
    }.get(fixture, lambda: provenance_kit.signed(fixture))()  # type: ignore[arg-type]
    decision = Door(store, checker).present(data, tool=tool, purpose=purpose)
    assert decision.rule_id == rule_id, decision.reason


def test_without_anchors_access_control_takes_unsigned_images(
    store: Store, provenance_kit: ProvenanceKit, tmp_path: Path
) -> None:
    """The shipped catalogue requires a trusted capture for access_control only where anchors are configured."""
    door = Door(store, provenance_kit.checker(tmp_path, anchors=False))
    assert door.present(provenance_kit.unsigned()).rule_id == "highrisk.obligations"
    assert door.present(provenance_kit.tampered()).rule_id == "provenance.tampered"  # still refused


def test_a_fresh_liveness_capture_is_accepted_once(
    store: Store, checker: ProvenanceChecker, provenance_kit: ProvenanceKit
) -> None:
    door = Door(store, checker, LIVE)
    nonce = issue_nonce(store, LIVE, purpose="access_control", subject_id="alice", actor="desk", ttl_seconds=60).nonce
    capture = provenance_kit.live(nonce)
    request = door.request(capture)
    first = door.decide(request)
    assert first.allowed and first.obligation("spend_liveness_nonce") is not None
    settled_request, settled = settle_liveness(store, request, first, consents=CONSENTS, policy=LIVE)
    assert settled is first and settled_request is request
    assert store.nonces.status(nonce, purpose="access_control", subject_id="alice") == "spent"
    replay = door.present(capture)
    assert replay.rule_id == "liveness.nonce_replayed" and not replay.allowed
    assert (
        liveness_statement(request.images[0].provenance)
        == "liveness asserted by Door camera 7 (Acme Capture) (facegate-test-liveness 1)"
    )


@pytest.mark.parametrize(
    "case", ["foreign nonce", "other purpose", "other person", "expired", "untrusted signer", "none"]
)
def test_liveness_refusals(store: Store, checker: ProvenanceChecker, provenance_kit: ProvenanceKit, case: str) -> None:
    door = Door(store, checker, LIVE)
    kw = {"actor": "desk", "ttl_seconds": 60}
    if case == "foreign nonce":
        capture = provenance_kit.live("f0reign-n0nce-never-issued-here")
    elif case == "other purpose":
        capture = provenance_kit.live(issue_nonce(store, LIVE, purpose="mfa", **kw).nonce)  # type: ignore[arg-type]
    elif case == "other person":
        capture = provenance_kit.live(issue_nonce(store, LIVE, purpose="access_control", subject_id="bob", **kw).nonce)  # type: ignore[arg-type]
    elif case == "expired":
        past = utcnow() - timedelta(minutes=5)
        capture = provenance_kit.live(issue_nonce(store, LIVE, purpose="access_control", now=past, **kw).nonce)  # type: ignore[arg-type]
    elif case == "untrusted signer":
        nonce = issue_nonce(store, LIVE, purpose="access_control", **kw).nonce  # type: ignore[arg-type]
        capture = provenance_kit.untrusted("live", nonce=nonce)
    else:
        capture = provenance_kit.signed("created")
    decision = door.present(capture)
    expected = "provenance.trusted_capture_required" if case == "untrusted signer" else "liveness.attestation_required"
    assert decision.rule_id == expected, decision.reason


def test_a_nonce_spent_between_decision_and_tool_run_is_a_replay(
    store: Store, checker: ProvenanceChecker, provenance_kit: ProvenanceKit
) -> None:
    """Two doors present the same capture at once: both look and see "fresh"; only the first spend wins."""
    door = Door(store, checker, LIVE)
    nonce = issue_nonce(store, LIVE, purpose="access_control", actor="desk", ttl_seconds=60).nonce
    capture = provenance_kit.live(nonce)
    a, b = door.request(capture), door.request(capture)
    da, db = door.decide(a), door.decide(b)
    assert da.allowed and db.allowed
    assert settle_liveness(store, a, da, consents=CONSENTS, policy=LIVE)[1].allowed
    request_b, decision_b = settle_liveness(store, b, db, consents=CONSENTS, policy=LIVE)
    assert decision_b.rule_id == "liveness.nonce_replayed"
    assert request_b.images[0].liveness_nonce == "spent"


def test_waiting_for_consent_does_not_burn_the_nonce(
    store: Store, checker: ProvenanceChecker, provenance_kit: ProvenanceKit
) -> None:
    """needs_consent pauses the run; when the person has consented and it resumes, the capture still counts."""
    door = Door(store, checker, LIVE)
    nonce = issue_nonce(store, LIVE, purpose="access_control", actor="desk", ttl_seconds=60).nonce
    probe = door.request(provenance_kit.live(nonce))
    request = probe.model_copy(
        update={
            "tool": "verify_faces",
            "claimed_subject": None,
            "claimed_subject_enrolled": False,
            "images": [probe.images[0].model_copy(update={"subject_id": "alice"})],
        }
    )
    waiting = decide(request, [], LIVE, utcnow())
    assert (waiting.outcome, waiting.rule_id) == ("needs_consent", "consent.missing")
    assert settle_liveness(store, request, waiting, consents=[], policy=LIVE)[1] is waiting
    assert store.nonces.status(nonce, purpose="access_control") == "fresh"
    resumed = door.decide(request)
    assert resumed.allowed and settle_liveness(store, request, resumed, consents=CONSENTS, policy=LIVE)[1] is resumed
    assert store.nonces.status(nonce, purpose="access_control") == "spent"


def test_the_audit_row_carries_the_provenance_not_the_pixels(
    store: Store, checker: ProvenanceChecker, provenance_kit: ProvenanceKit
) -> None:
    door = Door(store, checker, LIVE)
    nonce = issue_nonce(store, LIVE, purpose="access_control", actor="desk", ttl_seconds=60).nonce
    request = door.request(provenance_kit.live(nonce))
    request, decision = settle_liveness(store, request, door.decide(request), consents=CONSENTS, policy=LIVE)
    row = store.writer.decision(request, decision)
    prov = row.summary["provenance"]["probe"]
    assert prov["state"] == "trusted" and prov["signer"] == "Door camera 7 (Acme Capture)"
    assert prov["liveness"] == {"result": "pass", "method": "facegate-test-liveness 1"} and prov["nonce"] == "fresh"
    assert row.input_hashes == [request.images[0].sha256]
    assert store.audit.verify().ok


def test_answer_wording_says_what_was_checked(checker: ProvenanceChecker, provenance_kit: ProvenanceKit) -> None:
    trusted = provenance_statement(checker.check(provenance_kit.signed("created")))
    assert trusted == (
        "signed by Door camera 7 (Acme Capture), a trusted signer; unmodified since signing; declared a digital capture"
    )
    assert "not among the configured trust anchors" in provenance_statement(checker.check(provenance_kit.untrusted()))
    assert provenance_statement(checker.check(provenance_kit.stripped())) == "no C2PA provenance manifest"
    assert "does not validate" in provenance_statement(checker.check(provenance_kit.tampered()))
    assert "declared generated (trainedAlgorithmicMedia)" in provenance_statement(
        checker.check(provenance_kit.signed("generated"))
    )
    assert "recorded actions: edited" in provenance_statement(checker.check(provenance_kit.signed("edited")))
    assert provenance_statement(None) == "provenance not checked"
    for variant in ("created", "generated"):
        assert liveness_statement(checker.check(provenance_kit.signed(variant))) is None  # type: ignore[arg-type]
    assert liveness_statement(checker.check(provenance_kit.untrusted("live", nonce="N" * 32))) is None
    statements = [provenance_statement(checker.check(provenance_kit.live("L" * 32)))]
    statements.append(liveness_statement(checker.check(provenance_kit.live("L" * 32))) or "")
    for text in statements:
        assert "is live" not in text and "authentic" not in text and "genuine" not in text
