"""The policy package's data: consent records as policy sees them, purposes, requests and decisions.

Pure pydantic models; nothing here touches a database, an image or a model. The store turns its rows into
:class:`ConsentRecord` objects and passes them to :func:`agent.policy.decide`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.policy.capabilities import Capability
from tools.provenance.models import ProvenanceReport

PurposeContext = Literal["commercial", "workplace", "education", "healthcare", "public_space", "security", "research"]
Outcome = Literal["allow", "deny", "needs_consent"]
ObligationKind = Literal[
    "verification_threshold_factor",
    "human_review",
    "do_not_retain_probe",
    "expression_caveat",
    "record_notice",
    "limit_to_purpose",
    "spend_liveness_nonce",
]
# When a purpose needs something of an image's provenance. "when_anchors_configured": only where the operator
# configured trust anchors (FACEGATE_TRUST_ANCHORS); without anchors no signer can be trusted, so requiring a
# trusted capture there would refuse everything.
Requirement = Literal["never", "when_anchors_configured", "always"]
# A liveness nonce as the store knows it at decision time: issued and unused ("fresh"), already used ("spent":
# a replay), past its expiry, issued for another purpose or person ("mismatch"), or never issued by facegate.
NonceStatus = Literal["fresh", "spent", "expired", "mismatch", "unknown"]


def _require_aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Evidence(_Frozen):
    """How and by whom a consent was recorded (e.g. a signed form, a click-through, a recorded verbal yes)."""

    method: str = Field(min_length=1)
    recorded_by: str = Field(min_length=1)
    reference: str | None = None

    @field_validator("method", "recorded_by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # " " is not evidence (BIPA 15(b)): the same rule as a blank notice.
        if not value.strip():
            raise ValueError("must contain text, not only whitespace")
        return value.strip()


class ConsentRecord(_Frozen):
    """One consent as recorded.

    A record lacking notice, purpose, term or evidence is not consent (BIPA 15(b)).
    """

    id: str
    subject_id: str
    capabilities: frozenset[Capability]
    purposes: frozenset[str]
    notice: str | None
    evidence: Evidence | None
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = None
    retention_days: int | None = None

    _aware = field_validator("granted_at", "expires_at", "revoked_at")(_require_aware)

    def missing_elements(self) -> list[str]:
        """What this record lacks to count as consent: any of notice, purpose, term, evidence."""
        missing = []
        if not (self.notice and self.notice.strip()):
            missing.append("notice")
        if not self.purposes or not all(p.strip() for p in self.purposes):
            missing.append("purpose")
        if self.expires_at is None:
            missing.append("term")
        # a blank method or recorder (a row written before Evidence refused them) is no evidence
        if self.evidence is None or not (self.evidence.method.strip() and self.evidence.recorded_by.strip()):
            missing.append("evidence")
        return missing

    @property
    def complete(self) -> bool:
        return not self.missing_elements()

    def covers(self, capability: Capability, purpose: str) -> bool:
        return capability in self.capabilities and purpose in self.purposes

    def revoked_by(self, now: datetime) -> bool:
        return self.revoked_at is not None and self.revoked_at <= now

    def expired_by(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def active_at(self, now: datetime) -> bool:
        """Complete, already granted, not revoked and not expired at ``now``."""
        return self.complete and self.granted_at <= now and not self.revoked_by(now) and not self.expired_by(now)


class Purpose(_Frozen):
    """A purpose from the catalogue: the context it is pursued in and what it may use."""

    id: str
    description: str
    context: PurposeContext
    allowed_capabilities: frozenset[Capability]
    medical_or_safety: bool = False
    high_risk: bool = False
    retention_days: int = Field(gt=0)
    # Verifications for this purpose use this fraction of the model's own threshold for its metric (only ever
    # stricter: at most 1). A factor, not a distance: distances differ by model and metric.
    verification_threshold_factor: float | None = Field(default=None, gt=0, le=1)
    human_review: bool = False
    # Provenance (C2PA): every image of every face tool must be a capture by a trusted signer; verification
    # must carry a trusted liveness attestation bound to a fresh nonce.
    require_trusted_capture: Requirement = "never"
    require_liveness: Requirement = "never"

    def requires_trusted_capture(self, *, anchors_configured: bool) -> bool:
        return _required(self.require_trusted_capture, anchors_configured)

    def requires_liveness(self, *, anchors_configured: bool) -> bool:
        return _required(self.require_liveness, anchors_configured)

    def requires_provenance(self, *, anchors_configured: bool) -> bool:
        """Whether a request for this purpose depends on the provenance check having run (without the optional
        extra it must then fail loudly instead of reporting ``not_checked``)."""
        return self.requires_trusted_capture(anchors_configured=anchors_configured) or self.requires_liveness(
            anchors_configured=anchors_configured
        )


def _required(requirement: Requirement, anchors_configured: bool) -> bool:
    return requirement == "always" or (requirement == "when_anchors_configured" and anchors_configured)


class Policy(_Frozen):
    """The loaded purpose catalogue and policy file. ``hash`` is the sha256 of the file's bytes."""

    version: str
    purposes: dict[str, Purpose]
    sensitive_attributes: frozenset[str]
    hash: str
    source: str = "default"


