"""``decide()``: the one place consent and purpose limitation are enforced. Pure and deterministic: the same
request, consents, policy and ``now`` always give the same decision; nothing here reads a clock, a file or a
database.

Order: prohibitions that no consent can lift come first (identification, attribute inference, unrunnable
tools), then the purpose catalogue (unknown purpose, AI-Act context ban, purpose limitation), then the images'
provenance (tampered, generated, the purpose's trusted-capture and liveness requirements: see
:mod:`agent.policy.provenance`), then who is pictured (probes), then each person's consent, and last the
obligations of an allow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from agent.policy import rules as R
from agent.policy.capabilities import Capability
from agent.policy.models import (
    ConsentRecord,
    Decision,
    MissingConsent,
    Obligation,
    Outcome,
    Policy,
    PolicyRequest,
    Purpose,
)
from agent.policy.provenance import provenance_verdict
from agent.policy.stated_purpose import mismatch_reason
from agent.policy.tool_specs import tool_spec

ENROLL_TOOL = "enroll"

_Out = Callable[..., Decision]
_ConsentState = Literal["active", "revoked", "expired", "incomplete", "notice_missing", "missing"]


@dataclass(frozen=True)
class _SubjectConsent:
    subject_id: str
    state: _ConsentState
    records: tuple[ConsentRecord, ...] = ()  # the active records (state == "active")


def normalise_attribute(name: str) -> str:
    """``"Ethnic origin"`` -> ``"ethnic_origin"``: attribute names as the policy file spells them."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def decide(request: PolicyRequest, consents: Sequence[ConsentRecord], policy: Policy, now: datetime) -> Decision:
    """Decide whether ``request`` may run at ``now``.

    Args:
        request: the tool call (or enrollment) and the images and subjects it touches.
        consents: every consent record of every subject involved (others are ignored).
        policy: the loaded purpose catalogue.
        now: the decision time (timezone-aware).

    Returns:
        allow, deny or needs_consent with a stable rule id, a readable reason, obligations and, for
        needs_consent, the consents that would let the request go on.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")

    def out(outcome: Outcome, rule_id: str, reason: str, **kw: object) -> Decision:
        return Decision(outcome=outcome, rule_id=rule_id, reason=reason, policy_hash=policy.hash, **kw)

    cap = request.capability

    # --- prohibitions no consent can lift ---------------------------------------------------------------
    if cap == Capability.IDENTIFICATION:
        return out(
            "deny",
            R.IDENTIFICATION_PROHIBITED,
            "One-to-many identification (searching who a face belongs to) is prohibited; facegate only "
            "verifies a face one-to-one against an identity the person claims.",
        )
    if cap == Capability.ATTRIBUTE_INFERENCE:
        asked = {normalise_attribute(a) for a in request.requested_attributes}
        sensitive = sorted(asked & policy.sensitive_attributes)
        if sensitive:
            return out(
                "deny",
                R.INFERENCE_SENSITIVE_PROHIBITED,
                f"Inferring {', '.join(sensitive)} from a face is prohibited whatever the consent.",
            )
        return out(
            "deny",
            R.INFERENCE_NOT_OFFERED,
            "facegate does not infer personal attributes (such as age or gender) from faces.",
        )

    spec = tool_spec(request.tool)
    if request.tool == ENROLL_TOOL:
        if cap != Capability.ENROLLMENT:
            return out("deny", R.TOOL_CAPABILITY_MISMATCH, "Enrollment exercises the enrollment capability only.")
    elif spec is None:
        return out("deny", R.TOOL_UNKNOWN, f"There is no tool called {request.tool!r}.")
    else:
        if not spec.runnable:
            return out("deny", R.TOOL_NOT_RUNNABLE, f"The tool {spec.name!r} is not available in facegate.")
        if spec.capability != cap:
            return out(
                "deny",
                R.TOOL_CAPABILITY_MISMATCH,
                f"The tool {spec.name!r} exercises {spec.capability.value}, not {cap.value}.",
            )

    stated = request.stated_purpose
    if stated is not None and not stated.restates(request.purpose):
        # The session's purpose is the caller's and stays; but a person who said the use is now another one has
        # told us what a check would serve. Nothing runs under the old purpose any more (GDPR 5(1)(b)).
        return out("deny", R.PURPOSE_CONVERSATION_MISMATCH, mismatch_reason(stated, request.purpose))

    if cap == Capability.CONSENT_LOOKUP:
        if request.images or not request.subject:
            return out("deny", R.CONSENT_LOOKUP_NO_FACE, "A consent lookup takes a subject id and never an image.")
        if request.subject not in request.pictured_subjects:
            return out(
                "deny",
                R.CONSENT_LOOKUP_NOT_PICTURED,
                f"{request.subject!r} is not pictured in this conversation's images: a consent lookup tells the "
                "assistant only about the people pictured in them.",
            )
        return out(
            "allow",
            R.CONSENT_LOOKUP_ALLOWED,
            f"Reading what consent is on record processes no biometric data; only the records covering "
            f"{request.purpose} (this session's purpose) may be shown.",
            obligations=[Obligation(kind="limit_to_purpose", value=request.purpose)],
        )

    # --- the purpose catalogue --------------------------------------------------------------------------
    purpose = policy.purposes.get(request.purpose)
    if purpose is None:
        return out(
            "deny",
            R.PURPOSE_UNKNOWN,
            f"The purpose {request.purpose!r} is not in the purpose catalogue ({', '.join(sorted(policy.purposes))}).",
        )
    if (
        cap == Capability.EXPRESSION_ANALYSIS
        and purpose.context in ("workplace", "education")
        and not purpose.medical_or_safety
    ):
        return out(
            "deny",
            R.EXPRESSION_WORKPLACE_EDUCATION,
            f"Expression analysis is prohibited in {purpose.context} settings unless for medical or safety "
            f"reasons; the purpose {purpose.id!r} is neither.",
        )
    if cap not in purpose.allowed_capabilities:
        return out(
            "deny",
            R.PURPOSE_CAPABILITY_NOT_ALLOWED,
            f"The purpose {purpose.id!r} does not allow {cap.value}.",
        )

    # --- where the images came from ----------------------------------------------------------------------
    verdict = provenance_verdict(request, purpose, out)
    if verdict.refusal is not None:
        return verdict.refusal
    extra = verdict.obligations

    # --- who is pictured ---------------------------------------------------------------------------------
    probes = [img for img in request.images if img.subject_id is None]
    subjects: list[str] = []
    for img in request.images:
        if img.subject_id is not None and img.subject_id not in subjects:
            subjects.append(img.subject_id)

    is_claim = request.tool == "verify_identity"
    if is_claim:
        return _decide_claim(request, consents, purpose, subjects, now, out, extra)
    if probes:
        return out(
            "deny",
            R.PROBE_NO_CONSENTING_SUBJECT,
            "The image is of no registered, consenting person; an unregistered face may only be verified "
            "one-to-one against an identity the person claims.",
        )
    if cap == Capability.ENROLLMENT and request.subject:
        if any(s != request.subject for s in subjects):
            return out(
                "deny",
                R.PROBE_NO_CONSENTING_SUBJECT,
                "Only the subject being enrolled may be pictured in the enrollment image.",
            )
        if request.subject not in subjects:
            subjects.append(request.subject)
    if not subjects:
        return out(
            "deny",
            R.PROBE_NO_CONSENTING_SUBJECT,
            "The request names no registered, consenting person whose face it would use.",
        )

    states = [_consent_state(s, cap, purpose.id, consents, now) for s in subjects]
    refused = _refuse_on_consent(states, cap, purpose.id, out)
    if refused is not None:
        return refused
    return _allow(request, purpose, states, out, probe=False, extra_obligations=extra)


def _decide_claim(
    request: PolicyRequest,
    consents: Sequence[ConsentRecord],
    purpose: Purpose,
    subjects: list[str],
    now: datetime,
    out: _Out,
    extra_obligations: Sequence[Obligation] = (),
) -> Decision:
    """verify_identity: the probe is compared with the claimed subject's enrolled template only."""
    cap = request.capability
    claimed = request.claimed_subject
    if not claimed:
        return out(
            "deny",
            R.PROBE_REQUIRES_CLAIMED_IDENTITY,
            "A probe image can only be verified against an identity the person claims.",
        )
    others = [s for s in subjects if s != claimed]
    states = [_consent_state(s, cap, purpose.id, consents, now) for s in [claimed, *others]]
    claimed_state = states[0]
    if claimed_state.state == "revoked":
        return out(
            "deny",
            R.CONSENT_REVOKED,
            f"{claimed} withdrew consent to {cap.value} for {purpose.id}; the withdrawal applies at once.",
        )
    if claimed_state.state in ("expired", "incomplete"):
        # A consent that ran out (or lacks an element) is renewable by the person, who may be the one at the door:
        # needs_consent, so that a person present can renew it, never a refusal they cannot act on.
        return _renewable_claim(request, claimed_state, purpose, out)
    if claimed_state.state != "active":
        return out(
            "deny",
            R.PROBE_REQUIRES_CLAIMED_IDENTITY,
            f"The claimed identity {claimed!r} has no active consent to {cap.value} for {purpose.id}; "
            "a probe may only be verified against a consenting, enrolled identity.",
            missing=[MissingConsent(subject_id=claimed, capability=cap, purpose=purpose.id)],
        )
    template_purpose = request.claimed_template_purpose
    if not (request.claimed_subject_enrolled or template_purpose is not None):
        return out(
            "deny",
            R.PROBE_REQUIRES_CLAIMED_IDENTITY,
            f"The claimed identity {claimed!r} is not enrolled (no stored face template to verify against): "
            f"an operator enrols them with a photo they consented to (facegate enroll {claimed} PHOTO --purpose "
            f"{purpose.id}).",
        )
    problem, reuse = template_serves(claimed, template_purpose, purpose, consents, now)
    if problem is not None:
        return out("deny", R.PROBE_REQUIRES_CLAIMED_IDENTITY, problem)
    refused = _refuse_on_consent(states[1:], cap, purpose.id, out)
    if refused is not None:
        return refused
    return _allow(request, purpose, states, out, probe=True, extra_records=reuse, extra_obligations=extra_obligations)


