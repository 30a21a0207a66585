"""The store's data: consent grants as callers submit them, templates, audit events and reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.errors import InvalidConsent
from agent.policy.capabilities import CONSENTABLE, Capability
from agent.policy.models import Evidence
from agent.policy.subject_id import SUBJECT_ID_PATTERN, SubjectId, check_subject_id
from tools.results import EmbeddingRecipe

# SUBJECT_ID_PATTERN and check_subject_id are defined in agent.policy.subject_id; re-exported for old callers.
__all__ = [
    "MAX_DAYS",
    "SUBJECT_ID_PATTERN",
    "AuditEntry",
    "AuditEvent",
    "AuditKind",
    "AuditVerifyReport",
    "ConsentGrant",
    "SubjectInfo",
    "SweepReport",
    "Template",
    "TemplateInfo",
    "check_subject_id",
    "latest_expiry",
]

# The longest term or retention period facegate records (100 years): longer is a typo, and past year 9999 the
# expiry cannot even be represented.
MAX_DAYS = 36_500

AuditKind = Literal[
    "decision",
    "tool_run",
    "consent_grant",
    "consent_revoke",
    "enrollment",
    "erasure",
    "retention_sweep",
    "eval_run",
    "session",
    "subject_export",
    "capture_nonce",
    "api_key",
]


def latest_expiry(now: datetime) -> datetime:
    """The latest expiry a consent granted at ``now`` may have: ``MAX_DAYS`` later (or the last representable
    time, near year 9999)."""
    try:
        return now + timedelta(days=MAX_DAYS)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


class ConsentGrant(BaseModel):
    """A consent to record. ``expires_at`` or ``term_days`` gives the term; one of them is required."""

    model_config = ConfigDict(extra="forbid")

    subject_id: SubjectId
    capabilities: frozenset[Capability]
    purposes: frozenset[str]
    notice: str | None = None
    evidence: Evidence | None = None
    expires_at: datetime | None = None
    term_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    retention_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        return value

    def resolved_expiry(self, now: datetime) -> datetime | None:
        if self.expires_at is not None:
            return self.expires_at
        if self.term_days is not None:
            try:
                return now + timedelta(days=self.term_days)
            except OverflowError:  # only with a ``now`` near year 9999
                raise InvalidConsent(f"term_days: {self.term_days} days from now is past year 9999") from None
        return None

    def check_complete(self, now: datetime) -> datetime:
        """Raise InvalidConsent unless this grant is consent (BIPA 15(b)); returns the expiry."""
        missing = []
        if not self.capabilities:
            missing.append("capability")
        if not self.purposes or not all(p.strip() for p in self.purposes):
            missing.append("purpose")
        if not (self.notice and self.notice.strip()):
            missing.append("notice")
        if self.evidence is None or not (self.evidence.method.strip() and self.evidence.recorded_by.strip()):
            missing.append("evidence")  # blank method or recorder: only a model_construct'ed Evidence gets here
        expiry = self.resolved_expiry(now)
        if expiry is None:
            missing.append("term (expires_at or term_days)")
        if missing:
            raise InvalidConsent(
                f"not a valid consent: missing {', '.join(missing)}", missing=missing, subject=self.subject_id
            )
        assert expiry is not None
        never = sorted(c.value for c in self.capabilities - CONSENTABLE)
        if never:
            raise InvalidConsent(f"no one can consent to {', '.join(never)}", capabilities=never)
        if expiry <= now:
            raise InvalidConsent(
                "the consent's term has already ended (the expiry must be after the grant time)",
                expires_at=expiry.isoformat(),
            )
        if expiry > latest_expiry(now):
            raise InvalidConsent(
                f"the consent's term is longer than {MAX_DAYS} days (expires {expiry.date().isoformat()})",
                expires_at=expiry.isoformat(),
            )
        return expiry


class TemplateInfo(BaseModel):
    """A stored face template's metadata (no vector)."""

    model_config = ConfigDict(frozen=True)

    id: str
    subject_id: str
    model: str
    detector: str
    dim: int
    template_sha256: str
    image_sha256: str
    purpose: str | None
    consent_id: str | None
    created_at: datetime
    expires_at: datetime
    # how the vector was computed; for a template stored before recipes were recorded, one whose
    # ``recorded`` is False (it matches no engine: enrol again)
    recipe: EmbeddingRecipe


class Template(TemplateInfo):
    """A stored template with its vector. The vector is biometric data: excluded from repr and dumps."""

    vector: tuple[float, ...] = Field(repr=False, exclude=True)


class SubjectInfo(BaseModel):
    """A subject's registry row. ``erased_at`` is the last erasure and stays after the person comes back (a new
    consent): ``reregistered_at`` then says when, and :attr:`erased` whether they are erased now."""

    model_config = ConfigDict(frozen=True)

    id: str
    created_at: datetime
    erased_at: datetime | None
    reregistered_at: datetime | None = None

    @property
    def erased(self) -> bool:
        """Erased and not registered again since."""
        return self.erased_at is not None and (self.reregistered_at is None or self.reregistered_at <= self.erased_at)


def _no_biometrics(value: Any, depth: int = 0) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        raise ValueError("audit summaries never hold raw bytes (pixels, embeddings)")
    if isinstance(value, list | tuple):
        if len(value) > 32 and all(isinstance(v, float) for v in value):
            raise ValueError("audit summaries never hold embedding vectors")
        for v in value:
            _no_biometrics(v, depth + 1)
    if isinstance(value, dict):
        for v in value.values():
            _no_biometrics(v, depth + 1)
    if isinstance(value, str) and len(value) > 4096:
        raise ValueError("audit summary strings are capped at 4096 characters (no base64 images)")
    return value


class AuditEvent(BaseModel):
    """One thing that happened. Never pixels or embeddings: inputs appear only as content hashes."""

    model_config = ConfigDict(extra="forbid")

    kind: AuditKind
    actor: str
    session_id: str | None = None
    purpose: str | None = None
    subjects: list[str] = Field(default_factory=list)
    capability: str | None = None
    outcome: str | None = None
    rule_id: str | None = None
    policy_hash: str | None = None
    input_hashes: list[str] = Field(default_factory=list)
    summary: dict[str, Any] = Field(default_factory=dict)
    ts: datetime | None = Field(default=None, description="When it happened; default: the time of appending.")

    @field_validator("summary")
    @classmethod
    def _summary_safe(cls, value: dict[str, Any]) -> dict[str, Any]:
        _no_biometrics(value)
        return value


class AuditEntry(AuditEvent):
    """An appended event with its place in the chain."""

    seq: int
    ts: datetime  # type: ignore[assignment]
    prev_hash: str
    row_hash: str

    @property
    def audit_id(self) -> str:
        """The id replies and events cite for this row: its sequence number."""
        return str(self.seq)


class AuditVerifyReport(BaseModel):
    ok: bool
    rows: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head_hash: str
    elapsed_ms: float = 0.0


class SweepReport(BaseModel):
    templates_deleted: int
    subjects: list[str]
    audit_seq: int
