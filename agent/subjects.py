"""Subject rights: export everything held about a person (GDPR Art. 15/20) and erase it (Art. 17)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from agent.consent import describe_consents
from agent.store import Store
from agent.store.db import iso, utcnow
from agent.store.models import AuditEvent, Template

# A cleaner deletes cached data about a subject held outside the store (e.g. an image vault) and returns how
# many items it removed. The SDK passes its own; the store knows nothing of them.
Cleaner = Callable[[str], int]


def export_subject(
    store: Store,
    subject_id: str,
    *,
    actor: str,
    include_templates: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything held about ``subject_id`` as JSON-safe data.

    Templates appear as metadata and a hash unless ``include_templates`` (then the vectors too: the person's
    own biometric data, handed to them). Audit rows naming the subject are included; they hold no biometrics.
    """
    now = now or utcnow()
    info = store.require_subject(subject_id)
    templates = store.templates_for(subject_id, with_vectors=include_templates)
    template_data = []
    for t in templates:
        item = t.model_dump(mode="json")
        if include_templates and isinstance(t, Template):
            item["vector"] = list(t.vector)
        template_data.append(item)
    audit = [e.model_dump(mode="json") for e in store.audit.query(subject=subject_id)]
    store.audit.append(
        AuditEvent(
            kind="subject_export",
            actor=actor,
            subjects=[subject_id],
            outcome="exported",
            ts=now,
            summary={
                "templates": len(templates),
                "with_vectors": include_templates,
                "audit_rows": len(audit),
            },
        )
    )
    return {
        "subject": {
            "id": info.id,
            "created_at": iso(info.created_at),
            "erased_at": iso(info.erased_at) if info.erased_at else None,
        },
        "exported_at": iso(now),
        "consents": describe_consents(store.consents_for(subject_id), now),
        "templates": template_data,
        "audit": audit,
    }


def erase_subject(
    store: Store,
    subject_id: str,
    *,
    actor: str,
    cleaners: Sequence[Cleaner] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """Delete templates and cached data, withdraw live consents, leave a tombstone and an audit row.

    Cleaners run first; if one fails nothing in the store changes (the erasure can be retried).
    """
    cached = sum(clean(subject_id) for clean in cleaners)
    return store.erase_subject(subject_id, actor=actor, now=now, extra_summary={"cached_items_deleted": cached})