def _renewable_claim(request: PolicyRequest, state: _SubjectConsent, purpose: Purpose, out: _Out) -> Decision:
    """verify_identity whose claimed identity's consent expired (or is incomplete): what a renewal needs.

    A template lives no longer than the enrollment consent it rests on (and the retention sweep deletes it), so
    an expired consent usually means the template is gone too: then renewing needs the enrollment consent as well,
    and the person must be enrolled again before a verification can run. The reason says so.
    """
    claimed = state.subject_id
    cap = request.capability
    missing = [MissingConsent(subject_id=claimed, capability=cap, purpose=purpose.id)]
    enrolled = request.claimed_subject_enrolled or request.claimed_template_purpose is not None
    if not enrolled and Capability.ENROLLMENT in purpose.allowed_capabilities:
        missing.append(MissingConsent(subject_id=claimed, capability=Capability.ENROLLMENT, purpose=purpose.id))
    what = "has expired" if state.state == "expired" else "lacks notice, purpose, term or evidence"
    then = (
        "Once it is renewed the check can run."
        if enrolled
        else f"Their face template lapsed with it: once consent is renewed, {claimed} must be enrolled again "
        f"(facegate enroll {claimed} PHOTO --purpose {purpose.id}) before a verification can run."
    )
    rule = R.CONSENT_EXPIRED if state.state == "expired" else R.CONSENT_INCOMPLETE
    return out(
        "needs_consent",
        rule,
        f"The consent of {claimed} to {cap.value} for {purpose.id} {what}; {claimed} can renew it. {then}",
        missing=missing,
    )


