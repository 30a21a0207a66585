"""Consent services shared by the SDK and the CLI: grant (checked against the purpose catalogue), revoke,
and a readable status of each record."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from agent.clock import utcnow
from agent.errors import InvalidConsent, UnknownPurpose
from agent.policy import Capability
from agent.policy.consent_view import ConsentStatus, consent_status, records_for_purpose, view_consent
from agent.policy.models import ConsentRecord, Evidence, Policy
from agent.store import ConsentGrant, Store


def grant_consent(
    store: Store,
    policy: Policy,
    *,
    subject_id: str,
    capabilities: Iterable[Capability | str],
    purposes: Iterable[str],
    notice: str | None,
    evidence_method: str | None,
    recorded_by: str | None,
    evidence_reference: str | None = None,
    expires_at: datetime | None = None,
    term_days: int | None = None,
    retention_days: int | None = None,
    actor: str,
    now: datetime | None = None,
    asked_at_seq: int | None = None,
) -> ConsentRecord:
    """Record a consent after checking its purposes against the catalogue.

    ``asked_at_seq``: the audit row of the question a paused run asked (the answer must not register a person
    erased since: :class:`ErasedDuringTurn`).

    Raises:
        UnknownPurpose: a purpose is not in the catalogue.
        InvalidConsent: the record lacks notice, purpose, term or evidence, names a capability no one can
            consent to, or a capability none of its purposes allows.
    """
    now = now or utcnow()
    try:
        caps = frozenset(Capability(c) for c in capabilities)
    except ValueError as exc:
        raise InvalidConsent(f"unknown capability: {exc}") from exc
    purpose_set = frozenset(p.strip() for p in purposes if p.strip())
    unknown = sorted(p for p in purpose_set if p not in policy.purposes)
    if unknown:
        raise UnknownPurpose(
            f"unknown purpose {', '.join(unknown)} (known: {', '.join(sorted(policy.purposes))})",
            purposes=unknown,
        )
    allowed = {c for p in purpose_set for c in policy.purposes[p].allowed_capabilities}
    useless = sorted(c.value for c in caps if c not in allowed)
    if purpose_set and useless:
        raise InvalidConsent(
            f"{', '.join(useless)} is not allowed for {', '.join(sorted(purpose_set))}; the consent would never apply",
            capabilities=useless,
        )
    # Whitespace is no evidence (BIPA 15(b)), as a blank notice is no notice: both checks strip.
    method = (evidence_method or "").strip()
    by = (recorded_by or "").strip()
    evidence = (
        Evidence(method=method, recorded_by=by, reference=(evidence_reference or "").strip() or None)
        if method and by
        else None
    )
    try:
        grant = ConsentGrant(
            subject_id=subject_id,
            capabilities=caps,
            purposes=purpose_set,
            notice=notice.strip() if notice else notice,
            evidence=evidence,
            expires_at=expires_at,
            term_days=term_days,
            retention_days=retention_days,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidConsent(f"{field}: {first['msg']}") from exc
    return store.grant_consent(grant, actor=actor, now=now, asked_at_seq=asked_at_seq)


def revoke_consent(
    store: Store,
    *,
    subject_id: str,
    actor: str,
    consent_id: str | None = None,
    capability: Capability | str | None = None,
    now: datetime | None = None,
    session_id: str | None = None,
) -> list[ConsentRecord]:
    """Withdraw consent at once (templates no longer covered are deleted in the same transaction)."""
    cap = Capability(capability) if capability is not None else None
    return store.revoke_consent(
        subject_id, actor=actor, consent_id=consent_id, capability=cap, now=now, session_id=session_id
    )


def describe_consent(record: ConsentRecord, now: datetime) -> dict[str, Any]:
    """A JSON-safe view of a record with its status at ``now`` (:func:`agent.policy.consent_view.view_consent`)."""
    return view_consent(record, now).model_dump(mode="json")


def describe_consents(records: Sequence[ConsentRecord], now: datetime) -> list[dict[str, Any]]:
    return [describe_consent(r, now) for r in records]


__all__ = [
    "ConsentStatus",
    "consent_status",
    "describe_consent",
    "describe_consents",
    "grant_consent",
    "records_for_purpose",
    "revoke_consent",
]
