"""Enrollment: storing a face template, only with enrollment consent for the purpose (BIPA 15(a)/(b)).

The decision is taken (and audited) before any face is embedded; the template's expiry is the earlier of the
retention period and the consent's term; ``facegate retention sweep`` deletes what has run out. Given a
provenance checker, the enrollment photo's original bytes are checked first (C2PA), and the decision sees the
report like a tool call's (a template is only as good as its photo: a tampered, generated or, where the purpose
requires a trusted capture, unsigned photo is refused).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from agent.capture import attach_provenance, settle_liveness
from agent.clock import utcnow
from agent.errors import ConsentRequired, FacegateError, PolicyDenied
from agent.policy import ENROLL_TOOL, Capability, ImageRef, Policy, PolicyRequest, decide
from agent.policy.models import Decision
from agent.store import Store
from tools.protocol import FaceEngineProtocol
from tools.provenance.checker import NO_ORIGINAL_BYTES
from tools.provenance.models import ProvenanceReport

if TYPE_CHECKING:
    from tools.images import ImageSource
    from tools.provenance.checker import ProvenanceChecker

ENROLLMENT_IMAGE = "enrollment_image"


class EnrollmentResult(BaseModel):
    subject_id: str
    purpose: str
    template_id: str
    model: str
    detector: str
    image_sha256: str
    consent_id: str
    expires_at: datetime
    decision: Decision
    provenance: ProvenanceReport | None = None  # the C2PA check of the photo (None: no checker was given)


def raise_for_decision(decision: Decision) -> None:
    """Turn a refusal into the typed error (never into text someone can argue with)."""
    if decision.outcome == "deny":
        raise PolicyDenied(decision.reason, rule_id=decision.rule_id)
    if decision.outcome == "needs_consent":
        raise ConsentRequired(
            decision.reason,
            rule_id=decision.rule_id,
            missing=[m.model_dump(mode="json") for m in decision.missing],
        )


def enroll(
    store: Store,
    engine: FaceEngineProtocol,
    policy: Policy,
    *,
    subject_id: str,
    image: ImageSource,
    purpose: str,
    actor: str,
    session_id: str | None = None,
    now: datetime | None = None,
    provenance: ProvenanceChecker | None = None,
) -> EnrollmentResult:
    """Decide, audit, embed (exactly one face) and store the subject's template.

    Args:
        provenance: the agent's C2PA checker; the photo's original bytes are checked before decoding (required
            when the purpose depends on it). None: not checked (the decision sees no report).

    Raises:
        PolicyDenied / ConsentRequired: policy refused (the decision is audited first).
        ImageInputError / FaceError / ModelError: from the engine (audited as a failed tool run).
        ProvenanceUnavailable: the purpose depends on the check and the optional extra is not installed.
    """
    now = now or utcnow()
    report: ProvenanceReport | None = None
    if provenance is not None:
        catalogue = policy.purposes.get(purpose)
        anchors = provenance.anchors_configured
        required = catalogue is not None and catalogue.requires_provenance(anchors_configured=anchors)
        # checked on the bytes as received, before anything decodes them; the decoder gets the same bytes
        to_decode, report = provenance.check_source(image, required=required)
        loaded = engine.load(to_decode)
        report = report or provenance.not_checked(loaded.sha256, NO_ORIGINAL_BYTES)
    else:
        loaded = engine.load(image)
    images = [ImageRef(handle=ENROLLMENT_IMAGE, sha256=loaded.sha256, subject_id=subject_id)]
    if report is not None:
        images = attach_provenance(images, {loaded.sha256: report}, store, purpose=purpose, now=now)
    request = PolicyRequest(
        tool=ENROLL_TOOL,
        capability=Capability.ENROLLMENT,
        purpose=purpose,
        images=images,
        trust_anchors_configured=provenance is not None and provenance.anchors_configured,
        subject=subject_id,
        session_id=session_id or "",
        actor=actor,
    )
    consents = store.consents_for(subject_id)
    decision = decide(request, consents, policy, now)
    # liveness is asked of verification only, so this spends nothing today; kept so that a policy asking it of
    # enrollment one day spends the nonce exactly here, before the decision is audited
    request, decision = settle_liveness(store, request, decision, consents=consents, policy=policy, now=now)
    store.writer.decision(request, decision, ts=now)
    raise_for_decision(decision)

    try:
        embedding = engine.embed(loaded, require_single_face=True)
    except FacegateError as exc:
        store.writer.tool_run(request, decision, error_code=exc.code, ts=now)
        raise

    by_id = {c.id: c for c in consents}
    basis = [by_id[i] for i in decision.consent_ids if i in by_id]
    consent = max(basis, key=lambda c: c.expires_at or now)
    purpose_days = policy.purposes[purpose].retention_days
    days = min(consent.retention_days or purpose_days, purpose_days)
    expires_at = now + timedelta(days=days)
    if consent.expires_at is not None:
        expires_at = min(expires_at, consent.expires_at)
    template_id = store.save_template(
        subject_id,
        model=embedding.model,
        detector=embedding.detector,
        vector=embedding.vector,
        recipe=embedding.recipe,  # how it was computed: probes must match it
        image_sha256=embedding.image_sha256,
        expires_at=expires_at,
        purpose=purpose,
        consent_id=consent.id,
        actor=actor,
        session_id=session_id,
        now=now,
        rule_id=decision.rule_id,
        policy_hash=decision.policy_hash,
        audit_summary={"faces_in_image": embedding.faces_in_image, "policy_hash": policy.hash},
    )
    # The template is the stored form; the engine's cached embedding of the photo would be a second copy that
    # outlives an erasure or a revocation.
    engine.forget(loaded.sha256)
    return EnrollmentResult(
        subject_id=subject_id,
        purpose=purpose,
        template_id=template_id,
        model=embedding.model,
        detector=embedding.detector,
        image_sha256=embedding.image_sha256,
        consent_id=consent.id,
        expires_at=expires_at,
        decision=decision,
        provenance=report,
    )