def template_serves(
    subject_id: str,
    template_purpose: str | None,
    purpose: Purpose,
    consents: Sequence[ConsentRecord],
    now: datetime,
) -> tuple[str | None, tuple[ConsentRecord, ...]]:
    """Whether ``subject_id``'s enrolled template (stored for ``template_purpose``) may serve ``purpose``.

    Purpose limitation (GDPR Art. 5(1)(b); BIPA 15(b)): a template stored for one purpose serves another only when
    the person also consented to enrollment for that one. Returns (why not, or None; the enrollment consents a
    reuse rests on).
    """
    if template_purpose is None or template_purpose == purpose.id:
        return None, ()
    enrolling = _consent_state(subject_id, Capability.ENROLLMENT, purpose.id, consents, now)
    if enrolling.state == "active" and Capability.ENROLLMENT in purpose.allowed_capabilities:
        return None, enrolling.records
    stored_for = template_purpose or "no recorded purpose"
    needs = (
        f"{subject_id}'s consent to enrollment for {purpose.id}"
        if Capability.ENROLLMENT in purpose.allowed_capabilities
        else f"a purpose that allows face templates ({purpose.id} does not)"
    )
    return (
        f"The face template of {subject_id!r} was enrolled for another purpose ({stored_for}); "
        f"using it for {purpose.id} needs {needs}.",
        (),
    )


def consent_state(
    subject_id: str, cap: Capability, purpose_id: str, consents: Sequence[ConsentRecord], now: datetime
) -> str:
    """``active``, ``revoked``, ``expired``, ``incomplete``, ``notice_missing`` or ``missing``: where the subject's
    consent to ``cap`` for ``purpose_id`` stands at ``now``."""
    return _consent_state(subject_id, cap, purpose_id, consents, now).state