class ImageRef(_Frozen):
    """An image a request touches: its handle, content hash and whose face it is (None: a probe).

    ``provenance`` is the image's C2PA report (None: not checked). ``liveness_nonce`` is what the store said
    about the nonce in the report's liveness assertion (None: no assertion, or nobody looked it up).
    """

    handle: str
    sha256: str
    subject_id: str | None = None
    provenance: ProvenanceReport | None = None
    liveness_nonce: NonceStatus | None = None


class StatedPurpose(_Frozen):
    """A use of the conversation that the person stated in it ("this is for our marketing campaign now"), as
    policy reads it: what was said (a short label from the purpose phrase list, never the person's text), the
    catalogue purposes it can mean (none: no purpose in the catalogue covers it), and who reported it (found in
    the person's message, or reported by the model). It never changes a session's purpose: a stated purpose
    that is not the session's stops the session's tool calls (``purpose.conversation_mismatch``)."""

    label: str = Field(max_length=80)
    purposes: tuple[str, ...] = ()
    source: Literal["person", "model"] = "person"

    def restates(self, purpose: str) -> bool:
        """The statement is about ``purpose`` (e.g. "for access control as usual" in an access-control session)."""
        return purpose in self.purposes


class PolicyRequest(_Frozen):
    """What someone wants to do. ``tool``: a name from :mod:`agent.policy.tool_specs`, or ``"enroll"``."""

    tool: str
    capability: Capability
    purpose: str
    images: list[ImageRef] = Field(default_factory=list)
    claimed_subject: str | None = None
    subject: str | None = None
    requested_attributes: list[str] = Field(default_factory=list)
    claimed_subject_enrolled: bool = False
    # The purpose recorded on the claimed subject's usable template (None: no template; "": a template stored
    # without a purpose). A template serves the purpose it was enrolled for, or one the person has also
    # consented to enrollment for.
    claimed_template_purpose: str | None = None
    session_id: str = ""
    actor: str = "unknown"
    # Whether the operator configured trust anchors: decides purposes that require a trusted capture or
    # liveness "when_anchors_configured".
    trust_anchors_configured: bool = False
    # The use the person stated in the conversation, if it differs from the session's purpose: every tool call
    # of the session is refused (the session's purpose is the caller's and never changes; a new conversation
    # with the stated purpose is the way on).
    stated_purpose: StatedPurpose | None = None
    # The subjects the caller labelled this conversation's images with: a consent lookup tells the assistant
    # about them only (least disclosure), never about anyone else on record.
    pictured_subjects: tuple[str, ...] = ()


class Obligation(_Frozen):
    """Something whoever acts on an ``allow`` must do (a stricter threshold, a human-review flag, ...).

    ``verification_threshold_factor`` (value: a fraction in (0, 1]): the verification must use at most this
    fraction of the face model's own threshold for its metric (and never a looser one than the operator's).

    ``limit_to_purpose`` (value: a purpose id): a consent lookup may show only the records covering that
    purpose, the session's; another purpose's records are not this session's business.

    ``spend_liveness_nonce`` (value: the nonce): the liveness nonce this allow rests on must be spent, atomically,
    before the tool runs (:func:`agent.capture.settle_liveness`); if it cannot be, the call is refused.
    """

    kind: ObligationKind
    value: float | str | bool | None = None


class MissingConsent(_Frozen):
    """A consent that, once recorded, would let the request go on."""

    subject_id: str
    capability: Capability
    purpose: str


class Decision(_Frozen):
    """The policy's answer. ``rule_id`` is stable (see :data:`agent.policy.rules.RULES`)."""

    outcome: Outcome
    rule_id: str
    reason: str
    obligations: list[Obligation] = Field(default_factory=list)
    missing: list[MissingConsent] = Field(default_factory=list)
    policy_hash: str
    consent_ids: list[str] = Field(default_factory=list)  # the records the allow rests on

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"

    def obligation(self, kind: ObligationKind) -> Obligation | None:
        """The first obligation of ``kind``, if any."""
        return next((o for o in self.obligations if o.kind == kind), None)
