"""Builders for policy tests: consent records, image refs and requests at a fixed ``NOW``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from agent.policy import Capability, ConsentRecord, Evidence, ImageRef, Policy, PolicyRequest, load_policy

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
POLICY = load_policy()
EVIDENCE = Evidence(method="signed_form", recorded_by="alice-the-operator", reference="form-17")
_MISSING = object()


def days(n: float) -> timedelta:
    return timedelta(days=n)


def consent(
    subject: str,
    caps: Iterable[str],
    purposes: Iterable[str],
    *,
    notice: str | object | None = "v1: your face is compared with your enrolled photo",
    evidence: Evidence | object | None = EVIDENCE,
    granted: datetime = NOW - days(30),
    expires: datetime | object | None = NOW + days(300),
    revoked: datetime | None = None,
    cid: str | None = None,
) -> ConsentRecord:
    return ConsentRecord(
        id=cid or f"c-{subject}-{'-'.join(sorted(caps))}-{'-'.join(sorted(purposes))}-{granted.timestamp():.0f}",
        subject_id=subject,
        capabilities=frozenset(Capability(c) for c in caps),
        purposes=frozenset(purposes),
        notice=notice,  # type: ignore[arg-type]
        evidence=evidence,  # type: ignore[arg-type]
        granted_at=granted,
        expires_at=expires,  # type: ignore[arg-type]
        revoked_at=revoked,
    )


def img(subject: str | None, handle: str | None = None) -> ImageRef:
    name = handle or f"img_{subject or 'probe'}"
    return ImageRef(handle=name, sha256=(name.encode().hex() * 64)[:64], subject_id=subject)


def request(tool: str, capability: str, purpose: str, images: Iterable[ImageRef] = (), **kw: object) -> PolicyRequest:
    return PolicyRequest(
        tool=tool,
        capability=Capability(capability),
        purpose=purpose,
        images=list(images),
        session_id="s-test",
        actor="tester",
        **kw,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Case:
    """One row of the rule table (tests/test_policy_rules.py): a request, the consents, what must be decided."""

    rule: str  # the rule this case exercises
    name: str
    req: PolicyRequest
    consents: list[ConsentRecord]
    outcome: str
    rule_id: str
    obligations: dict[str, object] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    policy: Policy | None = None  # None: the shipped catalogue

    @property
    def id(self) -> str:
        return f"{self.rule}:{self.name}"

    @property
    def policy_or_default(self) -> Policy:
        return self.policy or POLICY
