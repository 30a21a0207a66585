"""The one audit writer: every kind of audit row facegate writes is built here, and only here.

The nodes, the SDK, enrollment, subject rights, evaluations and the store itself all write through an
:class:`AuditWriter` (the store's is ``store.writer``; the graph's deps carry the same one). One method per kind
of row, so a decision reads the same whether the graph, enrollment or a future MCP server made it. Rows hold
content hashes, handles and subject ids, never pixels or embeddings (:class:`AuditEvent` refuses them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from agent.clock import iso
from agent.policy.capabilities import Capability
from agent.policy.models import ConsentRecord, Decision, ImageRef, PolicyRequest
from agent.store.audit import AuditLog
from agent.store.models import AuditEntry, AuditEvent, AuditKind


def _subjects(names: Iterable[str | None]) -> list[str]:
    return sorted({n for n in names if n})


def request_subjects(request: PolicyRequest) -> list[str]:
    """Everyone a request concerns: the people pictured, the claimed identity and the looked-up subject."""
    return _subjects([*(i.subject_id for i in request.images), request.claimed_subject, request.subject])


def _about(
    request: PolicyRequest,
    kind: AuditKind,
    outcome: str,
    decision: Decision,
    ts: datetime | None,
    summary: dict[str, Any],
) -> AuditEvent:
    """A row about a policy request: who asked what, for whom, on which images, under which rule."""
    return AuditEvent(
        kind=kind,
        actor=request.actor,
        session_id=request.session_id or None,
        purpose=request.purpose,
        subjects=request_subjects(request),
        capability=request.capability.value,
        outcome=outcome,
        rule_id=decision.rule_id,
        policy_hash=decision.policy_hash,
        input_hashes=[i.sha256 for i in request.images],
        ts=ts,
        summary=summary,
    )


def _provenance_summary(request: PolicyRequest) -> dict[str, Any]:
    """The C2PA provenance each image was decided on (state, signer, source type, liveness; never pixels)."""
    return {
        img.handle: {**img.provenance.summary(), **({"nonce": img.liveness_nonce} if img.liveness_nonce else {})}
        for img in request.images
        if img.provenance is not None
    }


class AuditSink(Protocol):
    """Where rows go: an :class:`AuditLog` (or a wrapper around one, e.g. the overhead benchmark's timer)."""

    def append(self, event: AuditEvent) -> AuditEntry: ...


class AuditWriter:
    """Builds and appends audit rows. Appends join the caller's store transaction when one is open."""

    def __init__(self, log: AuditLog) -> None:
        self.log: AuditSink = log

    def append(self, event: AuditEvent) -> AuditEntry:
        """The one append every row goes through."""
        return self.log.append(event)

    # --- decisions ---------------------------------------------------------------------------------------

    def decision(
        self,
        request: PolicyRequest,
        decision: Decision,
        *,
        call_id: str | None = None,
        note: str | None = None,
        extra: Mapping[str, Any] | None = None,
        ts: datetime | None = None,
    ) -> AuditEntry:
        """The row of a policy decision: who asked what, for whom, and which rule answered."""
        summary: dict[str, Any] = {"tool": request.tool}
        if call_id is not None:
            summary["call_id"] = call_id
        summary.update(
            reason=decision.reason,
            obligations=[o.model_dump(mode="json") for o in decision.obligations],
            missing=[m.model_dump(mode="json") for m in decision.missing],
            consent_ids=list(decision.consent_ids),
            images=[{"handle": i.handle, "subject": i.subject_id} for i in request.images],
            probes=sum(1 for i in request.images if i.subject_id is None),
        )
        provenance = _provenance_summary(request)
        if provenance:
            summary["provenance"] = provenance
        if request.requested_attributes:
            summary["requested_attributes"] = list(request.requested_attributes)
        if note:
            summary["note"] = note
        summary.update(extra or {})
        return self.append(_about(request, "decision", decision.outcome, decision, ts, summary))

    def refusal(
        self,
        *,
        actor: str,
        session_id: str | None,
        purpose: str | None,
        tool: str,
        rule_id: str,
        reason: str,
        policy_hash: str,
        call_id: str | None = None,
        subjects: Iterable[str] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """A denial made around :func:`decide` rather than by it: a call too malformed to put to policy, or an
        answer a guard withheld. ``tool`` and ``reason`` may come from a model: callers bound them."""
        summary: dict[str, Any] = {"tool": tool}
        if call_id is not None:
            summary["call_id"] = call_id
        summary["reason"] = reason
        summary.update(extra or {})
        return self.append(
            AuditEvent(
                kind="decision",
                actor=actor,
                session_id=session_id or None,
                purpose=purpose,
                subjects=_subjects(subjects),
                outcome="deny",
                rule_id=rule_id,
                policy_hash=policy_hash,
                summary=summary,
            )
        )

    # --- tool runs ---------------------------------------------------------------------------------------

    def tool_run(
        self,
        request: PolicyRequest,
        decision: Decision,
        *,
        error_code: str | None,
        call_id: str | None = None,
        summary: Mapping[str, Any] | None = None,
        ts: datetime | None = None,
    ) -> AuditEntry:
        """The row of a tool that ran (or failed) on an allow decision; ``summary``: the tool's own figures."""
        body: dict[str, Any] = {"tool": request.tool}
        if call_id is not None:
            body["call_id"] = call_id
        body.update(summary or {})
        if error_code is not None:
            body["error"] = error_code
        outcome = "ok" if error_code is None else f"error:{error_code}"
        return self.append(_about(request, "tool_run", outcome, decision, ts, body))

    # --- sessions ----------------------------------------------------------------------------------------

    def images_attached(
        self, *, actor: str, session_id: str, purpose: str, images: Sequence[ImageRef]
    ) -> AuditEntry | None:
        """The row naming the people whose images were attached to a conversation (None when only probes were:
        a probe names nobody). Export and erasure find a person's conversations through rows like it."""
        labelled = [i for i in images if i.subject_id]
        if not labelled:
            return None
        return self.append(
            AuditEvent(
                kind="session",
                actor=actor,
                session_id=session_id,
                purpose=purpose,
                subjects=_subjects(i.subject_id for i in labelled),
                outcome="images_attached",
                input_hashes=[i.sha256 for i in labelled],
                summary={
                    "event": "images_attached",
                    "images": [{"handle": i.handle, "subject": i.subject_id} for i in labelled],
                },
            )
        )

    # --- the registry: consents, templates, retention, erasure, export ------------------------------------

    def consent_granted(
        self, record: ConsentRecord, *, actor: str, ts: datetime, reregistered_after: datetime | None = None
    ) -> AuditEntry:
        return self.append(
            AuditEvent(
                kind="consent_grant",
                actor=actor,
                purpose=next(iter(record.purposes)) if len(record.purposes) == 1 else None,
                subjects=[record.subject_id],
                capability=",".join(sorted(c.value for c in record.capabilities)),
                outcome="granted",
                ts=ts,
                summary={
                    "consent_id": record.id,
                    "capabilities": sorted(c.value for c in record.capabilities),
                    "purposes": sorted(record.purposes),
                    "notice": record.notice,
                    "evidence": record.evidence.model_dump() if record.evidence else None,
                    "expires_at": iso(record.expires_at) if record.expires_at else None,
                    "retention_days": record.retention_days,
                    **({"reregistered_after_erasure_at": iso(reregistered_after)} if reregistered_after else {}),
                },
            )
        )

    def consent_revoked(
        self,
        subject_id: str,
        *,
        actor: str,
        ts: datetime,
        session_id: str | None,
        capability: Capability | None,
        consent_ids: Sequence[str],
        successor_ids: Sequence[str],
        templates_deleted: int,
    ) -> AuditEntry:
        return self.append(
            AuditEvent(
                kind="consent_revoke",
                actor=actor,
                session_id=session_id,
                subjects=[subject_id],
                capability=capability.value if capability else None,
                outcome="revoked",
                ts=ts,
                summary={
                    "consent_ids": list(consent_ids),
                    "successor_consent_ids": list(successor_ids),
                    "templates_deleted": templates_deleted,
                },
            )
        )

    def template_saved(
        self,
        subject_id: str,
        *,
        actor: str,
        ts: datetime,
        session_id: str | None,
        purpose: str | None,
        image_sha256: str,
        rule_id: str | None,
        policy_hash: str | None,
        summary: Mapping[str, Any],
    ) -> AuditEntry:
        return self.append(
            AuditEvent(
                kind="enrollment",
                actor=actor,
                session_id=session_id,
                purpose=purpose,
                subjects=[subject_id],
                capability=Capability.ENROLLMENT.value,
                outcome="enrolled",
                rule_id=rule_id,
                policy_hash=policy_hash,
                input_hashes=[image_sha256],
                ts=ts,
                summary=dict(summary),
            )
        )

    def retention_swept(self, per_subject: Mapping[str, int], *, actor: str, ts: datetime) -> AuditEntry:
        affected = [s for s, n in per_subject.items() if n]
        total = sum(per_subject.values())
        return self.append(
            AuditEvent(
                kind="retention_sweep",
                actor=actor,
                subjects=affected,
                outcome=f"deleted {total} template(s)",
                ts=ts,
                summary={"templates_deleted": total, "per_subject": {s: per_subject[s] for s in affected}},
            )
        )

    def erased(self, subject_id: str, *, actor: str, ts: datetime, summary: Mapping[str, Any]) -> AuditEntry:
        return self.append(
            AuditEvent(
                kind="erasure", actor=actor, subjects=[subject_id], outcome="erased", ts=ts, summary=dict(summary)
            )
        )

    def exported(self, subject_id: str, *, actor: str, ts: datetime, summary: Mapping[str, Any]) -> AuditEntry:
        return self.append(
            AuditEvent(
                kind="subject_export",
                actor=actor,
                subjects=[subject_id],
                outcome="exported",
                ts=ts,
                summary=dict(summary),
            )
        )

    def nonce_issued(
        self,
        *,
        actor: str,
        session_id: str | None,
        purpose: str,
        subject_id: str | None,
        nonce_sha256: str,
        expires_at: datetime,
        ts: datetime,
    ) -> AuditEntry:
        """A liveness nonce issued to a capture app (``facegate capture nonce``): its hash, never the nonce."""
        return self.append(
            AuditEvent(
                kind="capture_nonce",
                actor=actor,
                session_id=session_id,
                purpose=purpose,
                subjects=[subject_id] if subject_id else [],
                outcome="issued",
                ts=ts,
                summary={"nonce_sha256": nonce_sha256, "expires_at": iso(expires_at)},
            )
        )

    def nonces_spent(
        self,
        *,
        actor: str,
        session_id: str | None,
        purpose: str,
        subjects: Iterable[str | None],
        nonce_sha256: Sequence[str],
        ts: datetime,
    ) -> AuditEntry:
        """Liveness nonces spent, all at once, by a request that presented them."""
        return self.append(
            AuditEvent(
                kind="capture_nonce",
                actor=actor,
                session_id=session_id,
                purpose=purpose,
                subjects=_subjects(subjects),
                outcome="spent",
                ts=ts,
                summary={"nonce_sha256": list(nonce_sha256)},
            )
        )

    # --- API keys ----------------------------------------------------------------------------------------

    def api_key_added(self, *, name: str, role: str, fingerprint: str, actor: str, ts: datetime) -> AuditEntry:
        """An API key made (``facegate keys add``): its name, role and fingerprint, never the key."""
        return self._api_key("added", name=name, role=role, fingerprint=fingerprint, actor=actor, ts=ts)

    def api_key_revoked(self, *, name: str, role: str, fingerprint: str, actor: str, ts: datetime) -> AuditEntry:
        return self._api_key("revoked", name=name, role=role, fingerprint=fingerprint, actor=actor, ts=ts)

    def _api_key(self, outcome: str, *, name: str, role: str, fingerprint: str, actor: str, ts: datetime) -> AuditEntry:
        return self.append(
            AuditEvent(
                kind="api_key",
                actor=actor,
                outcome=outcome,
                ts=ts,
                summary={"name": name, "role": role, "fingerprint": fingerprint},
            )
        )

    def eval_run(self, *, actor: str, eval_kind: str, dataset_sha256: str, summary: Mapping[str, Any]) -> AuditEntry:
        """An evaluation run: what was run, on which data (by hash), and its headline figures."""
        return self.append(
            AuditEvent(
                kind="eval_run",
                actor=actor,
                outcome="completed",
                input_hashes=[dataset_sha256],
                summary={"eval": eval_kind, **summary},
            )
        )
