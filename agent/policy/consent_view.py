"""How a consent record reads to a person at a given time: its status and a JSON-safe view.

Pure functions of a :class:`ConsentRecord` and ``now``: the consent-status tool, the CLI and subject exports
all show records through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agent.clock import iso
from agent.policy.capabilities import CONSENTABLE
from agent.policy.models import ConsentRecord, Evidence

ConsentStatus = Literal["active", "revoked", "expired", "incomplete", "pending"]


class ConsentView(BaseModel):
    """One consent record as shown to people and to the reasoner. Times are ISO-8601 strings (UTC)."""

    model_config = ConfigDict(frozen=True)

    id: str
    subject_id: str
    status: ConsentStatus
    capabilities: list[str]
    purposes: list[str]
    notice: str | None
    evidence: Evidence | None
    granted_at: str
    expires_at: str | None
    revoked_at: str | None
    retention_days: int | None


def consent_status(record: ConsentRecord, now: datetime) -> ConsentStatus:
    if record.revoked_by(now):
        return "revoked"
    if not record.complete:
        return "incomplete"
    if record.expired_by(now):
        return "expired"
    if record.granted_at > now:
        return "pending"
    return "active"


def view_consent(record: ConsentRecord, now: datetime) -> ConsentView:
    """A record with its status at ``now``."""
    return ConsentView(
        id=record.id,
        subject_id=record.subject_id,
        status=consent_status(record, now),
        capabilities=sorted(c.value for c in record.capabilities),
        purposes=sorted(record.purposes),
        notice=record.notice,
        # passed as is (instances are not validated again): a row written before blank evidence was refused
        # is shown as recorded
        evidence=record.evidence,
        granted_at=iso(record.granted_at),
        expires_at=iso(record.expires_at) if record.expires_at else None,
        revoked_at=iso(record.revoked_at) if record.revoked_at else None,
        retention_days=record.retention_days,
    )


def view_consents(records: Sequence[ConsentRecord], now: datetime) -> list[ConsentView]:
    return [view_consent(r, now) for r in records]


def records_for_purpose(records: Iterable[ConsentRecord], purpose: str | None) -> list[ConsentRecord]:
    """The records covering ``purpose``: what a consent lookup under the ``limit_to_purpose`` obligation may
    show (None: no limit)."""
    return [r for r in records if purpose is None or purpose in r.purposes]


def consent_coverage(
    records: Iterable[ConsentRecord], subject: str, purpose: str, now: datetime
) -> tuple[list[str], list[str]]:
    """What an assistant may learn of a person's consent: the consentable capabilities an active consent for
    ``purpose`` covers, and those it does not (``(covered, missing)``). Nothing else of the records."""
    covered = {
        c.value
        for r in records
        if r.subject_id == subject and purpose in r.purposes and r.active_at(now)
        for c in r.capabilities
        if c in CONSENTABLE
    }
    return sorted(covered), sorted(c.value for c in CONSENTABLE if c.value not in covered)
