"""Capture attestations around ``decide()``: liveness nonces for capture apps, and the store look-ups that the
pure policy cannot do itself.

The flow for one tool call (or enrollment) whose images carry provenance reports:

1. :func:`attach_provenance`: put each image's report on its :class:`ImageRef`, and look up (without spending)
   the nonce of any liveness assertion: fresh, spent, expired, mismatch or unknown.
2. ``decide(request, ...)``: the provenance and liveness rules read those; an allow that rests on a liveness
   attestation carries ``spend_liveness_nonce`` obligations.
3. :func:`settle_liveness`: spend those nonces atomically before the tool runs. If another process spent one in
   between, the request is decided again with what the store now says (a replay: ``liveness.nonce_replayed``).

Issuing: :func:`issue_nonce` (``facegate capture nonce --purpose P``) gives the capture app a single-use nonce and
the exact assertion it must sign into its manifest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.errors import UnknownPurpose, UserError
from agent.policy import ImageRef, Policy, PolicyRequest, decide
from agent.policy.models import ConsentRecord, Decision
from agent.store import Store
from agent.store.db import utcnow
from agent.store.models import check_subject_id
from tools.provenance.models import LIVENESS_LABEL, ProvenanceReport


class IssuedNonce(BaseModel):
    """A nonce for one capture, and the assertion the capture app signs into the image's manifest."""

    model_config = ConfigDict(frozen=True)

    nonce: str
    purpose: str
    subject_id: str | None
    issued_at: datetime
    expires_at: datetime

    @property
    def assertion(self) -> dict[str, Any]:
        """The C2PA assertion to embed: ``result`` and ``method`` are the capture app's to fill in."""
        return {
            "label": LIVENESS_LABEL,
            "data": {"version": 1, "nonce": self.nonce, "result": "pass", "method": "<your liveness method>"},
        }


def issue_nonce(
    store: Store,
    policy: Policy,
    *,
    purpose: str,
    actor: str,
    ttl_seconds: int,
    subject_id: str | None = None,
    session_id: str | None = None,
    now: datetime | None = None,
) -> IssuedNonce:
    """Issue a single-use liveness nonce for a capture made for ``purpose`` (and, if given, ``subject_id``).

    Raises:
        UnknownPurpose: the purpose is not in the catalogue.
        UserError: a malformed subject id or a lifetime outside 1..86400 seconds.
    """
    if purpose not in policy.purposes:
        raise UnknownPurpose(
            f"unknown purpose {purpose!r} (the catalogue has {', '.join(sorted(policy.purposes))})", purpose=purpose
        )
    if subject_id is not None:
        try:
            check_subject_id(subject_id)
        except ValueError as exc:
            raise UserError(str(exc), subject=subject_id) from None
    record = store.nonces.issue(
        purpose=purpose, ttl_seconds=ttl_seconds, actor=actor, subject_id=subject_id, session_id=session_id, now=now
    )
    return IssuedNonce(
        nonce=record.nonce,
        purpose=record.purpose,
        subject_id=record.subject_id,
        issued_at=record.issued_at,
        expires_at=record.expires_at,
    )


def presented_for(image: ImageRef, claimed_subject: str | None) -> str | None:
    """Whom a capture is presented for: the subject the caller says is pictured, else the claimed identity."""
    return image.subject_id or claimed_subject


def attach_provenance(
    images: Sequence[ImageRef],
    reports: Mapping[str, ProvenanceReport],
    store: Store,
    *,
    purpose: str,
    claimed_subject: str | None = None,
    now: datetime | None = None,
) -> list[ImageRef]:
    """The images with their reports (looked up by sha256) and their liveness nonces' status, for ``decide()``.

    Looks, never spends: a decision that ends in ``needs_consent`` and resumes later still finds its nonce fresh.
    """
    now = now or utcnow()
    out = []
    for image in images:
        report = reports.get(image.sha256, image.provenance)
        status = None
        if report is not None and report.liveness is not None:
            status = store.nonces.status(
                report.liveness.nonce, purpose=purpose, subject_id=presented_for(image, claimed_subject), now=now
            )
        out.append(image.model_copy(update={"provenance": report, "liveness_nonce": status}))
    return out


def settle_liveness(
    store: Store,
    request: PolicyRequest,
    decision: Decision,
    *,
    consents: Sequence[ConsentRecord],
    policy: Policy,
    now: datetime | None = None,
) -> tuple[PolicyRequest, Decision]:
    """Spend the nonces an allow rests on, atomically, before the tool runs.

    Returns the request and decision to act on (and to audit): unchanged when there was nothing to spend or the
    spend succeeded; otherwise the request with the nonces' statuses as the store now has them, decided again
    (a nonce spent by someone else in between is a replay).
    """
    wanted = [str(o.value) for o in decision.obligations if o.kind == "spend_liveness_nonce"]
    if not decision.allowed or not wanted:
        return request, decision
    now = now or utcnow()
    presented = {
        img.provenance.liveness.nonce: presented_for(img, request.claimed_subject)
        for img in request.images
        if img.provenance is not None and img.provenance.liveness is not None
        if img.provenance.liveness.nonce in wanted
    }
    result = store.nonces.spend(
        presented, purpose=request.purpose, actor=request.actor, session_id=request.session_id or None, now=now
    )
    if result.ok:
        return request, decision
    images = [
        img.model_copy(update={"liveness_nonce": result.statuses[img.provenance.liveness.nonce]})
        if img.provenance is not None
        and img.provenance.liveness is not None
        and img.provenance.liveness.nonce in result.statuses
        else img
        for img in request.images
    ]
    again = request.model_copy(update={"images": images})
    # Each round makes at least one nonce non-fresh, so this ends.
    redecided = decide(again, consents, policy, now)
    return settle_liveness(store, again, redecided, consents=consents, policy=policy, now=now)