def _consent_state(
    subject_id: str, cap: Capability, purpose_id: str, consents: Sequence[ConsentRecord], now: datetime
) -> _SubjectConsent:
    covering = [c for c in consents if c.subject_id == subject_id and c.covers(cap, purpose_id)]
    active = tuple(c for c in covering if c.active_at(now))
    if cap == Capability.EXPRESSION_ANALYSIS:
        # AI Act Art. 50(3): the person must have been told. Checked explicitly on the record that covers it.
        with_notice = tuple(c for c in active if c.notice and c.notice.strip())
        if with_notice:
            return _SubjectConsent(subject_id, "active", with_notice)
    elif active:
        return _SubjectConsent(subject_id, "active", active)
    complete = [c for c in covering if c.complete and c.granted_at <= now]
    if any(c.revoked_by(now) for c in complete):
        return _SubjectConsent(subject_id, "revoked")
    if any(c.expired_by(now) for c in complete):
        return _SubjectConsent(subject_id, "expired")
    live_incomplete = [c for c in covering if not c.complete and not c.revoked_by(now) and not c.expired_by(now)]
    if cap == Capability.EXPRESSION_ANALYSIS and any(c.missing_elements() == ["notice"] for c in live_incomplete):
        return _SubjectConsent(subject_id, "notice_missing")
    if live_incomplete:
        return _SubjectConsent(subject_id, "incomplete")
    return _SubjectConsent(subject_id, "missing")


def _refuse_on_consent(
    states: Sequence[_SubjectConsent], cap: Capability, purpose_id: str, out: _Out
) -> Decision | None:
    revoked = [s.subject_id for s in states if s.state == "revoked"]
    if revoked:
        return out(
            "deny",
            R.CONSENT_REVOKED,
            f"{', '.join(revoked)} withdrew consent to {cap.value} for {purpose_id}; the withdrawal applies at once.",
        )
    lacking = [s for s in states if s.state != "active"]
    if not lacking:
        return None
    missing = [MissingConsent(subject_id=s.subject_id, capability=cap, purpose=purpose_id) for s in lacking]
    names = ", ".join(s.subject_id for s in lacking)
    kinds = {s.state for s in lacking}
    if "notice_missing" in kinds:
        return out(
            "needs_consent",
            R.EXPRESSION_NOTICE_REQUIRED,
            f"Expression analysis of {names} needs a consent with a recorded notice telling the person that "
            "their expressions are analysed.",
            missing=missing,
        )
    if cap == Capability.LLM_IMAGE_SHARING:
        return out(
            "needs_consent",
            R.DISCLOSURE_LLM_IMAGE,
            f"Sending a face image of {names} to the assistant is a disclosure that needs its own consent "
            f"(llm_image_sharing for {purpose_id}).",
            missing=missing,
        )
    if "expired" in kinds:
        return out(
            "needs_consent",
            R.CONSENT_EXPIRED,
            f"The consent of {names} to {cap.value} for {purpose_id} has expired.",
            missing=missing,
        )
    if "incomplete" in kinds:
        return out(
            "needs_consent",
            R.CONSENT_INCOMPLETE,
            f"The consent on record for {names} lacks notice, purpose, term or evidence, so it does not count.",
            missing=missing,
        )
    return out(
        "needs_consent",
        R.CONSENT_MISSING,
        f"No consent of {names} to {cap.value} for {purpose_id} is on record.",
        missing=missing,
    )


def _allow(
    request: PolicyRequest,
    purpose: Purpose,
    states: Sequence[_SubjectConsent],
    out: _Out,
    *,
    probe: bool,
    extra_records: Sequence[ConsentRecord] = (),
    extra_obligations: Sequence[Obligation] = (),
) -> Decision:
    obligations: list[Obligation] = list(extra_obligations)
    if probe:
        obligations.append(Obligation(kind="do_not_retain_probe", value=True))
    if request.capability == Capability.EXPRESSION_ANALYSIS:
        obligations.append(Obligation(kind="expression_caveat", value=True))
        notices = sorted({r.notice for s in states for r in s.records if r.notice})
        obligations.append(Obligation(kind="record_notice", value=" | ".join(notices)))
    consent_ids = sorted({r.id for s in states for r in s.records} | {r.id for r in extra_records})
    if purpose.high_risk:
        factor = purpose.verification_threshold_factor
        if factor is not None and request.capability == Capability.FACE_VERIFICATION:
            obligations.append(Obligation(kind="verification_threshold_factor", value=factor))
        if purpose.human_review:
            obligations.append(Obligation(kind="human_review", value=True))
        return out(
            "allow",
            R.HIGHRISK_OBLIGATIONS,
            f"Consent is on record; {purpose.id} is a high-risk purpose, so the result carries obligations "
            "(stricter threshold, human review).",
            obligations=obligations,
            consent_ids=consent_ids,
        )
    return out(
        "allow",
        R.CONSENT_ACTIVE,
        f"Active consent to {request.capability.value} for {purpose.id} is on record for everyone pictured.",
        obligations=obligations,
        consent_ids=consent_ids,
    )
